//! `GET /v1/health` and `POST /v1/devices`.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::{Backend, Client, PASSWORD, Server, Setup, UNKNOWN_CODE};
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
    an_enrolment_code_serves_one_enrolment,
    an_expired_code_is_refused,
    a_code_serves_only_its_own_user,
    a_missing_or_malformed_code_is_a_bad_request,
    failures_are_shared_by_every_server_process,
    x_forwarded_for_counts_only_from_a_trusted_proxy,
    failures_are_logged_without_personal_data,
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
    let other_address = setup.server.client_from(Some(elsewhere()));
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

/// A thousand failed enrolments from one address (unknown usernames, so that each
/// username's own limit never applies), eight at a time: past the address's burst they
/// are refused (429) before any password is checked, however many run at once; another
/// user from another address still enrols.
async fn failed_enrolments_are_limited_per_client_address(backend: Backend) {
    let setup = Setup::new(backend);
    let client = setup.client();
    let started = Instant::now();
    let mut statuses = Vec::new();
    for batch in 0..125 {
        let answers = (0..8).map(|i| {
            let client = client.clone();
            async move {
                client
                    .enrol_with_code(&format!("nobody{batch}-{i}"), "guess", UNKNOWN_CODE, None)
                    .await
            }
        });
        for answer in futures_join_all(answers).await {
            match answer.status.as_u16() {
                401 => answer.expect_error(401, "unauthorized"),
                _ => {
                    answer.expect_error(429, "slow_down");
                    assert!(answer.headers.contains_key("retry-after"), "{answer:?}");
                }
            }
            statuses.push(answer.status.as_u16());
        }
    }
    let elapsed = started.elapsed();
    let failed = statuses.iter().filter(|s| **s == 401).count();
    // 50 at once, then one every 5 s while the test runs.
    let allowed = 50 + (elapsed.as_secs_f64() / 5.0).ceil() as usize;
    assert!(
        (10..=allowed).contains(&failed),
        "{failed} of 1000 failures were checked; at most {allowed} may be in {elapsed:?}"
    );
    assert_eq!(statuses.last(), Some(&429), "the thousandth is refused");
    assert!(
        elapsed < Duration::from_secs(60),
        "refusals cost no password check: {elapsed:?}"
    );
    // Right credentials from that address wait too; another address enrols.
    client
        .enrol("paul", PASSWORD, None)
        .await
        .expect_error(429, "slow_down");
    let other = setup.server.client_from(Some(elsewhere()));
    let answer = other.enrol("paul", PASSWORD, None).await;
    assert_eq!(
        answer.status,
        StatusCode::CREATED,
        "another user from another address is not slowed: {answer:?}"
    );
}

/// Runs the futures at once; answers their outputs in order.
async fn futures_join_all<F: std::future::Future + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

async fn an_enrolment_code_serves_one_enrolment(backend: Backend) {
    let setup = Setup::new(backend);
    let client = setup.client();
    let code = setup.db.invite("nord", "marie", "24h");
    // Typed loosely: lower case, spaces for hyphens.
    let typed = code.to_lowercase().replace('-', " ");
    let first = client
        .enrol_with_code("marie", PASSWORD, &typed, None)
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{first:?}");
    let device = first.body["device_id"].as_str().unwrap();
    let again = client.enrol_with_code("marie", PASSWORD, &code, None).await;
    again.expect_error(401, "unauthorized");
    let wrong_password = client.enrol_with_code("marie", "guess", &code, None).await;
    assert_eq!(
        again.body, wrong_password.body,
        "a used code and a wrong password are one answer"
    );
    client
        .enrol_with_code("marie", PASSWORD, &code, Some(device))
        .await
        .expect_error(401, "unauthorized");
    let renewed = client.enrol("marie", PASSWORD, Some(device)).await;
    assert_eq!(
        renewed.status,
        StatusCode::CREATED,
        "the same device enrols again with a new code: {renewed:?}"
    );
    // A wrong password keeps the code: it still serves.
    let kept = setup.db.invite("nord", "claire", "24h");
    client
        .enrol_with_code("claire", "guess", &kept, None)
        .await
        .expect_error(401, "unauthorized");
    let answer = client
        .enrol_with_code("claire", PASSWORD, &kept, None)
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{answer:?}");
    // Two enrolments at once with one code: one device.
    let code = setup.db.invite("nord", "marie", "24h");
    let tries = (0..4).map(|_| {
        let (client, code) = (client.clone(), code.clone());
        async move { client.enrol_with_code("marie", PASSWORD, &code, None).await }
    });
    let statuses: Vec<u16> = futures_join_all(tries)
        .await
        .iter()
        .map(|a| a.status.as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "one enrolment per code: {statuses:?}"
    );
}

