//! Table `devices`: enrolled replicas and their token hashes.

use rusqlite::{Connection, OptionalExtension, params};
use sync_protocol::ReplicaId;
use sync_protocol::wire::ReplicaInfo;

use super::seq_to_sql;
use crate::store::{
    Caller, DeviceRow, Enrolment, OrgId, Role, StoreError, TokenOwner, now_rfc3339, parse_replica,
};

/// The owner of an enrolled id, and whether it is revoked.
pub(super) fn owner(conn: &Connection, id: ReplicaId) -> Result<Option<(i64, bool)>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT user_id, revoked FROM devices WHERE id = ?1",
            [id.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

/// Gives an enrolled device a new token and name.
pub(super) fn replace_token(
    conn: &Connection,
    id: ReplicaId,
    e: &Enrolment,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE devices SET token_hash = ?2, name = ?3, enrolled_at = ?4 WHERE id = ?1",
        params![
            id.to_string(),
            &e.token_hash[..],
            e.device_name,
            now_rfc3339()
        ],
    )?;
    Ok(())
}

/// Enrols a new device.
pub(super) fn insert(conn: &Connection, id: ReplicaId, e: &Enrolment) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO devices (id, user_id, org_id, name, token_hash, enrolled_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            id.to_string(),
            e.user_id,
            e.org,
            e.device_name,
            &e.token_hash[..],
            now_rfc3339()
        ],
    )?;
    Ok(())
}

/// Whose this token hash is: a device in service, a revoked device, or nobody.
pub(super) fn by_token(conn: &Connection, token_hash: &[u8; 32]) -> Result<TokenOwner, StoreError> {
    let row: Option<(String, i64, String, bool, bool, bool)> = conn
        .prepare_cached(
            "SELECT devices.id, devices.org_id, users.role, devices.revoked, users.disabled,
                    devices.retired
             FROM devices JOIN users ON users.id = devices.user_id
             WHERE devices.token_hash = ?1",
        )?
        .query_row([&token_hash[..]], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .optional()?;
    let Some((device, org, role, revoked, disabled, retired)) = row else {
        return Ok(TokenOwner::Unknown);
    };
    let device = parse_replica(&device)?;
    if revoked {
        return Ok(TokenOwner::Revoked(device));
    }
    if disabled {
        return Ok(TokenOwner::Disabled(device));
    }
    Ok(TokenOwner::Device(Caller {
        device,
        org,
        role: Role::parse(&role)?,
        retired,
    }))
}

/// The devices of an organisation, with their owners.
pub(super) fn of_org(
    conn: &Connection,
    org: OrgId,
) -> Result<Vec<(ReplicaId, ReplicaInfo)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT devices.id, devices.name, users.username
         FROM devices JOIN users ON users.id = devices.user_id
         WHERE devices.org_id = ?1",
    )?;
    let rows = stmt.query_map([org], |r| {
        Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?))
    })?;
    rows.map(|row| {
        let (id, device_name, user) = row?;
        Ok((parse_replica(&id)?, ReplicaInfo { device_name, user }))
    })
    .collect()
}

/// Every device of the server.
pub(super) fn all(conn: &Connection) -> Result<Vec<DeviceRow>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT devices.id, orgs.name, users.username, devices.name, devices.revoked,
                devices.enrolled_at
         FROM devices JOIN users ON users.id = devices.user_id
         JOIN orgs ON orgs.id = devices.org_id
         ORDER BY orgs.name, users.username, devices.enrolled_at",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(DeviceRow {
            id: r.get(0)?,
            org: r.get(1)?,
            user: r.get(2)?,
            name: r.get(3)?,
            revoked: r.get(4)?,
            enrolled_at: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The device's organisation, and whether it is revoked.
