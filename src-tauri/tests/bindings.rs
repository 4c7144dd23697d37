//! The committed TypeScript bindings match the Rust types: the CI drift check.

use std::path::PathBuf;

fn committed() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ui/src/lib/bindings.ts")
}

#[test]
fn bindings_are_current() {
    if std::env::var_os("UPDATE_BINDINGS").is_some() {
        passerelle_app::export_bindings(&committed()).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("bindings.ts");
    passerelle_app::export_bindings(&fresh).unwrap();
    let fresh = std::fs::read_to_string(fresh).unwrap();
    let committed = std::fs::read_to_string(committed()).unwrap_or_default();
    assert!(
        fresh == committed,
        "ui/src/lib/bindings.ts differs from what the Rust types generate: run \
         `UPDATE_BINDINGS=1 cargo nextest run -p passerelle-app bindings` and commit it"
    );
}
