//! Enrolment, sync, set-aside records, a revoked device and an erasure from the command
//! line, against the real server on SQLite and on PostgreSQL.

use std::collections::BTreeSet;
use std::process::Command;

use casefile::CaseFile;
use casefile::sync_protocol::RecordId;
use casefile::sync_protocol::wire::{ErasePersonResponse, TouchedRecord};
use passerelle_test_support::{Backend, Device, Server, backends};
use serde_json::{Value, json};

use crate::common::{PASS, cli, fields, ok};

/// The passphrase of the test support's devices.
const DEVICE_PASS: &str = "phrase de passe";

backends!(
    documents_on_the_command_line,
    sync_and_set_aside_on_the_command_line,
    a_revoked_device_destroys_its_case_file,
);

fn sync_and_set_aside_on_the_command_line(backend: Backend) {
    let server = Server::start(backend);
    let (_org, user) = server.new_org();
    let a = Device::enrolled("marie", &server, &user);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cli.db");
    ok(&path, PASS, &["init", "--insecure-kdf-for-tests"]);
    ok(
        &path,
        PASS,
        &[
            "enrol",
            "--server",
            &server.url,
            "--username",
            &user,
            "--device-name",
            "cli",
            "--code",
            &server.invite(&user),
        ],
    );
    let line = ok(&path, PASS, &["sync"]);
    let report: Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(
        report,
        json!({"pushed": 0, "pulled": 0, "conflicts": 0, "set_aside": 0, "documents": {"sent": 0, "received": 0, "waiting": 0}}),
        "the sync line of CLI.md"
    );
    assert_eq!(ok(&path, PASS, &["set-aside"]), "", "nothing set aside yet");

    let x = ok(
        &path,
        PASS,
        &[
            "add",
            "person",
            "--set",
            "family_name=Popa",
            "--set",
            "given_names=Ion",
        ],
    );
    let x = x.trim();
    let replica = a.file.replica_id().to_string();
    let (status, answer) = a.push_raw(
        &server.url,
        json!([{
            "id": x, "kind": "visit", "vv": {&replica: 1},
            "fields": {"purpose": [{"dot": [&replica, 1], "at": "2026-11-02T10:14:00Z", "value": "Suivi"}]}
        }]),
    );
    assert_eq!(status, 200, "{answer}");
    let out = cli(&path, PASS, &["sync"]);
    assert!(
        out.status.success(),
        "a sync that ran to its end exits 0, even with a record set aside: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report,
        json!({"pushed": 0, "pulled": 0, "conflicts": 0, "set_aside": 1,"documents": {"sent": 0, "received": 0, "waiting": 0}}),
        "{report}"
    );
    let lines = ok(&path, PASS, &["set-aside"]);
    let lines: Vec<Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "one line per record: {lines:?}");
    let mut keys: Vec<&str> = lines[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["id", "kind", "message", "why"], "{}", lines[0]);
    assert_eq!(lines[0]["id"], x);
    assert_eq!(lines[0]["kind"], "visit");
    assert_eq!(lines[0]["why"], "kind_clash");
    assert!(lines[0]["message"].as_str().unwrap().contains(x));
}

