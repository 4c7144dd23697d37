//! Table `records`: the server's copy of every record, per organisation.

use std::collections::HashMap;

use deadpool_postgres::GenericClient;
use sync_protocol::{RecordId, RecordState};

use super::{seq_of, seq_to_sql};
use crate::store::{OrgId, PulledRow, StoreError, parse_stored};

/// The stored copies of these records (by id), in one query.
pub(super) async fn get_many(
    db: &impl GenericClient,
    org: OrgId,
    ids: &[String],
) -> Result<HashMap<String, RecordState>, StoreError> {
    let rows = db
        .query(
            "SELECT id, state FROM records WHERE org_id = $1 AND id = ANY($2)",
            &[&org, &ids],
        )
        .await?;
    rows.into_iter()
        .map(|row| Ok((row.get(0), parse_stored(row.get(1))?)))
        .collect()
}

/// Notes that `device` pushed exactly the stored states of these records (their
/// sequences stay), in one statement.
pub(super) async fn note_pushed_by(
    db: &impl GenericClient,
    org: OrgId,
    ids: &[String],
    device: &str,
) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    db.execute(
        "UPDATE records SET pushed_by = $3
         WHERE org_id = $1 AND id = ANY($2) AND pushed_by IS DISTINCT FROM $3",
        &[&org, &ids, &device],
    )
    .await?;
    Ok(())
}

/// Stores states, each under its sequence and with the device whose push it is exactly,
/// in one statement.
pub(super) async fn put_many(
    db: &impl GenericClient,
    org: OrgId,
    rows: &[(u64, RecordState, Option<String>)],
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = rows.iter().map(|(_, s, _)| s.id().to_string()).collect();
    let seqs: Vec<i64> = rows.iter().map(|(q, _, _)| seq_to_sql(*q)).collect();
    let kinds: Vec<String> = rows.iter().map(|(_, s, _)| s.kind().to_string()).collect();
    let states: Vec<String> = rows.iter().map(|(_, s, _)| s.to_json()).collect();
    let by: Vec<Option<String>> = rows.iter().map(|(_, _, b)| b.clone()).collect();
    let erased: Vec<bool> = rows.iter().map(|(_, s, _)| s.is_erased()).collect();
    db.execute(
        "INSERT INTO records (org_id, id, seq, kind, state, pushed_by, erased)
         SELECT $1::bigint, * FROM UNNEST($2::text[], $3::bigint[], $4::text[], $5::text[],
                                          $6::text[], $7::bool[])
         ON CONFLICT (org_id, id) DO UPDATE
         SET seq = excluded.seq, state = excluded.state, pushed_by = excluded.pushed_by,
             erased = excluded.erased",
        &[&org, &ids, &seqs, &kinds, &states, &by, &erased],
    )
    .await?;
    Ok(())
}

/// The stored copy of one record.
pub(super) async fn get(
    db: &impl GenericClient,
    org: OrgId,
    id: RecordId,
) -> Result<Option<RecordState>, StoreError> {
    Ok(get_many(db, org, &[id.to_string()])
        .await?
        .into_values()
        .next())
}

/// The live (not erased) records whose state holds the text `needle` (an id): a
/// prefilter, the caller reads the states.
pub(super) async fn holding(
    db: &impl GenericClient,
    org: OrgId,
    needle: &str,
) -> Result<Vec<RecordState>, StoreError> {
    db.query(
        "SELECT state FROM records WHERE org_id = $1 AND NOT erased AND strpos(state, $2) > 0
         ORDER BY seq",
        &[&org, &needle],
    )
    .await?
    .iter()
    .map(|r| parse_stored(r.get(0)))
    .collect()
}

/// The live records of one kind.
pub(super) async fn of_kind(
    db: &impl GenericClient,
    org: OrgId,
    kind: &str,
) -> Result<Vec<RecordState>, StoreError> {
    db.query(
        "SELECT state FROM records WHERE org_id = $1 AND kind = $2 AND NOT erased ORDER BY id",
        &[&org, &kind],
    )
    .await?
    .iter()
    .map(|r| parse_stored(r.get(0)))
    .collect()
}

/// The ids of the live records.
pub(super) async fn live_ids(
    db: &impl GenericClient,
    org: OrgId,
) -> Result<Vec<RecordId>, StoreError> {
    db.query(
        "SELECT id FROM records WHERE org_id = $1 AND NOT erased",
        &[&org],
    )
    .await?
    .iter()
    .map(|r| {
        r.get::<_, &str>(0)
            .parse()
            .map_err(|_| StoreError::Corrupt("a stored record id is not a UUID".into()))
    })
    .collect()
}

/// Up to `limit + 1` rows after `since`, in ascending sequence, leaving out the rows past
/// the first two whose preceding rows hold more than `max_bytes` of states (see
/// [`Store::pull_rows`](crate::store::Store::pull_rows)): the cut is made in the
/// database, so states no page needs never cross the connection.
pub(super) async fn after(
    db: &impl GenericClient,
    org: OrgId,
    since: u64,
    limit: u32,
    max_bytes: usize,
) -> Result<Vec<PulledRow>, StoreError> {
    let max_bytes = i64::try_from(max_bytes).unwrap_or(i64::MAX);
    let rows = db
        .query(
            "SELECT seq, state, pushed_by FROM (
                 SELECT seq, state, pushed_by,
                        SUM(octet_length(state)) OVER (ORDER BY seq) - octet_length(state)
                            AS before,
                        ROW_NUMBER() OVER (ORDER BY seq) AS n
                 FROM (SELECT seq, state, pushed_by FROM records
                       WHERE org_id = $1 AND seq > $2 ORDER BY seq LIMIT $3) AS candidates
             ) AS sized
             WHERE before <= $4 OR n <= 2
             ORDER BY seq",
            &[
                &org,
                &seq_to_sql(since),
                &(i64::from(limit) + 1),
                &max_bytes,
            ],
        )
        .await?;
    rows.into_iter()
        .map(|r| {
            Ok(PulledRow {
                seq: seq_of(r.get(0))?,
                state: r.get(1),
                pushed_by: r.get(2),
            })
        })
        .collect()
}
