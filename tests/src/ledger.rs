//! A ledger of every acknowledged local edit, to check after a run that none was lost:
//! each write is still in the final state with its value, or a later write to the same
//! field was made by a replica that had seen it.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use sync_protocol::{Dot, RecordId, RecordState, ReplicaId, VersionVector};

/// One field written by one acknowledged edit.
#[derive(Debug, Clone)]
pub struct Write {
    /// The record.
    pub record: RecordId,
    /// The field.
    pub field: String,
    /// The edit.
    pub dot: Dot,
    /// The value written.
    pub value: Value,
    /// What the writer had seen before writing.
    pub seen: VersionVector,
}

/// Every acknowledged write of a run.
#[derive(Debug, Default)]
pub struct Ledger {
    writes: Vec<Write>,
    erased: BTreeSet<RecordId>,
}

impl Ledger {
    /// Notes the edit `replica` just made: `before` is the record's state before it
    /// (`None` for a creation), `after` the state the case file acknowledged.
    pub fn note(&mut self, replica: ReplicaId, before: Option<&RecordState>, after: &RecordState) {
        let dot = Dot::new(replica, after.vv().get(replica));
        let seen = before.map(|b| b.vv().clone()).unwrap_or_default();
        for (name, entries) in after.fields() {
            for entry in entries.iter().filter(|e| e.dot == dot) {
                self.writes.push(Write {
                    record: after.id(),
                    field: name.to_string(),
                    dot,
                    value: entry.value.clone(),
                    seen: seen.clone(),
                });
            }
        }
    }

    /// Notes that the server erased `record`: its writes are gone by design, and devices
    /// keep no trace of it.
    pub fn note_erased(&mut self, record: RecordId) {
        self.erased.insert(record);
    }

    /// How many writes were noted.
    pub fn len(&self) -> usize {
        self.writes.len()
    }

    /// Whether nothing was noted.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    /// Checks the final states (of any converged replica) against the ledger.
    pub fn check(&self, states: &[RecordState]) -> Result<(), String> {
        let by_id: BTreeMap<RecordId, &RecordState> = states.iter().map(|s| (s.id(), s)).collect();
        for w in &self.writes {
            let Some(state) = by_id.get(&w.record) else {
                if self.erased.contains(&w.record) {
                    continue;
                }
                return Err(format!("record {} vanished", w.record));
            };
            if state.is_erased() {
                continue;
            }
            match state.entries(&w.field).iter().find(|e| e.dot == w.dot) {
                Some(e) if e.value == w.value => {}
                Some(_) => {
                    return Err(format!(
                        "{} {} {}: the value changed",
                        w.record, w.field, w.dot
                    ));
                }
                None => {
                    let superseded = self.writes.iter().any(|o| {
                        o.record == w.record && o.field == w.field && o.seen.covers(w.dot)
                    });
                    if !superseded {
                        return Err(format!(
                            "the write {} to {}.{} is gone, though no writer had seen it",
                            w.dot, w.record, w.field
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}
