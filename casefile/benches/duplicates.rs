//! One person, one file, at the size of a large team: 20,000 persons (set
//! `CASEFILE_BENCH_PERSONS` to change it), 2% of them entered twice under another
//! spelling.
//!
//! Measures, each beside a baseline measured in the same run on the same file:
//! - candidates on entry (p50, p95) for names typed in another spelling, against the
//!   person search of the same names;
//! - the whole file's possible duplicates, against reading every person's row (the
//!   least any whole-file list does);
//! - a merge of a person whom 200 records name (100 visits, 100 steps), against one
//!   plain edit of a person, and against what rewriting the 200 references would cost
//!   (200 edits).
//!
//! Run: `cargo bench -p casefile --bench duplicates`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use casefile::sync_protocol::{FieldName, Kind, RecordId, RecordState, ReplicaId, Timestamp};
use casefile::{CaseFile, KdfParams};
use passerelle_test_support::samples::Rng;
use serde_json::{Value, json};

const STEMS: &[&str] = &[
    "Lăcăt", "Ștef", "Pop", "Ion", "Dumitr", "Stoic", "Rus", "Munt", "Constant", "Mar", "Tăn",
    "Căldăr", "Mih", "Din", "Georgi", "Ivan", "Petr", "Dimitr", "Stoyan", "Nikol", "Băl", "Zamf",
    "Cârcium", "Opr", "Rad", "Vas", "Tod", "Ang", "Hrist", "Yord",
];
const ENDINGS: &[&str] = &[
    "escu", "eanu", "aru", "ov", "ev", "ova", "iu", "ache", "ică", "uș", "an", "el",
];
const GIVEN: &[&str] = &[
    "Ștefan",
    "Mihai",
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
    "Георги",
    "Мария",
    "Христо",
    "Йордан",
    "Стефка",
    "Росица",
    "Ivan",
    "Denisa",
    "Alin",
    "Bianca",
    "Cosmin",
    "Daniela",
    "Emil",
    "Fănel",
    "Gabriela",
    "Lavinia",
    "Liviu",
    "Mirela",
    "Nelu",
    "Oana",
    "Paul",
    "Raluca",
    "Sorin",
    "Viorica",
];

/// Another spelling, as a second counsellor might type it: without diacritics, in
/// Cyrillic, or with a vocative or doubled letter.
fn variant(name: &str, how: usize) -> String {
    match how % 3 {
        0 => name
            .replace(['ă', 'â'], "a")
            .replace('î', "i")
            .replace('ș', "s")
            .replace('ț', "t")
            .replace('Ș', "S"),
        1 => format!("{name}e"),
        _ => name.replacen('n', "nn", 1),
    }
}

