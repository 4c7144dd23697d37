//! What the sync client calls: states to push, the push cursor, applying pulled pages,
//! conflicts and erasure.

use casefile::sync_protocol::merge;
use casefile::{Error, PersonFilter};
use serde_json::json;

use crate::common::*;

#[test]
fn local_changes_wait_for_push_until_acknowledged() {
    let (_dir, mut file) = fresh();
    assert!(
        file.pending_push(100).unwrap().is_empty(),
        "a new file has nothing to push"
    );
    let a = person(&mut file, "Popa", "Ion");
    let b = person(&mut file, "Rusu", "Ana");
    file.edit(a, fields(&[("phone", json!("1"))])).unwrap();
    let pending = file.pending_push(100).unwrap();
    let ids: Vec<_> = pending.iter().map(|p| p.state.id()).collect();
    assert_eq!(ids, vec![b, a], "in local change order, each record once");
    assert_eq!(file.pending_push(1).unwrap().len(), 1, "limit is honoured");
    let upto = pending[0].seq;
    file.mark_pushed(upto).unwrap();
    assert_eq!(file.push_cursor().unwrap(), upto);
    let left: Vec<_> = file
        .pending_push(100)
        .unwrap()
        .iter()
        .map(|p| p.state.id())
        .collect();
    assert_eq!(left, vec![a]);
    file.mark_pushed(0).unwrap();
    assert_eq!(
        file.push_cursor().unwrap(),
        upto,
        "the cursor never moves back"
    );
    file.edit(b, fields(&[("phone", json!("2"))])).unwrap();
    let left: Vec<_> = file
        .pending_push(100)
        .unwrap()
        .iter()
        .map(|p| p.state.id())
        .collect();
    assert_eq!(left, vec![a, b], "an edit after a push is pushed again");
}

#[test]
fn pulled_pages_merge_and_move_the_checkpoint() {
    let (_dir, mut file) = fresh();
    let remote = foreign("person", &[("family_name", json!("Lăcătuș"))]);
    let applied = file.apply_pulled(std::slice::from_ref(&remote), 7).unwrap();
    assert_eq!(applied.changed, 1);
    assert_eq!(file.pull_checkpoint().unwrap(), 7);
    assert_eq!(
        file.search("lacatus", 5).unwrap().len(),
        1,
        "derived tables follow"
    );
    assert!(
        file.pending_push(10).unwrap().is_empty(),
        "pulled states are not pushed back"
    );
    let again = file.apply_pulled(std::slice::from_ref(&remote), 8).unwrap();
    assert_eq!(again.changed, 0, "an unchanged state changes nothing");

    // A concurrent edit on both sides: a conflict, resolved by an ordinary edit.
    crate::common::conflicting_phones(&mut file, &remote, 9);
    let conflicts = file.conflicts().unwrap();
    assert_eq!(conflicts.len(), 1, "one record in conflict");
    assert_eq!(conflicts[0].fields, vec!["phone".to_owned()]);
    assert!(!conflicts[0].deleted_with_edits);
    assert_eq!(
        file.search("0622", 5).unwrap().len(),
        1,
        "either value is searchable"
    );
    file.resolve(remote.id(), "phone", json!("0633")).unwrap();
    assert!(file.conflicts().unwrap().is_empty(), "resolved");
    assert_eq!(
        file.get(remote.id()).unwrap().value("phone"),
        Some(&json!("0633"))
    );
    assert!(
        matches!(
            file.resolve(remote.id(), "phone", json!(12)),
            Err(Error::Invalid { .. })
        ),
        "a resolution is checked like any edit"
    );
}

