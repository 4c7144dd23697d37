//! The case file at the size of a large team: 20,000 persons and 200,000 visits (set
//! `CASEFILE_BENCH_PERSONS` and `CASEFILE_BENCH_VISITS` to change the sizes).
//!
//! Measures, and prints with ratios against raw rusqlite inserts of the same rows into a
//! file with the same encryption and pragmas, measured in the same run:
//! - loading the case file by applying pulled pages of 1,000 states;
//! - applying one page of 1,000 pulled states to the full file (new visits, and edits of
//!   existing persons that merge);
//! - person search latency (p50, p95) over a mix of queries;
//! - recording one visit (one local edit, one commit);
//! - opening the file (Argon2id with the production parameters, then the first read).
//!
//! Run: `cargo bench -p casefile --bench casefile`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use casefile::sync_protocol::{FieldName, Kind, RecordId, RecordState, ReplicaId, Timestamp};
use casefile::{CaseFile, KdfParams};
use passerelle_test_support::baseline::{insert_states, states_file};
use passerelle_test_support::samples::Rng;
use serde_json::{Value, json};

const PASS: &str = "bench passphrase";
const PAGE: usize = 1000;

const FAMILY: &[&str] = &[
    "Lăcătuș",
    "Ștefănescu",
    "Popescu",
    "Ionescu",
    "Dumitru",
    "Stoica",
    "Rusu",
    "Munteanu",
    "Constantin",
    "Marin",
    "Tănase",
    "Căldăraru",
    "Mihai",
    "Dinu",
    "Georgiev",
    "Ivanov",
    "Petrov",
    "Dimitrov",
    "Stoyanov",
    "Nikolov",
    "Bălan",
    "Zamfir",
    "Cârciumaru",
    "Oprea",
];
const GIVEN: &[&str] = &[
    "Ștefan",
    "Mihaï",
    "Ion",
    "Maria",
    "Elena",
    "Florin",
    "Nicolae",
    "Ana",
    "Gheorghe",
    "Ioana",
    "Vasile",
    "Petru",
    "Dorina",
    "Marian",
    "Costel",
    "Radu",
    "Iordan",
    "Dimitar",
    "Elisaveta",
    "Todor",
    "Aurelia",
    "Ciprian",
    "Florica",
    "Năstase",
];

fn id() -> RecordId {
    uuid::Uuid::now_v7().to_string().parse().unwrap()
}

fn state(kind: &str, replica: ReplicaId, at: &Timestamp, pairs: Vec<(&str, Value)>) -> RecordState {
    RecordState::create(
        id(),
        kind.parse::<Kind>().unwrap(),
        replica,
        at.clone(),
        pairs
            .into_iter()
            .map(|(k, v)| (k.parse::<FieldName>().unwrap(), v)),
    )
    .unwrap()
}

struct Data {
    sites: Vec<RecordState>,
    persons: Vec<RecordState>,
    visits: Vec<RecordState>,
}

fn generate(persons: usize, visits: usize, replica: ReplicaId) -> Data {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let at: Timestamp = "2026-11-02T10:14:00Z".parse().unwrap();
    let sites: Vec<RecordState> = (0..200)
        .map(|i| {
            state(
                "site",
                replica,
                &at,
                vec![
                    ("name", json!(format!("Site {i}"))),
                    ("type", json!("bidonville")),
                ],
            )
        })
        .collect();
    let persons: Vec<RecordState> = (0..persons)
        .map(|i| {
            let site = sites[rng.below(sites.len())].id().to_string();
            let family = rng.pick(FAMILY);
            let given = format!("{} {}", rng.pick(GIVEN), rng.pick(GIVEN));
            let alias = format!("{}{}", family.replace('ș', "s").replace('ă', "a"), i % 7);
            state(
                "person",
                replica,
                &at,
                vec![
                    ("family_name", json!(format!("{family}{}", i % 97))),
                    ("given_names", json!(given)),
                    ("aliases", json!([alias])),
                    ("birth_date", json!(format!("{}", 1960 + i % 45))),
                    (
                        "phone",
                        json!(format!(
                            "06 {:02} {:02} {:02} {:02}",
                            i % 100,
                            (i / 100) % 100,
                            rng.below(100),
                            rng.below(100)
                        )),
                    ),
                    ("site_id", json!(site)),
                    ("status", json!("active")),
                ],
            )
        })
        .collect();
    let visits = visits_to(&persons, &sites, visits, replica, &mut rng);
    Data {
        sites,
        persons,
        visits,
    }
}

