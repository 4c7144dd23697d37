//! Recovery's held records (`SYNC-PROTOCOL.md` §6a): what a push made while the
//! organisation is in recovery does with a state that brings edits of other devices the
//! server's copy lacks ([`arrival`]), and when such held states enter the stored copy
//! ([`release`]). Pure decisions, shared by the SQLite and PostgreSQL backends as
//! [`plan_push`](super::plan_push) is; the backends read and write the `held` table.
//!
//! ## Terms
//! - A **part** of a state is one of its entries (a dot in a field, with its content) or
//!   one of its `vv` counters. A part *of replica R* is an entry whose dot is R's, or the
//!   counter of R.
//! - The **vouchers** of a replica R are R itself and every device whose chain of
//!   predecessors ([`OrgDevices::predecessor`], followed transitively) reaches R: a
//!   re-keyed device vouches for the edits of its earlier lives.
//! - The **foreign** parts of a state held by device D are its parts of replicas D does
//!   not vouch for. On arrival, foreign means of another replica than the pusher, and not
//!   covered by the stored copy.
//!
//! ## Arrival
//! A pushed state with no foreign unseen part is an ordinary push ([`plan_push`]'s rules).
//! One whose foreign unseen parts are all of devices of the organisation (revoked and
//! retired ones included) is held. One with any foreign unseen part of a replica that is
//! no device of the organisation (another organisation's device, the server's own
//! replica, or nobody) is refused as forged, even in recovery.
//!
//! ## Release
//! [`release`] decides for one record, from its stored copy S and every held state:
//! 1. **Kind.** A held state of another kind than S (or, defensively, another id) is
//!    discarded (`kind_clash`). With no S, held states that are not all of one kind all
//!    wait: the first ordinary push of the record decides its kind, and the next release
//!    discards the others.
//! 2. **One dot, one content.** A held state holding an entry whose dot S, or the held
//!    state of a voucher of that dot's replica, holds in the same field with another
//!    content is discarded (`altered_entry`). This is decided once, against every held
//!    state of the right kind, all at once, so that it does not depend on order. It
//!    covers every entry, the holder's own ones included: two lives of one device that
//!    disagree on one dot are both discarded.
//! 3. **Vouching.** A held state is vouched when each of its foreign parts is
//!    (a) covered by S; or (b) covered by the held state of a voucher of its replica that
//!    is itself in the candidate set (for an entry that the voucher does not hold in that
//!    field, the voucher's view wins in the merge); or (c) of a device a coordinator
//!    accepted (`recovery accept --device`, which vouches for what that device and its
//!    earlier lives wrote), or of any device when everything waiting was accepted. The
//!    candidate set starts with every held state not discarded, and loses every state not
//!    vouched by the others until none is lost: the largest set whose members vouch for
//!    each other, so a cycle (A holds B's edits and B holds A's) is released together.
//! 4. **No drop.** Each candidate must pass the no-drop rule of §4
//!    ([`check_no_drop`]) against S and against every other candidate, pairwise, so the
//!    outcome does not depend on the order of the merges. A candidate that fails is
//!    discarded (`dropped_entry`) and the candidate set is worked out again from step 3,
//!    since others may have relied on it. Together with (b), this reads §6a's "holds in
//!    that field an entry that wrote over it": a voucher that covers an entry without
//!    holding it, and without a write of its own there, fails this step.
//! 5. The candidates are released: the new stored state is the merge of S and all of
//!    them.
//!
//! Honest histories always release once every device that edited the record has pushed
//! its state (the property test at the end of this file checks it across restores).
//! An entry of R with a content R never gave it never enters: it waits while neither R's
//! state nor S covers it, and is discarded once one of them shows another content. A
//! state that covers an entry and leaves it out without writing over it is discarded as
//! soon as S, or any candidate, holds that entry, whichever arrived first.
//!
//! ## Choices the protocol leaves open
//! - An acceptance never vouches for a replica that is no device of the organisation:
//!   the server's own edits reach the stored copy only from the server.
//! - Under an acceptance (c), an entry that another held state holds with another content
//!   is not vouched by the acceptance: neither holder is its author, and only its author's
//!   state, or S, can say which content is the edit. Both wait.
//! - Decisions are made for all held states at once at each step, in device order, so the
//!   same inputs give the same answer whatever order the caller lists them in. When
//!   several released states equal the result, [`Release::exact`] names the first device.
//! - The caller calls [`release`] after every push of a record that has held states, not
//!   only after a push is held: an ordinary push that adds an edit to S may vouch for a
//!   state held earlier.
//! - A coordinator's acceptance vouches for counters too: a held state that covers an
//!   accepted device's edit it does not hold is then released, and that edit, should the
//!   device come back after all, is treated as written over. That is what accepting a
//!   device that "will never come back" means.
//!
//! [`plan_push`]: super::plan_push

use std::collections::{BTreeMap, BTreeSet};

use sync_protocol::{Dot, Entry, ForgedDot, RecordState, ReplicaId, check_no_drop, merge};

/// The devices of the pusher's organisation, as recovery needs them.
#[derive(Debug, Clone, Default)]
pub(crate) struct OrgDevices {
    /// Every device ever enrolled in the organisation (revoked and retired ones too).
    pub devices: BTreeSet<ReplicaId>,
    /// For a re-keyed device, the replica it took over from (successor -> predecessor).
    pub predecessor: BTreeMap<ReplicaId, ReplicaId>,
    /// Devices a coordinator accepted (`recovery accept --device`): what they wrote counts
    /// as vouched for.
    pub accepted: BTreeSet<ReplicaId>,
}

impl OrgDevices {
    /// Whether `device` vouches for the edits of `replica`: it is `replica`, or its chain
    /// of predecessors reaches `replica`. A chain that loops ends where it loops.
    pub(crate) fn vouches(&self, device: ReplicaId, replica: ReplicaId) -> bool {
        let mut visited = BTreeSet::new();
        let mut current = device;
        loop {
            if current == replica {
                return true;
            }
            if !visited.insert(current) {
                return false;
            }
            match self.predecessor.get(&current) {
                Some(&previous) => current = previous,
                None => return false,
            }
        }
    }

    /// Whether a coordinator's acceptance vouches for `replica`: it is a device of the
    /// organisation, and everything waiting was accepted (`accept_all`), or an accepted
    /// device vouches for it.
    fn accepts(&self, replica: ReplicaId, accept_all: bool) -> bool {
        self.devices.contains(&replica)
            && (accept_all
                || self
                    .accepted
                    .iter()
                    .any(|&accepted| self.vouches(accepted, replica)))
    }
}

/// What recovery makes of one pushed state (only called while the organisation is in
/// recovery).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Arrival {
    /// Nothing foreign and unseen: the ordinary push rules apply (plan_push).
    Ordinary,
    /// Holds entries or vv counters of other devices of the organisation that `stored`
    /// does not cover: hold it.
    Hold,
    /// Holds a dot or counter of a replica that is no device of the organisation (another
    /// organisation's, the server's own, or nobody's): refused as forged even in recovery.
    Forged(ForgedDot),
}

