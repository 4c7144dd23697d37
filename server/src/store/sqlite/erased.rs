//! Table `erased` (the macs of the organisation's erased ids, see
//! [`crate::store::erased`]) and the sealing of tombstones.

use std::collections::HashSet;

use rusqlite::{Connection, params, params_from_iter};

use crate::store::audit::record_mac_bytes;
use crate::store::{Mac, OrgId, StoreError, parse_stored};

/// How many macs one look-up sends at most: far below SQLite's limit on parameters, and
/// above what one push names in practice, so a push looks up in one query.
const LOOKUP_CHUNK: usize = 4000;

fn mac_of(bytes: Vec<u8>) -> Result<Mac, StoreError> {
    bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt("an erased mac is not 32 bytes".into()))
}

/// Which of `macs` the organisation erased.
pub(super) fn lookup(
    conn: &Connection,
    org: OrgId,
    macs: &[Mac],
) -> Result<HashSet<Mac>, StoreError> {
    let mut found = HashSet::new();
    for chunk in macs.chunks(LOOKUP_CHUNK) {
        let marks = (2..chunk.len() + 2)
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut stmt = conn.prepare(&format!(
            "SELECT mac FROM erased WHERE org_id = ?1 AND mac IN ({marks})"
        ))?;
        let values = std::iter::once(rusqlite::types::Value::Integer(org)).chain(
            chunk
                .iter()
                .map(|m| rusqlite::types::Value::Blob(m.to_vec())),
        );
        let rows = stmt.query_map(params_from_iter(values), |r| r.get::<_, Vec<u8>>(0))?;
        for row in rows {
            found.insert(mac_of(row?)?);
        }
    }
    Ok(found)
}

/// Every mac the organisation erased.
pub(super) fn all(conn: &Connection, org: OrgId) -> Result<HashSet<Mac>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT mac FROM erased WHERE org_id = ?1")?;
    let rows = stmt.query_map([org], |r| r.get::<_, Vec<u8>>(0))?;
    rows.map(|row| mac_of(row?)).collect()
}

/// Keeps `mac` as erased; answers whether it is new.
pub(super) fn insert(
    conn: &Connection,
    org: OrgId,
    mac: &Mac,
    at: i64,
) -> Result<bool, StoreError> {
    let inserted = conn
        .prepare_cached("INSERT OR IGNORE INTO erased (org_id, mac, at) VALUES (?1, ?2, ?3)")?
        .execute(params![org, &mac[..], at])?;
    Ok(inserted > 0)
}

/// Deletes the organisation's tombstones that every device in service (neither revoked
/// nor retired) confirmed; answers how many.
pub(super) fn seal(conn: &Connection, org: OrgId) -> Result<usize, StoreError> {
    Ok(conn
        .prepare_cached(
            "DELETE FROM records WHERE org_id = ?1 AND erased = 1 AND seq <= (
                 SELECT min(confirmed) FROM devices
                 WHERE org_id = ?1 AND revoked = 0 AND retired = 0)",
        )?
        .execute([org])?)
}

/// Gives every erased row its mac in `erased` (rows erased before the table existed).
pub(super) fn fill(conn: &Connection) -> Result<(), StoreError> {
    let rows: Vec<(OrgId, String, Option<Vec<u8>>)> = conn
        .prepare(
            "SELECT records.org_id, records.state, orgs.audit_key
             FROM records JOIN orgs ON orgs.id = records.org_id WHERE records.erased = 1",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let now = crate::store::unix_now();
    for (org, state, key) in rows {
        let key = crate::store::audit::parse_key(key)?;
        let id = parse_stored(&state)?.id();
        insert(conn, org, &record_mac_bytes(&key, id), now)?;
    }
    Ok(())
}
