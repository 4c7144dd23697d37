//! What the sync client needs of the case file: the states to push, the push cursor, and
//! applying a pulled page (merge, derived tables and checkpoint in one transaction).
//!
//! Every local edit gives its record the next *local change sequence*. The push cursor is
//! the highest sequence the server has acknowledged: the states to push are those whose
//! sequence is above it. A record edited again while a push is in flight gets a higher
//! sequence, so it is pushed again.

use rusqlite::params;
use sync_protocol::{RecordState, merge};
use tracing::info_span;

use crate::error::Result;
use crate::records::{load, save};
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
    /// Records erased by the server, whose local traces were wiped.
    pub erased: usize,
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

    /// Every record state held, erased ones included, in id order: what two replicas
    /// compare to know they have converged.
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
    /// updates the derived tables, wipes every local trace of erased records, and moves
    /// the checkpoint to `next`. Nothing of it is applied when any of it fails.
    pub fn apply_pulled(&mut self, page: &[RecordState], next: u64) -> Result<Applied> {
        let _span = info_span!("casefile.apply_pulled", records = page.len(), next).entered();
        let applied = self.write(|tx| {
            let mut applied = Applied::default();
            for pulled in page {
                let local = load(tx, pulled.id())?;
                let fresh = local.is_none();
                let merged = match local {
                    Some(local) => {
                        let merged = merge(&local, pulled)?;
                        if merged == local {
                            continue;
                        }
                        merged
                    }
                    None => pulled.clone(),
                };
                if merged.is_erased() {
                    applied.erased += 1;
                }
                save(tx, &merged, false, fresh)?;
                applied.changed += 1;
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
