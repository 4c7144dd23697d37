//! A simulation of K replicas editing a few records and exchanging states over a network
//! that duplicates, reorders and repeats messages. It records every write, so tests can
//! check that nothing was lost.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use serde_json::{Value, json};
use sync_protocol::{
    DELETED_FIELD, Dot, FieldName, Kind, RecordId, RecordState, ReplicaId, Timestamp,
    VersionVector, merge,
};

pub const FIELDS: [&str; 3] = ["family_name", "notes", "phone"];

/// The number of proptest cases: `PROPTEST_CASES`, else 2,000.
pub fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
}

#[derive(Debug, Clone)]
pub enum Op {
    Edit {
        replica: usize,
        record: usize,
        fields: Vec<usize>,
        value: Value,
    },
    Delete {
        replica: usize,
        record: usize,
    },
    Restore {
        replica: usize,
        record: usize,
    },
    Resolve {
        replica: usize,
        record: usize,
        value: i64,
    },
    Send {
        from: usize,
        to: usize,
        record: usize,
    },
    Deliver {
        message: usize,
        keep: bool,
    },
    Erase {
        record: usize,
    },
}

#[derive(Debug, Clone)]
pub struct Schedule {
    pub replicas: Vec<ReplicaId>,
    pub records: usize,
    pub ops: Vec<Op>,
}

pub fn schedule() -> impl Strategy<Value = Schedule> {
    (2usize..=6, 1usize..=3).prop_flat_map(|(k, m)| {
        let replicas = proptest::collection::btree_set(any::<u128>(), k)
            .prop_map(|ids| ids.into_iter().map(ReplicaId::from_u128).collect::<Vec<_>>());
        let op = prop_oneof![
            24 => (0..k, 0..m, proptest::collection::vec(0..FIELDS.len(), 1..=2), value())
                .prop_map(|(replica, record, fields, value)| Op::Edit { replica, record, fields, value }),
            4 => (0..k, 0..m).prop_map(|(replica, record)| Op::Delete { replica, record }),
            3 => (0..k, 0..m).prop_map(|(replica, record)| Op::Restore { replica, record }),
            4 => (0..k, 0..m, 0i64..5).prop_map(|(replica, record, value)| Op::Resolve { replica, record, value }),
            24 => (0..k, 0..k, 0..m).prop_map(|(from, to, record)| Op::Send { from, to, record }),
            24 => (any::<usize>(), any::<bool>()).prop_map(|(message, keep)| Op::Deliver { message, keep }),
            1 => (0..m).prop_map(|record| Op::Erase { record }),
        ];
        (replicas, proptest::collection::vec(op, 10..100))
            .prop_map(move |(replicas, ops)| Schedule { replicas, records: m, ops })
    })
}

/// A field value: small integers (so that equal values meet), any finite double (exact
/// round trips), text, or `null` (a cleared field).
pub fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => (0i64..5).prop_map(Value::from),
        3 => any::<f64>().prop_filter_map("finite", |x| serde_json::Number::from_f64(x).map(Value::Number)),
        1 => "[a-zăâîșț ]{0,12}".prop_map(Value::from),
        2 => Just(Value::Null),
    ]
}

/// One write the model saw: which edit wrote which value, and what its writer had seen.
#[derive(Debug, Clone)]
pub struct Write {
    pub record: usize,
    pub field: String,
    pub dot: Dot,
    pub value: Value,
    pub seen: VersionVector,
}

#[derive(Debug)]
pub struct World {
    pub replicas: Vec<ReplicaId>,
    pub ids: Vec<RecordId>,
    /// `copies[replica][record]`.
    pub copies: Vec<Vec<Option<RecordState>>>,
    pub network: Vec<(usize, RecordState)>,
    pub writes: Vec<Write>,
    pub editors: Vec<BTreeSet<ReplicaId>>,
    /// Every state any replica ever held, per record: material for the merge laws.
    pub snapshots: Vec<Vec<RecordState>>,
    clock: u32,
}

