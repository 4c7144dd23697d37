//! What an access export leaves out of a record, and why: other people's data.
//!
//! A person's access request (GDPR article 15) gives them their own data, not other
//! people's. From each record the export shows:
//! - in `person_ids` (a visit's persons met), only the person: the others are counted,
//!   never named;
//! - in a field naming one person (`person_id`, `*_person_id`, `merged_into`), only
//!   entries naming the person;
//! - from a record shared with other people, none of its free text: the fields of free
//!   text (`sync_protocol::prose_fields` and every text field of the kind's schema but
//!   its `name`; of a field the schema does not know — an extension, a field or a kind
//!   of a newer version — any text), which may speak of the others.
//!
//! A record is shared when any entry of its person fields (`person_id`, `merged_into`,
//! `*_person_id`, `person_ids`) names someone besides the person — a visit that met
//! several persons, a duplicate mark naming two, whichever field names the person — or
//! when it is a household with other members.
//!
//! Each thing left out is noted ([`Withheld`]), with no name or id of anyone.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Value;
use sync_protocol::{PERSONS_FIELD, RecordId, RecordState, names_one_person, prose_fields};

use super::{labels, refs};
use crate::error::{Error, Result};
use crate::schema::{self, FieldType};

/// Something an access export left out of a record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Withheld {
    /// The record it was left out of.
    pub record: RecordId,
    /// The record's kind.
    pub kind: String,
    /// What was left out, in French.
    pub what: String,
    /// Why, in French.
    pub why: String,
}

const OTHERS: &str = "ce sont les données d'autres personnes";

/// `state` as the access export of the person `subject` shows it, and what it left out.
/// `subject` holds the person's id and the ids of the files merged into theirs (one
/// person). `other_members` counts the other persons who share the record without being
/// named in it (a household's other members).
pub(crate) fn withhold(
    state: &RecordState,
    subject: &BTreeSet<RecordId>,
    other_members: usize,
) -> Result<(RecordState, Vec<Withheld>)> {
    let mut notes = Vec::new();
    let note = |what: String, why: &str| Withheld {
        record: state.id(),
        kind: state.kind().to_string(),
        what,
        why: why.to_owned(),
    };
    let others_met: BTreeSet<RecordId> = refs(state, PERSONS_FIELD)
        .into_iter()
        .filter(|id| !subject.contains(id))
        .collect();
    // Any entry of any person field naming someone else, whichever field names the
    // subject: a duplicate mark {person_id: Q, other_person_id: subject} speaks of Q.
    // The persons a person is marked as not being are not sharing their record: that
    // list alone is left out.
    let marks = sync_protocol::merges::not_duplicates(state);
    let shared = state
        .persons_named()
        .iter()
        .any(|id| !subject.contains(id) && !marks.contains(id))
        || other_members > 0;
    let prose: Vec<String> = prose_fields(state)
        .into_iter()
        .map(|f| f.to_string())
        .collect();
    let spec = schema::kind(state.kind().as_str());
    let free_text = |name: &str, entries: &[Value]| -> bool {
        match spec.and_then(|spec| spec.field(name)) {
            // A site's or a household's name is kept.
            Some(field) => {
                name != "name" && (field.ty == FieldType::Text || prose.iter().any(|p| p == name))
            }
            // A field this build does not know (an extension, a field or a kind of a
            // newer version): any text in it may name someone.
            None => entries.iter().any(|entry| holds_text(entry.get("value"))),
        }
    };

    let mut value = serde_json::to_value(state)
        .map_err(|_| Error::Export("a record could not be read".to_owned()))?;
    let Some(fields) = value.get_mut("fields").and_then(Value::as_object_mut) else {
        return Ok((state.clone(), notes));
    };
    let mut text_withheld = Vec::new();
    let mut ids_withheld = 0usize;
    let subject_text: BTreeSet<String> = subject.iter().map(ToString::to_string).collect();
    fields.retain(|name, entries| {
        let Some(list) = entries.as_array_mut() else {
            return true;
        };
        if name == PERSONS_FIELD {
            for entry in list.iter_mut() {
                if let Some(value) = entry.get_mut("value") {
                    let named: Vec<Value> = value
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|i| i.as_str().is_some_and(|i| subject_text.contains(i)))
                        .cloned()
                        .collect();
                    *value = Value::Array(named);
                }
            }
            return true;
        }
        if names_one_person(name) {
            let before = list.len();
            list.retain(|entry| {
                entry
                    .get("value")
                    .and_then(Value::as_str)
                    .is_some_and(|v| subject_text.contains(v))
            });
            ids_withheld += before - list.len();
            return !list.is_empty();
        }
        if name == sync_protocol::merges::NOT_DUPLICATES {
            ids_withheld += list.len();
            return false;
        }
        if name.starts_with('_') {
            return true;
        }
        if shared && free_text(name, list) {
            text_withheld.push(name.clone());
            return false;
        }
        true
    });
    let shown = RecordState::from_value(&value)?;

    if !others_met.is_empty() {
        notes.push(note(
            format!(
                "les noms et identifiants des autres personnes rencontrées ({})",
                others_met.len()
            ),
            OTHERS,
        ));
    }
    if other_members > 0 {
        notes.push(note(
            format!("les noms et identifiants des autres membres du ménage ({other_members})"),
            OTHERS,
        ));
    }
    if ids_withheld > 0 {
        notes.push(note(
            "l'identifiant d'une autre personne".to_owned(),
            OTHERS,
        ));
    }
    if !text_withheld.is_empty() {
        let labels: Vec<&str> = text_withheld
            .iter()
            .map(|f| labels::field(state.kind().as_str(), f))
            .collect();
        notes.push(note(
            format!("le texte libre : {}", labels.join(", ")),
            "il concerne aussi d'autres personnes et peut parler d'elles",
        ));
    }
    Ok((shown, notes))
}

