//! SYNC-PROTOCOL.md §6a on the device: a server restored from a backup (a new epoch, 409
//! `checkpoint_ahead`) gets everything again; a case file put back from a copy (409
//! `replica_reused`) re-keys, re-dots and sends everything again; enrolling with another
//! server sends it everything. Against a small in-memory server on the stub, which keeps
//! what §6a has the server remember (`answered`, `acked`, retired replicas) and can be
//! restored from a snapshot; the same scenarios against the real server come with its
//! side of §6a. It applies the no-drop rule and finds reused dots as §6a says, and takes
//! every other device's dot as vouched for (a server in recovery whose devices all came
//! back).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use casefile::sync_protocol::{RecordId, RecordState, ReplicaId, check_no_drop, merge, reused_dot};
use casefile::{CaseFile, Phase, Progress, SyncError, SyncReport};
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::common::{PASS, db_path, fields, person, raw, site};
use crate::server::patient;
use crate::stub::{Answer, Request, Stub};

/// What the in-memory server remembers of one token's device.
#[derive(Debug, Clone)]
struct Conversation {
    device: ReplicaId,
    name: String,
    answered: u64,
    acked: u64,
}

/// The in-memory server's database.
#[derive(Debug, Clone)]
struct Db {
    server_id: String,
    epoch: String,
    seq: u64,
    records: BTreeMap<RecordId, (u64, RecordState)>,
    tokens: BTreeMap<String, Conversation>,
    retired: BTreeSet<ReplicaId>,
    issued: u64,
}

/// How the in-memory server behaves, beyond its database.
#[derive(Debug, Default)]
struct Behaviour {
    /// Records per pull page.
    page: usize,
    /// Answer every pull 409 `checkpoint_ahead`.
    always_ahead: bool,
    /// Answer this many pushes 400.
    fail_pushes: usize,
    /// Records answered `held` (and not stored).
    hold: BTreeSet<RecordId>,
}

struct Fake {
    db: Db,
    behaviour: Behaviour,
}

fn error(status: u16, code: &str) -> Answer {
    (
        status,
        json!({"error": {"code": code, "message": format!("the test server answers {code}")}}),
    )
}

fn uuid() -> String {
    uuid::Uuid::now_v7().to_string()
}

impl Fake {
    fn answer(&mut self, request: &Request) -> Answer {
        let (path, query) = request
            .path
            .split_once('?')
            .unwrap_or((request.path.as_str(), ""));
        match path {
            "/v1/devices" => self.enrol(&request.body),
            "/v1/devices/rekey" => self.rekey(request),
            "/v1/push" => self.push(request),
            "/v1/pull" => self.pull(request, query),
            "/v1/replicas" => {
                let directory: BTreeMap<String, Value> = self
                    .db
                    .tokens
                    .values()
                    .map(|c| {
                        (
                            c.device.to_string(),
                            json!({"device_name": c.name, "user": "marie"}),
                        )
                    })
                    .collect();
                (200, json!(directory))
            }
            _ => error(404, "not_found"),
        }
    }

    fn issue(&mut self, device: ReplicaId, name: &str) -> String {
        self.db.issued += 1;
        let token = format!("token-{}", self.db.issued);
        self.db.tokens.insert(
            token.clone(),
            Conversation {
                device,
                name: name.to_owned(),
                answered: 0,
                acked: 0,
            },
        );
        token
    }

    fn enrol(&mut self, body: &Value) -> Answer {
        assert_eq!(
            body["enrolment_code"],
            json!(CODE),
            "the client sends the code"
        );
        let device: ReplicaId = body["device_id"].as_str().unwrap().parse().unwrap();
        let token = self.issue(device, body["device_name"].as_str().unwrap());
        (
            201,
            json!({
                "device_id": device.to_string(), "token": token, "server_id": self.db.server_id,
                "org": "org", "epoch": self.db.epoch,
            }),
        )
    }

