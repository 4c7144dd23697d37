//! Randomised runs: schedules of random edits (text, exact doubles, clears), deletes,
//! restores, resolutions and erasures on random devices, syncs in random order, faults on
//! and off, and a hostile device pushing crafted states among the honest ones; after each,
//! convergence (every device byte-identical with the server's copy) and no acknowledged
//! write lost. `PASSERELLE_E2E_SCHEDULES` sets how many (default 200 per backend); a
//! failure names the schedule's seed.

use passerelle_e2e::harness::{Backend, Device, Server, settle};
use passerelle_e2e::ledger::Ledger;
use passerelle_e2e::proxy::{FaultProxy, Rng};
use serde_json::{Value, json};
use sync_protocol::RecordId;

use crate::fields;
use crate::hostile::{CRAFTS, Hostile};

fn schedules() -> u64 {
    std::env::var("PASSERELLE_E2E_SCHEDULES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

const FIELDS: [&str; 3] = ["given_names", "phone", "notes"];

/// A latitude or longitude with an arbitrary mantissa, sometimes tiny: a double that
/// only an exact reader keeps (`4.812319103551805e-16`).
fn coordinate(rng: &mut Rng, max: f64) -> f64 {
    let unit = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let x = unit * 2.0 * max - max;
    if rng.below(4) == 0 {
        x * 10f64.powi(-(rng.below(300) as i32))
    } else {
        x
    }
}

/// A random change of one field of a record of `kind`: sites get exact doubles, persons
/// text; one time in six the field is cleared (`null`).
fn change(rng: &mut Rng, kind: &str) -> (&'static str, Value) {
    if kind == "site" {
        let (field, max) = [("lat", 90.0), ("lon", 180.0)][rng.below(2) as usize];
        let value = if rng.below(6) == 0 {
            Value::Null
        } else {
            json!(coordinate(rng, max))
        };
        return (field, value);
    }
    let field = FIELDS[rng.below(3) as usize];
    let value = if rng.below(6) == 0 {
        Value::Null
    } else {
        json!(format!("{field} {}", rng.below(1000)))
    };
    (field, value)
}

/// One local operation on `device`, noted in the ledger when it was acknowledged.
pub(crate) fn operate(
    rng: &mut Rng,
    device: &mut Device,
    known: &mut Vec<RecordId>,
    ledger: &mut Ledger,
) {
    let replica = device.file.replica_id();
    let pick = |rng: &mut Rng, known: &[RecordId]| known[rng.below(known.len() as u64) as usize];
    let roll = rng.below(100);
    if known.is_empty() || roll < 15 {
        let id = if rng.below(3) == 0 {
            let name = ["Lille-Sud", "Hellemmes", "Roubaix", "Tourcoing"][rng.below(4) as usize];
            let lat = coordinate(rng, 90.0);
            device
                .file
                .create(
                    "site",
                    fields(&[("name", json!(name)), ("lat", json!(lat))]),
                )
                .unwrap()
        } else {
            let family = ["Lăcătuș", "Stoica", "Dumitru", "Petrova"][rng.below(4) as usize];
            device
                .file
                .create("person", fields(&[("family_name", json!(family))]))
                .unwrap()
        };
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
        let (field, value) = change(rng, before.kind().as_str());
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
    let (mut attacks, mut erasures) = ([0usize; CRAFTS.len()], 0);
    for schedule in 0..schedules() {
        let seed = 0xca5e_0000 + schedule;
        let mut rng = Rng::new(seed);
        let (org, user) = server.new_org();
        let hostile = Hostile::enrol(&server, &user);
        let count = 2 + rng.below(3) as usize;
        let mut devices: Vec<Device> = (0..count)
            .map(|i| {
                let mut d = Device::enrolled(&format!("device {i}"), &server, &user);
                d.file.set_setting("sync.server_url", &proxy.url()).unwrap();
                d
            })
            .collect();
        let mut known: Vec<RecordId> = Vec::new();
        let mut ledger = Ledger::default();
        for _ in 0..(10 + rng.below(20)) {
            proxy.set_faults(rng.below(3) == 0);
            let d = rng.below(count as u64) as usize;
            let roll = rng.below(100);
            if roll < 4 && !known.is_empty() {
                // A coordinator erases a record; devices learn it at their next pull.
                let id = known[rng.below(known.len() as u64) as usize];
                if hostile
                    .server_states()
                    .iter()
                    .any(|s| s.contains(&id.to_string()))
                {
                    server.erase(&org, &id.to_string());
                    ledger.note_erased(id);
                    erasures += 1;
                }
            } else if roll < 12 {
                if let Some(craft) = hostile.attack(&mut rng) {
                    attacks[craft] += 1;
                }
            } else if roll < 47 {
                // A sync may give up under faults; what it committed stays, and the next
                // one goes on from there.
                let _ = devices[d].try_sync();
            } else {
                operate(&mut rng, &mut devices[d], &mut known, &mut ledger);
            }
        }
        proxy.set_faults(false);
        let mut fresh = Device::enrolled("fresh", &server, &user);
        let mut all: Vec<&mut Device> = devices.iter_mut().collect();
        all.push(&mut fresh);
        settle(&mut all);
        // The server serves an erased record's tombstone until every device dropped it;
        // devices keep none.
        let served: Vec<String> = hostile
            .server_states()
            .into_iter()
            .filter(|s| !s.contains(r#""erased":true"#))
            .collect();
        assert_eq!(
            fresh.states(),
            served,
            "schedule {schedule} (seed {seed:#x}): every device must hold the server's copy, byte for byte"
        );
        for device in &devices {
            assert_eq!(
                device.file.set_aside().unwrap().len(),
                0,
                "schedule {schedule} (seed {seed:#x}): an honest device has nothing set aside"
            );
        }
        let states = fresh.file.all_states().unwrap();
        if let Err(lost) = ledger.check(&states) {
            panic!("schedule {schedule} (seed {seed:#x}): {lost}");
        }
        writes += ledger.len();
    }
    eprintln!("{writes} writes, {erasures} erasures, crafted pushes refused: {attacks:?}");
    assert!(
        writes > schedules() as usize * 5,
        "expected real work, got {writes} writes"
    );
    if schedules() >= 50 {
        assert!(
            attacks.iter().all(|&n| n > 0) && erasures > 0,
            "every craft and erasures must be tried: {attacks:?}, {erasures} erasures"
        );
    }
}

#[test]
fn randomised_schedules_sqlite() {
    randomised(Backend::Sqlite);
}

#[test]
fn randomised_schedules_postgres() {
    randomised(Backend::Postgres);
}
