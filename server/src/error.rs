//! [`ApiError`]: every error answer of the HTTP exchange, with its status and the JSON
//! body of `SYNC-PROTOCOL.md` §6. Messages say what to do and carry no personal data:
//! they name records, fields and dots, never values.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sync_protocol::RecordId;
use sync_protocol::wire::{ErrorBody, ErrorCode, PROTOCOL_VERSION};

use crate::store::recovery::Discard;
use crate::store::{PushError, StoreError};

/// The longest message an answer carries: a message may quote a part of what the client
/// sent (a kind, a field name), which could be as long as the body.
const MAX_MESSAGE_CHARS: usize = 400;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    code: ErrorCode,
    message: String,
    id: Option<RecordId>,
    retry_after: Option<Duration>,
    close: bool,
}

impl ApiError {
    /// An error with this code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        let mut message: String = message.into();
        if let Some((cut, _)) = message.char_indices().nth(MAX_MESSAGE_CHARS) {
            message.truncate(cut);
            message.push('…');
        }
        Self {
            code,
            message,
            id: None,
            retry_after: None,
            close: false,
        }
    }

    /// Its code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The same error, about the record `id` of a push (§6: `error.id`).
    pub fn about(self, id: Option<RecordId>) -> Self {
        Self { id, ..self }
    }

    /// The same error, answered with `Connection: close`: the request was not read to its
    /// end, so the connection cannot serve another.
    pub fn closing(self) -> Self {
        Self {
            close: true,
            ..self
        }
    }

    /// 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }

    /// 401 for a request without a usable token.
    pub fn unauthorized() -> Self {
        Self::new(
            ErrorCode::Unauthorized,
            "this device is not enrolled, or a later enrolment replaced its token: \
             enrol it again with your username and password",
        )
    }

    /// 401 for the token of a revoked device: the device destroys its case file.
    pub fn device_revoked() -> Self {
        Self::new(
            ErrorCode::DeviceRevoked,
            "a coordinator revoked this device: its case file must be destroyed; \
             ask your coordinator before using Passerelle on it again",
        )
    }

    /// 401 `user_disabled`: the device of a user a coordinator disabled.
    pub fn user_disabled() -> Self {
        Self::new(
            ErrorCode::UserDisabled,
            "a coordinator disabled this account: the device keeps its data, locked, until \
             the account is enabled again; ask your coordinator",
        )
    }

    /// 409 `checkpoint_ahead` (§6a): the server was restored and forgot part of its
    /// conversation with the device.
    pub fn checkpoint_ahead() -> Self {
        Self::new(
            ErrorCode::CheckpointAhead,
            "the server was restored from a backup and lacks part of what this device sent \
             or received: send every record again and pull from the start",
        )
    }

    /// 409 `checkpoint_ahead` too, for a device that went back in time: it pulls below
    /// what it confirmed before, its case file put back from an older copy (see
    /// `store::erased`). It must send everything again and pull from the start as after a
    /// restore of the server.
    pub fn rewound() -> Self {
        Self::new(
            ErrorCode::CheckpointAhead,
            "this device pulls from further back than it had already: its case file was put \
             back from an older copy; send every record again and pull from the start",
        )
    }

    /// 409 `replica_reused` (§6a): the device's case file was put back from a copy, or
    /// copied, or the device was re-keyed.
    pub fn replica_reused() -> Self {
        Self::new(
            ErrorCode::ReplicaReused,
            "this case file gave one of its edit numbers to two different edits (it was put \
             back from an older copy, or copied to another machine): take a new device id \
             with POST /v1/devices/rekey, then send every record again",
        )
    }

    /// 413.
    pub fn too_large() -> Self {
        Self::new(
            ErrorCode::TooLarge,
            format!(
                "the request is too large: send at most {} records and {} MiB (once decompressed) per request",
                sync_protocol::wire::MAX_PUSH_RECORDS,
                sync_protocol::wire::MAX_BODY_BYTES / (1024 * 1024)
            ),
        )
    }

    /// 426.
    pub fn unsupported_protocol() -> Self {
        Self::new(
            ErrorCode::UnsupportedProtocol,
            format!(
                "this server speaks sync protocol version {PROTOCOL_VERSION} only: update the app"
            ),
        )
    }

    /// 429, with the wait before the next request.
    pub fn slow_down(wait: Duration) -> Self {
        Self {
            retry_after: Some(wait),
            ..Self::new(
                ErrorCode::SlowDown,
                "too many requests from this device: wait a moment and sync again",
            )
        }
    }

    /// The same error with another message.
    pub fn with_message(self, message: impl Into<String>) -> Self {
        Self {
            message: Self::new(self.code, message).message,
            ..self
        }
    }

    /// 503 when the database cannot be reached or is busy, else 500; the cause is
    /// logged, not sent.
    pub fn internal(error: &StoreError) -> Self {
        if error.is_unavailable() {
            tracing::warn!(error = %error, "database unavailable");
            Self::new(
                ErrorCode::Unavailable,
                "the server's database is busy or unreachable: sync again in a few minutes",
            )
        } else {
            tracing::error!(error = %error, "storage failed");
            Self::new(
                ErrorCode::Internal,
                "the server could not complete the request: try again later",
            )
        }
    }
}

impl ApiError {
    /// 500 when the journal could not be written: the change is in the database, but it
    /// is not answered as done (the client tries again, which is harmless).
    pub fn journal(error: &crate::journal::JournalError) -> Self {
        tracing::error!(error = %error, "the journal could not be written");
        Self::new(
            ErrorCode::Internal,
            "the server could not record the change durably: try again later",
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        Self::internal(&error)
    }
}

impl From<PushError> for ApiError {
    fn from(error: PushError) -> Self {
        let code = match &error {
            PushError::KindChanged(_) => ErrorCode::InvalidRecord,
            PushError::Forged { .. } => ErrorCode::ForgedDot,
            PushError::Dropped(_) => ErrorCode::DroppedEntry,
            PushError::HeldFull(_) => ErrorCode::ForgedDot,
            PushError::HeldRefused { why, .. } => match why {
                Discard::DroppedEntry => ErrorCode::DroppedEntry,
                Discard::KindClash => ErrorCode::InvalidRecord,
                Discard::AlteredEntry | Discard::RecoveryEnded => ErrorCode::ForgedDot,
            },
            PushError::Reused { .. } => return Self::replica_reused(),
            PushError::Store(e) => return Self::internal(e),
        };
        Self::new(
            code,
            format!("{error}: set this record aside and send the others again"),
        )
        .about(error.record())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut body = ErrorBody::new(self.code, self.message);
        body.error.id = self.id;
        let mut response = (status, axum::Json(body)).into_response();
        if self.close {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if let Some(wait) = self.retry_after {
            let seconds = wait.as_secs_f64().ceil().max(1.0);
            if let Ok(value) = HeaderValue::from_str(&format!("{seconds:.0}")) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}