    fn rekey(&mut self, request: &Request) -> Answer {
        let Some(conversation) = request.token.as_ref().and_then(|t| self.db.tokens.get(t)) else {
            return error(401, "unauthorized");
        };
        let predecessor: ReplicaId = request.body["predecessor"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        if predecessor != conversation.device {
            return error(403, "forbidden");
        }
        let name = conversation.name.clone();
        self.db.retired.insert(predecessor);
        let device: ReplicaId = uuid().parse().unwrap();
        let token = self.issue(device, &name);
        (
            201,
            json!({"device_id": device.to_string(), "token": token, "epoch": self.db.epoch}),
        )
    }

    fn push(&mut self, request: &Request) -> Answer {
        let Some(token) = request
            .token
            .clone()
            .filter(|t| self.db.tokens.contains_key(t))
        else {
            return error(401, "unauthorized");
        };
        let device = self.db.tokens[&token].device;
        if self.db.retired.contains(&device) {
            return error(409, "replica_reused");
        }
        if self.behaviour.fail_pushes > 0 {
            self.behaviour.fail_pushes -= 1;
            return error(400, "bad_request");
        }
        let states: Vec<RecordState> = request.body["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| RecordState::from_value(v).unwrap())
            .collect();
        for state in &states {
            let stored = self.db.records.get(&state.id()).map(|(_, s)| s);
            if reused_dot(state, stored, device).is_some() {
                return error(409, "replica_reused");
            }
            if let Some(stored) = stored
                && check_no_drop(stored, state).is_err()
            {
                let (status, mut body) = error(422, "dropped_entry");
                body["error"]["id"] = json!(state.id().to_string());
                return (status, body);
            }
        }
        let mut results = Vec::new();
        for state in states {
            let id = state.id();
            let status = if self.behaviour.hold.contains(&id) {
                "held"
            } else {
                let (status, merged) = match self.db.records.get(&id) {
                    None => ("created", state),
                    Some((_, stored)) => {
                        let merged = merge(stored, &state).unwrap();
                        if merged == *stored {
                            results.push(json!({"id": id.to_string(), "status": "unchanged"}));
                            continue;
                        }
                        ("merged", merged)
                    }
                };
                self.db.seq += 1;
                self.db.records.insert(id, (self.db.seq, merged));
                status
            };
            results.push(json!({"id": id.to_string(), "status": status}));
        }
        if let Some(through) = request.body["through"].as_u64() {
            let conversation = self.db.tokens.get_mut(&token).unwrap();
            conversation.acked = conversation.acked.max(through);
        }
        (
            200,
            json!({"server_seq": self.db.seq, "epoch": self.db.epoch, "results": results}),
        )
    }

    fn pull(&mut self, request: &Request, query: &str) -> Answer {
        let Some(token) = request
            .token
            .clone()
            .filter(|t| self.db.tokens.contains_key(t))
        else {
            return error(401, "unauthorized");
        };
        let param = |name: &str| {
            query
                .split('&')
                .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
                .map(|n| n.parse::<u64>().unwrap())
        };
        let since = param("since").unwrap();
        let pushed = param("pushed");
        let Conversation {
            device,
            answered,
            acked,
            ..
        } = self.db.tokens[&token].clone();
        if self.db.retired.contains(&device) || pushed.is_some_and(|p| p < acked) {
            return error(409, "replica_reused");
        }
        if self.behaviour.always_ahead || since > answered || pushed.is_some_and(|p| p > acked) {
            return error(409, "checkpoint_ahead");
        }
        let mut rows: Vec<&(u64, RecordState)> = self
            .db
            .records
            .values()
            .filter(|(seq, _)| *seq > since)
            .collect();
        rows.sort_by_key(|(seq, _)| *seq);
        let more = rows.len() > self.behaviour.page;
        rows.truncate(self.behaviour.page);
        let next = rows.last().map_or(since, |(seq, _)| *seq);
        let records: Vec<Value> = rows
            .iter()
            .map(|(_, s)| serde_json::to_value(s).unwrap())
            .collect();
        let conversation = self.db.tokens.get_mut(&token).unwrap();
        conversation.answered = conversation.answered.max(next);
        (
            200,
            json!({"records": records, "next": next, "more": more, "epoch": self.db.epoch}),
        )
    }
}

/// The in-memory server, serving on the stub.
struct Server {
    stub: Stub,
    fake: Arc<Mutex<Fake>>,
}

impl Server {
    fn start() -> Server {
        let fake = Arc::new(Mutex::new(Fake {
            db: Db {
                server_id: uuid(),
                epoch: uuid(),
                seq: 0,
                records: BTreeMap::new(),
                tokens: BTreeMap::new(),
                retired: BTreeSet::new(),
                issued: 0,
            },
            behaviour: Behaviour {
                page: 1000,
                ..Behaviour::default()
            },
        }));
        let serving = Arc::clone(&fake);
        let stub = Stub::start(move |request| serving.lock().unwrap().answer(request));
        Server { stub, fake }
    }

    fn url(&self) -> &str {
        &self.stub.url
    }

    fn epoch(&self) -> String {
        self.fake.lock().unwrap().db.epoch.clone()
    }

    /// A backup of the database.
    fn backup(&self) -> Db {
        self.fake.lock().unwrap().db.clone()
    }

    /// Restores `backup`: by `restore` (a new epoch), or by copying the files back (the
    /// same epoch).
    fn restore(&self, backup: &Db, new_epoch: bool) {
        let mut fake = self.fake.lock().unwrap();
        let epoch = if new_epoch {
            uuid()
        } else {
            fake.db.epoch.clone()
        };
        fake.db = backup.clone();
        fake.db.epoch = epoch;
    }

    fn behave(&self, f: impl FnOnce(&mut Behaviour)) {
        f(&mut self.fake.lock().unwrap().behaviour);
    }

    fn holds(&self, id: RecordId) -> Option<RecordState> {
        self.fake
            .lock()
            .unwrap()
            .db
            .records
            .get(&id)
            .map(|(_, s)| s.clone())
    }

    /// Every request so far.
    fn requests(&self) -> Vec<Request> {
        self.stub.requests.lock().unwrap().clone()
    }
}

/// The enrolment code every enrolment here brings (the stand-in server checks only that
/// it arrives as typed, trimmed).
const CODE: &str = "7KQ2-M9XD-4HRW-C3TB";

/// A case file enrolled with `server`.
fn enrolled(server: &Server, name: &str) -> (TempDir, CaseFile) {
    let (dir, mut file) = crate::common::fresh();
    file.enrol(server.url(), "marie", "secret", CODE, name)
        .unwrap();
    (dir, file)
}

fn sync(file: &mut CaseFile) -> Result<SyncReport, SyncError> {
    file.sync_with(patient(), &mut |_| {}, &AtomicBool::new(false))
}

/// Syncs, cancelling at the first progress event `cut` picks (a cut connection, a
/// killed app: what was committed stays).
fn sync_cut(
    file: &mut CaseFile,
    mut cut: impl FnMut(&Progress) -> bool,
) -> Result<SyncReport, SyncError> {
    let cancel = AtomicBool::new(false);
    file.sync_with(
        patient(),
        &mut |p| {
            if cut(&p) {
                cancel.store(true, Ordering::SeqCst);
            }
        },
        &cancel,
    )
}

/// The ids of the states pushed by `requests`, in order.
fn pushed_ids(requests: &[Request]) -> Vec<String> {
    requests
        .iter()
        .filter(|r| r.path == "/v1/push")
        .flat_map(|r| r.body["records"].as_array().cloned().unwrap_or_default())
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect()
}

fn pulls(requests: &[Request]) -> Vec<String> {
    requests
        .iter()
        .filter(|r| r.path.starts_with("/v1/pull"))
        .map(|r| r.path.clone())
        .collect()
}

/// The values of a record's phone entries, as JSON text, sorted.
fn phones(state: &RecordState) -> Vec<String> {
    let mut out: Vec<String> = state
        .entries("phone")
        .iter()
        .map(|e| e.value.to_string())
        .collect();
    out.sort();
    out
}

/// Copies a closed case file (and its key parameters) into a new folder: a backup put
/// back, or the file taken to another machine.
fn copy_of(dir: &TempDir) -> TempDir {
    let copy = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, copy.path().join(path.file_name().unwrap())).unwrap();
    }
    copy
}

