//! One kind as a table of texts, what the CSV export writes (CLI.md): a header of field
//! names with `id` first, one row per record that is neither deleted nor erased. Lists
//! are joined with `, ` and a conflict's values with ` / `.

use serde::Serialize;
use sync_protocol::RecordState;
use tracing::info_span;

use super::cell;
use crate::error::{Error, Result};
use crate::schema::{self, KindSpec};
use crate::store::CaseFile;

/// A kind as rows of texts, every row as long as the header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Table {
    /// The column names: `id`, the kind's fields in the schema's order, then any other
    /// field a record holds (`x_` fields, fields of newer versions), by name.
    pub header: Vec<String>,
    /// One row per record, by id.
    pub rows: Vec<Vec<String>>,
}

impl CaseFile {
    /// Every record of `kind` (not deleted) as a table.
    ///
    /// Errors: [`Error::Invalid`] naming `kind` for a kind this build does not know.
    pub fn table(&self, kind: &str) -> Result<Table> {
        let _span = info_span!("casefile.table", kind).entered();
        let spec = known_kind(kind)?;
        let states = self.list(kind)?;
        let columns: Vec<String> = spec
            .fields
            .iter()
            .map(|f| f.name.to_owned())
            .chain(extra_fields(spec, &states).into_iter().map(str::to_owned))
            .collect();
        let rows = states
            .iter()
            .map(|state| {
                std::iter::once(state.id().to_string())
                    .chain(columns.iter().map(|c| cell(state, c)))
                    .collect()
            })
            .collect();
        let header = std::iter::once("id".to_owned()).chain(columns).collect();
        Ok(Table { header, rows })
    }
}

/// The fields `states` hold that the schema of their kind does not name (`x_` fields,
/// fields of newer versions), by name, each once.
pub(crate) fn extra_fields<'a>(spec: &KindSpec, states: &'a [RecordState]) -> Vec<&'a str> {
    let mut extra: Vec<&str> = states
        .iter()
        .flat_map(|s| s.fields().map(|(name, _)| name.as_str()))
        .filter(|name| !name.starts_with('_') && spec.field(name).is_none())
        .collect();
    extra.sort_unstable();
    extra.dedup();
    extra
}

/// The schema of `kind`.
///
/// Errors: [`Error::Invalid`] naming `kind` and the kinds this build knows.
pub(crate) fn known_kind(kind: &str) -> Result<&'static KindSpec> {
    schema::kind(kind).ok_or_else(|| {
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
    })
}
