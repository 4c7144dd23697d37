//! The information notice (GDPR articles 13 and 14) in French, Romanian and Bulgarian,
//! read back from its PDF with `pdftotext`.

use std::collections::BTreeSet;

use casefile::CaseFile;
use casefile::export::NoticeLang;
use serde_json::json;

use crate::common::{fields, flat, fresh, pdf_text};

/// The notice's source text, as kept in the crate.
fn source(lang: &str) -> String {
    let path = format!("{}/assets/notice/{lang}.txt", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path).unwrap()
}

/// The letters of the source that are printed: every line but comments, and the
/// settings line's text (the footer, the blank).
fn printed_letters(source: &str) -> BTreeSet<char> {
    source
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| match l.strip_prefix('@') {
            Some(setting) => setting.split_once(' ').map_or("", |(_, text)| text),
            None => l,
        })
        .flat_map(str::chars)
        .filter(|c| c.is_alphabetic() && !c.is_ascii())
        .collect()
}

/// The notice in `lang`, filled from the case file's organisation settings.
fn notice_pdf(file: &CaseFile, lang: NoticeLang) -> Vec<u8> {
    documents::notice_pdf(lang, &file.organisation().unwrap()).unwrap()
}

fn settings(file: &mut CaseFile) {
    file.set_organisation(fields(&[
        ("name", json!("Association Îlot Fraternité")),
        ("address", json!("12 rue de la Deûle, 59000 Lille")),
        ("contact", json!("03 20 12 34 56, accueil@ilot.example")),
        ("dpo_contact", json!("Hélène Dupré, dpo@ilot.example")),
        (
            "purposes",
            json!("Accompagnement socioprofessionnel des familles"),
        ),
        (
            "recipients",
            json!("France Travail, CCAS de Lille, PASS de l'hôpital"),
        ),
        ("retention_months", json!(36)),
    ]))
    .unwrap();
}

#[test]
fn each_language_keeps_every_letter_of_its_source_and_the_settings() {
    let (_dir, mut file) = fresh();
    settings(&mut file);
    let cases = [
        (NoticeLang::Fr, "fr", "36 mois", "àçèéôù"),
        (NoticeLang::Ro, "ro", "36 de luni", "ăâîșț"),
        (
            NoticeLang::Bg,
            "bg",
            "36 месеца",
            "абвгдежзийклмнопрстуфхцчшщъьяВДКОПС",
        ),
    ];
    for (lang, code, retention, must_have) in cases {
        let source = source(code);
        assert!(
            source.lines().take(4).any(|l| l.contains("native speaker")),
            "{code}: the source is marked as to be checked by a native speaker"
        );
        let letters = printed_letters(&source);
        for c in must_have.chars() {
            assert!(
                letters.contains(&c),
                "{code}: the source text should use {c:?}, so the test covers it"
            );
        }
        let pdf = notice_pdf(&file, lang);
        assert!(pdf.starts_with(b"%PDF-"), "{code}: a PDF document");
        let text = pdf_text(&pdf);
        let missing: Vec<char> = letters
            .iter()
            .copied()
            .filter(|c| !text.contains(*c))
            .collect();
        assert!(
            missing.is_empty(),
            "{code}: letters of the source missing from the PDF's text: {missing:?}"
        );
        let words = flat(&text);
        for value in [
            "Association Îlot Fraternité",
            "12 rue de la Deûle, 59000 Lille",
            "03 20 12 34 56, accueil@ilot.example",
            "Hélène Dupré, dpo@ilot.example",
            "Accompagnement socioprofessionnel des familles",
            "France Travail, CCAS de Lille, PASS de l'hôpital",
            retention,
            "75334 Paris Cedex 07",
        ] {
            assert!(
                words.contains(value),
                "{code}: the notice should print {value:?}: {words}"
            );
        }
        assert!(
            !words.contains('{') && !words.contains("compléter"),
            "{code}: every setting is filled in"
        );
    }
}

#[test]
fn missing_settings_print_as_blanks_to_fill_in() {
    let (_dir, file) = fresh();
    for (lang, blank) in [
        (NoticeLang::Fr, "(à compléter)"),
        (NoticeLang::Ro, "(de completat)"),
        (NoticeLang::Bg, "(за попълване)"),
    ] {
        let words = flat(&pdf_text(&notice_pdf(&file, lang)));
        assert_eq!(
            words.matches(blank).count(),
            6,
            "{lang}: the name, address, contact, data protection contact, purposes and \
             recipients print as blanks: {words}"
        );
        assert!(
            words.contains("________________"),
            "{lang}: a line to write on"
        );
    }
}
