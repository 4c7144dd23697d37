//! The CV: read from a case file by `casefile`, written here, read back with poppler's
//! `pdftotext` and `pdfinfo`.

use casefile::CaseFile;
use casefile::sync_protocol::RecordId;
use serde_json::json;

use crate::common::{fields, flat, fresh, non_ascii_letters, pdf_pages, pdf_text};

/// Every letter of French and Romanian the CV must print.
const DIACRITICS: &str = "ăâîșțĂÂÎȘȚéèêëçïôûùœÉÈÇ";

fn cv_pdf(file: &CaseFile, person: RecordId, anonymised: bool) -> Vec<u8> {
    documents::cv_pdf(&file.cv(person, anonymised).unwrap()).unwrap()
}

/// A person with a name, contact, skills and certifications, and a `cv` record that
/// fills every section with texts holding every letter of `DIACRITICS`.
fn stefan_with_a_cv(file: &mut CaseFile) -> RecordId {
    let stefan = file
        .create(
            "person",
            fields(&[
                ("family_name", json!("Lăcătuș")),
                ("given_names", json!("Ștefan")),
                ("phone", json!("06 12 34 56 78")),
                ("email", json!("stefan.lacatus@example.org")),
            ]),
        )
        .unwrap();
    file.create(
        "cv",
        fields(&[
            ("person_id", json!(stefan.to_string())),
            ("headline", json!("Maçon — disponible immédiatement, Île-de-France")),
            (
                "contact",
                json!("06 12 34 56 78\nstefan.lacatus@example.org"),
            ),
            (
                "languages",
                json!(["Français : A2 (élémentaire)", "Română : limbă maternă"]),
            ),
            (
                "skills",
                json!(["Maçonnerie, FAÇADES", "Élagage", "Peinture intérieure à l'œuf"]),
            ),
            ("certifications", json!(["Permis B", "CACES R489 cat. 3"])),
            (
                "experience",
                json!([
                    "2023 – 2024 · Maçon · Bâtiments du Nord (CDD)\nSecteur : bâtiment\nRénovation de façades, enduits, chapes",
                    "2021 · Ouvrier agricole · Ferme Șerban (saisonnier)\nRécolte du maïs à Brăila, conduite de tracteur\nEmployeur : SC DUNĂREA ÂRCU SRL"
                ]),
            ),
            (
                "trainings",
                json!(["2024 · Cariste · AFPA\nCertification : CACES R489 cat. 3"]),
            ),
            (
                "interests",
                json!([
                    "Football, înot în lac, țesături",
                    "Pêche, randonnée où l'on marche longtemps",
                    "Crème brûlée, fête de Noël, hôtellerie",
                    "Èze (voyage), Ținut: Țara Românească, București",
                ]),
            ),
        ]),
    )
    .unwrap();
    stefan
}

#[test]
fn the_cv_prints_each_section_with_every_letter_as_extractable_text() {
    let (_dir, mut file) = fresh();
    let stefan = stefan_with_a_cv(&mut file);
    let cv = file.cv(stefan, false).unwrap();
    let pdf = documents::cv_pdf(&cv).unwrap();
    assert!(pdf.starts_with(b"%PDF-"), "a PDF document");
    assert!(
        crate::common::contains(&pdf, b"/FontFile2"),
        "the TrueType font is embedded"
    );
    assert_eq!(pdf_pages(&pdf), 1, "a short CV takes one page");
    let text = pdf_text(&pdf);
    let words = flat(&text);
    for expected in [
        "Ștefan Lăcătuș",
        "Maçon — disponible immédiatement, Île-de-France",
        "06 12 34 56 78",
        "stefan.lacatus@example.org",
        "Compétences",
        "Permis et certifications",
        "Langues",
        "Expérience professionnelle",
        "Formations",
        "Centres d'intérêt",
        "Peinture intérieure à l'œuf",
        "CACES R489 cat. 3",
        "Română : limbă maternă",
        "2023 – 2024 · Maçon · Bâtiments du Nord (CDD)",
        "Rénovation de façades, enduits, chapes",
        "2024 · Cariste · AFPA",
    ] {
        assert!(
            words.contains(expected),
            "the CV should hold {expected:?}: {words}"
        );
    }
    let order: Vec<usize> = [
        "Compétences",
        "Permis et certifications",
        "Langues",
        "Expérience professionnelle",
        "Formations",
        "Centres d'intérêt",
    ]
    .iter()
    .map(|h| words.find(h).unwrap())
    .collect();
    assert!(order.is_sorted(), "the sections in their order: {order:?}");
    let printed = non_ascii_letters(&text);
    let read = non_ascii_letters(&serde_json::to_string(&cv).unwrap());
    for letter in DIACRITICS.chars() {
        assert!(read.contains(&letter), "the sample uses {letter}");
        assert!(
            printed.contains(&letter),
            "{letter} should survive pdftotext: {words}"
        );
    }
    let lost: Vec<&char> = read.difference(&printed).collect();
    assert!(lost.is_empty(), "letters the CV lost: {lost:?}");
}

