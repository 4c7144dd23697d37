//! Documents and photos in a person's file: the commands over `casefile`'s attachments,
//! each a few lines (`casefile::attachments` holds every rule: what is taken in, photos
//! reduced to 2 megapixels, bytes kept encrypted in the case file and synced after the
//! records).
//!
//! - [`attach`]: a document or photo. Its bytes cross the IPC as base64 in the JSON of
//!   the command (Tauri's raw IPC body has no typed binding), at most 64 MiB as given;
//!   the answer is the attachment as lists show it.
//! - [`attachments_of`]: a person's list, deleted ones left out.
//! - [`attachment_thumbnail`]: a photo's thumbnail as a `data:` URL (the page's CSP
//!   allows `img-src data:`), or none: a PDF, or a photo not on this device yet.
//! - [`attachment_open`]: a photo as a `data:` URL of the whole picture; a PDF written
//!   to the exports folder (destroyed with the case file, emptied from the settings) and
//!   opened in the system's viewer, as `saving::open_saved` opens an export. Bytes not on
//!   this device are fetched from the server first; without a server, or out of its
//!   reach, the answer is [`AppError::DocumentNotHere`].
//! - [`documents_fetch_mode`], [`set_documents_fetch_mode`]: which documents a sync
//!   fetches (all, or each when it is opened).
//! - [`sync_documents`]: the documents' sync. The page calls it once `sync` answered, so
//!   the records' result never waits for photos; its progress comes as
//!   `DocumentsProgress` events, and `cancel_sync` stops it as it stops a sync. It runs
//!   on a second handle of the case file ([`Vault::beside`]): the other commands, a
//!   records' sync included, go on while documents travel.
//!
//! Deleting and restoring an attachment are the generic `delete` and `restore`.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use casefile::sync_protocol::wire::ErrorCode;
use casefile::{FetchMode, NewAttachment, SyncError};
use serde::{Deserialize, Serialize};
use specta::Type;
use tauri::{AppHandle, State};
use tauri_specta::Event;

use crate::commands::settled;
use crate::error::{AppError, AppResult};
use crate::events::DocumentsProgress;
use crate::saving;
use crate::state::{SyncCancel, Vault};
use crate::view::record_id;

/// The largest file taken in, as given (a photo is reduced after; casefile's
/// `MAX_INPUT_BYTES`): a larger one is refused before it is decoded from base64.
const MAX_GIVEN_BYTES: usize = casefile::attachments::MAX_INPUT_BYTES;

/// An attachment as the person's file and the visit show it.
#[derive(Debug, Clone, Serialize, Type)]
pub struct AttachmentView {
    /// Its record's id.
    pub id: String,
    /// The person whose file holds it.
    pub person_id: Option<String>,
    /// The visit it was taken at.
    pub visit_id: Option<String>,
    /// The step it belongs to.
    pub step_id: Option<String>,
    /// Its title.
    pub title: String,
    /// What it is: `identity`, `cv`, `france_travail`, `payslip`, `training`, `housing`,
    /// `health` or `other`.
    pub category: String,
    /// The day it was taken or received, `YYYY-MM-DD`.
    pub taken_on: Option<String>,
    /// `image/jpeg`, `image/png`, `image/webp` or `application/pdf`.
    pub media_type: String,
    /// Whether it is a photo (shown as a picture, with a thumbnail).
    pub is_image: bool,
    /// Its length in bytes.
    pub size: u32,
    /// The file's name as given.
    pub file_name: Option<String>,
    /// Whether its bytes are on this device (else they are fetched when it is opened).
    pub held: bool,
    /// Whether the server has said it holds the bytes.
    pub uploaded: bool,
    /// Whether it is deleted.
    pub deleted: bool,
    /// When it was added (RFC 3339).
    pub added_at: String,
}

