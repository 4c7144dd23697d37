//! The PostgreSQL backend: for many teams, several server processes, replicated set-ups.
//!
//! Sequences: every write to an organisation's records starts with
//! `SELECT last_seq FROM orgs WHERE id = $1 FOR UPDATE`. The row lock is held until the
//! transaction ends, so writers of one organisation run one after the other and commit in
//! the order of the sequences they hand out. PostgreSQL makes a transaction visible
//! before it releases its locks, so once a reader sees sequence n, every lower sequence
//! is committed too: a pull never skips a change, even with several server processes.
//! The forged-dot and no-drop checks read the stored copies under the same lock.
//!
//! The SQL lives in one module per table; this one holds the pool, the migrations and
//! the transactions that compose them.

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use sync_protocol::wire::{PushResult, PushStatus, ReplicaInfo};
use sync_protocol::{RecordId, RecordState, ReplicaId};
use tokio_postgres::NoTls;
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

/// The migrations, in order; `schema_version.version` is how many are applied.
const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/postgres/0001_init.sql"),
    include_str!("../../../migrations/postgres/0002_user_disabled.sql"),
    include_str!("../../../migrations/postgres/0003_erasures.sql"),
];

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

impl PgStore {
    /// An erasure, capped per hour when `capped` (HTTP), counted under the organisation's
    /// row lock, so every server process shares the count.
    async fn erase_within(
        &self,
        org: OrgId,
        id: RecordId,
        capped: bool,
    ) -> Result<Capped, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let last_seq = orgs::lock_last_seq(&tx, org).await?;
        let now = unix_now();
        let recent = match capped {
            true => Some(erasures::since(&tx, org, now - 3600).await?),
            false => None,
        };
        let stored = records::get_many(&tx, org, &[id.to_string()])
            .await?
            .into_values()
            .next();
        let (seq, erased) = match plan_erasure(stored, last_seq, recent.as_deref(), now) {
            ErasePlan::Answer(answer) => return Ok(answer),
            ErasePlan::Write { seq, state } => (seq, state),
        };
        records::put_many(&tx, org, &[(seq, erased, None)]).await?;
        orgs::set_last_seq(&tx, org, seq).await?;
        if capped {
            erasures::note(&tx, org, now).await?;
        }
        tx.commit().await?;
        Ok(Capped::Erased(seq))
    }
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
        let org = orgs::ensure(&tx, org).await?;
        if !users::insert(&tx, org, username, password_hash, role).await? {
            return Err(StoreError::UsernameTaken);
        }
        tx.commit().await?;
        Ok(())
    }

    #[instrument(name = "db.set_password", skip_all)]
    async fn set_password(&self, username: &str, password_hash: &str) -> Result<bool, StoreError> {
        users::set_password(&self.client().await?, username, password_hash).await
    }

    #[instrument(name = "db.set_disabled", skip_all)]
    async fn set_disabled(&self, username: &str, disabled: bool) -> Result<bool, StoreError> {
        users::set_disabled(&self.client().await?, username, disabled).await
    }

    #[instrument(name = "db.login", skip_all)]
    async fn login(&self, username: &str) -> Result<Option<Login>, StoreError> {
        users::login(&self.client().await?, username).await
    }

    #[instrument(name = "db.enrol", skip_all)]
    async fn enrol(&self, e: Enrolment) -> Result<Enrolled, StoreError> {
        let id = e.device_id.unwrap_or_else(new_replica_id);
        if id == self.server_id {
            return Ok(Enrolled::Taken);
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        match devices::lock_owner(&tx, id).await? {
            Some((user, revoked)) if user != e.user_id || revoked => return Ok(Enrolled::Taken),
            Some(_) => devices::replace_token(&tx, id, &e).await?,
            None => {
                if !devices::insert(&tx, id, &e).await? {
                    return Ok(Enrolled::Taken);
                }
            }
        }
        tx.commit().await?;
        Ok(Enrolled::Device(id))
    }

    #[instrument(name = "db.caller", skip_all)]
    async fn caller(&self, token_hash: [u8; 32]) -> Result<TokenOwner, StoreError> {
        devices::by_token(&self.client().await?, &token_hash).await
    }

    #[instrument(name = "db.push", skip_all, fields(records = records.len()))]
    async fn push(
        &self,
        caller: Caller,
        records: Vec<RecordState>,
    ) -> Result<PushOutcome, PushError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(StoreError::from)?;
        // First, the organisation's counter row: held until commit (see the module doc).
        let mut seq = orgs::lock_last_seq(&tx, caller.org).await?;
        let ids: Vec<String> = records.iter().map(|r| r.id().to_string()).collect();
        let mut by_id = records::get_many(&tx, caller.org, &ids).await?;
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
        records::put_many(&tx, caller.org, &writes).await?;
        orgs::set_last_seq(&tx, caller.org, seq).await?;
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
        max_bytes: usize,
    ) -> Result<Vec<PulledRow>, StoreError> {
        records::after(&self.client().await?, org, since, limit, max_bytes).await
    }

    #[instrument(name = "db.replicas", skip_all)]
    async fn replicas(&self, org: OrgId) -> Result<Vec<(ReplicaId, ReplicaInfo)>, StoreError> {
        devices::of_org(&self.client().await?, org).await
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
        orgs::find(&self.client().await?, name).await
    }

    #[instrument(name = "db.devices", skip_all)]
    async fn devices(&self) -> Result<Vec<DeviceRow>, StoreError> {
        devices::all(&self.client().await?).await
    }

    #[instrument(name = "db.revoke", skip_all)]
    async fn revoke(&self, id: ReplicaId) -> Result<bool, StoreError> {
        devices::revoke(&self.client().await?, id).await
    }
}
