//! The audit trail (SYNC-PROTOCOL.md §7 `audit`): every push, enrolment, invite,
//! revocation, disable, erasure and restore leaves its rows, in the same transaction;
//! the table refuses UPDATE and DELETE; records are named only by an HMAC under the
//! organisation's key; the trail travels with backups.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::harness::{Backend, Database, Setup, new_id, state};
use crate::on_both_backends;

on_both_backends!(
    a_push_leaves_one_row_per_record_it_changes_and_a_refused_push_none,
    accounts_erasures_and_restores_leave_their_events_and_no_personal_data,
    the_audit_table_refuses_updates_and_deletes,
    the_audit_command_filters_by_time_and_refuses_bad_input,
);

/// `audit --org ORG ARGS…`, one JSON object a line.
fn audit(db: &Database, org: &str, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["audit", "--org", org];
    all.extend(args);
    db.cli_ok(&all, "")
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("a JSON line: {line:?}: {e}"))
        })
        .collect()
}

fn events(rows: &[Value], event: &str) -> Vec<Value> {
    rows.iter()
        .filter(|r| r["event"] == json!(event))
        .cloned()
        .collect()
}

/// Every cell of the audit table (and the organisations' rows), as text: what an
/// operator dumping the database would read.
async fn dump(db: &Database) -> String {
    let query = "SELECT * FROM audit ORDER BY id";
    match db.url.strip_prefix("sqlite:") {
        Some(path) => {
            let conn = rusqlite::Connection::open(path).unwrap();
            let mut stmt = conn.prepare(query).unwrap();
            let width = stmt.column_count();
            let rows = stmt
                .query_map([], |row| {
                    (0..width)
                        .map(|i| row.get::<_, rusqlite::types::Value>(i))
                        .collect::<Result<Vec<_>, _>>()
                })
                .unwrap();
            rows.map(|r| format!("{:?}\n", r.unwrap())).collect()
        }
        None => {
            let client = pg_client(db).await;
            let rows = client
                .query(
                    "SELECT row_to_json(audit)::text FROM audit ORDER BY id",
                    &[],
                )
                .await
                .unwrap();
            rows.iter()
                .map(|r| format!("{}\n", r.get::<_, String>(0)))
                .collect()
        }
    }
}

async fn pg_client(db: &Database) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

/// One row per record a push created, merged or held, with the record's vv after the
/// push; nothing for an unchanged record, nothing at all for a refused push.
async fn a_push_leaves_one_row_per_record_it_changes_and_a_refused_push_none(backend: Backend) {
    let setup = Setup::new(backend);
    let marie = setup.client().enrolled("marie").await;
    let me = marie.device().to_owned();
    let (a, b) = (new_id(), new_id());
    marie
        .push(&[
            state(&a, "person", &me, 1, json!({"notes": "Zqxwvy 1"})),
            state(&b, "person", &me, 2, json!({"notes": "Zqxwvy 2"})),
        ])
        .await
        .expect_ok();
    let edited = state(&a, "person", &me, 3, json!({"notes": "Zqxwvy 3"}));
    let answer = marie.push(std::slice::from_ref(&edited)).await;
    assert_eq!(answer.expect_ok()["results"][0]["status"], json!("merged"));
    // The same state again: unchanged, no row.
    marie.push(&[edited]).await.expect_ok();
    let before = audit(&setup.db, "nord", &[]);

    // Refused pushes: a forged dot (another replica's edit the server never saw), and a
    // valid new record beside it: neither leaves a row.
    let other = uuid::Uuid::new_v4().to_string();
    let forged = state(&new_id(), "person", &other, 1, json!({"notes": "x"}));
    let valid = state(&new_id(), "person", &me, 4, json!({"notes": "y"}));
    marie
        .push(&[valid, forged])
        .await
        .expect_error(422, "forged_dot");
    let after = audit(&setup.db, "nord", &[]);
    assert_eq!(after, before, "a refused push leaves no audit row");

    let pushed = events(&after, "pushed");
    assert_eq!(pushed.len(), 3, "two created, one merged: {pushed:#?}");
    for row in &pushed {
        assert_eq!(row["device"], json!(me));
        let mac = row["record"].as_str().unwrap();
        assert_eq!(mac.len(), 64, "an HMAC-SHA256 in hex: {row}");
        assert!(mac != a && mac != b, "never the record's id");
    }
    let of_a = audit(&setup.db, "nord", &["--record", &a]);
    let statuses: Vec<(Value, Value)> = of_a
        .iter()
        .map(|r| (r["status"].clone(), r["vv"].clone()))
        .collect();
    assert_eq!(
        statuses,
        [
            (json!("created"), json!({ &me: 1 })),
            (json!("merged"), json!({ &me: 3 })),
        ],
        "the record's rows, oldest first, each with its vv after the push"
    );
    assert_eq!(of_a[0]["record"], of_a[1]["record"]);
    let of_b = audit(&setup.db, "nord", &["--record", &b]);
    assert_eq!(of_b.len(), 1);
    assert_ne!(of_b[0]["record"], of_a[0]["record"]);
    assert_eq!(
        audit(&setup.db, "nord", &["--record", &new_id()]),
        Vec::<Value>::new(),
        "a record the organisation never had has no rows"
    );
    // Another organisation's key gives the same id another HMAC, and its trail is its
    // own.
    assert!(events(&audit(&setup.db, "sud", &[]), "pushed").is_empty());
}

