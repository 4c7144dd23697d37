//! The information GDPR article 15 requires beside a person's own data: who keeps it and
//! how to reach them, why, on what legal basis, where it comes from, who receives it,
//! how long it is kept, and the person's rights, with the supervisory authority (the
//! CNIL). Filled from the organisation's settings; in French, like the access export.

use serde::Serialize;

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

/// The article 15 information, as the JSON of the access export holds it and its PDF
/// prints it. A setting not filled in is `None`.
#[derive(Debug, Clone, Serialize)]
pub struct Information {
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
    pub legal_basis: String,
    /// Where the data comes from.
    pub sources: String,
    /// Who receives it.
    pub recipients: Option<String>,
    /// How long it is kept.
    pub retention: String,
    /// The person's rights.
    pub rights: Vec<String>,
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
            legal_basis: LEGAL_BASIS.to_owned(),
            sources: SOURCES.to_owned(),
            recipients: org.recipients.clone(),
            retention: format!(
                "pendant l'accompagnement, puis {} mois après la clôture du dossier, avant \
                 d'être effacées",
                org.retention_months
            ),
            rights: RIGHTS.iter().map(|r| (*r).to_owned()).collect(),
            complaint: format!("vous pouvez adresser une réclamation à {CNIL}"),
        }
    }
}
