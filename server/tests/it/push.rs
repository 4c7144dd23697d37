//! `POST /v1/push`: results, idempotence, and every refusal of the status table, in the
//! order of §6.

use std::io::Write;

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{Backend, Client, Server, Setup, new_id, state};
use crate::on_both_backends;

on_both_backends!(
    a_push_creates_merges_and_a_repush_changes_nothing,
    push_refusals_follow_the_status_table,
    refusals_come_in_the_order_of_section_6,
    a_forged_dot_refuses_the_whole_push,
    bodies_may_be_gzip_and_a_gzip_bomb_is_refused,
    a_push_that_drops_entries_is_refused_and_nothing_is_stored,
    a_field_cleared_honestly_is_accepted,
    an_edit_over_256_kib_is_record_too_large,
    a_deletion_whose_seen_passes_the_vv_is_an_invalid_record,
    every_refusal_about_one_record_names_it,
);

fn statuses(answer: &Value) -> Vec<&str> {
    answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect()
}

async fn a_push_creates_merges_and_a_repush_changes_nothing(backend: Backend) {
    let setup = Setup::new(backend);
    let marie = setup.client().enrolled("marie").await;
    let claire = setup.client().enrolled("claire").await;
    let (a, b) = (new_id(), new_id());
    let batch = vec![
        state(
            &a,
            "person",
            marie.device(),
            1,
            json!({"given_names": "Ștefan"}),
        ),
        state(&b, "visit", marie.device(), 1, json!({"setting": "site"})),
    ];
    let first = marie.push(&batch).await;
    let body = first.expect_ok();
    assert_eq!(statuses(body), ["created", "created"]);
    assert_eq!(
        body["results"][0]["id"],
        json!(a),
        "results in the order pushed"
    );
    assert_eq!(body["server_seq"], json!(2), "two changes, two sequences");

    let again = marie.push(&batch).await;
    assert_eq!(statuses(again.expect_ok()), ["unchanged", "unchanged"]);
    assert_eq!(
        again.body["server_seq"],
        json!(2),
        "a re-push does not advance the sequence"
    );

    // Claire pulls the person and edits it concurrently with Marie's second edit.
    let (pulled, _) = claire.pull_all(0, 500).await;
    assert_eq!(pulled.len(), 2, "claire sees both records: {pulled:?}");
    let mut hers = pulled.iter().find(|r| r["id"] == json!(a)).unwrap().clone();
    hers["vv"][claire.device()] = json!(1);
    hers["fields"]["phone"] =
        json!([{"dot": [claire.device(), 1], "at": "2026-11-03T09:00:00Z", "value": "0600"}]);
    let merged = claire.push(&[hers]).await;
    assert_eq!(statuses(merged.expect_ok()), ["merged"]);
    assert_eq!(merged.body["server_seq"], json!(3));

    let (states, next) = marie.pull_all(0, 500).await;
    assert_eq!(next, 3);
    assert_eq!(states.len(), 1, "marie gets the merged person: {states:?}");
    assert_eq!(states[0]["fields"]["phone"][0]["value"], json!("0600"));
    assert_eq!(
        states[0]["fields"]["given_names"][0]["value"],
        json!("Ștefan")
    );
    assert_eq!(
        states[0]["vv"],
        json!({marie.device(): 1, claire.device(): 1}),
        "the merged vv joins both"
    );
}

