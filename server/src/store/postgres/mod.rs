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

use std::collections::{HashMap, HashSet};
use std::path::Path;

use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod};
use sync_protocol::wire::{PushResult, PushStatus, ReplicaInfo};
use sync_protocol::{Epoch, RecordId, RecordState, ReplicaId};
use tokio_postgres::{IsolationLevel, NoTls};
use tracing::{instrument, warn};

use super::audit::{Entry, Filter, Stored, record_mac_bytes};
use super::backup::{self, Page, SERVER, TABLES};
use super::blobs::{Blob, Chunk, Piece, Put, Read, Swept, Usage};
use super::erased::{absorb, on_arrival};
use super::recovery::OrgDevices;
use super::sqlite::{check_backup, count, open_backup};
use super::{
    Caller, Capped, Conversation, Copied, DeviceRow, Discarded, Enrolled, Enrolment, ErasePlan,
    Erasure, Invite, Login, Mac, OrgId, PartialBackup, PersonErasure, Planned, PulledRow,
    PushError, PushOutcome, RecoveryStatus, Role, ServerEdit, Settled, Store, StoreError,
    TokenOwner, WorkingCopy, conversation, new_epoch, new_replica_id, parse_epoch, parse_replica,
    plan_erasure, plan_push, released_status, rfc3339, settle, unix_now, waits_on,
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
mod tls;
mod users;
mod vacuum;

/// The migrations, in order; `schema_version.version` is how many are applied.
const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/postgres/0001_init.sql"),
    include_str!("../../../migrations/postgres/0002_user_disabled.sql"),
    include_str!("../../../migrations/postgres/0003_erasures.sql"),
    include_str!("../../../migrations/postgres/0004_recovery.sql"),
    include_str!("../../../migrations/postgres/0005_enrolment_codes.sql"),
    include_str!("../../../migrations/postgres/0006_audit.sql"),
    include_str!("../../../migrations/postgres/0007_erased.sql"),
    include_str!("../../../migrations/postgres/0008_blobs.sql"),
];

/// Any constant: the advisory lock that keeps two processes from migrating at once.
const MIGRATION_LOCK: i64 = 0x7061_7373_6572;

/// The PostgreSQL store.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    server_id: ReplicaId,
    vacuum: vacuum::Vacuum,
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

/// The pool's error with its causes: tokio-postgres says only "db error" until its
/// source, the database's own message (e.g. a `pg_hba.conf` refusal), is read.
fn pool_error(e: impl std::error::Error) -> StoreError {
    StoreError::Pool(with_causes(&e))
}

/// An error's message followed by those of its causes.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

impl PgStore {
    /// Connects to `url` (over TLS when it asks for it, see [`tls`]) and applies the
    /// migrations.
    #[instrument(name = "db.open", skip_all)]
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let target = tls::target(url)?;
        let recycling = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let (manager, trusted) = match target.tls {
            Some((tls, trusted)) => (
                Manager::from_config(target.config, tls, recycling),
                Some(trusted),
            ),
            None => (Manager::from_config(target.config, NoTls, recycling), None),
        };
        let pool = Pool::builder(manager)
            .max_size(16)
            .build()
            .map_err(pool_error)?;
        // The first connection tells whether the database can be reached at all: say how
        // it was tried, so a refused certificate is plain to see.
        let mut client = pool.get().await.map_err(|e| match &trusted {
            Some(trusted) => StoreError::Pool(format!(
                "{} (connecting over TLS, sslmode=require, trusting {trusted})",
                with_causes(&e)
            )),
            None => pool_error(e),
        })?;
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
        tx.execute(
            "UPDATE server SET epoch = $1 WHERE epoch IS NULL",
            &[&new_epoch().to_string()],
        )
        .await?;
        let key: &[u8] = &rand::random::<[u8; 32]>();
        tx.execute(
            "UPDATE server SET journal_key = $1 WHERE journal_key IS NULL",
            &[&key],
        )
        .await?;
        audit::fill_keys(&tx).await?;
        if version < 7 {
            // Records erased before the table `erased` existed.
            erased::fill(&tx).await?;
        }
        let server_id: String = tx
            .query_one("SELECT server_id FROM server", &[])
            .await?
            .get(0);
        tx.commit().await?;
        drop(client);
        Ok(Self {
            pool,
            server_id: parse_replica(&server_id)?,
            vacuum: vacuum::Vacuum::default(),
        })
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(pool_error)
    }

    /// One vacuum of the tables that held erased content, as an erasure asks for on a
    /// task of its own (see [`vacuum`]), waited for.
    #[cfg(test)]
    pub(crate) async fn vacuum(&self) -> Result<(), StoreError> {
        vacuum::vacuum(&self.pool).await
    }
}

