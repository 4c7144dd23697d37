//! Backups, restores and what follows them (`SYNC-PROTOCOL.md` §6a, §7 `backup`,
//! `restore`, `recovery`): the epoch, `checkpoint_ahead`, held records and their release,
//! the journal, and re-keying, through the real binary, its command line and HTTP.
//!
//! The devices of the recovery tests are [`Device`]s: a small model of the sync client
//! (its records, its local change sequence, what the server acknowledged, its
//! checkpoint), so that what the server serves once every device has synced can be
//! compared with what the devices held.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use sync_protocol::{FieldName, RecordState, ReplicaId, Timestamp};

use crate::harness::{Answer, Backend, Client, Database, Server, Setup, new_id, state};
use crate::on_both_backends;

on_both_backends!(
    a_backup_taken_while_serving_restores_into_an_empty_database_of_either_kind,
    restore_refuses_a_database_that_is_not_empty_and_backup_an_existing_file,
    after_a_restore_held_edits_come_back_in_either_order,
    a_record_edited_by_three_devices_comes_back_once_each_has_synced,
    what_waits_on_a_device_that_never_comes_back_is_accepted_or_discarded,
    forged_dots_are_refused_in_recovery_too,
    a_stolen_token_in_recovery_gets_nothing_merged,
    the_journal_keeps_what_a_restore_must_not_roll_back,
    only_a_device_s_last_token_is_replayed,
    a_reused_replica_is_refused_until_it_takes_a_new_id,
    a_code_used_after_the_backup_stays_used_after_a_restore,
);

/// §6a: the journal keeps the codes used; a restore never makes one serve again, while a
/// code issued before the backup and still unused serves after it.
async fn a_code_used_after_the_backup_stays_used_after_a_restore(backend: Backend) {
    let mut setup = Setup::with_args(backend, FAST);
    let used = setup.db.invite("nord", "marie", "24h");
    let unused = setup.db.invite("nord", "claire", "24h");
    let backup = take_backup(&setup.db);
    let client = setup.client();
    let answer = client
        .enrol_with_code("marie", crate::harness::PASSWORD, &used, None)
        .await;
    assert_eq!(answer.status.as_u16(), 201, "{answer:?}");
    setup.server.stop();

    let journal = setup.db.journal();
    let (db, printed) = restore_into(backend.other(), &backup, Some(&journal));
    assert_eq!(
        printed["journal_applied"],
        json!(2),
        "the enrolment and its code: {printed}"
    );
    let server = serve(&db, &journal);
    let client = server.client();
    client
        .enrol_with_code("marie", crate::harness::PASSWORD, &used, None)
        .await
        .expect_error(401, "unauthorized");
    let answer = client
        .enrol_with_code("claire", crate::harness::PASSWORD, &unused, None)
        .await;
    assert_eq!(answer.status.as_u16(), 201, "{answer:?}");
}

/// Server arguments that keep the per-device rate limit out of these tests' way.
const FAST: &[&str] = &["--rate-limit", "1000"];

/// The wall clock of every edit here: it decides nothing (§2).
const AT: &str = "2026-11-02T10:14:00Z";

fn at() -> Timestamp {
    AT.parse().unwrap()
}

fn changes(fields: Value) -> Vec<(FieldName, Value)> {
    fields
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, value)| (name.parse().unwrap(), value.clone()))
        .collect()
}

/// A device as its sync client runs (§6, §6a), reduced to what these tests need.
#[derive(Clone)]
struct Device {
    client: Client,
    id: ReplicaId,
    records: BTreeMap<String, RecordState>,
    /// The local change sequence: one per local edit.
    changes: u64,
    /// The records edited since the last acknowledged push.
    dirty: BTreeSet<String>,
    /// The highest `through` the server acknowledged: the pull's `pushed`.
    pushed: u64,
    /// The pull checkpoint.
    since: u64,
}

impl Device {
    async fn enrol(server: &Server, username: &str) -> Self {
        let client = server.client().enrolled(username).await;
        let id = client.device().parse().unwrap();
        Self {
            client,
            id,
            records: BTreeMap::new(),
            changes: 0,
            dirty: BTreeSet::new(),
            pushed: 0,
            since: 0,
        }
    }

    fn device(&self) -> String {
        self.id.to_string()
    }

    /// The same device, with everything it holds, talking to `server`.
    fn on(&self, server: &Server) -> Self {
        Self {
            client: self.client.on(server),
            ..self.clone()
        }
    }

    /// Creates a record (a local change); answers its id.
    fn create(&mut self, kind: &str, fields: Value) -> String {
        let id = new_id();
        let record = RecordState::create(
            id.parse().unwrap(),
            kind.parse().unwrap(),
            self.id,
            at(),
            changes(fields),
        )
        .unwrap();
        self.records.insert(id.clone(), record);
        self.touch(&id);
        id
    }

    /// Edits fields of a record it holds (a local change).
    fn edit(&mut self, id: &str, fields: Value) {
        let record = self.records.get_mut(id).unwrap();
        record.edit(self.id, at(), changes(fields)).unwrap();
        self.touch(id);
    }

    fn touch(&mut self, id: &str) {
        self.changes += 1;
        self.dirty.insert(id.to_owned());
    }

    fn value(&self, id: &str) -> Value {
        json_of(&self.records[id])
    }

    /// Pushes what changed since the last acknowledged push, declaring `through`.
    async fn push(&mut self) -> Answer {
        let states = self.dirty.iter().map(|id| self.value(id)).collect();
        self.push_states(states).await
    }

    /// Pushes every record it holds, as a device does after `checkpoint_ahead`.
    async fn push_all(&mut self) -> Answer {
        let states = self.records.keys().map(|id| self.value(id)).collect();
        self.push_states(states).await
    }

    async fn push_states(&mut self, states: Vec<Value>) -> Answer {
        let answer = self.client.push_through(&states, self.changes).await;
        if answer.status == 200 {
            self.pushed = self.changes;
            self.dirty.clear();
        }
        answer
    }

    /// Pulls every page from its checkpoint, declaring `pushed`, and merges each state;
    /// answers the last page, or the refusal.
    async fn pull(&mut self) -> Answer {
        loop {
            let answer = self.client.pull_pushed(self.since, self.pushed).await;
            if answer.status != 200 {
                return answer;
            }
            for value in answer.body["records"].as_array().unwrap() {
                let pulled = RecordState::from_value(value).unwrap();
                let id = pulled.id().to_string();
                let merged = match self.records.get(&id) {
                    Some(local) => sync_protocol::merge(local, &pulled).unwrap(),
                    None => pulled,
                };
                self.records.insert(id, merged);
            }
            self.since = answer.body["next"].as_u64().unwrap();
            if answer.body["more"] != json!(true) {
                return answer;
            }
        }
    }

