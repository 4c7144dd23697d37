//! The one error that crosses the IPC: a tagged enum the UI acts on by `kind`, and
//! translates. `message` is the case file's English sentence, for support and the
//! developer console; it names fields and ids, never a record's values.

use serde::Serialize;
use specta::Type;

/// What went wrong in a command, as the UI receives it:
/// `{"kind": "wrong_passphrase", "message": "…"}`.
#[derive(Debug, Clone, Serialize, Type, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AppError {
    /// The passphrase does not open the case file.
    #[error("{message}")]
    WrongPassphrase {
        /// Details for support.
        message: String,
    },
    /// The case file was written by a newer version of the app.
    #[error("{message}")]
    NewerFile {
        /// The schema version found in the file.
        found: i32,
        /// The highest schema version this build knows.
        supported: i32,
        /// Details for support.
        message: String,
    },
    /// A case file already exists where one was to be created.
    #[error("{message}")]
    AlreadyExists {
        /// Details for support.
        message: String,
    },
    /// There is no case file to open yet.
    #[error("{message}")]
    NoCaseFile {
        /// Details for support.
        message: String,
    },
    /// The case file is locked: unlock it first.
    #[error("{message}")]
    Locked {
        /// Details for support.
        message: String,
    },
    /// A field's value does not fit its kind's schema.
    #[error("{message}")]
    Invalid {
        /// The field (or `kind`, `id`, `on`…).
        field: String,
        /// What it expects, in English (the UI shows its own words by field type).
        expected: String,
        /// Details for support.
        message: String,
    },
    /// No such record.
    #[error("{message}")]
    NotFound {
        /// The record's id.
        id: String,
        /// Details for support.
        message: String,
    },
    /// The record is deleted: restore it before editing it.
    #[error("{message}")]
    Deleted {
        /// The record's id.
        id: String,
        /// Details for support.
        message: String,
    },
    /// The change was refused by the sync rules (an empty change, a state that breaks
    /// them).
    #[error("{message}")]
    Refused {
        /// Details for support.
        message: String,
    },
    /// The database or a file beside it failed.
    #[error("{message}")]
    Storage {
        /// Details for support.
        message: String,
    },
    /// Sync is not available in this version of the app.
    #[error("{message}")]
    SyncUnavailable {
        /// Details for support.
        message: String,
    },
    /// Something the app itself got wrong (a task that stopped).
    #[error("{message}")]
    Internal {
        /// Details for support.
        message: String,
    },
}

impl AppError {
    /// The case file is not open.
    pub fn locked() -> Self {
        Self::Locked {
            message: "the case file is locked".to_owned(),
        }
    }

    /// `field` does not hold what it should.
    pub fn invalid(field: &str, expected: &str) -> Self {
        Self::Invalid {
            field: field.to_owned(),
            expected: expected.to_owned(),
            message: format!("the field {field} expects {expected}"),
        }
    }
}

impl From<casefile::Error> for AppError {
    fn from(error: casefile::Error) -> Self {
        use casefile::Error as E;
        let message = error.to_string();
        match error {
            E::WrongPassphrase => Self::WrongPassphrase { message },
            E::NewerFile { found, supported } => Self::NewerFile {
                found: i32::try_from(found).unwrap_or(i32::MAX),
                supported: i32::try_from(supported).unwrap_or(i32::MAX),
                message,
            },
            E::AlreadyExists(_) => Self::AlreadyExists { message },
            E::NoCaseFile(_) => Self::NoCaseFile { message },
            E::Invalid { field, expected } => Self::Invalid {
                field,
                expected,
                message,
            },
            E::NotFound(id) => Self::NotFound {
                id: id.to_string(),
                message,
            },
            E::Deleted(id) => Self::Deleted {
                id: id.to_string(),
                message,
            },
            E::Edit(_) | E::Merge(_) | E::InvalidState(_) => Self::Refused { message },
            E::KeyParams(_) | E::Database(_) | E::Migration(_) | E::Io(_) => {
                Self::Storage { message }
            }
            // `casefile::Error` grows as the case file learns new work (exports, sync):
            // a kind this build does not name yet is reported as a storage problem until
            // the UI gets its own words for it.
            #[allow(unreachable_patterns)]
            _ => Self::Storage { message },
        }
    }
}

/// The result of a command.
pub type AppResult<T> = Result<T, AppError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_cross_the_ipc_tagged_by_kind() {
        let json = serde_json::to_value(AppError::from(casefile::Error::WrongPassphrase)).unwrap();
        assert_eq!(json["kind"], "wrong_passphrase", "tagged by kind: {json}");
        assert!(json["message"].is_string(), "carries a message: {json}");

        let json = serde_json::to_value(AppError::invalid("birth_date", "a date")).unwrap();
        assert_eq!(json["kind"], "invalid");
        assert_eq!(json["field"], "birth_date", "names the field: {json}");
    }
}
