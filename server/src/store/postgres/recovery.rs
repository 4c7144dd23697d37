//! Tables `held`, `recovery_accepted` and `recovery_discarded`, and the organisation's
//! recovery deadline (§6a).

use deadpool_postgres::GenericClient;
use sync_protocol::{RecordId, RecordState, ReplicaId};

use crate::store::recovery::{Discard, OrgDevices};
use crate::store::{
    Discarded, OrgId, PushError, RECOVERY_SECONDS, StoreError, over_held_cap, parse_replica,
    parse_stored, rfc3339,
};

/// When the organisation's recovery ends, if it is in one.
pub(super) async fn until(db: &impl GenericClient, org: OrgId) -> Result<Option<i64>, StoreError> {
    Ok(db
        .query_one("SELECT recovery_until FROM orgs WHERE id = $1", &[&org])
        .await?
        .get(0))
}

/// Puts the organisation (every one when `None`) into recovery for 30 days from `now`,
/// unless it is in one.
pub(super) async fn enter(
    db: &impl GenericClient,
    org: Option<OrgId>,
    now: i64,
) -> Result<(), StoreError> {
    db.execute(
        "UPDATE orgs SET recovery_until = $2
         WHERE ($1::BIGINT IS NULL OR id = $1) AND recovery_until IS NULL",
        &[&org, &(now + RECOVERY_SECONDS)],
    )
    .await?;
    Ok(())
}

/// Whether the organisation is in recovery at `now`; a recovery whose time is over is
/// ended first (what waits is discarded).
pub(super) async fn active(
    db: &impl GenericClient,
    org: OrgId,
    now: i64,
) -> Result<bool, StoreError> {
    match until(db, org).await? {
        None => Ok(false),
        Some(until) if until > now => Ok(true),
        Some(_) => {
            end(db, org, now).await?;
            Ok(false)
        }
    }
}

/// Ends the organisation's recovery: every held state is discarded and listed.
pub(super) async fn end(
    db: &impl GenericClient,
    org: OrgId,
    now: i64,
) -> Result<Vec<Discarded>, StoreError> {
    let waiting: Vec<(String, String)> = db
        .query(
            "DELETE FROM held WHERE org_id = $1 RETURNING id, device_id",
            &[&org],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let why = Discard::RecoveryEnded.as_str();
    for (id, device) in &waiting {
        db.execute(
            "INSERT INTO recovery_discarded (org_id, id, device_id, why, at)
             VALUES ($1, $2, $3, $4, $5)",
            &[&org, id, device, &why, &now],
        )
        .await?;
    }
    db.execute("DELETE FROM recovery_accepted WHERE org_id = $1", &[&org])
        .await?;
    db.execute(
        "UPDATE orgs SET recovery_until = NULL WHERE id = $1",
        &[&org],
    )
    .await?;
    let mut listed: Vec<Discarded> = waiting
        .into_iter()
        .map(|(id, device)| Discarded {
            id,
            device,
            why: why.into(),
            at: rfc3339(now),
        })
        .collect();
    listed.sort_by(|a, b| (&a.id, &a.device).cmp(&(&b.id, &b.device)));
    Ok(listed)
}

/// The organisation's devices, re-keyed predecessors and accepted devices.
pub(super) async fn org_devices(
    db: &impl GenericClient,
    org: OrgId,
) -> Result<OrgDevices, StoreError> {
    let mut devices = OrgDevices::default();
    let rows = db
        .query(
            "SELECT id, predecessor FROM devices WHERE org_id = $1",
            &[&org],
        )
        .await?;
    for row in rows {
        let id = parse_replica(row.get(0))?;
        devices.devices.insert(id);
        if let Some(predecessor) = row.get::<_, Option<&str>>(1) {
            devices.predecessor.insert(id, parse_replica(predecessor)?);
        }
    }
    devices.accepted = accepted(db, org).await?.into_iter().collect();
    Ok(devices)
}

/// The devices accepted for the rest of the recovery.
pub(super) async fn accepted(
    db: &impl GenericClient,
    org: OrgId,
) -> Result<Vec<ReplicaId>, StoreError> {
    db.query(
        "SELECT device_id FROM recovery_accepted WHERE org_id = $1",
        &[&org],
    )
    .await?
    .iter()
    .map(|r| parse_replica(r.get(0)))
    .collect()
}

/// Accepts a device for the rest of the recovery.
pub(super) async fn accept(
    db: &impl GenericClient,
    org: OrgId,
    device: ReplicaId,
) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO recovery_accepted (org_id, device_id) VALUES ($1, $2)
         ON CONFLICT DO NOTHING",
        &[&org, &device.to_string()],
    )
    .await?;
    Ok(())
}

