//! Documents and photos in a person's file: the `attachment` kind and its bytes
//! (SYNC-PROTOCOL.md §6b).
//!
//! ## The record and its bytes
//! An attachment is a record like any other (person, optional visit and step, title,
//! category, date taken, media type, size, SHA-256, file name), synced with the rest. Its
//! bytes are never a field value: they are kept in this case file by their SHA-256
//! (tables `blob` and `blob_chunk`, pieces of at most 1 MiB), so they are encrypted with
//! the case file's key like everything else, and two attachments of the same bytes keep
//! them once. [`CaseFile::attach`] is the one way to create an attachment: it stores the
//! bytes and the record in one transaction. An edit may change the description, never
//! the bytes (nor `sha256`, `size`, `media_type`).
//!
//! ## On entry
//! - A photo (JPEG, PNG or WebP) is turned upright by its EXIF orientation, reduced to at
//!   most [`MAX_PIXELS`] and written again as JPEG, which also drops its metadata (the
//!   place it was taken: a site's location). With `keep_original` it is kept byte for
//!   byte. A PDF is kept as it is. Any other file is refused, naming what is read.
//! - What is kept is at most [`MAX_BLOB_BYTES`] (20 MiB); a photo to reduce may be
//!   larger when given (up to [`MAX_INPUT_BYTES`]), and may hold at most 100 million
//!   pixels (a decompression bomb is refused before it is decoded).
//!
//! ## Sync: records first, bytes after
//! [`CaseFile::sync`] moves records only; [`CaseFile::sync_documents`] moves bytes, after
//! it, so a sync of records never waits for photos, and its progress is its own
//! ([`DocumentsProgress`], in bytes).
//! - **Up**: every whole document an attachment names that the server has not said it
//!   holds: `HEAD` says how much of it the server has (a cut upload resumes there), then
//!   `PUT` chunks of [`CHUNK_BYTES`]. A document the server refuses because no attachment
//!   of the organisation names it yet (its record is set aside, or not pushed) waits for a
//!   later sync. A full quota (507) stops the uploads and is the sync's error, after the
//!   downloads.
//! - **Down**: by [`FetchMode`], the setting of the case file: `All` (the default) fetches
//!   the documents of every attachment held that is not deleted; `OnDemand` fetches one
//!   when it is opened ([`CaseFile::fetch_attachment`]). Ranged `GET`s of
//!   [`CHUNK_BYTES`], each piece committed as it comes, so a cut download resumes where
//!   it stopped; the hash is checked before a document counts as held (a mismatch
//!   discards it).
//! - After a server restore (a new epoch), every document is asked about again, since the
//!   restored server may lack some.
//!
//! ## Deletion and erasure
//! A deleted attachment keeps its bytes (it may be restored). When no attachment that
//! this case file holds names a document any more (the record was erased, or the person
//! it was about), its bytes and thumbnail go, in the same transaction; `secure_delete`
//! zeroes the freed pages.
//!
//! ## Thumbnails
//! [`CaseFile::attachment_thumbnail`] makes a JPEG of at most [`THUMBNAIL_SIDE`] pixels a
//! side when a photo is first shown, and keeps it (encrypted, with the rest).

use std::io::Cursor;
use std::sync::atomic::{AtomicBool, Ordering};

use image::{DynamicImage, ImageDecoder, ImageReader, Limits};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, RANGE};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sync_protocol::blobs::{BLOB_LENGTH, CHUNK_BYTES, MAX_BLOB_BYTES};
use sync_protocol::wire::ErrorCode;
use sync_protocol::{RecordId, RecordState};
use tracing::{info, info_span, warn};

use crate::check::{self, Mode};
use crate::client::{Http, SyncError, SyncOptions};
use crate::error::{Error, Result};
use crate::records::{load, new_id, now, save};
use crate::store::CaseFile;

pub use sync_protocol::blobs::ATTACHMENT_KIND;

/// The most pixels a photo keeps once reduced: 2 megapixels.
pub const MAX_PIXELS: u64 = 2_000_000;
/// The largest photo taken in to be reduced (what is kept is at most 20 MiB).
pub const MAX_INPUT_BYTES: usize = 64 * 1024 * 1024;
/// The longest side of a thumbnail, in pixels.
pub const THUMBNAIL_SIDE: u32 = 320;
/// The JPEG quality of a reduced photo.
const JPEG_QUALITY: u8 = 85;
/// The JPEG quality of a thumbnail.
const THUMBNAIL_QUALITY: u8 = 75;
/// The size of the pieces a document is kept in.
const PIECE: usize = 1024 * 1024;
/// The case file's setting that says which documents a sync fetches.
const SETTING_FETCH: &str = "documents.fetch";

/// A new document for [`CaseFile::attach`]: what describes it. `category` is one of
/// [`crate::kinds::AttachmentCategory`]'s values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAttachment {
    /// The person whose file holds it.
    pub person_id: Option<RecordId>,
    /// The visit it was taken at, if any.
    pub visit_id: Option<RecordId>,
    /// The step it belongs to, if any.
    pub step_id: Option<RecordId>,
    /// Its title ("Carte d'identité", "Fiche de paie de mars").
    pub title: String,
    /// What it is (`identity`, `cv`, `france_travail`, `payslip`, `training`, `housing`,
    /// `health`, `other`).
    pub category: String,
    /// The day it was taken or received, `YYYY-MM-DD`.
    pub taken_on: Option<String>,
    /// The file's name as given, if any (the export names the file after it).
    pub file_name: Option<String>,
    /// Whether a photo is kept as given rather than reduced.
    pub keep_original: bool,
}

/// An attachment as lists and screens show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attachment {
    /// Its record's id.
    pub id: RecordId,
    /// The person whose file holds it (as its record names them).
    pub person_id: Option<RecordId>,
    /// The visit it was taken at.
    pub visit_id: Option<RecordId>,
    /// The step it belongs to.
    pub step_id: Option<RecordId>,
    /// Its title.
    pub title: String,
    /// What it is.
    pub category: String,
    /// The day it was taken or received.
    pub taken_on: Option<String>,
    /// `image/jpeg`, `image/png`, `image/webp` or `application/pdf`.
    pub media_type: String,
    /// Its length in bytes.
    pub size: u64,
    /// The SHA-256 of its bytes.
    pub sha256: String,
    /// The file's name as given.
    pub file_name: Option<String>,
    /// Whether its bytes are in this case file (else they are fetched when opened).
    pub held: bool,
    /// Whether the server has said it holds the bytes.
    pub uploaded: bool,
    /// Whether it is deleted (its bytes are kept until it is erased).
    pub deleted: bool,
    /// When it was added (its first edit's time).
    pub added_at: String,
}

