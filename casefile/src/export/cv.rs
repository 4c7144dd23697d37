//! The CV (curriculum vitae): what a person's CV prints ([`CaseFile::cv`]), from their
//! `cv` record when a counsellor prepared one, else proposed from their file; and what
//! the CV screen proposes from the file ([`CaseFile::cv_draft`]), which the counsellor
//! reorders, rewrites and trims before saving it as the `cv` record.
//!
//! A CV reads only: the person's names, phone, e-mail, languages, French level, skills
//! and certifications; the situation's driving licence, skills and work experience; the
//! person's jobs and trainings; and the `cv` record. Nothing about origin (nationality,
//! birth date and place), papers (identity document, social security and France Travail
//! numbers, domiciliation), health, housing, consent or notes is read, so none of it can
//! reach a CV whatever the file holds. Languages print only as the counsellor ticked
//! them (the `cv` record's `languages`): they may tell where a person comes from.
//!
//! A field of the `cv` record in conflict prints every value: a text's joined with
//! ` / `, a list's items each once, in order of first appearance.

use serde::Serialize;
use serde_json::Value;
use sync_protocol::{RecordId, RecordState};
use tracing::info_span;

use super::{labels, refs, text, values};
use crate::error::{Error, Result};
use crate::fold::fold;
use crate::records::load_many;
use crate::store::CaseFile;

/// What a CV prints, each text as printed, in French, lists in the CV's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cv {
    /// Whether the CV is anonymised: then it has no name and no contact (and no photo).
    pub anonymised: bool,
    /// The person's name, given names first; `None` when anonymised.
    pub name: Option<String>,
    /// The line under the name ("Agent de propreté — disponible immédiatement"); empty
    /// when there is none.
    pub headline: String,
    /// How to reach the person, one line each (phone, e-mail); empty when anonymised.
    pub contact: Vec<String>,
    /// The languages, one line each ("Français : A2 (élémentaire)"): only those the
    /// counsellor ticked in the `cv` record; none when the CV is proposed from the file.
    pub languages: Vec<String>,
    /// The skills, one each.
    pub skills: Vec<String>,
    /// Driving licences and certifications, one each ("Permis B", "CACES R489 cat. 3").
    pub certifications: Vec<String>,
    /// The jobs, most recent first when proposed from the file.
    pub experience: Vec<CvItem>,
    /// The trainings, most recent first when proposed from the file.
    pub trainings: Vec<CvItem>,
    /// Interests, one each.
    pub interests: Vec<String>,
    /// Whether the content is the person's `cv` record (else it is proposed from the
    /// file, as [`CaseFile::cv_draft`] proposes it, without languages).
    pub from_record: bool,
}

/// A job or a training of a CV.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CvItem {
    /// Its first line: `2023 – 2024 · Agent de propreté · Elior (CDD)`.
    pub heading: String,
    /// The lines under it.
    pub details: Vec<String>,
}

/// What the CV screen proposes from a person's file, in the form of the `cv` record's
/// fields (an item of `experience` or `trainings` is its first line, then its details
/// on further lines), for the counsellor to reorder, rewrite and trim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CvDraft {
    /// The person's `cv` record that [`CaseFile::cv`] prints, when there is one: the
    /// screen edits it rather than create another.
    pub record: Option<RecordId>,
    /// The person's name as a CV prints it (not a field of the record).
    pub name: String,
    /// A headline: the title of the most recent job, if any.
    pub headline: String,
    /// Phone and e-mail, one a line.
    pub contact: String,
    /// Every language the file knows, French first with its level.
    pub languages: Vec<String>,
    /// The person's skills, then those of the situation's free text.
    pub skills: Vec<String>,
    /// The driving licence, the person's certifications, those of completed trainings.
    pub certifications: Vec<String>,
    /// The jobs, most recent first, then the lines of the situation's work experience.
    pub experience: Vec<String>,
    /// The trainings not dropped nor only applied for, most recent first.
    pub trainings: Vec<String>,
    /// Nothing is proposed: the file does not hold interests.
    pub interests: Vec<String>,
}

