//! Storage: one trait, [`Store`], with a SQLite ([`sqlite::SqliteStore`]) and a
//! PostgreSQL ([`postgres::PgStore`]) implementation, picked from the `--database` URL.
//!
//! Both keep everything in the database, nothing in process memory, so several server
//! processes may share one PostgreSQL. The rules that must hold across processes live in
//! each write transaction:
//! - every write to an organisation's records first locks the organisation's row, which
//!   holds its sequence counter (`orgs.last_seq`); sequences are handed out under that
//!   lock and the lock is released only at commit, so no lower sequence can commit after
//!   a higher one became visible, and a client paging by sequence never skips a change;
//! - the forged-dot and no-drop checks read the stored copy inside the same transaction.
//!
//! What a push does to each record is decided once, in [`plan_push`], for both backends,
//! and what a pull page holds, in [`page`]; what erasure does (erased ids kept as macs,
//! records erased on arrival, a person's erasure, sealing of tombstones), in [`erased`];
//! what a chunk of a document does, and when documents are deleted, in [`blobs`].
//! SQL lives in the backend modules only.

use std::future::Future;
use std::path::{Path, PathBuf};

use sync_protocol::wire::{PushResult, PushStatus, ReplicaInfo};
use sync_protocol::{
    Dot, DroppedEntry, Epoch, ForgedDot, MergeRefused, RecordId, RecordState, ReplicaId,
    merge_checked,
};

use recovery::{Arrival, OrgDevices};

pub use erased::{Mac, ServerEdit};

use crate::rate::{EnrolKey, EnrolLimit};

pub mod audit;
pub(crate) mod backup;
pub mod blobs;
#[cfg(test)]
mod conformance;
pub(crate) mod erased;
pub mod postgres;
pub(crate) mod recovery;
pub mod sqlite;

/// An organisation's row id. Never leaves the server.
pub type OrgId = i64;

/// Where the data lives, from `--database`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `sqlite:PATH`.
    Sqlite(PathBuf),
    /// `postgres://…` or `postgresql://…`.
    Postgres(String),
}

impl std::str::FromStr for DatabaseUrl {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return Ok(Self::Postgres(text.to_owned()));
        }
        if let Some(path) = text.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err("sqlite: needs a file path, e.g. sqlite:passerelle-server.db".into());
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        Err("the database URL must be sqlite:PATH or postgres://…".into())
    }
}

/// A user's role in their organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Follows families; syncs.
    Counsellor,
    /// Also erases records.
    Coordinator,
}

impl Role {
    /// The name stored and typed on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Counsellor => "counsellor",
            Self::Coordinator => "coordinator",
        }
    }

    pub(crate) fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "counsellor" => Ok(Self::Counsellor),
            "coordinator" => Ok(Self::Coordinator),
            other => Err(StoreError::Corrupt(format!("unknown role {other:?}"))),
        }
    }
}

/// The authenticated device behind a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    /// The device's replica id.
    pub device: ReplicaId,
    /// Its organisation.
    pub org: OrgId,
    /// Its user's role.
    pub role: Role,
    /// Whether the device was re-keyed (§6a): its token serves only to re-key again.
    pub retired: bool,
}

/// Whose a bearer token is, as the storage knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenOwner {
    /// An enrolled device in service.
    Device(Caller),
    /// A device a coordinator revoked (§6 `device_revoked`): it must destroy its case file.
    Revoked(ReplicaId),
    /// A device of a disabled user (§6 `user_disabled`): it locks and keeps its data.
    Disabled(ReplicaId),
    /// No device holds this token: never issued, or replaced by a re-enrolment.
    Unknown,
}

/// A user as enrolment sees it.
#[derive(Debug, Clone)]
pub struct Login {
    /// The user's row id.
    pub user_id: i64,
    /// The user's organisation.
    pub org: OrgId,
    /// The organisation's name.
    pub org_name: String,
    /// The Argon2id PHC string.
    pub password_hash: String,
    /// Whether a coordinator disabled the user: no enrolment until enabled again.
    pub disabled: bool,
}

/// A device to enrol.
#[derive(Debug, Clone)]
pub struct Enrolment {
    /// The user enrolling it.
    pub user_id: i64,
    /// The user's organisation.
    pub org: OrgId,
    /// The replica id the device brings, if any.
    pub device_id: Option<ReplicaId>,
    /// Its name.
    pub device_name: String,
    /// SHA-256 of its new token.
    pub token_hash: [u8; 32],
    /// The hash of the enrolment code it brings (`invite::code_hash`): a code of this
    /// user, unused and unexpired, marked used in the enrolment's transaction.
    pub code_hash: [u8; 32],
}

/// An enrolment code to keep (§7 `device invite`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invite {
    /// The user it is for.
    pub user_id: i64,
    /// The user's organisation.
    pub org: OrgId,
    /// The hash of the code (`invite::code_hash`).
    pub code_hash: [u8; 32],
    /// When it was made, in seconds since 1970.
    pub created_at: i64,
    /// When it stops serving, in seconds since 1970.
    pub expires_at: i64,
}

/// How long an expired or used code is kept before it is forgotten: 30 days.
pub const CODES_KEPT_SECONDS: i64 = 30 * 86_400;

/// A device, as `device list` prints it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeviceRow {
    /// The replica id.
    pub id: String,
    /// The organisation's name.
    pub org: String,
    /// The owner's username.
    pub user: String,
    /// The device's name.
    pub name: String,
    /// Whether it is revoked.
    pub revoked: bool,
    /// When it was (last) enrolled, RFC 3339.
    pub enrolled_at: String,
}

/// The most bytes of states one pull page holds (§6: 8 MiB), unless its first state alone
/// is larger: a page always holds at least one row, so paging always moves on.
pub const PAGE_BYTES: usize = 8 * 1024 * 1024;

/// One row of a pull, as stored.
#[derive(Debug, Clone)]
pub struct PulledRow {
    /// Its sequence.
    pub seq: u64,
    /// The canonical JSON of its state.
    pub state: String,
    /// The device whose push is exactly this state, if any.
    pub pushed_by: Option<String>,
}

/// A page of a pull: canonical JSON states, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The states, in ascending sequence.
    pub records: Vec<String>,
    /// The sequence to ask from next.
    pub next: u64,
    /// Whether another page is waiting.
    pub more: bool,
}

/// The outcome of a push, once durable.
#[derive(Debug, Clone)]
pub struct PushOutcome {
    /// The organisation's highest sequence.
    pub server_seq: u64,
    /// The database's epoch.
    pub epoch: Epoch,
    /// One result per record, in the order pushed.
    pub results: Vec<PushResult>,
    /// The server's own edits the push made (records erased on arrival, erased persons
    /// taken out of shared records): for the journal, before the answer.
    pub edits: Vec<ServerEdit>,
}

