//! The PostgreSQL fail-over drill (SYNC-PROTOCOL.md §6a): a primary and a streaming
//! standby, two clusters of this machine's PostgreSQL on free ports, started here; the
//! server on the primary and devices syncing through it; then the primary is killed, the
//! standby promoted, and a new server started on it with the same journal.
//!
//! - With a **synchronous** standby (`synchronous_commit = on`), the promoted standby
//!   already holds every state the devices had at their last sync, before any of them
//!   syncs again: nothing acknowledged is lost.
//! - With an **asynchronous** standby that missed the last syncs (stopped before them, so
//!   the loss is certain, not a race), the promoted standby lacks acknowledged edits; the
//!   devices find out (`checkpoint_ahead`), send everything again, and every edit comes
//!   back: the devices and a new device converge, and the ledger loses nothing.
//!
//! PostgreSQL refuses to run as root: when the tests run as root, the clusters run as the
//! `postgres` user (`runuser`).

use std::path::{Path, PathBuf};
use std::process::Command;

use passerelle_e2e::harness::{Device, Server, ServerDatabase};
use passerelle_e2e::ledger::Ledger;
use serde_json::json;
use sync_protocol::{RecordId, RecordState, merge};

use crate::fields;

/// The folder of PostgreSQL's server programs (`initdb`, `pg_ctl`, `pg_basebackup`).
fn pg_bin() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL's server programs under /usr/lib/postgresql")
        .filter_map(Result::ok)
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").exists())
        .collect();
    versions.sort();
    versions
        .pop()
        .expect("initdb under /usr/lib/postgresql/*/bin")
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A PostgreSQL program, run as `postgres` when the tests run as root.
fn pg(program: &str) -> Command {
    let path = pg_bin().join(program);
    if running_as_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(path);
        command
    } else {
        Command::new(path)
    }
}

fn run(mut command: Command, what: &str) -> String {
    let out = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A free port on loopback.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A folder the cluster's user owns.
fn cluster_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary folder");
    if running_as_root() {
        run(
            {
                let mut c = Command::new("chown");
                c.args(["postgres:postgres"]).arg(dir.path());
                c
            },
            "chown to postgres",
        );
    }
    dir
}

/// One PostgreSQL cluster of this machine, stopped (immediately) when dropped.
struct Cluster {
    dir: tempfile::TempDir,
    port: u16,
}

impl Cluster {
    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn settings(dir: &Path, port: u16) -> String {
        format!(
            "port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
             wal_level = replica\nmax_wal_senders = 4\nhot_standby = on\nfsync = on\n\
             synchronous_commit = on\nshared_buffers = 16MB\n",
            dir.display()
        )
    }

    fn append_settings(&self, text: &str) {
        let conf = self.data().join("postgresql.conf");
        let script = format!("printf '%s' \"$0\" >> '{}'", conf.display());
        let mut command = if running_as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", "sh"]);
            c
        } else {
            Command::new("sh")
        };
        command.args(["-c", &script, text]);
        run(command, "writing postgresql.conf");
    }

    /// A new primary.
    fn primary() -> Self {
        let cluster = Self {
            dir: cluster_dir(),
            port: free_port(),
        };
        let mut initdb = pg("initdb");
        initdb.arg("-D").arg(cluster.data()).args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ]);
        run(initdb, "initdb");
        cluster.append_settings(&Self::settings(cluster.dir.path(), cluster.port));
        cluster.start();
        cluster
    }

    /// A streaming standby of `primary`.
    fn standby_of(primary: &Cluster) -> Self {
        let cluster = Self {
            dir: cluster_dir(),
            port: free_port(),
        };
        let mut basebackup = pg("pg_basebackup");
        basebackup
            .args(["-h", "127.0.0.1", "-p", &primary.port.to_string()])
            .args(["-U", "postgres", "-R", "-X", "stream", "--checkpoint=fast"])
            .arg("-D")
            .arg(cluster.data());
        run(basebackup, "pg_basebackup");
        cluster.append_settings(&Self::settings(cluster.dir.path(), cluster.port));
        cluster.start();
        cluster
    }

    fn start(&self) {
        let mut ctl = pg("pg_ctl");
        ctl.arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.dir.path().join("log"))
            .args(["-w", "start"]);
        run(ctl, "pg_ctl start");
    }

    fn stop(&self, mode: &str) {
        let mut ctl = pg("pg_ctl");
        ctl.arg("-D")
            .arg(self.data())
            .args(["-m", mode, "-w", "stop"]);
        run(ctl, "pg_ctl stop");
    }

    fn promote(&self) {
        let mut ctl = pg("pg_ctl");
        ctl.arg("-D").arg(self.data()).args(["-w", "promote"]);
        run(ctl, "pg_ctl promote");
    }

    /// Runs SQL with psql on `database`; answers the unaligned result.
    fn sql(&self, database: &str, sql: &str) -> String {
        let mut psql = Command::new("psql");
        psql.args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", "postgres", "-d", database, "-tA", "-c", sql]);
        run(psql, "psql")
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/passerelle", self.port)
    }

    /// Waits until the standby of this primary has replayed everything written so far.
    fn wait_replayed(&self) {
        let target = self.sql("postgres", "SELECT pg_current_wal_lsn()");
        for _ in 0..600 {
            let caught = self.sql(
                "postgres",
                &format!(
                    "SELECT count(*) FROM pg_stat_replication WHERE replay_lsn >= '{}'",
                    target.trim()
                ),
            );
            if caught.trim() == "1" {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("the standby did not catch up with the primary");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let mut ctl = pg("pg_ctl");
        ctl.arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "stop"]);
        let _ = ctl.output();
    }
}