impl From<&casefile::Attachment> for AttachmentView {
    fn from(a: &casefile::Attachment) -> Self {
        Self {
            id: a.id.to_string(),
            person_id: a.person_id.map(|id| id.to_string()),
            visit_id: a.visit_id.map(|id| id.to_string()),
            step_id: a.step_id.map(|id| id.to_string()),
            title: a.title.clone(),
            category: a.category.clone(),
            taken_on: a.taken_on.clone(),
            media_type: a.media_type.clone(),
            is_image: a.is_image(),
            size: u32::try_from(a.size).unwrap_or(u32::MAX),
            file_name: a.file_name.clone(),
            held: a.held,
            uploaded: a.uploaded,
            deleted: a.deleted,
            added_at: a.added_at.clone(),
        }
    }
}

/// A new document's description, as the form gives it.
#[derive(Debug, Clone, Deserialize, Type)]
pub struct NewAttachmentInput {
    /// The person whose file holds it.
    pub person_id: String,
    /// The visit it was taken at, if any.
    pub visit_id: Option<String>,
    /// The step it belongs to, if any.
    pub step_id: Option<String>,
    /// Its title.
    pub title: String,
    /// What it is (see [`AttachmentView::category`]).
    pub category: String,
    /// The day it was taken or received, `YYYY-MM-DD`.
    pub taken_on: Option<String>,
    /// The file's name as given.
    pub file_name: Option<String>,
    /// Whether a photo is kept as given rather than reduced to 2 megapixels.
    pub keep_original: bool,
}

impl NewAttachmentInput {
    /// The case file's form, once every id reads as one.
    fn to_new(&self) -> AppResult<NewAttachment> {
        let optional = |id: &Option<String>| {
            id.as_deref()
                .filter(|id| !id.trim().is_empty())
                .map(record_id)
                .transpose()
        };
        Ok(NewAttachment {
            person_id: Some(record_id(&self.person_id)?),
            visit_id: optional(&self.visit_id)?,
            step_id: optional(&self.step_id)?,
            title: self.title.clone(),
            category: self.category.clone(),
            taken_on: self.taken_on.clone().filter(|d| !d.trim().is_empty()),
            file_name: self.file_name.clone().filter(|n| !n.trim().is_empty()),
            keep_original: self.keep_original,
        })
    }
}

/// An attachment opened.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OpenedAttachment {
    /// A photo: the whole picture, as a `data:` URL.
    Image {
        /// `data:image/…;base64,…`.
        data_url: String,
    },
    /// A PDF: written to the exports folder and handed to the system's viewer.
    Pdf {
        /// Where it was written.
        path: String,
    },
}

/// Which documents a sync fetches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum FetchModeView {
    /// Every document of the persons' files (the default).
    All,
    /// Each document when it is opened on this device.
    OnDemand,
}

impl From<FetchMode> for FetchModeView {
    fn from(mode: FetchMode) -> Self {
        match mode {
            FetchMode::All => Self::All,
            FetchMode::OnDemand => Self::OnDemand,
        }
    }
}

impl From<FetchModeView> for FetchMode {
    fn from(mode: FetchModeView) -> Self {
        match mode {
            FetchModeView::All => Self::All,
            FetchModeView::OnDemand => Self::OnDemand,
        }
    }
}

/// The documents waiting, for the sync card.
#[derive(Debug, Clone, Copy, Serialize, Type)]
pub struct DocumentsStatusView {
    /// Documents to send.
    pub to_send: u32,
    /// Their bytes.
    pub to_send_bytes: u64,
    /// Documents to fetch, by the fetch setting.
    pub to_fetch: u32,
    /// Their bytes.
    pub to_fetch_bytes: u64,
}

impl From<casefile::DocumentsStatus> for DocumentsStatusView {
    fn from(s: casefile::DocumentsStatus) -> Self {
        Self {
            to_send: u32::try_from(s.to_send).unwrap_or(u32::MAX),
            to_send_bytes: s.to_send_bytes,
            to_fetch: u32::try_from(s.to_fetch).unwrap_or(u32::MAX),
            to_fetch_bytes: s.to_fetch_bytes,
        }
    }
}

