//! The decoder never panics, whatever it is fed: arbitrary bytes, arbitrary JSON, and
//! valid states with one part replaced by arbitrary JSON (which reach the deep checks).
//! 120,000 cases by default (`PASSERELLE_FUZZ_CASES` per property raises it); a found
//! input is shrunk and kept in `proptest-regressions/`.

use proptest::prelude::*;
use serde_json::{Value, json};
use sync_protocol::{RecordState, check_no_drop, merge};

fn cases() -> u32 {
    std::env::var("PASSERELLE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40_000)
}

/// Any JSON value, a few levels deep, with the keys and shapes a record uses.
pub fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |x| serde_json::Number::from_f64(x)
            .map(Value::Number)),
        prop::sample::select(vec![
            "0190f3a2-0000-7000-8000-00000000000a",
            "0190f3a2-1111-7000-8000-000000000001",
            "2026-11-02T10:14:00Z",
            "visit",
            "_deleted",
            "seen",
            "",
        ])
        .prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(
                prop::sample::select(vec![
                    "id",
                    "kind",
                    "vv",
                    "fields",
                    "erased",
                    "dot",
                    "at",
                    "value",
                    "seen",
                    "_deleted",
                    "notes",
                    "0190f3a2-0000-7000-8000-00000000000a",
                ])
                .prop_map(str::to_owned),
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const A: &str = "0190f3a2-0000-7000-8000-00000000000a";

fn valid() -> Value {
    json!({
        "id": "0190f3a2-1111-7000-8000-000000000001",
        "kind": "visit",
        "vv": {A: 3},
        "fields": {
            "_deleted": [{"dot": [A, 3], "at": "2026-11-02T10:15:00Z", "value": {"seen": {A: 2}}}],
            "observations": [{"dot": [A, 2], "at": "2026-11-02T10:14:00Z", "value": "x"}],
            "setting": [{"dot": [A, 1], "at": "2026-11-02T10:12:00+01:00", "value": 1.5}]
        }
    })
}

/// Every path to a part of `value`.
fn paths(value: &Value, prefix: Vec<Value>, out: &mut Vec<Vec<Value>>) {
    out.push(prefix.clone());
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let mut p = prefix.clone();
                p.push(Value::from(k.as_str()));
                paths(v, p, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let mut p = prefix.clone();
                p.push(Value::from(i));
                paths(v, p, out);
            }
        }
        _ => {}
    }
}

fn replace(value: &mut Value, path: &[Value], with: Value) {
    let mut at = value;
    for step in path {
        at = match step {
            Value::String(k) => &mut at[k.as_str()],
            Value::Number(i) => &mut at[i.as_u64().unwrap_or(0) as usize],
            _ => return,
        };
    }
    *at = with;
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = RecordState::from_json(&text);
        let _ = serde_json::from_slice::<RecordState>(&bytes);
    }

    #[test]
    fn arbitrary_json_never_panics(value in any_json()) {
        let _ = RecordState::from_value(&value);
        let _ = RecordState::from_json(&value.to_string());
    }

    #[test]
    fn a_valid_state_with_a_part_replaced_never_panics(pick in any::<usize>(), with in any_json()) {
        let base = valid();
        let mut all = Vec::new();
        paths(&base, Vec::new(), &mut all);
        let mut mutated = base.clone();
        replace(&mut mutated, &all[pick % all.len()], with);
        if let Ok(state) = RecordState::from_value(&mutated) {
            // What decodes is a state every operation takes.
            let original = RecordState::from_value(&base).unwrap();
            let _ = merge(&original, &state);
            let _ = check_no_drop(&original, &state);
            let _ = state.conflicts();
            let back = RecordState::from_json(&state.to_json());
            prop_assert!(back.is_ok(), "a decoded state must encode to a valid one: {}", state.to_json());
        }
    }
}