/// Decides what a push in recovery does with `pushed`, sent by `pusher`, against the
/// stored copy `stored` (`None`: the server has none).
///
/// Looks only at dots and counters of replicas other than the pusher that `stored` does
/// not cover (the pusher's predecessors included: they are held, and the pusher vouches
/// for them on [`release`]). Refuses as forged, naming the first such part in the order
/// of [`sync_protocol::check_dots`] (counters, then entries), when one is no device of
/// the organisation; holds the state when there is any other; else the push is ordinary.
/// The caller checks the kind and reused dots first, as [`plan_push`](super::plan_push)
/// does, and the ordinary rules (forged and altered dots, no drop) for an ordinary push.
pub(crate) fn arrival(
    pushed: &RecordState,
    stored: Option<&RecordState>,
    pusher: ReplicaId,
    org: &OrgDevices,
) -> Arrival {
    let seen = |replica: ReplicaId| stored.map_or(0, |s| s.vv().get(replica));
    let record = || pushed.id().to_string();
    let mut foreign = false;
    for (replica, counter) in pushed.vv().iter() {
        if replica == pusher || counter <= seen(replica) {
            continue;
        }
        if !org.devices.contains(&replica) {
            return Arrival::Forged(ForgedDot::UnseenCounter {
                record: record(),
                replica,
                counter,
            });
        }
        foreign = true;
    }
    // Every entry's dot is covered by its state's vv (§2, checked when it was read), so
    // the counters above name every unseen replica; the entries are read too, as
    // `check_dots` does, so that a state built otherwise is judged the same.
    for dot in pushed.dots() {
        if dot.replica == pusher || dot.counter <= seen(dot.replica) {
            continue;
        }
        if !org.devices.contains(&dot.replica) {
            return Arrival::Forged(ForgedDot::UnseenDot {
                record: record(),
                dot,
            });
        }
        foreign = true;
    }
    if foreign {
        Arrival::Hold
    } else {
        Arrival::Ordinary
    }
}

/// Why a held state was discarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Discard {
    /// It holds an entry whose dot the stored copy, or the state of a device that vouches
    /// for it, holds in the same field with another content.
    AlteredEntry,
    /// It covers an entry of the stored copy or of another released state without
    /// holding it, and without writing over it (§4's no-drop rule).
    DroppedEntry,
    /// Its kind differs from the stored copy's (§2: a record's kind never changes).
    KindClash,
    /// It still waited when the organisation's recovery ended.
    RecoveryEnded,
}

impl Discard {
    /// The name stored and listed by `recovery status`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::AlteredEntry => "altered_entry",
            Self::DroppedEntry => "dropped_entry",
            Self::KindClash => "kind_clash",
            Self::RecoveryEnded => "recovery_ended",
        }
    }
}

/// What releasing one record's held states decides.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Release {
    /// The record's new stored state when anything was released (None: nothing released,
    /// the stored copy stays). It may equal the stored copy, when what was released
    /// brings nothing new: the caller need not write it then.
    pub merged: Option<RecordState>,
    /// The devices whose held states were released (merged into `merged`): delete them
    /// from the held table.
    pub released: Vec<ReplicaId>,
    /// The devices whose held states were refused, and why: delete them and list them.
    pub discarded: Vec<(ReplicaId, Discard)>,
    /// The device whose held state is exactly `merged`, if any (the server notes it, as
    /// `pushed_by`, so its pull leaves it out).
    pub exact: Option<ReplicaId>,
}

/// Decides, for one record, which held states are released, given the stored copy and
/// every held state of that record (by device, sorted by device id), the organisation's
/// devices, and whether a coordinator accepted everything waiting (`recovery accept`
/// without --device: every foreign replica counts as vouched).
///
/// The steps are those of the module's docs. States neither released nor discarded wait.
/// The answer depends only on the inputs, not on the order of `held` (a device listed
/// twice keeps its last state). Every state must be of one record; a held state of
/// another kind or id than the stored copy is discarded as [`Discard::KindClash`].
pub(crate) fn release(
    stored: Option<&RecordState>,
    held: &[(ReplicaId, RecordState)],
    org: &OrgDevices,
    accept_all: bool,
) -> Release {
    let held: BTreeMap<ReplicaId, &RecordState> = held
        .iter()
        .map(|(device, state)| (*device, state))
        .collect();
    let mut discarded: BTreeMap<ReplicaId, Discard> = BTreeMap::new();

    match stored {
        Some(stored) => {
            for (&device, state) in &held {
                if !one_record(stored, state) {
                    discarded.insert(device, Discard::KindClash);
                }
            }
        }
        None => {
            let mut states = held.values();
            if let Some(first) = states.next()
                && !states.all(|state| one_record(first, state))
            {
                return Release::nothing(BTreeMap::new());
            }
        }
    }

    let live = remaining(&held, &discarded);
    let altered: Vec<ReplicaId> = live
        .iter()
        .filter(|&(&device, state)| holds_altered(device, state, stored, &live, org))
        .map(|(&device, _)| device)
        .collect();
    discarded.extend(altered.into_iter().map(|d| (d, Discard::AlteredEntry)));

    // Each round discards at least one state or returns, so this ends.
    loop {
        let live = remaining(&held, &discarded);
        let group = vouched_group(stored, &live, org, accept_all);
        let dropping: Vec<ReplicaId> = group
            .iter()
            .filter(|&&device| drops_entry(device, stored, &group, &live))
            .copied()
            .collect();
        if dropping.is_empty() {
            return finish(stored, &group, &live, discarded);
        }
        discarded.extend(dropping.into_iter().map(|d| (d, Discard::DroppedEntry)));
    }
}

impl Release {
    /// Nothing released: the stored copy stays, and what is not discarded waits.
    fn nothing(discarded: BTreeMap<ReplicaId, Discard>) -> Self {
        Self {
            merged: None,
            released: Vec::new(),
            discarded: discarded.into_iter().collect(),
            exact: None,
        }
    }
}

/// Whether two states are copies of one record (same id and kind), which merge needs.
fn one_record(a: &RecordState, b: &RecordState) -> bool {
    a.id() == b.id() && a.kind() == b.kind()
}

/// The held states not discarded.
fn remaining<'a>(
    held: &BTreeMap<ReplicaId, &'a RecordState>,
    discarded: &BTreeMap<ReplicaId, Discard>,
) -> BTreeMap<ReplicaId, &'a RecordState> {
    held.iter()
        .filter(|(device, _)| !discarded.contains_key(device))
        .map(|(&device, &state)| (device, state))
        .collect()
}

/// The entry of `entries` (sorted by dot) with the dot `dot`, if any.
fn find(entries: &[Entry], dot: Dot) -> Option<&Entry> {
    entries
        .binary_search_by_key(&dot, |e| e.dot)
        .ok()
        .and_then(|i| entries.get(i))
}

/// Whether `other` holds, in the field `field`, the dot of `entry` with another content.
fn differs(other: &RecordState, field: &str, entry: &Entry) -> bool {
    find(other.entries(field), entry.dot).is_some_and(|theirs| theirs != entry)
}

