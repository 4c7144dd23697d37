//! A period as a workbook: the persons followed in it, its visits, steps, jobs and
//! trainings (each dated in the period, as the indicators count them), and a sheet of
//! the indicators. Columns are the schema's field names, `id` first; references are
//! followed by a column of the names they point to, so the sheets read without lookups.
//! This module reads it; the `documents` crate writes the XLSX file.

use serde::Serialize;
use serde_json::Value;
use sync_protocol::RecordState;
use tracing::info_span;

use super::indicators::FOLLOWED;
use super::period::Period;
use super::{cell, labels, values};
use crate::error::Result;
use crate::records::load_many;
use crate::schema::{self, FieldType};
use crate::store::CaseFile;

/// A workbook: its sheets, in order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Workbook {
    /// The sheets.
    pub sheets: Vec<Worksheet>,
}

/// One sheet: a header row, then rows of typed cells.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Worksheet {
    /// The sheet's name (its tab).
    pub name: String,
    /// The column names, printed in bold in the first row.
    pub header: Vec<String>,
    /// The rows under the header.
    pub rows: Vec<Vec<Cell>>,
    /// Whether the header row stays in view when scrolling.
    pub freeze_header: bool,
    /// Widths of some columns: (column, width in characters).
    pub widths: Vec<(u16, f64)>,
}

/// A cell of a sheet.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Cell {
    /// Nothing.
    Empty,
    /// A text.
    Text(String),
    /// A number.
    Number(f64),
    /// A boolean.
    Bool(bool),
}

impl CaseFile {
    /// The workbook of `period`.
    ///
    /// Errors: those of reading the case file.
    pub fn workbook(&self, period: &Period) -> Result<Workbook> {
        let _span = info_span!("casefile.workbook").entered();
        let (start, end) = period.utc_bounds();
        let (from, to) = (period.from_text(), period.to_text());
        let ids = |sql: &str, args: &[&String]| -> Result<Vec<String>> {
            let mut stmt = self.conn.prepare_cached(sql)?;
            let rows =
                stmt.query_map(rusqlite::params_from_iter(args), |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        };
        let persons = ids(
            &format!(
                "SELECT id FROM person WHERE id IN ({FOLLOWED}) ORDER BY family_name, given_names, id"
            ),
            &[&start, &end, &from, &to],
        )?;
        let visits = ids(
            "SELECT id FROM visit WHERE occurred_at >= ?1 AND occurred_at < ?2 ORDER BY occurred_at, id",
            &[&start, &end],
        )?;
        let dated = |kind: &str, a: &str, b: &str| {
            format!(
                "SELECT id FROM {kind} WHERE {a} BETWEEN ?1 AND ?2 OR {b} BETWEEN ?1 AND ?2
                 ORDER BY coalesce({a}, {b}), id"
            )
        };
        let steps = ids(&dated("step", "due_on", "done_on"), &[&from, &to])?;
        let jobs = ids(&dated("employment", "start_on", "end_on"), &[&from, &to])?;
        let trainings = ids(&dated("training", "start_on", "end_on"), &[&from, &to])?;

        let mut names = Names::new(self);
        let mut sheets = Vec::new();
        for (title, kind, ids) in [
            ("Personnes", "person", persons),
            ("Visites", "visit", visits),
            ("Démarches", "step", steps),
            ("Emplois", "employment", jobs),
            ("Formations", "training", trainings),
        ] {
            let states = load_many(&self.conn, &ids)?;
            sheets.push(kind_sheet(title, kind, &states, &mut names)?);
        }

        let indicators = self.indicators(period)?;
        let mut rows = Vec::new();
        let mut put = |name: &str, key: &str, n: u64, label: &str| {
            rows.push(vec![
                Cell::Text(name.to_owned()),
                Cell::Text(key.to_owned()),
                Cell::Number(n as f64),
                Cell::Text(label.to_owned()),
            ]);
        };
        put("period_from", "", 0, &from);
        put("period_to", "", 0, &to);
        put(
            "people_followed",
            "",
            indicators.people_followed,
            "Personnes suivies",
        );
        put(
            "new_people",
            "",
            indicators.new_people,
            "Nouvelles personnes",
        );
        for (key, n) in &indicators.visits_by_setting {
            put(
                "visits_by_setting",
                key,
                *n,
                &format!("Visites : {}", labels::value(key)),
            );
        }
        put(
            "steps_done",
            "",
            indicators.steps_done,
            "Démarches réalisées",
        );
        for (key, n) in &indicators.steps_done_by_category {
            put(
                "steps_done_by_category",
                key,
                *n,
                &format!("Démarches réalisées : {}", labels::value(key)),
            );
        }
        for (key, n) in &indicators.jobs_by_contract {
            put(
                "jobs_by_contract",
                key,
                *n,
                &format!("Emplois : {}", labels::value(key)),
            );
        }
        put(
            "trainings_started",
            "",
            indicators.trainings_started,
            "Formations commencées",
        );
        put(
            "trainings_completed",
            "",
            indicators.trainings_completed,
            "Formations terminées",
        );
        put(
            "people_housed",
            "",
            indicators.people_housed,
            "Personnes relogées",
        );
        sheets.push(Worksheet {
            name: "Indicateurs".to_owned(),
            header: ["indicator", "key", "value", "libellé"]
                .map(str::to_owned)
                .to_vec(),
            rows,
            freeze_header: false,
            widths: vec![(0, 24.0), (3, 40.0)],
        });
        Ok(Workbook { sheets })
    }
}

/// Names of referenced records, looked up once each.
struct Names<'a> {
    file: &'a CaseFile,
    known: std::collections::HashMap<String, String>,
}

