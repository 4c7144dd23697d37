//! The HTTP exchange of `SYNC-PROTOCOL.md` §6: routes, request checks, handlers.
//!
//! When a request has several faults, the first in §6's order answers, on every
//! endpoint: 400 for a missing `Sync-Protocol` header, 426 for a version this server does
//! not speak, 401 (`unauthorized`, or `device_revoked`), 429 (the caller being known),
//! 403, 413, 400 (a body or query of the wrong shape, or an id twice in a push), 409,
//! then for a push 422 `invalid_record` or `record_too_large`, 422 `forged_dot`, 422
//! `dropped_entry`, each rule checked for every record of the push before the next. The
//! body is parsed only once the caller is known and allowed: a request refused before
//! has its body read and dropped unparsed (up to 32 MiB, within the body timeout, else
//! the connection is closed), so that a client still sending reads the answer.
//!
//! Enrolment, which has no token: 400 for a missing header, 426, 413, 400 (a body of the
//! wrong shape, a username over 64 characters, refused before the username is used at
//! all, or a missing or malformed enrolment code), 429 (too many failures for this
//! username or from this client address, counted in the database), 401 (a wrong
//! username, password or code: one answer), 409.
//!
//! A body that has not arrived within the body timeout (60 s by default) is answered
//! 400 and its connection closed. Handlers hold no SQL: they call [`Store`].

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::BodyExt;
use serde_json::Value;
use sync_protocol::wire::{
    DEFAULT_PULL_LIMIT, EnrolRequest, EnrolResponse, ErasePersonRequest, ErasePersonResponse,
    EraseRequest, EraseResponse, ErrorCode, Health, MAX_BODY_BYTES, MAX_PULL_LIMIT, MAX_PULL_PAGES,
    MAX_PUSH_RECORDS, PROTOCOL_HEADER, PROTOCOL_VERSION, PULL_STREAM_TYPE, PushRequest,
    PushResponse, PushStatus, RekeyRequest, RekeyResponse, Replicas,
};
use sync_protocol::{Epoch, RecordId, RecordState, ValidationError};
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{DefaultPredicate, NotForContentType, Predicate};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::{Level, info, warn};

use crate::auth;
use crate::error::ApiError;
use crate::invite::{self, BadCode};
use crate::journal::{self, Entry, Journal};
use crate::rate::{EnrolKeys, EnrolLimited, RateLimiter, client_address, wall_clock};
use crate::store::blobs::DEFAULT_QUOTA_MIB;
use crate::store::{
    Caller, Capped, Conversation, ERASURES_PER_HOUR, Enrolled, Enrolment, PAGE_BYTES, Page, Role,
    Store, TokenOwner, page,
};

/// What every handler shares.
#[derive(Debug)]
pub struct App<S> {
    /// The storage.
    pub store: S,
    /// The per-device rate limit of the sync calls.
    pub limiter: RateLimiter,
    /// The per-device rate limit of documents' calls (§6b), a bucket apart: neither
    /// slows the other.
    pub blob_limiter: RateLimiter,
    /// Each organisation's quota for documents, in bytes (§6b).
    pub blob_quota: u64,
    /// The reverse proxies whose `X-Forwarded-For` names the client's address (for the
    /// limits on failed enrolments); the TCP peer's address stands for any other client.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Bounds the password checks running at once (each takes 19 MiB and a core for
    /// tens of milliseconds), so a burst of enrolments cannot exhaust the machine.
    pub password_checks: tokio::sync::Semaphore,
    /// How long a request body may take to arrive, from when the server starts reading it.
    pub body_timeout: Duration,
    /// What a restore must not roll back (§6a).
    pub journal: Journal,
}

impl<S> App<S> {
    /// The shared state of a server on `store`, with the default limits but the
    /// per-device `rate` of the sync calls and the `body_timeout`.
    pub fn new(store: S, journal: Journal, rate: f64, body_timeout: Duration) -> Self {
        Self {
            store,
            limiter: RateLimiter::new(rate),
            blob_limiter: RateLimiter::new(crate::rate::DEFAULT_RATE),
            blob_quota: DEFAULT_QUOTA_MIB * 1024 * 1024,
            trusted_proxies: Vec::new(),
            password_checks: tokio::sync::Semaphore::new(PASSWORD_CHECKS),
            body_timeout,
            journal,
        }
    }
}

/// How many password checks may run at once.
pub const PASSWORD_CHECKS: usize = 2;

/// The longest username (§6): a longer one is refused before anything else is done with it.
pub const MAX_USERNAME_CHARS: usize = 64;

/// By default, how long a request body may take to arrive (§6: 60 seconds).
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(60);

type Shared<S> = State<Arc<App<S>>>;

