//! The size cap of §2: one edit, that is the entries that carry one dot, in canonical
//! form, added up, is at most [`MAX_EDIT_BYTES`]. A merge of edits within the cap stays
//! valid however big the record grows, because merge never makes an entry.
//!
//! Measuring first writes nothing: an upper bound of each entry's size is summed from its
//! parts (a string of n bytes takes at most 6n + 2 once escaped, a number at most 24), in
//! one walk over the values that never reads a string's bytes. Only when that bound
//! passes the cap, which takes some 40 KiB of text in one record, are the entries of each
//! dot written out (to a counter) to know their exact sizes.

use std::collections::BTreeMap;
use std::io;

use serde_json::Value;

use crate::record::{Entry, FieldName, Timestamp};
use crate::vv::Dot;

/// The largest edit (§2): 256 KiB of canonical entries for one dot.
pub const MAX_EDIT_BYTES: usize = 256 * 1024;

/// The longest canonical text of a JSON number (`-1.7976931348623157e308` is 23 bytes).
const NUMBER_BOUND: usize = 24;

/// `{"dot":["<uuid>",<counter>],"at":"","value":}`, with a counter of 16 digits.
const ENTRY_OVERHEAD: usize = r#"{"dot":["","],"at":"","value":}"#.len() + 36 + 16;

/// The longest `text` can be once serde_json writes it: every byte escaped as `\u00XX`,
/// and the quotes.
fn string_bound(text: &str) -> usize {
    6 * text.len() + 2
}

/// An upper bound of the canonical length of `value`.
fn value_bound(value: &Value) -> usize {
    match value {
        Value::Null => 4,
        Value::Bool(b) => 4 + usize::from(!b),
        Value::Number(_) => NUMBER_BOUND,
        Value::String(text) => string_bound(text),
        // Brackets, and a comma between two items.
        Value::Array(items) => {
            1 + items.len().max(1) + items.iter().map(value_bound).sum::<usize>()
        }
        Value::Object(map) => {
            1 + map.len().max(1)
                + map
                    .iter()
                    .map(|(k, v)| string_bound(k) + 1 + value_bound(v))
                    .sum::<usize>()
        }
    }
}

/// An upper bound of the canonical size of an entry.
fn entry_bound(entry: &Entry) -> usize {
    ENTRY_OVERHEAD + entry.at.as_str().len() + value_bound(&entry.value)
}

/// Counts the bytes written through it.
struct Counter(usize);

impl io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// An entry by reference, serialised as [`Entry`] is.
#[derive(serde::Serialize)]
struct EntryRef<'a> {
    dot: &'a Dot,
    at: &'a Timestamp,
    value: &'a Value,
}

/// The exact size in canonical form of the entry `{dot, at, value}`.
pub(crate) fn entry_bytes(dot: &Dot, at: &Timestamp, value: &Value) -> usize {
    let mut counter = Counter(0);
    // Writing JSON values to a counter cannot fail.
    let _ = serde_json::to_writer(&mut counter, &EntryRef { dot, at, value });
    counter.0
}

/// The first dot whose entries pass [`MAX_EDIT_BYTES`], with their size; `None` when
/// every edit is within the cap.
pub(crate) fn oversized_edit(fields: &BTreeMap<FieldName, Vec<Entry>>) -> Option<(Dot, usize)> {
    let entries = || fields.values().flatten();
    if entries().map(entry_bound).sum::<usize>() <= MAX_EDIT_BYTES {
        return None;
    }
    let mut per_dot: BTreeMap<Dot, usize> = BTreeMap::new();
    for entry in entries() {
        *per_dot.entry(entry.dot).or_default() += entry_bytes(&entry.dot, &entry.at, &entry.value);
    }
    per_dot
        .into_iter()
        .find(|&(_, bytes)| bytes > MAX_EDIT_BYTES)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ReplicaId;

    fn entry(value: Value) -> Entry {
        Entry {
            dot: Dot::new(ReplicaId::from_u128(u128::MAX), crate::MAX_COUNTER),
            at: "2026-11-02T10:14:00.123456+01:00".parse().unwrap(),
            value,
        }
    }

    #[test]
    fn the_bound_is_never_below_the_size() {
        let values = [
            json!(null),
            json!(true),
            json!(false),
            json!("Ștefan \"Ştefan\" \\ \n\t\r\u{8}\u{c}\u{1}\u{1f}\u{7f} Петров €"),
            json!(["a", null, {"k\"ey": ["x", false]}]),
            json!({}),
            json!([]),
        ];
        for value in values {
            let e = entry(value.clone());
            assert!(
                value_bound(&value) >= serde_json::to_string(&value).unwrap().len(),
                "the bound of {value} must not be below its length"
            );
            let exact = entry_bytes(&e.dot, &e.at, &e.value);
            assert_eq!(exact, serde_json::to_string(&e).unwrap().len());
            assert!(entry_bound(&e) >= exact, "entry bound of {value}");
        }
        for n in [
            json!(-1.7976931348623157e308),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(5e-324),
        ] {
            assert!(
                value_bound(&n) >= serde_json::to_string(&n).unwrap().len(),
                "{n}"
            );
        }
    }
}
