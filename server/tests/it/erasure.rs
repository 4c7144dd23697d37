//! Erasure (§5): `POST /v1/erase` for coordinators, and `record erase` on the command line.

use serde_json::json;

use crate::harness::{Backend, Client, Server, Setup, new_id, state};
use crate::on_both_backends;

on_both_backends!(
    a_coordinator_erases_and_every_device_pulls_the_erased_state,
    record_erase_on_the_command_line_is_the_same_erasure,
    erasures_over_http_are_capped_at_20_an_hour,
);

/// A coordinator's token, stolen, cannot empty the organisation: 20 erasures an hour over
/// HTTP, counted in the database (a second server process shares the count); the
/// command line is not capped.
async fn erasures_over_http_are_capped_at_20_an_hour(backend: Backend) {
    let setup = Setup::new(backend);
    let marie = setup.client().enrolled("marie").await;
    let claire = setup.client().enrolled("claire").await;
    let ids: Vec<String> = (0..23).map(|_| new_id()).collect();
    let states: Vec<_> = ids
        .iter()
        .map(|id| state(id, "person", marie.device(), 1, json!({"x_n": "1"})))
        .collect();
    marie.push(&states).await.expect_ok();
    // Erasing nothing, or what is erased already, counts for nothing.
    claire.erase(&new_id()).await.expect_error(404, "not_found");
    for id in &ids[..20] {
        claire.erase(id).await.expect_ok();
    }
    claire.erase(&ids[0]).await.expect_error(429, "slow_down");
    let refused = claire.erase(&ids[20]).await;
    refused.expect_error(429, "slow_down");
    assert!(refused.headers.contains_key("retry-after"), "{refused:?}");
    // Another server process on the same database refuses as well.
    let second = Server::start(&setup.db, &[]);
    let other = Client {
        base: second.base.clone(),
        ..claire.clone()
    };
    other.erase(&ids[21]).await.expect_error(429, "slow_down");
    // The command line is not capped.
    setup
        .db
        .cli_ok(&["record", "erase", "--org", "nord", &ids[22]], "");
    let (states, _) = claire.pull_all(0, 1000).await;
    let erased = states.iter().filter(|s| s["erased"] == json!(true)).count();
    assert_eq!(erased, 21, "20 over HTTP and one from the command line");
}

/// SQLite: the database and its WAL are the owner's alone, and after an erasure no byte of
/// the erased content is left in them (secure_delete, then the WAL emptied).
#[tokio::test]
async fn the_sqlite_files_are_private_and_keep_nothing_erased() {
    use std::os::unix::fs::PermissionsExt;
    let setup = Setup::new(Backend::Sqlite);
    let marie = setup.client().enrolled("marie").await;
    let claire = setup.client().enrolled("claire").await;
    let id = new_id();
    let secret = "Zqxwvy Secretname 1-84-07-59-123-456";
    for n in 1..=3 {
        let person = state(
            &id,
            "person",
            marie.device(),
            n,
            json!({"notes": format!("{secret} {n}")}),
        );
        marie.push(&[person]).await.expect_ok();
    }
    let dir = setup.db.dir.path();
    let files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("server.db")
        })
        .collect();
    assert!(files.len() >= 2, "the database and its WAL: {files:?}");
    for file in &files {
        let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
        assert!(
            mode == 0o600,
            "{} must be the owner's alone (0600), found {mode:o}",
            file.display()
        );
    }
    let holds = |needle: &str| {
        files.iter().any(|f| {
            std::fs::read(f)
                .map(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
                .unwrap_or(false)
        })
    };
    assert!(
        holds(secret),
        "the test must see the content before the erasure"
    );
    claire.erase(&id).await.expect_ok();
    assert!(
        !holds("Zqxwvy"),
        "no byte of the erased content may stay in the files"
    );
}

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
    let (states, next) = marie.pull_all(0, 500).await;
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
