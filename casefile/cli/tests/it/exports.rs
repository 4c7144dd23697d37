//! `export` and `report`: each writes what the library reads and `documents` renders, to
//! the file it is given, whole or not at all.

use calamine::{Reader, Xlsx};
use casefile::CaseFile;
use casefile::sync_protocol::RecordId;
use serde_json::{Value, json};

use crate::common::{PASS, cli, db_path, fields, fresh, ok, pdf_words, person};

const OBSERVATIONS: &str = "Ștefan a travaillé en maçonnerie ; très motivé.";

/// A site, a person with diacritics, a visit that met them with its step, and a job.
fn sample(file: &mut CaseFile) -> (RecordId, RecordId) {
    file.set_org_name("Association Îlot Fraternité").unwrap();
    let site = file
        .create(
            "site",
            fields(&[
                ("name", json!("Terrain de la Deûle")),
                ("type", json!("bidonville")),
            ]),
        )
        .unwrap();
    let stefan = person(file, "Lăcătuș", "Ștefan");
    let visit = file
        .create(
            "visit",
            fields(&[
                ("occurred_at", json!("2026-11-02T10:14:00+01:00")),
                ("setting", json!("home_visit")),
                ("site_id", json!(site.to_string())),
                ("person_ids", json!([stefan.to_string()])),
                ("observations", json!(OBSERVATIONS)),
            ]),
        )
        .unwrap();
    file.create(
        "step",
        fields(&[
            ("person_id", json!(stefan.to_string())),
            ("visit_id", json!(visit.to_string())),
            ("category", json!("france_travail")),
            ("title", json!("Inscription à France Travail")),
            ("due_on", json!("2026-11-09")),
        ]),
    )
    .unwrap();
    file.create(
        "employment",
        fields(&[
            ("person_id", json!(stefan.to_string())),
            ("employer", json!("Bâtiments du Nord")),
            ("contract", json!("cdd")),
            ("start_on", json!("2026-11-10")),
        ]),
    )
    .unwrap();
    (visit, stefan)
}

