//! End-to-end tests of Passerelle: several devices' case files and a real
//! `passerelle-server` process on loopback, with a proxy between them that injects faults.
//!
//! The library holds the ledger and the fault proxy (the server and devices come from
//! `passerelle-test-support`, re-exported as [`harness`]); the scenarios are the
//! integration tests of this crate.

#![forbid(unsafe_code)]
// The harness is test code: a failed set-up step should stop the test with its reason.
#![allow(clippy::expect_used, clippy::panic)]

pub use passerelle_test_support as harness;
pub mod bench;
pub mod ledger;
pub mod proxy;
