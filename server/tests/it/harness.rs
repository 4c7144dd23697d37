//! Starting the real `passerelle-server` binary on `127.0.0.1:0`, on a fresh database of
//! either backend, and talking to it over HTTP.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_passerelle-server");

/// The machine's PostgreSQL (trust auth), unless `PASSERELLE_TEST_POSTGRES` names another
/// database whose user may create databases; each test creates its own beside it.
pub fn pg_admin_url() -> String {
    std::env::var("PASSERELLE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// The URL of the database `name` on the server of [`pg_admin_url`].
fn pg_url(name: &str) -> String {
    let admin = pg_admin_url();
    let admin = admin.split('?').next().unwrap_or_default();
    let (server, _) = admin.rsplit_once('/').unwrap();
    format!("{server}/{name}")
}

/// The password every test user has.
pub const PASSWORD: &str = "un mot de passe";

/// Which storage backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The other backend (a backup of one restores into the other).
    pub fn other(self) -> Self {
        match self {
            Self::Sqlite => Self::Postgres,
            Self::Postgres => Self::Sqlite,
        }
    }
}

/// A fresh, empty database, dropped (PostgreSQL) or deleted (SQLite) at the end.
pub struct Database {
    pub url: String,
    pub dir: tempfile::TempDir,
    pg_name: Option<String>,
    /// The organisation of each user added, to invite them.
    orgs: Orgs,
}

/// Username → organisation, shared with the clients that enrol.
type Orgs = std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, String>>>;

/// Issues enrolment codes with the real `device invite` on one database.
#[derive(Clone)]
pub struct Inviter {
    url: String,
    dir: PathBuf,
    orgs: Orgs,
}

impl Inviter {
    /// A new code for `username` (a user added through the harness), read from the first
    /// line `device invite` prints; `None` for a user the harness never added, or one
    /// that `device invite` refuses (disabled).
    pub fn code(&self, username: &str) -> Option<String> {
        let org = self.orgs.lock().unwrap().get(username).cloned()?;
        try_invite(&self.url, &self.dir, &org, username, "24h").ok()
    }
}

/// Runs `device invite`, which must succeed, and answers the code on its first line.
fn invite(url: &str, dir: &std::path::Path, org: &str, username: &str, valid: &str) -> String {
    try_invite(url, dir, org, username, valid)
        .unwrap_or_else(|e| panic!("expected device invite to succeed: {e}"))
}

/// Runs `device invite`: the code on its first line, or what it said on standard error.
fn try_invite(
    url: &str,
    dir: &std::path::Path,
    org: &str,
    username: &str,
    valid: &str,
) -> Result<String, String> {
    let out = Command::new(BIN)
        .args([
            "device",
            "invite",
            "--org",
            org,
            "--username",
            username,
            "--valid",
            valid,
        ])
        .args(["--database", url])
        .env("RUST_LOG", "warn")
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let stdout = String::from_utf8(out.stdout).unwrap();
    Ok(stdout.lines().next().unwrap().to_owned())
}

/// A well-formed code that was never issued.
pub const UNKNOWN_CODE: &str = "0000-0000-0000-0000";

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn pg_admin(sql: &str) {
    let sql = sql.to_owned();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let (client, connection) =
                tokio_postgres::connect(&pg_admin_url(), tokio_postgres::NoTls)
                    .await
                    .expect("the machine's PostgreSQL at 127.0.0.1:5432 must accept user postgres");
            tokio::spawn(connection);
            client.batch_execute(&sql).await.unwrap();
        });
    })
    .join()
    .unwrap();
}

impl Database {
    /// A database the test made itself at `url` (e.g. on a PostgreSQL cluster of its
    /// own), left as it is at the end.
    pub fn at(url: String) -> Self {
        Self {
            url,
            dir: tempfile::tempdir().unwrap(),
            pg_name: None,
            orgs: Orgs::default(),
        }
    }

    pub fn new(backend: Backend) -> Self {
        let dir = tempfile::tempdir().unwrap();
        match backend {
            Backend::Sqlite => Self {
                url: format!("sqlite:{}", dir.path().join("server.db").display()),
                dir,
                pg_name: None,
                orgs: Orgs::default(),
            },
            Backend::Postgres => {
                let name = format!(
                    "passerelle_test_{}_{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::SeqCst),
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap()
                        .subsec_nanos()
                );
                pg_admin(&format!("CREATE DATABASE {name}"));
                Self {
                    url: pg_url(&name),
                    dir,
                    pg_name: Some(name),
                    orgs: Orgs::default(),
                }
            }
        }
    }

