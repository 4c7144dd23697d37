//! The one error type of the case file. Messages name records by id and fields by name,
//! never by value: they may reach logs and support tickets.

use std::path::PathBuf;

use sync_protocol::{EditError, MergeError, RecordId, ValidationError};

/// What went wrong in a case-file operation. An operation that fails changes nothing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The passphrase does not open this case file.
    #[error("the passphrase does not open this case file")]
    WrongPassphrase,
    /// Too many wrong passphrases in a row: the case file tries no passphrase, even a
    /// right one, before the wait has passed.
    #[error("too many wrong passphrases in a row: wait {wait_seconds} seconds before trying again")]
    UnlockBackoff {
        /// Seconds left to wait (rounded up).
        wait_seconds: u64,
    },
    /// A new passphrase is too short or too easy to guess.
    #[error("the new passphrase was refused: {reason}")]
    WeakPassphrase {
        /// Why, in French, in words the person choosing it can act on (it never quotes
        /// the passphrase).
        reason: String,
    },
    /// The file was written by a newer version of the app.
    #[error(
        "this case file was written by a newer version of Passerelle (schema version {found}, \
         this app knows up to {supported}): update the app to open it"
    )]
    NewerFile {
        /// The schema version found in the file.
        found: i64,
        /// The highest schema version this build knows.
        supported: i64,
    },
    /// `create` was asked for a path that already holds a file.
    #[error("there is already a file at {0}: choose another path")]
    AlreadyExists(PathBuf),
    /// `open` was asked for a path that holds no case file.
    #[error("there is no case file at {0}")]
    NoCaseFile(PathBuf),
    /// The key parameters beside the case file are missing or unreadable.
    #[error("the key parameters file {0} is missing or damaged")]
    KeyParams(PathBuf),
    /// A field value does not fit the kind's schema.
    #[error("the field {field} expects {expected}")]
    Invalid {
        /// The field (or `kind` for an unknown kind).
        field: String,
        /// What the field expects, in words a person can act on.
        expected: String,
    },
    /// A file given to `attach` cannot be kept: why, as a kind the app translates.
    #[error("the file cannot be attached: {0}")]
    Document(crate::attachments::DocumentProblem),
    /// No such record in this case file.
    #[error("there is no record {0} in this case file")]
    NotFound(RecordId),
    /// The record is deleted: it must be restored before it is edited.
    #[error("the record {0} is deleted: restore it before editing it")]
    Deleted(RecordId),
    /// A local edit would pass the size cap of one edit (SYNC-PROTOCOL.md §2): nothing
    /// was changed.
    #[error(
        "the field {field} makes this change {bytes} bytes, more than the {max} bytes one \
         change may hold: shorten the text, or attach it as a document",
        max = sync_protocol::MAX_EDIT_BYTES
    )]
    TooLarge {
        /// The largest field the change writes.
        field: String,
        /// The change's size, canonical JSON.
        bytes: usize,
    },
    /// A local edit was refused by the sync rules.
    #[error(transparent)]
    Edit(EditError),
    /// Two states could not be merged.
    #[error(transparent)]
    Merge(#[from] MergeError),
    /// A pulled state holds one of this case file's own edits with another content, or
    /// leaves one out without writing over it: another copy of this case file gave the
    /// same edit number to another edit (SYNC-PROTOCOL.md §6a). Nothing of the page was
    /// applied; the sync takes a new replica id first.
    #[error(
        "another copy of this case file synced edits under the same device id: this device \
         takes a new id before it receives anything"
    )]
    ReplicaReused,
    /// A stored or received state breaks the rules of the sync protocol.
    #[error("a record state is invalid: {0}")]
    InvalidState(#[from] ValidationError),
    /// The database refused an operation.
    #[error("the case file database failed: {0}")]
    Database(#[from] rusqlite::Error),
    /// A migration of the file's schema failed.
    #[error("the case file could not be upgraded: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    /// Reading or writing a file beside the database failed.
    #[error("could not read or write a file of the case file: {0}")]
    Io(#[from] std::io::Error),
    /// An export's content could not be read or written (the access export's JSON).
    #[error("the export could not be produced: {0}")]
    Export(String),
}

impl From<EditError> for Error {
    fn from(error: EditError) -> Self {
        match error {
            EditError::TooLarge { field, bytes } => Self::TooLarge { field, bytes },
            other => Self::Edit(other),
        }
    }
}

impl Error {
    /// An [`Error::Invalid`] for `field`, expecting `expected`.
    pub(crate) fn invalid(field: impl Into<String>, expected: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            expected: expected.into(),
        }
    }
}

/// The result of a case-file operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;