/// `n` visits to persons and sites among those given.
fn visits_to(
    persons: &[RecordState],
    sites: &[RecordState],
    n: usize,
    replica: ReplicaId,
    rng: &mut Rng,
) -> Vec<RecordState> {
    let at: Timestamp = "2026-11-02T10:14:00Z".parse().unwrap();
    (0..n)
        .map(|i| {
            let who: Vec<String> = (0..1 + rng.below(3))
                .map(|_| persons[rng.below(persons.len())].id().to_string())
                .collect();
            state(
                "visit",
                replica,
                &at,
                vec![
                    ("occurred_at", json!(format!("2026-{:02}-{:02}T10:00:00+01:00", 1 + i % 12, 1 + i % 28))),
                    ("setting", json!("home_visit")),
                    ("site_id", json!(sites[rng.below(sites.len())].id().to_string())),
                    ("person_ids", json!(who)),
                    ("counsellors", json!(["marie"])),
                    ("observations", json!("Rencontre sur le terrain, point sur les démarches en cours et la recherche d'emploi.")),
                    ("next_visit_on", json!(format!("2026-{:02}-{:02}", 1 + i % 12, 1 + i % 28))),
                ],
            )
        })
        .collect()
}

/// The second baseline: a file with the case file's schema, the same encryption and
/// pragmas, and the very rows the case file writes for each state (the state, its typed
/// row, the persons met in a visit, a person's search terms) inserted with plain
/// prepared statements: what the library adds on top is its own work (reading and merging
/// states, checking, encoding).
fn rows_baseline(path: &std::path::Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(&format!("PRAGMA key = \"x'{}'\";", "cd".repeat(32)))
        .unwrap();
    conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
        .unwrap();
    conn.execute_batch(
        "PRAGMA synchronous = FULL; PRAGMA temp_store = MEMORY; PRAGMA secure_delete = ON;
         PRAGMA cache_size = -65536; PRAGMA wal_autocheckpoint = 10000;",
    )
    .unwrap();
    conn.execute_batch(include_str!("../migrations/001_init.sql"))
        .unwrap();
    conn
}

fn sql_value(value: Option<&Value>) -> rusqlite::types::Value {
    use rusqlite::types::Value as Sql;
    match value {
        None | Some(Value::Null) => Sql::Null,
        Some(Value::String(s)) => Sql::Text(s.clone()),
        Some(Value::Number(n)) => Sql::Real(n.as_f64().unwrap_or(0.0)),
        Some(Value::Bool(b)) => Sql::Integer(i64::from(*b)),
        Some(other) => Sql::Text(other.to_string()),
    }
}

