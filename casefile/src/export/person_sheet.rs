//! A person's summary sheet: their file on about two A4 pages, for a counsellor who
//! hands it over or takes it to an appointment. Identity and situation, where they
//! lived, the steps under way, jobs, trainings and referrals, and the latest visits.

use sync_protocol::{RecordId, RecordState};
use tracing::info_span;

use super::pdf::Sheet;
use super::{labels, person_name, printed, refs, text};
use crate::error::Result;
use crate::export::period::TimeZone;
use crate::store::CaseFile;

/// How many of the latest visits the summary lists.
const LATEST_VISITS: usize = 6;

impl CaseFile {
    /// The summary sheet of `person` as a PDF document.
    ///
    /// Errors: [`crate::Error::NotFound`]; [`crate::Error::Invalid`] naming `person_id`
    /// when the record is not a person; [`crate::Error::Export`] when the PDF cannot be
    /// written.
    pub fn person_sheet_pdf(&self, person: RecordId) -> Result<Vec<u8>> {
        let _span = info_span!("casefile.person_sheet").entered();
        let timeline = self.timeline(person)?;
        let zone = self.time_zone()?;
        let org = self.org_name()?;
        let p = &timeline.person;
        let mut sheet = Sheet::new(format!("{org} — fiche personne"))?;
        sheet.note(&org);
        sheet.title(&person_name(p));
        sheet.note(&format!("Édité le {}", super::now_text(zone)));

        sheet.heading("Identité");
        for field in [
            "aliases",
            "sex",
            "birth_date",
            "birth_place",
            "nationality",
            "languages",
            "french_level",
            "phone",
        ] {
            sheet.field(labels::field(field), &printed(p, field, zone));
        }
        sheet.field("Ménage", &self.names(p, "household_id")?);
        sheet.field("Lieu de vie", &self.names(p, "site_id")?);
        for field in [
            "referent",
            "status",
            "consent_on",
            "consent_scope",
            "notice_on",
            "notice_lang",
            "notice_interpreter",
        ] {
            sheet.field(labels::field(field), &printed(p, field, zone));
        }

        if let Some(situation) = &timeline.situation {
            sheet.heading("Situation administrative");
            fields_of(&mut sheet, situation, zone, &["person_id"]);
        }

        let of = |kind: &str| -> Vec<&RecordState> {
            timeline
                .items
                .iter()
                .map(|i| &i.state)
                .filter(|s| s.kind().as_str() == kind)
                .collect()
        };

        sheet.heading("Démarches en cours");
        let mut rows = Vec::new();
        for step in of("step") {
            let status = text(step, "status");
            if status == "planned" || status == "in_progress" {
                rows.push(vec![
                    text(step, "title"),
                    printed(step, "category", zone),
                    printed(step, "due_on", zone),
                    printed(step, "status", zone),
                ]);
            }
        }
        sheet.table(
            &["Démarche", "Catégorie", "Échéance", "Statut"],
            &[3.0, 1.6, 1.1, 1.0],
            &rows,
            "Aucune démarche en cours.",
        );

        sheet.heading("Emplois");
        let rows: Vec<Vec<String>> = of("employment")
            .into_iter()
            .map(|j| {
                vec![
                    text(j, "employer"),
                    text(j, "job_title"),
                    printed(j, "contract", zone),
                    printed(j, "start_on", zone),
                    printed(j, "end_on", zone),
                ]
            })
            .collect();
        sheet.table(
            &["Employeur", "Poste", "Contrat", "Début", "Fin"],
            &[2.2, 2.2, 1.0, 1.0, 1.0],
            &rows,
            "Aucun emploi.",
        );

        sheet.heading("Formations");
        let rows: Vec<Vec<String>> = of("training")
            .into_iter()
            .map(|t| {
                vec![
                    text(t, "title"),
                    text(t, "provider"),
                    printed(t, "status", zone),
                    printed(t, "start_on", zone),
                    printed(t, "end_on", zone),
                ]
            })
            .collect();
        sheet.table(
            &["Formation", "Organisme", "Statut", "Début", "Fin"],
            &[2.4, 2.0, 1.0, 1.0, 1.0],
            &rows,
            "Aucune formation.",
        );

        sheet.heading("Orientations");
        let rows: Vec<Vec<String>> = of("referral")
            .into_iter()
            .map(|r| {
                vec![
                    text(r, "to_service"),
                    printed(r, "constraint", zone),
                    printed(r, "status", zone),
                    printed(r, "sent_on", zone),
                ]
            })
            .collect();
        sheet.table(
            &["Service", "Frein", "Statut", "Envoyée le"],
            &[3.0, 1.4, 1.0, 1.0],
            &rows,
            "Aucune orientation.",
        );

        sheet.heading("Lieux de vie successifs");
        let mut rows = Vec::new();
        for stay in of("stay") {
            rows.push(vec![
                self.names(stay, "site_id")?,
                printed(stay, "from_on", zone),
                printed(stay, "to_on", zone),
                printed(stay, "left_because", zone),
            ]);
        }
        sheet.table(
            &["Lieu de vie", "Du", "Au", "Motif du départ"],
            &[3.0, 1.0, 1.0, 1.6],
            &rows,
            "Aucun séjour enregistré.",
        );

        sheet.heading("Dernières visites");
        let rows: Vec<Vec<String>> = of("visit")
            .into_iter()
            .take(LATEST_VISITS)
            .map(|v| {
                vec![
                    printed(v, "occurred_at", zone),
                    printed(v, "setting", zone),
                    text(v, "purpose"),
                    printed(v, "next_visit_on", zone),
                ]
            })
            .collect();
        sheet.table(
            &["Date", "Cadre", "Objet", "Prochaine visite"],
            &[1.8, 1.6, 3.0, 1.1],
            &rows,
            "Aucune visite.",
        );

        sheet.heading("Notes");
        sheet.paragraph(&text(p, "notes"));
        sheet.finish("Fiche personne")
    }

    /// The names the references of `field` point to, joined.
    pub(crate) fn names(&self, state: &RecordState, field: &str) -> Result<String> {
        let mut out = Vec::new();
        for id in refs(state, field) {
            out.push(self.name_of(id)?);
        }
        Ok(out.join(" / "))
    }
}

/// Every field of `state` that holds a value, labelled in French, but those in `skip`.
/// References print as the names they point to only where the caller resolves them;
/// here they print as ids.
pub(crate) fn fields_of(sheet: &mut Sheet, state: &RecordState, zone: TimeZone, skip: &[&str]) {
    let mut names: Vec<&str> = crate::schema::kind(state.kind().as_str())
        .map(|k| k.fields.iter().map(|f| f.name).collect())
        .unwrap_or_default();
    for (name, _) in state.fields() {
        if !names.contains(&name.as_str()) {
            names.push(name.as_str());
        }
    }
    for name in names {
        if name.starts_with('_') || skip.contains(&name) {
            continue;
        }
        let value = printed(state, name, zone);
        if !value.is_empty() {
            sheet.field(labels::field(name), &value);
        }
    }
}
