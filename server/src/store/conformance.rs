//! The conformance suite of [`Store`]: every test runs on SQLite (a temporary file) and on
//! PostgreSQL (a fresh database on `PASSERELLE_TEST_POSTGRES`, default the machine's
//! server at 127.0.0.1:5432, dropped afterwards).

use serde_json::{Value, json};
use sync_protocol::wire::PushStatus;
use sync_protocol::{RecordId, RecordState, ReplicaId};

use super::postgres::PgStore;
use super::sqlite::SqliteStore;
use super::{
    Caller, Enrolled, Enrolment, Invite, Login, PAGE_BYTES, PulledRow, PushError, Role, Store,
    TokenOwner, page, unix_now,
};
use crate::rate::{ADDRESS_LIMIT, EnrolKey, EnrolLimit, USERNAME_LIMIT};

fn admin_url() -> String {
    std::env::var("PASSERELLE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

async fn admin(sql: String) {
    let (client, connection) = tokio_postgres::connect(&admin_url(), tokio_postgres::NoTls)
        .await
        .expect("the machine's PostgreSQL must accept the test user");
    tokio::spawn(connection);
    client.batch_execute(&sql).await.unwrap();
}

/// A fresh PostgreSQL database, dropped at the end of the test.
struct PgDatabase {
    name: String,
    url: String,
}

impl PgDatabase {
    async fn new() -> Self {
        let name = format!("passerelle_conformance_{}", uuid::Uuid::new_v4().simple());
        admin(format!("CREATE DATABASE {name}")).await;
        let admin = admin_url();
        let (server, _) = admin.split('?').next().unwrap().rsplit_once('/').unwrap();
        let url = format!("{server}/{name}");
        Self { name, url }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(admin(sql));
        })
        .join()
        .unwrap();
    }
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let dir = tempfile::tempdir().unwrap();
                    let store = super::SqliteStore::open(&dir.path().join("s.db")).await.unwrap();
                    super::$name(store).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let db = super::PgDatabase::new().await;
                    let store = super::PgStore::connect(&db.url).await.unwrap();
                    super::$name(store).await;
                }
            }
        )*
    };
}

conformance!(
    a_push_numbers_changes_and_a_repush_changes_nothing,
    a_refused_push_stores_nothing,
    enrolment_keeps_ids_to_their_user,
    organisations_share_nothing,
    erasure_keeps_id_kind_and_vv,
    pull_rows_read_no_further_than_the_page_bytes,
    an_exact_repush_is_left_out_of_the_pushers_pulls,
    an_enrolment_code_serves_once_its_user_until_it_expires,
    one_code_enrols_one_device_however_many_try_at_once,
    failed_enrolments_are_counted_in_buckets_all_or_nothing,
    tombstones_are_sealed_once_every_device_in_service_confirmed,
);

mod blobs;
mod erased;

/// A new code for the user of `login`, valid for `seconds` (negative: expired); answers
/// its hash.
async fn code_for<S: Store>(store: &S, login: &Login, seconds: i64) -> [u8; 32] {
    let code_hash: [u8; 32] = rand::random();
    let now = unix_now();
    store
        .add_code(Invite {
            user_id: login.user_id,
            org: login.org,
            code_hash,
            created_at: now - seconds.abs(),
            expires_at: now + seconds,
        })
        .await
        .unwrap();
    code_hash
}

fn enrolment(login: &Login, device_id: Option<ReplicaId>, code_hash: [u8; 32]) -> Enrolment {
    Enrolment {
        user_id: login.user_id,
        org: login.org,
        device_id,
        device_name: "P".into(),
        token_hash: crate::auth::new_token().1,
        code_hash,
    }
}

