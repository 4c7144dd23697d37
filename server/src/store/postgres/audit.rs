//! Table `audit` (append-only, see [`crate::store::audit`]) and the organisations'
//! audit keys.

use deadpool_postgres::GenericClient;

use crate::store::audit::{self, AuditKey, Entry, Filter, PAGE_ROWS, Stored};
use crate::store::{OrgId, StoreError, unix_now};

/// The organisation's audit key.
pub(super) async fn key(db: &impl GenericClient, org: OrgId) -> Result<AuditKey, StoreError> {
    let row = db
        .query_one("SELECT audit_key FROM orgs WHERE id = $1", &[&org])
        .await?;
    audit::parse_key(row.get(0))
}

/// Gives an audit key to every organisation that lacks one (those made before the audit).
pub(super) async fn fill_keys(db: &impl GenericClient) -> Result<(), StoreError> {
    let orgs = db
        .query("SELECT id FROM orgs WHERE audit_key IS NULL", &[])
        .await?;
    for org in orgs {
        let (id, key): (OrgId, &[u8]) = (org.get(0), &audit::new_key());
        db.execute("UPDATE orgs SET audit_key = $2 WHERE id = $1", &[&id, &key])
            .await?;
    }
    Ok(())
}

/// Appends events of the organisation, now, in one statement. Called inside the
/// transaction of what they tell.
pub(super) async fn note(
    db: &impl GenericClient,
    org: OrgId,
    entries: &[Entry],
) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    let key = key(db, org).await?;
    let now = unix_now();
    let rows: Vec<_> = entries.iter().map(|e| e.row(&key, now)).collect();
    let events: Vec<&str> = rows.iter().map(|r| r.event).collect();
    let devices: Vec<Option<&str>> = rows.iter().map(|r| r.device.as_deref()).collect();
    let users: Vec<Option<i64>> = rows.iter().map(|r| r.user).collect();
    let records: Vec<Option<&str>> = rows.iter().map(|r| r.record.as_deref()).collect();
    let vvs: Vec<Option<&str>> = rows.iter().map(|r| r.vv.as_deref()).collect();
    let details: Vec<Option<&str>> = rows.iter().map(|r| r.detail.as_deref()).collect();
    db.execute(
        "INSERT INTO audit (org_id, at, event, device, user_id, record, vv, detail)
         SELECT $1::bigint, $2::bigint, * FROM UNNEST($3::text[], $4::text[], $5::bigint[],
                                                      $6::text[], $7::text[], $8::text[])",
        &[
            &org, &now, &events, &devices, &users, &records, &vvs, &details,
        ],
    )
    .await?;
    Ok(())
}

/// A page of the organisation's rows, oldest first.
pub(super) async fn read(
    db: &impl GenericClient,
    org: OrgId,
    filter: &Filter,
) -> Result<Vec<Stored>, StoreError> {
    let record = match filter.record {
        Some(id) => Some(audit::record_mac(&key(db, org).await?, id)),
        None => None,
    };
    let rows = db
        .query(
            "SELECT id, at, event, device, user_id, record, vv, detail FROM audit
             WHERE org_id = $1 AND id > $2 AND ($3::text IS NULL OR record = $3)
               AND ($4::bigint IS NULL OR at >= $4)
             ORDER BY id LIMIT $5",
            &[
                &org,
                &filter.after,
                &record,
                &filter.since,
                &i64::from(PAGE_ROWS),
            ],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Stored {
            id: r.get(0),
            at: r.get(1),
            event: r.get(2),
            device: r.get(3),
            user: r.get(4),
            record: r.get(5),
            vv: r.get(6),
            detail: r.get(7),
        })
        .collect())
}
