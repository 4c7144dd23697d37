//! The organisation's settings (one record with a well-known id), the files past their
//! retention, and the persons with no consent recorded.

use casefile::sync_protocol::organisation::SETTINGS_ID;
use casefile::{CaseFile, Error};
use serde_json::{Value, json};

use crate::common::{PASS, db_path, fields, fresh, person};

fn counter(file: &CaseFile) -> u64 {
    let state = file.get(SETTINGS_ID).unwrap();
    state.vv().get(file.replica_id())
}

#[test]
fn settings_are_created_once_then_edited() {
    let (_dir, mut file) = fresh();
    let none = file.organisation().unwrap();
    assert_eq!(none.name, None, "no settings and no enrolment: no name");
    assert_eq!(none.retention_months, 24, "the default retention");
    assert!(matches!(file.get(SETTINGS_ID), Err(Error::NotFound(_))));

    file.set_organisation(fields(&[
        ("name", json!("Association Îlot Fraternité")),
        ("contact", json!("03 20 00 00 00, accueil@ilot.example")),
        ("retention_months", json!(36)),
    ]))
    .unwrap();
    let state = file.get(SETTINGS_ID).unwrap();
    assert_eq!(state.kind().as_str(), "organisation");
    assert_eq!(counter(&file), 1, "created by one local edit");
    let org = file.organisation().unwrap();
    assert_eq!(org.name.as_deref(), Some("Association Îlot Fraternité"));
    assert_eq!(
        org.contact.as_deref(),
        Some("03 20 00 00 00, accueil@ilot.example")
    );
    assert_eq!(org.retention_months, 36);
    assert_eq!(org.purposes, None);
    assert_eq!(
        file.org_name().unwrap(),
        "Association Îlot Fraternité",
        "the sheets print the settings' name"
    );

    file.set_organisation(fields(&[
        ("contact", Value::Null),
        ("purposes", json!("Accompagnement vers l'emploi")),
        ("dpo_contact", json!("dpo@ilot.example")),
    ]))
    .unwrap();
    assert_eq!(counter(&file), 2, "then edited by one local edit");
    let org = file.organisation().unwrap();
    assert_eq!(org.contact, None, "a null clears a field");
    assert_eq!(
        org.purposes.as_deref(),
        Some("Accompagnement vers l'emploi")
    );
    assert_eq!(org.dpo_contact.as_deref(), Some("dpo@ilot.example"));
    assert_eq!(
        org.name.as_deref(),
        Some("Association Îlot Fraternité"),
        "untouched fields stay"
    );
    assert_eq!(file.list("organisation").unwrap().len(), 1, "one record");

    file.delete(SETTINGS_ID).unwrap();
    assert_eq!(
        file.organisation().unwrap().retention_months,
        24,
        "deleted settings say nothing"
    );
    file.set_organisation(fields(&[("retention_months", json!(48))]))
        .unwrap();
    assert!(!file.get(SETTINGS_ID).unwrap().is_deleted(), "restored");
    assert_eq!(file.organisation().unwrap().retention_months, 48);
}

#[test]
fn the_name_falls_back_to_the_case_files_own() {
    let (_dir, mut file) = fresh();
    file.set_org_name("Îlot (nom local)").unwrap();
    file.set_organisation(fields(&[("retention_months", json!(12))]))
        .unwrap();
    assert_eq!(
        file.organisation().unwrap().name.as_deref(),
        Some("Îlot (nom local)"),
        "no name in the settings: the name this case file was given"
    );
}

