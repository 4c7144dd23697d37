//! What the sync client needs of the case file: the states to push, the push cursor, and
//! applying a pulled page (merge, derived tables and checkpoint in one transaction).
//!
//! Every local edit gives its record the next *local change sequence*. The push cursor is
//! the highest sequence the server has acknowledged or set aside: the states to push are
//! those whose sequence is above it, and the records set aside for sending
//! ([`crate::set_aside`]). A record edited again while a push is in flight gets a higher
//! sequence, so it is pushed again. A record pulled and never edited here has no
//! sequence, until the server must get everything again (SYNC-PROTOCOL.md §6a): then it
//! takes one, and both cursors go back to 0 ([`crate::recovery`]).
//!
//! A pulled page is read state by state: a state that cannot be merged with the local
//! copy (another kind) or that breaks the protocol's rules is set aside, never failing
//! the page. An erased state deletes the record here, with what is about an erased person
//! alone ([`crate::erasure`]): no tombstone is kept.

use std::collections::BTreeSet;

use rusqlite::params;
use serde_json::Value;
use sync_protocol::{Kind, MergeRefused, RecordId, RecordState, ReplicaId, ValidationError, merge};
use tracing::{info_span, warn};

use crate::erasure;
use crate::error::{Error, Result};
use crate::records::{load, save};
use crate::set_aside;
use crate::store::{CaseFile, get_meta, set_meta};

/// A state waiting to be pushed, with its local change sequence.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    /// The local change sequence of the record's last local edit.
    pub seq: u64,
    /// The record's current state.
    pub state: RecordState,
}

/// What applying a pulled page did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    /// Records whose local state changed.
    pub changed: usize,
    /// Erased states received, and local records about an erased person alone: their
    /// rows and every local trace are gone (a state erased again, or of a record this
    /// case file never held, counts too: nothing is kept to tell).
    pub erased: usize,
    /// States set aside rather than merged: of another kind than the local copy, or
    /// breaking the protocol's rules.
    pub set_aside: usize,
}

impl CaseFile {
    /// The highest local change sequence the server has acknowledged.
    pub fn push_cursor(&self) -> Result<u64> {
        Ok(get_meta::<i64>(&self.conn, "push_cursor")?
            .unwrap_or(0)
            .max(0) as u64)
    }

    /// Up to `limit` states changed locally after `cursor`, in change order.
    pub fn changed_since(&self, cursor: u64, limit: usize) -> Result<Vec<Pending>> {
        let _span = info_span!("casefile.changed_since", cursor).entered();
        let mut stmt = self.conn.prepare_cached(
            "SELECT change_seq, state FROM records WHERE change_seq > ?1 AND erased = 0
             ORDER BY change_seq LIMIT ?2",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let cursor = i64::try_from(cursor).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![cursor, limit], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, text) = row?;
            out.push(Pending {
                seq: seq.max(0) as u64,
                state: RecordState::from_json(&text)?,
            });
        }
        Ok(out)
    }

    /// The states waiting to be pushed: [`changed_since`](Self::changed_since) the push
    /// cursor.
    pub fn pending_push(&self, limit: usize) -> Result<Vec<Pending>> {
        self.changed_since(self.push_cursor()?, limit)
    }

    /// Moves the push cursor to `seq` once the server has durably accepted every state up
    /// to it. Never moves it back.
    pub fn mark_pushed(&mut self, seq: u64) -> Result<()> {
        self.write(|tx| {
            let current = get_meta::<i64>(tx, "push_cursor")?.unwrap_or(0);
            let seq = i64::try_from(seq).unwrap_or(i64::MAX);
            set_meta(tx, "push_cursor", &current.max(seq))
        })
    }

