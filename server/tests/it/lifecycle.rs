//! The life of the process and of devices: revocation, crashes, shutdown, rate limit,
//! HTTPS and where plain HTTP is allowed.

use std::io::{Read, Write};
use std::time::Duration;

use serde_json::json;

use crate::harness::{Backend, Client, Database, PASSWORD, Server, Setup, new_id, state};
use crate::on_both_backends;

on_both_backends!(
    a_revoked_device_is_refused_at_its_next_request,
    a_disabled_user_is_refused_until_enabled_again,
    an_acknowledged_push_survives_kill_9,
    sigterm_finishes_the_request_in_flight,
    a_device_past_its_rate_is_told_to_slow_down,
    https_serves_with_the_given_certificate,
    logs_hold_ids_and_counts_never_personal_data,
);

async fn logs_hold_ids_and_counts_never_personal_data(backend: Backend) {
    let setup = Setup::new(backend);
    let marie = setup.client().enrolled("marie").await;
    let id = new_id();
    let person = state(
        &id,
        "person",
        marie.device(),
        1,
        json!({"given_names": "Ștefan Rostas"}),
    );
    marie.push(&[person]).await.expect_ok();
    marie.pull(0, None).await.expect_ok();
    setup
        .client()
        .enrol("marie", "a wrong password", None)
        .await
        .expect_error(401, "unauthorized");
    setup.server.terminate();
    let log = std::fs::read_to_string(&setup.server.log).unwrap();
    assert!(
        log.contains(&id) || log.contains("records=1"),
        "the log has ids and counts: {log}"
    );
    assert!(
        log.contains(marie.device()),
        "the log names the device: {log}"
    );
    for secret in [
        "Ștefan",
        "Rostas",
        "marie",
        "Portable",
        crate::harness::PASSWORD,
        "a wrong password",
        marie.token.as_deref().unwrap(),
    ] {
        assert!(
            !log.contains(secret),
            "the log must not contain {secret:?}: {log}"
        );
    }
}

async fn a_disabled_user_is_refused_until_enabled_again(backend: Backend) {
    let setup = Setup::new(backend);
    let marie = setup.client().enrolled("marie").await;
    let claire = setup.client().enrolled("claire").await;
    let id = new_id();
    marie
        .push(&[state(&id, "person", marie.device(), 1, json!({"x_a": "1"}))])
        .await
        .expect_ok();

    setup
        .db
        .cli_ok(&["user", "disable", "--username", "marie"], "");
    // Her devices are told so (they lock and keep their data), on every call.
    marie.pull(0, None).await.expect_error(401, "user_disabled");
    marie
        .push(&[state(
            &new_id(),
            "person",
            marie.device(),
            1,
            json!({"x_a": "2"}),
        )])
        .await
        .expect_error(401, "user_disabled");
    Client::send(marie.request(reqwest::Method::GET, "/v1/replicas"))
        .await
        .expect_error(401, "user_disabled");
    // She cannot enrol a new device; a wrong password still learns nothing.
    let again = setup.client();
    again
        .enrol("marie", PASSWORD, None)
        .await
        .expect_error(401, "user_disabled");
    again
        .enrol("marie", "not her password", None)
        .await
        .expect_error(401, "unauthorized");
    // Another user of the organisation is not affected.
    claire.pull(0, None).await.expect_ok();

    setup
        .db
        .cli_ok(&["user", "enable", "--username", "marie"], "");
    marie.pull(0, None).await.expect_ok();
    marie
        .push(&[state(&id, "person", marie.device(), 2, json!({"x_a": "3"}))])
        .await
        .expect_ok();
    assert_eq!(
        again.enrol("marie", PASSWORD, None).await.status.as_u16(),
        201,
        "once enabled, she enrols again"
    );
    // Unknown users are refused by the command line.
    let out = setup
        .db
        .cli(&["user", "disable", "--username", "personne"], "");
    assert!(!out.status.success(), "disabling no one must fail");
    // A revoked device of a disabled user hears that it is revoked: that decides.
    setup
        .db
        .cli_ok(&["user", "disable", "--username", "claire"], "");
    setup.db.cli_ok(&["device", "revoke", claire.device()], "");
    claire
        .pull(0, None)
        .await
        .expect_error(401, "device_revoked");
}