fn state(kind: &str, replica: ReplicaId, pairs: Vec<(&str, Value)>) -> RecordState {
    let at: Timestamp = "2026-11-02T10:14:00Z".parse().unwrap();
    let id: RecordId = uuid::Uuid::now_v7().to_string().parse().unwrap();
    RecordState::create(
        id,
        kind.parse::<Kind>().unwrap(),
        replica,
        at,
        pairs
            .into_iter()
            .map(|(k, v)| (k.parse::<FieldName>().unwrap(), v)),
    )
    .unwrap()
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[i]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n: usize = std::env::var("CASEFILE_BENCH_PERSONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let dir = tempfile::tempdir().unwrap();
    let mut file = CaseFile::init_with(
        dir.path().join("bench.db"),
        "bench passphrase",
        KdfParams::INSECURE_FOR_TESTS,
    )
    .unwrap();
    let server: ReplicaId = "00000000-0000-7000-8000-000000000001".parse().unwrap();
    println!("## duplicates bench: {n} persons, 2% entered twice");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut persons = Vec::with_capacity(n);
    let mut typed = Vec::new();
    while persons.len() < n {
        let family = format!(
            "{}{}",
            STEMS[rng.below(STEMS.len())],
            ENDINGS[rng.below(ENDINGS.len())]
        );
        let given = GIVEN[rng.below(GIVEN.len())].to_owned();
        let year = 1960 + rng.below(45);
        let person = |family: &str, given: &str| {
            state(
                "person",
                server,
                vec![
                    ("family_name", json!(family)),
                    ("given_names", json!(given)),
                    ("birth_date", json!(year.to_string())),
                    ("status", json!("active")),
                ],
            )
        };
        persons.push(person(&family, &given));
        if rng.below(50) == 0 {
            let how = rng.below(3);
            persons.push(person(&variant(&family, how), &variant(&given, how + 1)));
        }
        if typed.len() < 500 && rng.below(20) == 0 {
            let how = rng.below(3);
            typed.push((variant(&family, how), variant(&given, how + 2), year));
        }
    }
    for (i, page) in persons.chunks(1000).enumerate() {
        file.apply_pulled(page, i as u64 + 1).unwrap();
    }

    // 1. Candidates on entry, against the search of the same names.
    let (mut ours, mut search) = (Vec::new(), Vec::new());
    let mut found = 0;
    for (family, given, year) in &typed {
        let fields = vec![
            ("family_name".to_owned(), json!(family)),
            ("given_names".to_owned(), json!(given)),
            ("birth_date".to_owned(), json!(year.to_string())),
        ];
        let t = Instant::now();
        found += usize::from(!file.candidates(&fields, 10).unwrap().is_empty());
        ours.push(t.elapsed());
        let t = Instant::now();
        file.search(&format!("{family} {given}"), 10).unwrap();
        search.push(t.elapsed());
    }
    println!(
        "candidates on entry ({} names typed in another spelling, {found} with a candidate): \
         p50 {}, p95 {}; person search of the same names: p50 {}, p95 {}",
        typed.len(),
        ms(percentile(&mut ours, 0.5)),
        ms(percentile(&mut ours, 0.95)),
        ms(percentile(&mut search, 0.5)),
        ms(percentile(&mut search, 0.95)),
    );

    // 2. The whole file's list, against reading every person.
    let t = Instant::now();
    let everyone = file.list("person").unwrap().len();
    let read = t.elapsed();
    let t = Instant::now();
    let pairs = file.duplicates(None).unwrap();
    let whole = t.elapsed();
    println!(
        "possible duplicates of the whole file: {} ({} pairs); reading the {everyone} persons: {}, ratio {:.2}x",
        ms(whole),
        pairs.len(),
        ms(read),
        whole.as_secs_f64() / read.as_secs_f64()
    );

    // 3. A merge of a person whom 200 records name.
    let keep = persons[0].id();
    let other = persons[1].id();
    let mut named = Vec::new();
    for i in 0..100 {
        named.push(state(
            "visit",
            server,
            vec![
                (
                    "occurred_at",
                    json!(format!("2026-10-{:02}T10:00:00+01:00", 1 + i % 28)),
                ),
                ("setting", json!("home_visit")),
                ("person_ids", json!([other.to_string()])),
            ],
        ));
        named.push(state(
            "step",
            server,
            vec![
                ("person_id", json!(other.to_string())),
                ("category", json!("documents")),
                ("title", json!(format!("Démarche {i}"))),
            ],
        ));
    }
    file.apply_pulled(&named, 100_000).unwrap();
    let t = Instant::now();
    file.edit(keep, vec![("notes".to_owned(), json!("une note"))])
        .unwrap();
    let one_edit = t.elapsed();
    let t = Instant::now();
    file.merge_persons(
        keep,
        other,
        vec![("phone".to_owned(), json!("06 00 00 00 00"))],
    )
    .unwrap();
    let merge = t.elapsed();
    assert_eq!(file.timeline(keep).unwrap().items.len(), 200);
    let t = Instant::now();
    for record in named.iter().filter(|s| s.kind().as_str() == "step") {
        file.edit(
            record.id(),
            vec![("person_id".to_owned(), json!(keep.to_string()))],
        )
        .unwrap();
    }
    for record in named.iter().filter(|s| s.kind().as_str() == "visit") {
        file.edit(
            record.id(),
            vec![("person_ids".to_owned(), json!([keep.to_string()]))],
        )
        .unwrap();
    }
    let rewrite = t.elapsed();
    println!(
        "merge a person named by 200 records: {}; one plain edit of a person: {}, ratio {:.2}x; \
         rewriting the 200 references instead: {}",
        ms(merge),
        ms(one_edit),
        merge.as_secs_f64() / one_edit.as_secs_f64(),
        ms(rewrite)
    );
}