    /// Every record state held, in id order: what two replicas compare to know they have
    /// converged. An erased record is not held (it leaves no row), so this is the
    /// server's copy less its erased records.
    pub fn all_states(&self) -> Result<Vec<RecordState>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT state FROM records ORDER BY id")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for text in rows {
            out.push(RecordState::from_json(&text?)?);
        }
        Ok(out)
    }

    /// The pull checkpoint: the server sequence to pull from next.
    pub fn pull_checkpoint(&self) -> Result<u64> {
        Ok(get_meta::<i64>(&self.conn, "pull_checkpoint")?
            .unwrap_or(0)
            .max(0) as u64)
    }

    /// Applies a pulled page in one transaction: merges each state into the local copy,
    /// updates the derived tables, deletes erased records (and, for an erased person, the
    /// local records about them alone) with every local trace, and moves the checkpoint
    /// to `next`. A state of another kind than the local copy is set aside
    /// beside it ([`CaseFile::set_aside`]) and the page goes on. Nothing of the page is
    /// applied when the case file fails.
    pub fn apply_pulled(&mut self, page: &[RecordState], next: u64) -> Result<Applied> {
        let page: Vec<Pulled> = page.iter().cloned().map(Pulled::State).collect();
        self.apply_page(page, next)
    }

    /// [`apply_pulled`](Self::apply_pulled) for states as the server sent them, each read
    /// on its own: one that breaks SYNC-PROTOCOL.md §2 is set aside (named by its id when
    /// that reads) and the rest of the page is applied.
    pub fn apply_pulled_values(&mut self, page: &[Value], next: u64) -> Result<Applied> {
        let page: Vec<Pulled> = page.iter().map(Pulled::read).collect();
        self.apply_page(page, next)
    }

    /// Applies a page read by [`Pulled::read`]: see [`apply_pulled`](Self::apply_pulled).
    pub(crate) fn apply_page(&mut self, page: Vec<Pulled>, next: u64) -> Result<Applied> {
        let _span = info_span!("casefile.apply_pulled", records = page.len(), next).entered();
        let me = self.replica_id();
        let applied = self.write(|tx| {
            let mut applied = Applied::default();
            let mut erased_persons = BTreeSet::new();
            let mut persons_changed = false;
            for pulled in page {
                let pulled = match pulled {
                    Pulled::State(state) => state,
                    Pulled::Invalid {
                        id,
                        kind,
                        text,
                        error,
                    } => {
                        let why = if error.code() == set_aside::RECORD_TOO_LARGE {
                            set_aside::RECORD_TOO_LARGE
                        } else {
                            set_aside::INVALID_RECORD
                        };
                        let message = format!(
                            "the server sent a state of this record that breaks the sync \
                             protocol ({error}): it is kept apart, unmerged; report it to \
                             your IT person"
                        );
                        warn!(?id, why, "a pulled state was set aside");
                        set_aside::keep_invalid(tx, id, kind.as_deref(), why, &message, &text)?;
                        applied.set_aside += 1;
                        continue;
                    }
                };
                let id = pulled.id();
                let local = load(tx, id)?;
                let fresh = local.is_none();
                // A person this case file never held has no local records about them
                // but pulled ones, which the server erased with them: no need to look.
                if pulled.is_erased() && !fresh && erasure::takes_dependants(&pulled) {
                    erased_persons.insert(id);
                }
                let merged = match local {
                    Some(local) if local.kind() != pulled.kind() => {
                        if pulled.is_erased() {
                            // The server erased its record of the other kind: nothing of
                            // it may stay, and the local copy is not the one erased.
                            set_aside::forget_pulled(tx, id)?;
                            applied.erased += 1;
                        } else {
                            warn!(%id, "a pulled state of another kind was set aside");
                            set_aside::keep_clash(tx, &local, &pulled)?;
                            applied.set_aside += 1;
                        }
                        continue;
                    }
                    // Erased: no tombstone is kept, whatever the local copy holds (an
                    // erased row left by an earlier version included).
                    _ if pulled.is_erased() => {
                        let held = erasure::wipe(tx, id)?;
                        applied.erased += 1;
                        applied.changed += usize::from(held);
                        continue;
                    }
                    Some(local) => {
                        if reused_by_another_copy(&local, &pulled, me) {
                            warn!(%id, "a pulled state holds an edit of this device's id that it never made");
                            return Err(Error::ReplicaReused);
                        }
                        let merged = merge(&local, &pulled)?;
                        if merged == local {
                            set_aside::pulled_cleanly(tx, id)?;
                            continue;
                        }
                        merged
                    }
                    None => pulled,
                };
                set_aside::pulled_cleanly(tx, id)?;
                save(tx, &merged, false, fresh)?;
                persons_changed |= merged.kind().as_str() == "person";
                applied.changed += 1;
            }
            // This device's edits of a file merged away elsewhere, which the merge did not
            // see, go to the file that stays (sync_protocol::merges).
            if persons_changed {
                crate::duplicates::refresh_if_stale(tx)?;
                crate::duplicates::reapply(tx, me)?;
            }
            // What this device holds about an erased person alone goes with them, pushed
            // or not; what they share waits for the server's edit.
            let dependants = erasure::wipe_about(tx, &erased_persons)?;
            applied.erased += dependants;
            applied.changed += dependants;
            if applied.erased > 0 {
                // An erased person may have ended a chain of merges.
                crate::duplicates::refresh_survivors(tx)?;
            }
            let next = i64::try_from(next).unwrap_or(i64::MAX);
            set_meta(tx, "pull_checkpoint", &next)?;
            Ok(applied)
        })?;
        if applied.erased > 0 {
            // Copy the wiped pages into the file and truncate the WAL, so no frame of the
            // old content lingers beside it.
            self.conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        }
        Ok(applied)
    }
}

/// Whether `pulled` shows that another copy of this case file used `me`'s dots: it holds
/// one of them with another content than `local` in the same field, or leaves out one of
/// `local`'s own entries without a write over it. An honest server never sends either;
/// merging would silently lose one of the two edits (§6a).
fn reused_by_another_copy(local: &RecordState, pulled: &RecordState, me: ReplicaId) -> bool {
    if pulled.is_erased() {
        return false;
    }
    if sync_protocol::reused_dot(pulled, Some(local), me).is_some() {
        return true;
    }
    matches!(
        sync_protocol::merge_checked(local, pulled),
        Err(MergeRefused::Dropped(dropped)) if dropped.dot.replica == me
    )
}

/// One state of a pulled page, read on its own.
#[derive(Debug)]
pub(crate) enum Pulled {
    /// A valid state.
    State(RecordState),
    /// A state that breaks §2, kept as received.
    Invalid {
        /// Its id, when that reads.
        id: Option<RecordId>,
        /// Its kind, when that reads.
        kind: Option<String>,
        /// The state as received.
        text: String,
        /// The rule it breaks.
        error: ValidationError,
    },
}

impl Pulled {
    /// Reads one state of a page, checking every rule of §2.
    pub(crate) fn read(value: &Value) -> Self {
        match RecordState::from_value(value) {
            Ok(state) => Self::State(state),
            Err(error) => Self::Invalid {
                id: value
                    .get("id")
                    .and_then(Value::as_str)
                    .and_then(|text| text.parse().ok()),
                kind: value
                    .get("kind")
                    .and_then(Value::as_str)
                    .and_then(|text| text.parse::<Kind>().ok())
                    .map(|kind| kind.to_string()),
                text: value.to_string(),
                error,
            },
        }
    }
}