fn reopen(dir: &TempDir) -> CaseFile {
    CaseFile::open(db_path(dir), PASS).unwrap()
}

/// A server restored by `restore` names a new epoch: the device sends every record
/// again, those it only ever pulled included, and pulls from 0.
#[test]
fn a_new_epoch_sends_everything_again() {
    let server = Server::start();
    let (_a_dir, mut a) = enrolled(&server, "a");
    let (_b_dir, mut b) = enrolled(&server, "b");
    let backup = server.backup();
    let theirs = site(&mut b, "Camp Nord");
    sync(&mut b).unwrap();
    let mine = person(&mut a, "Popa", "Ion");
    sync(&mut a).unwrap();
    assert_eq!(
        a.setting("sync.epoch").unwrap(),
        Some(server.epoch()),
        "the epoch of the answers is kept"
    );
    assert!(a.get(theirs).is_ok(), "A pulled B's site");

    server.restore(&backup, true);
    let later = person(&mut a, "Rusu", "Ana");
    let before = server.requests().len();
    let report = sync(&mut a).unwrap();
    let requests = server.requests().split_off(before);

    assert_eq!(
        a.setting("sync.epoch").unwrap(),
        Some(server.epoch()),
        "the new epoch is kept"
    );
    for id in [mine, later, theirs] {
        assert!(
            server.holds(id).is_some(),
            "the restored server must get {id} back from A"
        );
    }
    let sent = pushed_ids(&requests);
    assert!(
        sent.contains(&theirs.to_string()),
        "a record A only pulled is sent again: {sent:?}"
    );
    let pulled = pulls(&requests);
    assert_eq!(pulled.len(), 1, "one pull, after the push: {pulled:?}");
    assert!(
        pulled[0].contains("since=0&"),
        "the pull starts from 0: {pulled:?}"
    );
    assert_eq!(report.set_aside, 0, "{report:?}");
    assert!(
        a.pending_push(10).unwrap().is_empty(),
        "nothing left to send"
    );

    // B, which has not synced since, sends its own again too.
    let before = server.requests().len();
    sync(&mut b).unwrap();
    assert!(
        pulls(&server.requests().split_off(before))
            .iter()
            .any(|p| p.contains("since=0&")),
        "B pulls from 0 too"
    );
}

