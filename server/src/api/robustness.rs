//! Robustness of `POST /v1/push` against whatever a client may send: arbitrary bytes,
//! arbitrary JSON, and push requests of near-valid records, fed to the real router on a
//! real SQLite store (in process, through `tower::ServiceExt::oneshot`). Every answer must
//! be 200 with a push answer, or a §6 JSON error whose code matches its status, never a
//! server error; a panic fails the test.
//!
//! 100,000 cases by default in all (40,000 + 30,000 + 30,000); `PROPTEST_CASES` sets the
//! count of each of the three properties.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};
use sync_protocol::wire::{ErrorBody, ErrorCode, PushResponse};
use sync_protocol::{RecordState, ReplicaId};
use tower::ServiceExt;

use super::{App, router};
use crate::auth;
use crate::store::sqlite::SqliteStore;
use crate::store::{Enrolled, Enrolment, Role, Store, TokenOwner};

/// Records the harness stores before the cases run, so that pushes merge with them.
const KNOWN_IDS: [&str; 3] = [
    "0190a000-0000-7000-8000-000000000001",
    "0190a000-0000-7000-8000-000000000002",
    "0190a000-0000-7000-8000-000000000003",
];

/// Another device of the organisation, whose edits the stored records hold.
const OTHER: &str = "0190b000-0000-7000-8000-0000000000ff";

/// A device of the organisation sending the cases, and its token.
struct Harness {
    runtime: tokio::runtime::Runtime,
    router: Router,
    token: String,
    me: ReplicaId,
    /// How many answers of each code (`ok` for 200) the cases got.
    answers: Mutex<BTreeMap<&'static str, u64>>,
    _dir: tempfile::TempDir,
}

