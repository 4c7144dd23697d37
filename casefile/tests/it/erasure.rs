//! Erasing a person (SYNC-PROTOCOL.md §5) as the devices see it: what a pulled erasure
//! leaves in a case file (nothing of the person, not even their id), and a coordinator's
//! erasure over HTTP against the real server, from the library (the command line's is
//! tested in `passerelle-cli`).

use std::collections::BTreeSet;

use casefile::sync_protocol::{FieldName, Kind, RecordId, RecordState};
use casefile::{CaseFile, Error, SyncError};
use passerelle_test_support::{Backend, Device, Server, backends};
use serde_json::{Value, json};

use crate::common::{PASS, at, fields, foreign, fresh, other_replica, raw, site};

/// The family name of the person erased: found nowhere else.
const FAMILY: &str = "Zqxwvyțescu";
/// Their social security number.
const SSN: &str = "2 91 05 75 118 423 07";
/// The passphrase of the test support's devices.
const DEVICE_PASS: &str = "phrase de passe";

/// Every table of the case file at `path` (all of `sqlite_master`), every column of every
/// row as text, one line per row.
fn dump(path: &std::path::Path, passphrase: &str) -> String {
    let conn = raw(path, passphrase);
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert!(
        tables.iter().any(|t| t == "records") && tables.iter().any(|t| t == "person_terms"),
        "expected the case file's tables, got {tables:?}"
    );
    let mut out = String::new();
    for table in tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let columns = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            out.push_str(&table);
            for i in 0..columns {
                out.push('|');
                match row.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Null => {}
                    rusqlite::types::ValueRef::Integer(n) => out.push_str(&n.to_string()),
                    rusqlite::types::ValueRef::Real(x) => out.push_str(&x.to_string()),
                    rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                        out.push_str(&String::from_utf8_lossy(t));
                    }
                }
            }
            out.push('\n');
        }
    }
    out
}

/// Asserts that no table of the case file holds any of `ids`, the family name (as
/// written, or folded as the search keeps it) or the social security number.
fn assert_forgotten(name: &str, path: &std::path::Path, passphrase: &str, ids: &[RecordId]) {
    let dump = dump(path, passphrase);
    for id in ids {
        assert!(
            !dump.contains(&id.to_string()),
            "{name}: no table may hold the erased id {id}"
        );
    }
    for word in casefile::fold::words(FAMILY)
        .into_iter()
        .chain([FAMILY.to_owned(), SSN.to_owned()])
    {
        assert!(
            !dump.contains(&word),
            "{name}: no table may hold {word:?} of the erased person"
        );
    }
}

fn create(file: &mut CaseFile, kind: &str, pairs: &[(&str, Value)]) -> RecordId {
    file.create(kind, fields(pairs))
        .unwrap_or_else(|e| panic!("expected a {kind} to be created: {e}"))
}

/// A person's file: everything the issue names, and a visit shared with another person.
struct PersonFile {
    p: RecordId,
    q: RecordId,
    /// The records about `p` alone (`p` included) and the visit that met only them.
    alone: Vec<RecordId>,
    shared_visit: RecordId,
}

const OBSERVATIONS: &str = "Échange collectif sur la scolarité des enfants";