    /// Runs a command of the binary on this database.
    pub fn cli(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = Command::new(BIN)
            .args(args)
            .arg("--database")
            .arg(&self.url)
            .env("PASSERELLE_INSECURE_FAST_PASSWORD_HASH", "1")
            .env("RUST_LOG", "warn")
            .current_dir(self.dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // A command that fails before it reads its standard input closes it: the write
        // then fails with a broken pipe, and the command's own answer is what counts.
        let written = child.stdin.take().unwrap().write_all(stdin.as_bytes());
        if let Err(e) = written {
            assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
        }
        child.wait_with_output().unwrap()
    }

    /// Runs a command that must succeed; answers its standard output.
    pub fn cli_ok(&self, args: &[&str], stdin: &str) -> String {
        let out = self.cli(args, stdin);
        assert!(
            out.status.success(),
            "expected `{}` to succeed; stderr: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// The journal (§6a) that `serve` and the command line use on this database unless
    /// told otherwise: `PATH.journal` beside a SQLite file, `passerelle-server.journal`
    /// in the working directory (this database's directory) for PostgreSQL.
    pub fn journal(&self) -> PathBuf {
        match self.url.strip_prefix("sqlite:") {
            Some(path) => PathBuf::from(format!("{path}.journal")),
            None => self.dir.path().join("passerelle-server.journal"),
        }
    }

    /// A new enrolment code for `username` of `org`, valid for `valid` (e.g. `24h`).
    pub fn invite(&self, org: &str, username: &str, valid: &str) -> String {
        invite(&self.url, self.dir.path(), org, username, valid)
    }

    /// What issues codes for the users added through [`add_user`](Self::add_user).
    pub fn inviter(&self) -> Inviter {
        Inviter {
            url: self.url.clone(),
            dir: self.dir.path().to_owned(),
            orgs: self.orgs.clone(),
        }
    }

    pub fn add_user(&self, org: &str, username: &str, role: &str) {
        self.orgs
            .lock()
            .unwrap()
            .insert(username.to_owned(), org.to_owned());
        self.cli_ok(
            &[
                "user",
                "add",
                "--org",
                org,
                "--username",
                username,
                "--role",
                role,
            ],
            &format!("{PASSWORD}\n"),
        );
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Some(name) = &self.pg_name {
            pg_admin(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

/// A running server process.
pub struct Server {
    pub child: Child,
    /// `http://127.0.0.1:PORT` (or https).
    pub base: String,
    pub log: PathBuf,
    /// Codes for enrolments on its database.
    pub inviter: Inviter,
}

impl Server {
    pub fn start(db: &Database, extra: &[&str]) -> Self {
        Self::try_start(db, extra).unwrap_or_else(|e| panic!("the server did not start: {e}"))
    }

    /// Starts `serve --listen 127.0.0.1:0` and reads the address it prints.
    pub fn try_start(db: &Database, extra: &[&str]) -> Result<Self, String> {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let log = db.dir.path().join(format!("server-{n}.log"));
        let mut args = vec!["serve", "--database", &db.url];
        if !extra.contains(&"--listen") {
            args.extend(["--listen", "127.0.0.1:0"]);
        }
        args.extend(extra);
        let mut child = Command::new(BIN)
            .args(&args)
            .current_dir(db.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let Some(Ok(line)) = lines.next() else {
            let _ = child.wait();
            return Err(std::fs::read_to_string(&log).unwrap_or_default());
        };
        std::thread::spawn(move || lines.for_each(drop));
        let base = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("expected `listening on URL`, got {line:?}"))
            .to_owned();
        Ok(Self {
            child,
            base,
            log,
            inviter: db.inviter(),
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM must reach the server");
    }

    /// Sends SIGTERM and waits for a clean exit (at most 20 s).
    pub fn stop(&mut self) {
        self.terminate();
        let status = self.wait_exit(Duration::from_secs(20));
        assert!(
            status.success(),
            "the server exits cleanly on SIGTERM: {status:?}"
        );
    }

    /// Waits for the process to end, at most `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let start = std::time::Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                start.elapsed() < timeout,
                "expected the server to exit within {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A client that enrols with codes issued on the server's database.
    pub fn client(&self) -> Client {
        self.client_from(None)
    }

    /// The same, its connections leaving from `local` (e.g. 127.0.0.2).
    pub fn client_from(&self, local: Option<std::net::IpAddr>) -> Client {
        Client {
            inviter: Some(self.inviter.clone()),
            ..Client::from_address(&self.base, local)
        }
    }

    /// `host:port`, for raw TCP.
    pub fn address(&self) -> String {
        self.base
            .trim_start_matches("http://")
            .trim_start_matches("https://")
            .to_owned()
    }

    /// The process's resident memory now, in KiB (Linux).
    pub fn rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc/PID/status")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP answer: status and JSON body (`Value::Null` when the body is not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    /// The `error.code` of an error answer.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    /// Asserts the status and the error code of §6.
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status.as_u16(), self.code()),
            (status, code),
            "expected {status} {code}, got {self:?}"
        );
        assert!(
            self.body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "expected an error message a person can act on: {self:?}"
        );
    }

    #[track_caller]
    pub fn expect_ok(&self) -> &Value {
        assert_eq!(self.status, StatusCode::OK, "expected 200, got {self:?}");
        &self.body
    }
}

/// A client of one server, optionally with a device token.
#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub token: Option<String>,
    pub device_id: Option<String>,
    /// Issues the codes [`enrol`](Self::enrol) brings, when set.
    pub inviter: Option<Inviter>,
}

impl Client {
    pub fn new(base: &str) -> Self {
        Self::from_address(base, None)
    }

    /// A client whose connections leave from `local` (e.g. 127.0.0.2: another client
    /// address on loopback), or from the system's choice.
    pub fn from_address(base: &str, local: Option<std::net::IpAddr>) -> Self {
        // Only the ring provider is compiled in; a second install fails harmlessly.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .local_address(local)
                .build()
                .unwrap(),
            base: base.to_owned(),
            token: None,
            device_id: None,
            inviter: None,
        }
    }

    /// A request with `Sync-Protocol: 1` and the token, if any.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("Sync-Protocol", "1");
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        request
    }

    /// A request with the token, if any, and `Sync-Protocol: VERSION` if given.
    pub fn request_with_protocol(
        &self,
        method: Method,
        path: &str,
        protocol: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(version) = protocol {
            request = request.header("Sync-Protocol", version);
        }
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        request
    }

    pub async fn send(request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap();
        Answer {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    pub async fn health(&self) -> Answer {
        Self::send(self.http.get(format!("{}/v1/health", self.base))).await
    }

    /// Enrols with a new code for `username` from the client's inviter (the real `device
    /// invite`), or a code never issued when it has none or does not know the user.
    pub async fn enrol(&self, username: &str, password: &str, device_id: Option<&str>) -> Answer {
        let code = self
            .inviter
            .as_ref()
            .and_then(|inviter| inviter.code(username))
            .unwrap_or_else(|| UNKNOWN_CODE.to_owned());
        self.enrol_with_code(username, password, &code, device_id)
            .await
    }

    /// Enrols with the enrolment code `code`.
    pub async fn enrol_with_code(
        &self,
        username: &str,
        password: &str,
        code: &str,
        device_id: Option<&str>,
    ) -> Answer {
        let mut body = json!({
            "username": username,
            "password": password,
            "enrolment_code": code,
            "device_name": "Portable",
        });
        if let Some(id) = device_id {
            body["device_id"] = json!(id);
        }
        Self::send(self.request(Method::POST, "/v1/devices").json(&body)).await
    }

    /// Enrols as `username` (password [`PASSWORD`]) and keeps the token.
    pub async fn enrolled(&self, username: &str) -> Client {
        let answer = self.enrol(username, PASSWORD, None).await;
        assert_eq!(
            answer.status,
            StatusCode::CREATED,
            "expected enrolment: {answer:?}"
        );
        Client {
            token: Some(answer.body["token"].as_str().unwrap().to_owned()),
            device_id: Some(answer.body["device_id"].as_str().unwrap().to_owned()),
            ..self.clone()
        }
    }

    pub fn device(&self) -> &str {
        self.device_id.as_deref().unwrap()
    }

    /// The same device (same token) talking to `server`: a restarted or restored one.
    pub fn on(&self, server: &Server) -> Client {
        Client {
            base: server.base.clone(),
            ..self.clone()
        }
    }

    pub async fn push(&self, records: &[Value]) -> Answer {
        Self::send(
            self.request(Method::POST, "/v1/push")
                .json(&json!({ "records": records })),
        )
        .await
    }

    /// A push that declares `through`, the device's highest local change sequence in it
    /// (§6a): once acknowledged, the server remembers it as the device's `acked`.
    pub async fn push_through(&self, records: &[Value], through: u64) -> Answer {
        Self::send(
            self.request(Method::POST, "/v1/push")
                .json(&json!({ "records": records, "through": through })),
        )
        .await
    }

    /// A pull that declares `pushed`, the device's count of acknowledged pushes (§6a).
    pub async fn pull_pushed(&self, since: u64, pushed: u64) -> Answer {
        Self::send(self.request(
            Method::GET,
            &format!("/v1/pull?since={since}&pushed={pushed}"),
        ))
        .await
    }

    /// `POST /v1/devices/rekey` naming `predecessor` (§6a).
    pub async fn rekey(&self, predecessor: &str) -> Answer {
        Self::send(
            self.request(Method::POST, "/v1/devices/rekey")
                .json(&json!({ "predecessor": predecessor })),
        )
        .await
    }

    pub async fn pull(&self, since: u64, limit: Option<u32>) -> Answer {
        let query = match limit {
            Some(limit) => format!("/v1/pull?since={since}&limit={limit}"),
            None => format!("/v1/pull?since={since}"),
        };
        Self::send(self.request(Method::GET, &query)).await
    }

    /// Pulls every page from `since`; answers the states and the last `next`.
    pub async fn pull_all(&self, since: u64, limit: u32) -> (Vec<Value>, u64) {
        let mut since = since;
        let mut records = Vec::new();
        loop {
            let answer = self.pull(since, Some(limit)).await;
            let body = answer.expect_ok();
            records.extend(body["records"].as_array().unwrap().iter().cloned());
            since = body["next"].as_u64().unwrap();
            if !body["more"].as_bool().unwrap() {
                return (records, since);
            }
        }
    }

    pub async fn erase(&self, id: &str) -> Answer {
        Self::send(
            self.request(Method::POST, "/v1/erase")
                .json(&json!({ "id": id })),
        )
        .await
    }

    pub async fn replicas(&self) -> Answer {
        Self::send(self.request(Method::GET, "/v1/replicas")).await
    }
}

/// A fresh record id.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// A state made by one edit `[replica, n]` that wrote every field of `fields`, with
/// `vv = {replica: n}`.
pub fn state(id: &str, kind: &str, replica: &str, n: u64, fields: Value) -> Value {
    let fields: serde_json::Map<String, Value> = fields
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, value)| {
            (
                name.clone(),
                json!([{"dot": [replica, n], "at": "2026-11-02T10:14:00Z", "value": value}]),
            )
        })
        .collect();
    json!({"id": id, "kind": kind, "vv": {replica: n}, "fields": fields})
}

/// A server on a fresh database with two organisations: `nord` (counsellor `marie`,
/// coordinator `claire`) and `sud` (counsellor `paul`).
pub struct Setup {
    pub server: Server,
    pub db: Database,
}

impl Setup {
    pub fn new(backend: Backend) -> Self {
        Self::with_args(backend, &[])
    }

    pub fn with_args(backend: Backend, extra: &[&str]) -> Self {
        let db = Database::new(backend);
        db.add_user("nord", "marie", "counsellor");
        db.add_user("nord", "claire", "coordinator");
        db.add_user("sud", "paul", "counsellor");
        let server = Server::start(&db, extra);
        Self { server, db }
    }

    pub fn client(&self) -> Client {
        self.server.client()
    }
}

/// Generates one test per backend from `async fn NAME(backend: Backend)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::harness::Backend::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::harness::Backend::Postgres).await;
                }
            }
        )*
    };
}