async fn an_enrolment_code_serves_once_its_user_until_it_expires<S: Store>(store: S) {
    store
        .add_user("nord", "marie", "h", Role::Counsellor)
        .await
        .unwrap();
    store
        .add_user("nord", "claire", "h", Role::Counsellor)
        .await
        .unwrap();
    let marie = store.login("marie").await.unwrap().unwrap();
    let claire = store.login("claire").await.unwrap().unwrap();
    let code = code_for(&store, &marie, 3600).await;
    assert_eq!(
        store.enrol(enrolment(&claire, None, code)).await.unwrap(),
        Enrolled::BadCode,
        "another user's code"
    );
    let device = new_replica();
    assert_eq!(
        store
            .enrol(enrolment(&marie, Some(device), code))
            .await
            .unwrap(),
        Enrolled::Device(device)
    );
    assert_eq!(
        store
            .enrol(enrolment(&marie, Some(device), code))
            .await
            .unwrap(),
        Enrolled::BadCode,
        "used: the same device enrolling again needs a new code"
    );
    let expired = code_for(&store, &marie, -1).await;
    assert_eq!(
        store.enrol(enrolment(&marie, None, expired)).await.unwrap(),
        Enrolled::BadCode,
        "expired"
    );
    assert_eq!(
        store
            .enrol(enrolment(&marie, None, rand::random()))
            .await
            .unwrap(),
        Enrolled::BadCode,
        "never issued"
    );
    let taken = code_for(&store, &claire, 3600).await;
    assert_eq!(
        store
            .enrol(enrolment(&claire, Some(device), taken))
            .await
            .unwrap(),
        Enrolled::Taken,
        "marie's device id"
    );
    assert!(
        matches!(
            store.enrol(enrolment(&claire, None, taken)).await.unwrap(),
            Enrolled::Device(_)
        ),
        "a refused enrolment leaves its code unused"
    );
    // The journal's replay: an unused code becomes used, a used one changes nothing.
    let unused = code_for(&store, &marie, 3600).await;
    assert!(store.restore_code_used(unused).await.unwrap());
    assert!(!store.restore_code_used(unused).await.unwrap());
    assert!(!store.restore_code_used(rand::random()).await.unwrap());
    assert_eq!(
        store.enrol(enrolment(&marie, None, unused)).await.unwrap(),
        Enrolled::BadCode
    );
}

async fn one_code_enrols_one_device_however_many_try_at_once<S: Store + Clone>(store: S) {
    store
        .add_user("nord", "marie", "h", Role::Counsellor)
        .await
        .unwrap();
    let marie = store.login("marie").await.unwrap().unwrap();
    for _ in 0..5 {
        let code = code_for(&store, &marie, 3600).await;
        let tries = (0..6).map(|_| {
            let (store, marie) = (store.clone(), marie.clone());
            tokio::spawn(async move { store.enrol(enrolment(&marie, None, code)).await })
        });
        let mut enrolled = 0;
        for attempt in tries.collect::<Vec<_>>() {
            match attempt.await.unwrap().unwrap() {
                Enrolled::Device(_) => enrolled += 1,
                Enrolled::BadCode => {}
                Enrolled::Taken => panic!("a new id is never taken"),
            }
        }
        assert_eq!(enrolled, 1, "exactly one enrolment per code");
    }
}

async fn failed_enrolments_are_counted_in_buckets_all_or_nothing<S: Store>(store: S) {
    let address: EnrolKey = rand::random();
    let marie: EnrolKey = rand::random();
    let claire: EnrolKey = rand::random();
    let buckets = |user| [(address, ADDRESS_LIMIT), (user, USERNAME_LIMIT)];
    let now = 1_000_000.0;
    for i in 0..10 {
        assert_eq!(
            store.enrol_try(buckets(marie), now).await.unwrap(),
            Ok(()),
            "failure {i}"
        );
    }
    let (which, wait) = store
        .enrol_try(buckets(marie), now)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(
        (which, wait.as_secs()),
        (1, 5),
        "the username's bucket is empty"
    );
    // Nothing was taken from the address by the refused try: claire has 40 more.
    for i in 0..40 {
        let user: EnrolKey = rand::random();
        assert_eq!(
            store.enrol_try(buckets(user), now).await.unwrap(),
            Ok(()),
            "{i}"
        );
    }
    let (which, _) = store
        .enrol_try(buckets(claire), now)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(which, 0, "the address's bucket is empty");
    store.enrol_give_back(buckets(claire), now).await.unwrap();
    assert_eq!(
        store.enrol_try(buckets(claire), now).await.unwrap(),
        Ok(()),
        "a try given back is taken again"
    );
    assert_eq!(
        store.enrol_try(buckets(marie), now + 250.0).await.unwrap(),
        Ok(()),
        "refilled"
    );
    let fresh: [(EnrolKey, EnrolLimit); 2] =
        [(rand::random(), ADDRESS_LIMIT), (claire, USERNAME_LIMIT)];
    assert_eq!(store.enrol_try(fresh, now + 1.0).await.unwrap(), Ok(()));
}