/// Whether the state held by `device` holds an entry whose dot `stored`, or the held state
/// of another device that vouches for the dot's replica, holds in the same field with
/// another content (step 2).
fn holds_altered(
    device: ReplicaId,
    state: &RecordState,
    stored: Option<&RecordState>,
    live: &BTreeMap<ReplicaId, &RecordState>,
    org: &OrgDevices,
) -> bool {
    state.fields().any(|(name, entries)| {
        let field = name.as_str();
        entries.iter().any(|entry| {
            stored.is_some_and(|s| differs(s, field, entry))
                || live.iter().any(|(&other, theirs)| {
                    other != device
                        && org.vouches(other, entry.dot.replica)
                        && differs(theirs, field, entry)
                })
        })
    })
}

/// The largest set of the `live` held states whose foreign parts are each vouched for by
/// `stored`, another member, or an acceptance (step 3). Vouching only grows with the set,
/// so removing what is not vouched until nothing is removed finds that one largest set,
/// whatever the order of removal.
fn vouched_group(
    stored: Option<&RecordState>,
    live: &BTreeMap<ReplicaId, &RecordState>,
    org: &OrgDevices,
    accept_all: bool,
) -> BTreeSet<ReplicaId> {
    let mut group: BTreeSet<ReplicaId> = live.keys().copied().collect();
    loop {
        let unvouched: Vec<ReplicaId> = group
            .iter()
            .filter(|&&device| {
                live.get(&device).is_none_or(|state| {
                    !is_vouched(device, state, stored, &group, live, org, accept_all)
                })
            })
            .copied()
            .collect();
        if unvouched.is_empty() {
            return group;
        }
        for device in unvouched {
            group.remove(&device);
        }
    }
}

/// Whether every foreign part of the state held by `device` is vouched for, by `stored`
/// (a), the state of a voucher of its replica among the other members of `group` (b), or
/// an acceptance (c). Contents that disagree with `stored` or a voucher were discarded in
/// step 2; an acceptance does not vouch for an entry that another live held state holds
/// with another content.
fn is_vouched(
    device: ReplicaId,
    state: &RecordState,
    stored: Option<&RecordState>,
    group: &BTreeSet<ReplicaId>,
    live: &BTreeMap<ReplicaId, &RecordState>,
    org: &OrgDevices,
    accept_all: bool,
) -> bool {
    let seen = |replica: ReplicaId| stored.map_or(0, |s| s.vv().get(replica));
    let vouchers = |replica: ReplicaId| {
        group
            .iter()
            .filter(move |&&other| other != device && org.vouches(other, replica))
            .filter_map(|other| live.get(other))
    };
    let counters = state.vv().iter().all(|(replica, counter)| {
        org.vouches(device, replica)
            || counter <= seen(replica)
            || vouchers(replica).any(|v| v.vv().get(replica) >= counter)
            || org.accepts(replica, accept_all)
    });
    counters
        && state.fields().all(|(name, entries)| {
            entries.iter().all(|entry| {
                let replica = entry.dot.replica;
                org.vouches(device, replica)
                    || entry.dot.counter <= seen(replica)
                    || vouchers(replica).any(|v| v.vv().covers(entry.dot))
                    || (org.accepts(replica, accept_all)
                        && !live.iter().any(|(&other, theirs)| {
                            other != device && differs(theirs, name.as_str(), entry)
                        }))
            })
        })
}

/// Whether the state held by `device`, merged into `stored` or into any other member of
/// `group`, would drop one of its entries without writing over it (step 4).
fn drops_entry(
    device: ReplicaId,
    stored: Option<&RecordState>,
    group: &BTreeSet<ReplicaId>,
    live: &BTreeMap<ReplicaId, &RecordState>,
) -> bool {
    let Some(state) = live.get(&device) else {
        return false;
    };
    stored.is_some_and(|s| check_no_drop(s, state).is_err())
        || group
            .iter()
            .filter(|&&other| other != device)
            .filter_map(|other| live.get(other))
            .any(|other| check_no_drop(other, state).is_err())
}

