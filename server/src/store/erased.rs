//! Erasure that stays done (SYNC-PROTOCOL.md §5, §6a): the organisation's erased ids, what
//! a push naming them becomes, and what a person's erasure touches. Pure decisions,
//! shared by both backends as [`plan_push`](super::plan_push) is; the backends read and
//! write the tables.
//!
//! ## Terms
//! - The **mac** of a record id is the HMAC-SHA256 of the id under the organisation's
//!   audit key ([`record_mac_bytes`]): the table `erased` keeps the mac of every id the
//!   organisation ever erased, forever, and never the id.
//! - An erased record's row in `records` (its tombstone: id, kind, vv, `erased = 1`) stays
//!   while a device may still hold the record. **Sealing** deletes it once every device in
//!   service (neither revoked nor retired; a disabled user's device counts, since it keeps
//!   its data) confirmed a pull past its sequence (`devices.confirmed`, the highest
//!   `since` the device pulled with). From then on the id is only a mac.
//!
//! ## A device that went back in time
//! Sealing trusts that a device which confirmed a sequence holds no record erased below
//! it. A case file put back from an older copy breaks that: it may hold records whose
//! tombstones were sealed since, and no pull would bring them again. Its pull then asks
//! from below what the device confirmed: the server answers it 409 `checkpoint_ahead`
//! ([`Conversation::Rewound`](super::Conversation::Rewound)), which SYNC-PROTOCOL.md §6a
//! gives to a server that forgot part of the conversation; here the server forgot
//! nothing, so the organisation does not enter recovery. The device does what it does
//! after a restore of the server: it sends everything again (the records erased since
//! are erased on arrival, below, and it pulls their new tombstones) and pulls from 0.
//! Whenever `checkpoint_ahead` is answered (a restored server, or a device that went
//! back), the device's `confirmed` goes back to 0, so that its pull from 0 that follows
//! is in step and no tombstone is sealed before it has synced past it again. A device
//! that learnt of a new epoch and pulls from 0 with its old `confirmed` is refused once
//! so, which its client takes as a restore of the server and starts over; its next pull
//! from 0 is in step.
//!
//! ## Arrival
//! A pushed record whose id is erased, or that is about an erased person alone
//! ([`RecordState::about_alone`]), is planned as if the stored copy were erased
//! ([`on_arrival`]): merged with an erased copy, it gives the erased record, which is
//! written as a new tombstone ([`absorb`]) that the device pulls and drops. Within one
//! push, a record erased so (a merge tombstone about an erased person) counts as erased
//! for the records after it too. Then every state to write goes through
//! [`sync_protocol::forget`] ([`forget_on_write`]): a shared record naming an erased
//! person loses them by an edit of the server's replica. The macs a push needs are
//! looked up in one query: those of the ids pushed and of the persons they name
//! ([`ids_to_check`]).
//!
//! A held state (§6a) is kept apart as pushed: it is erased or edited when it is
//! released, and a person's erasure deletes the held states of the records it erases
//! and those that name any of them (the person, a person merged into them).
//!
//! ## A person's erasure
//! [`Forgetting`] works out what erasing a person does to the organisation's records,
//! round after round: each round reads the live records whose text holds an id erased
//! in the round before (the person first), and passes them through `forget`. A record
//! erased (a merge tombstone of a person merged into them) is itself named by others,
//! which the next round reads. A person whose own record is erased already (a record's
//! erasure came first), or sealed (only the mac of their id is left), is still erased so:
//! the rounds start from their id, and the person is not listed again.

use std::collections::{BTreeMap, HashSet};

use sync_protocol::wire::TouchedRecord;
use sync_protocol::{
    FieldName, Forgotten, PERSONS_FIELD, RecordId, RecordState, ReplicaId, Timestamp,
    names_one_person, prose_fields,
};

use super::audit::{AuditKey, record_mac_bytes};
use super::{Planned, StoreError};

/// The HMAC-SHA256 of a record id under the organisation's audit key.
pub type Mac = [u8; 32];

