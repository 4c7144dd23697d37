//! # passerelle-app
//!
//! The desktop and tablet app: a thin Tauri shell over [`casefile`] and [`documents`]. It
//! holds the builder, the managed state (the case file, locked or open: [`state::Vault`])
//! and commands of a few lines that call `casefile`, render what it reads with
//! `documents`, and map their errors into [`error::AppError`], a tagged enum the UI acts
//! on by kind. No SQL and no sync logic live here: a sync is
//! `CaseFile::sync` on the blocking pool, its progress sent as `SyncProgress` events and
//! its cancel flag in the managed [`state::SyncCancel`].
//!
//! ## Typed IPC
//! The TypeScript types of the commands, events and errors are generated from the Rust
//! types by tauri-specta into `ui/src/lib/bindings.ts`, which is committed; the test
//! `bindings_are_current` fails when it differs from what the Rust types give
//! (`UPDATE_BINDINGS=1 cargo nextest run -p passerelle-app bindings` rewrites it).
//!
//! ## Lock
//! The backend decides when the case file locks: after the idle delay by the wall clock,
//! or at once when the machine woke from sleep ([`lock`]). Locking cancels a running sync
//! and closes the case file; the `Locked` event tells the page.
//!
//! ## Exports
//! Exports are saved in the app's own folder, `exports` beside the case file, which a
//! revoked device destroys with it and the settings can empty ([`saving`]); saving
//! elsewhere is the person's choice, after a warning that the file is not encrypted.
//! An export saved on a disk or a key cannot be erased from afar: the screens say so.
//!
//! ## Papers for the job search
//! [`papers`] holds the CV screen's draft and its `cv` record, the CV as a PDF (named or
//! anonymised), and the person's own copy of a visit and a step's appointment slip, in
//! French beside Romanian or Bulgarian.
//!
//! ## One person, one file
//! [`duplicates`] holds the persons who may be the one being entered, the possible
//! duplicates of the file, the pairs marked "not the same person", and the merge of two
//! files into one (the rules are `casefile`'s).
//!
//! ## Documents and photos
//! [`attachments`] holds a person's documents: adding one (a photo from the tablet's
//! camera, reduced to 2 megapixels, or a PDF), the lists, thumbnails, opening one (fetched
//! from the server when this device does not hold it), the fetch setting, and the
//! documents' sync, which the page runs after the records' sync with its own progress.
//!
//! ## A person's rights
//! [`rights`] holds the organisation's settings, the information notice, the persons
//! without consent, the files past retention and a person's erasure, which the server
//! does for a coordinator (the case file follows at its next sync). The access export
//! syncs first when the case file has a server.
//!
//! ## Environment
//! - `PASSERELLE_CASE_FILE`: the case file to open (default: `passerelle.casefile` in the
//!   app's data folder).
//! - `PASSERELLE_IDLE_LOCK_SECONDS`: the idle delay before the app locks (default 600);
//!   the backend keeps the timer ([`lock`]), the page only reports activity.
//! - `PASSERELLE_WINDOW_SIZE`: `WIDTHxHEIGHT` of the window at start (default 1280x800).

#![forbid(unsafe_code)]

pub mod attachments;
pub mod commands;
pub mod duplicates;
pub mod error;
pub mod events;
pub mod lock;
pub mod papers;
pub mod rights;
pub mod saving;
pub mod state;
pub mod view;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tauri::Manager;
use tauri_specta::{Event, collect_commands, collect_events};

/// The default idle delay before the app locks itself: 10 minutes.
const IDLE_LOCK_SECONDS: u32 = 600;

/// Settings read from the environment at start.
#[derive(Debug, Clone)]
pub struct Config {
    /// Seconds without a touch or a key before the app locks.
    pub idle_lock_seconds: u32,
}

