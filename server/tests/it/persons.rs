//! A person's erasure (§5, §6a, §7 `person erase`, `retention`): `POST /v1/persons/erase`,
//! what it leaves in every table, the journal and the SQLite files once the devices have
//! synced (sealing), offline pushes that name the erased person, a restore from a backup
//! taken before the erasure, and the command line.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{Answer, Backend, Client, Database, Server, Setup, new_id, state};
use crate::on_both_backends;

on_both_backends!(
    a_persons_erasure_leaves_nothing_of_them_once_devices_synced,
    an_offline_device_naming_the_erased_person_is_absorbed,
    a_backup_from_before_the_erasure_does_not_bring_the_person_back,
    person_erase_and_retention_on_the_command_line,
);

/// The erased person's family name: no table, file or journal may hold it afterwards.
const FAMILY_NAME: &str = "Zqxwvyescu";
/// Their social security number, in their situation.
const SSN: &str = "2 84 07 59 123 456 78";

/// The records of a person P and of another person Q, as a counsellor's device pushed
/// them (one edit of `replica` each).
struct Family {
    p: String,
    q: String,
    household: String,
    /// Every record about P alone (P included), and the visit that met only P.
    about_p: BTreeSet<String>,
    /// The visit P shared with Q.
    shared: String,
    /// Q's own step.
    q_step: String,
    states: Vec<Value>,
}

impl Family {
    fn new(replica: &str) -> Self {
        let (p, q, household, site) = (new_id(), new_id(), new_id(), new_id());
        let mut states = vec![
            state(
                &household,
                "household",
                replica,
                1,
                json!({"name": "Ménage du terrain nord", "notes": "Trois enfants, suivi CCAS"}),
            ),
            state(&site, "site", replica, 1, json!({"name": "Les Près"})),
            state(
                &q,
                "person",
                replica,
                1,
                json!({"family_name": "Dobrev", "given_names": "Elena"}),
            ),
        ];
        let mut about_p = BTreeSet::new();
        let mut add = |states: &mut Vec<Value>, id: String, kind: &str, fields: Value| {
            states.push(state(&id, kind, replica, 1, fields));
            about_p.insert(id);
        };
        add(
            &mut states,
            p.clone(),
            "person",
            json!({"family_name": FAMILY_NAME, "given_names": "Ionela",
                   "household_id": household, "site_id": site}),
        );
        add(
            &mut states,
            new_id(),
            "situation",
            json!({"person_id": p, "social_security_number": SSN, "health_cover": "puma"}),
        );
        for from in ["2024-03-01", "2025-06-15"] {
            add(
                &mut states,
                new_id(),
                "stay",
                json!({"person_id": p, "site_id": site, "from_on": from}),
            );
        }
        add(
            &mut states,
            new_id(),
            "step",
            json!({"person_id": p, "title": "Inscription France Travail"}),
        );
        add(
            &mut states,
            new_id(),
            "employment",
            json!({"person_id": p, "employer": "Boulangerie du centre", "contract": "cdd"}),
        );
        add(
            &mut states,
            new_id(),
            "training",
            json!({"person_id": p, "title": "Français langue étrangère"}),
        );
        add(
            &mut states,
            new_id(),
            "referral",
            json!({"person_id": p, "to_service": "CCAS", "constraint": "documents"}),
        );
        add(
            &mut states,
            new_id(),
            "visit",
            json!({"person_ids": [p], "observations": "Entretien individuel au bureau"}),
        );
        let shared = new_id();
        states.push(state(
            &shared,
            "visit",
            replica,
            1,
            json!({"person_ids": [p, q], "observations": "Visite commune au terrain",
                   "setting": "home_visit"}),
        ));
        let q_step = new_id();
        states.push(state(
            &q_step,
            "step",
            replica,
            1,
            json!({"person_id": q, "title": "CV"}),
        ));
        Self {
            p,
            q,
            household,
            about_p,
            shared,
            q_step,
            states,
        }
    }

    /// The texts no table, file or journal may hold once P is erased and devices synced.
    fn secrets(&self) -> [&str; 3] {
        [&self.p, FAMILY_NAME, SSN]
    }
}

async fn erase_person(client: &Client, id: &str, dry_run: bool) -> Answer {
    Client::send(
        client
            .request(Method::POST, "/v1/persons/erase")
            .json(&json!({"id": id, "dry_run": dry_run})),
    )
    .await
}