/// The database's epoch.
async fn epoch(db: &impl GenericClient) -> Result<Epoch, StoreError> {
    parse_epoch(db.query_one("SELECT epoch FROM server", &[]).await?.get(0))
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
async fn release_record(
    db: &impl GenericClient,
    org: OrgId,
    id: RecordId,
    devices: &OrgDevices,
    accept_all: bool,
    seq: &mut u64,
    now: i64,
    releasing: &mut Releasing<'_>,
) -> Result<Settled, StoreError> {
    let held = recovery::of_record(db, org, id).await?;
    if held.is_empty() {
        return Ok(Settled {
            write: None,
            unhold: Vec::new(),
            discarded: Vec::new(),
        });
    }
    let stored = records::get(db, org, id).await?;
    let mut settled = settle(stored.as_ref(), &held, devices, accept_all);
    if let Some((state, exact)) = settled.write.take() {
        let (state, exact) = if stored.as_ref() == Some(&state) {
            (state, exact)
        } else {
            let mut erased_set =
                erasure::erased_among(db, org, std::slice::from_ref(&state)).await?;
            let by = exact
                .or(held.first().map(|(d, _)| *d))
                .unwrap_or(releasing.server);
            let (state, same) = erasure::forget_write(
                db,
                org,
                state,
                &mut erased_set,
                releasing.server,
                by,
                releasing.audited,
                releasing.edits,
            )
            .await?;
            let exact = exact.filter(|_| same);
            releasing
                .unnamed
                .extend(super::blobs::unnamed_by(stored.as_ref(), &state));
            *seq += 1;
            records::put_many(
                db,
                org,
                &[(*seq, state.clone(), exact.map(|d| d.to_string()))],
            )
            .await?;
            (state, exact)
        };
        settled.write = Some((state, exact));
    }
    for device in &settled.unhold {
        recovery::unhold(db, org, id, *device).await?;
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
            recovery::note_discarded(db, org, id, *device, *why, now).await?;
        }
    }
    Ok(settled)
}

/// Releases what can be released of every held record of the organisation, under its
/// row lock.
async fn release_all(
    db: &impl GenericClient,
    org: OrgId,
    devices: &OrgDevices,
    accept_all: bool,
    now: i64,
    releasing: &mut Releasing<'_>,
) -> Result<u64, StoreError> {
    let mut seq = orgs::lock_last_seq(db, org).await?;
    let mut released = 0;
    for id in recovery::held_ids(db, org).await? {
        let settled =
            release_record(db, org, id, devices, accept_all, &mut seq, now, releasing).await?;
        released += (settled.unhold.len() - settled.discarded.len()) as u64;
    }
    orgs::set_last_seq(db, org, seq).await?;
    Ok(released)
}

