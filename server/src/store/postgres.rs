//! The PostgreSQL backend: for many teams, several server processes, replicated set-ups.
//!
//! Sequences: every write to an organisation's records starts with
//! `SELECT last_seq FROM orgs WHERE id = $1 FOR UPDATE`. The row lock is held until the
//! transaction ends, so writers of one organisation run one after the other and commit in
//! the order of the sequences they hand out. PostgreSQL makes a transaction visible
//! before it releases its locks, so once a reader sees sequence n, every lower sequence
//! is committed too: a pull never skips a change, even with several server processes.
//! The forged-dot check reads the stored copies under the same lock.

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use sync_protocol::wire::{PushResult, PushStatus, ReplicaInfo};
use sync_protocol::{RecordId, RecordState, ReplicaId};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;
use tracing::instrument;

use super::{
    Caller, DeviceRow, Enrolled, Enrolment, Login, OrgId, Planned, PulledRow, PushError,
    PushOutcome, Role, Store, StoreError, new_replica_id, now_rfc3339, parse_replica, parse_stored,
    plan_push,
};

/// The migrations, in order; `schema_version.version` is how many are applied.
const MIGRATIONS: &[&str] = &[include_str!("../../migrations/postgres/0001_init.sql")];

/// Any constant: the advisory lock that keeps two processes from migrating at once.
const MIGRATION_LOCK: i64 = 0x7061_7373_6572;

/// The PostgreSQL store.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    server_id: ReplicaId,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("server_id", &self.server_id)
            .finish_non_exhaustive()
    }
}

fn seq_of(value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt("a negative sequence".into()))
}

fn seq_to_sql(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn pool_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::Pool(e.to_string())
}

impl PgStore {
    /// Connects to `url` and applies the migrations.
    #[instrument(name = "db.open", skip_all)]
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let config: tokio_postgres::Config = url.parse()?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(16)
            .build()
            .map_err(pool_error)?;
        let mut client = pool.get().await.map_err(pool_error)?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
            .await?;
        let version: i64 = tx
            .query_opt("SELECT version FROM schema_version", &[])
            .await?
            .map_or(0, |r| r.get(0));
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
            tx.batch_execute(sql).await?;
        }
        tx.execute("DELETE FROM schema_version", &[]).await?;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES ($1)",
            &[&known],
        )
        .await?;
        tx.execute(
            "INSERT INTO server (singleton, server_id) VALUES (1, $1) ON CONFLICT DO NOTHING",
            &[&new_replica_id().to_string()],
        )
        .await?;
        let server_id: String = tx
            .query_one("SELECT server_id FROM server", &[])
            .await?
            .get(0);
        tx.commit().await?;
        drop(client);
        Ok(Self {
            pool,
            server_id: parse_replica(&server_id)?,
        })
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(pool_error)
    }
}

/// Locks the organisation's counter row until the transaction ends, and reads it.
async fn lock_last_seq(
    tx: &deadpool_postgres::Transaction<'_>,
    org: OrgId,
) -> Result<u64, StoreError> {
    let row = tx
        .query_one(
            "SELECT last_seq FROM orgs WHERE id = $1 FOR UPDATE",
            &[&org],
        )
        .await?;
    seq_of(row.get(0))
}

async fn set_last_seq(
    tx: &deadpool_postgres::Transaction<'_>,
    org: OrgId,
    seq: u64,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE orgs SET last_seq = $2 WHERE id = $1",
        &[&org, &seq_to_sql(seq)],
    )
    .await?;
    Ok(())
}

/// Writes states, each with its sequence, in one statement.
async fn write_states(
    tx: &deadpool_postgres::Transaction<'_>,
    org: OrgId,
    rows: &[(u64, RecordState, Option<String>)],
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = rows.iter().map(|(_, s, _)| s.id().to_string()).collect();
    let seqs: Vec<i64> = rows.iter().map(|(q, _, _)| seq_to_sql(*q)).collect();
    let kinds: Vec<String> = rows.iter().map(|(_, s, _)| s.kind().to_string()).collect();
    let states: Vec<String> = rows.iter().map(|(_, s, _)| s.to_json()).collect();
    let by: Vec<Option<String>> = rows.iter().map(|(_, _, b)| b.clone()).collect();
    tx.execute(
        "INSERT INTO records (org_id, id, seq, kind, state, pushed_by)
         SELECT $1::bigint, * FROM UNNEST($2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[])
         ON CONFLICT (org_id, id) DO UPDATE
         SET seq = excluded.seq, state = excluded.state, pushed_by = excluded.pushed_by",
        &[&org, &ids, &seqs, &kinds, &states, &by],
    )
    .await?;
    Ok(())
}

