//! Unlocking backs off after 5 wrong passphrases, for the library and the command line
//! alike (the command line's side, in another process, is tested in `passerelle-cli`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use casefile::{CaseFile, Error, UnlockBackoff};
use serde_json::Value;

use crate::common::*;

fn sidecar(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".unlock");
    PathBuf::from(name)
}

fn keyparams(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".keyparams");
    PathBuf::from(name)
}

fn wrong(path: &Path, backoff: &UnlockBackoff) {
    match CaseFile::open_with(path, "not the passphrase at all", backoff) {
        Err(Error::WrongPassphrase) => {}
        other => panic!("expected WrongPassphrase, got {other:?}"),
    }
}

fn refused(result: casefile::Result<CaseFile>) -> u64 {
    match result {
        Err(Error::UnlockBackoff { wait_seconds }) => wait_seconds,
        other => panic!("expected UnlockBackoff, got {other:?}"),
    }
}

#[test]
fn after_five_wrong_passphrases_the_next_attempt_is_refused_without_deriving_the_key() {
    let (dir, file) = fresh();
    drop(file);
    let path = db_path(&dir);
    let backoff = UnlockBackoff::DEFAULT;
    // Each attempt is a separate open, as a restarted app or another process makes it.
    for _ in 0..5 {
        wrong(&path, &backoff);
    }
    // Key parameters whose derivation takes seconds: an attempt that derived the key
    // could not answer at once.
    let cheap = std::fs::read_to_string(keyparams(&path)).unwrap();
    let mut costly: Value = serde_json::from_str(&cheap).unwrap();
    costly["t"] = 200_000.into();
    std::fs::write(keyparams(&path), costly.to_string()).unwrap();
    for passphrase in ["still not the passphrase", PASS] {
        let started = Instant::now();
        let wait = refused(CaseFile::open(&path, passphrase));
        let took = started.elapsed();
        assert!(
            (29..=30).contains(&wait),
            "the first wait is 30 s, got {wait}"
        );
        assert!(
            took < Duration::from_millis(200),
            "refused at once, without deriving the key: took {took:?}"
        );
    }
    std::fs::write(keyparams(&path), cheap).unwrap();
    assert!(
        matches!(
            CaseFile::open(&path, PASS),
            Err(Error::UnlockBackoff { .. })
        ),
        "the right passphrase is refused too until the wait has passed"
    );
    let error = CaseFile::open(&path, PASS).unwrap_err().to_string();
    assert!(
        error.starts_with("too many wrong passphrases in a row: wait ")
            && error.ends_with(" seconds before trying again"),
        "one sentence saying how long to wait: {error}"
    );
}

#[test]
fn the_wait_doubles_and_a_right_passphrase_after_it_resets_the_count() {
    let (dir, file) = fresh();
    drop(file);
    let path = db_path(&dir);
    let backoff = UnlockBackoff {
        free_failures: 5,
        first_wait: Duration::from_secs(1),
        max_wait: Duration::from_secs(10),
    };
    for attempt in 1..=5 {
        wrong(&path, &backoff);
        assert!(sidecar(&path).exists(), "failure {attempt} is counted");
    }
    assert_eq!(refused(CaseFile::open_with(&path, PASS, &backoff)), 1);
    std::thread::sleep(Duration::from_millis(1100));
    wrong(&path, &backoff);
    assert_eq!(
        refused(CaseFile::open_with(&path, PASS, &backoff)),
        2,
        "a sixth failure doubles the wait"
    );
    std::thread::sleep(Duration::from_millis(2100));
    assert!(
        CaseFile::open_with(&path, PASS, &backoff).is_ok(),
        "once the wait has passed, the right passphrase opens the file"
    );
    assert!(!sidecar(&path).exists(), "and clears the count");
    for _ in 0..4 {
        wrong(&path, &backoff);
    }
    assert!(
        CaseFile::open_with(&path, PASS, &backoff).is_ok(),
        "four failures after a success are still free: the count started again"
    );
}

#[test]
fn the_count_is_kept_beside_the_file_owner_only_and_destroyed_with_it() {
    let (dir, file) = fresh();
    let path = db_path(&dir);
    // Another process tries a wrong passphrase while this one has the file open.
    wrong(&path, &UnlockBackoff::DEFAULT);
    let text = std::fs::read_to_string(sidecar(&path)).unwrap();
    let record: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(record["failures"], 1, "a count: {text}");
    assert_eq!(
        record.as_object().unwrap().len(),
        2,
        "a count and a time, nothing else: {text}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(sidecar(&path))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "created 0600, got {mode:o}");
    }
    file.destroy().unwrap();
    assert!(
        !sidecar(&path).exists(),
        "destroying the case file removes its count too"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing is left beside the destroyed file"
    );
}
