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
