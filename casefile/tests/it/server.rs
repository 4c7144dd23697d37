//! The real server and devices for the sync client's tests come from the workspace's test
//! support (`passerelle-test-support`), shared with the end-to-end scenarios.

pub use passerelle_test_support::{Backend, Device, Server, backends, patient};
