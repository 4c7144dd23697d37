//! The encrypted file: passphrase, re-keying, migrations, nothing in plaintext.

use std::time::Instant;

use casefile::{CaseFile, Error, KdfParams, SCHEMA_VERSION};
use serde_json::json;

use crate::common::*;

#[test]
fn a_wrong_passphrase_is_a_clear_error() {
    let (dir, file) = fresh();
    drop(file);
    match CaseFile::open(db_path(&dir), "wrong") {
        Err(Error::WrongPassphrase) => {}
        other => panic!("expected WrongPassphrase, got {other:?}"),
    }
    assert!(
        CaseFile::open(db_path(&dir), PASS).is_ok(),
        "the right passphrase must still open the file"
    );
}

#[test]
fn a_missing_file_and_an_existing_path_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("none.db");
    assert!(
        matches!(CaseFile::open(&path, PASS), Err(Error::NoCaseFile(_))),
        "opening a missing file must say there is no case file"
    );
    std::fs::write(&path, b"something").unwrap();
    assert!(
        matches!(
            CaseFile::init_with(&path, PASS, KdfParams::INSECURE_FOR_TESTS),
            Err(Error::AlreadyExists(_))
        ),
        "init must not overwrite a file"
    );
}

#[test]
fn changing_the_passphrase_rekeys_the_file() {
    let (dir, mut file) = fresh();
    let id = person(&mut file, "Popa", "Ion");
    for weak in ["short", "motdepasse123"] {
        assert!(
            matches!(
                file.change_passphrase(weak),
                Err(Error::WeakPassphrase { .. })
            ),
            "a weak new passphrase ({weak:?}) must be refused"
        );
    }
    assert!(
        CaseFile::open(db_path(&dir), PASS).is_ok(),
        "a refused change leaves the old passphrase in place"
    );
    file.change_passphrase("new passphrase").unwrap();
    drop(file);
    assert!(
        matches!(
            CaseFile::open(db_path(&dir), PASS),
            Err(Error::WrongPassphrase)
        ),
        "the old passphrase must no longer open the file"
    );
    let file = CaseFile::open(db_path(&dir), "new passphrase").unwrap();
    assert_eq!(
        file.get(id).unwrap().value("family_name"),
        Some(&json!("Popa")),
        "records must survive re-keying"
    );
    assert!(
        !dir.path().join("case.db.keyparams.new").exists(),
        "no pending key parameters may be left"
    );
}

#[test]
fn a_file_newer_than_the_app_is_refused() {
    let (dir, file) = fresh();
    drop(file);
    raw(&db_path(&dir), PASS)
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    match CaseFile::open(db_path(&dir), PASS) {
        Err(e @ Error::NewerFile { found, supported }) => {
            assert_eq!((found, supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
            assert!(
                e.to_string().contains("update the app"),
                "the message must say to update the app: {e}"
            );
        }
        other => panic!("expected NewerFile, got {other:?}"),
    }
}

#[test]
fn reopening_keeps_the_replica_id_and_wal() {
    let (dir, file) = fresh();
    let replica = file.replica_id();
    assert_eq!(file.schema_version().unwrap(), SCHEMA_VERSION);
    drop(file);
    let file = CaseFile::open(db_path(&dir), PASS).unwrap();
    assert_eq!(file.replica_id(), replica, "the replica id is made once");
    let mode: String = raw(&db_path(&dir), PASS)
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal", "the file must be in WAL mode");
}

#[test]
fn no_personal_data_in_plaintext_on_disk() {
    let (dir, mut file) = fresh();
    let marker = "Zqxwvyțescu";
    let id = person(&mut file, marker, "Ștefan");
    file.edit(
        id,
        fields(&[("phone", json!("0612345678")), ("notes", json!(marker))]),
    )
    .unwrap();
    // While open: the database, its WAL and shared memory.
    let bytes = all_bytes(dir.path());
    assert!(
        !contains(&bytes, marker.as_bytes()),
        "the name must not be in plaintext"
    );
    assert!(
        !contains(&bytes, b"0612345678"),
        "the phone must not be in plaintext"
    );
    assert!(
        !contains(&bytes, b"SQLite format 3"),
        "no file may be a plaintext SQLite database"
    );
    drop(file);
    let bytes = all_bytes(dir.path());
    assert!(!contains(&bytes, marker.as_bytes()), "nor once closed");
    let params = std::fs::read_to_string(dir.path().join("case.db.keyparams")).unwrap();
    assert!(
        params.contains("argon2id") && params.contains("salt"),
        "{params}"
    );
    assert!(
        params.len() < 300,
        "the key parameters hold no key: {params}"
    );
}

#[test]
fn the_production_key_parameters_work() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prod.db");
    let started = Instant::now();
    let file = CaseFile::init(&path, PASS).unwrap();
    let init = started.elapsed();
    drop(file);
    let params: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("prod.db.keyparams")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        (
            params["m_kib"].as_u64(),
            params["t"].as_u64(),
            params["p"].as_u64()
        ),
        (Some(65536), Some(3), Some(1)),
        "production parameters: 64 MiB, 3 passes, 1 lane"
    );
    let started = Instant::now();
    assert!(CaseFile::open(&path, PASS).is_ok(), "the file must open");
    eprintln!(
        "production Argon2id: init {init:?}, open {:?}",
        started.elapsed()
    );
    assert!(
        matches!(CaseFile::open(&path, "nope"), Err(Error::WrongPassphrase)),
        "and refuse a wrong passphrase"
    );
}
