//! The words of the papers a person takes home, in French and, side by side, in Romanian
//! or Bulgarian: the labels of a person's copy of a visit and of an appointment slip, and
//! the step categories. What the counsellor wrote (a step's title, a place's name) is
//! printed as written, in French.
//!
//! TRANSLATIONS TO BE CHECKED BY A NATIVE SPEAKER before the papers are handed out, as
//! the texts of the information notices are. Romanian is written with the
//! comma-below letters (ș ț, never the cedilla forms ş ţ) and ă â î; Bulgarian in
//! Cyrillic. A "visit" is translated as a meeting (întâlnire, среща): it may be an
//! interview at the office as well as a visit on a site.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::fold::fold;

/// The language printed beside French on a person's copy: Romanian or Bulgarian.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CopyLang {
    /// Romanian (`ro`).
    #[serde(rename = "ro")]
    Ro,
    /// Bulgarian (`bg`).
    #[serde(rename = "bg")]
    Bg,
}

impl CopyLang {
    /// The language's code: `ro` or `bg`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ro => "ro",
            Self::Bg => "bg",
        }
    }

    /// The first of Romanian and Bulgarian that a person's `languages` name, by code
    /// (`ro`, `ron`, `rum`, `bg`, `bul`) or by name in French, English or the language
    /// itself (`roumain`, `Română`, `bulgare`, `български`…), case and diacritics aside.
    /// Romani (`rom`, `romani`) is neither.
    pub(crate) fn from_languages<'a>(languages: impl IntoIterator<Item = &'a str>) -> Option<Self> {
        languages
            .into_iter()
            .find_map(|language| match fold(language.trim()).as_str() {
                "ro" | "ron" | "rum" | "roumain" | "romanian" | "romana" | "limba romana" => {
                    Some(Self::Ro)
                }
                "bg"
                | "bul"
                | "bulgare"
                | "bulgarian"
                | "bulgarski"
                // "български", "български език": fold writes Cyrillic in Latin letters.
                | "balgarski"
                | "balgarski ezik" => Some(Self::Bg),
                _ => None,
            })
    }
}

impl FromStr for CopyLang {
    type Err = Error;

    /// Reads `ro` or `bg`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "ro" => Ok(Self::Ro),
            "bg" => Ok(Self::Bg),
            _ => Err(Error::invalid("lang", "ro (Romanian) or bg (Bulgarian)")),
        }
    }
}

impl std::fmt::Display for CopyLang {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A text in French and in the person's language, to print side by side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bilingual {
    /// In French.
    pub fr: String,
    /// In the person's language (the copy's [`CopyLang`]).
    pub other: String,
}

impl Bilingual {
    /// The same text in both columns: a value that is not translated (a date, a name).
    pub(crate) fn same(text: impl Into<String>) -> Self {
        let text = text.into();
        Self {
            fr: text.clone(),
            other: text,
        }
    }
}

/// A label and its value, each in French and in the person's language (a value that is
/// not translated, such as a date or a name, is the same in both). An empty value is one
/// to fill by hand, or that the record does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BilingualField {
    /// The label.
    pub label: Bilingual,
    /// The value.
    pub value: Bilingual,
}

impl BilingualField {
    /// `phrase` labelling `value`.
    pub(crate) fn new(phrase: Phrase, lang: CopyLang, value: Bilingual) -> Self {
        Self {
            label: phrase.bilingual(lang),
            value,
        }
    }
}

/// A label of the papers a person takes home.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phrase {
    CopyTitle,
    For,
    VisitDate,
    Place,
    StepsDecided,
    NoSteps,
    Step,
    Category,
    DueOn,
    Decisions,
    NextVisit,
    ToBeSet,
    YourCounsellor,
    Contact,
    SlipTitle,
    What,
    When,
    Time,
    Where,
    WithWhom,
    Bring,
}

