//! # casefile
//!
//! The device's case file, on top of `sync-protocol`: everything a counsellor's laptop
//! holds and does without a network.
//!
//! ## Storage
//! One SQLite file encrypted with SQLCipher ([`CaseFile`]), keyed by a raw 256-bit key
//! that Argon2id derives from the passphrase; the salt and Argon2 parameters live beside
//! it in `PATH.keyparams` (never the key). The schema is migrated by embedded, numbered
//! migrations; a file newer than the build is refused ([`Error::NewerFile`]). A new
//! passphrase has at least [`MIN_PASSPHRASE_CHARS`] characters and a zxcvbn score of 3
//! ([`Error::WeakPassphrase`], with why in French). After 5 wrong passphrases in a row,
//! opening waits, longer after each failure ([`UnlockBackoff`], [`Error::UnlockBackoff`]);
//! the count lives beside the file in `PATH.unlock`, shared by the app and the command
//! line. The cheap key derivation of tests (`KdfParams::INSECURE_FOR_TESTS`) exists only
//! with the `insecure-test-kdf` feature, which release builds never enable.
//!
//! ## Invariants
//! - The record state of SYNC-PROTOCOL.md §2 (table `records`) is the single source of
//!   truth. Typed tables per kind, the persons met in visits and the search terms are
//!   derived from it in the same transaction as every write, and [`CaseFile::rebuild`]
//!   recomputes them from it.
//! - Every local change (create, edit, delete, restore, resolve, and each record an
//!   eviction touches) is one edit, one dot, in one transaction, checked against the
//!   kind's [`schema`] first: a refused change changes nothing.
//! - No value of a record reaches a log or an error message: errors name fields and ids.
//! - Sync semantics (merge, validation, conflicts) are `sync-protocol`'s; this crate only
//!   calls them.
//!
//! ## Sync
//! [`CaseFile::sync`] pushes local changes and pulls the server's (SYNC-PROTOCOL.md §6).
//! No single record stops it: a record the server refuses, one too large to send, and a
//! pulled state that cannot be merged here are **set aside** with why
//! ([`CaseFile::set_aside`]), and the rest of the sync goes on; set-aside local records
//! are sent again at every sync. A local change over the size cap of one edit is refused
//! before it is stored ([`Error::TooLarge`]). A server restored from a backup, and a case
//! file restored from a copy, are handled by the sync itself (SYNC-PROTOCOL.md §6a): it
//! sends everything again, re-keying the case file first in the latter case.
//!
//! ## Exports
//! What the exports print, read as plain data for the `documents` crate to render: the
//! visit sheet and a person's sheet, a kind as a table (CSV), a period as a workbook
//! (XLSX), the indicators of a period, and a person's own data for an access request:
//! see [`CaseFile::visit_sheet`], [`CaseFile::table`], [`CaseFile::workbook`],
//! [`CaseFile::indicators`], [`CaseFile::access`] and the [`export`] module. They only
//! read; this crate writes no PDF or spreadsheet.
//!
//! ## A person's rights
//! The organisation's settings (one record with a well-known id: [`organisation`]) say
//! who keeps the files, why, for whom and how long; the information notice and the
//! access export are filled from them, and [`CaseFile::past_retention`] lists the files
//! kept longer than they say ([`retention`]). [`CaseFile::without_consent`] lists the
//! persons followed with no consent recorded.
//!
//! ## One person, one file
//! Names are compared by any spelling ([`names`]: diacritics and Cyrillic folded, a
//! phonetic key for Romanian and Bulgarian names); [`CaseFile::candidates`] answers the
//! persons who may be the one being entered, [`CaseFile::duplicates`] the possible
//! duplicates of the file, and [`CaseFile::mark_not_duplicates`] records a pair as two
//! people. [`CaseFile::merge_persons`] merges two files into one by a tombstone on the file
//! merged away (`merged_into`), through which every reference to it is read: see
//! [`duplicates`] and `sync_protocol::merges` for the rules.

//! ## Documents and photos
//! [`CaseFile::attach`] adds a document or photo to a person's file: an `attachment`
//! record, and its bytes kept encrypted in the case file by their SHA-256 (photos reduced
//! to 2 megapixels unless kept as given). [`CaseFile::sync_documents`] moves the bytes
//! after the records (SYNC-PROTOCOL.md §6b); see [`attachments`].

#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod attachments;
mod check;
mod client;
mod conflicts;
mod crypto;
mod derive;
mod drafts;
#[cfg(any(test, feature = "insecure-test-kdf"))]
mod dump;
pub mod duplicates;
mod erasure;
mod error;
mod evict;
pub mod export;
pub mod fold;
mod history;
pub mod kinds;
pub mod names;
pub mod organisation;
mod passphrase;
mod push;
mod queries;
mod records;
mod recovery;
pub mod retention;
pub mod schema;
mod search;
mod set_aside;
mod store;
mod sync;
mod unlock;

pub use attachments::{
    Attachment, DocumentProblem, DocumentsProgress, DocumentsReport, DocumentsStatus, FetchMode,
    NewAttachment,
};
pub use client::{
    MAX_BATCH_BYTES, MAX_BATCH_RECORDS, PULL_PAGE, Phase, Progress, SyncError, SyncOptions,
    SyncReport, check_server_url,
};
pub use conflicts::Conflict;
pub use crypto::KdfParams;
pub use duplicates::{Candidate, DuplicatePair};
pub use error::{Error, Result};
pub use evict::{Eviction, EvictionReport};
pub use export::{Indicators, Period, SETTING_ORG_NAME, SETTING_TIME_ZONE, TimeZone, WorkPoint};
pub use history::HistoryEntry;
pub use kinds::Record;
pub use organisation::Organisation;
pub use passphrase::MIN_PASSPHRASE_CHARS;
pub use queries::{PersonFilter, SiteSummary, Timeline, TimelineItem, Today};
pub use retention::RetentionDue;
pub use set_aside::SetAside;
pub use store::{CaseFile, EXPORTS_FOLDER, SCHEMA_VERSION};
pub use sync::{Applied, Pending};
pub use sync_protocol;
pub use unlock::UnlockBackoff;
