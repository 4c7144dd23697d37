//! Conformance of erasure that stays done (`store::erased`): a person's erasure once
//! their own record is erased or sealed, what it leaves of held states, and a device
//! that went back in time (SYNC-PROTOCOL.md §5, §6a).

use serde_json::{Value, json};
use sync_protocol::wire::{ErasePersonResponse, PushStatus};
use sync_protocol::{RecordId, RecordState, ReplicaId};

use super::{PgDatabase, PgStore, SqliteStore, device, new_id, pulled_to, statuses};
use crate::store::{Caller, Capped, Conversation, PAGE_BYTES, Role, Store};

conformance!(
    a_person_erased_or_sealed_is_still_erased_as_a_person,
    a_persons_erasure_deletes_the_held_states_naming_anyone_it_erased,
    a_record_erased_on_release_leaves_no_note_of_a_discarded_state,
    a_pull_below_what_the_device_confirmed_is_told_to_start_over_without_recovery,
);

/// One entry of a field, written by the edit `[replica, n]`.
fn entry(replica: ReplicaId, n: u64, value: Value) -> Value {
    json!([{"dot": [replica, n], "at": "2026-11-02T10:14:00Z", "value": value}])
}

/// A state of `kind` made of `fields` (each an [`entry`]) with version vector `vv`.
fn made(id: RecordId, kind: &str, vv: Value, fields: Value) -> RecordState {
    RecordState::from_value(&json!({"id": id, "kind": kind, "vv": vv, "fields": fields})).unwrap()
}

/// A state made by one edit `[replica, 1]` that wrote every field of `fields`.
fn state(id: RecordId, kind: &str, replica: ReplicaId, fields: Value) -> RecordState {
    let fields: serde_json::Map<String, Value> = fields
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, value)| (name.clone(), entry(replica, 1, value.clone())))
        .collect();
    made(
        id,
        kind,
        json!({replica.to_string(): 1}),
        Value::Object(fields),
    )
}

/// A person's erasure that must be done; answers its answer.
async fn erased_person<S: Store>(
    store: &S,
    org: i64,
    person: RecordId,
    dry_run: bool,
    by: Option<ReplicaId>,
) -> (ErasePersonResponse, usize) {
    match store.erase_person(org, person, dry_run, by).await.unwrap() {
        Capped::Done(done) => (done.answer, done.edits.len()),
        other => panic!("expected the person's erasure to be done, got {other:?}"),
    }
}

fn listed(list: &[sync_protocol::wire::TouchedRecord]) -> Vec<RecordId> {
    let mut ids: Vec<RecordId> = list.iter().map(|t| t.id).collect();
    ids.sort_unstable();
    ids
}

/// The stored state of `id`, read from a pull from 0 (its latest row).
async fn stored<S: Store>(store: &S, org: i64, id: RecordId) -> Option<RecordState> {
    let rows = store.pull_rows(org, 0, 1000, PAGE_BYTES).await.unwrap();
    rows.iter()
        .map(|row| RecordState::from_json(&row.state).unwrap())
        .rfind(|s| s.id() == id)
}

