//! Faults between the devices and the server: connections cut in the middle of requests
//! and of responses, delayed, and replayed. Once the faults stop and everyone syncs, all
//! case files and the server hold identical states, and no acknowledged edit is missing.

use std::sync::atomic::Ordering;

use passerelle_e2e::harness::{Backend, Device, Server, settle};
use passerelle_e2e::ledger::Ledger;
use passerelle_e2e::proxy::FaultProxy;
use serde_json::json;

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