/// An edit of the server's own replica, which the journal keeps (§6a).
#[derive(Debug, Clone, PartialEq)]
pub enum ServerEdit {
    /// A record became erased.
    Erased {
        /// The mac of its id.
        mac: Mac,
    },
    /// The server's replica took an erased person out of a shared record.
    Edited {
        /// The mac of its id.
        mac: Mac,
        /// The record's new state, byte for byte.
        state: RecordState,
    },
}

/// The erased ids an operation knows of: the macs found in `erased` among those it looked
/// up, and the ids it erased itself and has not written yet. Ask only about ids looked up.
#[derive(Debug, Clone)]
pub(crate) struct ErasedSet {
    key: AuditKey,
    stored: HashSet<Mac>,
    pending: HashSet<Mac>,
}

impl ErasedSet {
    /// The set of `stored` macs, under the organisation's `key`.
    pub(crate) fn new(key: AuditKey, stored: HashSet<Mac>) -> Self {
        Self {
            key,
            stored,
            pending: HashSet::new(),
        }
    }

    /// The mac of `id`.
    pub(crate) fn mac(&self, id: RecordId) -> Mac {
        record_mac_bytes(&self.key, id)
    }

    /// Whether `id` is erased.
    pub(crate) fn contains(&self, id: RecordId) -> bool {
        let mac = self.mac(id);
        self.stored.contains(&mac) || self.pending.contains(&mac)
    }

    /// Counts `id` as erased from now on, before its erased state is written.
    pub(crate) fn expect(&mut self, id: RecordId) {
        self.pending.insert(self.mac(id));
    }

    /// An erased state of `id` is being written: its mac, when `erased` lacks it (the
    /// caller inserts it), or `None`.
    pub(crate) fn record(&mut self, id: RecordId) -> Option<Mac> {
        let mac = self.mac(id);
        self.pending.remove(&mac);
        self.stored.insert(mac).then_some(mac)
    }
}

/// The ids whose erasure a push must know of: every record pushed and every person they
/// (and the stored copies they merge into) name.
pub(crate) fn ids_to_check<'a>(states: impl IntoIterator<Item = &'a RecordState>) -> Vec<RecordId> {
    let mut ids: Vec<RecordId> = states
        .into_iter()
        .flat_map(|s| std::iter::once(s.id()).chain(s.persons_named()))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Whether a pushed state is erased on arrival: its id is erased, or a person it is
/// about alone.
fn erased_on_arrival(state: &RecordState, erased: &ErasedSet) -> bool {
    erased.contains(state.id()) || state.about_alone().into_iter().any(|p| erased.contains(p))
}

/// The stored copies as a push plans with them (same order as `pushed`), and which
/// records are absorbed: a record erased on arrival whose stored copy is not erased is
/// planned against an erased copy (the stored one erased, or the pushed one when the
/// server has none, or sealed it). Records erased so count as erased for the rest of
/// the push (`erased` learns them).
pub(crate) fn on_arrival(
    pushed: &[RecordState],
    stored: Vec<Option<RecordState>>,
    erased: &mut ErasedSet,
) -> (Vec<Option<RecordState>>, Vec<bool>) {
    let mut absorbed = vec![false; pushed.len()];
    // A record erased here may be what a record before it is about: go round until
    // nothing more is erased.
    loop {
        let mut more = false;
        for (state, absorbed) in pushed.iter().zip(&mut absorbed) {
            if !*absorbed && erased_on_arrival(state, erased) {
                *absorbed = true;
                more = true;
                erased.expect(state.id());
            }
        }
        if !more {
            break;
        }
    }
    let stored = pushed
        .iter()
        .zip(stored)
        .zip(&mut absorbed)
        .map(|((new, old), absorbed)| match old {
            Some(old) if old.is_erased() => {
                // Merged with an erased copy anyway: planned as ever.
                *absorbed = false;
                Some(old)
            }
            Some(old) if *absorbed => Some(old.erase()),
            None if *absorbed => Some(new.erase()),
            old => old,
        })
        .collect();
    (stored, absorbed)
}

/// The plan of a push once absorbed records are written as new tombstones: an absorbed
/// record is written even when its erased copy already covers the push (the device must
/// pull it to drop the record), never as exactly what the device pushed.
pub(crate) fn absorb(
    plan: Vec<Planned>,
    absorbed: &[bool],
    planned_stored: &[Option<RecordState>],
) -> Vec<Planned> {
    plan.into_iter()
        .zip(absorbed)
        .zip(planned_stored)
        .map(|((planned, &absorbed), stored)| match (planned, stored) {
            (planned, _) if !absorbed => planned,
            (Planned::Write { state, .. }, _) => Planned::Write {
                state,
                status: sync_protocol::wire::PushStatus::Merged,
                exact: false,
            },
            (Planned::Unchanged { .. }, Some(stored)) => Planned::Write {
                state: stored.clone(),
                status: sync_protocol::wire::PushStatus::Merged,
                exact: false,
            },
            (planned, _) => planned,
        })
        .collect()
}

/// What [`forget_on_write`] did to a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Forgot {
    /// Nothing: it names no erased person.
    Untouched,
    /// It became erased.
    Erased,
    /// The server's replica took erased persons out of it.
    Edited,
}

