//! # casefile
//!
//! The device's case file, on top of `sync-protocol`. Filled by the casefile issue.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub use sync_protocol;
