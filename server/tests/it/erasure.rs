//! Erasure (§5): `POST /v1/erase` for coordinators, and `record erase` on the command line.

use serde_json::json;

use crate::harness::{Backend, Setup, new_id, state};
use crate::on_both_backends;

on_both_backends!(
    a_coordinator_erases_and_every_device_pulls_the_erased_state,
    record_erase_on_the_command_line_is_the_same_erasure,
);

async fn a_coordinator_erases_and_every_device_pulls_the_erased_state(backend: Backend) {
    let setup = Setup::new(backend);
    let marie = setup.client().enrolled("marie").await;
    let claire = setup.client().enrolled("claire").await;
    let id = new_id();
    let person = state(
        &id,
        "person",
        marie.device(),
        1,
        json!({"given_names": "Ion"}),
    );
    marie.push(&[person]).await.expect_ok();

    marie.erase(&id).await.expect_error(403, "forbidden");
    claire.erase(&new_id()).await.expect_error(404, "not_found");
    let erased = claire.erase(&id).await;
    assert_eq!(erased.expect_ok(), &json!({"server_seq": 2}));

    let expected = json!({"id": id, "kind": "person", "vv": {marie.device(): 1}, "erased": true, "fields": {}});
    let (states, next) = marie.pull_all(1, 500).await;
    assert_eq!(states, vec![expected.clone()], "the erased state of §5");
    assert_eq!(next, 2);

    // A device that had not pulled yet pushes an edit: the record stays erased.
    let mut late = state(
        &id,
        "person",
        marie.device(),
        2,
        json!({"given_names": "Ioan"}),
    );
    late["vv"][marie.device()] = json!(2);
    let answer = marie.push(&[late]).await;
    answer.expect_ok();
    let (states, _) = claire.pull_all(0, 500).await;
    assert_eq!(states.len(), 1);
    assert_eq!(
        states[0]["erased"],
        json!(true),
        "merging with an erased record stays erased"
    );
    assert_eq!(states[0]["fields"], json!({}), "no content comes back");

    // Erasing again changes nothing.
    let seq = states_seq(&claire).await;
    let again = claire.erase(&id).await;
    assert_eq!(again.expect_ok()["server_seq"], json!(seq));
}

async fn states_seq(client: &crate::harness::Client) -> u64 {
    client.pull_all(0, 1000).await.1
}

async fn record_erase_on_the_command_line_is_the_same_erasure(backend: Backend) {
    let setup = Setup::new(backend);
    let marie = setup.client().enrolled("marie").await;
    let id = new_id();
    marie
        .push(&[state(&id, "person", marie.device(), 1, json!({"x": "y"}))])
        .await
        .expect_ok();
    let out = setup
        .db
        .cli_ok(&["record", "erase", "--org", "nord", &id], "");
    assert_eq!(
        out.trim(),
        r#"{"server_seq":2}"#,
        "the command prints the new sequence"
    );
    let (states, _) = marie.pull_all(0, 500).await;
    assert_eq!(
        states,
        vec![
            json!({"id": id, "kind": "person", "vv": {marie.device(): 1}, "erased": true, "fields": {}})
        ]
    );
    let wrong_org = setup.db.cli(&["record", "erase", "--org", "sud", &id], "");
    assert!(!wrong_org.status.success(), "sud has no such record");
    let no_org = setup
        .db
        .cli(&["record", "erase", "--org", "nowhere", &id], "");
    assert!(!no_org.status.success(), "no such organisation");
}