/// What the documents' sync did.
#[derive(Debug, Clone, Copy, Serialize, Type)]
pub struct DocumentsReportView {
    /// Documents the server now holds that it lacked.
    pub sent: u32,
    /// Documents now on this device that were not.
    pub received: u32,
    /// Documents still waiting (to send: their record is not on the server yet; to fetch:
    /// not on the server yet).
    pub waiting: u32,
}

impl From<casefile::DocumentsReport> for DocumentsReportView {
    fn from(r: casefile::DocumentsReport) -> Self {
        let count = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        Self {
            sent: count(r.sent),
            received: count(r.received),
            waiting: count(r.waiting),
        }
    }
}

/// `bytes` as a `data:` URL of `media_type`.
fn data_url(media_type: &str, bytes: &[u8]) -> String {
    format!("data:{media_type};base64,{}", BASE64.encode(bytes))
}

/// Adds a document or photo to a person's file (a photo is reduced to 2 megapixels as
/// JPEG unless `keep_original`; a PDF is kept as it is); `bytes` is the file in base64.
/// Answers the attachment.
///
/// Errors: [`AppError::BadDocument`] (not a photo or a PDF, too large, unreadable),
/// [`AppError::Invalid`] naming the field that does not fit (`title`, `category`,
/// `taken_on`, `person_id`, `bytes`).
#[tauri::command]
#[specta::specta]
pub async fn attach(
    vault: State<'_, Vault>,
    attachment: NewAttachmentInput,
    bytes: String,
) -> AppResult<AttachmentView> {
    attach_in(&vault, attachment, bytes).await
}

async fn attach_in(
    vault: &Vault,
    attachment: NewAttachmentInput,
    bytes: String,
) -> AppResult<AttachmentView> {
    let new = attachment.to_new()?;
    // Base64 is 4 characters for 3 bytes: a longer text holds a file too large anyway.
    if bytes.len() / 4 * 3 > MAX_GIVEN_BYTES + 3 {
        return Err(AppError::BadDocument {
            problem: crate::error::DocumentProblem::TooLarge,
            message: format!("a file of more than {MAX_GIVEN_BYTES} bytes"),
        });
    }
    vault
        .with(move |file| {
            let bytes = BASE64
                .decode(bytes.trim())
                .map_err(|_| AppError::invalid("bytes", "the file's bytes in base64"))?;
            let id = file.attach(&new, &bytes)?;
            Ok(AttachmentView::from(&file.attachment(id)?))
        })
        .await
}

/// The attachments of a person's file that are not deleted (with those of the files
/// merged into it), the most recently taken first.
#[tauri::command]
#[specta::specta]
pub async fn attachments_of(
    vault: State<'_, Vault>,
    person: String,
) -> AppResult<Vec<AttachmentView>> {
    attachments_of_in(&vault, person).await
}

async fn attachments_of_in(vault: &Vault, person: String) -> AppResult<Vec<AttachmentView>> {
    vault
        .with(move |file| {
            let list = file.attachments_of(record_id(&person)?)?;
            Ok(list.iter().map(AttachmentView::from).collect())
        })
        .await
}

/// A photo's thumbnail (JPEG, at most 320 pixels a side) as a `data:` URL; `None` for a
/// PDF, or a photo whose bytes are not on this device yet.
#[tauri::command]
#[specta::specta]
pub async fn attachment_thumbnail(
    vault: State<'_, Vault>,
    id: String,
) -> AppResult<Option<String>> {
    thumbnail_in(&vault, id).await
}

async fn thumbnail_in(vault: &Vault, id: String) -> AppResult<Option<String>> {
    vault
        .with(move |file| {
            let jpeg = file.attachment_thumbnail(record_id(&id)?)?;
            Ok(jpeg.map(|jpeg| data_url("image/jpeg", &jpeg)))
        })
        .await
}

