//! One kind as CSV, as French spreadsheets open it (CLI.md): UTF-8 with a byte order
//! mark, `;` between fields, CRLF after each row, a header of field names with `id`
//! first, one row per record that is neither deleted nor erased. Lists are joined with
//! `, ` and a conflict's values with ` / `. Quoting follows RFC 4180 (the `csv` crate):
//! a field holding `;`, a quote or a line break is quoted, its quotes doubled.

use std::io::Write;

use tracing::info_span;

use super::cell;
use crate::error::{Error, Result};
use crate::schema;
use crate::store::CaseFile;

/// The byte order mark that tells spreadsheets the file is UTF-8.
const BOM: &[u8] = b"\xEF\xBB\xBF";

impl CaseFile {
    /// Writes every record of `kind` (not deleted) as CSV to `out`, and returns how many
    /// rows it wrote. Columns: `id`, the kind's fields in the schema's order, then any
    /// other field a record holds (`x_` fields, fields of newer versions), by name.
    ///
    /// Errors: [`Error::Invalid`] naming `kind` for a kind this build does not know;
    /// [`Error::Io`] when `out` fails.
    pub fn export_csv(&self, kind: &str, out: impl Write) -> Result<usize> {
        let _span = info_span!("casefile.export_csv", kind).entered();
        let spec = schema::kind(kind).ok_or_else(|| {
            Error::invalid(
                "kind",
                format!(
                    "one of {}",
                    schema::KINDS
                        .iter()
                        .map(|k| k.kind)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?;
        let states = self.list(kind)?;
        let mut extra: Vec<String> = states
            .iter()
            .flat_map(|s| s.fields().map(|(name, _)| name.to_string()))
            .filter(|name| !name.starts_with('_') && spec.field(name).is_none())
            .collect();
        extra.sort();
        extra.dedup();
        let columns: Vec<&str> = spec
            .fields
            .iter()
            .map(|f| f.name)
            .chain(extra.iter().map(String::as_str))
            .collect();

        let mut out = out;
        out.write_all(BOM)?;
        let mut writer = ::csv::WriterBuilder::new()
            .delimiter(b';')
            .terminator(::csv::Terminator::CRLF)
            .quote_style(::csv::QuoteStyle::Necessary)
            .from_writer(out);
        let fail = |e: ::csv::Error| match e.into_kind() {
            ::csv::ErrorKind::Io(io) => Error::Io(io),
            _ => Error::Export("the CSV could not be written".to_owned()),
        };
        writer
            .write_record(std::iter::once("id").chain(columns.iter().copied()))
            .map_err(fail)?;
        for state in &states {
            let id = state.id().to_string();
            let row = std::iter::once(id).chain(columns.iter().map(|c| cell(state, c)));
            writer.write_record(row).map_err(fail)?;
        }
        writer.flush()?;
        Ok(states.len())
    }
}
