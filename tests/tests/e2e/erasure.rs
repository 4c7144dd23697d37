//! A person's erasure end to end (SYNC-PROTOCOL.md §5, §6a): a coordinator erases a
//! person from the app's case file; a device that was offline with edits and new records
//! about them syncs afterwards; a backup taken before the erasure is restored. After the
//! devices sync, neither the server's tables (every row, and the SQLite file's raw bytes),
//! nor its journal, nor any device's case file holds the person's id, name or social
//! security number, and the visit they shared keeps the other person.

use casefile::CaseFile;
use passerelle_e2e::harness::{Backend, Device, Server, settle};
use serde_json::{Value, json};
use sync_protocol::RecordId;

use crate::fields;

const FAMILY: &str = "Lăcătuș";
const SSN: &str = "291059912345678";
const SHARED_NOTES: &str = "Rencontre au terrain avec la famille voisine";

/// What the team wrote about the person to erase, and about another.
struct File {
    person: RecordId,
    other: RecordId,
    shared_visit: RecordId,
    /// Every record about the person alone, and the visit that met only them.
    theirs: Vec<RecordId>,
}

fn add(file: &mut CaseFile, kind: &str, pairs: &[(&str, Value)]) -> RecordId {
    file.create(kind, fields(pairs)).unwrap()
}

fn write_file(file: &mut CaseFile) -> File {
    let other = add(
        file,
        "person",
        &[
            ("family_name", json!("Dumitru")),
            ("given_names", json!("Ana")),
        ],
    );
    let person = add(
        file,
        "person",
        &[
            ("family_name", json!(FAMILY)),
            ("given_names", json!("Ștefan")),
        ],
    );
    let p = json!(person.to_string());
    let site = add(
        file,
        "site",
        &[("name", json!("Les Près")), ("type", json!("bidonville"))],
    );
    let theirs = vec![
        add(
            file,
            "situation",
            &[
                ("person_id", p.clone()),
                ("social_security_number", json!(SSN)),
            ],
        ),
        add(
            file,
            "stay",
            &[
                ("person_id", p.clone()),
                ("site_id", json!(site.to_string())),
                ("from_on", json!("2025-03-01")),
            ],
        ),
        add(
            file,
            "step",
            &[
                ("person_id", p.clone()),
                ("category", json!("job_search")),
                ("title", json!("CV")),
            ],
        ),
        add(
            file,
            "employment",
            &[
                ("person_id", p.clone()),
                ("employer", json!("Maraîchage du Nord")),
            ],
        ),
        add(
            file,
            "training",
            &[
                ("person_id", p.clone()),
                ("title", json!("Français langue étrangère")),
            ],
        ),
        add(
            file,
            "referral",
            &[("person_id", p.clone()), ("to_service", json!("PMI"))],
        ),
        add(
            file,
            "visit",
            &[
                ("occurred_at", json!("2026-11-02T10:00:00+01:00")),
                ("setting", json!("home_visit")),
                ("person_ids", json!([person.to_string()])),
                ("observations", json!(format!("{FAMILY} cherche un emploi"))),
            ],
        ),
    ];
    let shared_visit = add(
        file,
        "visit",
        &[
            ("occurred_at", json!("2026-11-03T10:00:00+01:00")),
            ("setting", json!("home_visit")),
            ("person_ids", json!([person.to_string(), other.to_string()])),
            ("observations", json!(SHARED_NOTES)),
        ],
    );
    File {
        person,
        other,
        shared_visit,
        theirs,
    }
}

/// Asserts that `text` (a dump of `place`) holds nothing of the erased person.
fn holds_none_of(text: &str, file: &File, place: &str) {
    for (what, needle) in [
        ("id", file.person.to_string()),
        ("family name", FAMILY.to_owned()),
        ("social security number", SSN.to_owned()),
    ] {
        // Name where (the table, or the start of the line), never the value itself.
        // (pg_dump names a table on its `COPY` line; SQLite rows start with theirs.)
        let mut table = "";
        let mut at: Vec<&str> = Vec::new();
        for line in text.lines() {
            if line.starts_with("COPY ") {
                table = line.split(' ').nth(1).unwrap_or("");
            }
            if line.contains(&needle) {
                let start = line.split(' ').next().unwrap_or("");
                at.push(match start.len() {
                    1..=40 if !start.contains(&needle) && table.is_empty() => start,
                    _ if !table.is_empty() => table,
                    _ => "raw bytes",
                });
            }
        }
        assert!(
            at.is_empty(),
            "{place} still holds the erased person's {what}, in {at:?}"
        );
    }
}

