//! Logs carry kinds, field names and ids of records, never a record's values; the
//! actions on a person's rights (access export, person sheet, retention) not even the
//! person's id.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::json;
use tracing_subscriber::fmt::MakeWriter;

use crate::common::*;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Buffer {
    type Writer = Buffer;
    fn make_writer(&'a self) -> Buffer {
        self.clone()
    }
}

/// A subscriber that writes every event and span, with its fields, into a buffer.
fn recorder() -> (Buffer, impl tracing::Subscriber) {
    let buffer = Buffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::FULL)
        .with_writer(buffer.clone())
        .finish();
    (buffer, subscriber)
}

#[test]
fn traces_hold_no_personal_data() {
    let (buffer, subscriber) = recorder();
    let marker = "Zqxwvyțescu";
    tracing::subscriber::with_default(subscriber, || {
        let (_dir, mut file) = fresh();
        let id = person(&mut file, marker, "Ștefan");
        file.edit(
            id,
            fields(&[("phone", json!("0699887766")), ("notes", json!(marker))]),
        )
        .unwrap();
        file.search(marker, 10).unwrap();
        file.resolve(id, "notes", json!(marker)).unwrap();
        let _ = file.edit(id, fields(&[("birth_date", json!(marker))]));
        file.timeline(id).unwrap();
    });
    let logs = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("casefile.create") && logs.contains("casefile.search"),
        "the spans must have been recorded: {logs}"
    );
    assert!(!logs.contains(marker), "a name reached the logs: {logs}");
    assert!(
        !logs.contains("0699887766"),
        "a phone reached the logs: {logs}"
    );
}

#[test]
fn a_persons_rights_leave_no_id_of_theirs_in_the_traces() {
    let marker = "Zqxwvyțescu";
    let (_dir, mut file) = fresh();
    let id = person(&mut file, marker, "Ștefan");
    file.edit(
        id,
        fields(&[
            ("status", json!("closed")),
            ("closed_on", json!("2020-01-15")),
        ]),
    )
    .unwrap();
    let (buffer, subscriber) = recorder();
    tracing::subscriber::with_default(subscriber, || {
        file.access(id).unwrap();
        file.person_sheet(id).unwrap();
        assert_eq!(
            file.past_retention("2026-11-02").unwrap().len(),
            1,
            "the closed person is past retention"
        );
    });
    let logs = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    for span in [
        "casefile.access_export",
        "casefile.person_sheet",
        "casefile.past_retention",
    ] {
        assert!(
            logs.contains(span),
            "the span {span} must be recorded: {logs}"
        );
    }
    assert!(
        !logs.contains(&id.to_string()),
        "the person's id reached the logs: {logs}"
    );
    assert!(!logs.contains(marker), "a name reached the logs: {logs}");
}
