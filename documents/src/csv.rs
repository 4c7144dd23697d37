//! A table as CSV, as French spreadsheets open it (CLI.md): UTF-8 with a byte order
//! mark, `;` between fields, CRLF after each row. Quoting follows RFC 4180 (the `csv`
//! crate): a field holding `;`, a quote or a line break is quoted, its quotes doubled.

use std::io::Write;

use casefile::export::Table;
use tracing::info_span;

use crate::error::{Error, Result};

/// The byte order mark that tells spreadsheets the file is UTF-8.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Writes `table` as CSV to `out`: its header, then its rows.
///
/// Errors: [`Error::Io`] when `out` fails; [`Error::Csv`] when a row cannot be written.
pub fn csv(table: &Table, mut out: impl Write) -> Result<()> {
    let _span = info_span!("documents.csv", rows = table.rows.len()).entered();
    out.write_all(BOM)?;
    let mut writer = ::csv::WriterBuilder::new()
        .delimiter(b';')
        .terminator(::csv::Terminator::CRLF)
        .quote_style(::csv::QuoteStyle::Necessary)
        .from_writer(out);
    let fail = |e: ::csv::Error| match e.into_kind() {
        ::csv::ErrorKind::Io(io) => Error::Io(io),
        _ => Error::Csv,
    };
    writer.write_record(&table.header).map_err(fail)?;
    for row in &table.rows {
        writer.write_record(row).map_err(fail)?;
    }
    writer.flush()?;
    Ok(())
}
