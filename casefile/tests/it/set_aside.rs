//! A sync that never sticks and never drops: records the server refuses, records too
//! large to send and pulled states that cannot be merged are set aside, and the rest of
//! the sync goes on. Against the real server, on SQLite and on PostgreSQL.

use casefile::sync_protocol::RecordId;
use casefile::{CaseFile, SyncError};
use serde_json::{Value, json};

use crate::common::{PASS, fields, person, site};
use crate::server::{Backend, Device, Server, backends};
use crate::stub::{Answer, Request, Stub};

backends!(
    a_refused_record_is_set_aside_while_the_others_go_through,
    a_set_aside_record_is_sent_again_and_leaves_the_list_once_accepted,
    a_kind_clash_on_pull_is_set_aside_and_the_pull_goes_on,
    a_record_over_8_mib_is_set_aside_unsent_and_blocks_nothing,
    a_revoked_device_is_told_so,
);

/// A person that `from` made and never synced, copied into `to` outside the sync (as a
/// restored backup or a buggy import would), and edited there: `to` holds an edit of
/// `from` the server has never seen.
fn copied_unsynced_person(from: &mut Device, to: &mut Device, family: &str) -> RecordId {
    let id = person(&mut from.file, family, "Ion");
    let state = from.file.get(id).unwrap();
    let checkpoint = to.file.pull_checkpoint().unwrap();
    to.file
        .apply_pulled(std::slice::from_ref(&state), checkpoint)
        .unwrap();
    to.file
        .edit(id, fields(&[("phone", json!("0611"))]))
        .unwrap();
    id
}

fn a_refused_record_is_set_aside_while_the_others_go_through(backend: Backend) {
    let server = Server::start(backend);
    let (_org, user) = server.new_org();
    let mut a = Device::enrolled("marie", &server, &user);
    let mut b = Device::enrolled("ion", &server, &user);
    let mut c = Device::enrolled("ana", &server, &user);
    let camp = site(&mut c.file, "Camp Nord");
    c.sync();

    let forged = copied_unsynced_person(&mut a, &mut b, "Zqxwescu");
    let q = person(&mut b.file, "Rusu", "Ana");
    let r = person(&mut b.file, "Stoica", "Mihai");
    let report = b.sync();
    assert_eq!(
        (report.pushed, report.set_aside),
        (2, 1),
        "the two good persons must be pushed and the forged one set aside: {report:?}"
    );
    assert_eq!(report.pulled, 1, "the pull must bring C's site: {report:?}");
    assert!(b.file.get(camp).is_ok(), "C's site must have reached B");
    let listed = b.file.set_aside().unwrap();
    assert_eq!(listed.len(), 1, "one record set aside: {listed:?}");
    assert_eq!(listed[0].id, Some(forged));
    assert_eq!(listed[0].kind.as_deref(), Some("person"));
    assert_eq!(
        listed[0].why, "forged_dot",
        "the server's code says why: {listed:?}"
    );
    assert!(
        !listed[0].message.is_empty() && !listed[0].message.contains("Zqxw"),
        "a sentence without the record's values: {:?}",
        listed[0].message
    );
    assert!(
        b.file.pending_push(10).unwrap().is_empty(),
        "the push cursor must move past the batch"
    );

    c.sync();
    assert!(
        c.file.get(q).is_ok() && c.file.get(r).is_ok(),
        "C gets B's persons"
    );
    assert!(
        c.file.get(forged).is_err(),
        "the refused person must not have reached the server"
    );
}

fn a_set_aside_record_is_sent_again_and_leaves_the_list_once_accepted(backend: Backend) {
    let server = Server::start(backend);
    let (_org, user) = server.new_org();
    let mut a = Device::enrolled("marie", &server, &user);
    let mut b = Device::enrolled("ion", &server, &user);
    let kept = copied_unsynced_person(&mut a, &mut b, "Popa");
    let edited = copied_unsynced_person(&mut a, &mut b, "Dumitru");
    let report = b.sync();
    assert_eq!(report.set_aside, 2, "both are refused: {report:?}");

    // Sent again at the next sync, and refused again while A has not synced: still
    // listed once each.
    let report = b.sync();
    assert_eq!(
        (report.pushed, report.set_aside),
        (0, 2),
        "the set-aside records are sent again and refused again: {report:?}"
    );

    // Once A's own edits reach the server, B's records are accepted: one sent again as
    // it was, the other edited here since and sent with the new changes.
    a.sync();
    b.file
        .edit(edited, fields(&[("phone", json!("0622"))]))
        .unwrap();
    let report = b.sync();
    assert_eq!(
        (report.pushed, report.set_aside),
        (2, 0),
        "both must be accepted and leave the list: {report:?}"
    );
    assert!(b.file.set_aside().unwrap().is_empty());
    a.sync();
    assert_eq!(
        a.file.get(kept).unwrap().value("phone"),
        Some(&json!("0611")),
        "B's edit of the record sent again must reach A"
    );
    assert_eq!(
        a.file.get(edited).unwrap().value("phone"),
        Some(&json!("0622")),
        "B's later edit must reach A"
    );
}

