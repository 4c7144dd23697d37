//! The sync client: enrolment with a server, then push and pull (SYNC-PROTOCOL.md §6).
//!
//! A sync pushes every locally changed state in batches of at most [`MAX_BATCH_RECORDS`]
//! records and 2 MiB of JSON (a larger state alone, up to [`MAX_BATCH_BYTES`] once
//! decompressed; the server's limits are 1,000 records and 8 MiB), moving the push
//! cursor after each batch (see `push.rs`); then pulls pages
//! until `more` is false, each page merged, indexed and checkpointed in one transaction.
//! Both cursors move only after a commit, so a sync cut at any point (network, app
//! killed, cancel) resumes where it stopped: a batch sent twice is `unchanged` on the
//! server, a page applied twice changes nothing.
//!
//! ## One record never stops a sync
//! - A record the server refuses is **set aside** with the server's code and sentence
//!   ([`CaseFile::set_aside`]) and the rest is sent again; a record larger than one
//!   request may carry is set aside unsent; each sync sends the set-aside records again
//!   (see [`crate::push`]).
//! - The pull runs even when the push failed for a reason that is not one record's (a
//!   server error, a network cut during a large push): the error is reported after it.
//!   Only when the server refuses this device, or speaks another protocol, or the person
//!   cancelled, is the pull skipped.
//! - A pulled page is read state by state: a state of another kind than the local copy,
//!   or one that breaks §2, is set aside beside the local copy and the page is applied.
//!   A page is read whatever its size (the server sends at least one record, however
//!   large).
//!
//! ## Restores (§6a)
//! Every push and pull answer names the server database's epoch. A new epoch, or a pull
//! answered 409 `checkpoint_ahead` (the server was restored and forgot part of its
//! conversation with this device), sets everything to be sent again and the sync starts
//! over from its push; a second `checkpoint_ahead` in one sync is its error. A 409
//! `replica_reused` (this case file was put back from a copy) re-keys the case file and
//! re-dots its records before the sync starts over. See [`crate::recovery`].
//!
//! Network errors, timeouts, 429 and 5xx are retried with exponential backoff, then
//! reported as [`SyncError`]. The device token lives in the encrypted case file.
//!
//! The HTTP client is blocking, like the rest of the crate: run a sync on the thread that
//! owns the case file, never on an async executor.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use flate2::Compression;
use flate2::write::GzEncoder;
use reqwest::StatusCode;
use reqwest::blocking::{Client, RequestBuilder};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sync_protocol::wire::{
    EnrolRequest, EnrolResponse, ErrorBody, ErrorCode, ErrorDetail, MAX_BODY_BYTES,
    PROTOCOL_HEADER, PROTOCOL_VERSION, PULL_STREAM_TYPE, RekeyRequest, RekeyResponse, ReplicaInfo,
    Replicas,
};
use sync_protocol::{Epoch, RecordId, ReplicaId};
use tracing::{info, info_span, warn};

use crate::error::Error;
use crate::push::PushRun;
use crate::recovery::{self, note_epoch, send_everything_again};
use crate::store::{CaseFile, clear_setting, set_setting};
use crate::sync::Pulled;

/// The most records one push carries: half the server's limit, so that each batch is a
/// short transaction on the server and a cut connection loses little.
pub const MAX_BATCH_RECORDS: usize = 500;
/// The most bytes of JSON one push carries once decompressed: the server's limit
/// ([`MAX_BODY_BYTES`]). A record larger than this alone is set aside, never sent.
pub const MAX_BATCH_BYTES: usize = MAX_BODY_BYTES;
/// The page size asked of the server.
pub const PULL_PAGE: u32 = sync_protocol::wire::MAX_PULL_LIMIT;

const SETTING_SERVER: &str = "sync.server_url";
pub(crate) const SETTING_TOKEN: &str = "sync.device_token";
/// The epoch of the server's database, as its last answer named it (§6a).
pub(crate) const SETTING_EPOCH: &str = "sync.epoch";
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
    #[error(
        "the username, the password or the enrolment code is wrong (a code serves once, for a \
         limited time: ask your coordinator for a new one)"
    )]
    WrongCredentials,
    /// 429 on enrolment: too many failed enrolments for this username or from this
    /// network. Not retried: waiting is the point.
    #[error(
        "too many failed enrolments for this username or from this network: wait \
         {wait_seconds} seconds, check the username, password and code, and try again"
    )]
    EnrolmentLimited {
        /// What the server's `Retry-After` asked for.
        wait_seconds: u64,
    },
    /// 401 `unauthorized` on a sync: the server does not know this device's token (the
    /// device was enrolled again elsewhere, or the server was set up anew).
    #[error("the server no longer recognises this device: enrol it again")]
    Revoked,
    /// 401 `device_revoked`: a coordinator revoked this device.
    #[error(
        "this device was revoked by a coordinator: it can no longer sync; ask your coordinator"
    )]
    DeviceRevoked,
    /// 401 `user_disabled`: a coordinator disabled the account of this device's user.
    #[error(
        "the account of this device's user was disabled by a coordinator: the case file keeps \
         its data; ask your coordinator to enable the account again"
    )]
    UserDisabled,
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
    #[error("the server refused the sync ({code}): {message}", code = code.as_str())]
    Refused {
        /// The §6 error code.
        code: ErrorCode,
        /// The server's sentence.
        message: String,
    },
    /// The server's answer is not what §6 says.
    #[error("the server's answer could not be read: {0}")]
    BadAnswer(String),
    /// 403 on an erasure: this device's user is not a coordinator.
    #[error(
        "only a coordinator may erase a person or a record: ask a coordinator to do it \
         from their device"
    )]
    Forbidden,
    /// 404 `not_found` on an erasure: the organisation holds no such record (or no such
    /// person), perhaps because it was erased already.
    #[error(
        "the server holds no such record in this organisation (it may have been erased \
         already): sync this device, then check"
    )]
    NotFound,
    /// The person cancelled the sync; what was committed stays.
    #[error("the sync was cancelled; the next sync goes on from where it stopped")]
    Cancelled,
    /// 409 `checkpoint_ahead` again after this sync had sent everything again: the
    /// server still says it forgot part of its conversation with this device.
    #[error(
        "the server was restored from a backup and still does not recognise what this \
         device sent, even after it sent everything again: nothing is lost here; try again \
         later, and if it happens again, tell your IT person"
    )]
    ServerStillBehind,
    /// The server named a new epoch several times in one sync: its database is being
    /// restored or replaced while the device syncs.
    #[error(
        "the server's database changed several times during this sync (it is being \
         restored): nothing is lost here; sync again once your IT person has finished"
    )]
    ServerRestoring,
    /// 409 `replica_reused` again after this sync took a new replica id.
    #[error(
        "the server still refuses this case file after it took a new device id (the file \
         was restored from a copy): nothing is lost here; tell your IT person"
    )]
    ReplicaStillReused,
    /// The case file failed.
    #[error(transparent)]
    CaseFile(#[from] Error),
}

