//! Documents (§6b) end to end, against baselines of the same run.
//!
//! 1. On loopback: N MiB of documents (20 MiB files) reach a new device by
//!    `sync_documents` (ranged GETs of 4 MiB, each piece hashed at the end and kept in
//!    the encrypted case file), against a plain HTTP download of the same documents from
//!    the same server (one GET each, read into memory, nothing kept), and against that
//!    download plus what keeping the bytes in the encrypted case file costs (measured
//!    as the `attach` of the same files, with no network).
//! 2. On the imitated poor link (300 ms, 1 Mbit/s): the records of a sync while photos
//!    are waiting to be sent, against the same records with no photo waiting: records
//!    never wait for documents.
//!
//! `cargo bench -p passerelle-e2e --bench documents -- [--mib 200] [--records 100]`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::io::Read;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use casefile::{CaseFile, NewAttachment};
use passerelle_e2e::bench::arg;
use passerelle_e2e::harness::{Backend, Device, Server};
use passerelle_e2e::proxy::{FaultProxy, Link};
use passerelle_test_support::samples::Rng;
use serde_json::json;
use sync_protocol::RecordId;

fn pdf(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed.max(1));
    let mut bytes = b"%PDF-1.7\n".to_vec();
    while bytes.len() < len {
        bytes.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

fn person(file: &mut CaseFile, n: usize) -> RecordId {
    file.create(
        "person",
        vec![
            ("family_name".into(), json!(format!("Stoica {n}"))),
            ("given_names".into(), json!("Maria")),
        ],
    )
    .unwrap()
}

fn attach(file: &mut CaseFile, person: RecordId, bytes: &[u8]) {
    file.attach(
        &NewAttachment {
            person_id: Some(person),
            title: "Document".into(),
            category: "other".into(),
            ..NewAttachment::default()
        },
        bytes,
    )
    .unwrap();
}

fn loopback(mib: usize) {
    let server = Server::start(Backend::Sqlite);
    let (_org, user) = server.new_org();
    let mut marie = Device::enrolled("marie", &server, &user);
    let p = person(&mut marie.file, 0);
    let files = mib.div_ceil(20);
    let mut digests = Vec::new();
    // What keeping the bytes in the encrypted case file costs, with no network: the
    // attachments made on the first device (hash and store, as a PDF is kept as given).
    let mut stored = 0.0;
    for i in 0..files {
        let bytes = pdf(20 * 1024 * 1024, i as u64 + 1);
        let start = Instant::now();
        attach(&mut marie.file, p, &bytes);
        stored += start.elapsed().as_secs_f64();
        digests.push(
            marie
                .file
                .attachments_of(p)
                .unwrap()
                .iter()
                .map(|a| a.sha256.clone())
                .find(|d| !digests.contains(d))
                .unwrap(),
        );
    }
    marie.sync();
    let cancel = AtomicBool::new(false);
    let start = Instant::now();
    marie.file.sync_documents(&mut |_| {}, &cancel).unwrap();
    let upload = start.elapsed().as_secs_f64();
    let total = (files * 20 * 1024 * 1024) as f64;

    // Baseline: the same documents by plain GETs from the same server.
    let token = marie.file.setting("sync.device_token").unwrap().unwrap();
    let client = reqwest::blocking::Client::new();
    let plain = || {
        let start = Instant::now();
        for digest in &digests {
            let mut response = client
                .get(format!("{}/v1/blobs/{digest}", server.url))
                .header("Sync-Protocol", "1")
                .bearer_auth(&token)
                .send()
                .unwrap();
            assert_eq!(response.status(), 200);
            let mut body = Vec::with_capacity(20 * 1024 * 1024);
            response.read_to_end(&mut body).unwrap();
            assert_eq!(body.len(), 20 * 1024 * 1024);
        }
        start.elapsed().as_secs_f64()
    };
    let before = plain();
    let mut ion = Device::enrolled("ion", &server, &user);
    ion.sync();
    let start = Instant::now();
    let report = ion.file.sync_documents(&mut |_| {}, &cancel).unwrap();
    let fetched = start.elapsed().as_secs_f64();
    assert_eq!(report.received as usize, files);
    let after = plain();
    let baseline = before.min(after);
    let mib_s = |s: f64| total / s / (1024.0 * 1024.0);
    println!("| what | MiB | time (s) | MiB/s | against the plain download |");
    println!("|---|---|---|---|---|");
    println!(
        "| plain GET, nothing kept (best of 2: {before:.2} s, {after:.2} s) | {} | {baseline:.2} | {:.0} | 1.00x |",
        files * 20,
        mib_s(baseline)
    );
    println!(
        "| a new device fetches them (sync_documents) | {} | {fetched:.2} | {:.0} | {:.2}x of the plain rate (aim at least 0.50x) |",
        files * 20,
        mib_s(fetched),
        baseline / fetched
    );
    println!(
        "| the first device sends them (sync_documents) | {} | {upload:.2} | {:.0} | |",
        files * 20,
        mib_s(upload)
    );
    println!(
        "| keeping them in the encrypted case file, no network (attach) | {} | {stored:.2} | {:.0} | |",
        files * 20,
        mib_s(stored)
    );
    println!(
        "| a plain GET, then kept as attach keeps them (sum of the two above) | {} | {:.2} | {:.0} | {:.2}x: the fetch against it |",
        files * 20,
        baseline + stored,
        mib_s(baseline + stored),
        (baseline + stored) / fetched
    );
}

fn poor_link(records: usize) {
    let server = Server::start(Backend::Sqlite);
    let proxy = FaultProxy::start_shaped(
        server.addr,
        Link {
            one_way_delay: Duration::from_millis(150),
            bytes_per_second: 1e6 / 8.0,
        },
    )
    .unwrap();
    // Each device in an organisation of its own: the same records to send, none to
    // receive.
    let through = |name: &str| {
        let (_org, user) = server.new_org();
        let mut d = Device::enrolled(name, &server, &user);
        d.file.set_setting("sync.server_url", &proxy.url()).unwrap();
        d
    };
    let cancel = AtomicBool::new(false);
    let mut rows = Vec::new();
    for (name, photos) in [("no photo waiting", 0), ("3 photos waiting (3 MiB)", 3)] {
        let mut device = through(name);
        let mut ids = Vec::new();
        for n in 0..records {
            ids.push(person(&mut device.file, n));
        }
        for (i, id) in ids.iter().take(photos).enumerate() {
            attach(&mut device.file, *id, &pdf(1024 * 1024, 100 + i as u64));
        }
        let start = Instant::now();
        device.sync();
        let records_done = start.elapsed().as_secs_f64();
        let start = Instant::now();
        device.file.sync_documents(&mut |_| {}, &cancel).unwrap();
        let documents = start.elapsed().as_secs_f64();
        rows.push((name, records_done, documents));
    }
    let baseline = rows[0].1;
    println!();
    println!(
        "| poor link (300 ms, 1 Mbit/s) | records | records synced (s) | then documents (s) | records against no photo waiting |"
    );
    println!("|---|---|---|---|---|");
    for (name, records_done, documents) in rows {
        println!(
            "| {name} | {records} | {records_done:.2} | {documents:.2} | {:.2}x |",
            records_done / baseline
        );
    }
}

fn main() {
    let mib: usize = arg("--mib").map_or(200, |m| m.parse().unwrap());
    let records: usize = arg("--records").map_or(100, |m| m.parse().unwrap());
    loopback(mib);
    poor_link(records);
}