/// A state about to be written, passed through [`sync_protocol::forget`] with the
/// erased ids of `erased`, by the server's replica `server` at `at`.
pub(crate) fn forget_on_write(
    state: RecordState,
    erased: &ErasedSet,
    server: ReplicaId,
    at: &Timestamp,
) -> Result<(RecordState, Forgot), StoreError> {
    match sync_protocol::forget(&state, |id| erased.contains(id), server, at.clone()) {
        Ok(Forgotten::Untouched) => Ok((state, Forgot::Untouched)),
        Ok(Forgotten::Erased(state)) => Ok((state, Forgot::Erased)),
        Ok(Forgotten::Edited(state)) => Ok((state, Forgot::Edited)),
        Err(e) => Err(forget_failed(&e)),
    }
}

/// The error of a server's edit that `forget` refused. Its message leaves out the
/// edit's own, which names the record.
fn forget_failed(_: &sync_protocol::EditError) -> StoreError {
    StoreError::Corrupt(
        "the server could not take an erased person out of a shared record: the edit would \
         pass the record's counter or size limit (SYNC-PROTOCOL.md §2)"
            .into(),
    )
}

/// Now, as the `at` of the server's edits.
pub(crate) fn now() -> Timestamp {
    Timestamp::now()
}

/// The ids of the household records a person state names (`household_id`, every entry).
pub(crate) fn households(person: &RecordState) -> Vec<RecordId> {
    let mut ids: Vec<RecordId> = person
        .entries("household_id")
        .iter()
        .filter_map(|e| e.value.as_str())
        .filter_map(|text| text.parse().ok())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// What erasing one person does to the organisation's records, worked out round by round
/// (see the module's docs).
#[derive(Debug)]
pub(crate) struct Forgetting {
    server: ReplicaId,
    at: Timestamp,
    /// The person and every record erased so far.
    erased: HashSet<RecordId>,
    /// The ids erased in the last round, whose naming records the next round reads.
    frontier: Vec<RecordId>,
    /// Each record touched, with its new state, in the order found.
    touched: BTreeMap<RecordId, (usize, RecordState)>,
}

impl Forgetting {
    /// The erasure of `person`, by the server's replica `server` at `at`.
    pub(crate) fn new(person: RecordId, server: ReplicaId, at: Timestamp) -> Self {
        Self {
            server,
            at,
            erased: HashSet::from([person]),
            frontier: vec![person],
            touched: BTreeMap::new(),
        }
    }

    /// The ids whose naming records the next round must read (none: done).
    pub(crate) fn next_round(&mut self) -> Vec<RecordId> {
        std::mem::take(&mut self.frontier)
    }

    /// Passes a live record read in this round through `forget` (its state as touched
    /// already, if it was).
    pub(crate) fn consider(&mut self, stored: RecordState) -> Result<(), StoreError> {
        let id = stored.id();
        let state = match self.touched.get(&id) {
            Some((_, touched)) => touched.clone(),
            None => stored,
        };
        let erased = &self.erased;
        let forgotten = sync_protocol::forget(
            &state,
            |i| erased.contains(&i),
            self.server,
            self.at.clone(),
        )
        .map_err(|e| forget_failed(&e))?;
        let new = match forgotten {
            Forgotten::Untouched => return Ok(()),
            Forgotten::Erased(new) => {
                if self.erased.insert(id) {
                    self.frontier.push(id);
                }
                new
            }
            Forgotten::Edited(new) => new,
        };
        let order = self.touched.len();
        self.touched
            .entry(id)
            .and_modify(|(_, s)| *s = new.clone())
            .or_insert((order, new));
        Ok(())
    }

    /// The new states, in the order found (the person first when considered first).
    pub(crate) fn writes(&self) -> Vec<RecordState> {
        let mut writes: Vec<&(usize, RecordState)> = self.touched.values().collect();
        writes.sort_by_key(|(order, _)| *order);
        writes.into_iter().map(|(_, s)| s.clone()).collect()
    }

    /// The ids erased, the person included.
    pub(crate) fn erased_ids(&self) -> Vec<RecordId> {
        let mut ids: Vec<RecordId> = self.erased.iter().copied().collect();
        ids.sort_unstable();
        ids
    }
}

/// Every field of `state` that holds some text (a non-empty string, alone or in a list,
/// that is not a record id), but person fields and `_`-fields: what a coordinator reads
/// again in the person's household, whose name may be the person's family name in one
/// word, which [`prose_fields`] would not list.
pub(crate) fn text_fields(state: &RecordState) -> Vec<FieldName> {
    fn text(value: &serde_json::Value) -> bool {
        match value {
            serde_json::Value::String(s) => {
                !s.trim().is_empty() && s.trim().parse::<RecordId>().is_err()
            }
            serde_json::Value::Array(values) => values.iter().any(text),
            _ => false,
        }
    }
    state
        .fields()
        .filter(|(name, _)| {
            let name = name.as_str();
            !name.starts_with('_') && !names_one_person(name) && name != PERSONS_FIELD
        })
        .filter(|(_, entries)| entries.iter().any(|entry| text(&entry.value)))
        .map(|(name, _)| name.clone())
        .collect()
}

/// The records an erasure lists: those erased, and those kept: edited shared records,
/// with their fields of free text ([`prose_fields`]), and `households` (the person's),
/// with every field of text ([`text_fields`]), for a coordinator to read again.
pub(crate) fn listed(
    writes: &[RecordState],
    households: &[RecordState],
) -> (Vec<TouchedRecord>, Vec<TouchedRecord>) {
    let touched = |state: &RecordState, reread| TouchedRecord {
        id: state.id(),
        kind: state.kind().clone(),
        reread,
    };
    let household = |id: RecordId| households.iter().any(|h| h.id() == id);
    let erased = writes
        .iter()
        .filter(|s| s.is_erased())
        .map(|s| touched(s, Vec::new()))
        .collect();
    let kept = writes
        .iter()
        .filter(|s| !s.is_erased())
        .map(|s| match household(s.id()) {
            true => touched(s, text_fields(s)),
            false => touched(s, prose_fields(s)),
        })
        .chain(
            households
                .iter()
                .filter(|h| !writes.iter().any(|w| w.id() == h.id()))
                .map(|h| touched(h, text_fields(h))),
        )
        .collect();
    (erased, kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn id(n: u128) -> RecordId {
        RecordId::from_u128(n)
    }

    fn record(kind: &str, n: u128, fields: Value) -> RecordState {
        let fields = fields
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.parse().unwrap(), v.clone()));
        RecordState::create(
            id(n),
            kind.parse().unwrap(),
            ReplicaId::from_u128(1),
            "2026-11-30T10:00:00Z".parse().unwrap(),
            fields,
        )
        .unwrap()
    }

    fn set(erased: &[u128]) -> ErasedSet {
        let key = [3u8; 32];
        ErasedSet::new(
            key,
            erased
                .iter()
                .map(|&n| record_mac_bytes(&key, id(n)))
                .collect(),
        )
    }

    #[test]
    fn a_push_about_an_erased_person_is_planned_against_an_erased_copy() {
        let p = id(7).to_string();
        let mut erased = set(&[7]);
        let step = record("step", 10, json!({"person_id": p}));
        let merged = record("person", 11, json!({"merged_into": p}));
        let of_merged = record("step", 12, json!({"person_id": id(11).to_string()}));
        let other = record("step", 13, json!({"person_id": id(3).to_string()}));
        let pushed = [
            of_merged.clone(),
            step.clone(),
            merged.clone(),
            other.clone(),
        ];
        let stored = vec![None, Some(step.clone()), None, None];
        let (planned, absorbed) = on_arrival(&pushed, stored, &mut erased);
        assert_eq!(
            absorbed,
            [true, true, true, false],
            "the step of a person merged into the erased one goes too, whatever the order"
        );
        assert_eq!(
            planned,
            [
                Some(of_merged.erase()),
                Some(step.erase()),
                Some(merged.erase()),
                None
            ]
        );
        let plan =
            super::super::plan_push(&pushed, &planned, ReplicaId::from_u128(1), None).unwrap();
        let plan = absorb(plan, &absorbed, &planned);
        for (i, planned) in plan.iter().take(3).enumerate() {
            assert!(
                matches!(planned, Planned::Write { state, exact: false, .. } if state.is_erased()),
                "record {i} is written as a new tombstone: {planned:?}"
            );
        }
        assert!(matches!(&plan[3], Planned::Write { exact: true, .. }));
        assert_eq!(
            erased.record(id(11)),
            Some(erased.mac(id(11))),
            "newly erased"
        );
        assert_eq!(erased.record(id(7)), None, "erased before");
    }

    #[test]
    fn a_stored_erased_copy_is_planned_as_ever() {
        let mut erased = set(&[10]);
        let step = record("step", 10, json!({"title": "CV"}));
        let (planned, absorbed) = on_arrival(
            std::slice::from_ref(&step),
            vec![Some(step.erase())],
            &mut erased,
        );
        assert_eq!((planned, absorbed), (vec![Some(step.erase())], vec![false]));
    }

    #[test]
    fn a_persons_erasure_follows_merge_tombstones() {
        let p = id(7).to_string();
        let server = ReplicaId::from_u128(99);
        let mut forgetting = Forgetting::new(id(7), server, now());
        assert_eq!(forgetting.next_round(), [id(7)]);
        let person = record("person", 7, json!({"family_name": "Lăcătuș"}));
        let merged = record("person", 8, json!({"merged_into": p}));
        let visit = record(
            "visit",
            9,
            json!({"person_ids": [p, id(3).to_string()], "observations": "Vu avec sa sœur"}),
        );
        for state in [person.clone(), merged.clone(), visit.clone()] {
            forgetting.consider(state).unwrap();
        }
        assert_eq!(
            forgetting.next_round(),
            [id(8)],
            "the merged person is erased"
        );
        let of_merged = record("step", 12, json!({"person_id": id(8).to_string()}));
        forgetting.consider(of_merged.clone()).unwrap();
        forgetting.consider(merged.clone()).unwrap();
        assert_eq!(forgetting.next_round(), [id(12)]);
        assert_eq!(forgetting.next_round(), Vec::<RecordId>::new(), "done");
        let writes = forgetting.writes();
        assert_eq!(writes.len(), 4, "{writes:?}");
        assert_eq!(writes[0], person.erase(), "the person first");
        let household = record(
            "household",
            20,
            json!({"name": "Lăcătuș", "notes": "Famille de Ion", "site_id": id(30).to_string(),
                   "size": 4, "tags": ["", "caravane"], "_draft": "x", "summary": " "}),
        );
        let (erased, kept) = listed(&writes, std::slice::from_ref(&household));
        let ids = |list: &[TouchedRecord]| list.iter().map(|t| t.id).collect::<Vec<_>>();
        assert_eq!(ids(&erased), [id(7), id(8), id(12)]);
        assert_eq!(ids(&kept), [id(9), id(20)]);
        assert_eq!(kept[0].reread, ["observations".parse().unwrap()]);
        let fields = |names: &[&str]| -> Vec<FieldName> {
            names.iter().map(|n| n.parse().unwrap()).collect()
        };
        assert_eq!(
            kept[1].reread,
            fields(&["name", "notes", "tags"]),
            "every field of the household that holds text, its one-word name too; not an \
             id, a number, a blank or a `_`-field"
        );
        assert_eq!(forgetting.erased_ids(), [id(7), id(8), id(12)]);
    }
}
