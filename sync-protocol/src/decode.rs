//! Reading record states from JSON: the one door through which a state enters, calling
//! the checks of [`validate`](crate::validate) on the way in. Kept apart from the types
//! ([`record`](crate::record)) and from the checks, so each imports the other one way.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::record::RecordState;
use crate::validate::{self, ValidationError};

impl RecordState {
    /// Reads a state from JSON, checking every rule of §2 (see [`ValidationError`]).
    pub fn from_value(value: &Value) -> Result<Self, ValidationError> {
        validate::record(value)
    }

    /// Reads a state from JSON text, checking every rule of §2.
    ///
    /// Numbers are read exactly (serde_json's `float_roundtrip`): every non-integer
    /// becomes the IEEE 754 double nearest its text, and is written back as the shortest
    /// text that reads as that double, so decoding a canonical state and encoding it
    /// again gives the same bytes.
    pub fn from_json(text: &str) -> Result<Self, ValidationError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| ValidationError::NotJson(e.to_string()))?;
        validate::record(&value)
    }

    /// Checks what a device may push beyond §2: no `erased` (only the server erases).
    pub fn check_pushable(&self) -> Result<(), ValidationError> {
        if self.erased {
            Err(ValidationError::ErasedPushed)
        } else {
            Ok(())
        }
    }
}

impl<'de> Deserialize<'de> for RecordState {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        validate::record(&value).map_err(serde::de::Error::custom)
    }
}
