//! The sync client's own promises: progress, cancel, no needless re-download of its own
//! pushes, the replica directory, and errors a person can act on (revoked, plain HTTP,
//! TLS, unreachable). And `passerelle-cli enrol` and `sync` end to end.

use std::process::Command;
use std::sync::atomic::AtomicBool;

use casefile::{Phase, Progress, SyncError, SyncOptions};
use passerelle_e2e::harness::{Backend, Device, PASSWORD, Server, workspace_binary};
use passerelle_e2e::proxy::{Fault, FaultProxy};
use serde_json::{Value, json};

use crate::{add_person, fields};

fn sync_with_events(
    device: &mut Device,
) -> (Result<casefile::SyncReport, SyncError>, Vec<Progress>) {
    let mut events = Vec::new();
    let cancel = AtomicBool::new(false);
    let result = device.file.sync_with(
        passerelle_e2e::harness::patient(),
        &mut |p| events.push(p),
        &cancel,
    );
    (result, events)
}

#[test]
fn progress_reports_each_phase_and_own_pushes_are_not_downloaded_again() {
    let server = Server::start(Backend::Sqlite);
    let (_org, user) = server.new_org();
    let mut a = Device::enrolled("marie", &server, &user);
    let mut b = Device::enrolled("ion", &server, &user);
    for i in 0..1200 {
        add_person(&mut a.file, "Stoica", &format!("Mihai {i}"));
    }
    let (report, events) = sync_with_events(&mut a);
    let report = report.unwrap();
    assert_eq!(
        report.pushed, 1200,
        "every new person must be pushed: {report:?}"
    );
    let phases: Vec<Phase> = events.iter().map(|e| e.phase).collect();
    let first_pull = phases.iter().position(|p| *p == Phase::Pull).unwrap();
    assert!(
        phases[..first_pull].iter().all(|p| *p == Phase::Push),
        "{phases:?}"
    );
    assert_eq!(phases.last(), Some(&Phase::Done));
    let pushes: Vec<&Progress> = events.iter().filter(|e| e.phase == Phase::Push).collect();
    assert!(
        pushes.len() >= 4,
        "three batches of at most 500 and a start: {pushes:?}"
    );
    assert!(
        pushes.windows(2).all(|w| w[0].done <= w[1].done),
        "push progress must grow"
    );
    assert_eq!(
        pushes.last().map(|p| (p.done, p.expected)),
        Some((1200, 1200))
    );
    let done = events.last().unwrap();
    assert_eq!(
        done.done, 0,
        "A must not download again the 1,200 states it pushed: {done:?}"
    );

    let (report, events) = sync_with_events(&mut b);
    assert_eq!(report.unwrap().pulled, 1200);
    assert_eq!(
        events.last().unwrap().done,
        1200,
        "B receives every state once"
    );
    let pulls: Vec<&Progress> = events.iter().filter(|e| e.phase == Phase::Pull).collect();
    assert!(
        pulls.len() >= 3,
        "two pages of at most 1,000 and a start: {pulls:?}"
    );
    assert!(pulls.iter().all(|p| p.done <= p.expected), "{pulls:?}");

    // A sync with nothing to do moves nothing.
    let (report, events) = sync_with_events(&mut a);
    assert_eq!(report.unwrap(), casefile::SyncReport::default());
    assert_eq!(events.last().unwrap().done, 0);
}

#[test]
fn the_replica_directory_names_who_made_each_edit() {
    let server = Server::start(Backend::Sqlite);
    let (_org, user) = server.new_org();
    let mut a = Device::enrolled("Portable de Marie", &server, &user);
    let b = Device::enrolled("Tablette d'Ion", &server, &user);
    a.sync();
    let directory = a.file.replica_directory().unwrap();
    let names: Vec<&str> = directory.values().map(|r| r.device_name.as_str()).collect();
    assert!(
        names.contains(&"Portable de Marie") && names.contains(&"Tablette d'Ion"),
        "{names:?}"
    );
    let ion = &directory[&b.file.replica_id()];
    assert_eq!(ion.user, user);
}