/// Every place: the server's tables, its journal, each device's case file.
fn nothing_left(server: &Server, devices: &[&Device], file: &File, when: &str) {
    let rows = server.db.every_row_as_text();
    holds_none_of(&rows, file, &format!("{when}: the server's database"));
    assert!(
        rows.contains(&file.other.to_string()),
        "{when}: the other person stays on the server"
    );
    let journal = server.db.journal_text();
    assert!(
        journal.contains(r#""entry":"erased""#),
        "{when}: the server's journal keeps the erasures (the check below reads the right file)"
    );
    holds_none_of(&journal, file, &format!("{when}: the server's journal"));
    for device in devices {
        let dump = device.file.every_row_as_text().unwrap();
        holds_none_of(&dump, file, &format!("{when}: {}'s case file", device.name));
        let visit = device.file.get(file.shared_visit).unwrap();
        assert_eq!(
            visit.value("person_ids"),
            Some(&json!([file.other.to_string()])),
            "{when}: on {}, the shared visit keeps the other person alone",
            device.name
        );
        assert_eq!(visit.value("observations"), Some(&json!(SHARED_NOTES)));
        for id in file.theirs.iter().chain([&file.person]) {
            assert!(
                device.file.get(*id).is_err(),
                "{when}: {} no longer finds a record about the person",
                device.name
            );
        }
        assert!(device.file.search(FAMILY, 10).unwrap().is_empty());
    }
}

fn erasure_reaches_everything(backend: Backend) {
    let folder = tempfile::tempdir().unwrap();
    let backup = folder.path().join("before-erasure.db");
    let server = Server::start(backend);
    let (org, coordinator) = server.new_org();
    let counsellor = format!("{coordinator}_c");
    server.add_user(&org, &counsellor, "counsellor");
    let mut a = Device::enrolled("coordinator's laptop", &server, &coordinator);
    let mut b = Device::enrolled("counsellor's tablet", &server, &counsellor);
    let mut c = Device::enrolled("offline tablet", &server, &counsellor);
    let file = write_file(&mut a.file);
    settle(&mut [&mut a, &mut b, &mut c]);
    server.cli(&["backup", "--out", backup.to_str().unwrap()], "");

    // Offline, the third device goes on working with the person.
    let p = json!(file.person.to_string());
    c.file
        .edit(file.person, fields(&[("phone", json!("0612345678"))]))
        .unwrap();
    let offline_step = add(
        &mut c.file,
        "step",
        &[
            ("person_id", p.clone()),
            ("category", json!("france_travail")),
            ("title", json!("Inscription")),
        ],
    );
    let offline_visit = add(
        &mut c.file,
        "visit",
        &[
            ("occurred_at", json!("2026-11-20T10:00:00+01:00")),
            ("setting", json!("care_centre")),
            (
                "person_ids",
                json!([file.person.to_string(), file.other.to_string()]),
            ),
        ],
    );

    // A counsellor may not erase; the coordinator first sees what will go.
    assert!(b.file.erase_person(file.person, false).is_err());
    let preview = a.file.erase_person(file.person, true).unwrap();
    assert!(preview.dry_run);
    let erased: Vec<RecordId> = preview.erased.iter().map(|r| r.id).collect();
    for id in file.theirs.iter().chain([&file.person]) {
        assert!(
            erased.contains(id),
            "the dry run names {id} among what goes"
        );
    }
    assert!(preview.kept.iter().any(|r| r.id == file.shared_visit));
    a.sync();
    assert!(a.file.get(file.person).is_ok(), "a dry run changes nothing");
    let done = a.file.erase_person(file.person, false).unwrap();
    assert!(!done.dry_run);
    assert_eq!(done.erased.len(), preview.erased.len());

    // Every device syncs, the offline one last: its edits are absorbed on arrival.
    settle(&mut [&mut a, &mut b, &mut c]);
    assert!(
        c.file.get(offline_step).is_err(),
        "the step created offline is erased"
    );
    assert_eq!(
        c.file.get(offline_visit).unwrap().value("person_ids"),
        Some(&json!([file.other.to_string()])),
        "the visit created offline keeps the other person"
    );
    // A device confirms what it pulled at its next pull: one more round, and the server
    // knows that every device dropped the erased records.
    for device in [&mut a, &mut b, &mut c] {
        device.sync();
    }
    nothing_left(&server, &[&a, &b, &c], &file, "after the erasure");

    // The server's database goes back to the backup taken before the erasure.
    let db = server.kill();
    db.empty_again();
    db.cli(&["restore", "--from", backup.to_str().unwrap()], "");
    let server = Server::start_on(db);
    for device in [&mut a, &mut b, &mut c] {
        device
            .file
            .set_setting("sync.server_url", &server.url)
            .unwrap();
    }
    let mut fresh = Device::enrolled("enrolled after the restore", &server, &counsellor);
    settle(&mut [&mut a, &mut b, &mut c, &mut fresh]);
    for device in [&mut a, &mut b, &mut c, &mut fresh] {
        device.sync();
    }
    nothing_left(&server, &[&a, &b, &c, &fresh], &file, "after the restore");
}

#[test]
fn erasure_reaches_everything_sqlite() {
    erasure_reaches_everything(Backend::Sqlite);
}

#[test]
fn erasure_reaches_everything_postgres() {
    erasure_reaches_everything(Backend::Postgres);
}