/// Opens an attachment: a photo answers the whole picture; a PDF is written to the
/// exports folder and opened in the system's viewer. Bytes not on this device are fetched
/// from the server first (and kept).
///
/// Errors: [`AppError::DocumentNotHere`] when the bytes are not here and no server can
/// be reached; [`AppError::DocumentNotOnServer`] when the server does not have them yet;
/// [`AppError::OpenFailed`] when no viewer opens the PDF; a sync's errors otherwise (a
/// revoked device or a disabled account are settled as a sync settles them).
#[tauri::command]
#[specta::specta]
pub async fn attachment_open(
    app: AppHandle,
    vault: State<'_, Vault>,
    cancel: State<'_, SyncCancel>,
    id: String,
) -> AppResult<OpenedAttachment> {
    let exports = saving::opened_dir(vault.path());
    let opened = settled(
        &app,
        &vault,
        &cancel,
        open_in(&vault, &cancel, id, exports).await,
    )
    .await?;
    if let OpenedAttachment::Pdf { path } = &opened {
        saving::open_saved(path)?;
    }
    Ok(opened)
}

/// Reads attachment `id` for [`attachment_open`], fetching it when it is not here; a PDF
/// is written to `exports`.
async fn open_in(
    vault: &Vault,
    cancel: &SyncCancel,
    id: String,
    exports: PathBuf,
) -> AppResult<OpenedAttachment> {
    let record = record_id(&id)?;
    // Only a fetch talks to the server (the bytes held are read first): a lock or a
    // cancel stops it as it stops a sync, and a cancel already asked is kept.
    let flag = cancel.join();
    vault
        .with(move |file| {
            let attachment = file.attachment(record)?;
            let bytes = file.fetch_attachment(record, &flag).map_err(not_here)?;
            if attachment.is_image() {
                return Ok(OpenedAttachment::Image {
                    data_url: data_url(&attachment.media_type, &bytes),
                });
            }
            let extension = match attachment.media_type.as_str() {
                "application/pdf" => "pdf",
                _ => "bin",
            };
            // Named by id, never by its title or file name: they may name the person.
            let name = format!("document-{}.{extension}", saving::short_id(&id));
            let path = saving::replace(&exports, &name, &bytes)?;
            Ok(OpenedAttachment::Pdf { path })
        })
        .await
}

/// A fetch's error, in the words of a document that is not on this device.
fn not_here(error: SyncError) -> AppError {
    let message = error.to_string();
    match error {
        SyncError::NotEnrolled | SyncError::Unreachable { .. } => {
            AppError::DocumentNotHere { message }
        }
        SyncError::NotFound
        | SyncError::Refused {
            code: ErrorCode::NotFound,
            ..
        } => AppError::DocumentNotOnServer { message },
        other => other.into(),
    }
}

/// Which documents a sync fetches.
#[tauri::command]
#[specta::specta]
pub async fn documents_fetch_mode(vault: State<'_, Vault>) -> AppResult<FetchModeView> {
    vault
        .with(|file| Ok(FetchModeView::from(file.fetch_mode()?)))
        .await
}

/// Sets which documents a sync fetches.
#[tauri::command]
#[specta::specta]
pub async fn set_documents_fetch_mode(
    vault: State<'_, Vault>,
    mode: FetchModeView,
) -> AppResult<()> {
    vault
        .with(move |file| Ok(file.set_fetch_mode(mode.into())?))
        .await
}

