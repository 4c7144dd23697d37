//! Every rule of §2 has its own error.

use serde_json::{Value, json};
use sync_protocol::{RecordState, ValidationError};

const A: &str = "0190f3a2-0000-7000-8000-00000000000a";
const ID: &str = "0190f3a2-1111-7000-8000-000000000001";

fn valid() -> Value {
    json!({
        "id": ID,
        "kind": "visit",
        "vv": {A: 2},
        "fields": {
            "observations": [{"dot": [A, 2], "at": "2026-11-02T10:14:00Z", "value": "x"}],
            "setting": [{"dot": [A, 1], "at": "2026-11-02T10:12:00+01:00", "value": "home_visit"}]
        }
    })
}

fn code_of(mut patch: impl FnMut(&mut Value)) -> &'static str {
    let mut v = valid();
    patch(&mut v);
    RecordState::from_value(&v)
        .map(|_| "valid")
        .unwrap_or_else(|e| e.code())
}

#[test]
fn the_reference_record_is_valid() {
    assert_eq!(code_of(|_| {}), "valid");
}

#[test]
fn each_rule_has_its_own_error() {
    type Patch = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Patch)> = vec![
        ("wrong_type", Box::new(|v| *v = json!([]))),
        (
            "missing_key",
            Box::new(|v| {
                v.as_object_mut().unwrap().remove("vv");
            }),
        ),
        ("unknown_key", Box::new(|v| v["owner"] = json!("x"))),
        (
            "unknown_key",
            Box::new(|v| v["fields"]["setting"][0]["by"] = json!("x")),
        ),
        (
            "invalid_id",
            Box::new(|v| v["id"] = json!(ID.to_uppercase())),
        ),
        ("invalid_kind", Box::new(|v| v["kind"] = json!("Visit"))),
        (
            "invalid_replica_id",
            Box::new(|v| v["vv"] = json!({"not-a-uuid": 2})),
        ),
        ("invalid_counter", Box::new(|v| v["vv"][A] = json!(2.0))),
        ("invalid_counter", Box::new(|v| v["vv"][A] = json!(0))),
        (
            "invalid_counter",
            Box::new(|v| v["vv"][A] = json!(9007199254740992u64)),
        ),
        (
            "invalid_counter",
            Box::new(|v| v["fields"]["setting"][0]["dot"] = json!([A, -1])),
        ),
        (
            "invalid_field_name",
            Box::new(|v| v["fields"]["Setting"] = v["fields"]["setting"].clone()),
        ),
        (
            "empty_field",
            Box::new(|v| v["fields"]["setting"] = json!([])),
        ),
        (
            "invalid_dot",
            Box::new(|v| v["fields"]["setting"][0]["dot"] = json!([A])),
        ),
        (
            "invalid_timestamp",
            Box::new(|v| v["fields"]["setting"][0]["at"] = json!("2 Nov 2026")),
        ),
        (
            "dot_not_covered",
            Box::new(|v| v["fields"]["setting"][0]["dot"] = json!([A, 3])),
        ),
        (
            "duplicate_dot",
            Box::new(|v| {
                let e = v["fields"]["setting"][0].clone();
                v["fields"]["setting"].as_array_mut().unwrap().push(e);
            }),
        ),
        (
            "invalid_erased_flag",
            Box::new(|v| v["erased"] = json!(false)),
        ),
        (
            "erased_with_fields",
            Box::new(|v| v["erased"] = json!(true)),
        ),
        (
            "invalid_deletion",
            Box::new(|v| {
                v["fields"]["_deleted"] =
                    json!([{"dot": [A, 2], "at": "2026-11-02T10:14:00Z", "value": true}])
            }),
        ),
        (
            "seen_not_covered",
            Box::new(|v| {
                v["fields"]["_deleted"] = json!([{"dot": [A, 2], "at": "2026-11-02T10:14:00Z",
                    "value": {"seen": {A: 1, "0190f3a2-0000-7000-8000-00000000000b": 7}}}])
            }),
        ),
        (
            "seen_not_covered",
            Box::new(|v| {
                v["fields"]["_deleted"] = json!([{"dot": [A, 1], "at": "2026-11-02T10:14:00Z",
                    "value": {"seen": {A: 3}}}])
            }),
        ),
        (
            "seen_covers_own_dot",
            Box::new(|v| {
                v["fields"]["_deleted"] = json!([{"dot": [A, 2], "at": "2026-11-02T10:14:00Z",
                    "value": {"seen": {A: 2}}}])
            }),
        ),
        (
            "record_too_large",
            Box::new(|v| {
                v["fields"]["observations"][0]["value"] = json!("é".repeat(128 * 1024));
            }),
        ),
    ];
    for (expected, patch) in cases {
        assert_eq!(code_of(patch), expected, "expected {expected}");
    }
}

