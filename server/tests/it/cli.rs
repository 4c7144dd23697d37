//! The command line of §7, beyond what the other tests use.

use crate::harness::{Backend, Database, PASSWORD, Server};

#[test]
fn user_add_refuses_a_taken_username_and_a_short_password() {
    let db = Database::new(Backend::Sqlite);
    db.add_user("nord", "marie", "counsellor");
    let taken = db.cli(
        &[
            "user",
            "add",
            "--org",
            "sud",
            "--username",
            "marie",
            "--role",
            "counsellor",
        ],
        "another password\n",
    );
    assert!(
        !taken.status.success(),
        "usernames are unique across the server"
    );
    assert!(String::from_utf8_lossy(&taken.stderr).contains("already taken"));
    let short = db.cli(
        &[
            "user",
            "add",
            "--org",
            "nord",
            "--username",
            "ion",
            "--role",
            "counsellor",
        ],
        "short\n",
    );
    assert!(
        !short.status.success(),
        "a password of 5 characters is refused"
    );
    let role = db.cli(
        &[
            "user",
            "add",
            "--org",
            "nord",
            "--username",
            "ion",
            "--role",
            "boss",
        ],
        "long enough password\n",
    );
    assert!(
        !role.status.success(),
        "only counsellor and coordinator are roles"
    );
}

#[test]
fn init_is_idempotent_and_serve_initialises_an_empty_database() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let db = Database::new(backend);
        let first = db.cli_ok(&["init"], "");
        let second = db.cli_ok(&["init"], "");
        assert_eq!(first, second, "init keeps the server id ({backend:?})");

        let empty = Database::new(backend);
        let server = Server::start(&empty, &[]);
        assert!(server.base.starts_with("http://127.0.0.1:"));
        assert_eq!(
            empty.cli_ok(&["device", "list"], ""),
            "",
            "serve created the schema ({backend:?})"
        );
    }
}

#[test]
fn the_default_database_is_a_file_in_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(crate::harness::BIN)
        .arg("init")
        .env_remove("PASSERELLE_DATABASE")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("passerelle-server.db").exists());
}

#[tokio::test]
async fn user_password_replaces_the_password() {
    let db = Database::new(Backend::Sqlite);
    db.add_user("nord", "marie", "counsellor");
    let server = Server::start(&db, &[]);
    let device = server.client().enrolled("marie").await;
    db.cli_ok(
        &["user", "password", "--username", "marie"],
        "a brand new password\n",
    );
    let client = server.client();
    client
        .enrol("marie", PASSWORD, None)
        .await
        .expect_error(401, "unauthorized");
    let answer = client.enrol("marie", "a brand new password", None).await;
    assert_eq!(
        answer.status.as_u16(),
        201,
        "the new password enrols: {answer:?}"
    );
    device.pull(0, None).await.expect_ok();
    let nobody = db.cli(
        &["user", "password", "--username", "nobody"],
        "whatever123\n",
    );
    assert!(!nobody.status.success(), "no such user");
}

