//! Table `erasures`: when each erasure over HTTP happened, for the hourly cap.

use rusqlite::{Connection, params};

use crate::store::{OrgId, StoreError};

/// The times (seconds since 1970) of the organisation's erasures since `since`, oldest
/// first.
pub(super) fn since(conn: &Connection, org: OrgId, since: i64) -> Result<Vec<i64>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT at FROM erasures WHERE org_id = ?1 AND at > ?2 ORDER BY at")?;
    let rows = stmt.query_map(params![org, since], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Notes an erasure at `at`, and forgets those older than a day.
pub(super) fn note(conn: &Connection, org: OrgId, at: i64) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM erasures WHERE org_id = ?1 AND at < ?2")?
        .execute(params![org, at - 86_400])?;
    conn.prepare_cached("INSERT INTO erasures (org_id, at) VALUES (?1, ?2)")?
        .execute(params![org, at])?;
    Ok(())
}
