//! The Passerelle desktop app. Filled by the app issue; until then a placeholder binary.

#![forbid(unsafe_code)]

fn main() {
    let _ = casefile::sync_protocol::wire::PROTOCOL_VERSION;
}
