//! Exports read from a case file, written, and read back: the PDFs through `pdftotext`
//! (poppler-utils), the workbook through calamine, the CSV through the csv crate; and the
//! indicators the workbook and the report hold.

use calamine::{Data, Reader, Xlsx};
use casefile::CaseFile;
use casefile::sync_protocol::RecordId;
use serde_json::{Value, json};

use crate::common::{fields, flat, foreign, fresh, pdf_text};

/// Every letter of French and Romanian the sheets must print.
const DIACRITICS: &str = "ăâîșțéèêçïĂÂÎȘȚÉ";

/// The visit sheet of `visit`, as the case file reads it and this crate writes it.
fn visit_sheet_pdf(file: &CaseFile, visit: RecordId) -> Vec<u8> {
    documents::visit_sheet_pdf(&file.visit_sheet(visit).unwrap()).unwrap()
}

struct Sample {
    visit: RecordId,
    stefan: RecordId,
    maria: RecordId,
}

/// A site, a household, two persons with every diacritic, a visit with its steps.
fn sample(file: &mut CaseFile) -> Sample {
    file.set_org_name("Association Îlot Fraternité").unwrap();
    let site = file
        .create(
            "site",
            fields(&[
                ("name", json!("Terrain de la Deûle")),
                ("type", json!("bidonville")),
                ("commune", json!("Hellemmes")),
            ]),
        )
        .unwrap();
    let household = file
        .create(
            "household",
            fields(&[
                ("name", json!("Ménage Lăcătuș")),
                ("site_id", json!(site.to_string())),
            ]),
        )
        .unwrap();
    let stefan = file
        .create(
            "person",
            fields(&[
                ("family_name", json!("Lăcătuș")),
                ("given_names", json!("Ștefan")),
                ("aliases", json!(["Stefan", "Ştefan"])),
                ("birth_date", json!("1991-04")),
                ("household_id", json!(household.to_string())),
                ("site_id", json!(site.to_string())),
            ]),
        )
        .unwrap();
    let maria = file
        .create(
            "person",
            fields(&[
                ("family_name", json!("Țîrcă-Brâncuși")),
                ("given_names", json!("Mărioara Zoïa")),
                ("birth_date", json!("1987")),
                ("household_id", json!(household.to_string())),
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
                ("person_ids", json!([stefan.to_string(), maria.to_string()])),
                ("counsellors", json!(["Hélène Dupré", "Ionuț"])),
                ("purpose", json!("Préparer l'inscription à France Travail")),
                (
                    "observations",
                    json!("Ștefan a travaillé en maçonnerie ; très motivé. Garçon né à Brăila, façade, Noël, être."),
                ),
                ("decisions", json!("Rendez-vous pris à l'agence; CV à préparer.")),
                ("next_visit_on", json!("2026-11-16")),
                ("interpreter", json!(true)),
                ("duration_minutes", json!(45)),
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
        "step",
        fields(&[
            ("person_id", json!(maria.to_string())),
            ("visit_id", json!(visit.to_string())),
            ("category", json!("language")),
            ("title", json!("Cours de français à l'Îlot")),
            ("due_on", json!("2026-11-20")),
        ]),
    )
    .unwrap();
    Sample {
        visit,
        stefan,
        maria,
    }
}

#[test]
fn the_visit_sheet_prints_the_visit_with_every_diacritic_as_extractable_text() {
    let (_dir, mut file) = fresh();
    let s = sample(&mut file);
    let pdf = visit_sheet_pdf(&file, s.visit);
    assert!(pdf.starts_with(b"%PDF-"), "a PDF document");
    assert!(
        crate::common::contains(&pdf, b"/FontFile2"),
        "the TrueType font is embedded"
    );
    let text = pdf_text(&pdf);
    let words = flat(&text);
    for expected in [
        "Association Îlot Fraternité",
        "Fiche de visite",
        "lundi 02/11/2026 à 10 h 14",
        "Visite sur le lieu de vie",
        "Terrain de la Deûle (Hellemmes)",
        "Hélène Dupré, Ionuț",
        "Lăcătuș Ștefan",
        "Țîrcă-Brâncuși Mărioara Zoïa",
        "1991",
        "1987",
        "Ménage Lăcătuș",
        "Préparer l'inscription à France Travail",
        "maçonnerie",
        "Brăila",
        "Noël",
        "Rendez-vous pris à l'agence; CV à préparer.",
        "Inscription à France Travail",
        "09/11/2026",
        "Cours de français à l'Îlot",
        "20/11/2026",
        "16/11/2026",
        "Signature du ou de la conseiller·e",
        "Signature de la personne accompagnée",
    ] {
        assert!(
            words.contains(expected),
            "the sheet should hold {expected:?}; it holds:\n{text}"
        );
    }
    let pdf = {
        // Every diacritic, in a visit of its own.
        let v = file
            .create(
                "visit",
                fields(&[
                    ("occurred_at", json!("2026-11-03T09:00:00Z")),
                    ("setting", json!("office_interview")),
                    ("purpose", json!(DIACRITICS)),
                ]),
            )
            .unwrap();
        visit_sheet_pdf(&file, v)
    };
    let text = pdf_text(&pdf);
    for c in DIACRITICS.chars() {
        assert!(
            text.contains(c),
            "{c:?} should be printed and extractable: {text}"
        );
    }
}

#[test]
fn a_visit_sheet_asks_for_a_visit() {
    let (_dir, mut file) = fresh();
    let s = sample(&mut file);
    assert!(
        matches!(
            file.visit_sheet(s.stefan),
            Err(casefile::Error::Invalid { .. })
        ),
        "a person is not a visit"
    );
    assert_eq!(file.org_name().unwrap(), "Association Îlot Fraternité");
    let (_dir, other) = fresh();
    assert_eq!(other.org_name().unwrap(), "Passerelle", "the default name");
}

#[test]
fn the_person_sheet_holds_their_file() {
    let (_dir, mut file) = fresh();
    let s = sample(&mut file);
    file.create(
        "employment",
        fields(&[
            ("person_id", json!(s.stefan.to_string())),
            ("employer", json!("Bâtiments du Nord")),
            ("contract", json!("cdd")),
            ("start_on", json!("2026-11-10")),
        ]),
    )
    .unwrap();
    let sheet = file.person_sheet(s.stefan).unwrap();
    let words = flat(&pdf_text(&documents::person_sheet_pdf(&sheet).unwrap()));
    for expected in [
        "Lăcătuș Ștefan",
        "Stefan, Ştefan",
        "04/1991",
        "Ménage Lăcătuș",
        "Terrain de la Deûle",
        "Inscription à France Travail",
        "Bâtiments du Nord",
        "CDD",
        "Préparer l'inscription à France Travail",
    ] {
        assert!(
            words.contains(expected),
            "the person sheet should hold {expected:?}: {words}"
        );
    }
    assert!(
        !words.contains("Cours de français"),
        "another person's step is not on the sheet"
    );
}

#[test]
fn csv_has_a_bom_semicolons_crlf_the_schema_columns_and_no_deleted_record() {
    let (_dir, mut file) = fresh();
    let s = sample(&mut file);
    file.edit(
        s.maria,
        fields(&[("notes", json!("dit \"Mara\"; parle roumain\net romani"))]),
    )
    .unwrap();
    let gone = crate::common::person(&mut file, "Supprimé", "Personne");
    file.delete(gone).unwrap();
    // A conflict on the phone: both values are shown.
    let remote = foreign("person", &[("family_name", json!("Căldăraru"))]);
    file.apply_pulled(std::slice::from_ref(&remote), 1).unwrap();
    crate::common::conflicting_phones(&mut file, &remote, 2);

    let table = file.table("person").unwrap();
    assert_eq!(table.rows.len(), 3, "three persons are not deleted");
    let mut bytes = Vec::new();
    documents::csv(&table, &mut bytes).unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "UTF-8 with a BOM");
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    let header = text.split("\r\n").next().unwrap();
    let spec = casefile::schema::kind("person").unwrap();
    let expected: Vec<&str> = std::iter::once("id")
        .chain(spec.fields.iter().map(|f| f.name))
        .collect();
    assert_eq!(
        header,
        expected.join(";"),
        "the header: id, then the schema's fields"
    );
    assert!(text.ends_with("\r\n"), "rows end with CRLF");

    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(&bytes[3..]);
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), 3);
    let row = |id: RecordId| {
        records
            .iter()
            .find(|r| r.get(0) == Some(id.to_string().as_str()))
            .unwrap_or_else(|| panic!("a row for {id}"))
    };
    assert_eq!(&row(s.stefan)[column("family_name")], "Lăcătuș");
    assert_eq!(
        &row(s.stefan)[column("aliases")],
        "Stefan, Ştefan",
        "lists joined with ', '"
    );
    assert_eq!(
        &row(s.maria)[column("notes")],
        "dit \"Mara\"; parle roumain\net romani",
        "quotes, ';' and line breaks survive"
    );
    let phone = &row(remote.id())[column("phone")];
    assert!(
        phone == "0611 / 0622" || phone == "0622 / 0611",
        "a conflict's values joined with ' / ': {phone:?}"
    );
    assert!(
        records
            .iter()
            .all(|r| r.get(0) != Some(gone.to_string().as_str())),
        "a deleted person is left out"
    );
    assert!(
        matches!(file.table("persons"), Err(casefile::Error::Invalid { .. })),
        "an unknown kind is refused"
    );
}

