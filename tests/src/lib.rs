//! End-to-end scenarios across crates: filled by the sync client issue.

#![forbid(unsafe_code)]
