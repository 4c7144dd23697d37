//! Backoff after wrong passphrases: after [`UnlockBackoff::free_failures`] wrong
//! passphrases in a row, each attempt to open the case file must wait, longer after each
//! new failure, and is refused without deriving the key until then. The app and the
//! command line share it, because it lives beside the case file, in `PATH.unlock`: the
//! count of failures and the wall-clock time of the last, nothing secret. A restart or a
//! reboot keeps it; a right passphrase removes it.
//!
//! Wall clock, not a monotonic one: only the wall clock survives a reboot. A clock set
//! forward shortens a wait (setting the clock takes an administrator); a clock set back
//! must not lock the file until it catches up, so a last failure found in the future is
//! moved to now, and the wait is never longer than [`UnlockBackoff::max_wait`].

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::Result;

/// How an unlock backs off after wrong passphrases: none for the first
/// `free_failures`, then `first_wait`, doubled after each further failure, at most
/// `max_wait`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnlockBackoff {
    /// Wrong passphrases in a row allowed without waiting.
    pub free_failures: u32,
    /// The wait after the first failure past them.
    pub first_wait: Duration,
    /// The longest wait.
    pub max_wait: Duration,
}

impl UnlockBackoff {
    /// The backoff of every real unlock: 5 free failures, then 30 s, 1 min, 2 min, … up to
    /// 15 min. A person who mistypes waits a little; a guesser gets a few hundred tries a
    /// day, on top of Argon2id's cost per try.
    pub const DEFAULT: Self = Self {
        free_failures: 5,
        first_wait: Duration::from_secs(30),
        max_wait: Duration::from_secs(15 * 60),
    };

    /// The wait after `failures` wrong passphrases in a row.
    pub fn wait_after(&self, failures: u32) -> Duration {
        let Some(past) = failures.checked_sub(self.free_failures) else {
            return Duration::ZERO;
        };
        2u32.checked_pow(past)
            .and_then(|factor| self.first_wait.checked_mul(factor))
            .map_or(self.max_wait, |wait| wait.min(self.max_wait))
    }

    /// How long the case file at `path` refuses to be opened before it tries a passphrase
    /// again; zero when it tries now.
    pub fn remaining(&self, path: &Path) -> Result<Duration> {
        self.remaining_at(path, SystemTime::now())
    }

    pub(crate) fn remaining_at(&self, path: &Path, now: SystemTime) -> Result<Duration> {
        let Some(mut record) = Record::read(path) else {
            return Ok(Duration::ZERO);
        };
        let now_ms = unix_ms(now);
        if record.last_failure_ms > now_ms {
            // The clock went back: count the wait from now, not from a time it may not
            // reach for months.
            record.last_failure_ms = now_ms;
            record.write(path)?;
        }
        let wait = self.wait_after(record.failures);
        let elapsed = Duration::from_millis(now_ms - record.last_failure_ms);
        Ok(wait.saturating_sub(elapsed))
    }
}

impl Default for UnlockBackoff {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The path of the backoff record of the case file at `db`.
pub(crate) fn path_for(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".unlock");
    PathBuf::from(name)
}

/// Counts one more wrong passphrase for the case file at `db`, at `now`.
pub(crate) fn record_failure(db: &Path, now: SystemTime) -> Result<()> {
    let failures = Record::read(db).map_or(0, |r| r.failures);
    Record {
        failures: failures.saturating_add(1),
        last_failure_ms: unix_ms(now),
    }
    .write(db)
}

/// Forgets the failures of the case file at `db` (a right passphrase, a new file).
pub(crate) fn reset(db: &Path) -> Result<()> {
    match fs::remove_file(path_for(db)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}

/// What `PATH.unlock` holds.
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    failures: u32,
    last_failure_ms: u64,
}

impl Record {
    /// The record beside `db`; `None` when there is none. A damaged record counts as none:
    /// whoever can damage it can as well delete it.
    fn read(db: &Path) -> Option<Self> {
        let text = fs::read_to_string(path_for(db)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Writes the record whole (a temporary file renamed over it), readable by its owner
    /// only.
    fn write(&self, db: &Path) -> Result<()> {
        let path = path_for(db);
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let text = serde_json::to_string(self).map_err(std::io::Error::other)?;
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        {
            let mut file = options.open(&tmp)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
        }
        fs::rename(&tmp, &path)?;
        Ok(())
    }
}

fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn the_wait_doubles_after_five_failures_up_to_fifteen_minutes() {
        let backoff = UnlockBackoff::DEFAULT;
        let waits: Vec<u64> = (0..=12).map(|n| backoff.wait_after(n).as_secs()).collect();
        assert_eq!(
            waits,
            [0, 0, 0, 0, 0, 30, 60, 120, 240, 480, 900, 900, 900],
            "no wait for 5 failures, then 30 s doubling, capped at 15 min"
        );
        assert_eq!(
            backoff.wait_after(u32::MAX),
            backoff.max_wait,
            "no overflow"
        );
    }

    #[test]
    fn a_clock_set_back_waits_no_longer_than_the_longest_wait() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("c.db");
        let backoff = UnlockBackoff::DEFAULT;
        let then = UNIX_EPOCH + Duration::from_secs(2_000_000_000);
        for _ in 0..30 {
            record_failure(&db, then).unwrap();
        }
        // The clock is set back a year.
        let now = then - 365 * 24 * 3600 * SECOND;
        assert_eq!(
            backoff.remaining_at(&db, now).unwrap(),
            backoff.max_wait,
            "the wait counts from now, not from the future"
        );
        assert_eq!(
            backoff.remaining_at(&db, now + backoff.max_wait).unwrap(),
            Duration::ZERO,
            "and ends once the longest wait has passed on the new clock"
        );
    }

    #[test]
    fn the_record_is_the_owners_only_and_a_damaged_one_counts_as_none() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("c.db");
        let backoff = UnlockBackoff::DEFAULT;
        let now = SystemTime::now();
        for _ in 0..5 {
            record_failure(&db, now).unwrap();
        }
        assert_eq!(backoff.remaining_at(&db, now).unwrap(), 30 * SECOND);
        assert_eq!(
            backoff.remaining_at(&db, now + 10 * SECOND).unwrap(),
            20 * SECOND,
            "the wait runs from the last failure"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(path_for(&db)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "created 0600");
        }
        let text = fs::read_to_string(path_for(&db)).unwrap();
        assert!(
            text.contains("\"failures\":5"),
            "a count and a time, nothing else: {text}"
        );
        fs::write(path_for(&db), "not json").unwrap();
        assert_eq!(backoff.remaining_at(&db, now).unwrap(), Duration::ZERO);
        reset(&db).unwrap();
        reset(&db).unwrap();
        assert!(!path_for(&db).exists(), "reset removes the record");
    }
}
