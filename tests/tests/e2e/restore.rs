//! Restores end to end (SYNC-PROTOCOL.md §6a): the server's database put back from a
//! backup taken before the last syncs (by `restore`, or by copying its SQLite files back),
//! and case files put back from an older copy or copied to a second machine. In each,
//! devices then sync in random orders, and every device and a new one converge to
//! everything written: the ledger shows no acknowledged write lost.

use std::path::{Path, PathBuf};

use passerelle_e2e::harness::{Backend, Device, Server, settle};
use passerelle_e2e::ledger::Ledger;
use passerelle_e2e::proxy::Rng;
use serde_json::{Value, json};
use sync_protocol::RecordId;

use crate::fields;
use crate::random::operate;

/// How the server's database goes back in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PutBack {
    /// `passerelle-server backup` while serving, `restore` into the emptied database.
    Restore,
    /// The SQLite file copied while the server is stopped, and copied back.
    CopyFiles,
}

/// A team of devices of one organisation, working at random.
struct Team {
    org: String,
    user: String,
    devices: Vec<Device>,
    known: Vec<RecordId>,
    ledger: Ledger,
    rng: Rng,
}

impl Team {
    fn new(server: &Server, count: usize, seed: u64) -> Self {
        let (org, user) = server.new_org();
        let devices = (0..count)
            .map(|i| Device::enrolled(&format!("device {i}"), server, &user))
            .collect();
        Self {
            org,
            user,
            devices,
            known: Vec::new(),
            ledger: Ledger::default(),
            rng: Rng::new(seed),
        }
    }

    /// `steps` random edits, deletes, restores and resolutions, and syncs between them.
    fn work(&mut self, steps: usize) {
        for _ in 0..steps {
            let d = self.rng.below(self.devices.len() as u64) as usize;
            if self.rng.below(3) == 0 {
                self.devices[d].sync();
            } else {
                operate(
                    &mut self.rng,
                    &mut self.devices[d],
                    &mut self.known,
                    &mut self.ledger,
                );
            }
        }
    }

    /// The server restarted on another port: every device is told its new address.
    fn point_at(&mut self, server: &Server) {
        for device in &mut self.devices {
            device
                .file
                .set_setting("sync.server_url", &server.url)
                .unwrap();
        }
    }

    /// Every device syncs, in a random order.
    fn sync_in_random_order(&mut self) {
        let mut order: Vec<usize> = (0..self.devices.len()).collect();
        for i in (1..order.len()).rev() {
            let j = self.rng.below(i as u64 + 1) as usize;
            order.swap(i, j);
        }
        for d in order {
            self.devices[d].sync();
        }
    }

    /// Settles every device and a new one; checks convergence, that nothing stays set
    /// aside, and the ledger.
    fn converge(&mut self, server: &Server, what: &str) {
        let mut fresh = Device::enrolled("fresh", server, &self.user);
        let mut all: Vec<&mut Device> = self.devices.iter_mut().collect();
        all.push(&mut fresh);
        settle(&mut all);
        for device in &self.devices {
            assert_eq!(
                device.file.set_aside().unwrap(),
                vec![],
                "{what}: {} has nothing set aside once every device synced",
                device.name
            );
        }
        let states = fresh.file.all_states().unwrap();
        self.ledger
            .check(&states)
            .unwrap_or_else(|lost| panic!("{what}: {lost}"));
        let status: Value =
            serde_json::from_str(&server.cli(&["recovery", "status", "--org", &self.org], ""))
                .unwrap();
        assert_eq!(
            status["held"],
            json!({}),
            "{what}: nothing stays held: {status}"
        );
    }
}

