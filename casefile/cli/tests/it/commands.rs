//! The commands of CLI.md, driven as a script would: records, search, conflicts, the
//! passphrase and its backoff, and the organisation's settings.

use std::path::Path;
use std::process::Command;

use casefile::{CaseFile, Error};
use serde_json::{Value, json};

use crate::common::{PASS, cli, db_path, fields, fresh, person};

fn ok(path: &Path, args: &[&str]) -> String {
    crate::common::ok(path, "cli passphrase", args)
}

fn fails(path: &Path, args: &[&str]) -> String {
    let out = cli(path, "cli passphrase", args);
    assert!(!out.status.success(), "{args:?} should fail");
    assert!(out.stdout.is_empty(), "a failure prints nothing on stdout");
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn the_commands_of_cli_md() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.db");
    let short = cli(&path, "short", &["init", "--insecure-kdf-for-tests"]);
    assert!(
        !short.status.success(),
        "a short passphrase must be refused"
    );
    assert!(
        String::from_utf8_lossy(&short.stderr).contains("au moins 12 caractères"),
        "and say how long it must be"
    );
    assert!(!path.exists(), "nothing is created");
    let replica = ok(&path, &["init", "--insecure-kdf-for-tests"]);
    assert_eq!(
        replica.trim().len(),
        36,
        "init prints the replica id: {replica}"
    );
    let site = ok(
        &path,
        &[
            "add",
            "site",
            "--set",
            "name=Camp Nord",
            "--set",
            "lat=50.6",
        ],
    );
    let site = site.trim();
    let person = ok(
        &path,
        &[
            "add",
            "person",
            "--set",
            "family_name=Lăcătuș",
            "--set",
            "given_names=Ștefan",
            "--set",
            "birth_date=1991",
            "--set",
            &format!("site_id={site}"),
            "--set",
            "aliases=[\"Stefane\"]",
            "--set",
            "x_badge=blue",
        ],
    );
    let person = person.trim();
    let shown: Value = serde_json::from_str(&ok(&path, &["show", person])).unwrap();
    assert_eq!(shown["kind"], "person");
    assert_eq!(
        shown["fields"]["birth_date"][0]["value"], "1991",
        "dates as written"
    );
    assert_eq!(
        shown["fields"]["aliases"][0]["value"][0], "Stefane",
        "lists as JSON"
    );
    assert_eq!(
        shown["fields"]["x_badge"][0]["value"], "blue",
        "x_ fields as text"
    );
    let site_state: Value = serde_json::from_str(&ok(&path, &["show", site])).unwrap();
    assert_eq!(
        site_state["fields"]["lat"][0]["value"], 50.6,
        "numbers as JSON"
    );

    assert_eq!(
        ok(&path, &["edit", person, "--set", "phone=06 12 34 56 78"]),
        ""
    );
    let found = ok(&path, &["search", "stefan 0612"]);
    assert_eq!(
        found.lines().count(),
        1,
        "search prints one person per line"
    );
    assert!(found.contains(person));
    assert_eq!(
        ok(&path, &["edit", person, "--set", "phone="]),
        "",
        "empty clears"
    );
    assert!(ok(&path, &["search", "0612"]).is_empty());

    let err = fails(
        &path,
        &[
            "add",
            "person",
            "--set",
            "family_name=X",
            "--set",
            "birth_date=1991-13",
        ],
    );
    assert!(
        err.contains("birth_date") && err.contains("YYYY"),
        "names the field: {err}"
    );
    let err = fails(
        &path,
        &[
            "add",
            "person",
            "--set",
            "family_name=X",
            "--set",
            "colour=red",
        ],
    );
    assert!(err.contains("colour"), "an unknown field is named: {err}");
    let err = fails(
        &path,
        &[
            "add",
            "person",
            "--set",
            "family_name=X",
            "--set",
            "bank_account=maybe",
        ],
    );
    assert!(err.contains("bank_account"), "{err}");
    let err = fails(
        &path,
        &[
            "add",
            "person",
            "--set",
            "family_name=X",
            "--set",
            "site_id=01234567-89ab-7def-8123-456789abcdef",
        ],
    );
    assert!(
        err.contains("site_id"),
        "a reference must name a record: {err}"
    );
    assert_eq!(
        ok(&path, &["list", "person"]).lines().count(),
        1,
        "nothing half-written"
    );

    assert_eq!(ok(&path, &["delete", person]), "");
    assert!(
        ok(&path, &["list", "person"]).is_empty(),
        "deleted records are not listed"
    );
    let err = fails(&path, &["edit", person, "--set", "phone=1"]);
    assert!(err.contains("restore"), "{err}");
    assert_eq!(ok(&path, &["restore", person]), "");
    assert_eq!(ok(&path, &["list", "person"]).lines().count(), 1);

    assert_eq!(ok(&path, &["conflicts"]), "", "no conflicts");
    assert_eq!(
        ok(&path, &["resolve", person, "notes", "--value", "\"seen\""]),
        ""
    );
    let shown: Value = serde_json::from_str(&ok(&path, &["show", person])).unwrap();
    assert_eq!(shown["fields"]["notes"][0]["value"], "seen");
    let err = fails(&path, &["resolve", person, "notes", "--value", "seen"]);
    assert!(err.contains("JSON"), "{err}");

    let out = cli(&path, "wrong", &["list", "person"]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("passphrase does not open"),
        "a wrong passphrase is one clear sentence: {err}"
    );
    assert_eq!(err.lines().count(), 1, "one line on stderr: {err}");
    assert!(!err.contains("Lăcătuș"), "no personal data in errors");
}

