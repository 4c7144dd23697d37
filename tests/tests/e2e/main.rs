//! End-to-end: the real `passerelle-server` on loopback (SQLite and PostgreSQL), several
//! devices' encrypted case files syncing through the casefile client, and a proxy that
//! injects faults between them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod client;
mod documents;
mod duplicates;
mod erasure;
mod failover;
mod faults;
mod hostile;
mod random;
mod restore;
mod scenarios;

use casefile::CaseFile;
use serde_json::{Value, json};
use sync_protocol::RecordId;

/// `[(field, value)]` as the case file's API takes them.
pub fn fields(pairs: &[(&str, Value)]) -> Vec<(String, Value)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// A person with a Romanian name.
pub fn add_person(file: &mut CaseFile, family: &str, given: &str) -> RecordId {
    file.create(
        "person",
        fields(&[
            ("family_name", json!(family)),
            ("given_names", json!(given)),
        ]),
    )
    .unwrap()
}
