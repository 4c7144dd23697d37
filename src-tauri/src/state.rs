//! The managed state: where the case file lives, and the open case file when unlocked.
//!
//! `CaseFile` is blocking (rusqlite): every call runs on Tauri's blocking pool through
//! [`Vault::with`], never on the async executor. One mutex serialises the calls, as the
//! case file's connection requires. A long task that must not stop the others (the
//! documents' sync) runs on a second handle of the case file through [`Vault::beside`];
//! a lock waits for it to end ([`Vault::wait_beside`]).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use casefile::CaseFile;

use crate::error::{AppError, AppResult};

/// The case file of this app: locked (`None`) or open.
#[derive(Debug, Clone)]
pub struct Vault {
    path: PathBuf,
    file: Arc<Mutex<Option<CaseFile>>>,
    /// Held by the task running on a second handle, for as long as it runs.
    beside: Arc<Mutex<()>>,
}

impl Vault {
    /// A locked vault for the case file at `path`.
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            file: Arc::new(Mutex::new(None)),
            beside: Arc::new(Mutex::new(())),
        }
    }

    /// Where the case file lives.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Runs `f` with the open case file on the blocking pool.
    ///
    /// Errors: [`AppError::Locked`] when the case file is not open, and whatever `f`
    /// returns.
    pub async fn with<T, F>(&self, f: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut CaseFile) -> AppResult<T> + Send + 'static,
    {
        let file = Arc::clone(&self.file);
        run_blocking(move || {
            let mut guard = file.lock().unwrap_or_else(PoisonError::into_inner);
            let open = guard.as_mut().ok_or_else(AppError::locked)?;
            f(open)
        })
        .await
    }

    /// Runs `f` on the blocking pool with a second handle of the open case file
    /// ([`CaseFile::open_again`]), without holding the first: the other commands go on
    /// meanwhile. One such task at a time; the caller gives it a cancel flag that a lock
    /// sets (see [`SyncCancel`]), and the lock waits for it to end.
    ///
    /// Errors: [`AppError::Locked`] when the case file is not open, and whatever `f`
    /// returns.
    pub async fn beside<T, F>(&self, f: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut CaseFile) -> AppResult<T> + Send + 'static,
    {
        let (file, beside) = (Arc::clone(&self.file), Arc::clone(&self.beside));
        run_blocking(move || {
            let _running = beside.lock().unwrap_or_else(PoisonError::into_inner);
            let mut second = {
                let guard = file.lock().unwrap_or_else(PoisonError::into_inner);
                guard.as_ref().ok_or_else(AppError::locked)?.open_again()?
            };
            f(&mut second)
        })
        .await
    }

    /// Waits for the task running on a second handle, if any, to end (and its handle,
    /// with its key, to close). The caller cancelled it first.
    pub async fn wait_beside(&self) -> AppResult<()> {
        let beside = Arc::clone(&self.beside);
        run_blocking(move || {
            drop(beside.lock().unwrap_or_else(PoisonError::into_inner));
            Ok(())
        })
        .await
    }

    /// Runs `f` with the slot itself (to open, create or drop the case file) on the
    /// blocking pool.
    pub async fn with_slot<T, F>(&self, f: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&PathBuf, &mut Option<CaseFile>) -> AppResult<T> + Send + 'static,
    {
        let file = Arc::clone(&self.file);
        let path = self.path.clone();
        run_blocking(move || {
            let mut guard = file.lock().unwrap_or_else(PoisonError::into_inner);
            f(&path, &mut guard)
        })
        .await
    }

    /// Whether the case file is open, without waiting for a running call.
    pub fn is_unlocked(&self) -> bool {
        match self.file.try_lock() {
            Ok(guard) => guard.is_some(),
            // A call is running, so the file is open (or being opened).
            Err(_) => true,
        }
    }
}

/// The cancel flag of the running sync, shared with the blocking task that runs it, and
/// the count of locks under way: a sync that starts while a lock waits for the case file
/// starts cancelled, so it cannot slip in ahead of the lock and hold the file.
#[derive(Debug, Clone, Default)]
pub struct SyncCancel {
    flag: Arc<AtomicBool>,
    locking: Arc<AtomicUsize>,
    /// The flags of requests made beside a sync ([`SyncCancel::join`]), while they run.
    joined: Arc<Mutex<Vec<Weak<AtomicBool>>>>,
}

