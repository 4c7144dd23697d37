//! The device's half of SYNC-PROTOCOL.md §6a: a server restored from a backup, and a case
//! file restored from a copy.
//!
//! ## Sending everything again
//! The server's database has an **epoch**, named by enrolment and by every push and pull
//! answer; the case file keeps the last one (setting `sync.epoch`). When an answer names
//! another, or a pull is answered 409 `checkpoint_ahead`, the server has forgotten part
//! of its conversation with this device, and the device sends everything again:
//! [`send_everything_again`] sets, in one transaction, the push cursor and the pull
//! checkpoint to 0, so that the ordinary sync pushes every record and pulls from 0. It is
//! just the ordinary cursors, so a sync cut during the re-send resumes where it stopped.
//!
//! The push cursor follows the *local change sequence* of local edits; a record pulled
//! and never edited here has none. The restored server may have lost it all the same, so
//! the reset numbers those records above the last sequence: every record that is not
//! erased is then pushed.
//!
//! ## What the server acknowledged
//! Each push of new changes declares `through`, the highest local change sequence it
//! covers; the case file keeps the highest one the server acknowledged (`push_acked`),
//! and each pull declares it as `pushed`, when the push of that sync ended without error
//! (after a failed push, an answer lost on the way could leave it below what the server
//! acknowledged). It is not the push cursor: the cursor also moves past records the
//! server refused or that are too large to send, which the server never acknowledged.
//!
//! ## Re-keying
//! A pull or push answered 409 `replica_reused` means this case file was put back from an
//! older copy (or copied and used on two machines): its replica id gave some dots to two
//! edits. The device takes a new replica id (`POST /v1/devices/rekey`) and keeps at once,
//! in one transaction, the new id, the new token, and the predecessor as the marker of a
//! re-key under way. Then, before it merges anything, it re-dots
//! ([`sync_protocol::redot`]): it pulls every page from 0, re-dotting each local record
//! against the server's copy, then every local record the server did not send. The
//! records done are listed in `rekey_done`, and the pages walked in `meta`, so a re-key
//! cut halfway resumes where it stopped. The last transaction clears the marker and sets
//! everything to be sent again; the ordinary sync follows.
//!
//! Should the server refuse the new id too before the re-dotting ends (another copy of
//! the file re-keyed it), the next re-key re-dots from both predecessors: the new id's
//! edits were never pushed, so they all move to the newest id.

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;
use sync_protocol::{Epoch, RecordId, RecordState, ReplicaId, redot};
use tracing::{info, info_span};

use crate::client::{SETTING_EPOCH, SETTING_TOKEN};
use crate::error::Result;
use crate::records::{load, save};
use crate::store::{
    CaseFile, clear_meta, clear_setting, get_meta, get_setting, set_meta, set_setting,
};

/// `meta`: the highest `through` the server acknowledged.
const PUSH_ACKED: &str = "push_acked";
/// `meta`: the replica ids this case file had before a re-key under way, oldest first,
/// separated by spaces; absent when none is under way.
const REKEY_PREDECESSOR: &str = "rekey.predecessor";
/// `meta`: the server sequence the re-dotting pulls from next.
const REKEY_SINCE: &str = "rekey.since";
/// Records re-dotted per transaction once the server's pages are done.
const REDOT_CHUNK: usize = 500;

/// The epoch the case file keeps, if any.
pub(crate) fn kept_epoch(conn: &Connection) -> Result<Option<Epoch>> {
    Ok(get_setting(conn, SETTING_EPOCH)?.and_then(|text| text.parse().ok()))
}

/// The server answered with `epoch`: keeps it. When another was kept, sets everything to
/// be sent again ([`send_everything_again`]) in the same transaction, and answers `true`.
pub(crate) fn note_epoch(conn: &Connection, epoch: Epoch) -> Result<bool> {
    match kept_epoch(conn)? {
        Some(kept) if kept == epoch => Ok(false),
        None => {
            set_setting(conn, SETTING_EPOCH, &epoch.to_string())?;
            Ok(false)
        }
        Some(kept) => {
            info!(%kept, %epoch, "the server names another epoch: sending everything again");
            send_everything_again(conn, Some(epoch))?;
            Ok(true)
        }
    }
}