/// A server whose files were copied back keeps its epoch; its first pull answers 409
/// `checkpoint_ahead`, and the sync sends everything again once, then ends.
#[test]
fn checkpoint_ahead_sends_everything_again_once() {
    let server = Server::start();
    let (_dir, mut a) = enrolled(&server, "a");
    let backup = server.backup();
    let x = person(&mut a, "Popa", "Ion");
    let y = person(&mut a, "Rusu", "Ana");
    sync(&mut a).unwrap();

    server.restore(&backup, false);
    let before = server.requests().len();
    sync(&mut a).unwrap();
    let requests = server.requests().split_off(before);
    let paths: Vec<&str> = requests
        .iter()
        .map(|r| r.path.split('?').next().unwrap())
        .collect();
    assert_eq!(
        paths,
        ["/v1/pull", "/v1/push", "/v1/pull"],
        "a refused pull, then everything pushed, then a pull from 0"
    );
    assert_eq!(pushed_ids(&requests), [x.to_string(), y.to_string()]);
    assert!(
        requests[2].path.contains("since=0&"),
        "{}",
        requests[2].path
    );
    assert!(server.holds(x).is_some() && server.holds(y).is_some());

    // Nothing more to do at the next sync: one pull.
    let before = server.requests().len();
    sync(&mut a).unwrap();
    assert_eq!(pulls(&server.requests().split_off(before)).len(), 1);
}

/// A server that keeps answering `checkpoint_ahead` after everything was sent again is
/// the sync's error, said in a sentence.
#[test]
fn a_second_checkpoint_ahead_in_one_sync_is_its_error() {
    let server = Server::start();
    let (_dir, mut a) = enrolled(&server, "a");
    person(&mut a, "Popa", "Ion");
    server.behave(|b| b.always_ahead = true);
    let before = server.requests().len();
    let error = sync(&mut a).unwrap_err();
    assert!(
        matches!(error, SyncError::ServerStillBehind),
        "expected ServerStillBehind, got {error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("IT person") && !message.contains("Popa"),
        "a sentence a person can act on: {message}"
    );
    assert_eq!(
        pulls(&server.requests().split_off(before)).len(),
        2,
        "the sync tried once more, not again and again"
    );
}