/// Holds `state` apart for `device`, merged with what it held of that record already,
/// within the caps of §6a.
pub(super) async fn hold(
    db: &impl GenericClient,
    org: OrgId,
    device: ReplicaId,
    state: &RecordState,
    now: i64,
) -> Result<(), PushError> {
    let device_text = device.to_string();
    let id = state.id().to_string();
    let before = db
        .query_opt(
            "SELECT state FROM held WHERE org_id = $1 AND id = $2 AND device_id = $3",
            &[&org, &id, &device_text],
        )
        .await
        .map_err(StoreError::from)?;
    let state = match before {
        Some(row) => sync_protocol::merge(&parse_stored(row.get(0))?, state)
            .map_err(|_| PushError::KindChanged(state.id()))?,
        None => state.clone(),
    };
    let json = state.to_json();
    let row = db
        .query_one(
            "SELECT count(*), coalesce(sum(length(state)), 0)::BIGINT FROM held
             WHERE org_id = $1 AND device_id = $2 AND id <> $3",
            &[&org, &device_text, &id],
        )
        .await
        .map_err(StoreError::from)?;
    let count = u64::try_from(row.get::<_, i64>(0)).unwrap_or(0);
    let bytes = u64::try_from(row.get::<_, i64>(1)).unwrap_or(0);
    if over_held_cap(count, bytes, json.len() as u64) {
        return Err(PushError::HeldFull(state.id()));
    }
    db.execute(
        "INSERT INTO held (org_id, id, device_id, kind, state, held_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (org_id, id, device_id) DO UPDATE SET state = excluded.state",
        &[&org, &id, &device_text, &state.kind().as_str(), &json, &now],
    )
    .await
    .map_err(StoreError::from)?;
    Ok(())
}

/// Every held state of a record, by device, in device order.
pub(super) async fn of_record(
    db: &impl GenericClient,
    org: OrgId,
    id: RecordId,
) -> Result<Vec<(ReplicaId, RecordState)>, StoreError> {
    db.query(
        "SELECT device_id, state FROM held WHERE org_id = $1 AND id = $2 ORDER BY device_id",
        &[&org, &id.to_string()],
    )
    .await?
    .iter()
    .map(|r| Ok((parse_replica(r.get(0))?, parse_stored(r.get(1))?)))
    .collect()
}

