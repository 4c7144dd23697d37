//! Table `enrolment_failures`: the buckets of failed enrolments, by keyed hash.

use deadpool_postgres::GenericClient;

use crate::rate::{EnrolKey, EnrolLimit, StoredBucket};
use crate::store::StoreError;

/// The bucket of `key`, locked until the transaction ends (made full first when it is
/// not kept, so that there is a row to lock): concurrent attempts on one key take their
/// tries one after the other, whichever process serves them.
pub(super) async fn lock(
    db: &impl GenericClient,
    key: &EnrolKey,
    limit: EnrolLimit,
    now: f64,
) -> Result<StoredBucket, StoreError> {
    db.execute(
        "INSERT INTO enrolment_failures (key, tokens, at, full_at) VALUES ($1, $2, $3, $3)
         ON CONFLICT (key) DO NOTHING",
        &[&&key[..], &limit.burst, &now],
    )
    .await?;
    let row = db
        .query_one(
            "SELECT tokens, at FROM enrolment_failures WHERE key = $1 FOR UPDATE",
            &[&&key[..]],
        )
        .await?;
    Ok(StoredBucket {
        tokens: row.get(0),
        at: row.get(1),
    })
}

/// Stores the (locked) bucket of `key`.
pub(super) async fn put(
    db: &impl GenericClient,
    key: &EnrolKey,
    limit: EnrolLimit,
    bucket: StoredBucket,
) -> Result<(), StoreError> {
    db.execute(
        "UPDATE enrolment_failures SET tokens = $2, at = $3, full_at = $4 WHERE key = $1",
        &[
            &&key[..],
            &bucket.tokens,
            &bucket.at,
            &limit.full_at(bucket),
        ],
    )
    .await?;
    Ok(())
}

/// Forgets some buckets full again at `now`, skipping those another attempt holds
/// locked (waiting on them could close a cycle of waits).
pub(super) async fn prune(db: &impl GenericClient, now: f64) -> Result<(), StoreError> {
    db.execute(
        "DELETE FROM enrolment_failures WHERE key IN (
             SELECT key FROM enrolment_failures WHERE full_at <= $1
             LIMIT 100 FOR UPDATE SKIP LOCKED)",
        &[&now],
    )
    .await?;
    Ok(())
}
