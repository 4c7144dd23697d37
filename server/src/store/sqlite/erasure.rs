//! The transactions of erasure (§5, §6a) on SQLite, composed from the table modules: a
//! record's erasure, a person's, what a push or a release writes for erased ids and
//! persons, and the journal's erasures and edits. Each runs inside the caller's
//! `BEGIN IMMEDIATE` transaction.

use rusqlite::Connection;
use sync_protocol::wire::ErasePersonResponse;
use sync_protocol::{RecordId, RecordState, ReplicaId};

use super::{audit, erased, erasures, orgs, records, recovery};
use crate::store::audit::{AuditKey, Entry, Via, record_mac_bytes};
use crate::store::blobs::{digests, unnamed_by};
use crate::store::erased::{ErasedSet, Forgetting, Forgot, forget_on_write, ids_to_check};
use crate::store::{
    Capped, Erasure, Mac, OrgId, PersonErasure, ServerEdit, StoreError, over_cap, unix_now,
};

/// Writes an erased state under `seq`: the mac of its id into `erased`, its held states
/// and the notes of its discarded held states deleted. Answers its mac when it is newly
/// erased.
pub(super) fn put_erased(
    conn: &Connection,
    org: OrgId,
    seq: u64,
    state: &RecordState,
    key: &AuditKey,
    now: i64,
) -> Result<Option<Mac>, StoreError> {
    records::put(conn, org, seq, state, None)?;
    recovery::unhold_all(conn, org, state.id())?;
    recovery::forget_discarded(conn, org, state.id())?;
    let mac = record_mac_bytes(key, state.id());
    Ok(erased::insert(conn, org, &mac, now)?.then_some(mac))
}

/// A record's erasure, once planned: `state` erased under `seq`.
pub(super) fn erase_record(
    conn: &Connection,
    org: OrgId,
    seq: u64,
    state: RecordState,
    by: Option<ReplicaId>,
) -> Result<Erasure, StoreError> {
    let key = audit::key(conn, org)?;
    let now = unix_now();
    put_erased(conn, org, seq, &state, &key, now)?;
    orgs::set_last_seq(conn, org, seq)?;
    if by.is_some() {
        erasures::note(conn, org, now)?;
    }
    audit::note(conn, org, &[Entry::erased(state.id(), state.vv(), by)])?;
    Ok(Erasure {
        server_seq: seq,
        edits: vec![ServerEdit::Erased {
            mac: record_mac_bytes(&key, state.id()),
        }],
        state,
    })
}

/// The erased ids among those a set of states names (their own ids and the persons
/// they name), looked up in one query.
pub(super) fn erased_among<'a>(
    conn: &Connection,
    org: OrgId,
    states: impl IntoIterator<Item = &'a RecordState>,
) -> Result<ErasedSet, StoreError> {
    let ids = ids_to_check(states);
    let key = audit::key(conn, org)?;
    let macs: Vec<Mac> = ids
        .into_iter()
        .map(|id| record_mac_bytes(&key, id))
        .collect();
    Ok(ErasedSet::new(key, erased::lookup(conn, org, &macs)?))
}

/// What writing a state of a push or a release (by `device`) involves once it went
/// through `forget`: the erasure or the server's edit noted, audited and kept for the
/// journal. Answers the state to store, and whether it is still the state planned.
#[allow(clippy::too_many_arguments)]
pub(super) fn forget_write(
    conn: &Connection,
    org: OrgId,
    state: RecordState,
    erased_set: &mut ErasedSet,
    server: ReplicaId,
    device: ReplicaId,
    audited: &mut Vec<Entry>,
    edits: &mut Vec<ServerEdit>,
) -> Result<(RecordState, bool), StoreError> {
    let (state, forgot) = forget_on_write(state, erased_set, server, &crate::store::erased::now())?;
    if state.is_erased() {
        erased_set.record(state.id());
        let mac = erased_set.mac(state.id());
        if erased::insert(conn, org, &mac, unix_now())? {
            edits.push(ServerEdit::Erased { mac });
            audited.push(Entry::erased_on_arrival(state.id(), state.vv(), device));
        }
        recovery::unhold_all(conn, org, state.id())?;
        recovery::forget_discarded(conn, org, state.id())?;
    } else if forgot == Forgot::Edited {
        audited.push(Entry::edited(
            state.id(),
            state.vv(),
            Some(device),
            Via::Arrival,
        ));
        edits.push(ServerEdit::Edited {
            mac: erased_set.mac(state.id()),
            state: state.clone(),
        });
    }
    Ok((state, forgot == Forgot::Untouched))
}

