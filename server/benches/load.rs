//! Load benchmark of `passerelle-server`: N simulated devices (N = 1, 10, 100) pushing and
//! pulling batches against the real server binary on loopback, on SQLite and PostgreSQL.
//!
//! ```text
//! cargo bench -p passerelle-server --bench load -- [--seconds 10] [--devices 1,10,100]
//!     [--backends sqlite,postgres] [--batch 100] [--servers 1,3] [--orgs 10]
//! ```
//!
//! Each device, in a loop: pushes a batch (half new records, half new edits of records it
//! made before), then pulls every page since its checkpoint. Devices are grouped ten to
//! an organisation (or spread over `--orgs` organisations), so each pulls what the others
//! of its team pushed.
//!
//! `--servers N` (PostgreSQL only, for N above 1) runs N server processes on the one
//! database, behind nginx (Debian's package) configured by `server/deploy/nginx.conf`, the
//! deployment's own file: every request goes through nginx, round robin. Every run ends
//! with a pager's check, on every backend: once the load stops, each device pulls what it
//! has not seen yet, then for each organisation (a) its highest sequence is the number of
//! changes its devices made (no sequence skipped, none handed out twice) and (b) every
//! device's copy of every record is the server's (no change missed by a device whose
//! checkpoint moved past it). A failed check ends the benchmark. Printed per run:
//! records merged per second (created + merged results), p50/p99 latency of pushes and
//! pulls, errors (any answer but 200, or a transport failure; must be 0), and the
//! server's peak resident memory (VmHWM). The server runs with `--rate-limit 100000`: the
//! benchmark measures the server, not the per-device limit. Client and server share the
//! machine's cores, so the figures are a floor. Baseline, measured in the same run before
//! the load: the median round trip of `GET /v1/health` (HTTP on loopback, no database);
//! the table gives the push median as a multiple of it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::Mutex;