/// Copies a SQLite database file and its WAL, both, as a person would with `cp`.
fn copy_sqlite(from: &Path, to: &Path) {
    std::fs::copy(from, to).unwrap();
    let (wal_from, wal_to) = (with_suffix(from, "-wal"), with_suffix(to, "-wal"));
    if wal_from.exists() {
        std::fs::copy(wal_from, wal_to).unwrap();
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Takes the backup that [`put_back`] will put back: `backup` while serving, or a copy of
/// the files of the stopped server.
fn take(server: Server, how: PutBack, backup: &Path) -> Server {
    match how {
        PutBack::Restore => {
            server.cli(&["backup", "--out", backup.to_str().unwrap()], "");
            server
        }
        PutBack::CopyFiles => {
            let db = server.kill();
            copy_sqlite(&db.dir.path().join("server.db"), backup);
            Server::start_on(db)
        }
    }
}

/// Stops the server, puts its database back from what [`take`] kept, and starts it
/// again in the same working folder (the same journal).
fn put_back(server: Server, how: PutBack, backup: &Path) -> Server {
    let db = server.kill();
    db.empty_again();
    match how {
        PutBack::Restore => {
            let out = db.cli(&["restore", "--from", backup.to_str().unwrap()], "");
            let restored: Value = serde_json::from_str(out.trim()).unwrap();
            assert!(restored["records"].as_u64().unwrap() > 0, "{restored}");
        }
        PutBack::CopyFiles => copy_sqlite(backup, &db.dir.path().join("server.db")),
    }
    Server::start_on(db)
}

fn restored_server(backend: Backend, how: PutBack, seed: u64) {
    let what = format!("{how:?} on {backend:?}, seed {seed:#x}");
    let folder = tempfile::tempdir().unwrap();
    let backup = folder.path().join("backup.db");
    let server = Server::start(backend);
    let mut team = Team::new(&server, 3, seed);
    team.work(25);
    team.sync_in_random_order();
    let server = take(server, how, &backup);
    team.point_at(&server);
    // After the backup: shared records edited by two and three devices, new records,
    // deletes, conflicts and resolutions, each device syncing.
    team.work(40);
    team.sync_in_random_order();
    team.sync_in_random_order();
    let acknowledged: Vec<_> = team
        .devices
        .iter()
        .flat_map(|d| d.file.all_states().unwrap())
        .collect();
    let server = put_back(server, how, &backup);
    team.point_at(&server);
    let restored = Device::enrolled("before the devices sync", &server, &team.user);
    let mut restored = restored;
    restored.sync();
    let lacking = acknowledged
        .iter()
        .filter(|a| {
            restored.file.get(a.id()).map_or(true, |s| {
                sync_protocol::merge(&s, a).map_or(true, |m| m != s)
            })
        })
        .count();
    assert!(
        lacking > 0,
        "{what}: the put-back database must lack acknowledged states, or the test proves nothing"
    );
    for _ in 0..3 {
        team.sync_in_random_order();
    }
    team.converge(&server, &what);
}

#[test]
fn a_restored_server_loses_nothing_sqlite() {
    for seed in [0x5e57_0001, 0x5e57_0002] {
        restored_server(Backend::Sqlite, PutBack::Restore, seed);
    }
}

#[test]
fn a_restored_server_loses_nothing_postgres() {
    for seed in [0x5e57_0003, 0x5e57_0004] {
        restored_server(Backend::Postgres, PutBack::Restore, seed);
    }
}

#[test]
fn sqlite_files_copied_back_lose_nothing() {
    for seed in [0x5e57_0005, 0x5e57_0006] {
        restored_server(Backend::Sqlite, PutBack::CopyFiles, seed);
    }
}

/// A device whose case file is lost after it synced edits that others then built on:
/// after the restore, their states holding its edits wait until a coordinator accepts it.
fn a_device_that_never_comes_back(backend: Backend) {
    let folder = tempfile::tempdir().unwrap();
    let backup = folder.path().join("backup.db");
    let server = Server::start(backend);
    let mut team = Team::new(&server, 3, 0x10_57);
    let id = team.devices[0]
        .file
        .create("person", fields(&[("family_name", json!("Lăcătuș"))]))
        .unwrap();
    team.sync_in_random_order();
    team.sync_in_random_order();
    let server = take(server, PutBack::Restore, &backup);
    // The third device edits, syncs, and is lost; the others pull its edit and build on it.
    let lost = team.devices.pop().unwrap();
    let mut lost = lost;
    lost.file
        .edit(id, fields(&[("phone", json!("0612345678"))]))
        .unwrap();
    lost.sync();
    let lost_id = lost.file.replica_id();
    drop(lost);
    for device in &mut team.devices {
        device.sync();
    }
    team.devices[0]
        .file
        .edit(id, fields(&[("given_names", json!("Ion"))]))
        .unwrap();
    team.devices[0].sync();
    let server = put_back(server, PutBack::Restore, &backup);
    team.point_at(&server);
    team.sync_in_random_order();
    team.sync_in_random_order();
    let status: Value =
        serde_json::from_str(&server.cli(&["recovery", "status", "--org", &team.org], "")).unwrap();
    assert_eq!(
        status["waiting_on"][lost_id.to_string()].as_u64(),
        Some(2),
        "both devices' copies of the person's record wait on the lost device: {status}"
    );
    assert!(
        team.devices[0]
            .file
            .set_aside()
            .unwrap()
            .iter()
            .any(|s| s.id == Some(id)),
        "the device shows the held record as set aside"
    );
    let accepted = server.cli(
        &[
            "recovery",
            "accept",
            "--org",
            &team.org,
            "--device",
            &lost_id.to_string(),
        ],
        "",
    );
    assert!(accepted.contains("\"released\":"), "{accepted}");
    let mut fresh = Device::enrolled("fresh", &server, &team.user);
    let mut all: Vec<&mut Device> = team.devices.iter_mut().collect();
    all.push(&mut fresh);
    settle(&mut all);
    let person = fresh.file.get(id).unwrap();
    assert_eq!(person.value("phone"), Some(&json!("0612345678")));
    assert_eq!(person.value("given_names"), Some(&json!("Ion")));
}

#[test]
fn a_device_that_never_comes_back_sqlite() {
    a_device_that_never_comes_back(Backend::Sqlite);
}

#[test]
fn a_device_that_never_comes_back_postgres() {
    a_device_that_never_comes_back(Backend::Postgres);
}

/// A write made by one life of a copied case file: its replica id is shared by two lives,
/// so the ledger (which knows writes by their dot) cannot follow it; it must reach the
/// team as a value of its field.
struct LifeWrite {
    /// Which life of which file made it.
    life: &'static str,
    record: RecordId,
    field: &'static str,
    value: Value,
}

/// `device` writes `value` into `field` of `record` (or a new person when `None`).
fn life_write(
    life: &'static str,
    device: &mut Device,
    record: Option<RecordId>,
    field: &'static str,
    value: &str,
) -> LifeWrite {
    let value = json!(value);
    let record = match record {
        Some(id) => {
            device
                .file
                .edit(id, fields(&[(field, value.clone())]))
                .unwrap();
            id
        }
        None => device
            .file
            .create("person", fields(&[(field, value.clone())]))
            .unwrap(),
    };
    LifeWrite {
        life,
        record,
        field,
        value,
    }
}

/// A case file put back from an older copy, then edited offline; and a case file copied
/// to a second machine and used on both: every edit of both lives reaches the team.
fn case_file_copies(backend: Backend) {
    let server = Server::start(backend);
    let mut team = Team::new(&server, 2, 0xc0_917);
    team.work(20);
    let x = team.devices[0]
        .file
        .create("person", fields(&[("family_name", json!("Lăcătuș"))]))
        .unwrap();
    team.sync_in_random_order();
    team.sync_in_random_order();
    let mut lives = Vec::new();

    // Device 0's file is copied; the device goes on and syncs; then the copy is put back
    // and edited offline, on the same record and a new one, reusing its edit numbers.
    let older = team.devices[0].copy_files();
    let first_ids = [
        team.devices[0].file.replica_id(),
        team.devices[1].file.replica_id(),
    ];
    lives.push(life_write(
        "0, first",
        &mut team.devices[0],
        Some(x),
        "notes",
        "première vie",
    ));
    lives.push(life_write(
        "0, first",
        &mut team.devices[0],
        None,
        "family_name",
        "Stoica",
    ));
    team.devices[0].sync();
    team.devices[0] = Device::from_copy("device 0, put back", older);
    lives.push(life_write(
        "0, second",
        &mut team.devices[0],
        Some(x),
        "notes",
        "seconde vie",
    ));
    lives.push(life_write(
        "0, second",
        &mut team.devices[0],
        None,
        "family_name",
        "Petrova",
    ));
    team.sync_in_random_order();

    // Device 1's file is copied to a second machine; both are used and synced in turn.
    let copy = team.devices[1].copy_files();
    team.devices
        .push(Device::from_copy("device 1, second machine", copy));
    for round in 0..2 {
        for d in [1, 2] {
            let life = if d == 1 { "1, first" } else { "1, second" };
            lives.push(life_write(
                life,
                &mut team.devices[d],
                Some(x),
                "phone",
                &format!("06{d}{round}"),
            ));
            lives.push(life_write(
                life,
                &mut team.devices[d],
                None,
                "family_name",
                &format!("Dumitru {d}{round}"),
            ));
            team.devices[d].sync();
        }
    }
    team.converge(&server, &format!("case file copies on {backend:?}"));
    assert_ne!(
        team.devices[0].file.replica_id(),
        first_ids[0],
        "the file put back took a new replica id"
    );
    assert!(
        team.devices[1].file.replica_id() != first_ids[1]
            || team.devices[2].file.replica_id() != first_ids[1],
        "one of the two copies took a new replica id"
    );
    let states = team.devices[0].file.all_states().unwrap();
    for write in &lives {
        // A life's own later write to the same field replaces its earlier one.
        let replaced = lives
            .iter()
            .skip_while(|w| !std::ptr::eq(*w, write))
            .skip(1)
            .any(|w| w.record == write.record && w.field == write.field && w.life == write.life);
        if replaced {
            continue;
        }
        let state = states.iter().find(|s| s.id() == write.record).unwrap();
        assert!(
            state
                .entries(write.field)
                .iter()
                .any(|e| e.value == write.value),
            "the write {} of {}.{} must reach the team: {}",
            write.value,
            write.record,
            write.field,
            state.to_json()
        );
    }
}

#[test]
fn case_file_copies_lose_nothing_sqlite() {
    case_file_copies(Backend::Sqlite);
}

#[test]
fn case_file_copies_lose_nothing_postgres() {
    case_file_copies(Backend::Postgres);
}
