//! The SQLite backend: one file, zero set-up, for a small organisation.
//!
//! rusqlite is blocking, so every call runs on tokio's blocking pool. One connection
//! writes (every write transaction is `BEGIN IMMEDIATE`, so the organisation's counter
//! is read and advanced under SQLite's single write lock); a few others read. WAL lets the
//! reader and the command line work while the server writes; `synchronous = FULL` makes
//! a commit durable before a push is answered. SQLite is linked as SQLCipher, and a
//! database opened without a key is plain SQLite.
//!
//! The SQL lives in one module per table; this one holds the connections, the
//! migrations and the transactions that compose them.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rusqlite::{Connection, TransactionBehavior};
use sync_protocol::wire::{PushResult, PushStatus, ReplicaInfo};
use sync_protocol::{Epoch, RecordId, RecordState, ReplicaId};
use tracing::{instrument, warn};

use super::audit::{Entry, Filter, Stored, record_mac_bytes};
use super::backup::{self, Page, TABLES};
use super::blobs::{Blob, Chunk, Piece, Put, Read, Swept, Usage};
use super::erased::{absorb, on_arrival};
use super::recovery::OrgDevices;
use super::{
    Caller, Capped, Conversation, Copied, DeviceRow, Discarded, Enrolled, Enrolment, ErasePlan,
    Erasure, Invite, Login, Mac, OrgId, PartialBackup, PersonErasure, Planned, PulledRow,
    PushError, PushOutcome, RecoveryStatus, Role, ServerEdit, Store, StoreError, TokenOwner,
    WorkingCopy, conversation, new_epoch, new_replica_id, parse_epoch, parse_replica, plan_erasure,
    plan_push, released_status, rfc3339, settle, unix_now, waits_on,
};
use crate::rate::{EnrolKey, EnrolLimit};

mod audit;
mod blobs;
mod codes;
mod devices;
mod erased;
mod erasure;
mod erasures;
mod failures;
mod orgs;
mod records;
mod recovery;
mod users;

/// The migrations, in order; the database's `user_version` is how many are applied.
const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/sqlite/0001_init.sql"),
    include_str!("../../../migrations/sqlite/0002_user_disabled.sql"),
    include_str!("../../../migrations/sqlite/0003_erasures.sql"),
    include_str!("../../../migrations/sqlite/0004_recovery.sql"),
    include_str!("../../../migrations/sqlite/0005_enrolment_codes.sql"),
    include_str!("../../../migrations/sqlite/0006_audit.sql"),
    include_str!("../../../migrations/sqlite/0007_erased.sql"),
    include_str!("../../../migrations/sqlite/0008_blobs.sql"),
];

/// How many connections read (pulls, token look-ups) while one writes.
const READERS: usize = 4;

type Shared = Arc<tokio::sync::Mutex<Connection>>;

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: Shared,
    readers: Arc<[Shared]>,
    next_reader: Arc<AtomicUsize>,
    server_id: ReplicaId,
}

/// Creates the database file readable by its owner alone (0600) when it does not exist
/// yet; SQLite gives its WAL and shared-memory files the same mode.
fn create_private(path: &Path) -> Result<(), StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Io(e.to_string())),
    }
}

fn connect(path: &Path) -> Result<Connection, StoreError> {
    create_private(path)?;
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Deleted and overwritten content is zeroed in the file, not left in free pages: an
    // erased person's data must not linger (§5).
    conn.pragma_update(None, "secure_delete", "ON")?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    if version > known {
        return Err(StoreError::NewerSchema {
            found: version,
            known,
        });
    }
    for sql in MIGRATIONS
        .iter()
        .skip(usize::try_from(version).unwrap_or(0))
    {
        tx.execute_batch(sql)?;
    }
    tx.pragma_update(None, "user_version", known)?;
    tx.execute(
        "INSERT OR IGNORE INTO server (singleton, server_id) VALUES (1, ?1)",
        [new_replica_id().to_string()],
    )?;
    tx.execute(
        "UPDATE server SET epoch = ?1 WHERE epoch IS NULL",
        [new_epoch().to_string()],
    )?;
    tx.execute(
        "UPDATE server SET journal_key = ?1 WHERE journal_key IS NULL",
        [&rand::random::<[u8; 32]>()[..]],
    )?;
    audit::fill_keys(&tx)?;
    if version < 7 {
        // Records erased before the table `erased` existed.
        erased::fill(&tx)?;
    }
    tx.commit()?;
    Ok(())
}

/// Copies the zeroed pages into the file and empties the WAL, so that no frame of erased
/// content stays beside it (`secure_delete` zeroes what is deleted, in the new pages).
fn checkpoint(conn: &Connection) -> Result<(), StoreError> {
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    Ok(())
}

/// [`checkpoint`] after an erasure or a sealing that is committed already: best effort.
/// A failure leaves the frames in the WAL until SQLite's next checkpoint (at the latest
/// when the WAL grows past its threshold, or the server stops); it does not undo the
/// erasure, whose answer and journal entry must follow. Warns, with SQLite's message
/// only: no id or content.
fn checkpoint_or_warn(conn: &Connection) {
    if let Err(error) = checkpoint(conn) {
        warn!(%error, "the WAL could not be emptied after an erasure: SQLite's next checkpoint will");
    }
}

