//! Table `orgs`: organisations and their sequence counters.

use rusqlite::{Connection, OptionalExtension, params};

use super::{seq_of, seq_to_sql};
use crate::store::{OrgId, StoreError};

/// The organisation's id, created if new.
pub(super) fn ensure(conn: &Connection, name: &str) -> Result<OrgId, StoreError> {
    conn.execute(
        "INSERT INTO orgs (name, audit_key) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
        params![name, &crate::store::audit::new_key()[..]],
    )?;
    Ok(conn.query_row("SELECT id FROM orgs WHERE name = ?1", [name], |r| r.get(0))?)
}

/// Every organisation.
pub(super) fn all(conn: &Connection) -> Result<Vec<OrgId>, StoreError> {
    Ok(conn
        .prepare("SELECT id FROM orgs ORDER BY id")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?)
}

/// The organisation with this name.
pub(super) fn find(conn: &Connection, name: &str) -> Result<Option<OrgId>, StoreError> {
    Ok(conn
        .query_row("SELECT id FROM orgs WHERE name = ?1", [name], |r| r.get(0))
        .optional()?)
}

/// The organisation's highest sequence. Called inside a `BEGIN IMMEDIATE` transaction,
/// which holds SQLite's single write lock until it ends.
pub(super) fn last_seq(conn: &Connection, org: OrgId) -> Result<u64, StoreError> {
    let seq: i64 = conn.query_row("SELECT last_seq FROM orgs WHERE id = ?1", [org], |r| {
        r.get(0)
    })?;
    seq_of(seq)
}

/// Moves the organisation's counter to `seq`.
pub(super) fn set_last_seq(conn: &Connection, org: OrgId, seq: u64) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE orgs SET last_seq = ?2 WHERE id = ?1",
        params![org, seq_to_sql(seq)],
    )?;
    Ok(())
}
