//! Integration tests of `passerelle-server`: the real binary on `127.0.0.1:0`, on SQLite
//! and on the machine's PostgreSQL (127.0.0.1:5432, user `postgres`, one fresh database
//! per test), through HTTP as a device sees it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod harness;

mod audit;
mod blobs;
mod cli;
mod connections;
mod enrolment;
mod erasure;
mod isolation;
mod journal;
mod lifecycle;
mod persons;
mod pull;
mod push;
mod restore;
mod tls;
