//! Durability: a process writing in a loop is killed with SIGKILL again and again; every
//! write it acknowledged (printed after its commit) must be there, and the file sound.
//!
//! The writer is this test binary itself, run again on the ignored test `child_writer`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use casefile::sync_protocol::RecordId;
use casefile::{CaseFile, KdfParams};
use serde_json::json;

use crate::common::*;

const PATH_VAR: &str = "CASEFILE_CRASH_TEST_PATH";

/// Writes persons in a loop, printing `ack ID` after each commit. Run only as a child.
#[test]
#[ignore = "run by acknowledged_writes_survive_sigkill as a child process"]
fn child_writer() {
    let Ok(path) = std::env::var(PATH_VAR) else {
        return;
    };
    let mut file = CaseFile::open(&path, PASS).unwrap();
    let mut n = 0u64;
    loop {
        n += 1;
        let id = file
            .create(
                "person",
                fields(&[
                    ("family_name", json!(format!("Crash{n}"))),
                    ("notes", json!("x".repeat(500))),
                ]),
            )
            .unwrap();
        println!("ack {id}");
    }
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.db");
    drop(CaseFile::init_with(&path, PASS, KdfParams::INSECURE_FOR_TESTS).unwrap());
    let exe = std::env::current_exe().unwrap();
    let mut acknowledged: Vec<RecordId> = Vec::new();
    for round in 0..8u64 {
        let mut child = Command::new(&exe)
            .args([
                "crash::child_writer",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(PATH_VAR, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(id) = line.strip_prefix("ack ") {
                    let _ = tx.send(id.to_owned());
                }
            }
        });
        // Let it write for a while (longer on some rounds), then kill it mid-flight.
        let started = Instant::now();
        let wanted = Duration::from_millis(150 + 70 * (round % 4));
        let mut seen = 0;
        while started.elapsed() < wanted || seen == 0 {
            if let Ok(id) = rx.recv_timeout(Duration::from_millis(10)) {
                acknowledged.push(id.parse().unwrap());
                seen += 1;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the writer wrote nothing"
            );
        }
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        reader.join().unwrap();
        acknowledged.extend(rx.try_iter().map(|id| id.parse::<RecordId>().unwrap()));
    }
    assert!(
        acknowledged.len() > 8,
        "the writers must have acknowledged writes"
    );
    let file = CaseFile::open(&path, PASS).unwrap();
    assert_eq!(
        file.integrity_check().unwrap(),
        Vec::<String>::new(),
        "integrity_check"
    );
    for id in &acknowledged {
        assert!(
            file.get(*id).is_ok(),
            "acknowledged write {id} is missing after SIGKILL"
        );
    }
    eprintln!(
        "{} acknowledged writes survived 8 kills",
        acknowledged.len()
    );
}