/// A coordinator who erased a person's record first (`record erase`), or whose
/// tombstone is sealed since, still erases them as a person: the sweep runs, and lists
/// what it does now (not the person, erased before). An id the organisation never had,
/// and a record of another kind, live or erased, are not found.
async fn a_person_erased_or_sealed_is_still_erased_as_a_person<S: Store>(store: S) {
    let marie = device(&store, "nord", "marie", Role::Counsellor).await;
    let org = marie.org;
    let (p, q, step, visit) = (new_id(), new_id(), new_id(), new_id());
    let (sealed, sealed_step, other_step) = (new_id(), new_id(), new_id());
    let m = marie.device;
    store
        .push(
            marie,
            vec![
                state(p, "person", m, json!({"family_name": "Lăcătuș"})),
                state(q, "person", m, json!({"family_name": "Dobrev"})),
                state(step, "step", m, json!({"person_id": p.to_string()})),
                state(
                    visit,
                    "visit",
                    m,
                    json!({"person_ids": [p.to_string(), q.to_string()], "observations": "Vus"}),
                ),
                state(sealed, "person", m, json!({"family_name": "Zqxw"})),
                state(
                    sealed_step,
                    "step",
                    m,
                    json!({"person_id": sealed.to_string()}),
                ),
                state(other_step, "step", m, json!({"person_id": q.to_string()})),
            ],
            None,
        )
        .await
        .unwrap();
    let erasure = store.erase(org, sealed).await.unwrap().unwrap();
    pulled_to(&store, marie, erasure.server_seq).await;
    assert_eq!(
        stored(&store, org, sealed).await,
        None,
        "the tombstone is sealed"
    );
    store.erase(org, p).await.unwrap().unwrap();
    let erased_step = store.erase(org, other_step).await.unwrap().unwrap();

    for (id, what) in [
        (new_id(), "an id the organisation never had"),
        (step, "a live record of another kind"),
        (other_step, "a record of another kind, erased"),
    ] {
        let answer = store.erase_person(org, id, false, Some(m)).await.unwrap();
        assert_eq!(answer, Capped::NotFound, "{what}");
    }

    // P's own record is a tombstone: the records about them and the shared visit remain.
    let (dry, _) = erased_person(&store, org, p, true, Some(m)).await;
    assert_eq!(
        (listed(&dry.erased), listed(&dry.kept)),
        (vec![step], vec![visit])
    );
    let (done, edits) = erased_person(&store, org, p, false, Some(m)).await;
    assert_eq!(
        (listed(&done.erased), listed(&done.kept)),
        (vec![step], vec![visit]),
        "the person, erased before, is not listed again"
    );
    assert_eq!(
        (done.server_seq, edits),
        (erased_step.server_seq + 2, 2),
        "the step erased and the visit edited, each under a new sequence, journaled"
    );
    assert!(stored(&store, org, step).await.unwrap().is_erased());
    let shared = stored(&store, org, visit).await.unwrap();
    assert_eq!(
        shared.entries("person_ids")[0].value,
        json!([q.to_string()]),
        "the shared visit keeps Q alone"
    );
    let (again, edits) = erased_person(&store, org, p, false, Some(m)).await;
    assert!(
        again.erased.is_empty() && again.kept.is_empty() && edits == 0,
        "nothing more to do: {again:?}"
    );
    assert_eq!(again.server_seq, done.server_seq, "nothing written");

    // The sealed person: no row, their id only a mac; what is about them still goes.
    let (done, _) = erased_person(&store, org, sealed, false, None).await;
    assert_eq!(
        (listed(&done.erased), listed(&done.kept)),
        (vec![sealed_step], vec![])
    );
    assert!(stored(&store, org, sealed_step).await.unwrap().is_erased());
}

/// Enrols `username`'s device and puts the organisation into recovery (§6a) as a pull
/// ahead of the server does.
async fn in_recovery<S: Store>(store: &S, devices: &[&str]) -> Vec<Caller> {
    let mut callers = Vec::new();
    for username in devices {
        callers.push(device(store, "nord", username, Role::Counsellor).await);
    }
    let answer = store.pull_check(callers[0], 1000, None).await.unwrap();
    assert_eq!(answer, Conversation::Ahead);
    assert!(
        store
            .recovery_status(callers[0].org)
            .await
            .unwrap()
            .in_recovery
    );
    callers
}

