//! The no-drop rule of §4, which the server enforces on every push: merging a pushed
//! state into the server's copy may drop an entry only where the push holds, in that
//! field, the write that went over it.

use crate::record::RecordState;
use crate::{Dot, RecordId};

/// A pushed state that covers an entry of the server's copy without holding it, and
/// without a write over it in that field: merged, it would erase an edit nobody replaced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the record {record} leaves out the edit {dot} of field {field} without writing over it: \
     a replica that saw an edit may drop it only by writing the field again"
)]
pub struct DroppedEntry {
    /// The record.
    pub record: RecordId,
    /// The field that would lose the entry.
    pub field: String,
    /// The entry's dot.
    pub dot: Dot,
}

/// Checks the no-drop rule (§4) for `pushed` against the server's copy `stored`: every
/// entry of `stored` that `merge(stored, pushed)` would drop from a field `f` must be
/// answered by an entry of `pushed[f]` whose dot `stored.vv` does not cover.
///
/// An erased copy holds no entries and so drops none. Honest replicas always pass: they
/// only let an entry go by writing over it, and a cleared field is an entry whose value is
/// `null`.
pub fn check_no_drop(stored: &RecordState, pushed: &RecordState) -> Result<(), DroppedEntry> {
    for (field, held) in stored.fields() {
        let sent = pushed.entries(field.as_str());
        let dropped = held.iter().find(|e| {
            pushed.vv().covers(e.dot) && sent.binary_search_by_key(&e.dot, |s| s.dot).is_err()
        });
        let Some(dropped) = dropped else {
            continue;
        };
        if !sent.iter().any(|s| !stored.vv().covers(s.dot)) {
            return Err(DroppedEntry {
                record: stored.id(),
                field: field.to_string(),
                dot: dropped.dot,
            });
        }
    }
    Ok(())
}
