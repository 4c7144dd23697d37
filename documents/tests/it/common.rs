//! Helpers shared by the tests: case files with cheap keys, sample records, and the text
//! of a PDF.

use std::process::Command;

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

pub fn fields(pairs: &[(&str, Value)]) -> Vec<(String, Value)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
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

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The text of a PDF, as `pdftotext` extracts it.
pub fn pdf_text(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sheet.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = Command::new("pdftotext")
        .arg("-enc")
        .arg("UTF-8")
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (Debian package poppler-utils) must be installed to test the PDFs");
    assert!(
        out.status.success(),
        "pdftotext failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Words of `text` joined by single spaces, so that line breaks do not matter.
pub fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// How many pages a PDF has, as `pdfinfo` counts them.
pub fn pdf_pages(pdf: &[u8]) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sheet.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = Command::new("pdfinfo")
        .arg(&path)
        .output()
        .expect("pdfinfo (Debian package poppler-utils) must be installed to test the PDFs");
    assert!(out.status.success(), "pdfinfo failed");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .map(|n| n.trim().parse().unwrap())
        .expect("pdfinfo prints the number of pages")
}

/// The letters of `text` that are not ASCII (diacritics, Cyrillic), each once.
pub fn non_ascii_letters(text: &str) -> std::collections::BTreeSet<char> {
    text.chars()
        .filter(|c| c.is_alphabetic() && !c.is_ascii())
        .collect()
}