impl Harness {
    fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        // On tmpfs when there is one: every accepted push is a durable commit.
        let dir = tempfile::tempdir_in("/dev/shm")
            .or_else(|_| tempfile::tempdir())
            .unwrap();
        let path = dir.path().join("server.db");
        let (router, token, me) = runtime.block_on(async {
            let store = SqliteStore::open(&path).await.unwrap();
            store
                .add_user("nord", "marie", "not a hash", Role::Counsellor)
                .await
                .unwrap();
            let login = store.login("marie").await.unwrap().unwrap();
            let mut callers = Vec::new();
            for device in [None, Some(OTHER.parse().unwrap())] {
                let (token, token_hash) = auth::new_token();
                let code_hash: [u8; 32] = rand::random();
                let now = crate::store::unix_now();
                store
                    .add_code(crate::store::Invite {
                        user_id: login.user_id,
                        org: login.org,
                        code_hash,
                        created_at: now,
                        expires_at: now + 3600,
                    })
                    .await
                    .unwrap();
                let enrolled = store
                    .enrol(Enrolment {
                        user_id: login.user_id,
                        org: login.org,
                        device_id: device,
                        device_name: "Portable".into(),
                        token_hash,
                        code_hash,
                    })
                    .await
                    .unwrap();
                assert!(matches!(enrolled, Enrolled::Device(_)));
                let TokenOwner::Device(caller) = store.caller(token_hash).await.unwrap() else {
                    panic!("the device was just enrolled");
                };
                callers.push((token, caller));
            }
            let (other_token, other) = callers.pop().unwrap();
            let (token, me) = callers.pop().unwrap();
            drop(other_token);
            let known: Vec<RecordState> = KNOWN_IDS
                .iter()
                .map(|id| {
                    RecordState::from_value(&json!({
                        "id": id, "kind": "person", "vv": {OTHER: 2},
                        "fields": {
                            "x": [{"dot": [OTHER, 1], "at": "2026-11-02T10:14:00Z", "value": "a"}],
                            "y": [{"dot": [OTHER, 2], "at": "2026-11-02T10:15:00Z", "value": 2}]
                        }
                    }))
                    .unwrap()
                })
                .collect();
            store.push(other, known, None).await.unwrap();
            let journal =
                crate::journal::Journal::open(&dir.path().join("journal"), [0; 32]).unwrap();
            let app = App::new(store, journal, 1e9, Duration::from_secs(5));
            (router(Arc::new(app)), token, me.device)
        });
        Self {
            runtime,
            router,
            token,
            me,
            answers: Mutex::new(BTreeMap::new()),
            _dir: dir,
        }
    }

    fn count(&self, code: &'static str) {
        *self.answers.lock().unwrap().entry(code).or_default() += 1;
    }

    /// Asserts that the cases reached each of `codes` (when there were enough of them to),
    /// so that the property cannot pass by never getting past the first check.
    fn assert_reached(&self, codes: &[&str]) {
        let answers = self.answers.lock().unwrap();
        eprintln!("answers: {answers:?}");
        if answers.values().sum::<u64>() < 5_000 {
            return;
        }
        for code in codes {
            assert!(
                answers.contains_key(code),
                "expected some cases to be answered {code}: {answers:?}"
            );
        }
    }

    /// Sends one case; checks its answer.
    fn check(&self, case: &Case) -> Result<(), TestCaseError> {
        let mut request = Request::post("/v1/push").header("Content-Type", "application/json");
        if let Some(version) = case.protocol {
            request = request.header("Sync-Protocol", version);
        }
        match case.token {
            Token::Valid => {
                request = request.header("Authorization", format!("Bearer {}", self.token));
            }
            Token::Garbage => request = request.header("Authorization", "Bearer 1234"),
            Token::None => {}
        }
        let body = match case.encoding {
            Encoding::Identity => case.body.clone(),
            Encoding::Gzip => {
                use std::io::Write;
                let mut encoder =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                encoder.write_all(&case.body).unwrap();
                request = request.header("Content-Encoding", "gzip");
                encoder.finish().unwrap()
            }
            Encoding::FalseGzip => {
                request = request.header("Content-Encoding", "gzip");
                case.body.clone()
            }
            Encoding::Other => {
                request = request.header("Content-Encoding", "br");
                case.body.clone()
            }
        };
        let request = request.body(Body::from(body)).unwrap();
        let (status, bytes) = self.runtime.block_on(async {
            let response = self.router.clone().oneshot(request).await.unwrap();
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            (status, bytes)
        });
        if status == StatusCode::OK {
            let answer: PushResponse = serde_json::from_slice(&bytes).map_err(|e| {
                TestCaseError::fail(format!("a 200 that is not a push answer: {e}"))
            })?;
            prop_assert!(
                answer.server_seq > 0,
                "a push answer after a push: {answer:?}"
            );
            self.count("ok");
            return Ok(());
        }
        let error: ErrorBody = serde_json::from_slice(&bytes).map_err(|e| {
            TestCaseError::fail(format!(
                "a {status} whose body is not a §6 error ({e}): {}",
                String::from_utf8_lossy(&bytes)
            ))
        })?;
        prop_assert_eq!(
            error.error.code.status(),
            status.as_u16(),
            "the code {:?} is answered with its own status",
            error.error.code
        );
        prop_assert!(
            !matches!(
                error.error.code,
                ErrorCode::Internal | ErrorCode::Unavailable | ErrorCode::Unknown
            ),
            "no server error on any input: {:?}",
            error.error
        );
        prop_assert!(
            !error.error.message.is_empty(),
            "a message a person can act on"
        );
        self.count(error.error.code.as_str());
        Ok(())
    }
}

#[derive(Debug, Clone, Copy)]
enum Token {
    Valid,
    Garbage,
    None,
}

#[derive(Debug, Clone, Copy)]
enum Encoding {
    Identity,
    Gzip,
    FalseGzip,
    Other,
}

/// One request: its body and the headers that matter.
#[derive(Debug, Clone)]
struct Case {
    body: Vec<u8>,
    encoding: Encoding,
    protocol: Option<&'static str>,
    token: Token,
}

