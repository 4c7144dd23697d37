//! Backups and restores (SYNC-PROTOCOL.md §6a, §7 `backup`, `restore`).
//!
//! A backup is always a SQLite database file in the SQLite backend's schema, whatever
//! the database it was taken from: SQLite's online backup API copies a SQLite database
//! while it serves; a PostgreSQL database is read in one `REPEATABLE READ` snapshot and
//! written table by table. So a backup of either kind restores into an empty database of
//! either kind.
//!
//! `restore` copies every table of the backup into an empty database (the server id and
//! the journal key stay, so the server replica's edits and the journal's HMACs still
//! match), gives the database a **new epoch**, and puts every organisation into recovery;
//! the caller then applies the journal. The backup file is never written: it is copied
//! to a temporary file, brought to this server's schema there, and read.

/// How a column is typed in PostgreSQL (SQLite stores booleans as 0 or 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Col {
    /// `INTEGER` (PostgreSQL `INTEGER`).
    Int4,
    /// `BIGINT`.
    Int,
    /// `TEXT`.
    Text,
    /// `BYTEA` (SQLite `BLOB`).
    Blob,
    /// `BOOLEAN` (SQLite `INTEGER` 0 or 1).
    Bool,
}

/// One table to copy.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Table {
    /// Its name.
    pub name: &'static str,
    /// Its columns, in order.
    pub columns: &'static [(&'static str, Col)],
    /// Its primary key: rows are copied in its order, each page starting past the last
    /// row copied, so that a copy reads each row once. Empty for a table without one
    /// (rows are then copied in the order of all their columns, a page at an offset: such
    /// tables are small).
    pub key: &'static [&'static str],
    /// Whether PostgreSQL makes its `id` (GENERATED ALWAYS AS IDENTITY): a restore then
    /// writes the ids of the backup and moves the identity past them.
    pub identity: bool,
}

impl Table {
    /// How many rows a copy reads and writes at a time: [`BATCH_ROWS`], but for the
    /// chunks of documents (up to 4 MiB each), [`BLOB_BATCH_ROWS`], so that a copy holds
    /// a few MiB at a time.
    pub fn batch_rows(&self) -> usize {
        match self.name {
            "blob_chunks" => BLOB_BATCH_ROWS,
            _ => BATCH_ROWS,
        }
    }