/// Whether an entry's value holds text: a string, or a list with a string in it.
fn holds_text(value: Option<&Value>) -> bool {
    match value {
        Some(Value::String(_)) => true,
        Some(Value::Array(items)) => items.iter().any(Value::is_string),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use sync_protocol::{FieldName, Kind, ReplicaId, Timestamp};

    fn id(n: u128) -> RecordId {
        RecordId::from_u128(n)
    }

    fn record(kind: &str, fields: Value) -> RecordState {
        let fields = fields
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.parse::<FieldName>().unwrap(), v.clone()));
        RecordState::create(
            id(50),
            kind.parse::<Kind>().unwrap(),
            ReplicaId::from_u128(1),
            "2026-11-02T10:00:00Z".parse::<Timestamp>().unwrap(),
            fields,
        )
        .unwrap()
    }

    #[test]
    fn a_group_visit_keeps_the_person_and_no_free_text() {
        let visit = record(
            "visit",
            json!({
                "person_ids": [id(1).to_string(), id(2).to_string(), id(3).to_string()],
                "observations": "Maria et Ion sont venus",
                "purpose": "CV",
                "setting": "home_visit",
            }),
        );
        let (shown, notes) = withhold(&visit, &BTreeSet::from([id(1)]), 0).unwrap();
        assert_eq!(shown.value("person_ids"), Some(&json!([id(1).to_string()])));
        assert_eq!(shown.value("observations"), None, "prose withheld");
        assert_eq!(shown.value("purpose"), None, "every text field withheld");
        assert_eq!(shown.value("setting"), Some(&json!("home_visit")));
        assert_eq!(
            notes.len(),
            2,
            "the others met and the free text: {notes:?}"
        );
        let text = serde_json::to_string(&notes).unwrap();
        for other in [id(2), id(3)] {
            assert!(
                !text.contains(&other.to_string()),
                "no other id in the notes"
            );
        }
        assert!(text.contains("(2)"), "the others are counted: {text}");
    }

    #[test]
    fn a_visit_alone_is_shown_whole() {
        let visit = record(
            "visit",
            json!({"person_ids": [id(1).to_string()], "observations": "Très motivé"}),
        );
        let (shown, notes) = withhold(&visit, &BTreeSet::from([id(1)]), 0).unwrap();
        assert_eq!(shown, visit);
        assert!(notes.is_empty());
    }

    #[test]
    fn another_person_named_alone_is_left_out() {
        let mark = record(
            "duplicate",
            json!({"person_id": id(1).to_string(), "other_person_id": id(2).to_string()}),
        );
        let (shown, notes) = withhold(&mark, &BTreeSet::from([id(1)]), 0).unwrap();
        assert_eq!(shown.value("other_person_id"), None);
        assert_eq!(shown.value("person_id"), Some(&json!(id(1).to_string())));
        assert_eq!(notes.len(), 1);
    }

    #[test]
    fn a_record_naming_another_person_in_any_person_field_is_shared() {
        // The subject is named by `other_person_id`; `person_id` names someone else.
        let mark = record(
            "duplicate",
            json!({
                "person_id": id(2).to_string(),
                "other_person_id": id(1).to_string(),
                "notes": "Même personne que Ruxandra Quintana ?",
                "name": "Quintana",
                "reason": "homonyme",
            }),
        );
        let (shown, notes) = withhold(&mark, &BTreeSet::from([id(1)]), 0).unwrap();
        assert_eq!(
            shown.value("other_person_id"),
            Some(&json!(id(1).to_string())),
            "the subject stays"
        );
        for field in ["person_id", "notes", "name", "reason"] {
            assert_eq!(
                shown.value(field),
                None,
                "{field} of a record shared with another person is withheld"
            );
        }
        let text = serde_json::to_string(&notes).unwrap();
        assert!(
            text.contains("l'identifiant d'une autre personne") && text.contains("le texte libre"),
            "the other id and the free text are noted: {text}"
        );
        assert!(
            !text.contains(&id(2).to_string()) && !text.contains("Quintana"),
            "no one else in the notes: {text}"
        );

        // The same mark naming the subject alone is theirs, shown whole.
        let alone = record(
            "duplicate",
            json!({"person_id": id(1).to_string(), "notes": "Doublon saisi deux fois"}),
        );
        let (shown, notes) = withhold(&alone, &BTreeSet::from([id(1)]), 0).unwrap();
        assert_eq!(
            shown, alone,
            "a record about the subject alone is shown whole"
        );
        assert!(notes.is_empty());
    }

    #[test]
    fn a_household_with_other_members_keeps_its_name_not_its_notes() {
        let household = record(
            "household",
            json!({"name": "Ménage L", "notes": "Ion boit"}),
        );
        let (shown, notes) = withhold(&household, &BTreeSet::from([id(1)]), 2).unwrap();
        assert_eq!(shown.value("name"), Some(&json!("Ménage L")));
        assert_eq!(shown.value("notes"), None);
        assert_eq!(notes.len(), 2, "the other members and the notes: {notes:?}");
        let (alone, notes) = withhold(&household, &BTreeSet::from([id(1)]), 0).unwrap();
        assert_eq!(alone, household, "a household of one is shown whole");
        assert!(notes.is_empty());
    }
}
