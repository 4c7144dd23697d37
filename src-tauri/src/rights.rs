//! The commands of a person's rights (GDPR), each a few lines over `casefile`: the
//! organisation's settings that the information notice and the access export print, the
//! notice itself, the persons with no consent recorded, the files past their retention,
//! and a person's erasure, which only the server does (SYNC-PROTOCOL.md §5), for a
//! coordinator, online.
//!
//! The access export, which syncs first, is with the other exports in
//! [`crate::commands`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use serde_json::Value;
use tauri::{AppHandle, State};

use crate::commands::settled;
use crate::error::AppResult;
use crate::saving;
use crate::state::{SyncCancel, Vault};
use crate::view::{
    self, ErasureView, NoticeLangInput, OrganisationView, PersonsView, RetentionDueView, record_id,
};

/// The organisation's settings (defaults where nothing was recorded yet).
#[tauri::command]
#[specta::specta]
pub async fn organisation(vault: State<'_, Vault>) -> AppResult<OrganisationView> {
    organisation_in(&vault).await
}

async fn organisation_in(vault: &Vault) -> AppResult<OrganisationView> {
    vault
        .with(|file| Ok(OrganisationView::from(file.organisation()?)))
        .await
}

/// Changes fields of the organisation's settings (`name`, `address`, `contact`,
/// `dpo_contact`, `purposes`, `recipients`, `retention_months`); a null clears one.
#[tauri::command]
#[specta::specta]
pub async fn set_organisation(
    vault: State<'_, Vault>,
    fields: BTreeMap<String, Value>,
) -> AppResult<()> {
    set_organisation_in(&vault, fields).await
}

async fn set_organisation_in(vault: &Vault, fields: BTreeMap<String, Value>) -> AppResult<()> {
    vault
        .with(move |file| Ok(file.set_organisation(view::changes(fields))?))
        .await
}

/// Persons with no consent recorded, at most `limit` of them, with their count.
#[tauri::command]
#[specta::specta]
pub async fn without_consent(vault: State<'_, Vault>, limit: u32) -> AppResult<PersonsView> {
    without_consent_in(&vault, limit).await
}

async fn without_consent_in(vault: &Vault, limit: u32) -> AppResult<PersonsView> {
    vault
        .with(move |file| {
            let limit = usize::try_from(limit).unwrap_or(usize::MAX);
            Ok(PersonsView::new(&file.without_consent()?, limit))
        })
        .await
}

/// The persons' files past the organisation's retention on `today` (`YYYY-MM-DD`, the
/// device's local day), and not kept for a recorded reason.
#[tauri::command]
#[specta::specta]
pub async fn past_retention(
    vault: State<'_, Vault>,
    today: String,
) -> AppResult<Vec<RetentionDueView>> {
    past_retention_in(&vault, today).await
}

async fn past_retention_in(vault: &Vault, today: String) -> AppResult<Vec<RetentionDueView>> {
    vault
        .with(move |file| {
            Ok(file
                .past_retention(&today)?
                .iter()
                .map(RetentionDueView::from)
                .collect())
        })
        .await
}

/// Saves the information notice (PDF) in `lang`, filled from the organisation's
/// settings, in the exports folder or in `folder`; answers its path.
#[tauri::command]
#[specta::specta]
pub async fn save_notice(
    vault: State<'_, Vault>,
    lang: NoticeLangInput,
    folder: Option<String>,
) -> AppResult<String> {
    save_notice_in(&vault, lang, folder).await
}

async fn save_notice_in(
    vault: &Vault,
    lang: NoticeLangInput,
    folder: Option<String>,
) -> AppResult<String> {
    let dir = saving::target_dir(vault.path(), folder.as_deref())?;
    vault
        .with(move |file| {
            let pdf = documents::notice_pdf(lang.into(), &file.organisation()?)?;
            let stem = format!("notice-information-{}", lang.code());
            saving::save(&dir, &stem, "pdf", &pdf)
        })
        .await
}

