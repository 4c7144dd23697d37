//! The HTTP exchange of `SYNC-PROTOCOL.md` §6: routes, request checks, handlers.
//!
//! When a request has several faults, the first of §6's order answers: 401 (and 429, the
//! caller being known), then 413, then 400 (a missing `Sync-Protocol` header, or a body
//! or query of the wrong shape; a `Sync-Protocol` naming another version answers 426
//! at the same point), then 422 `invalid_record`, then 422 `forged_dot`. 403 answers
//! right after the caller is known. Handlers hold no SQL: they call [`Store`].

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::BodyExt;
use serde_json::Value;
use sync_protocol::RecordState;
use sync_protocol::wire::{
    DEFAULT_PULL_LIMIT, EnrolRequest, EnrolResponse, EraseRequest, EraseResponse, ErrorCode,
    Health, MAX_BODY_BYTES, MAX_PULL_LIMIT, MAX_PUSH_RECORDS, PROTOCOL_HEADER, PROTOCOL_VERSION,
    PushRequest, PushResponse, PushStatus, Replicas,
};
use tower_http::compression::CompressionLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::{Level, info};

use crate::auth;
use crate::error::ApiError;
use crate::rate::RateLimiter;
use crate::store::{Caller, Enrolled, Enrolment, Role, Store, page};

/// What every handler shares.
#[derive(Debug)]
pub struct App<S> {
    /// The storage.
    pub store: S,
    /// The per-device rate limit.
    pub limiter: RateLimiter,
    /// The per-username limit on enrolment attempts (password guessing).
    pub enrol_limiter: RateLimiter<String>,
    /// Bounds the password checks running at once (each takes 19 MiB and a core for
    /// tens of milliseconds), so a burst of enrolments cannot exhaust the machine.
    pub password_checks: tokio::sync::Semaphore,
}

/// How many password checks may run at once.
pub const PASSWORD_CHECKS: usize = 2;

type Shared<S> = State<Arc<App<S>>>;

