//! The information GDPR article 15 requires beside a person's own data: who keeps it and
//! how to reach them, why, on what legal basis, where it comes from, who receives it,
//! how long it is kept, and the person's rights, with the supervisory authority (the
//! CNIL). Filled from the organisation's settings; in French, like the access export.

use serde::Serialize;

use super::pdf::Sheet;
use crate::organisation::Organisation;

/// The CNIL, where a complaint goes.
pub(crate) const CNIL: &str = "la CNIL (Commission nationale de l'informatique et des \
    libertés), 3 place de Fontenoy, TSA 80715, 75334 Paris Cedex 07, www.cnil.fr";

const LEGAL_BASIS: &str = "la mission d'accompagnement social de l'organisation ; pour les \
    données sensibles (la santé, par exemple), votre consentement, que vous pouvez retirer \
    à tout moment";

const SOURCES: &str = "vous-même, lors de nos rencontres, et les partenaires qui vous \
    accompagnent aussi (France Travail, services sociaux, centres de soins, organismes de \
    formation…), seulement pour vous accompagner";

const RIGHTS: &[&str] = &[
    "voir vos données et en recevoir une copie (droit d'accès) : c'est ce document",
    "faire corriger ce qui est faux (droit de rectification)",
    "faire effacer vos données (droit à l'effacement)",
    "faire limiter l'utilisation de vos données (droit à la limitation)",
    "vous opposer à l'utilisation de vos données (droit d'opposition)",
    "retirer à tout moment votre consentement pour les données sensibles",
];

const NOT_SET: &str = "non renseigné";

/// The article 15 information, as the JSON of the access export holds it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Information {
    /// Who keeps the data.
    pub controller: Option<String>,
    /// Its address.
    pub address: Option<String>,
    /// How to reach it.
    pub contact: Option<String>,
    /// The data protection contact.
    pub dpo_contact: Option<String>,
    /// Why the data is kept.
    pub purposes: Option<String>,
    /// On what legal basis.
    pub legal_basis: &'static str,
    /// Where the data comes from.
    pub sources: &'static str,
    /// Who receives it.
    pub recipients: Option<String>,
    /// How long it is kept.
    pub retention: String,
    /// The person's rights.
    pub rights: &'static [&'static str],
    /// Where to complain.
    pub complaint: String,
}

impl Information {
    /// The information, from the organisation's settings.
    pub(crate) fn from(org: &Organisation) -> Self {
        Self {
            controller: org.name.clone(),
            address: org.address.clone(),
            contact: org.contact.clone(),
            dpo_contact: org.dpo_contact.clone(),
            purposes: org.purposes.clone(),
            legal_basis: LEGAL_BASIS,
            sources: SOURCES,
            recipients: org.recipients.clone(),
            retention: format!(
                "pendant l'accompagnement, puis {} mois après la clôture du dossier, avant \
                 d'être effacées",
                org.retention_months
            ),
            rights: RIGHTS,
            complaint: format!("vous pouvez adresser une réclamation à {CNIL}"),
        }
    }

    /// The information as a section of the printed export.
    pub(crate) fn print(&self, sheet: &mut Sheet) {
        let or_not_set = |v: &Option<String>| v.clone().unwrap_or_else(|| NOT_SET.to_owned());
        sheet.heading("Qui garde vos données, pourquoi, et vos droits");
        sheet.field("Organisation", &or_not_set(&self.controller));
        sheet.field("Adresse", &or_not_set(&self.address));
        sheet.field("Pour nous joindre", &or_not_set(&self.contact));
        sheet.field("Protection des données", &or_not_set(&self.dpo_contact));
        sheet.field("Finalités", &or_not_set(&self.purposes));
        sheet.field("Base légale", self.legal_basis);
        sheet.field("Origine des données", self.sources);
        sheet.field("Destinataires", &or_not_set(&self.recipients));
        sheet.field("Durée de conservation", &self.retention);
        sheet.paragraph("Vos droits : vous pouvez");
        for right in self.rights {
            sheet.bullet(right);
        }
        sheet.bullet(&self.complaint);
        sheet.paragraph(
            "Pour exercer ces droits, parlez-en à la personne qui vous accompagne ou \
             écrivez au contact ci-dessus : la réponse est gratuite et vous parvient dans \
             un délai d'un mois.",
        );
    }
}
