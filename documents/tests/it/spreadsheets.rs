//! The spreadsheets for people, opened as a coordinator opens them: the app's CSV read
//! by the csv crate, then the workbook and the CSV opened in LibreOffice (headless,
//! Debian's `libreoffice-calc-nogui`, in the French locale) and saved again as ODS, whose
//! cells calamine reads back with their types: dates are dates, numbers numbers, labels
//! French.

use std::path::{Path, PathBuf};
use std::process::Command;

use calamine::{Data, DataType, Ods, Reader, open_workbook};
use casefile::CaseFile;
use casefile::sync_protocol::RecordId;
use serde_json::json;

use crate::common::{fields, fresh};
use crate::exports::november;

/// The CSV for people of `kind`, as the app saves it.
fn sheet_csv(file: &CaseFile, kind: &str) -> Vec<u8> {
    let mut bytes = Vec::new();
    documents::sheet_csv(&file.sheet(kind).unwrap(), &mut bytes).unwrap();
    bytes
}

/// A CDI of 35.5 hours a week for `person` at `employer` from `start_on`.
fn part_time_cdi(file: &mut CaseFile, person: RecordId, employer: &str, start_on: &str) {
    file.create(
        "employment",
        fields(&[
            ("person_id", json!(person.to_string())),
            ("employer", json!(employer)),
            ("contract", json!("cdi")),
            ("start_on", json!(start_on)),
            ("hours_per_week", json!(35.5)),
        ]),
    )
    .unwrap();
}

#[test]
fn the_csv_for_people_is_french_with_ids_last() {
    let (_dir, mut file) = fresh();
    let (stefan, maria) = november(&mut file);
    part_time_cdi(&mut file, maria, "Ateliers ; du Nord", "2026-12-01");
    let bytes = sheet_csv(&file, "employment");
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "UTF-8 with a BOM");
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(&bytes[3..]);
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(header[0], "Personne", "the person's name first: {header:?}");
    assert_eq!(
        &header[header.len() - 2..],
        ["Identifiant", "Personne (identifiant)"],
        "ids last"
    );
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let row = rows
        .iter()
        .find(|r| &r[column("Employeur")] == "Ateliers ; du Nord")
        .expect("the row whose text holds ';'");
    assert_eq!(
        &row[column("Heures par semaine")],
        "35,5",
        "a decimal comma"
    );
    assert_eq!(&row[column("Contrat")], "CDI", "a label, not a code");
    assert_eq!(&row[column("Début")], "01/12/2026", "a French date");
    assert_eq!(&row[column("Personne (identifiant)")], maria.to_string());
    assert!(
        rows.iter().any(
            |r| r[column("Personne (identifiant)")] == stefan.to_string()
                && &r[column("Personne")] == "Lăcătuș Ștefan"
        ),
        "names in place of ids"
    );

    file.edit(stefan, fields(&[("nationality", json!("RO"))]))
        .unwrap();
    let persons = String::from_utf8(sheet_csv(&file, "person")).unwrap();
    assert!(
        persons.contains(";Roumanie;"),
        "a country by its French name: {persons}"
    );

    let visits = sheet_csv(&file, "visit");
    let text = String::from_utf8_lossy(&visits);
    assert!(
        text.contains("\r\n01/11/2026 00:30;"),
        "times in the organisation's zone: 23:30 UTC on 31 October is past midnight in Paris: {text}"
    );
    file.set_setting(casefile::SETTING_TIME_ZONE, "Europe/Bucharest")
        .unwrap();
    let text = String::from_utf8_lossy(&sheet_csv(&file, "visit")).into_owned();
    assert!(
        text.contains("\r\n01/11/2026 01:30;"),
        "and in Bucharest's, an hour later: {text}"
    );
    assert!(
        matches!(file.sheet("persons"), Err(casefile::Error::Invalid { .. })),
        "an unknown kind is refused"
    );
}

