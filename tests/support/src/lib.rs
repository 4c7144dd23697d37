//! Test support shared by the workspace's tests (the case file's client tests and the
//! end-to-end scenarios): a real `passerelle-server` process on a fresh database (SQLite
//! or the machine's PostgreSQL), and devices, each a real encrypted case file that enrols
//! and syncs through the `casefile` sync client.

#![forbid(unsafe_code)]
// Test code: a failed set-up step should stop the test with its reason.
#![allow(clippy::expect_used, clippy::panic)]

pub mod baseline;
pub mod samples;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use casefile::{CaseFile, KdfParams, SyncError, SyncOptions, SyncReport};
use serde_json::Value;
use sync_protocol::RecordState;

/// The password of every test user.
pub const PASSWORD: &str = "mot de passe de test";

/// Which storage the server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// One SQLite file.
    Sqlite,
    /// A fresh database on the machine's PostgreSQL.
    Postgres,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// The PostgreSQL the tests use: `PASSERELLE_TEST_POSTGRES`, else the machine's.
pub fn postgres_url() -> String {
    std::env::var("PASSERELLE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

fn psql(sql: &str) {
    let status = Command::new("psql")
        .arg(postgres_url())
        .args(["-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .stdout(Stdio::null())
        .status()
        .expect("psql (postgresql-client) must be installed: scripts/test installs it");
    assert!(status.success(), "expected psql to run {sql:?}");
}

/// A binary of the workspace, next to this test's own target folder; built when missing.
pub fn workspace_binary(name: &str, package: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/debug/deps/e2e-… → target/debug/NAME
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("a test binary lives in target/PROFILE/deps");
    let path = dir.join(name);
    if !path.exists() {
        let release = dir.file_name().is_some_and(|n| n == "release");
        let status = Command::new(env!("CARGO"))
            .args(["build", "-q", "-p", package, "--bin", name])
            .args(release.then_some("--release"))
            .status()
            .expect("cargo must run");
        assert!(
            status.success(),
            "expected `cargo build -p {package}` to succeed"
        );
    }
    path
}

/// A fresh, empty server database, removed at the end.
#[derive(Debug)]
pub struct ServerDatabase {
    /// `sqlite:PATH` or `postgres://…`.
    pub url: String,
    /// The server's working folder (its log, its SQLite file).
    pub dir: tempfile::TempDir,
    pg_name: Option<String>,
}

impl ServerDatabase {
    /// A new database on `backend`.
    pub fn new(backend: Backend) -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        match backend {
            Backend::Sqlite => Self {
                url: format!("sqlite:{}", dir.path().join("server.db").display()),
                dir,
                pg_name: None,
            },
            Backend::Postgres => {
                let name = unique("passerelle_e2e");
                psql(&format!("CREATE DATABASE {name}"));
                let base = postgres_url();
                let root = base
                    .rsplit_once('/')
                    .map_or(base.as_str(), |(root, _)| root);
                Self {
                    url: format!("{root}/{name}"),
                    dir,
                    pg_name: Some(name),
                }
            }
        }
    }
}

impl ServerDatabase {
    /// Makes the database empty again, as for a restore: the SQLite file and its WAL are
    /// removed (the journal beside them stays); the PostgreSQL database is dropped and
    /// created anew.
    pub fn empty_again(&self) {
        match &self.pg_name {
            Some(name) => {
                psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
                psql(&format!("CREATE DATABASE {name}"));
            }
            None => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ =
                        std::fs::remove_file(self.dir.path().join(format!("server.db{suffix}")));
                }
            }
        }
    }

    /// A database this crate did not make (another PostgreSQL cluster's), with a new
    /// working folder; nothing is dropped at the end.
    pub fn external(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            dir: tempfile::tempdir().expect("a temporary folder"),
            pg_name: None,
        }
    }
}

