//! Integration tests of sync-protocol: the laws of merge, convergence of replicas under
//! random schedules, validation, and the golden vectors of `tests/vectors/`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod edits;
mod fuzz;
mod laws;
mod no_drop;
mod numbers;
mod rekey;
mod sim;
mod validation;
mod vectors;
