//! The bodies of the HTTP exchange (§6), shared by the server and the device's client.
//!
//! The server reads a push as [`PushRequest<serde_json::Value>`] so that it can tell a
//! body of the wrong shape (400) from a record that breaks §2 (422, with
//! [`RecordState::from_value`]); the client sends [`PushRequest<RecordState>`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Epoch, FieldName, Kind, RecordId, RecordState, ReplicaId};

/// The protocol version this crate speaks, sent in the `Sync-Protocol` header.
pub const PROTOCOL_VERSION: u32 = 1;
/// The header naming the protocol version.
pub const PROTOCOL_HEADER: &str = "Sync-Protocol";
/// The most records one push may carry.
pub const MAX_PUSH_RECORDS: usize = 1000;
/// The largest request body, once decompressed.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// The page size of a pull when the client names none.
pub const DEFAULT_PULL_LIMIT: u32 = 500;
/// The largest page a pull may ask for.
pub const MAX_PULL_LIMIT: u32 = 1000;
/// The most pages one streamed pull may ask for (`pages`, §6 of the crate's protocol
/// notes): with more than one, the server answers its pages back to back, one JSON
/// object a line ([`PULL_STREAM_TYPE`]), each exactly a [`PullResponse`].
pub const MAX_PULL_PAGES: u32 = 100;
/// The content type of a streamed pull: newline-delimited JSON, a page a line. A server
/// that answers `application/json` instead (one that does not stream) sent one page.
pub const PULL_STREAM_TYPE: &str = "application/x-ndjson";

/// `GET /v1/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Health {
    /// Always `"ok"`.
    pub status: String,
    /// The protocol version.
    pub protocol: u32,
    /// The server's replica id.
    pub server_id: ReplicaId,
    /// The database's epoch (§6a).
    pub epoch: Epoch,
}

/// `POST /v1/devices`: enrolment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrolRequest {
    /// The user's name, unique across the server.
    pub username: String,
    /// The user's password.
    pub password: String,
    /// The one-time enrolment code a coordinator issued for this user (§7 `device
    /// invite`). Required: read with a default only so that a request without it is
    /// answered with a message naming it rather than a generic shape error.
    #[serde(default)]
    pub enrolment_code: String,
    /// A name people recognise the device by ("Portable de Marie").
    pub device_name: String,
    /// The case file's own replica id; the server makes one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<ReplicaId>,
}

/// `201` answer to enrolment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolResponse {
    /// The device's replica id.
    pub device_id: ReplicaId,
    /// The device token, shown once; the server keeps only its hash.
    pub token: String,
    /// The server's replica id.
    pub server_id: ReplicaId,
    /// The user's organisation.
    pub org: String,
    /// The database's epoch (§6a).
    pub epoch: Epoch,
}

/// `POST /v1/devices/rekey` (§6a): a device whose case file was restored from a copy
/// (409 `replica_reused`) takes a new replica id. Authenticated by the predecessor's token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RekeyRequest {
    /// The replica id the device had, which the server retires; the new one vouches for
    /// its edits.
    pub predecessor: ReplicaId,
}

/// `201` answer to a re-key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RekeyResponse {
    /// The device's new replica id.
    pub device_id: ReplicaId,
    /// Its token, shown once; the predecessor's token now serves only to re-key.
    pub token: String,
    /// The database's epoch.
    pub epoch: Epoch,
}

/// `POST /v1/push`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushRequest<R = RecordState> {
    /// The states, each id at most once.
    pub records: Vec<R>,
    /// The device's highest local change sequence in this push (§6a): once the push is
    /// acknowledged, the server remembers it as the device's `acked`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub through: Option<u64>,
}

/// What a push did to one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PushStatus {
    /// The server had no copy.
    Created,
    /// The server's copy changed.
    Merged,
    /// The server's copy already held everything pushed.
    Unchanged,
    /// In recovery, the record holds edits of other devices that the server lacks: it is
    /// kept apart until they vouch for them (§6a), and the device sends it again.
    Held,
}

/// One record's result in a push answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushResult {
    /// The record.
    pub id: RecordId,
    /// What happened to it.
    pub status: PushStatus,
}

/// `200` answer to a push, sent once the push is durable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushResponse {
    /// The organisation's highest sequence after the push.
    pub server_seq: u64,
    /// The database's epoch (§6a).
    pub epoch: Epoch,
    /// One result per pushed record, in the order pushed.
    pub results: Vec<PushResult>,
}

