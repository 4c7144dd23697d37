//! Reading a record state from JSON, checking every rule of §2 (and the shape of
//! `_deleted`, §5). Each broken rule has its own variant of [`ValidationError`], naming
//! the rule and the offending field or dot; [`ValidationError::code`] gives it a stable
//! name for the golden vectors and for logs.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::record::{DELETED_FIELD, Entry, FieldName, Kind, RecordState, Timestamp};
use crate::size::{self, MAX_EDIT_BYTES};
use crate::vv::MAX_COUNTER;
use crate::{Dot, RecordId, ReplicaId, VersionVector};

/// A record that breaks a rule of §2. Messages name fields and dots, never values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// The text is not JSON at all.
    #[error("the record is not JSON: {0}")]
    NotJson(String),
    /// A part of the record has the wrong JSON type.
    #[error("{location} must be {expected}")]
    WrongType {
        /// Where, as a path (`record`, `vv`, `fields.notes[0]`).
        location: String,
        /// What was expected there.
        expected: &'static str,
    },
    /// A key every record or entry must have is missing.
    #[error("{location} has no {key:?}")]
    MissingKey {
        /// Where.
        location: String,
        /// The missing key.
        key: &'static str,
    },
    /// A key that §2 does not define.
    #[error("{location} has the key {key:?}, which a record may not carry")]
    UnknownKey {
        /// Where.
        location: String,
        /// The extra key.
        key: String,
    },
    /// `id` is not a lowercase hyphenated UUID.
    #[error("the record id {0:?} is not a UUID written lowercase with hyphens")]
    InvalidId(String),
    /// `kind` breaks `^[a-z][a-z0-9_]{{0,31}}$`.
    #[error("the kind {0:?} must match ^[a-z][a-z0-9_]{{0,31}}$")]
    InvalidKind(String),
    /// A replica id, in `vv` or in a dot, is not a lowercase hyphenated UUID.
    #[error("{location}: the replica id {text:?} is not a UUID written lowercase with hyphens")]
    InvalidReplicaId {
        /// Where.
        location: String,
        /// The rejected id.
        text: String,
    },
    /// A counter is not a JSON integer from 1 to 2^53 − 1.
    #[error("{location}: a counter must be a JSON integer from 1 to 2^53 - 1")]
    InvalidCounter {
        /// Where.
        location: String,
    },
    /// A field name breaks `^_?[a-z][a-z0-9_]{{0,63}}$`.
    #[error("the field name {0:?} must match ^_?[a-z][a-z0-9_]{{0,63}}$")]
    InvalidFieldName(String),
    /// A field holds no entry.
    #[error("the field {0} has no entry: every field holds at least one")]
    EmptyField(String),
    /// A dot is not `[replica, counter]`.
    #[error("fields.{field}[{index}].dot must be [replica id, counter]")]
    InvalidDot {
        /// The field.
        field: String,
        /// The entry's position in the field.
        index: usize,
    },
    /// `at` is not RFC 3339.
    #[error("the entry {dot} of field {field} has an `at` that is not an RFC 3339 timestamp")]
    InvalidTimestamp {
        /// The field.
        field: String,
        /// The entry's dot.
        dot: Dot,
    },
    /// An entry's dot is not covered by the record's `vv`.
    #[error("the entry {dot} of field {field} is not covered by the record's vv")]
    DotNotCovered {
        /// The field.
        field: String,
        /// The dot.
        dot: Dot,
    },
    /// The same dot twice in one field.
    #[error("the dot {dot} appears twice in field {field}")]
    DuplicateDot {
        /// The field.
        field: String,
        /// The dot.
        dot: Dot,
    },
    /// `erased` is present but not `true`.
    #[error("`erased` may only be true")]
    InvalidErasedFlag,
    /// An erased record still holds fields.
    #[error("an erased record holds no fields")]
    ErasedWithFields,
    /// A device pushed an erased record: only the server erases (§5).
    #[error("only the server erases records: a pushed state may not carry `erased`")]
    ErasedPushed,
    /// A `_deleted` entry is neither null nor `{"seen": vv}`.
    #[error("the entry {dot} of _deleted must be null or {{\"seen\": version vector}}")]
    InvalidDeletion {
        /// The dot.
        dot: Dot,
    },
    /// A deletion's `seen` names edits the record's `vv` does not include (§5).
    #[error("the deletion {dot} has a `seen` that names edits the record's vv does not include")]
    SeenNotCovered {
        /// The deleting entry's dot.
        dot: Dot,
    },
    /// A deletion's `seen` covers its own entry: it claims to have seen itself (§5).
    #[error("the deletion {dot} has a `seen` that covers its own dot")]
    SeenCoversOwnDot {
        /// The deleting entry's dot.
        dot: Dot,
    },
    /// The entries of one edit pass the size cap of §2.
    #[error(
        "the edit {dot} holds {bytes} bytes, more than the {max} bytes one edit may hold: \
         keep long texts and documents out of fields",
        max = MAX_EDIT_BYTES
    )]
    EditTooLarge {
        /// The edit's dot.
        dot: Dot,
        /// Its canonical size.
        bytes: usize,
    },
}

