//! Re-dotting a record after a re-key (§6a).
//!
//! A case file put back from an older copy, or copied and used on two machines, has two
//! *lives* that each gave dots of the same replica id (`old`) to different edits. Once the
//! server answers 409 `replica_reused`, the device takes a new replica id (`new`) and,
//! before it merges anything, gives the edits the server does not hold new dots under
//! `new`: then no dot names two edits, and merging with the server's copy keeps the edits
//! of both lives.
//!
//! [`redot`] does that to one record, against the server's copy of it. The device calls
//! it for every record it holds, before its first merge under the new id.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::record::{DELETED_FIELD, Entry, FieldName, RecordState};
use crate::size::{self, MAX_EDIT_BYTES};
use crate::validate::deletion_seen;
use crate::{Dot, ReplicaId, VersionVector};

/// One group of re-dotted entries: they share the counter `counter` of the new replica.
struct Group {
    counter: u64,
    bytes: usize,
    fields: Vec<FieldName>,
}

/// The state of `local` with the edits of `old` that `server` does not hold given new
/// dots of `new` (§6a). `server` is the server's copy of the record, `None` when it has
/// none (a copy of another kind counts as none): every entry of `old` then moves.
///
/// - An entry of `old` is **held** when `server` holds the same dot in the same field with
///   the same content (same `at`, same value): both lives share it, it keeps its dot.
/// - Every other entry of `old` takes a new dot of `new`, keeping its `at` and value.
/// - `vv[old]` becomes the highest counter among the held entries (0: removed), never
///   more: a higher counter would cover, in the server's copy, edits of the other life
///   that this one has never seen, and merge would drop them. The price is a spurious
///   conflict (an entry of both lives that this one had written over comes back beside
///   its replacement); a lost edit is not an option. One exception: a deletion made by
///   another device (§5) that this copy holds saw `old`'s edits as the server had them
///   when this life received it, which this life has merged; `vv[old]` keeps its `seen`
///   of `old`, so that the deletion keeps its dot and its author.
/// - Any other deletion whose `seen` of `old` is above that `vv[old]` (one of `old`'s
///   own, or of `new` made since the re-key) has it lowered, so that it stays covered by
///   the record's `vv`. Its content changes, so it takes a new dot of `new` (one dot
///   never names two contents). A lowered `seen` may show the deletion as concurrent
///   with edits it had seen (a conflict a person decides); it never hides an edit.
///
/// The moved entries share one new dot, `[new, vv[new] + 1]`: one edit, as if a person
/// had typed them again. Two exceptions keep the result valid (§2): a field holding two
/// moved entries (a state that already mixed both lives) gives the second the next
/// counter, and so does an entry that would take the shared dot past the size cap of one
/// edit ([`MAX_EDIT_BYTES`](crate::MAX_EDIT_BYTES)).
///
/// The result is a valid state. An erased record, and `old == new`, give `local` back
/// unchanged. `new` is meant to be a fresh replica id: its counters start above the
/// record's `vv[new]`.
///
/// A limit, written down: two lives that each made an edit with the same dot, in the
/// same field, with the same value at the same second, are taken for one edit (held),
/// and `vv[old]` may then cover another edit of the other life. Wall clocks written to
/// the second make that a coincidence no person produces.
pub fn redot(
    local: &RecordState,
    server: Option<&RecordState>,
    old: ReplicaId,
    new: ReplicaId,
) -> RecordState {
    if local.erased || old == new {
        return local.clone();
    }
    let server = server.filter(|s| s.id == local.id && s.kind == local.kind);
    let held = |name: &FieldName, entry: &Entry| {
        entry.dot.replica == old
            && server.is_some_and(|s| {
                let theirs = s.entries(name.as_str());
                theirs
                    .binary_search_by_key(&entry.dot, |e| e.dot)
                    .is_ok_and(|i| theirs[i] == *entry)
            })
    };
    let held_old = local
        .fields
        .iter()
        .flat_map(|(name, entries)| entries.iter().map(move |e| (name, e)))
        .filter(|(name, entry)| held(name, entry))
        .map(|(_, entry)| entry.dot.counter);
    // What deletions by other devices saw of `old`: edits both lives share (see the docs).
    let seen_by_others = local
        .entries(DELETED_FIELD)
        .iter()
        .filter(|e| e.dot.replica != old && e.dot.replica != new)
        .filter_map(|e| deletion_seen(&e.value).flatten())
        .map(|seen| seen.get(old));
    let kept_old = held_old
        .chain(seen_by_others)
        .max()
        .unwrap_or(0)
        .min(local.vv.get(old));

    let base = local.vv.get(new).saturating_add(1);
    let mut groups: Vec<Group> = Vec::new();
    let mut fields: BTreeMap<FieldName, Vec<Entry>> = BTreeMap::new();
    for (name, entries) in &local.fields {
        let mut out = Vec::with_capacity(entries.len());
        for entry in entries {
            let ours = entry.dot.replica == old || entry.dot.replica == new;
            let value = if name.as_str() == DELETED_FIELD && ours {
                lowered_seen(&entry.value, old, kept_old)
            } else {
                None
            };
            let moves = (entry.dot.replica == old && !held(name, entry)) || value.is_some();
            if !moves {
                out.push(entry.clone());
                continue;
            }
            let value = value.unwrap_or_else(|| entry.value.clone());
            let counter = place(&mut groups, base, name, &entry.at, &value, new);
            out.push(Entry {
                dot: Dot::new(new, counter),
                at: entry.at.clone(),
                value,
            });
        }
        out.sort_by_key(|e| e.dot);
        fields.insert(name.clone(), out);
    }

    let mut vv: VersionVector = local.vv.clone();
    vv.set(old, kept_old);
    if let Some(highest) = groups.iter().map(|g| g.counter).max() {
        vv.set(new, highest.max(local.vv.get(new)));
    }
    RecordState {
        id: local.id,
        kind: local.kind.clone(),
        vv,
        fields,
        erased: false,
    }
}

