//! A server restored from a day-old backup: the time until each of three devices has
//! converged again, against the time of their initial syncs of the same organisation in
//! the same run (aim: within 2x).
//!
//! An organisation of N records (default 10,000, about 1 KB each) is seeded; three
//! devices sync it in full (the baseline); a backup is taken; each device then changes
//! 1% of the records, and all sync (a day's work); the server is stopped and its database
//! restored from the backup; then the devices sync in turn until all three hold the same
//! states and nothing is held apart: each re-sends everything and pulls from the start.
//!
//! `cargo bench -p passerelle-e2e --bench restore -- [--records 10000] [--backend sqlite|postgres]`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::Instant;

use passerelle_e2e::bench::{arg, person, seed};
use passerelle_e2e::harness::{Backend, Device, Server};
use serde_json::json;
use sync_protocol::RecordState;

fn converged(devices: &[Device]) -> bool {
    let first = devices[0].file.all_states().unwrap();
    devices
        .iter()
        .all(|d| d.file.set_aside().unwrap().is_empty() && d.file.all_states().unwrap() == first)
}

fn main() {
    let n: usize = arg("--records").map_or(10_000, |v| v.parse().unwrap());
    let backend = match arg("--backend").as_deref() {
        Some("postgres") => Backend::Postgres,
        _ => Backend::Sqlite,
    };
    let server = Server::start(backend);
    let (_org, user) = server.new_org();
    let seeder = Device::enrolled("seeder", &server, &user);
    let states: Vec<RecordState> = (0..n)
        .map(|i| person(seeder.file.replica_id(), i))
        .collect();
    seed(&server, &seeder, &states);
    drop(seeder);

    let mut devices: Vec<Device> = ["ana", "bogdan", "claire"]
        .iter()
        .map(|name| Device::enrolled(name, &server, &user))
        .collect();
    let start = Instant::now();
    for device in &mut devices {
        device.sync();
    }
    let initial = start.elapsed().as_secs_f64();

    let folder = tempfile::tempdir().unwrap();
    let backup = folder.path().join("backup.db");
    server.cli(&["backup", "--out", backup.to_str().unwrap()], "");

    // A day's work after the backup: each device changes 1% of the records.
    for (d, device) in devices.iter_mut().enumerate() {
        for s in states.iter().skip(d).step_by(100) {
            device
                .file
                .edit(
                    s.id(),
                    vec![("phone".into(), json!(format!("07 00 00 00 0{d}")))],
                )
                .unwrap();
        }
        device.sync();
    }
    for device in &mut devices {
        device.sync();
    }

    let db = server.kill();
    db.empty_again();
    db.cli(&["restore", "--from", backup.to_str().unwrap()], "");
    let server = Server::start_on(db);
    for device in &mut devices {
        device
            .file
            .set_setting("sync.server_url", &server.url)
            .unwrap();
    }

    let start = Instant::now();
    let mut rounds = 0;
    while !converged(&devices) || rounds == 0 {
        rounds += 1;
        assert!(rounds <= 4, "the devices did not converge in 4 rounds");
        for device in &mut devices {
            device.sync();
        }
    }
    let restored = start.elapsed().as_secs_f64();
    drop(server);

    println!(
        "| backend | records | initial syncs of 3 devices (s) | convergence after the restore (s) | rounds | ratio |"
    );
    println!("|---|---|---|---|---|---|");
    println!(
        "| {backend:?} | {n} | {initial:.2} | {restored:.2} | {rounds} | {:.2}x |",
        restored / initial
    );
}
