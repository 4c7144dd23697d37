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

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rusqlite::{Connection, TransactionBehavior};
use sync_protocol::wire::{PushResult, PushStatus, ReplicaInfo};
use sync_protocol::{RecordId, RecordState, ReplicaId};
use tracing::instrument;

use super::{
    Caller, Capped, DeviceRow, Enrolled, Enrolment, ErasePlan, Login, OrgId, Planned, PulledRow,
    PushError, PushOutcome, Role, Store, StoreError, TokenOwner, new_replica_id, parse_replica,
    plan_erasure, plan_push, unix_now,
};

mod devices;
mod erasures;
mod orgs;
mod records;
mod users;

/// The migrations, in order; the database's `user_version` is how many are applied.
const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/sqlite/0001_init.sql"),
    include_str!("../../../migrations/sqlite/0002_user_disabled.sql"),
    include_str!("../../../migrations/sqlite/0003_erasures.sql"),
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
    tx.commit()?;
    Ok(())
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
    ) -> Result<Capped, StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let last_seq = orgs::last_seq(&tx, org)?;
            let now = unix_now();
            let recent = match capped {
                true => Some(erasures::since(&tx, org, now - 3600)?),
                false => None,
            };
            let stored = records::get(&tx, org, id)?;
            let (seq, erased) = match plan_erasure(stored, last_seq, recent.as_deref(), now) {
                ErasePlan::Answer(answer) => return Ok(answer),
                ErasePlan::Write { seq, state } => (seq, state),
            };
            records::put(&tx, org, seq, &erased, None)?;
            orgs::set_last_seq(&tx, org, seq)?;
            if capped {
                erasures::note(&tx, org, now)?;
            }
            tx.commit()?;
            // Copy the zeroed pages into the file and empty the WAL, so no frame of the
            // erased content stays beside it.
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            Ok(Capped::Erased(seq))
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
        self.write(move |conn| users::set_disabled(conn, &username, disabled))
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
            match devices::owner(&tx, id)? {
                Some((user, revoked)) if user != e.user_id || revoked => {
                    return Ok(Enrolled::Taken);
                }
                Some(_) => devices::replace_token(&tx, id, &e)?,
                None => devices::insert(&tx, id, &e)?,
            }
            tx.commit()?;
            Ok(Enrolled::Device(id))
        })
        .await
    }

    #[instrument(name = "db.caller", skip_all)]
    async fn caller(&self, token_hash: [u8; 32]) -> Result<TokenOwner, StoreError> {
        self.read(move |conn| devices::by_token(conn, &token_hash))
            .await
    }

    #[instrument(name = "db.push", skip_all, fields(records = records.len()))]
    async fn push(
        &self,
        caller: Caller,
        records: Vec<RecordState>,
    ) -> Result<PushOutcome, PushError> {
        self.write(move |conn| {
            // BEGIN IMMEDIATE takes SQLite's write lock at once: the counter read below
            // and the stored copies the forged-dot check reads cannot change before commit.
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(StoreError::from)?;
            let mut seq = orgs::last_seq(&tx, caller.org)?;
            let stored = records
                .iter()
                .map(|r| records::get(&tx, caller.org, r.id()))
                .collect::<Result<Vec<_>, _>>()?;
            let plan = plan_push(&records, &stored, caller.device)?;
            let device = caller.device.to_string();
            let mut results = Vec::with_capacity(records.len());
            for (record, planned) in records.iter().zip(plan) {
                let status = match planned {
                    Planned::Unchanged => PushStatus::Unchanged,
                    Planned::Write {
                        state,
                        status,
                        exact,
                    } => {
                        seq += 1;
                        records::put(&tx, caller.org, seq, &state, exact.then_some(&*device))?;
                        status
                    }
                };
                results.push(PushResult {
                    id: record.id(),
                    status,
                });
            }
            orgs::set_last_seq(&tx, caller.org, seq)?;
            tx.commit().map_err(StoreError::from)?;
            Ok(PushOutcome {
                server_seq: seq,
                results,
            })
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
    async fn erase(&self, org: OrgId, id: RecordId) -> Result<Option<u64>, StoreError> {
        match self.erase_within(org, id, false).await? {
            Capped::Erased(seq) => Ok(Some(seq)),
            Capped::NotFound | Capped::OverCap(_) => Ok(None),
        }
    }

    #[instrument(name = "db.erase_capped", skip_all)]
    async fn erase_capped(&self, org: OrgId, id: RecordId) -> Result<Capped, StoreError> {
        self.erase_within(org, id, true).await
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
        self.write(move |conn| devices::revoke(conn, id)).await
    }
}