/// Asks the server to erase `person` and every record about them alone, and to take
/// them out of the records they share (coordinators only: `forbidden` otherwise). With
/// `dry_run`, only says what would go and what would be kept, changing nothing. The
/// case file changes at the next sync, which pulls the erasure.
#[tauri::command]
#[specta::specta]
pub async fn erase_person(
    app: AppHandle,
    vault: State<'_, Vault>,
    cancel: State<'_, SyncCancel>,
    person: String,
    dry_run: bool,
) -> AppResult<ErasureView> {
    // A lock abandons the request as it abandons a sync: its flag is the sync's.
    let answer = erase_person_in(&vault, person, dry_run, cancel.start()).await;
    settled(&app, &vault, &cancel, answer).await
}

async fn erase_person_in(
    vault: &Vault,
    person: String,
    dry_run: bool,
    cancel: Arc<AtomicBool>,
) -> AppResult<ErasureView> {
    let id = record_id(&person)?;
    vault
        .with(move |file| {
            let answer = file.erase_person_cancellable(id, dry_run, &cancel)?;
            Ok(ErasureView::from(&answer))
        })
        .await
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::error::AppError;

    fn person(vault: &Vault, family: &str, fields: Vec<(&str, Value)>) -> String {
        let mut changes = vec![("family_name".to_owned(), json!(family))];
        changes.extend(fields.into_iter().map(|(k, v)| (k.to_owned(), v)));
        tauri::async_runtime::block_on(
            vault.with(move |file| Ok(file.create("person", changes)?.to_string())),
        )
        .unwrap()
    }

    #[test]
    fn the_organisation_s_settings_are_read_back_as_written_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let vault = crate::state::open_test_vault(dir.path());
        tauri::async_runtime::block_on(async {
            let fresh = organisation_in(&vault).await.unwrap();
            assert_eq!(fresh.retention_months, 24, "the default retention");
            assert_eq!(fresh.name, None, "nothing recorded yet");

            let fields = BTreeMap::from([
                ("name".to_owned(), json!("Association Passerelle")),
                (
                    "dpo_contact".to_owned(),
                    json!("dpo@passerelle.example.org"),
                ),
                ("retention_months".to_owned(), json!(36)),
            ]);
            set_organisation_in(&vault, fields).await.unwrap();
            let read = organisation_in(&vault).await.unwrap();
            assert_eq!(read.name.as_deref(), Some("Association Passerelle"));
            assert_eq!(
                read.dpo_contact.as_deref(),
                Some("dpo@passerelle.example.org")
            );
            assert_eq!(read.retention_months, 36);
            let json = serde_json::to_value(&read).unwrap();
            for key in [
                "name",
                "address",
                "contact",
                "dpo_contact",
                "purposes",
                "recipients",
            ] {
                assert!(json.get(key).is_some(), "the UI reads {key}: {json}");
            }

            let refused = set_organisation_in(
                &vault,
                BTreeMap::from([("retention_months".to_owned(), json!(0))]),
            )
            .await;
            assert!(
                matches!(&refused, Err(AppError::Invalid { field, .. }) if field == "retention_months"),
                "a retention of 0 months is refused: {refused:?}"
            );
            assert_eq!(organisation_in(&vault).await.unwrap().retention_months, 36);
        });
    }

    #[test]
    fn persons_without_consent_are_listed_cut_to_the_limit_with_their_count() {
        let dir = tempfile::tempdir().unwrap();
        let vault = crate::state::open_test_vault(dir.path());
        let consented = person(&vault, "Popa", vec![("consent_on", json!("2026-11-02"))]);
        let mut without = Vec::new();
        for family in ["Lăcătuș", "Mitrea", "Ivanova"] {
            without.push(person(&vault, family, vec![]));
        }
        let all = tauri::async_runtime::block_on(without_consent_in(&vault, 100)).unwrap();
        assert_eq!(all.total, 3, "{:?}", all.persons);
        let ids: Vec<&str> = all.persons.iter().map(|p| p.id.as_str()).collect();
        assert!(
            !ids.contains(&consented.as_str()),
            "a person whose consent is recorded is not listed"
        );
        for id in &without {
            assert!(ids.contains(&id.as_str()), "{id} is listed: {ids:?}");
        }
        let cut = tauri::async_runtime::block_on(without_consent_in(&vault, 2)).unwrap();
        assert_eq!((cut.persons.len(), cut.total), (2, 3));
    }

    #[test]
    fn a_closed_file_past_its_retention_is_listed_until_a_reason_keeps_it() {
        let dir = tempfile::tempdir().unwrap();
        let vault = crate::state::open_test_vault(dir.path());
        let closed = person(
            &vault,
            "Lăcătuș",
            vec![
                ("status", json!("closed")),
                ("closed_on", json!("2023-01-15")),
            ],
        );
        person(
            &vault,
            "Mitrea",
            vec![
                ("status", json!("closed")),
                ("closed_on", json!("2026-10-01")),
            ],
        );
        person(&vault, "Popa", vec![]);
        let due =
            tauri::async_runtime::block_on(past_retention_in(&vault, "2026-11-30".to_owned()))
                .unwrap();
        assert_eq!(
            due.len(),
            1,
            "only the file closed in 2023 is past 24 months"
        );
        assert_eq!(due[0].person.id, closed);
        assert_eq!(due[0].closed_on, "2023-01-15");
        assert_eq!(due[0].kept_until, "2025-01-15");

        let id = record_id(&closed).unwrap();
        tauri::async_runtime::block_on(vault.with(move |file| {
            Ok(file.edit(
                id,
                vec![
                    ("keep_until".to_owned(), json!("2027-06-30")),
                    ("keep_reason".to_owned(), json!("Procédure en cours")),
                ],
            )?)
        }))
        .unwrap();
        let due =
            tauri::async_runtime::block_on(past_retention_in(&vault, "2026-11-30".to_owned()))
                .unwrap();
        assert!(due.is_empty(), "kept for a recorded reason: {due:?}");

        let bad = tauri::async_runtime::block_on(past_retention_in(&vault, "hier".to_owned()));
        assert!(
            matches!(bad, Err(AppError::Invalid { .. })),
            "a day that is not one is refused: {bad:?}"
        );
    }

    #[test]
    fn the_notice_is_saved_in_the_exports_folder_in_each_language() {
        let dir = tempfile::tempdir().unwrap();
        let vault = crate::state::open_test_vault(dir.path());
        let exports = saving::exports_dir(vault.path());
        for lang in [
            NoticeLangInput::Fr,
            NoticeLangInput::Ro,
            NoticeLangInput::Bg,
        ] {
            let path = tauri::async_runtime::block_on(save_notice_in(&vault, lang, None)).unwrap();
            let path = std::path::Path::new(&path);
            assert!(
                path.starts_with(&exports),
                "{} is in {}",
                path.display(),
                exports.display()
            );
            assert_eq!(
                path.file_name().and_then(|n| n.to_str()),
                Some(format!("notice-information-{}.pdf", lang.code()).as_str())
            );
            assert!(
                std::fs::read(path).unwrap().starts_with(b"%PDF-"),
                "{} holds a PDF",
                path.display()
            );
        }
        let json = serde_json::to_value(NoticeLangInput::Bg).unwrap();
        assert_eq!(json, "bg", "the UI sends the language's code");
    }

    #[test]
    fn an_erasure_asked_from_a_case_file_with_no_server_says_to_enrol_first() {
        let dir = tempfile::tempdir().unwrap();
        let vault = crate::state::open_test_vault(dir.path());
        let id = person(&vault, "Lăcătuș", vec![]);
        let refused =
            tauri::async_runtime::block_on(erase_person_in(&vault, id, true, Arc::default()));
        assert!(
            matches!(refused, Err(AppError::NotEnrolled { .. })),
            "{refused:?}"
        );
        let bad = tauri::async_runtime::block_on(erase_person_in(
            &vault,
            "pas-un-id".to_owned(),
            true,
            Arc::default(),
        ));
        assert!(matches!(bad, Err(AppError::Invalid { .. })), "{bad:?}");
    }
}
