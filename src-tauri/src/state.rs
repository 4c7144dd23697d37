//! The managed state: where the case file lives, and the open case file when unlocked.
//!
//! `CaseFile` is blocking (rusqlite): every call runs on Tauri's blocking pool through
//! [`Vault::with`], never on the async executor. One mutex serialises the calls, as the
//! case file's single connection requires.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use casefile::CaseFile;

use crate::error::{AppError, AppResult};

/// The case file of this app: locked (`None`) or open.
#[derive(Debug, Clone)]
pub struct Vault {
    path: PathBuf,
    file: Arc<Mutex<Option<CaseFile>>>,
}

impl Vault {
    /// A locked vault for the case file at `path`.
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            file: Arc::new(Mutex::new(None)),
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

/// The cancel flag of the running sync, shared with the blocking task that runs it.
#[derive(Debug, Clone, Default)]
pub struct SyncCancel(Arc<AtomicBool>);

impl SyncCancel {
    /// A fresh flag for a sync about to start (a cancel asked before it is forgotten).
    pub fn start(&self) -> Arc<AtomicBool> {
        self.0.store(false, Ordering::SeqCst);
        Arc::clone(&self.0)
    }

    /// Asks the running sync, if any, to stop between two requests.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
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
}
