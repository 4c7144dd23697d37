//! Table `devices`: enrolled replicas and their token hashes.

use deadpool_postgres::GenericClient;
use sync_protocol::ReplicaId;
use sync_protocol::wire::ReplicaInfo;
use tokio_postgres::error::SqlState;

use crate::store::{
    Caller, DeviceRow, Enrolment, OrgId, Role, StoreError, TokenOwner, now_rfc3339, parse_replica,
};

/// The owner of an enrolled id, and whether it is revoked; locks the row.
pub(super) async fn lock_owner(
    db: &impl GenericClient,
    id: ReplicaId,
) -> Result<Option<(i64, bool)>, StoreError> {
    let row = db
        .query_opt(
            "SELECT user_id, revoked FROM devices WHERE id = $1 FOR UPDATE",
            &[&id.to_string()],
        )
        .await?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

/// Gives an enrolled device a new token and name.
pub(super) async fn replace_token(
    db: &impl GenericClient,
    id: ReplicaId,
    e: &Enrolment,
) -> Result<(), StoreError> {
    let token_hash: &[u8] = &e.token_hash;
    db.execute(
        "UPDATE devices SET token_hash = $2, name = $3, enrolled_at = $4 WHERE id = $1",
        &[&id.to_string(), &token_hash, &e.device_name, &now_rfc3339()],
    )
    .await?;
    Ok(())
}

/// Enrols a new device; `false` when another enrolment of the same id committed first.
pub(super) async fn insert(
    db: &impl GenericClient,
    id: ReplicaId,
    e: &Enrolment,
) -> Result<bool, StoreError> {
    let token_hash: &[u8] = &e.token_hash;
    let inserted = db
        .execute(
            "INSERT INTO devices (id, user_id, org_id, name, token_hash, enrolled_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &id.to_string(),
                &e.user_id,
                &e.org,
                &e.device_name,
                &token_hash,
                &now_rfc3339(),
            ],
        )
        .await;
    match inserted {
        Ok(_) => Ok(true),
        Err(err) if err.code() == Some(&SqlState::UNIQUE_VIOLATION) => Ok(false),
        Err(err) => Err(err.into()),
    }
}

/// Whose this token hash is: a device in service, a revoked device, or nobody.
pub(super) async fn by_token(
    db: &impl GenericClient,
    token_hash: &[u8; 32],
) -> Result<TokenOwner, StoreError> {
    let hash: &[u8] = token_hash;
    let row = db
        .query_opt(
            "SELECT devices.id, devices.org_id, users.role, devices.revoked, users.disabled
             FROM devices JOIN users ON users.id = devices.user_id
             WHERE devices.token_hash = $1",
            &[&hash],
        )
        .await?;
    let Some(row) = row else {
        return Ok(TokenOwner::Unknown);
    };
    let device = parse_replica(row.get(0))?;
    if row.get::<_, bool>(3) {
        return Ok(TokenOwner::Revoked(device));
    }
    if row.get::<_, bool>(4) {
        return Ok(TokenOwner::Disabled(device));
    }
    Ok(TokenOwner::Device(Caller {
        device,
        org: row.get(1),
        role: Role::parse(row.get(2))?,
    }))
}

/// The devices of an organisation, with their owners.
pub(super) async fn of_org(
    db: &impl GenericClient,
    org: OrgId,
) -> Result<Vec<(ReplicaId, ReplicaInfo)>, StoreError> {
    let rows = db
        .query(
            "SELECT devices.id, devices.name, users.username
             FROM devices JOIN users ON users.id = devices.user_id
             WHERE devices.org_id = $1",
            &[&org],
        )
        .await?;
    rows.into_iter()
        .map(|r| {
            Ok((
                parse_replica(r.get(0))?,
                ReplicaInfo {
                    device_name: r.get(1),
                    user: r.get(2),
                },
            ))
        })
        .collect()
}

/// Every device of the server.
pub(super) async fn all(db: &impl GenericClient) -> Result<Vec<DeviceRow>, StoreError> {
    let rows = db
        .query(
            "SELECT devices.id, orgs.name, users.username, devices.name, devices.revoked,
                    devices.enrolled_at
             FROM devices JOIN users ON users.id = devices.user_id
             JOIN orgs ON orgs.id = devices.org_id
             ORDER BY orgs.name, users.username, devices.enrolled_at",
            &[],
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| DeviceRow {
            id: r.get(0),
            org: r.get(1),
            user: r.get(2),
            name: r.get(3),
            revoked: r.get(4),
            enrolled_at: r.get(5),
        })
        .collect())
}

/// Revokes a device; `false` when there is no such device.
pub(super) async fn revoke(db: &impl GenericClient, id: ReplicaId) -> Result<bool, StoreError> {
    let changed = db
        .execute(
            "UPDATE devices SET revoked = TRUE WHERE id = $1",
            &[&id.to_string()],
        )
        .await?;
    Ok(changed > 0)
}
