//! The papers for a person's job search, each command a few lines over `casefile` and
//! `documents`: the CV screen's draft and its `cv` record, the CV as a PDF (named or
//! anonymised), the person's own copy of a visit and an appointment slip for a step, both
//! in French beside Romanian or Bulgarian.
//!
//! The CV screen shows every item the file proposes and every item the `cv` record holds,
//! each with whether the CV keeps it; it sends back only the items kept, in their order.
//! Languages are never kept until the counsellor ticks them (they may tell where a person
//! comes from).

use casefile::export::{CopyLang, Cv, CvDraft};
use casefile::fold::fold;
use casefile::sync_protocol::RecordId;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use specta::Type;
use tauri::State;

use crate::error::AppResult;
use crate::saving;
use crate::state::Vault;
use crate::view::record_id;

/// The fields of a `cv` record the CV screen writes (all but `person_id`).
const CV_FIELDS: [&str; 8] = [
    "headline",
    "contact",
    "languages",
    "skills",
    "certifications",
    "experience",
    "trainings",
    "interests",
];

/// The language printed beside French on a person's copy or slip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "lowercase")]
pub enum CopyLangInput {
    /// Romanian.
    Ro,
    /// Bulgarian.
    Bg,
}

impl From<CopyLangInput> for CopyLang {
    fn from(lang: CopyLangInput) -> Self {
        match lang {
            CopyLangInput::Ro => Self::Ro,
            CopyLangInput::Bg => Self::Bg,
        }
    }
}

/// An item of a list of the CV screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
pub struct CvItemView {
    /// The item as printed (a job or a training: its first line, then its details).
    pub text: String,
    /// Whether the CV keeps it (a language: whether it is ticked).
    pub kept: bool,
}

/// What the CV screen shows of a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
pub struct CvScreenView {
    /// The person's `cv` record, if one was saved.
    pub record: Option<String>,
    /// The person's name as the CV prints it.
    pub name: String,
    /// The line under the name.
    pub headline: String,
    /// Phone and e-mail, one a line.
    pub contact: String,
    /// The languages: those the record holds, ticked, then those of the file, not ticked.
    pub languages: Vec<CvItemView>,
    /// The skills.
    pub skills: Vec<CvItemView>,
    /// Driving licences and certifications.
    pub certifications: Vec<CvItemView>,
    /// The jobs.
    pub experience: Vec<CvItemView>,
    /// The trainings.
    pub trainings: Vec<CvItemView>,
    /// Interests.
    pub interests: Vec<CvItemView>,
}

impl CvScreenView {
    /// The screen of a person with no `cv` record: what the file proposes, every item
    /// kept but the languages.
    fn proposed(draft: CvDraft) -> Self {
        let kept = |items: Vec<String>, kept: bool| -> Vec<CvItemView> {
            items
                .into_iter()
                .map(|text| CvItemView { text, kept })
                .collect()
        };
        Self {
            record: draft.record.map(|r| r.to_string()),
            name: draft.name,
            headline: draft.headline,
            contact: draft.contact,
            languages: kept(draft.languages, false),
            skills: kept(draft.skills, true),
            certifications: kept(draft.certifications, true),
            experience: kept(draft.experience, true),
            trainings: kept(draft.trainings, true),
            interests: kept(draft.interests, true),
        }
    }