/// A re-send cut halfway (here, cancelled after its first batch) goes on at the next
/// sync from where it stopped: the ordinary cursors.
#[test]
fn a_re_send_cut_halfway_resumes_where_it_stopped() {
    let server = Server::start();
    let (_dir, mut a) = enrolled(&server, "a");
    let backup = server.backup();
    // Notes of 120 KB each: some 17 of them fill one push of 2 MiB.
    let notes = "n".repeat(120_000);
    let ids: Vec<RecordId> = (0..24)
        .map(|i| {
            a.create(
                "person",
                fields(&[
                    ("family_name", json!(format!("Popa {i}"))),
                    ("notes", json!(notes)),
                ]),
            )
            .unwrap()
        })
        .collect();
    sync(&mut a).unwrap();

    server.restore(&backup, true);
    let before = server.requests().len();
    let cut = sync_cut(&mut a, |p| p.phase == Phase::Push && p.done > 0).unwrap_err();
    assert!(matches!(cut, SyncError::Cancelled), "{cut:?}");
    let first = pushed_ids(&server.requests().split_off(before));
    assert!(
        !first.is_empty() && first.len() < ids.len(),
        "the cut falls between two batches: {} sent",
        first.len()
    );
    assert!(
        a.push_cursor().unwrap() > 0,
        "the cursor kept the first batch"
    );

    let before = server.requests().len();
    sync(&mut a).unwrap();
    let requests = server.requests().split_off(before);
    let second = pushed_ids(&requests);
    assert_eq!(
        first.len() + second.len(),
        ids.len(),
        "the second sync sends only what the first did not: {} then {}",
        first.len(),
        second.len()
    );
    assert!(
        second.iter().all(|id| !first.contains(id)),
        "nothing is sent twice"
    );
    assert!(pulls(&requests)[0].contains("since=0&"), "and pulls from 0");
    for id in ids {
        assert!(server.holds(id).is_some(), "the server must hold {id}");
    }
}

/// New changes declare `through`, records sent again do not; a pull declares `pushed`
/// after a clean push only.
#[test]
fn through_and_pushed_are_declared_as_the_protocol_says() {
    let server = Server::start();
    let (_dir, mut a) = enrolled(&server, "a");
    person(&mut a, "Popa", "Ion");
    person(&mut a, "Rusu", "Ana");
    let before = server.requests().len();
    sync(&mut a).unwrap();
    let requests = server.requests().split_off(before);
    let cursor = a.push_cursor().unwrap();
    assert_eq!(cursor, 2, "two local changes");
    assert_eq!(requests[0].path, "/v1/push");
    assert_eq!(
        requests[0].body["through"],
        json!(cursor),
        "the push declares the highest change sequence it covers"
    );
    assert!(
        pulls(&requests)[0].ends_with(&format!("&pushed={cursor}")),
        "the pull declares what the server acknowledged: {:?}",
        pulls(&requests)
    );

    // A push that fails: the pull runs, and declares nothing.
    server.behave(|b| b.fail_pushes = 1);
    person(&mut a, "Stoica", "Mihai");
    let before = server.requests().len();
    assert!(sync(&mut a).is_err(), "the push's error is the sync's");
    let pulled = pulls(&server.requests().split_off(before));
    assert_eq!(pulled.len(), 1, "the pull ran");
    assert!(!pulled[0].contains("pushed="), "{pulled:?}");

    // A record the server holds apart is sent again at each sync, declaring nothing.
    let held = person(&mut a, "Lăcătuș", "Ștefan");
    server.behave(|b| {
        b.hold.insert(held);
    });
    let report = sync(&mut a).unwrap();
    assert_eq!(report.set_aside, 1, "the held record is listed: {report:?}");
    assert_eq!(a.set_aside().unwrap()[0].why, "held");
    let before = server.requests().len();
    sync(&mut a).unwrap();
    let requests = server.requests().split_off(before);
    let again: Vec<&Request> = requests.iter().filter(|r| r.path == "/v1/push").collect();
    assert_eq!(again.len(), 1, "one push: the held record again");
    assert_eq!(pushed_ids(&requests), [held.to_string()]);
    assert!(
        again[0].body.get("through").is_none(),
        "a record sent again declares no through: {}",
        again[0].body
    );
    assert!(
        pulls(&requests)[0].ends_with(&format!("&pushed={}", a.push_cursor().unwrap())),
        "{:?}",
        pulls(&requests)
    );
}