impl Attachment {
    /// Whether it is a photo (shown as a picture and a thumbnail).
    pub fn is_image(&self) -> bool {
        self.media_type.starts_with("image/")
    }
}

/// Which documents a sync fetches (a setting of the case file).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FetchMode {
    /// Every document of every attachment held that is not deleted.
    #[default]
    All,
    /// Only those opened on this device.
    OnDemand,
}

/// Progress of [`CaseFile::sync_documents`], in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DocumentsProgress {
    /// Bytes sent so far.
    pub sent: u64,
    /// Bytes to send in this sync (what the server lacked when asked).
    pub to_send: u64,
    /// Bytes received so far.
    pub received: u64,
    /// Bytes to receive in this sync.
    pub to_receive: u64,
}

/// What [`CaseFile::sync_documents`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DocumentsReport {
    /// Documents the server now holds that it lacked.
    pub sent: u64,
    /// Documents now held whole here that were not.
    pub received: u64,
    /// Documents still waiting: to send (the server refused them for now) or to fetch
    /// (not yet on the server, or left for later by the fetch setting).
    pub waiting: u64,
}

/// What is waiting, for the sync screen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DocumentsStatus {
    /// Documents to send.
    pub to_send: u64,
    /// Their bytes.
    pub to_send_bytes: u64,
    /// Documents to fetch by the fetch setting.
    pub to_fetch: u64,
    /// Their bytes.
    pub to_fetch_bytes: u64,
}

/// The documents of a person's access export ([`CaseFile::access_documents`]).
#[derive(Debug, Clone, Default)]
pub struct AccessDocuments {
    /// Each document held: a file name unique in the set (`01-identity-carte.jpg`) and
    /// its bytes.
    pub files: Vec<(String, Vec<u8>)>,
    /// Attachments whose bytes could not be had (not on this device, and not fetched).
    pub missing: Vec<RecordId>,
}

/// Why a file given to [`CaseFile::attach`] cannot be kept ([`Error::Document`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentProblem {
    /// Neither a JPEG, PNG or WebP photo nor a PDF.
    #[error("it is neither a photo (JPEG, PNG or WebP) nor a PDF")]
    NotPhotoOrPdf,
    /// A HEIC photo (an iPhone's default), which is not read.
    #[error(
        "HEIC photos are not read: set the camera to JPEG (\"most compatible\") or send the \
         photo as JPEG"
    )]
    Heic,
    /// Larger than what is kept (20 MiB), or than a photo to reduce may be (64 MiB).
    #[error(
        "it is {:.1} MiB, more than the 20 MiB a document may be{}",
        *bytes as f64 / (1024.0 * 1024.0),
        if *reducible { "; without \"keep the original\" a photo is reduced" } else { "" }
    )]
    TooLarge {
        /// The file's length.
        bytes: u64,
        /// Whether reducing the photo (not keeping the original) would make it fit.
        reducible: bool,
    },
    /// A photo of more than 100 million pixels.
    #[error("the photo has more than 100 million pixels")]
    TooManyPixels,
    /// A photo that could not be decoded (damaged, or not what its first bytes say).
    #[error("the photo could not be read ({0})")]
    Unreadable(String),
}

/// Bytes as kept: the bytes to keep and their media type.
#[derive(Debug)]
struct Prepared {
    bytes: Vec<u8>,
    media_type: &'static str,
}

/// The media type of `bytes` by their first bytes, among those taken in.
fn sniff(bytes: &[u8]) -> Result<&'static str> {
    if bytes.starts_with(b"%PDF-") {
        Ok("application/pdf")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Ok("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Ok("image/png")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Ok("image/webp")
    } else if bytes.len() >= 12
        && &bytes[4..8] == b"ftyp"
        && matches!(&bytes[8..12], b"heic" | b"heix" | b"mif1" | b"msf1")
    {
        Err(Error::Document(DocumentProblem::Heic))
    } else {
        Err(Error::Document(DocumentProblem::NotPhotoOrPdf))
    }
}

/// Limits of a decoded photo: 100 million pixels, 1 GiB of memory.
fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(20_000);
    limits.max_image_height = Some(20_000);
    limits.max_alloc = Some(1024 * 1024 * 1024);
    limits
}

fn unreadable(e: &impl std::fmt::Display) -> Error {
    Error::Document(DocumentProblem::Unreadable(e.to_string()))
}

/// Decodes a photo upright (its EXIF orientation applied).
fn decode(bytes: &[u8]) -> Result<DynamicImage> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| unreadable(&e))?;
    reader.limits(limits());
    let mut decoder = reader.into_decoder().map_err(|e| unreadable(&e))?;
    let (w, h) = decoder.dimensions();
    if u64::from(w) * u64::from(h) > 100_000_000 {
        return Err(Error::Document(DocumentProblem::TooManyPixels));
    }
    let orientation = decoder.orientation().map_err(|e| unreadable(&e))?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(|e| unreadable(&e))?;
    image.apply_orientation(orientation);
    Ok(image)
}

/// `image` as JPEG of `quality`, made RGB (transparency goes to white).
fn to_jpeg(image: &DynamicImage, quality: u8) -> Result<Vec<u8>> {
    let rgb = if image.color().has_alpha() {
        let rgba = image.to_rgba8();
        let mut rgb = image::RgbImage::new(rgba.width(), rgba.height());
        for (out, px) in rgb.pixels_mut().zip(rgba.pixels()) {
            let a = u16::from(px[3]);
            let blend = |c: u8| ((u16::from(c) * a + 255 * (255 - a)) / 255) as u8;
            *out = image::Rgb([blend(px[0]), blend(px[1]), blend(px[2])]);
        }
        rgb
    } else {
        image.to_rgb8()
    };
    let mut out = Vec::new();
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality);
    rgb.write_with_encoder(encoder)
        .map_err(|e| Error::Export(format!("a photo could not be written as JPEG: {e}")))?;
    Ok(out)
}

/// What is kept of `bytes`: see the module's docs.
fn prepare(bytes: &[u8], keep_original: bool) -> Result<Prepared> {
    let media_type = sniff(bytes)?;
    let too_large = |len: usize| {
        Error::Document(DocumentProblem::TooLarge {
            bytes: len as u64,
            reducible: media_type.starts_with("image/") && keep_original,
        })
    };
    let keep_as_is = keep_original || media_type == "application/pdf";
    if keep_as_is {
        if bytes.len() as u64 > MAX_BLOB_BYTES {
            return Err(too_large(bytes.len()));
        }
        if media_type.starts_with("image/") {
            // Kept as given, but it must be a photo that can be shown.
            decode(bytes)?;
        }
        return Ok(Prepared {
            bytes: bytes.to_vec(),
            media_type,
        });
    }
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(too_large(bytes.len()));
    }
    let image = decode(bytes)?;
    let pixels = u64::from(image.width()) * u64::from(image.height());
    let image = if pixels > MAX_PIXELS {
        let scale = (MAX_PIXELS as f64 / pixels as f64).sqrt();
        let w = ((f64::from(image.width()) * scale).floor() as u32).max(1);
        let h = ((f64::from(image.height()) * scale).floor() as u32).max(1);
        image.resize_exact(w, h, image::imageops::FilterType::Triangle)
    } else {
        image
    };
    let jpeg = to_jpeg(&image, JPEG_QUALITY)?;
    if jpeg.len() as u64 > MAX_BLOB_BYTES {
        return Err(too_large(jpeg.len()));
    }
    Ok(Prepared {
        bytes: jpeg,
        media_type: "image/jpeg",
    })
}