/// Which of these records have held states.
pub(super) async fn held_among(
    db: &impl GenericClient,
    org: OrgId,
    ids: &[String],
) -> Result<std::collections::HashSet<String>, StoreError> {
    Ok(db
        .query(
            "SELECT DISTINCT id FROM held WHERE org_id = $1 AND id = ANY($2)",
            &[&org, &ids],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// The ids of the records that have held states.
pub(super) async fn held_ids(
    db: &impl GenericClient,
    org: OrgId,
) -> Result<Vec<RecordId>, StoreError> {
    db.query(
        "SELECT DISTINCT id FROM held WHERE org_id = $1 ORDER BY id",
        &[&org],
    )
    .await?
    .iter()
    .map(|r| {
        r.get::<_, &str>(0)
            .parse()
            .map_err(|_| StoreError::Corrupt("a held record id is not a UUID".into()))
    })
    .collect()
}

/// Deletes a device's held state of a record.
pub(super) async fn unhold(
    db: &impl GenericClient,
    org: OrgId,
    id: RecordId,
    device: ReplicaId,
) -> Result<(), StoreError> {
    db.execute(
        "DELETE FROM held WHERE org_id = $1 AND id = $2 AND device_id = $3",
        &[&org, &id.to_string(), &device.to_string()],
    )
    .await?;
    Ok(())
}

/// Deletes every held state of a record (it was erased).
pub(super) async fn unhold_all(
    db: &impl GenericClient,
    org: OrgId,
    id: RecordId,
) -> Result<(), StoreError> {
    db.execute(
        "DELETE FROM held WHERE org_id = $1 AND id = $2",
        &[&org, &id.to_string()],
    )
    .await?;
    Ok(())
}

/// Deletes, for each id a person's erasure erased (`ids`: the person, a person merged
/// into them, every record about them), the held states of that record and those whose
/// state holds the id's text (that name it), and the notes of that record's discarded
/// held states.
pub(super) async fn forget(
    db: &impl GenericClient,
    org: OrgId,
    ids: &[RecordId],
) -> Result<(), StoreError> {
    let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
    db.execute(
        "DELETE FROM held WHERE org_id = $1 AND (id = ANY($2)
             OR EXISTS (SELECT 1 FROM unnest($2::text[]) AS erased (id)
                        WHERE strpos(held.state, erased.id) > 0))",
        &[&org, &ids],
    )
    .await?;
    db.execute(
        "DELETE FROM recovery_discarded WHERE org_id = $1 AND id = ANY($2)",
        &[&org, &ids],
    )
    .await?;
    Ok(())
}

/// Deletes the notes of discarded held states of an erased record: its id leaves the
/// table.
pub(super) async fn forget_discarded(
    db: &impl GenericClient,
    org: OrgId,
    id: RecordId,
) -> Result<(), StoreError> {
    db.execute(
        "DELETE FROM recovery_discarded WHERE org_id = $1 AND id = $2",
        &[&org, &id.to_string()],
    )
    .await?;
    Ok(())
}

/// Lists a discarded held state.
pub(super) async fn note_discarded(
    db: &impl GenericClient,
    org: OrgId,
    id: RecordId,
    device: ReplicaId,
    why: Discard,
    now: i64,
) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO recovery_discarded (org_id, id, device_id, why, at)
         VALUES ($1, $2, $3, $4, $5)",
        &[
            &org,
            &id.to_string(),
            &device.to_string(),
            &why.as_str(),
            &now,
        ],
    )
    .await?;
    Ok(())
}

/// The discarded held states of the organisation, oldest first.
pub(super) async fn discarded(
    db: &impl GenericClient,
    org: OrgId,
) -> Result<Vec<Discarded>, StoreError> {
    Ok(db
        .query(
            "SELECT id, device_id, why, at FROM recovery_discarded WHERE org_id = $1
             ORDER BY at, id, device_id",
            &[&org],
        )
        .await?
        .iter()
        .map(|r| Discarded {
            id: r.get(0),
            device: r.get(1),
            why: r.get(2),
            at: rfc3339(r.get(3)),
        })
        .collect())
}

/// Every held state of the organisation: (record, device, state).
pub(super) async fn all_held(
    db: &impl GenericClient,
    org: OrgId,
) -> Result<Vec<(RecordId, ReplicaId, RecordState)>, StoreError> {
    db.query(
        "SELECT device_id, state FROM held WHERE org_id = $1 ORDER BY id, device_id",
        &[&org],
    )
    .await?
    .iter()
    .map(|r| {
        let state = parse_stored(r.get(1))?;
        Ok((state.id(), parse_replica(r.get(0))?, state))
    })
    .collect()
}