/// The ids of an answer's list (`erased` or `kept`).
fn ids(list: &Value) -> BTreeSet<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The `reread` fields of the record `id` in an answer's `kept`.
fn reread(answer: &Value, id: &str) -> Vec<String> {
    let kept = answer["kept"].as_array().unwrap();
    let touched = kept
        .iter()
        .find(|t| t["id"] == json!(id))
        .unwrap_or_else(|| panic!("{id} is listed in kept: {answer}"));
    touched["reread"]
        .as_array()
        .map(|fields| {
            fields
                .iter()
                .map(|f| f.as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Pulls from the device's checkpoint `since` to the end, then once more from there: the
/// second pull confirms that the device committed everything (its `since`), which lets
/// the server seal tombstones. Answers the device's new checkpoint. (A device pulls from
/// its checkpoint: a pull below what it confirmed is answered 409 `checkpoint_ahead`.)
async fn sync_twice(client: &Client, since: u64) -> u64 {
    let (_, next) = client.pull_all(since, 1000).await;
    client.pull(next, None).await.expect_ok();
    let (_, again) = client.pull_all(next, 1000).await;
    client.pull(again, None).await.expect_ok();
    again
}

/// Every row of every table of the database, as text (blobs also in hex).
async fn dump(db: &Database) -> String {
    match db.url.strip_prefix("sqlite:") {
        Some(path) => dump_sqlite(Path::new(path)),
        None => dump_postgres(&db.url).await,
    }
}

fn dump_sqlite(path: &Path) -> String {
    use rusqlite::types::ValueRef;
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(tables.iter().any(|t| t == "erased"), "{tables:?}");
    let mut out = String::new();
    for table in tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let width = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            out.push_str(&table);
            for i in 0..width {
                out.push('|');
                match row.get_ref(i).unwrap() {
                    ValueRef::Null => out.push_str("NULL"),
                    ValueRef::Integer(n) => out.push_str(&n.to_string()),
                    ValueRef::Real(x) => out.push_str(&x.to_string()),
                    ValueRef::Text(t) => out.push_str(&String::from_utf8_lossy(t)),
                    ValueRef::Blob(b) => {
                        out.push_str(&String::from_utf8_lossy(b));
                        out.push('|');
                        out.extend(b.iter().map(|byte| format!("{byte:02x}")));
                    }
                }
            }
            out.push('\n');
        }
    }
    out
}

async fn dump_postgres(url: &str) -> String {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let tables: Vec<String> = client
        .query(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(tables.iter().any(|t| t == "erased"), "{tables:?}");
    let mut out = String::new();
    for table in tables {
        for row in client
            .query(&format!("SELECT t::text FROM \"{table}\" AS t"), &[])
            .await
            .unwrap()
        {
            out.push_str(&table);
            out.push('|');
            out.push_str(row.get(0));
            out.push('\n');
        }
    }
    out
}

/// The SQLite database's own files (the database and its WAL), when it is SQLite.
fn sqlite_files(db: &Database) -> Vec<PathBuf> {
    let Some(path) = db.url.strip_prefix("sqlite:") else {
        return Vec::new();
    };
    ["", "-wal"]
        .iter()
        .map(|suffix| PathBuf::from(format!("{path}{suffix}")))
        .filter(|p| p.exists())
        .collect()
}

/// Asserts that no table, no byte of the SQLite files and no line of the journal holds
/// any of `secrets`, and that the tables still hold each of `kept`.
async fn assert_forgotten(db: &Database, journal: &Path, secrets: &[&str], kept: &[&str]) {
    let tables = dump(db).await;
    for secret in secrets {
        let line = tables.lines().find(|l| l.contains(secret));
        assert!(
            line.is_none(),
            "no table may hold {secret:?} once the devices synced; found: {line:?}"
        );
    }
    for id in kept {
        assert!(
            tables.contains(id),
            "the tables still hold what was kept ({id})"
        );
    }
    for file in sqlite_files(db) {
        let bytes = std::fs::read(&file).unwrap();
        for secret in secrets {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "no byte of {} may hold {secret:?}",
                file.display()
            );
        }
    }
    let text = std::fs::read_to_string(journal).unwrap_or_default();
    for secret in secrets {
        assert!(
            !text.contains(secret),
            "the journal may not hold {secret:?}: {text}"
        );
    }
}

/// The pulled state of `id`, which must be there.
fn pulled<'a>(states: &'a [Value], id: &str) -> &'a Value {
    states
        .iter()
        .rev()
        .find(|s| s["id"] == json!(id))
        .unwrap_or_else(|| panic!("expected {id} among the pulled states"))
}