fn person_file(file: &mut CaseFile) -> PersonFile {
    let camp = site(file, "Camp des Près");
    let p = create(
        file,
        "person",
        &[
            ("family_name", json!(FAMILY)),
            ("given_names", json!("Ionela")),
            ("phone", json!("06 98 76 54 32")),
        ],
    );
    let q = create(
        file,
        "person",
        &[
            ("family_name", json!("Petrova")),
            ("given_names", json!("Desislava")),
        ],
    );
    let person = json!(p.to_string());
    let mut alone = vec![
        p,
        create(
            file,
            "situation",
            &[
                ("person_id", person.clone()),
                ("social_security_number", json!(SSN)),
            ],
        ),
        create(
            file,
            "stay",
            &[
                ("person_id", person.clone()),
                ("site_id", json!(camp.to_string())),
                ("from_on", json!("2026-03-01")),
            ],
        ),
        create(
            file,
            "step",
            &[
                ("person_id", person.clone()),
                ("category", json!("documents")),
                ("title", json!("Renouveler la carte d'identité")),
            ],
        ),
        create(
            file,
            "employment",
            &[
                ("person_id", person.clone()),
                ("employer", json!("Maraîchage du Nord")),
            ],
        ),
        create(
            file,
            "training",
            &[
                ("person_id", person.clone()),
                ("title", json!("Français langue étrangère")),
            ],
        ),
        create(
            file,
            "referral",
            &[("person_id", person.clone()), ("to_service", json!("CCAS"))],
        ),
    ];
    alone.push(create(
        file,
        "visit",
        &[
            ("occurred_at", json!("2026-11-02T10:00:00+01:00")),
            ("setting", json!("home_visit")),
            ("person_ids", json!([p.to_string()])),
            ("observations", json!("Entretien individuel")),
        ],
    ));
    let shared_visit = create(
        file,
        "visit",
        &[
            ("occurred_at", json!("2026-11-03T10:00:00+01:00")),
            ("setting", json!("home_visit")),
            ("person_ids", json!([p.to_string(), q.to_string()])),
            ("observations", json!(OBSERVATIONS)),
        ],
    );
    PersonFile {
        p,
        q,
        alone,
        shared_visit,
    }
}

/// A server, an organisation, and two devices: A of a coordinator, B of a counsellor.
fn team(backend: Backend) -> (Server, Device, Device) {
    let server = Server::start(backend);
    let (org, coordinator) = server.new_org();
    let counsellor = format!("{coordinator}_counsellor");
    server.add_user(&org, &counsellor, "counsellor");
    let a = Device::enrolled("A", &server, &coordinator);
    let b = Device::enrolled("B", &server, &counsellor);
    (server, a, b)
}

fn ids(records: &[casefile::sync_protocol::wire::TouchedRecord]) -> BTreeSet<RecordId> {
    records.iter().map(|r| r.id).collect()
}

