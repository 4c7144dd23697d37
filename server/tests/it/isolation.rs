//! Organisations see nothing of each other.

use serde_json::json;

use crate::harness::{Backend, Setup, new_id, state};
use crate::on_both_backends;

on_both_backends!(the_same_id_in_two_organisations_is_two_records);

async fn the_same_id_in_two_organisations_is_two_records(backend: Backend) {
    let setup = Setup::new(backend);
    let marie = setup.client().enrolled("marie").await;
    let claire = setup.client().enrolled("claire").await;
    let paul = setup.client().enrolled("paul").await;
    let id = new_id();
    let nord = state(&id, "person", marie.device(), 1, json!({"name": "nord"}));
    let sud = state(&id, "visit", paul.device(), 1, json!({"name": "sud"}));

    let answer = marie.push(std::slice::from_ref(&nord)).await;
    assert_eq!(answer.expect_ok()["server_seq"], json!(1));
    let answer = paul.push(std::slice::from_ref(&sud)).await;
    assert_eq!(
        answer.expect_ok()["results"][0]["status"],
        json!("created"),
        "the same id in another organisation is a new record, even of another kind"
    );
    assert_eq!(
        answer.body["server_seq"],
        json!(1),
        "sequences are per organisation"
    );

    let (nord_states, _) = claire.pull_all(0, 500).await;
    assert_eq!(
        nord_states,
        vec![nord.clone()],
        "nord sees only its own record"
    );
    let other_sud = state(&new_id(), "site", paul.device(), 2, json!({"s": 1}));
    paul.push(&[other_sud]).await.expect_ok();
    let (sud_states, next) = setup.client().enrolled("paul").await.pull_all(0, 500).await;
    assert_eq!(next, 2);
    assert_eq!(sud_states.len(), 2, "sud sees its two records");
    assert!(
        sud_states.iter().all(|s| s["fields"].get("name") != Some(&json!([{"dot": [marie.device(), 1], "at": "2026-11-02T10:14:00Z", "value": "nord"}]))),
        "nothing of nord reaches sud"
    );

    // A device of sud cannot bring dots of nord's devices into sud.
    let copy = state(&new_id(), "person", marie.device(), 1, json!({"x": 1}));
    paul.push(&[copy]).await.expect_error(422, "forged_dot");

    // Replicas: each organisation sees its own devices only.
    let nord_replicas = claire.replicas().await;
    let replicas = nord_replicas.expect_ok().as_object().unwrap();
    assert!(replicas.contains_key(marie.device()) && replicas.contains_key(claire.device()));
    assert!(
        !replicas.contains_key(paul.device()),
        "no device of sud in nord's list"
    );
    assert_eq!(
        replicas[marie.device()],
        json!({"device_name": "Portable", "user": "marie"})
    );

    // Erasure by nord's coordinator of the id sud holds too touches only nord's record.
    claire.erase(&id).await.expect_ok();
    let (sud_after, _) = paul.pull_all(0, 500).await;
    assert!(
        sud_after.iter().all(|s| s.get("erased").is_none()),
        "sud's record with the same id is not erased: {sud_after:?}"
    );
    let other = new_id();
    paul.push(&[state(&other, "person", paul.device(), 3, json!({"x": 1}))])
        .await
        .expect_ok();
    claire.erase(&other).await.expect_error(404, "not_found");
}