impl SyncCancel {
    /// A fresh flag for a sync about to start: a cancel asked before it is forgotten, a
    /// lock under way is not.
    pub fn start(&self) -> Arc<AtomicBool> {
        self.flag.store(false, Ordering::SeqCst);
        // Read after the reset: a lock that counted itself before it sees its cancel kept.
        if self.locking.load(Ordering::SeqCst) > 0 {
            self.flag.store(true, Ordering::SeqCst);
        }
        Arc::clone(&self.flag)
    }

    /// A flag of its own for a request made beside the sync (a document fetched to be
    /// opened): a cancel or a lock asked from now on stops it too, one asked before (a
    /// sync cancelled earlier) does not; a lock under way cancels it at once.
    pub fn join(&self) -> Arc<AtomicBool> {
        let own = Arc::new(AtomicBool::new(false));
        {
            let mut joined = self.joined.lock().unwrap_or_else(PoisonError::into_inner);
            joined.retain(|flag| flag.strong_count() > 0);
            joined.push(Arc::downgrade(&own));
        }
        // Read after it is listed: a lock that counted itself before sees it in the list.
        if self.locking.load(Ordering::SeqCst) > 0 {
            own.store(true, Ordering::SeqCst);
        }
        own
    }

    /// Asks the running sync, if any, and the requests made beside it to stop between
    /// two requests.
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::SeqCst);
        let joined = self.joined.lock().unwrap_or_else(PoisonError::into_inner);
        for flag in joined.iter().filter_map(Weak::upgrade) {
            flag.store(true, Ordering::SeqCst);
        }
    }

    /// Cancels the running sync and every sync that starts until the guard is dropped
    /// (when the lock has the case file).
    pub fn for_lock(&self) -> LockUnderWay {
        self.locking.fetch_add(1, Ordering::SeqCst);
        self.cancel();
        LockUnderWay(Arc::clone(&self.locking))
    }
}

/// A lock waiting for the case file; see [`SyncCancel::for_lock`].
#[derive(Debug)]
pub struct LockUnderWay(Arc<AtomicUsize>);

impl Drop for LockUnderWay {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A vault holding a new, open case file in `dir` (cheap key derivation), for tests.
#[cfg(test)]
pub(crate) fn open_test_vault(dir: &std::path::Path) -> Vault {
    let vault = Vault::new(dir.join("test.casefile"));
    let opened = tauri::async_runtime::block_on(vault.with_slot(|path, slot| {
        *slot = Some(CaseFile::init_with(
            path,
            "une phrase secrète assez longue",
            casefile::KdfParams::INSECURE_FOR_TESTS,
        )?);
        Ok(())
    }));
    assert!(opened.is_ok(), "a test case file opens: {opened:?}");
    vault
}

async fn run_blocking<T: Send + 'static>(
    f: impl FnOnce() -> AppResult<T> + Send + 'static,
) -> AppResult<T> {
    tauri::async_runtime::spawn_blocking(f)
        .await
        .map_err(|_| AppError::Internal {
            message: "a case-file task stopped before it answered".to_owned(),
        })?
}

#[cfg(test)]
mod tests {
    use casefile::KdfParams;

    use super::*;

    #[test]
    fn a_locked_vault_refuses_then_an_open_one_answers() {
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::new(dir.path().join("test.casefile"));
        tauri::async_runtime::block_on(async {
            let locked = vault.with(|file| Ok(file.replica_id())).await;
            assert!(matches!(locked, Err(AppError::Locked { .. })), "{locked:?}");
            assert!(!vault.is_unlocked());

            vault
                .with_slot(|path, slot| {
                    *slot = Some(CaseFile::init_with(
                        path,
                        "une phrase secrète",
                        KdfParams::INSECURE_FOR_TESTS,
                    )?);
                    Ok(())
                })
                .await
                .unwrap();
            assert!(vault.is_unlocked());
            let sites = vault.with(|file| Ok(file.sites()?.len())).await.unwrap();
            assert_eq!(sites, 0, "a new case file has no site");

            vault
                .with_slot(|_, slot| {
                    slot.take();
                    Ok(())
                })
                .await
                .unwrap();
            assert!(!vault.is_unlocked(), "locking drops the open file");
        });
    }

