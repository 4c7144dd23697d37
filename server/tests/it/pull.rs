//! `GET /v1/pull`: paging, bounds, and no change skipped while writes go on.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};

use crate::harness::{Backend, Client, Server, Setup, new_id, state};
use crate::on_both_backends;

on_both_backends!(
    pages_cover_every_change_once_in_sequence,
    pull_query_refusals,
    paging_during_concurrent_pushes_misses_nothing,
    a_page_stops_before_8_mib_and_the_next_continues,
    a_streamed_pull_is_the_pages_back_to_back,
);

/// §6: a page holds at most 8 MiB of states.
const PAGE_BYTES: usize = 8 * 1024 * 1024;

async fn a_page_stops_before_8_mib_and_the_next_continues(backend: Backend) {
    let setup = Setup::new(backend);
    let marie = setup.client().enrolled("marie").await;
    let claire = setup.client().enrolled("claire").await;
    // 40 records of ~250 KB (each one edit under the 256 KiB cap): ~10 MB in all, sent
    // in two pushes under the 8 MiB a request may hold.
    let records: Vec<Value> = (0..40)
        .map(|i| {
            let notes = format!("{i:02}{}", "x".repeat(250_000));
            state(
                &new_id(),
                "visit",
                marie.device(),
                1,
                json!({ "notes": notes }),
            )
        })
        .collect();
    for half in records.chunks(20) {
        marie.push(half).await.expect_ok();
    }
    let sizes: Vec<usize> = records.iter().map(|r| r.to_string().len()).collect();
    let fit = (1..=sizes.len())
        .take_while(|&n| sizes[..n].iter().sum::<usize>() <= PAGE_BYTES)
        .count();
    assert!(fit < 40, "the records pass 8 MiB together ({fit} fit)");

    let first = claire.pull(0, Some(1000)).await;
    let body = first.expect_ok();
    let page = body["records"].as_array().unwrap();
    assert_eq!(
        (page.len(), &body["more"], &body["next"]),
        (fit, &json!(true), &json!(fit)),
        "the page stops at the last state within 8 MiB, and says more is waiting"
    );
    let held: usize = page.iter().map(|r| r.to_string().len()).sum();
    assert!(held <= PAGE_BYTES, "{held} bytes of states in one page");
    let (rest, next) = claire.pull_all(fit as u64, 1000).await;
    assert_eq!(next, 40);
    let mut all = page.clone();
    all.extend(rest);
    assert_eq!(
        all, records,
        "the next pages continue where the first stopped, skipping none"
    );
}

async fn pages_cover_every_change_once_in_sequence(backend: Backend) {
    let setup = Setup::new(backend);
    let marie = setup.client().enrolled("marie").await;
    let claire = setup.client().enrolled("claire").await;
    let ids: Vec<String> = (0..7).map(|_| new_id()).collect();
    let records: Vec<Value> = ids
        .iter()
        .map(|id| state(id, "person", marie.device(), 1, json!({"n": id})))
        .collect();
    marie.push(&records).await.expect_ok();

    let first = claire.pull(0, Some(3)).await;
    let epoch = first.body["epoch"].clone();
    assert!(epoch.is_string(), "every page names the epoch: {first:?}");
    assert_eq!(
        first.expect_ok(),
        &json!({"records": records[..3], "next": 3, "more": true, "epoch": epoch}),
        "the first page: three states in sequence"
    );
    let (rest, next) = claire.pull_all(3, 3).await;
    assert_eq!(rest, records[3..].to_vec(), "the other pages");
    assert_eq!(next, 7);
    let empty = claire.pull(7, None).await;
    assert_eq!(
        empty.expect_ok(),
        &json!({"records": [], "next": 7, "more": false, "epoch": epoch}),
        "an empty page keeps since"
    );
    // Beyond what the server ever answered this device: the server was restored (§6a).
    claire
        .pull(1000, None)
        .await
        .expect_error(409, "checkpoint_ahead");

    // A record changed again comes once, at its new sequence.
    let mut again = records[0].clone();
    again["vv"][claire.device()] = json!(1);
    again["fields"]["m"] =
        json!([{"dot": [claire.device(), 1], "at": "2026-11-02T10:14:00Z", "value": 1}]);
    claire.push(&[again.clone()]).await.expect_ok();
    let (changed, next) = marie.pull_all(0, 2).await;
    assert_eq!(
        changed,
        vec![again],
        "marie gets only what she does not hold: the merged record, once"
    );
    assert_eq!(next, 8);
}

