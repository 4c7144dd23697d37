//! Integration tests of the documents: case files filled through `casefile`, what they
//! read written here, then read back. One test binary, one module per document.

// Test code: a failed unwrap is a failed test. clippy.toml allows these inside #[test]
// functions only; the helpers of this test binary need them too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod access;
mod common;
mod cv;
mod exports;
mod images;
mod notice;
mod spreadsheets;
mod visit_copy;
