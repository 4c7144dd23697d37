//! Typed kinds and validation: every kind accepts good input and refuses bad input,
//! naming the field, and changing nothing.

use casefile::kinds::{Person, Sex, Site, SiteType, Visit};
use casefile::sync_protocol::RecordId;
use casefile::{CaseFile, Error};
use serde_json::{Value, json};

use crate::common::*;

struct Refs {
    site: RecordId,
    household: RecordId,
    person: RecordId,
    visit: RecordId,
}

fn refs(file: &mut CaseFile) -> Refs {
    let site = site(file, "Camp");
    let household = file
        .create(
            "household",
            fields(&[
                ("name", json!("Popa")),
                ("site_id", json!(site.to_string())),
            ]),
        )
        .unwrap();
    let person = person(file, "Popa", "Ion");
    let visit = file
        .create(
            "visit",
            fields(&[
                ("occurred_at", json!("2026-11-02T10:00:00+01:00")),
                ("setting", json!("home_visit")),
            ]),
        )
        .unwrap();
    Refs {
        site,
        household,
        person,
        visit,
    }
}

fn valid(kind: &str, r: &Refs) -> Vec<(String, Value)> {
    let s = r.site.to_string();
    let h = r.household.to_string();
    let p = r.person.to_string();
    let v = r.visit.to_string();
    let pairs: Vec<(&str, Value)> = match kind {
        "site" => vec![
            ("name", json!("Camp du Nord")),
            ("type", json!("squat")),
            ("commune", json!("Lille")),
            ("address", json!("rue X")),
            ("lat", json!(50.63)),
            ("lon", json!(3.06)),
            ("status", json!("active")),
            ("status_since", json!("2026-01-01")),
            ("notes", json!("n")),
        ],
        "household" => vec![
            ("name", json!("Ionescu")),
            ("site_id", json!(s)),
            ("notes", json!("n")),
        ],
        "person" => vec![
            ("family_name", json!("Ștefănescu")),
            ("given_names", json!("Ștefan")),
            ("aliases", json!(["Stefane"])),
            ("sex", json!("m")),
            ("birth_date", json!("1991-04")),
            ("birth_place", json!("Craiova")),
            ("nationality", json!("RO")),
            ("languages", json!(["ro", "fr"])),
            ("french_level", json!("a2")),
            ("phone", json!("06 12 34 56 78")),
            ("household_id", json!(h)),
            ("site_id", json!(s)),
            ("referent", json!("marie")),
            ("status", json!("active")),
            ("consent_on", json!("2026-10-01")),
            ("consent_scope", json!("programme")),
            ("notes", json!("n")),
        ],
        "situation" => vec![
            ("person_id", json!(p)),
            ("id_document", json!("passport")),
            ("health_cover", json!("ame")),
            ("bank_account", json!(true)),
            ("france_travail_since", json!("2025-05-02")),
            ("driving_licence", json!(false)),
        ],
        "stay" => vec![
            ("person_id", json!(p)),
            ("site_id", json!(s)),
            ("from_on", json!("2026-01-01")),
            ("to_on", json!("2026-03-01")),
            ("left_because", json!("moved")),
        ],
        "visit" => vec![
            ("occurred_at", json!("2026-11-02T10:14:00+01:00")),
            ("setting", json!("home_visit")),
            ("site_id", json!(s)),
            ("person_ids", json!([p])),
            ("counsellors", json!(["marie"])),
            ("next_visit_on", json!("2026-11-09")),
            ("interpreter", json!(true)),
            ("duration_minutes", json!(45)),
        ],
        "step" => vec![
            ("person_id", json!(p)),
            ("visit_id", json!(v)),
            ("category", json!("documents")),
            ("title", json!("Passport renewal")),
            ("status", json!("planned")),
            ("due_on", json!("2026-11-20")),
        ],
        "employment" => vec![
            ("person_id", json!(p)),
            ("employer", json!("ACME")),
            ("contract", json!("cdd")),
            ("hours_per_week", json!(35)),
            ("start_on", json!("2026-11-01")),
        ],
        "training" => vec![
            ("person_id", json!(p)),
            ("title", json!("FLE")),
            ("status", json!("enrolled")),
            ("start_on", json!("2026-11-01")),
        ],
        "referral" => vec![
            ("person_id", json!(p)),
            ("to_service", json!("PMI")),
            ("constraint", json!("health")),
            ("status", json!("sent")),
            ("sent_on", json!("2026-11-01")),
        ],
        other => panic!("no sample for {other}"),
    };
    fields(&pairs)
}

