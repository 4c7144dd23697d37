//! passerelle-server: the office side of sync. Filled by the server issue.

#![forbid(unsafe_code)]

fn main() {
    println!(
        "passerelle-server speaks sync protocol {}",
        sync_protocol::wire::PROTOCOL_VERSION
    );
}
