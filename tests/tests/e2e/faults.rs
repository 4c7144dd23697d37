//! Faults between the devices and the server: connections cut in the middle of requests
//! and of responses, delayed, and replayed. Once the faults stop and everyone syncs, all
//! case files and the server hold identical states, and no acknowledged edit is missing.

use std::sync::atomic::{AtomicBool, Ordering};

use casefile::Phase;
use passerelle_e2e::bench::{person_with_notes, seed};
use passerelle_e2e::harness::{Backend, Device, Server, patient, settle};
use passerelle_e2e::ledger::Ledger;
use passerelle_e2e::proxy::{Fault, FaultProxy, Rng};
use serde_json::json;
use sync_protocol::RecordState;

use crate::fields;

fn faults_then_convergence(backend: Backend) {
    let server = Server::start(backend);
    let (_org, user) = server.new_org();
    let proxy = FaultProxy::start(server.addr, 0x5eed_0001).unwrap();
    // Enrolment goes straight to the server: a replayed enrolment would replace the token.
    let mut devices: Vec<Device> = ["marie", "ion", "elena"]
        .iter()
        .map(|name| {
            let mut d = Device::enrolled(name, &server, &user);
            d.file.set_setting("sync.server_url", &proxy.url()).unwrap();
            d
        })
        .collect();
    let mut ledger = Ledger::default();
    let mut people = Vec::new();
    let mut failed_syncs = 0;
    for round in 0..12 {
        for (i, device) in devices.iter_mut().enumerate() {
            let replica = device.file.replica_id();
            if round % 3 == 0 || people.is_empty() {
                let id = device
                    .file
                    .create(
                        "person",
                        fields(&[("family_name", json!(format!("Popescu {round}-{i}")))]),
                    )
                    .unwrap();
                ledger.note(replica, None, &device.file.get(id).unwrap());
                people.push(id);
            }
            // Edit a few persons this device already holds, some of them the same field.
            for (k, id) in people
                .iter()
                .enumerate()
                .filter(|(k, _)| (k + round + i) % 3 == 0)
            {
                let Ok(before) = device.file.get(*id) else {
                    continue;
                };
                if before.is_deleted() {
                    continue;
                }
                let field = if k % 2 == 0 { "phone" } else { "notes" };
                let value = json!(format!("{field} {round}-{i}"));
                device.file.edit(*id, fields(&[(field, value)])).unwrap();
                ledger.note(replica, Some(&before), &device.file.get(*id).unwrap());
            }
            if device.try_sync().is_err() {
                failed_syncs += 1;
            }
        }
    }
    let counts = &proxy.counts;
    let seen = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
    assert!(
        seen(&counts.cut_requests) > 0,
        "expected requests cut mid-way: {counts:?}"
    );
    assert!(
        seen(&counts.cut_responses) > 0,
        "expected responses cut mid-way: {counts:?}"
    );
    assert!(
        seen(&counts.replays) > 0,
        "expected replayed requests: {counts:?}"
    );
    assert!(seen(&counts.delays) > 0, "expected delays: {counts:?}");
    eprintln!("faults: {counts:?}; syncs that gave up: {failed_syncs}");

    proxy.set_faults(false);
    let mut fresh = Device::enrolled("nouveau", &server, &user);
    let [a, b, c] = &mut devices[..] else {
        unreachable!()
    };
    settle(&mut [a, b, c, &mut fresh]);
    let states = fresh.file.all_states().unwrap();
    assert!(
        states.len() >= people.len(),
        "the server must hold every person"
    );
    ledger
        .check(&states)
        .unwrap_or_else(|lost| panic!("a write was lost: {lost}"));
    assert!(
        ledger.len() > 50,
        "expected a real workload, got {} writes",
        ledger.len()
    );
}

#[test]
fn faults_then_convergence_sqlite() {
    faults_then_convergence(Backend::Sqlite);
}

#[test]
fn faults_then_convergence_postgres() {
    faults_then_convergence(Backend::Postgres);
}

/// A first sync of 4,500 records is one streamed pull of five pages. Cut anywhere, on
/// every connection, it resumes at the last page applied: the device ends with every
/// record, its checkpoint only ever moved forward, and no page was applied twice (the
/// records applied add up to exactly 4,500).
#[test]
fn a_streamed_pull_cut_anywhere_skips_and_repeats_nothing() {
    const RECORDS: usize = 4500;
    let server = Server::start(Backend::Sqlite);
    let (_org, user) = server.new_org();
    let seeder = Device::enrolled("seeder", &server, &user);
    // Notes that gzip does not shrink to nothing, so that a page is many gzip blocks and
    // a cut can fall inside one.
    let mut rng = Rng::new(0x5eed_0007);
    let mut states: Vec<RecordState> = (0..RECORDS)
        .map(|i| {
            let notes: String = (0..24).map(|_| format!("{:x}", rng.next_u64())).collect();
            person_with_notes(seeder.file.replica_id(), i, &notes)
        })
        .collect();
    seed(&server, &seeder, &states);
    states.sort_by_key(RecordState::id);
    let expected: Vec<String> = states.iter().map(RecordState::to_json).collect();
    let through = |proxy: &FaultProxy, name: &str| {
        let mut device = Device::enrolled(name, &server, &user);
        device
            .file
            .set_setting("sync.server_url", &proxy.url())
            .unwrap();
        device
    };

    let whole = FaultProxy::start_fixed(server.addr, Fault::Pass).unwrap();
    let mut probe = through(&whole, "probe");
    probe.sync();
    assert_eq!(probe.states(), expected);
    let (requests, _, total) = whole.counts.traffic();
    assert!(
        requests <= 2,
        "five pages in one pull (and the replica directory): {requests} requests"
    );

    for share in [35, 60, 85] {
        let cut = usize::try_from(total * share / 100).unwrap();
        let proxy = FaultProxy::start_fixed(server.addr, Fault::CutResponse(cut)).unwrap();
        let mut device = through(&proxy, &format!("cut-{share}"));
        let mut checkpoints = Vec::new();
        let mut applied = None;
        let cancel = AtomicBool::new(false);
        device
            .file
            .sync_with(
                patient(),
                &mut |progress| match progress.phase {
                    Phase::Pull => checkpoints.push(progress.done),
                    Phase::Done => applied = Some(progress.done),
                    _ => {}
                },
                &cancel,
            )
            .unwrap_or_else(|e| panic!("a pull cut at {share}% must resume: {e}"));
        assert!(
            proxy.counts.cut_responses.load(Ordering::Relaxed) > 0,
            "the answers were cut at {cut} bytes"
        );
        assert_eq!(
            device.states(),
            expected,
            "cut at {share}%: every record, as sent"
        );
        assert!(
            checkpoints.windows(2).all(|w| w[0] < w[1] || w[1] == 0),
            "cut at {share}%: the checkpoint only moves forward: {checkpoints:?}"
        );
        assert_eq!(
            applied,
            Some(RECORDS as u64),
            "cut at {share}%: each record applied once"
        );
    }
}