impl CvDraft {
    /// The fields of a `cv` record of `person` holding this draft as it stands (empty
    /// texts and lists left out), for [`CaseFile::create`].
    pub fn fields(&self, person: RecordId) -> Vec<(String, Value)> {
        let mut out = vec![("person_id".to_owned(), Value::String(person.to_string()))];
        for (name, value) in [("headline", &self.headline), ("contact", &self.contact)] {
            if !value.trim().is_empty() {
                out.push((name.to_owned(), Value::String(value.clone())));
            }
        }
        for (name, items) in [
            ("languages", &self.languages),
            ("skills", &self.skills),
            ("certifications", &self.certifications),
            ("experience", &self.experience),
            ("trainings", &self.trainings),
            ("interests", &self.interests),
        ] {
            if !items.is_empty() {
                let items = items.iter().cloned().map(Value::String).collect();
                out.push((name.to_owned(), Value::Array(items)));
            }
        }
        out
    }

    /// The content of a `cv` record.
    fn of_record(record: &RecordState, name: String) -> Self {
        Self {
            record: Some(record.id()),
            name,
            headline: text(record, "headline"),
            contact: text(record, "contact"),
            languages: list(record, "languages"),
            skills: list(record, "skills"),
            certifications: list(record, "certifications"),
            experience: list(record, "experience"),
            trainings: list(record, "trainings"),
            interests: list(record, "interests"),
        }
    }

    /// What the CV prints of this content.
    fn printed(self, anonymised: bool) -> Cv {
        let lines = |items: Vec<String>| -> Vec<String> {
            items
                .iter()
                .map(|i| i.trim().to_owned())
                .filter(|i| !i.is_empty())
                .collect()
        };
        let items = |items: Vec<String>| -> Vec<CvItem> {
            items
                .iter()
                .filter_map(|item| {
                    let mut rows = item.lines().map(str::trim).filter(|l| !l.is_empty());
                    let heading = rows.next()?.to_owned();
                    Some(CvItem {
                        heading,
                        details: rows.map(str::to_owned).collect(),
                    })
                })
                .collect()
        };
        let contact = if anonymised {
            Vec::new()
        } else {
            lines(self.contact.lines().map(str::to_owned).collect())
        };
        Cv {
            anonymised,
            name: (!anonymised).then_some(self.name),
            headline: self.headline.trim().to_owned(),
            contact,
            languages: lines(self.languages),
            skills: lines(self.skills),
            certifications: lines(self.certifications),
            experience: items(self.experience),
            trainings: items(self.trainings),
            interests: lines(self.interests),
            from_record: self.record.is_some(),
        }
    }
}

impl CaseFile {
    /// What the CV of `person` prints: their `cv` record's content when there is one
    /// (the most recently created, when two devices each made one), else what the file
    /// proposes ([`CaseFile::cv_draft`]) without any language, since languages print
    /// only as a counsellor ticks them. `anonymised` leaves out the name and the contact.
    ///
    /// Errors: [`Error::NotFound`]; [`Error::Invalid`] naming `person_id` when the
    /// record is not a person.
    pub fn cv(&self, person: RecordId, anonymised: bool) -> Result<Cv> {
        let _span = info_span!("casefile.cv").entered();
        let state = self.person_record(person)?;
        let content = match self.cv_record(person)? {
            Some(record) => CvDraft::of_record(&record, cv_name(&state)),
            None => {
                let mut proposed = self.proposed_cv(&state)?;
                proposed.languages.clear();
                proposed
            }
        };
        Ok(content.printed(anonymised))
    }

    /// What the CV screen proposes from the file of `person`: see [`CvDraft`]'s fields,
    /// and the `cv` record the CV prints now, if any.
    ///
    /// Errors: [`Error::NotFound`]; [`Error::Invalid`] naming `person_id` when the
    /// record is not a person.
    pub fn cv_draft(&self, person: RecordId) -> Result<CvDraft> {
        let _span = info_span!("casefile.cv_draft").entered();
        let state = self.person_record(person)?;
        let mut draft = self.proposed_cv(&state)?;
        draft.record = self.cv_record(person)?.map(|r| r.id());
        Ok(draft)
    }

