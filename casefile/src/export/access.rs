//! A person's own data, for a GDPR access request (article 15): the JSON document, and
//! what the PDF a person can read prints (the `documents` crate lays it out).
//!
//! "About them": the person's record; every record about them alone, of any kind, kinds
//! added later included (`RecordState::about_alone`: situation, stays, steps, jobs,
//! trainings, referrals…); their household's record; and every record that met them
//! (`person_ids`: visits). Deleted records are included (a deleted record is held until
//! it is erased), erased ones are not. Each record comes with its history: every entry
//! the case file holds, with when and by whom (the device and its user, as the server
//! last named them).
//!
//! Other people's data is left out and noted ([`super::withhold`]): the others met in a
//! visit and a household's other members (never named nor identified), and the free text
//! of a record shared with them. The export also holds the information article 15
//! requires ([`super::article15`]), from the organisation's settings, and says when it
//! was made and when the case file last synced: a case file holds what it received at
//! its last sync, so an export made long after it may miss what other devices wrote.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{Map, Value};
use sync_protocol::wire::ReplicaInfo;
use sync_protocol::{RecordId, RecordState, ReplicaId};
use tracing::info_span;

use super::article15::Information;
use super::person_sheet::fields_of;
use super::withhold::{Withheld, withhold};
use super::{Field, TimeZone, french_time, labels, person_name, printed, printed_value, refs};
use crate::error::{Error, Result};
use crate::organisation::Organisation;
use crate::schema::FieldType;
use crate::store::CaseFile;

/// Everything held about one person: the JSON document, and the same as a person reads
/// it, every value as printed, in French.
#[derive(Debug, Clone, Serialize)]
pub struct Access {
    /// The JSON document (pretty-printed): `{"format", "generated_at", "last_sync_at",
    /// "person_id", "organisation", "information", "records": [{"id", "kind", "deleted",
    /// "fields", "history"}, …], "withheld": [{"record", "kind", "what", "why"}, …]}`,
    /// the person's record first.
    pub json: String,
    /// The organisation's name (`Passerelle` when its settings do not name it).
    pub org: String,
    /// The person's name.
    pub person_name: String,
    /// When the export was made.
    pub printed_on: String,
    /// When this case file last synced, if it ever did.
    pub last_sync_at: Option<String>,
    /// The information article 15 requires.
    pub information: Information,
    /// Each record, the person's first.
    pub records: Vec<AccessRecord>,
    /// Everything left out, record by record.
    pub withheld: Vec<WithheldNote>,
}

/// One record of an access export, as printed.
#[derive(Debug, Clone, Serialize)]
pub struct AccessRecord {
    /// Its kind, labelled.
    pub kind: String,
    /// Whether it is deleted (held until it is erased).
    pub deleted: bool,
    /// Its fields that hold a value, labelled, references by the names they point to,
    /// its id last.
    pub fields: Vec<Field>,
    /// What was left out of it.
    pub withheld: Vec<WithheldNote>,
    /// Every entry, oldest first.
    pub history: Vec<HistoryLine>,
}

/// Something an access export left out of a record, as printed.
#[derive(Debug, Clone, Serialize)]
pub struct WithheldNote {
    /// The record's id.
    pub record: String,
    /// The record's kind, labelled.
    pub kind: String,
    /// What was left out.
    pub what: String,
    /// Why.
    pub why: String,
}

/// One entry of a record's history, as printed.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryLine {
    /// When it was written.
    pub at: String,
    /// The field, labelled (`Suppression`, `Restauration` for a deletion and a
    /// restoration).
    pub field: String,
    /// The value, cut to a line or two.
    pub value: String,
    /// Who wrote it: the device and its user, `ce poste`, or `autre poste ou serveur`.
    pub by: String,
}

#[derive(Serialize)]
struct Document<'a> {
    format: &'static str,
    generated_at: String,
    last_sync_at: Option<String>,
    person_id: String,
    organisation: &'a Organisation,
    information: &'a Information,
    records: Vec<Shown>,
    withheld: &'a [Withheld],
}

/// One record as the export shows it.
#[derive(Serialize)]
struct Shown {
    id: String,
    kind: String,
    deleted: bool,
    /// Each field's value; a field in conflict as `{"values_in_conflict": [...]}`.
    fields: Map<String, Value>,
    history: Vec<Written>,
}

/// One entry of a record: what was written, when and by whom.
#[derive(Serialize)]
struct Written {
    field: String,
    value: Value,
    at: String,
    replica: String,
    device: Option<String>,
    user: Option<String>,
}

const ORDER: &[&str] = &[
    "person",
    "household",
    "situation",
    "stay",
    "visit",
    "step",
    "employment",
    "training",
    "referral",
    "cv",
];

