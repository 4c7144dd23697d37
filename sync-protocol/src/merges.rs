//! Two files of one person merged into one, read from the states alone.
//!
//! A merge is one edit of each person record concerned, never of the records that name
//! them:
//! - the file that stays (`keep`) takes, in one edit, the values the counsellor chose;
//! - the file merged away (`other`) takes, in one edit, [`MERGED_INTO`] = `keep` (its
//!   **tombstone**) and [`MERGED_SEEN`] = its own version vector just before that edit:
//!   which of its edits the counsellor saw when choosing.
//!
//! Every reference to a merged-away person (a visit's `person_ids`, `person_id` of a
//! situation, step, job…, a household's members) is **read** as a reference to its
//! survivor, never rewritten: a merge edits two records however many name them, and makes
//! no conflict on any other.
//!
//! ## Survivors ([`Survivors`])
//! - A person whose `merged_into` names a person is merged away; following `merged_into`
//!   from person to person ends at its **survivor**. A chain (A into B, B into C) ends at
//!   C.
//! - Of several entries of `merged_into` (two devices merged the same file into two
//!   persons at once) the smallest id is followed ([`merged_into`]); the field is never
//!   listed as a conflict.
//! - A cycle (opposite merges of one pair at once, A into B and B into A, or longer) ends
//!   at the **smallest id of the cycle**: its tombstone is not followed, and it stays.
//! - A tombstone naming a record the replica does not hold as a person (not pulled yet)
//!   is not followed until it does.
//!
//! These rules read only the tombstones, so every replica holding the same states reaches
//! the same survivors, whatever the order the merges arrived in.
//!
//! ## Edits the merge did not see ([`unseen_by_merge`])
//! An edit made offline on the merged-away file, concurrently with the merge, was not
//! before the counsellor's eyes: the device that made it, once it holds the tombstone,
//! re-applies it to the survivor (one edit of the survivor). Its entries are those of
//! the merged-away record written by that device whose dot [`MERGED_SEEN`] does not
//! cover, in fields other than the merge's own and `_deleted`, and not written by the
//! merge's own edit (a case file re-keyed after merging offline moves its edits under the
//! tombstone's new dot: they were seen). Each device re-applies
//! only its own edits, so no edit is re-applied twice by two devices.
//!
//! ## Not the same person ([`not_duplicates`])
//! [`NOT_DUPLICATES`] is a list of person ids this person is **not**, written on the
//! person of the pair with the smaller id. It is a set: a reader takes the union of all
//! its entries, so marks made at once on two devices all count, and the field is never
//! listed as a conflict.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::record::{DELETED_FIELD, Entry, FieldName, RecordState};
use crate::validate::version_vector;
use crate::{Dot, RecordId, ReplicaId, VersionVector};

/// The field of a merged-away person naming the person it was merged into (its
/// tombstone).
pub const MERGED_INTO: &str = "merged_into";
/// The field the merge writes beside [`MERGED_INTO`]: the merged-away record's version
/// vector just before the merge, as a JSON object `{replica: n}`.
pub const MERGED_SEEN: &str = "merged_seen";
/// The field listing the persons a person is not (pairs marked "not the same person").
pub const NOT_DUPLICATES: &str = "not_duplicates";

/// Whether `field` never counts as a conflict because readers combine its entries (the
/// merge fields and the "not the same person" set).
pub fn combined_field(field: &str) -> bool {
    field == MERGED_INTO || field == MERGED_SEEN || field == NOT_DUPLICATES
}

/// The person `state`'s tombstone names: of its `merged_into` entries that hold an id,
/// the smallest. `None` for a record not merged away (or whose merge was undone by a
/// `null`).
pub fn merged_into(state: &RecordState) -> Option<RecordId> {
    state
        .entries(MERGED_INTO)
        .iter()
        .filter_map(|e| e.value.as_str()?.parse::<RecordId>().ok())
        .filter(|into| *into != state.id())
        .min()
}

