//! Integration tests of the case file: one test binary, one module per concern.

// Test code: a failed unwrap is a failed test. clippy.toml allows these inside #[test]
// functions only; the helpers of this test binary need them too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod attachments;
mod common;
mod crash;
mod cv;
mod duplicates;
mod edits;
mod erasure;
mod exports;
mod features;
mod kinds;
mod logs;
mod names_quality;
mod organisation;
mod queries;
mod rebuild;
mod recovery;
mod search;
mod server;
mod set_aside;
mod storage;
mod stub;
mod sync;
mod unlock;