/// The SHA-256 of `bytes`, as the protocol writes it.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(digest: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(digest.len() * 2);
    for b in digest {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Keeps `bytes` whole under `sha256` (their digest), within the caller's transaction.
fn keep_whole(conn: &Connection, sha256: &str, bytes: &[u8], uploaded: bool) -> Result<()> {
    let held: Option<bool> = conn
        .prepare_cached("SELECT whole FROM blob WHERE sha256 = ?1")?
        .query_row([sha256], |r| r.get(0))
        .optional()?;
    if held == Some(true) {
        return Ok(());
    }
    conn.prepare_cached("DELETE FROM blob_chunk WHERE sha256 = ?1")?
        .execute([sha256])?;
    let mut insert =
        conn.prepare_cached("INSERT INTO blob_chunk (sha256, start, data) VALUES (?1, ?2, ?3)")?;
    for (i, piece) in bytes.chunks(PIECE).enumerate() {
        insert.execute(params![sha256, (i * PIECE) as i64, piece])?;
    }
    conn.prepare_cached(
        "INSERT INTO blob (sha256, size, received, whole, uploaded) VALUES (?1, ?2, ?2, 1, ?3)
         ON CONFLICT (sha256) DO UPDATE SET size = excluded.size,
           received = excluded.received, whole = 1, uploaded = excluded.uploaded",
    )?
    .execute(params![sha256, bytes.len() as i64, uploaded])?;
    Ok(())
}

/// The bytes of `sha256`, when this case file holds them whole.
fn read_whole(conn: &Connection, sha256: &str) -> Result<Option<Vec<u8>>> {
    let size: Option<i64> = conn
        .prepare_cached("SELECT size FROM blob WHERE sha256 = ?1 AND whole = 1")?
        .query_row([sha256], |r| r.get(0))
        .optional()?;
    let Some(size) = size else {
        return Ok(None);
    };
    read_pieces(conn, sha256, usize::try_from(size).unwrap_or(0)).map(Some)
}

/// Every piece of `sha256` held, in order.
fn read_pieces(conn: &Connection, sha256: &str, capacity: usize) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(capacity);
    let mut stmt =
        conn.prepare_cached("SELECT data FROM blob_chunk WHERE sha256 = ?1 ORDER BY start")?;
    let mut rows = stmt.query([sha256])?;
    while let Some(row) = rows.next()? {
        let piece = row.get_ref(0)?.as_blob().map_err(rusqlite::Error::from)?;
        out.extend_from_slice(piece);
    }
    Ok(out)
}

/// Deletes, within the caller's transaction, the part of `sha256` a download kept; never
/// a whole document (made whole meanwhile by the other handle, or attached here).
fn drop_part(conn: &Connection, sha256: &str) -> Result<()> {
    conn.prepare_cached(
        "DELETE FROM blob_chunk WHERE sha256 = ?1
         AND NOT EXISTS (SELECT 1 FROM blob WHERE sha256 = ?1 AND whole = 1)",
    )?
    .execute([sha256])?;
    conn.prepare_cached("DELETE FROM blob WHERE sha256 = ?1 AND whole = 0")?
        .execute([sha256])?;
    Ok(())
}

/// What became of a piece received.
enum Kept {
    /// Kept.
    Piece,
    /// Not kept: no attachment names the document any more.
    Unnamed,
    /// Not kept: the document is here whole already.
    Whole,
}