impl CaseFile {
    /// Everything the case file holds about `person`, other people's data left out: see
    /// the module's docs.
    ///
    /// Errors: [`Error::NotFound`]; [`Error::Invalid`] naming `person_id` when the
    /// record is not a person; [`Error::Export`] when the JSON cannot be written.
    pub fn access(&self, person: RecordId) -> Result<Access> {
        let _span = info_span!("casefile.access_export").entered();
        // A file merged into another is that person's: the export is of the file that
        // stays, with every file merged into it.
        let person = crate::duplicates::survivor(&self.conn, person)?;
        let state = self.get(person)?;
        if state.kind().as_str() != "person" {
            return Err(Error::invalid("person_id", "the id of a person"));
        }
        let mut shown = Vec::new();
        let mut withheld = Vec::new();
        let subject = self.one_person(person)?;
        for (record, other_members) in self.records_about(&state, &subject)? {
            let (record, notes) = withhold(&record, &subject, other_members)?;
            shown.push(record);
            withheld.extend(notes);
        }
        let org = self.organisation()?;
        let information = Information::from(&org);
        let zone = self.time_zone()?;
        let last_sync_at = self.last_sync_at()?;
        let directory = self.replica_directory()?;
        let document = Document {
            format: "passerelle-access-export/2",
            generated_at: crate::records::now().to_string(),
            last_sync_at: last_sync_at.clone(),
            person_id: person.to_string(),
            organisation: &org,
            information: &information,
            records: shown.iter().map(|s| self.json_of(s, &directory)).collect(),
            withheld: &withheld,
        };
        let json = serde_json::to_string_pretty(&document)
            .map_err(|_| Error::Export("the JSON could not be written".to_owned()))?;

        let mut records = Vec::new();
        for record in &shown {
            records.push(self.printed_record(record, zone, &directory, &withheld)?);
        }
        Ok(Access {
            json,
            org: org.name.clone().unwrap_or_else(|| "Passerelle".to_owned()),
            person_name: person_name(&state),
            printed_on: super::now_text(zone),
            last_sync_at: last_sync_at.map(|at| french_time(&at, zone)),
            information,
            records,
            withheld: withheld.iter().map(note).collect(),
        })
    }

    /// The person `person` and the files merged into theirs: one person.
    fn one_person(&self, person: RecordId) -> Result<BTreeSet<RecordId>> {
        let mut ids: BTreeSet<RecordId> = crate::duplicates::merged_into_one(&self.conn, person)?
            .into_iter()
            .collect();
        ids.insert(person);
        Ok(ids)
    }