async fn a_revoked_device_is_refused_at_its_next_request(backend: Backend) {
    let setup = Setup::new(backend);
    let marie = setup.client().enrolled("marie").await;
    let other = setup.client().enrolled("marie").await;
    marie.pull(0, None).await.expect_ok();

    let listed = setup.db.cli_ok(&["device", "list", "--org", "nord"], "");
    let devices: Vec<serde_json::Value> = listed
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(devices.len(), 2, "two devices of nord: {listed}");
    assert!(devices.iter().all(|d| d["revoked"] == json!(false)));

    setup.db.cli_ok(&["device", "revoke", marie.device()], "");
    // The revoked device is told so (it destroys its case file); a token nobody holds
    // is only unknown (the device enrols again).
    marie
        .pull(0, None)
        .await
        .expect_error(401, "device_revoked");
    marie
        .push(&[state(
            &new_id(),
            "person",
            marie.device(),
            1,
            json!({"x": 1}),
        )])
        .await
        .expect_error(401, "device_revoked");
    Client::send(marie.request(reqwest::Method::GET, "/v1/replicas"))
        .await
        .expect_error(401, "device_revoked");
    let unknown = Client {
        token: Some("ab".repeat(32)),
        ..marie.clone()
    };
    unknown
        .pull(0, None)
        .await
        .expect_error(401, "unauthorized");
    other.pull(0, None).await.expect_ok();
    setup
        .client()
        .enrol("marie", crate::harness::PASSWORD, Some(marie.device()))
        .await
        .expect_error(409, "device_id_taken");
    let listed = setup.db.cli_ok(&["device", "list"], "");
    assert!(
        listed
            .lines()
            .any(|l| l.contains(marie.device()) && l.contains(r#""revoked":true"#)),
        "device list shows the revocation: {listed}"
    );
    let unknown = setup.db.cli(
        &["device", "revoke", "0190b6a0-0000-7000-8000-000000000999"],
        "",
    );
    assert!(
        !unknown.status.success(),
        "revoking an unknown device fails"
    );
}

async fn an_acknowledged_push_survives_kill_9(backend: Backend) {
    let mut setup = Setup::new(backend);
    let marie = setup.client().enrolled("marie").await;
    let records: Vec<_> = (0..50)
        .map(|i| state(&new_id(), "visit", marie.device(), 1, json!({"i": i})))
        .collect();
    marie.push(&records).await.expect_ok();
    setup.server.child.kill().unwrap(); // SIGKILL
    setup.server.child.wait().unwrap();

    let restarted = Server::start(&setup.db, &[]);
    let claire = restarted.client().enrolled("claire").await;
    let (states, next) = claire.pull_all(0, 1000).await;
    assert_eq!(next, 50, "every acknowledged change is there after kill -9");
    assert_eq!(states, records);
    let token = Client {
        base: restarted.base.clone(),
        ..marie.clone()
    };
    let again = token.push(&records).await;
    assert!(
        again.expect_ok()["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == json!("unchanged")),
        "the device's token still works and its re-push changes nothing"
    );
}

/// A push whose body is half sent when SIGTERM arrives is still answered, and stored;
/// then the process exits with success.
async fn sigterm_finishes_the_request_in_flight(backend: Backend) {
    let mut setup = Setup::new(backend);
    let marie = setup.client().enrolled("marie").await;
    let record = state(&new_id(), "person", marie.device(), 1, json!({"x": 1}));
    let body = json!({ "records": [record] }).to_string();
    let address = setup.server.base.trim_start_matches("http://").to_owned();
    let token = marie.token.clone().unwrap();
    let (half, rest) = body.as_bytes().split_at(body.len() / 2);
    let (half, rest) = (half.to_vec(), rest.to_vec());

    let mut stream = std::net::TcpStream::connect(&address).unwrap();
    write!(
        stream,
        "POST /v1/push HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\
         Sync-Protocol: 1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    stream.write_all(&half).unwrap();
    stream.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    setup.server.terminate();
    std::thread::sleep(Duration::from_millis(300));
    stream.write_all(&rest).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "the request in flight is answered: {answer}"
    );
    assert!(answer.contains(r#""status":"created""#), "{answer}");
    let status = setup.server.wait_exit(Duration::from_secs(20));
    assert!(
        status.success(),
        "the server exits cleanly on SIGTERM: {status:?}"
    );
    assert!(
        std::net::TcpStream::connect(&address).is_err(),
        "no new connection is accepted after shutdown"
    );

    let restarted = Server::start(&setup.db, &[]);
    let claire = restarted.client().enrolled("claire").await;
    let (states, _) = claire.pull_all(0, 100).await;
    assert_eq!(
        states,
        vec![record],
        "the push answered during shutdown is stored"
    );
}

async fn a_device_past_its_rate_is_told_to_slow_down(backend: Backend) {
    let setup = Setup::new(backend);
    let marie = setup.client().enrolled("marie").await;
    let claire = setup.client().enrolled("claire").await;
    let mut limited = None;
    for i in 0..200 {
        let answer = marie.pull(0, None).await;
        if answer.status.as_u16() == 429 {
            limited = Some((i, answer));
            break;
        }
        answer.expect_ok();
    }
    let (i, answer) = limited.expect("expected 429 within 200 requests at once");
    assert!(i >= 60, "a burst of 60 requests passes (refused at {i})");
    answer.expect_error(429, "slow_down");
    let wait: u64 = answer.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=5).contains(&wait), "Retry-After in seconds: {wait}");
    claire.pull(0, None).await.expect_ok();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    marie.pull(0, None).await.expect_ok();
}

async fn https_serves_with_the_given_certificate(backend: Backend) {
    let db = Database::new(backend);
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = db.dir.path().join("cert.pem");
    let key = db.dir.path().join("key.pem");
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    let server = Server::start(
        &db,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    assert!(
        server.base.starts_with("https://127.0.0.1:"),
        "{}",
        server.base
    );
    let port = server.base.rsplit(':').next().unwrap();
    let root = reqwest::Certificate::from_pem(certified.cert.pem().as_bytes()).unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .tls_certs_only([root])
        .resolve("localhost", format!("127.0.0.1:{port}").parse().unwrap())
        .build()
        .unwrap();
    let health = http
        .get(format!("https://localhost:{port}/v1/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200, "health over HTTPS");
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/v1/health"))
        .send()
        .await;
    assert!(
        plain.map_or(true, |r| !r.status().is_success()),
        "plain HTTP is not answered on the HTTPS port"
    );
}

#[test]
fn plain_http_beyond_loopback_needs_allow_plain_http() {
    let db = Database::new(Backend::Sqlite);
    let refused = Server::try_start(&db, &["--listen", "0.0.0.0:0"]);
    let Err(log) = refused else {
        panic!("expected plain HTTP on 0.0.0.0 to be refused");
    };
    assert!(
        log.contains("--allow-plain-http"),
        "the refusal says what to do: {log}"
    );

    let server = Server::start(&db, &["--listen", "0.0.0.0:0", "--allow-plain-http"]);
    assert!(
        server.base.starts_with("http://0.0.0.0:"),
        "{}",
        server.base
    );
    let log = std::fs::read_to_string(&server.log).unwrap();
    assert!(log.contains("WARN"), "a warning is logged: {log}");
}