/// The value of a `_deleted` entry with its `seen[old]` lowered to `kept_old`, when it
/// was above; `None` when it needs no change (null, or `seen` already within).
fn lowered_seen(value: &Value, old: ReplicaId, kept_old: u64) -> Option<Value> {
    let seen = deletion_seen(value)??;
    if seen.get(old) <= kept_old {
        return None;
    }
    let mut lowered = seen;
    lowered.set(old, kept_old);
    Some(json!({ "seen": lowered }))
}

/// The counter of `new` a re-dotted entry of `name` takes: the first group that does not
/// hold `name` yet and has room for it within the size cap, else a new group.
fn place(
    groups: &mut Vec<Group>,
    base: u64,
    name: &FieldName,
    at: &crate::Timestamp,
    value: &Value,
    new: ReplicaId,
) -> u64 {
    for group in groups.iter_mut() {
        if group.fields.contains(name) {
            continue;
        }
        let bytes = size::entry_bytes(&Dot::new(new, group.counter), at, value);
        if group.bytes + bytes <= MAX_EDIT_BYTES {
            group.bytes += bytes;
            group.fields.push(name.clone());
            return group.counter;
        }
    }
    let counter = base.saturating_add(groups.len() as u64);
    groups.push(Group {
        counter,
        bytes: size::entry_bytes(&Dot::new(new, counter), at, value),
        fields: vec![name.clone()],
    });
    counter
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{RecordId, Timestamp, merge};

    fn old() -> ReplicaId {
        ReplicaId::from_u128(0xa)
    }
    fn new() -> ReplicaId {
        ReplicaId::from_u128(0xc)
    }
    fn other() -> ReplicaId {
        ReplicaId::from_u128(0xb)
    }
    fn at(n: u32) -> Timestamp {
        format!("2026-11-02T10:{n:02}:00Z").parse().unwrap()
    }
    fn f(name: &str) -> FieldName {
        name.parse().unwrap()
    }
    fn valid(state: &RecordState) -> RecordState {
        let back = RecordState::from_json(&state.to_json())
            .unwrap_or_else(|e| panic!("the re-dotted state must be valid: {e}"));
        assert_eq!(back, *state, "and read back as itself");
        back
    }
    fn person() -> RecordState {
        RecordState::create(
            RecordId::from_u128(1),
            "person".parse().unwrap(),
            old(),
            at(0),
            [(f("family_name"), json!("Popa")), (f("phone"), json!("06"))],
        )
        .unwrap()
    }

    #[test]
    fn held_entries_keep_their_dots_and_the_others_share_one_new_dot() {
        let common = person();
        let mut server = common.clone();
        server
            .edit(old(), at(1), [(f("phone"), json!("0611"))])
            .unwrap();
        let mut mine = common.clone();
        mine.edit(old(), at(2), [(f("notes"), json!("a"))]).unwrap();
        mine.edit(old(), at(3), [(f("city"), json!("Lyon"))])
            .unwrap();

        let redotted = valid(&redot(&mine, Some(&server), old(), new()));
        assert_eq!(
            redotted.entries("family_name")[0].dot,
            Dot::new(old(), 1),
            "an entry the server holds keeps its dot"
        );
        assert_eq!(redotted.entries("notes")[0].dot, Dot::new(new(), 1));
        assert_eq!(
            redotted.entries("city")[0].dot,
            Dot::new(new(), 1),
            "one new dot for all the re-dotted entries"
        );
        assert_eq!(redotted.entries("city")[0].at, at(3), "`at` is kept");
        assert_eq!(redotted.vv().get(old()), 1, "vv[old] is the highest held");
        assert_eq!(redotted.vv().get(new()), 1);

        let merged = merge(&redotted, &server).unwrap();
        assert_eq!(merged.value("notes"), Some(&json!("a")));
        assert_eq!(merged.value("city"), Some(&json!("Lyon")));
        let phones: Vec<&Value> = merged.entries("phone").iter().map(|e| &e.value).collect();
        assert_eq!(
            phones,
            [&json!("0611"), &json!("06")],
            "the other life's edit survives, beside the entry this life had not written over \
             (a spurious conflict, never a lost edit)"
        );
    }

    #[test]
    fn without_a_server_copy_every_entry_of_old_moves() {
        let mut mine = person();
        mine.edit(other(), at(1), [(f("notes"), json!("b"))])
            .unwrap();
        let redotted = valid(&redot(&mine, None, old(), new()));
        assert_eq!(redotted.vv().get(old()), 0, "vv[old] is removed");
        assert!(redotted.vv().iter().all(|(r, _)| r != old()));
        assert_eq!(redotted.entries("phone")[0].dot, Dot::new(new(), 1));
        assert_eq!(
            redotted.entries("notes")[0].dot,
            Dot::new(other(), 1),
            "another replica's entry is left alone"
        );
    }

    #[test]
    fn erased_records_and_a_same_id_are_left_alone() {
        let erased = person().erase();
        assert_eq!(redot(&erased, None, old(), new()), erased);
        assert_eq!(redot(&person(), None, old(), old()), person());
    }

    #[test]
    fn deletions_keep_a_seen_within_the_new_vv() {
        // A deletion by old itself, which the server lacks: re-dotted, its seen lowered
        // to the new vv[old].
        let common = person();
        let mut mine = common.clone();
        mine.edit(old(), at(1), [(f("phone"), json!("0611"))])
            .unwrap();
        mine.delete(old(), at(2)).unwrap();
        let redotted = valid(&redot(&mine, Some(&common), old(), new()));
        assert_eq!(redotted.vv().get(old()), 1, "only [old, 1] is held");
        let deletion = &redotted.entries(DELETED_FIELD)[0];
        assert_eq!(deletion.dot, Dot::new(new(), 1));
        assert_eq!(
            deletion.value,
            json!({"seen": {old().to_string(): 1}}),
            "its seen is lowered to vv[old]"
        );
        assert!(redotted.is_deleted());

        // Another device deleted the record after seeing [old, 2]: its deletion keeps its
        // dot and its author, and vv[old] keeps what it saw.
        let mut mine = common.clone();
        mine.edit(old(), at(1), [(f("phone"), json!("0611"))])
            .unwrap();
        mine.delete(other(), at(2)).unwrap();
        let redotted = valid(&redot(&mine, Some(&common), old(), new()));
        assert_eq!(redotted.entries(DELETED_FIELD), mine.entries(DELETED_FIELD));
        assert_eq!(redotted.vv().get(old()), 2);
        assert_eq!(
            redotted.entries("phone")[0].dot,
            Dot::new(new(), 1),
            "the edit the server lacks moves all the same"
        );

        // A deletion made under the new id since the re-key saw every edit of this life:
        // its seen is lowered, and it moves to the next dot.
        let mut mine = common.clone();
        mine.edit(old(), at(1), [(f("phone"), json!("0611"))])
            .unwrap();
        mine.delete(new(), at(2)).unwrap();
        let redotted = valid(&redot(&mine, Some(&common), old(), new()));
        let deletion = &redotted.entries(DELETED_FIELD)[0];
        assert_eq!(deletion.dot, Dot::new(new(), 2));
        assert_eq!(
            deletion.value,
            json!({"seen": {old().to_string(): 1}}),
            "its seen is lowered to vv[old]"
        );
    }

    #[test]
    fn two_re_dotted_entries_of_one_field_take_two_dots() {
        // A state that already mixed both lives: phone holds two entries of old.
        let (o, b) = (old().to_string(), other().to_string());
        let mixed = RecordState::from_value(&json!({
            "id": RecordId::from_u128(1).to_string(),
            "kind": "person",
            "vv": {&o: 3, &b: 1},
            "fields": {
                "phone": [
                    {"dot": [&o, 2], "at": "2026-11-02T10:01:00Z", "value": "1"},
                    {"dot": [&o, 3], "at": "2026-11-02T10:02:00Z", "value": "2"},
                ],
                "notes": [{"dot": [&b, 1], "at": "2026-11-02T10:03:00Z", "value": "x"}],
            },
        }))
        .unwrap();
        let redotted = valid(&redot(&mixed, None, old(), new()));
        let dots: Vec<Dot> = redotted.entries("phone").iter().map(|e| e.dot).collect();
        assert_eq!(dots, [Dot::new(new(), 1), Dot::new(new(), 2)]);
        assert_eq!(redotted.vv().get(new()), 2);
        assert_eq!(redotted.vv().get(old()), 0);
    }

    #[test]
    fn re_dotted_entries_stay_within_the_size_cap() {
        let big = "x".repeat(MAX_EDIT_BYTES / 2);
        let mut mine = person();
        mine.edit(old(), at(1), [(f("notes"), json!(big.clone()))])
            .unwrap();
        mine.edit(old(), at(2), [(f("observations"), json!(big.clone()))])
            .unwrap();
        mine.edit(old(), at(3), [(f("summary"), json!(big))])
            .unwrap();
        let redotted = valid(&redot(&mine, None, old(), new()));
        let mut counters: Vec<u64> = redotted
            .dots()
            .filter(|d| d.replica == new())
            .map(|d| d.counter)
            .collect();
        counters.sort_unstable();
        counters.dedup();
        assert!(
            counters.len() >= 2,
            "three halves of the cap need two dots: {counters:?}"
        );
    }
}
