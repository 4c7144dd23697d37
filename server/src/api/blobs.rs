//! Documents (SYNC-PROTOCOL.md §6b): `HEAD`, `PUT` and `GET /v1/blobs/{sha256}`, for
//! the caller's organisation only; what is stored and when it is deleted is in
//! [`crate::store::blobs`].
//!
//! Authenticated as the sync calls, with a rate limit per device of their own
//! (`App::blob_limiter`), apart from the sync limit: uploading documents never slows a
//! sync of records, nor the other way round. When a request has several faults, the first
//! in this order answers: 400 for a missing `Sync-Protocol` header, 426, 401, 429, 413 (a
//! `Blob-Length` over 20 MiB, a body over 4 MiB), 400 (a name that is not a SHA-256, a
//! missing or unreadable `Blob-Length` or `offset`, a body in another encoding than none),
//! then for a `PUT` as [`plan_chunk`] decides: 404 (no attachment of the organisation
//! names the document), 200 for a document already whole, 400 (another `Blob-Length`
//! than the upload under way), 409 `wrong_offset`, 400 (a chunk that ends past
//! `Blob-Length`), 507 `quota_full`, then 422 `hash_mismatch`.
//!
//! Another organisation's document answers 404, exactly as a missing one. Logs name the
//! device and counts, never the digest: the request log shows the path as
//! `/v1/blobs/{sha256}`.
//!
//! `GET` streams the bytes from the database, [`Store::READ_BYTES`] at a time (1 MiB on
//! PostgreSQL, a stored piece of at most 4 MiB on SQLite) through a channel of one frame,
//! so a request holds about two of those in memory whatever the document's size; each
//! read checks again that the document is whole. `Range: bytes=a-b`, `bytes=a-` and
//! `bytes=-n` are honoured (206 and `Content-Range`), a range past the end is 416;
//! several ranges, or a header that cannot be read, give the whole document (as RFC 9110
//! allows).
//!
//! [`plan_chunk`]: crate::store::blobs::plan_chunk

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sync_protocol::blobs::{BLOB_LENGTH, CHUNK_BYTES, MAX_BLOB_BYTES, is_sha256};
use sync_protocol::wire::{ErrorBody, ErrorCode};
use tracing::{info, warn};

use super::{Shared, check_caller_within, declared_length, read_wire, refuse_unread};
use crate::error::ApiError;
use crate::store::Store;
use crate::store::blobs::{Chunk, Put, reads};

/// The `Content-Type` of documents' bytes.
pub(super) const OCTET_STREAM: &str = "application/octet-stream";

/// The header [`sync_protocol::blobs::BLOB_RECEIVED`] (header names are lowercase).
const RECEIVED: header::HeaderName = header::HeaderName::from_static("blob-received");

/// The answer of a `PUT`: the bytes the server holds of the document.
#[derive(Debug, serde::Serialize)]
struct Received {
    received: u64,
}

/// The document's name, which must be its SHA-256 (400 otherwise).
fn digest(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    match path {
        Ok(Path(name)) if is_sha256(&name) => Ok(name),
        _ => Err(ApiError::bad_request(
            "a document is named by its SHA-256: 64 lowercase hexadecimal digits",
        )),
    }
}

/// 404 for a document the organisation does not hold (or another organisation's).
fn missing() -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        "your organisation holds no such document: send it from the device that has it",
    )
}

/// A byte count in MiB, as a person reads it.
fn mib(bytes: u64) -> String {
    let mib = bytes as f64 / (1024.0 * 1024.0);
    if bytes.is_multiple_of(1024 * 1024) {
        format!("{mib:.0}")
    } else {
        format!("{mib:.1}")
    }
}