/// A case file put back from a copy, and used beside the original: its first push gives
/// a dot of the original to another edit and is answered `replica_reused`; it re-keys,
/// re-dots, sends everything again, and no edit of either copy is lost. The original
/// re-keys at its next sync, and both converge with the team.
#[test]
fn a_case_file_put_back_from_a_copy_re_keys_and_loses_no_edit() {
    let server = Server::start();
    let (_b_dir, mut b) = enrolled(&server, "b");
    let theirs = site(&mut b, "Camp Nord");
    sync(&mut b).unwrap();
    let (a_dir, mut a) = enrolled(&server, "a");
    let x = person(&mut a, "Popa", "Ion");
    sync(&mut a).unwrap();
    let old = a.replica_id();
    drop(a);
    let copy_dir = copy_of(&a_dir);
    let mut a = reopen(&a_dir);
    let mut copy = reopen(&copy_dir);

    // Each copy gives the dot [old, 2] of x to another edit of its phone.
    a.edit(x, fields(&[("phone", json!("0611"))])).unwrap();
    sync(&mut a).unwrap();
    copy.edit(
        x,
        fields(&[
            ("phone", json!("0622")),
            ("notes", json!("rendez-vous pris")),
        ]),
    )
    .unwrap();
    let y = person(&mut copy, "Rusu", "Ana");

    let before = server.requests().len();
    sync(&mut copy).unwrap();
    let requests = server.requests().split_off(before);
    let rekeys: Vec<&Request> = requests
        .iter()
        .filter(|r| r.path == "/v1/devices/rekey")
        .collect();
    assert_eq!(rekeys.len(), 1, "one re-key");
    assert_eq!(rekeys[0].body, json!({"predecessor": old.to_string()}));
    let new = copy.replica_id();
    assert_ne!(new, old, "the copy took a new replica id");
    assert_eq!(
        reopen_id(&copy_dir, copy),
        new,
        "the new id is kept in the file"
    );
    let mut copy = reopen(&copy_dir);
    let after_rekey = requests
        .iter()
        .position(|r| r.path == "/v1/devices/rekey")
        .unwrap();
    let sent = pushed_ids(&requests[after_rekey..]);
    for id in [x, y, theirs] {
        assert!(
            sent.contains(&id.to_string()),
            "{id} is sent again after the re-key: {sent:?}"
        );
    }
    let state = copy.get(x).unwrap();
    assert_eq!(
        phones(&state),
        ["\"0611\"", "\"0622\""],
        "both copies' phones are kept, as a conflict for a person: {}",
        state.to_json()
    );
    assert_eq!(
        state.value("notes"),
        Some(&json!("rendez-vous pris")),
        "{}",
        state.to_json()
    );
    let stored = server.holds(x).unwrap();
    assert_eq!(stored.entries("phone").len(), 2, "{}", stored.to_json());
    for (field, entries) in state.fields() {
        for entry in entries.iter().filter(|e| e.dot.replica == old) {
            assert!(
                stored.entries(field.as_str()).contains(entry),
                "an entry keeps a dot of the old id only as the server holds it: {field} {entry:?}"
            );
        }
    }
    assert!(server.holds(y).is_some());

    // The original's replica is retired: it re-keys at its next sync.
    sync(&mut a).unwrap();
    assert!(a.replica_id() != old && a.replica_id() != new);
    for _ in 0..2 {
        sync(&mut copy).unwrap();
        sync(&mut a).unwrap();
        sync(&mut b).unwrap();
    }
    let states = |file: &CaseFile| -> Vec<String> {
        file.all_states()
            .unwrap()
            .iter()
            .map(RecordState::to_json)
            .collect()
    };
    assert_eq!(states(&a), states(&copy), "both copies converge");
    assert_eq!(states(&a), states(&b), "and the team with them");
    assert_eq!(
        b.get(x).unwrap().value("notes"),
        Some(&json!("rendez-vous pris"))
    );
}