/// The persons `state` is marked as not being: the union of every entry of
/// [`NOT_DUPLICATES`].
pub fn not_duplicates(state: &RecordState) -> BTreeSet<RecordId> {
    state
        .entries(NOT_DUPLICATES)
        .iter()
        .filter_map(|e| e.value.as_array())
        .flatten()
        .filter_map(|v| v.as_str()?.parse::<RecordId>().ok())
        .filter(|id| *id != state.id())
        .collect()
}

/// The changes that merge `other` away into `keep`, given `other`'s state before the
/// merge: its tombstone and what the counsellor saw of it (one edit of `other`).
pub fn tombstone_changes(other: &RecordState, keep: RecordId) -> Vec<(FieldName, Value)> {
    let seen: serde_json::Map<String, Value> = other
        .vv()
        .iter()
        .map(|(replica, n)| (replica.to_string(), Value::from(n)))
        .collect();
    vec![
        (
            FieldName::from_static(MERGED_INTO),
            Value::String(keep.to_string()),
        ),
        (FieldName::from_static(MERGED_SEEN), Value::Object(seen)),
    ]
}

/// The entries of `merged` (a merged-away person) that `replica` wrote and the merge did
/// not see, by field: what `replica` re-applies to the survivor. For a field with several
/// such entries, the last by dot. What the merge saw is the `merged_seen` of the edits
/// that wrote the followed tombstone (joined, when several merges named the same
/// person), and those edits themselves. Empty when `merged` is not merged away, or when
/// no `merged_seen` of those edits reads (nothing is re-applied on a guess).
pub fn unseen_by_merge(merged: &RecordState, replica: ReplicaId) -> Vec<(FieldName, Entry)> {
    let Some(into) = merged_into(merged) else {
        return Vec::new();
    };
    let into = into.to_string();
    let tombstones: Vec<Dot> = merged
        .entries(MERGED_INTO)
        .iter()
        .filter(|e| e.value.as_str() == Some(into.as_str()))
        .map(|e| e.dot)
        .collect();
    let mut seen: Option<VersionVector> = None;
    for entry in merged
        .entries(MERGED_SEEN)
        .iter()
        .filter(|e| tombstones.contains(&e.dot))
    {
        if let Ok(vv) = version_vector(&entry.value, MERGED_SEEN) {
            seen.get_or_insert_with(VersionVector::new).join(&vv);
        }
    }
    let Some(seen) = seen else {
        return Vec::new();
    };
    merged
        .fields()
        .filter(|(name, _)| !combined_field(name.as_str()) && name.as_str() != DELETED_FIELD)
        .filter_map(|(name, entries)| {
            entries
                .iter()
                .filter(|e| {
                    e.dot.replica == replica && !seen.covers(e.dot) && !tombstones.contains(&e.dot)
                })
                .max_by_key(|e| e.dot)
                .map(|e| (name.clone(), e.clone()))
        })
        .collect()
}

/// The survivors of a set of tombstones (see the module's rules).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Survivors {
    survivor: BTreeMap<RecordId, RecordId>,
}

impl Survivors {
    /// The survivors of `tombstones` (`(merged-away person, the person its tombstone
    /// names)`, one per person, as [`merged_into`] reads it), among `persons`: the ids of
    /// the person records the replica holds (a tombstone naming another id is not
    /// followed).
    pub fn new(
        tombstones: impl IntoIterator<Item = (RecordId, RecordId)>,
        persons: impl Fn(RecordId) -> bool,
    ) -> Self {
        let next: BTreeMap<RecordId, RecordId> = tombstones
            .into_iter()
            .filter(|(from, into)| from != into && persons(*into))
            .collect();
        let mut survivor = BTreeMap::new();
        for &start in next.keys() {
            // Walk until a person with no tombstone, or until the walk comes back to a
            // person already on it: a cycle, whose smallest id stays.
            let mut path = vec![start];
            let mut at = start;
            let end = loop {
                let Some(&to) = next.get(&at) else {
                    break at;
                };
                if let Some(from) = path.iter().position(|p| *p == to) {
                    break path[from..].iter().copied().min().unwrap_or(to);
                }
                path.push(to);
                at = to;
            };
            if end != start {
                survivor.insert(start, end);
            }
        }
        Self { survivor }
    }

    /// The person `id` is read as: its survivor when merged away, itself otherwise.
    pub fn of(&self, id: RecordId) -> RecordId {
        self.survivor.get(&id).copied().unwrap_or(id)
    }

