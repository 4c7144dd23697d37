//! Randomised runs: schedules of random edits on random devices, syncs in random order,
//! faults on and off; after each, convergence (identical states on every device and on
//! the server) and no lost write. `PASSERELLE_E2E_SCHEDULES` sets how many (default 200
//! per backend); a failure names the schedule's seed.

use passerelle_e2e::harness::{Backend, Device, Server, settle};
use passerelle_e2e::ledger::Ledger;
use passerelle_e2e::proxy::{FaultProxy, Rng};
use serde_json::json;
use sync_protocol::RecordId;

use crate::fields;

fn schedules() -> u64 {
    std::env::var("PASSERELLE_E2E_SCHEDULES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

const FIELDS: [&str; 3] = ["given_names", "phone", "notes"];

/// One local operation on `device`, noted in the ledger when it was acknowledged.
fn operate(rng: &mut Rng, device: &mut Device, known: &mut Vec<RecordId>, ledger: &mut Ledger) {
    let replica = device.file.replica_id();
    let pick = |rng: &mut Rng, known: &[RecordId]| known[rng.below(known.len() as u64) as usize];
    let roll = rng.below(100);
    if known.is_empty() || roll < 15 {
        let family = ["Lăcătuș", "Stoica", "Dumitru", "Petrova"][rng.below(4) as usize];
        let id = device
            .file
            .create("person", fields(&[("family_name", json!(family))]))
            .unwrap();
        ledger.note(replica, None, &device.file.get(id).unwrap());
        known.push(id);
        return;
    }
    let id = pick(rng, known);
    let Ok(before) = device.file.get(id) else {
        return; // this device has not received it yet
    };
    if before.is_erased() {
        return;
    }
    let done = if roll < 60 {
        let field = FIELDS[rng.below(3) as usize];
        let value = json!(format!("{field} {}", rng.below(1000)));
        device.file.edit(id, fields(&[(field, value)])).is_ok()
    } else if roll < 70 {
        device.file.delete(id).is_ok()
    } else if roll < 80 {
        device.file.restore(id).is_ok()
    } else {
        let conflicts = before.conflicts();
        if let Some(field) = conflicts.fields.first() {
            if field == "_deleted" {
                device.file.restore(id).is_ok()
            } else {
                let value = json!(format!("choix {}", rng.below(1000)));
                device.file.resolve(id, field, value).is_ok()
            }
        } else if conflicts.deleted_with_edits {
            device.file.delete(id).is_ok()
        } else {
            false
        }
    };
    if done {
        ledger.note(replica, Some(&before), &device.file.get(id).unwrap());
    }
}

fn randomised(backend: Backend) {
    let server = Server::start(backend);
    let proxy = FaultProxy::start(server.addr, 0x5eed_2000).unwrap();
    let mut writes = 0;
    for schedule in 0..schedules() {
        let seed = 0xca5e_0000 + schedule;
        let mut rng = Rng::new(seed);
        let (_org, user) = server.new_org();
        let count = 2 + rng.below(3) as usize;
        let mut devices: Vec<Device> = (0..count)
            .map(|i| {
                let mut d = Device::enrolled(&format!("device {i}"), &server.url, &user);
                d.file.set_setting("sync.server_url", &proxy.url()).unwrap();
                d
            })
            .collect();
        let mut known = Vec::new();
        let mut ledger = Ledger::default();
        for _ in 0..(10 + rng.below(20)) {
            proxy.set_faults(rng.below(3) == 0);
            let d = rng.below(count as u64) as usize;
            if rng.below(100) < 35 {
                // A sync may give up under faults; what it committed stays, and the next
                // one goes on from there.
                let _ = devices[d].try_sync();
            } else {
                operate(&mut rng, &mut devices[d], &mut known, &mut ledger);
            }
        }
        proxy.set_faults(false);
        let mut fresh = Device::enrolled("fresh", &server.url, &user);
        let mut all: Vec<&mut Device> = devices.iter_mut().collect();
        all.push(&mut fresh);
        settle(&mut all);
        let states = fresh.file.all_states().unwrap();
        if let Err(lost) = ledger.check(&states) {
            panic!("schedule {schedule} (seed {seed:#x}): {lost}");
        }
        writes += ledger.len();
    }
    assert!(
        writes > schedules() as usize * 5,
        "expected real work, got {writes} writes"
    );
}

#[test]
fn randomised_schedules_sqlite() {
    randomised(Backend::Sqlite);
}

#[test]
fn randomised_schedules_postgres() {
    randomised(Backend::Postgres);
}