/// The routes, with gzip both ways and request logs.
pub fn router<S: Store>(app: Arc<App<S>>) -> Router {
    Router::new()
        .route("/v1/health", get(health::<S>))
        .route("/v1/devices", post(enrol::<S>))
        .route("/v1/devices/rekey", post(rekey::<S>))
        .route("/v1/push", post(push::<S>))
        .route("/v1/pull", get(pull::<S>))
        .route("/v1/replicas", get(replicas::<S>))
        .route("/v1/erase", post(erase::<S>))
        .route("/v1/persons/erase", post(erase_person::<S>))
        .route(
            "/v1/blobs/{sha256}",
            get(blobs::get::<S>)
                .head(blobs::head::<S>)
                .put(blobs::put::<S>),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(wrong_method)
        .with_state(app)
        // Request bodies are inflated by `read_body`, which stops at MAX_BODY_BYTES
        // (documents' chunks are never compressed); answers are gzip when the client
        // accepts it, but documents' bytes, sent as they are (mostly compressed already,
        // and a range must stay a range of the document); every request is logged by
        // method, path and status, never with its headers, query or body, and a
        // document's path without its digest.
        .layer(CompressionLayer::new().compress_when(
            DefaultPredicate::new().and(NotForContentType::const_new(blobs::OCTET_STREAM)),
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &axum::http::Request<Body>| {
                    let path = request.uri().path();
                    let path = match path.starts_with("/v1/blobs/") {
                        true => "/v1/blobs/{sha256}",
                        false => path,
                    };
                    tracing::info_span!("request", method = %request.method(), path = %path)
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
}

async fn not_found() -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        "there is no such endpoint: see SYNC-PROTOCOL.md §6",
    )
}

async fn wrong_method() -> ApiError {
    ApiError::bad_request("this endpoint does not take this method: see SYNC-PROTOCOL.md §6")
}

/// 400 or 426, then 401 or 429: the request speaks this protocol, and comes from an
/// enrolled device in service, within its rate limit of the sync calls.
async fn check_caller<S: Store>(app: &App<S>, headers: &HeaderMap) -> Result<Caller, ApiError> {
    check_caller_within(app, headers, &app.limiter).await
}

/// [`check_caller`] within the rate limit `limiter`.
async fn check_caller_within<S: Store>(
    app: &App<S>,
    headers: &HeaderMap,
    limiter: &RateLimiter,
) -> Result<Caller, ApiError> {
    check_protocol(headers)?;
    let token = bearer(headers).ok_or_else(ApiError::unauthorized)?;
    let caller = match app.store.caller(auth::token_hash(token)).await? {
        TokenOwner::Device(caller) => caller,
        TokenOwner::Revoked(device) => {
            info!(device = %device, "revoked device refused");
            return Err(ApiError::device_revoked());
        }
        TokenOwner::Disabled(device) => {
            info!(device = %device, "device of a disabled user refused");
            return Err(ApiError::user_disabled());
        }
        TokenOwner::Unknown => return Err(ApiError::unauthorized()),
    };
    limiter.check(caller.device).map_err(ApiError::slow_down)?;
    Ok(caller)
}

/// The request's bearer token, if it has one.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// 400 without `Sync-Protocol`, 426 with a version this server does not speak.
fn check_protocol(headers: &HeaderMap) -> Result<(), ApiError> {
    let value = headers.get(PROTOCOL_HEADER).ok_or_else(|| {
        ApiError::bad_request(format!(
            "the header {PROTOCOL_HEADER} is missing: send {PROTOCOL_HEADER}: {PROTOCOL_VERSION}"
        ))
    })?;
    let version = PROTOCOL_VERSION.to_string();
    if value.to_str().is_ok_and(|v| v.trim() == version) {
        Ok(())
    } else {
        Err(ApiError::unsupported_protocol())
    }
}

/// Answers `error` to a request whose body was not read: the body is read to its end
/// and dropped first (up to [`DRAIN_LIMIT`], within the body timeout), so that a client
/// still sending reads the answer rather than a reset connection. Past that, or when
/// `Content-Length` already says it is larger, the answer closes the connection.
async fn refuse_unread(
    error: ApiError,
    headers: &HeaderMap,
    mut body: Body,
    timeout: Duration,
) -> ApiError {
    if declared_length(headers).is_some_and(|n| n > DRAIN_LIMIT) {
        return error.closing();
    }
    let deadline = tokio::time::Instant::now() + timeout;
    let mut drained: u64 = 0;
    loop {
        match tokio::time::timeout_at(deadline, body.frame()).await {
            Ok(None) => return error,
            Ok(Some(Ok(frame))) => {
                drained += frame.data_ref().map_or(0, |d| d.len() as u64);
                if drained > DRAIN_LIMIT {
                    return error.closing();
                }
            }
            Ok(Some(Err(_))) | Err(_) => return error.closing(),
        }
    }
}

/// The `Content-Length` the client declared, if any.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

/// A body a little over the limit is read to its end and dropped before the 413
/// answer, so that the client, still sending, reads the answer rather than a reset
/// connection; past this size the connection is simply closed.
const DRAIN_LIMIT: u64 = 4 * MAX_BODY_BYTES as u64;

/// The largest gzip body on the wire: gzip never makes data much larger, so a body over
/// this size holds more than `MAX_BODY_BYTES` once inflated.
const MAX_WIRE_BYTES: usize = MAX_BODY_BYTES + MAX_BODY_BYTES / 64 + 1024;

/// The request body, inflated when it is gzip; 413 past [`MAX_BODY_BYTES`] once inflated;
/// 400 (and the connection closed) when it has not arrived within `timeout`.
///
/// The body is decompressed here rather than by a middleware so that the limit holds on
/// the inflated bytes and the whole (small) wire body is read first: a gzip bomb is
/// inflated no further than `MAX_BODY_BYTES` and its sender still reads the 413.
async fn read_body(
    headers: &HeaderMap,
    body: Body,
    timeout: Duration,
) -> Result<Vec<u8>, ApiError> {
    // An encoding this server cannot read answers 400, but only once the body is known
    // not to be too large: 413 comes first in §6's order.
    let gzip = match headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().map(|v| v.trim().to_ascii_lowercase()))
    {
        None => Some(false),
        Some(Ok(encoding)) if encoding == "gzip" || encoding == "x-gzip" => Some(true),
        Some(Ok(encoding)) if encoding == "identity" => Some(false),
        Some(_) => None,
    };
    let limit = if gzip == Some(true) {
        MAX_WIRE_BYTES
    } else {
        MAX_BODY_BYTES
    };
    let wire = read_wire(headers, body, limit, timeout).await?;
    let Some(gzip) = gzip else {
        return Err(ApiError::bad_request(
            "the body's Content-Encoding must be gzip, or none",
        ));
    };
    if !gzip {
        return Ok(wire);
    }
    tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut inflated = Vec::new();
        flate2::read::MultiGzDecoder::new(&wire[..])
            .take(MAX_BODY_BYTES as u64 + 1)
            .read_to_end(&mut inflated)
            .map_err(|_| {
                ApiError::bad_request("the gzip body is damaged: compress it again and send it")
            })?;
        if inflated.len() > MAX_BODY_BYTES {
            return Err(ApiError::too_large());
        }
        Ok(inflated)
    })
    .await
    .map_err(|_| ApiError::new(ErrorCode::Internal, "the server failed: try again"))?
}