/// The scenario: a person with a whole file, a device offline with an edit of
/// them and a new step for them; the coordinator erases them; after syncs, no table of
/// either device holds their id, name or social security number, and the visit shared
/// with another person keeps that person and its observations.
fn erasure_reaches_every_table_of_every_device(backend: Backend) {
    let (_server, mut a, mut b) = team(backend);
    let file = person_file(&mut a.file);
    a.sync();
    b.sync();
    assert!(b.file.get(file.p).is_ok(), "B received the person");

    // B, offline: a new step for the person, an edit of them, and a visit with both.
    let person = json!(file.p.to_string());
    let offline_step = create(
        &mut b.file,
        "step",
        &[
            ("person_id", person.clone()),
            ("category", json!("health")),
            ("title", json!("Rendez-vous PMI")),
        ],
    );
    b.file
        .edit(file.p, fields(&[("notes", json!("vue au centre de jour"))]))
        .unwrap();
    let offline_visit = create(
        &mut b.file,
        "visit",
        &[
            ("occurred_at", json!("2026-11-04T10:00:00+01:00")),
            ("setting", json!("care_centre")),
            (
                "person_ids",
                json!([file.p.to_string(), file.q.to_string()]),
            ),
            ("observations", json!("Accompagnement à la PMI")),
        ],
    );

    // A dry run first: it names what would go, and changes nothing.
    let dry = a.file.erase_person(file.p, true).unwrap();
    assert!(dry.dry_run, "the answer says it was a dry run: {dry:?}");
    let expected: BTreeSet<RecordId> = file.alone.iter().copied().collect();
    assert_eq!(
        ids(&dry.erased),
        expected,
        "the dry run names the person, every record about them alone and the visit that \
         met only them"
    );
    assert_eq!(
        ids(&dry.kept),
        BTreeSet::from([file.shared_visit]),
        "the dry run names the shared visit as kept"
    );
    assert_eq!(
        a.sync().pulled,
        0,
        "a dry run changes nothing on the server"
    );
    assert!(
        a.file.get(file.p).is_ok(),
        "after a dry run the person stays"
    );

    let done = a.file.erase_person(file.p, false).unwrap();
    assert!(!done.dry_run, "the erasure is real: {done:?}");
    assert_eq!(
        ids(&done.erased),
        expected,
        "the erasure erased what the dry run named"
    );
    assert!(
        done.server_seq > dry.server_seq,
        "the erasure is stored: the sequence moves from {} to {}",
        dry.server_seq,
        done.server_seq
    );

    a.sync();
    b.sync();
    b.sync();
    a.sync();

    let mut gone = file.alone.clone();
    gone.push(offline_step);
    for device in [&a, &b] {
        let name = &device.name;
        for id in &gone {
            assert!(
                matches!(device.file.get(*id), Err(Error::NotFound(_))),
                "{name}: the erased record {id} must be gone"
            );
        }
        assert!(
            device
                .file
                .all_states()
                .unwrap()
                .iter()
                .all(|s| !gone.contains(&s.id())),
            "{name}: no erased record is held, not even as a tombstone"
        );
        assert!(
            device.file.search("zqxw", 10).unwrap().is_empty()
                && device.file.search("Ionela", 10).unwrap().is_empty()
                && device.file.search("0698765432", 10).unwrap().is_empty(),
            "{name}: the search finds nothing of the erased person"
        );
        assert!(
            device.file.get(file.q).is_ok(),
            "{name}: the other person stays"
        );
        let shared = device.file.get(file.shared_visit).unwrap();
        assert_eq!(
            shared.value("person_ids"),
            Some(&json!([file.q.to_string()])),
            "{name}: the shared visit keeps the other person, and only them"
        );
        assert_eq!(
            shared.value("observations"),
            Some(&json!(OBSERVATIONS)),
            "{name}: the shared visit keeps its observations"
        );
        let offline = device.file.get(offline_visit).unwrap();
        assert_eq!(
            offline.value("person_ids"),
            Some(&json!([file.q.to_string()])),
            "{name}: the visit B made offline keeps the other person only"
        );
        let conflicts = device.file.conflicts().unwrap();
        assert!(
            conflicts.iter().all(|c| !gone.contains(&c.id)),
            "{name}: no conflict names an erased record: {conflicts:?}"
        );
        let set_aside = device.file.set_aside().unwrap();
        assert!(
            set_aside.is_empty(),
            "{name}: nothing is set aside: {set_aside:?}"
        );
        assert_forgotten(name, device.file.path(), DEVICE_PASS, &gone);
    }
    assert_eq!(a.states(), b.states(), "A and B converge");
}

backends!(erasure_reaches_every_table_of_every_device);

/// A counsellor may not erase: the server answers 403, the device says only a
/// coordinator may, and nothing changes. An unknown person is a 404.
#[test]
fn a_counsellor_may_not_erase_and_an_unknown_person_is_not_found() {
    let (_server, mut a, mut b) = team(Backend::Sqlite);
    let file = person_file(&mut a.file);
    a.sync();
    b.sync();
    let refused = b.file.erase_person(file.p, false).unwrap_err();
    assert!(
        matches!(refused, SyncError::Forbidden),
        "a counsellor's erasure is forbidden, got {refused:?}"
    );
    assert!(
        refused.to_string().contains("only a coordinator"),
        "the message says who may: {refused}"
    );
    assert!(
        matches!(b.file.erase_record(file.p), Err(SyncError::Forbidden)),
        "so is a counsellor's erasure of one record"
    );
    assert_eq!(b.sync().pulled, 0, "nothing changed on the server");
    assert!(b.file.get(file.p).is_ok(), "the person stays on B");
    let dry = a.file.erase_person(file.p, true).unwrap();
    assert!(
        ids(&dry.erased).contains(&file.p),
        "the server still holds the person: {dry:?}"
    );

    let unknown: RecordId = "0190a000-0000-7000-8000-00000000dead".parse().unwrap();
    let missing = a.file.erase_person(unknown, true).unwrap_err();
    assert!(
        matches!(missing, SyncError::NotFound),
        "an id the organisation does not hold is not found, got {missing:?}"
    );
    assert!(
        !missing.to_string().contains(&unknown.to_string()),
        "the message names no id: {missing}"
    );
}