/// `HEAD /v1/blobs/{sha256}`: 200 with `Content-Length` and `Blob-Received` when the
/// organisation holds the whole document, 206 with `Blob-Received` when part of an
/// upload is there, 404 else.
pub(super) async fn head<S: Store>(
    State(app): Shared<S>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let caller = check_caller_within(&app, &headers, &app.blob_limiter).await?;
    let sha256 = digest(path)?;
    let blob = app
        .store
        .blob(caller.org, &sha256)
        .await?
        .ok_or_else(missing)?;
    let (status, length) = match blob.whole {
        true => (StatusCode::OK, blob.size),
        false => (StatusCode::PARTIAL_CONTENT, 0),
    };
    Ok((
        status,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(OCTET_STREAM)),
            (header::CONTENT_LENGTH, HeaderValue::from(length)),
            (RECEIVED, HeaderValue::from(blob.received)),
            (header::ACCEPT_RANGES, HeaderValue::from_static("bytes")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
    )
        .into_response())
}

/// The `offset` of a `PUT`'s query (400 when missing or not a number); other parameters
/// are ignored.
fn offset(query: Option<&str>) -> Result<u64, ApiError> {
    query
        .unwrap_or("")
        .split('&')
        .find_map(|pair| pair.strip_prefix("offset="))
        .and_then(|value| value.parse().ok())
        .ok_or_else(|| {
            ApiError::bad_request(
                "offset must be where the chunk starts in the document, a whole number of \
                 bytes: PUT /v1/blobs/{sha256}?offset=N",
            )
        })
}

/// `PUT /v1/blobs/{sha256}?offset=N` with `Blob-Length`: a chunk of at most 4 MiB.
pub(super) async fn put<S: Store>(
    State(app): Shared<S>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let caller = match check_caller_within(&app, &headers, &app.blob_limiter).await {
        Ok(caller) => caller,
        Err(error) => return Err(refuse_unread(error, &headers, body, app.body_timeout).await),
    };
    let length = headers
        .get(BLOB_LENGTH)
        .map(|v| v.to_str().ok().and_then(|v| v.trim().parse::<u64>().ok()));
    let checked = check_put(length, &headers, path, query.as_deref());
    let (sha256, length, offset) = match checked {
        Ok(checked) => checked,
        Err(error) => return Err(refuse_unread(error, &headers, body, app.body_timeout).await),
    };
    let limit = usize::try_from(CHUNK_BYTES).unwrap_or(usize::MAX);
    let data = read_wire(&headers, body, limit, app.body_timeout)
        .await
        .map_err(|error| match error.code() {
            ErrorCode::TooLarge => chunk_too_large(error),
            _ => error,
        })?;
    let chunk = Chunk {
        sha256,
        offset,
        length,
        data,
    };
    let bytes = chunk.data.len();
    let put = app
        .store
        .put_blob_chunk(caller.org, chunk, app.blob_quota)
        .await?;
    let received = match put {
        Put::Received(received) => received,
        Put::NotNamed => {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                "no attachment of your organisation names this document: sync the attachment's \
                 record first, then send its document",
            ));
        }
        Put::WrongOffset { held } => {
            return Err(ApiError::new(
                ErrorCode::WrongOffset,
                format!(
                    "the server holds {held} bytes of this document: send the chunk that starts \
                     at byte {held} (ask HEAD when in doubt)"
                ),
            ));
        }
        Put::OtherLength { length } => {
            return Err(ApiError::bad_request(format!(
                "the upload of this document under way has a Blob-Length of {length} bytes: send \
                 the same Blob-Length with every chunk"
            )));
        }
        Put::PastLength => return Err(past_length(length)),
        Put::QuotaFull { used, quota } => {
            info!(device = %caller.device, bytes, "document chunk refused: quota full");
            return Err(ApiError::new(
                ErrorCode::QuotaFull,
                format!(
                    "the organisation's storage for documents is full ({} MiB of {} MiB): ask \
                     your IT person to raise the quota or erase documents no longer needed",
                    mib(used),
                    mib(quota)
                ),
            ));
        }
        Put::HashMismatch => {
            info!(device = %caller.device, bytes, "document refused: hash mismatch");
            return Err(ApiError::new(
                ErrorCode::HashMismatch,
                "the document's bytes do not have the SHA-256 it was sent under: nothing of it \
                 was kept; send it again from byte 0",
            ));
        }
    };
    info!(device = %caller.device, bytes, received, whole = received == length, "document chunk");
    Ok(axum::Json(Received { received }).into_response())
}

