//! Helpers shared by the tests: the binary under test, case files with cheap keys, and
//! the text of a PDF.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use casefile::sync_protocol::RecordId;
use casefile::{CaseFile, KdfParams};
use serde_json::{Value, json};
use tempfile::TempDir;

/// The passphrase of the case files `fresh` makes.
pub const PASS: &str = "correct horse battery staple";

/// Runs the real `passerelle-cli` on the case file at `path`, with `passphrase` (and the
/// test server's password, for `enrol`).
pub fn cli(path: &Path, passphrase: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_passerelle-cli"))
        .arg("--case-file")
        .arg(path)
        .args(args)
        .env("PASSERELLE_PASSPHRASE", passphrase)
        .env("PASSERELLE_PASSWORD", passerelle_test_support::PASSWORD)
        .env_remove("PASSERELLE_CASE_FILE")
        .output()
        .unwrap()
}

/// Runs `args` and answers what it printed, failing the test if it failed.
pub fn ok(path: &Path, passphrase: &str, args: &[&str]) -> String {
    let out = cli(path, passphrase, args);
    assert!(
        out.status.success(),
        "expected {args:?} to succeed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A new case file with cheap keys, made by the library, and the folder it lives in.
pub fn fresh() -> (TempDir, CaseFile) {
    let dir = tempfile::tempdir().unwrap();
    let file = CaseFile::init_with(db_path(&dir), PASS, KdfParams::INSECURE_FOR_TESTS).unwrap();
    (dir, file)
}

/// Where `fresh` puts the case file.
pub fn db_path(dir: &TempDir) -> PathBuf {
    dir.path().join("case.db")
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

/// The text of a PDF, as `pdftotext` extracts it, its words joined by single spaces.
pub fn pdf_words(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sheet.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = Command::new("pdftotext")
        .args(["-enc", "UTF-8"])
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (Debian package poppler-utils) must be installed to test the PDFs");
    assert!(
        out.status.success(),
        "pdftotext failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
