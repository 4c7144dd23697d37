//! Helpers shared by the tests: case files with cheap keys, sample records, and the text
//! of a PDF.

use std::process::Command;

pub use passerelle_test_support::samples::{conflicting_phones, fields, foreign, fresh, person};

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