#[test]
fn the_cli_writes_the_exports_and_prints_the_report() {
    let (dir, mut file) = fresh();
    let (visit, stefan) = sample(&mut file);
    let rusu = person(&mut file, "Rusu", "Ilie");
    let period = file.period("2026-11-01", "2026-11-30").unwrap();
    let indicators = serde_json::to_value(file.indicators(&period).unwrap()).unwrap();
    let access = file.access(stefan).unwrap();
    drop(file);
    let path = db_path(&dir);
    let ok = |args: &[&str]| ok(&path, PASS, args);
    let file_at = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();

    let report: Value = serde_json::from_str(&ok(&[
        "report",
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-30",
    ]))
    .unwrap();
    for key in [
        "people_followed",
        "new_people",
        "visits_by_setting",
        "steps_done",
        "jobs_by_contract",
        "trainings_started",
        "people_housed",
    ] {
        assert!(report.get(key).is_some(), "the report has {key}: {report}");
    }
    assert_eq!(
        report, indicators,
        "the report prints the library's indicators"
    );
    assert_eq!(report["people_followed"], json!(1), "Ștefan: {report}");
    assert_eq!(report["visits_by_setting"]["home_visit"], json!(1));
    assert_eq!(report["jobs_by_contract"]["cdd"], json!(1));

    assert_eq!(
        ok(&[
            "export",
            "visit-sheet",
            &visit.to_string(),
            "--out",
            &file_at("v.pdf")
        ]),
        "",
        "an export prints nothing"
    );
    let words = pdf_words(&std::fs::read(file_at("v.pdf")).unwrap());
    for expected in [
        "Fiche de visite",
        "Lăcătuș Ștefan",
        "Terrain de la Deûle",
        "Inscription à France Travail",
        "09/11/2026",
    ] {
        assert!(
            words.contains(expected),
            "the visit sheet should hold {expected:?}: {words}"
        );
    }
    ok(&["export", "csv", "visit", "--out", &file_at("v.csv")]);
    let csv = std::fs::read(file_at("v.csv")).unwrap();
    assert!(
        csv.starts_with(b"\xEF\xBB\xBFid;occurred_at;"),
        "a BOM, then the header"
    );
    assert!(
        String::from_utf8_lossy(&csv).contains(&visit.to_string()),
        "the visit's row"
    );
    ok(&[
        "export",
        "csv",
        "visit",
        "--labels",
        "fr",
        "--out",
        &file_at("v-fr.csv"),
    ]);
    let csv = String::from_utf8(std::fs::read(file_at("v-fr.csv")).unwrap()).unwrap();
    let mut lines = csv.trim_start_matches('\u{feff}').split("\r\n");
    let header = lines.next().unwrap();
    assert!(
        header.starts_with("Date et heure;Cadre;Lieu de vie;"),
        "French headers, no id first: {header}"
    );
    assert!(
        header.ends_with(
            ";Identifiant;Lieu de vie (identifiant);Personnes rencontrées (identifiant)"
        ),
        "the ids last: {header}"
    );
    let row = lines.next().unwrap();
    assert!(
        row.starts_with("02/11/2026 10:14;Visite sur le lieu de vie;Terrain de la Deûle;"),
        "a French date and time, labels and names: {row}"
    );
    ok(&[
        "export",
        "xlsx",
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-30",
        "--out",
        &file_at("p.xlsx"),
    ]);
    let book = Xlsx::new(std::fs::File::open(file_at("p.xlsx")).unwrap()).unwrap();
    assert_eq!(
        book.sheet_names(),
        [
            "Personnes",
            "Visites",
            "Démarches",
            "Emplois",
            "Formations",
            "Indicateurs"
        ],
        "the workbook's sheets"
    );
    ok(&[
        "export",
        "person",
        &rusu.to_string(),
        "--out",
        &file_at("p.pdf"),
    ]);
    assert!(
        pdf_words(&std::fs::read(file_at("p.pdf")).unwrap()).contains("Rusu Ilie"),
        "the person's sheet names them"
    );

    ok(&[
        "export",
        "access",
        &stefan.to_string(),
        "--out-dir",
        &file_at("access"),
    ]);
    let written: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join(format!("access/access-{stefan}.json"))).unwrap(),
    )
    .unwrap();
    let read: Value = serde_json::from_str(&access.json).unwrap();
    assert_eq!(
        written["records"], read["records"],
        "the JSON holds the records the library reads"
    );
    assert_eq!(written["records"][0]["id"], json!(stefan.to_string()));
    let words =
        pdf_words(&std::fs::read(dir.path().join(format!("access/access-{stefan}.pdf"))).unwrap());
    assert!(
        words.contains(OBSERVATIONS) && words.contains("Données détenues sur Lăcătuș Ștefan"),
        "the access PDF: {words}"
    );

    let out = cli(
        &path,
        PASS,
        &["report", "--from", "2026-11-31", "--to", "2026-12-01"],
    );
    assert!(
        !out.status.success(),
        "a date that does not exist is refused"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("from"),
        "naming the argument"
    );
    let out = cli(
        &path,
        PASS,
        &["export", "csv", "nobody", "--out", &file_at("x.csv")],
    );
    assert!(!out.status.success(), "an unknown kind is refused");
    assert!(!dir.path().join("x.csv").exists(), "and nothing is written");
    let out = cli(
        &path,
        PASS,
        &[
            "export",
            "csv",
            "visit",
            "--labels",
            "ro",
            "--out",
            &file_at("x.csv"),
        ],
    );
    assert!(!out.status.success(), "labels only in French");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("fr"),
        "naming what is possible: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!dir.path().join("x.csv").exists(), "and nothing is written");
}