/// Opens a backup file (or a new one, to write a backup into), in this server's schema:
/// a backup made by an older server is brought up to date in its working copy.
pub(crate) fn open_backup(path: &Path) -> Result<Connection, StoreError> {
    let mut conn = connect(path)?;
    migrate(&mut conn)?;
    Ok(conn)
}

/// Counts what a database holds.
pub(crate) fn count(conn: &Connection) -> Result<Copied, StoreError> {
    let (orgs, records): (i64, i64) = conn.query_row(
        "SELECT (SELECT count(*) FROM orgs), (SELECT count(*) FROM records)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(Copied {
        orgs: orgs.max(0) as u64,
        records: records.max(0) as u64,
    })
}

/// Refuses a backup that holds no organisation: an empty file, or one a crash cut short.
pub(crate) fn check_backup(source: &Connection) -> Result<(), StoreError> {
    if count(source)?.orgs == 0 {
        return Err(StoreError::File(
            "this backup holds no organisation: it is empty, or its writing was cut short; \
             choose another backup"
                .into(),
        ));
    }
    Ok(())
}

/// Copies every table of `from` into `to` (empty), in one transaction of `to`: the
/// server id and journal key of `from`, a new epoch, and every organisation in recovery.
fn copy_into(from: &Connection, to: &mut Connection) -> Result<Copied, StoreError> {
    let tx = to.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if count(&tx)?.orgs > 0 {
        return Err(StoreError::NotEmpty);
    }
    let (server_id, key): (String, Vec<u8>) =
        from.query_row("SELECT server_id, journal_key FROM server", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let epoch = new_epoch().to_string();
    tx.execute(
        "UPDATE server SET server_id = ?1, journal_key = ?2, epoch = ?3",
        rusqlite::params![server_id, key, epoch],
    )?;
    for table in TABLES {
        let mut page = Some(Page::default());
        while let Some(at) = page {
            let rows = backup::sqlite_side::read(from, table, &at)?;
            backup::sqlite_side::write(&tx, table, &rows)?;
            page = at.next(table, &rows);
        }
    }
    recovery::enter(&tx, None, unix_now())?;
    for org in orgs::all(&tx)? {
        audit::note(&tx, org, &[Entry::restored(&epoch)])?;
    }
    let copied = count(&tx)?;
    tx.commit()?;
    Ok(copied)
}

/// The database's epoch.
fn epoch(conn: &Connection) -> Result<Epoch, StoreError> {
    let text: String = conn.query_row("SELECT epoch FROM server", [], |r| r.get(0))?;
    parse_epoch(&text)
}

/// What a release writes beside the records: the server's edits for the journal and the
/// audit rows of erasures and edits, and the server's replica that makes them; and what
/// it leaves to do: the documents the released states stopped naming.
struct Releasing<'a> {
    server: ReplicaId,
    edits: &'a mut Vec<ServerEdit>,
    audited: &'a mut Vec<Entry>,
    unnamed: &'a mut Vec<String>,
}

/// Releases what can be released of one record's held states (§6a), writing the merged
/// state under the next sequence (passed through `forget` first: a released state naming
/// an erased person is erased or edited, §5); answers what it decided.
#[allow(clippy::too_many_arguments)]
fn release_record(
    conn: &Connection,
    org: OrgId,
    id: RecordId,
    devices: &OrgDevices,
    accept_all: bool,
    seq: &mut u64,
    now: i64,
    releasing: &mut Releasing<'_>,
) -> Result<super::Settled, StoreError> {
    let held = recovery::of_record(conn, org, id)?;
    if held.is_empty() {
        return Ok(super::Settled {
            write: None,
            unhold: Vec::new(),
            discarded: Vec::new(),
        });
    }
    let stored = records::get(conn, org, id)?;
    let mut settled = settle(stored.as_ref(), &held, devices, accept_all);
    if let Some((state, exact)) = settled.write.take() {
        let (state, exact) = if stored.as_ref() == Some(&state) {
            (state, exact)
        } else {
            let mut erased_set = erasure::erased_among(conn, org, std::slice::from_ref(&state))?;
            let by = exact
                .or(held.first().map(|(d, _)| *d))
                .unwrap_or(releasing.server);
            let (state, same) = erasure::forget_write(
                conn,
                org,
                state,
                &mut erased_set,
                releasing.server,
                by,
                releasing.audited,
                releasing.edits,
            )?;
            let exact = exact.filter(|_| same);
            releasing
                .unnamed
                .extend(super::blobs::unnamed_by(stored.as_ref(), &state));
            *seq += 1;
            records::put(
                conn,
                org,
                *seq,
                &state,
                exact.map(|d| d.to_string()).as_deref(),
            )?;
            (state, exact)
        };
        settled.write = Some((state, exact));
    }
    for device in &settled.unhold {
        recovery::unhold(conn, org, id, *device)?;
    }
    // A record erased (now, or before) leaves no note naming it (§5).
    let erased = settled
        .write
        .as_ref()
        .map_or(stored.as_ref(), |(s, _)| Some(s));
    let noted = !erased.is_some_and(RecordState::is_erased);
    for (device, why) in &settled.discarded {
        warn!(device = %device, why = why.as_str(), "a held state was discarded");
        if noted {
            recovery::note_discarded(conn, org, id, *device, *why, now)?;
        }
    }
    Ok(settled)
}