#[test]
fn an_exponent_counter_is_refused() {
    let text = valid()
        .to_string()
        .replace(&format!("\"{A}\":2"), &format!("\"{A}\":2e0"));
    assert!(text.contains("2e0"), "the patch must apply: {text}");
    let err = RecordState::from_json(&text).unwrap_err();
    assert!(
        matches!(err, ValidationError::InvalidCounter { .. }),
        "got {err:?}"
    );
}

#[test]
fn errors_name_the_field_and_dot_but_never_the_value() {
    let mut v = valid();
    v["fields"]["observations"][0]["dot"] = json!([A, 3]);
    v["fields"]["observations"][0]["value"] = json!("Ion Popescu, santé");
    let message = RecordState::from_value(&v).unwrap_err().to_string();
    assert!(
        message.contains("observations") && message.contains(A),
        "{message}"
    );
    assert!(
        !message.contains("Popescu"),
        "a value leaked into {message}"
    );
}

#[test]
fn unknown_kinds_and_fields_are_kept() {
    let mut v = valid();
    v["kind"] = json!("future_kind");
    v["fields"]["x_new"] =
        json!([{"dot": [A, 1], "at": "2026-11-02T10:12:00Z", "value": {"a": [1, 2]}}]);
    let state = RecordState::from_value(&v).unwrap();
    assert_eq!(state.kind().as_str(), "future_kind");
    assert_eq!(state.value("x_new"), Some(&json!({"a": [1, 2]})));
}

#[test]
fn a_pushed_erased_record_is_refused() {
    let v = json!({"id": ID, "kind": "visit", "vv": {A: 2}, "erased": true, "fields": {}});
    let state = RecordState::from_value(&v).unwrap();
    assert_eq!(state.check_pushable().unwrap_err().code(), "erased_pushed");
}

#[test]
fn an_honest_deletion_is_valid() {
    let mut v = valid();
    v["vv"][A] = json!(3);
    v["fields"]["_deleted"] =
        json!([{"dot": [A, 3], "at": "2026-11-02T10:15:00Z", "value": {"seen": {A: 2}}}]);
    assert_eq!(RecordState::from_value(&v).map(|_| ()), Ok(()));
}

#[test]
fn one_edit_may_hold_256_kib_and_no_more() {
    // The entry `{"dot":[A,2],"at":"…","value":"…"}` is the whole edit [A, 2].
    let overhead = json!({"dot": [A, 2], "at": "2026-11-02T10:14:00Z", "value": ""})
        .to_string()
        .len();
    let at_cap = |extra: usize| {
        let mut v = valid();
        let text = "x".repeat(sync_protocol::MAX_EDIT_BYTES - overhead + extra);
        v["fields"]["observations"][0]["value"] = json!(text);
        RecordState::from_value(&v)
    };
    assert!(at_cap(0).is_ok(), "an edit of exactly 256 KiB is valid");
    let err = at_cap(1).unwrap_err();
    assert_eq!(err.code(), "record_too_large", "{err}");
    assert!(
        err.to_string().contains(A),
        "the error names the dot: {err}"
    );
    // Several edits of 200 KiB each are one big record, and valid.
    let mut v = valid();
    v["fields"]["observations"][0]["value"] = json!("o".repeat(200 * 1024));
    v["fields"]["setting"][0]["value"] = json!("s".repeat(200 * 1024));
    assert!(
        RecordState::from_value(&v).is_ok(),
        "two edits under the cap each"
    );
}