#[test]
fn a_database_newer_than_the_binary_is_refused() {
    let db = Database::new(Backend::Sqlite);
    db.cli_ok(&["init"], "");
    let path = db.url.strip_prefix("sqlite:").unwrap();
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let out = db.cli(&["init"], "");
    assert!(!out.status.success(), "a newer schema must be refused");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("upgrade passerelle-server"),
        "the refusal says what to do: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The codes kept in a SQLite database.
fn codes_kept(db: &Database) -> i64 {
    let path = db.url.strip_prefix("sqlite:").unwrap();
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row("SELECT count(*) FROM enrolment_codes", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn device_invite_prints_the_code_then_its_validity_then_a_qr_code() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let db = Database::new(backend);
        db.add_user("nord", "marie", "counsellor");
        db.add_user("sud", "paul", "counsellor");
        let out = db.cli_ok(
            &["device", "invite", "--org", "nord", "--username", "marie"],
            "",
        );
        let mut lines = out.lines();
        let code = lines.next().unwrap();
        assert_eq!(code.len(), 19, "{backend:?}: {out}");
        let groups: Vec<&str> = code.split('-').collect();
        assert_eq!(groups.len(), 4, "four groups of four: {code}");
        assert!(
            groups.iter().all(|g| {
                g.len() == 4
                    && g.chars().all(|c| {
                        c.is_ascii_digit() || (c.is_ascii_uppercase() && !"ILOU".contains(c))
                    })
            }),
            "Crockford's alphabet: {code}"
        );
        let validity = lines.next().unwrap();
        assert!(
            validity.starts_with("valid until ") && validity.contains("(24h)"),
            "{validity}"
        );
        let qr: Vec<&str> = lines.collect();
        assert!(
            qr.len() > 10 && qr.iter().any(|l| l.contains('▀') || l.contains('▄')),
            "a QR code in half blocks: {out}"
        );
        let again = db.cli_ok(
            &[
                "device",
                "invite",
                "--org",
                "nord",
                "--username",
                "marie",
                "--valid",
                "7d",
            ],
            "",
        );
        assert_ne!(again.lines().next(), Some(code), "a new code each time");
        assert!(again.lines().nth(1).unwrap().contains("(7d)"));
        db.cli_ok(&["user", "disable", "--username", "paul"], "");
        for (args, why) in [
            (
                vec!["--org", "nord", "--username", "nobody"],
                "no user \"nobody\"",
            ),
            (
                vec!["--org", "sud", "--username", "marie"],
                "not of the organisation",
            ),
            (vec!["--org", "sud", "--username", "paul"], "disabled"),
            (
                vec!["--org", "nord", "--username", "marie", "--valid", "8d"],
                "at most 7 days",
            ),
            (
                vec!["--org", "nord", "--username", "marie", "--valid", "0h"],
                "no time",
            ),
            (
                vec!["--org", "nord", "--username", "marie", "--valid", "soon"],
                "s, m, h or d",
            ),
        ] {
            let mut full = vec!["device", "invite"];
            full.extend(args);
            let refused = db.cli(&full, "");
            let stderr = String::from_utf8_lossy(&refused.stderr);
            assert!(
                !refused.status.success() && refused.stdout.is_empty() && stderr.contains(why),
                "{backend:?} {full:?}: expected a refusal saying {why:?}, got {stderr}"
            );
        }
        if backend == Backend::Sqlite {
            assert_eq!(codes_kept(&db), 2, "the refused invites kept nothing");
        }
    }
}

/// Runs the binary with `args` in `dir`, without the environment's database.
fn run_in(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(crate::harness::BIN)
        .args(args)
        .env_remove("PASSERELLE_DATABASE")
        .env_remove("PASSERELLE_JOURNAL")
        .env_remove("PASSERELLE_CONFIG")
        .current_dir(dir)
        .output()
        .unwrap()
}

#[test]
fn a_configuration_file_sets_what_the_command_line_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("server.toml");
    let from_file = dir.path().join("from-file.db");
    std::fs::write(
        &config,
        format!(
            "database = \"sqlite:{}\"\nlisten = \"127.0.0.1:0\"\nrate_limit = 7.5\n\
             trusted_proxies = [\"127.0.0.1\"]\nblob_quota_mib = 3\n",
            from_file.display()
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let out = run_in(dir.path(), &["--config", config, "init"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(from_file.exists(), "the file's database");
    assert!(
        !dir.path().join("passerelle-server.db").exists(),
        "not the default"
    );
    let mut add = std::process::Command::new(crate::harness::BIN)
        .args(["--config", config, "user", "add", "--org", "demo"])
        .args(["--username", "marie", "--role", "coordinator"])
        .env_remove("PASSERELLE_DATABASE")
        .env("PASSERELLE_INSECURE_FAST_PASSWORD_HASH", "1")
        .current_dir(dir.path())
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut add.stdin.take().unwrap(), b"mot de passe de Marie\n").unwrap();
    assert!(
        add.wait().unwrap().success(),
        "a user in the file's database"
    );
    let out = run_in(
        dir.path(),
        &["--config", config, "blobs", "status", "--org", "demo"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["quota_bytes"], 3 * 1024 * 1024, "the file's quota");
    let out = run_in(
        dir.path(),
        &[
            "--config",
            config,
            "blobs",
            "status",
            "--org",
            "demo",
            "--blob-quota-mib",
            "5",
        ],
    );
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        status["quota_bytes"],
        5 * 1024 * 1024,
        "the command line wins"
    );

    let other = dir.path().join("other.db");
    let out = run_in(
        dir.path(),
        &[
            "init",
            "--config",
            config,
            "--database",
            &format!("sqlite:{}", other.display()),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(other.exists(), "the command line wins over the file");

    // serve reads its address from the file.
    let mut child = std::process::Command::new(crate::harness::BIN)
        .args(["--config", config, "serve"])
        .env_remove("PASSERELLE_DATABASE")
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        line.starts_with("listening on http://127.0.0.1:") && !line.contains(":8787"),
        "the file's address, a free port: {line}"
    );
}

#[test]
fn a_configuration_file_with_a_typo_is_refused_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let journal = dir.path().join("j");
    for (text, expected) in [
        ("databse = \"sqlite:x.db\"\n", "databse"),
        (
            "listen = \"127.0.0.1:0\"\nrate_limit = \"fast\"\n",
            "line 2",
        ),
        ("tls_cert = \"/etc/c.pem\"\n", "tls_key"),
        ("max_connections = 0\n", "max_connections"),
        ("database = \"mysql://x\"\n", "database"),
    ] {
        let config = dir.path().join("server.toml");
        std::fs::write(&config, text).unwrap();
        let args = [
            "--config",
            config.to_str().unwrap(),
            "--journal",
            journal.to_str().unwrap(),
            "serve",
            "--listen",
            "127.0.0.1:0",
        ];
        let out = run_in(dir.path(), &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{text:?} is refused");
        assert!(
            err.contains(expected),
            "{text:?}: the error names {expected:?}: {err}"
        );
        assert!(
            !db.exists() && !dir.path().join("passerelle-server.db").exists(),
            "nothing is created"
        );
    }
    let out = run_in(
        dir.path(),
        &["--config", "/nonexistent/server.toml", "init"],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/server.toml"));
}

#[test]
fn the_packaged_configuration_reads() {
    let dir = tempfile::tempdir().unwrap();
    let packaged = concat!(env!("CARGO_MANIFEST_DIR"), "/packaging/server.toml");
    let db = dir.path().join("s.db");
    let out = run_in(
        dir.path(),
        &[
            "--config",
            packaged,
            "--database",
            &format!("sqlite:{}", db.display()),
            "--journal",
            dir.path().join("s.journal").to_str().unwrap(),
            "init",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(packaged).unwrap();
    assert!(
        text.contains("database = \"sqlite:/var/lib/passerelle/server.db\""),
        "the package keeps its data in /var/lib/passerelle"
    );
}
