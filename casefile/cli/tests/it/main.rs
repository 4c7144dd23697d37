//! Integration tests of `passerelle-cli`: the real binary driven as a script would, on
//! real case files. One test binary, one module per concern.

// Test code: a failed unwrap is a failed test. clippy.toml allows these inside #[test]
// functions only; the helpers of this test binary need them too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod commands;
mod common;
mod exports;
mod sync;
