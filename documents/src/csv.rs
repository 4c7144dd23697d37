//! A kind as CSV, as French spreadsheets open it (CLI.md): UTF-8 with a byte order
//! mark, `;` between fields, CRLF after each row. Quoting follows RFC 4180 (the `csv`
//! crate): a field holding `;`, a quote or a line break is quoted, its quotes doubled.
//!
//! Two readers: a table for machines ([`csv`]: field names, numbers with a dot) and a
//! sheet for people ([`sheet_csv`]: French headers and labels, numbers with a decimal
//! comma, dates `jj/mm/aaaa` and times `jj/mm/aaaa hh:mm`, which a French spreadsheet
//! reads as numbers and dates).

use std::io::Write;

use casefile::export::{Cell, Table, Worksheet};
use tracing::info_span;

use crate::error::{Error, Result};

/// The byte order mark that tells spreadsheets the file is UTF-8.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Writes `table` as CSV to `out`: its header, then its rows.
///
/// Errors: [`Error::Io`] when `out` fails; [`Error::Csv`] when a row cannot be written.
pub fn csv(table: &Table, out: impl Write) -> Result<()> {
    let _span = info_span!("documents.csv", rows = table.rows.len()).entered();
    write_rows(
        out,
        &table.header,
        table
            .rows
            .iter()
            .map(|row| row.iter().map(String::as_str).map(Into::into)),
    )
}

/// Writes `sheet` as CSV for people to `out`: its header, then its rows.
///
/// Errors: [`Error::Io`] when `out` fails; [`Error::Csv`] when a row cannot be written.
pub fn sheet_csv(sheet: &Worksheet, out: impl Write) -> Result<()> {
    let _span = info_span!("documents.sheet_csv", rows = sheet.rows.len()).entered();
    write_rows(
        out,
        &sheet.header,
        sheet.rows.iter().map(|row| row.iter().map(french)),
    )
}

/// A cell as a French spreadsheet reads it back as the same value.
fn french(cell: &Cell) -> std::borrow::Cow<'_, str> {
    match cell {
        Cell::Empty => "".into(),
        Cell::Text(text) => text.as_str().into(),
        Cell::Number(n) => casefile::export::french_number(*n).into(),
        Cell::Date(day) => day.format("%d/%m/%Y").to_string().into(),
        Cell::DateTime(at) => at.format("%d/%m/%Y %H:%M").to_string().into(),
    }
}

fn write_rows<'a, R, C>(mut out: impl Write, header: &[String], rows: R) -> Result<()>
where
    R: Iterator<Item = C>,
    C: Iterator<Item = std::borrow::Cow<'a, str>>,
{
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
    writer.write_record(header).map_err(fail)?;
    for row in rows {
        writer
            .write_record(row.map(|c| c.into_owned().into_bytes()))
            .map_err(fail)?;
    }
    writer.flush()?;
    Ok(())
}
