//! The journal (§6a) as an older server wrote it: an erasure of the old shape,
//! `{"entry":"erased","org":N,"state":{…}}`, is replayed at start as the new ones are.

use std::io::Write;

use serde_json::json;
use sync_protocol::RecordState;

use crate::harness::{Server, Setup, new_id, state};
use crate::on_both_backends;

on_both_backends!(an_erasure_of_the_old_shape_is_replayed_by_the_mac_of_its_id);

async fn an_erasure_of_the_old_shape_is_replayed_by_the_mac_of_its_id(
    backend: crate::harness::Backend,
) {
    let mut setup = Setup::new(backend);
    let marie = setup.client().enrolled("marie").await;
    let claire = setup.client().enrolled("claire").await;
    let (p, q) = (new_id(), new_id());
    let person = |id: &str| {
        state(
            id,
            "person",
            marie.device(),
            1,
            json!({"family_name": "Ion"}),
        )
    };
    marie.push(&[person(&p), person(&q)]).await.expect_ok();
    setup.server.stop();

    // An older server erased P (the database was restored since, and holds P again) and
    // wrote the erased state itself; "nord" is the organisation of row id 1.
    let erased = RecordState::from_value(&person(&p)).unwrap().erase();
    let old = json!({"at": "2026-11-30T10:00:00Z", "entry": "erased", "org": 1,
                     "state": serde_json::from_str::<serde_json::Value>(&erased.to_json()).unwrap()});
    let mut journal = std::fs::OpenOptions::new()
        .append(true)
        .open(setup.db.journal())
        .unwrap();
    writeln!(journal, "{old}").unwrap();
    drop(journal);

    let server = Server::start(&setup.db, &[]);
    let (marie, claire) = (marie.on(&server), claire.on(&server));
    let (states, _) = claire.pull_all(0, 1000).await;
    let pulled = |id: &str| {
        states
            .iter()
            .rev()
            .find(|s| s["id"] == json!(id))
            .unwrap_or_else(|| panic!("{id} is pulled: {states:?}"))
            .clone()
    };
    assert_eq!(
        (&pulled(&p)["erased"], &pulled(&p)["fields"]),
        (&json!(true), &json!({})),
        "the old line erased P at start"
    );
    assert_eq!(
        pulled(&q)["fields"]["family_name"][0]["value"],
        json!("Ion")
    );

    // Its mac is in `erased`: a new record about P is erased on arrival.
    let step = state(
        &new_id(),
        "step",
        marie.device(),
        1,
        json!({"person_id": p}),
    );
    let answer = marie.push(&[step]).await;
    assert_eq!(
        answer.expect_ok()["results"][0]["status"],
        json!("merged"),
        "absorbed (merged with an erased copy), not created: {answer:?}"
    );
    let log = std::fs::read_to_string(&server.log).unwrap();
    assert!(
        !log.contains("could not be read"),
        "the old line is read, not skipped as a cut line: {log}"
    );
}