/// Releases what can be released of every held record of the organisation.
fn release_all(
    conn: &Connection,
    org: OrgId,
    devices: &OrgDevices,
    accept_all: bool,
    now: i64,
    releasing: &mut Releasing<'_>,
) -> Result<u64, StoreError> {
    let mut seq = orgs::last_seq(conn, org)?;
    let mut released = 0;
    for id in recovery::held_ids(conn, org)? {
        let settled = release_record(conn, org, id, devices, accept_all, &mut seq, now, releasing)?;
        released += (settled.unhold.len() - settled.discarded.len()) as u64;
    }
    orgs::set_last_seq(conn, org, seq)?;
    Ok(released)
}

fn seq_of(value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt("a negative sequence".into()))
}

fn seq_to_sql(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies the migrations.
    #[instrument(name = "db.open", skip_all)]
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let path = path.to_owned();
        tokio::task::spawn_blocking(move || {
            let mut writer = connect(&path)?;
            migrate(&mut writer)?;
            let server_id: String =
                writer.query_row("SELECT server_id FROM server", [], |r| r.get(0))?;
            let readers = (0..READERS)
                .map(|_| Ok(Arc::new(tokio::sync::Mutex::new(connect(&path)?))))
                .collect::<Result<Vec<_>, StoreError>>()?;
            Ok(Self {
                writer: Arc::new(tokio::sync::Mutex::new(writer)),
                readers: readers.into(),
                next_reader: Arc::new(AtomicUsize::new(0)),
                server_id: parse_replica(&server_id)?,
            })
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// An erasure, capped per hour when `capped` (HTTP), counted in its transaction.
    async fn erase_within(
        &self,
        org: OrgId,
        id: RecordId,
        capped: bool,
        by: Option<ReplicaId>,
    ) -> Result<Capped<Erasure>, StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let last_seq = orgs::last_seq(&tx, org)?;
            let now = unix_now();
            let recent = match capped {
                true => Some(erasures::since(&tx, org, now - 3600)?),
                false => None,
            };
            let stored = records::get(&tx, org, id)?;
            let named = stored
                .as_ref()
                .map(super::blobs::digests)
                .unwrap_or_default();
            let (seq, erased) = match plan_erasure(stored, last_seq, recent.as_deref(), now) {
                ErasePlan::Answer(answer) => return Ok(answer),
                ErasePlan::Write { seq, state } => (seq, state),
            };
            // No held copy of an erased record stays either (§5).
            let erasure = erasure::erase_record(&tx, org, seq, erased, by.filter(|_| capped))?;
            // The documents only it named go with it (§5, §6b).
            blobs::drop_unnamed(&tx, org, Some(&named))?;
            tx.commit()?;
            checkpoint_or_warn(conn);
            Ok(Capped::Done(erasure))
        })
        .await
    }

    /// Runs `f` on a blocking thread once the connection is free. Waiting happens on the
    /// async side, so at most one blocking thread per connection is ever busy.
    async fn run<T, E>(
        conn: &Shared,
        f: impl FnOnce(&mut Connection) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let mut guard = Arc::clone(conn).lock_owned().await;
        tokio::task::spawn_blocking(move || f(&mut guard))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
    }

    async fn write<T: Send + 'static, E: From<StoreError> + Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E> {
        Self::run(&self.writer, f).await
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        // A free reader if there is one, else the next in turn.
        let free = self.readers.iter().find(|r| r.try_lock().is_ok());
        let reader = match free {
            Some(reader) => reader,
            None => {
                let i = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len();
                &self.readers[i]
            }
        };
        Self::run(reader, f).await
    }
}

impl Store for SqliteStore {
    /// A whole piece (a chunk as it was sent): SQLite reads a value whole whatever part
    /// of it is asked, so smaller steps would read each piece several times.
    const READ_BYTES: u64 = sync_protocol::blobs::CHUNK_BYTES;

    fn server_id(&self) -> ReplicaId {
        self.server_id
    }

