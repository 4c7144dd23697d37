//! Events the shell sends the UI. Their TypeScript types are generated with the
//! commands'.

use serde::{Deserialize, Serialize};
use specta::Type;
use tauri_specta::Event;

/// Why the case file was locked.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, Type, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LockReason {
    /// The person locked it.
    Manual,
    /// Nobody touched the app for the idle delay.
    Idle,
    /// The machine slept: the app locked at the first second after it woke.
    Suspended,
    /// The server said a coordinator disabled this device's user: the case file keeps
    /// its data, locked, until the account is enabled again.
    AccountDisabled,
    /// The server said a coordinator revoked this device: its case file was destroyed
    /// (key, data, exports beside it), and the app is back at its first screen.
    DeviceRevoked,
}

/// The case file was locked: every window goes back to the unlock screen.
#[derive(Debug, Clone, Serialize, Deserialize, Type, Event)]
pub struct Locked {
    /// Why.
    pub reason: LockReason,
}

/// Where a sync is.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, Type, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SyncPhase {
    /// Sending this device's changes.
    Push,
    /// Receiving the server's changes.
    Pull,
    /// Learning who made each edit (device names and users).
    Replicas,
    /// Finished.
    Done,
}

impl From<casefile::Phase> for SyncPhase {
    fn from(phase: casefile::Phase) -> Self {
        match phase {
            casefile::Phase::Push => Self::Push,
            casefile::Phase::Pull => Self::Pull,
            casefile::Phase::Replicas => Self::Replicas,
            casefile::Phase::Done => Self::Done,
        }
    }
}

/// Progress of a sync, for the progress bar: `done` of `expected` records in `phase`
/// (`expected` is an estimate while pulling).
#[derive(Debug, Clone, Serialize, Deserialize, Type, Event)]
pub struct SyncProgress {
    /// The phase.
    pub phase: SyncPhase,
    /// Records handled so far in this phase.
    pub done: u32,
    /// Records expected in this phase.
    pub expected: u32,
}

impl From<casefile::Progress> for SyncProgress {
    fn from(progress: casefile::Progress) -> Self {
        Self {
            phase: progress.phase.into(),
            done: u32::try_from(progress.done).unwrap_or(u32::MAX),
            expected: u32::try_from(progress.expected).unwrap_or(u32::MAX),
        }
    }
}

/// Progress of the documents' sync, which follows the records' (its own bar): bytes sent
/// and received so far, of those this sync sends and fetches.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, Type, Event)]
pub struct DocumentsProgress {
    /// Bytes sent so far.
    pub sent: u64,
    /// Bytes this sync sends (what the server lacked when asked).
    pub to_send: u64,
    /// Bytes received so far.
    pub received: u64,
    /// Bytes this sync fetches.
    pub to_receive: u64,
}

impl From<casefile::DocumentsProgress> for DocumentsProgress {
    fn from(progress: casefile::DocumentsProgress) -> Self {
        Self {
            sent: progress.sent,
            to_send: progress.to_send,
            received: progress.received,
            to_receive: progress.to_receive,
        }
    }
}
