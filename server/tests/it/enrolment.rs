//! `GET /v1/health` and `POST /v1/devices`.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::{Backend, Client, PASSWORD, Setup};
use crate::on_both_backends;

on_both_backends!(
    health_names_the_server_created_at_init,
    enrolment_answers_a_token_that_authenticates,
    enrolment_refusals_follow_the_status_table,
    re_enrolment_replaces_the_token,
    password_guessing_is_slowed_down,
    failed_enrolments_are_limited_per_client_address,
    a_long_username_is_refused_at_once_and_costs_no_memory,
    enrolment_refusals_come_in_the_order_of_section_6,
    errors_are_json_on_every_path,
);

/// Another client address on loopback: the whole of 127.0.0.0/8 is this machine.
fn elsewhere() -> IpAddr {
    IpAddr::from([127, 0, 0, 2])
}

async fn password_guessing_is_slowed_down(backend: Backend) {
    let setup = Setup::new(backend);
    let client = setup.client();
    for i in 0..10 {
        let answer = client.enrol("marie", "guess", None).await;
        assert_eq!(
            answer.status.as_u16(),
            401,
            "attempt {i} is checked: {answer:?}"
        );
    }
    let answer = client.enrol("marie", PASSWORD, None).await;
    answer.expect_error(429, "slow_down");
    assert!(answer.headers.contains_key("retry-after"), "{answer:?}");
    // The username's limit holds from every address: a guesser cannot just move.
    let other_address = Client::from_address(&setup.server.base, Some(elsewhere()));
    other_address
        .enrol("marie", PASSWORD, None)
        .await
        .expect_error(429, "slow_down");
    let other = client.enrol("claire", PASSWORD, None).await;
    assert_eq!(
        other.status,
        StatusCode::CREATED,
        "another username is not slowed: {other:?}"
    );
    // Successes do not count: claire enrols again and again.
    for _ in 0..12 {
        assert_eq!(client.enrol("claire", PASSWORD, None).await.status, 201);
    }
}

async fn failed_enrolments_are_limited_per_client_address(backend: Backend) {
    let setup = Setup::new(backend);
    let client = setup.client();
    // A new username each time: the username's own limit never applies.
    let mut limited = None;
    for i in 0..1000 {
        let answer = client.enrol(&format!("nobody{i}"), "guess", None).await;
        if answer.status.as_u16() == 429 {
            limited = Some((i, answer));
            break;
        }
        answer.expect_error(401, "unauthorized");
    }
    let (i, answer) = limited.expect("expected 429 within 1000 failed enrolments from one address");
    assert!(i >= 10, "a few failures pass (refused at {i})");
    answer.expect_error(429, "slow_down");
    assert!(answer.headers.contains_key("retry-after"), "{answer:?}");
    // Right credentials from that address wait too; another address enrols.
    client
        .enrol("marie", PASSWORD, None)
        .await
        .expect_error(429, "slow_down");
    let other = Client::from_address(&setup.server.base, Some(elsewhere()));
    let answer = other.enrol("marie", PASSWORD, None).await;
    assert_eq!(
        answer.status,
        StatusCode::CREATED,
        "another address is not slowed: {answer:?}"
    );
}