/// A device sending again exactly what the server holds (after a restore, it sends
/// everything) is not sent it back by its pulls, and no sequence moves.
async fn an_exact_repush_is_left_out_of_the_pushers_pulls<S: Store>(store: S) {
    let marie = device(&store, "nord", "marie", Role::Counsellor).await;
    let claire = device(&store, "nord", "claire", Role::Counsellor).await;
    let state = record(new_id(), "person", marie.device, 1, json!("Ion"));
    store.push(marie, vec![state.clone()], None).await.unwrap();
    let page_for = |rows: Vec<PulledRow>, who: &Caller| page(rows, 0, 500, PAGE_BYTES, who.device);
    let rows = store
        .pull_rows(claire.org, 0, 500, PAGE_BYTES)
        .await
        .unwrap();
    assert_eq!(page_for(rows, &claire).records.len(), 1, "claire lacks it");
    let again = store.push(claire, vec![state.clone()], None).await.unwrap();
    assert_eq!(statuses(&again), [PushStatus::Unchanged]);
    assert_eq!(again.server_seq, 1, "no sequence moves");
    let rows = store
        .pull_rows(claire.org, 0, 500, PAGE_BYTES)
        .await
        .unwrap();
    let claires = page_for(rows, &claire);
    assert!(claires.records.is_empty(), "claire holds it exactly now");
    assert_eq!(claires.next, 1, "the page still moves past it");
}

/// Enrols a device of a new user; answers it as a caller.
async fn device<S: Store>(store: &S, org: &str, username: &str, role: Role) -> Caller {
    if store.login(username).await.unwrap().is_none() {
        store.add_user(org, username, "hash", role).await.unwrap();
    }
    let login = store.login(username).await.unwrap().unwrap();
    let token_hash = crate::auth::new_token().1;
    let code_hash = code_for(store, &login, 3600).await;
    let enrolled = store
        .enrol(Enrolment {
            user_id: login.user_id,
            org: login.org,
            device_id: None,
            device_name: "Portable".into(),
            token_hash,
            code_hash,
        })
        .await
        .unwrap();
    assert!(matches!(enrolled, Enrolled::Device(_)), "{enrolled:?}");
    match store.caller(token_hash).await.unwrap() {
        TokenOwner::Device(caller) => caller,
        other => panic!("expected the enrolled device, got {other:?}"),
    }
}

fn record(id: RecordId, kind: &str, replica: ReplicaId, n: u64, value: Value) -> RecordState {
    RecordState::from_value(&json!({
        "id": id, "kind": kind, "vv": {replica.to_string(): n},
        "fields": {"x": [{"dot": [replica, n], "at": "2026-11-02T10:14:00Z", "value": value}]}
    }))
    .unwrap()
}

fn new_id() -> RecordId {
    RecordId::from_u128(uuid::Uuid::now_v7().as_u128())
}

fn statuses(outcome: &super::PushOutcome) -> Vec<PushStatus> {
    outcome.results.iter().map(|r| r.status).collect()
}

async fn a_push_numbers_changes_and_a_repush_changes_nothing<S: Store>(store: S) {
    let marie = device(&store, "nord", "marie", Role::Counsellor).await;
    let claire = device(&store, "nord", "claire", Role::Coordinator).await;
    let (a, b) = (new_id(), new_id());
    let batch = vec![
        record(a, "person", marie.device, 1, json!(1)),
        record(b, "visit", marie.device, 1, json!(2)),
    ];
    let first = store.push(marie, batch.clone(), None).await.unwrap();
    assert_eq!(first.server_seq, 2);
    assert_eq!(statuses(&first), [PushStatus::Created, PushStatus::Created]);
    let again = store.push(marie, batch.clone(), None).await.unwrap();
    assert_eq!(
        again.server_seq, 2,
        "a re-push does not advance the sequence"
    );
    assert_eq!(
        statuses(&again),
        [PushStatus::Unchanged, PushStatus::Unchanged]
    );

    let mut hers = batch[0].clone();
    hers = sync_protocol::merge(&hers, &record(a, "person", claire.device, 1, json!(3))).unwrap();
    let merged = store.push(claire, vec![hers.clone()], None).await.unwrap();
    assert_eq!(statuses(&merged), [PushStatus::Merged]);
    assert_eq!(merged.server_seq, 3);

    let rows = store
        .pull_rows(marie.org, 0, 500, PAGE_BYTES)
        .await
        .unwrap();
    let seqs: Vec<u64> = rows.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, [2, 3], "each record once, at its latest sequence");
    let for_claire = page(rows.clone(), 0, 500, PAGE_BYTES, claire.device);
    assert_eq!(
        for_claire.records,
        vec![batch[1].to_json()],
        "claire holds the merged person she pushed, exactly"
    );
    let for_marie = page(rows, 0, 1, PAGE_BYTES, marie.device);
    assert_eq!((for_marie.next, for_marie.more), (2, true));
    assert!(for_marie.records.is_empty(), "marie holds her own visit");
}