    #[test]
    fn a_cancel_reaches_the_running_sync_and_not_the_next() {
        let control = SyncCancel::default();
        let running = control.start();
        control.cancel();
        assert!(
            running.load(Ordering::SeqCst),
            "the running sync sees the cancel"
        );
        let next = control.start();
        assert!(!next.load(Ordering::SeqCst), "the next sync starts afresh");
    }

    #[test]
    fn a_sync_that_starts_while_a_lock_waits_starts_cancelled() {
        let control = SyncCancel::default();
        let lock = control.for_lock();
        let during = control.start();
        assert!(
            during.load(Ordering::SeqCst),
            "a sync queued behind a lock must not run with the file"
        );
        drop(lock);
        let after = control.start();
        assert!(
            !after.load(Ordering::SeqCst),
            "once locked, the next sync starts afresh"
        );
    }

    /// A task on a second handle does not hold the case file: a command answers while it
    /// runs and reads what it wrote; a lock waits for it to end; once locked, nothing
    /// runs beside.
    #[test]
    fn a_task_beside_lets_commands_answer_and_a_lock_waits_for_it() {
        use std::sync::mpsc;
        use std::time::Duration;

        let dir = tempfile::tempdir().unwrap();
        let vault = open_test_vault(dir.path());
        let (started, started_rx) = mpsc::channel();
        let (go, go_rx) = mpsc::channel::<()>();
        let task = std::thread::spawn({
            let vault = vault.clone();
            move || {
                tauri::async_runtime::block_on(vault.beside(move |second| {
                    second.set_setting("documents.test", "écrit à côté")?;
                    started.send(()).unwrap();
                    go_rx.recv().unwrap();
                    Ok(second.setting("documents.test")?)
                }))
            }
        });
        started_rx.recv().unwrap();
        let read =
            tauri::async_runtime::block_on(vault.with(|file| Ok(file.setting("documents.test")?)));
        assert_eq!(read.unwrap().as_deref(), Some("écrit à côté"));

        let locking = std::thread::spawn({
            let vault = vault.clone();
            move || {
                tauri::async_runtime::block_on(crate::lock::lock_vault(
                    &vault,
                    &SyncCancel::default(),
                ))
            }
        });
        std::thread::sleep(Duration::from_millis(300));
        assert!(!locking.is_finished(), "the lock waits for the task beside");
        go.send(()).unwrap();
        assert_eq!(
            task.join().unwrap().unwrap().as_deref(),
            Some("écrit à côté")
        );
        locking.join().unwrap().unwrap();
        assert!(!vault.is_unlocked());
        let refused = tauri::async_runtime::block_on(vault.beside(|_| Ok(())));
        assert!(
            matches!(refused, Err(AppError::Locked { .. })),
            "{refused:?}"
        );
    }

    /// A document opened after a cancelled sync or a lock is fetched: its flag is its
    /// own; a cancel or a lock asked while it runs stops it.
    #[test]
    fn a_request_beside_a_sync_starts_clear_and_hears_later_cancels() {
        let cancel = SyncCancel::default();
        let sync = cancel.start();
        cancel.cancel();
        assert!(sync.load(Ordering::SeqCst));
        let opening = cancel.join();
        assert!(
            !opening.load(Ordering::SeqCst),
            "an earlier cancel is not this request's"
        );
        cancel.cancel();
        assert!(
            opening.load(Ordering::SeqCst),
            "a cancel asked while it runs stops it"
        );
        let later = cancel.join();
        let lock = cancel.for_lock();
        assert!(later.load(Ordering::SeqCst), "a lock stops it");
        assert!(
            cancel.join().load(Ordering::SeqCst),
            "joined while a lock waits"
        );
        drop(lock);
        assert!(!cancel.join().load(Ordering::SeqCst));
    }
}
