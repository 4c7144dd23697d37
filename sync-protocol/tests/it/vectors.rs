//! Runs the golden vectors of `tests/vectors/` (their README gives the format).

use std::path::Path;

use serde_json::Value;
use sync_protocol::{FieldName, RecordState, ReplicaId, Timestamp, merge};

fn state(v: &Value) -> RecordState {
    RecordState::from_value(v).unwrap_or_else(|e| panic!("a vector's state is invalid: {e}"))
}

fn replica(step: &Value) -> ReplicaId {
    step["replica"].as_str().unwrap().parse().unwrap()
}

fn at(step: &Value) -> Timestamp {
    step["at"].as_str().unwrap().parse().unwrap()
}

/// Runs one step; answers the actual result as JSON, to compare with `expected`/`error`.
fn run(step: &Value) -> (Value, Value) {
    let op = step["op"].as_str().unwrap();
    let done = |s: RecordState| serde_json::from_str::<Value>(&s.to_json()).unwrap();
    let expected = || done(state(&step["expected"]));
    match op {
        "merge" => (
            done(merge(&state(&step["left"]), &state(&step["right"])).unwrap()),
            expected(),
        ),
        "edit" => {
            let mut s = state(&step["state"]);
            let changes = step["changes"].as_object().unwrap();
            let changes = changes
                .iter()
                .map(|(k, v)| (k.parse::<FieldName>().unwrap(), v.clone()));
            s.edit(replica(step), at(step), changes).unwrap();
            (done(s), expected())
        }
        "delete" | "restore" => {
            let mut s = state(&step["state"]);
            if op == "delete" {
                s.delete(replica(step), at(step)).unwrap();
            } else {
                s.restore(replica(step), at(step)).unwrap();
            }
            (done(s), expected())
        }
        "resolve" => {
            let mut s = state(&step["state"]);
            let field = step["field"].as_str().unwrap().parse().unwrap();
            s.resolve(replica(step), at(step), field, step["value"].clone())
                .unwrap();
            (done(s), expected())
        }
        "erase" => (done(state(&step["state"]).erase()), expected()),
        "conflicts" => (
            serde_json::to_value(state(&step["state"]).conflicts()).unwrap(),
            step["expected"].clone(),
        ),
        "validate" => {
            let result = RecordState::from_value(&step["input"]).and_then(|s| {
                if step["push"] == Value::Bool(true) {
                    s.check_pushable()
                } else {
                    Ok(())
                }
            });
            let code = result
                .err()
                .map(|e| Value::from(e.code()))
                .unwrap_or(Value::Null);
            (code, step["error"].clone())
        }
        "no_drop" => {
            let result =
                sync_protocol::check_no_drop(&state(&step["stored"]), &state(&step["pushed"]));
            let code = result
                .err()
                .map(|_| Value::from("dropped_entry"))
                .unwrap_or(Value::Null);
            (code, step["error"].clone())
        }
        "canonical" => {
            let text = step["input"].as_str().unwrap();
            let once = RecordState::from_json(text).unwrap().to_json();
            let twice = RecordState::from_json(&once).unwrap().to_json();
            assert_eq!(
                once, twice,
                "a canonical text must read and write back to itself"
            );
            (Value::from(once), step["expected"].clone())
        }
        other => panic!("unknown op {other}"),
    }
}

#[test]
fn golden_vectors_hold() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    for required in [
        "simple-merge",
        "field-conflict",
        "resolution",
        "delete-against-edit",
        "erasure",
        "invalid-records",
        "no-drop",
        "numbers",
    ] {
        assert!(
            names.iter().any(|n| n == required),
            "missing vector file {required}.json in {names:?}"
        );
    }
    let mut steps = 0;
    for file in &files {
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        for (i, step) in doc["steps"].as_array().unwrap().iter().enumerate() {
            let (actual, expected) = run(step);
            assert_eq!(
                actual,
                expected,
                "{} step {i} ({}) gave another result",
                file.display(),
                step["op"]
            );
            steps += 1;
        }
    }
    assert!(steps >= 30, "only {steps} vector steps ran");
}

/// Every `at` of the golden vectors keeps its exact text: read as a timestamp and
/// written back, alone and inside its record's state (a re-formatted timestamp would be
/// an altered entry).
#[test]
fn every_at_of_the_vectors_keeps_its_text() {
    fn ats(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                for (key, value) in map {
                    match (key.as_str(), value) {
                        ("at", Value::String(text)) => out.push(text.clone()),
                        _ => ats(value, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|i| ats(i, out)),
            _ => {}
        }
    }
    fn states<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
        match v {
            Value::Object(map) => {
                if map.contains_key("fields") && map.contains_key("vv") {
                    out.push(v);
                }
                map.values().for_each(|value| states(value, out));
            }
            Value::Array(items) => items.iter().for_each(|i| states(i, out)),
            _ => {}
        }
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    let (mut read, mut kept_in_states) = (0, 0);
    for file in std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()) {
        if file.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let mut all = Vec::new();
        ats(&doc, &mut all);
        for text in &all {
            if let Ok(at) = text.parse::<Timestamp>() {
                assert_eq!(at.as_str(), text);
                assert_eq!(
                    serde_json::to_value(&at).unwrap(),
                    Value::String(text.clone())
                );
                read += 1;
            }
        }
        let mut found = Vec::new();
        states(&doc, &mut found);
        for v in found {
            let Ok(state) = RecordState::from_value(v) else {
                continue; // the invalid records of invalid-records.json
            };
            let (mut before, mut after) = (Vec::new(), Vec::new());
            ats(v, &mut before);
            ats(&serde_json::from_str(&state.to_json()).unwrap(), &mut after);
            before.sort();
            after.sort();
            assert_eq!(before, after, "{}", file.display());
            kept_in_states += before.len();
        }
    }
    assert!(
        read >= 50 && kept_in_states >= 50,
        "{read} read, {kept_in_states} in states"
    );
}
