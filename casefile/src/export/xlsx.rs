//! A period as an XLSX workbook: the persons followed in it, its visits, steps, jobs and
//! trainings (each dated in the period, as the indicators count them), and a sheet of
//! the indicators. Columns are the schema's field names, `id` first; references are
//! followed by a column of the names they point to, so the sheets read without lookups.

use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};
use serde_json::Value;
use sync_protocol::RecordState;
use tracing::info_span;

use super::indicators::FOLLOWED;
use super::period::Period;
use super::{cell, labels, values};
use crate::error::{Error, Result};
use crate::records::load_many;
use crate::schema::{self, FieldType};
use crate::store::CaseFile;

fn fail(_: XlsxError) -> Error {
    Error::Export("the workbook could not be written".to_owned())
}

impl CaseFile {
    /// The workbook of `period`, as the bytes of an `.xlsx` file.
    ///
    /// Errors: [`Error::Export`] when the workbook cannot be written.
    pub fn export_xlsx(&self, period: &Period) -> Result<Vec<u8>> {
        let _span = info_span!("casefile.export_xlsx").entered();
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
        let mut book = Workbook::new();
        let bold = Format::new().set_bold();
        for (title, kind, ids) in [
            ("Personnes", "person", persons),
            ("Visites", "visit", visits),
            ("Démarches", "step", steps),
            ("Emplois", "employment", jobs),
            ("Formations", "training", trainings),
        ] {
            let states = load_many(&self.conn, &ids)?;
            let sheet = book.add_worksheet();
            sheet.set_name(title).map_err(fail)?;
            write_kind(sheet, kind, &states, &mut names, &bold)?;
        }

        let indicators = self.indicators(period)?;
        let sheet = book.add_worksheet();
        sheet.set_name("Indicateurs").map_err(fail)?;
        sheet
            .write_string_with_format(0, 0, "indicator", &bold)
            .map_err(fail)?;
        sheet
            .write_string_with_format(0, 1, "key", &bold)
            .map_err(fail)?;
        sheet
            .write_string_with_format(0, 2, "value", &bold)
            .map_err(fail)?;
        sheet
            .write_string_with_format(0, 3, "libellé", &bold)
            .map_err(fail)?;
        let mut row = 1u32;
        let mut put =
            |sheet: &mut Worksheet, name: &str, key: &str, n: u64, label: &str| -> Result<()> {
                sheet.write_string(row, 0, name).map_err(fail)?;
                sheet.write_string(row, 1, key).map_err(fail)?;
                sheet.write_number(row, 2, n as f64).map_err(fail)?;
                sheet.write_string(row, 3, label).map_err(fail)?;
                row += 1;
                Ok(())
            };
        put(sheet, "period_from", "", 0, &from)?;
        put(sheet, "period_to", "", 0, &to)?;
        put(
            sheet,
            "people_followed",
            "",
            indicators.people_followed,
            "Personnes suivies",
        )?;
        put(
            sheet,
            "new_people",
            "",
            indicators.new_people,
            "Nouvelles personnes",
        )?;
        for (key, n) in &indicators.visits_by_setting {
            put(
                sheet,
                "visits_by_setting",
                key,
                *n,
                &format!("Visites : {}", labels::value(key)),
            )?;
        }
        put(
            sheet,
            "steps_done",
            "",
            indicators.steps_done,
            "Démarches réalisées",
        )?;
        for (key, n) in &indicators.steps_done_by_category {
            put(
                sheet,
                "steps_done_by_category",
                key,
                *n,
                &format!("Démarches réalisées : {}", labels::value(key)),
            )?;
        }
        for (key, n) in &indicators.jobs_by_contract {
            put(
                sheet,
                "jobs_by_contract",
                key,
                *n,
                &format!("Emplois : {}", labels::value(key)),
            )?;
        }
        put(
            sheet,
            "trainings_started",
            "",
            indicators.trainings_started,
            "Formations commencées",
        )?;
        put(
            sheet,
            "trainings_completed",
            "",
            indicators.trainings_completed,
            "Formations terminées",
        )?;
        put(
            sheet,
            "people_housed",
            "",
            indicators.people_housed,
            "Personnes relogées",
        )?;
        sheet.set_column_width(0, 24).map_err(fail)?;
        sheet.set_column_width(3, 40).map_err(fail)?;

        book.save_to_buffer().map_err(fail)
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

fn write_kind(
    sheet: &mut Worksheet,
    kind: &str,
    states: &[RecordState],
    names: &mut Names<'_>,
    bold: &Format,
) -> Result<()> {
    let Some(spec) = schema::kind(kind) else {
        return Ok(());
    };
    // Columns: id, then each field, a reference followed by the names it points to.
    let mut headers: Vec<String> = vec!["id".to_owned()];
    for field in spec.fields {
        headers.push(field.name.to_owned());
        if matches!(field.ty, FieldType::Ref(_) | FieldType::RefList(_)) {
            headers.push(format!(
                "{}_name",
                field.name.trim_end_matches("_ids").trim_end_matches("_id")
            ));
        }
    }
    for (col, header) in headers.iter().enumerate() {
        sheet
            .write_string_with_format(0, col as u16, header, bold)
            .map_err(fail)?;
    }
    for (i, state) in states.iter().enumerate() {
        let row = i as u32 + 1;
        sheet
            .write_string(row, 0, state.id().to_string())
            .map_err(fail)?;
        let mut col: u16 = 1;
        for field in spec.fields {
            let entries = values(state, field.name);
            match (entries.as_slice(), field.ty) {
                ([Value::Number(n)], _) => {
                    sheet
                        .write_number(row, col, n.as_f64().unwrap_or_default())
                        .map_err(fail)?;
                }
                ([Value::Bool(b)], _) => {
                    sheet.write_boolean(row, col, *b).map_err(fail)?;
                }
                ([], _) => {}
                _ => {
                    sheet
                        .write_string(row, col, cell(state, field.name))
                        .map_err(fail)?;
                }
            }
            col += 1;
            if matches!(field.ty, FieldType::Ref(_) | FieldType::RefList(_)) {
                let mut shown = Vec::new();
                for value in &entries {
                    shown.push(names.of(value)?);
                }
                let shown = shown.join(" / ");
                if !shown.is_empty() {
                    sheet.write_string(row, col, shown).map_err(fail)?;
                }
                col += 1;
            }
        }
    }
    sheet.set_freeze_panes(1, 0).map_err(fail)?;
    Ok(())
}
