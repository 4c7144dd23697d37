//! One person, one file, end to end through the real server (SQLite and PostgreSQL): two
//! counsellors each create the same man offline; one syncs and merges the two files, the
//! other edits the merged-away file offline and syncs later. Every device ends with one
//! file, holding both files' records and the late edit; the indicators count him once;
//! an erasure of the file that stays takes the merged-away file and its records too.

use casefile::{Period, TimeZone};
use passerelle_e2e::harness::{Backend, Device, Server, settle};
use serde_json::json;
use sync_protocol::RecordId;
use sync_protocol::merges::merged_into;

use crate::fields;

fn created_offline(device: &mut Device, family: &str, given: &str, phone: &str) -> RecordId {
    device
        .file
        .create(
            "person",
            fields(&[
                ("family_name", json!(family)),
                ("given_names", json!(given)),
                ("birth_date", json!("1987")),
                ("phone", json!(phone)),
            ]),
        )
        .unwrap()
}

fn step_for(device: &mut Device, person: RecordId, title: &str) -> RecordId {
    device
        .file
        .create(
            "step",
            fields(&[
                ("person_id", json!(person.to_string())),
                ("category", json!("job_search")),
                ("title", json!(title)),
                ("status", json!("planned")),
                ("due_on", json!("2026-11-25")),
            ]),
        )
        .unwrap()
}

fn one_file_for_one_man(backend: Backend) {
    let server = Server::start(backend);
    let (org, coordinator) = server.new_org();
    let counsellor = format!("{coordinator}_c");
    server.add_user(&org, &counsellor, "counsellor");
    let mut office = Device::enrolled("office laptop", &server, &coordinator);
    let mut field = Device::enrolled("field tablet", &server, &counsellor);

    // Both offline, on two sites, each meets the same man and creates him.
    let first = created_offline(&mut office, "Lăcătuș", "Ștefan", "06 12 34 56 78");
    let office_step = step_for(&mut office, first, "Inscription France Travail");
    let second = created_offline(&mut field, "Lacatus", "Stefane", "0612345678");
    let field_step = step_for(&mut field, second, "CV");
    settle(&mut [&mut office, &mut field]);

    // The office sees the pair, and merges the field's file into its own.
    let pairs = office.file.duplicates(None).unwrap();
    let pair = pairs
        .iter()
        .find(|p| p.a == first.min(second) && p.b == first.max(second))
        .unwrap_or_else(|| panic!("the two files are listed as possible duplicates: {pairs:?}"));
    assert!(pair.score > 0 && !pair.reasons.is_empty());
    office
        .file
        .merge_persons(first, second, fields(&[("given_names", json!("Ștefan"))]))
        .unwrap();
    office.sync();

    // Meanwhile, offline, the field device writes on the file it created.
    field
        .file
        .edit(second, fields(&[("notes", json!("disponible le matin"))]))
        .unwrap();
    let late_step = step_for(&mut field, second, "Visite agence d'intérim");
    settle(&mut [&mut field, &mut office]);

    for device in [&office, &field] {
        let who = &device.name;
        assert_eq!(device.file.survivor(second).unwrap(), first, "{who}");
        let tombstone = device.file.get(second).unwrap();
        assert_eq!(merged_into(&tombstone), Some(first), "{who}");
        let listed: Vec<RecordId> = device
            .file
            .list("person")
            .unwrap()
            .iter()
            .map(|s| s.id())
            .collect();
        assert_eq!(listed, [first], "{who}: one file");
        let kept = device.file.get(first).unwrap();
        assert_eq!(kept.value("given_names"), Some(&json!("Ștefan")), "{who}");
        assert_eq!(
            kept.value("notes"),
            Some(&json!("disponible le matin")),
            "{who}: the late edit of the merged-away file reached the file that stays"
        );
        let timeline = device.file.timeline(first).unwrap();
        for step in [office_step, field_step, late_step] {
            assert!(
                timeline.items.iter().any(|i| i.state.id() == step),
                "{who}: the timeline holds every step of both files"
            );
        }
        assert!(
            device.file.conflicts().unwrap().is_empty(),
            "{who}: a merge makes no conflict"
        );
        let found = device.file.search("stefane lacatus", 10).unwrap();
        assert_eq!(found.iter().map(|s| s.id()).collect::<Vec<_>>(), [first]);
        let november = Period::new("2026-11-01", "2026-11-30", TimeZone::EUROPE_PARIS).unwrap();
        assert_eq!(
            device.file.indicators(&november).unwrap().people_followed,
            1,
            "{who}: counted once"
        );
    }
    // No reference was rewritten: the field's steps still name the merged-away file.
    assert_eq!(
        office.file.get(field_step).unwrap().value("person_id"),
        Some(&json!(second.to_string()))
    );

    // Erasing the file that stays takes the merged-away file and everything about it.
    office.file.erase_person(first, false).unwrap();
    settle(&mut [&mut office, &mut field]);
    for device in [&office, &field] {
        for id in [first, second, office_step, field_step, late_step] {
            assert!(
                device.file.get(id).is_err(),
                "{}: the erasure followed the tombstone",
                device.name
            );
        }
        assert!(device.file.search("lacatus", 10).unwrap().is_empty());
    }
}

#[test]
fn one_file_for_one_man_sqlite() {
    one_file_for_one_man(Backend::Sqlite);
}

#[test]
fn one_file_for_one_man_postgres() {
    one_file_for_one_man(Backend::Postgres);
}