impl ValidationError {
    /// A stable snake_case name of the broken rule.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotJson(_) => "not_json",
            Self::WrongType { .. } => "wrong_type",
            Self::MissingKey { .. } => "missing_key",
            Self::UnknownKey { .. } => "unknown_key",
            Self::InvalidId(_) => "invalid_id",
            Self::InvalidKind(_) => "invalid_kind",
            Self::InvalidReplicaId { .. } => "invalid_replica_id",
            Self::InvalidCounter { .. } => "invalid_counter",
            Self::InvalidFieldName(_) => "invalid_field_name",
            Self::EmptyField(_) => "empty_field",
            Self::InvalidDot { .. } => "invalid_dot",
            Self::InvalidTimestamp { .. } => "invalid_timestamp",
            Self::DotNotCovered { .. } => "dot_not_covered",
            Self::DuplicateDot { .. } => "duplicate_dot",
            Self::InvalidErasedFlag => "invalid_erased_flag",
            Self::ErasedWithFields => "erased_with_fields",
            Self::ErasedPushed => "erased_pushed",
            Self::InvalidDeletion { .. } => "invalid_deletion",
            Self::SeenNotCovered { .. } => "seen_not_covered",
            Self::SeenCoversOwnDot { .. } => "seen_covers_own_dot",
            Self::EditTooLarge { .. } => "record_too_large",
        }
    }
}

type Result<T> = std::result::Result<T, ValidationError>;

fn object<'a>(value: &'a Value, location: &str) -> Result<&'a Map<String, Value>> {
    value.as_object().ok_or_else(|| ValidationError::WrongType {
        location: location.to_owned(),
        expected: "a JSON object",
    })
}

fn only_keys(map: &Map<String, Value>, allowed: &[&str], location: &str) -> Result<()> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(key) => Err(ValidationError::UnknownKey {
            location: location.to_owned(),
            key: key.clone(),
        }),
        None => Ok(()),
    }
}

fn required<'a>(
    map: &'a Map<String, Value>,
    key: &'static str,
    location: &str,
) -> Result<&'a Value> {
    map.get(key).ok_or_else(|| ValidationError::MissingKey {
        location: location.to_owned(),
        key,
    })
}

pub(crate) fn counter(value: &Value, location: impl FnOnce() -> String) -> Result<u64> {
    match value.as_u64() {
        // `as_u64` is `Some` only for a JSON integer written without fraction or exponent.
        Some(n) if (1..=MAX_COUNTER).contains(&n) => Ok(n),
        _ => Err(ValidationError::InvalidCounter {
            location: location(),
        }),
    }
}

fn replica(text: &str, location: impl FnOnce() -> String) -> Result<ReplicaId> {
    text.parse().map_err(|_| ValidationError::InvalidReplicaId {
        location: location(),
        text: text.to_owned(),
    })
}

/// Reads a version vector object; `location` names it in errors.
pub(crate) fn version_vector(value: &Value, location: &str) -> Result<VersionVector> {
    let map = object(value, location)?;
    let mut vv = VersionVector::new();
    for (key, n) in map {
        let r = replica(key, || location.to_owned())?;
        let n = counter(n, || format!("{location}[{key}]"))?;
        vv.set(r, n);
    }
    Ok(vv)
}

fn dot(value: &Value, field: &str, index: usize) -> Result<Dot> {
    let bad = || ValidationError::InvalidDot {
        field: field.to_owned(),
        index,
    };
    match value.as_array().map(Vec::as_slice) {
        Some([Value::String(r), n]) => {
            let location = || format!("fields.{field}[{index}].dot");
            Ok(Dot::new(replica(r, location)?, counter(n, location)?))
        }
        _ => Err(bad()),
    }
}

