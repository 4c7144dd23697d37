//! Helpers shared by the tests: case files with cheap keys, raw access, sample records.

use std::path::{Path, PathBuf};

use argon2::{Algorithm, Argon2, Params, Version};
use casefile::sync_protocol::{FieldName, Kind, RecordId, RecordState, ReplicaId, Timestamp};
use casefile::{CaseFile, KdfParams};
use serde_json::{Value, json};
use tempfile::TempDir;

pub const PASS: &str = "correct horse battery staple";

pub fn fresh() -> (TempDir, CaseFile) {
    let dir = tempfile::tempdir().unwrap();
    let file = CaseFile::init_with(
        dir.path().join("case.db"),
        PASS,
        KdfParams::INSECURE_FOR_TESTS,
    )
    .unwrap();
    (dir, file)
}

pub fn db_path(dir: &TempDir) -> PathBuf {
    dir.path().join("case.db")
}

/// A plain rusqlite connection to the case file, keyed the way the library keys it.
pub fn raw(path: &Path, passphrase: &str) -> rusqlite::Connection {
    let mut params_path = path.as_os_str().to_owned();
    params_path.push(".keyparams");
    let params: Value =
        serde_json::from_str(&std::fs::read_to_string(PathBuf::from(params_path)).unwrap())
            .unwrap();
    let salt_hex = params["salt"].as_str().unwrap();
    let salt: Vec<u8> = (0..salt_hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&salt_hex[i..i + 2], 16).unwrap())
        .collect();
    let argon = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(
            params["m_kib"].as_u64().unwrap() as u32,
            params["t"].as_u64().unwrap() as u32,
            params["p"].as_u64().unwrap() as u32,
            Some(32),
        )
        .unwrap(),
    );
    let mut key = [0u8; 32];
    argon
        .hash_password_into(passphrase.as_bytes(), &salt, &mut key)
        .unwrap();
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(&format!(
        "PRAGMA cipher_log_level = NONE; PRAGMA key = \"x'{hex}'\";"
    ))
    .unwrap();
    conn
}

pub fn fields(pairs: &[(&str, Value)]) -> Vec<(String, Value)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

pub fn site(file: &mut CaseFile, name: &str) -> RecordId {
    file.create(
        "site",
        fields(&[("name", json!(name)), ("type", json!("bidonville"))]),
    )
    .unwrap()
}

pub fn person(file: &mut CaseFile, family: &str, given: &str) -> RecordId {
    file.create(
        "person",
        fields(&[
            ("family_name", json!(family)),
            ("given_names", json!(given)),
        ]),
    )
    .unwrap()
}

pub fn other_replica() -> ReplicaId {
    "00000000-0000-7000-8000-00000000abcd".parse().unwrap()
}

pub fn at() -> Timestamp {
    "2026-11-02T10:14:00Z".parse().unwrap()
}

/// A state created on another replica.
pub fn foreign(kind: &str, pairs: &[(&str, Value)]) -> RecordState {
    let id: RecordId = uuid::Uuid::now_v7().to_string().parse().unwrap();
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

/// Puts `remote`'s phone in conflict: this file writes "0611" while the other replica,
/// concurrently, writes "0622", which arrives in a pulled page with checkpoint `next`.
pub fn conflicting_phones(file: &mut CaseFile, remote: &RecordState, next: u64) {
    file.edit(remote.id(), fields(&[("phone", json!("0611"))]))
        .unwrap();
    let mut theirs = remote.clone();
    theirs
        .edit(
            other_replica(),
            at(),
            [("phone".parse().unwrap(), json!("0622"))],
        )
        .unwrap();
    file.apply_pulled(std::slice::from_ref(&theirs), next)
        .unwrap();
}

/// Every file of the directory, concatenated.
pub fn all_bytes(dir: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            out.extend(std::fs::read(path).unwrap());
        }
    }
    out
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