/// `path` opened in LibreOffice and saved as ODS (`filter`: the CSV import's options),
/// read back by calamine.
fn through_libreoffice(
    path: &Path,
    filter: Option<&str>,
) -> Ods<std::io::BufReader<std::fs::File>> {
    let dir = path.parent().unwrap();
    let profile = dir.join("profile");
    let mut command = Command::new("soffice");
    command
        .arg(format!(
            "-env:UserInstallation=file://{}",
            profile.display()
        ))
        .args([
            "--headless",
            "--norestore",
            "--convert-to",
            "ods",
            "--outdir",
        ])
        .arg(dir);
    if let Some(filter) = filter {
        command.arg(format!("--infilter={filter}"));
    }
    let out = command
        .arg(path)
        .env("LANG", "fr_FR.UTF-8")
        .output()
        .expect("LibreOffice (Debian package libreoffice-calc-nogui) must be installed to test the spreadsheets");
    let ods: PathBuf = path.with_extension("ods");
    assert!(
        out.status.success() && ods.exists(),
        "LibreOffice did not convert {}: {}{}",
        path.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    open_workbook(&ods).unwrap()
}

/// The rows of a sheet read back.
fn rows(book: &mut Ods<std::io::BufReader<std::fs::File>>, sheet: &str) -> Vec<Vec<Data>> {
    book.worksheet_range(sheet)
        .unwrap()
        .rows()
        .map(<[Data]>::to_vec)
        .collect()
}

fn at(cell: &Data) -> String {
    match cell {
        // A date alone reads back as `2026-11-03` in ODS: midnight.
        Data::DateTimeIso(_) | Data::DateTime(_) => cell
            .as_datetime()
            .or_else(|| cell.as_date().and_then(|d| d.and_hms_opt(0, 0, 0)))
            .unwrap_or_else(|| panic!("a date: {cell:?}"))
            .to_string(),
        other => panic!("a date cell, not {other:?}"),
    }
}

/// The CDI of [`part_time_cdi`] in the jobs read back: its contract by its label, its
/// hours a number, its start a date.
fn the_cdi_reads_back(jobs: &[Vec<Data>]) {
    let column = |name: &str| {
        jobs[0]
            .iter()
            .position(|h| h == &Data::String(name.into()))
            .unwrap_or_else(|| panic!("a column {name}: {:?}", jobs[0]))
    };
    let cdi = jobs
        .iter()
        .find(|r| r[column("Contrat")] == Data::String("CDI".into()))
        .expect("the CDI's row, its contract by its label");
    assert_eq!(
        cdi[column("Heures par semaine")],
        Data::Float(35.5),
        "35.5 read as a number"
    );
    assert_eq!(
        at(&cdi[column("Début")]),
        "2026-11-03 00:00:00",
        "read as a date"
    );
}

#[test]
fn libreoffice_reads_dates_numbers_and_labels_from_the_workbook_and_the_csv() {
    let (dir, mut file) = fresh();
    let (_, maria) = november(&mut file);
    part_time_cdi(&mut file, maria, "Ateliers du Nord", "2026-11-03");
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();

    // The workbook.
    let period = file.period("2026-11-01", "2026-11-30").unwrap();
    let xlsx = out.join("indicateurs.xlsx");
    std::fs::write(
        &xlsx,
        documents::xlsx(&file.workbook(&period).unwrap()).unwrap(),
    )
    .unwrap();
    let mut book = through_libreoffice(&xlsx, None);
    let visits = rows(&mut book, "Visites");
    assert_eq!(visits[0][0], Data::String("Date et heure".into()));
    assert_eq!(at(&visits[1][0]), "2026-11-01 00:30:00", "a date and time");
    assert_eq!(
        visits[1][1],
        Data::String("Accueil de jour ou centre de soins".into())
    );
    the_cdi_reads_back(&rows(&mut book, "Emplois"));
    let indicators = rows(&mut book, "Indicateurs");
    assert!(
        indicators
            .iter()
            .any(|r| r[0] == Data::String("Personnes suivies".into()) && r[1] == Data::Float(3.0)),
        "{indicators:?}"
    );

    // The CSV, opened as a French spreadsheet opens it: `;`, `"`, UTF-8, from line 1,
    // French (1036), quoted fields not forced to text, special numbers (dates) detected.
    let csv = out.join("emplois.csv");
    std::fs::write(&csv, sheet_csv(&file, "employment")).unwrap();
    let mut book = through_libreoffice(&csv, Some("CSV:59,34,76,1,,1036,false,true"));
    let name = book.sheet_names()[0].clone();
    the_cdi_reads_back(&rows(&mut book, &name));
    let csv = out.join("visites.csv");
    std::fs::write(&csv, sheet_csv(&file, "visit")).unwrap();
    let mut book = through_libreoffice(&csv, Some("CSV:59,34,76,1,,1036,false,true"));
    let name = book.sheet_names()[0].clone();
    let visits = rows(&mut book, &name);
    assert!(
        visits
            .iter()
            .skip(1)
            .any(|r| at(&r[0]) == "2026-11-02 10:14:00"),
        "a date and time read as one: {visits:?}"
    );
}
