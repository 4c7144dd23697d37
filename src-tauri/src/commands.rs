//! The commands the UI calls, each a few lines over `casefile` (and `documents`, which
//! renders what the case file reads). Arguments and answers are the types of
//! [`crate::view`]; every error is an [`AppError`].

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;

use casefile::{CaseFile, PersonFilter};
use serde::Serialize;
use serde_json::Value;
use specta::Type;
use tauri::{AppHandle, State};
use tauri_specta::Event;
use zeroize::Zeroizing;

use crate::attachments::DocumentsStatusView;
use crate::error::{AppError, AppResult};
use crate::events::{LockReason, Locked, SyncProgress};
use crate::lock::{Activity, lock_vault};
use crate::saving;
use crate::state::{SyncCancel, Vault};
use crate::view::{
    self, AccessExportView, DashboardView, EvictionInput, EvictionReportView, HistoryEntryView,
    KindSpecView, PersonFilterInput, RecordView, ReplicaView, SetAsideView, SiteSummaryView,
    SyncReportView, TimelineView, TodayView, record_id,
};

/// The setting the sync client reads the server's address from (`casefile` has no setter
/// of its own: enrolment writes it, and a server that moved keeps its devices' tokens).
const SERVER_URL: &str = "sync.server_url";
/// The setting the sync client keeps its device token in (only its presence is read).
const DEVICE_TOKEN: &str = "sync.device_token";
/// Persons a search answers at most.
const SEARCH_LIMIT: usize = 50;
/// States counted at most to say how many changes wait to be sent.
const PENDING_COUNT_LIMIT: usize = 100;

/// What the app needs before the case file is open.
#[derive(Debug, Clone, Serialize, Type)]
pub struct AppInfo {
    /// Whether a case file exists (else the first-run screen shows).
    pub case_file_exists: bool,
    /// Whether it is open.
    pub unlocked: bool,
    /// Where it lives.
    pub case_file_path: String,
    /// Seconds without a touch or a key before the app locks itself (the backend decides;
    /// the page reports activity with [`touch`]).
    pub idle_lock_seconds: u32,
    /// The fewest characters a new passphrase may have.
    pub min_passphrase_chars: u32,
    /// The app's version.
    pub version: String,
}

/// What the app knows about the case file before it is opened.
#[tauri::command]
#[specta::specta]
pub fn app_info(vault: State<'_, Vault>, config: State<'_, crate::Config>) -> AppInfo {
    AppInfo {
        case_file_exists: vault.path().is_file(),
        unlocked: vault.is_unlocked(),
        case_file_path: vault.path().display().to_string(),
        idle_lock_seconds: config.idle_lock_seconds,
        min_passphrase_chars: u32::try_from(casefile::MIN_PASSPHRASE_CHARS).unwrap_or(u32::MAX),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    }
}

/// Creates the case file with its passphrase, and opens it.
#[tauri::command]
#[specta::specta]
pub async fn create_case_file(
    vault: State<'_, Vault>,
    activity: State<'_, Activity>,
    passphrase: String,
) -> AppResult<()> {
    let passphrase = Zeroizing::new(passphrase);
    activity.touch();
    vault
        .with_slot(move |path, slot| {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(casefile::Error::from)?;
            }
            *slot = Some(CaseFile::init(path, &passphrase)?);
            Ok(())
        })
        .await?;
    activity.touch();
    Ok(())
}

/// Opens the case file with its passphrase.
#[tauri::command]
#[specta::specta]
pub async fn unlock(
    vault: State<'_, Vault>,
    activity: State<'_, Activity>,
    passphrase: String,
) -> AppResult<()> {
    let passphrase = Zeroizing::new(passphrase);
    // Before the key derivation too: a case file locked for longer than the idle delay
    // must not be locked again by the watcher the moment it opens.
    activity.touch();
    vault
        .with_slot(move |path, slot| {
            if slot.is_none() {
                *slot = Some(CaseFile::open(path, &passphrase)?);
            }
            Ok(())
        })
        .await?;
    // The idle delay starts from the unlock, not from the last touch before the lock.
    activity.touch();
    Ok(())
}

/// Closes the case file: its key leaves memory with the connection. A running sync is
/// cancelled first, and lets go of the case file within 2 s.
#[tauri::command]
#[specta::specta]
pub async fn lock(
    app: AppHandle,
    vault: State<'_, Vault>,
    cancel: State<'_, SyncCancel>,
    reason: LockReason,
) -> AppResult<()> {
    lock_vault(&vault, &cancel).await?;
    // The UI that asked is already locking; the event is for other windows.
    let _ = Locked { reason }.emit(&app);
    Ok(())
}

/// The person did something (a key, a touch, a click): the idle delay starts again. The
/// page calls it at most every few seconds; the backend alone decides when to lock.
#[tauri::command]
#[specta::specta]
pub fn touch(activity: State<'_, Activity>) {
    activity.touch();
}