/// A case file with records in and around November 2026 (Europe/Paris).
pub(crate) fn november(file: &mut CaseFile) -> (RecordId, RecordId) {
    let s = sample(file);
    let p = |id: RecordId| json!(id.to_string());
    let visit = |file: &mut CaseFile, at: &str, setting: &str, who: RecordId| {
        file.create(
            "visit",
            fields(&[
                ("occurred_at", json!(at)),
                ("setting", json!(setting)),
                ("person_ids", json!([who.to_string()])),
            ]),
        )
        .unwrap()
    };
    let outsider = crate::common::person(file, "Dumitru", "Ion");
    let late = crate::common::person(file, "Stoica", "Ana");
    // 1 November 00:30 in Paris: in. 1 December 00:30 in Paris: out.
    visit(file, "2026-10-31T23:30:00Z", "care_centre", late);
    visit(file, "2026-11-30T23:30:00Z", "phone", outsider);
    visit(
        file,
        "2026-11-15T09:00:00+01:00",
        "office_interview",
        s.maria,
    );
    let deleted = visit(file, "2026-11-16T09:00:00+01:00", "phone", s.maria);
    file.delete(deleted).unwrap();
    let add = |file: &mut CaseFile, kind: &str, pairs: &[(&str, Value)]| {
        file.create(kind, fields(pairs)).unwrap()
    };
    add(
        file,
        "step",
        &[
            ("person_id", p(s.stefan)),
            ("category", json!("documents")),
            ("title", json!("Carte d'identité")),
            ("status", json!("done")),
            ("done_on", json!("2026-11-30")),
        ],
    );
    add(
        file,
        "step",
        &[
            ("person_id", p(s.stefan)),
            ("category", json!("health")),
            ("title", json!("AME")),
            ("status", json!("done")),
            ("done_on", json!("2026-12-01")),
        ],
    );
    add(
        file,
        "employment",
        &[
            ("person_id", p(s.stefan)),
            ("employer", json!("Bâtiments du Nord")),
            ("contract", json!("cdd")),
            ("start_on", json!("2026-11-10")),
            ("end_on", json!("2027-01-31")),
        ],
    );
    add(
        file,
        "employment",
        &[
            ("person_id", p(s.maria)),
            ("employer", json!("Jardins de Cocagne")),
            ("contract", json!("iae")),
            ("start_on", json!("2026-09-01")),
        ],
    );
    add(
        file,
        "employment",
        &[
            ("person_id", p(s.maria)),
            ("employer", json!("Intérim Plus")),
            ("start_on", json!("2026-11-20")),
            ("end_on", json!("2026-11-25")),
        ],
    );
    add(
        file,
        "training",
        &[
            ("person_id", p(s.maria)),
            ("title", json!("FLE")),
            ("status", json!("completed")),
            ("start_on", json!("2026-10-01")),
            ("end_on", json!("2026-11-12")),
        ],
    );
    add(
        file,
        "training",
        &[
            ("person_id", p(s.stefan)),
            ("title", json!("CACES")),
            ("status", json!("enrolled")),
            ("start_on", json!("2026-11-23")),
        ],
    );
    add(
        file,
        "training",
        &[
            ("person_id", p(s.stefan)),
            ("title", json!("Soudure")),
            ("status", json!("applied")),
            ("start_on", json!("2026-11-24")),
        ],
    );
    let site = add(file, "site", &[("name", json!("Résidence"))]);
    add(
        file,
        "stay",
        &[
            ("person_id", p(late)),
            ("site_id", p(site)),
            ("from_on", json!("2025-01-01")),
            ("to_on", json!("2026-11-05")),
            ("left_because", json!("housed")),
        ],
    );
    add(
        file,
        "stay",
        &[
            ("person_id", p(outsider)),
            ("site_id", p(site)),
            ("from_on", json!("2025-01-01")),
            ("to_on", json!("2026-11-05")),
            ("left_because", json!("eviction")),
        ],
    );
    (s.stefan, s.maria)
}

