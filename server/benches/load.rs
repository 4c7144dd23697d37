//! Load benchmark of `passerelle-server`: N simulated devices (N = 1, 10, 100) pushing and
//! pulling batches against the real server binary on loopback, on SQLite and PostgreSQL.
//!
//! ```text
//! cargo bench -p passerelle-server --bench load -- [--seconds 10] [--devices 1,10,100]
//!     [--backends sqlite,postgres] [--batch 100]
//! ```
//!
//! Each device, in a loop: pushes a batch (half new records, half new edits of records it
//! made before), then pulls every page since its checkpoint. Devices are grouped ten to
//! an organisation, so each pulls what the other nine of its team pushed. Printed per run:
//! records merged per second (created + merged results), p50/p99 latency of pushes and
//! pulls, errors (any answer but 200, or a transport failure; must be 0), and the
//! server's peak resident memory (VmHWM). The server runs with `--rate-limit 100000`: the
//! benchmark measures the server, not the per-device limit. Client and server share the
//! machine's cores, so the figures are a floor. Baseline, measured in the same run before
//! the load: the median round trip of `GET /v1/health` (HTTP on loopback, no database);
//! the table gives the push median as a multiple of it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

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
}

fn options() -> Options {
    let mut options = Options {
        seconds: 10,
        devices: vec![1, 10, 100],
        backends: vec!["sqlite".into(), "postgres".into()],
        batch: 100,
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
        .args(["--database", url])
        .env("RUST_LOG", "warn")
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

/// One device's loop until `deadline`.
async fn device(
    http: reqwest::Client,
    base: String,
    token: String,
    me: String,
    batch: usize,
    deadline: Instant,
    tally: Arc<Mutex<Tally>>,
) {
    let mut mine: Vec<(String, u64)> = Vec::new();
    let mut since = 0u64;
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
                local.merged += body["results"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|r| r["status"] != "unchanged")
                    .count() as u64;
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
        loop {
            let started = Instant::now();
            let answer = http
                .get(format!("{base}/v1/pull?since={since}&limit=1000"))
                .bearer_auth(&token)
                .header("Sync-Protocol", "1")
                .send()
                .await;
            let Ok(response) = answer.map_err(|e| eprintln!("pull failed: {e}")) else {
                local.errors += 1;
                break;
            };
            if response.status() != 200 {
                eprintln!("pull answered {}", response.status());
                local.errors += 1;
                break;
            }
            let body: Value = response.json().await.unwrap();
            local.pull_latency.push(started.elapsed());
            local.pulled += body["records"].as_array().unwrap().len() as u64;
            since = body["next"].as_u64().unwrap();
            if !body["more"].as_bool().unwrap() {
                break;
            }
        }
    }
    let mut tally = tally.lock().await;
    tally.merged += local.merged;
    tally.errors += local.errors;
    tally.pulled += local.pulled;
    tally.push_latency.extend(local.push_latency);
    tally.pull_latency.extend(local.pull_latency);
}

fn percentile(samples: &mut [Duration], p: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.sort();
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[i].as_secs_f64() * 1000.0
}

async fn run(backend: &str, devices: usize, options: &Options) -> String {
    let dir = tempfile::tempdir().unwrap();
    let pg_name = format!("passerelle_bench_{}_{devices}", std::process::id());
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
    let orgs = devices.div_ceil(DEVICES_PER_ORG);
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
    let server = start(&url, dir.path());
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(devices)
        .build()
        .unwrap();
    let mut enrolled = Vec::new();
    for d in 0..devices {
        let (org, username) = (
            format!("team{}", d / DEVICES_PER_ORG),
            format!("counsellor{}", d / DEVICES_PER_ORG),
        );
        let code = invite(&url, dir.path(), &org, &username);
        let answer: Value = http
            .post(format!("{}/v1/devices", server.base))
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

    let enrolled_peak = peak_rss_kib(server.child.id());
    // Baseline, same run: the round trip of `GET /v1/health`, which touches no database.
    let mut baseline = Vec::new();
    for _ in 0..200 {
        let started = Instant::now();
        let response = http
            .get(format!("{}/v1/health", server.base))
            .send()
            .await
            .unwrap();
        response.bytes().await.unwrap();
        baseline.push(started.elapsed());
    }
    let baseline = percentile(&mut baseline, 0.50);
    let tally = Arc::new(Mutex::new(Tally::default()));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(options.seconds);
    let tasks: Vec<_> = enrolled
        .into_iter()
        .map(|(token, me)| {
            tokio::spawn(device(
                http.clone(),
                server.base.clone(),
                token,
                me,
                options.batch,
                deadline,
                Arc::clone(&tally),
            ))
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let peak = peak_rss_kib(server.child.id());
    drop(server);
    if backend != "sqlite" {
        pg_admin(&format!("DROP DATABASE IF EXISTS {pg_name} WITH (FORCE)")).await;
    }
    let mut tally = Arc::try_unwrap(tally).ok().unwrap().into_inner();
    let push_p50 = percentile(&mut tally.push_latency, 0.50);
    format!(
        "| {backend} | {devices} | {:.0} | {} | {:.1} / {:.1} | {:.0}x | {:.1} / {:.1} | {:.0} | {} | {:.1} / {:.1} |",
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
        "{} s per run, batches of {} states (half new records, half edits), {} devices per organisation",
        options.seconds, options.batch, DEVICES_PER_ORG
    );
    println!();
    println!(
        "| backend | devices | records merged/s | pushes | push p50 / p99 (ms) | push p50 / health p50 | pull page p50 / p99 (ms) | records pulled/s | errors | server peak RSS after enrolment / at the end (MiB) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for backend in &options.backends {
        for &devices in &options.devices {
            println!("{}", run(backend, devices, &options).await);
        }
    }
}