/// The checks of a `PUT` before its body is read: 413, then 400. Answers the digest, the
/// document's length and the chunk's offset.
fn check_put(
    length: Option<Option<u64>>,
    headers: &HeaderMap,
    path: Result<Path<String>, PathRejection>,
    query: Option<&str>,
) -> Result<(String, u64, u64), ApiError> {
    if let Some(Some(length)) = length
        && length > MAX_BLOB_BYTES
    {
        return Err(ApiError::new(
            ErrorCode::TooLarge,
            format!(
                "a document is at most {} MiB: this one cannot be sent",
                MAX_BLOB_BYTES / (1024 * 1024)
            ),
        ));
    }
    if declared_length(headers).is_some_and(|n| n > CHUNK_BYTES) {
        return Err(chunk_too_large(ApiError::too_large()));
    }
    let sha256 = digest(path)?;
    let Some(Some(length)) = length else {
        return Err(ApiError::bad_request(format!(
            "the header {BLOB_LENGTH} must give the whole document's length in bytes, on every \
             chunk"
        )));
    };
    let offset = offset(query)?;
    let identity = headers.get(header::CONTENT_ENCODING).is_none_or(|v| {
        v.to_str()
            .is_ok_and(|v| v.trim().eq_ignore_ascii_case("identity"))
    });
    if !identity {
        return Err(ApiError::bad_request(
            "a document's chunk is sent as its bytes, without Content-Encoding",
        ));
    }
    Ok((sha256, length, offset))
}

/// 413 for a chunk over 4 MiB, keeping how the connection ends.
fn chunk_too_large(error: ApiError) -> ApiError {
    error.with_message(format!(
        "send a document in chunks of at most {} MiB",
        CHUNK_BYTES / (1024 * 1024)
    ))
}

/// 400 for a chunk that ends past the document's length.
fn past_length(length: u64) -> ApiError {
    ApiError::bad_request(format!(
        "the chunk ends past the document's length ({BLOB_LENGTH}: {length} bytes): check the \
         offset and the chunk"
    ))
}

/// What a `Range` header asks of a document of `size` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Range {
    /// No range (or one that cannot be read, or several): the whole document.
    Whole,
    /// The bytes `first..=last`.
    Part(u64, u64),
    /// A range that starts past the end: 416.
    Unsatisfiable,
}

/// Reads a `Range` header (RFC 9110 §14.2).
fn range(value: Option<&HeaderValue>, size: u64) -> Range {
    let Some(spec) = value
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("bytes="))
    else {
        return Range::Whole;
    };
    if spec.contains(',') {
        return Range::Whole;
    }
    let Some((first, last)) = spec.split_once('-') else {
        return Range::Whole;
    };
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        // The last n bytes.
        return match last.parse::<u64>() {
            Ok(0) => Range::Unsatisfiable,
            Ok(_) if size == 0 => Range::Unsatisfiable,
            Ok(n) => Range::Part(size - n.min(size), size - 1),
            Err(_) => Range::Whole,
        };
    }
    let Ok(first) = first.parse::<u64>() else {
        return Range::Whole;
    };
    let last = match last {
        "" => None,
        text => match text.parse::<u64>() {
            Ok(last) if last >= first => Some(last),
            _ => return Range::Whole,
        },
    };
    if first >= size {
        return Range::Unsatisfiable;
    }
    Range::Part(first, last.map_or(size - 1, |last| last.min(size - 1)))
}

