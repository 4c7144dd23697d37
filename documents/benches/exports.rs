//! Exports of a period of 500 visits, in a case file that also holds the rest of a year:
//! ten times as many visits, a person for every two visits of the period, a step per
//! visit, a job and a training for one person in four (set `EXPORTS_BENCH_VISITS` to
//! change the period's visits).
//!
//! Measures, p50 of 7 runs each, and prints with ratios against a baseline measured in
//! the same run: serialising the records the workbook holds (the period's visits,
//! steps, jobs and trainings, and the persons they name), already in memory, to JSON
//! with `serde_json::to_vec`.
//! Each export is timed whole: the case file reads it (`casefile::export`), then this
//! crate writes it.
//! - the XLSX workbook of the period (persons followed, visits, steps, jobs, trainings,
//!   indicators);
//! - the indicators of the period (`report`);
//! - the CSV of every visit of the case file;
//! - one visit sheet PDF;
//! - one CV PDF, of a person with ten jobs and six trainings (proposed from the file);
//! - one person's bilingual copy (French and Romanian) of that visit sheet's visit;
//! - one bilingual appointment slip (French and Bulgarian) for a step of that visit.
//!
//! The CV and the bilingual papers are also given as a ratio to the visit sheet, their
//! nearest kin, measured in the same run. Aim: each under 50 ms.
//!
//! Run: `cargo bench -p documents --bench exports`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use casefile::export::CopyLang;
use casefile::sync_protocol::{FieldName, Kind, RecordId, RecordState, ReplicaId, Timestamp};
use casefile::{CaseFile, KdfParams};
use passerelle_test_support::samples::Rng;
use serde_json::{Value, json};

const RUNS: usize = 7;

const FAMILY: &[&str] = &[
    "Lăcătuș",
    "Ștefănescu",
    "Popescu",
    "Țîrcă",
    "Căldăraru",
    "Tănase",
    "Georgiev",
    "Stoica",
];
const GIVEN: &[&str] = &[
    "Ștefan",
    "Mărioara",
    "Ionuț",
    "Zoïa",
    "Florica",
    "Năstase",
    "Aurelia",
    "Ciprian",
];
const SETTINGS: &[&str] = &["home_visit", "care_centre", "office_interview", "phone"];
const CATEGORIES: &[&str] = &[
    "job_search",
    "france_travail",
    "documents",
    "health",
    "training",
];
const CONTRACTS: &[&str] = &["cdi", "cdd", "interim", "iae", "seasonal"];

fn id() -> RecordId {
    uuid::Uuid::now_v7().to_string().parse().unwrap()
}

fn state(kind: &str, replica: ReplicaId, pairs: Vec<(&str, Value)>) -> RecordState {
    let at: Timestamp = "2026-11-02T10:14:00Z".parse().unwrap();
    RecordState::create(
        id(),
        kind.parse::<Kind>().unwrap(),
        replica,
        at,
        pairs
            .into_iter()
            .map(|(k, v)| (k.parse::<FieldName>().unwrap(), v)),
    )
    .unwrap()
}