/// A copy put back that made no edit of its own declares, at its first pull, fewer
/// pushes than the server acknowledged: it re-keys, and takes the original's edits
/// without a conflict.
#[test]
fn a_copy_put_back_is_caught_by_its_pull() {
    let server = Server::start();
    let (a_dir, mut a) = enrolled(&server, "a");
    let x = person(&mut a, "Popa", "Ion");
    sync(&mut a).unwrap();
    let old = a.replica_id();
    drop(a);
    let copy_dir = copy_of(&a_dir);
    let mut a = reopen(&a_dir);
    a.edit(x, fields(&[("phone", json!("0611"))])).unwrap();
    sync(&mut a).unwrap();

    let mut copy = reopen(&copy_dir);
    let before = server.requests().len();
    sync(&mut copy).unwrap();
    let requests = server.requests().split_off(before);
    assert!(
        requests[0].path.starts_with("/v1/pull") && requests[1].path == "/v1/devices/rekey",
        "nothing to push: the pull is refused, and the copy re-keys: {:?}",
        requests.iter().map(|r| &r.path).collect::<Vec<_>>()
    );
    assert_ne!(copy.replica_id(), old);
    let state = copy.get(x).unwrap();
    assert_eq!(
        state.value("phone"),
        Some(&json!("0611")),
        "{}",
        state.to_json()
    );
    assert!(copy.conflicts().unwrap().is_empty());
}

/// Closes `file` and answers the replica id the file on disk holds.
fn reopen_id(dir: &TempDir, file: CaseFile) -> ReplicaId {
    drop(file);
    reopen(dir).replica_id()
}

/// A re-key cut while re-dotting (after the first page) resumes at the next sync from
/// the page it reached, without re-keying again or re-dotting a record twice.
#[test]
fn a_re_key_cut_halfway_resumes_from_its_marker() {
    let server = Server::start();
    server.behave(|b| b.page = 1);
    let (a_dir, mut a) = enrolled(&server, "a");
    let ids: Vec<RecordId> = (0..3)
        .map(|i| person(&mut a, "Popa", &format!("Ion {i}")))
        .collect();
    sync(&mut a).unwrap();
    let old = a.replica_id();
    drop(a);
    let copy_dir = copy_of(&a_dir);
    let mut a = reopen(&a_dir);
    let mut copy = reopen(&copy_dir);
    a.edit(ids[0], fields(&[("phone", json!("0611"))])).unwrap();
    sync(&mut a).unwrap();
    copy.edit(ids[0], fields(&[("phone", json!("0622"))]))
        .unwrap();
    copy.edit(ids[2], fields(&[("notes", json!("suivi"))]))
        .unwrap();

    let cut = sync_cut(&mut copy, |p| p.phase == Phase::Pull).unwrap_err();
    assert!(matches!(cut, SyncError::Cancelled), "{cut:?}");
    let new = reopen_id(&copy_dir, copy);
    assert_ne!(new, old, "the new id was kept before the re-dotting");
    let conn = raw(&db_path(&copy_dir), PASS);
    let done: i64 = conn
        .query_row("SELECT count(*) FROM rekey_done", [], |r| r.get(0))
        .unwrap();
    assert_eq!(done, 1, "one page of one record was re-dotted");
    let reached: i64 = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'rekey.since'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(reached > 0, "the page reached is kept");
    drop(conn);

    let mut copy = reopen(&copy_dir);
    let before = server.requests().len();
    sync(&mut copy).unwrap();
    let requests = server.requests().split_off(before);
    assert!(
        !requests.iter().any(|r| r.path == "/v1/devices/rekey"),
        "no second re-key"
    );
    assert!(
        pulls(&requests)[0].starts_with(&format!("/v1/pull?since={reached}&")),
        "the re-dotting resumes after the page it reached: {:?}",
        pulls(&requests)
    );
    assert_eq!(copy.replica_id(), new);
    let x = copy.get(ids[0]).unwrap();
    assert_eq!(
        phones(&x),
        ["\"0611\"", "\"0622\""],
        "both lives' phones are kept, in conflict: {}",
        x.to_json()
    );
    assert_eq!(
        x.vv().get(new),
        1,
        "re-dotted once, under one dot: {}",
        x.to_json()
    );
    let z = copy.get(ids[2]).unwrap();
    assert_eq!(z.value("notes"), Some(&json!("suivi")));
    assert_eq!(z.vv().get(new), 1, "{}", z.to_json());
    assert_eq!(
        server.holds(ids[2]).unwrap().value("notes"),
        Some(&json!("suivi")),
        "the server got the re-dotted edit"
    );
    let conn = raw(&db_path(&copy_dir), PASS);
    let done: i64 = conn
        .query_row("SELECT count(*) FROM rekey_done", [], |r| r.get(0))
        .unwrap();
    assert_eq!(done, 0, "the re-key's list is emptied when it ends");
}