/// A person's erasure deletes the held states (§6a) of every record it erased and of
/// every state that names anyone it erased: a person merged into them too.
async fn a_persons_erasure_deletes_the_held_states_naming_anyone_it_erased<S: Store>(store: S) {
    let callers = in_recovery(&store, &["marie", "ion"]).await;
    let (a, b) = (callers[0], callers[1]);
    let (p, merged, of_merged, of_p) = (new_id(), new_id(), new_id(), new_id());
    store
        .push(
            a,
            vec![
                state(p, "person", a.device, json!({"family_name": "Lăcătuș"})),
                state(
                    merged,
                    "person",
                    a.device,
                    json!({"merged_into": p.to_string()}),
                ),
            ],
            None,
        )
        .await
        .unwrap();
    // Steps holding Ion's edits the server never saw: held until Ion syncs.
    let held = store
        .push(
            a,
            vec![
                state(
                    of_merged,
                    "step",
                    b.device,
                    json!({"person_id": merged.to_string()}),
                ),
                state(of_p, "step", b.device, json!({"person_id": p.to_string()})),
            ],
            None,
        )
        .await
        .unwrap();
    assert_eq!(statuses(&held), [PushStatus::Held, PushStatus::Held]);

    let (done, _) = erased_person(&store, a.org, p, false, None).await;
    assert_eq!(listed(&done.erased), {
        let mut ids = vec![p, merged];
        ids.sort_unstable();
        ids
    });
    let status = store.recovery_status(a.org).await.unwrap();
    assert!(
        status.held.is_empty(),
        "no held state names the person or the person merged into them: {status:?}"
    );
}

/// A held state released (§6a) that names an erased person alone is erased as it is
/// written; a held state of that record discarded in the same release leaves no note
/// (`recovery status`'s `discarded`) naming the erased record.
async fn a_record_erased_on_release_leaves_no_note_of_a_discarded_state<S: Store>(store: S) {
    let callers = in_recovery(&store, &["marie", "ion", "claire"]).await;
    let (a, b, c) = (callers[0], callers[1], callers[2]);
    let (p, visit) = (new_id(), new_id());
    store
        .push(
            a,
            vec![state(p, "person", a.device, json!({"family_name": "Zqxw"}))],
            None,
        )
        .await
        .unwrap();
    store.erase(a.org, p).await.unwrap().unwrap();
    let (bv, cv) = (b.device.to_string(), c.device.to_string());
    store
        .push(
            b,
            vec![state(
                visit,
                "visit",
                b.device,
                json!({"observations": "x"}),
            )],
            None,
        )
        .await
        .unwrap();
    // Marie and Claire hold Ion's second edit, unseen: held. Marie's holds it with
    // another content than Ion's own; Claire's adds that the visit met P alone.
    let marie_holds = made(
        visit,
        "visit",
        json!({bv.clone(): 2}),
        json!({"observations": entry(b.device, 2, json!("y"))}),
    );
    let claire_holds = made(
        visit,
        "visit",
        json!({bv.clone(): 2, cv.clone(): 1}),
        json!({"observations": entry(b.device, 2, json!("w")),
               "person_ids": entry(c.device, 1, json!([p.to_string()]))}),
    );
    for (caller, held) in [(a, marie_holds), (c, claire_holds)] {
        let answer = store.push(caller, vec![held], None).await.unwrap();
        assert_eq!(statuses(&answer), [PushStatus::Held]);
    }
    // Ion pushes his edit: Marie's state is discarded (altered), Claire's released,
    // and the visit, met by the erased P alone, erased as it is written.
    let ions = made(
        visit,
        "visit",
        json!({bv.clone(): 2}),
        json!({"observations": entry(b.device, 2, json!("w"))}),
    );
    store.push(b, vec![ions], None).await.unwrap();
    assert!(
        stored(&store, a.org, visit).await.unwrap().is_erased(),
        "released, the visit met only the erased P"
    );
    let status = store.recovery_status(a.org).await.unwrap();
    assert!(status.held.is_empty(), "{status:?}");
    let visit_text = visit.to_string();
    assert!(
        status.discarded.iter().all(|d| d.id != visit_text),
        "no note names the erased visit: {:?}",
        status.discarded
    );
}

