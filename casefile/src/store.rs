//! Opening, creating and re-keying the encrypted SQLite file; migrations; pragmas; the
//! `meta` table.
//!
//! Pragmas, set on every open:
//! - `journal_mode = WAL`, `synchronous = FULL`: a commit returns once its WAL frames are
//!   on disk, so an acknowledged write survives a killed process *and* a power cut (a
//!   laptop whose battery dies in a settlement). `NORMAL` would survive only the former.
//! - `temp_store = MEMORY`: sorts and temporary tables never reach a plaintext temp file.
//! - `secure_delete = ON`: freed pages are zeroed, so an erased record leaves no trace in
//!   the file's free list.
//! - `foreign_keys = ON`, `busy_timeout` of 5 s (the app and the command line may share a
//!   file).
//! - `cache_size` of 64 MiB: SQLCipher decrypts every page it reads from the OS, so
//!   keeping the indexes of a large case file in the page cache pays off.
//! - `wal_autocheckpoint` of 10,000 pages (about 40 MiB of WAL): a pulled page dirties
//!   index pages all over the file; checkpointing less often writes each of them back once
//!   for several pages instead of once per page. The WAL is encrypted like the file, and
//!   is checkpointed and truncated after any erasure and after a pull of a page or more;
//!   `journal_size_limit` of 4 MiB: after a checkpoint, the WAL file itself shrinks back
//!   rather than keeping its 40 MiB.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior};
use rusqlite_migration::{M, Migrations};
use sync_protocol::ReplicaId;
use tracing::{debug, info_span, warn};
use zeroize::Zeroizing;

use crate::crypto::{KdfParams, KeyParams};
use crate::error::{Error, Result};
use crate::passphrase::check_new_passphrase;
use crate::unlock::{self, UnlockBackoff};

static MIGRATIONS: &[M<'static>] = &[
    M::up(include_str!("../migrations/001_init.sql")),
    M::up(include_str!("../migrations/002_set_aside.sql")),
    M::up(include_str!("../migrations/003_rekey.sql")),
    M::up(include_str!("../migrations/004_rights.sql")),
    M::up(include_str!("../migrations/005_cv.sql")),
    M::up(include_str!("../migrations/006_duplicates.sql")),
    M::up(include_str!("../migrations/007_attachments.sql")),
];

/// The highest schema version this build knows.
pub const SCHEMA_VERSION: i64 = 7;

/// The folder beside the case file where the app keeps its exports: destroyed with it.
pub const EXPORTS_FOLDER: &str = "exports";

/// An open, unlocked case file. One connection; blocking (call it from a dedicated
/// thread in an async app). [`CaseFile::open_again`] gives a second handle for a long
/// task beside it.
#[derive(Debug)]
pub struct CaseFile {
    pub(crate) conn: Connection,
    path: PathBuf,
    replica: ReplicaId,
    key: RawKey,
}

/// The raw key SQLCipher was given, kept to open a second handle: wiped when dropped,
/// never printed.
struct RawKey(Zeroizing<String>);

impl std::fmt::Debug for RawKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RawKey(..)")
    }
}

impl CaseFile {
    /// Creates a new encrypted case file at `path` with a new replica id, keyed from
    /// `passphrase` with the production Argon2id parameters.
    ///
    /// Errors: [`Error::AlreadyExists`] when a file is there; [`Error::WeakPassphrase`]
    /// for a passphrase shorter than [`MIN_PASSPHRASE_CHARS`](crate::MIN_PASSPHRASE_CHARS)
    /// or too easy to guess (zxcvbn score under 3), with why in French.
    pub fn init(path: impl AsRef<Path>, passphrase: &str) -> Result<Self> {
        Self::init_with(path, passphrase, KdfParams::PRODUCTION)
    }

