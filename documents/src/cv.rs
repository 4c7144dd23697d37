//! The CV (curriculum vitae): one or two A4 pages in French, from what
//! `casefile::export::Cv` prints. A large name (or "Candidat·e" when anonymised), the
//! headline, one contact line, then the sections that hold something: Compétences,
//! Permis et certifications, Langues, Expérience professionnelle, Formations, Centres
//! d'intérêt. An entry of experience or training has its first line in bold and is kept
//! on one page.
//!
//! The CV is laid out in comfortable spacing first; when that takes more than two pages
//! it is laid out again in smaller type and tighter spacing, and then once more with the
//! short lists (skills, certifications, languages) run on together rather than one a
//! line, so that ten jobs and six trainings of several lines each fit on two pages. A CV
//! longer still prints in that last layout on as many pages as it takes. The footer names neither the organisation nor the person:
//! the CV goes to employers, who need not learn who follows the person.

use casefile::export::Cv;
use tracing::info_span;

use crate::error::Result;
use crate::pdf::{Sheet, Style};

/// What the anonymised CV prints instead of a name.
const ANONYMOUS: &str = "Candidat·e";

/// Sizes and gaps of one layout of the CV.
#[derive(Debug, Clone, Copy)]
struct Density {
    name: f32,
    headline: f32,
    contact: f32,
    heading: f32,
    before_heading: f32,
    body: f32,
    between_items: f32,
    /// Whether the short lists run on in one paragraph (else one bullet an item).
    lists_run_on: bool,
}

const COMFORTABLE: Density = Density {
    name: 22.0,
    headline: 12.5,
    contact: 9.5,
    heading: 12.0,
    before_heading: 10.0,
    body: 10.0,
    between_items: 5.0,
    lists_run_on: false,
};

const COMPACT: Density = Density {
    name: 20.0,
    headline: 11.5,
    contact: 9.0,
    heading: 11.0,
    before_heading: 5.0,
    body: 9.0,
    between_items: 2.5,
    lists_run_on: false,
};

const TIGHT: Density = Density {
    name: 18.0,
    headline: 11.0,
    contact: 8.5,
    heading: 10.5,
    before_heading: 4.0,
    body: 8.5,
    between_items: 1.5,
    lists_run_on: true,
};

/// The CV as a PDF document (A4, French, fonts embedded): one or two pages for any CV
/// of ten jobs and six trainings of a few lines each.
///
/// Errors: [`crate::Error::Pdf`] when the PDF cannot be written.
pub fn cv_pdf(cv: &Cv) -> Result<Vec<u8>> {
    let _span = info_span!("documents.cv", anonymised = cv.anonymised).entered();
    let mut sheet = layout(cv, COMFORTABLE)?;
    for density in [COMPACT, TIGHT] {
        if sheet.page_count() <= 2 {
            break;
        }
        sheet = layout(cv, density)?;
    }
    sheet.finish("Curriculum vitae")
}

fn layout(cv: &Cv, d: Density) -> Result<Sheet> {
    let mut sheet = Sheet::new("Curriculum vitae")?;
    let name = match (&cv.name, cv.anonymised) {
        (Some(name), false) if !name.trim().is_empty() => name.as_str(),
        _ => ANONYMOUS,
    };
    sheet.lines(name, Style::accent(d.name), 0.0);
    if !cv.headline.is_empty() {
        sheet.space(2.0);
        sheet.lines(&cv.headline, Style::plain(d.headline), 0.0);
    }
    // The reader leaves the contact out of an anonymised CV; so does the layout.
    if !cv.anonymised && !cv.contact.is_empty() {
        sheet.space(3.0);
        sheet.lines(&cv.contact.join("   ·   "), Style::grey(d.contact), 0.0);
    }

    for (heading, items) in [
        ("Compétences", &cv.skills),
        ("Permis et certifications", &cv.certifications),
        ("Langues", &cv.languages),
    ] {
        if items.is_empty() {
            continue;
        }
        sheet.heading_sized(heading, d.heading, d.before_heading);
        if d.lists_run_on {
            sheet.lines(&items.join(" · "), Style::plain(d.body), 0.0);
            continue;
        }
        for item in items {
            sheet.bullet_sized(item, d.body);
        }
    }
    for (heading, items) in [
        ("Expérience professionnelle", &cv.experience),
        ("Formations", &cv.trainings),
    ] {
        if items.is_empty() {
            continue;
        }
        sheet.heading_sized(heading, d.heading, d.before_heading);
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                sheet.space(d.between_items);
            }
            sheet.entry(&item.heading, &item.details, d.body);
        }
    }
    if !cv.interests.is_empty() {
        sheet.heading_sized("Centres d'intérêt", d.heading, d.before_heading);
        sheet.lines(&cv.interests.join(" · "), Style::plain(d.body), 0.0);
    }
    Ok(sheet)
}

#[cfg(test)]
mod tests {
    use casefile::export::{Cv, CvItem};

    use super::{COMFORTABLE, COMPACT, TIGHT, cv_pdf, layout};

    fn item(what: &str, i: usize) -> CvItem {
        CvItem {
            heading: format!(
                "{} – {} · {what} {i} · Entreprise (CDD)",
                2010 + i,
                2011 + i
            ),
            details: vec![
                "Nettoyage des bureaux et des parties communes, tri sélectif des déchets.".into(),
                "Utilisation d'une autolaveuse, respect des protocoles d'hygiène.".into(),
                "Encadrement de deux agents en fin de contrat, remplacement de l'équipe.".into(),
                "Horaires décalés, travail en autonomie sur plusieurs sites.".into(),
                "Commande des produits d'entretien et suivi des stocks.".into(),
            ],
        }
    }

    #[test]
    fn a_cv_too_long_for_two_pages_is_laid_out_again_tighter() {
        let cv = Cv {
            anonymised: false,
            name: Some("Mărioara Țîrcă".into()),
            headline: "Agente de propreté".into(),
            contact: vec!["06 00 00 00 00".into()],
            languages: vec!["Français : A2".into(), "Romani".into()],
            skills: vec!["Repassage".into(), "Cuisine collective".into()],
            certifications: vec!["Permis B".into()],
            experience: (0..10).map(|i| item("Agente", i)).collect(),
            trainings: (0..6).map(|i| item("Formation", i)).collect(),
            interests: vec!["Couture".into()],
            from_record: true,
        };
        let comfortable = layout(&cv, COMFORTABLE).unwrap().page_count();
        let compact = layout(&cv, COMPACT).unwrap().page_count();
        assert!(
            comfortable > 2,
            "the first layout takes {comfortable} pages"
        );
        let tight = layout(&cv, TIGHT).unwrap().page_count();
        assert!(
            tight <= compact && compact <= comfortable,
            "each layout takes no more pages than the one before: {comfortable}, {compact}, {tight}"
        );
        assert!(tight <= 2, "the tightest takes {tight}");
        assert!(cv_pdf(&cv).unwrap().starts_with(b"%PDF-"));
    }
}
