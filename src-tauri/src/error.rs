//! The one error that crosses the IPC: a tagged enum the UI acts on by `kind`, and
//! translates. `message` is the case file's English sentence, for support and the
//! developer console; it names fields and ids, never a record's values.

use casefile::sync_protocol::wire::ErrorCode;
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
    /// Too many wrong passphrases in a row: wait before trying again (even the right
    /// passphrase is refused until then).
    #[error("{message}")]
    UnlockBackoff {
        /// Seconds left to wait.
        wait_seconds: u32,
        /// Details for support.
        message: String,
    },
    /// A new passphrase is too short or too easy to guess.
    #[error("{message}")]
    WeakPassphrase {
        /// Why, in French, for the person choosing it.
        reason: String,
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
    /// A change would pass the size one change may hold (256 KiB): nothing was changed.
    #[error("{message}")]
    TooLarge {
        /// The largest field the change writes.
        field: String,
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
    /// An export (PDF, spreadsheet) could not be produced.
    #[error("{message}")]
    Export {
        /// Details for support.
        message: String,
    },
    /// An export was produced but could not be written to its folder.
    #[error("{message}")]
    SaveFailed {
        /// Where it was to be written.
        path: String,
        /// Details for support.
        message: String,
    },
    /// A saved export could not be opened in the system's viewer (no viewer, or the file
    /// was deleted since).
    #[error("{message}")]
    OpenFailed {
        /// The file.
        path: String,
        /// Details for support.
        message: String,
    },
    /// The case file is not enrolled with a server yet.
    #[error("{message}")]
    NotEnrolled {
        /// Details for support.
        message: String,
    },
    /// The server's address is plain `http://` to another machine.
    #[error("{message}")]
    PlainHttp {
        /// Details for support.
        message: String,
    },
    /// The server's address is not a URL.
    #[error("{message}")]
    BadUrl {
        /// Details for support.
        message: String,
    },
    /// Too many failed enrolments for this username or from this network: wait before
    /// trying again.
    #[error("{message}")]
    EnrolmentLimited {
        /// Seconds the server asked to wait.
        wait_seconds: u32,
        /// Details for support.
        message: String,
    },
    /// The username, the password or the enrolment code is wrong (enrolment).
    #[error("{message}")]
    WrongCredentials {
        /// Details for support.
        message: String,
    },
    /// The server no longer recognises this device's token: enrol again.
    #[error("{message}")]
    Revoked {
        /// Details for support.
        message: String,
    },
    /// A coordinator revoked this device: it can no longer sync.
    #[error("{message}")]
    DeviceRevoked {
        /// Details for support.
        message: String,
    },
    /// A coordinator disabled the account of this device's user: the case file keeps its
    /// data, and syncs again once the account is enabled.
    #[error("{message}")]
    UserDisabled {
        /// Details for support.
        message: String,
    },
    /// This case file's device id is taken on the server (another user, or revoked).
    #[error("{message}")]
    DeviceIdTaken {
        /// Details for support.
        message: String,
    },
    /// The server speaks a newer sync protocol: update the app.
    #[error("{message}")]
    UpdateApp {
        /// Details for support.
        message: String,
    },
    /// The secure connection failed (certificate, name, TLS version).
    #[error("{message}")]
    Tls {
        /// Details for support.
        message: String,
    },
    /// The server could not be reached (network, address), after retries.
    #[error("{message}")]
    Unreachable {
        /// Details for support.
        message: String,
    },
    /// The server kept answering that it is busy or failing, after retries.
    #[error("{message}")]
    ServerBusy {
        /// Details for support.
        message: String,
    },
    /// The server refused the sync for another reason, or answered what it should not.
    #[error("{message}")]
    ServerRefused {
        /// Details for support.
        message: String,
    },
    /// The server refused this action to this device's user: their role may not do it (a
    /// counsellor asking for a person's erasure, which only a coordinator may ask for).
    #[error("{message}")]
    Forbidden {
        /// Details for support.
        message: String,
    },
    /// The organisation's erasures of the hour are spent (20 an hour over HTTP): wait
    /// before asking again.
    #[error("{message}")]
    ErasuresLimited {
        /// Details for support.
        message: String,
    },
    /// The server holds no such record (a person created here and never synced, or erased
    /// already): sync, then look again.
    #[error("{message}")]
    NotOnServer {
        /// Details for support.
        message: String,
    },
    /// The organisation's storage of documents on the server is full: the documents wait
    /// on this device (the records synced all the same).
    #[error("{message}")]
    QuotaFull {
        /// Details for support.
        message: String,
    },
    /// A document's bytes are not on this device, and could not be fetched (no server, or
    /// the server cannot be reached): sync with the network to open it.
    #[error("{message}")]
    DocumentNotHere {
        /// Details for support.
        message: String,
    },
    /// The server does not have a document's bytes yet: the device that added it has not
    /// synced since.
    #[error("{message}")]
    DocumentNotOnServer {
        /// Details for support.
        message: String,
    },
    /// A file given as a document is not taken in: not a photo or a PDF, a HEIC photo,
    /// too large, or unreadable.
    #[error("{message}")]
    BadDocument {
        /// What is wrong with it, for the UI's words.
        problem: DocumentProblem,
        /// Details for support.
        message: String,
    },
    /// The person cancelled the sync; what was exchanged stays.
    #[error("{message}")]
    Cancelled {
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

/// Why a file given as a document was refused ([`AppError::BadDocument`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum DocumentProblem {
    /// Neither a photo (JPEG, PNG, WebP) nor a PDF.
    NotPhotoOrPdf,
    /// A HEIC photo (an iPhone's default): set the camera to JPEG.
    Heic,
    /// Larger than a document may be (20 MiB kept; 64 MiB for a photo to reduce).
    TooLarge,
    /// More than 100 million pixels.
    TooManyPixels,
    /// A photo that could not be read (damaged, or not what it says).
    Unreadable,
}

impl From<&casefile::DocumentProblem> for DocumentProblem {
    fn from(problem: &casefile::DocumentProblem) -> Self {
        use casefile::DocumentProblem as P;
        match problem {
            P::NotPhotoOrPdf => Self::NotPhotoOrPdf,
            P::Heic => Self::Heic,
            P::TooLarge { .. } => Self::TooLarge,
            P::TooManyPixels => Self::TooManyPixels,
            P::Unreadable(_) => Self::Unreadable,
        }
    }
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
            E::UnlockBackoff { wait_seconds } => Self::UnlockBackoff {
                wait_seconds: u32::try_from(wait_seconds).unwrap_or(u32::MAX),
                message,
            },
            E::WeakPassphrase { reason } => Self::WeakPassphrase { reason, message },
            E::NewerFile { found, supported } => Self::NewerFile {
                found: i32::try_from(found).unwrap_or(i32::MAX),
                supported: i32::try_from(supported).unwrap_or(i32::MAX),
                message,
            },
            E::AlreadyExists(_) => Self::AlreadyExists { message },
            E::NoCaseFile(_) => Self::NoCaseFile { message },
            E::Document(problem) => Self::BadDocument {
                problem: DocumentProblem::from(&problem),
                message,
            },
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
            E::TooLarge { field, .. } => Self::TooLarge { field, message },
            E::Edit(_) | E::Merge(_) | E::InvalidState(_) => Self::Refused { message },
            E::KeyParams(_) | E::Database(_) | E::Migration(_) | E::Io(_) => {
                Self::Storage { message }
            }
            E::Export(_) => Self::Export { message },
            // `casefile::Error` grows as the case file learns new work (exports, sync):
            // a kind this build does not name yet is reported as a storage problem until
            // the UI gets its own words for it.
            #[allow(unreachable_patterns)]
            _ => Self::Storage { message },
        }
    }
}

