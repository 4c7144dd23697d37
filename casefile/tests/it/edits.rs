//! Local edits: one dot each, in one transaction.

use casefile::Error;
use serde_json::{Value, json};

use crate::common::*;

#[test]
fn each_local_change_is_one_dot() {
    let (_dir, mut file) = fresh();
    let me = file.replica_id();
    let id = person(&mut file, "Popa", "Ion");
    let counter = |file: &casefile::CaseFile| file.get(id).unwrap().vv().get(me);
    assert_eq!(counter(&file), 1, "creating is the first edit");
    file.edit(
        id,
        fields(&[
            ("phone", json!("0612")),
            ("sex", json!("m")),
            ("notes", json!("n")),
        ]),
    )
    .unwrap();
    assert_eq!(counter(&file), 2, "an edit of three fields is one dot");
    let state = file.get(id).unwrap();
    for f in ["phone", "sex", "notes"] {
        assert_eq!(
            state.entries(f)[0].dot.counter,
            2,
            "{f} carries the edit's dot"
        );
    }
    file.delete(id).unwrap();
    assert_eq!(counter(&file), 3);
    assert!(file.get(id).unwrap().is_deleted());
    assert!(
        file.list("person").unwrap().is_empty(),
        "a deleted record is not listed"
    );
    file.restore(id).unwrap();
    assert_eq!(counter(&file), 4);
    assert_eq!(
        file.list("person").unwrap().len(),
        1,
        "a restored record is listed again"
    );
}

#[test]
fn a_deleted_record_must_be_restored_before_editing() {
    let (_dir, mut file) = fresh();
    let id = person(&mut file, "Popa", "Ion");
    file.delete(id).unwrap();
    assert!(
        matches!(file.edit(id, fields(&[("phone", json!("1"))])), Err(Error::Deleted(d)) if d == id),
        "editing a deleted record must say to restore it"
    );
    assert!(
        matches!(file.delete(id), Err(Error::Edit(_))),
        "deleting twice is refused"
    );
    assert!(
        matches!(
            file.get(id.to_string().replace('0', "1").parse().unwrap()),
            Err(Error::NotFound(_))
        ),
        "an unknown id is not found"
    );
}

#[test]
fn an_empty_value_clears_a_field() {
    let (_dir, mut file) = fresh();
    let id = person(&mut file, "Popa", "Ion");
    file.edit(id, fields(&[("phone", json!("0612"))])).unwrap();
    file.edit(id, fields(&[("phone", Value::Null)])).unwrap();
    assert_eq!(file.get(id).unwrap().value("phone"), Some(&Value::Null));
    assert!(
        file.search("0612", 10).unwrap().is_empty(),
        "a cleared phone is not searchable"
    );
    assert!(
        matches!(file.edit(id, vec![]), Err(Error::Invalid { .. })),
        "an empty edit is refused"
    );
}

#[test]
fn history_lists_entries_with_who_and_when() {
    let (_dir, mut file) = fresh();
    let id = person(&mut file, "Popa", "Ion");
    file.edit(id, fields(&[("phone", json!("0612"))])).unwrap();
    let history = file.history(id).unwrap();
    let phone = history.iter().find(|h| h.field == "phone").unwrap();
    assert_eq!(phone.dot.replica, file.replica_id(), "who: this replica");
    assert_eq!(phone.dot.counter, 2);
    assert!(phone.at.to_datetime().is_some(), "when: a timestamp");
    assert_eq!(
        history.iter().map(|h| h.field.as_str()).collect::<Vec<_>>(),
        ["family_name", "given_names", "status", "phone"],
        "oldest edit first"
    );
}
