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
}

/// The case file was locked: every window goes back to the unlock screen.
#[derive(Debug, Clone, Serialize, Deserialize, Type, Event)]
pub struct Locked {
    /// Why.
    pub reason: LockReason,
}

/// Progress of a sync, in states exchanged (sent once the sync client exists).
#[derive(Debug, Clone, Serialize, Deserialize, Type, Event)]
pub struct SyncProgress {
    /// States exchanged so far.
    pub done: u32,
    /// States to exchange, when known.
    pub total: Option<u32>,
}