async fn a_refused_push_stores_nothing<S: Store>(store: S) {
    let marie = device(&store, "nord", "marie", Role::Counsellor).await;
    let claire = device(&store, "nord", "claire", Role::Counsellor).await;
    let a = new_id();
    store
        .push(
            marie,
            vec![record(a, "person", marie.device, 1, json!(1))],
            None,
        )
        .await
        .unwrap();

    let good = record(new_id(), "visit", claire.device, 1, json!(1));
    let forged = record(a, "person", marie.device, 2, json!(2));
    let refused = store.push(claire, vec![good.clone(), forged], None).await;
    assert!(
        matches!(refused, Err(PushError::Forged { id, .. }) if id == a),
        "{refused:?}"
    );
    let emptied = RecordState::from_value(&json!({
        "id": a, "kind": "person", "vv": {marie.device.to_string(): 1}, "fields": {}
    }))
    .unwrap();
    let theirs = record(new_id(), "visit", claire.device, 1, json!(1));
    let refused = store
        .push(claire, vec![theirs, emptied.clone()], None)
        .await;
    assert!(
        matches!(&refused, Err(PushError::Dropped(d)) if d.record == a && d.field == "x"),
        "{refused:?}"
    );
    let refused = store.push(marie, vec![emptied], None).await;
    assert!(
        matches!(&refused, Err(PushError::Reused { id, .. }) if *id == a),
        "marie leaving out her own edit is a second life of her case file: {refused:?}"
    );
    let other_kind = record(a, "visit", claire.device, 1, json!(1));
    let refused = store.push(claire, vec![good, other_kind], None).await;
    assert!(
        matches!(refused, Err(PushError::KindChanged(_))),
        "{refused:?}"
    );
    let rows = store
        .pull_rows(marie.org, 0, 500, PAGE_BYTES)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "nothing of the refused pushes was stored");
}

async fn enrolment_keeps_ids_to_their_user<S: Store>(store: S) {
    let marie = device(&store, "nord", "marie", Role::Counsellor).await;
    device(&store, "nord", "claire", Role::Counsellor).await;
    let claire = store.login("claire").await.unwrap().unwrap();
    let login = store.login("marie").await.unwrap().unwrap();
    let code = code_for(&store, &claire, 3600).await;
    let enrol = |login: &Login, device_id| enrolment(login, Some(device_id), code);
    let taken = store.enrol(enrol(&claire, marie.device)).await.unwrap();
    assert_eq!(taken, Enrolled::Taken, "another user's id");
    let server = store
        .enrol(enrol(&claire, store.server_id()))
        .await
        .unwrap();
    assert_eq!(server, Enrolled::Taken, "the server's own id");
    let again = enrolment(
        &login,
        Some(marie.device),
        code_for(&store, &login, 3600).await,
    );
    let token = again.token_hash;
    assert_eq!(
        store.enrol(again).await.unwrap(),
        Enrolled::Device(marie.device)
    );
    assert_eq!(
        store.caller(token).await.unwrap(),
        TokenOwner::Device(marie),
        "the new token"
    );
    assert_eq!(
        store.caller(crate::auth::new_token().1).await.unwrap(),
        TokenOwner::Unknown,
        "a token never issued"
    );

    assert!(store.revoke(marie.device).await.unwrap());
    assert_eq!(
        store.caller(token).await.unwrap(),
        TokenOwner::Revoked(marie.device),
        "revoked, and told apart from an unknown token"
    );
    let revoked = store
        .enrol(enrolment(
            &login,
            Some(marie.device),
            code_for(&store, &login, 3600).await,
        ))
        .await
        .unwrap();
    assert_eq!(
        revoked,
        Enrolled::Taken,
        "a revoked id is never enrolled again"
    );
    assert!(
        !store.revoke(new_replica()).await.unwrap(),
        "no such device"
    );
    assert!(
        store
            .add_user("sud", "marie", "h", Role::Counsellor)
            .await
            .is_err()
    );
}