    /// An ordinary sync: push, then pull; both must succeed.
    async fn sync(&mut self) {
        self.push().await.expect_ok();
        self.pull().await.expect_ok();
    }

    /// What a device does once told `checkpoint_ahead` (§6a): it pushes everything it
    /// holds, then pulls from 0. Answers the push's status of each record.
    async fn recover(&mut self) -> BTreeMap<String, String> {
        let answer = self.push_all().await;
        let statuses = statuses(&answer);
        self.since = 0;
        self.pull().await.expect_ok();
        statuses
    }
}

/// A state as JSON.
fn json_of(record: &RecordState) -> Value {
    serde_json::to_value(record).unwrap()
}

/// The status of each record of a push's answer, which must be 200.
fn statuses(answer: &Answer) -> BTreeMap<String, String> {
    answer.expect_ok()["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_owned(),
                r["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// `{id: status}` from pairs.
fn expected<S: AsRef<str>>(pairs: &[(S, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(id, status)| (id.as_ref().to_owned(), (*status).to_owned()))
        .collect()
}

/// Every record the server serves `client` from 0, by id. The client must not have
/// pushed them: a pull leaves out a state that is exactly what the caller pushed.
async fn served(client: &Client) -> BTreeMap<String, Value> {
    let (states, _) = client.pull_all(0, 1000).await;
    states
        .into_iter()
        .map(|s| (s["id"].as_str().unwrap().to_owned(), s))
        .collect()
}

/// What the devices hold, merged record by record: what every replica holds once all
/// have synced.
fn converged(devices: &[&Device]) -> BTreeMap<String, Value> {
    let mut all: BTreeMap<String, RecordState> = BTreeMap::new();
    for device in devices {
        for (id, record) in &device.records {
            let merged = match all.get(id) {
                Some(other) => sync_protocol::merge(other, record).unwrap(),
                None => record.clone(),
            };
            all.insert(id.clone(), merged);
        }
    }
    all.into_iter().map(|(id, r)| (id, json_of(&r))).collect()
}

/// The device's records as JSON, by id.
fn held_by(device: &Device) -> BTreeMap<String, Value> {
    device
        .records
        .keys()
        .map(|id| (id.clone(), device.value(id)))
        .collect()
}

/// `recovery status --org ORG`, parsed.
fn recovery_status(db: &Database, org: &str) -> Value {
    let out = db.cli_ok(&["recovery", "status", "--org", org], "");
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("one JSON object: {out:?}: {e}"))
}

/// A JSON object `{key: count}`.
fn counts<S: AsRef<str>>(pairs: &[(S, u64)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .map(|(key, n)| (key.as_ref().to_owned(), json!(n)))
            .collect(),
    )
}

/// The discarded held states of a status, as (record, device, why), sorted.
fn discards(status: &Value) -> Vec<(String, String, String)> {
    let mut list: Vec<_> = status["discarded"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            assert!(
                d["at"]
                    .as_str()
                    .is_some_and(|a| a.parse::<Timestamp>().is_ok()),
                "each discard says when, RFC 3339: {d}"
            );
            (
                d["id"].as_str().unwrap().to_owned(),
                d["device"].as_str().unwrap().to_owned(),
                d["why"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    list.sort();
    list
}

fn triple(id: &str, device: &str, why: &str) -> (String, String, String) {
    (id.to_owned(), device.to_owned(), why.to_owned())
}

/// Takes a backup with the command line while the server serves; answers its path.
fn take_backup(db: &Database) -> PathBuf {
    let out = db.dir.path().join(format!("backup-{}.db", new_id()));
    db.cli_ok(&["backup", "--out", out.to_str().unwrap()], "");
    out
}

/// Restores `backup` into a new, empty database of `backend`, applying `journal` (the
/// new database's own default when `None`); answers the database and the JSON line
/// `restore` printed.
fn restore_into(backend: Backend, backup: &Path, journal: Option<&Path>) -> (Database, Value) {
    let db = Database::new(backend);
    let mut args = vec!["restore", "--from", backup.to_str().unwrap()];
    if let Some(journal) = journal {
        args.extend(["--journal", journal.to_str().unwrap()]);
    }
    let out = db.cli_ok(&args, "");
    let printed = serde_json::from_str(out.trim())
        .unwrap_or_else(|e| panic!("restore prints one JSON line, got {out:?}: {e}"));
    (db, printed)
}

/// Serves `db` with the journal `journal`.
fn serve(db: &Database, journal: &Path) -> Server {
    let mut args = vec!["--journal", journal.to_str().unwrap()];
    args.extend(FAST);
    Server::start(db, &args)
}

/// The health answer's `epoch`.
async fn epoch(server: &Server) -> String {
    let health = server.client().health().await;
    health.body["epoch"].as_str().unwrap().to_owned()
}

/// How the server lost the changes made after a point in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rollback {
    /// `backup` while serving, then `restore` into a new database.
    Restore,
    /// The SQLite files copied while the server is stopped, then copied back over it.
    CopyBack,
}

/// The SQLite file of a SQLite database.
fn sqlite_file(db: &Database) -> PathBuf {
    PathBuf::from(db.url.strip_prefix("sqlite:").unwrap())
}

/// Copies a SQLite database's files (the file, its WAL and shared memory, whichever
/// exist) from `from` to `to`, removing those of `to` that `from` lacks.
fn copy_sqlite(from: &Path, to: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let with = |p: &Path| PathBuf::from(format!("{}{suffix}", p.display()));
        let _ = std::fs::remove_file(with(to));
        if with(from).exists() {
            std::fs::copy(with(from), with(to)).unwrap();
        }
    }
}

/// Saves the database as it is now: a backup taken while serving, or a copy of the SQLite
/// files while the server is stopped (it then starts again: `setup.server` is replaced).
fn save(setup: &mut Setup, how: Rollback) -> PathBuf {
    match how {
        Rollback::Restore => take_backup(&setup.db),
        Rollback::CopyBack => {
            setup.server.stop();
            let saved = setup.db.dir.path().join("saved.db");
            copy_sqlite(&sqlite_file(&setup.db), &saved);
            setup.server = serve(&setup.db, &setup.db.journal());
            saved
        }
    }
}

/// A server on the database as it was when saved.
struct RolledBack {
    server: Server,
    /// The restored database (`Restore`); `None` when the files were copied back.
    db: Option<Database>,
}

impl RolledBack {
    /// The database served.
    fn db<'a>(&'a self, setup: &'a Setup) -> &'a Database {
        self.db.as_ref().unwrap_or(&setup.db)
    }
}

/// Serves the database as it was when `saved`, with the original journal: restored into
/// a new database, or copied back over the (stopped) server's files.
fn roll_back(setup: &Setup, backend: Backend, how: Rollback, saved: &Path) -> RolledBack {
    let journal = setup.db.journal();
    match how {
        Rollback::Restore => {
            let (db, _) = restore_into(backend, saved, Some(&journal));
            let server = serve(&db, &journal);
            RolledBack {
                server,
                db: Some(db),
            }
        }
        Rollback::CopyBack => {
            copy_sqlite(saved, &sqlite_file(&setup.db));
            RolledBack {
                server: serve(&setup.db, &journal),
                db: None,
            }
        }
    }
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "waited for {what}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// §7 `backup` while pushes go on, and `restore` into empty databases of both kinds.
async fn a_backup_taken_while_serving_restores_into_an_empty_database_of_either_kind(
    backend: Backend,
) {
    use std::os::unix::fs::PermissionsExt;
    let setup = Setup::with_args(backend, FAST);
    let marie = setup.client().enrolled("marie").await;
    let claire = setup.client().enrolled("claire").await;
    let fixed: Vec<Value> = (0..5)
        .map(|i| {
            state(
                &new_id(),
                "person",
                marie.device(),
                1,
                json!({"given_names": format!("Ion {i}")}),
            )
        })
        .collect();
    marie.push(&fixed).await.expect_ok();

    // One record a push, one push after another, until told to stop.
    let acknowledged = Arc::new(Mutex::new(0usize));
    let stop = Arc::new(AtomicBool::new(false));
    let pusher = tokio::spawn({
        let (marie, acknowledged, stop) = (marie.clone(), acknowledged.clone(), stop.clone());
        async move {
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                let record = state(&new_id(), "visit", marie.device(), 1, json!({"i": i}));
                marie.push(&[record]).await.expect_ok();
                *acknowledged.lock().unwrap() += 1;
                i += 1;
            }
        }
    });
    let count = || *acknowledged.lock().unwrap();
    wait_until("the first pushes", || count() >= 3).await;
    let before = count();
    let out = setup.db.dir.path().join("backup.db");
    let printed = tokio::task::block_in_place(|| {
        setup
            .db
            .cli_ok(&["backup", "--out", out.to_str().unwrap()], "")
    });
    let after = count();
    wait_until("more pushes", || count() >= after + 3).await;
    stop.store(true, Ordering::SeqCst);
    pusher.await.unwrap();
    assert!(
        after > before,
        "pushes went on while the backup ran ({before} acknowledged before, {after} after)"
    );

    let copied: Value = serde_json::from_str(printed.trim()).unwrap();
    assert_eq!(copied["orgs"], json!(2), "both organisations: {copied}");
    let records = copied["records"].as_u64().unwrap();
    assert!(
        (5 + before as u64..=5 + after as u64 + 1).contains(&records),
        "the backup holds what was acknowledged when it ran: {records} records, {before} \
         pushes acknowledged before it and {after} after"
    );
    let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_eq!(
        mode, 0o600,
        "the backup holds every record: its owner's alone"
    );

    // The original's states in sequence: one push after another, so the backup, a
    // consistent copy, holds exactly the first `records` of them.
    let (original, _) = claire.pull_all(0, 1000).await;
    let original_health = setup.client().health().await.body;
    assert!(
        original.len() > records as usize,
        "pushes came after the backup"
    );
    for target in [backend, backend.other()] {
        let (db, printed) = restore_into(target, &out, None);
        assert_eq!(
            (&printed["orgs"], &printed["records"]),
            (&json!(2), &json!(records)),
            "{target:?}: restore counts what the backup holds: {printed}"
        );
        assert_eq!(
            printed["journal_found"],
            json!(false),
            "a new database's journal did not exist: restore says so: {printed}"
        );
        let server = Server::start(&db, FAST);
        let health = server.client().health().await.body;
        assert_eq!(
            health["server_id"], original_health["server_id"],
            "{target:?}: the server replica stays the same"
        );
        assert_ne!(
            health["epoch"], original_health["epoch"],
            "{target:?}: a restore makes a new epoch"
        );
        assert_eq!(
            health["epoch"], printed["epoch"],
            "{target:?}: the epoch restore printed is the one served"
        );
        let (restored, next) = claire.on(&server).pull_all(0, 1000).await;
        assert_eq!(
            restored,
            original[..records as usize],
            "{target:?}: the restored records are those of the backup, in the same sequence"
        );
        assert_eq!(
            next, records,
            "{target:?}: and the sequence goes on from there"
        );
        let status = recovery_status(&db, "nord");
        assert_eq!(
            status["in_recovery"],
            json!(true),
            "{target:?}: a restore puts every organisation into recovery: {status}"
        );
    }
}

/// §7: `restore` only into an empty database, and `backup` never over a file.
async fn restore_refuses_a_database_that_is_not_empty_and_backup_an_existing_file(
    backend: Backend,
) {
    let setup = Setup::new(backend);
    let marie = setup.client().enrolled("marie").await;
    let claire = setup.client().enrolled("claire").await;
    let first = state(&new_id(), "person", marie.device(), 1, json!({"x_n": "1"}));
    marie.push(&[first]).await.expect_ok();
    let backup = take_backup(&setup.db);
    let bytes = std::fs::read(&backup).unwrap();

    let again = setup
        .db
        .cli(&["backup", "--out", backup.to_str().unwrap()], "");
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        !again.status.success() && stderr.contains("exists already"),
        "a backup never writes over a file: {stderr}"
    );
    assert_eq!(
        std::fs::read(&backup).unwrap(),
        bytes,
        "the file is left as it was"
    );

    // Into the database being served, which has changed since the backup.
    let later = state(&new_id(), "person", marie.device(), 1, json!({"x_n": "2"}));
    marie.push(&[later]).await.expect_ok();
    let before = (
        setup.client().health().await.body,
        served(&claire).await,
        setup.db.cli_ok(&["device", "list"], ""),
    );
    let refused = setup
        .db
        .cli(&["restore", "--from", backup.to_str().unwrap()], "");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && stderr.contains("not empty"),
        "restore refuses a database holding data, saying so: {stderr}"
    );
    let after = (
        setup.client().health().await.body,
        served(&claire).await,
        setup.db.cli_ok(&["device", "list"], ""),
    );
    assert_eq!(after, before, "the refused restore changed nothing");
    assert_eq!(before.1.len(), 2);

    // A finished backup leaves no partial file; an empty one (what a backup cut by a crash
    // leaves under its name) is refused, and the empty database stays empty.
    let mut partial = backup.as_os_str().to_owned();
    partial.push(".partial");
    assert!(!std::path::PathBuf::from(partial).exists());
    let empty = backup.with_file_name("cut-short.db");
    std::fs::write(&empty, b"").unwrap();
    let fresh = Database::new(backend);
    let refused = fresh.cli(&["restore", "--from", empty.to_str().unwrap()], "");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && stderr.contains("holds no organisation"),
        "an empty backup is refused, saying why: {stderr}"
    );
    let orgs = fresh.cli_ok(&["device", "list"], "");
    assert!(orgs.trim().is_empty(), "nothing was restored: {orgs}");

    // Nor twice into the same database.
    let (restored, _) = restore_into(backend.other(), &backup, None);
    let twice = restored.cli(&["restore", "--from", backup.to_str().unwrap()], "");
    assert!(
        !twice.status.success() && String::from_utf8_lossy(&twice.stderr).contains("not empty"),
        "a restored database is not empty"
    );
}

/// §6a on two devices: A edits P and Y after the backup, B edits Q and Y having pulled
/// A's edits, and A pulls B's. After the rollback each device pushes everything, in
/// either order: a record holding the other device's edits waits for that device, a
/// cycle (Y) is released once both have pushed, and everything comes back.
async fn two_devices_come_back(backend: Backend, how: Rollback) {
    let mut setup = Setup::with_args(backend, FAST);
    let mut a = Device::enrol(&setup.server, "marie").await;
    let mut b = Device::enrol(&setup.server, "claire").await;
    let observer = setup.client().enrolled("claire").await;
    let p = a.create("person", json!({"given_names": "Ion"}));
    let q = a.create("person", json!({"given_names": "Ana"}));
    let y = a.create("visit", json!({"setting": "site"}));
    a.sync().await;
    b.sync().await;
    let saved = save(&mut setup, how);
    let (mut a, mut b) = (a.on(&setup.server), b.on(&setup.server));
    let observer = observer.on(&setup.server);
    let at_backup = served(&observer).await;
    assert_eq!(at_backup.len(), 3);

    a.edit(&p, json!({"phone": "0600"}));
    a.edit(&y, json!({"notes_a": "A"}));
    a.sync().await;
    b.sync().await;
    b.edit(&q, json!({"notes": "B"}));
    b.edit(&y, json!({"notes_b": "B"}));
    b.sync().await;
    a.sync().await;
    assert_eq!(
        (a.records[&y].vv().get(b.id), b.records[&y].vv().get(a.id)),
        (1, 2),
        "A and B each hold the other's edit of Y"
    );
    let old_epoch = epoch(&setup.server).await;
    setup.server.stop();

    for a_first in [true, false] {
        let rolled = roll_back(&setup, backend, how, &saved);
        let db = rolled.db(&setup);
        let (mut a, mut b) = (a.on(&rolled.server), b.on(&rolled.server));
        let observer = observer.on(&rolled.server);
        let same_epoch = epoch(&rolled.server).await == old_epoch;
        match how {
            Rollback::Restore => assert!(!same_epoch, "restore makes a new epoch"),
            Rollback::CopyBack => {
                assert!(same_epoch, "a copied file keeps its epoch");
                assert_eq!(
                    recovery_status(db, "nord")["in_recovery"],
                    json!(false),
                    "nothing has told the server yet that it was rolled back"
                );
            }
        }
        // Both devices are ahead of what the server remembers of them.
        a.client
            .pull(a.since, None)
            .await
            .expect_error(409, "checkpoint_ahead");
        b.client
            .pull_pushed(0, b.pushed)
            .await
            .expect_error(409, "checkpoint_ahead");
        let status = recovery_status(db, "nord");
        assert_eq!(status["in_recovery"], json!(true), "{status}");
        assert!(status["until"].as_str().is_some(), "{status}");

        let (first, second) = match a_first {
            true => (&mut a, &mut b),
            false => (&mut b, &mut a),
        };
        let (first_statuses, second_statuses) = match a_first {
            true => (
                expected(&[(&p, "merged"), (&q, "held"), (&y, "held")]),
                expected(&[(&p, "unchanged"), (&q, "merged"), (&y, "merged")]),
            ),
            false => (
                expected(&[(&p, "held"), (&q, "merged"), (&y, "held")]),
                expected(&[(&p, "merged"), (&q, "unchanged"), (&y, "merged")]),
            ),
        };
        let order = if a_first { "A first" } else { "B first" };
        assert_eq!(first.recover().await, first_statuses, "{order}");
        let now = served(&observer).await;
        for (id, status) in &first_statuses {
            let expected = match status.as_str() {
                "held" => at_backup[id].clone(),
                _ => first.value(id),
            };
            assert_eq!(
                now[id], expected,
                "{order}: a held state is not served; a merged one is"
            );
        }
        let status = recovery_status(db, "nord");
        assert_eq!(
            (&status["held"], &status["waiting_on"]),
            (
                &counts(&[(&first.device(), 2)]),
                &counts(&[(&second.device(), 2)])
            ),
            "{order}: {status}"
        );

        assert_eq!(second.recover().await, second_statuses, "{order}");
        let status = recovery_status(db, "nord");
        assert_eq!(
            (&status["held"], &status["waiting_on"], &status["discarded"]),
            (&json!({}), &json!({}), &json!([])),
            "{order}: everything released: {status}"
        );
        let all = converged(&[&a, &b]);
        assert_eq!(
            (&all[&p]["fields"]["phone"], &all[&q]["fields"]["notes"]),
            (
                &json!([{"dot": [a.device(), 2], "at": AT, "value": "0600"}]),
                &json!([{"dot": [b.device(), 1], "at": AT, "value": "B"}])
            )
        );
        assert!(
            all[&y]["fields"]["notes_a"].is_array() && all[&y]["fields"]["notes_b"].is_array(),
            "{all:?}"
        );
        assert_eq!(
            served(&observer).await,
            all,
            "{order}: every record with every edit the devices held"
        );
        for device in [&mut a, &mut b] {
            device.pull().await.expect_ok();
            assert_eq!(held_by(device), all, "{order}: the devices converge");
        }
        let mut server = rolled.server;
        server.stop();
    }
}

async fn after_a_restore_held_edits_come_back_in_either_order(backend: Backend) {
    two_devices_come_back(backend, Rollback::Restore).await;
}

/// The same with the SQLite file copied while the server was stopped and copied back:
/// no restore, the same epoch, yet `checkpoint_ahead` reveals it and starts the recovery.
/// (PostgreSQL's counterpart, a standby promoted after losing its last transactions, is
/// the failover drill, tested elsewhere.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_file_copied_back_is_caught_by_the_checkpoint_and_converges() {
    two_devices_come_back(Backend::Sqlite, Rollback::CopyBack).await;
}