pub(super) fn org_of(
    conn: &Connection,
    id: ReplicaId,
) -> Result<Option<(OrgId, bool)>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT org_id, revoked FROM devices WHERE id = ?1",
            [id.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

/// Revokes a device; `false` when there is no such device.
pub(super) fn revoke(conn: &Connection, id: ReplicaId) -> Result<bool, StoreError> {
    let changed = conn.execute(
        "UPDATE devices SET revoked = 1 WHERE id = ?1",
        [id.to_string()],
    )?;
    Ok(changed > 0)
}

/// What the server remembers of a device's conversation (§6a): `answered`, `acked`, and
/// `confirmed` (the highest `since` it pulled with).
pub(super) fn progress(conn: &Connection, id: ReplicaId) -> Result<(u64, u64, u64), StoreError> {
    let (answered, acked, confirmed): (i64, i64, i64) = conn
        .prepare_cached("SELECT answered, acked, confirmed FROM devices WHERE id = ?1")?
        .query_row([id.to_string()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok((
        answered.max(0) as u64,
        acked.max(0) as u64,
        confirmed.max(0) as u64,
    ))
}

/// Raises the device's `confirmed` to `since`: it has committed every change up to it.
pub(super) fn confirm(conn: &Connection, id: ReplicaId, since: u64) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE devices SET confirmed = ?2 WHERE id = ?1 AND confirmed < ?2")?
        .execute(params![id.to_string(), seq_to_sql(since)])?;
    Ok(())
}

/// Sets the device's `confirmed` back to 0: it was told to send everything again and pull
/// from 0 (409 `checkpoint_ahead`), which holds back sealing until it has.
pub(super) fn unconfirm(conn: &Connection, id: ReplicaId) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE devices SET confirmed = 0 WHERE id = ?1")?
        .execute([id.to_string()])?;
    Ok(())
}

/// Raises the device's `answered` to `next`.
pub(super) fn note_answered(conn: &Connection, id: ReplicaId, next: u64) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE devices SET answered = ?2 WHERE id = ?1 AND answered < ?2")?
        .execute(params![id.to_string(), seq_to_sql(next)])?;
    Ok(())
}

/// Raises the device's `acked` to `through`.
pub(super) fn note_acked(conn: &Connection, id: ReplicaId, through: u64) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE devices SET acked = ?2 WHERE id = ?1 AND acked < ?2")?
        .execute(params![id.to_string(), seq_to_sql(through)])?;
    Ok(())
}

/// Enrols `successor` for the user of `predecessor`, with its own token, and retires
/// `predecessor` (§6a re-keying); a successor enrolled already is left as it is. Answers
/// whether anything changed.
pub(super) fn rekey(
    conn: &Connection,
    predecessor: ReplicaId,
    successor: ReplicaId,
    token_hash: &[u8; 32],
) -> Result<bool, StoreError> {
    let inserted = conn.execute(
        "INSERT OR IGNORE INTO devices
             (id, user_id, org_id, name, token_hash, enrolled_at, predecessor)
         SELECT ?2, user_id, org_id, name, ?3, ?4, id FROM devices WHERE id = ?1",
        params![
            predecessor.to_string(),
            successor.to_string(),
            &token_hash[..],
            now_rfc3339()
        ],
    )?;
    let retired = conn.execute(
        "UPDATE devices SET retired = 1 WHERE id = ?1 AND retired = 0",
        [predecessor.to_string()],
    )?;
    Ok(inserted + retired > 0)
}

/// The journal's enrolment: inserts the device, or replaces its token (same user, not
/// revoked). Answers whether anything changed.
pub(super) fn restore(
    conn: &Connection,
    user_id: i64,
    org: i64,
    id: ReplicaId,
    token_hash: &[u8; 32],
) -> Result<bool, StoreError> {
    let changed = conn.execute(
        "INSERT INTO devices (id, user_id, org_id, name, token_hash, enrolled_at)
         VALUES (?1, ?2, ?3, 'enrolled after the backup', ?4, ?5)
         ON CONFLICT (id) DO UPDATE SET token_hash = excluded.token_hash
         WHERE devices.user_id = excluded.user_id AND devices.revoked = 0
           AND devices.token_hash <> excluded.token_hash",
        params![id.to_string(), user_id, org, &token_hash[..], now_rfc3339()],
    )?;
    Ok(changed > 0)
}