#[test]
fn a_cancelled_sync_keeps_what_it_had_and_the_next_one_goes_on() {
    let server = Server::start(Backend::Sqlite);
    let (_org, user) = server.new_org();
    let mut a = Device::enrolled("marie", &server, &user);
    let mut b = Device::enrolled("ion", &server, &user);
    let p = add_person(&mut a.file, "Dumitru", "Ana");
    let cancel = AtomicBool::new(true);
    let result = a
        .file
        .sync_with(SyncOptions::default(), &mut |_| {}, &cancel);
    assert!(
        matches!(result, Err(SyncError::Cancelled)),
        "expected Cancelled, got {result:?}"
    );
    assert!(result.unwrap_err().to_string().contains("next sync"));
    a.sync();
    b.sync();
    assert_eq!(
        b.file.get(p).unwrap().value("family_name"),
        Some(&json!("Dumitru"))
    );
}

#[test]
fn an_unreachable_server_is_a_clear_error_and_the_sync_resumes_later() {
    let server = Server::start(Backend::Sqlite);
    let (_org, user) = server.new_org();
    let mut a = Device::enrolled("marie", &server, &user);
    let p = add_person(&mut a.file, "Lăcătuș", "Ioana");
    let proxy = FaultProxy::start_fixed(server.addr, Fault::CutRequest(10)).unwrap();
    a.file.set_setting("sync.server_url", &proxy.url()).unwrap();
    let options = SyncOptions {
        attempts: 3,
        backoff: std::time::Duration::from_millis(5),
        ..SyncOptions::default()
    };
    let error = a
        .file
        .sync_with(options, &mut |_| {}, &AtomicBool::new(false))
        .unwrap_err();
    assert!(
        matches!(error, SyncError::Unreachable { attempts: 3, .. }),
        "got {error:?}"
    );
    assert!(
        error.to_string().contains("could not be reached"),
        "{error}"
    );
    proxy.set_faults(false);
    a.sync();
    let mut b = Device::enrolled("ion", &server, &user);
    b.sync();
    assert!(
        b.file.get(p).is_ok(),
        "the person must reach B once the network is back"
    );
}

#[test]
fn a_revoked_device_is_told_so() {
    let server = Server::start(Backend::Sqlite);
    let (_org, user) = server.new_org();
    let mut a = Device::enrolled("marie", &server, &user);
    a.sync();
    server.cli(&["device", "revoke", &a.file.replica_id().to_string()], "");
    let error = a.try_sync().unwrap_err();
    assert!(matches!(error, SyncError::DeviceRevoked), "got {error:?}");
    assert!(
        error.to_string().contains("revoked by a coordinator"),
        "the message must say a coordinator revoked it: {error}"
    );
    // A token the server never issued is not a revocation.
    let mut b = Device::enrolled("ion", &server, &user);
    b.file
        .set_setting("sync.device_token", "not-a-token")
        .unwrap();
    let error = b.try_sync().unwrap_err();
    assert!(matches!(error, SyncError::Revoked), "got {error:?}");
}

#[test]
fn a_disabled_user_is_told_so_and_syncs_again_once_enabled() {
    let server = Server::start(Backend::Sqlite);
    let (_org, user) = server.new_org();
    let mut a = Device::enrolled("marie", &server, &user);
    add_person(&mut a.file, "Stoica", "Mihai");
    server.cli(&["user", "disable", "--username", &user], "");
    let error = a.try_sync().unwrap_err();
    assert!(matches!(error, SyncError::UserDisabled), "got {error:?}");
    assert!(
        a.file.pending_push(10).unwrap().len() == 1,
        "the case file keeps what it had to send"
    );
    server.cli(&["user", "enable", "--username", &user], "");
    assert_eq!(
        a.sync().pushed,
        1,
        "once enabled, the device syncs what it kept"
    );
}

