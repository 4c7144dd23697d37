//! For tests only: the text of every row of every table of the case file, to prove that
//! something (an erased person's id, name or social security number) is nowhere in it.
//! Built only with the `insecure-test-kdf` feature, which release builds never enable.

use rusqlite::types::ValueRef;

use crate::error::Result;
use crate::store::CaseFile;

impl CaseFile {
    /// Every row of every table (the search index's own tables included), one line a row:
    /// `table: value | value | …`, text as written, blobs as lossy UTF-8 and as hex.
    pub fn every_row_as_text(&self) -> Result<String> {
        let mut tables = self
            .conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")?;
        let names: Vec<String> = tables
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut out = String::new();
        for name in names {
            let quoted = name.replace('"', "\"\"");
            let mut rows = self.conn.prepare(&format!("SELECT * FROM \"{quoted}\""))?;
            let width = rows.column_count();
            let mut rows = rows.query([])?;
            while let Some(row) = rows.next()? {
                out.push_str(&name);
                out.push(':');
                for i in 0..width {
                    out.push_str(" | ");
                    match row.get_ref(i)? {
                        ValueRef::Null => out.push_str("NULL"),
                        ValueRef::Integer(n) => out.push_str(&n.to_string()),
                        ValueRef::Real(x) => out.push_str(&x.to_string()),
                        ValueRef::Text(bytes) => out.push_str(&String::from_utf8_lossy(bytes)),
                        ValueRef::Blob(bytes) => {
                            out.push_str(&String::from_utf8_lossy(bytes));
                            out.push(' ');
                            for b in bytes {
                                out.push_str(&format!("{b:02x}"));
                            }
                        }
                    }
                }
                out.push('\n');
            }
        }
        Ok(out)
    }
}