/// The routes, with gzip both ways and request logs.
pub fn router<S: Store>(app: Arc<App<S>>) -> Router {
    Router::new()
        .route("/v1/health", get(health::<S>))
        .route("/v1/devices", post(enrol::<S>))
        .route("/v1/push", post(push::<S>))
        .route("/v1/pull", get(pull::<S>))
        .route("/v1/replicas", get(replicas::<S>))
        .route("/v1/erase", post(erase::<S>))
        .fallback(not_found)
        .method_not_allowed_fallback(wrong_method)
        .with_state(app)
        // Request bodies are inflated by `read_body`, which stops at MAX_BODY_BYTES;
        // answers are gzip when the client accepts it; every request is logged by method, path and status,
        // never with its headers, query or body.
        .layer(CompressionLayer::new())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &axum::http::Request<Body>| {
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        path = %request.uri().path(),
                    )
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

/// 401 or 429: the device behind the bearer token, within its rate limit.
async fn authenticate<S: Store>(app: &App<S>, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(ApiError::unauthorized)?;
    let caller = app
        .store
        .caller(auth::token_hash(token))
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    app.limiter
        .check(caller.device)
        .map_err(ApiError::slow_down)?;
    Ok(caller)
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

/// A body a little over the limit is read to its end and dropped before the 413
/// answer, so that the client, still sending, reads the answer rather than a reset
/// connection; past this size the connection is simply closed.
const DRAIN_LIMIT: u64 = 4 * MAX_BODY_BYTES as u64;

/// The largest gzip body on the wire: gzip never makes data much larger, so a body over
/// this size holds more than `MAX_BODY_BYTES` once inflated.
const MAX_WIRE_BYTES: usize = MAX_BODY_BYTES + MAX_BODY_BYTES / 64 + 1024;

/// The request body, inflated when it is gzip; 413 past [`MAX_BODY_BYTES`] once inflated.
///
/// The body is decompressed here rather than by a middleware so that the limit holds on
/// the inflated bytes and the whole (small) wire body is read first: a gzip bomb is
/// inflated no further than `MAX_BODY_BYTES` and its sender still reads the 413.
async fn read_body(headers: &HeaderMap, body: Body) -> Result<Vec<u8>, ApiError> {
    let gzip = match headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().map(|v| v.trim().to_ascii_lowercase()))
    {
        None => false,
        Some(Ok(encoding)) if encoding == "gzip" || encoding == "x-gzip" => true,
        Some(Ok(encoding)) if encoding == "identity" => false,
        Some(_) => {
            return Err(ApiError::bad_request(
                "the body's Content-Encoding must be gzip, or none",
            ));
        }
    };
    let wire = read_wire(
        headers,
        body,
        if gzip { MAX_WIRE_BYTES } else { MAX_BODY_BYTES },
    )
    .await?;
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

/// The body as sent, at most `limit` bytes; 413 beyond.
async fn read_wire(headers: &HeaderMap, mut body: Body, limit: usize) -> Result<Vec<u8>, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > DRAIN_LIMIT) {
        return Err(ApiError::too_large());
    }
    let mut bytes = Vec::new();
    let mut dropped: u64 = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| {
            ApiError::bad_request("the request body could not be read: send it again")
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
            break;
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

async fn health<S: Store>(State(app): Shared<S>) -> axum::Json<Health> {
    axum::Json(Health {
        status: "ok".into(),
        protocol: PROTOCOL_VERSION,
        server_id: app.store.server_id(),
    })
}

async fn enrol<S: Store>(
    State(app): Shared<S>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_body(&headers, body).await?;
    check_protocol(&headers)?;
    let request: EnrolRequest =
        serde_json::from_slice(&bytes).map_err(|_| bad_json("enrolment request"))?;
    let device_name = request.device_name.trim().to_owned();
    if device_name.is_empty() || device_name.chars().count() > 200 {
        return Err(ApiError::bad_request(
            "device_name must be a name of 1 to 200 characters",
        ));
    }
    app.enrol_limiter
        .check(request.username.clone())
        .map_err(|wait| {
            ApiError::slow_down(wait).with_message(
                "too many enrolment attempts for this username: wait a few minutes and try again",
            )
        })?;
    let login = app.store.login(&request.username).await?;
    let password = request.password;
    let _permit = app.password_checks.acquire().await.map_err(|_| {
        ApiError::new(
            ErrorCode::Unavailable,
            "the server is shutting down: try again later",
        )
    })?;
    let login = tokio::task::spawn_blocking(move || match login {
        Some(login) if auth::verify_password(&password, &login.password_hash) => Some(login),
        Some(_) => None,
        None => {
            auth::verify_nothing(&password);
            None
        }
    })
    .await
    .map_err(|_| ApiError::new(ErrorCode::Internal, "the server failed: try again"))?
    .ok_or_else(|| {
        ApiError::new(
            ErrorCode::Unauthorized,
            "wrong username or password: check them, or ask your coordinator",
        )
    })?;
    let (token, token_hash) = auth::new_token();
    let enrolled = app
        .store
        .enrol(Enrolment {
            user_id: login.user_id,
            org: login.org,
            device_id: request.device_id,
            device_name,
            token_hash,
        })
        .await?;
    let Enrolled::Device(device_id) = enrolled else {
        return Err(ApiError::new(
            ErrorCode::DeviceIdTaken,
            "this device id is already enrolled by another user, or was revoked: \
             create a new case file on this device, or ask your coordinator",
        ));
    };
    info!(device = %device_id, "device enrolled");
    let answer = EnrolResponse {
        device_id,
        token,
        server_id: app.store.server_id(),
        org: login.org_name,
    };
    Ok((StatusCode::CREATED, axum::Json(answer)).into_response())
}

async fn push<S: Store>(
    State(app): Shared<S>,
    headers: HeaderMap,
    body: Body,
) -> Result<axum::Json<PushResponse>, ApiError> {
    let caller = authenticate(&app, &headers).await?;
    let bytes = read_body(&headers, body).await?;
    let value = serde_json::from_slice::<Value>(&bytes);
    let count = value
        .as_ref()
        .ok()
        .and_then(|v| v.get("records"))
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if count > MAX_PUSH_RECORDS {
        return Err(ApiError::too_large());
    }
    check_protocol(&headers)?;
    let request: PushRequest<Value> = value
        .and_then(serde_json::from_value)
        .map_err(|_| bad_json("push request"))?;
    let mut seen = HashSet::with_capacity(request.records.len());
    for record in &request.records {
        if let Some(id) = record.get("id").and_then(Value::as_str)
            && !seen.insert(id)
        {
            return Err(ApiError::bad_request(format!(
                "the record {id} appears twice in this push: send each record at most once"
            )));
        }
    }
    let records = request
        .records
        .iter()
        .enumerate()
        .map(|(i, value)| {
            RecordState::from_value(value)
                .and_then(|state| state.check_pushable().map(|()| state))
                .map_err(|e| {
                    ApiError::new(
                        ErrorCode::InvalidRecord,
                        format!("record {i} of the push is invalid ({}): {e}", e.code()),
                    )
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let outcome = app.store.push(caller, records).await?;
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
        results: outcome.results,
    }))
}

/// `since` (default 0) and `limit` (default 500, 1 to 1000); other parameters are ignored.
fn pull_query(query: Option<&str>) -> Result<(u64, u32), ApiError> {
    let mut since = 0;
    let mut limit = DEFAULT_PULL_LIMIT;
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "since" => {
                since = value.parse().map_err(|_| {
                    ApiError::bad_request("since must be a sequence number (0 or more)")
                })?;
            }
            "limit" => {
                limit = value
                    .parse()
                    .ok()
                    .filter(|l| (1..=MAX_PULL_LIMIT).contains(l))
                    .ok_or_else(|| {
                        ApiError::bad_request(format!(
                            "limit must be a whole number from 1 to {MAX_PULL_LIMIT}"
                        ))
                    })?;
            }
            _ => {}
        }
    }
    Ok((since, limit))
}

async fn pull<S: Store>(
    State(app): Shared<S>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let caller = authenticate(&app, &headers).await?;
    check_protocol(&headers)?;
    let (since, limit) = pull_query(query.as_deref())?;
    let rows = app.store.pull_rows(caller.org, since, limit).await?;
    let page = page(rows, since, limit, caller.device);
    info!(device = %caller.device, since, records = page.records.len(), next = page.next, more = page.more, "pull");
    // The stored states are canonical JSON already: the answer is put together from
    // them without parsing them again.
    let mut json =
        String::with_capacity(page.records.iter().map(|r| r.len() + 1).sum::<usize>() + 64);
    json.push_str("{\"records\":[");
    for (i, record) in page.records.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        json.push_str(record);
    }
    json.push_str(&format!(
        "],\"next\":{},\"more\":{}}}",
        page.next, page.more
    ));
    Ok(([(header::CONTENT_TYPE, "application/json")], json).into_response())
}