#[test]
fn the_command_line_writes_a_notice() {
    let (dir, mut file) = fresh();
    file.set_organisation(fields(&[("name", json!("Association Îlot Fraternité"))]))
        .unwrap();
    drop(file);
    let path = db_path(&dir);
    let out_file = dir.path().join("notice-bg.pdf");
    let out = cli(
        &path,
        PASS,
        &[
            "export",
            "notice",
            "--lang",
            "bg",
            "--out",
            out_file.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let words = pdf_words(&std::fs::read(&out_file).unwrap());
    assert!(
        words.contains("Вашите лични данни") && words.contains("Association Îlot Fraternité"),
        "the Bulgarian notice, filled from the settings: {words}"
    );
    let bad = cli(
        &path,
        PASS,
        &["export", "notice", "--lang", "de", "--out", "x.pdf"],
    );
    assert!(
        !bad.status.success(),
        "a language without a notice is refused"
    );
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("fr"),
        "saying which languages there are"
    );
}

#[test]
fn the_cli_writes_the_cv_and_the_bilingual_papers_and_refuses_bad_input() {
    let (dir, mut file) = fresh();
    let (visit, stefan) = sample(&mut file);
    file.edit(
        stefan,
        fields(&[
            ("languages", json!(["romani", "ro"])),
            ("phone", json!("06 12 34 56 78")),
        ]),
    )
    .unwrap();
    let rusu = person(&mut file, "Rusu", "Ilie");
    let step = file.list("step").unwrap().first().map(|s| s.id()).unwrap();
    drop(file);
    let path = db_path(&dir);
    let ok = |args: &[&str]| ok(&path, PASS, args);
    let file_at = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let words_of = |name: &str| pdf_words(&std::fs::read(file_at(name)).unwrap());
    let (visit, stefan, rusu, step) = (
        visit.to_string(),
        stefan.to_string(),
        rusu.to_string(),
        step.to_string(),
    );

    assert_eq!(
        ok(&["export", "cv", &stefan, "--out", &file_at("cv.pdf")]),
        "",
        "an export prints nothing"
    );
    let words = words_of("cv.pdf");
    for expected in [
        "Ștefan Lăcătuș",
        "06 12 34 56 78",
        "Expérience professionnelle",
        "Bâtiments du Nord",
    ] {
        assert!(
            words.contains(expected),
            "the CV holds {expected:?}: {words}"
        );
    }
    ok(&[
        "export",
        "cv",
        &stefan,
        "--anonymised",
        "--out",
        &file_at("cv-anonyme.pdf"),
    ]);
    let words = words_of("cv-anonyme.pdf");
    assert!(
        words.contains("Candidat·e") && !words.contains("Lăcătuș") && !words.contains("06 12"),
        "the anonymised CV has no name nor contact: {words}"
    );

    ok(&[
        "export",
        "visit-copy",
        &visit,
        "--person",
        &stefan,
        "--lang",
        "bg",
        "--out",
        &file_at("copie-bg.pdf"),
    ]);
    let words = words_of("copie-bg.pdf");
    for expected in [
        "Compte rendu de la visite",
        "Резюме на срещата",
        "Lăcătuș Ștefan",
        "Inscription à France Travail",
        "09/11/2026",
        "09.11.2026",
    ] {
        assert!(
            words.contains(expected),
            "the copy holds {expected:?}: {words}"
        );
    }
    ok(&[
        "export",
        "visit-copy",
        &visit,
        "--person",
        &stefan,
        "--out",
        &file_at("copie.pdf"),
    ]);
    assert!(
        words_of("copie.pdf").contains("Rezumatul întâlnirii"),
        "without --lang, Romanian from Ștefan's languages"
    );
    ok(&["export", "step-slip", &step, "--out", &file_at("rdv.pdf")]);
    let words = words_of("rdv.pdf");
    assert!(
        words.contains("Rendez-vous")
            && words.contains("Programare")
            && words.contains("09.11.2026"),
        "the slip in French and Romanian: {words}"
    );

    // Refused, with one sentence and nothing written.
    let refused = |args: &[&str], out: &str, says: &str| {
        let run = cli(&path, PASS, args);
        assert!(!run.status.success(), "{args:?} should be refused");
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(
            stderr.contains(says),
            "{args:?}: the error should say {says:?}: {stderr}"
        );
        // Clap's usage errors add the possible values on lines of their own.
        if !stderr.contains("possible values") {
            assert_eq!(
                stderr.trim().lines().count(),
                1,
                "{args:?}: one line of error: {stderr}"
            );
        }
        assert!(
            !dir.path().join(out).exists() && !dir.path().join(format!("{out}.partial")).exists(),
            "{args:?}: nothing written"
        );
    };
    refused(
        &["export", "cv", &visit, "--out", &file_at("x1.pdf")],
        "x1.pdf",
        "the CV was not written",
    );
    refused(
        &["export", "cv", "not-an-id", "--out", &file_at("x2.pdf")],
        "x2.pdf",
        "not a record id",
    );
    refused(
        &[
            "export",
            "visit-copy",
            &visit,
            "--person",
            &rusu,
            "--lang",
            "ro",
            "--out",
            &file_at("x3.pdf"),
        ],
        "x3.pdf",
        "person_id",
    );
    refused(
        &[
            "export",
            "visit-copy",
            &visit,
            "--person",
            &stefan,
            "--lang",
            "de",
            "--out",
            &file_at("x4.pdf"),
        ],
        "x4.pdf",
        "ro",
    );
    refused(
        &[
            "export",
            "cv",
            &rusu,
            "--out",
            dir.path().join("missing/x5.pdf").to_str().unwrap(),
        ],
        "missing/x5.pdf",
        "could not write",
    );
    refused(
        &["export", "step-slip", &visit, "--out", &file_at("x6.pdf")],
        "x6.pdf",
        "step_id",
    );
}

#[test]
fn a_copy_without_lang_for_a_person_who_speaks_neither_language_is_refused() {
    let (dir, mut file) = fresh();
    let (visit, stefan) = sample(&mut file);
    drop(file);
    let path = db_path(&dir);
    let out_file = dir.path().join("copie.pdf");
    let run = cli(
        &path,
        PASS,
        &[
            "export",
            "visit-copy",
            &visit.to_string(),
            "--person",
            &stefan.to_string(),
            "--out",
            out_file.to_str().unwrap(),
        ],
    );
    assert!(!run.status.success(), "Ștefan's languages name neither");
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("lang"),
        "the error names --lang: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(!out_file.exists(), "nothing written");
}
