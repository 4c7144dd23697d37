//! A person's own data, for a GDPR access request (article 15): every record the case
//! file holds about them, as JSON (the record states exactly as stored, with every
//! entry, who wrote it and when) and as a PDF a person can read.
//!
//! "About them": the person's record, and every record that refers to them by
//! `person_id` or `person_ids` (situation, stays, visits, steps, jobs, trainings,
//! referrals), deleted ones included: a deleted record is still held until it is erased.
//! Visits also name the other persons met, by id only.

use serde::Serialize;
use sync_protocol::{RecordId, RecordState};
use tracing::info_span;

use super::pdf::Sheet;
use super::person_sheet::fields_of;
use super::{labels, person_name, printed, refs};
use crate::error::{Error, Result};
use crate::store::CaseFile;

/// Everything held about one person.
#[derive(Debug, Clone)]
pub struct AccessExport {
    /// The JSON document (pretty-printed): `{"format", "organisation", "generated_at",
    /// "person_id", "records": [state, …]}`, the person's record first.
    pub json: String,
    /// The same records, laid out for a person to read.
    pub pdf: Vec<u8>,
}

#[derive(Serialize)]
struct Document<'a> {
    format: &'static str,
    organisation: &'a str,
    generated_at: String,
    person_id: String,
    records: &'a [RecordState],
}

const ORDER: &[&str] = &[
    "person",
    "situation",
    "stay",
    "visit",
    "step",
    "employment",
    "training",
    "referral",
];

impl CaseFile {
    /// Everything the case file holds about `person`.
    ///
    /// Errors: [`Error::NotFound`]; [`Error::Invalid`] naming `person_id` when the
    /// record is not a person; [`Error::Export`] when the PDF cannot be written.
    pub fn access_export(&self, person: RecordId) -> Result<AccessExport> {
        let _span = info_span!("casefile.access_export", %person).entered();
        let state = self.get(person)?;
        if state.kind().as_str() != "person" {
            return Err(Error::invalid("person_id", "the id of a person"));
        }
        let records = self.records_about(person)?;
        let org = self.org_name()?;
        let zone = self.time_zone()?;
        let document = Document {
            format: "passerelle-access-export/1",
            organisation: &org,
            generated_at: crate::records::now().to_string(),
            person_id: person.to_string(),
            records: &records,
        };
        let json = serde_json::to_string_pretty(&document)
            .map_err(|_| Error::Export("the JSON could not be written".to_owned()))?;

        let mut sheet = Sheet::new(format!("{org} — données personnelles"))?;
        sheet.note(&org);
        sheet.title(&format!("Données détenues sur {}", person_name(&state)));
        sheet.note(&format!(
            "Édité le {} en réponse à une demande d'accès (RGPD, article 15). {} enregistrements.",
            super::now_text(zone),
            records.len()
        ));
        for kind in ORDER {
            for record in records.iter().filter(|r| r.kind().as_str() == *kind) {
                let deleted = if record.is_deleted() {
                    " (supprimé)"
                } else {
                    ""
                };
                sheet.heading(&format!("{}{deleted}", labels::kind(kind)));
                for field in ["site_id", "household_id"] {
                    if !refs(record, field).is_empty() {
                        sheet.field(labels::field(field), &self.names(record, field)?);
                    }
                }
                for visit in refs(record, "visit_id") {
                    let when = match self.state_if_any(visit)? {
                        Some(v) => printed(&v, "occurred_at", zone),
                        None => "inconnue".to_owned(),
                    };
                    sheet.field(labels::field("visit_id"), &format!("visite du {when}"));
                }
                fields_of(
                    &mut sheet,
                    record,
                    zone,
                    &[
                        "person_id",
                        "person_ids",
                        "site_id",
                        "household_id",
                        "visit_id",
                    ],
                );
                sheet.field("Identifiant", &record.id().to_string());
            }
        }
        let pdf = sheet.finish("Données personnelles")?;
        Ok(AccessExport { json, pdf })
    }

    /// The person's record, then every record (deleted too, not erased) that refers to
    /// them, by kind then id.
    fn records_about(&self, person: RecordId) -> Result<Vec<RecordState>> {
        let id = person.to_string();
        let mut stmt = self.conn.prepare_cached(
            "SELECT state FROM records WHERE erased = 0 AND id <> ?1 AND instr(state, ?1) > 0
             ORDER BY id",
        )?;
        let texts = stmt
            .query_map([&id], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut about = Vec::new();
        for text in texts {
            let state = RecordState::from_json(&text)?;
            let refers = refs(&state, "person_id").contains(&person)
                || refs(&state, "person_ids").contains(&person);
            if refers {
                about.push(state);
            }
        }
        about.sort_by_key(|s| {
            (
                ORDER
                    .iter()
                    .position(|k| *k == s.kind().as_str())
                    .unwrap_or(ORDER.len()),
                s.id(),
            )
        });
        let mut out = vec![self.get(person)?];
        out.extend(about);
        Ok(out)
    }
}