impl From<rusqlite::Error> for SyncError {
    fn from(error: rusqlite::Error) -> Self {
        Self::CaseFile(Error::Database(error))
    }
}

impl SyncError {
    /// Whether a pull is worth trying after a push that failed with this error: not when
    /// the server refuses this device or its protocol (a pull would be refused alike), nor
    /// when the person cancelled.
    fn pull_after(&self) -> bool {
        !matches!(
            self,
            Self::Cancelled
                | Self::NotEnrolled
                | Self::PlainHttp
                | Self::BadUrl(_)
                | Self::Tls(_)
                | Self::Revoked
                | Self::DeviceRevoked
                | Self::UserDisabled
                | Self::UpdateApp
        ) && self.recovery().is_none()
    }

    /// The §6a code of a 409 that the sync answers by itself (`checkpoint_ahead`,
    /// `replica_reused`), if this is one.
    fn recovery(&self) -> Option<ErrorCode> {
        match self {
            Self::Refused {
                code: code @ (ErrorCode::CheckpointAhead | ErrorCode::ReplicaReused),
                ..
            } => Some(*code),
            _ => None,
        }
    }
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
    /// Records set aside afterwards: refused or held by the server, too large to send, or
    /// pulled states that could not be merged ([`CaseFile::set_aside`] lists them).
    pub set_aside: u64,
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
    /// Whether a 429 is waited out and retried (a sync), or answered at once (an
    /// enrolment, whose 429 counts failed passwords: waiting is for the person).
    pub retry_slow_down: bool,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            attempts: 6,
            backoff: Duration::from_millis(250),
            timeout: Duration::from_secs(60),
            retry_slow_down: true,
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
pub(crate) struct Http<'c> {
    client: Client,
    base: String,
    token: Option<String>,
    options: SyncOptions,
    /// The sync's cancel flag: once set, a request under way or a pause between retries
    /// is abandoned within [`CANCEL_POLL`], so a lock that cancels the sync gets the case
    /// file back at once rather than after a 60 s timeout or a 30 s backoff.
    cancel: Option<&'c AtomicBool>,
}

/// How often a request under way, or a pause between retries, looks at the cancel flag.
const CANCEL_POLL: Duration = Duration::from_millis(50);

/// How many pages a pull asks for at once (the server may end sooner).
pub const PULL_PAGES: u32 = sync_protocol::wire::MAX_PULL_PAGES;

/// A streamed pull's request may last this many request timeouts; the server ends a
/// stream after about 20 s of reading, so only a very slow link reaches it (the pages
/// read until then are kept, and the pull asks again).
const STREAM_TIMEOUTS: u32 = 10;

/// A server's answer, read whole (status, `Retry-After`, body).
#[derive(Debug)]
pub(crate) struct Reply {
    status: StatusCode,
    retry_after: Option<Duration>,
    /// A document's `Blob-Received` header (§6b).
    blob_received: Option<u64>,
    body: Vec<u8>,
    /// A streamed pull's pages, a line each, as a thread of their own reads them (the
    /// body is then empty).
    lines: Option<Lines>,
}

impl Reply {
    /// The answer's status.
    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }

    /// How many bytes of a document the server said it holds (`HEAD`).
    pub(crate) fn blob_received(&self) -> Option<u64> {
        self.blob_received
    }

    /// The answer's body.
    pub(crate) fn into_body(self) -> Vec<u8> {
        self.body
    }
}

/// The largest answer read: the server ends a pull page once it passes 8 MiB of states
/// (so a page is at most that and one record), a document's chunk is 4 MiB. A server that sends more
/// (broken, or not a Passerelle server) is refused before it fills the device's memory.
const MAX_REPLY_BYTES: u64 = 64 * 1024 * 1024;

/// Why an exchange got no whole answer.
#[derive(Debug)]
enum Failure {
    /// The request failed, or its answer's headers never came.
    Request(reqwest::Error),
    /// The answer's body broke off.
    Read(std::io::Error),
    /// The answer's body passed [`MAX_REPLY_BYTES`].
    TooBig,
    /// A streamed pull's answer brought nothing for this long.
    Stalled(Duration),
}

/// When a streamed pull's answer last brought something (its headers, then each read of
/// its body): a slow link that keeps bringing bytes is waited for, a silent one is not.
#[derive(Debug, Clone)]
struct Heard(Arc<Mutex<Instant>>);

impl Heard {
    fn new() -> Self {
        Self(Arc::new(Mutex::new(Instant::now())))
    }

    fn now(&self) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
    }

    /// How long since it last heard something.
    fn silent(&self) -> Duration {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .elapsed()
    }
}