/// `GET /v1/pull?since=S&limit=L` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PullResponse {
    /// Current states changed after `since`, in ascending sequence, each at most once.
    pub records: Vec<RecordState>,
    /// The sequence to ask from next (`since` itself on an empty page).
    pub next: u64,
    /// Whether another page is waiting.
    pub more: bool,
    /// The database's epoch (§6a).
    pub epoch: Epoch,
}

/// Who a replica is, in `GET /v1/replicas`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaInfo {
    /// The device's name.
    pub device_name: String,
    /// The username of the device's owner.
    pub user: String,
}

/// `GET /v1/replicas` answer: the replicas of the caller's organisation.
pub type Replicas = BTreeMap<ReplicaId, ReplicaInfo>;

/// `POST /v1/erase` (coordinators only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EraseRequest {
    /// The record to erase.
    pub id: RecordId,
}

/// `200` answer to an erasure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EraseResponse {
    /// The organisation's highest sequence, now that the erased state is stored.
    pub server_seq: u64,
}

/// `POST /v1/persons/erase` (coordinators only): erases a person and what is about them
/// alone, and takes them out of the records they share (§5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErasePersonRequest {
    /// The person record's id.
    pub id: RecordId,
    /// Only say what would go: nothing is erased or counted.
    #[serde(default)]
    pub dry_run: bool,
}

/// One record an erasure touches, named by id and kind only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TouchedRecord {
    /// The record's id.
    pub id: RecordId,
    /// Its kind.
    pub kind: Kind,
    /// For a record kept: the fields of free text a coordinator should read again, since
    /// they may still speak of the erased person (their names, never their content).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reread: Vec<FieldName>,
}

/// `200` answer to a person's erasure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasePersonResponse {
    /// The organisation's highest sequence once the erasure is stored (on a dry run, as
    /// it is).
    pub server_seq: u64,
    /// Whether this was a dry run: nothing changed.
    pub dry_run: bool,
    /// The records erased: the person, what is about them alone, the visits that met only
    /// them.
    pub erased: Vec<TouchedRecord>,
    /// The records kept, with the person taken out of them by the server's edit, and the
    /// records (the person's household) whose free text should be read again.
    pub kept: Vec<TouchedRecord>,
}

/// The error codes of §6, each with its HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: a body or query of the wrong shape.
    BadRequest,
    /// 401: missing or unknown token; wrong username, password or enrolment code.
    Unauthorized,
    /// 401: the token of a device a coordinator revoked: the device destroys its case file.
    DeviceRevoked,
    /// 401: the device of a disabled user: the device locks and keeps its data.
    UserDisabled,
    /// 403: the caller's role may not do this.
    Forbidden,
    /// 404: erasure of a record the organisation does not have.
    NotFound,
    /// 409: enrolment with a replica id already enrolled.
    DeviceIdTaken,
    /// 409: the server forgot part of its conversation with this device (§6a).
    CheckpointAhead,
    /// 409: the device's case file was restored from a copy (§6a).
    ReplicaReused,
    /// 409: a chunk of a document that does not start where the server's part of it ends
    /// (§6b): ask `HEAD` how much it holds, and go on from there.
    WrongOffset,
    /// 413: more than 1000 records, or a body over 8 MiB decompressed.
    TooLarge,
    /// 422: a record breaks §2.
    InvalidRecord,
    /// 422: a record holds an edit over the size cap of §2.
    RecordTooLarge,
    /// 422: a record brings a dot of another replica the server has not seen.
    ForgedDot,
    /// 422: a record covers entries of the server's copy without holding them (§4).
    DroppedEntry,
    /// 422: the bytes of a document do not have the hash they were sent under (§6b).
    HashMismatch,
    /// 426: a protocol version the server does not speak.
    UnsupportedProtocol,
    /// 429: too many requests from one device.
    SlowDown,
    /// 500: the server failed; the request may be retried.
    Internal,
    /// 503: the server is shutting down or its database is unreachable; retry later.
    Unavailable,
    /// 507: the organisation's storage for documents is full (§6b).
    QuotaFull,
    /// A code this build does not know (a newer server's): read it by its status.
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// The HTTP status that carries this code.
    pub fn status(self) -> u16 {
        match self {
            Self::BadRequest => 400,
            Self::Unauthorized | Self::DeviceRevoked | Self::UserDisabled => 401,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::DeviceIdTaken
            | Self::CheckpointAhead
            | Self::ReplicaReused
            | Self::WrongOffset => 409,
            Self::TooLarge => 413,
            Self::InvalidRecord
            | Self::RecordTooLarge
            | Self::ForgedDot
            | Self::DroppedEntry
            | Self::HashMismatch => 422,
            Self::UnsupportedProtocol => 426,
            Self::SlowDown => 429,
            Self::Internal | Self::Unknown => 500,
            Self::Unavailable => 503,
            Self::QuotaFull => 507,
        }
    }

    /// The code as written on the wire (`forged_dot`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "bad_request",
            Self::Unauthorized => "unauthorized",
            Self::DeviceRevoked => "device_revoked",
            Self::UserDisabled => "user_disabled",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::DeviceIdTaken => "device_id_taken",
            Self::CheckpointAhead => "checkpoint_ahead",
            Self::ReplicaReused => "replica_reused",
            Self::WrongOffset => "wrong_offset",
            Self::TooLarge => "too_large",
            Self::InvalidRecord => "invalid_record",
            Self::RecordTooLarge => "record_too_large",
            Self::ForgedDot => "forged_dot",
            Self::DroppedEntry => "dropped_entry",
            Self::HashMismatch => "hash_mismatch",
            Self::UnsupportedProtocol => "unsupported_protocol",
            Self::SlowDown => "slow_down",
            Self::Internal => "internal",
            Self::Unavailable => "unavailable",
            Self::QuotaFull => "quota_full",
            Self::Unknown => "unknown",
        }
    }
}

