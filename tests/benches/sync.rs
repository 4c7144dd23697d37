//! Sync speed on a real server and real case files: the initial sync of N records to an
//! empty device, an incremental sync with 1% changed, and a sync with nothing to do; with
//! the bytes on the wire against the gzip size of the same states.
//!
//! Baselines in the same run: inserting the same states raw, in pages of 1,000, into one
//! `(id, kind, state)` table of a file with the case file's encryption and pragmas (the
//! casefile benchmark's `states` baseline); applying the very same states locally, in
//! pages, with no network (what the device's own storage costs); and, on a shaped link,
//! what its bandwidth and round-trip time allow for the gzip size of the states. After the
//! table: the initial sync's rate at each size against the smallest, and the size of the
//! case file against its canonical states.
//!
//! `cargo bench -p passerelle-e2e --bench sync -- [--records 10000,100000] [--rtt-ms 300 --mbit 1]`
//! `scripts/bench-sync` runs it on loopback and through a shaped link (netem).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::io::Write;
use std::time::{Duration, Instant};

use casefile::PULL_PAGE;
use flate2::Compression;
use flate2::write::GzEncoder;
use passerelle_e2e::bench::{arg, person, seed};
use passerelle_e2e::harness::{Backend, Device, Server};
use passerelle_e2e::proxy::{Fault, FaultProxy, Link};
use passerelle_test_support::baseline::{insert_states, states_file};
use serde_json::json;
use sync_protocol::RecordState;

fn gzip_size(states: &[RecordState]) -> usize {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    let texts: Vec<String> = states.iter().map(RecordState::to_json).collect();
    write!(encoder, "[{}]", texts.join(",")).unwrap();
    encoder.finish().unwrap().len()
}

/// Pushes `states` as `device`'s own, straight over HTTP (the server's push, without the
/// device's storage: a fast way to fill the server).
struct Measure {
    seconds: f64,
    requests: u64,
    up: u64,
    down: u64,
}

/// The `states` baseline: the states inserted raw in pages of [`PULL_PAGE`], a
/// transaction each. Answers the seconds it took.
fn raw_states(dir: &std::path::Path, states: &[RecordState]) -> f64 {
    let mut conn = states_file(&dir.join("states.db"));
    let start = Instant::now();
    for page in states.chunks(PULL_PAGE as usize) {
        insert_states(&mut conn, page);
    }
    start.elapsed().as_secs_f64()
}

/// With `PERF_CTL` naming perf's control fifo (`perf record --control fifo:PATH -D -1`,
/// as `scripts/profile-sync` runs it), perf records the syncs of one kind only:
/// `PERF_SYNC`, `initial` (the default) or `1%`.
fn perf(command: &str, sync: &str) {
    let recorded = std::env::var("PERF_SYNC").unwrap_or_else(|_| "initial".into());
    if sync != recorded {
        return;
    }
    if let Ok(path) = std::env::var("PERF_CTL") {
        let sent = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|mut fifo| fifo.write_all(command.as_bytes()));
        if let Err(error) = sent {
            eprintln!("perf's control fifo: {error}");
        }
    }
}

