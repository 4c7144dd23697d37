//! Records set aside by the sync (table `set_aside`): what the sync keeps out rather than
//! let one record stop it (SYNC-PROTOCOL.md §6).
//!
//! Two sides, one row each at most per record:
//! - **push**: the local state, refused by the server, held by it, or too large for one
//!   request. The state stays in `records`; the sync sends it again each time, and the
//!   row goes when the server accepts it.
//! - **pull**: a state the server sent that could not be merged here (another kind under
//!   a local record's id, or a state that breaks §2), kept as received beside the local
//!   copy for a person to decide. An erasure of the record removes it with the rest.
//!
//! An erased record leaves no row on either side ([`crate::erasure`]).
//!
//! Every message is a sentence with ids, kinds and field names, never a record's values.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use sync_protocol::{RecordId, RecordState, merge};

use crate::error::Result;
use crate::records::now;
use crate::store::CaseFile;

/// Why a pulled state of another kind than the local copy was set aside.
pub(crate) const KIND_CLASH: &str = "kind_clash";
/// Why a pulled state that breaks §2 was set aside, or the server's refusal of one.
pub(crate) const INVALID_RECORD: &str = "invalid_record";
/// Why a state holding an edit over the size cap of §2 was set aside.
pub(crate) const RECORD_TOO_LARGE: &str = "record_too_large";
/// Why a record larger than one request may carry was set aside without being sent.
pub(crate) const TOO_LARGE: &str = "too_large";
/// Why a record the server holds apart (§6a) is listed.
pub(crate) const HELD: &str = "held";

/// One record kept out of the sync, as `passerelle-cli set-aside` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SetAside {
    /// The record; `None` for a pulled state whose id could not be read.
    pub id: Option<RecordId>,
    /// The kind of the state set aside (for a kind clash, the server's), when readable.
    pub kind: Option<String>,
    /// Why, as a code: the server's refusal (`forged_dot`, `dropped_entry`,
    /// `invalid_record`, `record_too_large`…), or `kind_clash`, `too_large`, `held`.
    pub why: String,
    /// A sentence a person can act on.
    pub message: String,
}

/// Which copy of a record is set aside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// The local state, to send again.
    Push,
    /// A pulled state kept beside the local copy.
    Pull,
}

impl Side {
    fn as_str(self) -> &'static str {
        match self {
            Self::Push => "push",
            Self::Pull => "pull",
        }
    }
}

/// Sets the local state of `id` aside (or says why again), to be sent at the next sync.
pub(crate) fn set_aside_local(
    conn: &Connection,
    id: RecordId,
    kind: &str,
    why: &str,
    message: &str,
) -> Result<()> {
    upsert(conn, Some(id), Side::Push, Some(kind), why, message, None)
}

/// The record `id` was accepted by the server: it is no longer set aside for sending.
pub(crate) fn accepted(conn: &Connection, id: RecordId) -> Result<()> {
    conn.prepare_cached("DELETE FROM set_aside WHERE id = ?1 AND side = 'push'")?
        .execute([id.to_string()])?;
    Ok(())
}

/// Forgets every row of `id`: the record was erased, and no trace of it may stay (not
/// even its id).
pub(crate) fn forget(conn: &Connection, id: RecordId) -> Result<()> {
    conn.prepare_cached("DELETE FROM set_aside WHERE id = ?1")?
        .execute([id.to_string()])?;
    Ok(())
}

/// Forgets the pulled state kept beside the local copy of `id`: the server erased that
/// record, and nothing of it may stay.
pub(crate) fn forget_pulled(conn: &Connection, id: RecordId) -> Result<()> {
    conn.prepare_cached("DELETE FROM set_aside WHERE id = ?1 AND side = 'pull'")?
        .execute([id.to_string()])?;
    Ok(())
}

/// A valid state of `id` was pulled and merged: a pulled state of it that broke §2 is
/// superseded. A kind clash stays, for a person to decide.
pub(crate) fn pulled_cleanly(conn: &Connection, id: RecordId) -> Result<()> {
    conn.prepare_cached("DELETE FROM set_aside WHERE id = ?1 AND side = 'pull' AND why <> ?2")?
        .execute(params![id.to_string(), KIND_CLASH])?;
    Ok(())
}

/// Keeps `pulled` beside `local`, whose kind differs: a record's kind never changes, so
/// the two cannot be merged. A later pulled state of the same kind merges into the one
/// kept.
pub(crate) fn keep_clash(
    conn: &Connection,
    local: &RecordState,
    pulled: &RecordState,
) -> Result<()> {
    let id = pulled.id();
    let kept = kept_state(conn, id)?;
    let state = match kept {
        Some(kept) if kept.kind() == pulled.kind() => merge(&kept, pulled)?,
        _ => pulled.clone(),
    };
    let message = format!(
        "the server holds a {} under the id of this case file's {} {id}: a record's kind \
         never changes, so the two are kept apart, unmerged; report it to your IT person",
        pulled.kind(),
        local.kind(),
    );
    upsert(
        conn,
        Some(id),
        Side::Pull,
        Some(pulled.kind().as_str()),
        KIND_CLASH,
        &message,
        Some(&state.to_json()),
    )
}

