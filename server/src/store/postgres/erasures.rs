//! Table `erasures`: when each erasure over HTTP happened, for the hourly cap.

use deadpool_postgres::GenericClient;

use crate::store::{OrgId, StoreError};

/// The times (seconds since 1970) of the organisation's erasures since `since`, oldest
/// first.
pub(super) async fn since(
    db: &impl GenericClient,
    org: OrgId,
    since: i64,
) -> Result<Vec<i64>, StoreError> {
    Ok(db
        .query(
            "SELECT at FROM erasures WHERE org_id = $1 AND at > $2 ORDER BY at",
            &[&org, &since],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// Notes an erasure at `at`, and forgets those older than a day.
pub(super) async fn note(db: &impl GenericClient, org: OrgId, at: i64) -> Result<(), StoreError> {
    db.execute(
        "DELETE FROM erasures WHERE org_id = $1 AND at < $2",
        &[&org, &(at - 86_400)],
    )
    .await?;
    db.execute(
        "INSERT INTO erasures (org_id, at) VALUES ($1, $2)",
        &[&org, &at],
    )
    .await?;
    Ok(())
}
