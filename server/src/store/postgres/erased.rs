//! Table `erased` (the macs of the organisation's erased ids, see
//! [`crate::store::erased`]) and the sealing of tombstones.

use std::collections::HashSet;

use deadpool_postgres::GenericClient;

use crate::store::audit::record_mac_bytes;
use crate::store::{Mac, OrgId, StoreError, parse_stored};

fn mac_of(bytes: Vec<u8>) -> Result<Mac, StoreError> {
    bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt("an erased mac is not 32 bytes".into()))
}

/// Which of `macs` the organisation erased, in one query.
pub(super) async fn lookup(
    db: &impl GenericClient,
    org: OrgId,
    macs: &[Mac],
) -> Result<HashSet<Mac>, StoreError> {
    if macs.is_empty() {
        return Ok(HashSet::new());
    }
    let macs: Vec<&[u8]> = macs.iter().map(|m| &m[..]).collect();
    db.query(
        "SELECT mac FROM erased WHERE org_id = $1 AND mac = ANY($2::bytea[])",
        &[&org, &macs],
    )
    .await?
    .into_iter()
    .map(|r| mac_of(r.get(0)))
    .collect()
}

/// Every mac the organisation erased.
pub(super) async fn all(db: &impl GenericClient, org: OrgId) -> Result<HashSet<Mac>, StoreError> {
    db.query("SELECT mac FROM erased WHERE org_id = $1", &[&org])
        .await?
        .into_iter()
        .map(|r| mac_of(r.get(0)))
        .collect()
}

/// Keeps `mac` as erased; answers whether it is new.
pub(super) async fn insert(
    db: &impl GenericClient,
    org: OrgId,
    mac: &Mac,
    at: i64,
) -> Result<bool, StoreError> {
    let mac: &[u8] = mac;
    let inserted = db
        .execute(
            "INSERT INTO erased (org_id, mac, at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            &[&org, &mac, &at],
        )
        .await?;
    Ok(inserted > 0)
}

/// Whether the organisation has tombstones that every device in service (neither revoked
/// nor retired) confirmed: read without a lock, so that most pulls take none.
pub(super) async fn sealable(db: &impl GenericClient, org: OrgId) -> Result<bool, StoreError> {
    Ok(db
        .query_opt(
            "SELECT 1 FROM records WHERE org_id = $1 AND erased AND seq <= (
                 SELECT min(confirmed) FROM devices
                 WHERE org_id = $1 AND NOT revoked AND NOT retired)
             LIMIT 1",
            &[&org],
        )
        .await?
        .is_some())
}

/// Deletes the organisation's tombstones that every device in service confirmed; the
/// caller holds the organisation's row lock. Answers how many.
pub(super) async fn seal(db: &impl GenericClient, org: OrgId) -> Result<u64, StoreError> {
    Ok(db
        .execute(
            "DELETE FROM records WHERE org_id = $1 AND erased AND seq <= (
                 SELECT min(confirmed) FROM devices
                 WHERE org_id = $1 AND NOT revoked AND NOT retired)",
            &[&org],
        )
        .await?)
}

/// Gives every erased row its mac in `erased` (rows erased before the table existed).
pub(super) async fn fill(db: &impl GenericClient) -> Result<(), StoreError> {
    let rows = db
        .query(
            "SELECT records.org_id, records.state, orgs.audit_key
             FROM records JOIN orgs ON orgs.id = records.org_id WHERE records.erased",
            &[],
        )
        .await?;
    let now = crate::store::unix_now();
    for row in rows {
        let key = crate::store::audit::parse_key(row.get(2))?;
        let id = parse_stored(row.get(1))?.id();
        insert(db, row.get(0), &record_mac_bytes(&key, id), now).await?;
    }
    Ok(())
}