#[test]
fn wrong_passwords_plain_http_and_tls_failures_are_named() {
    let server = Server::start(Backend::Sqlite);
    let (_org, user) = server.new_org();
    let mut a = Device::new("marie");
    let code = server.invite(&user);
    let wrong = a
        .file
        .enrol(&server.url, &user, "pas le bon", &code, "marie")
        .unwrap_err();
    assert!(
        matches!(wrong, SyncError::WrongCredentials),
        "got {wrong:?}"
    );
    assert!(wrong.to_string().contains("enrolment code"), "{wrong}");
    let wrong_code = a
        .file
        .enrol(&server.url, &user, PASSWORD, "0000-0000-0000-0000", "marie")
        .unwrap_err();
    assert!(
        matches!(wrong_code, SyncError::WrongCredentials),
        "a wrong code is one answer with a wrong password: {wrong_code:?}"
    );
    let plain = a
        .file
        .enrol(
            "http://passerelle.example.org",
            &user,
            PASSWORD,
            &code,
            "marie",
        )
        .unwrap_err();
    assert!(matches!(plain, SyncError::PlainHttp), "got {plain:?}");
    // TLS spoken to a server that answers plain HTTP: the handshake fails, named as such.
    let tls_url = server.url.replace("http://", "https://");
    let tls = a
        .file
        .enrol(&tls_url, &user, PASSWORD, &code, "marie")
        .unwrap_err();
    assert!(matches!(tls, SyncError::Tls(_)), "got {tls:?}");
    assert!(tls.to_string().contains("secure connection"), "{tls}");
    assert!(
        a.file.server_url().unwrap().is_none(),
        "a failed enrolment must keep nothing"
    );
    let not_enrolled = a.try_sync().unwrap_err();
    assert!(
        matches!(not_enrolled, SyncError::NotEnrolled),
        "got {not_enrolled:?}"
    );
    // The code the wrong password did not spend enrols once, typed loosely.
    let typed = format!("  {}  ", code.to_lowercase());
    a.file
        .enrol(&server.url, &user, PASSWORD, &typed, "marie")
        .unwrap();
    let again = a
        .file
        .enrol(&server.url, &user, PASSWORD, &code, "marie")
        .unwrap_err();
    assert!(
        matches!(again, SyncError::WrongCredentials),
        "a used code: {again:?}"
    );
}

#[test]
fn an_enrolment_refused_for_too_many_failures_says_how_long_to_wait_without_retrying() {
    let server = Server::start(Backend::Sqlite);
    let (_org, user) = server.new_org();
    let mut a = Device::new("marie");
    let code = server.invite(&user);
    // The username's bucket holds 10 failures; the 11th try is refused before any check.
    let mut limited = None;
    for _ in 0..20 {
        match a
            .file
            .enrol(&server.url, &user, "pas le bon", &code, "marie")
        {
            Err(SyncError::WrongCredentials) => continue,
            other => {
                limited = Some(other);
                break;
            }
        }
    }
    let limited = limited.expect("20 wrong passwords in a row must end in a refusal");
    assert!(
        matches!(limited, Err(SyncError::EnrolmentLimited { wait_seconds }) if wait_seconds >= 1),
        "a 429 on enrolment is answered at once with the wait, not retried: {limited:?}"
    );
    // The right password is refused too while the wait runs: the limit is the username's.
    let right = a.file.enrol(&server.url, &user, PASSWORD, &code, "marie");
    assert!(
        matches!(right, Err(SyncError::EnrolmentLimited { .. })),
        "got {right:?}"
    );
}

#[test]
fn the_command_line_enrols_and_syncs() {
    let server = Server::start(Backend::Sqlite);
    let (_org, user) = server.new_org();
    let cli = workspace_binary("passerelle-cli", "passerelle-cli");
    let dir = tempfile::tempdir().unwrap();
    let run = |file: &str, args: &[&str]| -> String {
        let out = Command::new(&cli)
            .args(["--case-file", &dir.path().join(file).display().to_string()])
            .args(args)
            .env("PASSERELLE_PASSPHRASE", "phrase de passe")
            .env("PASSERELLE_PASSWORD", PASSWORD)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "passerelle-cli {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    for file in ["a", "b"] {
        // Made by the library, with cheap keys: the CLI's `--insecure-kdf-for-tests` is
        // only in its test builds, and the binary found here may be any build of it.
        drop(
            casefile::CaseFile::init_with(
                dir.path().join(file),
                "phrase de passe",
                casefile::KdfParams::INSECURE_FOR_TESTS,
            )
            .unwrap(),
        );
        let device = run(
            file,
            &[
                "enrol",
                "--server",
                &server.url,
                "--username",
                &user,
                "--code",
                &server.invite(&user),
                "--device-name",
                file,
            ],
        );
        assert_eq!(
            device.trim().len(),
            36,
            "enrol prints the device id: {device:?}"
        );
    }
    let id = run(
        "a",
        &[
            "add",
            "person",
            "--set",
            "family_name=Stoica",
            "--set",
            "given_names=Mihai",
        ],
    );
    let line: Value = serde_json::from_str(run("a", &["sync"]).trim()).unwrap();
    assert_eq!(
        line,
        json!({"pushed": 1, "pulled": 0, "conflicts": 0, "set_aside": 0, "documents": {"sent": 0, "received": 0, "waiting": 0}})
    );
    let line: Value = serde_json::from_str(run("b", &["sync"]).trim()).unwrap();
    assert_eq!(
        line,
        json!({"pushed": 0, "pulled": 1, "conflicts": 0, "set_aside": 0, "documents": {"sent": 0, "received": 0, "waiting": 0}})
    );
    run("b", &["edit", id.trim(), "--set", "phone=0612"]);
    run("a", &["edit", id.trim(), "--set", "phone=0699"]);
    run("b", &["sync"]);
    let line: Value = serde_json::from_str(run("a", &["sync"]).trim()).unwrap();
    assert_eq!(
        line,
        json!({"pushed": 1, "pulled": 1, "conflicts": 1, "set_aside": 0, "documents": {"sent": 0, "received": 0, "waiting": 0}})
    );
    let _ = fields(&[]);
}