/// The commands and events of the app, for Tauri and for the TypeScript bindings.
pub fn specta_builder() -> tauri_specta::Builder<tauri::Wry> {
    use attachments::*;
    use commands::*;
    use duplicates::*;
    use papers::*;
    use rights::*;
    tauri_specta::Builder::<tauri::Wry>::new()
        .commands(collect_commands![
            app_info,
            create_case_file,
            unlock,
            lock,
            touch,
            change_passphrase,
            schema,
            today,
            sites,
            list,
            persons,
            search,
            timeline,
            records,
            create,
            edit,
            delete,
            restore,
            deleted_records,
            evict,
            conflicts,
            resolve,
            history,
            replicas,
            settings,
            set_server_url,
            sync_status,
            enrol,
            sync,
            cancel_sync,
            set_aside,
            dashboard,
            save_visit_sheet,
            save_person_sheet,
            save_access_export,
            save_period_xlsx,
            save_kind_csv,
            time_zone,
            save_draft,
            draft,
            drop_draft,
            exports_folder,
            empty_exports,
            open_export,
            organisation,
            set_organisation,
            without_consent,
            past_retention,
            save_notice,
            erase_person,
            cv_draft,
            save_cv,
            save_cv_pdf,
            save_visit_copy,
            save_step_slip,
            candidates,
            duplicates,
            not_duplicates,
            merge_preview,
            merge_persons,
            attach,
            attachments_of,
            attachment_thumbnail,
            attachment_open,
            documents_fetch_mode,
            set_documents_fetch_mode,
            sync_documents,
        ])
        .events(collect_events![
            events::Locked,
            events::SyncProgress,
            events::DocumentsProgress
        ])
        .typ::<error::AppError>()
        // Only `serde_json::Value`'s numbers and the documents' byte counts are 64-bit
        // here: JSON numbers are JavaScript numbers already, and a count of bytes is exact
        // in one up to 2^53; every other count of our own is a u32.
        .dangerously_cast_bigints_to_number()
        // Our types serialise and deserialise alike: one TypeScript name each.
        .disable_serde_phases()
}

/// Writes the TypeScript bindings of [`specta_builder`] to `path`.
pub fn export_bindings(path: &Path) -> anyhow::Result<()> {
    let typescript = specta_typescript::Typescript::default()
        .header("// Generated from the Rust types of src-tauri: do not edit by hand.\n");
    specta_builder()
        .export(typescript, path)
        .with_context(|| format!("could not write the bindings to {}", path.display()))
}

/// Builds and runs the app until its window closes.
pub fn run() -> anyhow::Result<()> {
    let builder = specta_builder();
    let config = Config {
        idle_lock_seconds: std::env::var("PASSERELLE_IDLE_LOCK_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .filter(|seconds| *seconds > 0)
            .unwrap_or(IDLE_LOCK_SECONDS),
    };
    let clock: Arc<dyn lock::Clock> = Arc::new(lock::SystemClock);
    let activity = lock::Activity::new(
        Duration::from_secs(u64::from(config.idle_lock_seconds)),
        Arc::clone(&clock),
    );
    let cancel = state::SyncCancel::default();
    tauri::Builder::default()
        .invoke_handler(builder.invoke_handler())
        .manage(config)
        .manage(cancel.clone())
        .manage(activity.clone())
        .setup(move |app| {
            builder.mount_events(app);
            let vault = state::Vault::new(case_file_path(app.handle())?);
            // Documents opened by an earlier run that ended without a lock (a crash).
            saving::forget_opened(vault.path());
            app.manage(vault.clone());
            let handle = app.handle().clone();
            lock::spawn_watcher(vault, cancel, activity, clock, move |reason| {
                // A window that stopped listening shows the unlock screen at its next
                // command, which finds the case file locked.
                let _ = events::Locked { reason }.emit(&handle);
            })?;
            if let (Some((width, height)), Some(window)) =
                (window_size(), app.get_webview_window("main"))
            {
                window.set_size(tauri::LogicalSize::new(width, height))?;
            }
            Ok(())
        })
        .build(tauri::generate_context!())
        .context("the app could not start")?
        .run(|app, event| {
            // Decrypted copies of opened documents go when the app quits, as at a lock.
            if let tauri::RunEvent::Exit = event
                && let Some(vault) = app.try_state::<state::Vault>()
            {
                saving::forget_opened(vault.path());
            }
        });
    Ok(())
}

fn case_file_path(app: &tauri::AppHandle) -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("PASSERELLE_CASE_FILE") {
        return Ok(PathBuf::from(path));
    }
    let dir = app
        .path()
        .app_data_dir()
        .context("could not find the app's data folder")?;
    Ok(dir.join("passerelle.casefile"))
}

fn window_size() -> Option<(f64, f64)> {
    let text = std::env::var("PASSERELLE_WINDOW_SIZE").ok()?;
    let (w, h) = text.split_once('x')?;
    Some((w.trim().parse().ok()?, h.trim().parse().ok()?))
}
