//! The visit sheet (fiche de visite): one visit on A4, printed or saved right after it,
//! offline, with two signature boxes.

use casefile::export::VisitSheet;
use tracing::info_span;

use crate::error::Result;
use crate::pdf::Sheet;

/// The visit sheet as a PDF document (A4, French, fonts embedded).
///
/// Errors: [`crate::Error::Pdf`] when the PDF cannot be written.
pub fn visit_sheet_pdf(visit: &VisitSheet) -> Result<Vec<u8>> {
    let _span = info_span!("documents.visit_sheet").entered();
    let mut sheet = Sheet::new(format!("{} — fiche de visite", visit.org))?;
    sheet.note(&visit.org);
    sheet.title("Fiche de visite");
    sheet.note(&format!("Éditée le {}", visit.printed_on));

    sheet.heading("La visite");
    sheet.field("Date et heure", &visit.occurred_at);
    sheet.field("Cadre", &visit.setting);
    sheet.field("Lieu de vie", &visit.sites);
    sheet.field("Conseiller·es", &visit.counsellors);
    if !visit.duration_minutes.is_empty() {
        sheet.field("Durée", &format!("{} min", visit.duration_minutes));
    }
    sheet.field("Interprète", &visit.interpreter);
    sheet.field("Objet", &visit.purpose);

    sheet.heading("Personnes rencontrées");
    let met: Vec<Vec<String>> = visit
        .persons
        .iter()
        .map(|p| vec![p.name.clone(), p.birth_year.clone(), p.household.clone()])
        .collect();
    sheet.table(
        &["Nom", "Année de naissance", "Ménage"],
        &[3.0, 1.5, 2.0],
        &met,
        "Personne n'est indiquée.",
    );

    sheet.heading("Observations");
    sheet.paragraph(&visit.observations);
    sheet.heading("Décisions");
    sheet.paragraph(&visit.decisions);

    sheet.heading("Démarches décidées");
    let steps: Vec<Vec<String>> = visit
        .steps
        .iter()
        .map(|s| {
            vec![
                s.title.clone(),
                s.for_whom.clone(),
                s.category.clone(),
                s.due_on.clone(),
                s.status.clone(),
            ]
        })
        .collect();
    sheet.table(
        &["Démarche", "Pour", "Catégorie", "Échéance", "Statut"],
        &[3.0, 2.0, 1.6, 1.1, 1.0],
        &steps,
        "Aucune démarche n'a été décidée.",
    );

    sheet.field("Prochaine visite", &visit.next_visit_on);

    sheet.signatures(&[
        "Signature du ou de la conseiller·e",
        "Signature de la personne accompagnée",
    ]);
    sheet.finish("Fiche de visite")
}
