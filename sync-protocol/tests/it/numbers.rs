//! Numbers round-trip exactly (§2): every double reads back as itself, and decoding a
//! canonical state then encoding it again gives the same bytes.

use proptest::prelude::*;
use serde_json::{Number, Value, json};
use sync_protocol::RecordState;

use crate::sim;

const A: &str = "0190f3a2-0000-7000-8000-00000000000a";
const ID: &str = "0190f3a2-1111-7000-8000-000000000001";

fn site(values: &[Value]) -> Value {
    let fields: serde_json::Map<String, Value> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            (
                format!("x_n{i}"),
                json!([{"dot": [A, 1], "at": "2026-11-02T10:00:00Z", "value": v}]),
            )
        })
        .collect();
    json!({"id": ID, "kind": "site", "vv": {A: 1}, "fields": fields})
}

/// Doubles of every kind: any bit pattern (subnormals, huge exponents, integers past
/// 2^53), and the edges.
fn double() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        any::<u64>().prop_map(f64::from_bits),
        (-1e6f64..1e6f64),
        any::<i64>().prop_map(|i| i as f64),
        prop::sample::select(vec![
            0.0,
            -0.0,
            f64::MIN_POSITIVE,
            5e-324,
            f64::MAX,
            f64::MIN,
            4.812319103551805e-16,
            9007199254740993.0,
            1e21,
            1e-7,
        ]),
    ]
    .prop_filter("JSON has no NaN or infinity", |x| x.is_finite())
}

/// Number texts as another implementation might write them.
fn number_text() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        "[1-9][0-9]{0,17}",
        proptest::option::of("[0-9]{1,20}"),
        proptest::option::of((any::<bool>(), 0i32..280)),
    )
        .prop_map(|(neg, int, frac, exp)| {
            let mut text = String::new();
            if neg {
                text.push('-');
            }
            text.push_str(&int);
            if let Some(frac) = frac {
                text.push('.');
                text.push_str(&frac);
            }
            if let Some((down, e)) = exp {
                text.push_str(if down { "e-" } else { "E" });
                text.push_str(&e.to_string());
            }
            text
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(sim::cases() * 5))]

    #[test]
    fn every_double_reads_back_as_itself(xs in proptest::collection::vec(double(), 1..8)) {
        let values: Vec<Value> = xs.iter().map(|&x| Value::Number(Number::from_f64(x).unwrap())).collect();
        let text = site(&values).to_string();
        let state = RecordState::from_json(&text).unwrap();
        let canonical = state.to_json();
        let back = RecordState::from_json(&canonical).unwrap();
        prop_assert_eq!(back.to_json(), canonical.clone(), "decode then encode must be the identity on canonical bytes");
        for (i, x) in xs.iter().enumerate() {
            let read = back.value(&format!("x_n{i}")).and_then(Value::as_f64).unwrap();
            prop_assert_eq!(read.to_bits(), x.to_bits(), "{} came back as {} from {}", x, read, canonical);
        }
    }

    #[test]
    fn any_number_text_reaches_a_fixed_point_with_its_value(texts in proptest::collection::vec(number_text(), 1..6)) {
        let body = texts
            .iter()
            .enumerate()
            .map(|(i, t)| format!(r#""x_n{i}":[{{"dot":["{A}",1],"at":"2026-11-02T10:00:00Z","value":{t}}}]"#))
            .collect::<Vec<_>>()
            .join(",");
        let text = format!(r#"{{"id":"{ID}","kind":"site","vv":{{"{A}":1}},"fields":{{{body}}}}}"#);
        let state = RecordState::from_json(&text).unwrap();
        let canonical = state.to_json();
        prop_assert_eq!(RecordState::from_json(&canonical).unwrap().to_json(), canonical.clone());
        for (i, t) in texts.iter().enumerate() {
            let written: f64 = t.parse().unwrap();
            let kept = state.value(&format!("x_n{i}")).and_then(Value::as_f64).unwrap();
            prop_assert_eq!(kept, written, "{} was read as {}", t, kept);
        }
    }

    #[test]
    fn states_of_random_histories_round_trip_to_their_bytes(schedule in sim::schedule()) {
        let world = sim::run(&schedule);
        for state in world.snapshots.iter().flatten() {
            let bytes = state.to_json();
            let back = RecordState::from_json(&bytes).unwrap();
            prop_assert_eq!(back.to_json(), bytes.clone());
            prop_assert_eq!(&back, state, "decoding must give the same state");
        }
    }
}

#[test]
fn the_site_of_the_issue_keeps_its_latitude() {
    let text = site(&[json!(4.812319103551805e-16)]).to_string();
    assert!(text.contains("4.812319103551805e-16"), "{text}");
    let canonical = RecordState::from_json(&text).unwrap().to_json();
    assert!(
        canonical.contains("4.812319103551805e-16"),
        "the latitude must stay as written: {canonical}"
    );
}