#[test]
fn indicators_count_as_domain_md_defines_them() {
    let (_dir, mut file) = fresh();
    november(&mut file);
    let period = file.period("2026-11-01", "2026-11-30").unwrap();
    let i = file.indicators(&period).unwrap();
    // Followed: Ștefan and Mărioara (visit of 2 November, steps, jobs…), Ana (visit at
    // 00:30 on 1 November, stay ended), not Ion (visit on 1 December in Paris).
    assert_eq!(i.people_followed, 3, "{i:?}");
    assert_eq!(i.visits_by_setting["home_visit"], 1);
    assert_eq!(
        i.visits_by_setting["care_centre"], 1,
        "00:30 on 1 November in Paris"
    );
    assert_eq!(
        i.visits_by_setting["phone"], 0,
        "1 December in Paris, and a deleted visit"
    );
    assert_eq!(i.visits_by_setting["office_interview"], 1);
    assert_eq!(i.steps_done, 1, "done on 30 November; 1 December is out");
    assert_eq!(i.steps_done_by_category["documents"], 1);
    assert_eq!(i.steps_done_by_category["health"], 0);
    assert_eq!(i.jobs_by_contract["cdd"], 1);
    assert_eq!(i.jobs_by_contract["iae"], 0, "started in September");
    assert_eq!(
        i.jobs_by_contract["unspecified"], 1,
        "a job without a contract"
    );
    assert_eq!(
        i.trainings_started, 1,
        "CACES; an application is not a start"
    );
    assert_eq!(i.trainings_completed, 1);
    assert_eq!(i.people_housed, 1, "housed, not evicted");
    let today = chrono::Utc::now().date_naive();
    let all_time = file
        .period("2000-01-01", &today.succ_opt().unwrap().to_string())
        .unwrap();
    assert_eq!(
        file.indicators(&all_time).unwrap().new_people,
        4,
        "created today"
    );
    let before_today = file
        .period("2000-01-01", &today.pred_opt().unwrap().to_string())
        .unwrap();
    assert_eq!(
        file.indicators(&before_today).unwrap().new_people,
        0,
        "no one was created before today"
    );

    file.set_setting(casefile::SETTING_TIME_ZONE, "UTC")
        .unwrap();
    let utc = file.period("2026-11-01", "2026-11-30").unwrap();
    let by_utc = file.indicators(&utc).unwrap().visits_by_setting;
    assert_eq!(
        (by_utc["care_centre"], by_utc["phone"]),
        (0, 1),
        "in UTC the visit of 31 October 23:30 is out and that of 30 November 23:30 in"
    );
    file.set_setting(casefile::SETTING_TIME_ZONE, "Mars/Olympus")
        .unwrap();
    assert!(
        matches!(file.period("2026-11-01", "2026-11-30"), Err(casefile::Error::Invalid { field, .. }) if field == "time_zone"),
        "an unknown time zone is refused, naming the setting"
    );
    file.set_setting(casefile::SETTING_TIME_ZONE, "Europe/Paris")
        .unwrap();

    let series = file
        .people_in_work(&file.period("2026-09-15", "2026-12-10").unwrap())
        .unwrap();
    let points: Vec<(&str, u64)> = series.iter().map(|p| (p.on.as_str(), p.people)).collect();
    assert_eq!(
        points,
        vec![
            ("2026-09-30", 1),
            ("2026-10-31", 1),
            ("2026-11-30", 2),
            ("2026-12-10", 2)
        ],
        "month ends, then the last day"
    );
}