/// Whether the pieces held of `sha256` are `size` bytes end to end: each starts where
/// the one before ends, from 0, with no gap and no overlap.
fn pieces_are_whole(conn: &Connection, sha256: &str, size: u64) -> Result<bool> {
    let (misplaced, total): (i64, i64) = conn
        .prepare_cached(
            "SELECT coalesce(sum(start != expected), 0), coalesce(sum(n), 0) FROM (
               SELECT start, length(data) AS n,
                      coalesce(sum(length(data)) OVER (ORDER BY start
                        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS expected
               FROM blob_chunk WHERE sha256 = ?1)",
        )?
        .query_row([sha256], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(misplaced == 0 && u64::try_from(total).ok() == Some(size))
}

/// The digests that an attachment held here names (any entry of `sha256`), erased ones
/// aside: deleted attachments still name theirs.
const NAMED: &str = "SELECT json_extract(e.value, '$.value')
     FROM records r, json_each(r.state, '$.fields.sha256') e
     WHERE r.kind = 'attachment' AND r.erased = 0
       AND json_extract(e.value, '$.value') IS NOT NULL";

/// Deletes, within the caller's transaction, the bytes and thumbnails of every document
/// no attachment held names any more. Answers how many documents went. (`NAMED` leaves
/// out null values: one null in a `NOT IN` list would keep every document.)
pub(crate) fn forget_unnamed(conn: &Connection) -> Result<usize> {
    let gone = conn.execute(
        &format!("DELETE FROM blob WHERE sha256 NOT IN ({NAMED})"),
        [],
    )?;
    // Every piece and thumbnail kept has its `blob` row: those left without one go.
    conn.execute(
        "DELETE FROM blob_chunk WHERE sha256 NOT IN (SELECT sha256 FROM blob)",
        [],
    )?;
    conn.execute(
        "DELETE FROM thumbnail WHERE sha256 NOT IN (SELECT sha256 FROM blob)",
        [],
    )?;
    Ok(gone)
}

/// Makes every document be asked about again at the next sync (the server was restored).
pub(crate) fn ask_again(conn: &Connection) -> Result<()> {
    conn.execute("UPDATE blob SET uploaded = 0", [])?;
    Ok(())
}

/// The text of a field's shown value.
fn text(state: &RecordState, field: &str) -> Option<String> {
    crate::derive::shown(state.entries(field))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn id_of(state: &RecordState, field: &str) -> Option<RecordId> {
    text(state, field).and_then(|t| t.parse().ok())
}

/// Reads an attachment record as shown.
fn read(conn: &Connection, state: &RecordState) -> Result<Attachment> {
    let sha256 = text(state, "sha256").unwrap_or_default();
    let (held, uploaded): (bool, bool) = conn
        .prepare_cached("SELECT whole, uploaded FROM blob WHERE sha256 = ?1")?
        .query_row([&sha256], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .unwrap_or((false, false));
    let added_at = state
        .fields()
        .flat_map(|(_, entries)| entries)
        .map(|e| e.at.as_str().to_owned())
        .min()
        .unwrap_or_default();
    Ok(Attachment {
        id: state.id(),
        person_id: id_of(state, "person_id"),
        visit_id: id_of(state, "visit_id"),
        step_id: id_of(state, "step_id"),
        title: text(state, "title").unwrap_or_default(),
        category: text(state, "category").unwrap_or_else(|| "other".into()),
        taken_on: text(state, "taken_on"),
        media_type: text(state, "media_type").unwrap_or_default(),
        size: crate::derive::shown(state.entries("size"))
            .and_then(Value::as_u64)
            .unwrap_or(0),
        sha256,
        file_name: text(state, "file_name"),
        held,
        uploaded,
        deleted: state.is_deleted(),
        added_at,
    })
}

impl CaseFile {
    /// Adds a document or photo to a person's file: the bytes as kept (see the module's
    /// docs) and the attachment record, in one transaction (one local edit). Answers the
    /// attachment's id.
    ///
    /// Errors: [`Error::Document`] saying why the file cannot be kept (not a photo or PDF,
    /// too large, unreadable), or [`Error::Invalid`] naming the first field that does not
    /// fit (`person_id` must name a person).
    pub fn attach(&mut self, new: &NewAttachment, bytes: &[u8]) -> Result<RecordId> {
        let _span = info_span!("casefile.attach").entered();
        let person = new
            .person_id
            .ok_or_else(|| Error::invalid("person_id", "the id of a person"))?;
        let prepared = prepare(bytes, new.keep_original)?;
        let sha256 = sha256_hex(&prepared.bytes);
        let mut fields: Vec<(String, Value)> = vec![
            ("person_id".into(), json!(person.to_string())),
            ("title".into(), json!(new.title.trim())),
            ("category".into(), json!(new.category)),
            ("media_type".into(), json!(prepared.media_type)),
            ("size".into(), json!(prepared.bytes.len() as u64)),
            ("sha256".into(), json!(sha256)),
        ];
        if new.title.trim().is_empty() {
            return Err(Error::invalid("title", "a title: say what the document is"));
        }
        for (name, value) in [
            ("visit_id", new.visit_id.map(|v| v.to_string())),
            ("step_id", new.step_id.map(|v| v.to_string())),
            ("taken_on", new.taken_on.clone()),
            ("file_name", new.file_name.clone()),
        ] {
            if let Some(value) = value.filter(|v| !v.trim().is_empty()) {
                fields.push((name.into(), json!(value)));
            }
        }
        let replica = self.replica_id();
        let id = self.write(|tx| {
            let person = crate::duplicates::survivor(tx, person)?;
            if let Some((_, value)) = fields.iter_mut().find(|(n, _)| n == "person_id") {
                *value = json!(person.to_string());
            }
            let spec = check::known_kind(ATTACHMENT_KIND)?;
            let fields = check::changes(tx, spec, fields, Mode::Attach, None)?;
            let id = new_id()?;
            let kind = ATTACHMENT_KIND
                .parse()
                .map_err(|_| Error::invalid("kind", "a known kind"))?;
            let state = RecordState::create(id, kind, replica, now(), fields)?;
            keep_whole(tx, &sha256, &prepared.bytes, false)?;
            save(tx, &state, true, true)?;
            Ok(id)
        })?;
        info!(bytes = prepared.bytes.len(), "attached a document");
        Ok(id)
    }

    /// The attachment `id`.
    ///
    /// Errors: [`Error::NotFound`], [`Error::Invalid`] when `id` is not an attachment.
    pub fn attachment(&self, id: RecordId) -> Result<Attachment> {
        let state = load(&self.conn, id)?.ok_or(Error::NotFound(id))?;
        if state.kind().as_str() != ATTACHMENT_KIND {
            return Err(Error::invalid("id", "the id of an attachment"));
        }
        read(&self.conn, &state)
    }

    /// The attachments of a person's file that are not deleted, with those of the files
    /// merged into it, the most recently taken first.
    pub fn attachments_of(&self, person: RecordId) -> Result<Vec<Attachment>> {
        let person = crate::duplicates::survivor(&self.conn, person)?;
        let ids: Vec<String> = {
            let mut stmt = self.conn.prepare_cached(
                "SELECT id FROM attachment WHERE person_id IN
                   (SELECT ?1 UNION ALL SELECT id FROM person_survivor WHERE survivor = ?1)
                 ORDER BY coalesce(taken_on, '') DESC, id DESC",
            )?;
            stmt.query_map([person.to_string()], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?
        };
        crate::records::load_many(&self.conn, &ids)?
            .iter()
            .map(|state| read(&self.conn, state))
            .collect()
    }

    /// The bytes of attachment `id`, when this case file holds them (else `None`: see
    /// [`CaseFile::fetch_attachment`]).
    pub fn attachment_bytes(&self, id: RecordId) -> Result<Option<Vec<u8>>> {
        let attachment = self.attachment(id)?;
        read_whole(&self.conn, &attachment.sha256)
    }

    /// A thumbnail of a photo's attachment (JPEG, at most [`THUMBNAIL_SIDE`] a side),
    /// made and kept when first asked; `None` for a PDF or a photo not held here.
    pub fn attachment_thumbnail(&mut self, id: RecordId) -> Result<Option<Vec<u8>>> {
        let attachment = self.attachment(id)?;
        if !attachment.is_image() {
            return Ok(None);
        }
        let kept: Option<Vec<u8>> = self
            .conn
            .prepare_cached("SELECT jpeg FROM thumbnail WHERE sha256 = ?1")?
            .query_row([&attachment.sha256], |r| r.get(0))
            .optional()?;
        if kept.is_some() {
            return Ok(kept);
        }
        let Some(bytes) = read_whole(&self.conn, &attachment.sha256)? else {
            return Ok(None);
        };
        let image = decode(&bytes)?.thumbnail(THUMBNAIL_SIDE, THUMBNAIL_SIDE);
        let jpeg = to_jpeg(&image, THUMBNAIL_QUALITY)?;
        let sha256 = attachment.sha256.clone();
        let stored = jpeg.clone();
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO thumbnail (sha256, jpeg)
                 SELECT ?1, ?2 WHERE EXISTS (SELECT 1 FROM blob WHERE sha256 = ?1)",
            )?
            .execute(params![sha256, stored])?;
            Ok(())
        })?;
        Ok(Some(jpeg))
    }

    /// The documents of every attachment of a person's file (deleted ones included, as
    /// the access export holds deleted records; merged files included), for an access
    /// export: those not on this device are fetched first when this device is enrolled
    /// (`cancel` stops that); those that cannot be had are named in
    /// [`AccessDocuments::missing`].
    pub fn access_documents(
        &mut self,
        person: RecordId,
        cancel: &AtomicBool,
    ) -> Result<AccessDocuments> {
        let person = crate::duplicates::survivor(&self.conn, person)?;
        let ids: Vec<String> = {
            let mut stmt = self.conn.prepare_cached(
                "SELECT DISTINCT r.id FROM records r, json_each(r.state, '$.fields.person_id') e
                 WHERE r.kind = 'attachment' AND r.erased = 0
                   AND json_extract(e.value, '$.value') IN
                     (SELECT ?1 UNION ALL SELECT id FROM person_survivor WHERE survivor = ?1)
                 ORDER BY r.id",
            )?;
            stmt.query_map([person.to_string()], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?
        };
        let enrolled = self.setting(crate::client::SETTING_TOKEN)?.is_some();
        let mut out = AccessDocuments::default();
        for (n, state) in crate::records::load_many(&self.conn, &ids)?
            .iter()
            .enumerate()
        {
            let attachment = read(&self.conn, state)?;
            let bytes = match read_whole(&self.conn, &attachment.sha256)? {
                Some(bytes) => Some(bytes),
                None if enrolled && !cancel.load(Ordering::SeqCst) => {
                    match self.fetch_attachment(attachment.id, cancel) {
                        Ok(bytes) => Some(bytes),
                        Err(error) => {
                            warn!(%error, "a document of an access export could not be fetched");
                            None
                        }
                    }
                }
                None => None,
            };
            match bytes {
                Some(bytes) => out.files.push((file_name(n + 1, &attachment), bytes)),
                None => out.missing.push(attachment.id),
            }
        }
        Ok(out)
    }

    /// Which documents a sync fetches.
    pub fn fetch_mode(&self) -> Result<FetchMode> {
        Ok(match self.setting(SETTING_FETCH)?.as_deref() {
            Some("on_demand") => FetchMode::OnDemand,
            _ => FetchMode::All,
        })
    }

    /// Sets which documents a sync fetches.
    pub fn set_fetch_mode(&mut self, mode: FetchMode) -> Result<()> {
        self.set_setting(
            SETTING_FETCH,
            match mode {
                FetchMode::All => "all",
                FetchMode::OnDemand => "on_demand",
            },
        )
    }

    /// What waits to be sent and, by the fetch setting, to be fetched.
    pub fn documents_status(&self) -> Result<DocumentsStatus> {
        let (to_send, to_send_bytes) = self.conn.query_row(
            &format!(
                "SELECT count(*), coalesce(sum(size), 0) FROM blob
                 WHERE whole = 1 AND uploaded = 0 AND sha256 IN ({NAMED})"
            ),
            [],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
        )?;
        let (to_fetch, to_fetch_bytes) = if self.fetch_mode()? == FetchMode::All {
            let wanted = wanted(&self.conn)?;
            (
                wanted.len() as i64,
                wanted.iter().map(|(_, size)| *size as i64).sum(),
            )
        } else {
            (0, 0)
        };
        Ok(DocumentsStatus {
            to_send: to_send.max(0) as u64,
            to_send_bytes: to_send_bytes.max(0) as u64,
            to_fetch: to_fetch.max(0) as u64,
            to_fetch_bytes: to_fetch_bytes.max(0) as u64,
        })
    }

    /// The bytes of attachment `id`: those held, else fetched from the server first (and
    /// kept).
    ///
    /// Errors: [`SyncError::NotEnrolled`], transport errors, and
    /// [`SyncError::Refused`] `not_found` when the server does not hold them yet (the
    /// device that attached them has not synced since).
    pub fn fetch_attachment(
        &mut self,
        id: RecordId,
        cancel: &AtomicBool,
    ) -> Result<Vec<u8>, SyncError> {
        let attachment = self.attachment(id)?;
        if let Some(bytes) = read_whole(&self.conn, &attachment.sha256)? {
            return Ok(bytes);
        }
        // A person waits for it: two tries, not a sync's six, before saying it is
        // unreachable.
        let options = SyncOptions {
            attempts: 2,
            ..SyncOptions::default()
        };
        let http = self.enrolled_http(options, cancel)?;
        let mut progress = DocumentsProgress {
            to_receive: attachment.size,
            ..DocumentsProgress::default()
        };
        match self.download(
            &http,
            &attachment.sha256,
            attachment.size,
            &mut progress,
            &mut |_| {},
        )? {
            Fetched::Whole => {}
            Fetched::Unnamed => {
                return Err(SyncError::Refused {
                    code: ErrorCode::NotFound,
                    message: "this document was deleted meanwhile".into(),
                });
            }
            Fetched::NotThere => {
                return Err(SyncError::Refused {
                    code: ErrorCode::NotFound,
                    message: "the server does not have this document yet: the device that \
                              added it has not synced since"
                        .into(),
                });
            }
        }
        read_whole(&self.conn, &attachment.sha256)?
            .ok_or_else(|| SyncError::BadAnswer("a fetched document was not kept".into()))
    }

    /// Sends the documents the server lacks, then fetches those the fetch setting asks
    /// for (see the module's docs), with the default options.
    pub fn sync_documents(
        &mut self,
        progress: &mut dyn FnMut(DocumentsProgress),
        cancel: &AtomicBool,
    ) -> Result<DocumentsReport, SyncError> {
        self.sync_documents_with(SyncOptions::default(), progress, cancel)
    }

    /// [`CaseFile::sync_documents`] with `options`. A document cut off resumes at the next
    /// sync where it stopped; a cancel stops within 50 ms, keeping what was committed.
    ///
    /// Errors: [`SyncError::NotEnrolled`], the transport's and the server's (a full quota
    /// is [`SyncError::Refused`] `quota_full`, answered after the downloads).
    pub fn sync_documents_with(
        &mut self,
        options: SyncOptions,
        progress: &mut dyn FnMut(DocumentsProgress),
        cancel: &AtomicBool,
    ) -> Result<DocumentsReport, SyncError> {
        let _span = info_span!("casefile.sync_documents").entered();
        let http = self.enrolled_http(options, cancel)?;
        let mut report = DocumentsReport::default();
        let to_send: Vec<(String, u64)> = {
            let mut stmt = self.conn.prepare(&format!(
                "SELECT sha256, size FROM blob
                 WHERE whole = 1 AND uploaded = 0 AND sha256 IN ({NAMED}) ORDER BY sha256"
            ))?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)?.max(0) as u64)))?
                .collect::<rusqlite::Result<_>>()?
        };
        let to_receive = if self.fetch_mode()? == FetchMode::All {
            wanted(&self.conn)?
        } else {
            Vec::new()
        };
        let mut state = DocumentsProgress {
            to_send: to_send.iter().map(|(_, size)| size).sum(),
            to_receive: to_receive.iter().map(|(_, size)| size).sum(),
            ..DocumentsProgress::default()
        };
        progress(state);
        let mut quota_full = None;
        for (sha256, size) in &to_send {
            check_cancel(cancel)?;
            match self.upload(&http, sha256, *size, &mut state, progress)? {
                Sent::Whole => report.sent += 1,
                Sent::Unnamed => report.waiting += 1,
                Sent::QuotaFull(message) => {
                    report.waiting += 1;
                    quota_full = Some(message);
                    break;
                }
            }
        }
        for (sha256, size) in &to_receive {
            check_cancel(cancel)?;
            match self.download(&http, sha256, *size, &mut state, progress)? {
                Fetched::Whole => report.received += 1,
                Fetched::NotThere => report.waiting += 1,
                Fetched::Unnamed => {}
            }
        }
        info!(
            sent = report.sent,
            received = report.received,
            waiting = report.waiting,
            "documents synced"
        );
        if let Some(message) = quota_full {
            return Err(SyncError::Refused {
                code: ErrorCode::QuotaFull,
                message,
            });
        }
        Ok(report)
    }

    /// Sends one document from where the server's part of it ends.
    fn upload(
        &mut self,
        http: &Http,
        sha256: &str,
        size: u64,
        state: &mut DocumentsProgress,
        progress: &mut dyn FnMut(DocumentsProgress),
    ) -> Result<Sent, SyncError> {
        let Some(bytes) = read_whole(&self.conn, sha256)? else {
            return Ok(Sent::Unnamed);
        };
        let url = http.url(&format!("/v1/blobs/{sha256}"));
        let counted_from = state.sent;
        let mut rewinds = 0;
        let mut offset = match head(http, &url)? {
            Held::Whole => {
                self.mark_uploaded(sha256)?;
                state.sent = counted_from + size;
                progress(*state);
                return Ok(Sent::Whole);
            }
            Held::Part(n) => n,
            Held::Nothing => 0,
        };
        loop {
            state.sent = counted_from + offset;
            progress(*state);
            if offset >= size {
                // The server's part is all of it: HEAD says whether it checked whole.
                if head(http, &url)? == Held::Whole {
                    self.mark_uploaded(sha256)?;
                    return Ok(Sent::Whole);
                }
                offset = 0;
            }
            let start = usize::try_from(offset)
                .unwrap_or(usize::MAX)
                .min(bytes.len());
            let end = (start + CHUNK_BYTES as usize).min(bytes.len());
            let chunk = bytes.get(start..end).unwrap_or_default().to_vec();
            let reply = http.send(|c| {
                c.put(format!("{url}?offset={offset}"))
                    .header(BLOB_LENGTH, size.to_string())
                    .header(CONTENT_TYPE, "application/octet-stream")
                    .body(chunk.clone())
            })?;
            match Http::answer::<Received>(reply)? {
                Ok(received) => {
                    if received.received <= offset {
                        return Err(SyncError::BadAnswer(
                            "the server took a document's chunk without moving on".into(),
                        ));
                    }
                    offset = received.received;
                    if offset >= size {
                        self.mark_uploaded(sha256)?;
                        state.sent = counted_from + size;
                        progress(*state);
                        return Ok(Sent::Whole);
                    }
                }
                Err(refusal) => match refusal.code() {
                    "wrong_offset" if rewinds < 3 => {
                        rewinds += 1;
                        offset = match head(http, &url)? {
                            Held::Whole => size,
                            Held::Part(n) => n,
                            Held::Nothing => 0,
                        };
                    }
                    "not_found" => {
                        info!("the server does not take this document yet: its record waits");
                        return Ok(Sent::Unnamed);
                    }
                    "quota_full" => return Ok(Sent::QuotaFull(refusal.message())),
                    "hash_mismatch" => {
                        warn!("the server found this document's bytes damaged: it waits");
                        return Ok(Sent::Unnamed);
                    }
                    _ => return Err(refusal.into_error()),
                },
            }
        }
    }

    fn mark_uploaded(&mut self, sha256: &str) -> Result<(), SyncError> {
        self.conn
            .prepare_cached("UPDATE blob SET uploaded = 1 WHERE sha256 = ?1")?
            .execute([sha256])?;
        Ok(())
    }

    /// Fetches one document from where this case file's part of it ends, each piece
    /// committed as it comes; checks its hash once whole.
    fn download(
        &mut self,
        http: &Http,
        sha256: &str,
        size: u64,
        state: &mut DocumentsProgress,
        progress: &mut dyn FnMut(DocumentsProgress),
    ) -> Result<Fetched, SyncError> {
        let url = http.url(&format!("/v1/blobs/{sha256}"));
        let counted_from = state.received;
        let mut offset: u64 = self
            .conn
            .prepare_cached("SELECT received FROM blob WHERE sha256 = ?1 AND whole = 0")?
            .query_row([sha256], |r| r.get::<_, i64>(0))
            .optional()?
            .map_or(0, |n| n.max(0) as u64);
        if offset > size {
            offset = 0;
        }
        // The hash is taken as the pieces come; a resumed download reads what it kept
        // once, rather than the whole document at the end.
        let mut hasher = Sha256::new();
        if offset > 0 {
            let kept = read_pieces(&self.conn, sha256, usize::try_from(offset).unwrap_or(0))?;
            hasher.update(
                kept.get(..kept.len().min(offset as usize))
                    .unwrap_or_default(),
            );
        }
        loop {
            state.received = counted_from + offset;
            progress(*state);
            if offset >= size {
                break;
            }
            let last = (offset + CHUNK_BYTES).min(size) - 1;
            let reply =
                http.send(|c| c.get(&url).header(RANGE, format!("bytes={offset}-{last}")))?;
            let status = reply.status();
            if status == StatusCode::NOT_FOUND {
                return Ok(Fetched::NotThere);
            }
            if status == StatusCode::RANGE_NOT_SATISFIABLE {
                if offset == 0 {
                    return Err(SyncError::BadAnswer(
                        "the server refused the first bytes of a document (416)".into(),
                    ));
                }
                // What is here is not the start of the server's document: start again.
                self.discard_part(sha256)?;
                offset = 0;
                hasher = Sha256::new();
                continue;
            }
            if !status.is_success() {
                return Err(Http::read::<Value>(reply).err().unwrap_or_else(|| {
                    SyncError::BadAnswer(format!("HTTP status {status} to a document's GET"))
                }));
            }
            let body = reply.into_body();
            // A server that ignores the range sends the whole document.
            let piece: &[u8] = if status == StatusCode::OK {
                body.get(usize::try_from(offset).unwrap_or(usize::MAX)..)
                    .unwrap_or_default()
            } else {
                &body
            };
            if piece.is_empty() || offset + piece.len() as u64 > size {
                self.discard_part(sha256)?;
                return Err(SyncError::BadAnswer(
                    "the server sent a document of another length than its record says".into(),
                ));
            }
            match self.keep_piece(sha256, size, offset, piece)? {
                Kept::Piece => {}
                Kept::Unnamed => return Ok(Fetched::Unnamed),
                // Made whole meanwhile by the other handle (a fetch, or the same file
                // attached): nothing more to fetch.
                Kept::Whole => return Ok(Fetched::Whole),
            }
            hasher.update(piece);
            offset += piece.len() as u64;
        }
        // Whole: check it before it counts.
        if hex(&hasher.finalize()) != sha256 {
            warn!("a fetched document does not have the hash its record names: discarded");
            self.discard_part(sha256)?;
            return Err(SyncError::BadAnswer(
                "a document received does not match its record (its hash differs): it was \
                 discarded; report it to your IT person"
                    .into(),
            ));
        }
        // The hash was taken of what came; what is stored is checked to be all of it, in
        // order, in the same transaction that makes it count: the other handle of the
        // case file may have fetched or dropped the same document meanwhile.
        let whole = self.write(|tx| {
            if !pieces_are_whole(tx, sha256, size)? {
                return Ok(false);
            }
            tx.prepare_cached("UPDATE blob SET whole = 1, uploaded = 1 WHERE sha256 = ?1")?
                .execute([sha256])?;
            Ok(true)
        })?;
        if !whole {
            warn!("a fetched document's pieces changed meanwhile: it will be fetched again");
            self.discard_part(sha256)?;
            return Ok(Fetched::NotThere);
        }
        Ok(Fetched::Whole)
    }

    /// Keeps a received piece in one transaction, as pieces of at most 1 MiB, if an
    /// attachment held still names the document: an erasure made by the other handle of
    /// the case file (see [`CaseFile::open_again`]) either commits first and nothing is
    /// kept (answers `false`, and the part kept before goes), or after, and takes it.
    fn keep_piece(
        &mut self,
        sha256: &str,
        size: u64,
        offset: u64,
        piece: &[u8],
    ) -> Result<Kept, SyncError> {
        Ok(self.write(|tx| {
            let whole: bool = tx
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM blob WHERE sha256 = ?1 AND whole = 1)",
                )?
                .query_row([sha256], |r| r.get(0))?;
            if whole {
                return Ok(Kept::Whole);
            }
            let named: bool = tx
                .prepare_cached(&format!("SELECT ?1 IN ({NAMED})"))?
                .query_row([sha256], |r| r.get(0))?;
            if !named {
                drop_part(tx, sha256)?;
                return Ok(Kept::Unnamed);
            }
            tx.prepare_cached(
                "INSERT INTO blob (sha256, size, received, whole, uploaded) VALUES (?1, ?2, 0, 0, 1)
                 ON CONFLICT (sha256) DO NOTHING",
            )?
            .execute(params![sha256, size as i64])?;
            let mut insert = tx.prepare_cached(
                "INSERT OR REPLACE INTO blob_chunk (sha256, start, data) VALUES (?1, ?2, ?3)",
            )?;
            for (i, part) in piece.chunks(PIECE).enumerate() {
                insert.execute(params![sha256, (offset as usize + i * PIECE) as i64, part])?;
            }
            tx.prepare_cached("UPDATE blob SET received = ?2 WHERE sha256 = ?1")?
                .execute(params![sha256, (offset + piece.len() as u64) as i64])?;
            Ok(Kept::Piece)
        })?)
    }

    fn discard_part(&mut self, sha256: &str) -> Result<(), SyncError> {
        self.write(|tx| drop_part(tx, sha256))?;
        Ok(())
    }
}

