//! The sync client: enrolment with a server, then push and pull (SYNC-PROTOCOL.md §6).
//!
//! A sync pushes every locally changed state in batches (at most [`MAX_BATCH_RECORDS`]
//! records and [`MAX_BATCH_BYTES`] of gzip), moving the push cursor after each batch the
//! server acknowledged; then pulls pages until `more` is false, each page merged, indexed
//! and checkpointed in one transaction. Both cursors move only after a commit, so a sync
//! cut at any point (network, app killed, cancel) resumes where it stopped: a batch sent
//! twice is `unchanged` on the server, a page applied twice changes nothing.
//!
//! Network errors, timeouts, 429 and 5xx are retried with exponential backoff, then
//! reported as [`SyncError`]. The device token lives in the encrypted case file.
//!
//! The HTTP client is blocking, like the rest of the crate: run a sync on the thread that
//! owns the case file, never on an async executor.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use flate2::Compression;
use flate2::write::GzEncoder;
use reqwest::StatusCode;
use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::header::{AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sync_protocol::wire::{
    EnrolRequest, EnrolResponse, ErrorBody, ErrorCode, PROTOCOL_HEADER, PROTOCOL_VERSION,
    PullResponse, PushRequest, PushResponse, ReplicaInfo, Replicas,
};
use sync_protocol::{RecordState, ReplicaId};
use tracing::{info, info_span, warn};

use crate::error::Error;
use crate::store::CaseFile;

/// The most records one push carries.
pub const MAX_BATCH_RECORDS: usize = 500;
/// The most gzip bytes one push carries (a single larger record still goes alone).
pub const MAX_BATCH_BYTES: usize = 1024 * 1024;
/// The page size asked of the server.
pub const PULL_PAGE: u32 = sync_protocol::wire::MAX_PULL_LIMIT;

const SETTING_SERVER: &str = "sync.server_url";
const SETTING_TOKEN: &str = "sync.device_token";
const SETTING_SERVER_ID: &str = "sync.server_id";
const SETTING_ORG: &str = "sync.org";
const SETTING_REPLICAS: &str = "sync.replicas";
const SETTING_LAST_SYNC: &str = "sync.last_sync_at";

/// Why enrolment or a sync failed. Messages are sentences a person can act on, and hold
/// no personal data.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The case file was never enrolled with a server.
    #[error("this case file is not enrolled with a server yet: enrol it first")]
    NotEnrolled,
    /// The server URL is not HTTPS and not on this machine.
    #[error(
        "the server address must start with https:// (plain http:// is allowed only for this machine)"
    )]
    PlainHttp,
    /// The server URL does not parse.
    #[error("the server address is not a valid URL: {0}")]
    BadUrl(String),
    /// 401 on enrolment.
    #[error("the username or the password is wrong")]
    WrongCredentials,
    /// 401 on a sync.
    #[error("this device was revoked or its password changed: enrol again")]
    Revoked,
    /// 409 on enrolment.
    #[error(
        "this case file is already enrolled by another user, or its device was revoked: ask your coordinator"
    )]
    DeviceIdTaken,
    /// 426.
    #[error("the server speaks a newer sync protocol: update the app")]
    UpdateApp,
    /// The TLS handshake failed (certificate, name, protocol).
    #[error(
        "the secure connection to the server failed (certificate or TLS): check the server address and its certificate ({0})"
    )]
    Tls(String),
    /// The server could not be reached, after retries.
    #[error(
        "the server could not be reached after {attempts} attempts: check the network and try again ({reason})"
    )]
    Unreachable {
        /// How many attempts were made.
        attempts: u32,
        /// What the last one met.
        reason: String,
    },
    /// The server kept answering 429 or 5xx, after retries.
    #[error("the server is busy or failing ({status}) after {attempts} attempts: try again later")]
    ServerBusy {
        /// The last HTTP status.
        status: u16,
        /// How many attempts were made.
        attempts: u32,
    },
    /// The server refused the request for another reason.
    #[error("the server refused the sync ({code:?}): {message}")]
    Refused {
        /// The §6 error code.
        code: ErrorCode,
        /// The server's sentence.
        message: String,
    },
    /// The server's answer is not what §6 says.
    #[error("the server's answer could not be read: {0}")]
    BadAnswer(String),
    /// The person cancelled the sync; what was committed stays.
    #[error("the sync was cancelled; the next sync goes on from where it stopped")]
    Cancelled,
    /// The case file failed.
    #[error(transparent)]
    CaseFile(#[from] Error),
}