fn a_kind_clash_on_pull_is_set_aside_and_the_pull_goes_on(backend: Backend) {
    let server = Server::start(backend);
    let (_org, user) = server.new_org();
    let mut a = Device::enrolled("marie", &server, &user);
    let mut b = Device::enrolled("ion", &server, &user);
    let x = person(&mut b.file, "Lăcătuș", "Ștefan");
    let y = person(&mut b.file, "Rusu", "Ana");
    let camp = site(&mut a.file, "Camp Sud");
    a.sync();
    // Another device sends a visit under the id of B's person before B syncs.
    let replica = a.file.replica_id().to_string();
    let (status, answer) = a.push_raw(
        &server.url,
        json!([{
            "id": x.to_string(), "kind": "visit", "vv": {&replica: 1},
            "fields": {"purpose": [{"dot": [&replica, 1], "at": "2026-11-02T10:14:00Z", "value": "Suivi"}]}
        }]),
    );
    assert_eq!(status, 200, "the server takes the visit: {answer}");

    let report = b.sync();
    assert_eq!(
        report.pushed, 1,
        "B's other person must be pushed: {report:?}"
    );
    assert_eq!(
        report.set_aside, 1,
        "the clash is one record set aside: {report:?}"
    );
    assert!(
        b.file.get(camp).is_ok(),
        "the rest of the pull must be applied"
    );
    let listed = b.file.set_aside().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].id, Some(x));
    assert_eq!(listed[0].why, "kind_clash", "{listed:?}");
    assert_eq!(
        listed[0].kind.as_deref(),
        Some("visit"),
        "the kind of the state set aside"
    );
    assert_eq!(
        b.file.get(x).unwrap().kind().as_str(),
        "person",
        "the local copy stays as it was"
    );
    let kept: Value = serde_json::from_str(&b.file.set_aside_state(x).unwrap().unwrap()).unwrap();
    assert_eq!(
        kept["kind"], "visit",
        "the server's state is kept beside it: {kept}"
    );

    // The next sync neither fails nor lists the record twice.
    let report = b.sync();
    assert_eq!(report.set_aside, 1, "{report:?}");
    let mut c = Device::enrolled("ana", &server, &user);
    c.sync();
    assert!(c.file.get(y).is_ok(), "B's other person reached the server");
    assert_eq!(
        c.file.get(x).unwrap().kind().as_str(),
        "visit",
        "the server's record is untouched"
    );
}

fn a_record_over_8_mib_is_set_aside_unsent_and_blocks_nothing(backend: Backend) {
    let server = Server::start(backend);
    let (_org, user) = server.new_org();
    let mut a = Device::enrolled("marie", &server, &user);
    let mut b = Device::enrolled("ion", &server, &user);
    let big = person(&mut a.file, "Mare", "Dosar");
    a.sync();
    b.sync();
    // A and B each write 24 long texts concurrently, every edit under the 256 KiB cap:
    // each device's copy stays under 8 MiB, the server's merge of both passes it.
    let text = "ă".repeat(100_000);
    for i in 0..24 {
        a.file
            .edit(big, fields(&[(&format!("x_a{i}"), json!(text))]))
            .unwrap();
        b.file
            .edit(big, fields(&[(&format!("x_b{i}"), json!(text))]))
            .unwrap();
    }
    a.sync();
    let report = b.sync();
    assert_eq!(
        report.pushed, 1,
        "B's copy is under 8 MiB and is pushed: {report:?}"
    );
    let merged = b.file.get(big).unwrap().to_json().len();
    assert!(
        merged > casefile::MAX_BATCH_BYTES,
        "the merged record, pulled in a page of its own, is {merged} bytes"
    );

    // B edits it again: too large to send, it is set aside; B's other changes go on.
    b.file
        .edit(big, fields(&[("phone", json!("0611"))]))
        .unwrap();
    let other = person(&mut b.file, "Mic", "Dosar");
    let report = b.sync();
    assert_eq!(
        (report.pushed, report.set_aside),
        (1, 1),
        "the small person is pushed, the large one set aside: {report:?}"
    );
    let listed = b.file.set_aside().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(
        (listed[0].id, listed[0].why.as_str()),
        (Some(big), "too_large")
    );
    let report = b.sync();
    assert_eq!(
        (report.pushed, report.set_aside),
        (0, 1),
        "still set aside, and the sync still runs: {report:?}"
    );

    let mut c = Device::enrolled("ana", &server, &user);
    let report = c.sync();
    assert_eq!(
        report.pulled, 2,
        "C receives both persons, the large one alone in a page: {report:?}"
    );
    assert!(c.file.get(other).is_ok());
    let seen = c.file.get(big).unwrap();
    assert!(
        seen.value("x_a0").is_some() && seen.value("x_b23").is_some(),
        "C holds both devices' texts"
    );
    assert_eq!(seen.value("phone"), None, "B's last edit was never sent");
}