impl ServerDatabase {
    /// Runs a command of the server's command line on this database, in its working folder; answers stdout.
    pub fn cli(&self, args: &[&str], stdin: &str) -> String {
        let mut child = Command::new(workspace_binary("passerelle-server", "passerelle-server"))
            .args(args)
            .args(["--database", &self.url])
            .env("PASSERELLE_INSECURE_FAST_PASSWORD_HASH", "1")
            .current_dir(self.dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the server's command line must start");
        if let Some(mut input) = child.stdin.take() {
            input.write_all(stdin.as_bytes()).expect("stdin");
        }
        let out = child.wait_with_output().expect("the command ends");
        assert!(
            out.status.success(),
            "expected `passerelle-server {}` to succeed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl ServerDatabase {
    /// Everything the database holds, as text: for SQLite every row of every table (blobs
    /// as lossy UTF-8 and hex) and the raw bytes of its file and write-ahead log, lossy
    /// (freed pages included); for PostgreSQL, `pg_dump --data-only`. To prove that a
    /// string is nowhere in the server's tables.
    pub fn every_row_as_text(&self) -> String {
        match &self.pg_name {
            Some(_) => {
                let out = Command::new("pg_dump")
                    .args(["--data-only", "--no-owner", &self.url])
                    .output()
                    .expect("pg_dump (postgresql-client) must be installed");
                assert!(
                    out.status.success(),
                    "expected pg_dump to dump {}",
                    self.url
                );
                String::from_utf8_lossy(&out.stdout).into_owned()
            }
            None => {
                let path = self.dir.path().join("server.db");
                let conn = rusqlite::Connection::open_with_flags(
                    &path,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
                )
                .expect("the server's SQLite file opens");
                let mut out = sqlite_rows(&conn);
                for suffix in ["", "-wal"] {
                    let raw = self.dir.path().join(format!("server.db{suffix}"));
                    if let Ok(bytes) = std::fs::read(raw) {
                        out.push_str(&String::from_utf8_lossy(&bytes));
                    }
                }
                out
            }
        }
    }

    /// The server's journal (§6a), as text; empty when there is none.
    pub fn journal_text(&self) -> String {
        let name = if self.pg_name.is_some() {
            "passerelle-server.journal"
        } else {
            "server.db.journal"
        };
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }
}

fn sqlite_rows(conn: &rusqlite::Connection) -> String {
    use rusqlite::types::ValueRef;
    let mut tables = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .expect("the schema reads");
    let names: Vec<String> = tables
        .query_map([], |r| r.get(0))
        .expect("the schema reads")
        .map(|n| n.expect("a table name"))
        .collect();
    let mut out = String::new();
    for name in names {
        let mut rows = conn
            .prepare(&format!("SELECT * FROM \"{}\"", name.replace('"', "\"\"")))
            .expect("a table reads");
        let width = rows.column_count();
        let mut rows = rows.query([]).expect("a table reads");
        while let Some(row) = rows.next().expect("a row reads") {
            out.push_str(&name);
            for i in 0..width {
                out.push_str(" | ");
                match row.get_ref(i).expect("a value reads") {
                    ValueRef::Null => out.push_str("NULL"),
                    ValueRef::Integer(n) => out.push_str(&n.to_string()),
                    ValueRef::Real(x) => out.push_str(&x.to_string()),
                    ValueRef::Text(b) => out.push_str(&String::from_utf8_lossy(b)),
                    ValueRef::Blob(b) => {
                        out.push_str(&String::from_utf8_lossy(b));
                        b.iter().for_each(|x| out.push_str(&format!("{x:02x}")));
                    }
                }
            }
            out.push('\n');
        }
    }
    out
}

impl Drop for ServerDatabase {
    fn drop(&mut self) {
        if let Some(name) = &self.pg_name {
            psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

/// The organisation of each user added through [`Server::add_user`], to invite them on
/// whichever server process serves their database later (restarted, restored, promoted).
/// Usernames are unique across a server, and [`Server::new_org`] makes unique ones.
static ORGS: std::sync::LazyLock<std::sync::Mutex<std::collections::HashMap<String, String>>> =
    std::sync::LazyLock::new(Default::default);

/// A running `passerelle-server`; killed when dropped.
#[derive(Debug)]
pub struct Server {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: std::net::SocketAddr,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Its database.
    pub db: ServerDatabase,
}

impl Server {
    /// Starts the real binary on `127.0.0.1:0` over a fresh database of `backend`.
    pub fn start(backend: Backend) -> Server {
        Self::start_on(ServerDatabase::new(backend))
    }

    /// Starts the real binary on `127.0.0.1:0` over `db`, in its working folder (where
    /// its log goes, and its journal unless the database is a SQLite file).
    pub fn start_on(db: ServerDatabase) -> Server {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(db.dir.path().join("server.log"))
            .expect("a log file");
        let mut child = Command::new(workspace_binary("passerelle-server", "passerelle-server"))
            .args(["serve", "--listen", "127.0.0.1:0", "--database", &db.url])
            .args(["--rate-limit", "100000"])
            .env("PASSERELLE_INSECURE_FAST_PASSWORD_HASH", "1")
            .current_dir(db.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("the server binary must start");
        let stdout = child.stdout.take().expect("the server's stdout");
        let mut lines = BufReader::new(stdout).lines();
        let line = lines
            .next()
            .and_then(Result::ok)
            .unwrap_or_else(|| panic!("the server printed nothing; see {:?}", db.dir.path()));
        std::thread::spawn(move || lines.for_each(drop));
        let url = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("expected `listening on URL`, got {line:?}"))
            .to_owned();
        let addr = url
            .trim_start_matches("http://")
            .parse()
            .expect("the server listens on an address");
        Server {
            child,
            addr,
            url,
            db,
        }
    }

    /// Runs a command of the server's command line on its database; answers stdout.
    pub fn cli(&self, args: &[&str], stdin: &str) -> String {
        self.db.cli(args, stdin)
    }

    /// Issues a one-time enrolment code for `username` of `org` with the real `device
    /// invite`, valid for `valid` (e.g. `24h`); answers the code, its first line.
    pub fn invite_in(&self, org: &str, username: &str, valid: &str) -> String {
        let out = self.cli(
            &[
                "device",
                "invite",
                "--org",
                org,
                "--username",
                username,
                "--valid",
                valid,
            ],
            "",
        );
        out.lines()
            .next()
            .expect("device invite prints the code on its first line")
            .to_owned()
    }

    /// A new enrolment code (valid 24 hours) for `username`, a user added through
    /// [`add_user`](Self::add_user) or [`new_org`](Self::new_org).
    pub fn invite(&self, username: &str) -> String {
        let org = ORGS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(username)
            .cloned()
            .unwrap_or_else(|| panic!("{username:?} was not added through the test support"));
        self.invite_in(&org, username, "24h")
    }

    /// Adds a user (password [`PASSWORD`]) to `org`, creating the organisation.
    pub fn add_user(&self, org: &str, username: &str, role: &str) {
        ORGS.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(username.to_owned(), org.to_owned());
        let args = [
            "user",
            "add",
            "--org",
            org,
            "--username",
            username,
            "--role",
            role,
        ];
        self.cli(&args, &format!("{PASSWORD}\n"));
    }

    /// Erases a record of `org` from the command line (§5).
    pub fn erase(&self, org: &str, id: &str) {
        self.cli(&["record", "erase", "--org", org, id], "");
    }

    /// A new organisation with one coordinator; answers (org, username).
    pub fn new_org(&self) -> (String, String) {
        let org = unique("org");
        let user = unique("user");
        self.add_user(&org, &user, "coordinator");
        (org, user)
    }
}

impl Server {
    /// Kills the server (as a crash or a power cut would) and answers its database, to
    /// start another server on it, or on what replaces it.
    pub fn kill(mut self) -> ServerDatabase {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let db = ServerDatabase::external("");
        std::mem::replace(&mut self.db, db)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A device: a real encrypted case file in a temporary folder.
#[derive(Debug)]
pub struct Device {
    /// Its case file.
    pub file: CaseFile,
    /// A short name for messages.
    pub name: String,
    _dir: tempfile::TempDir,
}

/// Sync options for tests: quick retries, many of them, so faults are ridden out.
pub fn patient() -> SyncOptions {
    SyncOptions {
        attempts: 40,
        backoff: Duration::from_millis(5),
        timeout: Duration::from_secs(20),
        ..SyncOptions::default()
    }
}

impl Device {
    /// A new case file (cheap key derivation: these files protect nothing).
    pub fn new(name: &str) -> Device {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let file = CaseFile::init_with(
            dir.path().join("case.file"),
            "phrase de passe",
            KdfParams::INSECURE_FOR_TESTS,
        )
        .expect("a new case file");
        Device {
            file,
            name: name.to_owned(),
            _dir: dir,
        }
    }

    /// A new case file enrolled with `server` as `user`, with a code the server's
    /// `device invite` issued.
    pub fn enrolled(name: &str, server: &Server, user: &str) -> Device {
        Self::enrolled_at(name, &server.url, user, &server.invite(user))
    }

    /// A new case file enrolled with the server at `url` (the server itself, or a proxy
    /// in front of it) as `user`, with the enrolment code `code`.
    pub fn enrolled_at(name: &str, url: &str, user: &str, code: &str) -> Device {
        let mut device = Device::new(name);
        device
            .file
            .enrol(url, user, PASSWORD, code, name)
            .unwrap_or_else(|e| panic!("expected {name} to enrol: {e}"));
        device
    }

    /// A copy of this device's case file (its database, its write-ahead log and its key
    /// parameters), as a backup or a cloned disk takes it between two of its writes.
    pub fn copy_files(&self) -> tempfile::TempDir {
        let copy = tempfile::tempdir().expect("a temporary folder");
        for name in ["case.file", "case.file-wal", "case.file.keyparams"] {
            let from = self._dir.path().join(name);
            if from.exists() {
                std::fs::copy(&from, copy.path().join(name)).expect("a copy of the case file");
            }
        }
        copy
    }

    /// A device running on a copy made by [`copy_files`](Self::copy_files): another
    /// machine the case file was copied to, or this one after the copy was put back.
    pub fn from_copy(name: &str, copy: tempfile::TempDir) -> Device {
        let file = CaseFile::open(copy.path().join("case.file"), "phrase de passe")
            .expect("the copied case file opens");
        Device {
            file,
            name: name.to_owned(),
            _dir: copy,
        }
    }

    /// Pushes `records` as this device, by hand (what another app, or a buggy one,
    /// sends) to the server at `url`; answers the status and the JSON body.
    pub fn push_raw(&self, url: &str, records: Value) -> (u16, Value) {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let token = self
            .file
            .setting("sync.device_token")
            .expect("the case file's settings")
            .expect("an enrolled device has a token");
        let response = reqwest::blocking::Client::new()
            .post(format!("{url}/v1/push"))
            .header("Sync-Protocol", "1")
            .header("Authorization", format!("Bearer {token}"))
            .json(&serde_json::json!({ "records": records }))
            .send()
            .expect("the server answers");
        let status = response.status().as_u16();
        (status, response.json().unwrap_or(Value::Null))
    }

    /// Syncs with patient retries.
    pub fn try_sync(&mut self) -> Result<SyncReport, SyncError> {
        let cancel = AtomicBool::new(false);
        self.file.sync_with(patient(), &mut |_| {}, &cancel)
    }

    /// Syncs, and must succeed.
    pub fn sync(&mut self) -> SyncReport {
        self.try_sync()
            .unwrap_or_else(|e| panic!("expected {} to sync: {e}", self.name))
    }

    /// Every state it holds, as canonical JSON, in id order.
    pub fn states(&self) -> Vec<String> {
        self.file
            .all_states()
            .expect("the states of a case file")
            .iter()
            .map(RecordState::to_json)
            .collect()
    }
}

/// Syncs every device twice over (so each sees what the others pushed), then asserts
/// that all hold byte-identical states.
pub fn settle(devices: &mut [&mut Device]) {
    for _ in 0..2 {
        for device in devices.iter_mut() {
            device.sync();
        }
    }
    let first = devices[0].states();
    for device in devices.iter().skip(1) {
        assert_eq!(
            device.states(),
            first,
            "expected {} to hold the same states as {}",
            device.name,
            devices[0].name
        );
    }
}

/// One test per backend: `backends!(name, …)` makes `name::sqlite` and `name::postgres`
/// calling `name(Backend)`.
#[macro_export]
macro_rules! backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn sqlite() {
                    super::$name($crate::Backend::Sqlite)
                }
                #[test]
                fn postgres() {
                    super::$name($crate::Backend::Postgres)
                }
            }
        )*
    };
}