    /// [`init`](Self::init) with chosen Argon2id parameters. Tests pass
    /// `KdfParams::INSECURE_FOR_TESTS` (feature `insecure-test-kdf`); real case files use
    /// the default.
    pub fn init_with(path: impl AsRef<Path>, passphrase: &str, kdf: KdfParams) -> Result<Self> {
        let path = path.as_ref();
        let _span = info_span!("casefile.init").entered();
        if path.exists() {
            return Err(Error::AlreadyExists(path.to_owned()));
        }
        check_new_passphrase(passphrase)?;
        // Failures counted against a file once at this path are not this file's.
        unlock::reset(path)?;
        let params = KeyParams::generate(kdf);
        let key = params.derive(passphrase, path)?;
        params.write(&KeyParams::path_for(path))?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(path, flags)?;
        apply_key(&conn, &key)?;
        configure(&conn)?;
        migrate(&mut conn)?;
        let replica: ReplicaId = uuid::Uuid::now_v7()
            .to_string()
            .parse()
            .map_err(|_| Error::invalid("replica_id", "a lowercase UUID"))?;
        set_meta(&conn, "replica_id", &replica.to_string())?;
        set_meta(&conn, "push_cursor", &0)?;
        set_meta(&conn, "pull_checkpoint", &0)?;
        set_meta(&conn, "change_seq", &0)?;
        Ok(Self {
            conn,
            path: path.to_owned(),
            replica,
            key: RawKey(key),
        })
    }

    /// Opens the case file at `path` with `passphrase`, backing off after wrong
    /// passphrases ([`UnlockBackoff::DEFAULT`]): after 5 in a row, an attempt made before
    /// the wait has passed is refused without trying the passphrase, even a right one.
    ///
    /// Errors: [`Error::NoCaseFile`], [`Error::UnlockBackoff`] (wait, then try again),
    /// [`Error::WrongPassphrase`], [`Error::NewerFile`] (the app must be updated),
    /// [`Error::KeyParams`].
    pub fn open(path: impl AsRef<Path>, passphrase: &str) -> Result<Self> {
        Self::open_backing_off(path.as_ref(), passphrase, &UnlockBackoff::DEFAULT)
    }

    /// [`open`](Self::open) with a chosen backoff (tests shorten the waits). The count of
    /// failures lives beside the case file (`PATH.unlock`), so every process that opens
    /// the file shares it, and a restart keeps it. Test builds only: a release build has
    /// no way to open a case file with a weaker backoff.
    #[cfg(any(test, feature = "insecure-test-kdf"))]
    pub fn open_with(
        path: impl AsRef<Path>,
        passphrase: &str,
        backoff: &UnlockBackoff,
    ) -> Result<Self> {
        Self::open_backing_off(path.as_ref(), passphrase, backoff)
    }

    fn open_backing_off(path: &Path, passphrase: &str, backoff: &UnlockBackoff) -> Result<Self> {
        let _span = info_span!("casefile.open").entered();
        if !path.is_file() {
            return Err(Error::NoCaseFile(path.to_owned()));
        }
        let wait = backoff.remaining(path)?;
        if !wait.is_zero() {
            return Err(Error::UnlockBackoff {
                wait_seconds: wait
                    .as_millis()
                    .div_ceil(1000)
                    .try_into()
                    .unwrap_or(u64::MAX),
            });
        }
        match Self::open_keyed_file(path, passphrase) {
            Err(Error::WrongPassphrase) => {
                if unlock::record_failure(path, SystemTime::now()).is_err() {
                    warn!("could not count a wrong passphrase beside the case file");
                }
                Err(Error::WrongPassphrase)
            }
            Ok(file) => {
                if unlock::reset(path).is_err() {
                    warn!("could not clear the count of wrong passphrases");
                }
                Ok(file)
            }
            Err(other) => Err(other),
        }
    }

    /// Opens the case file at `path` with `passphrase`, finishing an interrupted change
    /// of passphrase. No backoff: [`open_with`](Self::open_with) adds it.
    fn open_keyed_file(path: &Path, passphrase: &str) -> Result<Self> {
        let main = KeyParams::path_for(path);
        let pending = KeyParams::pending_path_for(path);
        let (mut conn, key) = match open_keyed(path, &KeyParams::read(&main)?, passphrase) {
            Err(Error::WrongPassphrase) if pending.is_file() => {
                // A re-key was interrupted after the file took its new key but before its
                // new parameters replaced the old ones: finish it.
                let opened = open_keyed(path, &KeyParams::read(&pending)?, passphrase)?;
                std::fs::rename(&pending, &main)?;
                opened
            }
            other => other?,
        };
        if pending.is_file() {
            std::fs::remove_file(&pending)?;
        }
        configure(&conn)?;
        migrate(&mut conn)?;
        let replica = get_meta::<String>(&conn, "replica_id")?
            .and_then(|text| text.parse().ok())
            .ok_or_else(|| Error::NoCaseFile(path.to_owned()))?;
        Ok(Self {
            conn,
            path: path.to_owned(),
            replica,
            key: RawKey(key),
        })
    }