/// A body that notes each read that brings bytes.
struct Noted<R> {
    body: R,
    heard: Heard,
}

impl<R: Read> Read for Noted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.body.read(buf)?;
        if read > 0 {
            self.heard.now();
        }
        Ok(read)
    }
}

/// Sends `request` and reads its answer whole; or, for a streamed pull (`stream` hears
/// what comes) whose answer streams, hands its body to a thread that reads it a line at a
/// time.
fn exchange(request: RequestBuilder, stream: Option<&Heard>) -> Result<Reply, Failure> {
    let response = request.send().map_err(Failure::Request)?;
    if let Some(heard) = stream {
        heard.now();
    }
    let status = response.status();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_secs);
    let blob_received = response
        .headers()
        .get(sync_protocol::blobs::BLOB_RECEIVED)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let streamed = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(PULL_STREAM_TYPE));
    if let Some(heard) = stream
        && streamed
        && status.is_success()
    {
        return Ok(Reply {
            status,
            retry_after,
            blob_received,
            body: Vec::new(),
            lines: Some(Lines::read(response, heard.clone())?),
        });
    }
    if response
        .content_length()
        .is_some_and(|n| n > MAX_REPLY_BYTES)
    {
        return Err(Failure::TooBig);
    }
    let mut body = Vec::with_capacity(
        response
            .content_length()
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0)
            .min(sync_protocol::blobs::CHUNK_BYTES as usize + 1024),
    );
    let heard = stream.cloned().unwrap_or_else(Heard::new);
    Noted {
        body: response,
        heard,
    }
    .take(MAX_REPLY_BYTES + 1)
    .read_to_end(&mut body)
    .map_err(Failure::Read)?;
    if body.len() as u64 > MAX_REPLY_BYTES {
        return Err(Failure::TooBig);
    }
    Ok(Reply {
        status,
        retry_after,
        blob_received,
        body,
        lines: None,
    })
}

/// The pages of a streamed pull, a line each, read and checked state by state by a thread
/// of their own while the sync applies the ones before (two wait at most): on two cores,
/// reading JSON and applying pages each get one.
#[derive(Debug)]
pub(crate) struct Lines {
    pages: std::sync::mpsc::Receiver<std::io::Result<Result<ReadPage, String>>>,
    heard: Heard,
}

impl Lines {
    fn read(response: reqwest::blocking::Response, heard: Heard) -> Result<Self, Failure> {
        let (tx, pages) = std::sync::mpsc::sync_channel(2);
        let body = Noted {
            body: response,
            heard: heard.clone(),
        };
        std::thread::Builder::new()
            .name("sync-stream".into())
            .spawn(move || {
                let mut reader = std::io::BufReader::with_capacity(64 * 1024, body);
                loop {
                    let mut line = Vec::new();
                    let read = (&mut reader)
                        .take(MAX_REPLY_BYTES + 1)
                        .read_until(b'\n', &mut line);
                    let item = match read {
                        Ok(0) => return,
                        Ok(_) if line.last() == Some(&b'\n') => Ok(ReadPage::parse(&line)),
                        Ok(_) if line.len() as u64 > MAX_REPLY_BYTES => Err(std::io::Error::other(
                            "a page larger than the largest answer",
                        )),
                        // Every line ends with one: the stream was cut in a page.
                        Ok(_) => Err(std::io::ErrorKind::UnexpectedEof.into()),
                        Err(error) => Err(error),
                    };
                    let stop = !matches!(item, Ok(Ok(_)));
                    // The sync stopped reading (cancelled, or done): nobody hears the rest.
                    if tx.send(item).is_err() || stop {
                        return;
                    }
                }
            })
            .map_err(Failure::Read)?;
        Ok(Self { pages, heard })
    }

    /// The next page, `None` at the stream's end. Waits for it as long as bytes keep
    /// coming, at most `idle` without any, and less when `cancel` is set meanwhile.
    pub(crate) fn next(
        &self,
        idle: Duration,
        cancel: Option<&AtomicBool>,
    ) -> Result<Option<ReadPage>, SyncError> {
        loop {
            match self.pages.recv_timeout(CANCEL_POLL) {
                Ok(Ok(page)) => return page.map(Some).map_err(SyncError::BadAnswer),
                Ok(Err(error)) => {
                    return Err(SyncError::Unreachable {
                        attempts: 1,
                        reason: format!("the answer broke off ({})", error.kind()),
                    });
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return Ok(None),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    if cancel.is_some_and(|c| c.load(Ordering::SeqCst)) {
                        return Err(SyncError::Cancelled);
                    }
                    if self.heard.silent() >= idle {
                        return Err(SyncError::Unreachable {
                            attempts: 1,
                            reason: format!("no answer for {} s", idle.as_secs()),
                        });
                    }
                }
            }
        }
    }
}

/// A pulled page, its states read one by one ([`Pulled::read`]).
#[derive(Debug)]
pub(crate) struct ReadPage {
    states: Vec<Pulled>,
    next: u64,
    more: bool,
    epoch: Option<Epoch>,
}

impl ReadPage {
    /// Reads a page's JSON; an answer of the wrong shape is said as a string.
    fn parse(json: &[u8]) -> Result<Self, String> {
        serde_json::from_slice::<PullPage>(json)
            .map(Self::from)
            .map_err(|e| e.to_string())
    }
}

impl From<PullPage> for ReadPage {
    fn from(page: PullPage) -> Self {
        Self {
            states: page.records.iter().map(Pulled::read).collect(),
            next: page.next,
            more: page.more,
            epoch: page.epoch,
        }
    }
}

/// An error answer of the server: its status and, when it sent one, the §6 body.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub(crate) status: u16,
    pub(crate) detail: Option<ErrorDetail>,
}

impl Refusal {
    /// The record the refusal names, if any.
    pub(crate) fn record(&self) -> Option<RecordId> {
        self.detail.as_ref().and_then(|d| d.id)
    }