async fn an_expired_code_is_refused(backend: Backend) {
    let setup = Setup::new(backend);
    let code = setup.db.invite("nord", "marie", "1s");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    setup
        .client()
        .enrol_with_code("marie", PASSWORD, &code, None)
        .await
        .expect_error(401, "unauthorized");
}

async fn a_code_serves_only_its_own_user(backend: Backend) {
    let setup = Setup::new(backend);
    let client = setup.client();
    let maries = setup.db.invite("nord", "marie", "24h");
    client
        .enrol_with_code("claire", PASSWORD, &maries, None)
        .await
        .expect_error(401, "unauthorized");
    client
        .enrol_with_code("paul", PASSWORD, &maries, None)
        .await
        .expect_error(401, "unauthorized");
    // Neither spent it.
    let answer = client
        .enrol_with_code("marie", PASSWORD, &maries, None)
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{answer:?}");
    // A coordinator of another organisation cannot invite marie.
    let other_org = setup.db.cli(
        &["device", "invite", "--org", "sud", "--username", "marie"],
        "",
    );
    assert!(!other_org.status.success());
    assert!(other_org.stdout.is_empty(), "no code printed");
    assert!(
        String::from_utf8_lossy(&other_org.stderr).contains("not of the organisation"),
        "{other_org:?}"
    );
}

async fn a_missing_or_malformed_code_is_a_bad_request(backend: Backend) {
    let setup = Setup::new(backend);
    let client = setup.client();
    let send = |body: serde_json::Value| {
        let client = client.clone();
        async move { Client::send(client.request(Method::POST, "/v1/devices").json(&body)).await }
    };
    let missing =
        send(json!({"username": "marie", "password": PASSWORD, "device_name": "P"})).await;
    missing.expect_error(400, "bad_request");
    assert!(
        missing.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("enrolment code is needed"),
        "{missing:?}"
    );
    let blank = client.enrol_with_code("marie", PASSWORD, "  ", None).await;
    assert_eq!(blank.body, missing.body, "blank is missing");
    for malformed in ["ABCD", "ABCD-EFGH-JKMN-PQRU", "ABCD-EFGH-JKMN-PQRS-TVWX"] {
        let answer = client
            .enrol_with_code("marie", PASSWORD, malformed, None)
            .await;
        answer.expect_error(400, "bad_request");
        assert!(
            answer.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("16 letters and digits"),
            "{answer:?}"
        );
    }
    // None of these counted: marie's ten failures are still there to use.
    for _ in 0..10 {
        client
            .enrol_with_code("marie", "guess", UNKNOWN_CODE, None)
            .await
            .expect_error(401, "unauthorized");
    }
    // A wrong code counts like a wrong password.
    setup
        .client()
        .enrol("marie", PASSWORD, None)
        .await
        .expect_error(429, "slow_down");
    let setup = Setup::new(backend);
    let client = setup.client();
    for _ in 0..10 {
        client
            .enrol_with_code("marie", PASSWORD, UNKNOWN_CODE, None)
            .await
            .expect_error(401, "unauthorized");
    }
    client
        .enrol("marie", PASSWORD, None)
        .await
        .expect_error(429, "slow_down");
}

/// Two server processes on one database share the counts of failures.
async fn failures_are_shared_by_every_server_process(backend: Backend) {
    let setup = Setup::new(backend);
    let second = Server::start(&setup.db, &[]);
    let (one, two) = (setup.client(), second.client());
    for i in 0..10 {
        let client = if i % 2 == 0 { &one } else { &two };
        client
            .enrol_with_code("marie", "guess", UNKNOWN_CODE, None)
            .await
            .expect_error(401, "unauthorized");
    }
    one.enrol("marie", PASSWORD, None)
        .await
        .expect_error(429, "slow_down");
    two.enrol("marie", PASSWORD, None)
        .await
        .expect_error(429, "slow_down");
    // A restarted process remembers them too.
    drop(second);
    let third = Server::start(&setup.db, &[]);
    third
        .client()
        .enrol("marie", PASSWORD, None)
        .await
        .expect_error(429, "slow_down");
    let answer = third.client().enrol("claire", PASSWORD, None).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{answer:?}");
}