/// The first row of a sheet, as texts.
fn header_of(sheet: &calamine::Range<Data>) -> Vec<String> {
    sheet
        .rows()
        .next()
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect()
}

#[test]
fn the_workbook_reads_back() {
    let (_dir, mut file) = fresh();
    let (stefan, _) = november(&mut file);
    let period = file.period("2026-11-01", "2026-11-30").unwrap();
    let bytes = documents::xlsx(&file.workbook(&period).unwrap()).unwrap();
    let mut book = Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
    assert_eq!(
        book.sheet_names(),
        vec![
            "Personnes",
            "Visites",
            "Démarches",
            "Emplois",
            "Formations",
            "Indicateurs"
        ]
    );
    let persons = book.worksheet_range("Personnes").unwrap();
    let rows: Vec<&[Data]> = persons.rows().collect();
    let header: Vec<String> = rows[0].iter().map(|c| c.to_string()).collect();
    assert_eq!(header[0], "Nom de famille", "French headers: {header:?}");
    let id = header.iter().position(|h| h == "Identifiant").unwrap();
    assert!(
        header[id..]
            .iter()
            .all(|h| h.contains("Identifiant") || h.contains("(identifiant)")),
        "the ids in the last columns: {header:?}"
    );
    assert_eq!(
        rows.len(),
        1 + 3,
        "the header and the three persons followed"
    );
    assert!(
        rows.iter()
            .any(|r| r[id] == Data::String(stefan.to_string())
                && r[0] == Data::String("Lăcătuș".into())),
        "Ștefan's row"
    );
    let visits = book.worksheet_range("Visites").unwrap();
    let header = header_of(&visits);
    assert_eq!(
        &header[..4],
        [
            "Date et heure",
            "Cadre",
            "Lieu de vie",
            "Personnes rencontrées"
        ]
    );
    let minutes = header.iter().position(|h| h == "Durée (minutes)").unwrap();
    let next = header
        .iter()
        .position(|h| h == "Prochaine visite le")
        .unwrap();
    assert_eq!(visits.rows().count(), 1 + 3, "the three visits of November");
    let first = visits.rows().nth(1).unwrap();
    assert_eq!(
        first[1],
        Data::String("Accueil de jour ou centre de soins".into()),
        "choices by their French label"
    );
    let at = |cell: &Data| match cell {
        Data::DateTime(at) => at.as_datetime().unwrap(),
        other => panic!("a date cell, not {other:?}"),
    };
    assert_eq!(
        at(&first[0]).to_string(),
        "2026-11-01 00:30:00",
        "a real date and time, in Paris: 23:30 UTC on 31 October"
    );
    let home = visits
        .rows()
        .find(|r| r[1] == Data::String("Visite sur le lieu de vie".into()))
        .unwrap();
    assert_eq!(at(&home[0]).to_string(), "2026-11-02 10:14:00");
    assert_eq!(
        home[3],
        Data::String("Lăcătuș Ștefan, Țîrcă-Brâncuși Mărioara Zoïa".into()),
        "names in place of ids"
    );
    assert_eq!(home[minutes], Data::Float(45.0), "numbers stay numbers");
    assert_eq!(
        at(&home[next]).to_string(),
        "2026-11-16 00:00:00",
        "a date cell"
    );
    let jobs = book.worksheet_range("Emplois").unwrap();
    assert_eq!(
        jobs.rows().count(),
        1 + 2,
        "jobs started or ended in November"
    );
    let header = header_of(&jobs);
    let contract = header.iter().position(|h| h == "Contrat").unwrap();
    assert!(
        jobs.rows()
            .any(|r| r[contract] == Data::String("CDD".into())),
        "contracts by their label"
    );
    let indicators = book.worksheet_range("Indicateurs").unwrap();
    let value = |name: &str, key: &str| {
        indicators
            .rows()
            .find(|r| {
                let same_key = match &r[3] {
                    Data::String(k) => k == key,
                    Data::Empty => key.is_empty(),
                    _ => false,
                };
                r[2] == Data::String(name.into()) && same_key
            })
            .map(|r| (r[0].clone(), r[1].clone()))
            .unwrap_or_else(|| panic!("indicator {name} {key}"))
    };
    assert_eq!(
        value("people_followed", ""),
        (Data::String("Personnes suivies".into()), Data::Float(3.0))
    );
    assert_eq!(
        value("jobs_by_contract", "cdd"),
        (Data::String("Emplois : CDD".into()), Data::Float(1.0))
    );
    assert_eq!(value("people_housed", "").1, Data::Float(1.0));
    assert_eq!(
        at(&value("period_from", "").1).to_string(),
        "2026-11-01 00:00:00"
    );
}