/// A state of `kind` made on another replica, with `id`.
fn foreign_with_id(id: RecordId, kind: &str, pairs: &[(&str, Value)]) -> RecordState {
    RecordState::create(
        id,
        kind.parse::<Kind>().unwrap(),
        other_replica(),
        at(),
        pairs
            .iter()
            .map(|(k, v)| (k.parse::<FieldName>().unwrap(), v.clone())),
    )
    .unwrap()
}

/// Without a server: a pulled erased person takes with it the local records about them
/// alone, of any kind, pushed or not, in the page's transaction, and leaves the shared
/// ones to the server's edit; nothing of them is left in any table.
#[test]
fn a_pulled_erasure_takes_what_is_about_the_person_alone() {
    let (dir, mut file) = fresh();
    let person = foreign(
        "person",
        &[
            ("family_name", json!(FAMILY)),
            ("phone", json!("0698765432")),
        ],
    );
    let p = json!(person.id().to_string());
    let other = foreign("person", &[("family_name", json!("Petrova"))]);
    let pulled_step = foreign(
        "step",
        &[
            ("person_id", p.clone()),
            ("category", json!("documents")),
            ("title", json!("CV")),
        ],
    );
    let mark = foreign("duplicate", &[("other_person_id", p.clone())]);
    let shared = foreign(
        "visit",
        &[
            ("occurred_at", json!("2026-11-03T10:00:00+01:00")),
            ("setting", json!("home_visit")),
            ("person_ids", json!([p.clone(), other.id().to_string()])),
        ],
    );
    file.apply_pulled(
        &[
            person.clone(),
            other.clone(),
            pulled_step.clone(),
            mark.clone(),
            shared.clone(),
        ],
        1,
    )
    .unwrap();
    let local_situation = create(
        &mut file,
        "situation",
        &[
            ("person_id", p.clone()),
            ("social_security_number", json!(SSN)),
        ],
    );
    file.edit(person.id(), fields(&[("notes", json!("vue hier"))]))
        .unwrap();

    let applied = file.apply_pulled(&[person.erase()], 2).unwrap();
    assert_eq!(
        (applied.erased, applied.changed),
        (4, 4),
        "the person, the pulled step, the duplicate mark and the local situation go: {applied:?}"
    );
    assert_eq!(file.pull_checkpoint().unwrap(), 2, "the page is applied");
    let gone = [person.id(), pulled_step.id(), mark.id(), local_situation];
    for id in gone {
        assert!(
            matches!(file.get(id), Err(Error::NotFound(_))),
            "{id} is about the erased person alone: it must be gone"
        );
    }
    assert!(
        file.pending_push(100)
            .unwrap()
            .iter()
            .all(|pending| !gone.contains(&pending.state.id())),
        "nothing erased waits to be pushed"
    );
    assert!(
        file.create(
            "step",
            fields(&[
                ("person_id", p.clone()),
                ("category", json!("health")),
                ("title", json!("PMI")),
            ]),
        )
        .is_err(),
        "no new record may name the erased person"
    );
    assert!(
        matches!(
            file.edit(person.id(), fields(&[("notes", json!("x"))])),
            Err(Error::NotFound(_))
        ),
        "the erased person cannot be edited back into being"
    );
    assert!(file.get(other.id()).is_ok(), "the other person stays");
    assert!(
        file.get(shared.id()).is_ok(),
        "the shared visit waits for the server's edit"
    );

    // The server's edit of the shared visit arrives: the id is then nowhere.
    let mut edited = shared.clone();
    edited
        .edit(
            "00000000-0000-7000-8000-0000000000ee".parse().unwrap(),
            at(),
            [(
                "person_ids".parse().unwrap(),
                json!([other.id().to_string()]),
            )],
        )
        .unwrap();
    file.apply_pulled(&[edited, pulled_step.erase()], 3)
        .unwrap();
    drop(file);
    assert_forgotten("the case file", &crate::common::db_path(&dir), PASS, &gone);
}

