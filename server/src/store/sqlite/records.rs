//! Table `records`: the server's copy of every record, per organisation.

use rusqlite::{Connection, OptionalExtension, params};
use sync_protocol::{RecordId, RecordState};

use super::{seq_of, seq_to_sql};
use crate::store::{OrgId, PulledRow, StoreError, parse_stored};

/// The stored copy of a record.
pub(super) fn get(
    conn: &Connection,
    org: OrgId,
    id: RecordId,
) -> Result<Option<RecordState>, StoreError> {
    let text: Option<String> = conn
        .prepare_cached("SELECT state FROM records WHERE org_id = ?1 AND id = ?2")?
        .query_row(params![org, id.to_string()], |r| r.get(0))
        .optional()?;
    text.as_deref().map(parse_stored).transpose()
}

/// Stores a state under sequence `seq`, noting the device whose push it is exactly.
pub(super) fn put(
    conn: &Connection,
    org: OrgId,
    seq: u64,
    state: &RecordState,
    pushed_by: Option<&str>,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO records (org_id, id, seq, kind, state, pushed_by, erased)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (org_id, id) DO UPDATE
         SET seq = excluded.seq, state = excluded.state, pushed_by = excluded.pushed_by,
             erased = excluded.erased",
    )?
    .execute(params![
        org,
        state.id().to_string(),
        seq_to_sql(seq),
        state.kind().as_str(),
        state.to_json(),
        pushed_by,
        state.is_erased()
    ])?;
    Ok(())
}

/// The live (not erased) records whose state holds the text `needle` (an id): a
/// prefilter, the caller reads the states.
pub(super) fn holding(
    conn: &Connection,
    org: OrgId,
    needle: &str,
) -> Result<Vec<RecordState>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT state FROM records WHERE org_id = ?1 AND erased = 0 AND instr(state, ?2) > 0
         ORDER BY seq",
    )?;
    let rows = stmt.query_map(params![org, needle], |r| r.get::<_, String>(0))?;
    rows.map(|text| parse_stored(&text?)).collect()
}

/// The live records of one kind.
pub(super) fn of_kind(
    conn: &Connection,
    org: OrgId,
    kind: &str,
) -> Result<Vec<RecordState>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT state FROM records WHERE org_id = ?1 AND kind = ?2 AND erased = 0 ORDER BY id",
    )?;
    let rows = stmt.query_map(params![org, kind], |r| r.get::<_, String>(0))?;
    rows.map(|text| parse_stored(&text?)).collect()
}

/// The ids of the live records.
pub(super) fn live_ids(conn: &Connection, org: OrgId) -> Result<Vec<RecordId>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT id FROM records WHERE org_id = ?1 AND erased = 0")?;
    let rows = stmt.query_map([org], |r| r.get::<_, String>(0))?;
    rows.map(|id| {
        id?.parse()
            .map_err(|_| StoreError::Corrupt("a stored record id is not a UUID".into()))
    })
    .collect()
}

/// Notes that `device` pushed exactly the stored state of a record (its sequence stays).
pub(super) fn note_pushed_by(
    conn: &Connection,
    org: OrgId,
    id: RecordId,
    device: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE records SET pushed_by = ?3
         WHERE org_id = ?1 AND id = ?2 AND pushed_by IS NOT ?3",
    )?
    .execute(params![org, id.to_string(), device])?;
    Ok(())
}

/// Up to `limit + 1` rows after `since`, in ascending sequence, stopping at the first row
/// past the first two whose preceding rows hold more than `max_bytes` of states (see
/// [`Store::pull_rows`](crate::store::Store::pull_rows)): the rows are read one by one,
/// so no more is read than the page may need.
pub(super) fn after(
    conn: &Connection,
    org: OrgId,
    since: u64,
    limit: u32,
    max_bytes: usize,
) -> Result<Vec<PulledRow>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, state, pushed_by FROM records
         WHERE org_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
    )?;
    let mut rows = stmt.query(params![org, seq_to_sql(since), i64::from(limit) + 1])?;
    let mut page = Vec::new();
    let mut bytes = 0usize;
    while let Some(row) = rows.next()? {
        if page.len() >= 2 && bytes > max_bytes {
            break;
        }
        let state: String = row.get(1)?;
        bytes = bytes.saturating_add(state.len());
        page.push(PulledRow {
            seq: seq_of(row.get(0)?)?,
            state,
            pushed_by: row.get(2)?,
        });
    }
    Ok(page)
}