const BIN: &str = env!("CARGO_BIN_EXE_passerelle-server");
/// The PostgreSQL server to bench on: `PASSERELLE_TEST_POSTGRES`, or the machine's.
fn pg_admin_url() -> String {
    std::env::var("PASSERELLE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}
const PASSWORD: &str = "benchmark password";
const DEVICES_PER_ORG: usize = 10;

struct Options {
    seconds: u64,
    devices: Vec<usize>,
    backends: Vec<String>,
    batch: usize,
    servers: Vec<usize>,
    orgs: Option<usize>,
}

fn options() -> Options {
    let mut options = Options {
        seconds: 10,
        devices: vec![1, 10, 100],
        backends: vec!["sqlite".into(), "postgres".into()],
        batch: 100,
        servers: vec![1],
        orgs: None,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--seconds" => options.seconds = value.parse().unwrap(),
            "--devices" => {
                options.devices = value.split(',').map(|n| n.parse().unwrap()).collect();
            }
            "--backends" => options.backends = value.split(',').map(str::to_owned).collect(),
            "--batch" => options.batch = value.parse().unwrap(),
            "--servers" => {
                options.servers = value.split(',').map(|n| n.parse().unwrap()).collect();
            }
            "--orgs" => options.orgs = Some(value.parse().unwrap()),
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    options
}

async fn pg_admin(sql: &str) {
    let (client, connection) = tokio_postgres::connect(&pg_admin_url(), tokio_postgres::NoTls)
        .await
        .expect("the benchmark needs PostgreSQL at 127.0.0.1:5432, user postgres");
    tokio::spawn(connection);
    client.batch_execute(sql).await.unwrap();
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn cli(url: &str, dir: &std::path::Path, args: &[&str], stdin: &str) {
    let mut child = Command::new(BIN)
        .args(args)
        .args(["--database", url])
        .env("RUST_LOG", "warn")
        .env("PASSERELLE_INSECURE_FAST_PASSWORD_HASH", "1")
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "{args:?} failed");
}

/// A one-time enrolment code for `username` of `org`: the first line `device invite`
/// prints.
fn invite(url: &str, dir: &std::path::Path, org: &str, username: &str) -> String {
    let out = Command::new(BIN)
        .args(["device", "invite", "--org", org, "--username", username])
        .args(["--database", url])
        .env("RUST_LOG", "warn")
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "device invite failed");
    let stdout = String::from_utf8(out.stdout).unwrap();
    stdout.lines().next().unwrap().to_owned()
}

fn start(url: &str, dir: &std::path::Path) -> Server {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--rate-limit", "100000"])
        // A thousand devices hold a thousand connections: above the default cap of 1024
        // once the pager and the enrolments are counted.
        .args(["--max-connections", "8192"])
        .args(["--database", url, "--trusted-proxy", "127.0.0.1"])
        .env("RUST_LOG", "warn")
        .env("PASSERELLE_INSECURE_FAST_PASSWORD_HASH", "1")
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = lines.next().unwrap().unwrap();
    std::thread::spawn(move || lines.for_each(drop));
    let base = line.strip_prefix("listening on ").unwrap().to_owned();
    Server { child, base }
}

/// nginx in front of the servers, from the deployment's `server/deploy/nginx.conf`.
struct Front {
    child: Child,
    base: String,
    dir: std::path::PathBuf,
}

impl Drop for Front {
    fn drop(&mut self) {
        // Stopped by its own signal: killing the master would leave its workers running.
        let stopped = Command::new("nginx")
            .arg("-p")
            .arg(&self.dir)
            .arg("-c")
            .arg(self.dir.join("nginx.conf"))
            .args(["-s", "stop"])
            .status();
        if !stopped.is_ok_and(|s| s.success()) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

fn nginx(dir: &std::path::Path, servers: &[Server]) -> Front {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let upstreams: String = servers
        .iter()
        .map(|s| {
            let address = s.base.trim_start_matches("http://");
            format!("        server {address} max_fails=1 fail_timeout=5s;\n")
        })
        .collect();
    let conf = include_str!("../deploy/nginx.conf")
        .replace("@PREFIX@", &dir.display().to_string())
        .replace("@LISTEN@", &format!("127.0.0.1:{port}"))
        .replace("@UPSTREAMS@\n", &upstreams);
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).unwrap();
    let mut child = Command::new("nginx")
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(&path)
        .arg("-e")
        .arg(dir.join("error.log"))
        .args(["-g", "daemon off;"])
        .stdin(Stdio::null())
        .spawn()
        .expect("--servers above 1 needs nginx (Debian's package: apt install nginx)");
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Front {
                child,
                base,
                dir: dir.to_owned(),
            };
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!(
        "nginx did not listen on {port}: {}",
        std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
    );
}

fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[derive(Default)]
struct Tally {
    merged: u64,
    errors: u64,
    push_latency: Vec<Duration>,
    pull_latency: Vec<Duration>,
    pulled: u64,
}

fn entry(replica: &str, n: u64, value: Value) -> Value {
    json!([{"dot": [replica, n], "at": "2026-11-02T10:14:00Z", "value": value}])
}

/// What a device holds once the load stopped: for the pager's check.
struct Copy {
    token: String,
    /// Each record's version vector as this device last pushed or pulled it.
    records: HashMap<String, Value>,
    /// Its checkpoint.
    since: u64,
    /// The changes it made that the server took (created or merged).
    changes: u64,
}

/// Pulls every page since `since` into `records`, moving `since` past each page taken
/// (a page lost midway is asked again from there, as the app does).
async fn pull_all(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    since: &mut u64,
    records: &mut HashMap<String, Value>,
    local: &mut Tally,
) -> Result<(), String> {
    loop {
        let started = Instant::now();
        let response = http
            .get(format!("{base}/v1/pull?since={since}&limit=1000"))
            .bearer_auth(token)
            .header("Sync-Protocol", "1")
            .send()
            .await
            .map_err(|e| format!("pull failed: {e}"))?;
        if response.status() != 200 {
            return Err(format!("pull answered {}", response.status()));
        }
        let body: Value = response.json().await.unwrap();
        local.pull_latency.push(started.elapsed());
        let page = body["records"].as_array().unwrap();
        local.pulled += page.len() as u64;
        for state in page {
            records.insert(
                state["id"].as_str().unwrap().to_owned(),
                state["vv"].clone(),
            );
        }
        *since = body["next"].as_u64().unwrap();
        if !body["more"].as_bool().unwrap() {
            return Ok(());
        }
    }
}

/// One device's loop until `deadline`.
async fn device(
    http: reqwest::Client,
    base: String,
    token: String,
    me: String,
    batch: usize,
    deadline: Instant,
    tally: Arc<Mutex<Tally>>,
) -> Copy {
    let mut mine: Vec<(String, u64)> = Vec::new();
    let mut copy: HashMap<String, Value> = HashMap::new();
    let mut since = 0u64;
    let mut changes = 0u64;
    let mut local = Tally::default();
    let mut next_edit = 0usize;
    while Instant::now() < deadline {
        let mut records = Vec::with_capacity(batch);
        let edits = if mine.len() >= batch { batch / 2 } else { 0 };
        for _ in 0..edits {
            let count = mine.len();
            let (id, n) = &mut mine[next_edit % count];
            next_edit += 1;
            *n += 1;
            records.push(json!({
                "id": id, "kind": "visit", "vv": {me.as_str(): *n},
                "fields": {
                    "observations": entry(&me, *n, json!(format!("observation {n}"))),
                    "setting": entry(&me, 1, json!("site")),
                }
            }));
        }
        for _ in edits..batch {
            let id = uuid::Uuid::now_v7().to_string();
            records.push(json!({
                "id": id, "kind": "visit", "vv": {me.as_str(): 1},
                "fields": {
                    "observations": entry(&me, 1, json!("first visit, family met at the site")),
                    "setting": entry(&me, 1, json!("site")),
                }
            }));
            mine.push((id, 1));
        }
        // An edit changes `observations` only: its `setting` entry keeps dot 1.
        let started = Instant::now();
        let answer = http
            .post(format!("{base}/v1/push"))
            .bearer_auth(&token)
            .header("Sync-Protocol", "1")
            .json(&json!({ "records": records }))
            .send()
            .await;
        match answer {
            Ok(response) if response.status() == 200 => {
                let body: Value = response.json().await.unwrap();
                local.push_latency.push(started.elapsed());
                let merged = body["results"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|r| r["status"] != "unchanged")
                    .count() as u64;
                local.merged += merged;
                changes += merged;
                // Only this device edits its records: the server's copy is what it sent.
                for record in &records {
                    copy.insert(
                        record["id"].as_str().unwrap().to_owned(),
                        record["vv"].clone(),
                    );
                }
            }
            Ok(response) => {
                eprintln!("push answered {}", response.status());
                local.errors += 1;
            }
            Err(error) => {
                eprintln!("push failed: {error}");
                local.errors += 1;
            }
        }
        if let Err(error) = pull_all(&http, &base, &token, &mut since, &mut copy, &mut local).await
        {
            eprintln!("{error}");
            local.errors += 1;
        }
    }
    let mut tally = tally.lock().await;
    tally.merged += local.merged;
    tally.errors += local.errors;
    tally.pulled += local.pulled;
    tally.push_latency.extend(local.push_latency);
    tally.pull_latency.extend(local.pull_latency);
    Copy {
        token,
        records: copy,
        since,
        changes,
    }
}

/// The pager's check, once the load stopped: each device pulls what it has not seen yet;
/// then, for each organisation, its highest sequence is the number of changes its devices
/// made (no sequence skipped or handed out twice), and every device's copy of every
/// record is the server's (no change missed). Panics on any difference.
async fn check_pages(http: &reqwest::Client, base: &str, teams: Vec<Vec<Copy>>, pagers: &[String]) {
    for ((org, mut team), pager) in teams.into_iter().enumerate().zip(pagers) {
        let mut quiet = Tally::default();
        for copy in &mut team {
            let Copy {
                token,
                records,
                since,
                ..
            } = copy;
            pull_all(http, base, token, since, records, &mut quiet)
                .await
                .unwrap_or_else(|e| panic!("team{org}: the last pull failed: {e}"));
        }
        // The pager, a device of the team that never pushed: every page from the start.
        let mut whole = HashMap::new();
        let mut highest = 0;
        pull_all(http, base, pager, &mut highest, &mut whole, &mut quiet)
            .await
            .unwrap_or_else(|e| panic!("team{org}: the pager's pull failed: {e}"));
        let changes: u64 = team.iter().map(|c| c.changes).sum();
        assert_eq!(
            highest, changes,
            "team{org}: the highest sequence is not the number of changes made (a sequence skipped or handed out twice)"
        );
        for (d, copy) in team.iter().enumerate() {
            assert_eq!(
                copy.records.len(),
                whole.len(),
                "team{org}: device {d} holds {} records, the server {}",
                copy.records.len(),
                whole.len()
            );
            for (id, vv) in &whole {
                assert_eq!(
                    copy.records.get(id),
                    Some(vv),
                    "team{org}: device {d} missed a change of {id}"
                );
            }
        }
    }
}

fn percentile(samples: &mut [Duration], p: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.sort();
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[i].as_secs_f64() * 1000.0
}

async fn run(backend: &str, devices: usize, servers: usize, options: &Options) -> String {
    let dir = tempfile::tempdir().unwrap();
    let pg_name = format!(
        "passerelle_bench_{}_{devices}_{servers}",
        std::process::id()
    );
    let url = match backend {
        "sqlite" => format!("sqlite:{}", dir.path().join("bench.db").display()),
        _ => {
            pg_admin(&format!("DROP DATABASE IF EXISTS {pg_name}")).await;
            pg_admin(&format!("CREATE DATABASE {pg_name}")).await;
            let admin = pg_admin_url();
            let (server, _) = admin.split('?').next().unwrap().rsplit_once('/').unwrap();
            format!("{server}/{pg_name}")
        }
    };
    let orgs = options
        .orgs
        .unwrap_or(devices.div_ceil(DEVICES_PER_ORG))
        .clamp(1, devices);
    let org_of = |d: usize| d * orgs / devices;
    for org in 0..orgs {
        cli(
            &url,
            dir.path(),
            &[
                "user",
                "add",
                "--org",
                &format!("team{org}"),
                "--username",
                &format!("counsellor{org}"),
                "--role",
                "counsellor",
            ],
            &format!("{PASSWORD}\n"),
        );
    }
    let processes: Vec<Server> = (0..servers).map(|_| start(&url, dir.path())).collect();
    let front = (servers > 1).then(|| nginx(dir.path(), &processes));
    let base = front
        .as_ref()
        .map_or_else(|| processes[0].base.clone(), |f| f.base.clone());
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(devices)
        .build()
        .unwrap();
    // Every process serves the same server: one id, one epoch.
    let mut ids = Vec::new();
    for process in &processes {
        let health: Value = http
            .get(format!("{}/v1/health", process.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ids.push((health["server_id"].clone(), health["epoch"].clone()));
    }
    ids.dedup();
    assert_eq!(
        ids.len(),
        1,
        "the processes serve different servers: {ids:?}"
    );
    let mut enrolled = Vec::new();
    // The devices under load, then one pager a team (`check_pages`).
    for d in 0..devices + orgs {
        let team = if d < devices { org_of(d) } else { d - devices };
        let (org, username) = (format!("team{team}"), format!("counsellor{team}"));
        let code = invite(&url, dir.path(), &org, &username);
        let answer: Value = http
            .post(format!("{base}/v1/devices"))
            .header("Sync-Protocol", "1")
            .json(&json!({
                "username": username,
                "password": PASSWORD,
                "device_name": format!("device {d}"),
                "enrolment_code": code,
            }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        enrolled.push((
            answer["token"].as_str().unwrap().to_owned(),
            answer["device_id"].as_str().unwrap().to_owned(),
        ));
    }

    let peak_rss = || {
        processes
            .iter()
            .map(|p| peak_rss_kib(p.child.id()))
            .sum::<u64>()
    };
    let enrolled_peak = peak_rss();
    // Baseline, same run: the round trip of `GET /v1/health`, which touches no database.
    let mut baseline = Vec::new();
    for _ in 0..200 {
        let started = Instant::now();
        let response = http.get(format!("{base}/v1/health")).send().await.unwrap();
        response.bytes().await.unwrap();
        baseline.push(started.elapsed());
    }
    let baseline = percentile(&mut baseline, 0.50);
    let tally = Arc::new(Mutex::new(Tally::default()));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(options.seconds);
    let pagers: Vec<String> = enrolled
        .split_off(devices)
        .into_iter()
        .map(|(token, _)| token)
        .collect();
    let tasks: Vec<_> = enrolled
        .into_iter()
        .map(|(token, me)| {
            tokio::spawn(device(
                http.clone(),
                base.clone(),
                token,
                me,
                options.batch,
                deadline,
                Arc::clone(&tally),
            ))
        })
        .collect();
    let mut teams: Vec<Vec<Copy>> = (0..orgs).map(|_| Vec::new()).collect();
    for (d, task) in tasks.into_iter().enumerate() {
        teams[org_of(d)].push(task.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    let peak = peak_rss();
    let errors = tally.lock().await.errors;
    if errors > 0 && front.is_some() {
        let log = std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default();
        eprintln!("nginx's error log:\n{log}");
    }
    // Every answer a 200: an error is a failure of the server, not a figure.
    assert_eq!(
        errors, 0,
        "{backend}, {servers} servers, {devices} devices: requests failed"
    );
    check_pages(&http, &base, teams, &pagers).await;
    drop(front);
    drop(processes);
    if backend != "sqlite" {
        pg_admin(&format!("DROP DATABASE IF EXISTS {pg_name} WITH (FORCE)")).await;
    }
    let mut tally = Arc::try_unwrap(tally).ok().unwrap().into_inner();
    let push_p50 = percentile(&mut tally.push_latency, 0.50);
    format!(
        "| {backend} | {servers} | {devices} / {orgs} | {:.0} | {} | {:.1} / {:.1} | {:.0}x | {:.1} / {:.1} | {:.0} | {} | {:.1} / {:.1} |",
        tally.merged as f64 / elapsed,
        tally.push_latency.len(),
        push_p50,
        percentile(&mut tally.push_latency, 0.99),
        push_p50 / baseline,
        percentile(&mut tally.pull_latency, 0.50),
        percentile(&mut tally.pull_latency, 0.99),
        tally.pulled as f64 / elapsed,
        tally.errors,
        enrolled_peak as f64 / 1024.0,
        peak as f64 / 1024.0,
    )
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let options = options();
    println!(
        "{} s per run, batches of {} states (half new records, half edits), {} devices per organisation unless --orgs says",
        options.seconds, options.batch, DEVICES_PER_ORG
    );
    println!();
    println!(
        "| backend | servers | devices / organisations | records merged/s | pushes | push p50 / p99 (ms) | push p50 / health p50 | pull page p50 / p99 (ms) | records pulled/s | errors | server peak RSS after enrolment / at the end (MiB) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for backend in &options.backends {
        for &devices in &options.devices {
            for &servers in &options.servers {
                // SQLite is one process's file: several servers are PostgreSQL's.
                if servers > 1 && backend == "sqlite" {
                    continue;
                }
                println!("{}", run(backend, devices, servers, &options).await);
            }
        }
    }
}