/// The bytes of a case file on disk: the database and its write-ahead log.
fn file_bytes(path: &std::path::Path) -> u64 {
    let wal = path.with_extension(format!(
        "{}-wal",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    [path.to_path_buf(), wal]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

fn measured(proxy: &FaultProxy, device: &mut Device) -> Measure {
    let before = proxy.counts.traffic();
    let start = Instant::now();
    device.sync();
    let seconds = start.elapsed().as_secs_f64();
    let after = proxy.counts.traffic();
    Measure {
        seconds,
        requests: after.0 - before.0,
        up: after.1 - before.1,
        down: after.2 - before.2,
    }
}

fn main() {
    let records: Vec<usize> = arg("--records")
        .unwrap_or_else(|| "10000,100000".into())
        .split(',')
        .map(|n| n.trim().parse().unwrap())
        .collect();
    let shaped: Option<(f64, f64)> = arg("--rtt-ms").map(|rtt| {
        (
            rtt.parse::<f64>().unwrap() / 1000.0,
            arg("--mbit").unwrap_or_else(|| "1".into()).parse().unwrap(),
        )
    });
    let link = match shaped {
        Some((rtt, mbit)) => format!("shaped link, {:.0} ms RTT, {mbit} Mbit/s", rtt * 1000.0),
        None => "loopback".into(),
    };
    println!(
        "| link | records | sync | time (s) | requests | bytes up | bytes down | gzip of the states | wire / gzip | baseline | ratio |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    // (records, initial sync seconds, canonical bytes, case file bytes)
    let mut initials = Vec::new();
    // The room each table and index takes in the largest case file.
    let mut space = Vec::new();
    for n in records {
        let server = Server::start(Backend::Sqlite);
        let (_org, user) = server.new_org();
        let seeder = Device::enrolled("seeder", &server, &user);
        let states: Vec<RecordState> = (0..n)
            .map(|i| person(seeder.file.replica_id(), i))
            .collect();
        let json_bytes: usize = states.iter().map(|s| s.to_json().len()).sum();
        eprintln!(
            "{n} records, {} bytes of JSON each on average",
            json_bytes / n
        );
        seed(&server, &seeder, &states);
        let gzip = gzip_size(&states);

        // Baselines: the same states inserted raw, and applied locally, in pages, with no
        // network.
        let scratch = tempfile::tempdir().unwrap();
        let states_seconds = raw_states(scratch.path(), &states);
        drop(scratch);
        let mut local = Device::new("local");
        let start = Instant::now();
        let mut next = 0;
        for page in states.chunks(PULL_PAGE as usize) {
            next += page.len() as u64;
            local.file.apply_pulled(page, next).unwrap();
        }
        let local_seconds = start.elapsed().as_secs_f64();
        drop(local);

        let proxy = match shaped {
            Some((rtt, mbit)) => FaultProxy::start_shaped(
                server.addr,
                Link {
                    one_way_delay: Duration::from_secs_f64(rtt / 2.0),
                    bytes_per_second: mbit * 1e6 / 8.0,
                },
            ),
            None => FaultProxy::start_fixed(server.addr, Fault::Pass),
        }
        .unwrap();
        let through = |name: &str| {
            let mut d = Device::enrolled(name, &server, &user);
            d.file.set_setting("sync.server_url", &proxy.url()).unwrap();
            d
        };
        let mut fresh = through("fresh");
        perf("enable", "initial");
        let initial = measured(&proxy, &mut fresh);
        perf("disable", "initial");
        initials.push((
            n,
            initial.seconds,
            json_bytes,
            file_bytes(fresh.file.path()),
        ));
        space = fresh.file.space().unwrap();

        // Another device changes 1% of the records, then the first one syncs again.
        let mut editor = through("editor");
        editor.sync();
        let changed: Vec<RecordState> = states.iter().step_by(100).cloned().collect();
        for s in &changed {
            editor
                .file
                .edit(s.id(), vec![("phone".into(), json!("07 00 00 00 00"))])
                .unwrap();
        }
        editor.sync();
        let changed_states: Vec<RecordState> = changed
            .iter()
            .map(|s| editor.file.get(s.id()).unwrap())
            .collect();
        let changed_gzip = gzip_size(&changed_states);
        perf("enable", "1%");
        let incremental = measured(&proxy, &mut fresh);
        perf("disable", "1%");
        let idle = measured(&proxy, &mut fresh);
        // What the link allows: the gzip bytes of the states at its rate, plus one round
        // trip, or plus the round trips this sync made (one per page or batch).
        let ideal = |bytes: usize, trips: u64| {
            shaped.map(|(rtt, mbit)| bytes as f64 * 8.0 / (mbit * 1e6) + trips.max(1) as f64 * rtt)
        };
        let rows = [
            ("initial", &initial, gzip),
            ("1% changed", &incremental, changed_gzip),
            ("nothing to do", &idle, 0),
        ];
        for (what, m, gz) in rows {
            let (baseline, ratio) = match (ideal(gz, 1), ideal(gz, m.requests), what) {
                (Some(one), Some(all), _) => (
                    format!(
                        "link allows {one:.2} s in 1 round trip, {all:.2} s in {}",
                        m.requests
                    ),
                    format!("{:.2}x; {:.2}x", m.seconds / one, m.seconds / all),
                ),
                (_, _, "initial") => (
                    format!("states {states_seconds:.2} s; local apply {local_seconds:.2} s"),
                    format!(
                        "{:.2}x; {:.2}x",
                        m.seconds / states_seconds,
                        m.seconds / local_seconds
                    ),
                ),
                (_, _, "1% changed") => (
                    format!("initial {:.2} s", initial.seconds),
                    format!("{:.1}%", 100.0 * m.seconds / initial.seconds),
                ),
                _ => (String::new(), String::new()),
            };
            let wire = if gz > 0 {
                format!("{:.2}x", m.down as f64 / gz as f64)
            } else {
                String::new()
            };
            println!(
                "| {link} | {n} | {what} | {:.2} | {} | {} | {} | {} | {wire} | {baseline} | {ratio} |",
                m.seconds, m.requests, m.up, m.down, gz
            );
        }
    }
    if let Some(&(n0, s0, _, _)) = initials.first() {
        println!();
        println!(
            "| records | initial sync, records/s | against {n0} | canonical states (MB) | case file (MB) | file / states |"
        );
        println!("|---|---|---|---|---|---|");
        for &(n, seconds, canonical, file) in &initials {
            let rate = n as f64 / seconds;
            println!(
                "| {n} | {rate:.0} | {:.2}x | {:.1} | {:.1} | {:.2}x |",
                rate / (n0 as f64 / s0),
                canonical as f64 / 1e6,
                file as f64 / 1e6,
                file as f64 / canonical as f64
            );
        }
    }
    if let Some(&(n, _, canonical, _)) = initials.last() {
        println!();
        println!("| table or index, {n} records | MB | against the canonical states |");
        println!("|---|---|---|");
        for (name, bytes) in space.iter().take(12) {
            println!(
                "| {name} | {:.1} | {:.2}x |",
                *bytes as f64 / 1e6,
                *bytes as f64 / canonical as f64
            );
        }
    }
}
