//! Case files with cheap keys and sample records, for the tests of `casefile` and
//! `documents`.

use casefile::sync_protocol::{FieldName, Kind, RecordId, RecordState, ReplicaId, Timestamp};
use casefile::{CaseFile, KdfParams};
use serde_json::{Value, json};
use tempfile::TempDir;

/// The passphrase of [`fresh`] case files.
pub const PASS: &str = "correct horse battery staple";

/// A new case file, `case.db` in a temporary folder removed with the returned guard.
pub fn fresh() -> (TempDir, CaseFile) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let file = CaseFile::init_with(
        dir.path().join("case.db"),
        PASS,
        KdfParams::INSECURE_FOR_TESTS,
    )
    .expect("a new case file");
    (dir, file)
}

/// Fields as `CaseFile::create` and `edit` take them.
pub fn fields(pairs: &[(&str, Value)]) -> Vec<(String, Value)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

/// Creates a person with these names.
pub fn person(file: &mut CaseFile, family: &str, given: &str) -> RecordId {
    file.create(
        "person",
        fields(&[
            ("family_name", json!(family)),
            ("given_names", json!(given)),
        ]),
    )
    .expect("a person created")
}

/// Another device's replica id.
pub fn other_replica() -> ReplicaId {
    "00000000-0000-7000-8000-00000000abcd"
        .parse()
        .expect("a replica id")
}

/// The time of the other replica's edits.
pub fn at() -> Timestamp {
    "2026-11-02T10:14:00Z".parse().expect("a timestamp")
}

/// A state created on another replica.
pub fn foreign(kind: &str, pairs: &[(&str, Value)]) -> RecordState {
    let id: RecordId = uuid::Uuid::now_v7()
        .to_string()
        .parse()
        .expect("a record id");
    RecordState::create(
        id,
        kind.parse::<Kind>().expect("a kind"),
        other_replica(),
        at(),
        pairs
            .iter()
            .map(|(k, v)| (k.parse::<FieldName>().expect("a field name"), v.clone())),
    )
    .expect("a valid state")
}

/// Puts `remote`'s phone in conflict: this file writes "0611" while the other replica,
/// concurrently, writes "0622", which arrives in a pulled page with checkpoint `next`.
pub fn conflicting_phones(file: &mut CaseFile, remote: &RecordState, next: u64) {
    file.edit(remote.id(), fields(&[("phone", json!("0611"))]))
        .expect("an edit");
    let mut theirs = remote.clone();
    theirs
        .edit(
            other_replica(),
            at(),
            [("phone".parse().expect("a field name"), json!("0622"))],
        )
        .expect("their edit");
    file.apply_pulled(std::slice::from_ref(&theirs), next)
        .expect("the pulled page applied");
}

/// A small deterministic generator (xorshift64) for the benches' sample data: the same
/// seed gives the same data on every machine.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n` (which is not 0).
    pub fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next_u64() % n as u64).unwrap_or(0)
    }

    /// One of `items` (not empty).
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}