/// A year (2026) of records: `visits` of them in November, nine times as many in the
/// other months; a person for every two visits of November; a step per visit, a job and
/// a training for one person in four.
fn generate(visits: usize) -> (Vec<RecordState>, RecordId) {
    let replica: ReplicaId = "00000000-0000-7000-8000-00000000beef".parse().unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut out = Vec::new();
    let sites: Vec<RecordState> = (0..40)
        .map(|i| {
            state(
                "site",
                replica,
                vec![
                    ("name", json!(format!("Terrain {i}"))),
                    ("commune", json!("Lille")),
                ],
            )
        })
        .collect();
    let persons: Vec<RecordState> = (0..visits / 2)
        .map(|i| {
            state(
                "person",
                replica,
                vec![
                    ("family_name", json!(rng.pick(FAMILY))),
                    ("given_names", json!(rng.pick(GIVEN))),
                    ("birth_date", json!(format!("{}", 1960 + i % 45))),
                    ("site_id", json!(sites[i % sites.len()].id().to_string())),
                ],
            )
        })
        .collect();
    let mut first_visit = None;
    for i in 0..visits * 10 {
        let in_november = i % 10 == 0;
        // November for one visit in ten; February to October for the others.
        let month = if in_november { 11 } else { 1 + (i % 10) as u32 };
        let day = 1 + rng.below(28);
        let who = &persons[rng.below(persons.len())];
        let visit = state(
            "visit",
            replica,
            vec![
                (
                    "occurred_at",
                    json!(format!(
                        "2026-{month:02}-{day:02}T{:02}:15:00+01:00",
                        8 + rng.below(10)
                    )),
                ),
                ("setting", json!(rng.pick(SETTINGS))),
                ("site_id", json!(who.value("site_id").unwrap())),
                ("person_ids", json!([who.id().to_string()])),
                ("counsellors", json!(["Hélène Dupré"])),
                (
                    "purpose",
                    json!("Point sur la recherche d'emploi et les démarches en cours"),
                ),
                (
                    "observations",
                    json!(
                        "Très motivé·e ; a déjà travaillé en maçonnerie et dans les espaces verts. Le terrain doit être évacué d'ici la fin du mois."
                    ),
                ),
                (
                    "decisions",
                    json!("Inscription à France Travail ; envoyer le CV à deux agences d'intérim."),
                ),
                (
                    "next_visit_on",
                    json!(format!("2026-{month:02}-{:02}", day.min(27) + 1)),
                ),
                ("duration_minutes", json!(30 + rng.below(60))),
            ],
        );
        if in_november && first_visit.is_none() {
            first_visit = Some(visit.id());
        }
        out.push(state(
            "step",
            replica,
            vec![
                ("person_id", json!(who.id().to_string())),
                ("visit_id", json!(visit.id().to_string())),
                ("category", json!(rng.pick(CATEGORIES))),
                ("title", json!("Déposer le dossier")),
                ("status", json!("done")),
                ("due_on", json!(format!("2026-{month:02}-{day:02}"))),
                ("done_on", json!(format!("2026-{month:02}-{day:02}"))),
            ],
        ));
        out.push(visit);
    }
    for (i, p) in persons.iter().enumerate().filter(|(i, _)| i % 4 == 0) {
        let month = 1 + (i / 4) % 12;
        out.push(state(
            "employment",
            replica,
            vec![
                ("person_id", json!(p.id().to_string())),
                ("employer", json!("Bâtiments du Nord")),
                ("contract", json!(rng.pick(CONTRACTS))),
                ("start_on", json!(format!("2026-{month:02}-10"))),
            ],
        ));
        out.push(state(
            "training",
            replica,
            vec![
                ("person_id", json!(p.id().to_string())),
                ("title", json!("Français langue étrangère")),
                ("status", json!("enrolled")),
                ("start_on", json!(format!("2026-{month:02}-03"))),
            ],
        ));
    }
    let mut all = sites;
    all.extend(persons);
    all.extend(out);
    (all, first_visit.unwrap())
}