/// Sends the documents the server lacks, then fetches those the fetch setting asks for;
/// `DocumentsProgress` events feed its bar, and `cancel_sync` stops it (what was
/// exchanged stays, and a document cut off resumes where it stopped).
///
/// Errors: a sync's; a full quota is [`AppError::QuotaFull`], answered once the
/// downloads are done. The records' sync is not undone by any of them.
#[tauri::command]
#[specta::specta]
pub async fn sync_documents(
    app: AppHandle,
    vault: State<'_, Vault>,
    cancel: State<'_, SyncCancel>,
) -> AppResult<DocumentsReportView> {
    let flag = cancel.start();
    let events = app.clone();
    let report = vault
        .beside(move |file| {
            let flag: &AtomicBool = &flag;
            let mut progress = |p: casefile::DocumentsProgress| {
                // A window that stopped listening misses a step of the bar, nothing more.
                let _ = DocumentsProgress::from(p).emit(&events);
            };
            Ok(DocumentsReportView::from(
                file.sync_documents(&mut progress, flag)?,
            ))
        })
        .await;
    settled(&app, &vault, &cancel, report).await
}

#[cfg(test)]
mod tests {
    use casefile::sync_protocol::RecordState;
    use serde_json::json;

    use super::*;
    use crate::error::DocumentProblem;

    fn block<T>(f: impl std::future::Future<Output = T>) -> T {
        tauri::async_runtime::block_on(f)
    }

