//! Helpers shared by the tests: case files with cheap keys, raw access, sample records.

use std::path::{Path, PathBuf};

use argon2::{Algorithm, Argon2, Params, Version};
use casefile::CaseFile;
use casefile::sync_protocol::RecordId;
use serde_json::{Value, json};
use tempfile::TempDir;

pub use passerelle_test_support::samples::{
    PASS, at, conflicting_phones, fields, foreign, fresh, other_replica, person,
};

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

pub fn site(file: &mut CaseFile, name: &str) -> RecordId {
    file.create(
        "site",
        fields(&[("name", json!(name)), ("type", json!("bidonville"))]),
    )
    .unwrap()
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