const KINDS: [&str; 10] = [
    "site",
    "household",
    "person",
    "situation",
    "stay",
    "visit",
    "step",
    "employment",
    "training",
    "referral",
];

#[test]
fn every_kind_accepts_valid_input() {
    let (_dir, mut file) = fresh();
    let r = refs(&mut file);
    for kind in KINDS {
        let id = file
            .create(kind, valid(kind, &r))
            .unwrap_or_else(|e| panic!("a valid {kind} was refused: {e}"));
        let state = file.get(id).unwrap();
        assert_eq!(state.kind().as_str(), kind);
        for (name, value) in valid(kind, &r) {
            assert_eq!(
                state.value(&name),
                Some(&value),
                "{kind}.{name} must be stored"
            );
        }
    }
}

fn refused(file: &mut CaseFile, kind: &str, good: Vec<(String, Value)>, field: &str, bad: Value) {
    let before = file.list(kind).unwrap().len();
    let mut input = good;
    input.retain(|(n, _)| n != field);
    input.push((field.to_owned(), bad.clone()));
    let result = file.create(kind, input);
    let message = match &result {
        Err(e) => e.to_string(),
        Ok(_) => String::new(),
    };
    match result {
        Err(Error::Invalid { field: f, expected }) => {
            assert_eq!(
                f, field,
                "{kind}: the error must name {field} (bad value {bad})"
            );
            assert!(
                !expected.is_empty(),
                "the error must say what {field} expects"
            );
            if let Some(text) = bad.as_str() {
                assert!(
                    !message.contains(text),
                    "the error must not repeat the value {text:?}: {message}"
                );
            }
        }
        other => panic!("{kind}.{field} = {bad} must be refused, got {other:?}"),
    }
    assert_eq!(
        file.list(kind).unwrap().len(),
        before,
        "a refused {kind} changes nothing"
    );
}

#[test]
fn bad_input_for_every_kind_is_refused_naming_the_field() {
    let (_dir, mut file) = fresh();
    let r = refs(&mut file);
    let missing = "01234567-89ab-7def-8123-456789abcdef";
    let cases: Vec<(&str, &str, Value)> = vec![
        ("site", "type", json!("castle")),
        ("site", "lat", json!(91)),
        ("site", "lon", json!("3.06")),
        ("site", "status_since", json!("2026-02-30")),
        ("site", "name", json!(12)),
        ("household", "site_id", json!(missing)),
        ("household", "site_id", json!(r.person.to_string())),
        ("household", "name", Value::Null),
        ("person", "birth_date", json!("91")),
        ("person", "birth_date", json!("1991-13")),
        ("person", "sex", json!("male")),
        ("person", "nationality", json!("ROU")),
        ("person", "aliases", json!("Stefane")),
        ("person", "french_level", json!("c1")),
        ("person", "household_id", json!("not-an-id")),
        ("person", "status", json!("gone")),
        ("person", "family_name", Value::Null),
        ("person", "colour", json!("blue")),
        ("person", "x_note", json!(3)),
        ("person", "_deleted", json!(null)),
        ("situation", "health_cover", json!("private")),
        ("situation", "bank_account", json!("yes")),
        ("situation", "person_id", json!(r.site.to_string())),
        ("stay", "from_on", json!("01/02/2026")),
        ("stay", "left_because", json!("fire")),
        ("stay", "site_id", Value::Null),
        ("visit", "occurred_at", json!("2026-11-02 10:00")),
        ("visit", "setting", json!("cafe")),
        ("visit", "person_ids", json!([missing])),
        ("visit", "interpreter", json!(1)),
        ("visit", "duration_minutes", json!(-5)),
        ("step", "category", json!("fun")),
        ("step", "status", json!("later")),
        ("step", "visit_id", json!(r.household.to_string())),
        ("step", "title", Value::Null),
        ("employment", "contract", json!("freelance")),
        ("employment", "hours_per_week", json!(200)),
        ("employment", "start_on", json!("2026-1-1")),
        ("training", "status", json!("maybe")),
        ("training", "end_on", json!("soon")),
        ("referral", "constraint", json!("money")),
        ("referral", "status", json!("lost")),
        ("referral", "person_id", json!(missing)),
    ];
    for (kind, field, bad) in cases {
        let good = valid(kind, &r);
        refused(&mut file, kind, good, field, bad);
    }
    assert!(
        matches!(file.create("castle", vec![]), Err(Error::Invalid { field, .. }) if field == "kind"),
        "an unknown kind must be refused naming `kind`"
    );
}