/// A pull whose `since` is below what the device confirmed (its case file put back from
/// an older copy) is answered `Rewound` (409 `checkpoint_ahead`) without recovery, and
/// the device's `confirmed` goes back to 0, so that its pull from 0 is in step; so too
/// after `Ahead` (the server restored), which enters recovery.
async fn a_pull_below_what_the_device_confirmed_is_told_to_start_over_without_recovery<S: Store>(
    store: S,
) {
    let marie = device(&store, "nord", "marie", Role::Counsellor).await;
    let claire = device(&store, "nord", "claire", Role::Coordinator).await;
    let (x, y) = (new_id(), new_id());
    let m = marie.device;
    store
        .push(
            marie,
            vec![
                state(x, "step", m, json!({"title": "CV"})),
                state(y, "step", m, json!({"title": "CAF"})),
            ],
            None,
        )
        .await
        .unwrap();
    pulled_to(&store, marie, 2).await;
    pulled_to(&store, claire, 2).await;

    let answer = store.pull_check(marie, 1, None).await.unwrap();
    assert_eq!(answer, Conversation::Rewound, "below the 2 it confirmed");
    assert!(
        !store.recovery_status(marie.org).await.unwrap().in_recovery,
        "a device that went back puts nobody in recovery"
    );
    // Its confirmed is 0 again: a tombstone waits for its pull past it.
    let erasure = store.erase(marie.org, x).await.unwrap().unwrap();
    pulled_to(&store, claire, erasure.server_seq).await;
    let answer = store.pull_check(marie, 0, None).await.unwrap();
    assert!(
        matches!(answer, Conversation::InStep { .. }),
        "its pull from 0 follows: {answer:?}"
    );
    assert!(
        stored(&store, marie.org, x).await.is_some(),
        "the tombstone is not sealed until Marie pulls past it again"
    );
    pulled_to(&store, marie, erasure.server_seq).await;
    assert_eq!(stored(&store, marie.org, x).await, None, "sealed now");

    // A pull ahead of the server (restored): recovery, and Claire's confirmed 0 too.
    let answer = store.pull_check(claire, 1000, None).await.unwrap();
    assert_eq!(answer, Conversation::Ahead);
    assert!(store.recovery_status(claire.org).await.unwrap().in_recovery);
    let answer = store.pull_check(claire, 0, None).await.unwrap();
    assert!(
        matches!(answer, Conversation::InStep { .. }),
        "not refused again: {answer:?}"
    );
}

/// The vacuum after an erasure (PostgreSQL) skips a table it would have to wait for,
/// and an erasure does not wait for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vacuum_skips_a_locked_table_and_an_erasure_does_not_wait_for_it() {
    let db = PgDatabase::new().await;
    let store = PgStore::connect(&db.url).await.unwrap();
    let marie = device(&store, "nord", "marie", Role::Counsellor).await;
    let id = new_id();
    let m = marie.device;
    store
        .push(
            marie,
            vec![state(id, "step", m, json!({"title": "CV"}))],
            None,
        )
        .await
        .unwrap();
    let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    // What another vacuum, or an index being built, takes: it waits for nothing else.
    client
        .batch_execute("BEGIN; LOCK TABLE records, held IN SHARE UPDATE EXCLUSIVE MODE")
        .await
        .unwrap();
    // A guard against a hang, not a measure: the vacuum must not wait for the lock.
    let guard = std::time::Duration::from_secs(120);
    tokio::time::timeout(guard, store.erase(marie.org, id))
        .await
        .expect("the erasure does not wait for a vacuum")
        .unwrap()
        .unwrap();
    tokio::time::timeout(guard, store.vacuum())
        .await
        .expect("the vacuum skips the locked tables")
        .unwrap();
    client.batch_execute("COMMIT").await.unwrap();
    store.vacuum().await.unwrap();
}