/// Mostly the headers of a good request, so that most cases reach the body.
fn case(body: impl Strategy<Value = Vec<u8>>) -> impl Strategy<Value = Case> {
    let encoding = prop_oneof![
        12 => Just(Encoding::Identity),
        4 => Just(Encoding::Gzip),
        1 => Just(Encoding::FalseGzip),
        1 => Just(Encoding::Other),
    ];
    let protocol = prop_oneof![
        18 => Just(Some("1")),
        1 => Just(None),
        1 => Just(Some("2")),
    ];
    let token = prop_oneof![
        18 => Just(Token::Valid),
        1 => Just(Token::Garbage),
        1 => Just(Token::None),
    ];
    (body, encoding, protocol, token).prop_map(|(body, encoding, protocol, token)| Case {
        body,
        encoding,
        protocol,
        token,
    })
}

/// Words of the protocol, so that arbitrary JSON often has the right keys.
const WORDS: [&str; 14] = [
    "records",
    "id",
    "kind",
    "vv",
    "fields",
    "dot",
    "at",
    "value",
    "erased",
    "_deleted",
    "seen",
    "person",
    KNOWN_IDS[0],
    OTHER,
];

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(&WORDS[..]).prop_map(str::to_owned),
        "[a-z_]{0,8}",
        any::<String>(),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((text(), inner), 0..6)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

fn replica(me: ReplicaId) -> impl Strategy<Value = String> {
    prop_oneof![
        6 => Just(me.to_string()),
        3 => Just(OTHER.to_owned()),
        1 => Just("0190c000-0000-7000-8000-00000000beef".to_owned()),
        1 => Just("NOT-A-UUID".to_owned()),
        1 => Just(me.to_string().to_uppercase()),
    ]
}

fn counter() -> impl Strategy<Value = Value> {
    prop_oneof![
        40 => (1u64..5).prop_map(Value::from),
        1 => Just(json!(0)),
        1 => Just(json!(9_007_199_254_740_991u64)),
        1 => Just(json!(9_007_199_254_740_992u64)),
        1 => Just(json!(-1)),
        1 => Just(json!(1.5)),
        1 => Just(json!(1e0)),
        1 => Just(json!("1")),
    ]
}

fn vv(me: ReplicaId) -> impl Strategy<Value = Value> {
    prop::collection::vec((replica(me), counter()), 0..4)
        .prop_map(|pairs| Value::Object(pairs.into_iter().collect()))
}

fn entry(me: ReplicaId) -> impl Strategy<Value = Value> {
    let dot = prop_oneof![
        30 => (replica(me), counter()).prop_map(|(r, n)| json!([r, n])),
        1 => json_value(),
    ];
    let at = prop_oneof![
        20 => Just("2026-11-02T10:14:00Z"),
        5 => Just("2026-11-02T10:14:00.123456+01:00"),
        1 => Just("yesterday"),
        1 => Just(""),
    ];
    let value = prop_oneof![
        30 => json_value(),
        8 => Just(Value::Null),
        6 => vv(me).prop_map(|seen| json!({"seen": seen})),
        // Passes the 256 KiB an edit may hold.
        1 => (0usize..2).prop_map(|n| json!("é".repeat(140_000 + n))),
    ];
    (dot, at, value, any::<u8>()).prop_map(|(dot, at, value, extra)| {
        let mut entry = json!({"dot": dot, "at": at, "value": value});
        match extra {
            0..=1 => entry["extra"] = json!(1),
            2..=3 => {
                entry.as_object_mut().map(|e| e.remove("at"));
            }
            _ => {}
        }
        entry
    })
}

/// The version vector that covers every dot of `fields` (and every `seen`), joined with
/// the valid counters of `extra`: what an honest replica would send.
fn covering_vv(fields: &Value, extra: &Value) -> Value {
    let mut vv: BTreeMap<String, u64> = BTreeMap::new();
    let mut note = |replica: &Value, counter: &Value| {
        if let (Some(r), Some(n)) = (replica.as_str(), counter.as_u64()) {
            let held = vv.entry(r.to_owned()).or_default();
            *held = (*held).max(n);
        }
    };
    for entries in fields.as_object().into_iter().flat_map(|f| f.values()) {
        for entry in entries.as_array().into_iter().flatten() {
            if let Some([r, n]) = entry["dot"].as_array().map(Vec::as_slice) {
                note(r, n);
            }
            for (r, n) in entry["value"]["seen"].as_object().into_iter().flatten() {
                note(&json!(r), n);
            }
        }
    }
    for (r, n) in extra.as_object().into_iter().flatten() {
        note(&json!(r), n);
    }
    json!(vv)
}