    /// The refusal's code as written on the wire, read by its status when the body gave
    /// none.
    pub(crate) fn code(&self) -> &'static str {
        match (&self.detail, self.status) {
            (Some(detail), _) if detail.code != ErrorCode::Unknown => detail.code.as_str(),
            (_, 413) => ErrorCode::TooLarge.as_str(),
            (_, 422) => ErrorCode::InvalidRecord.as_str(),
            _ => ErrorCode::Unknown.as_str(),
        }
    }

    /// The server's sentence, or one of ours when it sent none.
    pub(crate) fn message(&self) -> String {
        match &self.detail {
            Some(detail) => detail.message.clone(),
            None => format!(
                "the server refused this record (HTTP status {}) without saying why: report \
                 it to your IT person",
                self.status
            ),
        }
    }

    /// The refusal as the error of a whole request.
    pub(crate) fn into_error(self) -> SyncError {
        let code = self.detail.as_ref().map(|d| d.code);
        match (self.status, code) {
            (401, Some(ErrorCode::DeviceRevoked)) => SyncError::DeviceRevoked,
            (401, Some(ErrorCode::UserDisabled)) => SyncError::UserDisabled,
            (401, _) => SyncError::Revoked,
            (426, _) => SyncError::UpdateApp,
            (409, None | Some(ErrorCode::DeviceIdTaken)) => SyncError::DeviceIdTaken,
            (_, Some(_)) => match self.detail {
                Some(detail) => SyncError::Refused {
                    code: detail.code,
                    message: detail.message,
                },
                None => SyncError::BadAnswer(format!("HTTP status {}", self.status)),
            },
            (status, None) => {
                SyncError::BadAnswer(format!("HTTP status {status} without an error body"))
            }
        }
    }
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

impl Http<'static> {
    /// A client that no cancel flag stops (enrolment); see [`Http::cancelled_by`].
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
            cancel: None,
        })
    }

    /// The same client, stopped by `cancel`: a request under way, or a pause between
    /// retries, ends in [`SyncError::Cancelled`] within [`CANCEL_POLL`] of it being set.
    fn cancelled_by(self, cancel: &AtomicBool) -> Http<'_> {
        Http {
            client: self.client,
            base: self.base,
            token: self.token,
            options: self.options,
            cancel: Some(cancel),
        }
    }
}

impl<'c> Http<'c> {
    /// Sends the request `make` builds, retrying transport errors, timeouts, 429 and 5xx
    /// with backoff. Answers the first other reply, read whole.
    pub(crate) fn send(
        &self,
        make: impl Fn(&Client) -> RequestBuilder,
    ) -> Result<Reply, SyncError> {
        self.send_with(make, false)
    }

    /// [`Http::send`] for a streamed pull: a streamed answer's pages come from
    /// [`Reply::lines`], and the request may last longer than one request's timeout as
    /// long as lines keep coming (each waited for at most that timeout).
    pub(crate) fn send_streamed(
        &self,
        make: impl Fn(&Client) -> RequestBuilder,
    ) -> Result<Reply, SyncError> {
        self.send_with(
            |c| make(c).timeout(self.options.timeout.saturating_mul(STREAM_TIMEOUTS)),
            true,
        )
    }