#[test]
fn a_weak_passphrase_is_refused_with_why_in_french_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.db");
    for (weak, why) in [
        (
            "court",
            "La phrase secrète doit compter au moins 12 caractères.",
        ),
        (
            "motdepasse123",
            "Cette phrase secrète est trop facile à deviner.",
        ),
        (
            "passerelle2026!",
            "Cette phrase secrète est trop facile à deviner.",
        ),
    ] {
        let out = cli(&path, weak, &["init"]);
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(!out.status.success(), "{weak:?} must be refused");
        assert!(out.stdout.is_empty(), "a refusal prints nothing on stdout");
        assert!(err.contains(why), "{weak:?}: expected {why:?} in: {err}");
        assert_eq!(err.lines().count(), 1, "one line on stderr: {err}");
        assert!(!err.contains(weak), "the passphrase is never quoted: {err}");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "{weak:?}: no file is created"
        );
    }

    ok(&path, &["init", "--insecure-kdf-for-tests"]);
    let out = Command::new(env!("CARGO_BIN_EXE_passerelle-cli"))
        .arg("--case-file")
        .arg(&path)
        .arg("change-passphrase")
        .env("PASSERELLE_PASSPHRASE", "cli passphrase")
        .env("PASSERELLE_NEW_PASSPHRASE", "aaaaaaaaaaaaaaaa")
        .env_remove("PASSERELLE_CASE_FILE")
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(!out.status.success(), "a weak new passphrase is refused");
    assert!(
        err.contains("Un caractère répété"),
        "and says why, in French: {err}"
    );
    ok(&path, &["list", "person"]);
}

#[test]
fn the_command_line_prints_and_sets_the_settings() {
    let (dir, file) = fresh();
    drop(file);
    let path = db_path(&dir);
    let run = |args: &[&str]| cli(&path, PASS, args);
    let set = run(&[
        "organisation",
        "--set",
        "name=Association Îlot Fraternité",
        "--set",
        "retention_months=36",
    ]);
    assert!(
        set.status.success(),
        "{}",
        String::from_utf8_lossy(&set.stderr)
    );
    assert!(set.stdout.is_empty(), "setting prints nothing");
    let shown = run(&["organisation"]);
    assert!(shown.status.success());
    let settings: Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(settings["name"], json!("Association Îlot Fraternité"));
    assert_eq!(settings["retention_months"], json!(36));
    assert_eq!(settings["purposes"], Value::Null);

    let bad = run(&["organisation", "--set", "retention_months=2.5"]);
    assert!(!bad.status.success(), "a fraction of a month is refused");
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("retention_months"),
        "naming the field"
    );
    let add = run(&["add", "organisation", "--set", "name=Autre"]);
    assert!(!add.status.success(), "add organisation is refused");
    assert!(
        String::from_utf8_lossy(&add.stderr).contains("fixed id"),
        "saying why: {}",
        String::from_utf8_lossy(&add.stderr)
    );
}

/// A person closed on `closed_on`, with more fields.
fn closed(file: &mut CaseFile, family: &str, closed_on: &str, more: &[(&str, Value)]) -> String {
    let id = person(file, family, "Test");
    let mut changes = fields(&[("status", json!("closed")), ("closed_on", json!(closed_on))]);
    changes.extend(fields(more));
    file.edit(id, changes).unwrap();
    id.to_string()
}

