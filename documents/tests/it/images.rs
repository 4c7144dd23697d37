//! The page images of the README: `docs/cv.png` (a CV) and `docs/visit-copy.png` (a
//! person's copy of a visit, French beside Romanian), the first page of each at 60 dpi
//! through poppler's `pdftoppm`. Ignored in test runs; to make them again:
//! `cargo nextest run -p documents --run-ignored only page_images`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;

use crate::common::{fields, fresh};

fn docs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs")
}

/// Writes the first page of `pdf` to `docs/{name}.png`.
fn page_image(pdf: &[u8], name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("paper.pdf");
    std::fs::write(&path, pdf).unwrap();
    let status = Command::new("pdftoppm")
        .args(["-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile"])
        .arg(&path)
        .arg(docs().join(name))
        .status()
        .expect("pdftoppm (Debian package poppler-utils) must be installed");
    assert!(status.success(), "pdftoppm made docs/{name}.png");
}

#[test]
#[ignore = "writes docs/cv.png and docs/visit-copy.png: run it to make them again"]
fn page_images() {
    let (_dir, mut file) = fresh();
    file.set_organisation(fields(&[
        ("name", json!("Association Îlot Fraternité")),
        ("address", json!("12 rue de l'Église, 59260 Hellemmes")),
        ("contact", json!("03 20 00 00 00 — accueil@ilot.example")),
    ]))
    .unwrap();
    let stefan = file
        .create(
            "person",
            fields(&[
                ("family_name", json!("Lăcătuș")),
                ("given_names", json!("Ștefan")),
                ("phone", json!("06 12 34 56 78")),
                ("email", json!("stefan.lacatus@example.org")),
                ("languages", json!(["ro", "romani"])),
                ("french_level", json!("a2")),
            ]),
        )
        .unwrap();
    file.create(
        "cv",
        fields(&[
            ("person_id", json!(stefan.to_string())),
            ("headline", json!("Maçon — disponible immédiatement")),
            ("contact", json!("06 12 34 56 78\nstefan.lacatus@example.org")),
            (
                "languages",
                json!([
                    "Français : A2 (élémentaire)",
                    "Roumain : langue maternelle",
                    "Romani : courant"
                ]),
            ),
            (
                "skills",
                json!([
                    "Maçonnerie, enduits de façade, chapes",
                    "Pose de carrelage et de plaques de plâtre",
                    "Lecture de plans simples"
                ]),
            ),
            ("certifications", json!(["Permis B", "CACES R489 cat. 3"])),
            (
                "experience",
                json!([
                    "2023 – 2024 · Maçon · Bâtiments du Nord (CDD)\nSecteur : bâtiment\nRénovation de façades d'immeubles, enduits et ravalements",
                    "2022 · Manœuvre · Intérim Plus (intérim)\nChantiers de gros œuvre à Lille et Roubaix",
                    "2019 – 2021 · Ouvrier agricole · Exploitation Șerban, Brăila (saisonnier)\nRécolte, entretien des serres, conduite de tracteur"
                ]),
            ),
            (
                "trainings",
                json!([
                    "2024 · Cariste · AFPA Lille\nCertification : CACES R489 cat. 3",
                    "2023 · Français langue étrangère · Îlot Fraternité (en cours)"
                ]),
            ),
            ("interests", json!(["Football", "Mécanique automobile"])),
        ]),
    )
    .unwrap();
    let site = file
        .create(
            "site",
            fields(&[
                ("name", json!("Terrain de la Deûle")),
                ("commune", json!("Hellemmes")),
            ]),
        )
        .unwrap();
    let visit = file
        .create(
            "visit",
            fields(&[
                ("occurred_at", json!("2026-11-02T10:14:00+01:00")),
                ("setting", json!("home_visit")),
                ("site_id", json!(site.to_string())),
                ("person_ids", json!([stefan.to_string()])),
                ("counsellors", json!(["Hélène Dupré"])),
                (
                    "decisions",
                    json!("S'inscrire à France Travail avec l'aide de l'Îlot ; envoyer le CV à deux agences d'intérim."),
                ),
                ("next_visit_on", json!("2026-11-16")),
            ]),
        )
        .unwrap();
    for (category, title, due) in [
        (
            "france_travail",
            "Inscription à France Travail",
            "2026-11-09",
        ),
        (
            "job_application",
            "Envoyer le CV à Intérim Plus et à Adecco",
            "2026-11-12",
        ),
        (
            "documents",
            "Renouveler l'attestation de domiciliation",
            "2026-11-20",
        ),
    ] {
        file.create(
            "step",
            fields(&[
                ("person_id", json!(stefan.to_string())),
                ("visit_id", json!(visit.to_string())),
                ("category", json!(category)),
                ("title", json!(title)),
                ("due_on", json!(due)),
            ]),
        )
        .unwrap();
    }
    page_image(
        &documents::cv_pdf(&file.cv(stefan, false).unwrap()).unwrap(),
        "cv",
    );
    page_image(
        &documents::visit_copy_pdf(&file.visit_copy(visit, stefan, None).unwrap()).unwrap(),
        "visit-copy",
    );
}
