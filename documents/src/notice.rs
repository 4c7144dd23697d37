//! The information notice of GDPR articles 13 and 14, printed for the persons the
//! organisation follows, in French, Romanian or Bulgarian, filled from the
//! organisation's settings.
//!
//! The texts live in `assets/notice/{fr,ro,bg}.txt`, one block per line (`= ` the title,
//! `== ` a heading, `- ` a bullet, `: Label | value` a labelled field, `@key text` a
//! setting of the document: `@footer`, `@missing` the blank, `@page` the word for a
//! page; anything else a paragraph; `#` lines are comments). Each is marked at its top
//! as to be checked by a native speaker before use. `{name}`,
//! `{address}`, `{contact}`, `{dpo_contact}`, `{purposes}` and `{recipients}` are the
//! settings' values, `{retention}` the retention in words. A setting not filled in
//! prints as a visible blank to fill in by hand, never as nothing.

use casefile::Organisation;
use casefile::export::NoticeLang;

use crate::error::Result;
use crate::pdf::Sheet;

static FR: &str = include_str!("../assets/notice/fr.txt");
static RO: &str = include_str!("../assets/notice/ro.txt");
static BG: &str = include_str!("../assets/notice/bg.txt");

/// The notice's text in `lang`, as kept in the source (comments included).
pub(crate) fn source(lang: NoticeLang) -> &'static str {
    match lang {
        NoticeLang::Fr => FR,
        NoticeLang::Ro => RO,
        NoticeLang::Bg => BG,
    }
}

/// `months` in words, in `lang`: "24 mois", "24 de luni", "24 месеца".
fn retention_words(lang: NoticeLang, months: u32) -> String {
    match lang {
        NoticeLang::Fr => format!("{months} mois"),
        NoticeLang::Ro if months == 1 => "o lună".to_owned(),
        // Romanian puts "de" between a number ending in 00 or 20 to 99 and its noun.
        NoticeLang::Ro if matches!(months % 100, 0 | 20..) => format!("{months} de luni"),
        NoticeLang::Ro => format!("{months} luni"),
        NoticeLang::Bg if months == 1 => "един месец".to_owned(),
        NoticeLang::Bg => format!("{months} месеца"),
    }
}

/// The setting lines (`@key text`) of a source.
fn directive<'a>(source: &'a str, key: &str) -> Option<&'a str> {
    source.lines().find_map(|line| {
        line.strip_prefix('@')
            .and_then(|rest| rest.strip_prefix(key))
            .and_then(|rest| rest.strip_prefix(' '))
            .map(str::trim)
    })
}

/// `template` with every `{field}` replaced by the settings' value, or `missing`.
fn fill(template: &str, org: &Organisation, lang: NoticeLang, missing: &str) -> String {
    let or_missing = |value: &Option<String>| value.clone().unwrap_or_else(|| missing.to_owned());
    let values = [
        ("{name}", or_missing(&org.name)),
        ("{address}", or_missing(&org.address)),
        ("{contact}", or_missing(&org.contact)),
        ("{dpo_contact}", or_missing(&org.dpo_contact)),
        ("{purposes}", or_missing(&org.purposes)),
        ("{recipients}", or_missing(&org.recipients)),
        ("{retention}", retention_words(lang, org.retention_months)),
    ];
    let mut out = template.to_owned();
    for (key, value) in values {
        out = out.replace(key, &value);
    }
    out
}

/// The information notice (GDPR articles 13 and 14) in `lang`, filled from `org`, as a
/// PDF document. Settings not filled in print as a blank to fill in by hand.
///
/// Errors: [`crate::Error::Pdf`] when the PDF cannot be written.
pub fn notice_pdf(lang: NoticeLang, org: &Organisation) -> Result<Vec<u8>> {
    let _span = tracing::info_span!("documents.notice", %lang).entered();
    let text = source(lang);
    let missing = directive(text, "missing").unwrap_or("________________");
    let footer = directive(text, "footer").unwrap_or_default();
    let footer = match &org.name {
        Some(name) => format!("{name} — {footer}"),
        None => footer.to_owned(),
    };
    let mut sheet = Sheet::new(footer)?;
    if let Some(word) = directive(text, "page") {
        sheet.set_page_word(word);
    }
    let mut title = String::new();
    for line in text.lines().map(str::trim_end) {
        if line.trim().is_empty() || line.starts_with('#') || line.starts_with('@') {
            continue;
        }
        let line = fill(line, org, lang, missing);
        if let Some(heading) = line.strip_prefix("== ") {
            sheet.heading(heading);
        } else if let Some(text) = line.strip_prefix("= ") {
            if let Some(name) = &org.name {
                sheet.note(name);
            }
            sheet.title(text);
            title = text.to_owned();
        } else if let Some(item) = line.strip_prefix("- ") {
            sheet.bullet(item);
        } else if let Some(field) = line.strip_prefix(": ") {
            let (label, value) = field.split_once(" | ").unwrap_or((field, ""));
            sheet.field(label, value);
        } else {
            sheet.paragraph(&line);
        }
    }
    sheet.finish_in(&title, lang.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn empty() -> Organisation {
        Organisation {
            name: None,
            address: None,
            contact: None,
            dpo_contact: None,
            purposes: None,
            recipients: None,
            retention_months: 24,
        }
    }

    #[test]
    fn every_placeholder_is_filled_in_every_language() {
        for lang in [NoticeLang::Fr, NoticeLang::Ro, NoticeLang::Bg] {
            let text = source(lang);
            assert!(
                text.lines().next().is_some_and(|l| l.starts_with('#')),
                "{lang}: the source opens with its comment"
            );
            let body: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
            let filled = fill(&body.join("\n"), &empty(), lang, "BLANK");
            assert!(
                !filled.contains('{') && !filled.contains('}'),
                "{lang}: a placeholder was left unfilled"
            );
            assert!(
                ["footer", "missing", "page"]
                    .iter()
                    .all(|key| directive(text, key).is_some()),
                "{lang}: the source says its footer, its blank and its word for a page"
            );
        }
    }

    #[test]
    fn retention_reads_as_words() {
        assert_eq!(retention_words(NoticeLang::Fr, 24), "24 mois");
        assert_eq!(retention_words(NoticeLang::Ro, 24), "24 de luni");
        assert_eq!(retention_words(NoticeLang::Ro, 12), "12 luni");
        assert_eq!(retention_words(NoticeLang::Ro, 1), "o lună");
        assert_eq!(retention_words(NoticeLang::Ro, 100), "100 de luni");
        assert_eq!(retention_words(NoticeLang::Ro, 105), "105 luni");
        assert_eq!(retention_words(NoticeLang::Bg, 36), "36 месеца");
    }

    #[test]
    fn a_notice_with_no_settings_prints() {
        let pdf = notice_pdf(NoticeLang::Bg, &empty()).unwrap();
        assert!(pdf.starts_with(b"%PDF-"), "a PDF document");
    }
}