impl Phrase {
    /// Every phrase, for the tests of the table.
    #[cfg(test)]
    const ALL: &'static [Self] = &[
        Self::CopyTitle,
        Self::For,
        Self::VisitDate,
        Self::Place,
        Self::StepsDecided,
        Self::NoSteps,
        Self::Step,
        Self::Category,
        Self::DueOn,
        Self::Decisions,
        Self::NextVisit,
        Self::ToBeSet,
        Self::YourCounsellor,
        Self::Contact,
        Self::SlipTitle,
        Self::What,
        Self::When,
        Self::Time,
        Self::Where,
        Self::WithWhom,
        Self::Bring,
    ];

    /// The phrase in French, Romanian and Bulgarian.
    fn texts(self) -> [&'static str; 3] {
        match self {
            Self::CopyTitle => [
                "Compte rendu de la visite",
                "Rezumatul întâlnirii",
                "Резюме на срещата",
            ],
            Self::For => ["Pour", "Pentru", "За"],
            Self::VisitDate => ["Date de la visite", "Data întâlnirii", "Дата на срещата"],
            Self::Place => ["Lieu", "Locul", "Място"],
            Self::StepsDecided => ["Démarches décidées", "Pașii stabiliți", "Договорени стъпки"],
            Self::NoSteps => [
                "Aucune démarche n'a été décidée.",
                "Nu a fost stabilit niciun pas.",
                "Не са договорени стъпки.",
            ],
            Self::Step => ["Démarche", "Pas", "Стъпка"],
            Self::Category => ["Catégorie", "Categorie", "Категория"],
            Self::DueOn => ["Échéance", "Termen", "Срок"],
            Self::Decisions => ["Ce qui a été décidé", "Ce s-a hotărât", "Какво беше решено"],
            Self::NextVisit => ["Prochaine visite", "Următoarea întâlnire", "Следваща среща"],
            Self::ToBeSet => ["à fixer", "de stabilit", "предстои да се уточни"],
            Self::YourCounsellor => [
                "Votre conseiller·e",
                "Consilierul / consiliera dumneavoastră",
                "Вашият консултант / Вашата консултантка",
            ],
            Self::Contact => [
                "Pour nous joindre",
                "Ne puteți contacta",
                "Можете да се свържете с нас",
            ],
            Self::SlipTitle => ["Rendez-vous", "Programare", "Уговорена среща"],
            Self::What => ["Quoi", "Ce", "Какво"],
            Self::When => ["Quand", "Când", "Кога"],
            Self::Time => ["Heure", "Ora", "Час"],
            Self::Where => ["Où", "Unde", "Къде"],
            Self::WithWhom => ["Avec qui", "Cu cine", "С кого"],
            Self::Bring => ["Apportez", "Aduceți", "Донесете"],
        }
    }

    /// The phrase in French and in `lang`.
    pub(crate) fn bilingual(self, lang: CopyLang) -> Bilingual {
        pick(self.texts(), lang)
    }
}

/// The step categories (`StepCategory`) in French, Romanian and Bulgarian. The French
/// is the printed sheets' label.
fn category_texts(value: &str) -> Option<[&'static str; 3]> {
    Some(match value {
        "job_search" => [
            "Recherche d'emploi",
            "Căutarea unui loc de muncă",
            "Търсене на работа",
        ],
        "job_application" => [
            "Candidature",
            "Candidatură la un loc de muncă",
            "Кандидатстване за работа",
        ],
        "training" => ["Formation", "Formare profesională", "Обучение"],
        "france_travail" => [
            "France Travail",
            "France Travail (agenția pentru ocuparea forței de muncă)",
            "France Travail (бюро по труда)",
        ],
        "documents" => ["Papiers", "Acte", "Документи"],
        "health" => ["Santé", "Sănătate", "Здраве"],
        "housing" => ["Logement", "Locuință", "Жилище"],
        "childcare" => ["Garde d'enfants", "Îngrijirea copiilor", "Грижа за децата"],
        "transport" => ["Mobilité", "Transport", "Транспорт"],
        "language" => ["Langue", "Învățarea limbii", "Изучаване на езика"],
        "social_worker" => ["Travailleur social", "Asistent social", "Социален работник"],
        "other" => ["Autre", "Altele", "Друго"],
        _ => return None,
    })
}