/// Sets everything to be sent again, within the caller's transaction: the push cursor,
/// the pull checkpoint and what the server acknowledged go to 0, and every record that
/// is not erased and has no local change sequence (pulled, never edited here) takes one
/// above the last, so that the push sends it. Keeps `epoch` as the server's; `None`
/// forgets the one kept, so that the next answer's is taken as it comes (after a 409
/// `checkpoint_ahead`, which names none, it must not set everything to be sent again a
/// second time).
pub(crate) fn send_everything_again(conn: &Connection, epoch: Option<Epoch>) -> Result<()> {
    let last = get_meta::<i64>(conn, "change_seq")?.unwrap_or(0);
    let numbered = conn
        .prepare_cached(
            "UPDATE records SET change_seq = numbered.seq
             FROM (SELECT id, ?1 + row_number() OVER (ORDER BY id) AS seq
                   FROM records WHERE change_seq IS NULL AND erased = 0) AS numbered
             WHERE records.id = numbered.id",
        )?
        .execute([last])?;
    set_meta(conn, "change_seq", &(last + numbered as i64))?;
    set_meta(conn, "push_cursor", &0)?;
    set_meta(conn, "pull_checkpoint", &0)?;
    set_meta(conn, PUSH_ACKED, &0)?;
    // The restored server may lack documents it had: ask about each again.
    crate::attachments::ask_again(conn)?;
    match epoch {
        Some(epoch) => set_setting(conn, SETTING_EPOCH, &epoch.to_string()),
        None => clear_setting(conn, SETTING_EPOCH),
    }
}

/// The highest `through` the server acknowledged.
pub(crate) fn push_acked(conn: &Connection) -> Result<u64> {
    Ok(get_meta::<i64>(conn, PUSH_ACKED)?.unwrap_or(0).max(0) as u64)
}

/// The server acknowledged a push declaring `through`; never moves back.
pub(crate) fn acknowledged_through(conn: &Connection, through: u64) -> Result<()> {
    let current = get_meta::<i64>(conn, PUSH_ACKED)?.unwrap_or(0);
    let through = i64::try_from(through).unwrap_or(i64::MAX);
    set_meta(conn, PUSH_ACKED, &current.max(through))
}

impl CaseFile {
    /// The predecessors of a re-key under way, oldest first; empty when none is.
    pub(crate) fn rekeying(&self) -> Result<Vec<ReplicaId>> {
        predecessors(&self.conn)
    }

    /// The server sequence the re-dotting pulls from next.
    pub(crate) fn rekey_since(&self) -> Result<u64> {
        Ok(get_meta::<i64>(&self.conn, REKEY_SINCE)?
            .unwrap_or(0)
            .max(0) as u64)
    }

    /// Takes the new replica id `new` and its token, in one transaction with the marker of
    /// a re-key under way: the predecessor, this case file's id until now, added to those
    /// of a re-key that did not end (its records are re-dotted again, from all of them).
    pub(crate) fn begin_rekey(&mut self, new: ReplicaId, token: &str, epoch: Epoch) -> Result<()> {
        let predecessor = self.replica_id();
        self.write(|tx| {
            let mut olds = predecessors(tx)?;
            olds.push(predecessor);
            let text: Vec<String> = olds.iter().map(ToString::to_string).collect();
            set_meta(tx, REKEY_PREDECESSOR, &text.join(" "))?;
            set_meta(tx, REKEY_SINCE, &0)?;
            tx.execute("DELETE FROM rekey_done", [])?;
            set_meta(tx, "replica_id", &new.to_string())?;
            set_setting(tx, SETTING_TOKEN, token)?;
            set_setting(tx, SETTING_EPOCH, &epoch.to_string())?;
            Ok(())
        })?;
        self.adopt_replica_id(new);
        info!(%predecessor, %new, "re-keyed: a new replica id");
        Ok(())
    }