/// The release of `group` (step 5).
fn finish(
    stored: Option<&RecordState>,
    group: &BTreeSet<ReplicaId>,
    live: &BTreeMap<ReplicaId, &RecordState>,
    discarded: BTreeMap<ReplicaId, Discard>,
) -> Release {
    let members: Vec<(ReplicaId, &RecordState)> = group
        .iter()
        .filter_map(|device| live.get(device).map(|&state| (*device, state)))
        .collect();
    if members.is_empty() {
        return Release::nothing(discarded);
    }
    let mut merged: Option<RecordState> = stored.cloned();
    for &(_, state) in &members {
        merged = match merged {
            None => Some(state.clone()),
            // Step 1 kept only copies of the stored record, or of one record when there is
            // none, so merge cannot refuse; should it, nothing is released.
            Some(acc) => match merge(&acc, state) {
                Ok(next) => Some(next),
                Err(_) => return Release::nothing(discarded),
            },
        };
    }
    let exact = members
        .iter()
        .find(|(_, state)| merged.as_ref() == Some(*state))
        .map(|(device, _)| *device);
    Release {
        merged,
        released: members.iter().map(|(device, _)| *device).collect(),
        discarded: discarded.into_iter().collect(),
        exact,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::prelude::*;
    use serde_json::{Value, json};
    use sync_protocol::{FieldName, RecordId, Timestamp, check_dots, merge_checked};

    fn device(n: u128) -> ReplicaId {
        ReplicaId::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 + n)
    }

    fn record_id() -> RecordId {
        "0190f3a2-5b0e-7f7e-9a3e-0c1d2e3f4a5b".parse().unwrap()
    }

    fn at(minute: usize) -> Timestamp {
        format!("2026-11-02T{:02}:{:02}:00Z", 10 + minute / 60, minute % 60)
            .parse()
            .unwrap()
    }

    fn fields(changes: &[(&str, Value)]) -> Vec<(FieldName, Value)> {
        changes
            .iter()
            .map(|(name, value)| (name.parse().unwrap(), value.clone()))
            .collect()
    }

    /// A record created by `by`.
    fn create(by: ReplicaId, changes: &[(&str, Value)]) -> RecordState {
        RecordState::create(
            record_id(),
            "person".parse().unwrap(),
            by,
            at(0),
            fields(changes),
        )
        .unwrap()
    }

    /// `state` after an edit by `by`.
    fn edited(state: &RecordState, by: ReplicaId, changes: &[(&str, Value)]) -> RecordState {
        let mut state = state.clone();
        let minute = state.vv().iter().map(|(_, n)| n as usize).sum::<usize>();
        state.edit(by, at(minute), fields(changes)).unwrap();
        state
    }

    /// `mine` after pulling `theirs`.
    fn pulled(mine: &RecordState, theirs: &RecordState) -> RecordState {
        merge(mine, theirs).unwrap()
    }

    fn org(devices: &[ReplicaId]) -> OrgDevices {
        OrgDevices {
            devices: devices.iter().copied().collect(),
            ..OrgDevices::default()
        }
    }

    /// The server's side of recovery for one record: pushes go through [`arrival`], then
    /// through the ordinary rules or into `held`, and every push of a record with held
    /// states is followed by a [`release`], as the backends do.
    #[derive(Debug, Clone)]
    struct Server {
        stored: Option<RecordState>,
        held: BTreeMap<ReplicaId, RecordState>,
        org: OrgDevices,
        discarded: Vec<(ReplicaId, Discard)>,
    }

    /// What one push did.
    #[derive(Debug, Clone, PartialEq)]
    enum Pushed {
        Stored,
        Held,
        Refused(String),
    }

    impl Server {
        fn new(stored: Option<RecordState>, org: OrgDevices) -> Self {
            Self {
                stored,
                held: BTreeMap::new(),
                org,
                discarded: Vec::new(),
            }
        }

        fn push(&mut self, by: ReplicaId, state: &RecordState) -> Pushed {
            let outcome = match arrival(state, self.stored.as_ref(), by, &self.org) {
                Arrival::Forged(forged) => return Pushed::Refused(forged.to_string()),
                Arrival::Hold => {
                    self.held.insert(by, state.clone());
                    Pushed::Held
                }
                Arrival::Ordinary => {
                    if let Err(e) = check_dots(state, self.stored.as_ref(), by) {
                        return Pushed::Refused(e.to_string());
                    }
                    match &self.stored {
                        None => self.stored = Some(state.clone()),
                        Some(stored) => match merge_checked(stored, state) {
                            Ok(merged) => self.stored = Some(merged),
                            Err(e) => return Pushed::Refused(e.to_string()),
                        },
                    }
                    Pushed::Stored
                }
            };
            self.settle(false);
            outcome
        }

        /// Runs a release and applies it; answers it.
        fn settle(&mut self, accept_all: bool) -> Release {
            if self.held.is_empty() {
                return Release::nothing(BTreeMap::new());
            }
            let held: Vec<(ReplicaId, RecordState)> =
                self.held.iter().map(|(d, s)| (*d, s.clone())).collect();
            let release = release(self.stored.as_ref(), &held, &self.org, accept_all);
            if let Some(merged) = &release.merged {
                self.stored = Some(merged.clone());
            }
            for device in &release.released {
                self.held.remove(device);
            }
            for (device, why) in &release.discarded {
                self.held.remove(device);
                self.discarded.push((*device, *why));
            }
            release
        }

        fn waiting(&self) -> Vec<ReplicaId> {
            self.held.keys().copied().collect()
        }
    }

    fn merge_all(states: &[&RecordState]) -> RecordState {
        let (first, rest) = states.split_first().unwrap();
        rest.iter()
            .fold((*first).clone(), |acc, state| merge(&acc, state).unwrap())
    }

    // ---- arrival ----

    #[test]
    fn a_push_with_nothing_foreign_and_unseen_is_ordinary() {
        let (a, b) = (device(1), device(2));
        let stored = edited(
            &create(a, &[("name", json!("x"))]),
            b,
            &[("phone", json!("1"))],
        );
        let mine = edited(&stored, a, &[("name", json!("y"))]);
        assert_eq!(
            arrival(&mine, Some(&stored), a, &org(&[a, b])),
            Arrival::Ordinary,
            "new edits of the pusher and edits of others the server covers are ordinary"
        );
        let created = create(a, &[("name", json!("x"))]);
        assert_eq!(
            arrival(&created, None, a, &org(&[a])),
            Arrival::Ordinary,
            "a record the pusher created alone is ordinary"
        );
    }

    #[test]
    fn a_push_with_unseen_edits_of_other_devices_is_held() {
        let (a, b) = (device(1), device(2));
        let stored = create(a, &[("name", json!("x"))]);
        let a2 = edited(&stored, a, &[("name", json!("y"))]);
        let b1 = edited(&a2, b, &[("phone", json!("1"))]);
        assert_eq!(
            arrival(&b1, Some(&stored), b, &org(&[a, b])),
            Arrival::Hold,
            "b's state holds a's second edit, which the server lacks"
        );
        assert_eq!(
            arrival(&b1, None, b, &org(&[a, b])),
            Arrival::Hold,
            "with no stored copy, every edit of a is unseen"
        );
        assert_eq!(
            arrival(&b1, Some(&a2), b, &org(&[a, b])),
            Arrival::Ordinary,
            "once the server holds a's edits, b's push is ordinary"
        );
    }

    #[test]
    fn a_push_holding_its_predecessors_unseen_edits_is_held() {
        let (old, new) = (device(1), device(2));
        let stored = create(old, &[("name", json!("x"))]);
        let lost = edited(&stored, old, &[("name", json!("y"))]);
        let rekeyed = edited(&lost, new, &[("phone", json!("1"))]);
        let mut devices = org(&[old, new]);
        devices.predecessor.insert(new, old);
        assert_eq!(
            arrival(&rekeyed, Some(&stored), new, &devices),
            Arrival::Hold,
            "the predecessor's unseen edits are foreign on arrival, vouched on release"
        );
    }

    #[test]
    fn unseen_parts_of_a_replica_that_is_no_device_are_forged() {
        let (a, b, stranger) = (device(1), device(2), device(9));
        let stored = create(a, &[("name", json!("x"))]);
        let foreign = edited(&stored, stranger, &[("phone", json!("1"))]);
        let both = edited(
            &edited(&stored, b, &[("notes", json!("n"))]),
            stranger,
            &[("phone", json!("1"))],
        );
        let expected = Arrival::Forged(ForgedDot::UnseenCounter {
            record: record_id().to_string(),
            replica: stranger,
            counter: 1,
        });
        assert_eq!(arrival(&foreign, Some(&stored), a, &org(&[a, b])), expected);
        assert_eq!(
            arrival(&both, Some(&stored), a, &org(&[a, b])),
            expected,
            "a forged part refuses the state even when it also holds parts to hold"
        );
        assert_eq!(
            arrival(&foreign, Some(&foreign), a, &org(&[a, b])),
            Arrival::Ordinary,
            "parts the server covers are not looked at, whoever made them"
        );
    }

    #[test]
    fn a_forged_part_is_named_as_check_dots_names_it() {
        // A state whose vv covers its dots, as every valid state does: the counter is
        // named first, as check_dots names it.
        let (a, stranger) = (device(1), device(9));
        let state = RecordState::from_value(&json!({
            "id": record_id(), "kind": "person",
            "vv": {a.to_string(): 1, stranger.to_string(): 2},
            "fields": {"name": [{"dot": [stranger, 2], "at": "2026-11-02T10:00:00Z", "value": "x"}]}
        }))
        .unwrap();
        let stored = RecordState::from_value(&json!({
            "id": record_id(), "kind": "person",
            "vv": {a.to_string(): 1, stranger.to_string(): 1},
            "fields": {"name": [{"dot": [stranger, 1], "at": "2026-11-02T10:00:00Z", "value": "x"}]}
        }))
        .unwrap();
        assert_eq!(
            arrival(&state, Some(&stored), a, &org(&[a])),
            Arrival::Forged(ForgedDot::UnseenCounter {
                record: record_id().to_string(),
                replica: stranger,
                counter: 2,
            })
        );
        assert_eq!(
            arrival(&state, Some(&stored), a, &org(&[a])),
            match check_dots(&state, Some(&stored), a) {
                Err(e) => Arrival::Forged(e),
                Ok(()) => Arrival::Ordinary,
            },
            "arrival names the forged part as check_dots does"
        );
    }

    // ---- vouchers and names ----

    #[test]
    fn a_successor_vouches_for_every_earlier_life_and_a_loop_ends() {
        let (a, b, c, d) = (device(1), device(2), device(3), device(4));
        let mut devices = org(&[a, b, c, d]);
        devices.predecessor.insert(c, b);
        devices.predecessor.insert(b, a);
        assert!(
            devices.vouches(c, a),
            "c took over from b, which took over from a"
        );
        assert!(devices.vouches(c, c));
        assert!(
            !devices.vouches(a, c),
            "a predecessor does not vouch for its successor"
        );
        assert!(!devices.vouches(d, a));
        devices.predecessor.insert(a, c);
        assert!(
            !devices.vouches(a, d),
            "a loop of predecessors ends without vouching for a device outside it"
        );
        assert!(devices.vouches(a, b));
    }

    #[test]
    fn discard_reasons_have_stable_names() {
        let names: Vec<&str> = [
            Discard::AlteredEntry,
            Discard::DroppedEntry,
            Discard::KindClash,
            Discard::RecoveryEnded,
        ]
        .into_iter()
        .map(Discard::as_str)
        .collect();
        assert_eq!(
            names,
            [
                "altered_entry",
                "dropped_entry",
                "kind_clash",
                "recovery_ended"
            ]
        );
    }

    #[test]
    fn nothing_held_releases_nothing() {
        let a = device(1);
        let stored = create(a, &[("name", json!("x"))]);
        assert_eq!(
            release(Some(&stored), &[], &org(&[a]), true),
            Release::nothing(BTreeMap::new())
        );
    }

    // ---- honest histories ----

    #[test]
    fn two_devices_in_sequence_come_back_in_either_order() {
        let (a, b) = (device(1), device(2));
        let backup = create(a, &[("name", json!("x"))]);
        let a_final = edited(&backup, a, &[("name", json!("y"))]);
        let b_final = edited(&a_final, b, &[("phone", json!("1"))]);

        let mut server = Server::new(Some(backup.clone()), org(&[a, b]));
        assert_eq!(server.push(b, &b_final), Pushed::Held);
        assert_eq!(server.waiting(), [b], "b's state waits for a's own");
        assert_eq!(server.push(a, &a_final), Pushed::Stored);
        assert!(
            server.waiting().is_empty(),
            "a's push vouches for b's state"
        );
        assert_eq!(server.stored.as_ref(), Some(&b_final));

        let mut server = Server::new(Some(backup), org(&[a, b]));
        assert_eq!(server.push(a, &a_final), Pushed::Stored);
        assert_eq!(
            server.push(b, &b_final),
            Pushed::Stored,
            "once a's edits are stored, b's push is ordinary"
        );
        assert_eq!(server.stored, Some(b_final));
        assert!(server.discarded.is_empty(), "{:?}", server.discarded);
    }

    #[test]
    fn a_release_names_the_device_whose_state_is_the_result() {
        let (a, b) = (device(1), device(2));
        let backup = create(a, &[("name", json!("x"))]);
        let a_final = edited(&backup, a, &[("name", json!("y"))]);
        let b_final = edited(&a_final, b, &[("phone", json!("1"))]);
        let release = release(
            Some(&backup),
            &[(a, a_final.clone()), (b, b_final.clone())],
            &org(&[a, b]),
            false,
        );
        assert_eq!(
            release,
            Release {
                merged: Some(b_final),
                released: vec![a, b],
                discarded: vec![],
                exact: Some(b),
            }
        );
    }

    #[test]
    fn three_devices_come_back_in_every_order() {
        let (a, b, c) = (device(1), device(2), device(3));
        let backup = create(a, &[("name", json!("x"))]);
        let a_final = edited(&backup, a, &[("name", json!("y"))]);
        let b_final = edited(&a_final, b, &[("phone", json!("1"))]);
        let c_final = edited(&b_final, c, &[("notes", json!("n"))]);
        let a_final = edited(&pulled(&a_final, &c_final), a, &[("notes", json!("m"))]);
        let finals = [(a, &a_final), (b, &b_final), (c, &c_final)];
        let expected = merge_all(&[&a_final, &b_final, &c_final]);
        for order in [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ] {
            let mut server = Server::new(Some(backup.clone()), org(&[a, b, c]));
            for i in order {
                let (by, state) = finals[i];
                let pushed = server.push(by, state);
                assert!(!matches!(pushed, Pushed::Refused(_)), "{pushed:?}");
            }
            assert!(
                server.waiting().is_empty() && server.discarded.is_empty(),
                "order {order:?}: waiting {:?}, discarded {:?}",
                server.waiting(),
                server.discarded
            );
            assert_eq!(server.stored.as_ref(), Some(&expected), "order {order:?}");
        }
    }

    #[test]
    fn states_that_hold_each_others_edits_are_released_together() {
        let (a, b) = (device(1), device(2));
        let backup = create(a, &[("name", json!("x"))]);
        let a2 = edited(&backup, a, &[("name", json!("y"))]);
        let b1 = edited(&a2, b, &[("phone", json!("1"))]);
        let a3 = edited(&pulled(&a2, &b1), a, &[("notes", json!("n"))]);
        let b2 = edited(&pulled(&b1, &a3), b, &[("phone", json!("2"))]);
        let a_final = edited(&a3, a, &[("name", json!("z"))]);
        let b_final = b2;
        let devices = org(&[a, b]);
        assert_eq!(arrival(&a_final, Some(&backup), a, &devices), Arrival::Hold);
        assert_eq!(arrival(&b_final, Some(&backup), b, &devices), Arrival::Hold);

        let alone = release(Some(&backup), &[(a, a_final.clone())], &devices, false);
        assert_eq!(alone, Release::nothing(BTreeMap::new()), "a waits for b");

        let both = release(
            Some(&backup),
            &[(a, a_final.clone()), (b, b_final.clone())],
            &devices,
            false,
        );
        assert_eq!(both.released, [a, b], "each vouches for the other's edits");
        assert_eq!(both.merged, Some(merge(&a_final, &b_final).unwrap()));
        assert_eq!(both.exact, None, "neither state is the merge");
        assert!(both.discarded.is_empty());

        let from_nothing = release(
            None,
            &[(a, a_final.clone()), (b, b_final.clone())],
            &devices,
            false,
        );
        assert_eq!(
            from_nothing.merged, both.merged,
            "a backup taken before the record existed"
        );
    }

    #[test]
    fn a_rekeyed_device_vouches_for_its_predecessor() {
        let (old, new, b) = (device(1), device(2), device(3));
        let backup = create(old, &[("name", json!("x"))]);
        // The old id's last edit, lost with the server's restore, and pulled by b.
        let lost = edited(&backup, old, &[("name", json!("y"))]);
        let b_final = edited(&lost, b, &[("phone", json!("1"))]);
        // The device goes on under its new id.
        let new_final = edited(&lost, new, &[("notes", json!("n"))]);

        let mut devices = org(&[old, new, b]);
        let mut without_link = Server::new(Some(backup.clone()), devices.clone());
        assert_eq!(without_link.push(b, &b_final), Pushed::Held);
        assert_eq!(without_link.push(new, &new_final), Pushed::Held);
        assert_eq!(
            without_link.waiting(),
            [new, b],
            "without the re-key, nobody vouches for the old id's edit"
        );

        devices.predecessor.insert(new, old);
        let mut server = Server::new(Some(backup), devices);
        assert_eq!(server.push(b, &b_final), Pushed::Held);
        assert_eq!(server.push(new, &new_final), Pushed::Held);
        assert!(
            server.waiting().is_empty(),
            "the successor vouches for its predecessor's edit: {:?}",
            server.waiting()
        );
        assert_eq!(server.stored, Some(merge(&b_final, &new_final).unwrap()));
    }

    #[test]
    fn a_device_that_never_comes_back_waits_until_accepted() {
        let (a, b, gone) = (device(1), device(2), device(3));
        let backup = create(a, &[("name", json!("x"))]);
        let lost = edited(&backup, gone, &[("phone", json!("1"))]);
        let b_final = edited(&lost, b, &[("notes", json!("n"))]);
        let a_final = edited(&backup, a, &[("name", json!("y"))]);

        let mut server = Server::new(Some(backup), org(&[a, b, gone]));
        assert_eq!(server.push(b, &b_final), Pushed::Held);
        assert_eq!(server.push(a, &a_final), Pushed::Stored);
        assert_eq!(server.waiting(), [b], "b's state waits for the gone device");

        server.org.accepted.insert(gone);
        let release = server.settle(false);
        assert_eq!(
            release.released,
            [b],
            "accepting the device releases what waits on it"
        );
        assert_eq!(
            server.stored,
            Some(merge(&a_final, &b_final).unwrap()),
            "the accepted device's edit enters with b's"
        );
    }

    #[test]
    fn accepting_everything_releases_what_waits_but_never_a_stranger() {
        let (a, b, gone, stranger) = (device(1), device(2), device(3), device(9));
        let backup = create(a, &[("name", json!("x"))]);
        let b_final = edited(
            &edited(&backup, gone, &[("phone", json!("1"))]),
            b,
            &[("notes", json!("n"))],
        );
        let devices = org(&[a, b, gone]);
        let waits = release(Some(&backup), &[(b, b_final.clone())], &devices, false);
        assert!(waits.released.is_empty());
        let all = release(Some(&backup), &[(b, b_final.clone())], &devices, true);
        assert_eq!(all.released, [b]);
        assert_eq!(all.exact, Some(b));

        // A state held before its replica's device was forgotten cannot arise, but an
        // acceptance still never vouches for a replica that is no device.
        let with_stranger = edited(&backup, stranger, &[("phone", json!("1"))]);
        let refused = release(Some(&backup), &[(b, with_stranger)], &devices, true);
        assert_eq!(
            refused,
            Release::nothing(BTreeMap::new()),
            "a stranger's edit is not vouched for by accepting everything"
        );
    }

    #[test]
    fn accepting_a_successor_vouches_for_its_earlier_life() {
        let (old, new, b) = (device(1), device(2), device(3));
        let backup = create(b, &[("name", json!("x"))]);
        let b_final = edited(
            &edited(&backup, old, &[("phone", json!("1"))]),
            b,
            &[("notes", json!("n"))],
        );
        let mut devices = org(&[old, new, b]);
        devices.predecessor.insert(new, old);
        devices.accepted.insert(new);
        let release = release(Some(&backup), &[(b, b_final)], &devices, false);
        assert_eq!(release.released, [b]);
    }

    #[test]
    fn an_erased_record_stays_erased() {
        let (a, b) = (device(1), device(2));
        let backup = create(a, &[("name", json!("x"))]);
        let a_final = edited(&backup, a, &[("name", json!("y"))]);
        let b_final = edited(&a_final, b, &[("phone", json!("1"))]);
        let erased = backup.erase();
        let release = release(
            Some(&erased),
            &[(a, a_final), (b, b_final.clone())],
            &org(&[a, b]),
            false,
        );
        assert_eq!(release.released, [a, b]);
        let merged = release.merged.unwrap();
        assert!(
            merged.is_erased(),
            "released into an erased record, it stays erased"
        );
        assert_eq!(merged.vv(), b_final.vv());
        assert_eq!(release.exact, None);
    }

    #[test]
    fn the_answer_does_not_depend_on_the_order_held_states_are_listed() {
        let (a, b, c) = (device(1), device(2), device(3));
        let backup = create(a, &[("name", json!("x"))]);
        let a_final = edited(&backup, a, &[("name", json!("y"))]);
        let b_final = edited(&a_final, b, &[("phone", json!("1"))]);
        let c_final = edited(&b_final, c, &[("notes", json!("n"))]);
        let devices = org(&[a, b, c]);
        let sorted = [(a, a_final), (b, b_final), (c, c_final)];
        let mut reversed = sorted.clone();
        reversed.reverse();
        assert_eq!(
            release(Some(&backup), &sorted, &devices, false),
            release(Some(&backup), &reversed, &devices, false)
        );
    }

    // ---- kinds ----

    fn of_kind(kind: &str, by: ReplicaId, other: ReplicaId) -> RecordState {
        let state = RecordState::create(
            record_id(),
            kind.parse().unwrap(),
            other,
            at(0),
            fields(&[("name", json!("x"))]),
        )
        .unwrap();
        edited(&state, by, &[("phone", json!("1"))])
    }

    #[test]
    fn a_held_state_of_another_kind_is_discarded() {
        let (a, b, c) = (device(1), device(2), device(3));
        let stored = create(a, &[("name", json!("x"))]);
        let visit = of_kind("visit", b, a);
        let held_ok = edited(&stored, c, &[("phone", json!("2"))]);
        let devices = org(&[a, b, c]);
        let release = release(
            Some(&stored),
            &[(b, visit), (c, held_ok.clone())],
            &devices,
            false,
        );
        assert_eq!(release.discarded, [(b, Discard::KindClash)]);
        assert_eq!(
            release.released,
            [c],
            "a clash of one state does not hold back the others"
        );
        assert_eq!(release.merged, Some(merge(&stored, &held_ok).unwrap()));
    }

    #[test]
    fn held_states_of_two_kinds_without_a_stored_copy_wait() {
        let (a, b, c) = (device(1), device(2), device(3));
        let devices = org(&[a, b, c]);
        let person = of_kind("person", b, a);
        let visit = of_kind("visit", c, a);
        let release = release(None, &[(b, person), (c, visit)], &devices, true);
        assert_eq!(
            release,
            Release::nothing(BTreeMap::new()),
            "with no stored copy to say the kind, both wait"
        );
    }

    // ---- attacks ----

    /// `state` with `field` set to one entry `[replica, counter]` of `value`, and the vv
    /// raised to cover it: a state no honest device sends.
    fn forged_entry(
        state: &RecordState,
        field: &str,
        replica: ReplicaId,
        counter: u64,
        value: Value,
    ) -> RecordState {
        let mut json = serde_json::to_value(state).unwrap();
        let vv = json["vv"].as_object_mut().unwrap();
        let key = replica.to_string();
        let old = vv.get(&key).and_then(Value::as_u64).unwrap_or(0);
        vv.insert(key, json!(old.max(counter)));
        json["fields"][field] =
            json!([{"dot": [replica, counter], "at": "2026-11-02T12:00:00Z", "value": value}]);
        RecordState::from_value(&json).unwrap()
    }

    /// `state` without `field`, its vv unchanged: covers the field's entries without
    /// holding them or writing over them.
    fn without_field(state: &RecordState, field: &str) -> RecordState {
        let mut json = serde_json::to_value(state).unwrap();
        json["fields"].as_object_mut().unwrap().remove(field);
        RecordState::from_value(&json).unwrap()
    }

    #[test]
    fn an_altered_entry_waits_for_its_author_then_is_discarded_when_stored_first() {
        let (a, r, thief, y) = (device(1), device(2), device(3), device(4));
        let devices = org(&[a, r, thief, y]);
        let backup = create(a, &[("name", json!("x"))]);
        let r_final = edited(&backup, r, &[("notes", json!("real"))]);
        let fake = forged_entry(&backup, "notes", r, 1, json!("fake"));

        // The thief pushes first: the entry waits for r.
        let mut server = Server::new(Some(backup.clone()), devices.clone());
        assert_eq!(server.push(thief, &fake), Pushed::Held);
        assert_eq!(
            server.waiting(),
            [thief],
            "while r has not vouched, it waits"
        );
        assert_eq!(server.push(r, &r_final), Pushed::Stored);
        assert_eq!(server.discarded, [(thief, Discard::AlteredEntry)]);
        assert_eq!(server.stored.as_ref(), Some(&r_final));
        assert_eq!(server.settle(true).merged, None, "nothing left to accept");

        // R's state is stored first: the ordinary rules refuse the fake...
        let mut server = Server::new(Some(backup.clone()), devices.clone());
        assert_eq!(server.push(r, &r_final), Pushed::Stored);
        assert!(matches!(server.push(thief, &fake), Pushed::Refused(_)));
        // ...and held, since it also brings an unseen edit of y, it is discarded.
        let fake_held = edited(&fake, y, &[("phone", json!("1"))]);
        assert_eq!(server.push(thief, &fake_held), Pushed::Held);
        assert_eq!(server.discarded, [(thief, Discard::AlteredEntry)]);
        assert_eq!(server.stored, Some(r_final));
    }

    #[test]
    fn an_altered_entry_is_discarded_when_its_author_is_held_in_either_order() {
        let (a, r, thief, y) = (device(1), device(2), device(3), device(4));
        let devices = org(&[a, r, thief, y]);
        let backup = create(a, &[("name", json!("x"))]);
        let y_lost = edited(&backup, y, &[("phone", json!("1"))]);
        // R's state holds y's edit, so it is held too, waiting for y.
        let r_final = edited(&y_lost, r, &[("notes", json!("real"))]);
        let fake = forged_entry(&backup, "notes", r, 1, json!("fake"));

        for thief_first in [true, false] {
            let mut server = Server::new(Some(backup.clone()), devices.clone());
            let mut pushes = vec![(thief, &fake), (r, &r_final)];
            if !thief_first {
                pushes.reverse();
            }
            for (by, state) in pushes {
                assert_eq!(server.push(by, state), Pushed::Held);
            }
            assert_eq!(
                server.discarded,
                [(thief, Discard::AlteredEntry)],
                "r's own state shows another content (thief first: {thief_first})"
            );
            assert_eq!(server.waiting(), [r], "r's state waits for y");
            assert_eq!(server.push(y, &y_lost), Pushed::Stored);
            assert!(server.waiting().is_empty());
            assert_eq!(server.stored.as_ref(), Some(&r_final));
        }
    }

    #[test]
    fn a_dropped_entry_gets_nothing_merged_whoever_vouches_later() {
        let (a, r, thief, y) = (device(1), device(2), device(3), device(4));
        let devices = org(&[a, r, thief, y]);
        let backup = create(a, &[("name", json!("x"))]);
        let y_lost = edited(&backup, y, &[("phone", json!("1"))]);
        let r_alone = edited(&backup, r, &[("notes", json!("kept"))]);
        // The thief's state covers r's entry (and y's edit) but leaves r's out.
        let thief_state = without_field(
            &edited(&pulled(&r_alone, &y_lost), thief, &[("name", json!("t"))]),
            "notes",
        );
        assert_eq!(
            arrival(&thief_state, Some(&backup), thief, &devices),
            Arrival::Hold
        );

        // R's state stored first, then the thief's: discarded once y vouches.
        let mut server = Server::new(Some(backup.clone()), devices.clone());
        assert_eq!(server.push(r, &r_alone), Pushed::Stored);
        assert_eq!(server.push(thief, &thief_state), Pushed::Held);
        assert_eq!(server.push(y, &y_lost), Pushed::Stored);
        assert_eq!(server.discarded, [(thief, Discard::DroppedEntry)]);
        assert_eq!(
            server.stored,
            Some(merge(&r_alone, &y_lost).unwrap()),
            "r's entry stays"
        );

        // The thief's state first, r's after: discarded once r's state is stored.
        let mut server = Server::new(Some(backup.clone()), devices.clone());
        assert_eq!(server.push(thief, &thief_state), Pushed::Held);
        assert_eq!(server.push(y, &y_lost), Pushed::Stored);
        assert_eq!(server.waiting(), [thief], "it waits for r");
        assert_eq!(server.push(r, &r_alone), Pushed::Stored);
        assert_eq!(server.discarded, [(thief, Discard::DroppedEntry)]);
        assert_eq!(server.stored, Some(merge(&r_alone, &y_lost).unwrap()));

        // R's state itself held (it holds y's edit), in either order, and accepted.
        let r_held = edited(&y_lost, r, &[("notes", json!("kept"))]);
        let thief_state = without_field(&edited(&r_held, thief, &[("name", json!("t"))]), "notes");
        for thief_first in [true, false] {
            let mut server = Server::new(Some(backup.clone()), devices.clone());
            let mut pushes = vec![(thief, &thief_state), (r, &r_held)];
            if !thief_first {
                pushes.reverse();
            }
            for (by, state) in pushes {
                assert_eq!(server.push(by, state), Pushed::Held);
            }
            let accepted = server.settle(true);
            assert_eq!(
                accepted.discarded,
                [(thief, Discard::DroppedEntry)],
                "even accepted, the state that drops r's held entry is refused"
            );
            assert_eq!(accepted.released, [r]);
            assert_eq!(server.stored.as_ref(), Some(&r_held));
        }
    }

    #[test]
    fn a_state_that_relied_on_a_discarded_one_waits() {
        let (a, b, thief) = (device(1), device(2), device(3));
        let devices = org(&[a, b, thief]);
        let backup = create(a, &[("name", json!("x"))]);
        let a_final = edited(&backup, a, &[("notes", json!("kept"))]);
        // Before the restore, the device (not yet stolen) edited the record, and b pulled
        // that edit and made its own.
        let honest = edited(&a_final, thief, &[("phone", json!("1"))]);
        let b_final = edited(&honest, b, &[("name", json!("y"))]);
        // After it, the stolen token sends the same edit, leaving a's entry out.
        let thief_state = without_field(&honest, "notes");

        let mut server = Server::new(Some(backup), devices);
        assert_eq!(server.push(thief, &thief_state), Pushed::Held);
        assert_eq!(server.push(b, &b_final), Pushed::Held);
        assert_eq!(server.push(a, &a_final), Pushed::Stored);
        assert_eq!(server.discarded, [(thief, Discard::DroppedEntry)]);
        assert_eq!(
            server.waiting(),
            [b],
            "nobody vouches for the device's edit in b's state any more"
        );
        server.org.accepted.insert(thief);
        assert_eq!(server.settle(false).released, [b]);
        assert_eq!(
            server.stored,
            Some(b_final),
            "accepted, b's state enters whole"
        );
    }

    #[test]
    fn two_lives_of_one_device_that_disagree_on_a_dot_are_both_discarded() {
        let (old, new, a) = (device(1), device(2), device(3));
        let backup = create(a, &[("name", json!("x"))]);
        let old_state = edited(&backup, old, &[("notes", json!("one"))]);
        let new_state = edited(
            &forged_entry(&backup, "notes", old, 1, json!("two")),
            new,
            &[("phone", json!("1"))],
        );
        let mut devices = org(&[old, new, a]);
        devices.predecessor.insert(new, old);
        let release = release(
            Some(&backup),
            &[(old, old_state), (new, new_state)],
            &devices,
            true,
        );
        assert_eq!(
            release.discarded,
            [(old, Discard::AlteredEntry), (new, Discard::AlteredEntry)],
            "each is a voucher of the dot, and they disagree"
        );
        assert_eq!(release.merged, None);
    }

    #[test]
    fn an_acceptance_does_not_pick_between_two_contents_of_one_dot() {
        let (a, b, c, gone) = (device(1), device(2), device(3), device(4));
        let backup = create(a, &[("name", json!("x"))]);
        let b_state = edited(
            &forged_entry(&backup, "notes", gone, 1, json!("one")),
            b,
            &[("phone", json!("1"))],
        );
        let c_state = edited(
            &forged_entry(&backup, "notes", gone, 1, json!("two")),
            c,
            &[("phone", json!("2"))],
        );
        let mut devices = org(&[a, b, c, gone]);
        devices.accepted.insert(gone);
        let held = [(b, b_state.clone()), (c, c_state.clone())];
        assert_eq!(
            release(Some(&backup), &held, &devices, true),
            Release::nothing(BTreeMap::new()),
            "neither holder wrote the dot: both wait"
        );
        // Once the author's content is stored, the other is refused.
        let stored = forged_entry(&backup, "notes", gone, 1, json!("one"));
        let after = release(Some(&stored), &held, &devices, false);
        assert_eq!(after.discarded, [(c, Discard::AlteredEntry)]);
        assert_eq!(after.released, [b]);
        assert_eq!(after.merged, Some(merge(&stored, &b_state).unwrap()));
    }

    #[test]
    fn an_entry_the_stored_copy_wrote_over_is_vouched_and_left_out() {
        let (a, r, thief, y) = (device(1), device(2), device(3), device(4));
        let devices = org(&[a, r, thief, y]);
        let backup = create(a, &[("name", json!("x"))]);
        let r1 = edited(&backup, r, &[("notes", json!("first"))]);
        let r2 = edited(&r1, r, &[("notes", json!("second"))]);
        // A stale copy of r's first edit, with another content, beside y's edit.
        let y_state = edited(&backup, y, &[("phone", json!("1"))]);
        let stale = edited(
            &forged_entry(&y_state, "notes", r, 1, json!("other")),
            thief,
            &[("name", json!("t"))],
        );
        let stored = merge(&merge(&backup, &r2).unwrap(), &y_state).unwrap();
        let release = release(Some(&stored), &[(thief, stale)], &devices, false);
        assert_eq!(
            release.released,
            [thief],
            "the stored copy wrote over r's first edit"
        );
        let merged = release.merged.unwrap();
        assert_eq!(
            merged.value("notes"),
            Some(&json!("second")),
            "the stale entry does not come back"
        );
    }

    // ---- random honest histories ----

    /// One step of an honest history before the restore.
    #[derive(Debug, Clone)]
    enum Step {
        Edit {
            device: usize,
            field: usize,
            value: u8,
        },
        Delete(usize),
        Push(usize),
        Pull(usize),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            4 => (0..4usize, 0..3usize, any::<u8>())
                .prop_map(|(device, field, value)| Step::Edit { device, field, value }),
            1 => (0..4usize).prop_map(Step::Delete),
            3 => (0..4usize).prop_map(Step::Push),
            3 => (0..4usize).prop_map(Step::Pull),
        ]
    }

    /// 2 to 4 devices, the steps, where the backup is taken, and the order the devices
    /// push their final states in after the restore.
    fn history() -> impl Strategy<Value = (usize, Vec<Step>, usize, Vec<usize>)> {
        (2..=4usize).prop_flat_map(|devices| {
            (
                Just(devices),
                prop::collection::vec(step(), 1..40),
                0..40usize,
                Just((0..devices).collect::<Vec<_>>()).prop_shuffle(),
            )
        })
    }

    const FIELDS: [&str; 3] = ["name", "phone", "notes"];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn honest_histories_release_everything_after_a_restore(
            (count, steps, backup_at, order) in history()
        ) {
            let devices: Vec<ReplicaId> = (1..=count as u128).map(device).collect();
            let mut local: Vec<Option<RecordState>> = vec![None; count];
            local[0] = Some(create(devices[0], &[("name", json!(0))]));
            let mut stored: Option<RecordState> = None;
            let mut backup: Option<RecordState> = None;
            for (i, step) in steps.iter().enumerate() {
                if i == backup_at {
                    backup = stored.clone();
                }
                match *step {
                    Step::Edit { device, field, value } => {
                        let d = device % count;
                        if let Some(state) = &mut local[d] {
                            state
                                .edit(devices[d], at(i + 1), fields(&[(FIELDS[field], json!(value))]))
                                .unwrap();
                        }
                    }
                    Step::Delete(device) => {
                        let d = device % count;
                        if let Some(state) = &mut local[d] {
                            // Deletes and restores in turn; one with nothing to do is skipped.
                            let _ = if state.is_deleted() {
                                state.restore(devices[d], at(i + 1))
                            } else {
                                state.delete(devices[d], at(i + 1))
                            };
                        }
                    }
                    Step::Push(device) => {
                        let d = device % count;
                        if let Some(state) = &local[d] {
                            prop_assert!(check_dots(state, stored.as_ref(), devices[d]).is_ok());
                            stored = Some(match &stored {
                                None => state.clone(),
                                Some(s) => merge_checked(s, state).unwrap(),
                            });
                        }
                    }
                    Step::Pull(device) => {
                        let d = device % count;
                        if let Some(s) = &stored {
                            local[d] = Some(match &local[d] {
                                None => s.clone(),
                                Some(mine) => merge(mine, s).unwrap(),
                            });
                        }
                    }
                }
            }
            if backup_at >= steps.len() {
                backup = stored.clone();
            }

            // The server is restored from the backup; every device sends everything again.
            let mut server = Server::new(backup, org(&devices));
            for &d in &order {
                if let Some(state) = &local[d] {
                    let pushed = server.push(devices[d], state);
                    prop_assert!(
                        !matches!(pushed, Pushed::Refused(_)),
                        "device {} refused: {:?}", d, pushed
                    );
                }
            }
            prop_assert!(server.waiting().is_empty(), "still held: {:?}", server.waiting());
            prop_assert!(server.discarded.is_empty(), "discarded: {:?}", server.discarded);
            let finals: Vec<&RecordState> = local.iter().flatten().collect();
            prop_assert_eq!(server.stored.as_ref(), Some(&merge_all(&finals)));
        }
    }
}