    /// A second handle on this open case file, with the same key and replica id, for a
    /// long task that must not hold this one: the documents' sync, whose requests can
    /// take minutes on a poor link. The WAL lets both read at once; their writes take
    /// turns (the busy timeout). A passphrase change made meanwhile leaves the second
    /// handle unable to read: the caller stops its task first.
    pub fn open_again(&self) -> Result<Self> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags)?;
        apply_key(&conn, &self.key.0)?;
        configure(&conn)?;
        Ok(Self {
            conn,
            path: self.path.clone(),
            replica: self.replica,
            key: RawKey(self.key.0.clone()),
        })
    }

    /// Re-keys the file from a new passphrase, with new salt and the same Argon2
    /// parameters. Safe against interruption: the new parameters are written first as
    /// `PATH.keyparams.new`, and `open` finishes an interrupted change.
    pub fn change_passphrase(&mut self, new_passphrase: &str) -> Result<()> {
        let _span = info_span!("casefile.change_passphrase").entered();
        self.rekey_without_finishing(new_passphrase)?;
        std::fs::rename(
            KeyParams::pending_path_for(&self.path),
            KeyParams::path_for(&self.path),
        )?;
        Ok(())
    }

    /// The first two steps of a passphrase change: the new parameters written aside, the
    /// file re-keyed. Until they replace the old ones, `open` finishes the change.
    fn rekey_without_finishing(&mut self, new_passphrase: &str) -> Result<()> {
        check_new_passphrase(new_passphrase)?;
        let main = KeyParams::path_for(&self.path);
        let pending = KeyParams::pending_path_for(&self.path);
        let current = KeyParams::read(&main)?;
        let params = KeyParams::generate(current.params);
        let key = params.derive(new_passphrase, &self.path)?;
        params.write(&pending)?;
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        let statement = Zeroizing::new(format!("PRAGMA rekey = \"{}\";", key.as_str()));
        if let Err(e) = self.conn.execute_batch(&statement) {
            let _ = std::fs::remove_file(&pending);
            return Err(e.into());
        }
        self.key = RawKey(key);
        Ok(())
    }

    /// This case file's replica id, made at [`init`](Self::init), and replaced when the
    /// sync re-keys the case file (SYNC-PROTOCOL.md §6a).
    pub fn replica_id(&self) -> ReplicaId {
        self.replica
    }

    /// Takes `replica` as this case file's replica id. The caller writes it to `meta`
    /// (key `replica_id`) in the same transaction as what goes with it, then calls this.
    pub(crate) fn adopt_replica_id(&mut self, replica: ReplicaId) {
        self.replica = replica;
    }

    /// Where the case file lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Destroys this case file, as a revoked device must (SYNC-PROTOCOL.md §6,
    /// `device_revoked`): the key material first (the key parameters are overwritten with
    /// zeros, synced, then removed: without their salt no passphrase opens the file again),
    /// then the database, its WAL and its shared-memory file, and the exports folder
    /// beside it when there is one. Nothing of it is left to open.
    pub fn destroy(self) -> Result<()> {
        let path = self.path.clone();
        drop(self);
        for key in [
            KeyParams::path_for(&path),
            KeyParams::pending_path_for(&path),
        ] {
            overwrite_and_remove(&key)?;
        }
        unlock::reset(&path)?;
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            match std::fs::remove_file(PathBuf::from(name)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                _ => {}
            }
        }
        if let Some(exports) = path.parent().map(|dir| dir.join(EXPORTS_FOLDER))
            && exports.is_dir()
        {
            std::fs::remove_dir_all(exports)?;
        }
        Ok(())
    }

    /// The schema version of the open file.
    pub fn schema_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    /// Runs `f` in one immediate (write) transaction: all of it commits, or nothing.
    pub(crate) fn write<T>(
        &mut self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>,
    ) -> Result<T> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        crate::duplicates::refresh_if_stale(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// A setting kept in the case file (server URL, device token, …): `None` when unset.
    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        get_setting(&self.conn, key)
    }

    /// Keeps a setting in the case file (encrypted with the rest).
    pub fn set_setting(&mut self, key: &str, value: &str) -> Result<()> {
        set_setting(&self.conn, key, value)
    }

    /// The room each table and index takes in the file, in bytes, largest first (SQLite's
    /// `dbstat`, pages in use and free space within them): what a case file's size is
    /// made of.
    pub fn space(&self) -> Result<Vec<(String, u64)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC, 1")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        let mut space = Vec::new();
        for row in rows {
            let (name, bytes) = row?;
            space.push((name, u64::try_from(bytes).unwrap_or(0)));
        }
        Ok(space)
    }

    /// Runs SQLite's `PRAGMA integrity_check`: `Ok(())` when the file is sound, else the
    /// problems it lists.
    pub fn integrity_check(&self) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare("PRAGMA integrity_check")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        let problems: Vec<String> = rows.collect::<rusqlite::Result<_>>()?;
        Ok(problems.into_iter().filter(|p| p != "ok").collect())
    }
}