async fn a_long_username_is_refused_at_once_and_costs_no_memory(backend: Backend) {
    let setup = Setup::new(backend);
    let client = setup.client();
    let long = "m".repeat(4 * 1024 * 1024);
    let send = || async {
        let started = Instant::now();
        let answer = client.enrol(&long, PASSWORD, None).await;
        answer.expect_error(400, "bad_request");
        assert!(
            answer.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("64"),
            "the message says the limit: {answer:?}"
        );
        started.elapsed()
    };
    for _ in 0..5 {
        send().await;
    }
    // The allocator may keep a few freed 4 MiB buffers per thread; a leak (usernames kept
    // in the limiter) grows with every request instead: 40 of them would add 160 MiB, and
    // 40 more as much again.
    let before = setup.server.rss_kib();
    let mut slowest = Duration::ZERO;
    for _ in 0..40 {
        slowest = slowest.max(send().await);
    }
    let middle = setup.server.rss_kib();
    for _ in 0..40 {
        slowest = slowest.max(send().await);
    }
    let after = setup.server.rss_kib();
    assert!(
        slowest < Duration::from_secs(2),
        "a long username is refused at once (slowest {slowest:?})"
    );
    assert!(
        middle < before + 64 * 1024 && after < middle + 16 * 1024,
        "the server's memory does not grow with long usernames: {before} KiB, then {middle} KiB, then {after} KiB"
    );
    // Neither limit was charged: 65 characters are refused, 64 go on to the password.
    client
        .enrol(&"m".repeat(65), PASSWORD, None)
        .await
        .expect_error(400, "bad_request");
    client
        .enrol(&"é".repeat(64), PASSWORD, None)
        .await
        .expect_error(401, "unauthorized");
    assert_eq!(client.enrol("marie", PASSWORD, None).await.status, 201);
}

async fn enrolment_refusals_come_in_the_order_of_section_6(backend: Backend) {
    let setup = Setup::new(backend);
    let client = setup.client();
    let url = format!("{}/v1/devices", client.base);
    // 400 for a missing header, before 426 and before the body is looked at.
    let answer = Client::send(client.http.post(&url).body("not json")).await;
    answer.expect_error(400, "bad_request");
    assert!(
        answer.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Sync-Protocol"),
        "{answer:?}"
    );
    // 426 before a body of the wrong shape.
    Client::send(
        client
            .http
            .post(&url)
            .header("Sync-Protocol", "2")
            .body("not json"),
    )
    .await
    .expect_error(426, "unsupported_protocol");
    // 413 before 400.
    let huge = json!({"username": "m".repeat(9 * 1024 * 1024)}).to_string();
    Client::send(client.request(Method::POST, "/v1/devices").body(huge))
        .await
        .expect_error(413, "too_large");
    // With marie's username limited: 400 (shape, long username) before 429, 429 before
    // 401.
    for _ in 0..10 {
        client.enrol("marie", "guess", None).await;
    }
    Client::send(
        client
            .request(Method::POST, "/v1/devices")
            .json(&json!({"username": "marie"})),
    )
    .await
    .expect_error(400, "bad_request");
    client
        .enrol("marie", "guess", None)
        .await
        .expect_error(429, "slow_down");
}

async fn errors_are_json_on_every_path(backend: Backend) {
    let setup = Setup::new(backend);
    let client = setup.client().enrolled("marie").await;
    Client::send(client.request(Method::GET, "/v1/nothing"))
        .await
        .expect_error(404, "not_found");
    Client::send(client.request(Method::GET, "/v1/push"))
        .await
        .expect_error(400, "bad_request");
    Client::send(client.request_with_protocol(Method::GET, "/v1/pull", None))
        .await
        .expect_error(400, "bad_request");
    Client::send(client.request_with_protocol(Method::GET, "/v1/replicas", Some("7")))
        .await
        .expect_error(426, "unsupported_protocol");
    setup
        .client()
        .replicas()
        .await
        .expect_error(401, "unauthorized");
}

async fn health_names_the_server_created_at_init(backend: Backend) {
    let setup = Setup::new(backend);
    let server_id = setup.db.cli_ok(&["init"], "");
    let health = setup.client().health().await;
    let epoch = health.body["epoch"].as_str().unwrap_or_default().to_owned();
    assert!(
        epoch.parse::<sync_protocol::Epoch>().is_ok(),
        "health names the database's epoch: {health:?}"
    );
    assert_eq!(
        health.body,
        json!({"status": "ok", "protocol": 1, "server_id": server_id.trim(), "epoch": epoch}),
        "expected health to name the server id that init printed"
    );
}