/// `GET /v1/blobs/{sha256}`: the bytes of a whole document of the caller's
/// organisation, streamed; `Range` honoured.
pub(super) async fn get<S: Store>(
    State(app): Shared<S>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let caller = check_caller_within(&app, &headers, &app.blob_limiter).await?;
    let sha256 = digest(path)?;
    let blob = app
        .store
        .blob(caller.org, &sha256)
        .await?
        .filter(|b| b.whole)
        .ok_or_else(missing)?;
    let size = blob.size;
    let (status, from, to) = match range(headers.get(header::RANGE), size) {
        Range::Whole => (StatusCode::OK, 0, size),
        Range::Part(first, last) => (StatusCode::PARTIAL_CONTENT, first, last + 1),
        Range::Unsatisfiable => {
            let body = ErrorBody::new(
                ErrorCode::BadRequest,
                format!("the range asked for starts past the document's end ({size} bytes)"),
            );
            return Ok((
                StatusCode::RANGE_NOT_SATISFIABLE,
                [(header::CONTENT_RANGE, format!("bytes */{size}"))],
                axum::Json(body),
            )
                .into_response());
        }
    };
    let pieces = app.store.blob_pieces(caller.org, &sha256).await?;
    if pieces.iter().map(|p| p.len).sum::<u64>() != size {
        // Deleted (an erasure) between the two reads.
        return Err(missing());
    }
    let plan = reads(&pieces, from, to, S::READ_BYTES);
    let (mut sender, body) = http_body_util::Channel::<Bytes, std::io::Error>::new(1);
    let org = caller.org;
    let reader = Arc::clone(&app);
    tokio::spawn(async move {
        for read in plan {
            match reader.store.read_blob(org, &sha256, read).await {
                Ok(Some(bytes)) if bytes.len() as u64 == read.take => {
                    if sender.send_data(Bytes::from(bytes)).await.is_err() {
                        // The client went away.
                        return;
                    }
                }
                other => {
                    if let Err(error) = other {
                        warn!(%error, "a document could not be read while it was sent");
                    }
                    // Gone meanwhile (erased), or unreadable: the answer is cut short, and
                    // the client, reading fewer bytes than Content-Length, asks again.
                    sender.abort(std::io::Error::other("the document could not be read"));
                    return;
                }
            }
        }
    });
    info!(device = %caller.device, bytes = to - from, "document sent");
    let mut response = (
        status,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(OCTET_STREAM)),
            (header::CONTENT_LENGTH, HeaderValue::from(to - from)),
            (header::ACCEPT_RANGES, HeaderValue::from_static("bytes")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        Body::new(body),
    )
        .into_response();
    if status == StatusCode::PARTIAL_CONTENT
        && let Ok(value) = HeaderValue::from_str(&format!("bytes {from}-{}/{size}", to - 1))
    {
        response.headers_mut().insert(header::CONTENT_RANGE, value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_read_as_rfc_9110_says() {
        let at = |text: &str| range(Some(&HeaderValue::from_str(text).unwrap()), 100);
        assert_eq!(range(None, 100), Range::Whole);
        assert_eq!(at("bytes=0-9"), Range::Part(0, 9));
        assert_eq!(at("bytes=90-"), Range::Part(90, 99));
        assert_eq!(
            at("bytes=90-500"),
            Range::Part(90, 99),
            "the end is clamped"
        );
        assert_eq!(at("bytes=-10"), Range::Part(90, 99));
        assert_eq!(at("bytes=-500"), Range::Part(0, 99));
        assert_eq!(at("bytes=100-"), Range::Unsatisfiable);
        assert_eq!(at("bytes=-0"), Range::Unsatisfiable);
        assert_eq!(at("bytes=9-3"), Range::Whole, "an invalid range is ignored");
        assert_eq!(
            at("bytes=0-1,5-6"),
            Range::Whole,
            "several: the whole document"
        );
        assert_eq!(at("items=0-1"), Range::Whole);
        assert_eq!(at("bytes=x-"), Range::Whole);
        assert_eq!(
            range(Some(&HeaderValue::from_static("bytes=0-")), 0),
            Range::Unsatisfiable,
            "an empty document has no byte to give"
        );
    }

    #[test]
    fn the_offset_is_required_and_a_number() {
        assert_eq!(offset(Some("offset=8388608")).unwrap(), 8_388_608);
        assert_eq!(offset(Some("x=1&offset=0")).unwrap(), 0);
        for bad in [
            None,
            Some(""),
            Some("offset="),
            Some("offset=-1"),
            Some("off=1"),
        ] {
            assert!(offset(bad).is_err(), "{bad:?} must be refused");
        }
        assert_eq!(
            RECEIVED.as_str(),
            sync_protocol::blobs::BLOB_RECEIVED.to_ascii_lowercase()
        );
    }

    #[test]
    fn sizes_read_in_mib() {
        assert_eq!(mib(10 * 1024 * 1024), "10");
        assert_eq!(mib(1536 * 1024), "1.5");
    }
}