fn new_replica() -> ReplicaId {
    super::new_replica_id()
}

async fn organisations_share_nothing<S: Store>(store: S) {
    let marie = device(&store, "nord", "marie", Role::Counsellor).await;
    let paul = device(&store, "sud", "paul", Role::Counsellor).await;
    assert_ne!(marie.org, paul.org);
    let id = new_id();
    store
        .push(
            marie,
            vec![record(id, "person", marie.device, 1, json!("nord"))],
            None,
        )
        .await
        .unwrap();
    let sud = store
        .push(
            paul,
            vec![record(id, "visit", paul.device, 1, json!("sud"))],
            None,
        )
        .await
        .unwrap();
    assert_eq!(statuses(&sud), [PushStatus::Created], "two records");
    assert_eq!(sud.server_seq, 1, "sequences are per organisation");
    let rows = store.pull_rows(paul.org, 0, 500, PAGE_BYTES).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].state.contains("\"sud\""), "sud's own record only");
    let replicas = store.replicas(paul.org).await.unwrap();
    assert_eq!(replicas.len(), 1, "sud's devices only");
    assert!(store.erase(paul.org, new_id()).await.unwrap().is_none());
}

async fn erasure_keeps_id_kind_and_vv<S: Store>(store: S) {
    let marie = device(&store, "nord", "marie", Role::Counsellor).await;
    let id = new_id();
    let state = record(id, "person", marie.device, 1, json!("Ion"));
    store.push(marie, vec![state.clone()], None).await.unwrap();
    let erased = |e: Option<super::Erasure>| e.map(|e| (e.server_seq, e.state, e.edits.len()));
    assert_eq!(
        erased(store.erase(marie.org, id).await.unwrap()),
        Some((2, state.erase(), 1)),
        "the erasure, for the journal"
    );
    assert_eq!(
        erased(store.erase(marie.org, id).await.unwrap()),
        Some((2, state.erase(), 0)),
        "idempotent: nothing more to journal"
    );
    let rows = store
        .pull_rows(marie.org, 1, 500, PAGE_BYTES)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].state, state.erase().to_json());
    assert_eq!(rows[0].pushed_by, None, "every device pulls the erasure");
}

/// A pull at `since` by `caller`, once the server answered it that far.
async fn pulled_to<S: Store>(store: &S, caller: Caller, since: u64) {
    store.note_answered(caller.device, since).await.unwrap();
    let answer = store.pull_check(caller, since, None).await.unwrap();
    assert!(
        matches!(answer, super::Conversation::InStep { .. }),
        "{answer:?}"
    );
}

