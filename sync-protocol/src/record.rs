//! The record state of §2: the single source of truth on every replica.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::{Dot, RecordId, VersionVector};

/// The field that marks a record deleted (§5).
pub const DELETED_FIELD: &str = "_deleted";

/// A record kind: `^[a-z][a-z0-9_]{0,31}$`. Kinds this build does not know are kept.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Kind(String);

/// A field name: `^_?[a-z][a-z0-9_]{0,63}$`. Names this build does not know are kept.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FieldName(String);

/// A wall-clock time in RFC 3339, as the editing device read it. For people to read;
/// it never decides anything. Kept as written, so a state re-serialises to its own bytes.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(String);

/// A name that breaks the pattern of its rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a valid {what}: it must match {pattern}")]
pub struct InvalidName {
    /// What was being named ("kind", "field name").
    pub what: &'static str,
    /// The rejected text.
    pub text: String,
    /// The pattern it must match.
    pub pattern: &'static str,
}

/// The text is not an RFC 3339 timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an RFC 3339 timestamp such as 2026-11-02T10:14:00Z")]
pub struct InvalidTimestamp(pub String);

fn is_name(text: &str, max_tail: usize) -> bool {
    let bytes = text.as_bytes();
    match bytes.split_first() {
        Some((first, tail)) => {
            first.is_ascii_lowercase()
                && tail.len() <= max_tail
                && tail
                    .iter()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
        }
        None => false,
    }
}

impl FromStr for Kind {
    type Err = InvalidName;
    fn from_str(text: &str) -> Result<Self, InvalidName> {
        if is_name(text, 31) {
            Ok(Self(text.to_owned()))
        } else {
            Err(InvalidName {
                what: "kind",
                text: text.to_owned(),
                pattern: "^[a-z][a-z0-9_]{0,31}$",
            })
        }
    }
}

impl FromStr for FieldName {
    type Err = InvalidName;
    fn from_str(text: &str) -> Result<Self, InvalidName> {
        if is_name(text.strip_prefix('_').unwrap_or(text), 63) {
            Ok(Self(text.to_owned()))
        } else {
            Err(InvalidName {
                what: "field name",
                text: text.to_owned(),
                pattern: "^_?[a-z][a-z0-9_]{0,63}$",
            })
        }
    }
}

impl FromStr for Timestamp {
    type Err = InvalidTimestamp;
    fn from_str(text: &str) -> Result<Self, InvalidTimestamp> {
        match crate::dates::parse_rfc3339(text) {
            Some(_) => Ok(Self(text.to_owned())),
            None => Err(InvalidTimestamp(text.to_owned())),
        }
    }
}

impl Timestamp {
    /// The timestamp of `at`, written in UTC with second precision (`2026-11-02T10:14:00Z`).
    pub fn from_datetime<Tz: chrono::TimeZone>(at: chrono::DateTime<Tz>) -> Self {
        Self(crate::dates::utc_text(at.with_timezone(&chrono::Utc)))
    }

    /// Now, as [`Timestamp::from_datetime`] writes it.
    pub fn now() -> Self {
        Self::from_datetime(chrono::Utc::now())
    }

    /// The parsed time.
    pub fn to_datetime(&self) -> Option<chrono::DateTime<chrono::FixedOffset>> {
        crate::dates::parse_rfc3339(&self.0)
    }
}