async fn push_refusals_follow_the_status_table(backend: Backend) {
    let setup = Setup::new(backend);
    let marie = setup.client().enrolled("marie").await;
    let me = marie.device().to_owned();
    let ok = state(&new_id(), "person", &me, 1, json!({"x": 1}));

    // 401: no token, unknown token.
    let anonymous = setup.client();
    anonymous
        .push(std::slice::from_ref(&ok))
        .await
        .expect_error(401, "unauthorized");
    let stranger = Client {
        token: Some("00".repeat(32)),
        ..anonymous.clone()
    };
    stranger
        .push(std::slice::from_ref(&ok))
        .await
        .expect_error(401, "unauthorized");

    // 400: no Sync-Protocol header; 426: another version.
    let no_header = marie
        .request_with_protocol(Method::POST, "/v1/push", None)
        .json(&json!({"records": [ok]}));
    Client::send(no_header)
        .await
        .expect_error(400, "bad_request");
    let v2 = marie
        .request_with_protocol(Method::POST, "/v1/push", Some("2"))
        .json(&json!({"records": [ok]}));
    Client::send(v2)
        .await
        .expect_error(426, "unsupported_protocol");

    // 400: not JSON, wrong shape, the same id twice.
    for body in [
        "not json".to_owned(),
        json!({"records": {}}).to_string(),
        json!({"records": [ok], "extra": 1}).to_string(),
        json!({"states": [ok]}).to_string(),
        json!({"records": [ok, ok]}).to_string(),
    ] {
        let request = marie
            .request(Method::POST, "/v1/push")
            .header("Content-Type", "application/json")
            .body(body.clone());
        let answer = Client::send(request).await;
        assert_eq!(
            (answer.status.as_u16(), answer.code()),
            (400, "bad_request"),
            "expected 400 for {body:.60}: {answer:?}"
        );
    }

    // 413: more than 1000 records; a body over 8 MiB.
    let many: Vec<Value> = (0..1001)
        .map(|_| state(&new_id(), "person", &me, 1, json!({"x": 1})))
        .collect();
    marie.push(&many).await.expect_error(413, "too_large");
    let exactly: Vec<Value> = many[..1000].to_vec();
    let answer = marie.push(&exactly).await;
    assert_eq!(
        statuses(answer.expect_ok()).len(),
        1000,
        "1000 records are allowed"
    );
    let big = "x".repeat(9 * 1024 * 1024);
    let huge = state(&new_id(), "person", &me, 1, json!({"notes": big}));
    marie.push(&[huge]).await.expect_error(413, "too_large");

    // 422 invalid_record: §2 broken, `erased` pushed, a kind changed.
    let mut bad_kind = ok.clone();
    bad_kind["kind"] = json!("Person");
    let mut uncovered = ok.clone();
    uncovered["vv"] = json!({});
    let mut erased = ok.clone();
    erased["erased"] = json!(true);
    erased["fields"] = json!({});
    for bad in [bad_kind, uncovered, erased] {
        marie.push(&[bad]).await.expect_error(422, "invalid_record");
    }
    let mut other_kind = exactly[0].clone();
    other_kind["kind"] = json!("visit");
    marie
        .push(&[other_kind])
        .await
        .expect_error(422, "invalid_record");

    // 422 forged_dot: an edit of another replica the server has not seen.
    let forged = state(
        &new_id(),
        "person",
        "0190b6a0-0000-7000-8000-00000000beef",
        1,
        json!({"x": 1}),
    );
    marie.push(&[forged]).await.expect_error(422, "forged_dot");
}

/// A 9 MiB body: over the 8 MiB a request may hold.
fn oversized_body() -> String {
    json!({"records": [], "pad": "x".repeat(9 * 1024 * 1024)}).to_string()
}