    /// Re-dots, in one transaction, each local record of a page of the server's states
    /// against the server's copy, and moves the re-dotting's checkpoint to `next`. States
    /// that do not read are passed over (their records are re-dotted with no server copy
    /// at the end). Answers how many records changed.
    pub(crate) fn redot_page(
        &mut self,
        olds: &[ReplicaId],
        page: &[Value],
        next: u64,
    ) -> Result<usize> {
        let _span = info_span!("casefile.redot_page", records = page.len(), next).entered();
        let new = self.replica_id();
        self.write(|tx| {
            let mut changed = 0;
            for value in page {
                let Ok(server) = RecordState::from_value(value) else {
                    continue;
                };
                changed += usize::from(redot_one(tx, server.id(), Some(&server), olds, new)?);
            }
            set_meta(tx, REKEY_SINCE, &i64::try_from(next).unwrap_or(i64::MAX))?;
            Ok(changed)
        })
    }

    /// Re-dots up to `limit` local records that the re-dotting has not reached, as the
    /// server lacks them, in one transaction. Answers how many were reached: 0 when none
    /// is left.
    pub(crate) fn redot_rest(&mut self, olds: &[ReplicaId], limit: usize) -> Result<usize> {
        let _span = info_span!("casefile.redot_rest").entered();
        let new = self.replica_id();
        self.write(|tx| {
            let ids: Vec<String> = tx
                .prepare_cached(
                    "SELECT id FROM records WHERE erased = 0
                       AND id NOT IN (SELECT id FROM rekey_done)
                     ORDER BY id LIMIT ?1",
                )?
                .query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            for id in &ids {
                match id.parse::<RecordId>() {
                    Ok(id) => {
                        redot_one(tx, id, None, olds, new)?;
                    }
                    // Never written by this crate; listed so the walk ends.
                    Err(_) => mark_done(tx, id)?,
                }
            }
            Ok(ids.len())
        })
    }

    /// Re-dots every local record the server did not send, then ends the re-key: in one
    /// transaction the marker goes, and everything is set to be sent again.
    pub(crate) fn finish_rekey(&mut self, olds: &[ReplicaId]) -> Result<()> {
        while self.redot_rest(olds, REDOT_CHUNK)? > 0 {}
        self.write(|tx| {
            clear_meta(tx, REKEY_PREDECESSOR)?;
            clear_meta(tx, REKEY_SINCE)?;
            tx.execute("DELETE FROM rekey_done", [])?;
            let epoch = kept_epoch(tx)?;
            send_everything_again(tx, epoch)
        })?;
        info!("re-dotting done: sending everything again");
        Ok(())
    }
}

/// The predecessors of a re-key under way, oldest first.
fn predecessors(conn: &Connection) -> Result<Vec<ReplicaId>> {
    Ok(get_meta::<String>(conn, REKEY_PREDECESSOR)?
        .map(|text| text.split(' ').filter_map(|id| id.parse().ok()).collect())
        .unwrap_or_default())
}

/// Re-dots the local record `id` against `server` (its server copy, if any), from each
/// of `olds` to `new`, once: a record already re-dotted by this re-key is left alone.
/// Answers whether it changed.
fn redot_one(
    tx: &Connection,
    id: RecordId,
    server: Option<&RecordState>,
    olds: &[ReplicaId],
    new: ReplicaId,
) -> Result<bool> {
    let done: Option<i64> = tx
        .prepare_cached("SELECT 1 FROM rekey_done WHERE id = ?1")?
        .query_row([id.to_string()], |r| r.get(0))
        .optional()?;
    if done.is_some() {
        return Ok(false);
    }
    let Some(local) = load(tx, id)? else {
        // The server's record is new here: the ordinary pull brings it.
        return Ok(false);
    };
    mark_done(tx, &id.to_string())?;
    let redotted = olds
        .iter()
        .fold(local.clone(), |state, &old| redot(&state, server, old, new));
    if redotted == local {
        return Ok(false);
    }
    save(tx, &redotted, true, false)?;
    Ok(true)
}

/// Forgets that the record `id` was re-dotted: it was erased, and its id may not stay.
/// A re-key under way has nothing left to re-dot in it.
pub(crate) fn forget_redotted(conn: &Connection, id: RecordId) -> Result<()> {
    conn.prepare_cached("DELETE FROM rekey_done WHERE id = ?1")?
        .execute([id.to_string()])?;
    Ok(())
}

fn mark_done(tx: &Connection, id: &str) -> Result<()> {
    tx.prepare_cached("INSERT OR IGNORE INTO rekey_done (id) VALUES (?1)")?
        .execute(params![id])?;
    Ok(())
}