/// Why the storage failed. Messages carry no personal data.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("SQLite error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL failed.
    #[error("PostgreSQL error: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// No PostgreSQL connection could be had.
    #[error("no PostgreSQL connection available: {0}")]
    Pool(String),
    /// A file of the database could not be created.
    #[error("could not create the database file: {0}")]
    Io(String),
    /// A blocking task died.
    #[error("a database task failed: {0}")]
    Task(String),
    /// The database holds something this server never writes.
    #[error("the database holds unexpected data: {0}")]
    Corrupt(String),
    /// The database was written by a newer server.
    #[error(
        "the database schema is version {found}, newer than this server knows ({known}): \
         upgrade passerelle-server"
    )]
    NewerSchema {
        /// The database's version.
        found: i64,
        /// The newest this binary knows.
        known: i64,
    },
    /// `user add` with a username already used.
    #[error("that username is already taken (usernames are unique across the server)")]
    UsernameTaken,
    /// `restore` into a database that holds data.
    #[error(
        "the database to restore into is not empty: restore into a new, empty database (a new \
         SQLite file, or a new PostgreSQL database)"
    )]
    NotEmpty,
    /// A backup or restore file could not be used.
    #[error("{0}")]
    File(String),
}

/// What a backup or a restore copied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Copied {
    /// Organisations.
    pub orgs: u64,
    /// Records.
    pub records: u64,
}

impl StoreError {
    /// Whether the database is unreachable or busy for now (worth a retry), rather than
    /// failing.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Pool(_) => true,
            Self::Postgres(e) => e.is_closed(),
            Self::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => matches!(
                e.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ),
            _ => false,
        }
    }
}

/// Why a push was refused; nothing of it was stored. Every variant but `Store` names the
/// record at fault ([`PushError::record`]).
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// A record's kind differs from the stored copy's (§2: a kind never changes).
    #[error("record {0} is stored with another kind: a record's kind never changes")]
    KindChanged(RecordId),
    /// A forged dot (§6).
    #[error("{source}")]
    Forged {
        /// The record.
        id: RecordId,
        /// Which rule it breaks.
        source: ForgedDot,
    },
    /// Merged, the record would drop entries of the server's copy (§4, no-drop rule).
    #[error(transparent)]
    Dropped(#[from] DroppedEntry),
    /// The device gave one of its dots to another edit than the one the server holds: its
    /// case file was put back from an older copy, or copied (§6a, 409 `replica_reused`).
    #[error("record {id} holds the edit {dot} of this device with another content than before")]
    Reused {
        /// The record.
        id: RecordId,
        /// The dot given twice.
        dot: Dot,
    },
    /// In recovery, the device holds apart as many records or bytes as it may (§6a).
    #[error(
        "the server already holds apart {HELD_MAX_RECORDS} records or {HELD_MAX_BYTES} bytes \
         of this device until other devices sync: record {0} waits on this device"
    )]
    HeldFull(RecordId),
    /// In recovery, the device's held state was refused on release: it holds another
    /// device's edit with another content, drops an entry, or changes the kind (§6a).
    #[error("record {id} was refused on release from recovery ({})", why.as_str())]
    HeldRefused {
        /// The record.
        id: RecordId,
        /// Why.
        why: recovery::Discard,
    },
    /// The storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for PushError {
    fn from(error: rusqlite::Error) -> Self {
        Self::Store(error.into())
    }
}

impl From<tokio_postgres::Error> for PushError {
    fn from(error: tokio_postgres::Error) -> Self {
        Self::Store(error.into())
    }
}

impl PushError {
    /// The record the refusal is about; `None` when the storage failed.
    pub fn record(&self) -> Option<RecordId> {
        match self {
            Self::KindChanged(id)
            | Self::Forged { id, .. }
            | Self::HeldFull(id)
            | Self::HeldRefused { id, .. } => Some(*id),
            Self::Dropped(dropped) => Some(dropped.record),
            Self::Reused { .. } | Self::Store(_) => None,
        }
    }
}

/// The most records one device may have held apart in recovery (§6a).
pub const HELD_MAX_RECORDS: u64 = 10_000;
/// The most bytes of states one device may have held apart in recovery (§6a).
pub const HELD_MAX_BYTES: u64 = 64 * 1024 * 1024;
/// Whether holding one more state of `bytes` passes a device's caps (§6a), when it holds
/// `count` other states of `held_bytes` already.
pub(crate) fn over_held_cap(count: u64, held_bytes: u64, bytes: u64) -> bool {
    count + 1 > HELD_MAX_RECORDS || held_bytes + bytes > HELD_MAX_BYTES
}

/// How long recovery lasts unless a coordinator ends it (§6a): 30 days.
pub const RECOVERY_SECONDS: i64 = 30 * 24 * 3600;

/// What a pull learns of the server's conversation with the device (§6a).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conversation {
    /// In step: serve the page.
    InStep {
        /// The database's epoch.
        epoch: Epoch,
        /// The highest `next` answered to the device so far: a page that ends no further
        /// needs no note (most pulls of a device with nothing new).
        answered: u64,
    },
    /// The pull's `since` is above what the server ever answered this device, or its
    /// `pushed` above what it acknowledged: the database was restored (409
    /// `checkpoint_ahead`); the organisation is now in recovery, and the device's
    /// `confirmed` is 0 again, so that its pull from 0 that follows is in step.
    Ahead,
    /// The pull's `since` is below the device's `confirmed` (the highest `since` it pulled
    /// with): the device went back in time, its case file put back from an older copy, and
    /// may hold records whose tombstones were sealed since (see [`erased`]). Answered 409
    /// `checkpoint_ahead` too, so that the device sends everything again (the erased ones
    /// are erased on arrival) and pulls from 0; the organisation does not enter recovery,
    /// and the device's `confirmed` is 0 again.
    Rewound,
    /// The pull's `pushed` is below what the server acknowledged, or the device was
    /// re-keyed: its case file was put back from a copy (409 `replica_reused`).
    Reused,
}

/// Decides a pull's [`Conversation`] from what the server remembers of the device
/// (`answered`, `acked`, `confirmed`, `retired`) and what the pull declares (`since`,
/// `pushed`): `None` in step. A copy of the case file (`Reused`) is told first, then a
/// server that forgot (`Ahead`), then a device that went back (`Rewound`).
pub(crate) fn conversation(
    answered: u64,
    acked: u64,
    confirmed: u64,
    retired: bool,
    since: u64,
    pushed: Option<u64>,
) -> Option<Conversation> {
    if retired || pushed.is_some_and(|p| p < acked) {
        return Some(Conversation::Reused);
    }
    if since > answered || pushed.is_some_and(|p| p > acked) {
        return Some(Conversation::Ahead);
    }
    if since < confirmed {
        return Some(Conversation::Rewound);
    }
    None
}

/// An organisation's recovery, as `recovery status` shows it.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RecoveryStatus {
    /// Whether the organisation is in recovery.
    pub in_recovery: bool,
    /// When recovery ends by itself, RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// Held records, per device that pushed them: `{device: count}`.
    pub held: std::collections::BTreeMap<String, u64>,
    /// For each held record, the devices whose vouching it waits on.
    pub waiting_on: std::collections::BTreeMap<String, u64>,
    /// Devices accepted for the rest of the recovery.
    pub accepted: Vec<String>,
    /// Held states discarded so far: `{"id", "device", "why", "at"}`.
    pub discarded: Vec<Discarded>,
}