fn entry(value: &Value, field: &str, index: usize) -> Result<Entry> {
    let location = format!("fields.{field}[{index}]");
    let map = object(value, &location)?;
    only_keys(map, &["dot", "at", "value"], &location)?;
    let dot = dot(required(map, "dot", &location)?, field, index)?;
    let at = required(map, "at", &location)?;
    let at = at
        .as_str()
        .and_then(|text| text.parse::<Timestamp>().ok())
        .ok_or_else(|| ValidationError::InvalidTimestamp {
            field: field.to_owned(),
            dot,
        })?;
    let value = required(map, "value", &location)?.clone();
    Ok(Entry { dot, at, value })
}

/// Whether a `_deleted` value is `null` or `{"seen": vv}`; gives the `seen` vector.
pub(crate) fn deletion_seen(value: &Value) -> Option<Option<VersionVector>> {
    match value {
        Value::Null => Some(None),
        Value::Object(map) if map.len() == 1 => {
            let seen = version_vector(map.get("seen")?, "seen").ok()?;
            Some(Some(seen))
        }
        _ => None,
    }
}

fn fields(value: &Value, vv: &VersionVector) -> Result<BTreeMap<FieldName, Vec<Entry>>> {
    let map = object(value, "fields")?;
    let mut fields = BTreeMap::new();
    for (name, entries) in map {
        let field: FieldName = name
            .parse()
            .map_err(|_| ValidationError::InvalidFieldName(name.clone()))?;
        let list = entries
            .as_array()
            .ok_or_else(|| ValidationError::WrongType {
                location: format!("fields.{name}"),
                expected: "an array of entries",
            })?;
        if list.is_empty() {
            return Err(ValidationError::EmptyField(name.clone()));
        }
        let mut parsed = list
            .iter()
            .enumerate()
            .map(|(i, e)| entry(e, name, i))
            .collect::<Result<Vec<_>>>()?;
        parsed.sort_by_key(|e| e.dot);
        for pair in parsed.windows(2) {
            if pair[0].dot == pair[1].dot {
                return Err(ValidationError::DuplicateDot {
                    field: name.clone(),
                    dot: pair[0].dot,
                });
            }
        }
        for e in &parsed {
            if !vv.covers(e.dot) {
                return Err(ValidationError::DotNotCovered {
                    field: name.clone(),
                    dot: e.dot,
                });
            }
            if name == DELETED_FIELD {
                match deletion_seen(&e.value) {
                    None => return Err(ValidationError::InvalidDeletion { dot: e.dot }),
                    Some(Some(seen)) if !vv.dominates(&seen) => {
                        return Err(ValidationError::SeenNotCovered { dot: e.dot });
                    }
                    Some(Some(seen)) if seen.covers(e.dot) => {
                        return Err(ValidationError::SeenCoversOwnDot { dot: e.dot });
                    }
                    Some(_) => {}
                }
            }
        }
        fields.insert(field, parsed);
    }
    Ok(fields)
}

/// Reads and checks one record state.
pub(crate) fn record(value: &Value) -> Result<RecordState> {
    let map = object(value, "record")?;
    only_keys(map, &["id", "kind", "vv", "fields", "erased"], "record")?;
    let id = required(map, "id", "record")?;
    let id: RecordId = id
        .as_str()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| ValidationError::InvalidId(text_of(id)))?;
    let kind = required(map, "kind", "record")?;
    let kind: Kind = kind
        .as_str()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| ValidationError::InvalidKind(text_of(kind)))?;
    let vv = version_vector(required(map, "vv", "record")?, "vv")?;
    let fields = fields(required(map, "fields", "record")?, &vv)?;
    let erased = match map.get("erased") {
        None => false,
        Some(Value::Bool(true)) => true,
        Some(_) => return Err(ValidationError::InvalidErasedFlag),
    };
    if erased && !fields.is_empty() {
        return Err(ValidationError::ErasedWithFields);
    }
    if let Some((dot, bytes)) = size::oversized_edit(&fields) {
        return Err(ValidationError::EditTooLarge { dot, bytes });
    }
    Ok(RecordState {
        id,
        kind,
        vv,
        fields,
        erased,
    })
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}