/// Behind a trusted proxy (127.0.0.1 here), `X-Forwarded-For` names the client; from any
/// other peer (127.0.0.2), a forged header changes nothing.
async fn x_forwarded_for_counts_only_from_a_trusted_proxy(backend: Backend) {
    let setup = Setup::with_args(backend, &["--trusted-proxy", "127.0.0.1"]);
    let proxy = setup.client();
    let fail = |client: &Client, forwarded: String, n: usize| {
        let client = client.clone();
        async move {
            let request = client
                .request(Method::POST, "/v1/devices")
                .header("X-Forwarded-For", forwarded)
                .json(&json!({
                    "username": format!("nobody{n}"),
                    "password": "guess",
                    "enrolment_code": UNKNOWN_CODE,
                    "device_name": "P",
                }));
            Client::send(request).await
        }
    };
    // 50 failures of one client behind the proxy empty its bucket, not the proxy's. (On a
    // loaded machine the 50 may take more than the 5 s that give the bucket one more
    // token back: each such token is one more failure before the refusal.)
    let started = std::time::Instant::now();
    for n in 0..50 {
        fail(&proxy, "198.51.100.7".into(), n)
            .await
            .expect_error(401, "unauthorized");
    }
    let refilled = usize::try_from(started.elapsed().as_secs() / 5).unwrap_or(usize::MAX);
    for n in 0..refilled.min(20) {
        let answer = fail(&proxy, "203.0.113.1, 198.51.100.7".into(), 300 + n).await;
        if answer.status.as_u16() == 429 {
            break;
        }
        answer.expect_error(401, "unauthorized");
    }
    fail(&proxy, "203.0.113.1, 198.51.100.7".into(), 50)
        .await
        .expect_error(429, "slow_down");
    fail(&proxy, "198.51.100.8".into(), 51)
        .await
        .expect_error(401, "unauthorized");
    let answer = proxy.enrol("marie", PASSWORD, None).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{answer:?}");
    // An untrusted peer naming a new address each time is still one address.
    let direct = setup.server.client_from(Some(elsewhere()));
    let started = std::time::Instant::now();
    for n in 0..50 {
        fail(&direct, format!("192.0.2.{n}"), 100 + n)
            .await
            .expect_error(401, "unauthorized");
    }
    let refilled = usize::try_from(started.elapsed().as_secs() / 5).unwrap_or(usize::MAX);
    for n in 0..refilled.min(20) {
        let answer = fail(&direct, format!("192.0.2.{}", 150 + n), 400 + n).await;
        if answer.status.as_u16() == 429 {
            break;
        }
        answer.expect_error(401, "unauthorized");
    }
    fail(&direct, "192.0.2.200".into(), 200)
        .await
        .expect_error(429, "slow_down");
    // And the proxy naming that peer's address finds its bucket empty.
    fail(&proxy, elsewhere().to_string(), 201)
        .await
        .expect_error(429, "slow_down");
}

/// Each failure is logged at warn with its category and short keyed hashes of the
/// username and the address, never either in clear.
async fn failures_are_logged_without_personal_data(backend: Backend) {
    let mut setup = Setup::new(backend);
    let client = setup.client();
    client
        .enrol("marie", "guess", None)
        .await
        .expect_error(401, "unauthorized");
    client
        .enrol_with_code("marie", PASSWORD, UNKNOWN_CODE, None)
        .await
        .expect_error(401, "unauthorized");
    client
        .enrol_with_code("someone-unknown", "guess", UNKNOWN_CODE, None)
        .await
        .expect_error(401, "unauthorized");
    setup.server.stop();
    let log = std::fs::read_to_string(&setup.server.log).unwrap();
    let failures: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("enrolment failed"))
        .collect();
    assert_eq!(failures.len(), 3, "{log}");
    for (line, reason) in failures
        .iter()
        .zip(["wrong_password", "wrong_code", "unknown_username"])
    {
        assert!(line.contains("WARN"), "{line}");
        assert!(line.contains("category=\"wrong_credentials\""), "{line}");
        assert!(line.contains(reason), "{line}");
        assert!(
            line.contains("user=") && line.contains("address="),
            "{line}"
        );
        for secret in ["marie", "someone-unknown", "127.0.0.1", PASSWORD, "guess"] {
            assert!(!line.contains(secret), "{secret:?} in {line}");
        }
    }
    let user_hash = |line: &str| {
        line.split("user=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        user_hash(failures[0]),
        user_hash(failures[1]),
        "one username, one hash: an operator can correlate"
    );
    assert_ne!(user_hash(failures[0]), user_hash(failures[2]));
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
