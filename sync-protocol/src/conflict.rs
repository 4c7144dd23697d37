//! What needs a person's choice: fields with several entries, and deletions made
//! concurrently with edits (§5). Both verdicts read only the state, so every replica
//! holding the same state reaches the same one.

use serde::Serialize;

use crate::merges::combined_field;
use crate::record::{DELETED_FIELD, Entry, RecordState};
use crate::validate::deletion_seen;

/// The conflicts of one record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Conflicts {
    /// Fields holding two or more entries, in name order. `_deleted` is listed only when
    /// its entries disagree (a delete against a restore): concurrent deletions agree, and
    /// so do concurrent restores. The merge fields and the "not the same person" set are
    /// never listed: readers combine their entries ([`crate::merges`]).
    pub fields: Vec<String>,
    /// The record is deleted, yet holds an edit no deleting replica had seen.
    pub deleted_with_edits: bool,
}

impl Conflicts {
    /// Whether there is nothing to decide.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && !self.deleted_with_edits
    }
}

/// Whether some `_deleted` entries delete and others restore.
fn disagree(entries: &[Entry]) -> bool {
    let deleting = entries.iter().filter(|e| !e.value.is_null()).count();
    deleting != 0 && deleting != entries.len()
}

impl RecordState {
    /// Everything in this record that awaits a person's choice.
    pub fn conflicts(&self) -> Conflicts {
        let fields = self
            .fields
            .iter()
            .filter(|(name, entries)| {
                entries.len() > 1
                    && !combined_field(name.as_str())
                    && (name.as_str() != DELETED_FIELD || disagree(entries))
            })
            .map(|(name, _)| name.to_string())
            .collect();
        Conflicts {
            fields,
            deleted_with_edits: self.is_deleted_with_edits(),
        }
    }

    /// Whether the record is deleted while holding an entry, in a field other than
    /// `_deleted`, that the `seen` of no deleting entry covers (§5).
    pub fn is_deleted_with_edits(&self) -> bool {
        if !self.is_deleted() {
            return false;
        }
        let seens: Vec<_> = self
            .entries(DELETED_FIELD)
            .iter()
            .filter_map(|e| deletion_seen(&e.value).flatten())
            .collect();
        self.fields
            .iter()
            .filter(|(name, _)| name.as_str() != DELETED_FIELD)
            .flat_map(|(_, entries)| entries)
            .any(|e| !seens.iter().any(|seen| seen.covers(e.dot)))
    }
}