fn a_revoked_device_is_told_so(backend: Backend) {
    let server = Server::start(backend);
    let (_org, user) = server.new_org();
    let mut a = Device::enrolled("marie", &server, &user);
    a.sync();
    server.cli(&["device", "revoke", &a.file.replica_id().to_string()], "");
    let error = a.try_sync().unwrap_err();
    assert!(
        matches!(error, SyncError::DeviceRevoked),
        "expected DeviceRevoked, got {error:?}"
    );
    assert!(
        error
            .to_string()
            .starts_with("this device was revoked by a coordinator"),
        "{error}"
    );
}

/// Without a server: a pulled page whose states break §2 is applied all the same, each
/// such state set aside (by id when it reads), and the checkpoint moves.
#[test]
fn pulled_states_that_break_the_rules_are_set_aside_and_the_page_applied() {
    let (dir, mut file) = crate::common::fresh();
    let good = crate::common::foreign("person", &[("family_name", json!("Rusu"))]);
    let other = crate::common::other_replica().to_string();
    let bad_id: RecordId = "0190a000-0000-7000-8000-0000000000b1".parse().unwrap();
    let uncovered = json!({
        "id": bad_id.to_string(), "kind": "person", "vv": {&other: 1},
        "fields": {"family_name": [{"dot": [&other, 2], "at": "2026-11-02T10:14:00Z", "value": "Zqxw"}]}
    });
    let big_id: RecordId = "0190a000-0000-7000-8000-0000000000b2".parse().unwrap();
    let oversized = json!({
        "id": big_id.to_string(), "kind": "person", "vv": {&other: 1},
        "fields": {"notes": [{"dot": [&other, 1], "at": "2026-11-02T10:14:00Z", "value": "a".repeat(300_000)}]}
    });
    let unreadable = json!({"id": "not an id", "kind": "person"});
    let page = [
        uncovered,
        serde_json::to_value(&good).unwrap(),
        oversized,
        unreadable,
    ];
    let applied = file.apply_pulled_values(&page, 9).unwrap();
    assert_eq!((applied.changed, applied.set_aside), (1, 3), "{applied:?}");
    assert_eq!(file.pull_checkpoint().unwrap(), 9, "the checkpoint moves");
    assert!(file.get(good.id()).is_ok(), "the valid state is applied");
    let listed = file.set_aside().unwrap();
    let whys: Vec<(Option<RecordId>, &str)> =
        listed.iter().map(|s| (s.id, s.why.as_str())).collect();
    assert_eq!(
        whys,
        [
            (Some(bad_id), "invalid_record"),
            (Some(big_id), "record_too_large"),
            (None, "invalid_record"),
        ],
        "by id, the unreadable one last"
    );
    assert!(
        listed.iter().all(|s| !s.message.contains("Zqxw")),
        "no value in messages: {listed:?}"
    );

    // A valid state of the same record, pulled later, supersedes the broken one.
    let fixed = casefile::sync_protocol::RecordState::from_value(&json!({
        "id": bad_id.to_string(), "kind": "person", "vv": {&other: 2},
        "fields": {"family_name": [{"dot": [&other, 2], "at": "2026-11-02T10:14:00Z", "value": "Popa"}]}
    }))
    .unwrap();
    file.apply_pulled(&[fixed], 10).unwrap();
    let ids: Vec<Option<RecordId>> = file.set_aside().unwrap().iter().map(|s| s.id).collect();
    assert_eq!(
        ids,
        [Some(big_id), None],
        "the fixed record leaves the list"
    );

    // Pulled again from 0 (a restored server, a new epoch), the unreadable state is not
    // listed twice, and its text, which no erasure could find by id, is not kept.
    let again = [json!({"id": "not an id", "kind": "person"})];
    file.apply_pulled_values(&again, 11).unwrap();
    file.apply_pulled_values(&again, 12).unwrap();
    let unreadable: Vec<_> = file
        .set_aside()
        .unwrap()
        .into_iter()
        .filter(|s| s.id.is_none())
        .collect();
    assert_eq!(
        unreadable.len(),
        1,
        "one row for one unreadable state: {unreadable:?}"
    );
    drop(file);
    let conn = crate::common::raw(&crate::common::db_path(&dir), PASS);
    let kept: i64 = conn
        .query_row(
            "SELECT count(*) FROM set_aside WHERE id IS NULL AND state IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(kept, 0, "no state is kept without an id");
}

/// Without a server: a kind clash keeps the pulled state beside the local copy, a later
/// state of it merges into the one kept, and an erasure of it wipes it.
#[test]
fn a_kind_clash_is_kept_apart_and_an_erasure_wipes_it() {
    let (dir, mut file) = crate::common::fresh();
    let local = person(&mut file, "Popa", "Ion");
    let other = crate::common::other_replica().to_string();
    let visit = |n: u64, purpose: &str| {
        casefile::sync_protocol::RecordState::from_value(&json!({
            "id": local.to_string(), "kind": "visit", "vv": {&other: n},
            "fields": {("x_".to_owned() + &n.to_string()): [{"dot": [&other, n], "at": "2026-11-02T10:14:00Z", "value": purpose}]}
        }))
        .unwrap()
    };
    let good = crate::common::foreign("person", &[("family_name", json!("Rusu"))]);
    let applied = file
        .apply_pulled(&[visit(1, "Zqxw"), good.clone()], 4)
        .unwrap();
    assert_eq!((applied.changed, applied.set_aside), (1, 1), "{applied:?}");
    assert_eq!(file.pull_checkpoint().unwrap(), 4, "the page is applied");
    assert!(file.get(good.id()).is_ok());
    assert_eq!(file.get(local).unwrap().kind().as_str(), "person");

    let mut second = visit(2, "Suivi");
    second = casefile::sync_protocol::merge(&visit(1, "Zqxw"), &second).unwrap();
    file.apply_pulled(&[second.clone()], 5).unwrap();
    let kept = file.set_aside_state(local).unwrap().unwrap();
    assert_eq!(kept, second.to_json(), "the states kept are merged");
    assert_eq!(file.set_aside().unwrap().len(), 1, "listed once");

    file.apply_pulled(&[second.erase()], 6).unwrap();
    assert_eq!(
        file.set_aside_state(local).unwrap(),
        None,
        "an erasure leaves no trace of the state kept"
    );
    assert!(file.set_aside().unwrap().is_empty());
    assert_eq!(
        file.get(local).unwrap().kind().as_str(),
        "person",
        "the local record is not the one erased"
    );
    drop(file);
    let conn = crate::common::raw(&crate::common::db_path(&dir), PASS);
    let n: i64 = conn
        .query_row(
            "SELECT count(*) FROM set_aside WHERE state LIKE '%Zqxw%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 0, "no set-aside state holds the erased text");
}

/// A local change over the size cap of one edit is refused, naming the field, and
/// changes nothing.
#[test]
fn an_edit_over_256_kib_is_refused_naming_the_field() {
    let (_dir, mut file) = crate::common::fresh();
    let long = "ș".repeat(140_000);
    let refused = file
        .create(
            "person",
            fields(&[
                ("family_name", json!("Popa")),
                ("given_names", json!("Ion")),
                ("notes", json!(long)),
            ]),
        )
        .unwrap_err();
    assert!(
        matches!(&refused, casefile::Error::TooLarge { field, bytes } if field == "notes" && *bytes > 262_144),
        "got {refused:?}"
    );
    let message = refused.to_string();
    assert!(
        message.contains("notes") && !message.contains("șș"),
        "names the field, not its value: {message}"
    );
    assert!(file.list("person").unwrap().is_empty(), "nothing created");

    let id = person(&mut file, "Popa", "Ion");
    let before = file.get(id).unwrap();
    let refused = file
        .edit(id, fields(&[("x_story", json!(long))]))
        .unwrap_err();
    assert!(
        matches!(&refused, casefile::Error::TooLarge { field, .. } if field == "x_story"),
        "got {refused:?}"
    );
    let refused = file.resolve(id, "notes", json!(long)).unwrap_err();
    assert!(
        matches!(&refused, casefile::Error::TooLarge { field, .. } if field == "notes"),
        "got {refused:?}"
    );
    assert_eq!(file.get(id).unwrap(), before, "the record is unchanged");
    file.edit(id, fields(&[("notes", json!("ș".repeat(100_000)))]))
        .expect("an edit under the cap is taken");
}

/// A case file of version 1 is upgraded to the set-aside table on open, keeping its
/// records.
#[test]
fn a_version_1_case_file_gains_the_set_aside_table() {
    let (dir, mut file) = crate::common::fresh();
    let id = person(&mut file, "Popa", "Ion");
    drop(file);
    let conn = crate::common::raw(&crate::common::db_path(&dir), PASS);
    conn.execute_batch("DROP TABLE set_aside; DROP TABLE rekey_done; PRAGMA user_version = 1;")
        .unwrap();
    drop(conn);
    let file = CaseFile::open(crate::common::db_path(&dir), PASS).unwrap();
    assert_eq!(file.schema_version().unwrap(), casefile::SCHEMA_VERSION);
    assert!(file.set_aside().unwrap().is_empty());
    assert!(file.get(id).is_ok(), "the records are kept");
}

/// What a stub answers to the calls a sync makes besides the push: an empty page, no
/// replicas.
fn quiet(request: &Request) -> Answer {
    match request.path.split('?').next() {
        Some("/v1/pull") => (200, json!({"records": [], "next": 0, "more": false})),
        Some("/v1/replicas") => (200, json!({})),
        _ => (
            404,
            json!({"error": {"code": "not_found", "message": "no such call"}}),
        ),
    }
}

/// A case file that syncs with the stub.
fn with_stub(stub: &Stub) -> (tempfile::TempDir, CaseFile) {
    let (dir, mut file) = crate::common::fresh();
    file.set_setting("sync.server_url", &stub.url).unwrap();
    file.set_setting("sync.device_token", "stub token").unwrap();
    (dir, file)
}

fn sync(file: &mut CaseFile) -> Result<casefile::SyncReport, SyncError> {
    file.sync_with(
        crate::server::patient(),
        &mut |_| {},
        &std::sync::atomic::AtomicBool::new(false),
    )
}

/// The states of a push request.
fn pushed(request: &Request) -> Vec<Value> {
    request.body["records"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// A refusal that names no record, and a 413, halve the batch; a record refused alone is
/// set aside. The real server always names the record, so a stub plays an older or
/// stricter one.
#[test]
fn a_refusal_naming_no_record_halves_the_batch_down_to_the_record() {
    let stub = Stub::start(|request| {
        if request.path != "/v1/push" {
            return quiet(request);
        }
        let records = pushed(request);
        if records.len() > 4 {
            return (413, Value::Null);
        }
        if records
            .iter()
            .any(|s| s["fields"]["family_name"][0]["value"] == "Refusé")
        {
            let error = json!({"error": {"code": "dropped_entry", "message": "the record drops an edit: report it"}});
            return (422, error);
        }
        let results: Vec<Value> = records
            .iter()
            .map(|s| json!({"id": s["id"], "status": "created"}))
            .collect();
        (200, json!({"server_seq": 7, "results": results}))
    });
    let (_dir, mut file) = with_stub(&stub);
    let mut refused = None;
    for i in 0..7 {
        let family = if i == 4 { "Refusé" } else { "Popa" };
        let id = person(&mut file, family, &format!("Ion {i}"));
        if i == 4 {
            refused = Some(id);
        }
    }
    let report = sync(&mut file).unwrap();
    assert_eq!(
        (report.pushed, report.set_aside),
        (6, 1),
        "six accepted, one set aside: {report:?}"
    );
    let listed = file.set_aside().unwrap();
    assert_eq!(listed[0].id, refused);
    assert_eq!(listed[0].why, "dropped_entry");
    assert_eq!(listed[0].message, "the record drops an edit: report it");
    assert!(
        file.pending_push(10).unwrap().is_empty(),
        "the cursor moves past the batch"
    );
    let sizes: Vec<usize> = stub
        .requests_to("/v1/push")
        .iter()
        .map(|r| pushed(r).len())
        .collect();
    assert_eq!(
        sizes,
        [7, 3, 4, 2, 1, 1, 2],
        "halved on 413 and on the refusal naming none"
    );

    // The next sync sends it again, alone.
    let report = sync(&mut file).unwrap();
    assert_eq!((report.pushed, report.set_aside), (0, 1), "{report:?}");
    let last = stub.requests_to("/v1/push").pop().unwrap();
    assert_eq!(pushed(&last).len(), 1);
    assert_eq!(pushed(&last)[0]["id"], json!(refused.unwrap().to_string()));
}

/// A push refused for a reason that is not one record's: the pull runs all the same, a
/// pulled state that breaks §2 is set aside, and the push's error is answered after.
#[test]
fn a_failed_push_still_pulls_then_reports_its_error() {
    let good = crate::common::foreign("person", &[("family_name", json!("Rusu"))]);
    let page = json!({
        "records": [
            serde_json::to_value(&good).unwrap(),
            {"id": "0190a000-0000-7000-8000-0000000000c1", "kind": "person", "vv": {}, "fields": {"x": []}},
        ],
        "next": 5,
        "more": false,
    });
    let stub = Stub::start(move |request| match request.path.split('?').next() {
        Some("/v1/push") => (
            400,
            json!({"error": {"code": "bad_request", "message": "the body is not a push"}}),
        ),
        Some("/v1/pull") => (200, page.clone()),
        _ => quiet(request),
    });
    let (_dir, mut file) = with_stub(&stub);
    let mine = person(&mut file, "Popa", "Ion");
    let error = sync(&mut file).unwrap_err();
    assert!(
        matches!(
            error,
            SyncError::Refused {
                code: casefile::sync_protocol::wire::ErrorCode::BadRequest,
                ..
            }
        ),
        "the push's error is answered: {error:?}"
    );
    assert_eq!(stub.requests_to("/v1/pull").len(), 1, "the pull ran");
    assert!(file.get(good.id()).is_ok(), "the pulled person is applied");
    assert_eq!(file.pull_checkpoint().unwrap(), 5);
    let listed = file.set_aside().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].why, "invalid_record");
    assert_eq!(
        file.pending_push(10).unwrap()[0].state.id(),
        mine,
        "the refused push is still to send"
    );
}

/// A record the server holds apart (§6a) is listed until a push is accepted.
#[test]
fn a_held_record_is_listed_until_accepted() {
    let holding = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let hold = std::sync::Arc::clone(&holding);
    let stub = Stub::start(move |request| {
        if request.path != "/v1/push" {
            return quiet(request);
        }
        let status = if hold.load(std::sync::atomic::Ordering::SeqCst) {
            "held"
        } else {
            "merged"
        };
        let results: Vec<Value> = pushed(request)
            .iter()
            .map(|s| json!({"id": s["id"], "status": status}))
            .collect();
        (200, json!({"server_seq": 3, "results": results}))
    });
    let (_dir, mut file) = with_stub(&stub);
    let id = person(&mut file, "Popa", "Ion");
    let report = sync(&mut file).unwrap();
    assert_eq!((report.pushed, report.set_aside), (0, 1), "{report:?}");
    assert_eq!(file.set_aside().unwrap()[0].why, "held");
    assert_eq!(file.set_aside().unwrap()[0].id, Some(id));
    holding.store(false, std::sync::atomic::Ordering::SeqCst);
    let report = sync(&mut file).unwrap();
    assert_eq!((report.pushed, report.set_aside), (1, 0), "{report:?}");
}

/// A server that answers a pull with more than any page can hold (65 MiB) is refused as
/// a bad answer, at once, without retrying, before the body fills the device's memory;
/// the checkpoint stays.
#[test]
fn an_answer_larger_than_any_page_is_refused() {
    let huge = json!({"records": [], "next": 1, "more": false, "pad": "x".repeat(65 << 20)});
    let stub = Stub::start(move |request| match request.path.split('?').next() {
        Some("/v1/pull") => (200, huge.clone()),
        _ => quiet(request),
    });
    let (_dir, mut file) = with_stub(&stub);
    let error = sync(&mut file).unwrap_err();
    assert!(
        matches!(&error, SyncError::BadAnswer(why) if why.contains("64 MiB")),
        "{error:?}"
    );
    assert_eq!(stub.requests_to("/v1/pull").len(), 1, "not retried");
    assert_eq!(file.pull_checkpoint().unwrap(), 0);
}