#[test]
fn a_section_with_nothing_in_it_is_left_out() {
    let (_dir, mut file) = fresh();
    let ilie = file
        .create(
            "person",
            fields(&[
                ("family_name", json!("Rusu")),
                ("given_names", json!("Ilie")),
            ]),
        )
        .unwrap();
    let words = flat(&pdf_text(&cv_pdf(&file, ilie, false)));
    assert!(words.starts_with("Ilie Rusu"), "the name first: {words}");
    for heading in [
        "Compétences",
        "Langues",
        "Expérience professionnelle",
        "Formations",
        "Centres d'intérêt",
    ] {
        assert!(!words.contains(heading), "no empty {heading}: {words}");
    }
}

#[test]
fn the_anonymised_cv_holds_no_name_and_no_contact() {
    let (_dir, mut file) = fresh();
    let stefan = stefan_with_a_cv(&mut file);
    let pdf = cv_pdf(&file, stefan, true);
    let text = pdf_text(&pdf);
    let words = flat(&text);
    assert!(
        words.starts_with("Candidat·e"),
        "a title instead of the name: {words}"
    );
    for personal in [
        "Lăcătuș",
        "Ștefan",
        "Lacatus",
        "stefan",
        "06 12 34 56 78",
        "example.org",
    ] {
        assert!(
            !words.to_lowercase().contains(&personal.to_lowercase()),
            "the anonymised CV should not hold {personal:?}: {words}"
        );
    }
    assert!(
        words.contains("Expérience professionnelle") && words.contains("CACES R489 cat. 3"),
        "but the rest of the CV: {words}"
    );
    let info = std::process::Command::new("pdfinfo")
        .arg("-")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(&pdf)?;
            child.wait_with_output()
        });
    if let Ok(info) = info {
        let info = String::from_utf8_lossy(&info.stdout);
        assert!(
            !info.contains("Lăcătuș") && !info.contains("Ștefan"),
            "nor does its metadata: {info}"
        );
    }
}

#[test]
fn ten_jobs_and_six_trainings_fit_on_two_pages() {
    let (_dir, mut file) = fresh();
    let maria = file
        .create(
            "person",
            fields(&[
                ("family_name", json!("Țîrcă-Brâncuși")),
                ("given_names", json!("Mărioara Zoïa")),
                ("phone", json!("07 00 00 00 00")),
                (
                    "skills",
                    json!(["Cuisine collective", "Entretien des locaux", "Repassage"]),
                ),
                (
                    "certifications",
                    json!(["HACCP", "SST (sauveteur secouriste du travail)"]),
                ),
            ]),
        )
        .unwrap();
    file.create(
        "situation",
        fields(&[
            ("person_id", json!(maria.to_string())),
            ("driving_licence", json!(true)),
            ("skills", json!("Couture; garde d'enfants; tri des déchets")),
            (
                "work_experience",
                json!("Vendanges en Champagne, trois saisons\nRécolte des pommes en Roumanie"),
            ),
        ]),
    )
    .unwrap();
    for year in 2015..2025 {
        file.create(
            "employment",
            fields(&[
                ("person_id", json!(maria.to_string())),
                (
                    "employer",
                    json!(format!("Employeur numéro {year} du Nord-Pas-de-Calais")),
                ),
                ("job_title", json!("Agente d'entretien polyvalente")),
                (
                    "sector",
                    json!("Propreté et services associés aux bâtiments"),
                ),
                ("contract", json!("cdd")),
                ("start_on", json!(format!("{year}-03-01"))),
                ("end_on", json!(format!("{year}-09-30"))),
            ]),
        )
        .unwrap();
    }
    for year in 2019..2025 {
        file.create(
            "training",
            fields(&[
                ("person_id", json!(maria.to_string())),
                (
                    "title",
                    json!(format!(
                        "Formation qualifiante {year}: agent de restauration"
                    )),
                ),
                ("provider", json!("AFPA de Lille-Hellemmes")),
                ("status", json!("completed")),
                (
                    "certification",
                    json!(format!("Titre professionnel {year}")),
                ),
                ("start_on", json!(format!("{year}-01-10"))),
                ("end_on", json!(format!("{year}-06-30"))),
            ]),
        )
        .unwrap();
    }
    let cv = file.cv(maria, false).unwrap();
    assert_eq!(cv.experience.len(), 12, "10 jobs and 2 lines of experience");
    assert_eq!(cv.trainings.len(), 6);
    let pdf = documents::cv_pdf(&cv).unwrap();
    let pages = pdf_pages(&pdf);
    assert!(pages <= 2, "the CV from the file takes {pages} pages");
    let words = flat(&pdf_text(&pdf));
    for year in 2015..2025 {
        assert!(
            words.contains(&format!("Employeur numéro {year}")),
            "the job of {year}: {words}"
        );
    }
    for year in 2019..2025 {
        assert!(words.contains(&format!("Titre professionnel {year}")));
    }

    // A counsellor's CV of ten jobs and six trainings, each described on five lines:
    // too long for two pages as first laid out, so laid out again compact.
    let describe = |what: &str, n: usize| -> Vec<String> {
        (0..n)
            .map(|i| {
                format!(
                    "{} – {} · {what} {i} · Entreprise de nettoyage industriel (CDD)\n\
                     Nettoyage des bureaux et des parties communes, tri sélectif des déchets.\n\
                     Utilisation d'une autolaveuse, respect des protocoles d'hygiène.\n\
                     Encadrement de deux agents en fin de contrat, remplacement de l'équipe.\n\
                     Horaires décalés, travail en autonomie sur plusieurs sites.\n\
                     Commande des produits d'entretien et suivi des stocks.",
                    2010 + i,
                    2011 + i
                )
            })
            .collect()
    };
    let mut draft = file.cv_draft(maria).unwrap();
    draft.languages = vec!["Français : A2 (élémentaire)".into(), "Romani".into()];
    draft.experience = describe("Agente de propreté", 10);
    draft.trainings = describe("Formation", 6);
    draft.interests = vec!["Cuisine".into(), "Couture".into()];
    file.create("cv", draft.fields(maria)).unwrap();
    let cv = file.cv(maria, false).unwrap();
    assert!(cv.from_record);
    let pdf = documents::cv_pdf(&cv).unwrap();
    let pages = pdf_pages(&pdf);
    assert!(pages <= 2, "the counsellor's CV takes {pages} pages");
    let words = flat(&pdf_text(&pdf));
    assert!(
        words.contains("Agente de propreté 9") && words.contains("Formation 5"),
        "the last job and training: {words}"
    );
}

