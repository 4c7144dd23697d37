//! Merge (§4) and erasure (§5).

use std::collections::BTreeMap;

use crate::record::{Entry, FieldName, RecordState};
use crate::{Dot, RecordId, VersionVector};

/// Two states that are not copies of one record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    /// Different ids.
    #[error("cannot merge record {0} with record {1}: they are different records")]
    DifferentIds(RecordId, RecordId),
    /// Same id, different kinds: a record's kind never changes.
    #[error("record {id} is a {left} here and a {right} there: a record's kind never changes")]
    DifferentKinds {
        /// The record.
        id: RecordId,
        /// The kind of the left state.
        left: String,
        /// The kind of the right state.
        right: String,
    },
}

/// Merges two copies of one record (§4).
///
/// `vv` is the pointwise maximum; a field keeps the entries both hold, and the entries
/// each holds that the other has not seen. Fields left with no entry are dropped.
/// Entries come out in dot order and fields in name order. When either copy is erased,
/// the result is erased, with the joined `vv` and no fields.
///
/// For honest replicas (one dot, one value) merge is commutative, associative and
/// idempotent. Should two copies hold one dot with different values, the left one's is
/// kept; the server refuses such pushes as forged (see [`check_dots`](crate::check_dots)).
pub fn merge(left: &RecordState, right: &RecordState) -> Result<RecordState, MergeError> {
    merge_noting_drops(left, right).map(|(merged, _)| merged)
}

/// [`merge`], also answering the first field (in name order) where an entry of `left`
/// is dropped with no entry of `right` that `left.vv` does not cover: where the no-drop
/// rule of §4 refuses `right` pushed onto `left`.
pub(crate) fn merge_noting_drops(
    left: &RecordState,
    right: &RecordState,
) -> Result<(RecordState, Option<(FieldName, Dot)>), MergeError> {
    if left.id != right.id {
        return Err(MergeError::DifferentIds(left.id, right.id));
    }
    if left.kind != right.kind {
        return Err(MergeError::DifferentKinds {
            id: left.id,
            left: left.kind.to_string(),
            right: right.kind.to_string(),
        });
    }
    let mut vv = left.vv.clone();
    vv.join(&right.vv);
    if left.erased || right.erased {
        let erased = RecordState {
            id: left.id,
            kind: left.kind.clone(),
            vv,
            fields: BTreeMap::new(),
            erased: true,
        };
        return Ok((erased, None));
    }
    let mut fields = BTreeMap::new();
    let mut unanswered = None;
    let names = left.fields.keys().chain(right.fields.keys());
    for name in names {
        if fields.contains_key(name) {
            continue;
        }
        let (merged, drop) = merge_field(
            left.fields.get(name).map(Vec::as_slice).unwrap_or(&[]),
            &left.vv,
            right.fields.get(name).map(Vec::as_slice).unwrap_or(&[]),
            &right.vv,
        );
        if let (None, Some(dot)) = (&unanswered, drop) {
            unanswered = Some((FieldName::clone(name), dot));
        }
        if !merged.is_empty() {
            fields.insert(FieldName::clone(name), merged);
        }
    }
    let merged = RecordState {
        id: left.id,
        kind: left.kind.clone(),
        vv,
        fields,
        erased: false,
    };
    Ok((merged, unanswered))
}

/// The entries of one field after merge (both inputs sorted by dot), and the first entry
/// of `left` dropped with no new entry of `right` to answer for it (§4's no-drop rule).
fn merge_field(
    left: &[Entry],
    left_vv: &VersionVector,
    right: &[Entry],
    right_vv: &VersionVector,
) -> (Vec<Entry>, Option<Dot>) {
    let in_right = |e: &Entry| right.binary_search_by_key(&e.dot, |r| r.dot).is_ok();
    let in_left = |e: &Entry| left.binary_search_by_key(&e.dot, |l| l.dot).is_ok();
    let mut dropped = None;
    let mut out: Vec<Entry> = Vec::with_capacity(left.len().max(right.len()));
    for e in left {
        if !right_vv.covers(e.dot) || in_right(e) {
            out.push(e.clone());
        } else if dropped.is_none() {
            dropped = Some(e.dot);
        }
    }
    let kept = out.len();
    out.extend(
        right
            .iter()
            .filter(|e| !left_vv.covers(e.dot) && !in_left(e))
            .cloned(),
    );
    let answered = right.iter().any(|e| !left_vv.covers(e.dot));
    if out.len() > kept {
        out.sort_by_key(|e| e.dot);
    }
    (out, dropped.filter(|_| !answered))
}

impl RecordState {
    /// The erased form of this record (§5): `{"id", "kind", "vv", "erased": true,
    /// "fields": {}}`. Only the server erases.
    pub fn erase(&self) -> RecordState {
        RecordState {
            id: self.id,
            kind: self.kind.clone(),
            vv: self.vv.clone(),
            fields: BTreeMap::new(),
            erased: true,
        }
    }
}