/// A person's erasure (see [`Store::erase_person`](crate::store::Store::erase_person)).
/// Adds to `unnamed` the documents the records it reads named: those it may leave
/// unnamed.
pub(super) fn erase_person(
    conn: &Connection,
    org: OrgId,
    person: RecordId,
    dry_run: bool,
    capped: Option<ReplicaId>,
    server: ReplicaId,
    unnamed: &mut Vec<String>,
) -> Result<Capped<PersonErasure>, StoreError> {
    let last_seq = orgs::last_seq(conn, org)?;
    let now = unix_now();
    if capped.is_some()
        && !dry_run
        && let Some(wait) = over_cap(&erasures::since(conn, org, now - 3600)?, now)
    {
        return Ok(Capped::OverCap(wait));
    }
    let live = match records::get(conn, org, person)? {
        Some(stored) if stored.kind().as_str() != "person" => return Ok(Capped::NotFound),
        // Erased already (a record's erasure): the rest of the sweep is still to do.
        Some(stored) if stored.is_erased() => None,
        Some(stored) => Some(stored),
        // Sealed: only the mac of their id is left; else the organisation never had them.
        None => {
            let mac = record_mac_bytes(&audit::key(conn, org)?, person);
            if erased::lookup(conn, org, &[mac])?.is_empty() {
                return Ok(Capped::NotFound);
            }
            None
        }
    };
    let mut forgetting = Forgetting::new(person, server, crate::store::erased::now());
    if let Some(stored) = &live {
        forgetting.consider(stored.clone())?;
    }
    loop {
        let round = forgetting.next_round();
        if round.is_empty() {
            break;
        }
        for id in round {
            for state in records::holding(conn, org, &id.to_string())? {
                unnamed.extend(digests(&state));
                forgetting.consider(state)?;
            }
        }
    }
    let mut households = Vec::new();
    let named = live.as_ref().map(crate::store::erased::households);
    for id in named.unwrap_or_default() {
        if let Some(household) = records::get(conn, org, id)?.filter(|h| !h.is_erased()) {
            households.push(household);
        }
    }
    let writes = forgetting.writes();
    let (erased_list, kept) = crate::store::erased::listed(&writes, &households);
    let mut answer = ErasePersonResponse {
        server_seq: last_seq,
        dry_run,
        erased: erased_list,
        kept,
    };
    if dry_run {
        return Ok(Capped::Done(PersonErasure {
            answer,
            edits: Vec::new(),
        }));
    }
    let key = audit::key(conn, org)?;
    let via = Via::of(capped);
    let (mut erasures_done, mut edited, mut entries) = (Vec::new(), Vec::new(), Vec::new());
    let mut seq = last_seq;
    for state in writes {
        seq += 1;
        let mac = record_mac_bytes(&key, state.id());
        if state.is_erased() {
            put_erased(conn, org, seq, &state, &key, now)?;
            entries.push(Entry::erased(state.id(), state.vv(), capped));
            erasures_done.push(ServerEdit::Erased { mac });
        } else {
            records::put(conn, org, seq, &state, None)?;
            entries.push(Entry::edited(state.id(), state.vv(), capped, via));
            edited.push(ServerEdit::Edited { mac, state });
        }
    }
    recovery::forget(conn, org, &forgetting.erased_ids())?;
    orgs::set_last_seq(conn, org, seq)?;
    // As a record's erasure, one that changes nothing is not counted.
    if capped.is_some() && seq > last_seq {
        erasures::note(conn, org, now)?;
    }
    audit::note(conn, org, &entries)?;
    answer.server_seq = seq;
    erasures_done.extend(edited);
    Ok(Capped::Done(PersonErasure {
        answer,
        edits: erasures_done,
    }))
}

/// The journal's erasure (see [`Store::restore_erased`](crate::store::Store::restore_erased)).
/// Adds to `unnamed` the documents the erased record named.
pub(super) fn restore_erased(
    conn: &Connection,
    org: OrgId,
    mac: Mac,
    id: Option<RecordId>,
    unnamed: &mut Vec<String>,
) -> Result<bool, StoreError> {
    let now = unix_now();
    let mut changed = erased::insert(conn, org, &mac, now)?;
    let stored = match id {
        Some(id) => records::get(conn, org, id)?.filter(|s| !s.is_erased()),
        None => None,
    };
    if let Some(stored) = stored {
        let key = audit::key(conn, org)?;
        if record_mac_bytes(&key, stored.id()) == mac {
            let seq = orgs::last_seq(conn, org)? + 1;
            unnamed.extend(digests(&stored));
            let state = stored.erase();
            put_erased(conn, org, seq, &state, &key, now)?;
            orgs::set_last_seq(conn, org, seq)?;
            audit::note(
                conn,
                org,
                &[Entry::erased_from_journal(state.id(), state.vv())],
            )?;
            changed = true;
        }
    }
    Ok(changed)
}

/// The journal's edit of a shared record (see
/// [`Store::restore_edited`](crate::store::Store::restore_edited)). Adds to `unnamed`
/// the documents the stored copy named and the edited one does not.
pub(super) fn restore_edited(
    conn: &Connection,
    org: OrgId,
    state: RecordState,
    unnamed: &mut Vec<String>,
) -> Result<bool, StoreError> {
    let key = audit::key(conn, org)?;
    let mac = record_mac_bytes(&key, state.id());
    if !erased::lookup(conn, org, &[mac])?.is_empty() {
        return Ok(false);
    }
    let stored = records::get(conn, org, state.id())?;
    let merged = match &stored {
        Some(stored) if stored.is_erased() => return Ok(false),
        Some(stored) => sync_protocol::merge(stored, &state)
            .map_err(|_| StoreError::Corrupt("a journaled edit of another kind".into()))?,
        None => state,
    };
    if stored.as_ref() == Some(&merged) {
        return Ok(false);
    }
    unnamed.extend(unnamed_by(stored.as_ref(), &merged));
    let seq = orgs::last_seq(conn, org)? + 1;
    records::put(conn, org, seq, &merged, None)?;
    orgs::set_last_seq(conn, org, seq)?;
    let entry = Entry::edited(merged.id(), merged.vv(), None, Via::Journal);
    audit::note(conn, org, &[entry])?;
    Ok(true)
}