async fn replicas<S: Store>(
    State(app): Shared<S>,
    headers: HeaderMap,
) -> Result<axum::Json<Replicas>, ApiError> {
    let caller = authenticate(&app, &headers).await?;
    check_protocol(&headers)?;
    let replicas: BTreeMap<_, _> = app.store.replicas(caller.org).await?.into_iter().collect();
    Ok(axum::Json(replicas))
}

async fn erase<S: Store>(
    State(app): Shared<S>,
    headers: HeaderMap,
    body: Body,
) -> Result<axum::Json<EraseResponse>, ApiError> {
    let caller = authenticate(&app, &headers).await?;
    if caller.role != Role::Coordinator {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "only a coordinator may erase a record: ask your coordinator",
        ));
    }
    let bytes = read_body(&headers, body).await?;
    check_protocol(&headers)?;
    let request: EraseRequest =
        serde_json::from_slice(&bytes).map_err(|_| bad_json("erasure request"))?;
    let server_seq = app
        .store
        .erase(caller.org, request.id)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::NotFound,
                "your organisation has no record with this id: check the id",
            )
        })?;
    info!(device = %caller.device, record = %request.id, server_seq, "erase");
    Ok(axum::Json(EraseResponse { server_seq }))
}

/// How long a shutdown waits for requests in flight.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_query_defaults_and_bounds() {
        assert_eq!(pull_query(None).unwrap(), (0, DEFAULT_PULL_LIMIT));
        assert_eq!(pull_query(Some("since=7&limit=1000")).unwrap(), (7, 1000));
        for bad in ["limit=0", "limit=1001", "limit=x", "since=-1", "since="] {
            assert!(pull_query(Some(bad)).is_err(), "{bad} must be refused");
        }
    }
}
