//! A person's summary sheet: their file on about two A4 pages, for a counsellor who
//! hands it over or takes it to an appointment.

use casefile::export::PersonSheet;
use tracing::info_span;

use crate::error::Result;
use crate::pdf::Sheet;

/// The summary sheet as a PDF document (A4, French, fonts embedded).
///
/// Errors: [`crate::Error::Pdf`] when the PDF cannot be written.
pub fn person_sheet_pdf(person: &PersonSheet) -> Result<Vec<u8>> {
    let _span = info_span!("documents.person_sheet").entered();
    let mut sheet = Sheet::new(format!("{} — fiche personne", person.org))?;
    sheet.note(&person.org);
    sheet.title(&person.name);
    sheet.note(&format!("Édité le {}", person.printed_on));

    sheet.heading("Identité");
    for field in &person.identity {
        sheet.field(&field.label, &field.value);
    }
    if let Some(situation) = &person.situation {
        sheet.heading("Situation administrative");
        for field in situation {
            sheet.field(&field.label, &field.value);
        }
    }

    sheet.heading("Démarches en cours");
    let rows: Vec<Vec<String>> = person
        .steps
        .iter()
        .map(|s| {
            vec![
                s.title.clone(),
                s.category.clone(),
                s.due_on.clone(),
                s.status.clone(),
            ]
        })
        .collect();
    sheet.table(
        &["Démarche", "Catégorie", "Échéance", "Statut"],
        &[3.0, 1.6, 1.1, 1.0],
        &rows,
        "Aucune démarche en cours.",
    );

    sheet.heading("Emplois");
    let rows: Vec<Vec<String>> = person
        .jobs
        .iter()
        .map(|j| {
            vec![
                j.employer.clone(),
                j.job_title.clone(),
                j.contract.clone(),
                j.start_on.clone(),
                j.end_on.clone(),
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
    let rows: Vec<Vec<String>> = person
        .trainings
        .iter()
        .map(|t| {
            vec![
                t.title.clone(),
                t.provider.clone(),
                t.status.clone(),
                t.start_on.clone(),
                t.end_on.clone(),
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
    let rows: Vec<Vec<String>> = person
        .referrals
        .iter()
        .map(|r| {
            vec![
                r.to_service.clone(),
                r.constraint.clone(),
                r.status.clone(),
                r.sent_on.clone(),
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
    let rows: Vec<Vec<String>> = person
        .stays
        .iter()
        .map(|s| {
            vec![
                s.site.clone(),
                s.from_on.clone(),
                s.to_on.clone(),
                s.left_because.clone(),
            ]
        })
        .collect();
    sheet.table(
        &["Lieu de vie", "Du", "Au", "Motif du départ"],
        &[3.0, 1.0, 1.0, 1.6],
        &rows,
        "Aucun séjour enregistré.",
    );

    sheet.heading("Dernières visites");
    let rows: Vec<Vec<String>> = person
        .visits
        .iter()
        .map(|v| {
            vec![
                v.occurred_at.clone(),
                v.setting.clone(),
                v.purpose.clone(),
                v.next_visit_on.clone(),
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
    sheet.paragraph(&person.notes);
    sheet.finish("Fiche personne")
}
