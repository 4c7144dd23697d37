//! Table `orgs`: organisations and their sequence counters.

use deadpool_postgres::GenericClient;

use super::{seq_of, seq_to_sql};
use crate::store::{OrgId, StoreError};

/// The organisation's id, created if new.
pub(super) async fn ensure(db: &impl GenericClient, name: &str) -> Result<OrgId, StoreError> {
    let key: &[u8] = &crate::store::audit::new_key();
    db.execute(
        "INSERT INTO orgs (name, audit_key) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        &[&name, &key],
    )
    .await?;
    Ok(db
        .query_one("SELECT id FROM orgs WHERE name = $1", &[&name])
        .await?
        .get(0))
}

/// Every organisation.
pub(super) async fn all(db: &impl GenericClient) -> Result<Vec<OrgId>, StoreError> {
    Ok(db
        .query("SELECT id FROM orgs ORDER BY id", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// The organisation with this name.
pub(super) async fn find(db: &impl GenericClient, name: &str) -> Result<Option<OrgId>, StoreError> {
    Ok(db
        .query_opt("SELECT id FROM orgs WHERE name = $1", &[&name])
        .await?
        .map(|r| r.get(0)))
}

/// Locks the organisation's counter row until the transaction ends, and reads it.
pub(super) async fn lock_last_seq(db: &impl GenericClient, org: OrgId) -> Result<u64, StoreError> {
    let row = db
        .query_one(
            "SELECT last_seq FROM orgs WHERE id = $1 FOR UPDATE",
            &[&org],
        )
        .await?;
    seq_of(row.get(0))
}

/// Moves the organisation's counter to `seq`.
pub(super) async fn set_last_seq(
    db: &impl GenericClient,
    org: OrgId,
    seq: u64,
) -> Result<(), StoreError> {
    db.execute(
        "UPDATE orgs SET last_seq = $2 WHERE id = $1",
        &[&org, &seq_to_sql(seq)],
    )
    .await?;
    Ok(())
}