    /// The person `id`, checked to be one.
    pub(crate) fn person_record(&self, id: RecordId) -> Result<RecordState> {
        // A file merged into another is read as the file that stays.
        let state = self.get(crate::duplicates::survivor(&self.conn, id)?)?;
        if state.kind().as_str() != "person" {
            return Err(Error::invalid("person_id", "the id of a person"));
        }
        Ok(state)
    }

    /// The records of `table`'s kind about `person` alone (not deleted), in creation order: those
    /// whose every `person_id` entry names them, so that a record in conflict over whom
    /// it is about never shows on another person's paper.
    pub(crate) fn about_person(
        &self,
        table: PersonTable,
        person: RecordId,
    ) -> Result<Vec<RecordState>> {
        // The person's own records and those of the files merged into theirs.
        let person = crate::duplicates::survivor(&self.conn, person)?;
        let mut ones = crate::duplicates::merged_into_one(&self.conn, person)?;
        ones.push(person);
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT id FROM \"{}\" WHERE person_id IN (
               SELECT ?1 UNION ALL SELECT id FROM person_survivor WHERE survivor = ?1
             ) ORDER BY id",
            table.name()
        ))?;
        let ids = stmt
            .query_map([person.to_string()], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(load_many(&self.conn, &ids)?
            .into_iter()
            .filter(|s| {
                !s.is_deleted()
                    && matches!(refs(s, "person_id").as_slice(), [one] if ones.contains(one))
            })
            .collect())
    }

    /// The person's `cv` record that prints: the most recently created.
    fn cv_record(&self, person: RecordId) -> Result<Option<RecordState>> {
        Ok(self.about_person(PersonTable::Cv, person)?.pop())
    }

    /// What the file proposes for the CV of `person`.
    fn proposed_cv(&self, person: &RecordState) -> Result<CvDraft> {
        let id = person.id();
        let situation = self
            .about_person(PersonTable::Situation, id)?
            .into_iter()
            .next();
        let mut jobs = self.about_person(PersonTable::Employment, id)?;
        jobs.sort_by_key(|j| std::cmp::Reverse((text(j, "start_on"), text(j, "end_on"))));
        let mut trainings = self.about_person(PersonTable::Training, id)?;
        trainings.sort_by_key(|t| std::cmp::Reverse((text(t, "start_on"), text(t, "end_on"))));

        let contact: Vec<String> = ["phone", "email"]
            .into_iter()
            .map(|field| text(person, field))
            .filter(|t| !t.trim().is_empty())
            .collect();

        let mut skills = Unique::default();
        skills.extend(list(person, "skills"));
        if let Some(situation) = &situation {
            skills.extend(
                text(situation, "skills")
                    .split(['\n', ';', ',', '•'])
                    .map(str::to_owned),
            );
        }

        let mut certifications = Unique::default();
        if situation
            .as_ref()
            .is_some_and(|s| every(s, "driving_licence", |v| v == &Value::Bool(true)))
        {
            certifications.push("Permis B".to_owned());
        }
        certifications.extend(list(person, "certifications"));
        for training in &trainings {
            if completed(training) {
                certifications.push(text(training, "certification"));
            }
        }

        let mut experience: Vec<String> = jobs.iter().map(job_item).collect();
        if let Some(situation) = &situation {
            experience.extend(
                text(situation, "work_experience")
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned),
            );
        }

        Ok(CvDraft {
            record: None,
            name: cv_name(person),
            headline: jobs
                .first()
                .map(|j| text(j, "job_title"))
                .unwrap_or_default(),
            contact: contact.join("\n"),
            languages: language_lines(person),
            skills: skills.0,
            certifications: certifications.0,
            experience,
            trainings: trainings
                .iter()
                .filter(|t| {
                    !values(t, "status")
                        .into_iter()
                        .any(|v| v == "dropped" || v == "applied")
                })
                .map(training_item)
                .collect(),
            interests: Vec::new(),
        })
    }
}

