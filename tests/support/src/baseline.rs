//! The `states` baseline of the benchmarks: the same record states inserted raw, with no
//! merge and no derived table, into one `(id, kind, state)` table of a file with the case
//! file's encryption and pragmas.

use std::path::Path;

use rusqlite::Connection;
use sync_protocol::RecordState;

/// A new baseline file at `path`: SQLCipher with a raw key (no key derivation), WAL with
/// `synchronous = FULL`, `secure_delete`, a 64 MiB page cache and a WAL checkpoint every
/// 10,000 pages, as the case file has them.
pub fn states_file(path: &Path) -> Connection {
    let conn = Connection::open(path).expect("a baseline file");
    conn.execute_batch(&format!("PRAGMA key = \"x'{}'\";", "ab".repeat(32)))
        .expect("its key");
    conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
        .expect("WAL");
    conn.execute_batch(
        "PRAGMA synchronous = FULL; PRAGMA temp_store = MEMORY; PRAGMA secure_delete = ON;
         PRAGMA cache_size = -65536; PRAGMA wal_autocheckpoint = 10000;
         CREATE TABLE records (id TEXT PRIMARY KEY, kind TEXT NOT NULL, state TEXT NOT NULL);",
    )
    .expect("its table");
    conn
}

/// Inserts `states` (their canonical JSON) in one transaction.
pub fn insert_states(conn: &mut Connection, states: &[RecordState]) {
    let tx = conn.transaction().expect("a transaction");
    {
        let mut stmt = tx
            .prepare_cached("INSERT OR REPLACE INTO records (id, kind, state) VALUES (?1, ?2, ?3)")
            .expect("the insert");
        for s in states {
            stmt.execute(rusqlite::params![
                s.id().to_string(),
                s.kind().as_str(),
                s.to_json()
            ])
            .expect("a row");
        }
    }
    tx.commit().expect("a commit");
}