/// Where a sync is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Sending local changes.
    Push,
    /// Receiving the server's changes.
    Pull,
    /// Learning who made each edit.
    Replicas,
    /// Finished.
    Done,
}

/// A progress event, for a progress bar: `done` of `expected` records in `phase`.
/// `expected` is an estimate during the pull (the server's sequence span).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Progress {
    /// The phase.
    pub phase: Phase,
    /// Records handled so far in this phase.
    pub done: u64,
    /// Records expected in this phase.
    pub expected: u64,
}

/// What a sync did (CLI.md's `sync` line).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    /// States sent and accepted by the server.
    pub pushed: u64,
    /// Records received that changed the case file.
    pub pulled: u64,
    /// Records needing a person's choice afterwards.
    pub conflicts: u64,
}

/// Tuning of the client; [`Default`] suits a counsellor's device.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Attempts per request before giving up.
    pub attempts: u32,
    /// First backoff pause; doubled at each retry, capped at 30 s.
    pub backoff: Duration,
    /// Timeout of one request.
    pub timeout: Duration,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            attempts: 6,
            backoff: Duration::from_millis(250),
            timeout: Duration::from_secs(60),
        }
    }
}

/// Checks a server URL: `https://…`, or `http://` to this machine only. Answers it without
/// a trailing slash.
pub fn check_server_url(url: &str) -> Result<String, SyncError> {
    let parsed = reqwest::Url::parse(url.trim()).map_err(|e| SyncError::BadUrl(e.to_string()))?;
    let host = parsed
        .host_str()
        .ok_or_else(|| SyncError::BadUrl("it names no host".into()))?;
    let loopback = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match parsed.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => return Err(SyncError::PlainHttp),
        other => return Err(SyncError::BadUrl(format!("unknown scheme {other}"))),
    }
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

/// A client of one server.
#[derive(Debug)]
struct Http {
    client: Client,
    base: String,
    token: Option<String>,
    options: SyncOptions,
}

