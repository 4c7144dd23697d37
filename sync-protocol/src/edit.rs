//! Local edits (§3) and the deletion edits of §5.
//!
//! Every operation here is one edit: it takes one new dot `[replica, vv[replica] + 1]`,
//! however many fields it writes, and replaces every entry of each field it writes. That
//! is also how a person resolves a conflict.

use serde_json::{Value, json};

use crate::record::{DELETED_FIELD, Entry, FieldName, Kind, RecordState, Timestamp};
use crate::size::{self, MAX_EDIT_BYTES};
use crate::vv::MAX_COUNTER;
use crate::{Dot, RecordId, ReplicaId, VersionVector};

/// Why a local edit was refused. The record is left unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// The server erased the record: it can no longer be edited.
    #[error("the record {0} was erased and can no longer be edited")]
    Erased(RecordId),
    /// The edit names no field.
    #[error("an edit must change at least one field")]
    NoChange,
    /// `_deleted` is written only by delete and restore.
    #[error("the field _deleted is changed only by deleting or restoring the record")]
    DeletedFieldReserved,
    /// This replica has made 2^53 − 1 edits to the record.
    #[error("the record {0} has reached the largest edit counter")]
    CounterExhausted(RecordId),
    /// The edit would pass the size cap of §2; `field` is its largest field.
    #[error(
        "the field {field} makes this change {bytes} bytes, more than the {max} bytes one \
         change may hold: shorten the text, or attach it as a document",
        max = MAX_EDIT_BYTES
    )]
    TooLarge {
        /// The largest field the edit writes.
        field: String,
        /// The edit's canonical size.
        bytes: usize,
    },
    /// Deleting a record that is already deleted, with nothing to decide.
    #[error("the record {0} is already deleted")]
    AlreadyDeleted(RecordId),
    /// Restoring a record that is not deleted, with no deletion to decide.
    #[error("the record {0} is not deleted")]
    NotDeleted(RecordId),
}

impl RecordState {
    /// Creates a record: its first edit, by `replica`, of `fields`.
    ///
    /// A field given twice keeps its last value. Refuses fields that pass the size cap of
    /// §2 ([`EditError::TooLarge`]).
    pub fn create(
        id: RecordId,
        kind: Kind,
        replica: ReplicaId,
        at: Timestamp,
        fields: impl IntoIterator<Item = (FieldName, Value)>,
    ) -> Result<Self, EditError> {
        let mut state = Self {
            id,
            kind,
            vv: VersionVector::new(),
            fields: Default::default(),
            erased: false,
        };
        let dot = Dot::new(replica, 1);
        state.vv.set(replica, 1);
        let fields: Vec<(FieldName, Value)> = fields.into_iter().collect();
        check_size(dot, &at, &fields)?;
        for (name, value) in fields {
            state.write(name, dot, &at, value);
        }
        Ok(state)
    }

    /// An edit by `replica` of the given fields (§3). Refuses `_deleted` (use
    /// [`delete`](Self::delete) and [`restore`](Self::restore)), an empty change, and an
    /// erased record. Answers the edit's dot.
    pub fn edit(
        &mut self,
        replica: ReplicaId,
        at: Timestamp,
        changes: impl IntoIterator<Item = (FieldName, Value)>,
    ) -> Result<Dot, EditError> {
        let changes: Vec<(FieldName, Value)> = changes.into_iter().collect();
        if changes.is_empty() {
            return Err(EditError::NoChange);
        }
        if changes
            .iter()
            .any(|(name, _)| name.as_str() == DELETED_FIELD)
        {
            return Err(EditError::DeletedFieldReserved);
        }
        if self.erased {
            return Err(EditError::Erased(self.id));
        }
        check_size(
            Dot::new(replica, self.vv.get(replica).saturating_add(1)),
            &at,
            &changes,
        )?;
        let dot = self.next_dot(replica)?;
        for (name, value) in changes {
            self.write(name, dot, &at, value);
        }
        Ok(dot)
    }

    /// Resolves a conflict on `field` by a chosen or new value: an ordinary edit of that
    /// one field, whose single entry supersedes every entry the replica has seen.
    pub fn resolve(
        &mut self,
        replica: ReplicaId,
        at: Timestamp,
        field: FieldName,
        value: Value,
    ) -> Result<Dot, EditError> {
        self.edit(replica, at, [(field, value)])
    }

    /// Deletes the record (§5): `_deleted` becomes `{"seen": vv before this edit}`.
    ///
    /// On a record already deleted this is allowed only while there is something to
    /// decide (edits concurrent with the deletion, or several `_deleted` entries); it then
    /// confirms the deletion over every edit this replica holds.
    pub fn delete(&mut self, replica: ReplicaId, at: Timestamp) -> Result<Dot, EditError> {
        if self.is_deleted()
            && !self.is_deleted_with_edits()
            && self.entries(DELETED_FIELD).len() == 1
        {
            return Err(EditError::AlreadyDeleted(self.id));
        }
        let seen = json!({ "seen": self.vv });
        let dot = self.next_dot(replica)?;
        self.write(deleted_field(), dot, &at, seen);
        Ok(dot)
    }

    /// Restores a deleted record (§5): `_deleted` becomes `null`. Also how a person keeps
    /// the edits made concurrently with a deletion, or settles a delete against a restore.
    pub fn restore(&mut self, replica: ReplicaId, at: Timestamp) -> Result<Dot, EditError> {
        if self
            .entries(DELETED_FIELD)
            .iter()
            .all(|e| e.value.is_null())
        {
            return Err(EditError::NotDeleted(self.id));
        }
        let dot = self.next_dot(replica)?;
        self.write(deleted_field(), dot, &at, Value::Null);
        Ok(dot)
    }

    /// Takes the next dot of `replica` and records it in `vv`.
    fn next_dot(&mut self, replica: ReplicaId) -> Result<Dot, EditError> {
        if self.erased {
            return Err(EditError::Erased(self.id));
        }
        let counter = self.vv.get(replica) + 1;
        if counter > MAX_COUNTER {
            return Err(EditError::CounterExhausted(self.id));
        }
        self.vv.set(replica, counter);
        Ok(Dot::new(replica, counter))
    }

    fn write(&mut self, name: FieldName, dot: Dot, at: &Timestamp, value: Value) {
        let entry = Entry {
            dot,
            at: at.clone(),
            value,
        };
        self.fields.insert(name, vec![entry]);
    }
}

/// Refuses an edit whose entries would pass [`MAX_EDIT_BYTES`], naming its largest field.
/// A field written twice counts once, with its last value, as [`RecordState::write`]
/// keeps it.
fn check_size(dot: Dot, at: &Timestamp, changes: &[(FieldName, Value)]) -> Result<(), EditError> {
    let mut sizes: std::collections::BTreeMap<&str, usize> = Default::default();
    for (name, value) in changes {
        sizes.insert(name.as_str(), size::entry_bytes(&dot, at, value));
    }
    let bytes: usize = sizes.values().sum();
    if bytes <= MAX_EDIT_BYTES {
        return Ok(());
    }
    let field = sizes
        .iter()
        .max_by_key(|(_, size)| **size)
        .map(|(name, _)| (*name).to_owned())
        .unwrap_or_default();
    Err(EditError::TooLarge { field, bytes })
}

fn deleted_field() -> FieldName {
    FieldName::deleted()
}