#[test]
fn a_bad_edit_is_refused_and_changes_nothing() {
    let (_dir, mut file) = fresh();
    let id = person(&mut file, "Popa", "Ion");
    let before = file.get(id).unwrap().to_json();
    let result = file.edit(
        id,
        fields(&[
            ("phone", json!("0612")),
            ("birth_date", json!("in the spring")),
        ]),
    );
    assert!(
        matches!(&result, Err(Error::Invalid { field, .. }) if field == "birth_date"),
        "got {result:?}"
    );
    assert_eq!(
        file.get(id).unwrap().to_json(),
        before,
        "nothing may change"
    );
    assert!(
        matches!(file.edit(id, fields(&[("family_name", Value::Null)])), Err(Error::Invalid { field, .. }) if field == "family_name"),
        "a required field cannot be cleared"
    );
}

#[test]
fn one_situation_per_person() {
    let (_dir, mut file) = fresh();
    let p = person(&mut file, "Popa", "Ion");
    let q = person(&mut file, "Rusu", "Ana");
    let s = fields(&[("person_id", json!(p.to_string()))]);
    let first = file.create("situation", s.clone()).unwrap();
    assert!(
        matches!(file.create("situation", s.clone()), Err(Error::Invalid { field, .. }) if field == "person_id"),
        "a second situation for the same person must be refused"
    );
    let second = file
        .create("situation", fields(&[("person_id", json!(q.to_string()))]))
        .unwrap();
    assert!(
        matches!(file.edit(second, s.clone()), Err(Error::Invalid { field, .. }) if field == "person_id"),
        "moving a situation to a person who has one must be refused"
    );
    file.edit(first, s).unwrap();
}

#[test]
fn x_fields_and_fields_of_newer_versions_are_kept() {
    let (_dir, mut file) = fresh();
    let id = file
        .create(
            "person",
            fields(&[("family_name", json!("Popa")), ("x_shoe_size", json!("42"))]),
        )
        .unwrap();
    let typed: Person = file.get_typed(id).unwrap();
    assert_eq!(
        typed.extra.get("x_shoe_size"),
        Some(&json!("42")),
        "x_ fields are kept"
    );

    let newer = foreign(
        "person",
        &[
            ("family_name", json!("Lăcătuș")),
            ("favourite_colour", json!({"rgb": [1, 2, 3]})),
        ],
    );
    file.apply_pulled(std::slice::from_ref(&newer), 1).unwrap();
    file.edit(newer.id(), fields(&[("phone", json!("0612"))]))
        .unwrap();
    let state = file.get(newer.id()).unwrap();
    assert_eq!(
        state.value("favourite_colour"),
        Some(&json!({"rgb": [1, 2, 3]})),
        "a field of a newer version survives a local edit"
    );
    let typed: Person = file.get_typed(newer.id()).unwrap();
    assert!(
        typed.extra.contains_key("favourite_colour"),
        "and shows in `extra`"
    );
}

#[test]
fn typed_records_round_trip() {
    let (_dir, mut file) = fresh();
    let site = Site {
        name: Some("Camp".into()),
        site_type: Some(SiteType::TravellersArea),
        lat: Some(50.6),
        ..Site::default()
    };
    let site_id = file.add(&site).unwrap();
    let read: Site = file.get_typed(site_id).unwrap();
    assert_eq!(read.site_type, Some(SiteType::TravellersArea));
    assert_eq!(
        read.status.map(|s| s.as_str()),
        Some("active"),
        "default status"
    );
    let person = Person {
        family_name: Some("Ionescu".into()),
        sex: Some(Sex::F),
        birth_date: Some("1988".into()),
        site_id: Some(site_id),
        ..Person::default()
    };
    let id = file.add(&person).unwrap();
    let read: Person = file.get_typed(id).unwrap();
    assert_eq!(read.site_id, Some(site_id));
    assert_eq!(read.birth_date.as_deref(), Some("1988"));
    assert!(
        matches!(file.get_typed::<Visit>(id), Err(Error::Invalid { .. })),
        "reading a person as a visit must fail"
    );
    let bad = Person {
        birth_date: Some("1988-02-31".into()),
        family_name: Some("X".into()),
        ..Person::default()
    };
    assert!(
        matches!(file.add(&bad), Err(Error::Invalid { field, .. }) if field == "birth_date"),
        "typed input is validated too"
    );
}