async fn a_persons_erasure_leaves_nothing_of_them_once_devices_synced(backend: Backend) {
    let setup = Setup::new(backend);
    let marie = setup.client().enrolled("marie").await;
    let claire = setup.client().enrolled("claire").await;
    let family = Family::new(marie.device());
    marie.push(&family.states).await.expect_ok();
    let (_, before) = claire.pull_all(0, 1000).await;

    // A dry run lists everything and changes nothing.
    let dry = erase_person(&claire, &family.p, true).await;
    let dry = dry.expect_ok().clone();
    assert_eq!(dry["dry_run"], json!(true));
    assert_eq!(dry["server_seq"], json!(before), "a dry run writes nothing");
    assert_eq!(ids(&dry["erased"]), family.about_p, "{dry}");
    assert_eq!(
        ids(&dry["kept"]),
        BTreeSet::from([family.shared.clone(), family.household.clone()])
    );
    let (after_dry, next) = claire.pull_all(before, 1000).await;
    assert!(
        after_dry.is_empty() && next == before,
        "nothing changed: {after_dry:?}"
    );

    // Coordinators only; a person of the organisation only.
    erase_person(&marie, &family.p, false)
        .await
        .expect_error(403, "forbidden");
    erase_person(&claire, &new_id(), false)
        .await
        .expect_error(404, "not_found");
    erase_person(&claire, &family.q_step, false)
        .await
        .expect_error(404, "not_found");

    let answer = erase_person(&claire, &family.p, false).await;
    let answer = answer.expect_ok().clone();
    assert_eq!(answer["dry_run"], json!(false));
    assert_eq!(ids(&answer["erased"]), family.about_p, "{answer}");
    assert_eq!(
        ids(&answer["kept"]),
        BTreeSet::from([family.shared.clone(), family.household.clone()])
    );
    assert_eq!(reread(&answer, &family.shared), ["observations"]);
    assert_eq!(reread(&answer, &family.household), ["name", "notes"]);
    let erased_count = family.about_p.len() as u64;
    assert_eq!(
        answer["server_seq"],
        json!(before + erased_count + 1),
        "one sequence per record erased or edited"
    );
    let again = erase_person(&claire, &family.p, false).await;
    let again = again.expect_ok();
    assert_eq!(
        (
            ids(&again["erased"]),
            ids(&again["kept"]),
            &again["server_seq"]
        ),
        (BTreeSet::new(), BTreeSet::new(), &answer["server_seq"]),
        "erased already, and everything about them: nothing more to do, nothing listed"
    );

    let (states, marie_at) = marie.pull_all(0, 1000).await;
    for id in &family.about_p {
        let tombstone = pulled(&states, id);
        assert_eq!(tombstone["erased"], json!(true), "{tombstone}");
        assert_eq!(tombstone["fields"], json!({}), "{tombstone}");
    }
    let shared = pulled(&states, &family.shared);
    assert_eq!(
        shared["fields"]["person_ids"][0]["value"],
        json!([family.q]),
        "the shared visit keeps Q alone: {shared}"
    );
    assert_eq!(
        shared["fields"]["observations"][0]["value"],
        json!("Visite commune au terrain")
    );

    sync_twice(&marie, marie_at).await;
    let (_, claire_at) = claire.pull_all(before, 1000).await;
    sync_twice(&claire, claire_at).await;
    assert_forgotten(
        &setup.db,
        &setup.db.journal(),
        &family.secrets(),
        &[&family.q, &family.shared, &family.household],
    )
    .await;
    let journal = std::fs::read_to_string(setup.db.journal()).unwrap();
    assert!(
        journal.contains("\"entry\":\"erased\"") && journal.contains("\"entry\":\"edited\""),
        "the journal keeps the erasures and the server's edit: {journal}"
    );
}

