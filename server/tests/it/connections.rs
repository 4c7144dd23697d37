//! Connection hygiene (§6): slow headers and slow bodies are cut, and the server holds at
//! most `--max-connections` connections, while health keeps answering. The timeouts are
//! set short on the command line so that the tests wait seconds, not minutes.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::{Backend, Client, Setup, new_id, state};
use crate::on_both_backends;

on_both_backends!(
    slow_headers_are_cut_while_health_answers,
    a_body_sent_too_slowly_is_cut,
    the_server_holds_at_most_its_maximum_of_connections,
);

/// Reads until the server closes the connection; answers what it sent and when it closed.
/// Fails if it is still open after `within`.
fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (String, Instant) {
    stream.set_read_timeout(Some(within)).unwrap();
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => received.extend_from_slice(&buffer[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("expected the server to close the connection within {within:?}")
            }
            // A reset is a close too.
            Err(_) => break,
        }
    }
    (
        String::from_utf8_lossy(&received).into_owned(),
        Instant::now(),
    )
}

async fn health_answers(client: &Client) {
    let started = Instant::now();
    let health = client.health().await;
    assert_eq!(health.status, 200, "health answers: {health:?}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "health answers at once ({:?})",
        started.elapsed()
    );
}

async fn slow_headers_are_cut_while_health_answers(backend: Backend) {
    let setup = Setup::with_args(backend, &["--header-timeout-secs", "2"]);
    let address = setup.server.address();
    let started = Instant::now();
    let mut slow: Vec<TcpStream> = (0..50)
        .map(|_| {
            let mut stream = TcpStream::connect(&address).unwrap();
            stream
                .write_all(b"GET /v1/health HTTP/1.1\r\nHost: passerelle\r\nSync-Pro")
                .unwrap();
            stream
        })
        .collect();
    // While the 50 hold their connections, others are served.
    let client = setup.client();
    health_answers(&client).await;
    let marie = client.enrolled("marie").await;
    marie.pull(0, None).await.expect_ok();

    let slow_closed = tokio::task::spawn_blocking(move || {
        slow.iter_mut()
            .map(|stream| read_until_closed(stream, Duration::from_secs(10)))
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    for (answer, closed) in slow_closed {
        let held = closed.duration_since(started);
        assert!(
            held >= Duration::from_millis(1500),
            "a connection is held until the header timeout, not refused ({held:?})"
        );
        assert!(
            !answer.contains("200 OK"),
            "a half-sent request is never served: {answer}"
        );
    }
    // A new connection: the kept-alive one has been idle past the (2 s) header timeout,
    // which closes idle connections too, and may be closing as it is reused.
    health_answers(&setup.client()).await;
}

async fn a_body_sent_too_slowly_is_cut(backend: Backend) {
    let setup = Setup::with_args(backend, &["--body-timeout-secs", "2"]);
    let marie = setup.client().enrolled("marie").await;
    let record = state(&new_id(), "person", marie.device(), 1, json!({"x": 1}));
    let body = json!({ "records": [record] }).to_string();
    let address = setup.server.address();
    let token = marie.token.clone().unwrap();
    let header = format!(
        "POST /v1/push HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\
         Sync-Protocol: 1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );

    // Half the body, then nothing; and the whole body, a byte every 300 ms.
    let half = {
        let (address, header, body) = (address.clone(), header.clone(), body.clone());
        tokio::task::spawn_blocking(move || {
            let mut stream = TcpStream::connect(&address).unwrap();
            stream.write_all(header.as_bytes()).unwrap();
            stream
                .write_all(&body.as_bytes()[..body.len() / 2])
                .unwrap();
            let started = Instant::now();
            let (answer, closed) = read_until_closed(&mut stream, Duration::from_secs(10));
            (answer, closed.duration_since(started))
        })
    };
    let trickle = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(&address).unwrap();
        stream.write_all(header.as_bytes()).unwrap();
        let started = Instant::now();
        for byte in body.as_bytes() {
            if stream.write_all(&[*byte]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(300));
            if started.elapsed() > Duration::from_secs(10) {
                panic!("expected the server to cut a body trickling in");
            }
        }
        let (answer, closed) = read_until_closed(&mut stream, Duration::from_secs(10));
        (answer, closed.duration_since(started))
    });
    for (what, task) in [("half a body", half), ("a trickling body", trickle)] {
        let (answer, held) = task.await.unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 400"),
            "{what} is answered 400 before the connection closes: {answer}"
        );
        assert!(
            answer.contains("did not arrive within 2 seconds"),
            "{what}: the answer says why: {answer}"
        );
        assert!(
            answer.to_ascii_lowercase().contains("connection: close"),
            "{what}: {answer}"
        );
        assert!(
            (Duration::from_millis(1500)..Duration::from_secs(6)).contains(&held),
            "{what} is cut after the body timeout ({held:?})"
        );
    }
    let (states, next) = setup
        .client()
        .enrolled("claire")
        .await
        .pull_all(0, 100)
        .await;
    assert_eq!(
        (states.len(), next),
        (0, 0),
        "nothing of the cut pushes was stored"
    );
}

async fn the_server_holds_at_most_its_maximum_of_connections(backend: Backend) {
    let setup = Setup::with_args(
        backend,
        &["--max-connections", "4", "--header-timeout-secs", "3"],
    );
    let address = setup.server.address();
    let client = setup.client();
    health_answers(&client).await;
    // reqwest keeps its connection to the server alive: drop it so that it holds none.
    drop(client);
    tokio::time::sleep(Duration::from_millis(200)).await;

    let mut idle: Vec<TcpStream> = (0..4)
        .map(|_| TcpStream::connect(&address).unwrap())
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // A fifth connection is closed at once, without an answer.
    let refused = tokio::task::spawn_blocking({
        let address = address.clone();
        move || {
            let mut stream = TcpStream::connect(&address).unwrap();
            let _ = stream.write_all(b"GET /v1/health HTTP/1.1\r\nHost: passerelle\r\n\r\n");
            let started = Instant::now();
            let (answer, closed) = read_until_closed(&mut stream, Duration::from_secs(2));
            (answer, closed.duration_since(started))
        }
    })
    .await
    .unwrap();
    assert_eq!(
        refused.0, "",
        "a connection over the maximum gets no answer"
    );
    assert!(
        refused.1 < Duration::from_secs(1),
        "and is closed at once ({:?})",
        refused.1
    );

    // One of the four leaves: its place is free again.
    drop(idle.pop());
    let started = Instant::now();
    loop {
        let answer = Client::new(&setup.server.base)
            .http
            .get(format!("{}/v1/health", setup.server.base))
            .send()
            .await;
        if answer.is_ok_and(|a| a.status() == 200) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "expected a freed place to serve health"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(idle);
}
