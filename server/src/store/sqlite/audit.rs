//! Table `audit` (append-only, see [`crate::store::audit`]) and the organisations'
//! audit keys.

use rusqlite::{Connection, params};

use crate::store::audit::{self, AuditKey, Entry, Filter, PAGE_ROWS, Stored};
use crate::store::{OrgId, StoreError, unix_now};

/// The organisation's audit key.
pub(super) fn key(conn: &Connection, org: OrgId) -> Result<AuditKey, StoreError> {
    let bytes: Option<Vec<u8>> = conn
        .prepare_cached("SELECT audit_key FROM orgs WHERE id = ?1")?
        .query_row([org], |r| r.get(0))?;
    audit::parse_key(bytes)
}

/// Gives an audit key to every organisation that lacks one (those made before the audit).
pub(super) fn fill_keys(conn: &Connection) -> Result<(), StoreError> {
    let orgs: Vec<OrgId> = conn
        .prepare("SELECT id FROM orgs WHERE audit_key IS NULL")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for org in orgs {
        conn.execute(
            "UPDATE orgs SET audit_key = ?2 WHERE id = ?1",
            params![org, &audit::new_key()[..]],
        )?;
    }
    Ok(())
}

/// Appends events of the organisation, now. Called inside the transaction of what they
/// tell.
pub(super) fn note(conn: &Connection, org: OrgId, entries: &[Entry]) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    let key = key(conn, org)?;
    let now = unix_now();
    let mut insert = conn.prepare_cached(
        "INSERT INTO audit (org_id, at, event, device, user_id, record, vv, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for entry in entries {
        let row = entry.row(&key, now);
        insert.execute(params![
            org, row.at, row.event, row.device, row.user, row.record, row.vv, row.detail
        ])?;
    }
    Ok(())
}

/// A page of the organisation's rows, oldest first.
pub(super) fn read(
    conn: &Connection,
    org: OrgId,
    filter: &Filter,
) -> Result<Vec<Stored>, StoreError> {
    let record = match filter.record {
        Some(id) => Some(audit::record_mac(&key(conn, org)?, id)),
        None => None,
    };
    let mut stmt = conn.prepare_cached(
        "SELECT id, at, event, device, user_id, record, vv, detail FROM audit
         WHERE org_id = ?1 AND id > ?2 AND (?3 IS NULL OR record = ?3)
           AND (?4 IS NULL OR at >= ?4)
         ORDER BY id LIMIT ?5",
    )?;
    let rows = stmt.query_map(
        params![org, filter.after, record, filter.since, PAGE_ROWS],
        |r| {
            Ok(Stored {
                id: r.get(0)?,
                at: r.get(1)?,
                event: r.get(2)?,
                device: r.get(3)?,
                user: r.get(4)?,
                record: r.get(5)?,
                vv: r.get(6)?,
                detail: r.get(7)?,
            })
        },
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}