/// A step's category in French and in `lang`; a value this build does not know, as
/// written in both.
pub(crate) fn category(value: &str, lang: CopyLang) -> Bilingual {
    match category_texts(value) {
        Some(texts) => pick(texts, lang),
        None => Bilingual::same(value),
    }
}

fn pick([fr, ro, bg]: [&'static str; 3], lang: CopyLang) -> Bilingual {
    Bilingual {
        fr: fr.to_owned(),
        other: match lang {
            CopyLang::Ro => ro,
            CopyLang::Bg => bg,
        }
        .to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::StepCategory;

    fn every_text() -> Vec<[&'static str; 3]> {
        let mut all: Vec<[&'static str; 3]> = Phrase::ALL.iter().map(|p| p.texts()).collect();
        for value in StepCategory::VALUES {
            all.push(category_texts(value).unwrap_or_else(|| panic!("{value} has no words")));
        }
        all
    }

    #[test]
    fn romanian_has_the_comma_below_letters_and_bulgarian_is_cyrillic() {
        for [fr, ro, bg] in every_text() {
            assert!(!fr.is_empty() && !ro.is_empty() && !bg.is_empty());
            assert!(
                !ro.contains(['ş', 'ţ', 'Ş', 'Ţ']),
                "{ro}: Romanian takes ș and ț (comma below), not the cedilla forms"
            );
            assert!(
                !ro.chars().any(|c| matches!(c, '\u{0400}'..='\u{04FF}')),
                "{ro}: Romanian is in Latin letters"
            );
            let latin = bg.replace("France Travail", "");
            assert!(
                !latin.chars().any(|c| c.is_ascii_alphabetic()),
                "{bg}: Bulgarian is in Cyrillic (but the name France Travail)"
            );
            assert!(
                bg.chars().any(|c| matches!(c, '\u{0400}'..='\u{04FF}')),
                "{bg}: Bulgarian is in Cyrillic"
            );
        }
        let romanian: String = every_text().iter().map(|t| t[1]).collect();
        for letter in ['ă', 'â', 'î', 'ș', 'ț'] {
            assert!(
                romanian.contains(letter),
                "the Romanian table uses {letter}"
            );
        }
    }

    #[test]
    fn the_french_categories_are_those_of_the_sheets() {
        for value in StepCategory::VALUES {
            assert_eq!(
                category(value, CopyLang::Ro).fr,
                super::super::labels::value("category", value),
                "the French label of {value}"
            );
        }
        assert_eq!(
            category("x_new", CopyLang::Bg),
            Bilingual::same("x_new"),
            "an unknown category prints as written"
        );
    }

    #[test]
    fn a_language_is_chosen_from_codes_and_names_but_not_romani() {
        let choose = |list: &[&str]| CopyLang::from_languages(list.iter().copied());
        assert_eq!(choose(&["fr", "ro"]), Some(CopyLang::Ro));
        assert_eq!(choose(&["rom", "Română"]), Some(CopyLang::Ro));
        assert_eq!(choose(&["romani", "bulgare"]), Some(CopyLang::Bg));
        assert_eq!(choose(&[" БЪЛГАРСКИ "]), Some(CopyLang::Bg));
        assert_eq!(choose(&["bg", "ro"]), Some(CopyLang::Bg), "the first one");
        assert_eq!(choose(&["romani", "rom", "fr", "tr"]), None);
        assert_eq!("bg".parse::<CopyLang>().unwrap(), CopyLang::Bg);
        assert!(
            "fr".parse::<CopyLang>().is_err(),
            "French is the other column"
        );
    }
}