macro_rules! text_newtype {
    ($name:ident) => {
        impl $name {
            /// The text, as written.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

impl FieldName {
    /// `_deleted`, which matches the pattern (a unit test checks it).
    pub(crate) fn deleted() -> Self {
        Self(DELETED_FIELD.to_owned())
    }

    /// One of this crate's own field names (valid by construction; a unit test checks
    /// each).
    pub(crate) fn from_static(name: &'static str) -> Self {
        Self(name.to_owned())
    }
}

text_newtype!(Kind);
text_newtype!(FieldName);
text_newtype!(Timestamp);

/// One value of a field: `{dot, at, value}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// The edit that wrote it.
    pub dot: Dot,
    /// When, by the editing device's clock.
    pub at: Timestamp,
    /// Any JSON value.
    pub value: Value,
}

/// A record state (§2): id, kind, version vector and fields, each field holding one entry,
/// or several while concurrent edits await a person's choice.
///
/// Invariants, kept by every constructor and operation of this crate: every entry's dot is
/// covered by `vv`; entries of a field are sorted by dot with no dot twice; no field is
/// empty; an erased record has no fields. States are built by [`RecordState::create`], by
/// reading JSON ([`RecordState::from_value`], which checks every rule of §2, or serde), or
/// by [`merge`](crate::merge).
#[derive(Debug, Clone, PartialEq)]
pub struct RecordState {
    pub(crate) id: RecordId,
    pub(crate) kind: Kind,
    pub(crate) vv: VersionVector,
    pub(crate) fields: BTreeMap<FieldName, Vec<Entry>>,
    pub(crate) erased: bool,
}

impl RecordState {
    /// The canonical JSON text: equal states give equal bytes.
    pub fn to_json(&self) -> String {
        // Serialising this type cannot fail: every key is a string, every value is JSON.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The record's id.
    pub fn id(&self) -> RecordId {
        self.id
    }

    /// The record's kind, which never changes.
    pub fn kind(&self) -> &Kind {
        &self.kind
    }

    /// The version vector: which edits this copy includes.
    pub fn vv(&self) -> &VersionVector {
        &self.vv
    }

    /// Every field, in name order, with its entries in dot order.
    pub fn fields(&self) -> impl Iterator<Item = (&FieldName, &[Entry])> {
        self.fields
            .iter()
            .map(|(name, entries)| (name, entries.as_slice()))
    }

    /// The entries of one field (empty when the field is absent).
    pub fn entries(&self, field: &str) -> &[Entry] {
        self.fields.get(field).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The value of a field when it has exactly one entry; `None` when absent or in
    /// conflict.
    pub fn value(&self, field: &str) -> Option<&Value> {
        match self.entries(field) {
            [only] => Some(&only.value),
            _ => None,
        }
    }

    /// Whether the server erased this record (§5): it holds no content any more.
    pub fn is_erased(&self) -> bool {
        self.erased
    }

    /// Whether every entry of `_deleted` is non-null (§5).
    pub fn is_deleted(&self) -> bool {
        let entries = self.entries(DELETED_FIELD);
        !entries.is_empty() && entries.iter().all(|e| !e.value.is_null())
    }

    /// Every dot held in any field, with duplicates when one edit wrote several fields.
    pub fn dots(&self) -> impl Iterator<Item = Dot> + '_ {
        self.fields.values().flatten().map(|e| e.dot)
    }
}

impl Serialize for RecordState {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(if self.erased { 5 } else { 4 }))?;
        map.serialize_entry("id", &self.id)?;
        map.serialize_entry("kind", &self.kind)?;
        map.serialize_entry("vv", &self.vv)?;
        if self.erased {
            map.serialize_entry("erased", &true)?;
        }
        map.serialize_entry("fields", &self.fields)?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_their_patterns() {
        assert!("visit".parse::<Kind>().is_ok());
        assert!("a".repeat(32).parse::<Kind>().is_ok());
        assert!("a".repeat(33).parse::<Kind>().is_err());
        assert!("Visit".parse::<Kind>().is_err());
        assert!("_visit".parse::<Kind>().is_err());
        assert_eq!("_deleted".parse::<FieldName>(), Ok(FieldName::deleted()));
        for name in [
            crate::merges::MERGED_INTO,
            crate::merges::MERGED_SEEN,
            crate::merges::NOT_DUPLICATES,
        ] {
            assert_eq!(name.parse::<FieldName>(), Ok(FieldName::from_static(name)));
        }
        assert!("x_note2".parse::<FieldName>().is_ok());
        assert!("__x".parse::<FieldName>().is_err());
        assert!("2x".parse::<FieldName>().is_err());
        assert!("".parse::<FieldName>().is_err());
        assert!(format!("a{}", "b".repeat(63)).parse::<FieldName>().is_ok());
        assert!(format!("a{}", "b".repeat(64)).parse::<FieldName>().is_err());
    }

    #[test]
    fn timestamps_are_rfc3339() {
        assert!("2026-11-02T10:14:00Z".parse::<Timestamp>().is_ok());
        assert!("2026-11-02T10:14:00.123+01:00".parse::<Timestamp>().is_ok());
        assert!("2026-11-02 10:14".parse::<Timestamp>().is_err());
        assert!("2026-11-02".parse::<Timestamp>().is_err());
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-02T11:14:00.7+01:00").unwrap();
        assert_eq!(
            Timestamp::from_datetime(at).as_str(),
            "2026-11-02T10:14:00Z"
        );
    }
}
