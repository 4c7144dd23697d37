//! A real `passerelle-server` process for the sync client's tests, on a fresh SQLite file
//! or PostgreSQL database, and devices enrolled with it.
//!
//! The end-to-end crate (`tests/`) has its own harness; this one is the small part the
//! case file's client tests need, kept here so that `cargo nextest run -p casefile`
//! tests the client against the real server. Both should move into one test-support
//! crate (STYLE.md, "Known untidiness").

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use casefile::{CaseFile, KdfParams, SyncError, SyncOptions, SyncReport};
use serde_json::Value;
use tempfile::TempDir;

/// The password of every test user.
pub const PASSWORD: &str = "mot de passe de test";

/// Which storage the server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
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
fn postgres_url() -> String {
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

/// The server binary of the workspace, beside this test's own target folder; built
/// when missing.
fn server_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/debug/deps/it-… → target/debug/passerelle-server
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("a test binary lives in target/PROFILE/deps");
    let path = dir.join("passerelle-server");
    if !path.exists() {
        let release = dir.file_name().is_some_and(|n| n == "release");
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "-q",
                "-p",
                "passerelle-server",
                "--bin",
                "passerelle-server",
            ])
            .args(release.then_some("--release"))
            .status()
            .expect("cargo must run");
        assert!(
            status.success(),
            "expected `cargo build -p passerelle-server` to succeed"
        );
    }
    path
}

/// A running `passerelle-server` on a fresh database; killed, and its database dropped,
/// at the end.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    database: String,
    dir: TempDir,
    pg_name: Option<String>,
}

impl Server {
    /// Starts the real binary on `127.0.0.1:0` over a fresh database of `backend`.
    pub fn start(backend: Backend) -> Server {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let (database, pg_name) = match backend {
            Backend::Sqlite => (
                format!("sqlite:{}", dir.path().join("server.db").display()),
                None,
            ),
            Backend::Postgres => {
                let name = unique("passerelle_casefile");
                psql(&format!("CREATE DATABASE {name}"));
                let base = postgres_url();
                let root = base
                    .rsplit_once('/')
                    .map_or(base.as_str(), |(root, _)| root);
                (format!("{root}/{name}"), Some(name))
            }
        };
        let log = std::fs::File::create(dir.path().join("server.log")).expect("a log file");
        let mut child = Command::new(server_binary())
            .args(["serve", "--listen", "127.0.0.1:0", "--database", &database])
            .args(["--rate-limit", "100000"])
            .env("PASSERELLE_INSECURE_FAST_PASSWORD_HASH", "1")
            .current_dir(dir.path())
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
            .unwrap_or_else(|| panic!("the server printed nothing; see {:?}", dir.path()));
        std::thread::spawn(move || lines.for_each(drop));
        let url = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("expected `listening on URL`, got {line:?}"))
            .to_owned();
        Server {
            child,
            url,
            database,
            dir,
            pg_name,
        }
    }

    /// Runs a command of the server's command line on its database; answers stdout.
    pub fn cli(&self, args: &[&str], stdin: &str) -> String {
        let mut child = Command::new(server_binary())
            .args(args)
            .args(["--database", &self.database])
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

    /// A new organisation with one user; answers the username.
    pub fn new_user(&self) -> String {
        let org = unique("org");
        let user = unique("user");
        self.cli(
            &[
                "user",
                "add",
                "--org",
                &org,
                "--username",
                &user,
                "--role",
                "coordinator",
            ],
            &format!("{PASSWORD}\n"),
        );
        user
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(name) = &self.pg_name {
            psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

/// A device: a real encrypted case file, enrolled with a server.
pub struct Device {
    pub file: CaseFile,
    pub name: String,
    _dir: TempDir,
}

/// Sync options for tests: quick retries.
pub fn patient() -> SyncOptions {
    SyncOptions {
        attempts: 20,
        backoff: Duration::from_millis(5),
        timeout: Duration::from_secs(60),
    }
}

impl Device {
    /// A new case file (cheap key derivation) enrolled with `server` as `user`.
    pub fn enrolled(server: &Server, user: &str, name: &str) -> Device {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let mut file = CaseFile::init_with(
            dir.path().join("case.db"),
            crate::common::PASS,
            KdfParams::INSECURE_FOR_TESTS,
        )
        .expect("a new case file");
        file.enrol(&server.url, user, PASSWORD, name)
            .unwrap_or_else(|e| panic!("expected {name} to enrol: {e}"));
        Device {
            file,
            name: name.to_owned(),
            _dir: dir,
        }
    }

    pub fn try_sync(&mut self) -> Result<SyncReport, SyncError> {
        self.file
            .sync_with(patient(), &mut |_| {}, &AtomicBool::new(false))
    }

    /// Syncs, and must run to its end.
    pub fn sync(&mut self) -> SyncReport {
        self.try_sync()
            .unwrap_or_else(|e| panic!("expected {} to sync: {e}", self.name))
    }

    /// Pushes `records` as this device, by hand: what another app, or a buggy one, sends.
    pub fn push_raw(&self, server: &Server, records: Value) -> (u16, Value) {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let token = self
            .file
            .setting("sync.device_token")
            .unwrap()
            .expect("an enrolled device has a token");
        let response = reqwest::blocking::Client::new()
            .post(format!("{}/v1/push", server.url))
            .header("Sync-Protocol", "1")
            .header("Authorization", format!("Bearer {token}"))
            .json(&serde_json::json!({ "records": records }))
            .send()
            .expect("the server answers");
        let status = response.status().as_u16();
        (status, response.json().unwrap_or(Value::Null))
    }
}

/// One test per backend: `backends!(name, …)` makes `name::sqlite` and `name::postgres`
/// calling `name(Backend)`.
macro_rules! backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn sqlite() {
                    super::$name(crate::server::Backend::Sqlite)
                }
                #[test]
                fn postgres() {
                    super::$name(crate::server::Backend::Postgres)
                }
            }
        )*
    };
}
pub(crate) use backends;