/// §6a: T is edited after the backup by A, then B, then C; N is created by B and edited
/// by C. Pushing in the order C, B, A, each record comes back once every device that
/// edited it has pushed.
async fn a_record_edited_by_three_devices_comes_back_once_each_has_synced(backend: Backend) {
    let mut setup = Setup::with_args(backend, FAST);
    let mut a = Device::enrol(&setup.server, "marie").await;
    let mut b = Device::enrol(&setup.server, "claire").await;
    let mut c = Device::enrol(&setup.server, "marie").await;
    let observer = setup.client().enrolled("claire").await;
    let t = a.create("person", json!({"given_names": "Ion"}));
    a.sync().await;
    b.sync().await;
    c.sync().await;
    let backup = take_backup(&setup.db);
    let at_backup = served(&observer).await;

    a.edit(&t, json!({"phone": "0600"}));
    a.sync().await;
    b.sync().await;
    b.edit(&t, json!({"email": "ion@example.org"}));
    let n = b.create("visit", json!({"setting": "site"}));
    b.sync().await;
    c.sync().await;
    c.edit(&t, json!({"notes": "C"}));
    c.edit(&n, json!({"notes": "C"}));
    c.sync().await;
    setup.server.stop();

    let journal = setup.db.journal();
    let (db, _) = restore_into(backend, &backup, Some(&journal));
    let server = serve(&db, &journal);
    let (mut a, mut b, mut c) = (a.on(&server), b.on(&server), c.on(&server));
    let observer = observer.on(&server);
    c.pull().await.expect_error(409, "checkpoint_ahead");

    // C: T waits on A and B, N (which the server never had) on B.
    assert_eq!(c.recover().await, expected(&[(&t, "held"), (&n, "held")]));
    let status = recovery_status(&db, "nord");
    assert_eq!(
        (&status["held"], &status["waiting_on"]),
        (
            &counts(&[(&c.device(), 2)]),
            &counts(&[(&a.device(), 1), (&b.device(), 2)])
        ),
        "{status}"
    );
    let now = served(&observer).await;
    assert_eq!(now[&t], at_backup[&t], "T as restored");
    assert!(!now.contains_key(&n), "N, held, is not served");

    // B: N is created, and C's N, now vouched for, released; T still waits on A.
    assert_eq!(
        b.recover().await,
        expected(&[(&t, "held"), (&n, "created")])
    );
    let status = recovery_status(&db, "nord");
    assert_eq!(
        (&status["held"], &status["waiting_on"]),
        (
            &counts(&[(&b.device(), 1), (&c.device(), 1)]),
            &counts(&[(&a.device(), 2)])
        ),
        "{status}"
    );
    let now = served(&observer).await;
    assert_eq!(now[&n], c.value(&n), "N with B's and C's edits");
    assert_eq!(now[&t], at_backup[&t], "T still as restored");

    // A: T is merged, and both held states with it.
    assert_eq!(a.recover().await, expected(&[(&t, "merged")]));
    let status = recovery_status(&db, "nord");
    assert_eq!(
        (&status["held"], &status["waiting_on"], &status["discarded"]),
        (&json!({}), &json!({}), &json!([])),
        "{status}"
    );
    let all = converged(&[&a, &b, &c]);
    let fields = all[&t]["fields"].as_object().unwrap();
    assert_eq!(
        fields.keys().collect::<Vec<_>>(),
        ["email", "given_names", "notes", "phone"],
        "T holds the edits of all three"
    );
    assert_eq!(served(&observer).await, all);
    // The audit tells T's story as the restored database knows it: created before the
    // backup, held twice, then merged with A's push.
    let pushes: Vec<(String, String)> = audit_rows(&db, &["--record", &t])
        .iter()
        .filter(|row| row["event"] == json!("pushed"))
        .map(|row| (row["status"].to_string(), row["device"].to_string()))
        .collect();
    let by = |status: &str, device: &Device| {
        (
            json!(status).to_string(),
            json!(device.device()).to_string(),
        )
    };
    assert_eq!(
        pushes,
        [
            by("created", &a),
            by("held", &c),
            by("held", &b),
            by("merged", &a)
        ]
    );
}