/// `passerelle-cli sync` on a revoked device destroys its case file: the key parameters,
/// the database, its WAL, and the exports folder beside it (SYNC-PROTOCOL.md §6).
fn a_revoked_device_destroys_its_case_file(backend: Backend) {
    let server = Server::start(backend);
    let (_org, user) = server.new_org();
    let mut a = Device::enrolled("marie", &server, &user);
    a.file
        .create("person", fields(&[("family_name", json!("Lăcătuș"))]))
        .unwrap();
    a.sync();
    let path = a.file.path().to_owned();
    let dir = path.parent().unwrap().to_owned();
    let exports = dir.join(casefile::EXPORTS_FOLDER);
    std::fs::create_dir_all(&exports).unwrap();
    std::fs::write(exports.join("fiche.pdf"), b"%PDF").unwrap();
    let sidecar = |suffix: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        std::path::PathBuf::from(name)
    };
    assert!(sidecar(".keyparams").exists() && path.exists());
    server.cli(&["device", "revoke", &a.file.replica_id().to_string()], "");

    let out = Command::new(env!("CARGO_BIN_EXE_passerelle-cli"))
        .args(["--case-file", path.to_str().unwrap(), "sync"])
        .env("PASSERELLE_PASSPHRASE", "phrase de passe")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("its case file was destroyed"),
        "the device says so: {stderr}"
    );
    for gone in [
        sidecar(".keyparams"),
        path.clone(),
        sidecar("-wal"),
        exports,
    ] {
        assert!(!gone.exists(), "{} must be gone", gone.display());
    }
    drop(a);
    assert!(
        CaseFile::open(&path, "phrase de passe").is_err(),
        "nothing is left to open"
    );
}

fn create(file: &mut CaseFile, kind: &str, pairs: &[(&str, Value)]) -> RecordId {
    file.create(kind, fields(pairs))
        .unwrap_or_else(|e| panic!("expected a {kind} to be created: {e}"))
}

fn ids(records: &[TouchedRecord]) -> BTreeSet<RecordId> {
    records.iter().map(|r| r.id).collect()
}