    #[instrument(name = "db.add_user", skip_all)]
    async fn add_user(
        &self,
        org: &str,
        username: &str,
        password_hash: &str,
        role: Role,
    ) -> Result<(), StoreError> {
        let (org, username, hash) = (
            org.to_owned(),
            username.to_owned(),
            password_hash.to_owned(),
        );
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if users::exists(&tx, &username)? {
                return Err(StoreError::UsernameTaken);
            }
            let org = orgs::ensure(&tx, &org)?;
            users::insert(&tx, org, &username, &hash, role)?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    #[instrument(name = "db.set_password", skip_all)]
    async fn set_password(&self, username: &str, password_hash: &str) -> Result<bool, StoreError> {
        let (username, hash) = (username.to_owned(), password_hash.to_owned());
        self.write(move |conn| users::set_password(conn, &username, &hash))
            .await
    }

    #[instrument(name = "db.set_disabled", skip_all)]
    async fn set_disabled(&self, username: &str, disabled: bool) -> Result<bool, StoreError> {
        let username = username.to_owned();
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let Some((user, org, was)) = users::disabled(&tx, &username)? else {
                return Ok(false);
            };
            // Only a change is audited: the journal applies its disables again at every
            // start.
            if was != disabled {
                users::set_disabled(&tx, &username, disabled)?;
                audit::note(&tx, org, &[Entry::user_disabled(user, disabled)])?;
            }
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    #[instrument(name = "db.login", skip_all)]
    async fn login(&self, username: &str) -> Result<Option<Login>, StoreError> {
        let username = username.to_owned();
        self.read(move |conn| users::login(conn, &username)).await
    }

    #[instrument(name = "db.enrol", skip_all)]
    async fn enrol(&self, e: Enrolment) -> Result<Enrolled, StoreError> {
        let server_id = self.server_id;
        self.write(move |conn| {
            let id = e.device_id.unwrap_or_else(new_replica_id);
            if id == server_id {
                return Ok(Enrolled::Taken);
            }
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            // The code first: a wrong code says nothing of the device id.
            if !codes::use_code(&tx, &e.code_hash, e.user_id, unix_now())? {
                return Ok(Enrolled::BadCode);
            }
            match devices::owner(&tx, id)? {
                Some((user, revoked)) if user != e.user_id || revoked => {
                    return Ok(Enrolled::Taken);
                }
                Some(_) => devices::replace_token(&tx, id, &e)?,
                None => devices::insert(&tx, id, &e)?,
            }
            audit::note(&tx, e.org, &[Entry::enrolled(id, e.user_id)])?;
            tx.commit()?;
            Ok(Enrolled::Device(id))
        })
        .await
    }

    #[instrument(name = "db.add_code", skip_all)]
    async fn add_code(&self, invite: Invite) -> Result<(), StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            codes::insert(&tx, &invite)?;
            let entry = Entry::invited(invite.user_id, invite.expires_at);
            audit::note(&tx, invite.org, &[entry])?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    #[instrument(name = "db.restore_code_used", skip_all)]
    async fn restore_code_used(&self, code_hash: [u8; 32]) -> Result<bool, StoreError> {
        self.write(move |conn| codes::mark_used(conn, &code_hash, unix_now()))
            .await
    }

    #[instrument(name = "db.enrol_try", skip_all)]
    async fn enrol_try(
        &self,
        buckets: [(EnrolKey, EnrolLimit); 2],
        now: f64,
    ) -> Result<Result<(), (usize, std::time::Duration)>, StoreError> {
        self.write(move |conn| {
            // BEGIN IMMEDIATE: every process on the file takes its tries one at a time.
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut taken = Vec::with_capacity(buckets.len());
            for (i, (key, limit)) in buckets.iter().enumerate() {
                match limit.take(failures::get(&tx, key)?, now) {
                    Ok(bucket) => taken.push((key, *limit, bucket)),
                    Err(wait) => return Ok(Err((i, wait))),
                }
            }
            for (key, limit, bucket) in taken {
                failures::put(&tx, key, limit, bucket)?;
            }
            failures::prune(&tx, now)?;
            tx.commit()?;
            Ok(Ok(()))
        })
        .await
    }

    #[instrument(name = "db.enrol_give_back", skip_all)]
    async fn enrol_give_back(
        &self,
        buckets: [(EnrolKey, EnrolLimit); 2],
        now: f64,
    ) -> Result<(), StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for (key, limit) in &buckets {
                let bucket = limit.give_back(failures::get(&tx, key)?, now);
                failures::put(&tx, key, *limit, bucket)?;
            }
            failures::prune(&tx, now)?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    #[instrument(name = "db.caller", skip_all)]
    async fn caller(&self, token_hash: [u8; 32]) -> Result<TokenOwner, StoreError> {
        self.read(move |conn| devices::by_token(conn, &token_hash))
            .await
    }

    #[instrument(name = "db.epoch", skip_all)]
    async fn epoch(&self) -> Result<Epoch, StoreError> {
        self.read(|conn| epoch(conn)).await
    }

    #[instrument(name = "db.push", skip_all, fields(records = records.len()))]
    async fn push(
        &self,
        caller: Caller,
        records: Vec<RecordState>,
        through: Option<u64>,
    ) -> Result<PushOutcome, PushError> {
        let server = self.server_id;
        self.write(move |conn| {
            // BEGIN IMMEDIATE takes SQLite's write lock at once: the counter read below
            // and the stored copies the forged-dot check reads cannot change before commit.
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(StoreError::from)?;
            let mut seq = orgs::last_seq(&tx, caller.org)?;
            let now = unix_now();
            let devices = match recovery::active(&tx, caller.org, now)? {
                true => Some(recovery::org_devices(&tx, caller.org)?),
                false => None,
            };
            let stored = records
                .iter()
                .map(|r| records::get(&tx, caller.org, r.id()))
                .collect::<Result<Vec<_>, _>>()?;
            let had_copy: Vec<bool> = stored.iter().map(Option::is_some).collect();
            // The documents the stored attachments name, before an erasure on arrival
            // plans a record against an erased copy: a write may leave one unnamed.
            let named_before: Vec<Vec<String>> = stored
                .iter()
                .map(|s| s.as_ref().map(super::blobs::digests).unwrap_or_default())
                .collect();
            // Erased ids and persons (§5): what the push names that the organisation erased,
            // in one query; a record erased on arrival is planned against an erased copy.
            let mut erased_set = erasure::erased_among(
                &tx,
                caller.org,
                records.iter().chain(stored.iter().flatten()),
            )?;
            let (stored, absorbed) = on_arrival(&records, stored, &mut erased_set);
            let plan = plan_push(&records, &stored, caller.device, devices.as_ref())?;
            let plan = absorb(plan, &absorbed, &stored);
            drop(stored);
            let device = caller.device.to_string();
            let mut results = Vec::with_capacity(records.len());
            let mut audited = Vec::with_capacity(records.len());
            let mut server_audited = Vec::new();
            let mut edits = Vec::new();
            let mut unnamed = Vec::new();
            for (((record, planned), &old), named_before) in
                records.iter().zip(plan).zip(&had_copy).zip(&named_before)
            {
                // The record's version vector after the push, for the audit.
                let mut vv = None;
                let status = match planned {
                    Planned::Unchanged { exact } => {
                        if exact {
                            records::note_pushed_by(&tx, caller.org, record.id(), &device)?;
                        }
                        PushStatus::Unchanged
                    }
                    Planned::Hold => {
                        recovery::hold(&tx, caller.org, caller.device, record, now)?;
                        vv = Some(record.vv().clone());
                        PushStatus::Held
                    }
                    Planned::Write {
                        state,
                        status,
                        exact,
                    } => {
                        let (state, same) = erasure::forget_write(
                            &tx,
                            caller.org,
                            state,
                            &mut erased_set,
                            server,
                            caller.device,
                            &mut server_audited,
                            &mut edits,
                        )?;
                        let exact = exact && same;
                        unnamed.extend(super::blobs::no_longer_named(named_before, &state));
                        seq += 1;
                        records::put(&tx, caller.org, seq, &state, exact.then_some(&*device))?;
                        vv = Some(state.vv().clone());
                        status
                    }
                };
                let status = match (status, &devices) {
                    // A push in recovery may release held states of this record, the
                    // pusher's among them.
                    (status, Some(devices)) => {
                        let mut releasing = Releasing {
                            server,
                            edits: &mut edits,
                            audited: &mut server_audited,
                            unnamed: &mut unnamed,
                        };
                        let settled = release_record(
                            &tx,
                            caller.org,
                            record.id(),
                            devices,
                            false,
                            &mut seq,
                            now,
                            &mut releasing,
                        )?;
                        if let Some((state, _)) = &settled.write {
                            vv = Some(state.vv().clone());
                        }
                        released_status(status, &settled, caller.device, old).map_err(|why| {
                            PushError::HeldRefused {
                                id: record.id(),
                                why,
                            }
                        })?
                    }
                    (status, None) => status,
                };
                if let (Some(vv), false) = (vv, status == PushStatus::Unchanged) {
                    audited.push(Entry::pushed(caller.device, record.id(), status, &vv));
                }
                results.push(PushResult {
                    id: record.id(),
                    status,
                });
            }
            // In the push's transaction: an acknowledged push always has its audit rows,
            // a refused one none.
            audited.append(&mut server_audited);
            audit::note(&tx, caller.org, &audited)?;
            if let Some(through) = through {
                devices::note_acked(&tx, caller.device, through)?;
            }
            orgs::set_last_seq(&tx, caller.org, seq)?;
            // Documents no attachment names any more go (§6b): those a write (an edit, an
            // erasure on arrival, a release) stopped naming.
            let dropped = blobs::drop_unnamed(&tx, caller.org, Some(&unnamed))?;
            let epoch = epoch(&tx)?;
            tx.commit().map_err(StoreError::from)?;
            if dropped > 0 {
                checkpoint_or_warn(conn);
            }
            Ok(PushOutcome {
                server_seq: seq,
                epoch,
                results,
                edits,
            })
        })
        .await
    }

    #[instrument(name = "db.pull_check", skip_all)]
    async fn pull_check(
        &self,
        caller: Caller,
        since: u64,
        pushed: Option<u64>,
    ) -> Result<Conversation, StoreError> {
        let (answered, acked, confirmed, epoch) = self
            .read(move |conn| {
                let (answered, acked, confirmed) = devices::progress(conn, caller.device)?;
                Ok((answered, acked, confirmed, epoch(conn)?))
            })
            .await?;
        match conversation(answered, acked, confirmed, caller.retired, since, pushed) {
            None => {
                if since > confirmed {
                    self.write(move |conn| {
                        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                        devices::confirm(&tx, caller.device, since)?;
                        let sealed = erased::seal(&tx, caller.org)?;
                        tx.commit()?;
                        if sealed > 0 {
                            checkpoint_or_warn(conn);
                        }
                        Ok::<_, StoreError>(())
                    })
                    .await?;
                }
                Ok(Conversation::InStep { epoch, answered })
            }
            Some(told @ (Conversation::Ahead | Conversation::Rewound)) => {
                self.write(move |conn| {
                    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                    if told == Conversation::Ahead {
                        recovery::enter(&tx, Some(caller.org), unix_now())?;
                    }
                    devices::unconfirm(&tx, caller.device)?;
                    tx.commit()?;
                    Ok::<_, StoreError>(())
                })
                .await?;
                Ok(told)
            }
            Some(other) => Ok(other),
        }
    }

    #[instrument(name = "db.note_answered", skip_all)]
    async fn note_answered(&self, device: ReplicaId, next: u64) -> Result<(), StoreError> {
        self.write(move |conn| devices::note_answered(conn, device, next))
            .await
    }

    #[instrument(name = "db.rekey", skip_all)]
    async fn rekey(&self, caller: Caller, token_hash: [u8; 32]) -> Result<ReplicaId, StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let successor = new_replica_id();
            devices::rekey(&tx, caller.device, successor, &token_hash)?;
            tx.commit()?;
            Ok(successor)
        })
        .await
    }

    #[instrument(name = "db.recovery_status", skip_all)]
    async fn recovery_status(&self, org: OrgId) -> Result<RecoveryStatus, StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let now = unix_now();
            let mut status = RecoveryStatus {
                in_recovery: recovery::active(&tx, org, now)?,
                until: recovery::until(&tx, org)?.map(rfc3339),
                accepted: recovery::accepted(&tx, org)?
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
                discarded: recovery::discarded(&tx, org)?,
                ..RecoveryStatus::default()
            };
            let devices = recovery::org_devices(&tx, org)?;
            let held = recovery::all_held(&tx, org)?;
            // Ordered by record: one chunk per record.
            for chunk in held.chunk_by(|a, b| a.0 == b.0) {
                let stored = records::get(&tx, org, chunk[0].0)?;
                let record: Vec<(ReplicaId, &RecordState)> = chunk
                    .iter()
                    .map(|(_, device, state)| (*device, state))
                    .collect();
                for &(device, state) in &record {
                    *status.held.entry(device.to_string()).or_default() += 1;
                    for on in waits_on(stored.as_ref(), state, device, &record, &devices) {
                        *status.waiting_on.entry(on.to_string()).or_default() += 1;
                    }
                }
            }
            tx.commit()?;
            Ok(status)
        })
        .await
    }

    #[instrument(name = "db.recovery_accept", skip_all)]
    async fn recovery_accept(
        &self,
        org: OrgId,
        device: Option<ReplicaId>,
    ) -> Result<(u64, Vec<ServerEdit>), StoreError> {
        let server = self.server_id;
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if !recovery::active(&tx, org, unix_now())? {
                return Ok((0, Vec::new()));
            }
            if let Some(device) = device {
                recovery::accept(&tx, org, device)?;
            }
            let devices = recovery::org_devices(&tx, org)?;
            let (mut edits, mut audited, mut unnamed) = (Vec::new(), Vec::new(), Vec::new());
            let mut releasing = Releasing {
                server,
                edits: &mut edits,
                audited: &mut audited,
                unnamed: &mut unnamed,
            };
            let released = release_all(
                &tx,
                org,
                &devices,
                device.is_none(),
                unix_now(),
                &mut releasing,
            )?;
            audited.insert(0, Entry::recovery_accepted(device, released));
            audit::note(&tx, org, &audited)?;
            // The documents the released states stopped naming go (an edit, or an erasure
            // on release).
            let dropped = blobs::drop_unnamed(&tx, org, Some(&unnamed))?;
            tx.commit()?;
            if dropped > 0 {
                checkpoint_or_warn(conn);
            }
            Ok((released, edits))
        })
        .await
    }

    #[instrument(name = "db.recovery_end", skip_all)]
    async fn recovery_end(&self, org: OrgId) -> Result<Vec<Discarded>, StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let was = recovery::until(&tx, org)?.is_some();
            let discarded = recovery::end(&tx, org, unix_now())?;
            if was {
                audit::note(&tx, org, &[Entry::recovery_ended(discarded.len())])?;
            }
            tx.commit()?;
            Ok(discarded)
        })
        .await
    }

    #[instrument(name = "db.users", skip_all)]
    async fn users(&self) -> Result<Vec<(i64, OrgId, String)>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare("SELECT id, org_id, username FROM users")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    #[instrument(name = "db.journal_key", skip_all)]
    async fn journal_key(&self) -> Result<[u8; 32], StoreError> {
        self.read(|conn| {
            let key: Vec<u8> =
                conn.query_row("SELECT journal_key FROM server", [], |r| r.get(0))?;
            key.try_into()
                .map_err(|_| StoreError::Corrupt("the journal key is not 32 bytes".into()))
        })
        .await
    }

    #[instrument(name = "db.restore_device", skip_all)]
    async fn restore_device(
        &self,
        user_id: i64,
        org: OrgId,
        device: ReplicaId,
        token_hash: [u8; 32],
    ) -> Result<bool, StoreError> {
        self.write(move |conn| devices::restore(conn, user_id, org, device, &token_hash))
            .await
    }

    #[instrument(name = "db.restore_rekey", skip_all)]
    async fn restore_rekey(
        &self,
        predecessor: ReplicaId,
        device: ReplicaId,
        token_hash: [u8; 32],
    ) -> Result<bool, StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let changed = devices::rekey(&tx, predecessor, device, &token_hash)?;
            tx.commit()?;
            Ok(changed)
        })
        .await
    }

    #[instrument(name = "db.erased_macs", skip_all)]
    async fn erased_macs(&self, org: OrgId) -> Result<HashSet<Mac>, StoreError> {
        self.read(move |conn| erased::all(conn, org)).await
    }

    #[instrument(name = "db.record_macs", skip_all)]
    async fn record_macs(&self, org: OrgId) -> Result<HashMap<Mac, RecordId>, StoreError> {
        self.read(move |conn| {
            let key = audit::key(conn, org)?;
            Ok(records::live_ids(conn, org)?
                .into_iter()
                .map(|id| (record_mac_bytes(&key, id), id))
                .collect())
        })
        .await
    }

    #[instrument(name = "db.record_mac", skip_all)]
    async fn record_mac(&self, org: OrgId, id: RecordId) -> Result<Mac, StoreError> {
        self.read(move |conn| Ok(record_mac_bytes(&audit::key(conn, org)?, id)))
            .await
    }

    #[instrument(name = "db.restore_erased", skip_all)]
    async fn restore_erased(
        &self,
        org: OrgId,
        mac: Mac,
        id: Option<RecordId>,
    ) -> Result<bool, StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut unnamed = Vec::new();
            let changed = erasure::restore_erased(&tx, org, mac, id, &mut unnamed)?;
            let dropped = blobs::drop_unnamed(&tx, org, Some(&unnamed))?;
            tx.commit()?;
            if dropped > 0 {
                checkpoint_or_warn(conn);
            }
            Ok(changed)
        })
        .await
    }

    #[instrument(name = "db.restore_edited", skip_all)]
    async fn restore_edited(&self, org: OrgId, state: RecordState) -> Result<bool, StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut unnamed = Vec::new();
            let changed = erasure::restore_edited(&tx, org, state, &mut unnamed)?;
            let dropped = blobs::drop_unnamed(&tx, org, Some(&unnamed))?;
            tx.commit()?;
            if dropped > 0 {
                checkpoint_or_warn(conn);
            }
            Ok(changed)
        })
        .await
    }

    #[instrument(name = "db.backup", skip_all)]
    async fn backup(&self, out: &Path) -> Result<Copied, StoreError> {
        let out = out.to_owned();
        // A reader: the online backup copies every page in one step, inside one read
        // transaction, so the copy is one consistent state while the writer goes on.
        self.read(move |conn| {
            let partial = PartialBackup::start(&out)?;
            let mut target = Connection::open(partial.path())?;
            let done = rusqlite::backup::Backup::new(conn, &mut target)?.step(-1)?;
            if done != rusqlite::backup::StepResult::Done {
                return Err(StoreError::File(
                    "the database stayed busy during the backup: try again".into(),
                ));
            }
            target.pragma_update(None, "journal_mode", "DELETE")?;
            let copied = count(&target)?;
            drop(target);
            partial.finish()?;
            Ok(copied)
        })
        .await
    }

    #[instrument(name = "db.restore", skip_all)]
    async fn restore(&self, from: &Path) -> Result<Copied, StoreError> {
        let from = from.to_owned();
        self.write(move |conn| {
            let copy = WorkingCopy::of(&from)?;
            let source = open_backup(copy.path())?;
            check_backup(&source)?;
            copy_into(&source, conn)
        })
        .await
    }

    #[instrument(name = "db.pull", skip_all)]
    async fn pull_rows(
        &self,
        org: OrgId,
        since: u64,
        limit: u32,
        max_bytes: usize,
    ) -> Result<Vec<PulledRow>, StoreError> {
        self.read(move |conn| records::after(conn, org, since, limit, max_bytes))
            .await
    }

    #[instrument(name = "db.replicas", skip_all)]
    async fn replicas(&self, org: OrgId) -> Result<Vec<(ReplicaId, ReplicaInfo)>, StoreError> {
        self.read(move |conn| devices::of_org(conn, org)).await
    }

    #[instrument(name = "db.erase", skip_all)]
    async fn erase(&self, org: OrgId, id: RecordId) -> Result<Option<Erasure>, StoreError> {
        match self.erase_within(org, id, false, None).await? {
            Capped::Done(erasure) => Ok(Some(erasure)),
            Capped::NotFound | Capped::OverCap(_) => Ok(None),
        }
    }

    #[instrument(name = "db.erase_capped", skip_all)]
    async fn erase_capped(
        &self,
        org: OrgId,
        id: RecordId,
        by: ReplicaId,
    ) -> Result<Capped<Erasure>, StoreError> {
        self.erase_within(org, id, true, Some(by)).await
    }

    #[instrument(name = "db.erase_person", skip_all)]
    async fn erase_person(
        &self,
        org: OrgId,
        person: RecordId,
        dry_run: bool,
        capped: Option<ReplicaId>,
    ) -> Result<Capped<PersonErasure>, StoreError> {
        let server = self.server_id;
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut unnamed = Vec::new();
            let done =
                erasure::erase_person(&tx, org, person, dry_run, capped, server, &mut unnamed)?;
            if dry_run || !matches!(done, Capped::Done(_)) {
                // Nothing written: rolled back.
                return Ok(done);
            }
            // The documents of their attachments go with them (§5, §6b).
            blobs::drop_unnamed(&tx, org, Some(&unnamed))?;
            tx.commit()?;
            checkpoint_or_warn(conn);
            Ok(done)
        })
        .await
    }

    #[instrument(name = "db.records_of_kind", skip_all)]
    async fn records_of_kind(
        &self,
        org: OrgId,
        kind: &str,
    ) -> Result<Vec<RecordState>, StoreError> {
        let kind = kind.to_owned();
        self.read(move |conn| records::of_kind(conn, org, &kind))
            .await
    }

    #[instrument(name = "db.audit", skip_all)]
    async fn audit(&self, org: OrgId, filter: Filter) -> Result<Vec<Stored>, StoreError> {
        self.read(move |conn| audit::read(conn, org, &filter)).await
    }

    #[instrument(name = "db.org_id", skip_all)]
    async fn org_id(&self, name: &str) -> Result<Option<OrgId>, StoreError> {
        let name = name.to_owned();
        self.read(move |conn| orgs::find(conn, &name)).await
    }

    #[instrument(name = "db.devices", skip_all)]
    async fn devices(&self) -> Result<Vec<DeviceRow>, StoreError> {
        self.read(|conn| devices::all(conn)).await
    }

    #[instrument(name = "db.revoke", skip_all)]
    async fn revoke(&self, id: ReplicaId) -> Result<bool, StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let Some((org, revoked)) = devices::org_of(&tx, id)? else {
                return Ok(false);
            };
            // Only a change is audited: the journal applies its revocations again at
            // every start.
            if !revoked {
                devices::revoke(&tx, id)?;
                audit::note(&tx, org, &[Entry::revoked(id)])?;
            }
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    #[instrument(name = "db.blob", skip_all)]
    async fn blob(&self, org: OrgId, sha256: &str) -> Result<Option<Blob>, StoreError> {
        let sha256 = sha256.to_owned();
        self.read(move |conn| blobs::get(conn, org, &sha256)).await
    }

    #[instrument(name = "db.put_blob_chunk", skip_all, fields(bytes = chunk.data.len()))]
    async fn put_blob_chunk(
        &self,
        org: OrgId,
        chunk: Chunk,
        quota: u64,
    ) -> Result<Put, StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let (put, deleted) = blobs::put_chunk(&tx, org, &chunk, quota, unix_now())?;
            tx.commit()?;
            if deleted {
                checkpoint_or_warn(conn);
            }
            Ok(put)
        })
        .await
    }

    #[instrument(name = "db.blob_pieces", skip_all)]
    async fn blob_pieces(&self, org: OrgId, sha256: &str) -> Result<Vec<Piece>, StoreError> {
        let sha256 = sha256.to_owned();
        self.read(move |conn| blobs::pieces(conn, org, &sha256))
            .await
    }

    #[instrument(name = "db.read_blob", skip_all)]
    async fn read_blob(
        &self,
        org: OrgId,
        sha256: &str,
        read: Read,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let sha256 = sha256.to_owned();
        self.read(move |conn| blobs::read(conn, org, &sha256, read))
            .await
    }

    #[instrument(name = "db.blob_usage", skip_all)]
    async fn blob_usage(&self, org: OrgId) -> Result<Usage, StoreError> {
        self.read(move |conn| blobs::usage(conn, org)).await
    }

    #[instrument(name = "db.sweep_blobs", skip_all)]
    async fn sweep_blobs(&self, stale_before: i64) -> Result<Swept, StoreError> {
        let mut swept = Swept::default();
        for org in self.read(|conn| blobs::orgs(conn)).await? {
            // One write transaction per organisation: pushes and uploads of the others go
            // on between them.
            let (stale, unnamed) = self
                .write(move |conn| {
                    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                    let stale = blobs::drop_stale(&tx, org, stale_before)?;
                    let unnamed = blobs::drop_unnamed(&tx, org, None)?;
                    tx.commit()?;
                    Ok::<_, StoreError>((stale, unnamed))
                })
                .await?;
            swept.stale += stale;
            swept.unnamed += unnamed;
        }
        if swept.stale + swept.unnamed > 0 {
            self.write(|conn| {
                checkpoint_or_warn(conn);
                Ok::<_, StoreError>(())
            })
            .await?;
        }
        Ok(swept)
    }
}