    /// The person's record, their household's, then every record (deleted too, not
    /// erased) about them, by kind then id; each with the number of other persons who
    /// share it without being named in it (a household's other members).
    fn records_about(
        &self,
        person: &RecordState,
        subject: &BTreeSet<RecordId>,
    ) -> Result<Vec<(RecordState, usize)>> {
        let text = person.id().to_string();
        let mut about: Vec<(RecordState, usize)> = Vec::new();
        for household in refs(person, "household_id") {
            if let Some(state) = self.state_if_any(household)? {
                let members: i64 = self
                    .conn
                    .prepare_cached(
                        "SELECT count(*) FROM person WHERE household_id = ?1 AND id <> ?2",
                    )?
                    .query_row([household.to_string(), text.clone()], |r| r.get(0))?;
                about.push((state, usize::try_from(members).unwrap_or(0)));
            }
        }
        // Every record naming the person or a file merged into theirs, and those files.
        let mut stmt = self.conn.prepare_cached(
            "SELECT state FROM records WHERE erased = 0 AND (id = ?1 OR instr(state, ?1) > 0)
             ORDER BY id",
        )?;
        for id in subject {
            let texts = stmt
                .query_map([id.to_string()], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            for text in texts {
                let state = RecordState::from_json(&text)?;
                // A person record is theirs only when it is one of their files (another
                // file merged at once into them and into someone else names them too).
                let about_them = state.id() == *id
                    || (state.kind().as_str() != "person" && state.about_alone().contains(id))
                    || refs(&state, sync_protocol::PERSONS_FIELD).contains(id);
                if state.id() != person.id()
                    && about_them
                    && !about.iter().any(|(s, _)| s.id() == state.id())
                {
                    about.push((state, 0));
                }
            }
        }
        let rank = |s: &RecordState| {
            let kind = s.kind().as_str();
            let known = ORDER.iter().position(|k| *k == kind).unwrap_or(ORDER.len());
            (known, kind.to_owned(), s.id())
        };
        about.sort_by_key(|(s, _)| rank(s));
        let mut out = vec![(person.clone(), 0)];
        out.extend(about);
        Ok(out)
    }

    fn json_of(&self, state: &RecordState, directory: &BTreeMap<ReplicaId, ReplicaInfo>) -> Shown {
        let mut fields = Map::new();
        for (name, entries) in state.fields() {
            if name.as_str().starts_with('_') {
                continue;
            }
            let value = match entries {
                [only] => only.value.clone(),
                many => serde_json::json!({
                    "values_in_conflict": many.iter().map(|e| e.value.clone()).collect::<Vec<_>>()
                }),
            };
            fields.insert(name.to_string(), value);
        }
        let history = history(state)
            .into_iter()
            .map(|(field, entry)| {
                let who = directory.get(&entry.dot.replica);
                Written {
                    field,
                    value: entry.value.clone(),
                    at: entry.at.to_string(),
                    replica: entry.dot.replica.to_string(),
                    device: who.map(|w| w.device_name.clone()),
                    user: who.map(|w| w.user.clone()),
                }
            })
            .collect();
        Shown {
            id: state.id().to_string(),
            kind: state.kind().to_string(),
            deleted: state.is_deleted(),
            fields,
            history,
        }
    }

    fn printed_record(
        &self,
        record: &RecordState,
        zone: TimeZone,
        directory: &BTreeMap<ReplicaId, ReplicaInfo>,
        withheld: &[Withheld],
    ) -> Result<AccessRecord> {
        let kind = record.kind().as_str();
        let mut fields = Vec::new();
        for field in ["site_id", "household_id"] {
            if !refs(record, field).is_empty() {
                fields.push(Field::new(
                    labels::field(kind, field),
                    self.names(record, field)?,
                ));
            }
        }
        for visit in refs(record, "visit_id") {
            let when = match self.state_if_any(visit)? {
                Some(v) => printed(&v, "occurred_at", zone),
                None => "inconnue".to_owned(),
            };
            fields.push(Field::new(
                labels::field(kind, "visit_id"),
                format!("visite du {when}"),
            ));
        }
        let mut skip = vec![
            "person_ids",
            "site_id",
            "household_id",
            "visit_id",
            "merged_seen",
        ];
        let person_fields: Vec<&str> = record
            .fields()
            .map(|(name, _)| name.as_str())
            .filter(|name| sync_protocol::names_one_person(name))
            .collect();
        skip.extend(person_fields);
        fields.extend(fields_of(record, zone, &skip));
        fields.push(Field::new("Identifiant", record.id().to_string()));
        let history = history(record)
            .into_iter()
            .map(|(field, entry)| {
                let by = match directory.get(&entry.dot.replica) {
                    Some(info) => format!("{} ({})", info.device_name, info.user),
                    None if entry.dot.replica == self.replica_id() => "ce poste".to_owned(),
                    None => "autre poste ou serveur".to_owned(),
                };
                let label = match field.as_str() {
                    "_deleted" if entry.value.is_null() => "Restauration".to_owned(),
                    "_deleted" => "Suppression".to_owned(),
                    name => labels::field(kind, name).to_owned(),
                };
                let ty = crate::schema::kind(kind)
                    .and_then(|k| k.field(&field))
                    .map_or(FieldType::Text, |f| f.ty);
                let value = if field.starts_with('_') {
                    String::new()
                } else {
                    shorten(&printed_value(&entry.value, &field, ty, zone))
                };
                HistoryLine {
                    at: french_time(entry.at.as_str(), zone),
                    field: label,
                    value,
                    by,
                }
            })
            .collect();
        Ok(AccessRecord {
            kind: labels::kind(kind).to_owned(),
            deleted: record.is_deleted(),
            fields,
            withheld: withheld
                .iter()
                .filter(|n| n.record == record.id())
                .map(note)
                .collect(),
            history,
        })
    }
}

/// A note of what was left out, as printed.
fn note(withheld: &Withheld) -> WithheldNote {
    WithheldNote {
        record: withheld.record.to_string(),
        kind: labels::kind(&withheld.kind).to_owned(),
        what: withheld.what.clone(),
        why: withheld.why.clone(),
    }
}

/// Every entry of `state`, oldest first (by `at`, then dot, then field).
fn history(state: &RecordState) -> Vec<(String, &sync_protocol::Entry)> {
    let mut out: Vec<(String, &sync_protocol::Entry)> = state
        .fields()
        .flat_map(|(name, entries)| entries.iter().map(move |e| (name.to_string(), e)))
        .collect();
    out.sort_by(|a, b| {
        (a.1.at.to_datetime(), a.1.dot, &a.0).cmp(&(b.1.at.to_datetime(), b.1.dot, &b.0))
    });
    out
}

/// A value cut to a line or two for the history table (the record's fields above show
/// it whole).
fn shorten(text: &str) -> String {
    const MAX: usize = 80;
    if text.chars().count() <= MAX {
        return text.to_owned();
    }
    let cut: String = text.chars().take(MAX).collect();
    format!("{cut}…")
}
