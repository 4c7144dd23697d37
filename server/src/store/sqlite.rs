//! The SQLite backend: one file, zero set-up, for a small organisation.
//!
//! rusqlite is blocking, so every call runs on tokio's blocking pool. One connection
//! writes (every write transaction is `BEGIN IMMEDIATE`, so the organisation's counter
//! is read and advanced under SQLite's single write lock); a few others read. WAL lets the
//! reader and the command line work while the server writes; `synchronous = FULL` makes
//! a commit durable before a push is answered. SQLite is linked as SQLCipher, and a
//! database opened without a key is plain SQLite.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use sync_protocol::wire::{PushResult, PushStatus, ReplicaInfo};
use sync_protocol::{RecordId, RecordState, ReplicaId};
use tracing::instrument;

use super::{
    Caller, DeviceRow, Enrolled, Enrolment, Login, OrgId, Planned, PulledRow, PushError,
    PushOutcome, Role, Store, StoreError, new_replica_id, now_rfc3339, parse_replica, parse_stored,
    plan_push,
};

/// The migrations, in order; the database's `user_version` is how many are applied.
const MIGRATIONS: &[&str] = &[include_str!("../../migrations/sqlite/0001_init.sql")];

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

fn connect(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
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

/// Locks the organisation's counter row (SQLite: the write lock of `BEGIN IMMEDIATE`
/// already serialises writers) and reads it.
fn last_seq(tx: &rusqlite::Transaction<'_>, org: OrgId) -> Result<u64, StoreError> {
    let seq: i64 = tx.query_row("SELECT last_seq FROM orgs WHERE id = ?1", [org], |r| {
        r.get(0)
    })?;
    seq_of(seq)
}

fn stored_state(
    tx: &rusqlite::Transaction<'_>,
    org: OrgId,
    id: RecordId,
) -> Result<Option<RecordState>, StoreError> {
    let text: Option<String> = tx
        .prepare_cached("SELECT state FROM records WHERE org_id = ?1 AND id = ?2")?
        .query_row(params![org, id.to_string()], |r| r.get(0))
        .optional()?;
    text.as_deref().map(parse_stored).transpose()
}

fn write_state(
    tx: &rusqlite::Transaction<'_>,
    org: OrgId,
    seq: u64,
    state: &RecordState,
    pushed_by: Option<&str>,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO records (org_id, id, seq, kind, state, pushed_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (org_id, id) DO UPDATE
         SET seq = excluded.seq, state = excluded.state, pushed_by = excluded.pushed_by",
    )?
    .execute(params![
        org,
        state.id().to_string(),
        seq_to_sql(seq),
        state.kind().as_str(),
        state.to_json(),
        pushed_by
    ])?;
    Ok(())
}

fn set_last_seq(tx: &rusqlite::Transaction<'_>, org: OrgId, seq: u64) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE orgs SET last_seq = ?2 WHERE id = ?1",
        params![org, seq_to_sql(seq)],
    )?;
    Ok(())
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
            let taken: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM users WHERE username = ?1)",
                [&username],
                |r| r.get(0),
            )?;
            if taken {
                return Err(StoreError::UsernameTaken);
            }
            tx.execute(
                "INSERT INTO orgs (name) VALUES (?1) ON CONFLICT (name) DO NOTHING",
                [&org],
            )?;
            let org_id: i64 =
                tx.query_row("SELECT id FROM orgs WHERE name = ?1", [&org], |r| r.get(0))?;
            tx.execute(
                "INSERT INTO users (org_id, username, password_hash, role) VALUES (?1, ?2, ?3, ?4)",
                params![org_id, username, hash, role.as_str()],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    #[instrument(name = "db.set_password", skip_all)]
    async fn set_password(&self, username: &str, password_hash: &str) -> Result<bool, StoreError> {
        let (username, hash) = (username.to_owned(), password_hash.to_owned());
        self.write(move |conn| {
            let changed = conn.execute(
                "UPDATE users SET password_hash = ?2 WHERE username = ?1",
                params![username, hash],
            )?;
            Ok(changed > 0)
        })
        .await
    }

    #[instrument(name = "db.login", skip_all)]
    async fn login(&self, username: &str) -> Result<Option<Login>, StoreError> {
        let username = username.to_owned();
        self.read(move |conn| {
            Ok(conn
                .query_row(
                    "SELECT users.id, users.org_id, orgs.name, users.password_hash
                     FROM users JOIN orgs ON orgs.id = users.org_id
                     WHERE users.username = ?1",
                    [&username],
                    |r| {
                        Ok(Login {
                            user_id: r.get(0)?,
                            org: r.get(1)?,
                            org_name: r.get(2)?,
                            password_hash: r.get(3)?,
                        })
                    },
                )
                .optional()?)
        })
        .await
    }

    #[instrument(name = "db.enrol", skip_all)]
    async fn enrol(&self, e: Enrolment) -> Result<Enrolled, StoreError> {
        let server_id = self.server_id;
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let id = e.device_id.unwrap_or_else(new_replica_id);
            if id == server_id {
                return Ok(Enrolled::Taken);
            }
            let existing: Option<(i64, bool)> = tx
                .query_row(
                    "SELECT user_id, revoked FROM devices WHERE id = ?1",
                    [id.to_string()],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            match existing {
                Some((user, revoked)) if user != e.user_id || revoked => {
                    return Ok(Enrolled::Taken);
                }
                Some(_) => {
                    tx.execute(
                        "UPDATE devices SET token_hash = ?2, name = ?3, enrolled_at = ?4
                         WHERE id = ?1",
                        params![
                            id.to_string(),
                            &e.token_hash[..],
                            e.device_name,
                            now_rfc3339()
                        ],
                    )?;
                }
                None => {
                    tx.execute(
                        "INSERT INTO devices (id, user_id, org_id, name, token_hash, enrolled_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        params![
                            id.to_string(),
                            e.user_id,
                            e.org,
                            e.device_name,
                            &e.token_hash[..],
                            now_rfc3339()
                        ],
                    )?;
                }
            }
            tx.commit()?;
            Ok(Enrolled::Device(id))
        })
        .await
    }

    #[instrument(name = "db.caller", skip_all)]
    async fn caller(&self, token_hash: [u8; 32]) -> Result<Option<Caller>, StoreError> {
        self.read(move |conn| {
            let row: Option<(String, i64, String)> = conn
                .prepare_cached(
                    "SELECT devices.id, devices.org_id, users.role
                     FROM devices JOIN users ON users.id = devices.user_id
                     WHERE devices.token_hash = ?1 AND NOT devices.revoked",
                )?
                .query_row([&token_hash[..]], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()?;
            row.map(|(device, org, role)| {
                Ok(Caller {
                    device: parse_replica(&device)?,
                    org,
                    role: Role::parse(&role)?,
                })
            })
            .transpose()
        })
        .await
    }

    #[instrument(name = "db.push", skip_all, fields(records = records.len()))]
    async fn push(
        &self,
        caller: Caller,
        records: Vec<RecordState>,
    ) -> Result<PushOutcome, PushError> {
        self.write(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(StoreError::from)?;
            let mut seq = last_seq(&tx, caller.org)?;
            let stored = records
                .iter()
                .map(|r| stored_state(&tx, caller.org, r.id()))
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
                        write_state(&tx, caller.org, seq, &state, exact.then_some(&*device))?;
                        status
                    }
                };
                results.push(PushResult {
                    id: record.id(),
                    status,
                });
            }
            set_last_seq(&tx, caller.org, seq)?;
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
    ) -> Result<Vec<PulledRow>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT seq, state, pushed_by FROM records
                 WHERE org_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
            )?;
            let rows = stmt
                .query_map(params![org, seq_to_sql(since), i64::from(limit) + 1], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get(1)?, r.get(2)?))
                })?;
            rows.map(|row| {
                let (seq, state, pushed_by) = row?;
                Ok(PulledRow {
                    seq: seq_of(seq)?,
                    state,
                    pushed_by,
                })
            })
            .collect()
        })
        .await
    }

    #[instrument(name = "db.replicas", skip_all)]
    async fn replicas(&self, org: OrgId) -> Result<Vec<(ReplicaId, ReplicaInfo)>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT devices.id, devices.name, users.username
                 FROM devices JOIN users ON users.id = devices.user_id
                 WHERE devices.org_id = ?1",
            )?;
            let rows = stmt.query_map([org], |r| {
                Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?))
            })?;
            rows.map(|row| {
                let (id, device_name, user) = row?;
                Ok((parse_replica(&id)?, ReplicaInfo { device_name, user }))
            })
            .collect()
        })
        .await
    }

    #[instrument(name = "db.erase", skip_all)]
    async fn erase(&self, org: OrgId, id: RecordId) -> Result<Option<u64>, StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let seq = last_seq(&tx, org)?;
            let Some(stored) = stored_state(&tx, org, id)? else {
                return Ok(None);
            };
            if stored.is_erased() {
                return Ok(Some(seq));
            }
            let seq = seq + 1;
            write_state(&tx, org, seq, &stored.erase(), None)?;
            set_last_seq(&tx, org, seq)?;
            tx.commit()?;
            Ok(Some(seq))
        })
        .await
    }

    #[instrument(name = "db.org_id", skip_all)]
    async fn org_id(&self, name: &str) -> Result<Option<OrgId>, StoreError> {
        let name = name.to_owned();
        self.read(move |conn| {
            Ok(conn
                .query_row("SELECT id FROM orgs WHERE name = ?1", [&name], |r| r.get(0))
                .optional()?)
        })
        .await
    }

    #[instrument(name = "db.devices", skip_all)]
    async fn devices(&self) -> Result<Vec<DeviceRow>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT devices.id, orgs.name, users.username, devices.name, devices.revoked,
                        devices.enrolled_at
                 FROM devices JOIN users ON users.id = devices.user_id
                 JOIN orgs ON orgs.id = devices.org_id
                 ORDER BY orgs.name, users.username, devices.enrolled_at",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(DeviceRow {
                    id: r.get(0)?,
                    org: r.get(1)?,
                    user: r.get(2)?,
                    name: r.get(3)?,
                    revoked: r.get(4)?,
                    enrolled_at: r.get(5)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    #[instrument(name = "db.revoke", skip_all)]
    async fn revoke(&self, id: ReplicaId) -> Result<bool, StoreError> {
        self.write(move |conn| {
            let changed = conn.execute(
                "UPDATE devices SET revoked = 1 WHERE id = ?1",
                [id.to_string()],
            )?;
            Ok(changed > 0)
        })
        .await
    }
}