/// `{"error": {"code", "message"}}`: every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The inside of an [`ErrorBody`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// What went wrong, for programs.
    pub code: ErrorCode,
    /// A sentence a person can act on. Never personal data.
    pub message: String,
    /// The record of a push that the error is about, so the device can set it aside.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<RecordId>,
}

impl ErrorBody {
    /// An error answer.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            error: ErrorDetail {
                code,
                message: message.into(),
                id: None,
            },
        }
    }

    /// An error answer about one record of a push.
    pub fn about(code: ErrorCode, message: impl Into<String>, id: RecordId) -> Self {
        let mut body = Self::new(code, message);
        body.error.id = Some(id);
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_has_the_shape_of_section_6() {
        let body = ErrorBody::new(ErrorCode::ForgedDot, "nope");
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({"error": {"code": "forged_dot", "message": "nope"}})
        );
        assert_eq!(ErrorCode::ForgedDot.status(), 422);
    }

    #[test]
    fn an_error_about_a_record_names_it_and_unknown_codes_are_read() {
        let id: RecordId = "0190a000-0000-7000-8000-000000000001".parse().unwrap();
        let body = ErrorBody::about(ErrorCode::DroppedEntry, "nope", id);
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({"error": {"code": "dropped_entry", "message": "nope", "id": id.to_string()}})
        );
        let newer: ErrorBody =
            serde_json::from_str(r#"{"error": {"code": "something_newer", "message": "m"}}"#)
                .unwrap();
        assert_eq!(newer.error.code, ErrorCode::Unknown);
        for code in [
            ErrorCode::RecordTooLarge,
            ErrorCode::DeviceRevoked,
            ErrorCode::QuotaFull,
        ] {
            assert_eq!(
                serde_json::to_value(code).unwrap(),
                serde_json::json!(code.as_str()),
                "as_str must be the wire name"
            );
        }
    }

    #[test]
    fn enrolment_without_device_id_omits_it() {
        let request = EnrolRequest {
            username: "marie".into(),
            password: "x".into(),
            enrolment_code: "ABCD-EFGH-JKMN-PQRS".into(),
            device_name: "Portable".into(),
            device_id: None,
        };
        let json = serde_json::to_value(&request).unwrap();
        assert!(json.get("device_id").is_none(), "{json}");
        let back: EnrolRequest = serde_json::from_value(json).unwrap();
        assert_eq!(back, request);
    }

    #[test]
    fn a_push_body_with_an_unknown_key_is_refused() {
        let text = r#"{"records": [], "extra": 1}"#;
        assert!(serde_json::from_str::<PushRequest<serde_json::Value>>(text).is_err());
    }
}