/// Changes the passphrase, once the current one is proven.
#[tauri::command]
#[specta::specta]
pub async fn change_passphrase(
    vault: State<'_, Vault>,
    cancel: State<'_, SyncCancel>,
    current: String,
    new_passphrase: String,
) -> AppResult<()> {
    let (current, new_passphrase) = (Zeroizing::new(current), Zeroizing::new(new_passphrase));
    // A second handle keeps the old key: the documents' sync stops before the change,
    // and any run asked for meanwhile starts cancelled until the change is made.
    let under_way = cancel.for_lock();
    vault.wait_beside().await?;
    let changed = vault
        .with(move |file| {
            drop(CaseFile::open(file.path(), &current)?);
            Ok(file.change_passphrase(&new_passphrase)?)
        })
        .await;
    drop(under_way);
    changed
}

/// The schema of every kind, for the forms.
#[tauri::command]
#[specta::specta]
pub fn schema() -> Vec<KindSpecView> {
    view::schema()
}

/// The plan of the day `on` (`YYYY-MM-DD`, the device's local day), at most `limit`
/// records in each list.
#[tauri::command]
#[specta::specta]
pub async fn today(vault: State<'_, Vault>, on: String, limit: u32) -> AppResult<TodayView> {
    vault
        .with(move |file| {
            let limit = usize::try_from(limit).unwrap_or(usize::MAX);
            Ok(TodayView::new(&file.today(&on)?, limit))
        })
        .await
}

/// Every site with its counts.
#[tauri::command]
#[specta::specta]
pub async fn sites(vault: State<'_, Vault>) -> AppResult<Vec<SiteSummaryView>> {
    vault
        .with(|file| Ok(file.sites()?.iter().map(SiteSummaryView::from).collect()))
        .await
}

/// Every record of `kind` that is not deleted.
#[tauri::command]
#[specta::specta]
pub async fn list(vault: State<'_, Vault>, kind: String) -> AppResult<Vec<RecordView>> {
    vault
        .with(move |file| Ok(view::views(&file.list(&kind)?)))
        .await
}

/// Persons by site, household or status.
#[tauri::command]
#[specta::specta]
pub async fn persons(
    vault: State<'_, Vault>,
    filter: PersonFilterInput,
) -> AppResult<Vec<RecordView>> {
    vault
        .with(move |file| {
            let states = match &filter {
                PersonFilterInput::Site(id) => file.persons(PersonFilter::Site(record_id(id)?)),
                PersonFilterInput::Household(id) => {
                    file.persons(PersonFilter::Household(record_id(id)?))
                }
                PersonFilterInput::Status(status) => file.persons(PersonFilter::Status(status)),
            }?;
            Ok(view::views(&states))
        })
        .await
}

/// Persons matching every word of `text` by any spelling, best first.
#[tauri::command]
#[specta::specta]
pub async fn search(vault: State<'_, Vault>, text: String) -> AppResult<Vec<RecordView>> {
    vault
        .with(move |file| Ok(view::views(&file.search(&text, SEARCH_LIMIT)?)))
        .await
}

/// A person's file.
#[tauri::command]
#[specta::specta]
pub async fn timeline(vault: State<'_, Vault>, person: String) -> AppResult<TimelineView> {
    vault
        .with(move |file| Ok(TimelineView::from(&file.timeline(record_id(&person)?)?)))
        .await
}