/// The body as sent, at most `limit` bytes; 413 beyond; 400 (closing the connection) when
/// it has not all arrived within `timeout`.
async fn read_wire(
    headers: &HeaderMap,
    mut body: Body,
    limit: usize,
    timeout: Duration,
) -> Result<Vec<u8>, ApiError> {
    if declared_length(headers).is_some_and(|n| n > DRAIN_LIMIT) {
        return Err(ApiError::too_large().closing());
    }
    let deadline = tokio::time::Instant::now() + timeout;
    let mut bytes = Vec::new();
    let mut dropped: u64 = 0;
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(_) => {
                return Err(ApiError::bad_request(format!(
                    "the request body did not arrive within {} seconds: check the connection \
                     and send it again",
                    timeout.as_secs_f64().ceil()
                ))
                .closing());
            }
        };
        let frame = frame.map_err(|_| {
            ApiError::bad_request("the request body could not be read: send it again").closing()
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if dropped == 0 && bytes.len() + data.len() <= limit {
            bytes.extend_from_slice(&data);
            continue;
        }
        dropped += data.len() as u64 + bytes.len() as u64;
        bytes = Vec::new();
        if dropped > DRAIN_LIMIT {
            return Err(ApiError::too_large().closing());
        }
    }
    if dropped > 0 {
        return Err(ApiError::too_large());
    }
    Ok(bytes)
}

fn bad_json(what: &str) -> ApiError {
    ApiError::bad_request(format!(
        "the body is not a {what} of SYNC-PROTOCOL.md §6: check the client version"
    ))
}

async fn health<S: Store>(State(app): Shared<S>) -> Result<axum::Json<Health>, ApiError> {
    Ok(axum::Json(Health {
        status: "ok".into(),
        protocol: PROTOCOL_VERSION,
        server_id: app.store.server_id(),
        epoch: app.store.epoch().await?,
    }))
}