    /// `a, b, c`.
    pub fn column_list(&self) -> String {
        self.columns
            .iter()
            .map(|(name, _)| *name)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Every table, parents before children. The `server` row is copied apart.
pub(crate) const TABLES: &[Table] = &[
    Table {
        name: "orgs",
        key: &["id"],
        columns: &[
            ("id", Col::Int),
            ("name", Col::Text),
            ("last_seq", Col::Int),
            ("recovery_until", Col::Int),
            ("audit_key", Col::Blob),
        ],
        identity: true,
    },
    Table {
        name: "users",
        key: &["id"],
        columns: &[
            ("id", Col::Int),
            ("org_id", Col::Int),
            ("username", Col::Text),
            ("password_hash", Col::Text),
            ("role", Col::Text),
            ("disabled", Col::Bool),
        ],
        identity: true,
    },
    Table {
        name: "devices",
        key: &["id"],
        columns: &[
            ("id", Col::Text),
            ("user_id", Col::Int),
            ("org_id", Col::Int),
            ("name", Col::Text),
            ("token_hash", Col::Blob),
            ("revoked", Col::Bool),
            ("enrolled_at", Col::Text),
            ("answered", Col::Int),
            ("acked", Col::Int),
            ("predecessor", Col::Text),
            ("retired", Col::Bool),
            ("confirmed", Col::Int),
        ],
        identity: false,
    },
    Table {
        name: "records",
        key: &["org_id", "id"],
        columns: &[
            ("org_id", Col::Int),
            ("id", Col::Text),
            ("seq", Col::Int),
            ("kind", Col::Text),
            ("state", Col::Text),
            ("pushed_by", Col::Text),
            ("erased", Col::Bool),
        ],
        identity: false,
    },
    // The macs of the erased ids travel with the data; the journal's erasures, applied
    // after a restore, add those that followed the backup.
    Table {
        name: "erased",
        key: &["org_id", "mac"],
        columns: &[("org_id", Col::Int), ("mac", Col::Blob), ("at", Col::Int)],
        identity: false,
    },
    Table {
        name: "erasures",
        key: &[],
        columns: &[("org_id", Col::Int), ("at", Col::Int)],
        identity: false,
    },
    Table {
        name: "held",
        key: &["org_id", "id", "device_id"],
        columns: &[
            ("org_id", Col::Int),
            ("id", Col::Text),
            ("device_id", Col::Text),
            ("kind", Col::Text),
            ("state", Col::Text),
            ("held_at", Col::Int),
        ],
        identity: false,
    },
    Table {
        name: "recovery_accepted",
        key: &["org_id", "device_id"],
        columns: &[("org_id", Col::Int), ("device_id", Col::Text)],
        identity: false,
    },
    Table {
        name: "recovery_discarded",
        key: &[],
        columns: &[
            ("org_id", Col::Int),
            ("id", Col::Text),
            ("device_id", Col::Text),
            ("why", Col::Text),
            ("at", Col::Int),
        ],
        identity: false,
    },
    // Codes issued before the backup serve after a restore, unless the journal says
    // they were used since. The counts of failed enrolments are not carried.
    Table {
        name: "enrolment_codes",
        key: &["code_hash"],
        columns: &[
            ("code_hash", Col::Blob),
            ("user_id", Col::Int),
            ("org_id", Col::Int),
            ("created_at", Col::Int),
            ("expires_at", Col::Int),
            ("used_at", Col::Int),
        ],
        identity: false,
    },
    // The audit trail travels with the data (a restore brings it back, then notes the
    // restore itself), and so do the organisations' audit keys above, or `audit --record`
    // would no longer find a record's rows.
    // Documents (§6b): backups carry them, as the records that name them. A restore
    // followed by the journal's erasures deletes those of erased attachments again.
    Table {
        name: "blobs",
        key: &["org_id", "sha256"],
        columns: &[
            ("org_id", Col::Int),
            ("sha256", Col::Text),
            ("size", Col::Int),
            ("received", Col::Int),
            ("whole", Col::Bool),
            ("created_at", Col::Int),
            ("touched_at", Col::Int),
        ],
        identity: false,
    },
    Table {
        name: "blob_chunks",
        key: &["org_id", "sha256", "start"],
        columns: &[
            ("org_id", Col::Int),
            ("sha256", Col::Text),
            ("start", Col::Int),
            ("data", Col::Blob),
        ],
        identity: false,
    },
    Table {
        name: "audit",
        key: &["id"],
        columns: &[
            ("id", Col::Int),
            ("org_id", Col::Int),
            ("at", Col::Int),
            ("event", Col::Text),
            ("device", Col::Text),
            ("user_id", Col::Int),
            ("record", Col::Text),
            ("vv", Col::Text),
            ("detail", Col::Text),
        ],
        identity: true,
    },
];

/// The `server` row: the server id and journal key travel with the data; the epoch is
/// made anew by a restore.
pub(crate) const SERVER: Table = Table {
    name: "server",
    key: &["singleton"],
    columns: &[
        ("singleton", Col::Int4),
        ("server_id", Col::Text),
        ("epoch", Col::Text),
        ("journal_key", Col::Blob),
    ],
    identity: false,
};

/// One value of a row being copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cell {
    /// NULL.
    Null,
    /// An integer (booleans as 0 or 1).
    Int(i64),
    /// Text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

/// How many rows a copy reads and writes at a time.
pub(crate) const BATCH_ROWS: usize = 1000;

/// How many chunks of documents a copy reads and writes at a time.
pub(crate) const BLOB_BATCH_ROWS: usize = 2;

/// Where a page of a table's rows starts: the first page, or past the rows copied so
/// far (past the key of the last one, or at an offset for a table without a key).
#[derive(Debug, Clone, Default)]
pub(crate) struct Page {
    /// How many rows were copied before it.
    offset: usize,
    /// The key of the last row copied, when the table has a key.
    after: Option<Vec<Cell>>,
}

impl Page {
    /// The page after `rows`, read from this one of `table`; `None` when they were the
    /// last.
    pub fn next(self, table: &Table, rows: &[Vec<Cell>]) -> Option<Self> {
        let last = rows.last().filter(|_| rows.len() >= table.batch_rows())?;
        let after = match table.key {
            [] => None,
            key => Some(
                key.iter()
                    .filter_map(|k| table.columns.iter().position(|(name, _)| name == k))
                    .filter_map(|i| last.get(i).cloned())
                    .collect(),
            ),
        };
        Some(Self {
            offset: self.offset + rows.len(),
            after,
        })
    }

    /// The `SELECT` of this page of `table`, its parameters written by `mark` (`?1` or
    /// `$1`); answers the SQL and the parameters with their columns' types.
    fn select(&self, table: &Table, mark: impl Fn(usize) -> String) -> (String, Vec<(Cell, Col)>) {
        let (order, limit) = (order_key(table), table.batch_rows());
        let columns = table.column_list();
        let Some(after) = &self.after else {
            let offset = self.offset;
            let sql = format!(
                "SELECT {columns} FROM {} ORDER BY {order} LIMIT {limit} OFFSET {offset}",
                table.name
            );
            return (sql, Vec::new());
        };
        let marks = (1..=after.len()).map(mark).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "SELECT {columns} FROM {} WHERE ({order}) > ({marks}) ORDER BY {order} LIMIT {limit}",
            table.name
        );
        let types = table.key.iter().map(|k| {
            table
                .columns
                .iter()
                .find(|(name, _)| name == k)
                .map_or(Col::Text, |(_, col)| *col)
        });
        (sql, after.iter().cloned().zip(types).collect())
    }
}

/// The order rows are copied in: the table's key, or all its columns.
pub(crate) fn order_key(table: &Table) -> String {
    match table.key {
        [] => table.column_list(),
        key => key.join(", "),
    }
}

/// The SQLite side of a copy.
pub(crate) mod sqlite_side {
    use rusqlite::Connection;
    use rusqlite::types::{Value, ValueRef};

