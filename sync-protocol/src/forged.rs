//! The forged-dot rule of §6: a device brings new dots only for its own replica.

use crate::record::RecordState;
use crate::{Dot, ReplicaId};

/// A pushed state that claims an edit its sender could not have made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ForgedDot {
    /// A dot of another replica that the server's copy does not cover.
    #[error(
        "the record {record} holds the edit {dot} of another replica, which the server has not seen"
    )]
    UnseenDot {
        /// The record's id.
        record: String,
        /// The dot.
        dot: Dot,
    },
    /// A `vv` counter of another replica above the server's.
    #[error(
        "the record {record}'s vv claims {counter} edits by {replica}, more than the server has seen"
    )]
    UnseenCounter {
        /// The record's id.
        record: String,
        /// The replica.
        replica: ReplicaId,
        /// The claimed counter.
        counter: u64,
    },
    /// A dot the server holds, sent with another value or time.
    #[error("the record {record} holds the edit {dot} with another content than the server's")]
    AlteredEntry {
        /// The record's id.
        record: String,
        /// The dot.
        dot: Dot,
    },
}

/// Checks that `pushed`, sent by `pusher`, brings new dots only for `pusher`'s own replica,
/// against the server's copy `stored` (`None`: the server has no copy). Also refuses an
/// entry whose dot the server holds in the same field with another value: one dot is one
/// edit, with one content.
pub fn check_dots(
    pushed: &RecordState,
    stored: Option<&RecordState>,
    pusher: ReplicaId,
) -> Result<(), ForgedDot> {
    let record = || pushed.id().to_string();
    let stored_counter = |r: ReplicaId| stored.map_or(0, |s| s.vv().get(r));
    for (replica, counter) in pushed.vv().iter() {
        if replica != pusher && counter > stored_counter(replica) {
            return Err(ForgedDot::UnseenCounter {
                record: record(),
                replica,
                counter,
            });
        }
    }
    for (name, entries) in pushed.fields() {
        let held = stored.map_or(&[][..], |s| s.entries(name.as_str()));
        for entry in entries {
            if entry.dot.replica != pusher && entry.dot.counter > stored_counter(entry.dot.replica)
            {
                return Err(ForgedDot::UnseenDot {
                    record: record(),
                    dot: entry.dot,
                });
            }
            if let Ok(i) = held.binary_search_by_key(&entry.dot, |e| e.dot)
                && held[i] != *entry
            {
                return Err(ForgedDot::AlteredEntry {
                    record: record(),
                    dot: entry.dot,
                });
            }
        }
    }
    Ok(())
}

/// The first dot of `pusher`'s own that `pushed` holds with another content than the
/// server's copy `stored` holds it in the same field: one dot given to two edits, which
/// happens when a case file was put back from an older copy, or copied and used on two
/// machines (§6a, 409 `replica_reused`). `None` when every own dot the server holds
/// matches.
pub fn reused_dot(
    pushed: &RecordState,
    stored: Option<&RecordState>,
    pusher: ReplicaId,
) -> Option<Dot> {
    let stored = stored?;
    if stored.vv().get(pusher) == 0 {
        return None;
    }
    pushed.fields().find_map(|(name, entries)| {
        let held = stored.entries(name.as_str());
        entries
            .iter()
            .filter(|entry| entry.dot.replica == pusher)
            .find(|entry| {
                held.binary_search_by_key(&entry.dot, |e| e.dot)
                    .is_ok_and(|i| held[i] != **entry)
            })
            .map(|entry| entry.dot)
    })
}
