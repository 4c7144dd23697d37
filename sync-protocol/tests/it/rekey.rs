//! Re-dotting after a re-key (§6a): two lives of one replica id, forked from a common
//! state, each editing with that id. Life 1 reaches the server first; life 2 re-keys,
//! re-dots against the server's copy, and merges. No edit of either life may be lost,
//! and the server must accept life 2's re-dotted state.

use proptest::prelude::*;
use serde_json::{Value, json};
use sync_protocol::{
    DELETED_FIELD, Entry, FieldName, RecordId, RecordState, ReplicaId, Timestamp, check_dots,
    check_no_drop, merge, redot, reused_dot,
};

use crate::sim;

const FIELDS: [&str; 4] = ["family_name", "notes", "phone", "city"];

fn old() -> ReplicaId {
    "0190a000-0000-7000-8000-0000000000a1".parse().unwrap()
}
fn new() -> ReplicaId {
    "0190a000-0000-7000-8000-0000000000c1".parse().unwrap()
}
fn other() -> ReplicaId {
    "0190a000-0000-7000-8000-0000000000b1".parse().unwrap()
}

/// Who makes an edit: the reused replica, or another device of the team.
#[derive(Debug, Clone, Copy)]
enum Who {
    Old,
    Other,
}

impl Who {
    fn id(self) -> ReplicaId {
        match self {
            Who::Old => old(),
            Who::Other => other(),
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    Edit(Who, Vec<usize>, i64),
    Delete(Who),
    Restore(Who),
}

fn op(who: BoxedStrategy<Who>) -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (who.clone(), proptest::collection::vec(0..FIELDS.len(), 1..=3), 0i64..3)
            .prop_map(|(w, f, v)| Op::Edit(w, f, v)),
        2 => who.clone().prop_map(Op::Delete),
        1 => who.prop_map(Op::Restore),
    ]
}

fn anyone() -> BoxedStrategy<Who> {
    prop_oneof![Just(Who::Old), Just(Who::Other)].boxed()
}

fn only_old() -> BoxedStrategy<Who> {
    Just(Who::Old).boxed()
}

/// The time of the `n`-th operation of a phase (0: common, 1: life 1, 2: life 2): each
/// entry's `at` tells which phase wrote it.
fn at(phase: u32, n: usize) -> Timestamp {
    format!("2026-01-0{}T{:02}:{:02}:00Z", phase + 1, n / 60, n % 60)
        .parse()
        .unwrap()
}

fn phase_of(entry: &Entry) -> u32 {
    entry.at.as_str().as_bytes()[9] as u32 - u32::from(b'1')
}

fn apply(state: &mut RecordState, phase: u32, ops: &[Op]) {
    for (n, op) in ops.iter().enumerate() {
        let at = at(phase, n);
        // Refused operations (a delete of a deleted record…) are simply not made.
        let _ = match op {
            Op::Edit(who, fields, value) => state.edit(
                who.id(),
                at,
                fields
                    .iter()
                    .map(|&f| (FIELDS[f].parse::<FieldName>().unwrap(), json!(value))),
            ),
            Op::Delete(who) => state.delete(who.id(), at),
            Op::Restore(who) => state.restore(who.id(), at),
        };
    }
}

fn entries(state: &RecordState) -> Vec<(String, Entry)> {
    state
        .fields()
        .flat_map(|(name, entries)| entries.iter().map(move |e| (name.to_string(), e.clone())))
        .collect()
}

/// Whether `state` holds, in `field`, an entry with the `at` and value of `entry`
/// (whatever its dot: a re-dotted entry keeps them).
fn holds_content(state: &RecordState, field: &str, entry: &Entry) -> bool {
    state
        .entries(field)
        .iter()
        .any(|e| e.at == entry.at && same_content(field, &e.value, &entry.value))
}

/// Values equal, or, for deletions, both non-null (a re-dotted deletion may see less).
fn same_content(field: &str, a: &Value, b: &Value) -> bool {
    a == b || (field == DELETED_FIELD && !a.is_null() && !b.is_null())
}

fn valid(state: &RecordState) -> Result<(), TestCaseError> {
    let back = RecordState::from_value(&serde_json::to_value(state).unwrap());
    prop_assert!(
        back.is_ok(),
        "invalid state {}: {:?}",
        state.to_json(),
        back
    );
    prop_assert_eq!(back.unwrap(), state.clone());
    Ok(())
}