/// A file name for the `n`-th document of an export: its number, category and title,
/// kept to letters, digits and `-`, and the extension of its media type.
fn file_name(n: usize, attachment: &Attachment) -> String {
    let folded = crate::fold::fold(&attachment.title);
    let mut title = String::new();
    for c in folded.chars() {
        if c.is_ascii_alphanumeric() {
            title.push(c.to_ascii_lowercase());
        } else if !title.ends_with('-') && !title.is_empty() {
            title.push('-');
        }
        if title.len() >= 40 {
            break;
        }
    }
    let title = title.trim_end_matches('-');
    let extension = match attachment.media_type.as_str() {
        "application/pdf" => "pdf",
        "image/png" => "png",
        "image/webp" => "webp",
        _ => "jpg",
    };
    let category = &attachment.category;
    if title.is_empty() {
        format!("{n:02}-{category}.{extension}")
    } else {
        format!("{n:02}-{category}-{title}.{extension}")
    }
}

/// The documents to fetch: named by an attachment held that is not deleted, not held
/// whole here; with their sizes.
fn wanted(conn: &Connection) -> Result<Vec<(String, u64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT a.sha256, max(a.size) FROM attachment a
         WHERE a.sha256 IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM blob b WHERE b.sha256 = a.sha256 AND b.whole = 1)
         GROUP BY a.sha256 ORDER BY a.sha256",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, f64>(1)?.max(0.0) as u64))
    })?;
    Ok(rows
        .collect::<rusqlite::Result<Vec<_>>>()?
        .into_iter()
        .filter(|(sha256, size)| sync_protocol::blobs::is_sha256(sha256) && *size <= MAX_BLOB_BYTES)
        .collect())
}