#[test]
fn settings_are_checked_like_any_edit() {
    let (_dir, mut file) = fresh();
    for bad in [json!(0), json!(241), json!(24.5), json!("24")] {
        let refused = file.set_organisation(fields(&[
            ("name", json!("Îlot")),
            ("retention_months", bad.clone()),
        ]));
        match refused {
            Err(Error::Invalid { field, expected }) => {
                assert_eq!(field, "retention_months", "{bad}: the field is named");
                assert_eq!(expected, "a whole number from 1 to 240", "{bad}");
            }
            other => panic!("{bad} months should be refused, got {other:?}"),
        }
        assert!(
            matches!(file.get(SETTINGS_ID), Err(Error::NotFound(_))),
            "a refused change creates nothing"
        );
    }
    let refused = file.set_organisation(fields(&[("colour", json!("blue"))]));
    assert!(
        matches!(&refused, Err(Error::Invalid { field, .. }) if field == "colour"),
        "a field the settings do not have: {refused:?}"
    );
    file.set_organisation(fields(&[("retention_months", json!(240))]))
        .unwrap();
    let refused = file.set_organisation(fields(&[("retention_months", json!(1.5))]));
    assert!(refused.is_err(), "an edit is checked too");
    assert_eq!(file.organisation().unwrap().retention_months, 240);
    let refused = file.edit(SETTINGS_ID, fields(&[("retention_months", json!(300))]));
    assert!(refused.is_err(), "and so is the generic edit");
}

#[test]
fn the_generic_add_refuses_the_settings_and_says_why() {
    let (_dir, mut file) = fresh();
    let refused = file.create("organisation", fields(&[("name", json!("Îlot"))]));
    let message = match refused {
        Err(e @ Error::Invalid { .. }) => e.to_string(),
        other => panic!("adding the settings should be refused, got {other:?}"),
    };
    assert!(
        message.contains("fixed id") && message.contains("organisation --set"),
        "the error says the id is fixed and what to do: {message}"
    );
    assert!(file.list("organisation").unwrap().is_empty());
}

/// A person closed on `closed_on`, with more fields.
fn closed(file: &mut CaseFile, family: &str, closed_on: &str, more: &[(&str, Value)]) -> String {
    let id = person(file, family, "Test");
    let mut changes = fields(&[("status", json!("closed")), ("closed_on", json!(closed_on))]);
    changes.extend(fields(more));
    file.edit(id, changes).unwrap();
    id.to_string()
}

fn due_ids(file: &CaseFile, today: &str) -> Vec<(String, String, String)> {
    file.past_retention(today)
        .unwrap()
        .into_iter()
        .map(|d| (d.person.id().to_string(), d.closed_on, d.kept_until))
        .collect()
}

#[test]
fn files_past_their_retention_are_listed_longest_overdue_first() {
    let (_dir, mut file) = fresh();
    let old = closed(&mut file, "Ancien", "2024-01-15", &[]);
    let recent = closed(&mut file, "Récent", "2025-06-30", &[]);
    let kept = closed(
        &mut file,
        "Gardé",
        "2023-05-02",
        &[
            ("keep_until", json!("2026-12-31")),
            ("keep_reason", json!("Procédure de régularisation en cours")),
        ],
    );
    let deleted = closed(&mut file, "Supprimé", "2020-01-01", &[]);
    file.delete(deleted.parse().unwrap()).unwrap();
    let no_date = person(&mut file, "SansDate", "Test");
    file.edit(no_date, fields(&[("status", json!("closed"))]))
        .unwrap();
    person(&mut file, "Suivi", "Test");

    assert_eq!(
        due_ids(&file, "2026-03-01"),
        vec![(old.clone(), "2024-01-15".into(), "2026-01-15".into())],
        "24 months by default: only the file closed in January 2024 is past; the one kept \
         with a reason, the deleted one and the one with no closing date are not"
    );
    assert!(
        due_ids(&file, "2026-01-15").is_empty(),
        "the last day of retention is still within it"
    );

    file.set_organisation(fields(&[("retention_months", json!(6))]))
        .unwrap();
    assert_eq!(
        due_ids(&file, "2026-03-01"),
        vec![
            (old, "2024-01-15".into(), "2024-07-15".into()),
            (recent.clone(), "2025-06-30".into(), "2025-12-30".into()),
        ],
        "the settings' retention, the longest overdue first"
    );
    assert_eq!(
        due_ids(&file, "2027-01-01").len(),
        3,
        "a reason to keep lasts until its date: {kept}"
    );
    assert!(
        matches!(file.past_retention("1 mars"), Err(Error::Invalid { field, .. }) if field == "today")
    );
}