/// `audit --org nord ARGS…`, one JSON object a line.
fn audit_rows(db: &Database, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["audit", "--org", "nord"];
    all.extend(args);
    db.cli_ok(&all, "")
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// §6a, §7 `recovery accept` and `recovery end`: A and D never sync again. Their edits,
/// held inside B's and C's states, wait on them; a coordinator accepts A's, and what
/// still waits (D's, inside C's state) is discarded when the recovery ends.
async fn what_waits_on_a_device_that_never_comes_back_is_accepted_or_discarded(backend: Backend) {
    let mut setup = Setup::with_args(backend, FAST);
    let mut a = Device::enrol(&setup.server, "marie").await;
    let mut b = Device::enrol(&setup.server, "claire").await;
    let mut c = Device::enrol(&setup.server, "marie").await;
    let mut d = Device::enrol(&setup.server, "claire").await;
    let observer = setup.client().enrolled("claire").await;
    let w = a.create("person", json!({"given_names": "Ion"}));
    let v = a.create("person", json!({"given_names": "Ana"}));
    a.sync().await;
    let backup = take_backup(&setup.db);
    let at_backup = served(&observer).await;

    a.edit(&w, json!({"phone": "0600"}));
    a.sync().await;
    b.sync().await;
    d.sync().await;
    d.edit(&v, json!({"phone": "0700"}));
    d.sync().await;
    c.sync().await;
    c.edit(&v, json!({"notes": "C"}));
    c.sync().await;
    setup.server.stop();

    let journal = setup.db.journal();
    let (db, _) = restore_into(backend, &backup, Some(&journal));
    let server = serve(&db, &journal);
    let (mut b, mut c) = (b.on(&server), c.on(&server));
    let observer = observer.on(&server);
    assert_eq!(
        b.recover().await,
        expected(&[(&w, "held"), (&v, "unchanged")])
    );
    assert_eq!(c.recover().await, expected(&[(&w, "held"), (&v, "held")]));
    let status = recovery_status(&db, "nord");
    assert_eq!(
        (&status["held"], &status["waiting_on"]),
        (
            &counts(&[(&b.device(), 1), (&c.device(), 2)]),
            &counts(&[(&a.device(), 2), (&d.device(), 1)])
        ),
        "A's edit waits in B's and C's W, D's in C's V: {status}"
    );
    assert_eq!(served(&observer).await, at_backup, "nothing held is served");

    let accepted = db.cli_ok(
        &[
            "recovery",
            "accept",
            "--org",
            "nord",
            "--device",
            &a.device(),
        ],
        "",
    );
    assert_eq!(
        serde_json::from_str::<Value>(accepted.trim()).unwrap(),
        json!({"released": 2})
    );
    let now = served(&observer).await;
    assert_eq!(
        now[&w],
        c.value(&w),
        "W with A's edit, which A never pushed"
    );
    assert_eq!(now[&v], at_backup[&v], "V still waits on D");
    let status = recovery_status(&db, "nord");
    assert_eq!(
        (&status["held"], &status["waiting_on"], &status["accepted"]),
        (
            &counts(&[(&c.device(), 1)]),
            &counts(&[(&d.device(), 1)]),
            &json!([a.device()])
        ),
        "{status}"
    );

    let ended = db.cli_ok(&["recovery", "end", "--org", "nord"], "");
    let ended: Value = serde_json::from_str(ended.trim()).unwrap();
    assert_eq!(
        discards(&ended),
        [triple(&v, &c.device(), "recovery_ended")],
        "what still waited is discarded and listed: {ended}"
    );
    let status = recovery_status(&db, "nord");
    assert_eq!(status["in_recovery"], json!(false), "{status}");
    assert_eq!(status["held"], json!({}), "{status}");
    assert_eq!(
        discards(&status),
        [triple(&v, &c.device(), "recovery_ended")],
        "the status keeps the list: {status}"
    );
    assert_eq!(served(&observer).await[&v], at_backup[&v]);
    // Out of recovery, D's edit is a forged dot again, and nothing is left to accept.
    let answer = c.push_all().await;
    answer.expect_error(422, "forged_dot");
    assert_eq!(answer.body["error"]["id"], json!(v), "{answer:?}");
    let late = db.cli(&["recovery", "accept", "--org", "nord"], "");
    assert!(
        !late.status.success() && String::from_utf8_lossy(&late.stderr).contains("not in recovery"),
        "accept after the end: {}",
        String::from_utf8_lossy(&late.stderr)
    );
    // The coordinator's choices are in the audit (§6a).
    let settled: Vec<Value> = audit_rows(&db, &[])
        .into_iter()
        .filter(|row| row["event"].as_str().unwrap().starts_with("recovery_"))
        .map(|mut row| {
            row.as_object_mut().unwrap().remove("at");
            row
        })
        .collect();
    assert_eq!(
        settled,
        [
            json!({"event": "recovery_accepted", "device": a.device(), "released": 2}),
            json!({"event": "recovery_ended", "discarded": 1}),
        ]
    );
}

/// §6: outside recovery a dot of another device is forged; §6a: in recovery a dot of a
/// replica that is no device of the organisation still is (another organisation's
/// device, the server's own replica, nobody), naming the record, storing nothing.
async fn forged_dots_are_refused_in_recovery_too(backend: Backend) {
    let mut setup = Setup::with_args(backend, FAST);
    let mut a = Device::enrol(&setup.server, "marie").await;
    let b = setup.client().enrolled("claire").await;
    let paul = setup.client().enrolled("paul").await;
    let x = a.create("person", json!({"given_names": "Ion"}));
    a.sync().await;

    let forged = new_id();
    let answer = a
        .client
        .push(&[state(&forged, "person", b.device(), 1, json!({"x_n": "1"}))])
        .await;
    answer.expect_error(422, "forged_dot");
    assert_eq!(answer.body["error"]["id"], json!(forged));

    let backup = take_backup(&setup.db);
    a.edit(&x, json!({"phone": "0600"}));
    a.sync().await;
    let server_id = setup.client().health().await.body["server_id"]
        .as_str()
        .unwrap()
        .to_owned();
    setup.server.stop();
    let journal = setup.db.journal();
    let (db, _) = restore_into(backend, &backup, Some(&journal));
    let server = serve(&db, &journal);
    let mut a = a.on(&server);
    let b = b.on(&server);
    a.pull().await.expect_error(409, "checkpoint_ahead");

    let nobody = uuid::Uuid::new_v4().to_string();
    for (replica, who) in [
        (paul.device(), "a device of another organisation"),
        (server_id.as_str(), "the server's replica"),
        (nobody.as_str(), "no device"),
    ] {
        let id = new_id();
        let answer = b
            .push(&[state(&id, "person", replica, 1, json!({"x_n": "1"}))])
            .await;
        answer.expect_error(422, "forged_dot");
        assert_eq!(answer.body["error"]["id"], json!(id), "{who}: {answer:?}");
        // Beside A's edit, which alone would be held, it refuses the whole push.
        let mut mixed = a.value(&x);
        mixed["vv"][replica] = json!(1);
        mixed["fields"]["x_n"] = json!([{"dot": [replica, 1], "at": AT, "value": "1"}]);
        let answer = b.push(&[mixed]).await;
        answer.expect_error(422, "forged_dot");
        assert_eq!(answer.body["error"]["id"], json!(x), "{who}: {answer:?}");
    }
    let status = recovery_status(&db, "nord");
    assert_eq!(
        status["held"],
        json!({}),
        "nothing refused is held: {status}"
    );
    let (states, _) = b.pull_all(0, 1000).await;
    assert_eq!(states.len(), 1, "nothing refused is stored: {states:?}");
}

/// §6a: with B's token, a thief in recovery pushes A's second edit of X with another
/// content, and a Z that covers A's edit of the phone while leaving the field out. Both
/// are held, and neither gets in once A, the author, pushes: discarded and listed.
async fn a_stolen_token_in_recovery_gets_nothing_merged(backend: Backend) {
    let mut setup = Setup::with_args(backend, FAST);
    let mut a = Device::enrol(&setup.server, "marie").await;
    let thief = setup.client().enrolled("claire").await;
    let observer = setup.client().enrolled("claire").await;
    let x = a.create("person", json!({"given_names": "Ion"}));
    let z = a.create("person", json!({"phone": "0600"}));
    a.sync().await;
    let backup = take_backup(&setup.db);
    let at_backup = a.clone();
    a.edit(&x, json!({"given_names": "Ioan"}));
    a.edit(&z, json!({"phone": "0611"}));
    a.sync().await;
    setup.server.stop();

    let journal = setup.db.journal();
    let (db, _) = restore_into(backend, &backup, Some(&journal));
    let server = serve(&db, &journal);
    let (mut a, thief, observer) = (a.on(&server), thief.on(&server), observer.on(&server));

    let mut fake_x = at_backup.records[&x].clone();
    fake_x
        .edit(a.id, at(), changes(json!({"given_names": "Mallory"})))
        .unwrap();
    let fake_z = json!({
        "id": z, "kind": "person", "vv": {a.device(): 2, thief.device(): 1},
        "fields": {"notes": [{"dot": [thief.device(), 1], "at": AT, "value": "thief"}]},
    });
    let fake_x = json_of(&fake_x);
    let answer = thief.push(&[fake_x.clone(), fake_z.clone()]).await;
    assert_eq!(statuses(&answer), expected(&[(&x, "held"), (&z, "held")]));
    let status = recovery_status(&db, "nord");
    assert_eq!(
        (&status["held"], &status["waiting_on"]),
        (
            &counts(&[(thief.device(), 2)]),
            &counts(&[(&a.device(), 2)])
        ),
        "{status}"
    );

    a.pull().await.expect_error(409, "checkpoint_ahead");
    assert_eq!(
        a.recover().await,
        expected(&[(&x, "merged"), (&z, "merged")])
    );
    let now = served(&observer).await;
    assert_eq!(
        (&now[&x], &now[&z]),
        (&a.value(&x), &a.value(&z)),
        "A's content only"
    );
    assert_eq!(
        now[&x]["fields"]["given_names"],
        json!([{"dot": [a.device(), 2], "at": AT, "value": "Ioan"}])
    );
    let status = recovery_status(&db, "nord");
    assert_eq!(status["held"], json!({}), "{status}");
    assert_eq!(
        discards(&status),
        {
            let mut list = vec![
                triple(&x, thief.device(), "altered_entry"),
                triple(&z, thief.device(), "dropped_entry"),
            ];
            list.sort();
            list
        },
        "{status}"
    );
    // Sent again, now that the server holds A's edits, both are refused outright.
    thief.push(&[fake_x]).await.expect_error(422, "forged_dot");
    thief
        .push(&[fake_z])
        .await
        .expect_error(422, "dropped_entry");
    assert_eq!(served(&observer).await, now, "nothing changed");
}

/// §6a: a device enrolled twice after the backup gets its last token back, and only it:
/// the replay never sets a token back to an older one, not even for a moment (a server
/// process starting beside others that serve replays the journal while they answer).
async fn only_a_device_s_last_token_is_replayed(backend: Backend) {
    let mut setup = Setup::with_args(backend, FAST);
    let backup = take_backup(&setup.db);
    let first = setup.client().enrolled("marie").await;
    let again = setup
        .client()
        .enrol("marie", crate::harness::PASSWORD, Some(first.device()))
        .await;
    assert_eq!(again.status.as_u16(), 201, "{again:?}");
    let last = Client {
        token: Some(again.body["token"].as_str().unwrap().to_owned()),
        ..first.clone()
    };
    setup.server.stop();

    let journal = setup.db.journal();
    let (db, printed) = restore_into(backend, &backup, Some(&journal));
    assert_eq!(
        printed["journal_applied"],
        json!(1),
        "the second enrolment only, not the first one's token: {printed}"
    );
    let server = serve(&db, &journal);
    last.on(&server).pull(0, None).await.expect_ok();
    first
        .on(&server)
        .pull(0, None)
        .await
        .expect_error(401, "unauthorized");
}

/// §6a: the journal, outside the database, keeps what happened after the backup: an
/// enrolment, an erasure, a revocation and a disable; and it holds no personal data.
async fn the_journal_keeps_what_a_restore_must_not_roll_back(backend: Backend) {
    let mut setup = Setup::with_args(backend, FAST);
    let marie = setup.client().enrolled("marie").await;
    let claire = setup.client().enrolled("claire").await;
    let paul = setup.client().enrolled("paul").await;
    let secret = "Zqxwvy Journalname";
    let person = new_id();
    marie
        .push(&[state(
            &person,
            "person",
            marie.device(),
            1,
            json!({"given_names": secret}),
        )])
        .await
        .expect_ok();
    let rekeyed = setup.client().enrolled("marie").await;
    let backup = take_backup(&setup.db);

    let late = setup.client().enrolled("marie").await;
    late.pull(0, None).await.expect_ok();
    // A device re-keyed after the backup (its case file was copied): the successor keeps
    // working after the restore, the predecessor stays retired.
    let answer = rekeyed.rekey(rekeyed.device()).await;
    assert_eq!(answer.status.as_u16(), 201, "{answer:?}");
    let successor = Client {
        token: Some(answer.body["token"].as_str().unwrap().to_owned()),
        device_id: Some(answer.body["device_id"].as_str().unwrap().to_owned()),
        ..rekeyed.clone()
    };
    claire.erase(&person).await.expect_ok();
    setup.db.cli_ok(&["device", "revoke", claire.device()], "");
    setup
        .db
        .cli_ok(&["user", "disable", "--username", "paul"], "");
    let old_epoch = epoch(&setup.server).await;
    setup.server.stop();

    let journal = setup.db.journal();
    let (db, printed) = restore_into(backend, &backup, Some(&journal));
    assert_eq!(
        printed["journal_applied"],
        json!(5),
        "the enrolment, the re-key, the erasure, the revocation and the disable after the \
         backup: {printed}"
    );
    assert_ne!(printed["epoch"], json!(old_epoch));
    assert_eq!(printed["journal_found"], json!(true), "{printed}");
    let devices = db.cli_ok(&["device", "list", "--org", "nord"], "");
    assert!(
        devices.contains(late.device()),
        "the restore applied the journal before anything serves: {devices}"
    );

    let server = serve(&db, &journal);
    let (marie, claire, paul, late) = (
        marie.on(&server),
        claire.on(&server),
        paul.on(&server),
        late.on(&server),
    );
    late.pull(0, None).await.expect_ok();
    successor.on(&server).pull(0, None).await.expect_ok();
    rekeyed
        .on(&server)
        .pull(0, None)
        .await
        .expect_error(409, "replica_reused");
    claire
        .pull(0, None)
        .await
        .expect_error(401, "device_revoked");
    paul.pull(0, None).await.expect_error(401, "user_disabled");
    let erased = json!({"id": person, "kind": "person", "vv": {marie.device(): 1}, "erased": true, "fields": {}});
    let (states, _) = late.pull_all(0, 1000).await;
    assert_eq!(states, [erased], "the record stays erased");
    // Marie's device, which never pulled the erasure, edits and pushes it again.
    let mut edited = state(
        &person,
        "person",
        marie.device(),
        2,
        json!({"phone": "0600"}),
    );
    edited["fields"]["given_names"] =
        json!([{"dot": [marie.device(), 1], "at": AT, "value": secret}]);
    marie.push(&[edited]).await.expect_ok();
    let (states, _) = marie.pull_all(0, 1000).await;
    assert_eq!(
        states,
        [
            json!({"id": person, "kind": "person", "vv": {marie.device(): 2}, "erased": true, "fields": {}})
        ],
        "her push is erased on arrival"
    );

    let text = std::fs::read_to_string(&journal).unwrap();
    assert!(
        text.contains(late.device()) && text.lines().count() >= 7,
        "the journal of this server: {text}"
    );
    for personal in ["marie", "claire", "paul", "Zqxwvy", "Journalname"] {
        assert!(
            !text.contains(personal),
            "the journal holds no username and no record content ({personal}): {text}"
        );
    }
}

/// §6a: one dot given to two edits, or a `pushed` below what the server acknowledged, is
/// `replica_reused`; the device takes a new id with `POST /v1/devices/rekey`, and both
/// lives of its case file reach the team.
async fn a_reused_replica_is_refused_until_it_takes_a_new_id(backend: Backend) {
    let setup = Setup::new(backend);
    let marie = setup.client().enrolled("marie").await;
    let claire = setup.client().enrolled("claire").await;
    let id = new_id();
    let first = state(
        &id,
        "person",
        marie.device(),
        1,
        json!({"given_names": "Ion"}),
    );
    marie
        .push_through(std::slice::from_ref(&first), 1)
        .await
        .expect_ok();
    marie.pull_pushed(0, 1).await.expect_ok();

    // The case file put back from an older copy gave its first dot to another edit.
    let other_life = state(
        &id,
        "person",
        marie.device(),
        1,
        json!({"given_names": "Ioan"}),
    );
    marie
        .push_through(std::slice::from_ref(&other_life), 1)
        .await
        .expect_error(409, "replica_reused");
    marie
        .pull_pushed(0, 0)
        .await
        .expect_error(409, "replica_reused");
    assert_eq!(served(&claire).await[&id], first, "nothing of it stored");

    marie
        .rekey(claire.device())
        .await
        .expect_error(400, "bad_request");
    let answer = marie.rekey(marie.device()).await;
    assert_eq!(answer.status, 201, "{answer:?}");
    let successor_id = answer.body["device_id"].as_str().unwrap().to_owned();
    assert!(
        successor_id.parse::<ReplicaId>().is_ok() && successor_id != marie.device(),
        "a new replica id: {answer:?}"
    );
    assert_eq!(answer.body["token"].as_str().map(str::len), Some(64));
    assert_eq!(
        answer.body["epoch"].as_str(),
        Some(epoch(&setup.server).await.as_str())
    );
    let successor = Client {
        token: answer.body["token"].as_str().map(str::to_owned),
        device_id: Some(successor_id.clone()),
        ..marie.clone()
    };

    // The predecessor is retired: its token still authenticates, for nothing but a re-key.
    marie
        .push_through(std::slice::from_ref(&first), 1)
        .await
        .expect_error(409, "replica_reused");
    marie
        .pull_pushed(0, 1)
        .await
        .expect_error(409, "replica_reused");
    marie
        .pull(0, None)
        .await
        .expect_error(409, "replica_reused");

    // The other life's edit, under a dot of the new id, beside the predecessor's, plus a
    // new edit.
    let server_copy = RecordState::from_value(&first).unwrap();
    let (old, new) = (
        marie.device().parse::<ReplicaId>().unwrap(),
        successor_id.parse::<ReplicaId>().unwrap(),
    );
    let redotted = sync_protocol::redot(
        &RecordState::from_value(&other_life).unwrap(),
        Some(&server_copy),
        old,
        new,
    );
    let mut merged = sync_protocol::merge(&server_copy, &redotted).unwrap();
    merged
        .edit(new, at(), changes(json!({"phone": "0600"})))
        .unwrap();
    let answer = successor.push_through(&[json_of(&merged)], 2).await;
    assert_eq!(statuses(&answer), expected(&[(&id, "merged")]));
    let now = served(&claire).await;
    // Entries come in dot order: replica ids compare as their lowercase text does.
    let mut both = vec![
        json!({"dot": [marie.device(), 1], "at": AT, "value": "Ion"}),
        json!({"dot": [successor_id, 1], "at": AT, "value": "Ioan"}),
    ];
    both.sort_by_key(|e| e["dot"][0].as_str().unwrap().to_owned());
    assert_eq!(
        now[&id]["fields"]["given_names"],
        json!(both),
        "both lives' edits: {now:?}"
    );
    assert_eq!(now[&id], json_of(&merged));
    successor.pull_pushed(0, 2).await.expect_ok();
    // Outside recovery, the successor does not bring new dots of its predecessor.
    let unseen = state(&id, "person", marie.device(), 2, json!({"x_n": "1"}));
    successor
        .push(&[unseen])
        .await
        .expect_error(422, "forged_dot");
    // The retired token may re-key again (its first re-key's answer may have been lost).
    let again = marie.rekey(marie.device()).await;
    assert_eq!(again.status, 201, "{again:?}");
    assert_ne!(again.body["device_id"], json!(successor_id));
}
