//! Table `devices`: enrolled replicas and their token hashes.

use deadpool_postgres::GenericClient;
use sync_protocol::ReplicaId;
use sync_protocol::wire::ReplicaInfo;
use tokio_postgres::error::SqlState;

use super::{seq_of, seq_to_sql};
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
            "SELECT devices.id, devices.org_id, users.role, devices.revoked, users.disabled,
                    devices.retired
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
        retired: row.get(5),
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

/// The device's organisation, and whether it is revoked; its row locked until the
/// transaction ends.
pub(super) async fn lock_org_of(
    db: &impl GenericClient,
    id: ReplicaId,
) -> Result<Option<(OrgId, bool)>, StoreError> {
    let row = db
        .query_opt(
            "SELECT org_id, revoked FROM devices WHERE id = $1 FOR UPDATE",
            &[&id.to_string()],
        )
        .await?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
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

/// What the server remembers of a device's conversation (§6a): `answered`, `acked`, and
/// `confirmed` (the highest `since` it pulled with).
pub(super) async fn progress(
    db: &impl GenericClient,
    id: ReplicaId,
) -> Result<(u64, u64, u64), StoreError> {
    let row = db
        .query_one(
            "SELECT answered, acked, confirmed FROM devices WHERE id = $1",
            &[&id.to_string()],
        )
        .await?;
    Ok((
        seq_of(row.get(0))?,
        seq_of(row.get(1))?,
        seq_of(row.get(2))?,
    ))
}

/// Raises the device's `confirmed` to `since`: it has committed every change up to it.
pub(super) async fn confirm(
    db: &impl GenericClient,
    id: ReplicaId,
    since: u64,
) -> Result<(), StoreError> {
    db.execute(
        "UPDATE devices SET confirmed = $2 WHERE id = $1 AND confirmed < $2",
        &[&id.to_string(), &seq_to_sql(since)],
    )
    .await?;
    Ok(())
}

/// Sets the device's `confirmed` back to 0: it was told to send everything again and pull
/// from 0 (409 `checkpoint_ahead`), which holds back sealing until it has.
pub(super) async fn unconfirm(db: &impl GenericClient, id: ReplicaId) -> Result<(), StoreError> {
    db.execute(
        "UPDATE devices SET confirmed = 0 WHERE id = $1",
        &[&id.to_string()],
    )
    .await?;
    Ok(())
}

/// Raises the device's `answered` to `next`.
pub(super) async fn note_answered(
    db: &impl GenericClient,
    id: ReplicaId,
    next: u64,
) -> Result<(), StoreError> {
    db.execute(
        "UPDATE devices SET answered = $2 WHERE id = $1 AND answered < $2",
        &[&id.to_string(), &seq_to_sql(next)],
    )
    .await?;
    Ok(())
}

/// Raises the device's `acked` to `through`.
pub(super) async fn note_acked(
    db: &impl GenericClient,
    id: ReplicaId,
    through: u64,
) -> Result<(), StoreError> {
    db.execute(
        "UPDATE devices SET acked = $2 WHERE id = $1 AND acked < $2",
        &[&id.to_string(), &seq_to_sql(through)],
    )
    .await?;
    Ok(())
}

/// Enrols `successor` for the user of `predecessor`, with its own token, and retires
/// `predecessor` (§6a re-keying); a successor enrolled already is left as it is. Answers
/// whether anything changed.
pub(super) async fn rekey(
    db: &impl GenericClient,
    predecessor: ReplicaId,
    successor: ReplicaId,
    token_hash: &[u8; 32],
) -> Result<bool, StoreError> {
    let hash: &[u8] = token_hash;
    let inserted = db
        .execute(
            "INSERT INTO devices (id, user_id, org_id, name, token_hash, enrolled_at, predecessor)
             SELECT $2, user_id, org_id, name, $3, $4, id FROM devices WHERE id = $1
             ON CONFLICT (id) DO NOTHING",
            &[
                &predecessor.to_string(),
                &successor.to_string(),
                &hash,
                &now_rfc3339(),
            ],
        )
        .await?;
    let retired = db
        .execute(
            "UPDATE devices SET retired = TRUE WHERE id = $1 AND NOT retired",
            &[&predecessor.to_string()],
        )
        .await?;
    Ok(inserted + retired > 0)
}

/// The journal's enrolment: inserts the device, or replaces its token (same user, not
/// revoked). Answers whether anything changed.
pub(super) async fn restore(
    db: &impl GenericClient,
    user_id: i64,
    org: OrgId,
    id: ReplicaId,
    token_hash: &[u8; 32],
) -> Result<bool, StoreError> {
    let hash: &[u8] = token_hash;
    let changed = db
        .execute(
            "INSERT INTO devices (id, user_id, org_id, name, token_hash, enrolled_at)
             VALUES ($1, $2, $3, 'enrolled after the backup', $4, $5)
             ON CONFLICT (id) DO UPDATE SET token_hash = excluded.token_hash
             WHERE devices.user_id = excluded.user_id AND NOT devices.revoked
               AND devices.token_hash <> excluded.token_hash",
            &[&id.to_string(), &user_id, &org, &hash, &now_rfc3339()],
        )
        .await?;
    Ok(changed > 0)
}