async fn enrol<S: Store>(
    State(app): Shared<S>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    if let Err(error) = check_protocol(&headers) {
        return Err(refuse_unread(error, &headers, body, app.body_timeout).await);
    }
    let bytes = read_body(&headers, body, app.body_timeout).await?;
    let request: EnrolRequest =
        serde_json::from_slice(&bytes).map_err(|_| bad_json("enrolment request"))?;
    drop(bytes);
    // Counted in bytes first: a long username is not even walked through.
    if request.username.len() > 4 * MAX_USERNAME_CHARS
        || request.username.chars().count() > MAX_USERNAME_CHARS
    {
        return Err(ApiError::bad_request(format!(
            "a username has at most {MAX_USERNAME_CHARS} characters: check the username"
        )));
    }
    let device_name = request.device_name.trim().to_owned();
    if device_name.is_empty() || device_name.chars().count() > 200 {
        return Err(ApiError::bad_request(
            "device_name must be a name of 1 to 200 characters",
        ));
    }
    let code_hash = match invite::canonical(&request.enrolment_code) {
        Ok(code) => invite::code_hash(&code),
        Err(BadCode::Missing) => {
            return Err(ApiError::bad_request(
                "an enrolment code is needed: ask a coordinator for one (passerelle-server \
                 device invite)",
            ));
        }
        Err(BadCode::Malformed) => {
            return Err(ApiError::bad_request(
                "an enrolment code is 16 letters and digits, such as 7KQ2-M9XD-4HRW-C3TB: \
                 check what was typed",
            ));
        }
    };
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let address = client_address(peer.ip(), &forwarded, &app.trusted_proxies);
    let keys = EnrolKeys::new(app.journal.secret(), address, &request.username);
    // What the logs say of the attempt: keyed hashes, never the username or the address.
    let (address_hash, user_hash) = keys.short();
    // A try is taken before the password is checked, so requests running at once cannot
    // slip past the limit; it is given back unless the credentials were wrong.
    if let Err((which, wait)) = app
        .store
        .enrol_try(keys.with_limits(), wall_clock())
        .await?
    {
        let limited = match which {
            0 => EnrolLimited::Address(wait),
            _ => EnrolLimited::Username(wait),
        };
        let (limit, message) = match limited {
            EnrolLimited::Address(_) => (
                "address",
                "too many failed enrolments from this network: wait a few minutes and try again",
            ),
            EnrolLimited::Username(_) => (
                "username",
                "too many failed enrolments for this username: wait a few minutes and try again",
            ),
        };
        warn!(
            category = "limited",
            limit,
            user = %user_hash,
            address = %address_hash,
            "enrolment refused: too many failures"
        );
        return Err(ApiError::slow_down(wait).with_message(message));
    }
    match enrol_checked(&app, request, device_name, code_hash).await {
        Err(Refusal::Failed(reason)) => {
            warn!(
                category = "wrong_credentials",
                reason,
                user = %user_hash,
                address = %address_hash,
                "enrolment failed"
            );
            Err(ApiError::new(
                ErrorCode::Unauthorized,
                "wrong username, password or enrolment code: check them, or ask your \
                 coordinator for a new code",
            ))
        }
        other => {
            if let Err(error) = app
                .store
                .enrol_give_back(keys.with_limits(), wall_clock())
                .await
            {
                warn!(%error, "an enrolment try could not be given back");
            }
            other.map_err(|refusal| match refusal {
                Refusal::Error(error) => error,
                Refusal::Failed(_) => ApiError::unauthorized(),
            })
        }
    }
}

