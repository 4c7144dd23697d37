//! What the exports read: every value already printed as text, for `documents` to lay
//! out (whose tests render and read back each document), and the errors of the readers.

use casefile::Error;
use serde_json::json;

use crate::common::{fields, fresh, person};

#[test]
fn the_visit_sheet_reads_every_value_as_printed() {
    let (_dir, mut file) = fresh();
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
    let stefan = person(&mut file, "Lăcătuș", "Ștefan");
    file.edit(stefan, fields(&[("birth_date", json!("1991-04"))]))
        .unwrap();
    let unknown = "01234567-89ab-7def-8123-456789abcdef";
    let visit = file
        .create(
            "visit",
            fields(&[
                ("occurred_at", json!("2026-11-02T10:14:00+01:00")),
                ("setting", json!("home_visit")),
                ("site_id", json!(site.to_string())),
                ("person_ids", json!([stefan.to_string()])),
                ("counsellors", json!(["Hélène Dupré", "Ionuț"])),
                ("interpreter", json!(true)),
                ("duration_minutes", json!(45)),
                ("next_visit_on", json!("2026-11-16")),
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

    let sheet = file.visit_sheet(visit).unwrap();
    assert_eq!(sheet.org, "Association Îlot Fraternité");
    assert_eq!(
        sheet.occurred_at, "lundi 02/11/2026 à 10 h 14",
        "a time in French, in the organisation's zone"
    );
    assert_eq!(
        sheet.setting, "Visite sur le lieu de vie",
        "a choice by its label"
    );
    assert_eq!(sheet.sites, "Terrain de la Deûle (Hellemmes)");
    assert_eq!(sheet.counsellors, "Hélène Dupré, Ionuț", "a list joined");
    assert_eq!(sheet.interpreter, "oui");
    assert_eq!(sheet.duration_minutes, "45");
    assert_eq!(sheet.next_visit_on, "16/11/2026", "a date as JJ/MM/AAAA");
    assert_eq!(
        sheet.purpose, "",
        "a field the visit does not fill is empty"
    );
    assert_eq!(sheet.persons.len(), 1);
    assert_eq!(
        (
            sheet.persons[0].name.as_str(),
            sheet.persons[0].birth_year.as_str()
        ),
        ("Lăcătuș Ștefan", "1991")
    );
    assert_eq!(sheet.steps.len(), 1);
    assert_eq!(sheet.steps[0].title, "Inscription à France Travail");
    assert_eq!(sheet.steps[0].for_whom, "Lăcătuș Ștefan", "names, not ids");
    assert_eq!(sheet.steps[0].due_on, "09/11/2026");

    // A person this case file does not hold (not synced yet) prints as unknown.
    let state = file.get(visit).unwrap();
    let mut theirs = state.clone();
    theirs
        .edit(
            crate::common::other_replica(),
            crate::common::at(),
            [(
                "person_ids".parse().unwrap(),
                json!([stefan.to_string(), unknown]),
            )],
        )
        .unwrap();
    file.apply_pulled(std::slice::from_ref(&theirs), 1).unwrap();
    let names: Vec<String> = file
        .visit_sheet(visit)
        .unwrap()
        .persons
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert!(
        names.contains(&"(personne inconnue de ce dossier)".to_owned()),
        "{names:?}"
    );
}

#[test]
fn each_reader_asks_for_the_right_record_or_kind() {
    let (_dir, mut file) = fresh();
    let stefan = person(&mut file, "Lăcătuș", "Ștefan");
    let site = file
        .create("site", fields(&[("name", json!("Terrain"))]))
        .unwrap();
    assert!(
        matches!(file.visit_sheet(stefan), Err(Error::Invalid { field, .. }) if field == "visit_id"),
        "a person is not a visit"
    );
    assert!(
        matches!(file.person_sheet(site), Err(Error::Invalid { .. })),
        "a site is not a person"
    );
    assert!(
        matches!(file.access(site), Err(Error::Invalid { field, .. }) if field == "person_id"),
        "an access export is of a person"
    );
    assert!(
        matches!(file.table("persons"), Err(Error::Invalid { field, .. }) if field == "kind"),
        "an unknown kind is refused"
    );
    let table = file.table("person").unwrap();
    assert_eq!(table.header[0], "id", "the id first");
    assert_eq!(table.rows.len(), 1);
    assert_eq!(
        table.rows[0].len(),
        table.header.len(),
        "every row as long as the header"
    );
    assert_eq!(file.org_name().unwrap(), "Passerelle", "the default name");
}