impl<'a> Names<'a> {
    fn new(file: &'a CaseFile) -> Self {
        Self {
            file,
            known: std::collections::HashMap::new(),
        }
    }

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

/// The sheet `title` of the records `states` of `kind`: `id`, then each field, a
/// reference followed by the names it points to.
fn kind_sheet(
    title: &str,
    kind: &str,
    states: &[RecordState],
    names: &mut Names<'_>,
) -> Result<Worksheet> {
    let Some(spec) = schema::kind(kind) else {
        return Ok(Worksheet {
            name: title.to_owned(),
            header: Vec::new(),
            rows: Vec::new(),
            freeze_header: false,
            widths: Vec::new(),
        });
    };
    let mut header: Vec<String> = vec!["id".to_owned()];
    for field in spec.fields {
        header.push(field.name.to_owned());
        if matches!(field.ty, FieldType::Ref(_) | FieldType::RefList(_)) {
            header.push(format!(
                "{}_name",
                field.name.trim_end_matches("_ids").trim_end_matches("_id")
            ));
        }
    }
    let mut rows = Vec::new();
    for state in states {
        let mut row = vec![Cell::Text(state.id().to_string())];
        for field in spec.fields {
            let entries = values(state, field.name);
            row.push(match entries.as_slice() {
                [Value::Number(n)] => Cell::Number(n.as_f64().unwrap_or_default()),
                [Value::Bool(b)] => Cell::Bool(*b),
                [] => Cell::Empty,
                _ => Cell::Text(cell(state, field.name)),
            });
            if matches!(field.ty, FieldType::Ref(_) | FieldType::RefList(_)) {
                let mut shown = Vec::new();
                for value in &entries {
                    shown.push(names.of(value)?);
                }
                let shown = shown.join(" / ");
                row.push(if shown.is_empty() {
                    Cell::Empty
                } else {
                    Cell::Text(shown)
                });
            }
        }
        rows.push(row);
    }
    Ok(Worksheet {
        name: title.to_owned(),
        header,
        rows,
        freeze_header: true,
        widths: Vec::new(),
    })
}
