//! Local edits (§3, §5) and the forged-dot rule (§6).

use serde_json::json;
use sync_protocol::{
    Dot, EditError, FieldName, ForgedDot, Kind, RecordId, RecordState, ReplicaId, Timestamp,
    check_dots, merge, reused_dot,
};

fn a() -> ReplicaId {
    "00000000-0000-4000-8000-00000000000a".parse().unwrap()
}
fn b() -> ReplicaId {
    "00000000-0000-4000-8000-00000000000b".parse().unwrap()
}
fn at(minute: u32) -> Timestamp {
    format!("2026-11-02T10:{minute:02}:00Z").parse().unwrap()
}
fn f(name: &str) -> FieldName {
    name.parse().unwrap()
}
fn person() -> RecordState {
    let id: RecordId = "0190f3a2-5b0e-7f7e-9a3e-0c1d2e3f4a5b".parse().unwrap();
    let kind: Kind = "person".parse().unwrap();
    RecordState::create(id, kind, a(), at(0), [(f("family_name"), json!("Lăcătuș"))]).unwrap()
}

#[test]
fn one_edit_is_one_dot_however_many_fields() {
    let mut s = person();
    let dot = s
        .edit(
            b(),
            at(1),
            [(f("phone"), json!("0612")), (f("sex"), json!("f"))],
        )
        .unwrap();
    assert_eq!(dot, Dot::new(b(), 1));
    assert_eq!(s.vv().get(b()), 1, "one edit must take one counter");
    assert_eq!(s.entries("phone")[0].dot, dot);
    assert_eq!(s.entries("sex")[0].dot, dot);
    assert_eq!(s.entries("family_name")[0].dot, Dot::new(a(), 1));
}

#[test]
fn refused_edits_change_nothing() {
    let mut s = person();
    let before = s.to_json();
    assert_eq!(s.edit(a(), at(1), []), Err(EditError::NoChange));
    assert_eq!(
        s.edit(a(), at(1), [(f("_deleted"), json!(null))]),
        Err(EditError::DeletedFieldReserved)
    );
    assert_eq!(s.restore(a(), at(1)), Err(EditError::NotDeleted(s.id())));
    assert_eq!(
        s.to_json(),
        before,
        "a refused edit must leave the state as it was"
    );
    s.delete(a(), at(2)).unwrap();
    let deleted = s.to_json();
    assert_eq!(s.delete(a(), at(3)), Err(EditError::AlreadyDeleted(s.id())));
    assert_eq!(s.to_json(), deleted);
    let mut erased = s.erase();
    assert_eq!(
        erased.edit(a(), at(4), [(f("phone"), json!("1"))]),
        Err(EditError::Erased(s.id()))
    );
}

#[test]
fn delete_records_what_it_had_seen_and_restore_undoes_it() {
    let mut s = person();
    s.edit(b(), at(1), [(f("phone"), json!("0612"))]).unwrap();
    s.delete(a(), at(2)).unwrap();
    assert!(s.is_deleted());
    let seen = json!({"seen": {a().to_string(): 1, b().to_string(): 1}});
    assert_eq!(s.value("_deleted"), Some(&seen));
    s.restore(b(), at(3)).unwrap();
    assert!(!s.is_deleted());
    assert!(s.conflicts().is_empty(), "{:?}", s.conflicts());
}

#[test]
fn concurrent_delete_and_restore_is_a_conflict_on_deleted() {
    let base = person();
    let mut left = base.clone();
    left.delete(a(), at(1)).unwrap();
    let mut right = base.clone();
    right.delete(b(), at(2)).unwrap();
    right.restore(b(), at(3)).unwrap();
    let merged = merge(&left, &right).unwrap();
    assert!(
        !merged.is_deleted(),
        "a restore entry remains, so the record is not deleted"
    );
    assert_eq!(
        merged.conflicts().fields,
        ["_deleted"],
        "delete against restore must be listed"
    );
    // Two concurrent deletions agree: deleted, and nothing to decide.
    let mut other = base.clone();
    other.delete(b(), at(4)).unwrap();
    let both = merge(&left, &other).unwrap();
    assert!(
        both.is_deleted() && both.conflicts().is_empty(),
        "{:?}",
        both.conflicts()
    );
    // An edit the deletion had not seen makes it a deletion with edits.
    let mut edited = base.clone();
    edited
        .edit(b(), at(5), [(f("phone"), json!("07"))])
        .unwrap();
    let verdict = merge(&left, &edited).unwrap().conflicts();
    assert!(verdict.deleted_with_edits, "{verdict:?}");
}