#[test]
fn persons_followed_without_consent_are_listed_by_family_name() {
    let (_dir, mut file) = fresh();
    let zamfir = person(&mut file, "Zamfir", "Ion");
    let ababei = person(&mut file, "Ababei", "Ana");
    let consented = person(&mut file, "Bălan", "Elena");
    file.edit(consented, fields(&[("consent_on", json!("2026-10-01"))]))
        .unwrap();
    let closed_one = person(&mut file, "Costea", "Mihai");
    file.edit(closed_one, fields(&[("status", json!("closed"))]))
        .unwrap();
    let deleted = person(&mut file, "Dinu", "Radu");
    file.delete(deleted).unwrap();
    let ids: Vec<_> = file
        .without_consent()
        .unwrap()
        .iter()
        .map(|p| p.id())
        .collect();
    assert_eq!(
        ids,
        vec![ababei, zamfir],
        "active persons with no consent, by family name; not the one who consented, the \
         closed one nor the deleted one"
    );
}

/// A case file of version 3 that already holds the new fields and the settings (pulled
/// from a newer device before the upgrade) gets them in its derived tables on open, as
/// a rebuild would write them.
#[test]
fn a_version_3_case_file_derives_the_new_fields_on_open() {
    let (dir, mut file) = fresh();
    let id = person(&mut file, "Popa", "Ion");
    file.edit(
        id,
        fields(&[
            ("notice_on", json!("2026-10-01")),
            ("notice_lang", json!("ro")),
            ("notice_interpreter", json!(true)),
            ("keep_reason", json!("Recours en cours")),
        ]),
    )
    .unwrap();
    file.edit(id, fields(&[("notice_lang", json!("bg"))]))
        .unwrap();
    file.set_organisation(fields(&[
        ("name", json!("Îlot")),
        ("retention_months", json!(36)),
    ]))
    .unwrap();
    drop(file);
    let path = db_path(&dir);
    let derived = |conn: &rusqlite::Connection| -> (Vec<rusqlite::types::Value>, String, f64) {
        let person = conn
            .query_row(
                "SELECT notice_on, notice_lang, notice_interpreter, keep_until, keep_reason,
                        family_name
                 FROM person",
                [],
                |r| {
                    (0..6)
                        .map(|i| r.get(i))
                        .collect::<rusqlite::Result<Vec<_>>>()
                },
            )
            .unwrap();
        let (name, months) = conn
            .query_row("SELECT name, retention_months FROM organisation", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        (person, name, months)
    };
    let conn = crate::common::raw(&path, PASS);
    let rebuilt = derived(&conn);
    // The derived tables of version 3: no new columns, no settings table.
    conn.execute_batch(
        "CREATE TABLE person_3 AS SELECT id, family_name, given_names, aliases, sex, birth_date,
           birth_place, nationality, languages, french_level, phone, household_id, site_id,
           referent, status, closed_on, closed_reason, consent_on, consent_scope, notes
         FROM person;
         DROP TABLE person;
         ALTER TABLE person_3 RENAME TO person;
         DROP TABLE organisation;
         PRAGMA user_version = 3;",
    )
    .unwrap();
    drop(conn);
    let file = CaseFile::open(&path, PASS).unwrap();
    assert_eq!(file.schema_version().unwrap(), casefile::SCHEMA_VERSION);
    drop(file);
    let upgraded = derived(&crate::common::raw(&path, PASS));
    assert_eq!(
        upgraded, rebuilt,
        "the upgrade derives the new fields as the current build writes them"
    );
    use rusqlite::types::Value as Sql;
    assert_eq!(
        upgraded.0,
        vec![
            Sql::Text("2026-10-01".into()),
            Sql::Text("bg".into()),
            Sql::Integer(1),
            Sql::Null,
            Sql::Text("Recours en cours".into()),
            Sql::Text("Popa".into()),
        ],
        "the latest value of each field"
    );
    assert_eq!((upgraded.1.as_str(), upgraded.2), ("Îlot", 36.0));
}