async fn refusals_come_in_the_order_of_section_6(backend: Backend) {
    let setup = Setup::new(backend);
    let marie = setup.client().enrolled("marie").await;
    let me = marie.device().to_owned();
    let stranger = Client {
        token: Some("00".repeat(32)),
        ..setup.client()
    };
    let many: Vec<Value> = (0..1001)
        .map(|_| state(&new_id(), "person", &me, 1, json!({"x": 1})))
        .collect();

    // 400 for a missing header before 426, 401 and everything else.
    let request = stranger
        .request_with_protocol(Method::POST, "/v1/push", None)
        .body(oversized_body());
    Client::send(request).await.expect_error(400, "bad_request");
    Client::send(stranger.request_with_protocol(Method::GET, "/v1/pull?limit=0", None))
        .await
        .expect_error(400, "bad_request");
    // 426 before 401.
    let request = stranger
        .request_with_protocol(Method::POST, "/v1/push", Some("2"))
        .json(&json!({ "records": many }));
    Client::send(request)
        .await
        .expect_error(426, "unsupported_protocol");
    // 401 before 413, and the answer is read although the body was not.
    let request = stranger
        .request(Method::POST, "/v1/push")
        .body(oversized_body());
    Client::send(request)
        .await
        .expect_error(401, "unauthorized");
    setup
        .client()
        .push(&many)
        .await
        .expect_error(401, "unauthorized");
    // 401 before a bad query.
    Client::send(stranger.request(Method::GET, "/v1/pull?limit=0"))
        .await
        .expect_error(401, "unauthorized");
    // 403 before 413: a counsellor may not erase, however large the request.
    let request = marie
        .request(Method::POST, "/v1/erase")
        .body(oversized_body());
    Client::send(request).await.expect_error(403, "forbidden");
    // 413 before 400: an oversized body in an encoding the server cannot read, and a
    // small one.
    let request = marie
        .request(Method::POST, "/v1/push")
        .header("Content-Encoding", "br")
        .body(oversized_body());
    Client::send(request).await.expect_error(413, "too_large");
    let request = marie
        .request(Method::POST, "/v1/push")
        .header("Content-Encoding", "br")
        .body(r#"{"records": []}"#);
    Client::send(request).await.expect_error(400, "bad_request");
    // 413 before 400 (the same id twice).
    let mut twice = many.clone();
    twice[1] = twice[0].clone();
    marie.push(&twice).await.expect_error(413, "too_large");
    // 400 before 422.
    let mut invalid = state(&new_id(), "person", &me, 1, json!({"x": 1}));
    invalid["kind"] = json!("NOPE");
    marie
        .push(&[invalid.clone(), invalid.clone()])
        .await
        .expect_error(400, "bad_request");
    // 422: invalid_record before forged_dot before dropped_entry, whatever their places.
    let kept = state(&new_id(), "person", &me, 1, json!({"x": 1}));
    marie.push(std::slice::from_ref(&kept)).await.expect_ok();
    let mut dropping = kept.clone();
    dropping["fields"] = json!({});
    let forged = state(
        &new_id(),
        "person",
        "0190b6a0-0000-7000-8000-00000000beef",
        1,
        json!({"x": 1}),
    );
    marie
        .push(&[dropping.clone(), forged.clone(), invalid])
        .await
        .expect_error(422, "invalid_record");
    marie
        .push(&[dropping.clone(), forged])
        .await
        .expect_error(422, "forged_dot");
    // Another device of the organisation: dropping marie's entry is a dropped entry (marie
    // dropping her own would be a reused replica, 409).
    let claire = setup.client().enrolled("claire").await;
    claire
        .push(&[dropping])
        .await
        .expect_error(422, "dropped_entry");

    // 429 before 413: a second server on the same database, with a limit of one
    // request a second (bursts of three).
    let slow = Server::start(&setup.db, &["--rate-limit", "1"]);
    let limited = Client {
        base: slow.base.clone(),
        ..marie.clone()
    };
    let mut answers = Vec::new();
    for _ in 0..4 {
        answers.push(limited.pull(0, None).await.status.as_u16());
    }
    assert_eq!(answers, [200, 200, 200, 429], "a burst of three requests");
    let request = limited
        .request(Method::POST, "/v1/push")
        .body(oversized_body());
    Client::send(request).await.expect_error(429, "slow_down");
}

async fn a_forged_dot_refuses_the_whole_push(backend: Backend) {
    let setup = Setup::new(backend);
    let marie = setup.client().enrolled("marie").await;
    let claire = setup.client().enrolled("claire").await;
    let id = new_id();
    let original = state(&id, "person", marie.device(), 1, json!({"x": 1}));
    marie
        .push(std::slice::from_ref(&original))
        .await
        .expect_ok();

    // Claire claims a second edit by Marie's replica: forged. With it, a good record.
    let mut forged = original.clone();
    forged["vv"][marie.device()] = json!(2);
    forged["fields"]["x"] =
        json!([{"dot": [marie.device(), 2], "at": "2026-11-02T10:14:00Z", "value": 2}]);
    let good = state(&new_id(), "visit", claire.device(), 1, json!({"y": 1}));
    claire
        .push(&[good.clone(), forged])
        .await
        .expect_error(422, "forged_dot");
    // An entry the server holds, with another value: forged too.
    let mut altered = original.clone();
    altered["fields"]["x"][0]["value"] = json!(99);
    claire
        .push(&[altered])
        .await
        .expect_error(422, "forged_dot");

    let (states, next) = marie.pull_all(0, 500).await;
    assert_eq!(next, 1, "nothing of the refused pushes was stored");
    assert!(
        states.is_empty(),
        "marie already holds her own state: {states:?}"
    );
    let (states, _) = claire.pull_all(0, 500).await;
    assert_eq!(
        states,
        vec![original],
        "claire sees the untouched original only"
    );

    // Marie's own new edit is hers to make.
    let mut second = state(&id, "person", marie.device(), 2, json!({"x": 2}));
    second["vv"][marie.device()] = json!(2);
    let answer = marie.push(&[second]).await;
    assert_eq!(statuses(answer.expect_ok()), ["merged"]);
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

async fn bodies_may_be_gzip_and_a_gzip_bomb_is_refused(backend: Backend) {
    let setup = Setup::new(backend);
    let marie = setup.client().enrolled("marie").await;
    let record = state(&new_id(), "person", marie.device(), 1, json!({"x": 1}));
    let body = json!({ "records": [record] }).to_string();
    let request = marie
        .request(Method::POST, "/v1/push")
        .header("Content-Type", "application/json")
        .header("Content-Encoding", "gzip")
        .body(gzip(body.as_bytes()));
    let answer = Client::send(request).await;
    assert_eq!(
        statuses(answer.expect_ok()),
        ["created"],
        "a gzip body is read"
    );

    // 64 MiB of zeros inside a JSON string: ~64 KiB on the wire.
    let mut bomb = br#"{"records": [], "pad": ""#.to_vec();
    bomb.extend(std::iter::repeat_n(b'0', 64 * 1024 * 1024));
    bomb.extend(br#""}"#);
    let compressed = gzip(&bomb);
    assert!(
        compressed.len() < 1024 * 1024,
        "the bomb is small on the wire"
    );
    let request = marie
        .request(Method::POST, "/v1/push")
        .header("Content-Encoding", "gzip")
        .body(compressed);
    Client::send(request).await.expect_error(413, "too_large");

    // The server stops inflating at 8 MiB: a bomb whose checksum, at its very end, is
    // wrong still answers 413 (reading it to the end would find the bad checksum, 400).
    let mut broken = gzip(&bomb);
    let n = broken.len();
    for byte in &mut broken[n - 8..] {
        *byte ^= 0xff;
    }
    let request = marie
        .request(Method::POST, "/v1/push")
        .header("Content-Encoding", "gzip")
        .body(broken);
    Client::send(request).await.expect_error(413, "too_large");
    let mut small = gzip(body.as_bytes());
    let n = small.len();
    small[n - 8] ^= 0xff;
    let request = marie
        .request(Method::POST, "/v1/push")
        .header("Content-Encoding", "gzip")
        .body(small);
    Client::send(request).await.expect_error(400, "bad_request");

    // Answers are gzip when the client accepts it.
    let raw = reqwest::Client::builder().no_gzip().build().unwrap();
    let response = raw
        .get(format!("{}/v1/pull?since=0", marie.base))
        .header("Sync-Protocol", "1")
        .header("Accept-Encoding", "gzip")
        .bearer_auth(marie.token.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        response
            .headers()
            .get("content-encoding")
            .map(|v| v.as_bytes()),
        Some(&b"gzip"[..]),
        "expected a gzip answer"
    );
}

async fn a_push_that_drops_entries_is_refused_and_nothing_is_stored(backend: Backend) {
    let setup = Setup::new(backend);
    let marie = setup.client().enrolled("marie").await;
    let claire = setup.client().enrolled("claire").await;
    let id = new_id();
    let original = state(
        &id,
        "person",
        marie.device(),
        1,
        json!({"given_names": "Ion", "phone": "0600"}),
    );
    marie
        .push(std::slice::from_ref(&original))
        .await
        .expect_ok();

    // The server's vv and no fields: merged, it would empty the record.
    let emptied = json!({"id": id, "kind": "person", "vv": {marie.device(): 1}, "fields": {}});
    let answer = claire.push(std::slice::from_ref(&emptied)).await;
    answer.expect_error(422, "dropped_entry");
    assert_eq!(
        answer.body["error"]["id"],
        json!(id),
        "the refusal names the record: {answer:?}"
    );
    // Marie leaving out her own edit without writing over it: only a second life of her
    // case file, which gave that edit's number to another edit, does that (§6a).
    marie
        .push(std::slice::from_ref(&emptied))
        .await
        .expect_error(409, "replica_reused");
    // Claire, who has seen Marie's edit, covers it without holding it: refused too.
    let mut covering = state(&id, "person", claire.device(), 1, json!({"phone": "0700"}));
    covering["vv"][marie.device()] = json!(1);
    let answer = claire.push(std::slice::from_ref(&covering)).await;
    answer.expect_error(422, "dropped_entry");
    assert_eq!(answer.body["error"]["id"], json!(id));

    // Inside a batch of valid records, it refuses them all.
    let valid: Vec<Value> = (0..3)
        .map(|i| state(&new_id(), "visit", claire.device(), 1, json!({"i": i})))
        .collect();
    let mut batch = valid.clone();
    batch.insert(1, emptied);
    let answer = claire.push(&batch).await;
    answer.expect_error(422, "dropped_entry");
    assert_eq!(answer.body["error"]["id"], json!(id));

    let (states, next) = marie.pull_all(0, 500).await;
    assert_eq!(next, 1, "nothing of the refused pushes was stored");
    assert!(
        states.is_empty(),
        "the record is untouched: marie's own push, left out: {states:?}"
    );
    let (states, _) = setup
        .client()
        .enrolled("marie")
        .await
        .pull_all(0, 500)
        .await;
    assert_eq!(states, vec![original], "the record is untouched");
    let answer = claire.push(&valid).await;
    assert_eq!(
        statuses(answer.expect_ok()),
        ["created", "created", "created"],
        "sent again without the faulty record, the others are stored"
    );
}

async fn a_field_cleared_honestly_is_accepted(backend: Backend) {
    let setup = Setup::new(backend);
    let marie = setup.client().enrolled("marie").await;
    let claire = setup.client().enrolled("claire").await;
    let id = new_id();
    let original = state(
        &id,
        "person",
        marie.device(),
        1,
        json!({"given_names": "Ion", "phone": "0600"}),
    );
    marie
        .push(std::slice::from_ref(&original))
        .await
        .expect_ok();

    // Claire clears the phone: an entry whose value is null, under her own dot.
    let mut cleared = original.clone();
    cleared["vv"][claire.device()] = json!(1);
    cleared["fields"]["phone"] =
        json!([{"dot": [claire.device(), 1], "at": "2026-11-03T09:00:00Z", "value": null}]);
    let answer = claire.push(&[cleared.clone()]).await;
    assert_eq!(statuses(answer.expect_ok()), ["merged"]);
    // Marie clears a field by a new edit of her own, which also drops nothing else.
    let mut again = cleared.clone();
    again["vv"][marie.device()] = json!(2);
    again["fields"]["given_names"] =
        json!([{"dot": [marie.device(), 2], "at": "2026-11-03T10:00:00Z", "value": null}]);
    let answer = marie.push(&[again.clone()]).await;
    assert_eq!(statuses(answer.expect_ok()), ["merged"]);

    let (states, _) = claire.pull_all(0, 500).await;
    assert_eq!(states, vec![again], "both clearings are kept");
}

async fn an_edit_over_256_kib_is_record_too_large(backend: Backend) {
    let setup = Setup::new(backend);
    let marie = setup.client().enrolled("marie").await;
    let id = new_id();
    let big = state(
        &id,
        "person",
        marie.device(),
        1,
        json!({"notes": "x".repeat(256 * 1024)}),
    );
    let good = state(&new_id(), "person", marie.device(), 1, json!({"x": 1}));
    let answer = marie.push(&[good.clone(), big]).await;
    answer.expect_error(422, "record_too_large");
    assert_eq!(answer.body["error"]["id"], json!(id), "{answer:?}");
    // Two fields of one edit add up.
    let halves = state(
        &id,
        "person",
        marie.device(),
        1,
        json!({"a": "x".repeat(130 * 1024), "b": "x".repeat(130 * 1024)}),
    );
    marie
        .push(&[halves])
        .await
        .expect_error(422, "record_too_large");
    // Just under the cap is fine.
    let fits = state(
        &id,
        "person",
        marie.device(),
        1,
        json!({"notes": "x".repeat(250 * 1024)}),
    );
    assert_eq!(
        statuses(marie.push(&[good, fits]).await.expect_ok()),
        ["created", "created"]
    );
}

async fn a_deletion_whose_seen_passes_the_vv_is_an_invalid_record(backend: Backend) {
    let setup = Setup::new(backend);
    let marie = setup.client().enrolled("marie").await;
    let me = marie.device().to_owned();
    let id = new_id();
    let mut deleted = state(&id, "person", &me, 1, json!({"x": 1}));
    deleted["vv"][&me] = json!(2);
    deleted["fields"]["_deleted"] =
        json!([{"dot": [&me, 2], "at": "2026-11-02T10:15:00Z", "value": {"seen": {&me: 7}}}]);
    let answer = marie.push(std::slice::from_ref(&deleted)).await;
    answer.expect_error(422, "invalid_record");
    assert_eq!(answer.body["error"]["id"], json!(id));
    // A seen that covers its own deletion is as invalid.
    deleted["fields"]["_deleted"][0]["value"] = json!({"seen": {&me: 2}});
    marie
        .push(std::slice::from_ref(&deleted))
        .await
        .expect_error(422, "invalid_record");
    // The honest deletion: seen is the vv before it.
    deleted["fields"]["_deleted"][0]["value"] = json!({"seen": {&me: 1}});
    assert_eq!(
        statuses(marie.push(&[deleted]).await.expect_ok()),
        ["created"]
    );
}

async fn every_refusal_about_one_record_names_it(backend: Backend) {
    let setup = Setup::new(backend);
    let marie = setup.client().enrolled("marie").await;
    let me = marie.device().to_owned();
    let stored = state(&new_id(), "person", &me, 1, json!({"x": 1}));
    marie.push(std::slice::from_ref(&stored)).await.expect_ok();
    let id_of = |v: &Value| v["id"].clone();
    let ok = state(&new_id(), "person", &me, 1, json!({"x": 1}));

    let mut bad_kind = state(&new_id(), "person", &me, 1, json!({"x": 1}));
    bad_kind["kind"] = json!("Person");
    let mut other_kind = stored.clone();
    other_kind["kind"] = json!("visit");
    let forged = state(
        &new_id(),
        "person",
        "0190b6a0-0000-7000-8000-00000000beef",
        1,
        json!({"x": 1}),
    );
    let mut dropping = stored.clone();
    dropping["fields"] = json!({});
    // Dropping marie's entry is claire's fault to make (marie's own would be 409).
    let claire = setup.client().enrolled("claire").await;
    let claires = state(&new_id(), "person", claire.device(), 1, json!({"x": 1}));
    for (pusher, ok, bad, code) in [
        (&marie, &ok, bad_kind, "invalid_record"),
        (&marie, &ok, other_kind, "invalid_record"),
        (&marie, &ok, forged, "forged_dot"),
        (&claire, &claires, dropping, "dropped_entry"),
    ] {
        let answer = pusher.push(&[ok.clone(), bad.clone()]).await;
        answer.expect_error(422, code);
        assert_eq!(
            answer.body["error"]["id"],
            id_of(&bad),
            "a {code} refusal names its record: {answer:?}"
        );
    }
    // The same id twice: 400, naming it.
    let answer = marie.push(&[ok.clone(), ok.clone()]).await;
    answer.expect_error(400, "bad_request");
    assert_eq!(answer.body["error"]["id"], id_of(&ok));
    // An id that cannot be read is not named; errors about no record name none.
    let mut unreadable = ok.clone();
    unreadable["id"] = json!("NOT-AN-ID");
    let answer = marie.push(&[unreadable]).await;
    answer.expect_error(422, "invalid_record");
    assert!(answer.body["error"].get("id").is_none(), "{answer:?}");
    let answer = marie.pull(0, Some(0)).await;
    answer.expect_error(400, "bad_request");
    assert!(answer.body["error"].get("id").is_none(), "{answer:?}");
}