#[test]
fn a_cv_holds_none_of_the_sensitive_fields_whatever_the_file_holds() {
    let (_dir, mut file) = fresh();
    let sensitive = [
        "Moldavie-Chișinău-Natală",
        "NOTE-CONFIDENTIELLE-77",
        "1 91 04 99 123 456 78",
        "Passeport MD-998877",
        "CCAS de Lille, boîte 4411",
        "FT-5566778",
    ];
    let person = file
        .create(
            "person",
            fields(&[
                ("family_name", json!("Georgiev")),
                ("given_names", json!("Ivan")),
                ("birth_date", json!("1991-04-17")),
                ("birth_place", json!(sensitive[0])),
                ("nationality", json!("MD")),
                ("languages", json!(["bg", "romani", "tr"])),
                ("french_level", json!("a1")),
                ("skills", json!(["Cariste"])),
                ("consent_scope", json!("Suivi CONSENTEMENT-31")),
                ("notes", json!(sensitive[1])),
            ]),
        )
        .unwrap();
    file.create(
        "situation",
        fields(&[
            ("person_id", json!(person.to_string())),
            ("social_security_number", json!(sensitive[2])),
            ("id_document", json!(sensitive[3])),
            ("health_cover", json!("ame")),
            ("domiciliation", json!(sensitive[4])),
            ("france_travail_number", json!(sensitive[5])),
            ("france_travail_since", json!("2025-02-03")),
            ("bank_account", json!(true)),
            ("education_level", json!("Brevet")),
            ("work_experience", json!("Manutention en entrepôt")),
        ]),
    )
    .unwrap();
    file.create(
        "employment",
        fields(&[
            ("person_id", json!(person.to_string())),
            ("employer", json!("Logistique du Nord")),
            ("job_title", json!("Cariste")),
            ("start_on", json!("2025-03-01")),
            ("end_reason", json!("Licenciement MOTIF-DE-FIN-12")),
            ("hours_per_week", json!(35)),
        ]),
    )
    .unwrap();

    let check = |words: &str, which: &str| {
        for value in sensitive.iter().copied().chain([
            "CONSENTEMENT-31",
            "MOTIF-DE-FIN-12",
            "AME",
            "17/04/1991",
            "1991",
        ]) {
            assert!(
                !words.contains(value),
                "the {which} CV should not hold {value:?}: {words}"
            );
        }
        assert!(
            !words
                .split(' ')
                .any(|w| w == "MD" || w == "Moldavie" || w == "35"),
            "nor the nationality or hours: {words}"
        );
        assert!(
            words.contains("Manutention en entrepôt") && words.contains("Cariste"),
            "the {which} CV holds what it may: {words}"
        );
    };
    check(&flat(&pdf_text(&cv_pdf(&file, person, false))), "proposed");
    check(&flat(&pdf_text(&cv_pdf(&file, person, true))), "anonymised");
    let draft = file.cv_draft(person).unwrap();
    file.create("cv", draft.fields(person)).unwrap();
    let words = flat(&pdf_text(&cv_pdf(&file, person, false)));
    check(&words, "saved");
    assert!(
        words.contains("Bulgare"),
        "languages print once a counsellor keeps them: {words}"
    );
}