/// A held state that was discarded (§6a), as listed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Discarded {
    /// The record's id.
    pub id: String,
    /// The device that pushed it.
    pub device: String,
    /// Why: `altered_entry`, `dropped_entry`, `kind_clash` or `recovery_ended`.
    pub why: String,
    /// When, RFC 3339.
    pub at: String,
}

/// How many records an organisation may erase over HTTP in an hour (§6).
pub const ERASURES_PER_HOUR: usize = 20;

/// What an erasure did, or why it did nothing.
#[derive(Debug, Clone, PartialEq)]
pub enum Capped<T> {
    /// Done (or done already).
    Done(T),
    /// The organisation has no such record (for a person's erasure: no live person).
    NotFound,
    /// The hour's erasures over HTTP are used up; the next is possible after this many
    /// seconds.
    OverCap(u64),
}

/// A record's erasure (§5), done or done already.
#[derive(Debug, Clone, PartialEq)]
pub struct Erasure {
    /// The organisation's highest sequence.
    pub server_seq: u64,
    /// The erased state.
    pub state: RecordState,
    /// What the journal must keep: the erasure, when it was done now.
    pub edits: Vec<ServerEdit>,
}

/// A person's erasure (§5), done or (a dry run) worked out.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonErasure {
    /// The answer of `POST /v1/persons/erase`.
    pub answer: sync_protocol::wire::ErasePersonResponse,
    /// What the journal must keep (nothing on a dry run): the erasures first, then the
    /// server's edits of shared records.
    pub edits: Vec<ServerEdit>,
}

/// Decides a capped erasure from the times of the hour's erasures (oldest first) and now
/// (seconds since 1970): `None` to go on, or the seconds to wait.
pub(crate) fn over_cap(recent: &[i64], now: i64) -> Option<u64> {
    if recent.len() < ERASURES_PER_HOUR {
        return None;
    }
    let frees = recent[recent.len() - ERASURES_PER_HOUR] + 3600;
    Some(u64::try_from(frees - now).unwrap_or(0).max(1))
}

/// What an erasure does, decided once for both backends from what its transaction read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ErasePlan {
    /// Nothing to write: answer this.
    Answer(Capped<Erasure>),
    /// Store the erased state under the sequence `seq`.
    Write {
        /// The new sequence.
        seq: u64,
        /// The erased state (§5).
        state: RecordState,
    },
}

/// Decides an erasure from the stored copy, the organisation's highest sequence and, for
/// a capped erasure, the times of the hour's erasures: the cap first, then a missing
/// record, then one erased already (which writes nothing and is not counted).
pub(crate) fn plan_erasure(
    stored: Option<RecordState>,
    last_seq: u64,
    recent: Option<&[i64]>,
    now: i64,
) -> ErasePlan {
    if let Some(wait) = recent.and_then(|recent| over_cap(recent, now)) {
        return ErasePlan::Answer(Capped::OverCap(wait));
    }
    match stored {
        None => ErasePlan::Answer(Capped::NotFound),
        Some(stored) if stored.is_erased() => ErasePlan::Answer(Capped::Done(Erasure {
            server_seq: last_seq,
            state: stored,
            edits: Vec::new(),
        })),
        Some(stored) => ErasePlan::Write {
            seq: last_seq + 1,
            state: stored.erase(),
        },
    }
}

/// Now, in seconds since 1970.
pub(crate) fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// What enrolment did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enrolled {
    /// The device is enrolled (or re-enrolled) under this id.
    Device(ReplicaId),
    /// The id is enrolled by another user, revoked, or the server's own.
    Taken,
    /// The enrolment code is not an unused, unexpired code of this user: nothing changed.
    BadCode,
}

