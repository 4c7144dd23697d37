//! A kind's records as a sheet for people (the workbook's sheets, the app's CSV, the
//! CLI's `export csv --labels fr`): French headers, French labels for choices, dates
//! and times as real dates in the organisation's time zone, numbers as numbers, the
//! names a reference points to in place of its id, and the ids in the last columns so
//! that a funder's filters start on what they read.
//!
//! A field in conflict, or a partial birth date (`1991-04`), is text: a spreadsheet
//! cannot hold two values, nor a month without its day, as one date.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use serde_json::Value;
use sync_protocol::RecordState;
use tracing::info_span;

use super::period::{TimeZone, parse_date};
use super::table::{extra_fields, known_kind};
use super::{labels, printed_value, text, values};
use crate::error::Result;
use crate::schema::FieldType;
use crate::store::CaseFile;

/// One sheet: a header row, then rows of typed cells.
#[derive(Debug, Clone, PartialEq)]
pub struct Worksheet {
    /// The sheet's name (its tab).
    pub name: String,
    /// The column names.
    pub header: Vec<String>,
    /// The rows under the header, each as long as the header.
    pub rows: Vec<Vec<Cell>>,
}

/// A cell of a sheet.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Nothing.
    Empty,
    /// A text.
    Text(String),
    /// A number.
    Number(f64),
    /// A calendar day.
    Date(NaiveDate),
    /// A local date and time, in the organisation's time zone.
    DateTime(NaiveDateTime),
}

impl CaseFile {
    /// Every record of `kind` (not deleted) as a sheet for people, named by the kind's
    /// French label.
    ///
    /// Errors: [`Error::Invalid`] naming `kind` for a kind this build does not know.
    pub fn sheet(&self, kind: &str) -> Result<Worksheet> {
        let _span = info_span!("casefile.sheet", kind).entered();
        let states = self.list(kind)?;
        let zone = self.time_zone()?;
        kind_sheet(
            labels::kind(kind),
            kind,
            &states,
            zone,
            &mut Names::new(self),
        )
    }
}

/// Names of referenced records, looked up once each.
pub(crate) struct Names<'a> {
    file: &'a CaseFile,
    known: HashMap<String, String>,
}

impl<'a> Names<'a> {
    pub(crate) fn new(file: &'a CaseFile) -> Self {
        Self {
            file,
            known: HashMap::new(),
        }
    }

    /// The names a reference or list of references points to, joined with `, `.
    fn of(&mut self, value: &Value) -> Result<String> {
        let items: Vec<&Value> = match value {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        let mut out = Vec::new();
        for item in items {
            let Some(text) = item.as_str() else { continue };
            if let Some(name) = self.known.get(text) {
                out.push(name.clone());
                continue;
            }
            let name = match text.parse() {
                Ok(id) => self.file.name_of(id)?,
                Err(_) => "inconnu".to_owned(),
            };
            self.known.insert(text.to_owned(), name.clone());
            out.push(name);
        }
        Ok(out.join(", "))
    }
}

/// The sheet `title` of the records `states` of `kind`: each field under its French
/// label (a reference as the names it points to), fields the schema does not know by
/// their own names, then the record's id and the ids of its references.
pub(crate) fn kind_sheet(
    title: &str,
    kind: &str,
    states: &[RecordState],
    zone: TimeZone,
    names: &mut Names<'_>,
) -> Result<Worksheet> {
    let spec = known_kind(kind)?;
    let extra = extra_fields(spec, states);
    let references: Vec<&str> = spec
        .fields
        .iter()
        .filter(|f| matches!(f.ty, FieldType::Ref(_) | FieldType::RefList(_)))
        .map(|f| f.name)
        .collect();

    let mut header: Vec<String> = spec
        .fields
        .iter()
        .map(|f| labels::field(kind, f.name).to_owned())
        .chain(extra.iter().map(|name| (*name).to_owned()))
        .collect();
    header.push(labels::field(kind, "id").to_owned());
    header.extend(
        references
            .iter()
            .map(|name| format!("{} (identifiant)", labels::field(kind, name))),
    );

    let mut rows = Vec::with_capacity(states.len());
    for state in states {
        let mut row = Vec::with_capacity(header.len());
        for field in spec.fields {
            row.push(match field.ty {
                FieldType::Ref(_) | FieldType::RefList(_) => {
                    let shown = values(state, field.name)
                        .into_iter()
                        .map(|v| names.of(v))
                        .collect::<Result<Vec<_>>>()?
                        .join(" / ");
                    text_cell(shown)
                }
                ty => typed(state, field.name, ty, zone),
            });
        }
        for name in &extra {
            row.push(typed(state, name, FieldType::Text, zone));
        }
        row.push(Cell::Text(state.id().to_string()));
        for name in &references {
            row.push(text_cell(text(state, name)));
        }
        rows.push(row);
    }
    Ok(Worksheet {
        name: title.to_owned(),
        header,
        rows,
    })
}

fn text_cell(text: String) -> Cell {
    if text.is_empty() {
        Cell::Empty
    } else {
        Cell::Text(text)
    }
}

/// A field's cell: one value as its type (a number, a date, a local date and time),
/// else the values as a person reads them, joined with ` / `.
fn typed(state: &RecordState, field: &str, ty: FieldType, zone: TimeZone) -> Cell {
    let entries = values(state, field);
    if let [one] = entries.as_slice() {
        match (ty, one) {
            (FieldType::Number { .. }, Value::Number(n)) => {
                if let Some(n) = n.as_f64() {
                    return Cell::Number(n);
                }
            }
            (FieldType::Date | FieldType::ApproxDate, Value::String(text)) => {
                if let Some(day) = parse_date(text) {
                    return Cell::Date(day);
                }
            }
            (FieldType::DateTime, Value::String(text)) => {
                if let Some(at) = sync_protocol::dates::parse_rfc3339(text) {
                    return Cell::DateTime(zone.local(at).naive_local());
                }
            }
            _ => {}
        }
    }
    text_cell(
        entries
            .into_iter()
            .map(|v| match v {
                Value::Array(items) => items
                    .iter()
                    .map(|item| printed_value(item, field, ty, zone))
                    .collect::<Vec<_>>()
                    .join(", "),
                other => printed_value(other, field, ty, zone),
            })
            .collect::<Vec<_>>()
            .join(" / "),
    )
}
