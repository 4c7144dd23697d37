//! The no-drop rule of §4, which the server enforces on every push: merging a pushed
//! state into the server's copy may drop an entry only where the push holds, in that
//! field, the write that went over it.

use crate::merge::{MergeError, merge_noting_drops};
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
/// `null`. Copies of different records drop nothing here (merge refuses them).
pub fn check_no_drop(stored: &RecordState, pushed: &RecordState) -> Result<(), DroppedEntry> {
    match merge_checked(stored, pushed) {
        Err(MergeRefused::Dropped(dropped)) => Err(dropped),
        _ => Ok(()),
    }
}

/// Merges `pushed` into the server's copy `stored` and checks the no-drop rule
/// ([`check_no_drop`]) in the same pass: what the server does with a push.
pub fn merge_checked(
    stored: &RecordState,
    pushed: &RecordState,
) -> Result<RecordState, MergeRefused> {
    match merge_noting_drops(stored, pushed) {
        Ok((merged, None)) => Ok(merged),
        Ok((_, Some((field, dot)))) => Err(MergeRefused::Dropped(DroppedEntry {
            record: stored.id(),
            field: field.to_string(),
            dot,
        })),
        Err(e) => Err(MergeRefused::NotOneRecord(e)),
    }
}

/// Why [`merge_checked`] refused a pushed state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeRefused {
    /// The copies are not of one record (other ids or kinds).
    #[error(transparent)]
    NotOneRecord(#[from] MergeError),
    /// The push drops an entry without writing over it.
    #[error(transparent)]
    Dropped(#[from] DroppedEntry),
}
