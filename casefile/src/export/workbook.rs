//! A period as a workbook for the people who report on it: the persons followed in it,
//! its visits, steps, jobs and trainings (each dated in the period, as the indicators
//! count them), each a sheet for people (`sheet`: French headers and labels, real dates,
//! names in place of ids, ids last), and a sheet of the indicators.
//! This module reads it; the `documents` crate writes the XLSX file.

use tracing::info_span;

use super::indicators::FOLLOWED;
use super::labels;
use super::period::Period;
use super::sheet::{Cell, Names, Worksheet, kind_sheet};
use crate::error::Result;
use crate::records::load_many;
use crate::store::CaseFile;

/// A workbook: its sheets, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Workbook {
    /// The sheets.
    pub sheets: Vec<Worksheet>,
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
            sheets.push(kind_sheet(title, kind, &states, period.zone, &mut names)?);
        }

        // The indicators: what each counts in French and its number first; the codes a
        // script would look for last.
        let indicators = self.indicators(period)?;
        let mut rows = vec![
            vec![
                Cell::Text("Début de la période".to_owned()),
                Cell::Date(period.from),
                Cell::Text("period_from".to_owned()),
                Cell::Empty,
            ],
            vec![
                Cell::Text("Fin de la période".to_owned()),
                Cell::Date(period.to),
                Cell::Text("period_to".to_owned()),
                Cell::Empty,
            ],
        ];
        let mut put = |label: String, n: u64, name: &str, key: &str| {
            rows.push(vec![
                Cell::Text(label),
                Cell::Number(n as f64),
                Cell::Text(name.to_owned()),
                if key.is_empty() {
                    Cell::Empty
                } else {
                    Cell::Text(key.to_owned())
                },
            ]);
        };
        put(
            "Personnes suivies".to_owned(),
            indicators.people_followed,
            "people_followed",
            "",
        );
        put(
            "Nouvelles personnes".to_owned(),
            indicators.new_people,
            "new_people",
            "",
        );
        for (key, n) in &indicators.visits_by_setting {
            put(
                format!("Visites : {}", labels::value("setting", key)),
                *n,
                "visits_by_setting",
                key,
            );
        }
        put(
            "Démarches réalisées".to_owned(),
            indicators.steps_done,
            "steps_done",
            "",
        );
        for (key, n) in &indicators.steps_done_by_category {
            put(
                format!("Démarches réalisées : {}", labels::value("category", key)),
                *n,
                "steps_done_by_category",
                key,
            );
        }
        for (key, n) in &indicators.jobs_by_contract {
            put(
                format!("Emplois : {}", labels::value("contract", key)),
                *n,
                "jobs_by_contract",
                key,
            );
        }
        put(
            "Formations commencées".to_owned(),
            indicators.trainings_started,
            "trainings_started",
            "",
        );
        put(
            "Formations terminées".to_owned(),
            indicators.trainings_completed,
            "trainings_completed",
            "",
        );
        put(
            "Personnes relogées".to_owned(),
            indicators.people_housed,
            "people_housed",
            "",
        );
        sheets.push(Worksheet {
            name: "Indicateurs".to_owned(),
            header: ["Indicateur", "Valeur", "Code", "Clé"]
                .map(str::to_owned)
                .to_vec(),
            rows,
        });
        Ok(Workbook { sheets })
    }
}