fn lives() -> impl Strategy<Value = (Vec<Op>, Vec<Op>, Vec<Op>)> {
    (
        proptest::collection::vec(op(anyone()), 0..8),
        // Life 1 reached the server, where other devices edited after it.
        proptest::collection::vec(op(anyone()), 0..8),
        // Life 2 stayed offline.
        proptest::collection::vec(op(only_old()), 0..8),
    )
}

fn created() -> RecordState {
    RecordState::create(
        RecordId::from_u128(7),
        "person".parse().unwrap(),
        old(),
        at(0, 99),
        [("family_name".parse().unwrap(), json!("Popa"))],
    )
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(sim::cases()))]

    #[test]
    fn both_lives_survive_the_merge_after_a_re_dot((common, one, two) in lives()) {
        let mut base = created();
        apply(&mut base, 0, &common);
        let mut life1 = base.clone();
        apply(&mut life1, 1, &one);
        let mut life2 = base.clone();
        apply(&mut life2, 2, &two);
        let server = life1.clone();

        let redotted = redot(&life2, Some(&server), old(), new());
        valid(&redotted)?;
        for (field, entry) in entries(&redotted) {
            if entry.dot.replica == old() {
                prop_assert!(
                    server.entries(&field).contains(&entry),
                    "an entry keeps a dot of old only when the server holds it alike: {field} {entry:?}"
                );
            }
        }
        prop_assert!(check_dots(&redotted, Some(&server), new()).is_ok(), "the server must take the push: {:?}", check_dots(&redotted, Some(&server), new()));
        prop_assert!(check_no_drop(&server, &redotted).is_ok(), "the push must drop nothing: {:?}", check_no_drop(&server, &redotted));
        prop_assert_eq!(reused_dot(&redotted, Some(&server), new()), None);

        let merged = merge(&redotted, &server).unwrap();
        valid(&merged)?;
        for (field, entry) in entries(&life1) {
            // An entry of life 1 survives as it is, unless life 2 shares it (from before the
            // fork) and wrote over it.
            let written_over_in_life2 = phase_of(&entry) == 0 && !holds_content(&life2, &field, &entry);
            if !written_over_in_life2 {
                prop_assert!(
                    merged.entries(&field).contains(&entry),
                    "life 1's entry {:?} of {} was lost: {}", entry, field, merged.to_json()
                );
            }
        }
        for (field, entry) in entries(&life2) {
            let written_over_in_life1 = phase_of(&entry) == 0 && !holds_content(&life1, &field, &entry);
            if !written_over_in_life1 {
                prop_assert!(
                    holds_content(&merged, &field, &entry),
                    "life 2's entry {:?} of {} was lost: {}", entry, field, merged.to_json()
                );
            }
        }
    }

    #[test]
    fn without_a_server_copy_every_edit_of_old_moves((common, _one, two) in lives()) {
        let mut life = created();
        apply(&mut life, 0, &common);
        apply(&mut life, 2, &two);
        let redotted = redot(&life, None, old(), new());
        valid(&redotted)?;
        // vv[old] keeps only what other devices' deletions saw of old.
        let seen_by_others = life
            .entries(DELETED_FIELD)
            .iter()
            .filter(|e| e.dot.replica == other())
            .filter_map(|e| e.value["seen"].get(old().to_string()).and_then(Value::as_u64))
            .max()
            .unwrap_or(0);
        prop_assert_eq!(redotted.vv().get(old()), seen_by_others);
        prop_assert!(redotted.dots().all(|d| d.replica != old()));
        for (field, entry) in entries(&life) {
            prop_assert!(holds_content(&redotted, &field, &entry), "{} {:?}", field, entry);
        }
    }

    #[test]
    fn what_the_server_holds_alike_keeps_its_dots((common, one, _two) in lives()) {
        let mut life = created();
        apply(&mut life, 0, &common);
        apply(&mut life, 1, &one);
        let redotted = redot(&life, Some(&life), old(), new());
        valid(&redotted)?;
        for (field, entry) in entries(&life) {
            if entry.dot.replica == old() {
                prop_assert!(redotted.entries(&field).contains(&entry), "{} {:?}", field, entry);
            }
        }
    }
}