async fn enrolment_answers_a_token_that_authenticates(backend: Backend) {
    let setup = Setup::new(backend);
    let client = setup.client();
    let device_id = "0190b6a0-0000-7000-8000-000000000001";
    let answer = client.enrol("marie", PASSWORD, Some(device_id)).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{answer:?}");
    assert_eq!(
        answer.body["device_id"],
        json!(device_id),
        "the device keeps its id"
    );
    assert_eq!(answer.body["org"], json!("nord"));
    let token = answer.body["token"].as_str().unwrap();
    assert_eq!(token.len(), 64, "a token of 256 bits in hex");
    let health = client.health().await;
    assert_eq!(answer.body["server_id"], health.body["server_id"]);

    let made = client.enrol("marie", PASSWORD, None).await;
    assert_eq!(made.status, StatusCode::CREATED, "{made:?}");
    let made_id = made.body["device_id"].as_str().unwrap();
    assert!(
        made_id.parse::<sync_protocol::ReplicaId>().is_ok() && made_id != device_id,
        "without device_id the server makes a new lowercase UUID: {made_id}"
    );
    assert_ne!(made.body["token"], answer.body["token"], "tokens differ");

    let device = Client {
        token: Some(token.to_owned()),
        ..client.clone()
    };
    device.pull(0, None).await.expect_ok();
}

async fn enrolment_refusals_follow_the_status_table(backend: Backend) {
    let setup = Setup::new(backend);
    let client = setup.client();
    client
        .enrol("marie", "not the password", None)
        .await
        .expect_error(401, "unauthorized");
    client
        .enrol("nobody", PASSWORD, None)
        .await
        .expect_error(401, "unauthorized");

    let id = "0190b6a0-0000-7000-8000-0000000000aa";
    let first = client.enrol("marie", PASSWORD, Some(id)).await;
    assert_eq!(first.status, StatusCode::CREATED, "{first:?}");
    client
        .enrol("claire", PASSWORD, Some(id))
        .await
        .expect_error(409, "device_id_taken");
    client
        .enrol("paul", PASSWORD, Some(id))
        .await
        .expect_error(409, "device_id_taken");
    let server_id = client.health().await.body["server_id"]
        .as_str()
        .unwrap()
        .to_owned();
    client
        .enrol("marie", PASSWORD, Some(&server_id))
        .await
        .expect_error(409, "device_id_taken");

    let body = json!({"username": "marie", "password": PASSWORD, "device_name": "P"});
    let no_header = client
        .http
        .post(format!("{}/v1/devices", client.base))
        .json(&body);
    Client::send(no_header)
        .await
        .expect_error(400, "bad_request");
    let other_version = client
        .http
        .post(format!("{}/v1/devices", client.base))
        .header("Sync-Protocol", "2")
        .json(&body);
    let answer = Client::send(other_version).await;
    answer.expect_error(426, "unsupported_protocol");
    assert!(
        answer.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains('1'),
        "the 426 message lists the versions spoken: {answer:?}"
    );
    for bad in [
        json!({"username": "marie"}),
        json!({"username": "marie", "password": PASSWORD, "device_name": "P", "device_id": "NOT-A-UUID"}),
        json!({"username": "marie", "password": PASSWORD, "device_name": "P", "extra": 1}),
        json!({"username": "marie", "password": PASSWORD, "device_name": ""}),
    ] {
        Client::send(client.request(Method::POST, "/v1/devices").json(&bad))
            .await
            .expect_error(400, "bad_request");
    }
}

async fn re_enrolment_replaces_the_token(backend: Backend) {
    let setup = Setup::new(backend);
    let first = setup.client().enrolled("marie").await;
    let again = setup
        .client()
        .enrol("marie", PASSWORD, Some(first.device()))
        .await;
    assert_eq!(
        again.status,
        StatusCode::CREATED,
        "same user, same id: {again:?}"
    );
    assert_eq!(again.body["device_id"].as_str(), Some(first.device()));
    first.pull(0, None).await.expect_error(401, "unauthorized");
    let second = Client {
        token: again.body["token"].as_str().map(str::to_owned),
        ..first.clone()
    };
    second.pull(0, None).await.expect_ok();
}
