//! Reading and writing record states: the `records` table, and the local edits of
//! SYNC-PROTOCOL.md §3 and §5 (create, edit, delete, restore, resolve), each one dot in
//! one transaction that also updates the derived tables.

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;
use sync_protocol::{RecordId, RecordState, Timestamp};
use tracing::info_span;

use crate::check::{self, Mode};
use crate::derive;
use crate::erasure;
use crate::error::{Error, Result};
use crate::kinds::Record;
use crate::store::{CaseFile, get_meta, set_meta};

/// Reads the state of `id`, if the case file holds it.
pub(crate) fn load(conn: &Connection, id: RecordId) -> Result<Option<RecordState>> {
    let text: Option<String> = conn
        .prepare_cached("SELECT state FROM records WHERE id = ?1")?
        .query_row([id.to_string()], |r| r.get(0))
        .optional()?;
    text.map(|t| RecordState::from_json(&t).map_err(Error::from))
        .transpose()
}

/// Reads the states of `ids`, in that order, skipping ids the case file lacks.
pub(crate) fn load_many(conn: &Connection, ids: &[String]) -> Result<Vec<RecordState>> {
    let mut stmt = conn.prepare_cached("SELECT state FROM records WHERE id = ?1")?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let text: Option<String> = stmt.query_row([id], |r| r.get(0)).optional()?;
        if let Some(text) = text {
            out.push(RecordState::from_json(&text)?);
        }
    }
    Ok(out)
}

/// Writes `state` and its derived rows. A local edit passes `local = true`: the record
/// takes the next local change sequence, which the push cursor follows. `fresh` says the
/// case file did not hold the record before. An erased state is never written: the
/// record and its traces are deleted instead ([`crate::erasure`]).
pub(crate) fn save(conn: &Connection, state: &RecordState, local: bool, fresh: bool) -> Result<()> {
    if state.is_erased() {
        erasure::wipe(conn, state.id())?;
        return Ok(());
    }
    let seq: Option<i64> = if local {
        let next = get_meta::<i64>(conn, "change_seq")?.unwrap_or(0) + 1;
        set_meta(conn, "change_seq", &next)?;
        Some(next)
    } else {
        None
    };
    conn.prepare_cached(
        "INSERT INTO records (id, kind, state, deleted, erased, conflicted, change_seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (id) DO UPDATE SET state = excluded.state, deleted = excluded.deleted,
           erased = excluded.erased, conflicted = excluded.conflicted,
           change_seq = coalesce(excluded.change_seq, records.change_seq)",
    )?
    .execute(params![
        state.id().to_string(),
        state.kind().as_str(),
        state.to_json(),
        state.is_deleted(),
        state.is_erased(),
        !state.conflicts().is_empty(),
        seq
    ])?;
    derive::index(conn, state, fresh)
}

/// The wall clock, as the protocol writes it.
pub(crate) fn now() -> Timestamp {
    Timestamp::now()
}

/// A new record id: a UUID v7, time-ordered.
pub(crate) fn new_id() -> Result<RecordId> {
    uuid::Uuid::now_v7()
        .to_string()
        .parse()
        .map_err(|_| Error::invalid("id", "a lowercase UUID"))
}

impl CaseFile {
    /// Creates a record of `kind` with `fields` (one local edit). Values are checked
    /// against the kind's schema; null values are left out; defaults are added.
    ///
    /// Errors: [`Error::Invalid`] naming the first field that does not fit (or `kind`).
    pub fn create(&mut self, kind: &str, fields: Vec<(String, Value)>) -> Result<RecordId> {
        let _span = info_span!("casefile.create", kind).entered();
        let replica = self.replica_id();
        self.write(|tx| create_in(tx, replica, kind, fields))
    }

    /// Creates a record from its typed form (one local edit).
    pub fn add<R: Record>(&mut self, record: &R) -> Result<RecordId> {
        self.create(R::KIND, typed_fields(record)?)
    }

    /// Changes fields of a record (one local edit). A null value clears a field.
    ///
    /// Errors: [`Error::NotFound`], [`Error::Deleted`] (restore first), [`Error::Invalid`].
    pub fn edit(&mut self, id: RecordId, changes: Vec<(String, Value)>) -> Result<()> {
        let _span = info_span!("casefile.edit", %id).entered();
        let replica = self.replica_id();
        self.write(|tx| edit_in(tx, replica, id, changes))
    }

    /// Deletes a record (one local edit). On a record deleted while edited elsewhere, it
    /// confirms the deletion.
    pub fn delete(&mut self, id: RecordId) -> Result<()> {
        let _span = info_span!("casefile.delete", %id).entered();
        let replica = self.replica_id();
        self.write(|tx| {
            refuse_merged(tx, id)?;
            let mut state = load(tx, id)?.ok_or(Error::NotFound(id))?;
            state.delete(replica, now())?;
            save(tx, &state, true, false)
        })
    }

    /// Restores a deleted record (one local edit); on a record deleted while edited
    /// elsewhere, it keeps the edits.
    pub fn restore(&mut self, id: RecordId) -> Result<()> {
        let _span = info_span!("casefile.restore", %id).entered();
        let replica = self.replica_id();
        self.write(|tx| {
            refuse_merged(tx, id)?;
            let mut state = load(tx, id)?.ok_or(Error::NotFound(id))?;
            state.restore(replica, now())?;
            save(tx, &state, true, false)
        })
    }