/// `passerelle-cli erase-person ID --dry-run` prints the server's answer on one line.
#[test]
fn the_command_line_prints_what_would_go() {
    let server = Server::start(Backend::Sqlite);
    let (_org, coordinator) = server.new_org();
    let mut a = Device::enrolled("A", &server, &coordinator);
    let p = create(
        &mut a.file,
        "person",
        &[
            ("family_name", json!("Zqxwvyțescu")),
            ("given_names", json!("Ionela")),
        ],
    );
    let q = create(&mut a.file, "person", &[("family_name", json!("Petrova"))]);
    let person = json!(p.to_string());
    let alone: BTreeSet<RecordId> = [
        p,
        create(
            &mut a.file,
            "situation",
            &[
                ("person_id", person.clone()),
                ("health_cover", json!("ame")),
            ],
        ),
        create(
            &mut a.file,
            "step",
            &[
                ("person_id", person.clone()),
                ("category", json!("documents")),
                ("title", json!("Renouveler la carte d'identité")),
            ],
        ),
    ]
    .into();
    let shared_visit = create(
        &mut a.file,
        "visit",
        &[
            ("occurred_at", json!("2026-11-03T10:00:00+01:00")),
            ("setting", json!("home_visit")),
            ("person_ids", json!([p.to_string(), q.to_string()])),
        ],
    );
    a.sync();
    let out = cli(
        a.file.path(),
        DEVICE_PASS,
        &["erase-person", &p.to_string(), "--dry-run"],
    );
    assert!(
        out.status.success(),
        "erase-person --dry-run must succeed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "one JSON line: {text}");
    let answer: ErasePersonResponse = serde_json::from_str(&text).unwrap();
    assert!(answer.dry_run, "a dry run: {text}");
    assert_eq!(ids(&answer.erased), alone, "it names what would go: {text}");
    assert!(
        ids(&answer.kept).contains(&shared_visit),
        "and what would be kept: {text}"
    );
    assert_eq!(a.sync().pulled, 0, "nothing went");
    assert!(a.file.get(p).is_ok(), "the person stays");

    let bad = cli(a.file.path(), DEVICE_PASS, &["erase-person", "P1"]);
    assert!(!bad.status.success(), "an id that is not one is refused");
    assert!(bad.stdout.is_empty(), "and prints nothing on stdout");
}

/// `attach`, the sync's documents, `attachment get` (fetching what this device lacks)
/// and the access export's zip, through the real server.
fn documents_on_the_command_line(backend: Backend) {
    let server = Server::start(backend);
    let (_org, user) = server.new_org();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cli.db");
    ok(&path, PASS, &["init", "--insecure-kdf-for-tests"]);
    let code = server.invite(&user);
    ok(
        &path,
        PASS,
        &[
            "enrol",
            "--server",
            &server.url,
            "--username",
            &user,
            "--device-name",
            "cli",
            "--code",
            &code,
        ],
    );
    let person = ok(
        &path,
        PASS,
        &[
            "add",
            "person",
            "--set",
            "family_name=Rostas",
            "--set",
            "given_names=Maria",
        ],
    );
    let person = person.trim();
    let letter = dir.path().join("lettre-france-travail.pdf");
    let bytes = b"%PDF-1.4\n% une lettre de France Travail\n%%EOF\n".to_vec();
    std::fs::write(&letter, &bytes).unwrap();
    let id = ok(
        &path,
        PASS,
        &[
            "attach",
            person,
            letter.to_str().unwrap(),
            "--category",
            "france_travail",
            "--taken-on",
            "2026-11-30",
        ],
    );
    let id: RecordId = id.trim().parse().unwrap();
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "pas un document").unwrap();
    let refused = cli(&path, PASS, &["attach", person, notes.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("JPEG, PNG or WebP"),
        "the error says what is taken: {}",
        String::from_utf8_lossy(&refused.stderr)
    );
    // A sparse file of 65 MiB: refused by its size, before it is read.
    let huge = dir.path().join("enorme.pdf");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(65 << 20)
        .unwrap();
    let refused = cli(&path, PASS, &["attach", person, huge.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("at most 64 MiB"),
        "the error says the limit: {}",
        String::from_utf8_lossy(&refused.stderr)
    );

    let line: Value = serde_json::from_str(ok(&path, PASS, &["sync"]).trim()).unwrap();
    assert_eq!(line["pushed"], json!(2));
    assert_eq!(
        line["documents"],
        json!({"sent": 1, "received": 0, "waiting": 0})
    );

    // Another device fetches it on demand through `attachment get`.
    let other = dir.path().join("other.db");
    ok(&other, PASS, &["init", "--insecure-kdf-for-tests"]);
    let code = server.invite(&user);
    ok(
        &other,
        PASS,
        &[
            "enrol",
            "--server",
            &server.url,
            "--username",
            &user,
            "--device-name",
            "other",
            "--code",
            &code,
        ],
    );
    let mut on_demand = CaseFile::open(&other, PASS).unwrap();
    on_demand
        .set_fetch_mode(casefile::FetchMode::OnDemand)
        .unwrap();
    drop(on_demand);
    let line: Value = serde_json::from_str(ok(&other, PASS, &["sync"]).trim()).unwrap();
    assert_eq!(
        line["documents"]["received"],
        json!(0),
        "on demand: nothing fetched"
    );
    let out = dir.path().join("got.pdf");
    ok(
        &other,
        PASS,
        &[
            "attachment",
            "get",
            &id.to_string(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(std::fs::read(&out).unwrap(), bytes);
    let shown: Value =
        serde_json::from_str(ok(&other, PASS, &["show", &id.to_string()]).trim()).unwrap();
    assert_eq!(
        shown["fields"]["title"][0]["value"],
        json!("lettre-france-travail")
    );

    // The access export holds the document in a zip beside the JSON and the PDF.
    let export = dir.path().join("access");
    ok(
        &other,
        PASS,
        &[
            "export",
            "access",
            person,
            "--out",
            export.to_str().unwrap(),
        ],
    );
    let zip = std::fs::read(export.join(format!("access-{person}-documents.zip"))).unwrap();
    assert!(zip.starts_with(b"PK\x03\x04"));
    assert!(
        zip.windows(bytes.len()).any(|w| w == bytes.as_slice()),
        "the zip holds the document as it is"
    );
    assert!(
        zip.windows(11).any(|w| w == b"01-france_t"),
        "named by its number and category"
    );
}