/// Ten jobs and six trainings for `person`, created in `file` as a counsellor would.
fn add_career(file: &mut CaseFile, person: RecordId) {
    let fields = |pairs: Vec<(&str, Value)>| -> Vec<(String, Value)> {
        pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    };
    for year in 2014..2024 {
        file.create(
            "employment",
            fields(vec![
                ("person_id", json!(person.to_string())),
                (
                    "employer",
                    json!(format!("Entreprise de propreté Ștefănescu {year}")),
                ),
                ("job_title", json!("Agent·e d'entretien polyvalent·e")),
                ("sector", json!("Propreté et services associés")),
                ("contract", json!("cdd")),
                ("start_on", json!(format!("{year}-03-01"))),
                ("end_on", json!(format!("{year}-09-30"))),
            ]),
        )
        .unwrap();
    }
    for year in 2018..2024 {
        file.create(
            "training",
            fields(vec![
                ("person_id", json!(person.to_string())),
                ("title", json!("Agent de restauration collective")),
                ("provider", json!("AFPA de Lille")),
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
}

fn p50(mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[RUNS / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let visits: usize = std::env::var("EXPORTS_BENCH_VISITS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let dir = tempfile::tempdir().unwrap();
    let mut file = CaseFile::init_with(
        dir.path().join("bench.db"),
        "bench passphrase",
        KdfParams::INSECURE_FOR_TESTS,
    )
    .unwrap();
    let (states, visit) = generate(visits);
    for (n, page) in states.chunks(1000).enumerate() {
        file.apply_pulled(page, n as u64 + 1).unwrap();
    }
    let period = file.period("2026-11-01", "2026-11-30").unwrap();
    let indicators = file.indicators(&period).unwrap();
    let in_period: u64 = indicators.visits_by_setting.values().sum();
    println!(
        "case file: {} states; the period (November 2026) holds {in_period} visits and {} persons followed",
        states.len(),
        indicators.people_followed
    );

    // Baseline: the records the workbook holds, already in memory, written as JSON.
    let november = |s: &RecordState, field: &str| {
        s.value(field)
            .and_then(Value::as_str)
            .is_some_and(|t| t.starts_with("2026-11"))
    };
    let dated: Vec<&RecordState> = states
        .iter()
        .filter(|s| match s.kind().as_str() {
            "visit" => november(s, "occurred_at"),
            "step" => november(s, "due_on") || november(s, "done_on"),
            "employment" | "training" => november(s, "start_on") || november(s, "end_on"),
            _ => false,
        })
        .collect();
    let followed: std::collections::HashSet<String> = dated
        .iter()
        .flat_map(|s| {
            let mut ids = Vec::new();
            if let Some(Value::String(p)) = s.value("person_id") {
                ids.push(p.clone());
            }
            if let Some(Value::Array(ps)) = s.value("person_ids") {
                ids.extend(ps.iter().filter_map(|p| p.as_str().map(str::to_owned)));
            }
            ids
        })
        .collect();
    let same: Vec<&RecordState> = states
        .iter()
        .filter(|s| followed.contains(&s.id().to_string()))
        .chain(dated.iter().copied())
        .collect();
    let mut json_bytes = 0;
    let baseline = p50(|| json_bytes = serde_json::to_vec(&same).unwrap().len());
    let mut xlsx_bytes = 0;
    let xlsx = p50(|| {
        xlsx_bytes = documents::xlsx(&file.workbook(&period).unwrap())
            .unwrap()
            .len()
    });
    let report = p50(|| {
        file.indicators(&period).unwrap();
    });
    let mut csv_bytes = 0;
    let csv = p50(|| {
        let mut out = Vec::new();
        documents::csv(&file.table("visit").unwrap(), &mut out).unwrap();
        csv_bytes = out.len();
    });
    let mut pdf_bytes = 0;
    let pdf = p50(|| {
        pdf_bytes = documents::visit_sheet_pdf(&file.visit_sheet(visit).unwrap())
            .unwrap()
            .len()
    });

    // The person met at that visit gets ten jobs and six trainings for their CV.
    let person: RecordId = file.get(visit).unwrap().value("person_ids").unwrap()[0]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    add_career(&mut file, person);
    let step = file
        .list("step")
        .unwrap()
        .into_iter()
        .find(|s| s.value("visit_id") == Some(&json!(visit.to_string())))
        .unwrap()
        .id();
    let mut cv_bytes = 0;
    let mut cv_jobs = 0;
    let cv = p50(|| {
        let read = file.cv(person, false).unwrap();
        cv_jobs = read.experience.len();
        cv_bytes = documents::cv_pdf(&read).unwrap().len()
    });
    // The same person's CV as a counsellor wrote it, every item described on five
    // lines: it does not fit two pages as first laid out, so it is laid out again tighter.
    let mut draft = file.cv_draft(person).unwrap();
    let described = |what: &str, n: usize| -> Vec<String> {
        (0..n)
            .map(|i| {
                format!(
                    "{} – {} · {what} · Entreprise de nettoyage industriel (CDD)\n\
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
    draft.experience = described("Agent·e de propreté", 10);
    draft.trainings = described("Formation qualifiante", 6);
    file.create("cv", draft.fields(person)).unwrap();
    let mut written_bytes = 0;
    let written = p50(|| {
        let read = file.cv(person, false).unwrap();
        assert!(read.from_record);
        written_bytes = documents::cv_pdf(&read).unwrap().len()
    });
    let mut copy_bytes = 0;
    let copy = p50(|| {
        let read = file.visit_copy(visit, person, Some(CopyLang::Ro)).unwrap();
        copy_bytes = documents::visit_copy_pdf(&read).unwrap().len()
    });
    let mut slip_bytes = 0;
    let slip = p50(|| {
        let read = file.step_slip(step, Some(CopyLang::Bg)).unwrap();
        slip_bytes = documents::step_slip_pdf(&read).unwrap().len()
    });

    let ratio = |d: Duration| d.as_secs_f64() / baseline.as_secs_f64();
    let to_sheet = |d: Duration| d.as_secs_f64() / pdf.as_secs_f64();
    println!(
        "baseline: the workbook's {} records, in memory, to JSON: {} ({json_bytes} bytes)",
        same.len(),
        ms(baseline)
    );
    println!("| what | p50 of {RUNS} | ratio to baseline | size |");
    println!("|---|---|---|---|");
    println!(
        "| XLSX of the period ({in_period} visits) | {} | {:.2}x | {xlsx_bytes} bytes |",
        ms(xlsx),
        ratio(xlsx)
    );
    println!(
        "| indicators of the period (`report`) | {} | {:.2}x | |",
        ms(report),
        ratio(report)
    );
    println!(
        "| CSV of every visit ({} visits) | {} | {:.2}x | {csv_bytes} bytes |",
        visits * 10,
        ms(csv),
        ratio(csv)
    );
    println!(
        "| one visit sheet PDF | {} | {:.2}x | {pdf_bytes} bytes |",
        ms(pdf),
        ratio(pdf)
    );
    println!(
        "| one CV PDF ({cv_jobs} jobs, 6 trainings) | {} | {:.2}x (visit sheet: {:.2}x) | {cv_bytes} bytes |",
        ms(cv),
        ratio(cv),
        to_sheet(cv)
    );
    println!(
        "| one CV PDF from a CV record (10 jobs, 6 trainings, 6 lines each: laid out again, tighter) | {} | {:.2}x (visit sheet: {:.2}x) | {written_bytes} bytes |",
        ms(written),
        ratio(written),
        to_sheet(written)
    );
    println!(
        "| one bilingual visit copy PDF (fr, ro) | {} | {:.2}x (visit sheet: {:.2}x) | {copy_bytes} bytes |",
        ms(copy),
        ratio(copy),
        to_sheet(copy)
    );
    println!(
        "| one bilingual appointment slip PDF (fr, bg) | {} | {:.2}x (visit sheet: {:.2}x) | {slip_bytes} bytes |",
        ms(slip),
        ratio(slip),
        to_sheet(slip)
    );
    for (what, took) in [
        ("CV", cv),
        ("CV from a record", written),
        ("visit copy", copy),
        ("slip", slip),
    ] {
        assert!(
            took < Duration::from_millis(50),
            "the {what} must take under 50 ms"
        );
    }
    assert!(
        xlsx < Duration::from_secs(2),
        "the period's workbook must take under 2 s"
    );
}