fn rows_insert(conn: &mut rusqlite::Connection, states: &[RecordState]) {
    use casefile::fold;
    let tx = conn.transaction().unwrap();
    for s in states {
        let id = s.id().to_string();
        tx.prepare_cached(
            "INSERT OR REPLACE INTO records (id, kind, state, deleted, erased, conflicted)
             VALUES (?1, ?2, ?3, 0, 0, 0)",
        )
        .unwrap()
        .execute(rusqlite::params![id, s.kind().as_str(), s.to_json()])
        .unwrap();
        let names: Vec<&str> = s
            .fields()
            .map(|(n, _)| n.as_str())
            .filter(|n| !n.starts_with('_'))
            .collect();
        let mut values = vec![rusqlite::types::Value::Text(id.clone())];
        values.extend(names.iter().map(|n| sql_value(s.value(n))));
        let columns: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
        let marks: Vec<String> = (1..=values.len()).map(|i| format!("?{i}")).collect();
        let sql = format!(
            "INSERT OR REPLACE INTO {} (id, {}) VALUES ({})",
            s.kind(),
            columns.join(", "),
            marks.join(", ")
        );
        tx.prepare_cached(&sql)
            .unwrap()
            .execute(rusqlite::params_from_iter(values))
            .unwrap();
        match s.kind().as_str() {
            "visit" => {
                let mut stmt = tx
                    .prepare_cached(
                        "INSERT OR IGNORE INTO visit_person
                         (visit_id, person_id, occurred_at, next_visit_on) VALUES (?1, ?2, ?3, ?4)",
                    )
                    .unwrap();
                for person in s.value("person_ids").and_then(Value::as_array).unwrap() {
                    stmt.execute(rusqlite::params![
                        id,
                        person.as_str().unwrap(),
                        s.value("occurred_at").and_then(Value::as_str),
                        s.value("next_visit_on").and_then(Value::as_str)
                    ])
                    .unwrap();
                }
            }
            "person" => {
                tx.prepare_cached("DELETE FROM person_terms WHERE person_id = ?1")
                    .unwrap()
                    .execute([&id])
                    .unwrap();
                let mut stmt = tx
                    .prepare_cached(
                        "INSERT OR IGNORE INTO person_terms (term, person_id, field)
                         VALUES (?1, ?2, ?3)",
                    )
                    .unwrap();
                let text = |f: &str| s.value(f).and_then(Value::as_str).unwrap_or("").to_owned();
                let names = format!("{} {}", text("family_name"), text("given_names"));
                for word in fold::words(&names) {
                    stmt.execute(rusqlite::params![word, id, 0]).unwrap();
                }
                let aliases = s.value("aliases").map(Value::to_string).unwrap_or_default();
                for word in fold::words(&aliases) {
                    stmt.execute(rusqlite::params![word, id, 1]).unwrap();
                }
                stmt.execute(rusqlite::params![fold::digits(&text("phone")), id, 2])
                    .unwrap();
            }
            _ => {}
        }
    }
    tx.commit().unwrap();
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[i]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn size(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n_persons = size("CASEFILE_BENCH_PERSONS", 20_000);
    let n_visits = size("CASEFILE_BENCH_VISITS", 200_000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.db");
    let mut file = CaseFile::init(&path, PASS).unwrap();
    let server: ReplicaId = "00000000-0000-7000-8000-000000000001".parse().unwrap();
    println!("## casefile bench: {n_persons} persons, {n_visits} visits, pages of {PAGE}");
    let started = Instant::now();
    let data = generate(n_persons, n_visits, server);
    println!(
        "generated states in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // 1. Loading by pulled pages, against raw inserts of the same states.
    let all: Vec<RecordState> = data
        .sites
        .iter()
        .chain(&data.persons)
        .chain(&data.visits)
        .cloned()
        .collect();
    let mut raw = states_file(&dir.path().join("raw.db"));
    let mut rows = rows_baseline(&dir.path().join("rows.db"));
    let started = Instant::now();
    for page in all.chunks(PAGE) {
        insert_states(&mut raw, page);
    }
    let raw_load = started.elapsed();
    let started = Instant::now();
    for page in all.chunks(PAGE) {
        rows_insert(&mut rows, page);
    }
    let rows_load = started.elapsed();
    let started = Instant::now();
    for (i, page) in all.chunks(PAGE).enumerate() {
        file.apply_pulled(page, i as u64 + 1).unwrap();
    }
    let load = started.elapsed();
    println!(
        "load {} states: case file {:.1} s; raw inserts of the states {:.1} s, ratio {:.2}x; \
         raw inserts of the same rows {:.1} s, ratio {:.2}x",
        all.len(),
        load.as_secs_f64(),
        raw_load.as_secs_f64(),
        load.as_secs_f64() / raw_load.as_secs_f64(),
        rows_load.as_secs_f64(),
        load.as_secs_f64() / rows_load.as_secs_f64()
    );

    // 2. One page of 1,000 pulled states on the full file.
    let replica = server;
    let at: Timestamp = "2026-11-03T09:00:00Z".parse().unwrap();
    let mut rng_for_pages = Rng(7);
    // New visits to the persons and sites already in the file.
    let new_pages: Vec<Vec<RecordState>> = (0..5)
        .map(|_| {
            visits_to(
                &data.persons,
                &data.sites,
                PAGE,
                replica,
                &mut rng_for_pages,
            )
        })
        .collect();
    let mut edit_pages = Vec::new();
    for chunk in data.persons.chunks(PAGE).take(5) {
        let page: Vec<RecordState> = chunk
            .iter()
            .map(|p| {
                let mut p = p.clone();
                p.edit(
                    replica,
                    at.clone(),
                    [(
                        "phone".parse::<FieldName>().unwrap(),
                        json!("07 00 00 00 00"),
                    )],
                )
                .unwrap();
                p
            })
            .collect();
        edit_pages.push(page);
    }
    let mut report = |label: &str, pages: &[Vec<RecordState>], file: &mut CaseFile| {
        let (mut ours, mut states, mut same) = (Vec::new(), Vec::new(), Vec::new());
        for (i, page) in pages.iter().enumerate() {
            let t = Instant::now();
            insert_states(&mut raw, page);
            states.push(t.elapsed());
            let t = Instant::now();
            rows_insert(&mut rows, page);
            same.push(t.elapsed());
            let t = Instant::now();
            file.apply_pulled(page, 10_000 + i as u64).unwrap();
            ours.push(t.elapsed());
        }
        let a = percentile(&mut ours, 0.5);
        let b = percentile(&mut states, 0.5);
        let c = percentile(&mut same, 0.5);
        println!(
            "apply a page of {PAGE} pulled {label}: p50 {}; raw inserts of the states {}, \
             ratio {:.2}x; raw inserts of the same rows {}, ratio {:.2}x",
            ms(a),
            ms(b),
            a.as_secs_f64() / b.as_secs_f64(),
            ms(c),
            a.as_secs_f64() / c.as_secs_f64()
        );
    };
    report("new visits", &new_pages, &mut file);
    report("edits of persons (merge)", &edit_pages, &mut file);

    // 3. Search latency.
    let mut rng = Rng(42);
    let mut queries: Vec<String> = Vec::new();
    for i in 0..1000 {
        let family = rng.pick(FAMILY);
        let given = rng.pick(GIVEN);
        let q = match i % 5 {
            0 => family.chars().take(3).collect(),
            1 => format!("{} {}", family.to_uppercase(), given),
            2 => format!("{}{}", family, rng.below(97)),
            3 => format!("06 {:02}", rng.below(100)).replace(' ', ""),
            _ => {
                given.chars().take(2).collect::<String>()
                    + " "
                    + &family.chars().take(2).collect::<String>()
            }
        };
        queries.push(q);
    }
    let mut samples = Vec::new();
    let mut hits = 0;
    for q in &queries {
        let t = Instant::now();
        hits += file.search(q, 50).unwrap().len();
        samples.push(t.elapsed());
    }
    println!(
        "search (limit 50, {} queries, {:.1} hits each): p50 {}, p95 {}, max {}",
        queries.len(),
        hits as f64 / queries.len() as f64,
        ms(percentile(&mut samples, 0.5)),
        ms(percentile(&mut samples, 0.95)),
        ms(percentile(&mut samples, 1.0))
    );

    // 4. The app's screens on the full file.
    let t = Instant::now();
    let today = file.today("2026-11-28").unwrap();
    let today_time = t.elapsed();
    let mut timelines = Vec::new();
    for _ in 0..100 {
        let person = data.persons[rng.below(data.persons.len())].id();
        let t = Instant::now();
        file.timeline(person).unwrap();
        timelines.push(t.elapsed());
    }
    let t = Instant::now();
    let sites = file.sites().unwrap();
    let sites_time = t.elapsed();
    println!(
        "today's plan: {} ({} visits due); a person's timeline: p50 {}, p95 {}; {} sites with counts: {}",
        ms(today_time),
        today.visits_due.len(),
        ms(percentile(&mut timelines, 0.5)),
        ms(percentile(&mut timelines, 0.95)),
        sites.len(),
        ms(sites_time)
    );

    // 5. Recording a visit: one local edit, one commit.
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for i in 0..200 {
        let person = data.persons[rng.below(data.persons.len())].id().to_string();
        let site = data.sites[rng.below(data.sites.len())].id().to_string();
        let fields = vec![
            ("occurred_at".to_owned(), json!("2026-11-28T10:00:00+01:00")),
            ("setting".to_owned(), json!("home_visit")),
            ("site_id".to_owned(), json!(site)),
            ("person_ids".to_owned(), json!([person])),
            ("observations".to_owned(), json!(format!("Visite {i}"))),
            ("next_visit_on".to_owned(), json!("2026-12-05")),
        ];
        let t = Instant::now();
        let id = file.create("visit", fields).unwrap();
        ours.push(t.elapsed());
        let one = [file.get(id).unwrap()];
        let t = Instant::now();
        insert_states(&mut raw, &one);
        theirs.push(t.elapsed());
    }
    let (a, b) = (percentile(&mut ours, 0.5), percentile(&mut theirs, 0.5));
    println!(
        "record a visit: p50 {}, p95 {} (raw insert of the same row, own commit: p50 {}), ratio {:.2}x",
        ms(a),
        ms(percentile(&mut ours, 0.95)),
        ms(b),
        a.as_secs_f64() / b.as_secs_f64()
    );

    // 6. Opening the file.
    drop(file);
    let mut opens = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let file = CaseFile::open(&path, PASS).unwrap();
        opens.push(t.elapsed());
        drop(file);
    }
    let mut kdf = Vec::new();
    for _ in 0..3 {
        let p = dir.path().join(format!("kdf{}.db", kdf.len()));
        let t = Instant::now();
        drop(CaseFile::init_with(&p, PASS, KdfParams::PRODUCTION).unwrap());
        kdf.push(t.elapsed());
    }
    println!(
        "open the full file (Argon2id 64 MiB, t=3, then first read and migrations check): p50 {} (init of an empty file, same key derivation: p50 {})",
        ms(percentile(&mut opens, 0.5)),
        ms(percentile(&mut kdf, 0.5))
    );
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!("file size: {:.0} MiB", bytes as f64 / (1024.0 * 1024.0));
}
