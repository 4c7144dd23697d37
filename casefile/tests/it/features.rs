//! The cheap key derivation of tests never reaches a release build: the feature that
//! makes it (`insecure-test-kdf`) is enabled by dev-dependencies only. `cargo tree`
//! resolves features the way a build of the shipped packages does, without compiling.

use std::process::Command;

const FEATURE: &str = "insecure-test-kdf";

fn tree(args: &[&str]) -> String {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_owned());
    let out = Command::new(cargo)
        .args(["tree", "--offline", "--manifest-path", manifest])
        .args(["--prefix", "none", "--format", "{p} {f}"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo tree {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn casefile_lines(tree: &str) -> Vec<&str> {
    tree.lines()
        .filter(|line| line.starts_with("casefile "))
        .collect()
}

#[test]
fn no_release_build_enables_the_cheap_key_derivation() {
    // What `cargo build --release -p …` builds for the shipped packages, together (their
    // features unify as in one build), dev-dependencies left out.
    let shipped = tree(&[
        "-e",
        "normal,build",
        "-p",
        "casefile",
        "-p",
        "documents",
        "-p",
        "passerelle-cli",
        "-p",
        "passerelle-app",
        "-p",
        "passerelle-server",
    ]);
    let lines = casefile_lines(&shipped);
    assert!(!lines.is_empty(), "casefile is in the graph: {shipped}");
    for line in lines {
        assert!(
            !line.contains(FEATURE),
            "a release build would carry the cheap key derivation: {line}"
        );
    }
}

#[test]
fn a_plain_build_at_the_root_does_not_enable_it() {
    // `cargo build --release` with no package named builds the default members together.
    let plain = tree(&["-e", "normal,build"]);
    let lines = casefile_lines(&plain);
    assert!(!lines.is_empty(), "casefile is in the graph: {plain}");
    for line in lines {
        assert!(
            !line.contains(FEATURE),
            "a plain root build would carry the cheap key derivation: {line}"
        );
    }
}

#[test]
fn the_tests_do_enable_it() {
    // The check above must be able to fail: with dev-dependencies, the feature is there,
    // for this crate's tests and for the command line's, which need its cheap keys.
    for package in ["casefile", "passerelle-cli"] {
        let with_tests = tree(&["-e", "normal,build,dev", "-p", package]);
        assert!(
            casefile_lines(&with_tests)
                .iter()
                .any(|line| line.contains(FEATURE)),
            "the tests of {package} build casefile with {FEATURE}: {with_tests}"
        );
    }
}
