//! A person's own data, for a GDPR access request (article 15), as a PDF a person can
//! read: the information article 15 requires, each record with its history, and what
//! was left out because it is other people's.

use casefile::export::{Access, AccessRecord, Information};
use tracing::info_span;

use crate::error::Result;
use crate::pdf::Sheet;

/// A setting of the organisation not filled in.
const NOT_SET: &str = "non renseigné";

/// The access export as a PDF document (A4, French, fonts embedded). Its JSON is
/// `access.json`, made by the case file.
///
/// Errors: [`crate::Error::Pdf`] when the PDF cannot be written.
pub fn access_pdf(access: &Access) -> Result<Vec<u8>> {
    let _span = info_span!("documents.access").entered();
    let mut sheet = Sheet::new(format!("{} — vos données personnelles", access.org))?;
    sheet.note(&access.org);
    sheet.title(&format!("Données détenues sur {}", access.person_name));
    sheet.note(&format!(
        "Édité le {} en réponse à une demande d'accès (RGPD, article 15) : {} \
         enregistrements.",
        access.printed_on,
        access.records.len()
    ));
    sheet.note(&match &access.last_sync_at {
        Some(at) => format!(
            "Ce document reprend ce que ce poste a reçu à sa dernière synchronisation, \
             le {at}."
        ),
        None => "Ce poste ne s'est jamais synchronisé avec le serveur : ce que d'autres \
                 postes ont saisi peut manquer."
            .to_owned(),
    });
    print_information(&mut sheet, &access.information);
    for record in &access.records {
        print_record(&mut sheet, record);
    }
    sheet.heading("Ce qui n'est pas communiqué");
    if access.withheld.is_empty() {
        sheet.paragraph("Rien : ce document contient tout ce que ce poste détient sur vous.");
    } else {
        sheet.paragraph(
            "Ce document ne montre pas les données d'autres personnes. Ont été retirés :",
        );
        for note in &access.withheld {
            sheet.bullet(&format!(
                "{} ({}) : {}, car {}.",
                note.kind, note.record, note.what, note.why
            ));
        }
    }
    sheet.finish("Vos données personnelles")
}

/// The article 15 information, as a section.
fn print_information(sheet: &mut Sheet, info: &Information) {
    let or_not_set = |v: &Option<String>| v.clone().unwrap_or_else(|| NOT_SET.to_owned());
    sheet.heading("Qui garde vos données, pourquoi, et vos droits");
    sheet.field("Organisation", &or_not_set(&info.controller));
    sheet.field("Adresse", &or_not_set(&info.address));
    sheet.field("Pour nous joindre", &or_not_set(&info.contact));
    sheet.field("Protection des données", &or_not_set(&info.dpo_contact));
    sheet.field("Finalités", &or_not_set(&info.purposes));
    sheet.field("Base légale", &info.legal_basis);
    sheet.field("Origine des données", &info.sources);
    sheet.field("Destinataires", &or_not_set(&info.recipients));
    sheet.field("Durée de conservation", &info.retention);
    sheet.paragraph("Vos droits : vous pouvez");
    for right in &info.rights {
        sheet.bullet(right);
    }
    sheet.bullet(&info.complaint);
    sheet.paragraph(
        "Pour exercer ces droits, parlez-en à la personne qui vous accompagne ou \
         écrivez au contact ci-dessus : la réponse est gratuite et vous parvient dans \
         un délai d'un mois.",
    );
}

/// One record: its fields, what was left out of it, and its history.
fn print_record(sheet: &mut Sheet, record: &AccessRecord) {
    let deleted = if record.deleted { " (supprimé)" } else { "" };
    sheet.heading(&format!("{}{deleted}", record.kind));
    for field in &record.fields {
        sheet.field(&field.label, &field.value);
    }
    for note in &record.withheld {
        sheet.note(&format!(
            "Non communiqué : {}, car {}.",
            note.what, note.why
        ));
    }
    let rows: Vec<Vec<String>> = record
        .history
        .iter()
        .map(|h| vec![h.at.clone(), h.field.clone(), h.value.clone(), h.by.clone()])
        .collect();
    sheet.table(
        &["Saisi le", "Champ", "Valeur", "Par"],
        &[1.6, 1.4, 2.4, 1.6],
        &rows,
        "Aucun historique.",
    );
}