async fn an_offline_device_naming_the_erased_person_is_absorbed(backend: Backend) {
    let setup = Setup::new(backend);
    let marie = setup.client().enrolled("marie").await;
    let claire = setup.client().enrolled("claire").await;
    let family = Family::new(marie.device());
    marie.push(&family.states).await.expect_ok();
    erase_person(&claire, &family.p, false).await.expect_ok();
    // Claire syncs; Marie's laptop is offline, then syncs too, but pushes first what she
    // wrote meanwhile. Before that, both confirmed: the tombstones are sealed.
    let claire_at = sync_twice(&claire, 0).await;
    let marie_at = sync_twice(&marie, 0).await;
    assert_forgotten(&setup.db, &setup.db.journal(), &family.secrets(), &[]).await;

    let p_state = family
        .states
        .iter()
        .find(|s| s["id"] == json!(family.p))
        .unwrap();
    let mut edited = p_state.clone();
    edited["vv"][marie.device()] = json!(2);
    edited["fields"]["phone"] =
        json!([{"dot": [marie.device(), 2], "at": "2026-11-02T10:14:00Z", "value": "0600"}]);
    let new_step = new_id();
    let new_visit = new_id();
    let offline = [
        edited,
        state(
            &new_step,
            "step",
            marie.device(),
            1,
            json!({"person_id": family.p, "title": "Rendez-vous CAF"}),
        ),
        state(
            &new_visit,
            "visit",
            marie.device(),
            1,
            json!({"person_ids": [family.p, family.q], "observations": "Revus ensemble"}),
        ),
    ];
    let answer = marie.push(&offline).await;
    let results = answer.expect_ok()["results"].as_array().unwrap().clone();
    assert_eq!(
        results
            .iter()
            .map(|r| r["status"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["merged", "merged", "created"],
        "absorbed, not stored as pushed: {answer:?}"
    );
    let (states, claire_at) = claire.pull_all(claire_at, 1000).await;
    for id in [&family.p, &new_step] {
        let tombstone = pulled(&states, id);
        assert_eq!(
            (&tombstone["erased"], &tombstone["fields"]),
            (&json!(true), &json!({})),
            "erased on arrival: {tombstone}"
        );
    }
    let visit = pulled(&states, &new_visit);
    assert_eq!(
        visit["fields"]["person_ids"][0]["value"],
        json!([family.q]),
        "P taken out by a server edit: {visit}"
    );
    let server_id = claire.health().await.body["server_id"].clone();
    assert_eq!(
        visit["fields"]["person_ids"][0]["dot"][0], server_id,
        "the server's own edit"
    );
    // Marie pulls the tombstones too (her push is not exactly what the server holds).
    let (hers, marie_at) = marie.pull_all(marie_at, 1000).await;
    assert!(
        hers.iter()
            .any(|s| s["id"] == json!(family.p) && s["erased"] == json!(true)),
        "Marie's device pulls the person's tombstone and drops the record"
    );
    sync_twice(&claire, claire_at).await;
    sync_twice(&marie, marie_at).await;
    assert_forgotten(
        &setup.db,
        &setup.db.journal(),
        &family.secrets(),
        &[&family.q, &new_visit],
    )
    .await;
}

/// Server arguments that keep the per-device rate limit out of the way.
const FAST: &[&str] = &["--rate-limit", "1000"];

async fn a_backup_from_before_the_erasure_does_not_bring_the_person_back(backend: Backend) {
    let mut setup = Setup::with_args(backend, FAST);
    let marie = setup.client().enrolled("marie").await;
    let claire = setup.client().enrolled("claire").await;
    let family = Family::new(marie.device());
    marie.push(&family.states).await.expect_ok();
    let backup = setup.db.dir.path().join("before.db");
    setup
        .db
        .cli_ok(&["backup", "--out", backup.to_str().unwrap()], "");
    erase_person(&claire, &family.p, false).await.expect_ok();
    setup.server.stop();

    let journal = setup.db.journal();
    let db = Database::new(backend);
    let out = db.cli_ok(
        &[
            "restore",
            "--from",
            backup.to_str().unwrap(),
            "--journal",
            journal.to_str().unwrap(),
        ],
        "",
    );
    let printed: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        printed["journal_applied"],
        json!(family.about_p.len() + 1),
        "every erasure and the shared visit's edit: {printed}"
    );
    let mut args = vec!["--journal", journal.to_str().unwrap()];
    args.extend(FAST);
    let server = Server::start(&db, &args);
    let (marie, claire) = (marie.on(&server), claire.on(&server));
    let served = claire.pull_all(0, 1000).await.0;
    for id in &family.about_p {
        let tombstone = pulled(&served, id);
        assert_eq!(
            (&tombstone["erased"], &tombstone["fields"]),
            (&json!(true), &json!({})),
            "only a tombstone comes back: {tombstone}"
        );
    }
    let shared = pulled(&served, &family.shared);
    assert_eq!(
        shared["fields"]["person_ids"][0]["value"],
        json!([family.q])
    );

    // The devices see the restore and recover: each pushes everything it holds, then
    // pulls from the start.
    let answer = marie.push(&family.states).await;
    answer.expect_ok();
    sync_twice(&marie, 0).await;
    sync_twice(&claire, 0).await;
    assert_forgotten(
        &db,
        &journal,
        &family.secrets(),
        &[&family.q, &family.shared],
    )
    .await;
}

async fn person_erase_and_retention_on_the_command_line(backend: Backend) {
    let setup = Setup::new(backend);
    let marie = setup.client().enrolled("marie").await;
    let (a, b, c, d) = (new_id(), new_id(), new_id(), new_id());
    let person = |id: &str, fields: Value| state(id, "person", marie.device(), 1, fields);
    let step = new_id();
    marie
        .push(&[
            person(&a, json!({"status": "closed", "closed_on": "2023-01-10"})),
            person(
                &b,
                json!({"status": "closed", "closed_on": "2024-06-01",
                       "keep_until": "2027-01-01", "keep_reason": "procédure en cours"}),
            ),
            person(&c, json!({"status": "closed", "closed_on": "2024-01-15"})),
            person(&d, json!({"status": "active"})),
            state(&step, "step", marie.device(), 1, json!({"person_id": a})),
        ])
        .await
        .expect_ok();
    let retention = || {
        let out = setup
            .db
            .cli_ok(&["retention", "--org", "nord", "--today", "2026-11-30"], "");
        out.lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        retention(),
        [
            json!({"id": a, "closed_on": "2023-01-10", "kept_until": "2025-01-10"}),
            json!({"id": c, "closed_on": "2024-01-15", "kept_until": "2026-01-15"}),
        ],
        "24 months by default; B is kept for a recorded reason; D is not closed"
    );
    let settings = sync_protocol::organisation::SETTINGS_ID.to_string();
    marie
        .push(&[state(
            &settings,
            "organisation",
            marie.device(),
            1,
            json!({"retention_months": 36}),
        )])
        .await
        .expect_ok();
    assert_eq!(
        retention(),
        [json!({"id": a, "closed_on": "2023-01-10", "kept_until": "2026-01-10"})],
        "36 months from the settings"
    );
    let bad = setup
        .db
        .cli(&["retention", "--org", "nord", "--today", "30/11/2026"], "");
    assert!(!bad.status.success(), "a date is YYYY-MM-DD");

    let (_, before) = marie.pull_all(0, 1000).await;
    let dry = setup
        .db
        .cli_ok(&["person", "erase", "--org", "nord", &a, "--dry-run"], "");
    let dry: Value = serde_json::from_str(dry.trim()).unwrap();
    assert_eq!(dry["dry_run"], json!(true));
    assert_eq!(
        ids(&dry["erased"]),
        BTreeSet::from([a.clone(), step.clone()])
    );
    assert_eq!(dry["server_seq"], json!(before));
    let done = setup
        .db
        .cli_ok(&["person", "erase", "--org", "nord", &a], "");
    let done: Value = serde_json::from_str(done.trim()).unwrap();
    assert_eq!(done["dry_run"], json!(false));
    assert_eq!(
        ids(&done["erased"]),
        BTreeSet::from([a.clone(), step.clone()])
    );
    assert_eq!(done["server_seq"], json!(before + 2));
    assert!(retention().is_empty(), "an erased person is past nothing");
    let again = setup
        .db
        .cli_ok(&["person", "erase", "--org", "nord", &a], "");
    let again: Value = serde_json::from_str(again.trim()).unwrap();
    assert_eq!(
        (ids(&again["erased"]), &again["server_seq"]),
        (BTreeSet::new(), &done["server_seq"]),
        "erased already: nothing more to do"
    );
    let never = new_id();
    for args in [
        ["person", "erase", "--org", "nord", never.as_str()],
        ["person", "erase", "--org", "sud", c.as_str()],
        ["person", "erase", "--org", "nord", step.as_str()],
    ] {
        let refused = setup.db.cli(&args, "");
        assert!(!refused.status.success(), "{args:?} erases nobody");
        let said = String::from_utf8_lossy(&refused.stderr);
        assert!(
            said.contains("check the id") && !said.contains(args[4]),
            "the message says what to do, without the id: {said}"
        );
    }
}
