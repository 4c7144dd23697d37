//! The audit trail (SYNC-PROTOCOL.md §7 `audit`, ARCHITECTURE.md "an audit trail of who
//! pushed what"): one append-only table, `audit`, written in the same transaction as what
//! it tells (so an acknowledged push always has its rows and a refused push none), read
//! by `passerelle-server audit`.
//!
//! No personal data goes in: users by their row id, devices by their replica id, and
//! records by [`record_mac`], the HMAC-SHA256 of the record's id under the organisation's
//! audit key (32 random bytes made with the organisation, kept in `orgs.audit_key`,
//! carried by backups). Whoever knows a record's id and can read the database can find
//! its rows (`audit --record ID`); the table alone names no record.
//!
//! Erasure (§5) leaves the audit rows of the erased record as they are. They hold no
//! field value, and the HMAC names the record only to someone holding both the id and the
//! key; the table `erased` keeps the same HMAC forever (so that an erased id pushed again
//! is erased on arrival), so rewriting the audit would hide nothing more, and would take
//! away what the audit is for: showing who pushed and who erased. What stays is that the
//! rows of one erased record can still be linked to one another (the same HMAC): the
//! times and devices of its edits, never what they wrote.

use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;
use sync_protocol::wire::PushStatus;
use sync_protocol::{RecordId, ReplicaId, VersionVector};

use super::{StoreError, rfc3339};

/// How many audit rows one read answers at most; the command line pages through.
pub const PAGE_ROWS: u32 = 1000;

/// An organisation's audit key.
pub type AuditKey = [u8; 32];

/// A fresh audit key, for a new organisation.
pub(crate) fn new_key() -> AuditKey {
    rand::random()
}

/// Reads a stored audit key.
pub(crate) fn parse_key(bytes: Option<Vec<u8>>) -> Result<AuditKey, StoreError> {
    bytes
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| StoreError::Corrupt("an organisation's audit key is not 32 bytes".into()))
}

/// The HMAC-SHA256 of a record's id under the organisation's audit key, in hex: the only
/// way a record is named in the audit (and in the journal).
pub fn record_mac(key: &AuditKey, id: RecordId) -> String {
    crate::journal::hex(&record_mac_bytes(key, id))
}

/// The same HMAC as [`record_mac`], as bytes: how the table `erased` keeps the ids the
/// organisation erased, so that its rows and the audit's `record` column agree.
pub fn record_mac_bytes(key: &AuditKey, id: RecordId) -> [u8; 32] {
    // A key shorter than SHA-256's 64-byte block is padded with zeros by HMAC itself:
    // padding it here gives the same MAC, with the constructor that cannot fail.
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(key);
    let mut mac = <Hmac<Sha256> as hmac::digest::KeyInit>::new(&block.into());
    mac.update(id.to_string().as_bytes());
    mac.finalize().into_bytes().into()
}

/// What happened, as the `event` column names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A device was enrolled (or re-enrolled) by a user.
    Enrolled,
    /// A coordinator issued an enrolment code for a user (§7 `device invite`).
    Invited,
    /// A device was revoked.
    Revoked,
    /// A user was disabled.
    UserDisabled,
    /// A user was enabled again.
    UserEnabled,
    /// A push created, merged or held a record.
    Pushed,
    /// A record was erased.
    Erased,
    /// The server's replica edited a record: an erased person taken out of a record they
    /// shared with others (§5).
    Edited,
    /// The database was restored from a backup (one row per organisation).
    Restored,
    /// A coordinator released held records (§7 `recovery accept`).
    RecoveryAccepted,
    /// A coordinator ended the recovery (§7 `recovery end`).
    RecoveryEnded,
}

impl Event {
    /// The name stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enrolled => "enrolled",
            Self::Invited => "invited",
            Self::Revoked => "revoked",
            Self::UserDisabled => "user_disabled",
            Self::UserEnabled => "user_enabled",
            Self::Pushed => "pushed",
            Self::Erased => "erased",
            Self::Edited => "edited",
            Self::Restored => "restored",
            Self::RecoveryAccepted => "recovery_accepted",
            Self::RecoveryEnded => "recovery_ended",
        }
    }
}

/// How a server edit (an erasure, or an erased person taken out of a shared record) came
/// about, as the `via` detail says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// A coordinator's device, over HTTP.
    Http,
    /// The server's command line.
    CommandLine,
    /// The journal, applied to a restored database (§6a).
    Journal,
    /// A push that named an erased record or person (§5).
    Arrival,
}