impl From<documents::Error> for AppError {
    fn from(error: documents::Error) -> Self {
        Self::Export {
            message: error.to_string(),
        }
    }
}

impl From<casefile::SyncError> for AppError {
    fn from(error: casefile::SyncError) -> Self {
        use casefile::SyncError as E;
        let message = error.to_string();
        match error {
            E::NotEnrolled => Self::NotEnrolled { message },
            E::PlainHttp => Self::PlainHttp { message },
            E::BadUrl(_) => Self::BadUrl { message },
            E::WrongCredentials => Self::WrongCredentials { message },
            E::EnrolmentLimited { wait_seconds } => Self::EnrolmentLimited {
                wait_seconds: u32::try_from(wait_seconds).unwrap_or(u32::MAX),
                message,
            },
            E::Revoked => Self::Revoked { message },
            E::DeviceRevoked => Self::DeviceRevoked { message },
            E::UserDisabled => Self::UserDisabled { message },
            E::DeviceIdTaken => Self::DeviceIdTaken { message },
            E::UpdateApp => Self::UpdateApp { message },
            E::Tls(_) => Self::Tls { message },
            E::Forbidden => Self::Forbidden { message },
            E::NotFound => Self::NotOnServer { message },
            E::Unreachable { .. } => Self::Unreachable { message },
            E::ServerBusy { .. } => Self::ServerBusy { message },
            // A 429 that is not waited out: an erasure past the organisation's cap (a sync
            // waits 429s out, an enrolment has its own kind).
            E::Refused {
                code: ErrorCode::SlowDown,
                ..
            } => Self::ErasuresLimited { message },
            // The documents' sync (`CaseFile::sync_documents`): the organisation's quota.
            E::Refused {
                code: ErrorCode::QuotaFull,
                ..
            } => Self::QuotaFull { message },
            E::Refused { .. } | E::BadAnswer(_) => Self::ServerRefused { message },
            // A server restored from a backup, or a case file restored from a copy, that
            // the sync could not settle by sending everything again (§6a): the UI's
            // "the server refused the sync; try again, and if it happens again, contact
            // support" fits; `message` says which, for support.
            E::ServerStillBehind | E::ServerRestoring | E::ReplicaStillReused => {
                Self::ServerRefused { message }
            }
            E::Cancelled => Self::Cancelled { message },
            E::CaseFile(inner) => inner.into(),
            // A kind the sync client learns later: the server refused, in the UI's words,
            // until it gets words of its own.
            #[allow(unreachable_patterns)]
            _ => Self::ServerRefused { message },
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

        let json = serde_json::to_value(AppError::from(casefile::SyncError::Revoked)).unwrap();
        assert_eq!(
            json["kind"], "revoked",
            "a sync error keeps its kind: {json}"
        );

        use casefile::SyncError as S;
        let kinds = [
            (S::NotEnrolled, "not_enrolled"),
            (S::PlainHttp, "plain_http"),
            (S::BadUrl("x".into()), "bad_url"),
            (S::WrongCredentials, "wrong_credentials"),
            (
                S::EnrolmentLimited { wait_seconds: 90 },
                "enrolment_limited",
            ),
            (S::DeviceRevoked, "device_revoked"),
            (S::UserDisabled, "user_disabled"),
            (S::DeviceIdTaken, "device_id_taken"),
            (S::UpdateApp, "update_app"),
            (S::Tls("x".into()), "tls"),
            (
                S::Unreachable {
                    attempts: 6,
                    reason: "x".into(),
                },
                "unreachable",
            ),
            (
                S::ServerBusy {
                    status: 503,
                    attempts: 6,
                },
                "server_busy",
            ),
            (S::BadAnswer("x".into()), "server_refused"),
            (S::ServerStillBehind, "server_refused"),
            (S::ServerRestoring, "server_refused"),
            (S::ReplicaStillReused, "server_refused"),
            (S::Forbidden, "forbidden"),
            (S::NotFound, "not_on_server"),
            (
                S::Refused {
                    code: ErrorCode::SlowDown,
                    message: "x".into(),
                },
                "erasures_limited",
            ),
            (
                S::Refused {
                    code: ErrorCode::InvalidRecord,
                    message: "x".into(),
                },
                "server_refused",
            ),
            (
                S::Refused {
                    code: ErrorCode::QuotaFull,
                    message: "x".into(),
                },
                "quota_full",
            ),
            (S::Cancelled, "cancelled"),
            (
                S::CaseFile(casefile::Error::WrongPassphrase),
                "wrong_passphrase",
            ),
        ];
        for (error, kind) in kinds {
            let json = serde_json::to_value(AppError::from(error)).unwrap();
            assert_eq!(json["kind"], kind, "{json}");
        }

        let json =
            serde_json::to_value(AppError::from(casefile::Error::Export("x".into()))).unwrap();
        assert_eq!(
            json["kind"], "export",
            "an export error keeps its kind: {json}"
        );
        let json = serde_json::to_value(AppError::from(documents::Error::Xlsx)).unwrap();
        assert_eq!(
            json["kind"], "export",
            "a document that could not be written is an export error: {json}"
        );

        let json = serde_json::to_value(AppError::from(casefile::Error::TooLarge {
            field: "notes".into(),
            bytes: 300_000,
        }))
        .unwrap();
        assert_eq!(json["kind"], "too_large", "{json}");
        assert_eq!(json["field"], "notes", "names the field: {json}");

        let json = serde_json::to_value(AppError::from(casefile::Error::UnlockBackoff {
            wait_seconds: 30,
        }))
        .unwrap();
        assert_eq!(json["kind"], "unlock_backoff", "{json}");
        assert_eq!(json["wait_seconds"], 30, "says how long to wait: {json}");

        let reason = "La phrase secrète doit compter au moins 12 caractères.";
        let json = serde_json::to_value(AppError::from(casefile::Error::WeakPassphrase {
            reason: reason.into(),
        }))
        .unwrap();
        assert_eq!(json["kind"], "weak_passphrase", "{json}");
        assert_eq!(json["reason"], reason, "carries the French reason: {json}");

        let json = serde_json::to_value(AppError::from(casefile::Error::Document(
            casefile::DocumentProblem::NotPhotoOrPdf,
        )))
        .unwrap();
        assert_eq!(json["kind"], "bad_document", "{json}");
        assert_eq!(
            json["problem"], "not_photo_or_pdf",
            "the UI says why by kind: {json}"
        );

        let json = serde_json::to_value(AppError::invalid("birth_date", "a date")).unwrap();
        assert_eq!(json["kind"], "invalid");
        assert_eq!(json["field"], "birth_date", "names the field: {json}");
    }
}