    /// Whether `id` is merged away (read as another person).
    pub fn is_merged(&self, id: RecordId) -> bool {
        self.survivor.contains_key(&id)
    }

    /// Every merged-away person with its survivor, by id.
    pub fn merged(&self) -> impl Iterator<Item = (RecordId, RecordId)> + '_ {
        self.survivor.iter().map(|(a, b)| (*a, *b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn id(n: u128) -> RecordId {
        format!("00000000-0000-7000-8000-{n:012x}").parse().unwrap()
    }

    fn survivors(pairs: &[(u128, u128)]) -> Survivors {
        Survivors::new(pairs.iter().map(|&(a, b)| (id(a), id(b))), |_| true)
    }

    #[test]
    fn a_chain_ends_at_its_last_person() {
        let s = survivors(&[(1, 2), (2, 3)]);
        assert_eq!(s.of(id(1)), id(3));
        assert_eq!(s.of(id(2)), id(3));
        assert_eq!(s.of(id(3)), id(3));
        assert_eq!(s.of(id(9)), id(9), "a person never merged is itself");
        assert!(!s.is_merged(id(3)));
    }

    #[test]
    fn opposite_merges_keep_the_smaller_id() {
        let s = survivors(&[(5, 2), (2, 5)]);
        assert_eq!(s.of(id(5)), id(2));
        assert_eq!(s.of(id(2)), id(2));
        assert!(!s.is_merged(id(2)));
        // A longer cycle, and a chain into it.
        let s = survivors(&[(4, 7), (7, 3), (3, 4), (8, 7)]);
        for n in [3, 4, 7, 8] {
            assert_eq!(s.of(id(n)), id(3), "{n}");
        }
    }

    #[test]
    fn a_tombstone_naming_an_unknown_person_is_not_followed() {
        let s = Survivors::new([(id(1), id(2))], |p| p != id(2));
        assert_eq!(s.of(id(1)), id(1));
    }

    fn person(n: u128, replica: ReplicaId) -> RecordState {
        let at: crate::Timestamp = "2026-12-01T10:00:00Z".parse().unwrap();
        RecordState::create(
            id(n),
            "person".parse().unwrap(),
            replica,
            at,
            [("family_name".parse().unwrap(), json!("Popa"))],
        )
        .unwrap()
    }

    #[test]
    fn the_device_re_applies_only_its_own_edits_the_merge_did_not_see() {
        let at: crate::Timestamp = "2026-12-01T11:00:00Z".parse().unwrap();
        let (merger, offline, other): (ReplicaId, ReplicaId, ReplicaId) = (
            "00000000-0000-7000-8000-00000000000a".parse().unwrap(),
            "00000000-0000-7000-8000-00000000000b".parse().unwrap(),
            "00000000-0000-7000-8000-00000000000c".parse().unwrap(),
        );
        let created = person(1, other);
        // Seen by the merge: an edit of `offline` made before it synced.
        let mut before = created.clone();
        before
            .edit(
                offline,
                at.clone(),
                [("notes".parse().unwrap(), json!("vu"))],
            )
            .unwrap();
        let mut merged = before.clone();
        merged
            .edit(merger, at.clone(), tombstone_changes(&before, id(2)))
            .unwrap();
        assert_eq!(merged_into(&merged), Some(id(2)));
        // Not seen: `offline` edits again, concurrently with the merge.
        let mut edited = before.clone();
        edited
            .edit(
                offline,
                at.clone(),
                [("phone".parse().unwrap(), json!("0612"))],
            )
            .unwrap();
        let both = crate::merge(&merged, &edited).unwrap();
        let unseen = unseen_by_merge(&both, offline);
        assert_eq!(unseen.len(), 1, "{unseen:?}");
        assert_eq!(unseen[0].0.as_str(), "phone");
        assert_eq!(unseen[0].1.value, json!("0612"));
        assert!(unseen_by_merge(&both, merger).is_empty());
        assert!(unseen_by_merge(&both, other).is_empty());
        assert!(unseen_by_merge(&edited, offline).is_empty(), "not merged");
        assert!(both.conflicts().is_empty());
    }

    #[test]
    fn nothing_is_re_applied_without_a_readable_seen_nor_what_a_second_merge_saw() {
        let at: crate::Timestamp = "2026-12-01T11:00:00Z".parse().unwrap();
        let (one, two, offline): (ReplicaId, ReplicaId, ReplicaId) = (
            "00000000-0000-7000-8000-00000000000a".parse().unwrap(),
            "00000000-0000-7000-8000-00000000000b".parse().unwrap(),
            "00000000-0000-7000-8000-00000000000c".parse().unwrap(),
        );
        let mut p = person(1, offline);
        p.edit(
            offline,
            at.clone(),
            [("phone".parse().unwrap(), json!("1"))],
        )
        .unwrap();
        // A tombstone whose seen does not read: no guess.
        let mut broken = p.clone();
        broken
            .edit(
                one,
                at.clone(),
                [
                    (
                        FieldName::from_static(MERGED_INTO),
                        json!(id(2).to_string()),
                    ),
                    (FieldName::from_static(MERGED_SEEN), json!("everything")),
                ],
            )
            .unwrap();
        assert!(unseen_by_merge(&broken, offline).is_empty());
        // Two counsellors merge the file into the same person at once; the second saw
        // the phone, the first did not: the phone was seen.
        let mut early = person(1, offline);
        early
            .edit(
                one,
                at.clone(),
                tombstone_changes(&person(1, offline), id(2)),
            )
            .unwrap();
        let mut late = p.clone();
        late.edit(two, at, tombstone_changes(&p, id(2))).unwrap();
        let both = crate::merge(&early, &late).unwrap();
        assert_eq!(both.entries(MERGED_INTO).len(), 2);
        assert!(unseen_by_merge(&both, offline).is_empty());
    }

    #[test]
    fn marks_made_at_once_add_up_and_are_no_conflict() {
        let (a, b): (ReplicaId, ReplicaId) = (
            "00000000-0000-7000-8000-00000000000a".parse().unwrap(),
            "00000000-0000-7000-8000-00000000000b".parse().unwrap(),
        );
        let at: crate::Timestamp = "2026-12-01T11:00:00Z".parse().unwrap();
        let p = person(1, a);
        let (mut one, mut two) = (p.clone(), p);
        one.edit(
            a,
            at.clone(),
            [(
                FieldName::from_static(NOT_DUPLICATES),
                json!([id(2).to_string()]),
            )],
        )
        .unwrap();
        two.edit(
            b,
            at,
            [(
                FieldName::from_static(NOT_DUPLICATES),
                json!([id(3).to_string()]),
            )],
        )
        .unwrap();
        let both = crate::merge(&one, &two).unwrap();
        assert_eq!(not_duplicates(&both), BTreeSet::from([id(2), id(3)]));
        assert!(both.conflicts().is_empty(), "{:?}", both.conflicts());
    }

    proptest! {
        /// Whatever the tombstones, every person resolves to a person that is not merged
        /// away, which its chain reaches: the end of the chain, or the smallest id of the
        /// cycle it runs into.
        #[test]
        fn every_person_resolves_to_a_survivor(
            pairs in proptest::collection::vec((0u128..12, 0u128..12), 0..20),
        ) {
            let mut one_each = BTreeMap::new();
            for (a, b) in pairs {
                one_each.insert(a, b);
            }
            let list: Vec<(u128, u128)> = one_each.clone().into_iter().collect();
            let s = survivors(&list);
            for n in 0..12u128 {
                let end = s.of(id(n));
                prop_assert!(!s.is_merged(end), "{n} resolves to a merged person");
                prop_assert_eq!(s.of(end), end);
                // Walk the chain by hand.
                let mut path = vec![n];
                let mut at = n;
                let expected = loop {
                    match one_each.get(&at) {
                        Some(&to) if to != at => {
                            if let Some(from) = path.iter().position(|p| *p == to) {
                                break *path[from..].iter().min().unwrap();
                            }
                            path.push(to);
                            at = to;
                        }
                        _ => break at,
                    }
                };
                prop_assert_eq!(end, id(expected), "{}", n);
            }
        }
    }
}