/// The derived tables of kinds about one person that [`CaseFile::about_person`] reads.
#[derive(Debug, Clone, Copy)]
pub(crate) enum PersonTable {
    Situation,
    Employment,
    Training,
    Step,
    Cv,
}

impl PersonTable {
    fn name(self) -> &'static str {
        match self {
            Self::Situation => "situation",
            Self::Employment => "employment",
            Self::Training => "training",
            Self::Step => "step",
            Self::Cv => "cv",
        }
    }
}

/// Texts kept once each (case and diacritics aside), trimmed, in order.
#[derive(Default)]
struct Unique(Vec<String>);

impl Unique {
    fn push(&mut self, item: String) {
        let item = item.trim();
        if !item.is_empty() && !self.0.iter().any(|i| fold(i) == fold(item)) {
            self.0.push(item.to_owned());
        }
    }

    fn extend(&mut self, items: impl IntoIterator<Item = String>) {
        for item in items {
            self.push(item);
        }
    }
}

/// The items of a list field, every entry's in a conflict, each once, in order.
pub(crate) fn list(state: &RecordState, field: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for value in values(state, field) {
        let items: Vec<&str> = match value {
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
            Value::String(text) => vec![text.as_str()],
            _ => Vec::new(),
        };
        for item in items {
            if !out.iter().any(|o| o == item) {
                out.push(item.to_owned());
            }
        }
    }
    out
}

/// Whether the field has a value and every entry's satisfies `test`.
pub(crate) fn every(state: &RecordState, field: &str, test: impl Fn(&Value) -> bool) -> bool {
    let all = values(state, field);
    !all.is_empty() && all.into_iter().all(test)
}

fn completed(training: &RecordState) -> bool {
    every(training, "status", |v| v == "completed")
}

