//! The papers a person takes home, in French and side by side in Romanian or Bulgarian:
//! their copy of a visit and an appointment slip, read from a case file by `casefile`,
//! written here, read back with `pdftotext`.

use casefile::CaseFile;
use std::collections::BTreeSet;

use casefile::export::{Bilingual, CopyLang, VisitCopy};
use casefile::sync_protocol::RecordId;
use serde_json::json;

use crate::common::{fields, flat, fresh, non_ascii_letters, pdf_pages, pdf_text};

/// The Romanian letters the papers must print.
const ROMANIAN: &str = "ăâîșț";

/// The Bulgarian alphabet.
const BULGARIAN: &str = "абвгдежзийклмнопрстуфхцчшщъьюя";

struct Group {
    visit: RecordId,
    stefan: RecordId,
    ivan: RecordId,
    stefan_step: RecordId,
    ivan_step: RecordId,
}

/// A visit that met Ștefan (who speaks Romanian) and Ivan (who speaks Bulgarian), with
/// a step for each and one for Ștefan alone at another visit.
fn group_visit(file: &mut CaseFile) -> Group {
    file.set_organisation(fields(&[
        ("name", json!("Association Îlot Fraternité")),
        ("address", json!("12 rue de l'Église, 59260 Hellemmes")),
        ("contact", json!("03 20 00 00 00 — contact@ilot.example")),
    ]))
    .unwrap();
    let site = file
        .create(
            "site",
            fields(&[
                ("name", json!("Terrain de la Deûle")),
                ("commune", json!("Hellemmes")),
            ]),
        )
        .unwrap();
    let stefan = file
        .create(
            "person",
            fields(&[
                ("family_name", json!("Lăcătuș")),
                ("given_names", json!("Ștefan")),
                ("languages", json!(["romani", "Română"])),
            ]),
        )
        .unwrap();
    let ivan = file
        .create(
            "person",
            fields(&[
                ("family_name", json!("Георгиев")),
                ("given_names", json!("Иван")),
                ("languages", json!(["bg"])),
            ]),
        )
        .unwrap();
    let visit = file
        .create(
            "visit",
            fields(&[
                ("occurred_at", json!("2026-11-02T10:14:00+01:00")),
                ("setting", json!("home_visit")),
                ("site_id", json!(site.to_string())),
                ("person_ids", json!([stefan.to_string(), ivan.to_string()])),
                (
                    "counsellors",
                    json!(["Hélène Dupré", "Жельо Цацов", "Стефка Стойчева-Пехливанова"]),
                ),
                ("observations", json!("Ivan et Ștefan OBSERVATION-SECRÈTE")),
                ("decisions", json!("DÉCISION-DE-GROUPE")),
                ("next_visit_on", json!("2026-11-16")),
            ]),
        )
        .unwrap();
    let step = |file: &mut CaseFile, who: RecordId, category: &str, title: &str, due: &str| {
        file.create(
            "step",
            fields(&[
                ("person_id", json!(who.to_string())),
                ("visit_id", json!(visit.to_string())),
                ("category", json!(category)),
                ("title", json!(title)),
                ("due_on", json!(due)),
                ("notes", json!("NOTE-DU-CONSEILLER")),
            ]),
        )
        .unwrap()
    };
    let stefan_step = step(
        file,
        stefan,
        "france_travail",
        "Inscription à France Travail",
        "2026-11-09",
    );
    step(
        file,
        stefan,
        "job_search",
        "Envoyer le CV à l'agence d'intérim",
        "2026-11-12",
    );
    let ivan_step = step(
        file,
        ivan,
        "health",
        "Rendez-vous à la PASS de l'hôpital",
        "2026-11-20",
    );
    Group {
        visit,
        stefan,
        ivan,
        stefan_step,
        ivan_step,
    }
}

fn copy_text(file: &CaseFile, visit: RecordId, person: RecordId, lang: Option<CopyLang>) -> String {
    let copy = file.visit_copy(visit, person, lang).unwrap();
    pdf_text(&documents::visit_copy_pdf(&copy).unwrap())
}