    /// A PNG of `w`×`h` pixels, in base64 as the page sends it.
    fn png(w: u32, h: u32) -> String {
        let image = image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x + y) % 239) as u8])
        });
        let mut out = Vec::new();
        image
            .write_with_encoder(image::codecs::png::PngEncoder::new(&mut out))
            .unwrap();
        BASE64.encode(out)
    }

    fn person(vault: &Vault) -> String {
        block(vault.with(|file| {
            Ok(file
                .create(
                    "person",
                    vec![
                        ("family_name".to_owned(), json!("Lăcătuș")),
                        ("given_names".to_owned(), json!("Ștefan")),
                    ],
                )?
                .to_string())
        }))
        .unwrap()
    }

    fn input(person: &str, title: &str, category: &str) -> NewAttachmentInput {
        NewAttachmentInput {
            person_id: person.to_owned(),
            visit_id: None,
            step_id: Some(String::new()),
            title: title.to_owned(),
            category: category.to_owned(),
            taken_on: Some("2026-11-02".to_owned()),
            file_name: Some("carte.png".to_owned()),
            keep_original: false,
        }
    }

    /// The bytes of a `data:` URL, checking its media type.
    fn bytes_of(url: &str, media_type: &str) -> Vec<u8> {
        let prefix = format!("data:{media_type};base64,");
        assert!(url.starts_with(&prefix), "a data URL of {media_type}");
        BASE64.decode(&url[prefix.len()..]).unwrap()
    }

    #[test]
    fn a_photo_attached_is_listed_shown_opened_and_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let vault = crate::state::open_test_vault(dir.path());
        let stefan = person(&vault);

        let added = block(attach_in(
            &vault,
            input(&stefan, "Carte d'identité", "identity"),
            png(2400, 1800),
        ))
        .unwrap();
        assert_eq!(added.person_id.as_deref(), Some(stefan.as_str()));
        assert_eq!(
            (added.title.as_str(), added.category.as_str()),
            ("Carte d'identité", "identity")
        );
        assert_eq!(added.media_type, "image/jpeg", "a photo is reduced to JPEG");
        assert!(added.is_image && added.held && !added.uploaded && !added.deleted);
        assert_eq!(added.step_id, None, "an empty step is no step");
        assert_eq!(added.taken_on.as_deref(), Some("2026-11-02"));
        let json = serde_json::to_value(&added).unwrap();
        for key in ["id", "title", "category", "taken_on", "is_image", "held"] {
            assert!(json.get(key).is_some(), "the UI reads {key}: {json}");
        }

        let listed = block(attachments_of_in(&vault, stefan.clone())).unwrap();
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!(listed[0].id, added.id);

        let thumbnail = block(thumbnail_in(&vault, added.id.clone()))
            .unwrap()
            .expect("a photo held has a thumbnail");
        let small = image::load_from_memory(&bytes_of(&thumbnail, "image/jpeg")).unwrap();
        assert!(
            small.width() <= 320 && small.height() <= 320 && small.width() > 0,
            "{}x{}",
            small.width(),
            small.height()
        );

        let exports = saving::opened_dir(vault.path());
        let opened = block(open_in(
            &vault,
            &SyncCancel::default(),
            added.id.clone(),
            exports.clone(),
        ))
        .unwrap();
        let OpenedAttachment::Image { data_url } = opened else {
            panic!("a photo opens as a picture: {opened:?}")
        };
        let whole = image::load_from_memory(&bytes_of(&data_url, "image/jpeg")).unwrap();
        let pixels = u64::from(whole.width()) * u64::from(whole.height());
        assert!(
            pixels > 1_800_000 && pixels <= 2_000_000,
            "the whole picture, reduced to 2 megapixels: {pixels}"
        );
        assert_eq!(
            saving::count_files(&exports).unwrap(),
            0,
            "a photo is never written to disk"
        );

        block(vault.with({
            let id = added.id.clone();
            move |file| Ok(file.delete(record_id(&id)?)?)
        }))
        .unwrap();
        assert!(
            block(attachments_of_in(&vault, stefan.clone()))
                .unwrap()
                .is_empty(),
            "a deleted document leaves the list"
        );
        block(vault.with({
            let id = added.id.clone();
            move |file| Ok(file.restore(record_id(&id)?)?)
        }))
        .unwrap();
        assert_eq!(
            block(attachments_of_in(&vault, stefan)).unwrap().len(),
            1,
            "and a restored one comes back"
        );
    }

    /// The page checks sizes before it sends a file, and lists categories before the
    /// schema is read: with the case file's own figures and values.
    #[test]
    fn the_pages_limits_and_categories_are_the_case_files() {
        let page = include_str!("../../ui/src/lib/documents.ts");
        let mib = |bytes: u64| format!("= {} * 1024 * 1024;", bytes / (1024 * 1024));
        let kept = mib(casefile::sync_protocol::blobs::MAX_BLOB_BYTES);
        let photo = mib(casefile::attachments::MAX_INPUT_BYTES as u64);
        assert!(page.contains(&format!("MAX_KEPT_BYTES {kept}")), "{kept}");
        assert!(
            page.contains(&format!("MAX_PHOTO_BYTES {photo}")),
            "{photo}"
        );
        let values = casefile::kinds::AttachmentCategory::VALUES
            .iter()
            .map(|v| format!("\"{v}\""))
            .collect::<Vec<_>>()
            .join(", ");
        assert!(page.contains(&format!("[{values}]")), "{values}");
    }

    #[test]
    fn a_pdf_opens_from_the_exports_folder_and_has_no_thumbnail() {
        let dir = tempfile::tempdir().unwrap();
        let vault = crate::state::open_test_vault(dir.path());
        let stefan = person(&vault);
        let pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n".to_vec();
        let added = block(attach_in(
            &vault,
            input(&stefan, "Fiche de paie de mars", "payslip"),
            BASE64.encode(&pdf),
        ))
        .unwrap();
        assert_eq!(added.media_type, "application/pdf");
        assert!(!added.is_image);
        assert_eq!(
            block(thumbnail_in(&vault, added.id.clone())).unwrap(),
            None,
            "a PDF shows an icon"
        );

        let exports = saving::opened_dir(vault.path());
        let opened = block(open_in(
            &vault,
            &SyncCancel::default(),
            added.id.clone(),
            exports.clone(),
        ))
        .unwrap();
        let OpenedAttachment::Pdf { path } = opened else {
            panic!("a PDF opens in the viewer: {opened:?}")
        };
        assert!(
            path.starts_with(&exports.display().to_string()),
            "{path} is in the exports folder, destroyed with the case file"
        );
        let name = std::path::Path::new(&path)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap()
            .to_owned();
        assert_eq!(
            name,
            format!("document-{}.pdf", saving::short_id(&added.id)),
            "named by id, never by the title"
        );
        assert_eq!(std::fs::read(&path).unwrap(), pdf, "byte for byte");
        // Opened again: the same file, not a second copy.
        let again = block(open_in(
            &vault,
            &SyncCancel::default(),
            added.id.clone(),
            exports.clone(),
        ))
        .unwrap();
        assert!(matches!(again, OpenedAttachment::Pdf { path: ref p } if *p == path));
        assert_eq!(saving::count_files(&exports).unwrap(), 1);
        // A lock takes the decrypted copy away.
        block(crate::lock::lock_vault(&vault, &SyncCancel::default())).unwrap();
        assert!(
            !std::path::Path::new(&path).exists(),
            "the lock removes {path}"
        );
    }

    #[test]
    fn a_visit_lists_the_photos_taken_at_it() {
        let dir = tempfile::tempdir().unwrap();
        let vault = crate::state::open_test_vault(dir.path());
        let stefan = person(&vault);
        let visit = block(vault.with({
            let stefan = stefan.clone();
            move |file| {
                Ok(file
                    .create(
                        "visit",
                        vec![
                            ("occurred_at".to_owned(), json!("2026-11-02T10:00:00+01:00")),
                            ("setting".to_owned(), json!("home_visit")),
                            ("person_ids".to_owned(), json!([stefan])),
                        ],
                    )?
                    .to_string())
            }
        }))
        .unwrap();
        let mut at_visit = input(&stefan, "Photo de la visite", "other");
        at_visit.visit_id = Some(visit.clone());
        let taken = block(attach_in(&vault, at_visit, png(40, 30))).unwrap();
        block(attach_in(&vault, input(&stefan, "CV", "cv"), png(40, 30))).unwrap();

        let listed: Vec<AttachmentView> = block(attachments_of_in(&vault, stefan.clone()))
            .unwrap()
            .into_iter()
            .filter(|a| a.visit_id.as_deref() == Some(visit.as_str()))
            .collect();
        assert_eq!(listed.len(), 1, "only the visit's photo: {listed:?}");
        assert_eq!(listed[0].id, taken.id);
        assert_eq!(
            block(attachments_of_in(&vault, stefan)).unwrap().len(),
            2,
            "both are in the person's file"
        );
    }

    #[test]
    fn a_refused_file_says_why_by_kind() {
        let dir = tempfile::tempdir().unwrap();
        let vault = crate::state::open_test_vault(dir.path());
        let stefan = person(&vault);
        let mut big_pdf = b"%PDF-1.7\n".to_vec();
        big_pdf.resize(20 * 1024 * 1024 + 1, b' ');
        let cases = [
            (
                b"PK\x03\x04 a docx".to_vec(),
                DocumentProblem::NotPhotoOrPdf,
            ),
            (
                b"\0\0\0\x18ftypheic\0\0\0\0mif1heic".to_vec(),
                DocumentProblem::Heic,
            ),
            (big_pdf, DocumentProblem::TooLarge),
            (
                b"\xFF\xD8\xFF\xE0 not really".to_vec(),
                DocumentProblem::Unreadable,
            ),
        ];
        for (bytes, expected) in cases {
            let refused = block(attach_in(
                &vault,
                input(&stefan, "Document", "other"),
                BASE64.encode(&bytes),
            ));
            assert!(
                matches!(&refused, Err(AppError::BadDocument { problem, .. }) if *problem == expected),
                "expected {expected:?}: {refused:?}"
            );
        }
        let untitled = block(attach_in(&vault, input(&stefan, "  ", "other"), png(8, 8)));
        assert!(
            matches!(&untitled, Err(AppError::Invalid { field, .. }) if field == "title"),
            "{untitled:?}"
        );
        let garbled = block(attach_in(
            &vault,
            input(&stefan, "Photo", "other"),
            "pas du base64!".into(),
        ));
        assert!(
            matches!(&garbled, Err(AppError::Invalid { field, .. }) if field == "bytes"),
            "{garbled:?}"
        );
        assert!(
            block(attachments_of_in(&vault, stefan)).unwrap().is_empty(),
            "nothing refused was kept"
        );
    }

    #[test]
    fn a_document_not_on_this_device_says_so_without_a_server() {
        let dir = tempfile::tempdir().unwrap();
        let vault = crate::state::open_test_vault(dir.path());
        let stefan = person(&vault);
        // An attachment another device added: its record came, its bytes did not.
        let other = "0193a1f0-0000-7000-8000-0000000000cd";
        let id = "0193a1f0-0000-7000-8000-0000000000e1";
        let at = "2026-11-02T10:14:00Z";
        let entry =
            |value: serde_json::Value| json!([{"dot": [other, 1], "at": at, "value": value}]);
        let record = json!({
            "id": id, "kind": "attachment", "vv": {other: 1},
            "fields": {
                "person_id": entry(json!(stefan)),
                "title": entry(json!("Carte d'identité")),
                "category": entry(json!("identity")),
                "media_type": entry(json!("image/jpeg")),
                "size": entry(json!(1234)),
                "sha256": entry(json!("ab".repeat(32))),
            }
        });
        block(vault.with(move |file| {
            let state = RecordState::from_value(&record).map_err(casefile::Error::from)?;
            file.apply_pulled(&[state], 1)?;
            Ok(())
        }))
        .unwrap();

        let listed = block(attachments_of_in(&vault, stefan)).unwrap();
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert!(!listed[0].held, "its bytes are not here");
        assert_eq!(
            block(thumbnail_in(&vault, id.to_owned())).unwrap(),
            None,
            "no thumbnail yet: the page shows a placeholder"
        );
        let exports = saving::opened_dir(vault.path());
        let opened = block(open_in(
            &vault,
            &SyncCancel::default(),
            id.to_owned(),
            exports,
        ));
        assert!(
            matches!(opened, Err(AppError::DocumentNotHere { .. })),
            "no server to fetch it from: {opened:?}"
        );
    }

    #[test]
    fn the_fetch_mode_is_kept_in_the_case_file() {
        let dir = tempfile::tempdir().unwrap();
        let vault = crate::state::open_test_vault(dir.path());
        let mode =
            || block(vault.with(|file| Ok(FetchModeView::from(file.fetch_mode()?)))).unwrap();
        assert_eq!(mode(), FetchModeView::All, "everything by default");
        block(vault.with(|file| Ok(file.set_fetch_mode(FetchModeView::OnDemand.into())?))).unwrap();
        assert_eq!(mode(), FetchModeView::OnDemand);
        assert_eq!(
            serde_json::to_value(FetchModeView::OnDemand).unwrap(),
            json!("on_demand"),
            "the UI speaks snake_case, as the case file does"
        );
    }

    #[test]
    fn a_fetch_that_cannot_reach_the_server_or_finds_nothing_says_why() {
        assert!(matches!(
            not_here(SyncError::NotEnrolled),
            AppError::DocumentNotHere { .. }
        ));
        assert!(matches!(
            not_here(SyncError::Unreachable {
                attempts: 6,
                reason: "x".into()
            }),
            AppError::DocumentNotHere { .. }
        ));
        assert!(matches!(
            not_here(SyncError::Refused {
                code: ErrorCode::NotFound,
                message: "x".into()
            }),
            AppError::DocumentNotOnServer { .. }
        ));
        assert!(matches!(
            not_here(SyncError::DeviceRevoked),
            AppError::DeviceRevoked { .. }
        ));
    }
}
