//! Merge and JSON encode/decode of 10,000 records of 30 fields, each against a baseline
//! measured in the same run: cloning the states (the floor of any merge that builds a new
//! state), and serde_json's own encode/decode of the same JSON as untyped values.
//!
//! `cargo bench -p sync-protocol --bench merge`

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};
use sync_protocol::{FieldName, Kind, RecordId, RecordState, ReplicaId, merge, merge_checked};

const RECORDS: usize = 10_000;
const FIELDS: usize = 30;

/// Two concurrent copies of each record: A wrote every field, then A and B each changed
/// a third of the fields (some the same ones, giving conflicts).
fn pairs() -> Vec<(RecordState, RecordState)> {
    let a: ReplicaId = "00000000-0000-4000-8000-00000000000a".parse().unwrap();
    let b: ReplicaId = "00000000-0000-4000-8000-00000000000b".parse().unwrap();
    let kind: Kind = "person".parse().unwrap();
    let names: Vec<FieldName> = (0..FIELDS)
        .map(|i| format!("field_{i:02}").parse().unwrap())
        .collect();
    let at = |m: usize| format!("2026-11-02T10:{:02}:00Z", m % 60).parse().unwrap();
    (0..RECORDS)
        .map(|r| {
            let id = RecordId::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 + r as u128);
            let fields = names
                .iter()
                .map(|n| (n.clone(), json!(format!("valeur initiale {r} {n} Ștefan"))));
            let base = RecordState::create(id, kind.clone(), a, at(0), fields).unwrap();
            let mut left = base.clone();
            left.edit(
                a,
                at(1),
                names[..10]
                    .iter()
                    .map(|n| (n.clone(), json!("modifié par A"))),
            )
            .unwrap();
            let mut right = base;
            right
                .edit(
                    b,
                    at(2),
                    names[5..15]
                        .iter()
                        .map(|n| (n.clone(), json!("modifié par B"))),
                )
                .unwrap();
            (left, right)
        })
        .collect()
}

fn benches(c: &mut Criterion) {
    let pairs = pairs();
    let states: Vec<RecordState> = pairs.iter().map(|(l, r)| merge(l, r).unwrap()).collect();
    let texts: Vec<String> = states.iter().map(RecordState::to_json).collect();
    let values: Vec<Value> = texts
        .iter()
        .map(|t| serde_json::from_str(t).unwrap())
        .collect();
    let bytes: u64 = texts.iter().map(|t| t.len() as u64).sum();

    let mut group = c.benchmark_group("merge_10k_records_30_fields");
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.bench_function("merge", |bench| {
        bench.iter(|| {
            pairs.iter().for_each(|(l, r)| {
                black_box(merge(black_box(l), black_box(r)).unwrap());
            })
        })
    });
    group.bench_function("merge_checked_no_drop", |bench| {
        bench.iter(|| {
            pairs.iter().for_each(|(l, r)| {
                black_box(merge_checked(black_box(l), black_box(r)).unwrap());
            })
        })
    });
    group.bench_function("baseline_clone_both", |bench| {
        bench.iter_batched(
            || (),
            |()| black_box(pairs.clone()),
            BatchSize::PerIteration,
        )
    });
    group.finish();

    let mut group = c.benchmark_group("encode_10k_records_30_fields");
    group.throughput(Throughput::Bytes(bytes));
    group.bench_function("canonical_to_json", |bench| {
        bench.iter(|| {
            states
                .iter()
                .map(|s| black_box(s.to_json()).len())
                .sum::<usize>()
        })
    });
    group.bench_function("baseline_serde_json_value", |bench| {
        bench.iter(|| {
            values
                .iter()
                .map(|v| black_box(serde_json::to_string(v).unwrap()).len())
                .sum::<usize>()
        })
    });
    group.finish();

    let mut group = c.benchmark_group("decode_10k_records_30_fields");
    group.throughput(Throughput::Bytes(bytes));
    group.bench_function("validated_from_json", |bench| {
        bench.iter(|| {
            texts.iter().for_each(|t| {
                black_box(RecordState::from_json(black_box(t)).unwrap());
            })
        })
    });
    group.bench_function("baseline_serde_json_value", |bench| {
        bench.iter(|| {
            texts.iter().for_each(|t| {
                black_box(serde_json::from_str::<Value>(black_box(t)).unwrap());
            })
        })
    });
    group.finish();

    // The same records with every value a double of arbitrary mantissa: what exact number
    // reading costs, against serde_json's own (also exact) decode of the same text.
    let numeric: Vec<String> = texts
        .iter()
        .enumerate()
        .map(|(r, t)| {
            let mut v: Value = serde_json::from_str(t).unwrap();
            for (i, entries) in v["fields"]
                .as_object_mut()
                .unwrap()
                .values_mut()
                .enumerate()
            {
                for e in entries.as_array_mut().unwrap() {
                    e["value"] = json!(50.0 + (r * 31 + i) as f64 / 7919.0 * 1e-3);
                }
            }
            v.to_string()
        })
        .collect();
    let mut group = c.benchmark_group("decode_10k_numeric_records_30_fields");
    group.throughput(Throughput::Bytes(
        numeric.iter().map(|t| t.len() as u64).sum(),
    ));
    group.bench_function("validated_from_json", |bench| {
        bench.iter(|| {
            numeric.iter().for_each(|t| {
                black_box(RecordState::from_json(black_box(t)).unwrap());
            })
        })
    });
    group.bench_function("baseline_serde_json_value", |bench| {
        bench.iter(|| {
            numeric.iter().for_each(|t| {
                black_box(serde_json::from_str::<Value>(black_box(t)).unwrap());
            })
        })
    });
    group.finish();
}

criterion_group! {
    name = group;
    config = Criterion::default().sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    targets = benches
}
criterion_main!(group);