/// `pages=P`: the pages a paged pull would answer, a line each, ending after P pages or
/// after the page that says nothing more is waiting; `pages=1` is a plain page.
async fn a_streamed_pull_is_the_pages_back_to_back(backend: Backend) {
    let setup = Setup::new(backend);
    let marie = setup.client().enrolled("marie").await;
    let claire = setup.client().enrolled("claire").await;
    let records: Vec<Value> = (0..7)
        .map(|i| state(&new_id(), "person", marie.device(), 1, json!({ "n": i })))
        .collect();
    marie.push(&records).await.expect_ok();
    // A streamed answer's content type, and its pages.
    let streamed = |since: u64, pages: u32| {
        let request = claire.request(
            reqwest::Method::GET,
            &format!("/v1/pull?since={since}&limit=3&pages={pages}"),
        );
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status().as_u16(), 200);
            let kind = response.headers()[reqwest::header::CONTENT_TYPE].clone();
            let text = response.text().await.unwrap();
            if kind == "application/x-ndjson" {
                assert!(text.ends_with('\n'), "every page ends its line");
            }
            let lines: Vec<Value> = text
                .lines()
                .map(|line| serde_json::from_str(line).unwrap())
                .collect();
            (kind, lines)
        }
    };
    let claire = &claire;
    let paged = |since: u64| async move { claire.pull(since, Some(3)).await.expect_ok().clone() };

    let (kind, lines) = streamed(0, 1).await;
    assert_eq!(kind, "application/json", "one page is a plain answer");
    assert_eq!(lines, vec![paged(0).await]);
    // (A device only ever pulls from where it stands: `since` never goes back here.)
    let (kind, lines) = streamed(0, 2).await;
    assert_eq!(kind, "application/x-ndjson");
    assert_eq!(
        lines,
        vec![paged(0).await, paged(3).await],
        "two pages asked, two pages given, each as a pull answers it"
    );
    let (_, lines) = streamed(3, 100).await;
    assert_eq!(
        lines,
        vec![paged(3).await, paged(6).await],
        "the stream ends with the page that says no more is waiting"
    );
    assert_eq!(lines[1]["more"], json!(false));
    let all: Vec<Value> = lines
        .iter()
        .flat_map(|page| page["records"].as_array().unwrap().clone())
        .collect();
    assert_eq!(all, records[3..].to_vec());

    // A refusal is an answer, not a stream.
    let ahead =
        Client::send(claire.request(reqwest::Method::GET, "/v1/pull?since=1000&pages=5")).await;
    ahead.expect_error(409, "checkpoint_ahead");
}

async fn pull_query_refusals(backend: Backend) {
    let setup = Setup::new(backend);
    let marie = setup.client().enrolled("marie").await;
    for query in [
        "limit=0",
        "limit=1001",
        "limit=ten",
        "since=-1",
        "since=x",
        "pages=0",
        "pages=101",
        "pages=all",
    ] {
        let answer =
            Client::send(marie.request(reqwest::Method::GET, &format!("/v1/pull?{query}"))).await;
        assert_eq!(
            (answer.status.as_u16(), answer.code()),
            (400, "bad_request"),
            "expected 400 for {query}: {answer:?}"
        );
    }
    marie.pull(0, Some(1000)).await.expect_ok();
    marie.pull(0, Some(1)).await.expect_ok();
    setup
        .client()
        .pull(0, None)
        .await
        .expect_error(401, "unauthorized");
}

/// Pushers on two server processes sharing the database write new records while a
/// reader pages with a small limit and moves its checkpoint to `next` after each page,
/// as a device does. A pull that skipped a sequence still being committed would lose a
/// record for good: every record is created once and never changed again. (Checked: a
/// PostgreSQL push that reserved its sequences with an `UPDATE … RETURNING` outside its
/// transaction, then committed, made the reader miss 50 to 190 of the 1200 records.)
async fn paging_during_concurrent_pushes_misses_nothing(backend: Backend) {
    const PUSHERS: usize = 8;
    const BATCHES: usize = 15;
    const PER_BATCH: usize = 10;
    // The reader must keep up with the writers, at the head of the sequence, where a
    // skipped sequence would show: no rate limit in the way, pages of 25.
    let setup = Setup::with_args(backend, &["--rate-limit", "1000"]);
    let second = Server::start(&setup.db, &["--rate-limit", "1000"]);
    let reader = setup.client().enrolled("claire").await;
    let done = Arc::new(AtomicBool::new(false));

    let mut pushers = Vec::new();
    for p in 0..PUSHERS {
        let server = if p % 2 == 0 { &setup.server } else { &second };
        let device = server.client().enrolled("marie").await;
        pushers.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for _ in 0..BATCHES {
                let batch: Vec<Value> = (0..PER_BATCH)
                    .map(|_| {
                        let id = new_id();
                        ids.push(id.clone());
                        state(&id, "visit", device.device(), 1, json!({"p": p}))
                    })
                    .collect();
                let answer = device.push(&batch).await;
                assert_eq!(answer.status.as_u16(), 200, "push refused: {answer:?}");
                tokio::time::sleep(std::time::Duration::from_millis(p as u64 * 3)).await;
            }
            ids
        }));
    }

    let paging = {
        let reader = reader.clone();
        let done = Arc::clone(&done);
        tokio::spawn(async move {
            let mut seen = HashSet::new();
            let mut since = 0;
            let mut pages = 0;
            loop {
                let finished = done.load(Ordering::SeqCst);
                loop {
                    let answer = reader.pull(since, Some(25)).await;
                    if answer.status.as_u16() == 429 {
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                    let body = answer.expect_ok();
                    pages += 1;
                    for record in body["records"].as_array().unwrap() {
                        assert!(
                            seen.insert(record["id"].as_str().unwrap().to_owned()),
                            "a record created once came twice"
                        );
                    }
                    let next = body["next"].as_u64().unwrap();
                    assert!(next >= since, "next never goes back");
                    since = next;
                    if !body["more"].as_bool().unwrap() {
                        break;
                    }
                }
                if finished {
                    return (seen, pages);
                }
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
        })
    };

    let mut all = HashSet::new();
    for pusher in pushers {
        all.extend(pusher.await.unwrap());
    }
    done.store(true, Ordering::SeqCst);
    let (seen, pages) = paging.await.unwrap();
    assert_eq!(all.len(), PUSHERS * BATCHES * PER_BATCH);
    assert!(
        pages > 10,
        "the reader paged while the writes went on ({pages} pages)"
    );
    let missed = all.difference(&seen).count();
    assert_eq!(
        missed,
        0,
        "the reader missed {missed} of {} records",
        all.len()
    );
    assert_eq!(seen.len(), all.len());
}
