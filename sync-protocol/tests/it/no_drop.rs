//! The no-drop rule (§4) as the server applies it: honest histories never trip it, and
//! a push that leaves out an entry the server holds, with no write over it, always does.

use proptest::prelude::*;
use serde_json::Value;
use sync_protocol::{RecordState, check_no_drop, merge};

use crate::sim;

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(sim::cases())
}

/// `state` without the entry `index` (counted over every field, in order), as JSON.
fn without_entry(state: &RecordState, index: usize) -> Option<(RecordState, String)> {
    let mut value: Value = serde_json::from_str(&state.to_json()).unwrap();
    let fields = value["fields"].as_object_mut().unwrap();
    let mut seen = 0;
    let mut removed = None;
    for (name, entries) in fields.iter_mut() {
        let list = entries.as_array_mut().unwrap();
        if index < seen + list.len() {
            list.remove(index - seen);
            removed = Some(name.clone());
            break;
        }
        seen += list.len();
    }
    let field = removed?;
    if fields[&field].as_array().unwrap().is_empty() {
        fields.remove(&field);
    }
    Some((RecordState::from_value(&value).unwrap(), field))
}

/// The drops of `merge(stored, pushed)`, by the definition of §4: entries of `stored`
/// that the merge leaves out.
fn dropped_fields(stored: &RecordState, pushed: &RecordState) -> Vec<String> {
    let merged = merge(stored, pushed).unwrap();
    stored
        .fields()
        .filter(|(name, entries)| {
            let kept = merged.entries(name.as_str());
            entries.iter().any(|e| !kept.iter().any(|k| k.dot == e.dot))
        })
        .map(|(name, _)| name.to_string())
        .collect()
}

proptest! {
    #![proptest_config(config())]

    /// Any copy a replica held, pushed to a server holding any other copy: never refused.
    #[test]
    fn honest_histories_never_trip_it(schedule in sim::schedule()) {
        let world = sim::run(&schedule);
        for snaps in &world.snapshots {
            for stored in snaps {
                for pushed in snaps.iter().filter(|p| !p.is_erased()) {
                    prop_assert!(
                        check_no_drop(stored, pushed).is_ok(),
                        "an honest push was refused: stored {} pushed {}",
                        stored.to_json(),
                        pushed.to_json()
                    );
                }
            }
        }
    }

    /// Removing one entry from an honest push trips the rule exactly when the merge would
    /// drop an entry the server holds and the field keeps no write the server has not
    /// seen. (An entry the server has not seen yet, left out, is the forged-dot rule's
    /// business when another replica made it, and the pusher's own loss otherwise.)
    #[test]
    fn a_push_missing_an_entry_the_server_holds_is_refused(
        schedule in sim::schedule(),
        picks in proptest::collection::vec(any::<(usize, usize, usize)>(), 8),
    ) {
        let world = sim::run(&schedule);
        for (s, p, e) in picks {
            let snaps = &world.snapshots[s % world.snapshots.len()];
            let stored = &snaps[s / 7 % snaps.len()];
            let honest = &snaps[p % snaps.len()];
            if honest.is_erased() || stored.is_erased() {
                continue;
            }
            let total: usize = honest.fields().map(|(_, es)| es.len()).sum();
            let Some((crafted, field)) = without_entry(honest, e % total.max(1)) else { continue };
            let new_write_left = crafted
                .entries(&field)
                .iter()
                .any(|x| !stored.vv().covers(x.dot));
            let drops = dropped_fields(stored, &crafted);
            let expected_refusal = drops.iter().any(|f| {
                !crafted.entries(f).iter().any(|x| !stored.vv().covers(x.dot))
            });
            let verdict = check_no_drop(stored, &crafted);
            prop_assert_eq!(verdict.is_err(), expected_refusal,
                "stored {} crafted {} (field {}, new write left: {})",
                stored.to_json(), crafted.to_json(), field, new_write_left);
            if let Err(e) = verdict {
                prop_assert!(drops.contains(&e.field), "the error must name a field that loses an entry: {}", e);
            }
        }
    }
}

/// The crafted pushes of the property above are refused often enough to matter.
#[test]
fn crafted_pushes_are_refused_in_most_schedules() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut tried, mut refused) = (0, 0);
    for _ in 0..200 {
        let schedule = sim::schedule().new_tree(&mut runner).unwrap().current();
        let world = sim::run(&schedule);
        for snaps in &world.snapshots {
            // The settled copy, as the server holds it, against each entry left out of it.
            let stored = snaps.last().unwrap();
            if stored.is_erased() {
                continue;
            }
            let total: usize = stored.fields().map(|(_, es)| es.len()).sum();
            for index in 0..total {
                let (crafted, _) = without_entry(stored, index).unwrap();
                tried += 1;
                refused += usize::from(check_no_drop(stored, &crafted).is_err());
            }
        }
    }
    assert!(tried > 500, "only {tried} crafted pushes");
    // Leaving out an entry of the server's own copy always drops it; only a field whose
    // other entries the server has not seen could answer for it, and the server has seen
    // all of its own.
    assert_eq!(
        refused, tried,
        "every entry left out of the server's own copy must be refused"
    );
}
