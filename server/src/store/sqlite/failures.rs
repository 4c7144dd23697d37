//! Table `enrolment_failures`: the buckets of failed enrolments, by keyed hash.

use rusqlite::{Connection, OptionalExtension, params};

use crate::rate::{EnrolKey, EnrolLimit, StoredBucket};
use crate::store::StoreError;

/// The bucket of `key`, if it is kept.
pub(super) fn get(conn: &Connection, key: &EnrolKey) -> Result<Option<StoredBucket>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT tokens, at FROM enrolment_failures WHERE key = ?1")?
        .query_row([&key[..]], |r| {
            Ok(StoredBucket {
                tokens: r.get(0)?,
                at: r.get(1)?,
            })
        })
        .optional()?)
}

/// Stores the bucket of `key`.
pub(super) fn put(
    conn: &Connection,
    key: &EnrolKey,
    limit: EnrolLimit,
    bucket: StoredBucket,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO enrolment_failures (key, tokens, at, full_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (key) DO UPDATE SET tokens = ?2, at = ?3, full_at = ?4",
    )?
    .execute(params![
        &key[..],
        bucket.tokens,
        bucket.at,
        limit.full_at(bucket)
    ])?;
    Ok(())
}

/// Forgets the buckets full again at `now`.
pub(super) fn prune(conn: &Connection, now: f64) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM enrolment_failures WHERE full_at <= ?1")?
        .execute([now])?;
    Ok(())
}
