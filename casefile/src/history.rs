//! A record's history: who wrote each of its current entries, and when.
//!
//! The record state keeps, for each field, the entries no later edit superseded; each
//! names its edit (the dot: replica and counter) and the editing device's clock. That is
//! the history a case file can show without keeping old values, which erasure would have
//! to chase.

use serde::Serialize;
use serde_json::Value;
use sync_protocol::{Dot, RecordId, Timestamp};

use crate::error::Result;
use crate::store::CaseFile;

/// One entry of a record, with who and when.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryEntry {
    /// The field.
    pub field: String,
    /// The edit that wrote it: the replica (device or server) and its counter.
    pub dot: Dot,
    /// When, by the editing device's clock.
    pub at: Timestamp,
    /// The value written.
    pub value: Value,
}

impl CaseFile {
    /// The entries of a record, oldest edit first (by `at`, then by dot).
    pub fn history(&self, id: RecordId) -> Result<Vec<HistoryEntry>> {
        let _span = tracing::info_span!("casefile.history", %id).entered();
        let state = self.get(id)?;
        let mut out: Vec<HistoryEntry> = state
            .fields()
            .flat_map(|(name, entries)| {
                entries.iter().map(move |e| HistoryEntry {
                    field: name.to_string(),
                    dot: e.dot,
                    at: e.at.clone(),
                    value: e.value.clone(),
                })
            })
            .collect();
        out.sort_by(|a, b| {
            (a.at.to_datetime(), a.dot, &a.field).cmp(&(b.at.to_datetime(), b.dot, &b.field))
        });
        Ok(out)
    }
}