/// A name as a CV prints it: given names, then family name.
fn cv_name(person: &RecordState) -> String {
    let given = text(person, "given_names");
    let family = text(person, "family_name");
    [given, family]
        .into_iter()
        .filter(|t| !t.trim().is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `2023 – 2024`, `2023`, `Depuis 2023`, `Jusqu'en 2024`, or nothing: the years of two
/// dates.
fn years(state: &RecordState, from: &str, to: &str) -> String {
    let year = |field: &str| {
        let value = text(state, field);
        let year: String = value.chars().take(4).collect();
        (year.len() == 4 && year.bytes().all(|b| b.is_ascii_digit())).then_some(year)
    };
    match (year(from), year(to)) {
        (Some(a), Some(b)) if a == b => a,
        (Some(a), Some(b)) => format!("{a} – {b}"),
        (Some(a), None) => format!("Depuis {a}"),
        (None, Some(b)) => format!("Jusqu'en {b}"),
        (None, None) => String::new(),
    }
}

/// A label inside a sentence: its first letter in lower case ("(saisonnier)"), unless it
/// is an acronym ("(CDD)", "(IAE)").
fn inline(label: &str) -> String {
    let mut chars = label.chars();
    match (chars.next(), chars.next()) {
        (Some(first), Some(second)) if !second.is_uppercase() => {
            first.to_lowercase().chain(label.chars().skip(1)).collect()
        }
        _ => label.to_owned(),
    }
}

/// A job as a CV item: `2023 – 2024 · Agent de propreté · Elior (CDD)`, then its sector.
fn job_item(job: &RecordState) -> String {
    let mut employer = text(job, "employer");
    let contract: Vec<String> = values(job, "contract")
        .into_iter()
        .filter_map(Value::as_str)
        .filter(|c| *c != "other")
        .map(|c| inline(labels::value("contract", c)))
        .collect();
    if !contract.is_empty() {
        employer = format!("{employer} ({})", contract.join(" / "));
    }
    let heading = [
        years(job, "start_on", "end_on"),
        text(job, "job_title"),
        employer,
    ]
    .into_iter()
    .filter(|t| !t.trim().is_empty())
    .collect::<Vec<_>>()
    .join(" · ");
    let sector = text(job, "sector");
    if sector.trim().is_empty() {
        heading
    } else {
        format!("{heading}\nSecteur : {sector}")
    }
}

/// A training as a CV item: `2024 · Cariste · AFPA`, `(en cours)` when not completed,
/// then its certification.
fn training_item(training: &RecordState) -> String {
    let done = completed(training);
    let mut heading = [
        years(training, "start_on", "end_on"),
        text(training, "title"),
        text(training, "provider"),
    ]
    .into_iter()
    .filter(|t| !t.trim().is_empty())
    .collect::<Vec<_>>()
    .join(" · ");
    if every(training, "status", |v| v == "enrolled") {
        heading.push_str(" (en cours)");
    }
    let certification = text(training, "certification");
    if certification.trim().is_empty() {
        heading
    } else if done {
        format!("{heading}\nCertification : {certification}")
    } else {
        format!("{heading}\nCertification préparée : {certification}")
    }
}

/// The languages the file knows, as a CV prints them: French first, with its level
/// (`french_level`), then the others by their French name, in the file's order.
fn language_lines(person: &RecordState) -> Vec<String> {
    let french_level = values(person, "french_level")
        .into_iter()
        .filter_map(Value::as_str)
        .filter(|l| *l != "none")
        .map(|l| match l {
            "a1" => "A1 (débutant)",
            "a2" => "A2 (élémentaire)",
            "b1" => "B1 (intermédiaire)",
            "b2_plus" => "B2 ou plus (avancé)",
            other => other,
        })
        .collect::<Vec<_>>()
        .join(" / ");
    let languages = list(person, "languages");
    let mut lines = Unique::default();
    let speaks_french = languages
        .iter()
        .any(|l| language_name(l) == Some("Français"));
    if !french_level.is_empty() {
        lines.push(format!("Français : {french_level}"));
    } else if speaks_french {
        lines.push("Français".to_owned());
    }
    for language in &languages {
        match language_name(language) {
            Some("Français") => {}
            Some(name) => lines.push(name.to_owned()),
            None => lines.push(capitalised(language.trim())),
        }
    }
    lines.0
}

/// The French name of a language a person's `languages` hold, by code or by name.
fn language_name(language: &str) -> Option<&'static str> {
    Some(match fold(language.trim()).as_str() {
        "fr" | "fra" | "fre" | "francais" | "french" => "Français",
        "ro" | "ron" | "rum" | "roumain" | "romanian" | "romana" => "Roumain",
        // "български": fold writes Cyrillic in Latin letters.
        "bg" | "bul" | "bulgare" | "bulgarian" | "balgarski" => "Bulgare",
        "rom" | "rmy" | "romani" | "romanes" | "romani chib" => "Romani",
        "en" | "eng" | "anglais" | "english" => "Anglais",
        "es" | "spa" | "espagnol" | "spanish" => "Espagnol",
        "it" | "ita" | "italien" | "italian" => "Italien",
        "de" | "deu" | "ger" | "allemand" | "german" => "Allemand",
        "pt" | "por" | "portugais" | "portuguese" => "Portugais",
        "tr" | "tur" | "turc" | "turkish" => "Turc",
        "hu" | "hun" | "hongrois" | "hungarian" => "Hongrois",
        "ru" | "rus" | "russe" | "russian" => "Russe",
        "sr" | "srp" | "serbe" | "serbian" => "Serbe",
        "mk" | "mkd" | "macedonien" | "macedonian" => "Macédonien",
        "ar" | "ara" | "arabe" | "arabic" => "Arabe",
        _ => return None,
    })
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::language_name;

    #[test]
    fn a_language_is_named_in_french_from_its_code_or_its_own_name() {
        for (written, french) in [
            ("bg", "Bulgare"),
            (" Български ", "Bulgare"),
            ("Română", "Roumain"),
            ("romani", "Romani"),
        ] {
            assert_eq!(language_name(written), Some(french), "{written}");
        }
        assert_eq!(language_name("klingon"), None);
    }
}