/// Three devices of one organisation, each editing records of its own and shared ones,
/// every edit noted in the ledger.
struct Team {
    user: String,
    devices: Vec<Device>,
    shared: Vec<RecordId>,
    ledger: Ledger,
    round: u32,
}

impl Team {
    fn enrol(server: &Server) -> Self {
        let (_, user) = server.new_org();
        let devices: Vec<Device> = ["ana", "bogdan", "claire"]
            .iter()
            .map(|name| Device::enrolled(name, server, &user))
            .collect();
        let mut team = Self {
            user,
            devices,
            shared: Vec::new(),
            ledger: Ledger::default(),
            round: 0,
        };
        let first = &mut team.devices[0];
        for family in ["Lăcătuș", "Ștefan", "Dumitru"] {
            let id = first
                .file
                .create("person", fields(&[("family_name", json!(family))]))
                .unwrap();
            team.ledger
                .note(first.file.replica_id(), None, &first.file.get(id).unwrap());
            team.shared.push(id);
        }
        team.sync_all();
        team.sync_all();
        team
    }

    /// Each device edits every shared record and creates one of its own, then syncs.
    fn work_and_sync(&mut self) {
        self.round += 1;
        for (n, device) in self.devices.iter_mut().enumerate() {
            let replica = device.file.replica_id();
            for id in &self.shared {
                let before = device.file.get(*id).unwrap();
                device
                    .file
                    .edit(
                        *id,
                        fields(&[("notes", json!(format!("round {} by {n}", self.round)))]),
                    )
                    .unwrap();
                self.ledger
                    .note(replica, Some(&before), &device.file.get(*id).unwrap());
            }
            let own = device
                .file
                .create(
                    "person",
                    fields(&[("family_name", json!(format!("Rus {} {n}", self.round)))]),
                )
                .unwrap();
            self.ledger
                .note(replica, None, &device.file.get(own).unwrap());
            device.sync();
        }
    }

    fn sync_all(&mut self) {
        for device in &mut self.devices {
            device.sync();
        }
    }

    fn point_at(&mut self, url: &str) {
        for device in &mut self.devices {
            device.file.set_setting("sync.server_url", url).unwrap();
        }
    }

    /// What the devices held at their last sync (each pushed all of it).
    fn acknowledged(&self) -> Vec<RecordState> {
        self.devices
            .iter()
            .flat_map(|d| d.file.all_states().unwrap())
            .collect()
    }
}

/// Whether `server` (states by id) holds everything of `states`.
fn missing(server: &[RecordState], states: &[RecordState]) -> usize {
    states
        .iter()
        .filter(|state| {
            !server
                .iter()
                .find(|s| s.id() == state.id())
                .is_some_and(|s| merge(s, state).is_ok_and(|m| m == *s))
        })
        .count()
}

/// A new device of the organisation pulls everything from `server`.
fn fresh_copy(server: &Server, user: &str) -> Vec<RecordState> {
    let mut device = Device::enrolled("fresh", server, user);
    device.sync();
    device.file.all_states().unwrap()
}

fn drill(synchronous: bool) {
    let primary = Cluster::primary();
    let standby = Cluster::standby_of(&primary);
    if synchronous {
        primary.sql(
            "postgres",
            "ALTER SYSTEM SET synchronous_standby_names = '*'",
        );
        primary.sql("postgres", "SELECT pg_reload_conf()");
    }
    primary.sql("postgres", "CREATE DATABASE passerelle");
    let server = Server::start_on(ServerDatabase::external(&primary.url()));
    let mut team = Team::enrol(&server);
    team.work_and_sync();
    primary.wait_replayed();
    if !synchronous {
        // The standby misses what comes next: an asynchronous standby's lag, made certain.
        standby.stop("fast");
    }
    team.work_and_sync();
    team.work_and_sync();
    let acknowledged = team.acknowledged();

    // The primary dies; the standby is promoted; a server starts on it with the same
    // working folder (the same journal).
    primary.stop("immediate");
    let mut db = server.kill();
    if !synchronous {
        standby.start();
    }
    standby.promote();
    db.url = standby.url();
    let server = Server::start_on(db);

    let before = fresh_copy(&server, &team.user);
    let lost = missing(&before, &acknowledged);
    if synchronous {
        assert_eq!(
            lost, 0,
            "a synchronous standby holds every acknowledged state before any device syncs"
        );
    } else {
        assert!(
            lost > 0,
            "the asynchronous standby was stopped before the last syncs: it must lack them"
        );
    }

    team.point_at(&server.url);
    team.sync_all();
    team.sync_all();
    team.work_and_sync();
    team.sync_all();
    let states = team.devices[0].file.all_states().unwrap();
    for device in &team.devices[1..] {
        assert_eq!(
            device.file.all_states().unwrap(),
            states,
            "{} converged",
            device.name
        );
    }
    team.ledger
        .check(&states)
        .unwrap_or_else(|e| panic!("an acknowledged write was lost: {e}"));
    let after = fresh_copy(&server, &team.user);
    assert_eq!(after, states, "a new device gets everything");
    drop(standby);
}

#[test]
fn a_synchronous_standby_loses_nothing_acknowledged() {
    drill(true);
}

#[test]
fn what_an_asynchronous_standby_lost_comes_back_from_the_devices() {
    drill(false);
}
