//! Tables `held`, `recovery_accepted` and `recovery_discarded`, and the organisation's
//! recovery deadline (§6a).

use rusqlite::{Connection, OptionalExtension, params};
use sync_protocol::{RecordId, RecordState, ReplicaId};

use crate::store::recovery::{Discard, OrgDevices};
use crate::store::{
    Discarded, OrgId, PushError, RECOVERY_SECONDS, StoreError, over_held_cap, parse_replica,
    parse_stored, rfc3339,
};

/// When the organisation's recovery ends, if it is in one.
pub(super) fn until(conn: &Connection, org: OrgId) -> Result<Option<i64>, StoreError> {
    Ok(conn.query_row(
        "SELECT recovery_until FROM orgs WHERE id = ?1",
        [org],
        |r| r.get(0),
    )?)
}

/// Puts the organisation into recovery for 30 days from `now`, unless it is in one.
pub(super) fn enter(conn: &Connection, org: Option<OrgId>, now: i64) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE orgs SET recovery_until = ?2
         WHERE (?1 IS NULL OR id = ?1) AND recovery_until IS NULL",
        params![org, now + RECOVERY_SECONDS],
    )?;
    Ok(())
}

/// Whether the organisation is in recovery at `now`; a recovery whose time is over is
/// ended first (what waits is discarded).
pub(super) fn active(conn: &Connection, org: OrgId, now: i64) -> Result<bool, StoreError> {
    match until(conn, org)? {
        None => Ok(false),
        Some(until) if until > now => Ok(true),
        Some(_) => {
            end(conn, org, now)?;
            Ok(false)
        }
    }
}

/// Ends the organisation's recovery: every held state is discarded and listed.
pub(super) fn end(conn: &Connection, org: OrgId, now: i64) -> Result<Vec<Discarded>, StoreError> {
    let waiting: Vec<(String, String)> = conn
        .prepare("SELECT id, device_id FROM held WHERE org_id = ?1 ORDER BY id, device_id")?
        .query_map([org], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (id, device) in &waiting {
        conn.execute(
            "INSERT INTO recovery_discarded (org_id, id, device_id, why, at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![org, id, device, Discard::RecoveryEnded.as_str(), now],
        )?;
    }
    conn.execute("DELETE FROM held WHERE org_id = ?1", [org])?;
    conn.execute("DELETE FROM recovery_accepted WHERE org_id = ?1", [org])?;
    conn.execute("UPDATE orgs SET recovery_until = NULL WHERE id = ?1", [org])?;
    Ok(waiting
        .into_iter()
        .map(|(id, device)| Discarded {
            id,
            device,
            why: Discard::RecoveryEnded.as_str().into(),
            at: rfc3339(now),
        })
        .collect())
}

/// The organisation's devices, re-keyed predecessors and accepted devices.
pub(super) fn org_devices(conn: &Connection, org: OrgId) -> Result<OrgDevices, StoreError> {
    let mut devices = OrgDevices::default();
    let mut stmt = conn.prepare_cached("SELECT id, predecessor FROM devices WHERE org_id = ?1")?;
    let rows = stmt.query_map([org], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
    })?;
    for row in rows {
        let (id, predecessor) = row?;
        let id = parse_replica(&id)?;
        devices.devices.insert(id);
        if let Some(predecessor) = predecessor {
            devices.predecessor.insert(id, parse_replica(&predecessor)?);
        }
    }
    devices.accepted = accepted(conn, org)?.into_iter().collect();
    Ok(devices)
}

/// The devices accepted for the rest of the recovery.
pub(super) fn accepted(conn: &Connection, org: OrgId) -> Result<Vec<ReplicaId>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT device_id FROM recovery_accepted WHERE org_id = ?1")?;
    let rows = stmt.query_map([org], |r| r.get::<_, String>(0))?;
    rows.map(|id| parse_replica(&id?)).collect()
}

/// Accepts a device for the rest of the recovery.
pub(super) fn accept(conn: &Connection, org: OrgId, device: ReplicaId) -> Result<(), StoreError> {
    conn.execute(
        "INSERT OR IGNORE INTO recovery_accepted (org_id, device_id) VALUES (?1, ?2)",
        params![org, device.to_string()],
    )?;
    Ok(())
}

/// Holds `state` apart for `device`, merged with what it held of that record already,
/// within the caps of §6a.
pub(super) fn hold(
    conn: &Connection,
    org: OrgId,
    device: ReplicaId,
    state: &RecordState,
    now: i64,
) -> Result<(), PushError> {
    let device_text = device.to_string();
    let id = state.id().to_string();
    let before: Option<String> = conn
        .prepare_cached("SELECT state FROM held WHERE org_id = ?1 AND id = ?2 AND device_id = ?3")?
        .query_row(params![org, id, device_text], |r| r.get(0))
        .optional()?;
    let state = match &before {
        Some(text) => sync_protocol::merge(&parse_stored(text)?, state)
            .map_err(|_| PushError::KindChanged(state.id()))?,
        None => state.clone(),
    };
    let json = state.to_json();
    let (count, bytes): (i64, i64) = conn
        .prepare_cached(
            "SELECT count(*), coalesce(sum(length(state)), 0) FROM held
             WHERE org_id = ?1 AND device_id = ?2 AND id <> ?3",
        )?
        .query_row(params![org, device_text, id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let (count, bytes) = (count.max(0) as u64, bytes.max(0) as u64);
    if over_held_cap(count, bytes, json.len() as u64) {
        return Err(PushError::HeldFull(state.id()));
    }
    conn.prepare_cached(
        "INSERT INTO held (org_id, id, device_id, kind, state, held_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (org_id, id, device_id) DO UPDATE SET state = excluded.state",
    )?
    .execute(params![
        org,
        id,
        device_text,
        state.kind().as_str(),
        json,
        now
    ])?;
    Ok(())
}

/// Every held state of a record, by device, in device order.
pub(super) fn of_record(
    conn: &Connection,
    org: OrgId,
    id: RecordId,
) -> Result<Vec<(ReplicaId, RecordState)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT device_id, state FROM held WHERE org_id = ?1 AND id = ?2 ORDER BY device_id",
    )?;
    let rows = stmt.query_map(params![org, id.to_string()], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    rows.map(|row| {
        let (device, state) = row?;
        Ok((parse_replica(&device)?, parse_stored(&state)?))
    })
    .collect()
}

/// The ids of the records that have held states.
pub(super) fn held_ids(conn: &Connection, org: OrgId) -> Result<Vec<RecordId>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT DISTINCT id FROM held WHERE org_id = ?1 ORDER BY id")?;
    let rows = stmt.query_map([org], |r| r.get::<_, String>(0))?;
    rows.map(|id| {
        id?.parse()
            .map_err(|_| StoreError::Corrupt("a held record id is not a UUID".into()))
    })
    .collect()
}