#[test]
fn the_access_export_holds_everything_about_the_person() {
    let (_dir, mut file) = fresh();
    let s = sample(&mut file);
    let referral = file
        .create(
            "referral",
            fields(&[
                ("person_id", json!(s.maria.to_string())),
                ("to_service", json!("PASS de l'hôpital")),
            ]),
        )
        .unwrap();
    file.delete(referral).unwrap();
    let access = file.access(s.maria).unwrap();
    let doc: Value = serde_json::from_str(&access.json).unwrap();
    assert_eq!(doc["person_id"], json!(s.maria.to_string()));
    let records = doc["records"].as_array().unwrap();
    let kinds: Vec<&str> = records
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        vec!["person", "household", "visit", "step", "referral"],
        "the person, her household, the visit that met her, her step, and her deleted referral"
    );
    assert!(
        !access.json.contains("Inscription à France Travail"),
        "another person's step is not hers"
    );
    let words = flat(&pdf_text(&documents::access_pdf(&access).unwrap()));
    for expected in [
        "Țîrcă-Brâncuși Mărioara Zoïa",
        "Cours de français à l'Îlot",
        "PASS de l'hôpital",
        "Orientation (supprimé)",
    ] {
        assert!(
            words.contains(expected),
            "the access PDF should hold {expected:?}: {words}"
        );
    }
}