#[test]
fn the_copy_prints_french_and_romanian_side_by_side_with_every_letter() {
    let (_dir, mut file) = fresh();
    let g = group_visit(&mut file);
    let copy = file.visit_copy(g.visit, g.stefan, None).unwrap();
    assert_eq!(copy.lang, CopyLang::Ro, "chosen from Ștefan's languages");
    let pdf = documents::visit_copy_pdf(&copy).unwrap();
    assert!(pdf.starts_with(b"%PDF-") && crate::common::contains(&pdf, b"/FontFile2"));
    assert_eq!(pdf_pages(&pdf), 1, "one page");
    let text = pdf_text(&pdf);
    let words = flat(&text);
    for expected in [
        // The title, the labels and the categories in both languages.
        "Compte rendu de la visite",
        "Rezumatul întâlnirii",
        "Démarches décidées",
        "Pașii stabiliți",
        "Prochaine visite",
        "Următoarea întâlnire",
        "Pour nous joindre",
        "Ne puteți contacta",
        "France Travail (agenția pentru ocuparea forței de muncă)",
        "Recherche d'emploi",
        "Căutarea unui loc de muncă",
        // Values: the dates in each language's form.
        "02/11/2026",
        "02.11.2026",
        "Échéance : 09/11/2026",
        "Termen: 09.11.2026",
        "16/11/2026",
        "16.11.2026",
        // What the counsellor wrote, as written.
        "Lăcătuș Ștefan",
        "Inscription à France Travail",
        "Terrain de la Deûle (Hellemmes)",
        "Hélène Dupré",
        "12 rue de l'Église, 59260 Hellemmes",
    ] {
        assert!(
            words.contains(expected),
            "the copy should hold {expected:?}: {words}"
        );
    }
    let printed = non_ascii_letters(&text);
    for letter in ROMANIAN.chars().chain("éèÉ".chars()) {
        assert!(
            printed.contains(&letter),
            "{letter} survives pdftotext: {words}"
        );
    }
    let read = letters_read(&copy);
    let lost: Vec<&char> = read.difference(&printed).collect();
    assert!(lost.is_empty(), "letters the copy lost: {lost:?}");
}

#[test]
fn a_group_visit_copy_holds_only_that_persons_name_and_steps() {
    let (_dir, mut file) = fresh();
    let g = group_visit(&mut file);
    let stefan = flat(&copy_text(&file, g.visit, g.stefan, Some(CopyLang::Ro)));
    let ivan = flat(&copy_text(&file, g.visit, g.ivan, None));
    for (words, own, others) in [
        (
            &stefan,
            ["Lăcătuș Ștefan", "Inscription à France Travail"],
            ["Георгиев", "Иван", "Ivan", "PASS de l'hôpital"],
        ),
        (
            &ivan,
            ["Георгиев Иван", "Rendez-vous à la PASS de l'hôpital"],
            ["Lăcătuș", "Ștefan", "France Travail", "agence d'intérim"],
        ),
    ] {
        for expected in own {
            assert!(
                words.contains(expected),
                "the copy holds {expected:?}: {words}"
            );
        }
        for other in others.into_iter().chain([
            "OBSERVATION-SECRÈTE",
            "DÉCISION-DE-GROUPE",
            "NOTE-DU-CONSEILLER",
        ]) {
            assert!(
                !words.contains(other),
                "the copy should not hold {other:?}: {words}"
            );
        }
    }
    assert!(
        ivan.contains("Резюме на срещата")
            && ivan.contains("Здраве")
            && ivan.contains("20.11.2026"),
        "Ivan's copy is in Bulgarian beside French: {ivan}"
    );
}