/// The server's storage. Every method is one transaction.
pub trait Store: Send + Sync + 'static {
    /// The server's replica id, made at `init`.
    fn server_id(&self) -> ReplicaId;

    /// Adds a user, creating the organisation if it is new.
    fn add_user(
        &self,
        org: &str,
        username: &str,
        password_hash: &str,
        role: Role,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Replaces a user's password hash; `false` when there is no such user.
    fn set_password(
        &self,
        username: &str,
        password_hash: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Disables or enables a user (§7 `user disable|enable`); `false` when there is no
    /// such user.
    fn set_disabled(
        &self,
        username: &str,
        disabled: bool,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The user with this username, for enrolment.
    fn login(
        &self,
        username: &str,
    ) -> impl Future<Output = Result<Option<Login>, StoreError>> + Send;

    /// Enrols a device (§6): uses its enrolment code, registers its id, or makes one, and
    /// stores its token hash, in one transaction, so two enrolments with one code cannot
    /// both succeed.
    fn enrol(
        &self,
        enrolment: Enrolment,
    ) -> impl Future<Output = Result<Enrolled, StoreError>> + Send;

    /// Keeps an enrolment code (§7 `device invite`), and forgets the codes that expired
    /// more than [`CODES_KEPT_SECONDS`] ago.
    fn add_code(&self, invite: Invite) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The journal's used code (§6a): the code with this hash marked used if the database
    /// has it unused. Answers whether anything changed.
    fn restore_code_used(
        &self,
        code_hash: [u8; 32],
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Takes one try from each bucket of failed enrolments (§6), in the order given, in
    /// one transaction at `now` (seconds since 1970): either every bucket gives one, or
    /// none is touched and the answer is the index of the empty one with the wait before
    /// its next token. Forgets buckets that are full again.
    fn enrol_try(
        &self,
        buckets: [(EnrolKey, EnrolLimit); 2],
        now: f64,
    ) -> impl Future<Output = Result<Result<(), (usize, std::time::Duration)>, StoreError>> + Send;

    /// Gives back the tries [`enrol_try`](Self::enrol_try) took, when the attempt did not
    /// fail after all.
    fn enrol_give_back(
        &self,
        buckets: [(EnrolKey, EnrolLimit); 2],
        now: f64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The device holding the token with this hash, whether it is revoked, or nobody.
    fn caller(
        &self,
        token_hash: [u8; 32],
    ) -> impl Future<Output = Result<TokenOwner, StoreError>> + Send;

    /// The database's epoch (§6a).
    fn epoch(&self) -> impl Future<Output = Result<Epoch, StoreError>> + Send;

    /// Merges valid, pushable states into the caller's organisation, in one transaction;
    /// in recovery, holds apart and releases records (§6a). `through`, the device's
    /// highest local change sequence in the push, becomes its `acked` once committed.
    fn push(
        &self,
        caller: Caller,
        records: Vec<RecordState>,
        through: Option<u64>,
    ) -> impl Future<Output = Result<PushOutcome, PushError>> + Send;

    /// Checks a pull's `since` and `pushed` against what the server remembers of the
    /// device (§6a, [`conversation`]). When the server forgot part of the conversation
    /// (`Ahead`), the organisation enters recovery; then, and when the device went back
    /// (`Rewound`), its `confirmed` goes back to 0, committed before the answer. In step,
    /// the device has committed everything up to `since`: its `confirmed` is raised to
    /// it, and the organisation's tombstones every device in service confirmed are sealed
    /// (see [`erased`]).
    fn pull_check(
        &self,
        caller: Caller,
        since: u64,
        pushed: Option<u64>,
    ) -> impl Future<Output = Result<Conversation, StoreError>> + Send;

    /// Remembers, before the page is sent, that a pull answered `next` to the device.
    fn note_answered(
        &self,
        device: ReplicaId,
        next: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Re-keys a device (§6a): a new replica id for the same user, with the token whose
    /// hash is `token_hash`; the caller's replica is retired and its successor vouches for
    /// its edits.
    fn rekey(
        &self,
        caller: Caller,
        token_hash: [u8; 32],
    ) -> impl Future<Output = Result<ReplicaId, StoreError>> + Send;

    /// The organisation's recovery (§7 `recovery status`); ends it first if its 30 days
    /// are over.
    fn recovery_status(
        &self,
        org: OrgId,
    ) -> impl Future<Output = Result<RecoveryStatus, StoreError>> + Send;

    /// Releases what waits on `device` (for the rest of the recovery), or everything
    /// waiting when `None` (§7 `recovery accept`); the release still refuses altered and
    /// dropped entries. Answers how many held states were released, and the server's
    /// edits of the released states that named erased persons (for the journal).
    fn recovery_accept(
        &self,
        org: OrgId,
        device: Option<ReplicaId>,
    ) -> impl Future<Output = Result<(u64, Vec<ServerEdit>), StoreError>> + Send;

    /// Ends the organisation's recovery: what still waits is discarded, and listed.
    fn recovery_end(
        &self,
        org: OrgId,
    ) -> impl Future<Output = Result<Vec<Discarded>, StoreError>> + Send;

    /// Every user: row id, organisation and username (to read the journal's HMACs).
    fn users(&self) -> impl Future<Output = Result<Vec<(i64, OrgId, String)>, StoreError>> + Send;

    /// The database's secret key for the journal's HMACs.
    fn journal_key(&self) -> impl Future<Output = Result<[u8; 32], StoreError>> + Send;

    /// The journal's enrolment (§6a): the device of this user, with this token hash,
    /// enrolled if the database lacks it, its token replaced if it has it (not revoked).
    /// Answers whether anything changed.
    fn restore_device(
        &self,
        user_id: i64,
        org: OrgId,
        device: ReplicaId,
        token_hash: [u8; 32],
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The journal's re-keying (§6a): `device` enrolled as the successor of
    /// `predecessor`, which is retired. Answers whether anything changed.
    fn restore_rekey(
        &self,
        predecessor: ReplicaId,
        device: ReplicaId,
        token_hash: [u8; 32],
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The macs of the organisation's erased ids (table `erased`).
    fn erased_macs(
        &self,
        org: OrgId,
    ) -> impl Future<Output = Result<std::collections::HashSet<Mac>, StoreError>> + Send;

    /// The mac of every live (not erased) record of the organisation, with its id: how
    /// the journal's erasures, which name records by mac only, find their record.
    fn record_macs(
        &self,
        org: OrgId,
    ) -> impl Future<Output = Result<std::collections::HashMap<Mac, RecordId>, StoreError>> + Send;

    /// The mac of the record id `id` under the organisation's audit key: how the journal
    /// reads an erasure written before erasures named their record by mac only.
    fn record_mac(
        &self,
        org: OrgId,
        id: RecordId,
    ) -> impl Future<Output = Result<Mac, StoreError>> + Send;

    /// The journal's erasure (§6a): `mac` into `erased`, and the live record `id` (the
    /// one with that mac, if the database has it) erased under a new sequence, its
    /// tombstone kept for the devices that may hold it. Answers whether anything changed.
    fn restore_erased(
        &self,
        org: OrgId,
        mac: Mac,
        id: Option<RecordId>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The journal's edit of a shared record by the server's replica (§6a): merged into
    /// the stored copy, or stored when the database lacks the record; an erased record
    /// (stored erased, or its id erased) absorbs it. Answers whether anything changed.
    fn restore_edited(
        &self,
        org: OrgId,
        state: RecordState,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Writes a consistent copy of the whole database to `out`, a new SQLite file readable
    /// by its owner alone, while the server serves (§7 `backup`, see [`backup`]).
    fn backup(&self, out: &Path) -> impl Future<Output = Result<Copied, StoreError>> + Send;

    /// Copies the backup `from` into this database, which must be empty, with a new epoch,
    /// and puts every organisation into recovery (§7 `restore`, see [`backup`]). The
    /// caller applies the journal next.
    fn restore(&self, from: &Path) -> impl Future<Output = Result<Copied, StoreError>> + Send;

    /// The rows of the organisation after `since`, in ascending sequence, at most
    /// `limit + 1` of them (the extra one tells whether more are waiting), and no more
    /// bytes of states than [`page`] needs to cut a page at `max_bytes`: the rows whose
    /// preceding rows hold at most `max_bytes`, and always the first two.
    fn pull_rows(
        &self,
        org: OrgId,
        since: u64,
        limit: u32,
        max_bytes: usize,
    ) -> impl Future<Output = Result<Vec<PulledRow>, StoreError>> + Send;

    /// The devices of an organisation.
    fn replicas(
        &self,
        org: OrgId,
    ) -> impl Future<Output = Result<Vec<(ReplicaId, ReplicaInfo)>, StoreError>> + Send;

    /// Erases a record (§5): its id's mac into `erased`, its row a tombstone under a new
    /// sequence, its held states and discarded-state notes deleted. `None` when the
    /// organisation has no such record. The command line's erasure: not capped.
    fn erase(
        &self,
        org: OrgId,
        id: RecordId,
    ) -> impl Future<Output = Result<Option<Erasure>, StoreError>> + Send;

    /// The same erasure over HTTP by the device `by`, within [`ERASURES_PER_HOUR`] per
    /// organisation, counted in the same transaction (so several server processes share
    /// the count). An erasure that changes nothing (no such record, or erased already) is
    /// not counted.
    fn erase_capped(
        &self,
        org: OrgId,
        id: RecordId,
        by: ReplicaId,
    ) -> impl Future<Output = Result<Capped<Erasure>, StoreError>> + Send;

    /// Erases a person (§5), in one transaction: the `person` record, every record
    /// about them alone (and, round after round, about a record so erased, such as a
    /// person merged into them), each visit that met only them; and takes them out of
    /// the records they share by an edit of the server's replica. Each record erased or
    /// edited gets a new sequence; held states of erased records or naming any of them
    /// and discarded-state notes of erased records are deleted; the audit tells each
    /// change. A person whose record is erased already (a record's erasure), or sealed
    /// (no row, the mac of the id in `erased`), is erased so too: the answer lists what
    /// this erasure does, not the person. A `dry_run` writes nothing. `capped` (the
    /// device, over HTTP): a real erasure that writes something counts once against
    /// [`ERASURES_PER_HOUR`]. `NotFound` when the organisation's record with this id is
    /// of another kind, or it has none and never erased the id.
    fn erase_person(
        &self,
        org: OrgId,
        person: RecordId,
        dry_run: bool,
        capped: Option<ReplicaId>,
    ) -> impl Future<Output = Result<Capped<PersonErasure>, StoreError>> + Send;

    /// The organisation's live (not erased) records of one kind (§7 `retention`).
    fn records_of_kind(
        &self,
        org: OrgId,
        kind: &str,
    ) -> impl Future<Output = Result<Vec<RecordState>, StoreError>> + Send;

    /// A page of the organisation's audit trail, oldest first (§7 `audit`): at most
    /// [`audit::PAGE_ROWS`] rows after `filter.after`.
    fn audit(
        &self,
        org: OrgId,
        filter: audit::Filter,
    ) -> impl Future<Output = Result<Vec<audit::Stored>, StoreError>> + Send;

    /// The organisation with this name.
    fn org_id(&self, name: &str) -> impl Future<Output = Result<Option<OrgId>, StoreError>> + Send;

    /// Every device of the server.
    fn devices(&self) -> impl Future<Output = Result<Vec<DeviceRow>, StoreError>> + Send;

    /// Revokes a device; `false` when there is no such device.
    fn revoke(&self, id: ReplicaId) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// What the organisation holds of the document `sha256` (§6b), if anything.
    fn blob(
        &self,
        org: OrgId,
        sha256: &str,
    ) -> impl Future<Output = Result<Option<blobs::Blob>, StoreError>> + Send;

    /// Stores a chunk of a document of the organisation (§6b, see [`blobs`]), within its
    /// `quota` (bytes), in one transaction, durable before it answers: the chunk that
    /// completes the document has its SHA-256 checked, and on a mismatch every byte of
    /// the document is deleted.
    fn put_blob_chunk(
        &self,
        org: OrgId,
        chunk: blobs::Chunk,
        quota: u64,
    ) -> impl Future<Output = Result<blobs::Put, StoreError>> + Send;

    /// The stored pieces of the organisation's document, in order (none when it has no
    /// such document).
    fn blob_pieces(
        &self,
        org: OrgId,
        sha256: &str,
    ) -> impl Future<Output = Result<Vec<blobs::Piece>, StoreError>> + Send;

    /// The most bytes a `GET` reads at a time with [`Store::read_blob`] (a step of
    /// [`blobs::Read`]s): [`blobs::READ_BYTES`] unless the backend says otherwise.
    const READ_BYTES: u64 = blobs::READ_BYTES;

    /// Bytes of one piece of the organisation's whole document; `None` when the piece is
    /// gone or the document is not whole (erased meanwhile).
    fn read_blob(
        &self,
        org: OrgId,
        sha256: &str,
        read: blobs::Read,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, StoreError>> + Send;

    /// What the organisation holds (§7 `blobs status`).
    fn blob_usage(
        &self,
        org: OrgId,
    ) -> impl Future<Output = Result<blobs::Usage, StoreError>> + Send;

    /// For every organisation, deletes the parts of uploads last touched before
    /// `stale_before` (seconds since 1970) and the documents no live attachment names.
    fn sweep_blobs(
        &self,
        stale_before: i64,
    ) -> impl Future<Output = Result<blobs::Swept, StoreError>> + Send;
}

/// What to write for one pushed record.
#[derive(Debug, Clone)]
pub(crate) enum Planned {
    /// The stored copy already holds everything pushed; `exact` when it is exactly the
    /// pushed state: the device holds it, so its pulls may leave it out (noted without a
    /// new sequence). A device that sends everything again after a restore then pulls
    /// only what it lacks.
    Unchanged {
        /// Whether the stored copy is exactly the pushed state.
        exact: bool,
    },
    /// In recovery: keep the pushed state apart, held until other devices vouch for it
    /// (§6a).
    Hold,
    /// Store this state under a new sequence.
    Write {
        /// The new state.
        state: RecordState,
        /// Created or merged.
        status: PushStatus,
        /// Whether the new state is exactly what the device pushed.
        exact: bool,
    },
}

/// Decides what a push does to each record, given the stored copies (same order), read
/// inside the write transaction, and, when the organisation is in recovery, its devices.
/// Refuses the whole push on the first fault in the order of §6, each rule checked for
/// every record before the next rule: one of the pusher's own dots given to another edit
/// (409 `replica_reused`), a changed kind (a broken §2 rule), then a forged dot, then a
/// dropped entry (§4's no-drop rule). In recovery, a record holding edits of other
/// devices of the organisation that the stored copy lacks is held instead of refused
/// (§6a); the no-drop rule waits for its release.
pub(crate) fn plan_push(
    pushed: &[RecordState],
    stored: &[Option<RecordState>],
    pusher: ReplicaId,
    recovery: Option<&OrgDevices>,
) -> Result<Vec<Planned>, PushError> {
    for (new, old) in pushed.iter().zip(stored) {
        if let Some(dot) = sync_protocol::reused_dot(new, old.as_ref(), pusher) {
            return Err(PushError::Reused { id: new.id(), dot });
        }
    }
    for (new, old) in pushed.iter().zip(stored) {
        if let Some(old) = old
            && old.kind() != new.kind()
        {
            return Err(PushError::KindChanged(new.id()));
        }
    }
    let mut held = vec![false; pushed.len()];
    for ((new, old), held) in pushed.iter().zip(stored).zip(&mut held) {
        if old.as_ref().is_some_and(RecordState::is_erased) {
            // Merged with an erased record, anything gives the erased record (§5), with the
            // joined vv and no field: nothing of the push can enter, so nothing is held
            // or refused.
            continue;
        }
        let forged = |source| PushError::Forged {
            id: new.id(),
            source,
        };
        match recovery.map(|org| recovery::arrival(new, old.as_ref(), pusher, org)) {
            Some(Arrival::Hold) => *held = true,
            Some(Arrival::Forged(source)) => return Err(forged(source)),
            Some(Arrival::Ordinary) | None => {}
        }
        if !*held {
            sync_protocol::check_dots(new, old.as_ref(), pusher).map_err(forged)?;
        }
    }
    // The no-drop rule is checked by the merge itself, in one pass per record.
    let merged = pushed
        .iter()
        .zip(stored)
        .zip(&held)
        .map(|((new, old), &held)| match old {
            _ if held => Ok(None),
            None => Ok(None),
            Some(old) => merge_checked(old, new).map(Some).map_err(|e| match e {
                // Covering one's own edit without holding it or a write over it is what
                // a second life of the case file does, having given that dot to another
                // edit (in another field): honest devices never do it (§6a).
                MergeRefused::Dropped(dropped) if dropped.dot.replica == pusher => {
                    PushError::Reused {
                        id: new.id(),
                        dot: dropped.dot,
                    }
                }
                MergeRefused::Dropped(dropped) => PushError::from(dropped),
                MergeRefused::NotOneRecord(_) => PushError::KindChanged(new.id()),
            }),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(pushed
        .iter()
        .zip(stored)
        .zip(merged)
        .zip(held)
        .map(|(((new, old), merged), held)| match (old, merged) {
            _ if held => Planned::Hold,
            (Some(old), Some(merged)) if merged == *old => Planned::Unchanged {
                exact: *old == *new,
            },
            (Some(_), Some(merged)) => Planned::Write {
                exact: merged == *new,
                state: merged,
                status: PushStatus::Merged,
            },
            _ => Planned::Write {
                state: new.clone(),
                status: PushStatus::Created,
                exact: true,
            },
        })
        .collect())
}

/// Whom the state `held` by `holder` waits on (§7 `recovery status`): the replicas whose
/// counters in it are covered neither by the stored copy nor by the held state of a
/// device that vouches for them (among `record`, every held state of that record), and
/// that neither the holder vouches for nor an accepted device does. A replica whose own
/// held state already covers what it wrote is not waited on: its vouching is there.
pub(crate) fn waits_on(
    stored: Option<&RecordState>,
    held: &RecordState,
    holder: ReplicaId,
    record: &[(ReplicaId, &RecordState)],
    org: &OrgDevices,
) -> std::collections::BTreeSet<ReplicaId> {
    let covered = |r: ReplicaId, n: u64| {
        stored.is_some_and(|s| s.vv().get(r) >= n)
            || record.iter().any(|&(device, state)| {
                device != holder && org.vouches(device, r) && state.vv().get(r) >= n
            })
    };
    let accepted = |r: ReplicaId| org.accepted.iter().any(|&a| org.vouches(a, r));
    held.vv()
        .iter()
        .filter(|&(r, n)| !org.vouches(holder, r) && !accepted(r) && !covered(r, n))
        .map(|(r, _)| r)
        .collect()
}

/// What a push or an accepted recovery must write for one record's release (§6a).
#[derive(Debug, Clone)]
pub(crate) struct Settled {
    /// The record's new state and the device whose held state is exactly it, if any.
    pub write: Option<(RecordState, Option<ReplicaId>)>,
    /// Held states to delete (released or discarded).
    pub unhold: Vec<ReplicaId>,
    /// Held states discarded, and why.
    pub discarded: Vec<(ReplicaId, recovery::Discard)>,
}

/// Decides one record's release from its stored copy and held states: see
/// [`recovery::release`].
pub(crate) fn settle(
    stored: Option<&RecordState>,
    held: &[(ReplicaId, RecordState)],
    org: &OrgDevices,
    accept_all: bool,
) -> Settled {
    let release = recovery::release(stored, held, org, accept_all);
    let mut unhold = release.released.clone();
    unhold.extend(release.discarded.iter().map(|(d, _)| *d));
    Settled {
        write: release.merged.map(|m| (m, release.exact)),
        unhold,
        discarded: release.discarded,
    }
}

/// A pushed record's status once its held states were settled: the pusher's held state
/// released is `created` or `merged`; refused on release, the push is refused (`Err`).
pub(crate) fn released_status(
    status: PushStatus,
    settled: &Settled,
    pusher: ReplicaId,
    had_copy: bool,
) -> Result<PushStatus, recovery::Discard> {
    if let Some((_, why)) = settled.discarded.iter().find(|(d, _)| *d == pusher) {
        return Err(*why);
    }
    let released = settled.unhold.contains(&pusher);
    Ok(match (status, released) {
        (PushStatus::Held, true) if had_copy => PushStatus::Merged,
        (PushStatus::Held, true) => PushStatus::Created,
        (status, _) => status,
    })
}

/// Makes a page from the rows [`Store::pull_rows`] read after `since`. The page covers
/// the first `limit` rows, cut before the row that would take the states covered past
/// `max_bytes` (the first row is always covered, however large); `more` is true when
/// rows were cut or more than `limit` were read. It leaves out a state that is exactly
/// what `caller` pushed (the device holds it already), but `next` still moves past it,
/// and its bytes count, so that what is read per page stays bounded too.
pub(crate) fn page(
    rows: Vec<PulledRow>,
    since: u64,
    limit: u32,
    max_bytes: usize,
    caller: ReplicaId,
) -> Page {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut more = rows.len() > limit;
    let caller = caller.to_string();
    let mut next = since;
    let mut bytes = 0usize;
    let mut records = Vec::with_capacity(rows.len().min(limit));
    for (i, row) in rows.into_iter().take(limit).enumerate() {
        bytes = bytes.saturating_add(row.state.len());
        if i > 0 && bytes > max_bytes {
            more = true;
            break;
        }
        next = row.seq;
        if row.pushed_by.as_deref() != Some(caller.as_str()) {
            records.push(row.state);
        }
    }
    Page {
        records,
        next,
        more,
    }
}

/// Reads a stored state back; the database holds only states this server validated.
pub(crate) fn parse_stored(text: &str) -> Result<RecordState, StoreError> {
    RecordState::from_json(text)
        .map_err(|e| StoreError::Corrupt(format!("a stored record is invalid ({})", e.code())))
}

/// Reads a stored replica id.
pub(crate) fn parse_replica(text: &str) -> Result<ReplicaId, StoreError> {
    text.parse()
        .map_err(|_| StoreError::Corrupt("a stored device id is not a UUID".into()))
}

/// A fresh random replica id (UUID v4).
pub(crate) fn new_replica_id() -> ReplicaId {
    ReplicaId::from_u128(uuid::Uuid::new_v4().as_u128())
}

/// A time in seconds since 1970, RFC 3339.
pub(crate) fn rfc3339(at: i64) -> String {
    chrono::DateTime::from_timestamp(at, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_default()
}

/// Creates `path` for its owner alone (0600); refuses a file that exists.
pub(crate) fn create_private_new(path: &Path) -> Result<std::fs::File, StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => StoreError::File(format!(
            "{} exists already: choose a new file name",
            path.display()
        )),
        _ => StoreError::File(format!("could not create {}: {e}", path.display())),
    })
}

/// A backup being written: under `OUT.partial` until it is complete, then renamed to
/// `OUT`, whose name is reserved at once (an empty file, which `restore` refuses), so a
/// backup cut by a crash never looks finished. A failed backup leaves nothing behind.
pub(crate) struct PartialBackup {
    out: PathBuf,
    partial: PathBuf,
    done: bool,
}

impl PartialBackup {
    /// Reserves `out` (it must not exist) and starts `OUT.partial`.
    pub(crate) fn start(out: &Path) -> Result<Self, StoreError> {
        drop(create_private_new(out)?);
        let mut name = out.as_os_str().to_owned();
        name.push(".partial");
        let partial = PathBuf::from(name);
        let _ = std::fs::remove_file(&partial);
        let backup = Self {
            out: out.to_owned(),
            partial,
            done: false,
        };
        drop(create_private_new(&backup.partial)?);
        Ok(backup)
    }

    /// Where the backup is being written.
    pub(crate) fn path(&self) -> &Path {
        &self.partial
    }

    /// The backup is complete: it takes its name.
    pub(crate) fn finish(mut self) -> Result<(), StoreError> {
        std::fs::rename(&self.partial, &self.out).map_err(|e| {
            StoreError::File(format!(
                "could not name the backup {}: {e}",
                self.out.display()
            ))
        })?;
        self.done = true;
        Ok(())
    }
}

impl Drop for PartialBackup {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.partial);
            let _ = std::fs::remove_file(&self.out);
        }
    }
}

/// A private working copy of the backup `from`, beside it, removed when dropped: the
/// backup itself is never written.
pub(crate) struct WorkingCopy(PathBuf);

impl WorkingCopy {
    /// Copies `from`.
    pub(crate) fn of(from: &Path) -> Result<Self, StoreError> {
        let mut source = std::fs::File::open(from)
            .map_err(|e| StoreError::File(format!("could not read {}: {e}", from.display())))?;
        let mut name = from.as_os_str().to_owned();
        name.push(format!(".restoring-{}", std::process::id()));
        let path = PathBuf::from(name);
        let _ = std::fs::remove_file(&path);
        let copy = Self(path);
        let mut target = create_private_new(&copy.0)?;
        std::io::copy(&mut source, &mut target)
            .map_err(|e| StoreError::File(format!("could not copy {}: {e}", from.display())))?;
        Ok(copy)
    }

    /// Its path.
    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for WorkingCopy {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut name = self.0.as_os_str().to_owned();
            name.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(name));
        }
    }
}

/// A fresh random epoch (UUID v4).
pub(crate) fn new_epoch() -> Epoch {
    Epoch::from_u128(uuid::Uuid::new_v4().as_u128())
}

/// Reads a stored epoch.
pub(crate) fn parse_epoch(text: &str) -> Result<Epoch, StoreError> {
    text.parse()
        .map_err(|_| StoreError::Corrupt("the stored epoch is not a UUID".into()))
}

/// Now, RFC 3339, for `enrolled_at`.
pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(seq: u64, by: Option<&str>) -> PulledRow {
        PulledRow {
            seq,
            state: format!("s{seq}"),
            pushed_by: by.map(str::to_owned),
        }
    }

    #[test]
    fn a_page_moves_past_rows_it_leaves_out() {
        let me = ReplicaId::from_u128(7);
        let mine = me.to_string();
        let rows = vec![row(3, Some(&mine)), row(5, None), row(9, Some(&mine))];
        let page = page(rows, 1, 2, PAGE_BYTES, me);
        assert_eq!(
            page,
            Page {
                records: vec!["s5".into()],
                next: 5,
                more: true
            }
        );
    }

    #[test]
    fn an_empty_page_keeps_since() {
        let page = page(vec![], 42, 10, PAGE_BYTES, ReplicaId::from_u128(1));
        assert_eq!((page.next, page.more, page.records.len()), (42, false, 0));
    }

    fn sized(seq: u64, bytes: usize) -> PulledRow {
        PulledRow {
            seq,
            state: "x".repeat(bytes),
            pushed_by: None,
        }
    }

    #[test]
    fn a_page_is_cut_before_it_passes_its_bytes() {
        let me = ReplicaId::from_u128(7);
        let rows = vec![sized(1, 40), sized(2, 40), sized(3, 40), sized(4, 40)];
        let cut = page(rows.clone(), 0, 10, 100, me);
        assert_eq!(
            (cut.records.len(), cut.next, cut.more),
            (2, 2, true),
            "80 bytes fit in 100, the third row would pass them"
        );
        let exact = page(rows.clone(), 0, 10, 160, me);
        assert_eq!((exact.records.len(), exact.next, exact.more), (4, 4, false));
        let by_count = page(rows, 0, 3, 1000, me);
        assert_eq!(
            (by_count.records.len(), by_count.next, by_count.more),
            (3, 3, true)
        );
    }

    #[test]
    fn a_page_holds_its_first_row_however_large() {
        let me = ReplicaId::from_u128(7);
        let alone = page(vec![sized(5, 500)], 0, 10, 100, me);
        assert_eq!((alone.records.len(), alone.next, alone.more), (1, 5, false));
        let first = page(vec![sized(5, 500), sized(6, 1)], 0, 10, 100, me);
        assert_eq!(
            (first.records.len(), first.next, first.more),
            (1, 5, true),
            "the large first row goes alone, the next page takes the rest"
        );
    }

    #[test]
    fn a_push_that_drops_an_entry_is_refused_after_forged_dots() {
        let me = ReplicaId::from_u128(7);
        let other = ReplicaId::from_u128(8);
        let state = |id: u128, vv: serde_json::Value, fields: serde_json::Value| {
            RecordState::from_value(&serde_json::json!({
                "id": RecordId::from_u128(id), "kind": "person", "vv": vv, "fields": fields
            }))
            .unwrap()
        };
        let entry = |r: ReplicaId, n: u64, v: serde_json::Value| serde_json::json!([{"dot": [r, n], "at": "2026-11-02T10:14:00Z", "value": v}]);
        let stored = state(
            1,
            serde_json::json!({me.to_string(): 1}),
            serde_json::json!({"x": entry(me, 1, 1.into())}),
        );
        let emptied = state(
            1,
            serde_json::json!({me.to_string(): 1}),
            serde_json::json!({}),
        );
        let forged = state(
            2,
            serde_json::json!({other.to_string(): 1}),
            serde_json::json!({"y": entry(other, 1, 1.into())}),
        );
        // Another device drops my entry: a dropped entry.
        let err = plan_push(
            std::slice::from_ref(&emptied),
            &[Some(stored.clone())],
            other,
            None,
        )
        .unwrap_err();
        assert!(matches!(err, PushError::Dropped(_)), "{err:?}");
        assert_eq!(err.record(), Some(RecordId::from_u128(1)));
        // I drop my own entry without writing over it: a second life of my case file
        // gave that dot to another edit.
        let err = plan_push(
            std::slice::from_ref(&emptied),
            &[Some(stored.clone())],
            me,
            None,
        )
        .unwrap_err();
        assert!(matches!(err, PushError::Reused { .. }), "{err:?}");
        let err =
            plan_push(&[emptied, forged], &[Some(stored.clone()), None], me, None).unwrap_err();
        assert!(
            matches!(err, PushError::Forged { id, .. } if id == RecordId::from_u128(2)),
            "a forged dot anywhere answers before a dropped entry: {err:?}"
        );
        let cleared = state(
            1,
            serde_json::json!({me.to_string(): 2}),
            serde_json::json!({"x": entry(me, 2, serde_json::Value::Null)}),
        );
        assert!(
            plan_push(&[cleared], &[Some(stored)], me, None).is_ok(),
            "a cleared field writes over the entry"
        );
    }

    #[test]
    fn an_erasure_checks_the_cap_first_and_writes_only_what_changes() {
        let id: RecordId = "0190a000-0000-7000-8000-000000000001".parse().unwrap();
        let a = ReplicaId::from_u128(1);
        let at = "2026-11-30T10:00:00Z".parse().unwrap();
        let fields = [("notes".parse().unwrap(), serde_json::json!("x"))];
        let live = RecordState::create(id, "person".parse().unwrap(), a, at, fields).unwrap();
        let full: Vec<i64> = (0..20).map(|i| 100 + i).collect();
        assert_eq!(
            plan_erasure(Some(live.clone()), 7, Some(&full), 200),
            ErasePlan::Answer(Capped::OverCap(3500)),
            "over the cap, even a real erasure waits"
        );
        assert_eq!(
            plan_erasure(Some(live.clone()), 7, None, 200),
            ErasePlan::Write {
                seq: 8,
                state: live.erase()
            },
            "the command line is not capped"
        );
        assert_eq!(
            plan_erasure(None, 7, Some(&full[..3]), 200),
            ErasePlan::Answer(Capped::NotFound)
        );
        assert_eq!(
            plan_erasure(Some(live.erase()), 7, Some(&[]), 200),
            ErasePlan::Answer(Capped::Done(Erasure {
                server_seq: 7,
                state: live.erase(),
                edits: Vec::new()
            })),
            "erased already: nothing written, nothing counted"
        );
    }

    #[test]
    fn an_erased_record_absorbs_any_push_in_recovery_or_not() {
        let id: RecordId = "0190a000-0000-7000-8000-000000000001".parse().unwrap();
        let (a, b) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
        let at: sync_protocol::Timestamp = "2026-11-30T10:00:00Z".parse().unwrap();
        let fields = [("notes".parse().unwrap(), serde_json::json!("x"))];
        let mut theirs =
            RecordState::create(id, "person".parse().unwrap(), a, at.clone(), fields).unwrap();
        let erased = theirs.clone().erase();
        // b pushes a state holding a's later edit, which the erased copy never saw.
        theirs
            .edit(
                a,
                at,
                [("phone".parse().unwrap(), serde_json::json!("0600"))],
            )
            .unwrap();
        let org = OrgDevices {
            devices: [a, b].into(),
            ..OrgDevices::default()
        };
        for recovery in [None, Some(&org)] {
            let plan = plan_push(
                std::slice::from_ref(&theirs),
                &[Some(erased.clone())],
                b,
                recovery,
            )
            .unwrap();
            assert!(
                matches!(&plan[..], [Planned::Write { state, .. }] if state.is_erased() && state.fields().count() == 0),
                "nothing enters (only the joined vv of an erased state), nothing is held: {plan:?}"
            );
        }
    }

    #[test]
    fn a_device_holds_at_most_10000_states_or_64_mib() {
        assert!(!over_held_cap(9_999, 0, 10));
        assert!(over_held_cap(10_000, 0, 10), "the 10,001st state");
        assert!(!over_held_cap(0, HELD_MAX_BYTES - 10, 10), "exactly 64 MiB");
        assert!(over_held_cap(0, HELD_MAX_BYTES - 10, 11));
    }

    #[test]
    fn the_erasure_cap_counts_the_last_hour() {
        let now = 1_000_000;
        let recent: Vec<i64> = (0..19).map(|i| now - 3000 + i).collect();
        assert_eq!(
            over_cap(&recent, now),
            None,
            "19 in the hour: one more may go"
        );
        let mut full = recent.clone();
        full.push(now - 10);
        assert_eq!(
            over_cap(&full, now),
            Some(600),
            "20 in the hour: the oldest leaves the hour in 600 s"
        );
    }

    #[test]
    fn a_held_state_does_not_wait_on_a_device_whose_held_state_vouches() {
        let (a, b, c, d) = (
            ReplicaId::from_u128(1),
            ReplicaId::from_u128(2),
            ReplicaId::from_u128(3),
            ReplicaId::from_u128(4),
        );
        let with_vv = |vv: serde_json::Value| {
            RecordState::from_value(&serde_json::json!({
                "id": RecordId::from_u128(9), "kind": "person", "vv": vv, "fields": {}
            }))
            .unwrap()
        };
        let stored = with_vv(serde_json::json!({a.to_string(): 1}));
        // C holds edits of A, B and D; B's held state covers B's edit, not A's.
        let held_c = with_vv(serde_json::json!({
            a.to_string(): 2, b.to_string(): 1, c.to_string(): 1, d.to_string(): 1
        }));
        let held_b = with_vv(serde_json::json!({a.to_string(): 2, b.to_string(): 1}));
        let record = [(b, &held_b), (c, &held_c)];
        let mut org = OrgDevices {
            devices: [a, b, c, d].into(),
            ..OrgDevices::default()
        };
        let on = |org: &OrgDevices| waits_on(Some(&stored), &held_c, c, &record, org);
        assert_eq!(on(&org), [a, d].into(), "B has pushed what C holds of it");
        assert_eq!(
            waits_on(Some(&stored), &held_b, b, &record, &org),
            [a].into()
        );
        org.accepted.insert(d);
        assert_eq!(on(&org), [a].into(), "D was accepted");
        org.predecessor.insert(c, a);
        assert_eq!(on(&org), [].into(), "C vouches for A, its predecessor");
    }

    #[test]
    fn a_pull_is_in_step_ahead_rewound_or_reused() {
        use Conversation::{Ahead, Reused, Rewound};
        // answered 10, acked 4, confirmed 6.
        let of = |retired, since, pushed| conversation(10, 4, 6, retired, since, pushed);
        assert_eq!(of(false, 6, Some(4)), None, "at what it confirmed");
        assert_eq!(of(false, 10, None), None, "up to what was answered");
        assert_eq!(of(false, 11, None), Some(Ahead), "past what was answered");
        assert_eq!(
            of(false, 6, Some(5)),
            Some(Ahead),
            "past what was acknowledged"
        );
        assert_eq!(
            of(false, 5, None),
            Some(Rewound),
            "below what it confirmed: a case file put back from an older copy"
        );
        assert_eq!(of(false, 0, Some(4)), Some(Rewound), "from 0 too");
        assert_eq!(
            conversation(10, 4, 0, false, 0, Some(4)),
            None,
            "once its confirmed went back to 0, a pull from 0 is in step"
        );
        assert_eq!(
            of(false, 6, Some(3)),
            Some(Reused),
            "below what was acknowledged"
        );
        assert_eq!(of(true, 6, None), Some(Reused), "a retired replica");
        assert_eq!(
            of(false, 0, Some(3)),
            Some(Reused),
            "a copy is told before it went back"
        );
        assert_eq!(
            of(false, 11, Some(5)),
            Some(Ahead),
            "a server that forgot is told before anything else but a copy"
        );
    }

    #[test]
    fn database_urls_are_read_by_scheme() {
        assert_eq!(
            "sqlite:x.db".parse::<DatabaseUrl>(),
            Ok(DatabaseUrl::Sqlite("x.db".into()))
        );
        assert!(matches!(
            "postgres://postgres@127.0.0.1/x".parse::<DatabaseUrl>(),
            Ok(DatabaseUrl::Postgres(_))
        ));
        assert!("mysql://x".parse::<DatabaseUrl>().is_err());
    }
}
