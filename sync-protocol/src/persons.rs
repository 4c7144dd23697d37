//! Which records name a person, and what erasing persons does to a record (§5).
//!
//! The rule reads field names, never a list of kinds, so kinds added later (attachments,
//! CVs, duplicate marks, merge tombstones) are covered as long as they name persons the
//! way the v1 kinds do:
//! - a field `person_id`, `merged_into`, or ending in `_person_id` makes the record
//!   **about that person alone**: it is erased with them;
//! - a field `person_ids` (a list) makes it **shared**: the erased persons are taken out
//!   of the list by an edit of the server's replica, and when nobody is left the record is
//!   erased (a visit that met only them);
//! - a field `not_duplicates` (a person's list of persons they are not) only mentions
//!   persons: the erased ones are taken out of it by the same kind of edit, and the record
//!   stays.
//!
//! Every entry counts, conflicts included: a record one of whose `person_id` entries
//! names an erased person is erased, since it may be about them. When `person_ids` is in
//! conflict, the server's edit writes the union of its entries less the erased persons,
//! in order of first appearance: everyone any entry names stays, nobody erased does.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::edit::EditError;
use crate::merges::NOT_DUPLICATES;
use crate::record::{Entry, FieldName, RecordState, Timestamp};
use crate::{RecordId, ReplicaId};

/// The field that lists the persons a shared record (a visit) is about.
pub const PERSONS_FIELD: &str = "person_ids";

/// Whether the field `name` names the one person its record is about.
pub fn names_one_person(name: &str) -> bool {
    name == "person_id" || name == "merged_into" || name.ends_with("_person_id")
}

/// The ids an entry's value names: a string that reads as an id, or the strings of a list
/// that do. Anything else names nobody.
fn ids_in(value: &Value) -> Vec<RecordId> {
    match value {
        Value::String(text) => text.parse().into_iter().collect(),
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .filter_map(|text| text.parse().ok())
            .collect(),
        _ => Vec::new(),
    }
}

fn entries_ids(entries: &[Entry]) -> impl Iterator<Item = RecordId> + '_ {
    entries.iter().flat_map(|entry| ids_in(&entry.value))
}

impl RecordState {
    /// Every person id this record names, in any entry of a person field (`person_id`,
    /// `merged_into`, `*_person_id`, `person_ids`, `not_duplicates`). Not the record's own
    /// id.
    pub fn persons_named(&self) -> BTreeSet<RecordId> {
        self.fields()
            .filter(|(name, _)| {
                names_one_person(name.as_str())
                    || name.as_str() == PERSONS_FIELD
                    || name.as_str() == NOT_DUPLICATES
            })
            .flat_map(|(_, entries)| entries_ids(entries))
            .collect()
    }

    /// The persons this record is about alone (`person_id`, `merged_into`,
    /// `*_person_id`), in any entry.
    pub fn about_alone(&self) -> BTreeSet<RecordId> {
        self.fields()
            .filter(|(name, _)| names_one_person(name.as_str()))
            .flat_map(|(_, entries)| entries_ids(entries))
            .collect()
    }
}

/// The fields of `state` that hold free text (a string with a space or a line break in
/// any entry), which may speak of a person by name: what a coordinator reads again after
/// an erasure. Person fields and `_`-fields are not text.
pub fn prose_fields(state: &RecordState) -> Vec<FieldName> {
    state
        .fields()
        .filter(|(name, _)| {
            let name = name.as_str();
            !name.starts_with('_') && !names_one_person(name) && name != PERSONS_FIELD
        })
        .filter(|(_, entries)| {
            entries.iter().any(|entry| {
                entry
                    .value
                    .as_str()
                    .is_some_and(|text| text.trim().contains(char::is_whitespace))
            })
        })
        .map(|(name, _)| name.clone())
        .collect()
}

/// What erasing persons does to one record.
#[derive(Debug, Clone, PartialEq)]
pub enum Forgotten {
    /// The record names none of them (or is erased already): nothing changes.
    Untouched,
    /// The record is one of them, is about one of them alone, or met only them: it is
    /// erased. The state is the erased record (§5).
    Erased(RecordState),
    /// A shared record, or one mentioning them: the server's edit took them out of
    /// `person_ids` and `not_duplicates`. The state is the edited record.
    Edited(RecordState),
}