    /// Resolves a conflict on `field`: the chosen or new `value` supersedes every entry
    /// (an ordinary edit of one field). Checked like any edit.
    pub fn resolve(&mut self, id: RecordId, field: &str, value: Value) -> Result<()> {
        let _span = info_span!("casefile.resolve", %id, field).entered();
        let replica = self.replica_id();
        self.write(|tx| {
            let mut state = load(tx, id)?.ok_or(Error::NotFound(id))?;
            if state.is_erased() {
                return Err(Error::NotFound(id));
            }
            refuse_merged(tx, id)?;
            let spec = check::known_kind(state.kind().as_str())?;
            let mut fields = check::changes(
                tx,
                spec,
                vec![(field.to_owned(), value)],
                Mode::Edit,
                Some(id),
            )?;
            let (name, value) = fields
                .pop()
                .ok_or_else(|| Error::invalid(field, "a value"))?;
            state.resolve(replica, now(), name, value)?;
            save(tx, &state, true, false)
        })
    }

    /// The state of a record, as SYNC-PROTOCOL.md §2 writes it.
    ///
    /// Errors: [`Error::NotFound`], also for an erased record (the case file no longer
    /// holds it).
    pub fn get(&self, id: RecordId) -> Result<RecordState> {
        match load(&self.conn, id)? {
            Some(state) if !state.is_erased() => Ok(state),
            _ => Err(Error::NotFound(id)),
        }
    }

    /// A record in its typed form: each field's value, or in a conflict its most recent
    /// entry. Errors: [`Error::Invalid`] when the record is another kind or a value does
    /// not read as the type (a record written by another version).
    pub fn get_typed<R: Record>(&self, id: RecordId) -> Result<R> {
        let state = self.get(id)?;
        typed(&state)
    }

    /// Every record of `kind` that is neither deleted nor erased, in id (creation) order;
    /// persons merged into another are left out (they are read as the file that stays).
    pub fn list(&self, kind: &str) -> Result<Vec<RecordState>> {
        let _span = info_span!("casefile.list", kind).entered();
        // A person merged into another is read as that one: not listed.
        let mut stmt = self.conn.prepare_cached(
            "SELECT state FROM records WHERE kind = ?1 AND deleted = 0 AND erased = 0
               AND NOT EXISTS (SELECT 1 FROM person_survivor s WHERE s.id = records.id)
             ORDER BY id",
        )?;
        let rows = stmt.query_map([kind], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for text in rows {
            out.push(RecordState::from_json(&text?)?);
        }
        Ok(out)
    }
}

pub(crate) fn create_in(
    tx: &Connection,
    replica: sync_protocol::ReplicaId,
    kind: &str,
    fields: Vec<(String, Value)>,
) -> Result<RecordId> {
    let spec = check::known_kind(kind)?;
    let fields = check::changes(tx, spec, fields, Mode::Create, None)?;
    let id = new_id()?;
    let kind = kind
        .parse()
        .map_err(|_| Error::invalid("kind", "a known kind"))?;
    let state = RecordState::create(id, kind, replica, now(), fields)?;
    save(tx, &state, true, true)?;
    Ok(id)
}

pub(crate) fn edit_in(
    tx: &Connection,
    replica: sync_protocol::ReplicaId,
    id: RecordId,
    changes: Vec<(String, Value)>,
) -> Result<()> {
    let mut state = load(tx, id)?.ok_or(Error::NotFound(id))?;
    if state.is_erased() {
        return Err(Error::NotFound(id));
    }
    if state.is_deleted() {
        return Err(Error::Deleted(id));
    }
    refuse_merged(tx, id)?;
    let spec = check::known_kind(state.kind().as_str())?;
    let fields = check::changes(tx, spec, changes, Mode::Edit, Some(id))?;
    state.edit(replica, now(), fields)?;
    save(tx, &state, true, false)
}

/// Refuses a change of a person merged into another: its file is read as the one that
/// stays, which takes the changes.
fn refuse_merged(conn: &Connection, id: RecordId) -> Result<()> {
    if crate::duplicates::survivor(conn, id)? != id {
        return Err(Error::invalid(
            "id",
            "a person not merged into another: change the file that stays",
        ));
    }
    Ok(())
}

/// The fields of a typed record, as (name, value) pairs.
pub(crate) fn typed_fields<R: Record>(record: &R) -> Result<Vec<(String, Value)>> {
    match serde_json::to_value(record) {
        Ok(Value::Object(map)) => Ok(map.into_iter().collect()),
        _ => Err(Error::invalid("record", "a record of named fields")),
    }
}

/// The typed form of a state.
pub(crate) fn typed<R: Record>(state: &RecordState) -> Result<R> {
    if state.kind().as_str() != R::KIND {
        return Err(Error::invalid("kind", R::KIND));
    }
    let map: serde_json::Map<String, Value> = state
        .fields()
        .filter(|(name, _)| !name.as_str().starts_with('_'))
        .filter_map(|(name, entries)| derive::shown(entries).map(|v| (name.to_string(), v.clone())))
        .collect();
    serde_json::from_value(Value::Object(map))
        .map_err(|_| Error::invalid(R::KIND, "values of the types of this version's schema"))
}