#[test]
fn the_bulgarian_papers_print_every_cyrillic_letter_they_hold() {
    let (_dir, mut file) = fresh();
    let g = group_visit(&mut file);
    // Ivan met alone: no step decided, what was decided prints, the next visit is to set.
    let alone = file
        .create(
            "visit",
            fields(&[
                ("occurred_at", json!("2026-11-23T15:00:00+01:00")),
                ("setting", json!("office_interview")),
                ("person_ids", json!([g.ivan.to_string()])),
                ("decisions", json!("Attendre la réponse de la CPAM")),
            ]),
        )
        .unwrap();
    let mut read = BTreeSet::new();
    let mut printed = BTreeSet::new();
    for visit in [g.visit, alone] {
        let copy = file.visit_copy(visit, g.ivan, None).unwrap();
        assert_eq!(copy.lang, CopyLang::Bg, "chosen from Ivan's languages");
        read.extend(letters_read(&copy));
        printed.extend(non_ascii_letters(&pdf_text(
            &documents::visit_copy_pdf(&copy).unwrap(),
        )));
    }
    let slip = file.step_slip(g.ivan_step, None).unwrap();
    read.extend(non_ascii_letters(&serde_json::to_string(&slip).unwrap()));
    printed.extend(non_ascii_letters(&pdf_text(
        &documents::step_slip_pdf(&slip).unwrap(),
    )));
    for letter in BULGARIAN.chars() {
        assert!(read.contains(&letter), "the papers use {letter}: {read:?}");
    }
    let lost: Vec<&char> = read.difference(&printed).collect();
    assert!(
        lost.is_empty(),
        "letters the Bulgarian papers lost: {lost:?}"
    );
    let words = flat(&pdf_text(
        &documents::visit_copy_pdf(&file.visit_copy(alone, g.ivan, None).unwrap()).unwrap(),
    ));
    for expected in [
        "Aucune démarche n'a été décidée.",
        "Не са договорени стъпки.",
        "Какво беше решено",
        "Attendre la réponse de la CPAM",
        "à fixer",
        "предстои да се уточни",
    ] {
        assert!(
            words.contains(expected),
            "the copy of a visit without steps holds {expected:?}: {words}"
        );
    }
}

/// The letters of what the copy prints: the text for "no step" only when there is none;
/// the steps' first column label is not printed (a step's title, in bold, needs none).
fn letters_read(copy: &VisitCopy) -> BTreeSet<char> {
    let mut shown = copy.clone();
    let blank = Bilingual {
        fr: String::new(),
        other: String::new(),
    };
    if !shown.steps.is_empty() {
        shown.no_steps = blank.clone();
    }
    shown.step_columns[0] = blank;
    non_ascii_letters(&serde_json::to_string(&shown).unwrap())
}

#[test]
fn the_slip_prints_the_step_and_lines_to_fill_in_both_languages() {
    let (_dir, mut file) = fresh();
    let g = group_visit(&mut file);
    let slip = file.step_slip(g.stefan_step, Some(CopyLang::Ro)).unwrap();
    let pdf = documents::step_slip_pdf(&slip).unwrap();
    assert_eq!(pdf_pages(&pdf), 1, "one page");
    let text = pdf_text(&pdf);
    let words = flat(&text);
    for expected in [
        "Rendez-vous",
        "Programare",
        "Lăcătuș Ștefan",
        "Inscription à France Travail",
        "09/11/2026",
        "09.11.2026",
        "Heure",
        "Ora",
        "Apportez",
        "Aduceți",
        "Avec qui",
        "Cu cine",
        "France Travail (agenția pentru ocuparea forței de muncă)",
        "Ne puteți contacta",
    ] {
        assert!(
            words.contains(expected),
            "the slip should hold {expected:?}: {words}"
        );
    }
    assert!(
        !words.contains("NOTE-DU-CONSEILLER") && !words.contains("Иван"),
        "nothing but the step: {words}"
    );
    let read = non_ascii_letters(&serde_json::to_string(&slip).unwrap());
    let printed = non_ascii_letters(&text);
    let lost: Vec<&char> = read.difference(&printed).collect();
    assert!(lost.is_empty(), "letters the slip lost: {lost:?}");
}
