//! Replica and record ids: UUIDs written lowercase with hyphens (§1, §2).
//!
//! Both are kept as a `u128`. The canonical text form has its hyphens at fixed places, so
//! the order of the numbers is the order of the strings: sorting by id sorts the JSON
//! keys the same way.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The text is not a UUID written lowercase with hyphens.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a UUID written lowercase with hyphens (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)"
)]
pub struct InvalidUuid(pub String);

/// Reads the canonical form `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (lowercase hex).
pub(crate) fn parse_uuid(text: &str) -> Result<u128, InvalidUuid> {
    let bytes = text.as_bytes();
    if bytes.len() != 36 {
        return Err(InvalidUuid(text.to_owned()));
    }
    let mut value: u128 = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            if b != b'-' {
                return Err(InvalidUuid(text.to_owned()));
            }
            continue;
        }
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            _ => return Err(InvalidUuid(text.to_owned())),
        };
        value = (value << 4) | u128::from(digit);
    }
    Ok(value)
}

pub(crate) fn write_uuid(value: u128, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let hex = format!("{value:032x}");
    write!(
        f,
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

macro_rules! uuid_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(u128);

        impl $name {
            /// The id whose 128 bits are `bits`.
            pub const fn from_u128(bits: u128) -> Self {
                Self(bits)
            }

            /// The 128 bits of the id.
            pub const fn as_u128(self) -> u128 {
                self.0
            }
        }

        impl FromStr for $name {
            type Err = InvalidUuid;
            fn from_str(text: &str) -> Result<Self, InvalidUuid> {
                parse_uuid(text).map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_uuid(self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_uuid(self.0, f)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
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

uuid_type!(
    /// A replica: the server, or one device (§1). Made once, when the case file or the
    /// server database is created, and never changed.
    ReplicaId
);

uuid_type!(
    /// A record's id, chosen by the replica that created it (UUID v7 preferred).
    RecordId
);

uuid_type!(
    /// A server database's epoch (§6a): made by `init`, replaced by `restore`. A device
    /// that sees another epoch than the last one sends everything again.
    Epoch
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_the_canonical_form() {
        let text = "5b0e4f7e-2f3a-4d8c-9a3e-0c1d2e3f4a5b";
        let id: RecordId = text.parse().unwrap();
        assert_eq!(id.to_string(), text);
    }

    #[test]
    fn refuses_uppercase_braces_and_missing_hyphens() {
        for bad in [
            "5B0E4F7E-2F3A-4D8C-9A3E-0C1D2E3F4A5B",
            "{5b0e4f7e-2f3a-4d8c-9a3e-0c1d2e3f4a5b}",
            "5b0e4f7e2f3a4d8c9a3e0c1d2e3f4a5b",
            "5b0e4f7e-2f3a-4d8c-9a3e-0c1d2e3f4a5",
            "5b0e4f7e-2f3a-4d8c-9a3e_0c1d2e3f4a5b",
            "",
        ] {
            assert!(bad.parse::<ReplicaId>().is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn number_order_is_string_order() {
        let a: ReplicaId = "0fffffff-ffff-ffff-ffff-ffffffffffff".parse().unwrap();
        let b: ReplicaId = "10000000-0000-0000-0000-000000000000".parse().unwrap();
        assert!(a < b);
        assert!(a.to_string() < b.to_string());
    }
}