fn install_crypto_provider() {
    // Only the ring provider is compiled in; installing it twice is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Whether a transport error is a TLS failure: a `rustls::Error` anywhere in its chain.
/// `std::io::Error` hides the error it wraps from `source()`, so look inside it too.
fn tls_failure(error: &reqwest::Error) -> Option<String> {
    fn find(e: &(dyn std::error::Error + 'static)) -> Option<String> {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls.to_string());
        }
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            && let Some(found) = find(inner)
        {
            return Some(found);
        }
        e.source().and_then(find)
    }
    find(error)
}

impl Http {
    fn new(base: &str, token: Option<String>, options: SyncOptions) -> Result<Self, SyncError> {
        install_crypto_provider();
        let client = Client::builder()
            .timeout(options.timeout)
            .connect_timeout(Duration::from_secs(15))
            .user_agent(concat!("passerelle/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SyncError::Tls(e.to_string()))?;
        Ok(Self {
            client,
            base: check_server_url(base)?,
            token,
            options,
        })
    }

    /// Sends the request `make` builds, retrying transport errors, timeouts, 429 and 5xx
    /// with backoff. Answers the first other response.
    fn send(&self, make: impl Fn(&Client) -> RequestBuilder) -> Result<Response, SyncError> {
        let mut pause = self.options.backoff;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = make(&self.client).header(PROTOCOL_HEADER, PROTOCOL_VERSION);
            if let Some(token) = &self.token {
                request = request.header(AUTHORIZATION, format!("Bearer {token}"));
            }
            let last = attempt >= self.options.attempts;
            match request.send() {
                Ok(response) => {
                    let status = response.status();
                    let retry = status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
                    if !retry {
                        return Ok(response);
                    }
                    if last {
                        return Err(SyncError::ServerBusy {
                            status: status.as_u16(),
                            attempts: attempt,
                        });
                    }
                    let asked = response
                        .headers()
                        .get(RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<u64>().ok())
                        .map(Duration::from_secs);
                    warn!(status = status.as_u16(), attempt, "server busy, retrying");
                    std::thread::sleep(asked.unwrap_or(pause).min(Duration::from_secs(30)));
                }
                Err(error) => {
                    if let Some(reason) = tls_failure(&error) {
                        return Err(SyncError::Tls(reason));
                    }
                    if last {
                        return Err(SyncError::Unreachable {
                            attempts: attempt,
                            reason: error.without_url().to_string(),
                        });
                    }
                    warn!(attempt, "request failed, retrying");
                    std::thread::sleep(pause);
                }
            }
            pause = (pause * 2).min(Duration::from_secs(30));
        }
    }

    /// Reads a 2xx answer's JSON, or turns an error answer into a [`SyncError`].
    fn read<T: DeserializeOwned>(response: Response) -> Result<T, SyncError> {
        let status = response.status();
        let bytes = response.bytes().map_err(|e| SyncError::Unreachable {
            attempts: 1,
            reason: e.without_url().to_string(),
        })?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| SyncError::BadAnswer(e.to_string()));
        }
        let body: Option<ErrorBody> = serde_json::from_slice(&bytes).ok();
        Err(match (status.as_u16(), body) {
            (401, _) => SyncError::Revoked,
            (426, _) => SyncError::UpdateApp,
            (409, _) => SyncError::DeviceIdTaken,
            (_, Some(body)) => SyncError::Refused {
                code: body.error.code,
                message: body.error.message,
            },
            (status, None) => {
                SyncError::BadAnswer(format!("HTTP status {status} without an error body"))
            }
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// A gzip body of `value`.
fn gzip_json(value: &impl Serialize) -> Result<Vec<u8>, SyncError> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    serde_json::to_writer(&mut encoder, value).map_err(|e| SyncError::BadAnswer(e.to_string()))?;
    encoder
        .flush()
        .and_then(|()| encoder.finish())
        .map_err(|e| SyncError::CaseFile(Error::Io(e)))
}

impl CaseFile {
    /// Enrols this case file's replica with the server at `server` as `username`, and
    /// keeps the device token inside the (encrypted) case file. Answers the device id.
    pub fn enrol(
        &mut self,
        server: &str,
        username: &str,
        password: &str,
        device_name: &str,
    ) -> Result<ReplicaId, SyncError> {
        let _span = info_span!("casefile.enrol").entered();
        let http = Http::new(server, None, SyncOptions::default())?;
        let request = EnrolRequest {
            username: username.to_owned(),
            password: password.to_owned(),
            device_name: device_name.to_owned(),
            device_id: Some(self.replica_id()),
        };
        let response = http.send(|c| c.post(http.url("/v1/devices")).json(&request))?;
        let answer: EnrolResponse = match Http::read(response) {
            Err(SyncError::Revoked) => return Err(SyncError::WrongCredentials),
            other => other?,
        };
        if answer.device_id != self.replica_id() {
            return Err(SyncError::BadAnswer(
                "the server answered another device id than this case file's".into(),
            ));
        }
        self.set_setting(SETTING_SERVER, &http.base)?;
        self.set_setting(SETTING_TOKEN, &answer.token)?;
        self.set_setting(SETTING_SERVER_ID, &answer.server_id.to_string())?;
        self.set_setting(SETTING_ORG, &answer.org)?;
        info!("enrolled");
        Ok(answer.device_id)
    }

    /// The server this case file is enrolled with, if any.
    pub fn server_url(&self) -> Result<Option<String>, Error> {
        self.setting(SETTING_SERVER)
    }

    /// When the last sync finished (RFC 3339), if ever.
    pub fn last_sync_at(&self) -> Result<Option<String>, Error> {
        self.setting(SETTING_LAST_SYNC)
    }

    /// Who each replica is (device name and user), as the server said at the last sync.
    pub fn replica_directory(&self) -> Result<BTreeMap<ReplicaId, ReplicaInfo>, Error> {
        Ok(self
            .setting(SETTING_REPLICAS)?
            .and_then(|text| serde_json::from_str::<Replicas>(&text).ok())
            .unwrap_or_default())
    }

    /// Syncs with the enrolled server (default options): see the module's docs.
    pub fn sync(
        &mut self,
        progress: &mut dyn FnMut(Progress),
        cancel: &AtomicBool,
    ) -> Result<SyncReport, SyncError> {
        self.sync_with(SyncOptions::default(), progress, cancel)
    }

    /// Syncs with the enrolled server: push, pull until nothing is left, then the replica
    /// directory. `progress` hears of each batch and page; setting `cancel` stops the sync
    /// between two requests, keeping what was committed.
    pub fn sync_with(
        &mut self,
        options: SyncOptions,
        progress: &mut dyn FnMut(Progress),
        cancel: &AtomicBool,
    ) -> Result<SyncReport, SyncError> {
        let _span = info_span!("casefile.sync").entered();
        let (Some(server), Some(token)) =
            (self.setting(SETTING_SERVER)?, self.setting(SETTING_TOKEN)?)
        else {
            return Err(SyncError::NotEnrolled);
        };
        let http = Http::new(&server, Some(token), options)?;
        let check = || {
            if cancel.load(Ordering::SeqCst) {
                Err(SyncError::Cancelled)
            } else {
                Ok(())
            }
        };
        let mut report = SyncReport::default();

        // Push.
        let expected = self.count_pending_push()?;
        progress(Progress {
            phase: Phase::Push,
            done: 0,
            expected,
        });
        let mut server_seq = 0;
        loop {
            check()?;
            let pending = self.pending_push(MAX_BATCH_RECORDS)?;
            if pending.is_empty() {
                break;
            }
            let (body, count, last_seq) = batch(&pending)?;
            let response = http.send(|c| {
                c.post(http.url("/v1/push"))
                    .header(CONTENT_TYPE, "application/json")
                    .header(CONTENT_ENCODING, "gzip")
                    .body(body.clone())
            })?;
            let answer: PushResponse = Http::read(response)?;
            self.mark_pushed(last_seq)?;
            server_seq = server_seq.max(answer.server_seq);
            report.pushed += count as u64;
            info!(records = count, "pushed a batch");
            progress(Progress {
                phase: Phase::Push,
                done: report.pushed,
                expected: expected.max(report.pushed),
            });
        }

        // Pull, noting whether any record names a replica the directory does not know.
        let directory = self.replica_directory()?;
        let mut stranger = directory.is_empty() || !directory.contains_key(&self.replica_id());
        let start = self.pull_checkpoint()?;
        let span = server_seq.saturating_sub(start);
        let mut received = 0u64;
        progress(Progress {
            phase: Phase::Pull,
            done: 0,
            expected: span,
        });
        loop {
            check()?;
            let since = self.pull_checkpoint()?;
            let response = http
                .send(|c| c.get(http.url(&format!("/v1/pull?since={since}&limit={PULL_PAGE}"))))?;
            let page: PullResponse = Http::read(response)?;
            stranger = stranger
                || page
                    .records
                    .iter()
                    .any(|r| r.vv().iter().any(|(id, _)| !directory.contains_key(&id)));
            let applied = self.apply_pulled(&page.records, page.next)?;
            received += page.records.len() as u64;
            report.pulled += applied.changed as u64;
            let done = page.next.saturating_sub(start);
            progress(Progress {
                phase: Phase::Pull,
                done,
                expected: span.max(done),
            });
            info!(
                records = page.records.len(),
                changed = applied.changed,
                "pulled a page"
            );
            if !page.more {
                break;
            }
        }

        // Who made each edit: asked only when a replica is new to this case file, so a
        // sync with nothing to do is a single round trip.
        if stranger {
            check()?;
            progress(Progress {
                phase: Phase::Replicas,
                done: 0,
                expected: 1,
            });
            let response = http.send(|c| c.get(http.url("/v1/replicas")))?;
            let replicas: Replicas = Http::read(response)?;
            let text = serde_json::to_string(&replicas)
                .map_err(|e| SyncError::BadAnswer(e.to_string()))?;
            self.set_setting(SETTING_REPLICAS, &text)?;
        }
        self.set_setting(SETTING_LAST_SYNC, crate::records::now().as_str())?;

        report.conflicts = self.conflicts()?.len() as u64;
        progress(Progress {
            phase: Phase::Done,
            done: received,
            expected: received,
        });
        Ok(report)
    }

    /// How many states wait to be pushed.
    fn count_pending_push(&self) -> Result<u64, Error> {
        let cursor = i64::try_from(self.push_cursor()?).unwrap_or(i64::MAX);
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM records WHERE change_seq > ?1 AND erased = 0",
            [cursor],
            |r| r.get(0),
        )?;
        Ok(n.max(0) as u64)
    }
}

/// The gzip body of the longest prefix of `pending` under [`MAX_BATCH_BYTES`] (at least
/// one record), with its record count and the change sequence of its last record.
fn batch(pending: &[crate::sync::Pending]) -> Result<(Vec<u8>, usize, u64), SyncError> {
    let mut count = pending.len();
    loop {
        let states: Vec<&RecordState> = pending[..count].iter().map(|p| &p.state).collect();
        let body = gzip_json(&PushRequest { records: states })?;
        if body.len() <= MAX_BATCH_BYTES || count == 1 {
            return Ok((body, count, pending[count - 1].seq));
        }
        count = count.div_ceil(2);
    }
}