    fn send_with(
        &self,
        make: impl Fn(&Client) -> RequestBuilder,
        stream: bool,
    ) -> Result<Reply, SyncError> {
        let mut pause = self.options.backoff;
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.check_cancel()?;
            let mut request = make(&self.client).header(PROTOCOL_HEADER, PROTOCOL_VERSION);
            if let Some(token) = &self.token {
                request = request.header(AUTHORIZATION, format!("Bearer {token}"));
            }
            let last = attempt >= self.options.attempts;
            let heard = stream.then(Heard::new);
            match self.exchange(request, heard.as_ref())? {
                Ok(reply) => {
                    let status = reply.status;
                    let retry = (status == StatusCode::TOO_MANY_REQUESTS
                        && self.options.retry_slow_down)
                        || status.is_server_error();
                    if !retry {
                        return Ok(reply);
                    }
                    if last {
                        return Err(SyncError::ServerBusy {
                            status: status.as_u16(),
                            attempts: attempt,
                        });
                    }
                    warn!(status = status.as_u16(), attempt, "server busy, retrying");
                    self.pause(
                        reply
                            .retry_after
                            .unwrap_or(pause)
                            .min(Duration::from_secs(30)),
                    )?;
                }
                Err(failure) => {
                    let reason = match failure {
                        Failure::TooBig => {
                            return Err(SyncError::BadAnswer(format!(
                                "an answer larger than {} MiB",
                                MAX_REPLY_BYTES >> 20
                            )));
                        }
                        Failure::Request(error) => {
                            if let Some(reason) = tls_failure(&error) {
                                return Err(SyncError::Tls(reason));
                            }
                            error.without_url().to_string()
                        }
                        Failure::Read(error) => format!("the answer broke off ({})", error.kind()),
                        Failure::Stalled(timeout) => {
                            format!("no answer within {} s", timeout.as_secs())
                        }
                    };
                    if last {
                        return Err(SyncError::Unreachable {
                            attempts: attempt,
                            reason,
                        });
                    }
                    warn!(attempt, "request failed, retrying");
                    self.pause(pause)?;
                }
            }
            pause = (pause * 2).min(Duration::from_secs(30));
        }
    }

    /// Sends `request` and reads its reply. With a cancel flag, on a thread of its own
    /// that this one waits for while watching the flag: a blocking request cannot be
    /// interrupted, so a cancelled one is abandoned, and its thread ends by itself at the
    /// request's timeout, holding nothing of the case file.
    fn exchange(
        &self,
        request: RequestBuilder,
        stream: Option<&Heard>,
    ) -> Result<Result<Reply, Failure>, SyncError> {
        let Some(cancel) = self.cancel else {
            return Ok(exchange(request, stream));
        };
        let heard = stream.cloned();
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name("sync-request".into())
            .spawn(move || {
                // The sync may have stopped waiting: then nobody hears the answer.
                let _ = tx.send(exchange(request, heard.as_ref()));
            })
            .map_err(|e| SyncError::Unreachable {
                attempts: 0,
                reason: format!("could not start a request: {e}"),
            })?;
        // A streamed pull's request may last longer than one timeout, as long as its
        // answer keeps bringing bytes.
        loop {
            match rx.recv_timeout(CANCEL_POLL) {
                Ok(reply) => return Ok(reply),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    if cancel.load(Ordering::SeqCst) {
                        return Err(SyncError::Cancelled);
                    }
                    if stream.is_some_and(|heard| heard.silent() >= self.options.timeout) {
                        return Ok(Err(Failure::Stalled(self.options.timeout)));
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(SyncError::Unreachable {
                        attempts: 0,
                        reason: "a request stopped without an answer".into(),
                    });
                }
            }
        }
    }

    /// Waits `pause` before a retry, or less when the sync is cancelled meanwhile.
    fn pause(&self, pause: Duration) -> Result<(), SyncError> {
        let Some(cancel) = self.cancel else {
            std::thread::sleep(pause);
            return Ok(());
        };
        let until = std::time::Instant::now() + pause;
        loop {
            if cancel.load(Ordering::SeqCst) {
                return Err(SyncError::Cancelled);
            }
            let left = until.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            std::thread::sleep(left.min(CANCEL_POLL));
        }
    }

    fn check_cancel(&self) -> Result<(), SyncError> {
        match self.cancel {
            Some(cancel) if cancel.load(Ordering::SeqCst) => Err(SyncError::Cancelled),
            _ => Ok(()),
        }
    }

    /// Reads a 2xx reply's JSON, or the server's refusal.
    pub(crate) fn answer<T: DeserializeOwned>(
        reply: Reply,
    ) -> Result<Result<T, Refusal>, SyncError> {
        if reply.status.is_success() {
            return serde_json::from_slice(&reply.body)
                .map(Ok)
                .map_err(|e| SyncError::BadAnswer(e.to_string()));
        }
        let body: Option<ErrorBody> = serde_json::from_slice(&reply.body).ok();
        Ok(Err(Refusal {
            status: reply.status.as_u16(),
            detail: body.map(|b| b.error),
        }))
    }

    /// Reads a 2xx reply's JSON, or turns an error reply into a [`SyncError`].
    pub(crate) fn read<T: DeserializeOwned>(reply: Reply) -> Result<T, SyncError> {
        Self::answer(reply)?.map_err(Refusal::into_error)
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The same client, sending `token`.
    fn with_token(&self, token: String) -> Self {
        Self {
            client: self.client.clone(),
            base: self.base.clone(),
            token: Some(token),
            options: self.options.clone(),
            cancel: self.cancel,
        }
    }
}

/// The organisation's replica directory (`GET /v1/replicas`).
fn fetch_replicas(http: &Http) -> Result<Replicas, SyncError> {
    let response = http.send(|c| c.get(http.url("/v1/replicas")))?;
    Http::read(response)
}

/// A gzip body of `text`.
pub(crate) fn gzip(text: &str) -> Result<Vec<u8>, SyncError> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder
        .write_all(text.as_bytes())
        .and_then(|()| encoder.flush())
        .and_then(|()| encoder.finish())
        .map_err(|e| SyncError::CaseFile(Error::Io(e)))
}

/// A page of a pull, its states left as JSON so that each is read on its own.
#[derive(Debug, Deserialize)]
struct PullPage {
    records: Vec<Value>,
    next: u64,
    more: bool,
    /// The database's epoch (§6a); a server that names none is taken at its word.
    #[serde(default)]
    epoch: Option<Epoch>,
}

/// How many new epochs one sync takes before it gives up ([`SyncError::ServerRestoring`]).
const MAX_NEW_EPOCHS: u32 = 2;

/// What one pass of a sync (push, pull, replicas) ended with.
enum Pass {
    /// The sync ran to its end, with this many records received.
    Done(u64),
    /// The server named a new epoch: everything is set to be sent again, and the sync
    /// starts over.
    NewEpoch,
}

/// What a pull ended with.
enum Pulling {
    /// Every page is applied: the replicas the pulled records name that the directory
    /// does not know, and how many records were received.
    Done(BTreeSet<ReplicaId>, u64),
    /// A page named a new epoch: it was not applied, and everything is set to be sent
    /// again.
    NewEpoch,
}

impl CaseFile {
    /// Enrols this case file's replica with the server at `server` as `username`, and
    /// keeps the device token inside the (encrypted) case file. Answers the device id.
    ///
    /// Enrolling with another server than the one kept (another address, or another
    /// server id) sets everything to be sent again, forgets the replica directory, and
    /// keeps the new server's epoch: the new server gets every record. Enrolling again
    /// with the same server keeps the cursors, unless its epoch changed (§6a).
    ///
    /// `code` is the one-time enrolment code a coordinator issued for `username`
    /// (`passerelle-server device invite`), as typed: the server reads it without regard
    /// to case, spaces or hyphens. A wrong password, username or code, or a code already
    /// used or expired, is one answer: [`SyncError::WrongCredentials`].
    pub fn enrol(
        &mut self,
        server: &str,
        username: &str,
        password: &str,
        code: &str,
        device_name: &str,
    ) -> Result<ReplicaId, SyncError> {
        let not_cancelled = AtomicBool::new(false);
        self.enrol_cancellable(
            server,
            username,
            password,
            code,
            device_name,
            &not_cancelled,
        )
    }