#[test]
fn a_sync_with_nothing_to_do_is_one_round_trip_under_2_kb() {
    let server = Server::start(Backend::Sqlite);
    let (_org, user) = server.new_org();
    let proxy = FaultProxy::start_fixed(server.addr, Fault::Pass).unwrap();
    let mut a = Device::enrolled("marie", &server, &user);
    a.file.set_setting("sync.server_url", &proxy.url()).unwrap();
    add_person(&mut a.file, "Stoica", "Mihai");
    a.sync();
    a.sync();
    let before = proxy.counts.traffic();
    let report = a.sync();
    let after = proxy.counts.traffic();
    assert_eq!(report, casefile::SyncReport::default());
    let (requests, up, down) = (after.0 - before.0, after.1 - before.1, after.2 - before.2);
    assert_eq!(requests, 1, "expected a single request, got {requests}");
    assert!(
        up + down < 2048,
        "expected under 2 KB, got {up} up and {down} down"
    );
    eprintln!("nothing to do: {requests} request, {up} bytes up, {down} bytes down");
}

#[test]
fn a_sync_killed_midway_resumes_without_skipping_or_duplicating() {
    let server = Server::start(Backend::Sqlite);
    let (_org, user) = server.new_org();
    let mut a = Device::enrolled("marie", &server, &user);
    let ids: Vec<_> = (0..3000)
        .map(|i| add_person(&mut a.file, "Ionescu", &format!("Vasile {i}")))
        .collect();
    let path = a.file.path().to_path_buf();
    let cli = workspace_binary("passerelle-cli", "passerelle-cli");
    let spawn = || {
        Command::new(&cli)
            .args(["--case-file", &path.display().to_string(), "sync"])
            .env("PASSERELLE_PASSPHRASE", "phrase de passe")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    // Kill the app's sync at various moments: before, during and after its pushes.
    let mut cursors = Vec::new();
    for wait_ms in [30u64, 80, 150, 250] {
        let mut child = spawn();
        std::thread::sleep(std::time::Duration::from_millis(wait_ms));
        let _ = child.kill();
        let _ = child.wait();
        cursors.push(a.file.push_cursor().unwrap());
    }
    assert!(
        cursors.windows(2).all(|w| w[0] <= w[1]),
        "the push cursor never moves back: {cursors:?}"
    );
    let report = a.sync();
    assert!(
        report.pushed <= 3000,
        "nothing is pushed twice once acknowledged: {report:?}"
    );
    let mut b = Device::enrolled("ion", &server, &user);
    let got = b.sync();
    assert_eq!(got.pulled, 3000, "B receives each record exactly once");
    for id in ids.iter().step_by(97) {
        assert!(b.file.get(*id).is_ok(), "{id} must have reached B");
    }
    assert_eq!(
        a.states(),
        b.states(),
        "both case files must hold the same states"
    );
}

#[test]
fn a_server_speaking_a_newer_protocol_asks_to_update_the_app() {
    // The real server speaks version 1 only, so a stand-in answers 426 as §6 says a newer
    // server would.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut buf = [0u8; 4096];
            let _ = std::io::Read::read(&mut stream, &mut buf);
            let body =
                r#"{"error":{"code":"unsupported_protocol","message":"this server speaks 2"}}"#;
            let answer = format!(
                "HTTP/1.1 426 Upgrade Required\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = std::io::Write::write_all(&mut stream, answer.as_bytes());
        }
    });
    let mut a = Device::new("marie");
    let error = a
        .file
        .enrol(
            &format!("http://{addr}"),
            "marie",
            PASSWORD,
            "0000-0000-0000-0000",
            "marie",
        )
        .unwrap_err();
    assert!(matches!(error, SyncError::UpdateApp), "got {error:?}");
    assert_eq!(
        error.to_string(),
        "the server speaks a newer sync protocol: update the app"
    );
}