/// Keeps a pulled state that breaks §2 as received, named by its id when readable.
pub(crate) fn keep_invalid(
    conn: &Connection,
    id: Option<RecordId>,
    kind: Option<&str>,
    why: &str,
    message: &str,
    text: &str,
) -> Result<()> {
    upsert(conn, id, Side::Pull, kind, why, message, Some(text))
}

/// The pulled state kept for `id` after a kind clash, when it still reads.
fn kept_state(conn: &Connection, id: RecordId) -> Result<Option<RecordState>> {
    let text: Option<Option<String>> = conn
        .prepare_cached("SELECT state FROM set_aside WHERE id = ?1 AND side = 'pull' AND why = ?2")?
        .query_row(params![id.to_string(), KIND_CLASH], |r| r.get(0))
        .optional()?;
    Ok(text
        .flatten()
        .and_then(|text| RecordState::from_json(&text).ok()))
}

/// Writes the row of `id` on `side`, replacing the one it had, in one statement: a crash
/// leaves either row, never none. A row whose id could not be read keeps no state (it
/// could never be found again to erase) and replaces an identical earlier one, so pulling
/// the same page again adds nothing.
fn upsert(
    conn: &Connection,
    id: Option<RecordId>,
    side: Side,
    kind: Option<&str>,
    why: &str,
    message: &str,
    state: Option<&str>,
) -> Result<()> {
    let at = now();
    let Some(id) = id else {
        conn.prepare_cached(
            "DELETE FROM set_aside WHERE id IS NULL AND side = ?1 AND why = ?2 AND message = ?3",
        )?
        .execute(params![side.as_str(), why, message])?;
        conn.prepare_cached(
            "INSERT INTO set_aside (id, side, kind, why, message, state, at)
             VALUES (NULL, ?1, ?2, ?3, ?4, NULL, ?5)",
        )?
        .execute(params![side.as_str(), kind, why, message, at.as_str()])?;
        return Ok(());
    };
    conn.prepare_cached(
        "INSERT INTO set_aside (id, side, kind, why, message, state, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (id, side) DO UPDATE SET kind = excluded.kind, why = excluded.why,
           message = excluded.message, state = excluded.state, at = excluded.at",
    )?
    .execute(params![
        id.to_string(),
        side.as_str(),
        kind,
        why,
        message,
        state,
        at.as_str()
    ])?;
    Ok(())
}

impl CaseFile {
    /// The records kept out of the last syncs, one each, in id order (those whose id
    /// could not be read last). When both copies of a record are set aside, the pulled
    /// one says why: it is what a person must decide.
    pub fn set_aside(&self) -> Result<Vec<SetAside>> {
        let _span = tracing::info_span!("casefile.set_aside").entered();
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, kind, why, message FROM set_aside
             ORDER BY id IS NULL, id, side = 'push', rowid",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, Option<String>>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        let mut out: Vec<SetAside> = Vec::new();
        for row in rows {
            let (id, kind, why, message) = row?;
            let id = id.and_then(|text| text.parse::<RecordId>().ok());
            if id.is_some() && out.last().is_some_and(|last| last.id == id) {
                continue;
            }
            out.push(SetAside {
                id,
                kind,
                why,
                message,
            });
        }
        Ok(out)
    }

    /// The local records set aside for sending, with whether the server holds each apart
    /// (§6a): held ones first, each part in id order. What each sync sends again.
    pub(crate) fn set_aside_to_send(&self) -> Result<Vec<(RecordId, bool)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, why = ?1 FROM set_aside WHERE side = 'push' ORDER BY why = ?1 DESC, id",
        )?;
        let rows = stmt.query_map([HELD], |r| {
            Ok((r.get::<_, Option<String>>(0)?, r.get::<_, bool>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, held) = row?;
            if let Some(id) = id.and_then(|text| text.parse().ok()) {
                out.push((id, held));
            }
        }
        Ok(out)
    }

    /// The pulled state kept beside the local copy of `id` (a kind clash, or a state that
    /// broke §2), as received: for a person, or support, to decide what it should be.
    pub fn set_aside_state(&self, id: RecordId) -> Result<Option<String>> {
        let text: Option<Option<String>> = self
            .conn
            .prepare_cached("SELECT state FROM set_aside WHERE id = ?1 AND side = 'pull'")?
            .query_row([id.to_string()], |r| r.get(0))
            .optional()?;
        Ok(text.flatten())
    }
}