    /// [`enrol`](Self::enrol), abandoned within 50 ms once `cancel` is set (the
    /// app locking): [`SyncError::Cancelled`], nothing kept. The server may have used the
    /// code all the same; a new one is then needed.
    pub fn enrol_cancellable(
        &mut self,
        server: &str,
        username: &str,
        password: &str,
        code: &str,
        device_name: &str,
        cancel: &AtomicBool,
    ) -> Result<ReplicaId, SyncError> {
        let _span = info_span!("casefile.enrol").entered();
        // Sent once: a retry after a lost answer would meet the code already used (401),
        // and a 429 here counts failed passwords, which waiting out is for the person.
        let options = SyncOptions {
            attempts: 1,
            retry_slow_down: false,
            ..SyncOptions::default()
        };
        let http = Http::new(server, None, options)?.cancelled_by(cancel);
        let request = EnrolRequest {
            username: username.to_owned(),
            password: password.to_owned(),
            enrolment_code: code.trim().to_owned(),
            device_name: device_name.to_owned(),
            device_id: Some(self.replica_id()),
        };
        let response = http.send(|c| c.post(http.url("/v1/devices")).json(&request))?;
        if response.status == StatusCode::TOO_MANY_REQUESTS {
            return Err(SyncError::EnrolmentLimited {
                wait_seconds: response
                    .retry_after
                    .map_or(60, |wait| wait.as_secs().max(1)),
            });
        }
        let answer: EnrolResponse = match Http::read(response) {
            Err(SyncError::Revoked | SyncError::DeviceRevoked | SyncError::UserDisabled) => {
                return Err(SyncError::WrongCredentials);
            }
            other => other?,
        };
        if answer.device_id != self.replica_id() {
            return Err(SyncError::BadAnswer(
                "the server answered another device id than this case file's".into(),
            ));
        }
        let kept_url = self.setting(SETTING_SERVER)?;
        let kept_id = self.setting(SETTING_SERVER_ID)?;
        let server_id = answer.server_id.to_string();
        let another = kept_url.is_some_and(|url| url != http.base)
            || kept_id.is_some_and(|id| id != server_id);
        self.write(|tx| {
            set_setting(tx, SETTING_SERVER, &http.base)?;
            set_setting(tx, SETTING_TOKEN, &answer.token)?;
            set_setting(tx, SETTING_SERVER_ID, &server_id)?;
            set_setting(tx, SETTING_ORG, &answer.org)?;
            if another {
                info!("enrolled with another server: everything will be sent to it");
                send_everything_again(tx, Some(answer.epoch))?;
                clear_setting(tx, SETTING_REPLICAS)?;
            } else {
                note_epoch(tx, answer.epoch)?;
            }
            Ok(())
        })?;
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

    /// A client of the enrolled server, sending the device token, stopped by `cancel`.
    ///
    /// Errors: [`SyncError::NotEnrolled`], or a server address that no longer checks.
    pub(crate) fn enrolled_http<'c>(
        &self,
        options: SyncOptions,
        cancel: &'c AtomicBool,
    ) -> Result<Http<'c>, SyncError> {
        let (Some(server), Some(token)) =
            (self.setting(SETTING_SERVER)?, self.setting(SETTING_TOKEN)?)
        else {
            return Err(SyncError::NotEnrolled);
        };
        Ok(Http::new(&server, Some(token), options)?.cancelled_by(cancel))
    }

    /// Syncs with the enrolled server (default options): see the module's docs.
    pub fn sync(
        &mut self,
        progress: &mut dyn FnMut(Progress),
        cancel: &AtomicBool,
    ) -> Result<SyncReport, SyncError> {
        self.sync_with(SyncOptions::default(), progress, cancel)
    }

    /// Syncs with the enrolled server: push (new changes, then the records set aside
    /// before), pull until nothing is left, then the replica directory. `progress` hears
    /// of each batch and page; setting `cancel` stops the sync within 50 ms, even in the
    /// middle of a request or of a pause between retries, keeping what was committed.
    ///
    /// A sync that ran to its end answers its report, even with records set aside
    /// ([`SyncReport::set_aside`]). When the push failed for a reason that is not one
    /// record's, the pull still runs, and the push's error is answered after it.
    ///
    /// When the server was restored (a new epoch, or 409 `checkpoint_ahead`), or this case
    /// file was (409 `replica_reused`), the sync sets everything to be sent again, and
    /// re-keys in the latter case, then starts over (SYNC-PROTOCOL.md §6a); the report
    /// counts every pass. Errors: [`SyncError::ServerStillBehind`],
    /// [`SyncError::ServerRestoring`] and [`SyncError::ReplicaStillReused`] when that
    /// does not settle it within the sync.
    pub fn sync_with(
        &mut self,
        options: SyncOptions,
        progress: &mut dyn FnMut(Progress),
        cancel: &AtomicBool,
    ) -> Result<SyncReport, SyncError> {
        let _span = info_span!("casefile.sync").entered();
        let mut http = self.enrolled_http(options, cancel)?;
        let mut report = SyncReport::default();
        let (mut sent_again, mut rekeyed, mut epochs) = (false, false, 0);
        let received = loop {
            let error = match self.sync_pass(&http, progress, cancel, &mut report) {
                Ok(Pass::Done(received)) => break received,
                Ok(Pass::NewEpoch) => {
                    epochs += 1;
                    if epochs > MAX_NEW_EPOCHS {
                        return Err(SyncError::ServerRestoring);
                    }
                    continue;
                }
                Err(error) => error,
            };
            match error.recovery() {
                Some(ErrorCode::CheckpointAhead) if sent_again => {
                    return Err(SyncError::ServerStillBehind);
                }
                Some(ErrorCode::CheckpointAhead) => {
                    warn!(
                        "the server forgot part of this device's syncs: sending everything again"
                    );
                    sent_again = true;
                    self.write(|tx| send_everything_again(tx, None))?;
                }
                Some(ErrorCode::ReplicaReused) if rekeyed => {
                    return Err(SyncError::ReplicaStillReused);
                }
                Some(ErrorCode::ReplicaReused) => {
                    warn!("this case file was restored from a copy: taking a new replica id");
                    rekeyed = true;
                    http = self.rekey(&http)?;
                }
                _ => return Err(error),
            }
        };
        self.set_setting(SETTING_LAST_SYNC, crate::records::now().as_str())?;
        report.conflicts = self.conflicts()?.len() as u64;
        report.set_aside = self.set_aside()?.len() as u64;
        progress(Progress {
            phase: Phase::Done,
            done: received,
            expected: received,
        });
        Ok(report)
    }

    /// One pass of a sync: the end of a re-key under way, the push, the pull, the
    /// replica directory.
    fn sync_pass(
        &mut self,
        http: &Http,
        progress: &mut dyn FnMut(Progress),
        cancel: &AtomicBool,
        report: &mut SyncReport,
    ) -> Result<Pass, SyncError> {
        let predecessors = self.rekeying()?;
        if !predecessors.is_empty() {
            self.redot_from_server(http, &predecessors, progress, cancel)?;
        }

        let expected = self.count_pending_push()? + self.set_aside_to_send()?.len() as u64;
        progress(Progress {
            phase: Phase::Push,
            done: 0,
            expected,
        });
        let mut run = PushRun::new(http, cancel, &mut *progress, expected);
        let pushed = self.push_all(&mut run);
        report.pushed += run.accepted;
        let server_seq = run.server_seq;
        let push_error = match pushed {
            Ok(()) if run.new_epoch => return Ok(Pass::NewEpoch),
            Ok(()) => None,
            Err(error) if error.pull_after() => {
                warn!("the push failed: pulling all the same, then reporting it");
                Some(error)
            }
            Err(error) => return Err(error),
        };

        // After a failed push, an answer lost on the way may have left the count of what
        // the server acknowledged behind: the pull declares it only after a clean push.
        let pushed = match push_error {
            None => Some(recovery::push_acked(&self.conn)?),
            Some(_) => None,
        };
        // A directory that does not know this device is asked for beside the pull.
        let directory = self.replica_directory()?;
        let ask_early = directory.is_empty() || !directory.contains_key(&self.replica_id());
        let (pulled, early) = std::thread::scope(|scope| {
            let early = ask_early.then(|| scope.spawn(|| fetch_replicas(http)));
            let pulled = self.pull_all(http, server_seq, pushed, progress, cancel, report);
            let early = early.map(|asked| {
                asked.join().unwrap_or_else(|_| {
                    Err(SyncError::BadAnswer(
                        "the replica directory's request failed".into(),
                    ))
                })
            });
            (pulled, early)
        });
        let pulled = match pulled {
            Ok(Pulling::NewEpoch) => return Ok(Pass::NewEpoch),
            Ok(Pulling::Done(strangers, received)) => {
                self.learn_replicas(http, (strangers, received), early, progress, cancel)
            }
            Err(error) => Err(error),
        };
        match (pulled, push_error) {
            (Err(SyncError::Cancelled), _) => Err(SyncError::Cancelled),
            (Err(error), _) if error.recovery().is_some() => Err(error),
            (Err(_), Some(first)) => {
                warn!("the pull failed too");
                Err(first)
            }
            (Err(error), None) => Err(error),
            (Ok(_), Some(first)) => Err(first),
            (Ok(received), None) => Ok(Pass::Done(received)),
        }
    }

    /// Takes a new replica id from the server (`POST /v1/devices/rekey`, §6a) and keeps
    /// it with its token at once; answers the client that sends the new token.
    fn rekey<'c>(&mut self, http: &Http<'c>) -> Result<Http<'c>, SyncError> {
        let _span = info_span!("casefile.rekey").entered();
        let request = RekeyRequest {
            predecessor: self.replica_id(),
        };
        let response = http.send(|c| c.post(http.url("/v1/devices/rekey")).json(&request))?;
        let answer: RekeyResponse = Http::read(response)?;
        if answer.device_id == request.predecessor {
            return Err(SyncError::BadAnswer(
                "the server answered a re-key with the device id it retires".into(),
            ));
        }
        self.begin_rekey(answer.device_id, &answer.token, answer.epoch)?;
        Ok(http.with_token(answer.token))
    }

    /// Re-dots every local record from `predecessors` to this case file's replica id,
    /// against the server's pages from the re-key's checkpoint, then the records the
    /// server did not send, and ends the re-key (§6a). Nothing is merged meanwhile.
    fn redot_from_server(
        &mut self,
        http: &Http,
        predecessors: &[ReplicaId],
        progress: &mut dyn FnMut(Progress),
        cancel: &AtomicBool,
    ) -> Result<(), SyncError> {
        let _span = info_span!("casefile.redot").entered();
        let start = self.rekey_since()?;
        loop {
            if cancel.load(Ordering::SeqCst) {
                return Err(SyncError::Cancelled);
            }
            let since = self.rekey_since()?;
            let response = http
                .send(|c| c.get(http.url(&format!("/v1/pull?since={since}&limit={PULL_PAGE}"))))?;
            let page: PullPage = Http::read(response)?;
            let changed = self.redot_page(predecessors, &page.records, page.next)?;
            let done = page.next.saturating_sub(start);
            progress(Progress {
                phase: Phase::Pull,
                done,
                expected: done,
            });
            info!(
                records = page.records.len(),
                changed, "re-dotted against a page"
            );
            if !page.more {
                break;
            }
        }
        if cancel.load(Ordering::SeqCst) {
            return Err(SyncError::Cancelled);
        }
        self.finish_rekey(predecessors)?;
        Ok(())
    }

    /// Pulls pages from the checkpoint until the server has no more, each applied and
    /// committed; each request declares `pushed` when given (§6a). Answers whether a
    /// record names a replica the directory does not know, and how many records came;
    /// or, when a page names a new epoch, sets everything to be sent again and stops.
    fn pull_all(
        &mut self,
        http: &Http,
        server_seq: u64,
        pushed: Option<u64>,
        progress: &mut dyn FnMut(Progress),
        cancel: &AtomicBool,
        report: &mut SyncReport,
    ) -> Result<Pulling, SyncError> {
        let directory = self.replica_directory()?;
        let mut strangers = BTreeSet::new();
        let mut kept_epoch = recovery::kept_epoch(&self.conn)?;
        let start = self.pull_checkpoint()?;
        let span = server_seq.saturating_sub(start);
        let mut received = 0u64;
        let declared = pushed.map_or_else(String::new, |n| format!("&pushed={n}"));
        progress(Progress {
            phase: Phase::Pull,
            done: 0,
            expected: span,
        });
        // Streams that broke before their first page, in a row, and the pause before the
        // next try.
        let mut broken = 0;
        let mut pause = http.options.backoff;
        loop {
            if cancel.load(Ordering::SeqCst) {
                return Err(SyncError::Cancelled);
            }
            let since = self.pull_checkpoint()?;
            let mut reply = http.send_streamed(|c| {
                c.get(http.url(&format!(
                    "/v1/pull?since={since}&limit={PULL_PAGE}&pages={PULL_PAGES}{declared}"
                )))
            })?;
            // A server that does not stream answers one page.
            let lines = reply.lines.take();
            let mut single = match lines {
                None => Some(ReadPage::from(Http::read::<PullPage>(reply)?)),
                Some(_) => None,
            };
            let mut read = 0;
            let mut more = true;
            let mut cut = String::from("the answer ended before its first page");
            loop {
                let page = match (&lines, single.take()) {
                    (_, Some(page)) => page,
                    (None, None) => break,
                    (Some(lines), None) => match lines.next(http.options.timeout, http.cancel) {
                        Ok(Some(page)) => page,
                        Ok(None) => break,
                        // Cut: the next request resumes at the checkpoint.
                        Err(SyncError::Unreachable { reason, .. }) => {
                            cut = reason;
                            break;
                        }
                        Err(error) => return Err(error),
                    },
                };
                read += 1;
                if let Some(epoch) = page.epoch
                    && kept_epoch != Some(epoch)
                {
                    if self.write(|tx| note_epoch(tx, epoch))? {
                        return Ok(Pulling::NewEpoch);
                    }
                    kept_epoch = Some(epoch);
                }
                let states = page.states;
                for pulled in &states {
                    if let Pulled::State(state) = pulled {
                        strangers.extend(
                            state
                                .vv()
                                .iter()
                                .map(|(id, _)| id)
                                .filter(|id| !directory.contains_key(id)),
                        );
                    }
                }
                let count = states.len();
                let applied = match self.apply_page(states, page.next) {
                    // Another copy of this file used its dots: re-key before receiving
                    // anything.
                    Err(Error::ReplicaReused) => {
                        return Err(SyncError::Refused {
                            code: ErrorCode::ReplicaReused,
                            message: Error::ReplicaReused.to_string(),
                        });
                    }
                    other => other?,
                };
                received += count as u64;
                report.pulled += applied.changed as u64;
                let done = page.next.saturating_sub(start);
                progress(Progress {
                    phase: Phase::Pull,
                    done,
                    expected: span.max(done),
                });
                info!(
                    records = count,
                    changed = applied.changed,
                    set_aside = applied.set_aside,
                    "pulled a page"
                );
                more = page.more;
                if !more {
                    break;
                }
            }
            if !more {
                break;
            }
            if read > 0 {
                broken = 0;
                pause = http.options.backoff;
            } else {
                // A stream that broke, or ended, before its first page: tried again after
                // a pause, as a failed request is.
                broken += 1;
                if broken >= http.options.attempts {
                    return Err(SyncError::Unreachable {
                        attempts: broken,
                        reason: cut,
                    });
                }
                warn!(attempt = broken, "a pull broke off, retrying");
                http.pause(pause)?;
                pause = (pause * 2).min(Duration::from_secs(30));
            }
        }
        if received >= u64::from(PULL_PAGE) {
            // A large pull leaves up to 40 MiB of WAL beside the file: copied into it now,
            // and the WAL emptied, the case file takes no more room than it needs.
            self.conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        }
        Ok(Pulling::Done(strangers, received))
    }

    /// Who made each edit: asked only when a replica is new to this case file, so a sync
    /// with nothing to do is a single round trip. `early` is the directory asked for
    /// while the pull went on (a new case file's first sync: on a slow link, its round
    /// trip overlaps the pull's), asked again only when the pull named a replica it
    /// lacks. Answers the records received.
    fn learn_replicas(
        &mut self,
        http: &Http,
        (strangers, received): (BTreeSet<ReplicaId>, u64),
        early: Option<Result<Replicas, SyncError>>,
        progress: &mut dyn FnMut(Progress),
        cancel: &AtomicBool,
    ) -> Result<u64, SyncError> {
        let replicas = match early {
            Some(Ok(replicas)) if strangers.iter().all(|id| replicas.contains_key(id)) => replicas,
            None if strangers.is_empty() => return Ok(received),
            _ => {
                if cancel.load(Ordering::SeqCst) {
                    return Err(SyncError::Cancelled);
                }
                progress(Progress {
                    phase: Phase::Replicas,
                    done: 0,
                    expected: 1,
                });
                fetch_replicas(http)?
            }
        };
        let text =
            serde_json::to_string(&replicas).map_err(|e| SyncError::BadAnswer(e.to_string()))?;
        self.set_setting(SETTING_REPLICAS, &text)?;
        Ok(received)
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
