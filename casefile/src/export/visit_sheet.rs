//! The visit sheet (fiche de visite): one visit on A4, printed or saved right after it,
//! offline. It names the organisation, when and where the visit took place, who led it
//! and whom it met, what was said and decided, the steps decided (steps whose `visit_id`
//! is this visit) with their due dates, the next visit, and has two signature boxes.

use sync_protocol::RecordId;
use tracing::info_span;

use super::pdf::Sheet;
use super::{birth_year, person_name, printed, refs, text};
use crate::error::{Error, Result};
use crate::store::CaseFile;

impl CaseFile {
    /// The visit sheet of `visit` as a PDF document (A4, French, fonts embedded).
    ///
    /// Errors: [`Error::NotFound`]; [`Error::Invalid`] naming `visit_id` when the record
    /// is not a visit; [`Error::Export`] when the PDF cannot be written.
    pub fn visit_sheet_pdf(&self, visit: RecordId) -> Result<Vec<u8>> {
        let _span = info_span!("casefile.visit_sheet", %visit).entered();
        let state = self.get(visit)?;
        if state.kind().as_str() != "visit" {
            return Err(Error::invalid("visit_id", "the id of a visit"));
        }
        let zone = self.time_zone()?;
        let org = self.org_name()?;
        let mut sheet = Sheet::new(format!("{org} — fiche de visite"))?;
        sheet.note(&org);
        sheet.title("Fiche de visite");
        sheet.note(&format!("Éditée le {}", super::now_text(zone)));

        sheet.heading("La visite");
        sheet.field("Date et heure", &printed(&state, "occurred_at", zone));
        sheet.field("Cadre", &printed(&state, "setting", zone));
        let mut sites = Vec::new();
        for id in refs(&state, "site_id") {
            sites.push(self.site_line(id)?);
        }
        sheet.field("Lieu de vie", &sites.join(" / "));
        sheet.field("Conseiller·es", &printed(&state, "counsellors", zone));
        let duration = printed(&state, "duration_minutes", zone);
        if !duration.is_empty() {
            sheet.field("Durée", &format!("{duration} min"));
        }
        sheet.field("Interprète", &printed(&state, "interpreter", zone));
        sheet.field("Objet", &text(&state, "purpose"));

        sheet.heading("Personnes rencontrées");
        let mut met = Vec::new();
        for id in refs(&state, "person_ids") {
            met.push(match self.state_if_any(id)? {
                Some(person) => {
                    let mut household = Vec::new();
                    for h in refs(&person, "household_id") {
                        household.push(self.name_of(h)?);
                    }
                    vec![
                        person_name(&person),
                        birth_year(&person),
                        household.join(" / "),
                    ]
                }
                None => vec![
                    "(personne inconnue de ce dossier)".to_owned(),
                    String::new(),
                    String::new(),
                ],
            });
        }
        sheet.table(
            &["Nom", "Année de naissance", "Ménage"],
            &[3.0, 1.5, 2.0],
            &met,
            "Personne n'est indiquée.",
        );

        sheet.heading("Observations");
        sheet.paragraph(&text(&state, "observations"));
        sheet.heading("Décisions");
        sheet.paragraph(&text(&state, "decisions"));

        sheet.heading("Démarches décidées");
        let mut steps = Vec::new();
        for step in self.steps_of_visit(visit)? {
            let mut who = Vec::new();
            for p in refs(&step, "person_id") {
                who.push(self.name_of(p)?);
            }
            steps.push(vec![
                text(&step, "title"),
                who.join(" / "),
                printed(&step, "category", zone),
                printed(&step, "due_on", zone),
                printed(&step, "status", zone),
            ]);
        }
        sheet.table(
            &["Démarche", "Pour", "Catégorie", "Échéance", "Statut"],
            &[3.0, 2.0, 1.6, 1.1, 1.0],
            &steps,
            "Aucune démarche n'a été décidée.",
        );

        sheet.field("Prochaine visite", &printed(&state, "next_visit_on", zone));

        sheet.signatures(&[
            "Signature du ou de la conseiller·e",
            "Signature de la personne accompagnée",
        ]);
        sheet.finish("Fiche de visite")
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