/// What erasing the persons (and records) for which `erased` is true does to `state`:
/// see the module's rules. `server` is the server's replica id and `at` its clock, for
/// the edit of a shared record.
///
/// Errors: the edit of a shared record would pass a limit of §2 (its counter or the size
/// cap), which an honest record never reaches.
pub fn forget(
    state: &RecordState,
    erased: impl Fn(RecordId) -> bool,
    server: ReplicaId,
    at: Timestamp,
) -> Result<Forgotten, EditError> {
    if state.is_erased() {
        return Ok(Forgotten::Untouched);
    }
    if erased(state.id()) || state.about_alone().into_iter().any(&erased) {
        return Ok(Forgotten::Erased(state.erase()));
    }
    // A shared record loses them from `person_ids` (and is erased when nobody is left);
    // any record loses them from `not_duplicates`, which only mentions persons.
    let mut changes = Vec::new();
    for (field, erased_when_empty) in [(PERSONS_FIELD, true), (NOT_DUPLICATES, false)] {
        let entries = state.entries(field);
        if !entries_ids(entries).any(&erased) {
            continue;
        }
        let mut kept: Vec<RecordId> = Vec::new();
        for id in entries_ids(entries) {
            if !erased(id) && !kept.contains(&id) {
                kept.push(id);
            }
        }
        if kept.is_empty() && erased_when_empty {
            return Ok(Forgotten::Erased(state.erase()));
        }
        let value = Value::Array(
            kept.iter()
                .map(|id| Value::String(id.to_string()))
                .collect(),
        );
        changes.push((FieldName::from_static(field), value));
    }
    if changes.is_empty() {
        return Ok(Forgotten::Untouched);
    }
    let mut edited = state.clone();
    edited.edit(server, at, changes)?;
    Ok(Forgotten::Edited(edited))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Kind;
    use serde_json::json;

    fn replica(n: u128) -> ReplicaId {
        ReplicaId::from_u128(n)
    }
    fn id(n: u128) -> RecordId {
        RecordId::from_u128(n)
    }
    fn at(minute: u8) -> Timestamp {
        format!("2026-11-30T10:{minute:02}:00Z").parse().unwrap()
    }
    fn record(kind: &str, n: u128, fields: Value) -> RecordState {
        let fields = fields
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.parse::<FieldName>().unwrap(), v.clone()));
        RecordState::create(
            id(n),
            kind.parse::<Kind>().unwrap(),
            replica(1),
            at(0),
            fields,
        )
        .unwrap()
    }
    const SERVER: u128 = 99;
    fn forget_person(state: &RecordState, person: u128) -> Forgotten {
        forget(state, |i| i == id(person), replica(SERVER), at(5)).unwrap()
    }

    #[test]
    fn the_person_and_what_is_about_them_alone_are_erased() {
        let p = id(7).to_string();
        let person = record("person", 7, json!({"family_name": "Lăcătuș"}));
        let step = record("step", 8, json!({"person_id": p, "title": "CV"}));
        let merged = record("person", 9, json!({"merged_into": p}));
        let mark = record("duplicate", 10, json!({"other_person_id": p}));
        let unknown_kind = record("attachment", 11, json!({"person_id": p, "sha256": "ab"}));
        for state in [&person, &step, &merged, &mark, &unknown_kind] {
            assert_eq!(
                forget_person(state, 7),
                Forgotten::Erased(state.erase()),
                "{} names the erased person alone",
                state.kind()
            );
        }
        let other = record("step", 12, json!({"person_id": id(3).to_string()}));
        assert_eq!(forget_person(&other, 7), Forgotten::Untouched);
    }

    #[test]
    fn a_shared_visit_loses_the_person_by_an_edit_of_the_server() {
        let visit = record(
            "visit",
            20,
            json!({"person_ids": [id(7).to_string(), id(3).to_string()], "observations": "…"}),
        );
        let Forgotten::Edited(edited) = forget_person(&visit, 7) else {
            panic!("a visit shared with another person is edited, not erased");
        };
        assert_eq!(
            edited.value(PERSONS_FIELD),
            Some(&json!([id(3).to_string()]))
        );
        assert_eq!(
            edited.entries(PERSONS_FIELD)[0].dot.replica,
            replica(SERVER),
            "the edit is the server's own"
        );
        assert_eq!(
            edited.value("observations"),
            Some(&json!("…")),
            "the rest stays"
        );
        assert!(!edited.persons_named().contains(&id(7)));
        assert_eq!(
            prose_fields(&edited),
            Vec::<FieldName>::new(),
            "a lone character is not prose"
        );
        let mut noted = edited.clone();
        noted
            .edit(
                replica(2),
                at(6),
                [("decisions".parse().unwrap(), json!("Ana ira au CCAS"))],
            )
            .unwrap();
        assert_eq!(
            prose_fields(&noted),
            vec!["decisions".parse::<FieldName>().unwrap()]
        );
    }

    #[test]
    fn a_visit_that_met_only_them_is_erased() {
        let visit = record("visit", 21, json!({"person_ids": [id(7).to_string()]}));
        assert_eq!(forget_person(&visit, 7), Forgotten::Erased(visit.erase()));
    }

    #[test]
    fn a_conflict_on_person_ids_keeps_everyone_else_and_nobody_erased() {
        let base = record("visit", 22, json!({"person_ids": [id(7).to_string()]}));
        let f = || PERSONS_FIELD.parse::<FieldName>().unwrap();
        let mut a = base.clone();
        a.edit(
            replica(2),
            at(1),
            [(f(), json!([id(7).to_string(), id(3).to_string()]))],
        )
        .unwrap();
        let mut b = base.clone();
        b.edit(
            replica(4),
            at(2),
            [(f(), json!([id(5).to_string(), id(7).to_string()]))],
        )
        .unwrap();
        let both = crate::merge(&a, &b).unwrap();
        assert_eq!(
            both.entries(PERSONS_FIELD).len(),
            2,
            "a conflict to start from"
        );
        let Forgotten::Edited(edited) = forget_person(&both, 7) else {
            panic!("others remain: the visit is edited");
        };
        assert_eq!(
            edited.value(PERSONS_FIELD),
            Some(&json!([id(3).to_string(), id(5).to_string()])),
            "one entry, the union less the erased person"
        );
    }

    #[test]
    fn a_conflict_on_person_id_erases_the_record() {
        let base = record("step", 23, json!({"person_id": id(3).to_string()}));
        let f = || "person_id".parse::<FieldName>().unwrap();
        let mut a = base.clone();
        a.edit(replica(2), at(1), [(f(), json!(id(7).to_string()))])
            .unwrap();
        let mut b = base.clone();
        b.edit(replica(4), at(2), [(f(), json!(id(5).to_string()))])
            .unwrap();
        let both = crate::merge(&a, &b).unwrap();
        assert!(matches!(forget_person(&both, 7), Forgotten::Erased(_)));
    }

    #[test]
    fn an_erased_record_and_one_naming_nobody_are_untouched() {
        let site = record(
            "site",
            30,
            json!({"name": "Les Près", "notes": id(7).to_string()}),
        );
        assert_eq!(
            forget_person(&site, 7),
            Forgotten::Untouched,
            "free text is not a reference: the coordinator reads it"
        );
        let erased = record("person", 7, json!({})).erase();
        assert_eq!(forget_person(&erased, 7), Forgotten::Untouched);
        let odd = record("visit", 31, json!({"person_ids": [1, null, "not an id"]}));
        assert_eq!(forget_person(&odd, 7), Forgotten::Untouched);
    }

    #[test]
    fn an_erased_person_leaves_the_lists_of_persons_someone_is_not() {
        let other = record(
            "person",
            5,
            json!({"family_name": "Popa", "not_duplicates": [id(7).to_string(), id(8).to_string()]}),
        );
        assert!(other.persons_named().contains(&id(7)));
        let Forgotten::Edited(edited) = forget(&other, |p| p == id(7), replica(99), at(5)).unwrap()
        else {
            panic!("expected an edit");
        };
        assert_eq!(
            edited.value("not_duplicates"),
            Some(&json!([id(8).to_string()]))
        );
        let Forgotten::Edited(emptied) =
            forget(&edited, |p| p == id(8), replica(99), at(6)).unwrap()
        else {
            panic!("the person stays when the list empties");
        };
        assert_eq!(emptied.value("not_duplicates"), Some(&json!([])));
        assert_eq!(emptied.value("family_name"), Some(&json!("Popa")));
    }
}