#[test]
fn a_deletion_concurrent_with_an_edit_is_listed_and_decided() {
    let (_dir, mut file) = fresh();
    let remote = foreign("person", &[("family_name", json!("Popa"))]);
    file.apply_pulled(std::slice::from_ref(&remote), 1).unwrap();
    file.delete(remote.id()).unwrap();
    let mut theirs = remote.clone();
    theirs
        .edit(
            other_replica(),
            at(),
            [("phone".parse().unwrap(), json!("0612"))],
        )
        .unwrap();
    file.apply_pulled(std::slice::from_ref(&theirs), 2).unwrap();
    let conflicts = file.conflicts().unwrap();
    assert!(
        conflicts.len() == 1 && conflicts[0].deleted_with_edits,
        "deleted with edits: {conflicts:?}"
    );
    file.restore(remote.id()).unwrap();
    assert!(
        file.conflicts().unwrap().is_empty(),
        "restoring keeps the edits"
    );
    assert_eq!(
        file.get(remote.id()).unwrap().value("phone"),
        Some(&json!("0612"))
    );
}

#[test]
fn erased_records_leave_no_local_trace() {
    let (dir, mut file) = fresh();
    let camp = site(&mut file, "Camp");
    let remote = foreign(
        "person",
        &[
            ("family_name", json!("Zqxwvyțescu")),
            ("phone", json!("0699887766")),
            ("site_id", json!(camp.to_string())),
        ],
    );
    file.apply_pulled(std::slice::from_ref(&remote), 1).unwrap();
    let erased = remote.erase();
    let applied = file.apply_pulled(std::slice::from_ref(&erased), 2).unwrap();
    assert_eq!(applied.erased, 1);
    assert!(matches!(file.get(remote.id()), Err(Error::NotFound(_))));
    assert!(file.search("zqxw", 5).unwrap().is_empty());
    assert!(file.search("0699", 5).unwrap().is_empty());
    assert!(file.persons(PersonFilter::Site(camp)).unwrap().is_empty());
    assert!(matches!(file.history(remote.id()), Err(Error::NotFound(_))));
    let conn = raw(&db_path(&dir), PASS);
    let id = remote.id().to_string();
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM records WHERE id = ?1", [&id], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(rows, 0, "no tombstone is kept: the id itself is gone");
    assert!(
        file.all_states()
            .unwrap()
            .iter()
            .all(|s| s.id() != remote.id()),
        "the erased record is not among the states held"
    );
    let again = file.apply_pulled(std::slice::from_ref(&erased), 3).unwrap();
    assert_eq!(
        again.changed, 0,
        "pulling the erasure again changes nothing"
    );
    for table in ["records", "person", "person_terms", "visit_person"] {
        let column = if matches!(table, "records" | "person") {
            "id"
        } else {
            "person_id"
        };
        let n: i64 = conn
            .query_row(
                &format!("SELECT count(*) FROM {table} WHERE {column} = ?1"),
                [&id],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 0, "{table} must hold nothing of the erased person");
    }
    // The decrypted pages hold no trace either (secure_delete, WAL checkpointed).
    let mut found = false;
    let mut stmt = conn.prepare("SELECT state FROM records").unwrap();
    for text in stmt.query_map([], |r| r.get::<_, String>(0)).unwrap() {
        found |= text.unwrap().contains("Zqxw");
    }
    assert!(!found, "no state may hold the erased name");
    // Erasure wins over any later local copy.
    assert_eq!(merge(&erased, &remote).unwrap(), erased);
}

#[test]
fn a_failing_page_applies_nothing() {
    let (dir, mut file) = fresh();
    file.apply_pulled(&[], 3).unwrap();
    let good = foreign("person", &[("family_name", json!("Rusu"))]);
    let visit = foreign("visit", &[("purpose", json!("Suivi"))]);
    // The database refuses to store the visit, after the person of the same page.
    let conn = raw(&db_path(&dir), PASS);
    conn.execute_batch(
        "CREATE TRIGGER refuse_visits BEFORE INSERT ON records WHEN NEW.kind = 'visit'
         BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;",
    )
    .unwrap();
    drop(conn);
    assert!(
        file.apply_pulled(&[good.clone(), visit], 4).is_err(),
        "the page must fail"
    );
    assert_eq!(
        file.pull_checkpoint().unwrap(),
        3,
        "the checkpoint must not move"
    );
    assert!(
        matches!(file.get(good.id()), Err(Error::NotFound(_))),
        "nothing applied"
    );
}