impl PgStore {
    /// An erasure, capped per hour when `capped` (HTTP), counted under the organisation's
    /// row lock, so every server process shares the count.
    async fn erase_within(
        &self,
        org: OrgId,
        id: RecordId,
        capped: bool,
        by: Option<ReplicaId>,
    ) -> Result<Capped<Erasure>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let last_seq = orgs::lock_last_seq(&tx, org).await?;
        let now = unix_now();
        let recent = match capped {
            true => Some(erasures::since(&tx, org, now - 3600).await?),
            false => None,
        };
        let stored = records::get(&tx, org, id).await?;
        let named = stored
            .as_ref()
            .map(super::blobs::digests)
            .unwrap_or_default();
        let (seq, erased) = match plan_erasure(stored, last_seq, recent.as_deref(), now) {
            ErasePlan::Answer(answer) => return Ok(answer),
            ErasePlan::Write { seq, state } => (seq, state),
        };
        // No held copy of an erased record stays either (§5).
        let erasure = erasure::erase_record(&tx, org, seq, erased, by.filter(|_| capped)).await?;
        // The documents only it named go with it (§5, §6b).
        blobs::drop_unnamed(&tx, org, Some(&named)).await?;
        tx.commit().await?;
        self.vacuum.request(&self.pool);
        Ok(Capped::Done(erasure))
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
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let Some((user, org, was)) = users::lock_disabled(&tx, username).await? else {
            return Ok(false);
        };
        // Only a change is audited: the journal applies its disables again at every start.
        if was != disabled {
            users::set_disabled(&tx, username, disabled).await?;
            audit::note(&tx, org, &[Entry::user_disabled(user, disabled)]).await?;
        }
        tx.commit().await?;
        Ok(true)
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
        // The code first: a wrong code says nothing of the device id.
        if !codes::use_code(&tx, &e.code_hash, e.user_id, unix_now()).await? {
            return Ok(Enrolled::BadCode);
        }
        match devices::lock_owner(&tx, id).await? {
            Some((user, revoked)) if user != e.user_id || revoked => return Ok(Enrolled::Taken),
            Some(_) => devices::replace_token(&tx, id, &e).await?,
            None => {
                if !devices::insert(&tx, id, &e).await? {
                    return Ok(Enrolled::Taken);
                }
            }
        }
        audit::note(&tx, e.org, &[Entry::enrolled(id, e.user_id)]).await?;
        tx.commit().await?;
        Ok(Enrolled::Device(id))
    }

    #[instrument(name = "db.add_code", skip_all)]
    async fn add_code(&self, invite: Invite) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        codes::insert(&tx, &invite).await?;
        let entry = Entry::invited(invite.user_id, invite.expires_at);
        audit::note(&tx, invite.org, &[entry]).await?;
        tx.commit().await?;
        Ok(())
    }

    #[instrument(name = "db.restore_code_used", skip_all)]
    async fn restore_code_used(&self, code_hash: [u8; 32]) -> Result<bool, StoreError> {
        codes::mark_used(&self.client().await?, &code_hash, unix_now()).await
    }

    #[instrument(name = "db.enrol_try", skip_all)]
    async fn enrol_try(
        &self,
        buckets: [(EnrolKey, EnrolLimit); 2],
        now: f64,
    ) -> Result<Result<(), (usize, std::time::Duration)>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let mut taken = Vec::with_capacity(buckets.len());
        for (i, (key, limit)) in buckets.iter().enumerate() {
            let bucket = failures::lock(&tx, key, *limit, now).await?;
            match limit.take(Some(bucket), now) {
                Ok(bucket) => taken.push((key, *limit, bucket)),
                // Dropped without commit: rolled back, nothing taken.
                Err(wait) => return Ok(Err((i, wait))),
            }
        }
        for (key, limit, bucket) in taken {
            failures::put(&tx, key, limit, bucket).await?;
        }
        failures::prune(&tx, now).await?;
        tx.commit().await?;
        Ok(Ok(()))
    }

    #[instrument(name = "db.enrol_give_back", skip_all)]
    async fn enrol_give_back(
        &self,
        buckets: [(EnrolKey, EnrolLimit); 2],
        now: f64,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        for (key, limit) in &buckets {
            let bucket = failures::lock(&tx, key, *limit, now).await?;
            failures::put(&tx, key, *limit, limit.give_back(Some(bucket), now)).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    #[instrument(name = "db.caller", skip_all)]
    async fn caller(&self, token_hash: [u8; 32]) -> Result<TokenOwner, StoreError> {
        devices::by_token(&self.client().await?, &token_hash).await
    }

    #[instrument(name = "db.epoch", skip_all)]
    async fn epoch(&self) -> Result<Epoch, StoreError> {
        epoch(&self.client().await?).await
    }

    #[instrument(name = "db.push", skip_all, fields(records = records.len()))]
    async fn push(
        &self,
        caller: Caller,
        records: Vec<RecordState>,
        through: Option<u64>,
    ) -> Result<PushOutcome, PushError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(StoreError::from)?;
        // First, the organisation's counter row: held until commit (see the module doc).
        let mut seq = orgs::lock_last_seq(&tx, caller.org).await?;
        let now = unix_now();
        let devices = match recovery::active(&tx, caller.org, now).await? {
            true => Some(recovery::org_devices(&tx, caller.org).await?),
            false => None,
        };
        let ids: Vec<String> = records.iter().map(|r| r.id().to_string()).collect();
        let mut by_id = records::get_many(&tx, caller.org, &ids).await?;
        let stored: Vec<Option<RecordState>> = ids.iter().map(|id| by_id.remove(id)).collect();
        let had_copy: Vec<bool> = stored.iter().map(Option::is_some).collect();
        // The documents the stored attachments name, before an erasure on arrival plans a
        // record against an erased copy: a write may leave one unnamed.
        let named_before: Vec<Vec<String>> = stored
            .iter()
            .map(|s| s.as_ref().map(super::blobs::digests).unwrap_or_default())
            .collect();
        // Erased ids and persons (§5): what the push names that the organisation erased, in
        // one query; a record erased on arrival is planned against an erased copy.
        let mut erased_set = erasure::erased_among(
            &tx,
            caller.org,
            records.iter().chain(stored.iter().flatten()),
        )
        .await?;
        let (stored, absorbed) = on_arrival(&records, stored, &mut erased_set);
        let plan = plan_push(&records, &stored, caller.device, devices.as_ref())?;
        let plan = absorb(plan, &absorbed, &stored);
        drop(stored);
        let mut unnamed = Vec::new();
        let mut server_audited = Vec::new();
        let mut edits = Vec::new();
        let device = caller.device.to_string();
        let mut writes = Vec::new();
        let mut exactly = Vec::new();
        let mut statuses = Vec::with_capacity(records.len());
        // Each record's version vector after the push, for the audit.
        let mut vvs = Vec::with_capacity(records.len());
        for ((record, planned), named_before) in records.iter().zip(plan).zip(&named_before) {
            statuses.push(match planned {
                Planned::Unchanged { exact } => {
                    vvs.push(None);
                    if exact {
                        exactly.push(record.id().to_string());
                    }
                    PushStatus::Unchanged
                }
                Planned::Hold => {
                    vvs.push(Some(record.vv().clone()));
                    recovery::hold(&tx, caller.org, caller.device, record, now).await?;
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
                        self.server_id,
                        caller.device,
                        &mut server_audited,
                        &mut edits,
                    )
                    .await?;
                    unnamed.extend(super::blobs::no_longer_named(named_before, &state));
                    seq += 1;
                    vvs.push(Some(state.vv().clone()));
                    writes.push((seq, state, (exact && same).then(|| device.clone())));
                    status
                }
            });
        }
        records::put_many(&tx, caller.org, &writes).await?;
        records::note_pushed_by(&tx, caller.org, &exactly, &device).await?;
        // The records of this push that have held states, in one query: a device sending
        // everything again after a restore pushes thousands, few of them held.
        let with_held = match &devices {
            Some(_) => recovery::held_among(&tx, caller.org, &ids).await?,
            None => Default::default(),
        };
        let mut results = Vec::with_capacity(records.len());
        let mut audited = Vec::with_capacity(records.len());
        for (((record, status), &old), mut vv) in
            records.iter().zip(statuses).zip(&had_copy).zip(vvs)
        {
            // A push in recovery may release held states of its records, the pusher's
            // among them.
            let status = match &devices {
                Some(devices) if with_held.contains(&record.id().to_string()) => {
                    let mut releasing = Releasing {
                        server: self.server_id,
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
                    )
                    .await?;
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
                Some(_) | None => status,
            };
            if let (Some(vv), false) = (vv, status == PushStatus::Unchanged) {
                audited.push(Entry::pushed(caller.device, record.id(), status, &vv));
            }
            results.push(PushResult {
                id: record.id(),
                status,
            });
        }
        // In the push's transaction: an acknowledged push always has its audit rows, a
        // refused one none.
        audited.append(&mut server_audited);
        audit::note(&tx, caller.org, &audited).await?;
        if let Some(through) = through {
            devices::note_acked(&tx, caller.device, through).await?;
        }
        orgs::set_last_seq(&tx, caller.org, seq).await?;
        // Documents no attachment names any more go (§6b): those a write (an edit, an
        // erasure on arrival, a release) stopped naming.
        let dropped = blobs::drop_unnamed(&tx, caller.org, Some(&unnamed)).await?;
        let epoch = epoch(&tx).await?;
        tx.commit().await.map_err(StoreError::from)?;
        if dropped > 0 {
            self.vacuum.request(&self.pool);
        }
        Ok(PushOutcome {
            server_seq: seq,
            epoch,
            results,
            edits,
        })
    }

    #[instrument(name = "db.pull_check", skip_all)]
    async fn pull_check(
        &self,
        caller: Caller,
        since: u64,
        pushed: Option<u64>,
    ) -> Result<Conversation, StoreError> {
        let mut client = self.client().await?;
        let (answered, acked, confirmed) = devices::progress(&client, caller.device).await?;
        match conversation(answered, acked, confirmed, caller.retired, since, pushed) {
            None => {
                if since > confirmed {
                    devices::confirm(&client, caller.device, since).await?;
                    if erased::sealable(&client, caller.org).await? {
                        // Under the organisation's row lock, as every write of its records.
                        let tx = client.transaction().await?;
                        orgs::lock_last_seq(&tx, caller.org).await?;
                        let sealed = erased::seal(&tx, caller.org).await?;
                        tx.commit().await?;
                        if sealed > 0 {
                            self.vacuum.request(&self.pool);
                        }
                    }
                }
                Ok(Conversation::InStep {
                    epoch: epoch(&client).await?,
                    answered,
                })
            }
            Some(told @ (Conversation::Ahead | Conversation::Rewound)) => {
                let tx = client.transaction().await?;
                if told == Conversation::Ahead {
                    recovery::enter(&tx, Some(caller.org), unix_now()).await?;
                }
                devices::unconfirm(&tx, caller.device).await?;
                tx.commit().await?;
                Ok(told)
            }
            Some(other) => Ok(other),
        }
    }

    #[instrument(name = "db.note_answered", skip_all)]
    async fn note_answered(&self, device: ReplicaId, next: u64) -> Result<(), StoreError> {
        devices::note_answered(&self.client().await?, device, next).await
    }

    #[instrument(name = "db.rekey", skip_all)]
    async fn rekey(&self, caller: Caller, token_hash: [u8; 32]) -> Result<ReplicaId, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let successor = new_replica_id();
        devices::rekey(&tx, caller.device, successor, &token_hash).await?;
        tx.commit().await?;
        Ok(successor)
    }

    #[instrument(name = "db.recovery_status", skip_all)]
    async fn recovery_status(&self, org: OrgId) -> Result<RecoveryStatus, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        orgs::lock_last_seq(&tx, org).await?;
        let mut status = RecoveryStatus {
            in_recovery: recovery::active(&tx, org, unix_now()).await?,
            until: recovery::until(&tx, org).await?.map(rfc3339),
            accepted: recovery::accepted(&tx, org)
                .await?
                .iter()
                .map(ToString::to_string)
                .collect(),
            discarded: recovery::discarded(&tx, org).await?,
            ..RecoveryStatus::default()
        };
        let devices = recovery::org_devices(&tx, org).await?;
        let held = recovery::all_held(&tx, org).await?;
        // Ordered by record: one chunk per record.
        for chunk in held.chunk_by(|a, b| a.0 == b.0) {
            let stored = records::get_many(&tx, org, &[chunk[0].0.to_string()])
                .await?
                .into_values()
                .next();
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
        tx.commit().await?;
        Ok(status)
    }

    #[instrument(name = "db.recovery_accept", skip_all)]
    async fn recovery_accept(
        &self,
        org: OrgId,
        device: Option<ReplicaId>,
    ) -> Result<(u64, Vec<ServerEdit>), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        orgs::lock_last_seq(&tx, org).await?;
        if !recovery::active(&tx, org, unix_now()).await? {
            tx.commit().await?;
            return Ok((0, Vec::new()));
        }
        if let Some(device) = device {
            recovery::accept(&tx, org, device).await?;
        }
        let devices = recovery::org_devices(&tx, org).await?;
        let (mut edits, mut audited, mut unnamed) = (Vec::new(), Vec::new(), Vec::new());
        let mut releasing = Releasing {
            server: self.server_id,
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
        )
        .await?;
        audited.insert(0, Entry::recovery_accepted(device, released));
        audit::note(&tx, org, &audited).await?;
        // The documents the released states stopped naming go (an edit, or an erasure on
        // release).
        let dropped = blobs::drop_unnamed(&tx, org, Some(&unnamed)).await?;
        tx.commit().await?;
        if dropped > 0 {
            self.vacuum.request(&self.pool);
        }
        Ok((released, edits))
    }

    #[instrument(name = "db.recovery_end", skip_all)]
    async fn recovery_end(&self, org: OrgId) -> Result<Vec<Discarded>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        orgs::lock_last_seq(&tx, org).await?;
        let was = recovery::until(&tx, org).await?.is_some();
        let discarded = recovery::end(&tx, org, unix_now()).await?;
        if was {
            audit::note(&tx, org, &[Entry::recovery_ended(discarded.len())]).await?;
        }
        tx.commit().await?;
        Ok(discarded)
    }

    #[instrument(name = "db.users", skip_all)]
    async fn users(&self) -> Result<Vec<(i64, OrgId, String)>, StoreError> {
        Ok(self
            .client()
            .await?
            .query("SELECT id, org_id, username FROM users", &[])
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect())
    }

    #[instrument(name = "db.journal_key", skip_all)]
    async fn journal_key(&self) -> Result<[u8; 32], StoreError> {
        let key: Vec<u8> = self
            .client()
            .await?
            .query_one("SELECT journal_key FROM server", &[])
            .await?
            .get(0);
        key.try_into()
            .map_err(|_| StoreError::Corrupt("the journal key is not 32 bytes".into()))
    }

    #[instrument(name = "db.restore_device", skip_all)]
    async fn restore_device(
        &self,
        user_id: i64,
        org: OrgId,
        device: ReplicaId,
        token_hash: [u8; 32],
    ) -> Result<bool, StoreError> {
        devices::restore(&self.client().await?, user_id, org, device, &token_hash).await
    }

    #[instrument(name = "db.restore_rekey", skip_all)]
    async fn restore_rekey(
        &self,
        predecessor: ReplicaId,
        device: ReplicaId,
        token_hash: [u8; 32],
    ) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let changed = devices::rekey(&tx, predecessor, device, &token_hash).await?;
        tx.commit().await?;
        Ok(changed)
    }

    #[instrument(name = "db.erased_macs", skip_all)]
    async fn erased_macs(&self, org: OrgId) -> Result<HashSet<Mac>, StoreError> {
        erased::all(&self.client().await?, org).await
    }

    #[instrument(name = "db.record_macs", skip_all)]
    async fn record_macs(&self, org: OrgId) -> Result<HashMap<Mac, RecordId>, StoreError> {
        let client = self.client().await?;
        let key = audit::key(&client, org).await?;
        Ok(records::live_ids(&client, org)
            .await?
            .into_iter()
            .map(|id| (record_mac_bytes(&key, id), id))
            .collect())
    }

    #[instrument(name = "db.record_mac", skip_all)]
    async fn record_mac(&self, org: OrgId, id: RecordId) -> Result<Mac, StoreError> {
        let client = self.client().await?;
        Ok(record_mac_bytes(&audit::key(&client, org).await?, id))
    }

    #[instrument(name = "db.restore_erased", skip_all)]
    async fn restore_erased(
        &self,
        org: OrgId,
        mac: Mac,
        id: Option<RecordId>,
    ) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        orgs::lock_last_seq(&tx, org).await?;
        let mut unnamed = Vec::new();
        let changed = erasure::restore_erased(&tx, org, mac, id, &mut unnamed).await?;
        let dropped = blobs::drop_unnamed(&tx, org, Some(&unnamed)).await?;
        tx.commit().await?;
        if dropped > 0 {
            self.vacuum.request(&self.pool);
        }
        Ok(changed)
    }

    #[instrument(name = "db.restore_edited", skip_all)]
    async fn restore_edited(&self, org: OrgId, state: RecordState) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        orgs::lock_last_seq(&tx, org).await?;
        let mut unnamed = Vec::new();
        let changed = erasure::restore_edited(&tx, org, state, &mut unnamed).await?;
        let dropped = blobs::drop_unnamed(&tx, org, Some(&unnamed)).await?;
        tx.commit().await?;
        if dropped > 0 {
            self.vacuum.request(&self.pool);
        }
        Ok(changed)
    }

    #[instrument(name = "db.backup", skip_all)]
    async fn backup(&self, out: &Path) -> Result<Copied, StoreError> {
        let partial = PartialBackup::start(out)?;
        let target = open_backup(partial.path())?;
        let mut client = self.client().await?;
        // One snapshot: every table is read as of the same moment, while pushes go on.
        let snapshot = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        // A plain BEGIN: a rusqlite transaction borrows the connection, which may not be
        // held across an await.
        target.execute_batch("BEGIN IMMEDIATE")?;
        target.execute("DELETE FROM server", [])?;
        let server = backup::postgres_side::read(&snapshot, &SERVER, &Page::default()).await?;
        backup::sqlite_side::write(&target, &SERVER, &server)?;
        for table in TABLES {
            let mut page = Some(Page::default());
            while let Some(at) = page {
                let rows = backup::postgres_side::read(&snapshot, table, &at).await?;
                backup::sqlite_side::write(&target, table, &rows)?;
                page = at.next(table, &rows);
            }
        }
        let copied = count(&target)?;
        target.execute_batch("COMMIT")?;
        snapshot.commit().await?;
        target.pragma_update(None, "journal_mode", "DELETE")?;
        drop(target);
        partial.finish()?;
        Ok(copied)
    }

    #[instrument(name = "db.restore", skip_all)]
    async fn restore(&self, from: &Path) -> Result<Copied, StoreError> {
        let copy = WorkingCopy::of(from)?;
        let source = open_backup(copy.path())?;
        check_backup(&source)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute("LOCK TABLE orgs IN EXCLUSIVE MODE", &[]).await?;
        let orgs: i64 = tx.query_one("SELECT count(*) FROM orgs", &[]).await?.get(0);
        if orgs > 0 {
            return Err(StoreError::NotEmpty);
        }
        let (server_id, key): (String, Vec<u8>) =
            source.query_row("SELECT server_id, journal_key FROM server", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
        let epoch = new_epoch().to_string();
        tx.execute(
            "UPDATE server SET server_id = $1, journal_key = $2, epoch = $3",
            &[&server_id, &key, &epoch],
        )
        .await?;
        for table in TABLES {
            let mut page = Some(Page::default());
            while let Some(at) = page {
                let rows = backup::sqlite_side::read(&source, table, &at)?;
                backup::postgres_side::write(&tx, table, &rows).await?;
                page = at.next(table, &rows);
            }
            if table.identity {
                tx.execute(
                    &format!(
                        "SELECT setval(pg_get_serial_sequence('{0}', 'id'), max(id)) FROM {0}
                         HAVING max(id) IS NOT NULL",
                        table.name
                    ),
                    &[],
                )
                .await?;
            }
        }
        recovery::enter(&tx, None, unix_now()).await?;
        for org in orgs::all(&tx).await? {
            audit::note(&tx, org, &[Entry::restored(&epoch)]).await?;
        }
        let copied = count(&source)?;
        tx.commit().await?;
        Ok(copied)
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
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let last_seq = orgs::lock_last_seq(&tx, org).await?;
        let mut unnamed = Vec::new();
        let done = erasure::erase_person(
            &tx,
            org,
            last_seq,
            person,
            dry_run,
            capped,
            self.server_id,
            &mut unnamed,
        )
        .await?;
        if dry_run || !matches!(done, Capped::Done(_)) {
            // Nothing written: rolled back.
            return Ok(done);
        }
        // The documents of their attachments go with them (§5, §6b).
        blobs::drop_unnamed(&tx, org, Some(&unnamed)).await?;
        tx.commit().await?;
        self.vacuum.request(&self.pool);
        Ok(done)
    }

    #[instrument(name = "db.records_of_kind", skip_all)]
    async fn records_of_kind(
        &self,
        org: OrgId,
        kind: &str,
    ) -> Result<Vec<RecordState>, StoreError> {
        records::of_kind(&self.client().await?, org, kind).await
    }

    #[instrument(name = "db.audit", skip_all)]
    async fn audit(&self, org: OrgId, filter: Filter) -> Result<Vec<Stored>, StoreError> {
        audit::read(&self.client().await?, org, &filter).await
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
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let Some((org, revoked)) = devices::lock_org_of(&tx, id).await? else {
            return Ok(false);
        };
        // Only a change is audited: the journal applies its revocations again at every
        // start.
        if !revoked {
            devices::revoke(&tx, id).await?;
            audit::note(&tx, org, &[Entry::revoked(id)]).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    #[instrument(name = "db.blob", skip_all)]
    async fn blob(&self, org: OrgId, sha256: &str) -> Result<Option<Blob>, StoreError> {
        blobs::get(&self.client().await?, org, sha256).await
    }

    #[instrument(name = "db.put_blob_chunk", skip_all, fields(bytes = chunk.data.len()))]
    async fn put_blob_chunk(
        &self,
        org: OrgId,
        chunk: Chunk,
        quota: u64,
    ) -> Result<Put, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let (put, deleted) = blobs::put_chunk(&tx, org, &chunk, quota, unix_now()).await?;
        tx.commit().await?;
        if deleted {
            self.vacuum.request(&self.pool);
        }
        Ok(put)
    }

    #[instrument(name = "db.blob_pieces", skip_all)]
    async fn blob_pieces(&self, org: OrgId, sha256: &str) -> Result<Vec<Piece>, StoreError> {
        blobs::pieces(&self.client().await?, org, sha256).await
    }

    #[instrument(name = "db.read_blob", skip_all)]
    async fn read_blob(
        &self,
        org: OrgId,
        sha256: &str,
        read: Read,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        blobs::read(&self.client().await?, org, sha256, read).await
    }

    #[instrument(name = "db.blob_usage", skip_all)]
    async fn blob_usage(&self, org: OrgId) -> Result<Usage, StoreError> {
        blobs::usage(&self.client().await?, org).await
    }

    #[instrument(name = "db.sweep_blobs", skip_all)]
    async fn sweep_blobs(&self, stale_before: i64) -> Result<Swept, StoreError> {
        let mut client = self.client().await?;
        let mut swept = Swept::default();
        for org in blobs::orgs(&client).await? {
            // One transaction per organisation, its row lock first (as every write of its
            // records), so that no push names a document while it is deleted.
            let tx = client.transaction().await?;
            orgs::lock_last_seq(&tx, org).await?;
            swept.stale += blobs::drop_stale(&tx, org, stale_before).await?;
            swept.unnamed += blobs::drop_unnamed(&tx, org, None).await?;
            tx.commit().await?;
        }
        if swept.stale + swept.unnamed > 0 {
            self.vacuum.request(&self.pool);
        }
        Ok(swept)
    }
}