/// Why an enrolment past the limits was refused.
enum Refusal {
    /// Wrong credentials (a failure, which counts): why, for the log.
    Failed(&'static str),
    /// Anything else, which does not count.
    Error(ApiError),
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Self {
        Self::Error(error)
    }
}

impl From<crate::store::StoreError> for Refusal {
    fn from(error: crate::store::StoreError) -> Self {
        Self::Error(error.into())
    }
}

/// Enrolment once the request is well formed and within the limits: the password, the
/// user's state, then the code, used in the enrolment's own transaction.
async fn enrol_checked<S: Store>(
    app: &App<S>,
    request: EnrolRequest,
    device_name: String,
    code_hash: [u8; 32],
) -> Result<Response, Refusal> {
    let login = app.store.login(&request.username).await?;
    let password = request.password;
    let _permit = app.password_checks.acquire().await.map_err(|_| {
        ApiError::new(
            ErrorCode::Unavailable,
            "the server is shutting down: try again later",
        )
    })?;
    let login = tokio::task::spawn_blocking(move || match login {
        Some(login) if auth::verify_password(&password, &login.password_hash) => Ok(login),
        Some(_) => Err("wrong_password"),
        None => {
            auth::verify_nothing(&password);
            Err("unknown_username")
        }
    })
    .await
    .map_err(|_| ApiError::new(ErrorCode::Internal, "the server failed: try again"))?
    .map_err(Refusal::Failed)?;
    drop(_permit);
    // Only someone who knows the password learns that the account is disabled.
    if login.disabled {
        info!("enrolment of a disabled user refused");
        return Err(ApiError::user_disabled().into());
    }
    let (token, token_hash) = auth::new_token();
    let enrolled = app
        .store
        .enrol(Enrolment {
            user_id: login.user_id,
            org: login.org,
            device_id: request.device_id,
            device_name,
            token_hash,
            code_hash,
        })
        .await?;
    let device_id = match enrolled {
        Enrolled::Device(device_id) => device_id,
        Enrolled::BadCode => return Err(Refusal::Failed("wrong_code")),
        Enrolled::Taken => {
            return Err(ApiError::new(
                ErrorCode::DeviceIdTaken,
                "this device id is already enrolled by another user, or was revoked: \
                 create a new case file on this device, or ask your coordinator",
            )
            .into());
        }
    };
    // The used code first: a crash between the two lines loses the enrolment (never
    // answered) rather than the code's use.
    app.journal
        .append_all(&[
            Entry::CodeUsed {
                code_hash: journal::hex(&code_hash),
            },
            Entry::Enrolled {
                user: app.journal.user(&request.username),
                device: device_id,
                token_hash: journal::hex(&token_hash),
            },
        ])
        .map_err(|e| ApiError::journal(&e))?;
    info!(device = %device_id, "device enrolled");
    let answer = EnrolResponse {
        device_id,
        token,
        server_id: app.store.server_id(),
        org: login.org_name,
        epoch: app.store.epoch().await?,
    };
    Ok((StatusCode::CREATED, axum::Json(answer)).into_response())
}

/// The id of a pushed record, when it can be read.
fn record_id(value: &Value) -> Option<RecordId> {
    value.get("id")?.as_str()?.parse().ok()
}

/// 422 for record `i` of a push that breaks §2: `record_too_large` for an edit over the
/// size cap, `invalid_record` otherwise.
fn invalid_record(i: usize, value: &Value, error: &ValidationError) -> ApiError {
    let code = match error {
        ValidationError::EditTooLarge { .. } => ErrorCode::RecordTooLarge,
        _ => ErrorCode::InvalidRecord,
    };
    ApiError::new(
        code,
        format!(
            "record {i} of the push is invalid ({}): {error}; set it aside and send the others again",
            error.code()
        ),
    )
    .about(record_id(value))
}

async fn push<S: Store>(
    State(app): Shared<S>,
    headers: HeaderMap,
    body: Body,
) -> Result<axum::Json<PushResponse>, ApiError> {
    let caller = match check_caller(&app, &headers).await {
        Ok(caller) => caller,
        Err(error) => return Err(refuse_unread(error, &headers, body, app.body_timeout).await),
    };
    let bytes = read_body(&headers, body, app.body_timeout).await?;
    let value = serde_json::from_slice::<Value>(&bytes);
    drop(bytes);
    let count = value
        .as_ref()
        .ok()
        .and_then(|v| v.get("records"))
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if count > MAX_PUSH_RECORDS {
        return Err(ApiError::too_large());
    }
    let request: PushRequest<Value> = value
        .and_then(serde_json::from_value)
        .map_err(|_| bad_json("push request"))?;
    let mut seen = HashSet::with_capacity(request.records.len());
    for record in &request.records {
        if let Some(id) = record.get("id").and_then(Value::as_str)
            && !seen.insert(id)
        {
            return Err(ApiError::bad_request(format!(
                "the record {} appears twice in this push: send each record at most once",
                record_id(record).map_or_else(|| "with this id".to_owned(), |id| id.to_string())
            ))
            .about(record_id(record)));
        }
    }
    if caller.retired {
        return Err(ApiError::replica_reused());
    }
    let records = request
        .records
        .iter()
        .enumerate()
        .map(|(i, value)| {
            RecordState::from_value(value)
                .and_then(|state| state.check_pushable().map(|()| state))
                .map_err(|e| invalid_record(i, value, &e))
        })
        .collect::<Result<Vec<_>, _>>();
    let records = match records {
        Ok(records) => records,
        Err(error) => {
            info!(device = %caller.device, records = count, "push refused: invalid record");
            return Err(error);
        }
    };
    let through = request.through;
    drop(request);
    let outcome = match app.store.push(caller, records, through).await {
        Ok(outcome) => outcome,
        Err(error) => {
            let error = ApiError::from(error);
            info!(device = %caller.device, records = count, "push refused");
            return Err(error);
        }
    };
    // Records erased on arrival, erased persons taken out of shared records (§5): the
    // server's own edits, kept by the journal before the answer.
    app.journal
        .append_edits(caller.org, &outcome.edits)
        .map_err(|e| ApiError::journal(&e))?;
    let count = |s: PushStatus| outcome.results.iter().filter(|r| r.status == s).count();
    info!(
        device = %caller.device,
        records = outcome.results.len(),
        created = count(PushStatus::Created),
        merged = count(PushStatus::Merged),
        unchanged = count(PushStatus::Unchanged),
        server_seq = outcome.server_seq,
        "push"
    );
    Ok(axum::Json(PushResponse {
        server_seq: outcome.server_seq,
        epoch: outcome.epoch,
        results: outcome.results,
    }))
}

/// A pull's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PullQuery {
    since: u64,
    limit: u32,
    /// The device's push cursor (§6a), when it sends one.
    pushed: Option<u64>,
    /// How many pages to answer back to back (1: a plain page).
    pages: u32,
}