/// Enrolling with another server sends it everything: cursors, directory and epoch are
/// reset. Enrolling again with the same server keeps them.
#[test]
fn enrolling_with_another_server_sends_everything_to_it() {
    let first = Server::start();
    let second = Server::start();
    let (_b_dir, mut b) = enrolled(&first, "b");
    let theirs = site(&mut b, "Camp Nord");
    sync(&mut b).unwrap();
    let (_a_dir, mut a) = enrolled(&first, "a");
    let mine = person(&mut a, "Popa", "Ion");
    sync(&mut a).unwrap();
    assert!(a.pull_checkpoint().unwrap() > 0 && a.push_cursor().unwrap() > 0);
    assert!(!a.replica_directory().unwrap().is_empty());

    let cursor = a.push_cursor().unwrap();
    a.enrol(first.url(), "marie", "secret", CODE, "a").unwrap();
    assert_eq!(
        a.push_cursor().unwrap(),
        cursor,
        "the same server again: nothing to send again"
    );

    a.enrol(second.url(), "marie", "secret", CODE, "a").unwrap();
    assert_eq!(a.push_cursor().unwrap(), 0);
    assert_eq!(a.pull_checkpoint().unwrap(), 0);
    assert!(a.replica_directory().unwrap().is_empty());
    assert_eq!(a.setting("sync.epoch").unwrap(), Some(second.epoch()));
    sync(&mut a).unwrap();
    assert!(
        second.holds(mine).is_some() && second.holds(theirs).is_some(),
        "the new server gets every record, those pulled from the first too"
    );
}

/// A version 2 case file gains the re-key table, and keeps its records.
#[test]
fn a_version_2_case_file_gains_the_rekey_table() {
    let (dir, mut file) = crate::common::fresh();
    let id = person(&mut file, "Popa", "Ion");
    drop(file);
    let conn = raw(&db_path(&dir), PASS);
    conn.execute_batch("DROP TABLE rekey_done; PRAGMA user_version = 2;")
        .unwrap();
    drop(conn);
    let file = reopen(&dir);
    assert_eq!(file.schema_version().unwrap(), casefile::SCHEMA_VERSION);
    assert!(file.get(id).is_ok(), "the records are kept");
}

/// A pulled page showing that another copy of this case file used its edit numbers (the
/// same dot with another content, or one of its own entries left out without a write over
/// it) is refused whole, before anything merges: merging would lose one of the edits.
#[test]
fn a_page_showing_another_copy_of_this_file_is_refused_before_merging() {
    let (_dir, mut file) = crate::common::fresh();
    let id = file
        .create("person", fields(&[("family_name", json!("Lăcătuș"))]))
        .unwrap();
    let me = file.replica_id().to_string();
    let local = file.get(id).unwrap();
    let at = "2026-11-30T10:00:00Z";
    // The other copy gave the same dot to another family name.
    let altered = RecordState::from_value(&json!({
        "id": id, "kind": "person", "vv": {&me: 1},
        "fields": {"family_name": [{"dot": [&me, 1], "at": at, "value": "Stoica"}]}
    }))
    .unwrap();
    // The other copy gave the same dot to another field.
    let elsewhere = RecordState::from_value(&json!({
        "id": id, "kind": "person", "vv": {&me: 1},
        "fields": {"phone": [{"dot": [&me, 1], "at": at, "value": "0600"}]}
    }))
    .unwrap();
    for pulled in [altered, elsewhere] {
        let error = file.apply_pulled(&[pulled], 7).unwrap_err();
        assert!(matches!(error, casefile::Error::ReplicaReused), "{error:?}");
        assert_eq!(
            file.pull_checkpoint().unwrap(),
            0,
            "nothing of the page applied"
        );
        assert_eq!(file.get(id).unwrap(), local, "the local edit is intact");
    }
    // An honest state of another device merges as always.
    let mut honest = local.clone();
    honest
        .edit(
            crate::common::other_replica(),
            at.parse().unwrap(),
            [("phone".parse().unwrap(), json!("0700"))],
        )
        .unwrap();
    file.apply_pulled(&[honest], 8).unwrap();
    assert_eq!(file.pull_checkpoint().unwrap(), 8);
}