#[test]
fn every_sheet_has_a_filter_a_frozen_header_and_fitted_widths() {
    let (_dir, mut file) = fresh();
    november(&mut file);
    let period = file.period("2026-11-01", "2026-11-30").unwrap();
    let book = file.workbook(&period).unwrap();
    let bytes = documents::xlsx(&book).unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    for (n, sheet) in book.sheets.iter().enumerate() {
        let mut xml = String::new();
        std::io::Read::read_to_string(
            &mut zip
                .by_name(&format!("xl/worksheets/sheet{}.xml", n + 1))
                .unwrap(),
            &mut xml,
        )
        .unwrap();
        let name = &sheet.name;
        assert!(
            xml.contains(&format!(
                "<autoFilter ref=\"A1:{}{}\"/>",
                column_letters(sheet.header.len()),
                sheet.rows.len() + 1
            )),
            "{name}: a filter on the header and every row: {xml}"
        );
        assert!(
            xml.contains("ySplit=\"1\""),
            "{name}: the header stays in view"
        );
        let widths: Vec<f64> = xml
            .split("<col ")
            .skip(1)
            .filter_map(|col| col.split("width=\"").nth(1))
            .filter_map(|w| w.split('"').next()?.parse().ok())
            .collect();
        assert!(!widths.is_empty(), "{name}: fitted widths");
        assert!(
            widths.iter().all(|w| *w <= 43.0),
            "{name}: no column wider than about 40 characters: {widths:?}"
        );
    }
    let visits = &book.sheets[1];
    let observations = visits
        .header
        .iter()
        .position(|h| h == "Observations")
        .unwrap();
    assert!(
        visits.rows.iter().any(|r| matches!(&r[observations], casefile::export::Cell::Text(t) if t.chars().count() > 60)),
        "a long text, which the cap holds"
    );
}

/// The letters of the `n`-th column (1 = A).
fn column_letters(n: usize) -> String {
    let mut n = n;
    let mut letters = Vec::new();
    while n > 0 {
        letters.push(b'A' + ((n - 1) % 26) as u8);
        n = (n - 1) / 26;
    }
    letters.reverse();
    String::from_utf8(letters).unwrap()
}