fn name(text: &str) -> FieldName {
    text.parse().unwrap()
}

impl World {
    /// Record j is created by replica j % K with a first value of every field.
    pub fn new(schedule: &Schedule) -> Self {
        let k = schedule.replicas.len();
        let ids: Vec<RecordId> = (0..schedule.records)
            .map(|j| RecordId::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 + j as u128))
            .collect();
        let mut world = World {
            replicas: schedule.replicas.clone(),
            ids: ids.clone(),
            copies: vec![vec![None; schedule.records]; k],
            network: Vec::new(),
            writes: Vec::new(),
            editors: vec![BTreeSet::new(); schedule.records],
            snapshots: vec![Vec::new(); schedule.records],
            clock: 0,
        };
        for (j, id) in ids.iter().enumerate() {
            let owner = j % k;
            let at = world.tick();
            let fields = FIELDS.iter().map(|f| (name(f), json!(format!("{f} {j}"))));
            let state = RecordState::create(
                *id,
                "person".parse::<Kind>().unwrap(),
                schedule.replicas[owner],
                at,
                fields,
            )
            .unwrap();
            for (field, entries) in state.fields() {
                world.log_write(
                    j,
                    field.as_str(),
                    &entries[0].value,
                    entries[0].dot,
                    VersionVector::new(),
                );
            }
            world.editors[j].insert(schedule.replicas[owner]);
            world.store(owner, j, state);
        }
        world
    }

    fn tick(&mut self) -> Timestamp {
        self.clock += 1;
        format!(
            "2026-11-02T{:02}:{:02}:{:02}Z",
            self.clock / 3600 % 24,
            self.clock / 60 % 60,
            self.clock % 60
        )
        .parse()
        .unwrap()
    }

    fn log_write(
        &mut self,
        record: usize,
        field: &str,
        value: &Value,
        dot: Dot,
        seen: VersionVector,
    ) {
        self.writes.push(Write {
            record,
            field: field.to_owned(),
            dot,
            value: value.clone(),
            seen,
        });
    }

    fn store(&mut self, replica: usize, record: usize, state: RecordState) {
        self.snapshots[record].push(state.clone());
        self.copies[replica][record] = Some(state);
    }

    /// Applies a local operation through `f`, logging the fields it wrote.
    fn local(
        &mut self,
        replica: usize,
        record: usize,
        f: impl FnOnce(&mut RecordState, ReplicaId, Timestamp) -> Option<Vec<String>>,
    ) {
        let Some(mut state) = self.copies[replica][record].clone() else {
            return;
        };
        let seen = state.vv().clone();
        let at = self.tick();
        let id = self.replicas[replica];
        let Some(written) = f(&mut state, id, at) else {
            return;
        };
        let dot = Dot::new(id, state.vv().get(id));
        for field in written {
            let value = state.entries(&field)[0].value.clone();
            self.log_write(record, &field, &value, dot, seen.clone());
        }
        self.editors[record].insert(id);
        self.store(replica, record, state);
    }

    fn receive(&mut self, replica: usize, state: RecordState) {
        let record = self.ids.iter().position(|id| *id == state.id()).unwrap();
        let merged = match &self.copies[replica][record] {
            Some(mine) => merge(mine, &state).unwrap(),
            None => state,
        };
        self.store(replica, record, merged);
    }

    pub fn apply(&mut self, op: &Op) {
        match op.clone() {
            Op::Edit {
                replica,
                record,
                fields,
                value,
            } => self.local(replica, record, |s, r, at| {
                let names: BTreeSet<&str> = fields.iter().map(|&i| FIELDS[i]).collect();
                let changes = names.iter().map(|f| (name(f), value.clone()));
                s.edit(r, at, changes).ok()?;
                Some(names.iter().map(|f| f.to_string()).collect())
            }),
            Op::Delete { replica, record } => self.local(replica, record, |s, r, at| {
                s.delete(r, at).ok()?;
                Some(vec![DELETED_FIELD.to_owned()])
            }),
            Op::Restore { replica, record } => self.local(replica, record, |s, r, at| {
                s.restore(r, at).ok()?;
                Some(vec![DELETED_FIELD.to_owned()])
            }),
            Op::Resolve {
                replica,
                record,
                value,
            } => self.local(replica, record, |s, r, at| resolve_one(s, r, at, value)),
            Op::Send { from, to, record } => {
                if let Some(state) = &self.copies[from][record] {
                    self.network.push((to, state.clone()));
                }
            }
            Op::Deliver { message, keep } => {
                if self.network.is_empty() {
                    return;
                }
                let i = message % self.network.len();
                let (to, state) = if keep {
                    self.network[i].clone()
                } else {
                    self.network.remove(i)
                };
                self.receive(to, state);
            }
            Op::Erase { record } => {
                // Only the server erases: replica 0 plays the server.
                if let Some(state) = self.copies[0][record].clone() {
                    self.store(0, record, state.erase());
                }
            }
        }
    }

    /// Delivers every message still in flight, then passes states twice round the ring of
    /// replicas: afterwards every replica has seen every state.
    pub fn settle(&mut self) {
        while let Some((to, state)) = self.network.pop() {
            self.receive(to, state);
        }
        let k = self.replicas.len();
        for _ in 0..2 {
            for r in 0..k {
                for j in 0..self.ids.len() {
                    if let Some(state) = self.copies[r][j].clone() {
                        self.receive((r + 1) % k, state);
                    }
                }
            }
        }
    }

    /// The canonical JSON of each replica's copy of `record`.
    pub fn bytes(&self, record: usize) -> Vec<String> {
        self.copies
            .iter()
            .map(|c| {
                c[record]
                    .as_ref()
                    .map(RecordState::to_json)
                    .unwrap_or_default()
            })
            .collect()
    }

    /// Checks that no write was lost: each one is in the final state with its value, or a
    /// later write to the same field had seen it.
    pub fn check_no_lost_write(
        &self,
        record: usize,
        final_state: &RecordState,
    ) -> Result<(), String> {
        if final_state.is_erased() {
            return Ok(());
        }
        let writes: Vec<&Write> = self.writes.iter().filter(|w| w.record == record).collect();
        for w in &writes {
            let entries = final_state.entries(&w.field);
            match entries.iter().find(|e| e.dot == w.dot) {
                Some(e) if e.value == w.value => {}
                Some(e) => {
                    return Err(format!(
                        "{} {:?}: value {} became {}",
                        w.field, w.dot, w.value, e.value
                    ));
                }
                None => {
                    let superseded = writes
                        .iter()
                        .any(|o| o.field == w.field && o.seen.covers(w.dot));
                    if !superseded {
                        return Err(format!(
                            "write {:?} to {} vanished though no writer had seen it",
                            w.dot, w.field
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Resolves whatever the state needs a person for; answers the fields written.
pub fn resolve_one(
    s: &mut RecordState,
    r: ReplicaId,
    at: Timestamp,
    value: i64,
) -> Option<Vec<String>> {
    let conflicts = s.conflicts();
    if let Some(field) = conflicts.fields.first() {
        if field == DELETED_FIELD {
            s.restore(r, at).ok()?;
        } else {
            s.resolve(r, at, name(field), json!(value)).ok()?;
        }
        return Some(vec![field.clone()]);
    }
    if conflicts.deleted_with_edits {
        s.delete(r, at).ok()?;
        return Some(vec![DELETED_FIELD.to_owned()]);
    }
    None
}

/// Runs a schedule to the end and settles the network.
pub fn run(schedule: &Schedule) -> World {
    let mut world = World::new(schedule);
    for op in &schedule.ops {
        world.apply(op);
    }
    world.settle();
    world
}

/// Per record, the replicas that hold it after settling, by canonical bytes.
pub fn distinct_states(world: &World, record: usize) -> BTreeMap<String, Vec<usize>> {
    let mut seen: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (r, bytes) in world.bytes(record).into_iter().enumerate() {
        seen.entry(bytes).or_default().push(r);
    }
    seen
}