/// Sealing (§5, see `store::erased`): an erased record's row goes once every device in
/// service confirmed a pull past it; a disabled user's device counts, a revoked one does
/// not. An erased id pushed again afterwards comes back as a tombstone only.
async fn tombstones_are_sealed_once_every_device_in_service_confirmed<S: Store>(store: S) {
    let marie = device(&store, "nord", "marie", Role::Counsellor).await;
    let claire = device(&store, "nord", "claire", Role::Coordinator).await;
    let lost = device(&store, "nord", "ion", Role::Counsellor).await;
    let id = new_id();
    let state = record(id, "person", marie.device, 1, json!("Ion"));
    store.push(marie, vec![state.clone()], None).await.unwrap();
    let erasure = store.erase(marie.org, id).await.unwrap().unwrap();
    assert_eq!(erasure.server_seq, 2);
    let rows = || async {
        store
            .pull_rows(marie.org, 0, 500, PAGE_BYTES)
            .await
            .unwrap()
    };

    pulled_to(&store, marie, 2).await;
    assert!(store.set_disabled("claire", true).await.unwrap());
    pulled_to(&store, lost, 2).await;
    assert_eq!(rows().await.len(), 1, "claire's device has not confirmed");
    assert!(store.set_disabled("claire", false).await.unwrap());
    assert!(store.revoke(lost.device).await.unwrap());
    pulled_to(&store, claire, 1).await;
    assert_eq!(rows().await.len(), 1, "claire confirmed 1 only");
    pulled_to(&store, claire, 2).await;
    assert!(
        rows().await.is_empty(),
        "every device in service confirmed 2: the tombstone is sealed"
    );
    assert!(
        store.record_macs(marie.org).await.unwrap().is_empty(),
        "no live record"
    );
    assert_eq!(
        store.erased_macs(marie.org).await.unwrap().len(),
        1,
        "the id stays as a mac"
    );

    let again = store.push(marie, vec![state.clone()], None).await.unwrap();
    assert_eq!(
        statuses(&again),
        [PushStatus::Merged],
        "absorbed on arrival"
    );
    assert!(
        again.edits.is_empty(),
        "erased before: nothing more to journal"
    );
    let rows = rows().await;
    assert_eq!(
        (rows.len(), rows[0].seq, rows[0].state.as_str()),
        (1, 3, state.erase().to_json().as_str()),
        "a new tombstone, under a new sequence, that the devices pull"
    );
    assert_eq!(rows[0].pushed_by, None);
}

async fn pull_rows_read_no_further_than_the_page_bytes<S: Store>(store: S) {
    let marie = device(&store, "nord", "marie", Role::Counsellor).await;
    let records: Vec<RecordState> = (0..6)
        .map(|_| record(new_id(), "visit", marie.device, 1, json!("x".repeat(100))))
        .collect();
    store.push(marie, records.clone(), None).await.unwrap();
    let size = records[0].to_json().len();
    let seqs = |rows: &[super::PulledRow]| rows.iter().map(|r| r.seq).collect::<Vec<_>>();

    let rows = store.pull_rows(marie.org, 0, 500, 2 * size).await.unwrap();
    assert_eq!(
        seqs(&rows),
        [1, 2, 3],
        "the rows whose preceding rows hold at most 2 states' bytes"
    );
    let cut = page(rows, 0, 500, 2 * size, new_replica());
    assert_eq!((cut.records.len(), cut.next, cut.more), (2, 2, true));

    let rows = store.pull_rows(marie.org, 0, 500, 1).await.unwrap();
    assert_eq!(seqs(&rows), [1, 2], "always the first two rows");
    let cut = page(rows, 0, 500, 1, new_replica());
    assert_eq!((cut.records.len(), cut.next, cut.more), (1, 1, true));

    let rows = store.pull_rows(marie.org, 4, 500, 1).await.unwrap();
    assert_eq!(seqs(&rows), [5, 6]);
    let rows = store.pull_rows(marie.org, 5, 500, 1).await.unwrap();
    assert_eq!(seqs(&rows), [6], "the last row alone");
    let cut = page(rows, 5, 500, 1, new_replica());
    assert_eq!((cut.records.len(), cut.next, cut.more), (1, 6, false));
}

/// Several stores on one PostgreSQL database stand for several server processes: pushes
/// through all of them hand out every sequence exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_processes_on_one_postgres_hand_out_each_sequence_once() {
    let db = PgDatabase::new().await;
    let first = PgStore::connect(&db.url).await.unwrap();
    let marie = device(&first, "nord", "marie", Role::Counsellor).await;
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let store = PgStore::connect(&db.url).await.unwrap();
        tasks.push(tokio::spawn(async move {
            for _ in 0..10 {
                let batch = (0..5)
                    .map(|_| record(new_id(), "visit", marie.device, 1, json!(0)))
                    .collect();
                store.push(marie, batch, None).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let rows = first
        .pull_rows(marie.org, 0, 1000, PAGE_BYTES)
        .await
        .unwrap();
    let seqs: Vec<u64> = rows.iter().map(|r| r.seq).collect();
    assert_eq!(
        seqs,
        (1..=200).collect::<Vec<_>>(),
        "1 to 200, no gap, no repeat"
    );
}