impl Store for PgStore {
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
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "INSERT INTO orgs (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
            &[&org],
        )
        .await?;
        let org_id: i64 = tx
            .query_one("SELECT id FROM orgs WHERE name = $1", &[&org])
            .await?
            .get(0);
        let inserted = tx
            .execute(
                "INSERT INTO users (org_id, username, password_hash, role)
                 VALUES ($1, $2, $3, $4) ON CONFLICT (username) DO NOTHING",
                &[&org_id, &username, &password_hash, &role.as_str()],
            )
            .await?;
        if inserted == 0 {
            return Err(StoreError::UsernameTaken);
        }
        tx.commit().await?;
        Ok(())
    }

    #[instrument(name = "db.set_password", skip_all)]
    async fn set_password(&self, username: &str, password_hash: &str) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let changed = client
            .execute(
                "UPDATE users SET password_hash = $2 WHERE username = $1",
                &[&username, &password_hash],
            )
            .await?;
        Ok(changed > 0)
    }

    #[instrument(name = "db.login", skip_all)]
    async fn login(&self, username: &str) -> Result<Option<Login>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT users.id, users.org_id, orgs.name, users.password_hash
                 FROM users JOIN orgs ON orgs.id = users.org_id
                 WHERE users.username = $1",
                &[&username],
            )
            .await?;
        Ok(row.map(|r| Login {
            user_id: r.get(0),
            org: r.get(1),
            org_name: r.get(2),
            password_hash: r.get(3),
        }))
    }

    #[instrument(name = "db.enrol", skip_all)]
    async fn enrol(&self, e: Enrolment) -> Result<Enrolled, StoreError> {
        let id = e.device_id.unwrap_or_else(new_replica_id);
        if id == self.server_id {
            return Ok(Enrolled::Taken);
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let existing = tx
            .query_opt(
                "SELECT user_id, revoked FROM devices WHERE id = $1 FOR UPDATE",
                &[&id.to_string()],
            )
            .await?;
        let token_hash: &[u8] = &e.token_hash;
        match existing.map(|r| (r.get::<_, i64>(0), r.get::<_, bool>(1))) {
            Some((user, revoked)) if user != e.user_id || revoked => return Ok(Enrolled::Taken),
            Some(_) => {
                tx.execute(
                    "UPDATE devices SET token_hash = $2, name = $3, enrolled_at = $4 WHERE id = $1",
                    &[&id.to_string(), &token_hash, &e.device_name, &now_rfc3339()],
                )
                .await?;
            }
            None => {
                let inserted = tx
                    .execute(
                        "INSERT INTO devices (id, user_id, org_id, name, token_hash, enrolled_at)
                         VALUES ($1, $2, $3, $4, $5, $6)",
                        &[
                            &id.to_string(),
                            &e.user_id,
                            &e.org,
                            &e.device_name,
                            &token_hash,
                            &now_rfc3339(),
                        ],
                    )
                    .await;
                match inserted {
                    Ok(_) => {}
                    // Another enrolment of the same id committed first.
                    Err(err) if err.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                        return Ok(Enrolled::Taken);
                    }
                    Err(err) => return Err(err.into()),
                }
            }
        }
        tx.commit().await?;
        Ok(Enrolled::Device(id))
    }

    #[instrument(name = "db.caller", skip_all)]
    async fn caller(&self, token_hash: [u8; 32]) -> Result<Option<Caller>, StoreError> {
        let client = self.client().await?;
        let hash: &[u8] = &token_hash;
        let row = client
            .query_opt(
                "SELECT devices.id, devices.org_id, users.role
                 FROM devices JOIN users ON users.id = devices.user_id
                 WHERE devices.token_hash = $1 AND NOT devices.revoked",
                &[&hash],
            )
            .await?;
        row.map(|r| {
            Ok(Caller {
                device: parse_replica(r.get(0))?,
                org: r.get(1),
                role: Role::parse(r.get(2))?,
            })
        })
        .transpose()
    }

    #[instrument(name = "db.push", skip_all, fields(records = records.len()))]
    async fn push(
        &self,
        caller: Caller,
        records: Vec<RecordState>,
    ) -> Result<PushOutcome, PushError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(StoreError::from)?;
        let mut seq = lock_last_seq(&tx, caller.org).await?;
        let ids: Vec<String> = records.iter().map(|r| r.id().to_string()).collect();
        let rows = tx
            .query(
                "SELECT id, state FROM records WHERE org_id = $1 AND id = ANY($2)",
                &[&caller.org, &ids],
            )
            .await
            .map_err(StoreError::from)?;
        let mut by_id = std::collections::HashMap::with_capacity(rows.len());
        for row in rows {
            let id: String = row.get(0);
            by_id.insert(id, parse_stored(row.get(1))?);
        }
        let stored: Vec<Option<RecordState>> = ids.iter().map(|id| by_id.remove(id)).collect();
        let plan = plan_push(&records, &stored, caller.device)?;
        let device = caller.device.to_string();
        let mut writes = Vec::new();
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
                    writes.push((seq, state, exact.then(|| device.clone())));
                    status
                }
            };
            results.push(PushResult {
                id: record.id(),
                status,
            });
        }
        write_states(&tx, caller.org, &writes).await?;
        set_last_seq(&tx, caller.org, seq).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(PushOutcome {
            server_seq: seq,
            results,
        })
    }

    #[instrument(name = "db.pull", skip_all)]
    async fn pull_rows(
        &self,
        org: OrgId,
        since: u64,
        limit: u32,
    ) -> Result<Vec<PulledRow>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT seq, state, pushed_by FROM records
                 WHERE org_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                &[&org, &seq_to_sql(since), &(i64::from(limit) + 1)],
            )
            .await?;
        rows.into_iter()
            .map(|r| {
                Ok(PulledRow {
                    seq: seq_of(r.get(0))?,
                    state: r.get(1),
                    pushed_by: r.get(2),
                })
            })
            .collect()
    }

    #[instrument(name = "db.replicas", skip_all)]
    async fn replicas(&self, org: OrgId) -> Result<Vec<(ReplicaId, ReplicaInfo)>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT devices.id, devices.name, users.username
                 FROM devices JOIN users ON users.id = devices.user_id
                 WHERE devices.org_id = $1",
                &[&org],
            )
            .await?;
        rows.into_iter()
            .map(|r| {
                Ok((
                    parse_replica(r.get(0))?,
                    ReplicaInfo {
                        device_name: r.get(1),
                        user: r.get(2),
                    },
                ))
            })
            .collect()
    }

    #[instrument(name = "db.erase", skip_all)]
    async fn erase(&self, org: OrgId, id: RecordId) -> Result<Option<u64>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let seq = lock_last_seq(&tx, org).await?;
        let row = tx
            .query_opt(
                "SELECT state FROM records WHERE org_id = $1 AND id = $2",
                &[&org, &id.to_string()],
            )
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let stored = parse_stored(row.get(0))?;
        if stored.is_erased() {
            return Ok(Some(seq));
        }
        let seq = seq + 1;
        write_states(&tx, org, &[(seq, stored.erase(), None)]).await?;
        set_last_seq(&tx, org, seq).await?;
        tx.commit().await?;
        Ok(Some(seq))
    }

    #[instrument(name = "db.org_id", skip_all)]
    async fn org_id(&self, name: &str) -> Result<Option<OrgId>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt("SELECT id FROM orgs WHERE name = $1", &[&name])
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    #[instrument(name = "db.devices", skip_all)]
    async fn devices(&self) -> Result<Vec<DeviceRow>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT devices.id, orgs.name, users.username, devices.name, devices.revoked,
                        devices.enrolled_at
                 FROM devices JOIN users ON users.id = devices.user_id
                 JOIN orgs ON orgs.id = devices.org_id
                 ORDER BY orgs.name, users.username, devices.enrolled_at",
                &[],
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| DeviceRow {
                id: r.get(0),
                org: r.get(1),
                user: r.get(2),
                name: r.get(3),
                revoked: r.get(4),
                enrolled_at: r.get(5),
            })
            .collect())
    }

    #[instrument(name = "db.revoke", skip_all)]
    async fn revoke(&self, id: ReplicaId) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let changed = client
            .execute(
                "UPDATE devices SET revoked = TRUE WHERE id = $1",
                &[&id.to_string()],
            )
            .await?;
        Ok(changed > 0)
    }
}