/// `since` (default 0), `limit` (default 500, 1 to 1000), `pushed` (§6a, optional) and
/// `pages` (1 to 100, default 1: see the sync-protocol crate's notes); other parameters
/// are ignored.
fn pull_query(query: Option<&str>) -> Result<PullQuery, ApiError> {
    let mut since = 0;
    let mut limit = DEFAULT_PULL_LIMIT;
    let mut pushed = None;
    let mut pages = 1;
    let bounded = |value: &str, max: u32, name: &str| {
        value
            .parse()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(format!("{name} must be a whole number from 1 to {max}"))
            })
    };
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "since" => {
                since = value.parse().map_err(|_| {
                    ApiError::bad_request("since must be a sequence number (0 or more)")
                })?;
            }
            "pushed" => {
                pushed = Some(value.parse().map_err(|_| {
                    ApiError::bad_request("pushed must be a local change sequence (0 or more)")
                })?);
            }
            "limit" => limit = bounded(value, MAX_PULL_LIMIT, "limit")?,
            "pages" => pages = bounded(value, MAX_PULL_PAGES, "pages")?,
            _ => {}
        }
    }
    Ok(PullQuery {
        since,
        limit,
        pushed,
        pages,
    })
}

/// How long a streamed pull goes on: it ends at the end of the first page read after this,
/// and the client asks again from there.
const STREAM_BUDGET: Duration = Duration::from_secs(20);

async fn pull<S: Store>(
    State(app): Shared<S>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let caller = check_caller(&app, &headers).await?;
    let PullQuery {
        since,
        limit,
        pushed,
        pages,
    } = pull_query(query.as_deref())?;
    let (epoch, mut answered) = match app.store.pull_check(caller, since, pushed).await? {
        Conversation::InStep { epoch, answered } => (epoch, answered),
        Conversation::Ahead => {
            warn!(device = %caller.device, since, "pull ahead of the server: recovery");
            return Err(ApiError::checkpoint_ahead());
        }
        Conversation::Rewound => {
            warn!(
                device = %caller.device,
                since,
                "pull below what the device confirmed (its case file put back from an older \
                 copy): it sends everything again"
            );
            return Err(ApiError::rewound());
        }
        Conversation::Reused => {
            warn!(device = %caller.device, "pull from a reused replica");
            return Err(ApiError::replica_reused());
        }
    };
    // The first page is read before anything is answered, so that a failure is an error
    // answer rather than a stream cut short.
    let first = next_page(&app, caller, since, limit, &mut answered).await?;
    if pages == 1 {
        return Ok((
            [(header::CONTENT_TYPE, "application/json")],
            page_json(&first, epoch),
        )
            .into_response());
    }
    let token = bearer(&headers).map(auth::token_hash);
    let (sender, lines) = tokio::sync::mpsc::channel(1);
    tokio::spawn(async move {
        let started = std::time::Instant::now();
        let mut page = first;
        let mut sent = 1;
        loop {
            let mut line = page_json(&page, epoch);
            line.push('\n');
            if sender.send(Ok(Bytes::from(line))).await.is_err() {
                // The device went away; it asks again from its checkpoint.
                return;
            }
            if !page.more || sent >= pages || started.elapsed() >= STREAM_BUDGET {
                return;
            }
            // A device revoked, or whose user was disabled, while its pull went on gets
            // nothing more: the stream ends, and its next request hears why.
            let still = match token {
                Some(token) => app.store.caller(token).await,
                None => Ok(TokenOwner::Unknown),
            };
            if !matches!(still, Ok(TokenOwner::Device(now)) if now.device == caller.device) {
                info!(device = %caller.device, "a streamed pull ended: the device is no longer in service");
                return;
            }
            page = match next_page(&app, caller, page.next, limit, &mut answered).await {
                Ok(page) => page,
                Err(error) => {
                    warn!(device = %caller.device, code = error.code().as_str(), "a streamed pull stopped");
                    // Cut short: the device keeps the pages it read and asks again.
                    let _ = sender
                        .send(Err(std::io::Error::other("the pull could not go on")))
                        .await;
                    return;
                }
            };
            sent += 1;
        }
    });
    Ok((
        [(header::CONTENT_TYPE, PULL_STREAM_TYPE)],
        Body::new(Lines(lines)),
    )
        .into_response())
}

