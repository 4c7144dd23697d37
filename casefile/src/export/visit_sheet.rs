//! The visit sheet (fiche de visite): one visit on A4, printed or saved right after it,
//! offline. It names the organisation, when and where the visit took place, who led it
//! and whom it met, what was said and decided, the steps decided (steps whose `visit_id`
//! is this visit) with their due dates, and the next visit. This module reads it; the
//! `documents` crate lays it out.

use serde::Serialize;
use sync_protocol::RecordId;
use tracing::info_span;

use super::{birth_year, person_name, printed, refs, text};
use crate::error::{Error, Result};
use crate::store::CaseFile;

/// What the visit sheet prints, every value as printed (dates and times in French, in
/// the organisation's time zone; choices by their label; a conflict's values joined with
/// ` / `). An empty text is a field the visit does not fill.
#[derive(Debug, Clone, Serialize)]
pub struct VisitSheet {
    /// The organisation's name.
    pub org: String,
    /// When the sheet was made: `lundi 02/11/2026 à 10 h 14`.
    pub printed_on: String,
    /// When the visit took place.
    pub occurred_at: String,
    /// Where (home visit, office…), labelled.
    pub setting: String,
    /// The sites, each as `name (commune)`.
    pub sites: String,
    /// The counsellors who led it.
    pub counsellors: String,
    /// How long it lasted, in minutes.
    pub duration_minutes: String,
    /// Whether an interpreter was there (`oui` / `non`).
    pub interpreter: String,
    /// Its purpose.
    pub purpose: String,
    /// The persons met, in the visit's order.
    pub persons: Vec<PersonMet>,
    /// What was observed.
    pub observations: String,
    /// What was decided.
    pub decisions: String,
    /// The steps decided at the visit, by due date.
    pub steps: Vec<DecidedStep>,
    /// The day of the next visit.
    pub next_visit_on: String,
}

/// A person met at a visit.
#[derive(Debug, Clone, Serialize)]
pub struct PersonMet {
    /// Their name, or `(personne inconnue de ce dossier)` for a person this case file
    /// does not hold.
    pub name: String,
    /// Their year of birth.
    pub birth_year: String,
    /// Their household's name.
    pub household: String,
}

/// A step decided at a visit.
#[derive(Debug, Clone, Serialize)]
pub struct DecidedStep {
    /// What is to be done.
    pub title: String,
    /// For whom: the names of the persons it is for.
    pub for_whom: String,
    /// Its category, labelled.
    pub category: String,
    /// When it is due.
    pub due_on: String,
    /// Its status, labelled.
    pub status: String,
}

impl CaseFile {
    /// What the visit sheet of `visit` prints.
    ///
    /// Errors: [`Error::NotFound`]; [`Error::Invalid`] naming `visit_id` when the record
    /// is not a visit.
    pub fn visit_sheet(&self, visit: RecordId) -> Result<VisitSheet> {
        let _span = info_span!("casefile.visit_sheet", %visit).entered();
        let state = self.get(visit)?;
        if state.kind().as_str() != "visit" {
            return Err(Error::invalid("visit_id", "the id of a visit"));
        }
        let zone = self.time_zone()?;
        let mut sites = Vec::new();
        for id in refs(&state, "site_id") {
            sites.push(self.site_line(id)?);
        }
        let mut persons = Vec::new();
        let mut met = Vec::new();
        for id in refs(&state, "person_ids") {
            // Two files of one person met in the visit, since merged: one line.
            let id = self.survivor(id)?;
            if met.contains(&id) {
                continue;
            }
            met.push(id);
            persons.push(match self.state_if_any(id)? {
                Some(person) => PersonMet {
                    name: person_name(&person),
                    birth_year: birth_year(&person),
                    household: self.names(&person, "household_id")?,
                },
                None => PersonMet {
                    name: "(personne inconnue de ce dossier)".to_owned(),
                    birth_year: String::new(),
                    household: String::new(),
                },
            });
        }
        let mut steps = Vec::new();
        for step in self.steps_of_visit(visit)? {
            steps.push(DecidedStep {
                title: text(&step, "title"),
                for_whom: self.names(&step, "person_id")?,
                category: printed(&step, "category", zone),
                due_on: printed(&step, "due_on", zone),
                status: printed(&step, "status", zone),
            });
        }
        Ok(VisitSheet {
            org: self.org_name()?,
            printed_on: super::now_text(zone),
            occurred_at: printed(&state, "occurred_at", zone),
            setting: printed(&state, "setting", zone),
            sites: sites.join(" / "),
            counsellors: printed(&state, "counsellors", zone),
            duration_minutes: printed(&state, "duration_minutes", zone),
            interpreter: printed(&state, "interpreter", zone),
            purpose: text(&state, "purpose"),
            persons,
            observations: text(&state, "observations"),
            decisions: text(&state, "decisions"),
            steps,
            next_visit_on: printed(&state, "next_visit_on", zone),
        })
    }

    /// A site as one line: its name and commune.
    fn site_line(&self, id: RecordId) -> Result<String> {
        Ok(match self.state_if_any(id)? {
            Some(site) => {
                let commune = text(&site, "commune");
                let name = text(&site, "name");
                if commune.is_empty() {
                    name
                } else {
                    format!("{name} ({commune})")
                }
            }
            None => "inconnu".to_owned(),
        })
    }

    /// The steps (not deleted) decided at `visit`, by due date.
    pub(crate) fn steps_of_visit(
        &self,
        visit: RecordId,
    ) -> Result<Vec<sync_protocol::RecordState>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id FROM step WHERE visit_id = ?1 ORDER BY coalesce(due_on, '9999'), id",
        )?;
        let ids = stmt
            .query_map([visit.to_string()], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        crate::records::load_many(&self.conn, &ids)
    }
}