impl Via {
    /// Over HTTP when a device asked (`by`), else the command line.
    pub fn of(by: Option<ReplicaId>) -> Self {
        match by {
            Some(_) => Self::Http,
            None => Self::CommandLine,
        }
    }

    /// The name written in the detail.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::CommandLine => "command_line",
            Self::Journal => "journal",
            Self::Arrival => "arrival",
        }
    }
}

/// One event to write, before its record id is turned into an HMAC.
#[derive(Debug, Clone)]
pub struct Entry {
    /// What happened.
    pub event: Event,
    /// The device concerned, if any.
    pub device: Option<ReplicaId>,
    /// The user concerned (row id), if any.
    pub user: Option<i64>,
    /// The record concerned, if any: stored only as its HMAC.
    pub record: Option<RecordId>,
    /// The record's version vector after the event, as JSON.
    pub vv: Option<String>,
    /// Small non-personal facts, as a JSON object.
    pub detail: Option<Value>,
}

impl Entry {
    fn new(event: Event) -> Self {
        Self {
            event,
            device: None,
            user: None,
            record: None,
            vv: None,
            detail: None,
        }
    }

    /// A device enrolled by a user.
    pub fn enrolled(device: ReplicaId, user: i64) -> Self {
        Self {
            device: Some(device),
            user: Some(user),
            ..Self::new(Event::Enrolled)
        }
    }

    /// An enrolment code issued for a user, valid until `expires_at` (seconds since
    /// 1970).
    pub fn invited(user: i64, expires_at: i64) -> Self {
        Self {
            user: Some(user),
            detail: Some(json!({ "expires": rfc3339(expires_at) })),
            ..Self::new(Event::Invited)
        }
    }

    /// A device revoked.
    pub fn revoked(device: ReplicaId) -> Self {
        Self {
            device: Some(device),
            ..Self::new(Event::Revoked)
        }
    }

    /// A user disabled, or enabled again.
    pub fn user_disabled(user: i64, disabled: bool) -> Self {
        Self {
            user: Some(user),
            ..Self::new(match disabled {
                true => Event::UserDisabled,
                false => Event::UserEnabled,
            })
        }
    }

    /// A record a push created, merged or held, with its version vector after the push
    /// (for a held record, the held state's).
    pub fn pushed(
        device: ReplicaId,
        record: RecordId,
        status: PushStatus,
        vv: &VersionVector,
    ) -> Self {
        let status = match status {
            PushStatus::Created => "created",
            PushStatus::Merged => "merged",
            PushStatus::Held => "held",
            PushStatus::Unchanged => "unchanged",
        };
        Self {
            device: Some(device),
            record: Some(record),
            vv: serde_json::to_string(vv).ok(),
            detail: Some(json!({ "status": status })),
            ..Self::new(Event::Pushed)
        }
    }

    /// A record erased: over HTTP by a coordinator's device (`by`), or by the command
    /// line.
    pub fn erased(record: RecordId, vv: &VersionVector, by: Option<ReplicaId>) -> Self {
        Self::server_edit(Event::Erased, record, vv, by, Via::of(by))
    }

    /// An erasure of the journal applied to a restored database that lacked it (§6a): the
    /// audit rows of the erasure itself were not in the backup.
    pub fn erased_from_journal(record: RecordId, vv: &VersionVector) -> Self {
        Self::server_edit(Event::Erased, record, vv, None, Via::Journal)
    }

    /// A pushed record erased on arrival by the device `by`: it is, or is about alone, a
    /// record the organisation erased (§5).
    pub fn erased_on_arrival(record: RecordId, vv: &VersionVector, by: ReplicaId) -> Self {
        Self::server_edit(Event::Erased, record, vv, Some(by), Via::Arrival)
    }

    /// A shared record the server's replica edited to take an erased person out of it:
    /// during a person's erasure (`via` HTTP or the command line), on the arrival of a push
    /// naming them, or from the journal.
    pub fn edited(record: RecordId, vv: &VersionVector, by: Option<ReplicaId>, via: Via) -> Self {
        Self::server_edit(Event::Edited, record, vv, by, via)
    }

    fn server_edit(
        event: Event,
        record: RecordId,
        vv: &VersionVector,
        device: Option<ReplicaId>,
        via: Via,
    ) -> Self {
        Self {
            device,
            record: Some(record),
            vv: serde_json::to_string(vv).ok(),
            detail: Some(json!({ "via": via.as_str() })),
            ..Self::new(event)
        }
    }