    /// The screen of a person whose `cv` record prints `saved`: its items kept, in its
    /// order, then those the file proposes that it does not hold, left out.
    fn saved(record: RecordId, saved: Cv, draft: CvDraft) -> Self {
        let joined = |items: Vec<casefile::export::CvItem>| -> Vec<String> {
            items
                .into_iter()
                .map(|item| {
                    std::iter::once(item.heading)
                        .chain(item.details)
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .collect()
        };
        Self {
            record: Some(record.to_string()),
            name: draft.name,
            headline: saved.headline,
            contact: saved.contact.join("\n"),
            languages: merged(saved.languages, draft.languages),
            skills: merged(saved.skills, draft.skills),
            certifications: merged(saved.certifications, draft.certifications),
            experience: merged(joined(saved.experience), draft.experience),
            trainings: merged(joined(saved.trainings), draft.trainings),
            interests: merged(saved.interests, draft.interests),
        }
    }
}

/// `saved`, kept, then each item of `proposed` it does not hold (case and diacritics
/// aside), left out.
fn merged(saved: Vec<String>, proposed: Vec<String>) -> Vec<CvItemView> {
    let held: Vec<String> = saved.iter().map(|s| fold(s.trim())).collect();
    let mut out: Vec<CvItemView> = saved
        .into_iter()
        .map(|text| CvItemView { text, kept: true })
        .collect();
    for text in proposed {
        if !held.contains(&fold(text.trim())) {
            out.push(CvItemView { text, kept: false });
        }
    }
    out
}

/// What the CV screen saves: the items kept, in the CV's order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct CvInput {
    /// The line under the name.
    pub headline: String,
    /// Phone and e-mail, one a line.
    pub contact: String,
    /// The languages ticked.
    pub languages: Vec<String>,
    /// The skills.
    pub skills: Vec<String>,
    /// Driving licences and certifications.
    pub certifications: Vec<String>,
    /// The jobs: each its first line, then its details on further lines.
    pub experience: Vec<String>,
    /// The trainings, as the jobs.
    pub trainings: Vec<String>,
    /// Interests.
    pub interests: Vec<String>,
}

impl CvInput {
    /// The fields of a `cv` record of `person` holding this content (empty ones left out).
    fn fields(self, person: RecordId) -> Vec<(String, Value)> {
        let items = |items: Vec<String>| -> Vec<String> {
            items
                .into_iter()
                .map(|i| i.trim().to_owned())
                .filter(|i| !i.is_empty())
                .collect()
        };
        CvDraft {
            record: None,
            name: String::new(),
            headline: self.headline.trim().to_owned(),
            contact: self.contact.trim().to_owned(),
            languages: items(self.languages),
            skills: items(self.skills),
            certifications: items(self.certifications),
            experience: items(self.experience),
            trainings: items(self.trainings),
            interests: items(self.interests),
        }
        .fields(person)
    }
}

/// What the CV screen shows of `person`: their `cv` record when one was saved, beside
/// what their file proposes.
#[tauri::command]
#[specta::specta]
pub async fn cv_draft(vault: State<'_, Vault>, person: String) -> AppResult<CvScreenView> {
    cv_draft_in(&vault, person).await
}

async fn cv_draft_in(vault: &Vault, person: String) -> AppResult<CvScreenView> {
    let id = record_id(&person)?;
    vault
        .with(move |file| {
            let draft = file.cv_draft(id)?;
            Ok(match draft.record {
                Some(record) => CvScreenView::saved(record, file.cv(id, false)?, draft),
                None => CvScreenView::proposed(draft),
            })
        })
        .await
}

/// Saves the CV of `person` as their `cv` record (one local edit: it syncs, so another
/// counsellor can print it again), creating it or changing the one the CV prints;
/// answers its id.
#[tauri::command]
#[specta::specta]
pub async fn save_cv(
    vault: State<'_, Vault>,
    person: String,
    fields: CvInput,
) -> AppResult<String> {
    save_cv_in(&vault, person, fields).await
}

async fn save_cv_in(vault: &Vault, person: String, fields: CvInput) -> AppResult<String> {
    let id = record_id(&person)?;
    vault
        .with(move |file| {
            let mut wanted = fields.fields(id);
            let Some(record) = file.cv_draft(id)?.record else {
                return Ok(file.create("cv", wanted)?.to_string());
            };
            wanted.retain(|(name, _)| name != "person_id");
            for name in CV_FIELDS {
                if !wanted.iter().any(|(n, _)| n == name) {
                    wanted.push((name.to_owned(), Value::Null));
                }
            }
            // Only what changes: a field that already holds the value alone stays as is.
            let state = file.get(record)?;
            wanted.retain(|(name, value)| match state.entries(name) {
                [] => !value.is_null(),
                [only] => only.value != *value,
                _ => true,
            });
            if !wanted.is_empty() {
                file.edit(record, wanted)?;
            }
            Ok(record.to_string())
        })
        .await
}

/// Saves the CV of `person` (PDF), anonymised (no name, no contact) or not, in the
/// exports folder or in `folder`; answers its path.
#[tauri::command]
#[specta::specta]
pub async fn save_cv_pdf(
    vault: State<'_, Vault>,
    person: String,
    anonymised: bool,
    folder: Option<String>,
) -> AppResult<String> {
    save_cv_pdf_in(&vault, person, anonymised, folder).await
}

async fn save_cv_pdf_in(
    vault: &Vault,
    person: String,
    anonymised: bool,
    folder: Option<String>,
) -> AppResult<String> {
    let dir = saving::target_dir(vault.path(), folder.as_deref())?;
    vault
        .with(move |file| {
            let pdf = documents::cv_pdf(&file.cv(record_id(&person)?, anonymised)?)?;
            let kind = if anonymised { "cv-anonyme" } else { "cv" };
            let stem = format!("{kind}-{}", saving::short_id(&person));
            saving::save(&dir, &stem, "pdf", &pdf)
        })
        .await
}

/// Saves the copy of `visit` for `person`, one of those it met (PDF, French beside
/// `lang`, or beside the language the person's `languages` name when `None`), in the
/// exports folder or in `folder`; answers its path.
#[tauri::command]
#[specta::specta]
pub async fn save_visit_copy(
    vault: State<'_, Vault>,
    visit: String,
    person: String,
    lang: Option<CopyLangInput>,
    folder: Option<String>,
) -> AppResult<String> {
    save_visit_copy_in(&vault, visit, person, lang, folder).await
}

async fn save_visit_copy_in(
    vault: &Vault,
    visit: String,
    person: String,
    lang: Option<CopyLangInput>,
    folder: Option<String>,
) -> AppResult<String> {
    let dir = saving::target_dir(vault.path(), folder.as_deref())?;
    vault
        .with(move |file| {
            let (visit_id, person_id) = (record_id(&visit)?, record_id(&person)?);
            let copy = file.visit_copy(visit_id, person_id, lang.map(CopyLang::from))?;
            let pdf = documents::visit_copy_pdf(&copy)?;
            let stem = format!(
                "copie-visite-{}-{}-{}",
                saving::short_id(&visit),
                saving::short_id(&person),
                copy.lang
            );
            saving::save(&dir, &stem, "pdf", &pdf)
        })
        .await
}

/// Saves an appointment slip for `step` (PDF, French beside `lang`, or beside the
/// language the step's person's `languages` name when `None`), in the exports folder or
/// in `folder`; answers its path.
#[tauri::command]
#[specta::specta]
pub async fn save_step_slip(
    vault: State<'_, Vault>,
    step: String,
    lang: Option<CopyLangInput>,
    folder: Option<String>,
) -> AppResult<String> {
    save_step_slip_in(&vault, step, lang, folder).await
}

async fn save_step_slip_in(
    vault: &Vault,
    step: String,
    lang: Option<CopyLangInput>,
    folder: Option<String>,
) -> AppResult<String> {
    let dir = saving::target_dir(vault.path(), folder.as_deref())?;
    vault
        .with(move |file| {
            let slip = file.step_slip(record_id(&step)?, lang.map(CopyLang::from))?;
            let pdf = documents::step_slip_pdf(&slip)?;
            let stem = format!("convocation-{}-{}", saving::short_id(&step), slip.lang);
            saving::save(&dir, &stem, "pdf", &pdf)
        })
        .await
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::json;

    use super::*;
    use crate::error::AppError;

    fn create(vault: &Vault, kind: &str, fields: Value) -> String {
        let kind = kind.to_owned();
        let Value::Object(fields) = fields else {
            panic!("fields are an object")
        };
        tauri::async_runtime::block_on(vault.with(move |file| {
            Ok(file
                .create(&kind, fields.into_iter().collect())?
                .to_string())
        }))
        .unwrap()
    }

    /// Ștefan, who speaks Romanian and some French, with skills, a job and a training.
    fn job_seeker(vault: &Vault) -> String {
        let stefan = create(
            vault,
            "person",
            json!({
                "family_name": "Lăcătuș", "given_names": "Ștefan",
                "languages": ["ro", "fr"], "french_level": "a2",
                "phone": "06 12 34 56 78", "email": "stefan@example.org",
                "nationality": "RO",
                "skills": ["Nettoyage industriel", "Travail en équipe", "Maçonnerie"],
            }),
        );
        create(
            vault,
            "employment",
            json!({"person_id": stefan, "employer": "Elior", "job_title": "Agent de propreté",
                   "contract": "cdd", "start_on": "2023-03-01", "end_on": "2024-02-28"}),
        );
        create(
            vault,
            "training",
            json!({"person_id": stefan, "title": "Cariste", "provider": "AFPA",
                   "start_on": "2024-09-01", "status": "completed", "certification": "CACES R489 cat. 3"}),
        );
        stefan
    }

    fn kept(items: &[CvItemView]) -> Vec<&str> {
        items
            .iter()
            .filter(|i| i.kept)
            .map(|i| i.text.as_str())
            .collect()
    }

    fn all(items: &[CvItemView]) -> Vec<&str> {
        items.iter().map(|i| i.text.as_str()).collect()
    }

    fn draft(vault: &Vault, person: &str) -> CvScreenView {
        tauri::async_runtime::block_on(cv_draft_in(vault, person.to_owned())).unwrap()
    }

    fn save(vault: &Vault, person: &str, input: CvInput) -> String {
        tauri::async_runtime::block_on(save_cv_in(vault, person.to_owned(), input)).unwrap()
    }

    #[test]
    fn the_cv_screen_proposes_the_file_with_no_language_ticked() {
        let dir = tempfile::tempdir().unwrap();
        let vault = crate::state::open_test_vault(dir.path());
        let stefan = job_seeker(&vault);
        let screen = draft(&vault, &stefan);
        assert_eq!(screen.record, None, "no CV saved yet");
        assert_eq!(screen.name, "Ștefan Lăcătuș");
        assert_eq!(screen.contact, "06 12 34 56 78\nstefan@example.org");
        assert_eq!(screen.headline, "Agent de propreté", "the latest job");
        assert!(
            screen.languages.len() >= 2,
            "every language the file knows is offered: {:?}",
            screen.languages
        );
        assert!(
            kept(&screen.languages).is_empty(),
            "none ticked until the counsellor ticks it: {:?}",
            screen.languages
        );
        assert_eq!(
            kept(&screen.skills),
            ["Nettoyage industriel", "Travail en équipe", "Maçonnerie"]
        );
        assert!(
            kept(&screen.certifications).contains(&"CACES R489 cat. 3"),
            "{:?}",
            screen.certifications
        );
        assert_eq!(screen.experience.len(), 1, "{:?}", screen.experience);
        assert!(screen.experience[0].text.contains("Elior"));
        assert_eq!(screen.trainings.len(), 1, "{:?}", screen.trainings);
        let json = serde_json::to_value(&screen).unwrap();
        for key in [
            "record",
            "name",
            "headline",
            "contact",
            "languages",
            "skills",
        ] {
            assert!(json.get(key).is_some(), "the UI reads {key}: {json}");
        }
        assert_eq!(
            json["skills"][0],
            json!({"text": "Nettoyage industriel", "kept": true})
        );
    }

    #[test]
    fn saving_the_cv_creates_its_record_then_edits_that_one_only_where_it_changed() {
        let dir = tempfile::tempdir().unwrap();
        let vault = crate::state::open_test_vault(dir.path());
        let stefan = job_seeker(&vault);
        let proposed = draft(&vault, &stefan);
        let romanian = proposed
            .languages
            .iter()
            .find(|l| l.text.starts_with("Roumain"))
            .map(|l| l.text.clone())
            .unwrap();

        // Romanian ticked, skills reordered with one left out, the job rewritten.
        let input = CvInput {
            headline: " Agent de propreté — disponible immédiatement ".to_owned(),
            contact: proposed.contact.clone(),
            languages: vec![romanian.clone()],
            skills: vec!["Maçonnerie".to_owned(), "Nettoyage industriel".to_owned()],
            certifications: kept(&proposed.certifications)
                .into_iter()
                .map(str::to_owned)
                .collect(),
            experience: vec![
                "2023 – 2024 · Agent de propreté · Elior\nBureaux et ateliers".to_owned(),
            ],
            trainings: vec![],
            interests: vec!["Football".to_owned(), "  ".to_owned()],
        };
        let record = save(&vault, &stefan, input.clone());
        let screen = draft(&vault, &stefan);
        assert_eq!(screen.record.as_deref(), Some(record.as_str()));
        assert_eq!(
            screen.headline,
            "Agent de propreté — disponible immédiatement"
        );
        assert_eq!(kept(&screen.languages), [romanian.as_str()]);
        assert!(
            screen.languages.len() >= 2 && !screen.languages[1].kept,
            "the other languages stay offered, not ticked: {:?}",
            screen.languages
        );
        assert_eq!(
            all(&screen.skills),
            ["Maçonnerie", "Nettoyage industriel", "Travail en équipe"],
            "the saved order, then what the file proposes and the CV left out"
        );
        assert_eq!(kept(&screen.skills), ["Maçonnerie", "Nettoyage industriel"]);
        assert_eq!(
            kept(&screen.experience),
            ["2023 – 2024 · Agent de propreté · Elior\nBureaux et ateliers"]
        );
        assert!(
            screen
                .experience
                .iter()
                .any(|i| !i.kept && i.text.contains("Elior (CDD)")),
            "the file's own line for the job is offered again, left out: {:?}",
            screen.experience
        );
        assert!(kept(&screen.trainings).is_empty(), "{:?}", screen.trainings);
        assert_eq!(all(&screen.trainings).len(), 1, "offered, left out");
        assert_eq!(kept(&screen.interests), ["Football"]);

        // What the CV prints is the record.
        let id = record_id(&stefan).unwrap();
        let cv = tauri::async_runtime::block_on(vault.with(move |file| Ok(file.cv(id, false)?)))
            .unwrap();
        assert!(cv.from_record);
        assert_eq!(cv.skills, ["Maçonnerie", "Nettoyage industriel"]);
        assert_eq!(cv.languages, [romanian]);

        // The same content again writes nothing; a change edits the same record.
        let state = |vault: &Vault| {
            let record = record_id(&record).unwrap();
            tauri::async_runtime::block_on(vault.with(move |file| Ok(file.get(record)?.to_json())))
                .unwrap()
        };
        let before = state(&vault);
        assert_eq!(save(&vault, &stefan, input.clone()), record);
        assert_eq!(state(&vault), before, "nothing changed, nothing written");
        let again = CvInput {
            headline: String::new(),
            languages: vec![],
            ..input
        };
        assert_eq!(
            save(&vault, &stefan, again),
            record,
            "the same record is edited"
        );
        let screen = draft(&vault, &stefan);
        assert_eq!(screen.headline, "", "an emptied headline is cleared");
        assert!(kept(&screen.languages).is_empty(), "{:?}", screen.languages);
        let cvs =
            tauri::async_runtime::block_on(vault.with(|file| Ok(file.list("cv")?.len()))).unwrap();
        assert_eq!(cvs, 1, "one cv record for the person");

        let bad = tauri::async_runtime::block_on(cv_draft_in(&vault, "pas-un-id".to_owned()));
        assert!(matches!(bad, Err(AppError::Invalid { .. })), "{bad:?}");
    }

    #[test]
    fn the_cv_pdfs_are_saved_in_the_exports_folder_named_or_anonymised() {
        let dir = tempfile::tempdir().unwrap();
        let vault = crate::state::open_test_vault(dir.path());
        let stefan = job_seeker(&vault);
        let exports = saving::exports_dir(vault.path());
        for (anonymised, stem) in [(false, "cv-"), (true, "cv-anonyme-")] {
            let path = tauri::async_runtime::block_on(save_cv_pdf_in(
                &vault,
                stefan.clone(),
                anonymised,
                None,
            ))
            .unwrap();
            let path = Path::new(&path);
            assert!(path.starts_with(&exports), "{}", path.display());
            let name = path.file_name().and_then(|n| n.to_str()).unwrap();
            assert_eq!(name, format!("{stem}{}.pdf", saving::short_id(&stefan)));
            assert!(std::fs::read(path).unwrap().starts_with(b"%PDF-"));
        }
    }

    #[test]
    fn a_visit_copy_is_one_person_s_and_a_step_slip_is_saved_in_their_language() {
        let dir = tempfile::tempdir().unwrap();
        let vault = crate::state::open_test_vault(dir.path());
        let stefan = job_seeker(&vault);
        let maria = create(
            &vault,
            "person",
            json!({"family_name": "Ivanova", "given_names": "Maria", "languages": ["bulgare"]}),
        );
        let other = create(&vault, "person", json!({"family_name": "Popa"}));
        let visit = create(
            &vault,
            "visit",
            json!({"occurred_at": "2026-11-02T10:14:00+01:00", "setting": "home_visit",
                   "person_ids": [stefan, maria]}),
        );
        let step = create(
            &vault,
            "step",
            json!({"person_id": maria, "visit_id": visit, "category": "france_travail",
                   "title": "Rendez-vous France Travail"}),
        );
        let exports = saving::exports_dir(vault.path());
        let copy = |person: &str, lang| {
            tauri::async_runtime::block_on(save_visit_copy_in(
                &vault,
                visit.clone(),
                person.to_owned(),
                lang,
                None,
            ))
        };
        let mut saved = Vec::new();
        for (person, lang, code) in [
            (&maria, None, "bg"),
            (&stefan, None, "ro"),
            (&stefan, Some(CopyLangInput::Bg), "bg"),
        ] {
            let path = copy(person, lang).unwrap();
            let path = Path::new(&path);
            assert!(path.starts_with(&exports), "{}", path.display());
            let name = path.file_name().and_then(|n| n.to_str()).unwrap();
            // Ids made in the same minute share their first characters: a taken name
            // gets `-2`, so the language is the last part but one, or the last.
            let stem = format!(
                "copie-visite-{}-{}-{code}",
                saving::short_id(&visit),
                saving::short_id(person)
            );
            assert!(name.starts_with(&stem), "{name} starts with {stem}");
            assert!(!saved.contains(&name.to_owned()), "{name} is a new file");
            saved.push(name.to_owned());
            assert!(std::fs::read(path).unwrap().starts_with(b"%PDF-"));
        }
        let not_met = copy(&other, Some(CopyLangInput::Ro));
        assert!(
            matches!(&not_met, Err(AppError::Invalid { field, .. }) if field == "person_id"),
            "a person the visit did not meet gets no copy: {not_met:?}"
        );

        let slip =
            tauri::async_runtime::block_on(save_step_slip_in(&vault, step, None, None)).unwrap();
        let slip_name = Path::new(&slip)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap();
        assert!(
            slip_name.starts_with("convocation-") && slip_name.ends_with("-bg.pdf"),
            "Maria's language: {slip_name}"
        );
        assert!(std::fs::read(&slip).unwrap().starts_with(b"%PDF-"));
        let json = serde_json::to_value(CopyLangInput::Ro).unwrap();
        assert_eq!(json, "ro", "the UI sends the language's code");
    }
}