/// Deletes a device's held state of a record.
pub(super) fn unhold(
    conn: &Connection,
    org: OrgId,
    id: RecordId,
    device: ReplicaId,
) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM held WHERE org_id = ?1 AND id = ?2 AND device_id = ?3")?
        .execute(params![org, id.to_string(), device.to_string()])?;
    Ok(())
}

/// Deletes every held state of a record (it was erased).
pub(super) fn unhold_all(conn: &Connection, org: OrgId, id: RecordId) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM held WHERE org_id = ?1 AND id = ?2")?
        .execute(params![org, id.to_string()])?;
    Ok(())
}

/// Deletes, for each id a person's erasure erased (`ids`: the person, a person merged
/// into them, every record about them), the held states of that record and those whose
/// state holds the id's text (that name it), and the notes of that record's discarded
/// held states.
pub(super) fn forget(conn: &Connection, org: OrgId, ids: &[RecordId]) -> Result<(), StoreError> {
    for id in ids {
        conn.prepare_cached(
            "DELETE FROM held WHERE org_id = ?1 AND (id = ?2 OR instr(state, ?2) > 0)",
        )?
        .execute(params![org, id.to_string()])?;
        forget_discarded(conn, org, *id)?;
    }
    Ok(())
}

/// Deletes the notes of discarded held states of an erased record: its id leaves the
/// table.
pub(super) fn forget_discarded(
    conn: &Connection,
    org: OrgId,
    id: RecordId,
) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM recovery_discarded WHERE org_id = ?1 AND id = ?2")?
        .execute(params![org, id.to_string()])?;
    Ok(())
}

/// Lists a discarded held state.
pub(super) fn note_discarded(
    conn: &Connection,
    org: OrgId,
    id: RecordId,
    device: ReplicaId,
    why: Discard,
    now: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO recovery_discarded (org_id, id, device_id, why, at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        org,
        id.to_string(),
        device.to_string(),
        why.as_str(),
        now
    ])?;
    Ok(())
}

/// The discarded held states of the organisation, oldest first.
pub(super) fn discarded(conn: &Connection, org: OrgId) -> Result<Vec<Discarded>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, device_id, why, at FROM recovery_discarded WHERE org_id = ?1
         ORDER BY at, id, device_id",
    )?;
    let rows = stmt.query_map([org], |r| {
        Ok(Discarded {
            id: r.get(0)?,
            device: r.get(1)?,
            why: r.get(2)?,
            at: rfc3339(r.get(3)?),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Every held state of the organisation: (record, device, state).
pub(super) fn all_held(
    conn: &Connection,
    org: OrgId,
) -> Result<Vec<(RecordId, ReplicaId, RecordState)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT device_id, state FROM held WHERE org_id = ?1 ORDER BY id, device_id",
    )?;
    let rows = stmt.query_map([org], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    rows.map(|row| {
        let (device, state) = row?;
        let state = parse_stored(&state)?;
        Ok((state.id(), parse_replica(&device)?, state))
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_ends_by_itself_after_its_time_and_discards_what_waits() {
        let dir = tempfile::tempdir().unwrap();
        let conn = super::super::open_backup(&dir.path().join("db")).unwrap();
        conn.execute("INSERT INTO orgs (id, name) VALUES (1, 'nord')", [])
            .unwrap();
        let now = 1_000_000;
        enter(&conn, Some(1), now).unwrap();
        assert_eq!(until(&conn, 1).unwrap(), Some(now + RECOVERY_SECONDS));
        conn.execute(
            "INSERT INTO held (org_id, id, device_id, kind, state, held_at)
             VALUES (1, 'r', 'd', 'person', '{}', ?1)",
            [now],
        )
        .unwrap();
        assert!(active(&conn, 1, now + RECOVERY_SECONDS - 1).unwrap());
        assert!(discarded(&conn, 1).unwrap().is_empty());

        assert!(
            !active(&conn, 1, now + RECOVERY_SECONDS).unwrap(),
            "30 days on"
        );
        assert_eq!(until(&conn, 1).unwrap(), None);
        let listed = discarded(&conn, 1).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(
            (
                listed[0].id.as_str(),
                listed[0].device.as_str(),
                listed[0].why.as_str()
            ),
            ("r", "d", "recovery_ended")
        );
        let held: i64 = conn
            .query_row("SELECT count(*) FROM held", [], |r| r.get(0))
            .unwrap();
        assert_eq!(held, 0, "what waited is gone");
    }
}