/// A streamed pull's body: its lines as the task reading the pages sends them, then its
/// end, which it keeps answering (the gzip layer asks again after the end, which
/// `http_body_util::Channel` does not survive).
struct Lines(tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>);

impl http_body::Body for Lines {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<std::io::Result<http_body::Frame<Bytes>>>> {
        self.0
            .poll_recv(cx)
            .map(|line| line.map(|line| line.map(http_body::Frame::data)))
    }
}

/// The page of `caller`'s organisation after `since`, noted as answered before it is sent
/// (a restore of the database forgets that with the rest, which is how the device's next
/// pull finds out, §6a).
async fn next_page<S: Store>(
    app: &App<S>,
    caller: Caller,
    since: u64,
    limit: u32,
    answered: &mut u64,
) -> Result<Page, ApiError> {
    let rows = app
        .store
        .pull_rows(caller.org, since, limit, PAGE_BYTES)
        .await?;
    let page = page(rows, since, limit, PAGE_BYTES, caller.device);
    if page.next > *answered {
        app.store.note_answered(caller.device, page.next).await?;
        *answered = page.next;
    }
    info!(device = %caller.device, since, records = page.records.len(), next = page.next, more = page.more, "pull");
    Ok(page)
}

/// A page's answer. The stored states are canonical JSON already: the answer is put
/// together from them without parsing them again.
fn page_json(page: &Page, epoch: Epoch) -> String {
    let mut json =
        String::with_capacity(page.records.iter().map(|r| r.len() + 1).sum::<usize>() + 96);
    json.push_str("{\"records\":[");
    for (i, record) in page.records.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        json.push_str(record);
    }
    json.push_str(&format!(
        "],\"next\":{},\"more\":{},\"epoch\":\"{epoch}\"}}",
        page.next, page.more
    ));
    json
}

/// `POST /v1/devices/rekey` (§6a): a new replica id for a device whose case file was put
/// back from a copy. Its predecessor (the caller) is retired.
async fn rekey<S: Store>(
    State(app): Shared<S>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let caller = match check_caller(&app, &headers).await {
        Ok(caller) => caller,
        Err(error) => return Err(refuse_unread(error, &headers, body, app.body_timeout).await),
    };
    let bytes = read_body(&headers, body, app.body_timeout).await?;
    let request: RekeyRequest =
        serde_json::from_slice(&bytes).map_err(|_| bad_json("re-key request"))?;
    if request.predecessor != caller.device {
        return Err(ApiError::bad_request(
            "predecessor must be the replica id of the device whose token authenticates the \
             request",
        ));
    }
    let (token, hash) = auth::new_token();
    let device_id = app.store.rekey(caller, hash).await?;
    app.journal
        .append(Entry::Rekeyed {
            predecessor: caller.device,
            device: device_id,
            token_hash: journal::hex(&hash),
        })
        .map_err(|e| ApiError::journal(&e))?;
    info!(predecessor = %caller.device, device = %device_id, "device re-keyed");
    let answer = RekeyResponse {
        device_id,
        token,
        epoch: app.store.epoch().await?,
    };
    Ok((StatusCode::CREATED, axum::Json(answer)).into_response())
}

async fn replicas<S: Store>(
    State(app): Shared<S>,
    headers: HeaderMap,
) -> Result<axum::Json<Replicas>, ApiError> {
    let caller = check_caller(&app, &headers).await?;
    let replicas: BTreeMap<_, _> = app.store.replicas(caller.org).await?.into_iter().collect();
    Ok(axum::Json(replicas))
}