#[test]
fn forged_dots_are_refused() {
    let stored = person();
    // B edits what it pulled: its own new dot is fine.
    let mut honest = stored.clone();
    honest
        .edit(b(), at(1), [(f("phone"), json!("0612"))])
        .unwrap();
    assert_eq!(check_dots(&honest, Some(&stored), b()), Ok(()));
    // The same state sent by A carries a dot of B that the server has not seen.
    assert!(matches!(
        check_dots(&honest, Some(&stored), a()),
        Err(ForgedDot::UnseenCounter { .. })
    ));
    // A new record may only hold the pusher's dots.
    assert!(matches!(
        check_dots(&stored, None, b()),
        Err(ForgedDot::UnseenCounter { .. })
    ));
    assert_eq!(check_dots(&stored, None, a()), Ok(()));
    // A known dot with another value.
    let mut text = stored.to_json();
    text = text.replace("Lăcătuș", "Other");
    let altered = RecordState::from_json(&text).unwrap();
    assert!(matches!(
        check_dots(&altered, Some(&stored), b()),
        Err(ForgedDot::AlteredEntry { .. })
    ));
}

#[test]
fn one_dot_given_to_two_edits_is_found() {
    let stored = person();
    // A's case file, put back from a copy taken before this record's second edit, gives
    // the dot [a, 2] to another edit.
    let mut pushed_first = stored.clone();
    pushed_first
        .edit(a(), at(1), [(f("phone"), json!("0612"))])
        .unwrap();
    let mut second_life = stored.clone();
    second_life
        .edit(a(), at(2), [(f("phone"), json!("0799"))])
        .unwrap();
    assert_eq!(reused_dot(&pushed_first, Some(&pushed_first), a()), None);
    assert_eq!(reused_dot(&pushed_first, Some(&stored), a()), None);
    assert_eq!(reused_dot(&second_life, None, a()), None);
    let dot = reused_dot(&second_life, Some(&pushed_first), a()).expect("the reused dot");
    assert_eq!((dot.replica, dot.counter), (a(), 2));
    // Another replica's dot with another content is a forged entry, not a reused dot.
    assert_eq!(reused_dot(&second_life, Some(&pushed_first), b()), None);
    // The same dot on another field: the server may have seen it written over there.
    let mut elsewhere = stored.clone();
    elsewhere
        .edit(a(), at(2), [(f("notes"), json!("…"))])
        .unwrap();
    assert_eq!(reused_dot(&elsewhere, Some(&pushed_first), a()), None);
}

#[test]
fn an_edit_over_256_kib_is_refused_naming_its_largest_field() {
    let mut s = person();
    let before = s.clone();
    let long = "Observations très longues. ".repeat(8 * 1024); // 224 KiB and more in UTF-8
    let err = s
        .edit(
            b(),
            at(1),
            [
                (f("notes"), json!(long)),
                (f("phone"), json!("0612")),
                (f("x_copy"), json!("é".repeat(20 * 1024))),
            ],
        )
        .unwrap_err();
    match &err {
        EditError::TooLarge { field, bytes } => {
            assert_eq!(field, "notes", "the largest field is named");
            assert!(*bytes > sync_protocol::MAX_EDIT_BYTES, "{bytes}");
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert!(err.to_string().contains("notes"), "{err}");
    assert!(
        !err.to_string().contains("Observations"),
        "no value in {err}"
    );
    assert_eq!(s, before, "a refused edit changes nothing");
    // The same text alone, just under the cap, is taken; a record grows past 256 KiB by
    // edits that each stay under it, and stays valid.
    s.edit(b(), at(2), [(f("notes"), json!("n".repeat(200 * 1024)))])
        .unwrap();
    s.edit(a(), at(3), [(f("x_more"), json!("m".repeat(200 * 1024)))])
        .unwrap();
    assert!(s.to_json().len() > 400 * 1024);
    assert_eq!(RecordState::from_json(&s.to_json()).unwrap(), s);
    let id = s.id();
    let created = RecordState::create(
        id,
        "person".parse().unwrap(),
        a(),
        at(4),
        [(f("notes"), json!("n".repeat(300 * 1024)))],
    );
    assert!(
        matches!(created, Err(EditError::TooLarge { .. })),
        "{created:?}"
    );
}