fn record(me: ReplicaId) -> impl Strategy<Value = Value> {
    let id = prop_oneof![
        6 => prop::sample::select(&KNOWN_IDS[..]).prop_map(str::to_owned),
        4 => any::<u128>().prop_map(|n| uuid::Uuid::from_u128(n).to_string()),
        1 => Just("not-an-id".to_owned()),
    ];
    let kind = prop_oneof![
        16 => Just("person"),
        2 => Just("visit"),
        1 => Just("Person"),
        1 => Just(""),
    ];
    let name = prop_oneof![
        8 => Just("x"),
        8 => Just("y"),
        4 => Just("notes"),
        4 => Just("_deleted"),
        1 => Just("Bad Name"),
        1 => Just("_x"),
        1 => Just(""),
    ];
    let fields = prop::collection::vec((name, prop::collection::vec(entry(me), 0..3)), 0..4)
        .prop_map(|pairs| {
            Value::Object(
                pairs
                    .into_iter()
                    .map(|(name, entries)| (name.to_owned(), Value::Array(entries)))
                    .collect(),
            )
        });
    (id, kind, vv(me), fields, any::<u8>()).prop_map(|(id, kind, vv, fields, twist)| {
        // Mostly the vv an honest replica would send, so that most records get past §2
        // to the forged-dot and no-drop rules; sometimes an arbitrary one.
        let vv = if twist < 40 {
            vv
        } else {
            covering_vv(&fields, &vv)
        };
        let mut record = json!({"id": id, "kind": kind, "vv": vv, "fields": fields});
        match twist {
            0..=3 => record["erased"] = json!(true),
            4..=7 => {
                record.as_object_mut().map(|r| r.remove("vv"));
            }
            8..=9 => record["extra"] = json!(null),
            _ => {}
        }
        record
    })
}

/// How many cases each property runs: `PROPTEST_CASES`, or `default`.
fn runner(default: u32) -> TestRunner {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default);
    TestRunner::new(Config {
        cases,
        source_file: Some(file!()),
        ..Config::default()
    })
}

#[test]
fn arbitrary_bytes_are_answered_with_a_section_6_error() {
    let harness = Harness::new();
    let bytes = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        json_value().prop_map(|v| {
            let mut text = serde_json::to_vec(&v).unwrap();
            text.truncate(text.len() / 2);
            text
        }),
    ];
    runner(40_000)
        .run(&case(bytes), |case| harness.check(&case))
        .unwrap();
    harness.assert_reached(&["bad_request", "unauthorized", "unsupported_protocol"]);
}

#[test]
fn arbitrary_json_is_answered_with_a_section_6_error() {
    let harness = Harness::new();
    let body = prop_oneof![
        json_value(),
        prop::collection::vec(json_value(), 0..4).prop_map(|records| json!({"records": records})),
    ]
    .prop_map(|v| serde_json::to_vec(&v).unwrap());
    runner(30_000)
        .run(&case(body), |case| harness.check(&case))
        .unwrap();
    harness.assert_reached(&["ok", "bad_request", "invalid_record"]);
}

#[test]
fn near_valid_records_are_stored_or_refused_with_a_section_6_error() {
    let harness = Harness::new();
    let me = harness.me;
    let body =
        (prop::collection::vec(record(me), 0..4), any::<u8>()).prop_map(|(mut records, twist)| {
            if twist < 8
                && let Some(first) = records.first().cloned()
            {
                records.push(first);
            }
            serde_json::to_vec(&json!({ "records": records })).unwrap()
        });
    runner(30_000)
        .run(&case(body), |case| harness.check(&case))
        .unwrap();
    harness.assert_reached(&[
        "ok",
        "bad_request",
        "invalid_record",
        "record_too_large",
        "forged_dot",
        "dropped_entry",
    ]);
}