/// 400 or 426, 401, 429, then 403: the request comes from a coordinator's device. A
/// refused request has its body read and dropped.
async fn coordinator<S: Store>(
    app: &App<S>,
    headers: &HeaderMap,
    body: Body,
    what: &str,
) -> Result<(Caller, Body), ApiError> {
    let caller = check_caller(app, headers).await.and_then(|caller| {
        if caller.role == Role::Coordinator {
            Ok(caller)
        } else {
            Err(ApiError::new(
                ErrorCode::Forbidden,
                format!("only a coordinator may erase {what}: ask your coordinator"),
            ))
        }
    });
    match caller {
        Ok(caller) => Ok((caller, body)),
        Err(error) => Err(refuse_unread(error, headers, body, app.body_timeout).await),
    }
}

/// 429 for an erasure over the hourly cap, with the wait.
fn over_cap(caller: &Caller, wait: u64) -> ApiError {
    info!(device = %caller.device, "erasure over the hourly cap refused");
    ApiError::slow_down(Duration::from_secs(wait)).with_message(format!(
        "your organisation has erased {ERASURES_PER_HOUR} records or persons in the last \
         hour, the most the app may: wait, or erase with the server's command line"
    ))
}

async fn erase<S: Store>(
    State(app): Shared<S>,
    headers: HeaderMap,
    body: Body,
) -> Result<axum::Json<EraseResponse>, ApiError> {
    let (caller, body) = coordinator(&app, &headers, body, "a record").await?;
    let bytes = read_body(&headers, body, app.body_timeout).await?;
    let request: EraseRequest =
        serde_json::from_slice(&bytes).map_err(|_| bad_json("erasure request"))?;
    let server_seq = match app
        .store
        .erase_capped(caller.org, request.id, caller.device)
        .await?
    {
        Capped::Done(erasure) => {
            app.journal
                .append_edits(caller.org, &erasure.edits)
                .map_err(|e| ApiError::journal(&e))?;
            erasure.server_seq
        }
        Capped::NotFound => {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                "your organisation has no record with this id: check the id",
            ));
        }
        Capped::OverCap(wait) => return Err(over_cap(&caller, wait)),
    };
    // Not the record's id: an erased person leaves no id in the logs (the audit names
    // the record by its HMAC).
    info!(device = %caller.device, server_seq, "erase");
    Ok(axum::Json(EraseResponse { server_seq }))
}

/// `POST /v1/persons/erase` (§5): a person and everything about them alone, by a
/// coordinator; a dry run says what would go and changes nothing.
async fn erase_person<S: Store>(
    State(app): Shared<S>,
    headers: HeaderMap,
    body: Body,
) -> Result<axum::Json<ErasePersonResponse>, ApiError> {
    let (caller, body) = coordinator(&app, &headers, body, "a person").await?;
    let bytes = read_body(&headers, body, app.body_timeout).await?;
    let request: ErasePersonRequest =
        serde_json::from_slice(&bytes).map_err(|_| bad_json("person erasure request"))?;
    let capped = Some(caller.device);
    let done = match app
        .store
        .erase_person(caller.org, request.id, request.dry_run, capped)
        .await?
    {
        Capped::Done(done) => done,
        Capped::NotFound => {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                "your organisation never had a person with this id: check the id",
            ));
        }
        Capped::OverCap(wait) => return Err(over_cap(&caller, wait)),
    };
    app.journal
        .append_edits(caller.org, &done.edits)
        .map_err(|e| ApiError::journal(&e))?;
    // Counts only: no id of the person or of their records goes to the logs.
    info!(
        device = %caller.device,
        dry_run = done.answer.dry_run,
        erased = done.answer.erased.len(),
        kept = done.answer.kept.len(),
        server_seq = done.answer.server_seq,
        "person erasure"
    );
    Ok(axum::Json(done.answer))
}

/// How long a shutdown waits for requests in flight.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

mod blobs;

#[cfg(test)]
mod robustness;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_query_defaults_and_bounds() {
        let query = |since, limit, pushed| PullQuery {
            since,
            limit,
            pushed,
            pages: 1,
        };
        assert_eq!(
            pull_query(None).unwrap(),
            query(0, DEFAULT_PULL_LIMIT, None)
        );
        assert_eq!(
            pull_query(Some("since=7&limit=1000")).unwrap(),
            query(7, 1000, None)
        );
        assert_eq!(
            pull_query(Some("since=7&pushed=12")).unwrap(),
            query(7, DEFAULT_PULL_LIMIT, Some(12))
        );
        assert_eq!(
            pull_query(Some("since=3&limit=1000&pages=100")).unwrap(),
            PullQuery {
                pages: 100,
                ..query(3, 1000, None)
            }
        );
        for bad in [
            "limit=0",
            "limit=1001",
            "limit=x",
            "since=-1",
            "since=",
            "pushed=-3",
            "pages=0",
            "pages=101",
            "pages=two",
        ] {
            assert!(pull_query(Some(bad)).is_err(), "{bad} must be refused");
        }
    }
}