/// Opens the file at `path` with the key derived from `passphrase`; answers the
/// connection and the key.
fn open_keyed(
    path: &Path,
    params: &KeyParams,
    passphrase: &str,
) -> Result<(Connection, Zeroizing<String>)> {
    let key = params.derive(passphrase, path)?;
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    apply_key(&conn, &key)?;
    Ok((conn, key))
}

/// Hands the raw key to SQLCipher and proves it on a first read: a wrong key reads as
/// "file is not a database".
fn apply_key(conn: &Connection, key: &str) -> Result<()> {
    // SQLCipher would otherwise print a wrong key's failed HMAC checks on stderr.
    conn.execute_batch("PRAGMA cipher_log_level = NONE;")?;
    let statement = Zeroizing::new(format!("PRAGMA key = \"{key}\";"));
    conn.execute_batch(&statement)?;
    match conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    }) {
        Ok(_) => Ok(()),
        Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == ErrorCode::NotADatabase => {
            Err(Error::WrongPassphrase)
        }
        Err(e) => Err(e.into()),
    }
}

fn configure(conn: &Connection) -> Result<()> {
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    debug!(journal_mode = %mode, "case file opened");
    conn.execute_batch(
        "PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA secure_delete = ON;
         PRAGMA cache_size = -65536;
         PRAGMA wal_autocheckpoint = 10000;
         PRAGMA journal_size_limit = 4194304;",
    )?;
    conn.busy_timeout(Duration::from_secs(5))?;
    Ok(())
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(Error::NewerFile {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    Migrations::from_slice(MIGRATIONS).to_latest(conn)?;
    // A migration whose derived rows only Rust can compute (006: name keys, survivors,
    // search terms folding Cyrillic) asks for a rebuild; the flag goes in the same
    // transaction, so a crash before the end rebuilds at the next opening.
    if get_meta::<i64>(conn, "rebuild_pending")?.is_some() {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        crate::derive::rebuild_tables(&tx)?;
        tx.execute("DELETE FROM meta WHERE key = 'rebuild_pending'", [])?;
        tx.commit()?;
    }
    if (1..SCHEMA_VERSION).contains(&found) {
        // An upgrade may delete what an earlier version kept of erased records (004):
        // as after any erasure, nothing of them stays in the WAL.
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    }
    Ok(())
}

pub(crate) fn get_meta<T: rusqlite::types::FromSql>(
    conn: &Connection,
    key: &str,
) -> Result<Option<T>> {
    Ok(conn
        .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()?)
}

pub(crate) fn set_meta(conn: &Connection, key: &str, value: &dyn rusqlite::ToSql) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute(rusqlite::params![key, value])?;
    Ok(())
}

/// A setting (`meta` key `setting.KEY`), read within `conn`'s transaction.
pub(crate) fn get_setting(conn: &Connection, key: &str) -> Result<Option<String>> {
    get_meta(conn, &format!("setting.{key}"))
}

/// Keeps a setting within `conn`'s transaction.
pub(crate) fn set_setting(conn: &Connection, key: &str, value: &str) -> Result<()> {
    set_meta(conn, &format!("setting.{key}"), &value)
}

/// Forgets a setting within `conn`'s transaction.
pub(crate) fn clear_setting(conn: &Connection, key: &str) -> Result<()> {
    clear_meta(conn, &format!("setting.{key}"))
}

/// Removes a `meta` key.
pub(crate) fn clear_meta(conn: &Connection, key: &str) -> Result<()> {
    conn.prepare_cached("DELETE FROM meta WHERE key = ?1")?
        .execute([key])?;
    Ok(())
}

/// Overwrites a file with zeros, syncs it, and removes it; a missing file is fine.
fn overwrite_and_remove(path: &Path) -> Result<()> {
    use std::io::Write;
    let length = match std::fs::metadata(path) {
        Ok(meta) => meta.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let mut file = std::fs::OpenOptions::new().write(true).open(path)?;
    file.write_all(&vec![0u8; usize::try_from(length).unwrap_or(0)])?;
    file.sync_all()?;
    drop(file);
    std::fs::remove_file(path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh(dir: &tempfile::TempDir) -> CaseFile {
        CaseFile::init_with(
            dir.path().join("c.db"),
            "old passphrase",
            KdfParams::INSECURE_FOR_TESTS,
        )
        .unwrap()
    }

    #[test]
    fn pragmas_are_set_at_open() {
        let dir = tempfile::tempdir().unwrap();
        drop(fresh(&dir));
        let file = CaseFile::open(dir.path().join("c.db"), "old passphrase").unwrap();
        let pragma = |name: &str| -> i64 {
            file.conn
                .pragma_query_value(None, name, |r| r.get(0))
                .unwrap()
        };
        assert_eq!(pragma("synchronous"), 2, "synchronous = FULL");
        assert_eq!(pragma("temp_store"), 2, "temp_store = MEMORY");
        assert_eq!(pragma("secure_delete"), 1, "secure_delete = ON");
        assert_eq!(pragma("foreign_keys"), 1, "foreign_keys = ON");
        let mode: String = file
            .conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn an_interrupted_passphrase_change_is_finished_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let mut file = fresh(&dir);
        let replica = file.replica_id();
        file.rekey_without_finishing("new passphrase").unwrap();
        drop(file);
        let path = dir.path().join("c.db");
        assert!(
            KeyParams::pending_path_for(&path).exists(),
            "the change is pending"
        );
        let file = CaseFile::open(&path, "new passphrase").unwrap();
        assert_eq!(file.replica_id(), replica);
        assert!(
            !KeyParams::pending_path_for(&path).exists(),
            "open finished the change"
        );
        drop(file);
        assert!(
            matches!(
                CaseFile::open(&path, "old passphrase"),
                Err(Error::WrongPassphrase)
            ),
            "the old passphrase no longer opens it"
        );
        assert!(
            CaseFile::open(&path, "new passphrase").is_ok(),
            "and the new one still does"
        );
    }

    #[test]
    fn an_abandoned_passphrase_change_is_dropped_at_open() {
        let dir = tempfile::tempdir().unwrap();
        drop(fresh(&dir));
        let path = dir.path().join("c.db");
        // New parameters written, but the re-key never happened.
        KeyParams::generate(KdfParams::INSECURE_FOR_TESTS)
            .write(&KeyParams::pending_path_for(&path))
            .unwrap();
        assert!(
            CaseFile::open(&path, "old passphrase").is_ok(),
            "the old passphrase still opens it"
        );
        assert!(
            !KeyParams::pending_path_for(&path).exists(),
            "the stale parameters are gone"
        );
    }

    #[test]
    fn migrations_are_valid() {
        Migrations::from_slice(MIGRATIONS).validate().unwrap();
        assert_eq!(
            MIGRATIONS.len() as i64,
            SCHEMA_VERSION,
            "one version per migration"
        );
    }
}
