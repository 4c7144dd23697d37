//! Logs carry ids, kinds and field names, never a record's values.

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

#[test]
fn traces_hold_no_personal_data() {
    let buffer = Buffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::FULL)
        .with_writer(buffer.clone())
        .finish();
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