    /// The database restored from a backup, under a new epoch.
    pub fn restored(epoch: &str) -> Self {
        Self {
            detail: Some(json!({ "epoch": epoch })),
            ..Self::new(Event::Restored)
        }
    }

    /// Held records released by a coordinator: for one device, or everything waiting.
    pub fn recovery_accepted(device: Option<ReplicaId>, released: u64) -> Self {
        Self {
            device,
            detail: Some(json!({ "released": released })),
            ..Self::new(Event::RecoveryAccepted)
        }
    }

    /// Recovery ended, discarding what still waited.
    pub fn recovery_ended(discarded: usize) -> Self {
        Self {
            detail: Some(json!({ "discarded": discarded })),
            ..Self::new(Event::RecoveryEnded)
        }
    }

    /// The row to insert: the record id replaced by its HMAC under `key`.
    pub(crate) fn row(&self, key: &AuditKey, at: i64) -> Row {
        Row {
            at,
            event: self.event.as_str(),
            device: self.device.map(|d| d.to_string()),
            user: self.user,
            record: self.record.map(|id| record_mac(key, id)),
            vv: self.vv.clone(),
            detail: self.detail.as_ref().map(Value::to_string),
        }
    }
}

/// An audit row as inserted.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub at: i64,
    pub event: &'static str,
    pub device: Option<String>,
    pub user: Option<i64>,
    pub record: Option<String>,
    pub vv: Option<String>,
    pub detail: Option<String>,
}

/// Which rows `audit` reads.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only the rows of this record (by its HMAC, computed by the store).
    pub record: Option<RecordId>,
    /// Only rows at or after this time (seconds since 1970).
    pub since: Option<i64>,
    /// Only rows after this row id (paging).
    pub after: i64,
}

/// An audit row as read back: `id` pages, the rest is printed.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The row's id, in insertion order.
    pub id: i64,
    /// Seconds since 1970.
    pub at: i64,
    /// The event.
    pub event: String,
    /// The device concerned.
    pub device: Option<String>,
    /// The user concerned (row id).
    pub user: Option<i64>,
    /// The record's HMAC.
    pub record: Option<String>,
    /// The version vector, as JSON.
    pub vv: Option<String>,
    /// The details, as a JSON object.
    pub detail: Option<String>,
}

impl Stored {
    /// One JSON object: `at` (RFC 3339, UTC), `event`, then what the row holds, the
    /// details last.
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("at".into(), rfc3339(self.at).into());
        out.insert("event".into(), self.event.clone().into());
        if let Some(device) = &self.device {
            out.insert("device".into(), device.clone().into());
        }
        if let Some(user) = self.user {
            out.insert("user".into(), user.into());
        }
        if let Some(record) = &self.record {
            out.insert("record".into(), record.clone().into());
        }
        if let Some(vv) = &self.vv {
            out.insert("vv".into(), serde_json::from_str(vv).unwrap_or(Value::Null));
        }
        if let Some(Ok(Value::Object(detail))) = self.detail.as_deref().map(serde_json::from_str) {
            for (name, value) in detail {
                out.entry(name).or_insert(value);
            }
        }
        Value::Object(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_named_by_a_keyed_hash_only() {
        let id: RecordId = "0190a000-0000-7000-8000-000000000001".parse().unwrap();
        let (a, b) = ([1u8; 32], [2u8; 32]);
        let mac = record_mac(&a, id);
        assert_eq!(mac.len(), 64);
        assert_eq!(mac, record_mac(&a, id), "the same id, the same HMAC");
        assert_ne!(
            mac,
            record_mac(&b, id),
            "another organisation, another HMAC"
        );
        let row = Entry::erased(id, &VersionVector::default(), None).row(&a, 0);
        let text = format!("{row:?}");
        assert!(!text.contains(&id.to_string()), "{text}");
    }

    #[test]
    fn a_row_prints_as_one_flat_object() {
        let stored = Stored {
            id: 7,
            at: 1_764_496_800,
            event: "pushed".into(),
            device: Some("d".into()),
            user: None,
            record: Some("ab".into()),
            vv: Some(r#"{"d":2}"#.into()),
            detail: Some(r#"{"status":"merged"}"#.into()),
        };
        assert_eq!(
            stored.to_json(),
            json!({"at": "2025-11-30T10:00:00Z", "event": "pushed", "device": "d",
                   "record": "ab", "vv": {"d": 2}, "status": "merged"})
        );
    }
}