    use super::{Cell, Page, Table};
    use crate::store::StoreError;

    /// A page of a table's rows.
    pub(crate) fn read(
        conn: &Connection,
        table: &Table,
        page: &Page,
    ) -> Result<Vec<Vec<Cell>>, StoreError> {
        let (sql, params) = page.select(table, |i| format!("?{i}"));
        let params = params.into_iter().map(|(cell, _)| value(cell));
        let mut stmt = conn.prepare_cached(&sql)?;
        let width = table.columns.len();
        let rows = stmt.query_map(rusqlite::params_from_iter(params), |row| {
            (0..width)
                .map(|i| {
                    Ok(match row.get_ref(i)? {
                        ValueRef::Null => Cell::Null,
                        ValueRef::Integer(n) => Cell::Int(n),
                        ValueRef::Real(x) => Cell::Text(x.to_string()),
                        ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
                        ValueRef::Blob(b) => Cell::Blob(b.to_vec()),
                    })
                })
                .collect::<Result<Vec<_>, rusqlite::Error>>()
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Writes rows into a table.
    pub(crate) fn write(
        conn: &Connection,
        table: &Table,
        rows: &[Vec<Cell>],
    ) -> Result<(), StoreError> {
        let marks = (1..=table.columns.len())
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({marks})",
            table.name,
            table.column_list()
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        for row in rows {
            stmt.execute(rusqlite::params_from_iter(row.iter().cloned().map(value)))?;
        }
        Ok(())
    }

    /// A cell as SQLite takes it.
    fn value(cell: Cell) -> Value {
        match cell {
            Cell::Null => Value::Null,
            Cell::Int(n) => Value::Integer(n),
            Cell::Text(t) => Value::Text(t),
            Cell::Blob(b) => Value::Blob(b),
        }
    }
}

/// The PostgreSQL side of a copy.
pub(crate) mod postgres_side {
    use deadpool_postgres::GenericClient;
    use tokio_postgres::types::ToSql;

    use super::{Cell, Col, Page, Table};
    use crate::store::StoreError;

    /// A page of a table's rows.
    pub(crate) async fn read(
        db: &impl GenericClient,
        table: &Table,
        page: &Page,
    ) -> Result<Vec<Vec<Cell>>, StoreError> {
        let (sql, params) = page.select(table, |i| format!("${i}"));
        let params = params
            .iter()
            .map(|(cell, col)| param(cell, *col))
            .collect::<Result<Vec<_>, _>>()?;
        let refs: Vec<&(dyn ToSql + Sync)> = params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect();
        let rows = db.query(&sql, &refs).await?;
        rows.iter()
            .map(|row| {
                table
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(i, (_, col))| {
                        Ok(match col {
                            Col::Int4 => row
                                .try_get::<_, Option<i32>>(i)?
                                .map_or(Cell::Null, |n| Cell::Int(n.into())),
                            Col::Int => row
                                .try_get::<_, Option<i64>>(i)?
                                .map_or(Cell::Null, Cell::Int),
                            Col::Bool => row
                                .try_get::<_, Option<bool>>(i)?
                                .map_or(Cell::Null, |b| Cell::Int(b.into())),
                            Col::Text => row
                                .try_get::<_, Option<String>>(i)?
                                .map_or(Cell::Null, Cell::Text),
                            Col::Blob => row
                                .try_get::<_, Option<Vec<u8>>>(i)?
                                .map_or(Cell::Null, Cell::Blob),
                        })
                    })
                    .collect()
            })
            .collect()
    }

    /// One value, typed as PostgreSQL expects the column.
    fn param(cell: &Cell, col: Col) -> Result<Box<dyn ToSql + Sync + Send>, StoreError> {
        let wrong = || StoreError::Corrupt("a backup cell does not fit its column".into());
        Ok(match (col, cell) {
            (Col::Int4, Cell::Null) => Box::new(None::<i32>),
            (Col::Int, Cell::Null) => Box::new(None::<i64>),
            (Col::Bool, Cell::Null) => Box::new(None::<bool>),
            (Col::Text, Cell::Null) => Box::new(None::<String>),
            (Col::Blob, Cell::Null) => Box::new(None::<Vec<u8>>),
            (Col::Int4, Cell::Int(n)) => Box::new(i32::try_from(*n).map_err(|_| wrong())?),
            (Col::Int, Cell::Int(n)) => Box::new(*n),
            (Col::Bool, Cell::Int(n)) => Box::new(*n != 0),
            (Col::Text, Cell::Text(t)) => Box::new(t.clone()),
            (Col::Blob, Cell::Blob(b)) => Box::new(b.clone()),
            _ => return Err(wrong()),
        })
    }

    /// Writes rows into a table; an identity table keeps the ids of the backup.
    pub(crate) async fn write(
        db: &impl GenericClient,
        table: &Table,
        rows: &[Vec<Cell>],
    ) -> Result<(), StoreError> {
        let marks = (1..=table.columns.len())
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let overriding = if table.identity {
            " OVERRIDING SYSTEM VALUE"
        } else {
            ""
        };
        let sql = format!(
            "INSERT INTO {} ({}){overriding} VALUES ({marks})",
            table.name,
            table.column_list()
        );
        let stmt = db.prepare(&sql).await?;
        for row in rows {
            let params = row
                .iter()
                .zip(table.columns)
                .map(|(cell, (_, col))| param(cell, *col))
                .collect::<Result<Vec<_>, _>>()?;
            let refs: Vec<&(dyn ToSql + Sync)> = params
                .iter()
                .map(|p| p.as_ref() as &(dyn ToSql + Sync))
                .collect();
            db.execute(&stmt, &refs).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tables_key_is_made_of_its_columns() {
        for table in TABLES.iter().chain([&SERVER]) {
            for key in table.key {
                assert!(
                    table.columns.iter().any(|(name, _)| name == key),
                    "{}: {key} is not a column",
                    table.name
                );
            }
        }
    }

    #[test]
    fn a_page_after_a_full_one_starts_past_its_last_key() {
        let chunks = TABLES.iter().find(|t| t.name == "blob_chunks").unwrap();
        let row = |start| {
            vec![
                Cell::Int(7),
                Cell::Text("a".repeat(64)),
                Cell::Int(start),
                Cell::Blob(vec![1]),
            ]
        };
        let first = Page::default();
        let (sql, params) = first.select(chunks, |i| format!("?{i}"));
        assert!(
            sql.ends_with("LIMIT 2 OFFSET 0") && params.is_empty(),
            "{sql}"
        );
        let rows: Vec<_> = (0..BLOB_BATCH_ROWS as i64).map(row).collect();
        let next = first.next(chunks, &rows).unwrap();
        let (sql, params) = next.select(chunks, |i| format!("${i}"));
        assert!(
            sql.contains("WHERE (org_id, sha256, start) > ($1, $2, $3)") && !sql.contains("OFFSET"),
            "{sql}"
        );
        assert_eq!(
            params,
            [
                (Cell::Int(7), Col::Int),
                (Cell::Text("a".repeat(64)), Col::Text),
                (Cell::Int(1), Col::Int)
            ]
        );
        assert!(
            next.next(chunks, &rows[..1]).is_none(),
            "a short page is the last"
        );
        let erasures = TABLES.iter().find(|t| t.name == "erasures").unwrap();
        let rows = vec![vec![Cell::Int(1), Cell::Int(2)]; BATCH_ROWS];
        let (sql, _) = Page::default()
            .next(erasures, &rows)
            .unwrap()
            .select(erasures, |i| format!("?{i}"));
        assert!(sql.ends_with("OFFSET 1000"), "a table without a key: {sql}");
    }
}
