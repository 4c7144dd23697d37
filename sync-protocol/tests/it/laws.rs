//! The laws of SYNC-PROTOCOL.md §4, checked on states from random honest histories.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use sync_protocol::{RecordState, merge};

use crate::sim::{self, Schedule};

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(sim::cases())
}

/// Three snapshots of one record from a schedule's history, picked by the indices.
fn pick(world: &sim::World, record: usize, picks: [usize; 3]) -> [RecordState; 3] {
    let snaps = &world.snapshots[record];
    picks.map(|i| snaps[i % snaps.len()].clone())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn merge_is_commutative_associative_and_idempotent(
        schedule in sim::schedule(),
        record in any::<usize>(),
        picks in any::<[usize; 3]>(),
    ) {
        let world = sim::run(&schedule);
        let [a, b, c] = pick(&world, record % schedule.records, picks);
        let ab = merge(&a, &b).unwrap();
        let ba = merge(&b, &a).unwrap();
        prop_assert_eq!(ab.to_json(), ba.to_json(), "merge(a, b) must equal merge(b, a)");
        let ab_c = merge(&ab, &c).unwrap();
        let a_bc = merge(&a, &merge(&b, &c).unwrap()).unwrap();
        prop_assert_eq!(ab_c.to_json(), a_bc.to_json(), "merge must be associative");
        prop_assert_eq!(merge(&a, &a).unwrap().to_json(), a.to_json(), "merge(a, a) must be a");
        prop_assert_eq!(merge(&ab, &b).unwrap().to_json(), ab.to_json(), "merging b again must change nothing");
    }

    #[test]
    fn replicas_converge_to_identical_bytes_and_lose_no_write(schedule in sim::schedule()) {
        let world = sim::run(&schedule);
        for record in 0..schedule.records {
            let states = sim::distinct_states(&world, record);
            prop_assert_eq!(states.len(), 1, "every replica must hold the same bytes, got {:#?}", states);
            let state = world.copies[0][record].as_ref().unwrap();
            if let Err(lost) = world.check_no_lost_write(record, state) {
                prop_assert!(false, "lost write: {}", lost);
            }
            let editors = &world.editors[record];
            for (replica, _) in state.vv().iter() {
                prop_assert!(editors.contains(&replica), "vv names {} which never edited the record", replica);
            }
            // The wire format round-trips to the same bytes.
            let back = RecordState::from_json(&state.to_json()).unwrap();
            prop_assert_eq!(back.to_json(), state.to_json());
        }
    }

    #[test]
    fn a_resolution_closes_the_conflict_everywhere(schedule in sim::schedule(), resolver in any::<usize>()) {
        let mut world = sim::run(&schedule);
        let k = schedule.replicas.len();
        let r = resolver % k;
        for record in 0..schedule.records {
            // Resolve until nothing is left to decide (a field at a time).
            for value in 0..8 {
                world.apply(&sim::Op::Resolve { replica: r, record, value });
            }
        }
        world.settle();
        for record in 0..schedule.records {
            prop_assert_eq!(sim::distinct_states(&world, record).len(), 1);
            for copy in &world.copies {
                let state = copy[record].as_ref().unwrap();
                prop_assert!(state.conflicts().is_empty(), "conflicts left after resolution: {:?}", state.conflicts());
            }
            let state = world.copies[0][record].as_ref().unwrap();
            if let Err(lost) = world.check_no_lost_write(record, state) {
                prop_assert!(false, "lost write: {}", lost);
            }
        }
    }
}

/// The simulation must actually produce conflicts, deletions against edits and erasures,
/// or the properties above prove little: count the schedules that reach each.
#[test]
fn the_simulation_reaches_conflicts_and_deletions() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut conflicts, mut deleted_with_edits, mut erased) = (0, 0, 0);
    for _ in 0..300 {
        let schedule: Schedule = sim::schedule().new_tree(&mut runner).unwrap().current();
        let world = sim::run(&schedule);
        let snapshots = || world.snapshots.iter().flatten();
        conflicts += usize::from(snapshots().any(|s| !s.conflicts().fields.is_empty()));
        deleted_with_edits += usize::from(snapshots().any(|s| s.conflicts().deleted_with_edits));
        erased += usize::from(snapshots().any(|s| s.is_erased()));
    }
    eprintln!(
        "of 300 schedules: {conflicts} reach a field conflict, {deleted_with_edits} a deletion against an edit, {erased} an erasure"
    );
    assert!(
        conflicts >= 80,
        "only {conflicts} of 300 schedules reach a field conflict"
    );
    assert!(
        deleted_with_edits >= 60,
        "only {deleted_with_edits} of 300 schedules reach a deletion against an edit"
    );
    assert!(
        erased >= 50,
        "only {erased} of 300 schedules reach an erasure"
    );
}