fn check_cancel(cancel: &AtomicBool) -> Result<(), SyncError> {
    if cancel.load(Ordering::SeqCst) {
        Err(SyncError::Cancelled)
    } else {
        Ok(())
    }
}

/// `{"received": N}`: a `PUT`'s answer.
#[derive(Debug, Deserialize)]
struct Received {
    received: u64,
}

/// What the server holds of a document.
#[derive(Debug, PartialEq, Eq)]
enum Held {
    Whole,
    Part(u64),
    Nothing,
}

fn head(http: &Http, url: &str) -> Result<Held, SyncError> {
    let reply = http.send(|c| c.head(url))?;
    match reply.status().as_u16() {
        200 => Ok(Held::Whole),
        206 => Ok(Held::Part(reply.blob_received().unwrap_or(0))),
        404 => Ok(Held::Nothing),
        status => Err(Http::read::<Value>(reply).err().unwrap_or_else(|| {
            SyncError::BadAnswer(format!("HTTP status {status} to a document's HEAD"))
        })),
    }
}

/// How an upload ended.
enum Sent {
    Whole,
    /// The server takes it later (no attachment it holds names it yet).
    Unnamed,
    QuotaFull(String),
}

/// How a download ended.
enum Fetched {
    Whole,
    /// The server does not hold it (yet).
    NotThere,
    /// No attachment held names it any more (erased or deleted meanwhile, by the other
    /// handle of the case file): nothing of it was kept.
    Unnamed,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn photo(w: u32, h: u32) -> Vec<u8> {
        let image = image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x + y) % 239) as u8])
        });
        let mut out = Vec::new();
        image
            .write_with_encoder(image::codecs::png::PngEncoder::new(&mut out))
            .unwrap();
        out
    }

    #[test]
    fn a_large_photo_is_reduced_to_two_megapixels_as_jpeg() {
        let kept = prepare(&photo(2400, 1800), false).unwrap();
        assert_eq!(kept.media_type, "image/jpeg");
        let image = image::load_from_memory(&kept.bytes).unwrap();
        let pixels = u64::from(image.width()) * u64::from(image.height());
        assert!(
            pixels <= MAX_PIXELS && pixels > MAX_PIXELS * 9 / 10,
            "{pixels}"
        );
        assert_eq!(
            image.width() * 3,
            image.height() * 4,
            "the proportions stay"
        );
    }

    #[test]
    fn a_kept_original_and_a_pdf_stay_byte_for_byte() {
        let png = photo(2400, 1800);
        let kept = prepare(&png, true).unwrap();
        assert_eq!((kept.bytes, kept.media_type), (png, "image/png"));
        let pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n".to_vec();
        let kept = prepare(&pdf, false).unwrap();
        assert_eq!((kept.bytes, kept.media_type), (pdf, "application/pdf"));
    }

    #[test]
    fn other_files_and_oversized_ones_are_refused_by_name() {
        let err = prepare(b"PK\x03\x04 a docx", false).unwrap_err();
        assert!(
            matches!(err, Error::Document(DocumentProblem::NotPhotoOrPdf)),
            "{err}"
        );
        let heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic";
        assert!(
            prepare(heic, false)
                .unwrap_err()
                .to_string()
                .contains("HEIC")
        );
        let mut pdf = b"%PDF-1.7\n".to_vec();
        pdf.resize(MAX_BLOB_BYTES as usize + 1, b' ');
        let err = prepare(&pdf, false).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Document(DocumentProblem::TooLarge {
                    reducible: false,
                    ..
                })
            ),
            "{err}"
        );
        assert!(prepare(b"\xFF\xD8\xFF\xE0 not really", false).is_err());
    }

    /// Pieces count as a whole document only end to end: a gap, an overlap or a short
    /// total does not.
    #[test]
    fn pieces_count_as_whole_only_end_to_end() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE blob_chunk (sha256 TEXT, start INTEGER, data BLOB,
                                      PRIMARY KEY (sha256, start));",
        )
        .unwrap();
        let put = |digest: &str, start: i64, len: usize| {
            conn.execute(
                "INSERT INTO blob_chunk VALUES (?1, ?2, ?3)",
                params![digest, start, vec![7u8; len]],
            )
            .unwrap();
        };
        put("whole", 0, 4);
        put("whole", 4, 4);
        put("whole", 8, 2);
        put("gap", 0, 4);
        put("gap", 5, 5);
        put("overlap", 0, 4);
        put("overlap", 3, 7);
        put("late", 1, 9);
        put("short", 0, 4);
        put("short", 4, 4);
        assert!(pieces_are_whole(&conn, "whole", 10).unwrap());
        assert!(
            !pieces_are_whole(&conn, "whole", 11).unwrap(),
            "a short total"
        );
        for digest in ["gap", "overlap", "late", "short", "none"] {
            assert!(!pieces_are_whole(&conn, digest, 10).unwrap(), "{digest}");
        }
    }

    /// A case file holding one person with a small PDF attached: the attachment's id and
    /// the PDF's bytes.
    fn with_attached_pdf() -> (tempfile::TempDir, CaseFile, RecordId, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        let mut file = CaseFile::init_with(
            dir.path().join("t.casefile"),
            "une phrase secrète assez longue",
            crate::KdfParams::INSECURE_FOR_TESTS,
        )
        .unwrap();
        let person = file
            .create(
                "person",
                vec![("family_name".to_owned(), serde_json::json!("Rostas"))],
            )
            .unwrap();
        let pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n".to_vec();
        let id = file
            .attach(
                &NewAttachment {
                    person_id: Some(person),
                    title: "Attestation".into(),
                    category: "other".into(),
                    ..NewAttachment::default()
                },
                &pdf,
            )
            .unwrap();
        (dir, file, id, pdf)
    }

    /// A document made whole here (attached, or fetched by the other handle) is never
    /// dropped by a download that fails or comes late: its pieces are not written over.
    #[test]
    fn a_download_never_drops_a_document_held_whole() {
        let (_dir, mut file, id, pdf) = with_attached_pdf();
        let sha256 = file.attachment(id).unwrap().sha256;
        let size = pdf.len() as u64;
        assert!(matches!(
            file.keep_piece(&sha256, size, 0, b"other bytes").unwrap(),
            Kept::Whole
        ));
        file.discard_part(&sha256).unwrap();
        assert_eq!(file.attachment_bytes(id).unwrap(), Some(pdf));
    }

    /// A piece received for a document no attachment names any more (erased through
    /// the other handle meanwhile) is not kept, and the part kept before goes.
    #[test]
    fn a_piece_of_a_document_named_no_more_is_not_kept() {
        let (_dir, mut file, id, pdf) = with_attached_pdf();
        let sha256 = file.attachment(id).unwrap().sha256;
        // As on a device that has the record and not the bytes yet.
        file.conn
            .execute_batch("DELETE FROM blob_chunk; DELETE FROM blob;")
            .unwrap();
        let size = pdf.len() as u64;
        let chunks = |file: &CaseFile| -> i64 {
            file.conn
                .query_row("SELECT count(*) FROM blob_chunk", [], |r| r.get(0))
                .unwrap()
        };
        assert!(matches!(
            file.keep_piece(&sha256, size, 0, &pdf[..10]).unwrap(),
            Kept::Piece
        ));
        assert_eq!(chunks(&file), 1);
        crate::erasure::wipe(&file.conn, id).unwrap();
        assert!(matches!(
            file.keep_piece(&sha256, size, 10, &pdf[10..]).unwrap(),
            Kept::Unnamed
        ));
        assert_eq!(chunks(&file), 0, "nothing of it is kept");
        let blobs: i64 = file
            .conn
            .query_row("SELECT count(*) FROM blob", [], |r| r.get(0))
            .unwrap();
        assert_eq!(blobs, 0);
    }

    #[test]
    fn a_digest_is_lowercase_hex() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
