//! A best-effort `VACUUM` of the tables that held erased content (§5), once an erasure,
//! a sealing or a deletion of documents (§6b) is committed.
//!
//! PostgreSQL deletes and updates by leaving dead row versions in the tables' pages
//! until a vacuum removes them; autovacuum comes by when enough of a table is dead, which
//! in a large `records` table may be long after an erasure. The server asks for one at
//! once, on a task of its own, outside any transaction, so that it never delays nor fails
//! the request that erased: a failure is a warning (PostgreSQL's message only, no id).
//! `SKIP_LOCKED` skips a table whose lock would have to be waited for (another vacuum, an
//! index being built); autovacuum does it later. At most one runs at a time per process:
//! requests made meanwhile make it run once more.
//!
//! A vacuum makes the space of dead rows free for new rows; it does not overwrite their
//! bytes at once, and the WAL (and its archives, and backups) keep what was written: see
//! "Erased data in PostgreSQL" in the server's README for what an operator does.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use deadpool_postgres::Pool;
use tracing::warn;

use super::pool_error;
use crate::store::StoreError;

/// The statement: the tables whose rows held records' content, and documents' bytes
/// (a vacuum of `blob_chunks` vacuums its TOAST table, where the bytes are).
const VACUUM: &str = "VACUUM (SKIP_LOCKED) records, held, blobs, blob_chunks";

/// Runs the vacuums asked for, one at a time.
#[derive(Debug, Clone, Default)]
pub(super) struct Vacuum(Arc<Flags>);

#[derive(Debug, Default)]
struct Flags {
    /// A task is running vacuums.
    running: AtomicBool,
    /// A vacuum was asked for since the running one started.
    again: AtomicBool,
}

impl Vacuum {
    /// Asks for a vacuum on a connection of `pool`: starts a task unless one is running,
    /// which then runs once more. Returns at once.
    pub(super) fn request(&self, pool: &Pool) {
        self.0.again.store(true, Ordering::SeqCst);
        if self.0.running.swap(true, Ordering::SeqCst) {
            return;
        }
        let flags = Arc::clone(&self.0);
        let pool = pool.clone();
        tokio::spawn(async move {
            loop {
                while flags.again.swap(false, Ordering::SeqCst) {
                    if let Err(error) = vacuum(&pool).await {
                        warn!(%error, "the tables could not be vacuumed after an erasure: autovacuum will");
                    }
                }
                flags.running.store(false, Ordering::SeqCst);
                // A request that came after the last look found the task running: take
                // it, unless a new task took it already.
                if !flags.again.load(Ordering::SeqCst) || flags.running.swap(true, Ordering::SeqCst)
                {
                    break;
                }
            }
        });
    }
}

/// One vacuum of `records`, `held` and the documents' tables, skipping a table it would
/// have to wait for.
pub(super) async fn vacuum(pool: &Pool) -> Result<(), StoreError> {
    let client = pool.get().await.map_err(pool_error)?;
    client.batch_execute(VACUUM).await?;
    Ok(())
}