/// Enrolments, invites, disables, revocations, erasures (HTTP and command line) and a
/// restore each leave their event; the trail survives backup and restore; neither the
/// table nor the command's output nor the server's log holds a raw record id, a
/// username or a field's value.
async fn accounts_erasures_and_restores_leave_their_events_and_no_personal_data(backend: Backend) {
    let setup = Setup::new(backend);
    let marie = setup.client().enrolled("marie").await;
    let claire = setup.client().enrolled("claire").await;
    let (p, q, r) = (new_id(), new_id(), new_id());
    let secret = "Zqxwvy Secretname 1-84-07-59";
    marie
        .push(&[
            state(&p, "person", marie.device(), 1, json!({"notes": secret})),
            state(&q, "person", marie.device(), 2, json!({"notes": secret})),
            state(&r, "person", marie.device(), 3, json!({"notes": secret})),
        ])
        .await
        .expect_ok();
    claire.erase(&p).await.expect_ok();
    setup
        .db
        .cli_ok(&["record", "erase", "--org", "nord", &q], "");
    setup
        .db
        .cli_ok(&["user", "disable", "--username", "marie"], "");
    setup
        .db
        .cli_ok(&["user", "enable", "--username", "marie"], "");
    setup.db.cli_ok(&["device", "revoke", marie.device()], "");
    // Revoking again changes nothing, and the journal applied at the next start neither.
    setup.db.cli_ok(&["device", "revoke", marie.device()], "");

    let rows = audit(&setup.db, "nord", &[]);
    let enrolled = events(&rows, "enrolled");
    let devices: BTreeSet<&str> = enrolled
        .iter()
        .map(|r| r["device"].as_str().unwrap())
        .collect();
    assert_eq!(devices, [marie.device(), claire.device()].into());
    assert!(
        enrolled.iter().all(|r| r["user"].is_i64()),
        "users by their number: {enrolled:#?}"
    );
    let invited = events(&rows, "invited");
    assert!(
        invited.len() >= 2 && invited.iter().all(|r| r["expires"].is_string()),
        "each enrolment's code was invited: {rows:#?}"
    );
    let erased = events(&rows, "erased");
    assert_eq!(erased.len(), 2, "{rows:#?}");
    assert_eq!(
        (&erased[0]["via"], &erased[0]["device"]),
        (&json!("http"), &json!(claire.device()))
    );
    assert_eq!(erased[1]["via"], json!("command_line"));
    assert_eq!(
        audit(&setup.db, "nord", &["--record", &p])
            .iter()
            .map(|r| r["event"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>(),
        ["pushed", "erased"],
        "an erased record's history: its push, then its erasure"
    );
    let disables: Vec<&str> = rows
        .iter()
        .filter_map(|r| r["event"].as_str())
        .filter(|e| e.starts_with("user_"))
        .collect();
    assert_eq!(disables, ["user_disabled", "user_enabled"]);
    assert_eq!(
        events(&rows, "revoked").len(),
        1,
        "only the change: {rows:#?}"
    );
    assert!(
        rows.windows(2)
            .all(|w| w[0]["at"].as_str() <= w[1]["at"].as_str()),
        "oldest first"
    );

    // Backup, an erasure after it, restore into the other backend with the journal: the
    // trail comes back, then the restore, then the journal's erasure.
    let backup = setup.db.dir.path().join("backup.db");
    setup
        .db
        .cli_ok(&["backup", "--out", backup.to_str().unwrap()], "");
    setup
        .db
        .cli_ok(&["record", "erase", "--org", "nord", &r], "");
    let journal = setup.db.journal();
    let journal = journal.to_str().unwrap();
    let restored = Database::new(backend.other());
    restored.cli_ok(
        &[
            "restore",
            "--from",
            backup.to_str().unwrap(),
            "--journal",
            journal,
        ],
        "",
    );
    let again = audit(&restored, "nord", &[]);
    assert_eq!(
        &again[..rows.len()],
        &rows[..],
        "the trail survives the restore"
    );
    let after: Vec<(&Value, &Value)> = again[rows.len()..]
        .iter()
        .map(|row| (&row["event"], &row["via"]))
        .collect();
    assert_eq!(
        after,
        [
            (&json!("restored"), &Value::Null),
            (&json!("erased"), &json!("journal"))
        ],
        "the journal's revocation and disables changed nothing: no row for them"
    );
    assert_eq!(
        audit(&restored, "nord", &["--record", &r]).len(),
        2,
        "the erasure the backup lacked is in the trail again"
    );
    // Serving applies the journal again: nothing changes, nothing is audited.
    let mut again_served = crate::harness::Server::start(&restored, &["--journal", journal]);
    again_served.client().health().await.expect_ok();
    again_served.stop();
    assert_eq!(audit(&restored, "nord", &[]), again);
    assert_eq!(
        audit(&restored, "nord", &["--record", &p]).len(),
        2,
        "the organisation's key came with the backup"
    );
    assert_eq!(events(&audit(&restored, "sud", &[]), "restored").len(), 1);

    setup.server.terminate();
    let log = std::fs::read_to_string(&setup.server.log).unwrap();
    let printed = setup.db.cli_ok(&["audit", "--org", "nord"], "");
    let printed_restored = restored.cli_ok(&["audit", "--org", "nord"], "");
    let (table, table_restored) = (dump(&setup.db).await, dump(&restored).await);
    assert!(table.contains(marie.device()), "the dump is real: {table}");
    for (what, text) in [
        ("the audit table", &table),
        ("the restored audit table", &table_restored),
        ("audit's output", &printed),
        ("audit's output after the restore", &printed_restored),
        ("the server's log", &log),
    ] {
        for personal in [&p, &q, &r, "marie", "claire", "Secretname", "Zqxwvy"] {
            assert!(
                !text.contains(personal),
                "{what} holds {personal:?}: {text}"
            );
        }
    }
}

/// No statement changes or deletes an audit row, the server's or an operator's.
async fn the_audit_table_refuses_updates_and_deletes(backend: Backend) {
    let setup = Setup::new(backend);
    let marie = setup.client().enrolled("marie").await;
    let id = new_id();
    marie
        .push(&[state(
            &id,
            "person",
            marie.device(),
            1,
            json!({"notes": "x"}),
        )])
        .await
        .expect_ok();
    let before = dump(&setup.db).await;
    assert!(!before.is_empty());
    let attempts = [
        "UPDATE audit SET event = 'nothing'",
        "UPDATE audit SET record = NULL",
        "DELETE FROM audit",
    ];
    match setup.db.url.strip_prefix("sqlite:") {
        Some(path) => {
            let conn = rusqlite::Connection::open(path).unwrap();
            let replace = "INSERT OR REPLACE INTO audit (id, org_id, at, event) \
                           SELECT id, org_id, at, 'nothing' FROM audit LIMIT 1";
            for sql in attempts.iter().chain(&[replace]) {
                let error = conn.execute(sql, []).unwrap_err().to_string();
                assert!(error.contains("append-only"), "{sql}: {error}");
            }
        }
        None => {
            let client = pg_client(&setup.db).await;
            for sql in attempts.iter().chain(&["TRUNCATE audit"]) {
                let error = client.batch_execute(sql).await.unwrap_err();
                let message = error.as_db_error().map(|e| e.message().to_owned());
                assert!(
                    message
                        .as_deref()
                        .is_some_and(|m| m.contains("append-only")),
                    "{sql}: {error:?}"
                );
            }
        }
    }
    assert_eq!(dump(&setup.db).await, before, "nothing changed");
}

async fn the_audit_command_filters_by_time_and_refuses_bad_input(backend: Backend) {
    let setup = Setup::new(backend);
    let _marie = setup.client().enrolled("marie").await;
    let all = audit(&setup.db, "nord", &[]);
    assert!(!all.is_empty());
    assert_eq!(
        audit(&setup.db, "nord", &["--since", "2000-01-01T00:00:00Z"]),
        all
    );
    let first = all[0]["at"].as_str().unwrap();
    assert_eq!(
        audit(&setup.db, "nord", &["--since", first]),
        all,
        "inclusive"
    );
    assert!(audit(&setup.db, "nord", &["--since", "2999-01-01T00:00:00+02:00"]).is_empty());

    for (args, expected) in [
        (vec!["--org", "nulle-part"], "there is no organisation"),
        (vec!["--org", "nord", "--since", "hier"], "RFC 3339"),
        (vec!["--org", "nord", "--since", "2026-11-30"], "RFC 3339"),
        (vec!["--org", "nord", "--record", "pas-un-id"], "record id"),
    ] {
        let mut all = vec!["audit"];
        all.extend(&args);
        let out = setup.db.cli(&all, "");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} must fail");
        assert!(out.stdout.is_empty(), "{args:?} prints nothing");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}