/// An erased row kept by an earlier version is deleted by a rebuild, and by a pull of
/// the same erasure.
#[test]
fn an_erased_row_of_an_earlier_version_goes_at_rebuild() {
    let (dir, mut file) = fresh();
    let id: RecordId = "0190a000-0000-7000-8000-00000000beef".parse().unwrap();
    let erased = foreign_with_id(id, "person", &[("family_name", json!(FAMILY))]).erase();
    let path = crate::common::db_path(&dir);
    let conn = raw(&path, PASS);
    conn.execute(
        "INSERT INTO records (id, kind, state, deleted, erased, conflicted)
         VALUES (?1, 'person', ?2, 0, 1, 0)",
        [id.to_string(), erased.to_json()],
    )
    .unwrap();
    drop(conn);
    assert!(
        file.all_states().unwrap().iter().any(|s| s.id() == id),
        "the old tombstone is there to start with"
    );
    file.rebuild().unwrap();
    assert!(
        file.all_states().unwrap().is_empty(),
        "a rebuild deletes the erased row"
    );
    drop(file);
    assert_forgotten("the rebuilt case file", &path, PASS, &[id]);
}

/// A case file of version 3 kept a row for each erased record, its id in clear, and
/// may hold rows keyed by it elsewhere: the upgrade deletes them all, keeps everything
/// else, and leaves nothing of them in the WAL.
#[test]
fn an_erased_row_of_version_3_goes_at_upgrade() {
    let (dir, mut file) = fresh();
    let kept = create(&mut file, "person", &[("family_name", json!("Munteanu"))]);
    drop(file);
    let path = crate::common::db_path(&dir);
    let person: RecordId = "0190a000-0000-7000-8000-00000000beef".parse().unwrap();
    let visit: RecordId = "0190a000-0000-7000-8000-00000000cafe".parse().unwrap();
    let conn = raw(&path, PASS);
    for (id, kind, pairs) in [
        (person, "person", vec![("family_name", json!(FAMILY))]),
        (
            visit,
            "visit",
            vec![("person_ids", json!([person.to_string(), kept.to_string()]))],
        ),
    ] {
        let erased = foreign_with_id(id, kind, &pairs).erase();
        conn.execute(
            "INSERT INTO records (id, kind, state, deleted, erased, conflicted)
             VALUES (?1, ?2, ?3, 0, 1, 0)",
            [id.to_string(), kind.to_owned(), erased.to_json()],
        )
        .unwrap();
    }
    // Rows keyed by the erased ids, as a version 3 file may hold them.
    let p = person.to_string();
    let v = visit.to_string();
    let mut traces = vec![
        format!("INSERT INTO person (id, family_name) VALUES ('{p}', '{FAMILY}')"),
        format!("INSERT INTO visit (id, person_ids) VALUES ('{v}', '[\"{p}\"]')"),
        format!("INSERT INTO visit_person (visit_id, person_id) VALUES ('{v}', '{kept}')"),
        format!("INSERT INTO visit_person (visit_id, person_id) VALUES ('{v}', '{p}')"),
        format!(
            "INSERT INTO set_aside (id, side, kind, why, message, state, at)
             VALUES ('{p}', 'pull', 'person', 'invalid_record', 'set aside', '{{}}',
                     '2026-11-02T10:00:00Z')"
        ),
        format!("INSERT INTO rekey_done (id) VALUES ('{p}'), ('{v}')"),
    ];
    for word in casefile::fold::words(FAMILY) {
        traces.push(format!(
            "INSERT INTO person_terms (term, person_id, field) VALUES ('{word}', '{p}', 0)"
        ));
    }
    for sql in &traces {
        conn.execute(sql, []).unwrap();
    }
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
    assert!(
        dump(&path, PASS).contains(&p),
        "the version 3 file holds the erased id to start with"
    );

    let file = CaseFile::open(&path, PASS).unwrap();
    assert_eq!(file.schema_version().unwrap(), casefile::SCHEMA_VERSION);
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let wal_len = std::fs::metadata(std::path::PathBuf::from(wal)).map_or(0, |m| m.len());
    assert_eq!(wal_len, 0, "the upgrade checkpoints and truncates the WAL");
    let states: Vec<RecordId> = file.all_states().unwrap().iter().map(|s| s.id()).collect();
    assert_eq!(states, vec![kept], "only the live person is left");
    assert_eq!(
        file.search("Munteanu", 10).unwrap().len(),
        1,
        "the live person is still found"
    );
    drop(file);
    assert_forgotten("the upgraded case file", &path, PASS, &[person, visit]);
}