#[test]
fn the_command_line_lists_the_files_past_retention() {
    let (dir, mut file) = fresh();
    let old = closed(&mut file, "Lăcătuș", "2023-02-01", &[]);
    closed(&mut file, "Récent", "2026-02-01", &[]);
    drop(file);
    let out = cli(
        &db_path(&dir),
        PASS,
        &["retention", "--today", "2026-03-01"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines,
        vec![json!({
            "id": old,
            "closed_on": "2023-02-01",
            "kept_until": "2025-02-01",
            "family_name": "Lăcătuș",
            "given_names": "Test",
        })],
        "one JSON line per file past retention"
    );
}

#[test]
fn the_command_line_counts_with_the_app_across_processes() {
    let (dir, file) = fresh();
    drop(file);
    let path = db_path(&dir);
    for attempt in 1..=5 {
        let out = cli(&path, "not the passphrase at all", &["list", "person"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains("passphrase does not open"),
            "attempt {attempt}: a wrong passphrase: {err}"
        );
    }
    let out = cli(&path, PASS, &["list", "person"]);
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        !out.status.success(),
        "the right passphrase is refused during the wait"
    );
    assert!(out.stdout.is_empty(), "and prints nothing on stdout");
    assert!(
        err.contains("too many wrong passphrases in a row: wait ")
            && err.contains(" seconds before trying again"),
        "the command line says how long to wait: {err}"
    );
    assert_eq!(err.lines().count(), 1, "one line on stderr: {err}");
    assert!(
        matches!(
            CaseFile::open(&path, PASS),
            Err(Error::UnlockBackoff { .. })
        ),
        "the library, in another process, sees the same count"
    );
}

#[test]
fn the_command_line_finds_duplicates_marks_pairs_and_merges() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.db");
    ok(&path, &["init", "--insecure-kdf-for-tests"]);
    let add = |family: &str, given: &str| {
        cli(
            &path,
            "cli passphrase",
            &[
                "add",
                "person",
                "--set",
                &format!("family_name={family}"),
                "--set",
                &format!("given_names={given}"),
                "--set",
                "birth_date=1987",
            ],
        )
    };
    let first = add("Lăcătuș", "Ștefan");
    assert!(first.status.success());
    assert!(first.stderr.is_empty(), "no candidate in an empty file");
    let keep = String::from_utf8(first.stdout).unwrap().trim().to_owned();
    let second = add("Lacatus", "Stefane");
    assert!(second.status.success(), "created all the same");
    let other = String::from_utf8(second.stdout).unwrap().trim().to_owned();
    let stderr = String::from_utf8(second.stderr).unwrap();
    let line: Value = serde_json::from_str(stderr.lines().next().unwrap_or("")).unwrap();
    assert_eq!(line["a"], json!(other), "{stderr}");
    assert_eq!(line["b"], json!(keep));
    assert!(line["score"].as_u64().is_some_and(|s| s > 0));
    assert!(line["reasons"].as_array().is_some_and(|r| !r.is_empty()));
    let third = add("Popa", "Maria");
    let third = String::from_utf8(third.stdout).unwrap().trim().to_owned();

    let pairs = |args: &[&str]| -> Vec<Value> {
        ok(&path, args)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let (a, b) = if keep < other {
        (keep.clone(), other.clone())
    } else {
        (other.clone(), keep.clone())
    };
    let all = pairs(&["duplicates"]);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(
        (all[0]["a"].clone(), all[0]["b"].clone()),
        (json!(a), json!(b))
    );
    assert_eq!(pairs(&["duplicates", "--of", &keep]).len(), 1);
    assert!(pairs(&["duplicates", "--of", &third]).is_empty());

    // Marked as two people: no longer listed.
    ok(&path, &["not-duplicates", &keep, &other]);
    assert!(pairs(&["duplicates"]).is_empty());
    assert!(fails(&path, &["not-duplicates", &keep, "nope"]).contains("record id"));

    // Merged all the same (a counsellor learnt better): one file is listed and found.
    ok(
        &path,
        &["merge", &keep, &other, "--set", "phone=0612345678"],
    );
    let listed = ok(&path, &["list", "person"]);
    assert_eq!(listed.lines().count(), 2, "{listed}");
    assert!(!listed.contains(&format!("\"id\":\"{other}\"")));
    let found = ok(&path, &["search", "stefane"]);
    assert_eq!(found.lines().count(), 1);
    assert!(found.contains(&keep) && found.contains("0612345678"));
    let shown: Value = serde_json::from_str(&ok(&path, &["show", &other])).unwrap();
    assert_eq!(shown["fields"]["merged_into"][0]["value"], json!(keep));
    let again = fails(&path, &["merge", &keep, &other]);
    assert!(again.contains("other_id"), "{again}");
    let forged = fails(
        &path,
        &["edit", &keep, "--set", &format!("merged_into={third}")],
    );
    assert!(forged.contains("merged_into"), "{forged}");
}