/// The records of `ids` the case file holds (deleted ones too), in that order.
#[tauri::command]
#[specta::specta]
pub async fn records(vault: State<'_, Vault>, ids: Vec<String>) -> AppResult<Vec<RecordView>> {
    vault
        .with(move |file| {
            let mut out = Vec::with_capacity(ids.len());
            for id in &ids {
                match file.get(record_id(id)?) {
                    Ok(state) => out.push(RecordView::from(&state)),
                    Err(casefile::Error::NotFound(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            Ok(out)
        })
        .await
}

/// Creates a record; answers its id.
#[tauri::command]
#[specta::specta]
pub async fn create(
    vault: State<'_, Vault>,
    kind: String,
    fields: BTreeMap<String, Value>,
) -> AppResult<String> {
    vault
        .with(move |file| Ok(file.create(&kind, view::changes(fields))?.to_string()))
        .await
}

/// Changes fields of a record; a null clears a field.
#[tauri::command]
#[specta::specta]
pub async fn edit(
    vault: State<'_, Vault>,
    id: String,
    fields: BTreeMap<String, Value>,
) -> AppResult<()> {
    vault
        .with(move |file| Ok(file.edit(record_id(&id)?, view::changes(fields))?))
        .await
}

/// Deletes a record; on one deleted while edited elsewhere, confirms the deletion.
#[tauri::command]
#[specta::specta]
pub async fn delete(vault: State<'_, Vault>, id: String) -> AppResult<()> {
    vault
        .with(move |file| Ok(file.delete(record_id(&id)?)?))
        .await
}

/// Restores a deleted record; on one deleted while edited elsewhere, keeps the edits.
#[tauri::command]
#[specta::specta]
pub async fn restore(vault: State<'_, Vault>, id: String) -> AppResult<()> {
    vault
        .with(move |file| Ok(file.restore(record_id(&id)?)?))
        .await
}

/// Every deleted record, most recently deleted first, to restore one (when each was
/// deleted: its `_deleted` entries).
#[tauri::command]
#[specta::specta]
pub async fn deleted_records(vault: State<'_, Vault>) -> AppResult<Vec<RecordView>> {
    vault.with(|file| Ok(view::views(&file.deleted()?))).await
}

/// Marks a site evicted and moves households and persons to another site, in one
/// transaction.
#[tauri::command]
#[specta::specta]
pub async fn evict(
    vault: State<'_, Vault>,
    eviction: EvictionInput,
) -> AppResult<EvictionReportView> {
    vault
        .with(move |file| {
            let report = file.evict(&eviction.to_eviction()?)?;
            Ok(EvictionReportView::from(&report))
        })
        .await
}

/// Records needing a person's choice, with their entries.
#[tauri::command]
#[specta::specta]
pub async fn conflicts(vault: State<'_, Vault>) -> AppResult<Vec<RecordView>> {
    vault
        .with(|file| {
            let mut out = Vec::new();
            for conflict in file.conflicts()? {
                out.push(RecordView::from(&file.get(conflict.id)?));
            }
            Ok(out)
        })
        .await
}

/// Resolves a conflict on `field` with the chosen or a new value.
#[tauri::command]
#[specta::specta]
pub async fn resolve(
    vault: State<'_, Vault>,
    id: String,
    field: String,
    value: Value,
) -> AppResult<()> {
    vault
        .with(move |file| Ok(file.resolve(record_id(&id)?, &field, value)?))
        .await
}

/// A record's history: each field's current entries, with which device wrote it and
/// when, oldest first (who each device is: [`replicas`]).
#[tauri::command]
#[specta::specta]
pub async fn history(vault: State<'_, Vault>, id: String) -> AppResult<Vec<HistoryEntryView>> {
    history_in(&vault, id).await
}

async fn history_in(vault: &Vault, id: String) -> AppResult<Vec<HistoryEntryView>> {
    vault
        .with(move |file| Ok(view::history(&file.history(record_id(&id)?)?)))
        .await
}

/// Who each replica is, by replica id, as the server said at the last sync.
#[tauri::command]
#[specta::specta]
pub async fn replicas(vault: State<'_, Vault>) -> AppResult<BTreeMap<String, ReplicaView>> {
    vault
        .with(|file| {
            Ok(file
                .replica_directory()?
                .into_iter()
                .map(|(id, info)| (id.to_string(), ReplicaView::from(info)))
                .collect())
        })
        .await
}

/// The settings kept in the case file.
#[derive(Debug, Clone, Serialize, Type)]
pub struct SettingsView {
    /// The sync server's address, if set.
    pub server_url: Option<String>,
    /// Whether this device is enrolled with a server.
    pub enrolled: bool,
    /// This case file's replica id.
    pub replica_id: String,
    /// The username this device was enrolled by, as the server's directory of devices
    /// names it (known after a first sync): a visit's counsellor unless changed.
    pub user: Option<String>,
}

/// The settings kept in the case file.
#[tauri::command]
#[specta::specta]
pub async fn settings(vault: State<'_, Vault>) -> AppResult<SettingsView> {
    vault
        .with(|file| {
            Ok(SettingsView {
                server_url: file.server_url()?,
                enrolled: file.setting(DEVICE_TOKEN)?.is_some(),
                replica_id: file.replica_id().to_string(),
                user: file
                    .replica_directory()?
                    .remove(&file.replica_id())
                    .map(|info| info.user),
            })
        })
        .await
}

/// Changes the address of the server this device is enrolled with (the same server at a
/// new address: the device keeps its token). `https://`, or `http://` to this machine.
#[tauri::command]
#[specta::specta]
pub async fn set_server_url(vault: State<'_, Vault>, url: String) -> AppResult<()> {
    let url = casefile::check_server_url(&url)?;
    vault
        .with(move |file| Ok(file.set_setting(SERVER_URL, &url)?))
        .await
}

/// Where sync stands.
#[derive(Debug, Clone, Serialize, Type)]
pub struct SyncStatus {
    /// Whether this device is enrolled with a server (else sync waits for enrolment).
    pub enrolled: bool,
    /// The server's address, if set.
    pub server_url: Option<String>,
    /// When the last full sync ended (RFC 3339), if ever.
    pub last_sync_at: Option<String>,
    /// Records changed here and not yet sent, counted up to `pending_limit`.
    pub pending: u32,
    /// The most `pending` counts to.
    pub pending_limit: u32,
    /// Records kept out of the last syncs, listed by `commands.setAside()`.
    pub set_aside: u32,
    /// Documents waiting to be sent, and to be fetched by the fetch setting.
    pub documents: DocumentsStatusView,
}

/// Where sync stands.
#[tauri::command]
#[specta::specta]
pub async fn sync_status(vault: State<'_, Vault>) -> AppResult<SyncStatus> {
    vault
        .with(|file| {
            let pending = file.pending_push(PENDING_COUNT_LIMIT)?.len();
            Ok(SyncStatus {
                enrolled: file.setting(DEVICE_TOKEN)?.is_some(),
                server_url: file.server_url()?,
                last_sync_at: file.last_sync_at()?,
                pending: u32::try_from(pending).unwrap_or(u32::MAX),
                pending_limit: u32::try_from(PENDING_COUNT_LIMIT).unwrap_or(u32::MAX),
                set_aside: u32::try_from(file.set_aside()?.len()).unwrap_or(u32::MAX),
                documents: file.documents_status()?.into(),
            })
        })
        .await
}

/// Enrols this device with the server at `server_url` as `username`, with the one-time
/// enrolment `code` a coordinator issued (`passerelle-server device invite`): the device
/// token is kept in the encrypted case file. Enrolling again (after a revocation, or with another
/// server) replaces the previous enrolment.
#[tauri::command]
#[specta::specta]
pub async fn enrol(
    vault: State<'_, Vault>,
    cancel: State<'_, SyncCancel>,
    server_url: String,
    username: String,
    password: String,
    code: String,
    device_name: String,
) -> AppResult<()> {
    let server = casefile::check_server_url(&server_url)?;
    let (username, device_name) = (username.trim().to_owned(), device_name.trim().to_owned());
    if username.is_empty() {
        return Err(AppError::invalid("username", "a username"));
    }
    if code.trim().is_empty() {
        return Err(AppError::invalid(
            "code",
            "the enrolment code a coordinator issued for this user",
        ));
    }
    if device_name.is_empty() {
        return Err(AppError::invalid("device_name", "a name for this device"));
    }
    // A lock abandons an enrolment as it abandons a sync: its flag is the sync's.
    let flag = cancel.start();
    vault
        .with(move |file| {
            file.enrol_cancellable(&server, &username, &password, &code, &device_name, &flag)?;
            Ok(())
        })
        .await
}

/// Pushes this device's changes and pulls the server's, holding the case file on the
/// blocking pool meanwhile; `SyncProgress` events feed the progress bar, and
/// [`cancel_sync`] stops it between two requests (what was exchanged stays). Records
/// only: the page then calls `sync_documents` for the documents' bytes, so this answer
/// never waits for photos.
#[tauri::command]
#[specta::specta]
pub async fn sync(
    app: AppHandle,
    vault: State<'_, Vault>,
    cancel: State<'_, SyncCancel>,
) -> AppResult<SyncReportView> {
    let flag = cancel.start();
    let events = app.clone();
    let report = vault
        .with(move |file| {
            let flag: &AtomicBool = &flag;
            let mut progress = |p: casefile::Progress| {
                // A window that stopped listening misses a step of the bar, nothing more.
                let _ = SyncProgress::from(p).emit(&events);
            };
            Ok(SyncReportView::from(file.sync(&mut progress, flag)?))
        })
        .await;
    settled(&app, &vault, &cancel, report).await
}

/// The answer of a request to the server, once what a refusal of this device asks is
/// done ([`settle_refusal`]).
pub(crate) async fn settled<T>(
    app: &AppHandle,
    vault: &Vault,
    cancel: &SyncCancel,
    answer: AppResult<T>,
) -> AppResult<T> {
    if let Err(error) = &answer {
        settle_refusal(app, vault, cancel, error).await?;
    }
    answer
}

/// Does what the server's refusal of this device asks, after any request to it (a sync,
/// an erasure): a disabled account locks the case file, keeping its data; a revoked
/// device destroys it (SYNC-PROTOCOL §6). Any other error asks for nothing.
pub(crate) async fn settle_refusal(
    app: &AppHandle,
    vault: &Vault,
    cancel: &SyncCancel,
    error: &AppError,
) -> AppResult<()> {
    match error {
        AppError::UserDisabled { .. } => {
            // The key leaves memory, the data stays.
            lock_vault(vault, cancel).await?;
            let _ = Locked {
                reason: LockReason::AccountDisabled,
            }
            .emit(app);
        }
        AppError::DeviceRevoked { .. } => {
            // Key material first, then the data.
            vault
                .with_slot(|_, slot| match slot.take() {
                    Some(file) => Ok(file.destroy()?),
                    None => Ok(()),
                })
                .await?;
            let _ = Locked {
                reason: LockReason::DeviceRevoked,
            }
            .emit(app);
        }
        _ => {}
    }
    Ok(())
}

/// The records kept out of the last syncs, each with why: refused or held by the server,
/// too large to send, or received states that could not be merged.
#[tauri::command]
#[specta::specta]
pub async fn set_aside(vault: State<'_, Vault>) -> AppResult<Vec<SetAsideView>> {
    set_aside_in(&vault).await
}

async fn set_aside_in(vault: &Vault) -> AppResult<Vec<SetAsideView>> {
    vault
        .with(|file| {
            Ok(file
                .set_aside()?
                .into_iter()
                .map(SetAsideView::from)
                .collect())
        })
        .await
}

/// Asks the running sync to stop at its next request.
#[tauri::command]
#[specta::specta]
pub fn cancel_sync(cancel: State<'_, SyncCancel>) {
    cancel.cancel();
}

/// Keeps what a form holds while it is typed (its JSON) as the draft `key`, encrypted in
/// the case file: a lock, a crash or a wrong turn loses nothing.
#[tauri::command]
#[specta::specta]
pub async fn save_draft(vault: State<'_, Vault>, key: String, text: String) -> AppResult<()> {
    vault
        .with(move |file| Ok(file.save_draft(&key, &text)?))
        .await
}

/// The draft `key`, if one is kept.
#[tauri::command]
#[specta::specta]
pub async fn draft(vault: State<'_, Vault>, key: String) -> AppResult<Option<String>> {
    vault.with(move |file| Ok(file.draft(&key)?)).await
}

/// Drops the draft `key`: its form was saved or abandoned.
#[tauri::command]
#[specta::specta]
pub async fn drop_draft(vault: State<'_, Vault>, key: String) -> AppResult<()> {
    vault.with(move |file| Ok(file.drop_draft(&key)?)).await
}

/// The organisation's time zone, as its setting writes it (`Europe/Paris`, `UTC`,
/// `+01:00`): the page shows and reads every time on its clocks, as the sheets print them.
#[tauri::command]
#[specta::specta]
pub async fn time_zone(vault: State<'_, Vault>) -> AppResult<String> {
    vault.with(|file| Ok(file.time_zone()?.name())).await
}

/// The dashboard of the period `from`–`to` (`YYYY-MM-DD`, inclusive, in the organisation's
/// time zone).
#[tauri::command]
#[specta::specta]
pub async fn dashboard(
    vault: State<'_, Vault>,
    from: String,
    to: String,
) -> AppResult<DashboardView> {
    vault
        .with(move |file| {
            let period = file.period(&from, &to)?;
            let indicators = file.indicators(&period)?;
            let work = file.people_in_work(&period)?;
            Ok(DashboardView::new(&period, &indicators, &work))
        })
        .await
}

/// The app's exports folder and how many files it holds.
#[derive(Debug, Clone, Serialize, Type)]
pub struct ExportsFolderView {
    /// Where it is.
    pub path: String,
    /// Files in it.
    pub files: u32,
}

/// The app's exports folder, where exports go unless the person chooses another (it is
/// destroyed with the case file when a coordinator revokes the device).
#[tauri::command]
#[specta::specta]
pub fn exports_folder(vault: State<'_, Vault>) -> AppResult<ExportsFolderView> {
    exports_folder_in(&vault)
}

fn exports_folder_in(vault: &Vault) -> AppResult<ExportsFolderView> {
    let dir = saving::exports_dir(vault.path());
    Ok(ExportsFolderView {
        files: saving::count_files(&dir)?,
        path: dir.display().to_string(),
    })
}

/// Deletes every file of the app's exports folder; answers how many it held.
#[tauri::command]
#[specta::specta]
pub fn empty_exports(vault: State<'_, Vault>) -> AppResult<u32> {
    empty_exports_in(&vault)
}

fn empty_exports_in(vault: &Vault) -> AppResult<u32> {
    saving::empty_dir(&saving::exports_dir(vault.path()))
}

/// Opens an export this run of the app saved (its path as a `save_…` command answered) in
/// the system's viewer, from which the person prints it.
#[tauri::command]
#[specta::specta]
pub fn open_export(vault: State<'_, Vault>, path: String) -> AppResult<()> {
    if !vault.is_unlocked() {
        return Err(AppError::locked());
    }
    saving::open_saved(&path)
}

/// Saves a visit's sheet (PDF) in the exports folder; answers its path.
///
/// Every `save_…` command takes `folder`: `None` for the app's exports folder, or the full
/// path of an existing folder the person chose, once the page warned that the file will
/// not be encrypted there and the person confirmed.
#[tauri::command]
#[specta::specta]
pub async fn save_visit_sheet(
    vault: State<'_, Vault>,
    visit: String,
    folder: Option<String>,
) -> AppResult<String> {
    let dir = saving::target_dir(vault.path(), folder.as_deref())?;
    vault
        .with(move |file| {
            let pdf = documents::visit_sheet_pdf(&file.visit_sheet(record_id(&visit)?)?)?;
            let stem = format!("fiche-visite-{}", saving::short_id(&visit));
            saving::save(&dir, &stem, "pdf", &pdf)
        })
        .await
}

/// Saves a person's sheet (PDF) in the exports folder, or in `folder`; answers its path.
#[tauri::command]
#[specta::specta]
pub async fn save_person_sheet(
    vault: State<'_, Vault>,
    person: String,
    folder: Option<String>,
) -> AppResult<String> {
    let dir = saving::target_dir(vault.path(), folder.as_deref())?;
    vault
        .with(move |file| {
            let pdf = documents::person_sheet_pdf(&file.person_sheet(record_id(&person)?)?)?;
            let stem = format!("fiche-personne-{}", saving::short_id(&person));
            saving::save(&dir, &stem, "pdf", &pdf)
        })
        .await
}

/// Saves everything the case file holds on a person (GDPR access: JSON and PDF) in the
/// exports folder, or in `folder`; answers both paths and how the sync before went.
///
/// A case file enrolled with a server syncs first, so the export holds what the whole
/// team recorded; a server that cannot be reached at once (two attempts) leaves the
/// export to this device's copy, and the answer says why and when it last synced. A
/// disabled account or a revoked device is settled as a sync settles it, and no export
/// is made; nor is one when a lock cancelled the sync.
#[tauri::command]
#[specta::specta]
pub async fn save_access_export(
    app: AppHandle,
    vault: State<'_, Vault>,
    cancel: State<'_, SyncCancel>,
    person: String,
    folder: Option<String>,
) -> AppResult<AccessExportView> {
    let dir = saving::target_dir(vault.path(), folder.as_deref())?;
    let before = sync_before_export(&vault, &cancel).await?;
    if let Some(error) = &before {
        settle_refusal(&app, &vault, &cancel, error).await?;
        if matches!(
            error,
            AppError::UserDisabled { .. }
                | AppError::DeviceRevoked { .. }
                | AppError::Cancelled { .. }
        ) {
            return Err(error.clone());
        }
    }
    access_export_in(&vault, person, dir, before).await
}

/// Syncs an enrolled case file before an export, trying the server twice at most:
/// answers `None` when it synced or has no server, else the sync's error.
async fn sync_before_export(vault: &Vault, cancel: &SyncCancel) -> AppResult<Option<AppError>> {
    let flag = cancel.start();
    vault
        .with(move |file| {
            if file.setting(DEVICE_TOKEN)?.is_none() {
                return Ok(None);
            }
            let options = casefile::SyncOptions {
                attempts: 2,
                ..casefile::SyncOptions::default()
            };
            Ok(file
                .sync_with(options, &mut |_| {}, &flag)
                .err()
                .map(AppError::from))
        })
        .await
}

async fn access_export_in(
    vault: &Vault,
    person: String,
    dir: std::path::PathBuf,
    sync_error: Option<AppError>,
) -> AppResult<AccessExportView> {
    vault
        .with(move |file| {
            let access = file.access(record_id(&person)?)?;
            let pdf = documents::access_pdf(&access)?;
            let stem = format!("donnees-personne-{}", saving::short_id(&person));
            let paths = vec![
                saving::save(&dir, &stem, "pdf", &pdf)?,
                saving::save(&dir, &stem, "json", access.json.as_bytes())?,
            ];
            let enrolled = file.setting(DEVICE_TOKEN)?.is_some();
            Ok(AccessExportView {
                paths,
                synced: enrolled && sync_error.is_none(),
                sync_error,
                last_sync_at: file.last_sync_at()?,
            })
        })
        .await
}

/// Saves the workbook (XLSX) of the period `from`–`to` in the exports folder, or in
/// `folder`; answers its path.
#[tauri::command]
#[specta::specta]
pub async fn save_period_xlsx(
    vault: State<'_, Vault>,
    from: String,
    to: String,
    folder: Option<String>,
) -> AppResult<String> {
    let dir = saving::target_dir(vault.path(), folder.as_deref())?;
    vault
        .with(move |file| {
            let period = file.period(&from, &to)?;
            let xlsx = documents::xlsx(&file.workbook(&period)?)?;
            let stem = format!("indicateurs-{}-{}", period.from_text(), period.to_text());
            saving::save(&dir, &stem, "xlsx", &xlsx)
        })
        .await
}

/// Saves every record of `kind` (not deleted) as a CSV for people (French headers and
/// labels, decimal comma, dates `jj/mm/aaaa`, ids last) in the exports folder, or in
/// `folder`; answers its path.
#[tauri::command]
#[specta::specta]
pub async fn save_kind_csv(
    vault: State<'_, Vault>,
    kind: String,
    folder: Option<String>,
) -> AppResult<String> {
    let dir = saving::target_dir(vault.path(), folder.as_deref())?;
    vault
        .with(move |file| {
            let sheet = file.sheet(&kind)?;
            let mut csv = Vec::new();
            documents::sheet_csv(&sheet, &mut csv)?;
            let today = file.time_zone()?.local_date(chrono::Utc::now());
            let stem = format!("{kind}-{}", today.format("%Y-%m-%d"));
            saving::save(&dir, &stem, "csv", &csv)
        })
        .await
}

#[cfg(test)]
mod tests {
    use casefile::KdfParams;
    use casefile::sync_protocol::RecordState;
    use serde_json::json;

    use super::*;

    #[test]
    fn the_set_aside_records_come_with_why() {
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::new(dir.path().join("test.casefile"));
        tauri::async_runtime::block_on(async {
            let locked = set_aside_in(&vault).await;
            assert!(matches!(locked, Err(AppError::Locked { .. })), "{locked:?}");
            vault
                .with_slot(|path, slot| {
                    *slot = Some(CaseFile::init_with(
                        path,
                        "une phrase secrète",
                        KdfParams::INSECURE_FOR_TESTS,
                    )?);
                    Ok(())
                })
                .await
                .unwrap();
            assert!(
                set_aside_in(&vault).await.unwrap().is_empty(),
                "a new case file sets nothing aside"
            );
            // A visit received under the id of a local person: set aside beside it.
            let id = vault
                .with(|file| {
                    let id = file.create(
                        "person",
                        vec![
                            ("family_name".to_owned(), json!("Popa")),
                            ("given_names".to_owned(), json!("Ion")),
                        ],
                    )?;
                    let other = "0193a1f0-0000-7000-8000-0000000000ab";
                    let visit = RecordState::from_value(&json!({
                        "id": id.to_string(), "kind": "visit", "vv": {other: 1},
                        "fields": {"purpose": [{"dot": [other, 1], "at": "2026-11-02T10:14:00Z", "value": "Suivi"}]}
                    }))
                    .map_err(casefile::Error::from)?;
                    file.apply_pulled(&[visit], 1)?;
                    Ok(id)
                })
                .await
                .unwrap();
            let listed = set_aside_in(&vault).await.unwrap();
            assert_eq!(listed.len(), 1, "{listed:?}");
            assert_eq!(listed[0].id, Some(id.to_string()));
            assert_eq!(listed[0].kind.as_deref(), Some("visit"));
            assert_eq!(listed[0].why, "kind_clash");
            let json = serde_json::to_value(&listed[0]).unwrap();
            assert_eq!(
                json["why"], "kind_clash",
                "the UI reads `why` to explain it: {json}"
            );
        });
    }

    #[test]
    fn a_record_s_history_says_who_wrote_each_field_and_when_and_marks_conflicts() {
        let dir = tempfile::tempdir().unwrap();
        let vault = crate::state::open_test_vault(dir.path());
        let other = "0193a1f0-0000-7000-8000-0000000000cd";
        let (id, me) = tauri::async_runtime::block_on(vault.with(move |file| {
            let id = file.create(
                "person",
                vec![
                    ("family_name".to_owned(), json!("Popa")),
                    ("given_names".to_owned(), json!("Ion")),
                ],
            )?;
            file.edit(id, vec![("phone".to_owned(), json!("06 11 11 11 11"))])?;
            // Another device wrote the phone without seeing this edit: a conflict.
            let theirs = RecordState::from_value(&json!({
                "id": id.to_string(), "kind": "person", "vv": {other: 1},
                "fields": {"phone": [{"dot": [other, 1], "at": "2026-11-02T10:14:00Z", "value": "07 22 22 22 22"}]}
            }))
            .map_err(casefile::Error::from)?;
            file.apply_pulled(&[theirs], 1)?;
            Ok((id.to_string(), file.replica_id().to_string()))
        }))
        .unwrap();
        let history = tauri::async_runtime::block_on(history_in(&vault, id.clone())).unwrap();
        let fields: Vec<(&str, &str, bool)> = history
            .iter()
            .map(|e| (e.field.as_str(), e.replica.as_str(), e.conflict))
            .collect();
        // Family name, given names, the status a new person gets, and two phones.
        assert_eq!(history.len(), 5, "{fields:?}");
        assert_eq!(
            fields[0],
            ("phone", other, true),
            "oldest first: the other device's entry of 2026, in conflict"
        );
        for field in ["family_name", "given_names"] {
            let entry = history.iter().find(|e| e.field == field).unwrap();
            assert_eq!(entry.replica, me, "written here");
            assert!(!entry.conflict, "{field}");
            assert!(
                casefile::sync_protocol::dates::parse_rfc3339(&entry.at).is_some(),
                "{}",
                entry.at
            );
        }
        let phones: Vec<&HistoryEntryView> =
            history.iter().filter(|e| e.field == "phone").collect();
        assert_eq!(phones.len(), 2);
        assert!(phones.iter().all(|e| e.conflict), "{phones:?}");
        assert!(phones.iter().any(|e| e.replica == me && e.counter == 2.0));
        let json = serde_json::to_value(&history[0]).unwrap();
        for key in ["field", "replica", "counter", "at", "value", "conflict"] {
            assert!(json.get(key).is_some(), "the UI reads {key}: {json}");
        }

        let unknown = tauri::async_runtime::block_on(history_in(
            &vault,
            "0193a1f0-0000-7000-8000-0000000000ff".to_owned(),
        ));
        assert!(
            matches!(unknown, Err(AppError::NotFound { .. })),
            "{unknown:?}"
        );
        let bad = tauri::async_runtime::block_on(history_in(&vault, "pas-un-id".to_owned()));
        assert!(matches!(bad, Err(AppError::Invalid { .. })), "{bad:?}");
    }

    #[test]
    fn an_access_export_without_a_server_is_made_from_this_device_and_says_it_did_not_sync() {
        let dir = tempfile::tempdir().unwrap();
        let vault = crate::state::open_test_vault(dir.path());
        let cancel = SyncCancel::default();
        let person = tauri::async_runtime::block_on(vault.with(|file| {
            Ok(file
                .create("person", vec![("family_name".to_owned(), json!("Lăcătuș"))])?
                .to_string())
        }))
        .unwrap();
        let before = tauri::async_runtime::block_on(sync_before_export(&vault, &cancel)).unwrap();
        assert!(
            before.is_none(),
            "a case file with no server has nothing to sync: {before:?}"
        );
        let target = saving::target_dir(vault.path(), None).unwrap();
        let saved =
            tauri::async_runtime::block_on(access_export_in(&vault, person, target, before))
                .unwrap();
        assert!(!saved.synced, "no sync ran");
        assert!(saved.sync_error.is_none(), "{:?}", saved.sync_error);
        assert_eq!(saved.last_sync_at, None, "never synced");
        assert_eq!(saved.paths.len(), 2, "{:?}", saved.paths);
        assert!(saved.paths[0].ends_with(".pdf") && saved.paths[1].ends_with(".json"));
        for path in &saved.paths {
            assert!(std::path::Path::new(path).is_file(), "{path} written");
        }
        let json = serde_json::to_value(&saved).unwrap();
        for key in ["paths", "synced", "sync_error", "last_sync_at"] {
            assert!(json.get(key).is_some(), "the UI reads {key}: {json}");
        }
    }

    #[test]
    fn an_access_export_reports_a_server_it_could_not_reach() {
        let dir = tempfile::tempdir().unwrap();
        let vault = crate::state::open_test_vault(dir.path());
        // An enrolled case file whose server is gone: a port nothing listens on.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        tauri::async_runtime::block_on(vault.with(move |file| {
            file.set_setting(SERVER_URL, &url)?;
            file.set_setting(DEVICE_TOKEN, "un-jeton")?;
            Ok(())
        }))
        .unwrap();
        let before =
            tauri::async_runtime::block_on(sync_before_export(&vault, &SyncCancel::default()))
                .unwrap();
        assert!(
            matches!(before, Some(AppError::Unreachable { .. })),
            "the export goes on from this device's copy, saying why: {before:?}"
        );
    }

    #[test]
    fn exports_land_in_the_folder_that_destroy_removes_and_the_button_empties_it() {
        let dir = tempfile::tempdir().unwrap();
        let vault = crate::state::open_test_vault(dir.path());
        let folder = exports_folder_in(&vault).unwrap();
        assert_eq!(
            folder.path,
            dir.path()
                .join(casefile::EXPORTS_FOLDER)
                .display()
                .to_string()
        );
        assert_eq!(folder.files, 0);

        // A save without a folder goes there, as every save_… command does.
        let target = saving::target_dir(vault.path(), None).unwrap();
        let pdf = tauri::async_runtime::block_on(vault.with(move |file| {
            let id = file.create(
                "person",
                vec![
                    ("family_name".to_owned(), json!("Popa")),
                    ("given_names".to_owned(), json!("Ion")),
                ],
            )?;
            let pdf = documents::person_sheet_pdf(&file.person_sheet(id)?)?;
            saving::save(&target, "fiche-personne", "pdf", &pdf)
        }))
        .unwrap();
        assert!(pdf.starts_with(&folder.path), "{pdf} is in {}", folder.path);
        saving::save(std::path::Path::new(&folder.path), "autre", "json", b"{}").unwrap();
        assert_eq!(exports_folder_in(&vault).unwrap().files, 2);

        assert_eq!(
            empty_exports_in(&vault).unwrap(),
            2,
            "says how many it held"
        );
        assert_eq!(exports_folder_in(&vault).unwrap().files, 0);
        assert!(
            vault.path().is_file(),
            "the case file beside it is untouched"
        );

        // And a revoked device's destruction takes the folder with the case file.
        saving::save(
            std::path::Path::new(&folder.path),
            "encore",
            "pdf",
            b"%PDF-",
        )
        .unwrap();
        tauri::async_runtime::block_on(vault.with_slot(|_, slot| match slot.take() {
            Some(file) => Ok(file.destroy()?),
            None => Ok(()),
        }))
        .unwrap();
        assert!(!std::path::Path::new(&folder.path).exists());
    }
}
