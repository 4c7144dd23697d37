//! The derived tables: typed rows per kind, the persons met in visits, the person search
//! terms. Written from a record state in the same transaction as the state itself, and
//! rebuilt from `records` by [`CaseFile::rebuild`].

use rusqlite::types::Value as Sql;
use rusqlite::{Connection, params};
use serde_json::Value;
use sync_protocol::{Entry, RecordState, Timestamp};
use tracing::info_span;

use crate::duplicates;
use crate::erasure;
use crate::error::Result;
use crate::fold;
use crate::schema::{self, FieldType, KINDS};
use crate::store::CaseFile;

/// Writes the derived rows of `state`, replacing any it had. `fresh` says the record has
/// no derived rows yet (new here, or during a rebuild), which spares the deletions.
pub(crate) fn index(conn: &Connection, state: &RecordState, fresh: bool) -> Result<()> {
    let Some(spec) = schema::kind(state.kind().as_str()) else {
        return Ok(());
    };
    let id = state.id().to_string();
    let live = !state.is_deleted() && !state.is_erased();
    if spec.kind == "person" {
        duplicates::index_person(conn, state, live, fresh)?;
    }
    if !fresh && spec.kind == "visit" {
        conn.prepare_cached("DELETE FROM visit_person WHERE visit_id = ?1")?
            .execute([&id])?;
    }
    if !fresh && spec.kind == "person" {
        conn.prepare_cached("DELETE FROM person_terms WHERE person_id = ?1")?
            .execute([&id])?;
    }
    if !live && fresh {
        return Ok(());
    }
    if !live {
        conn.prepare_cached(&format!("DELETE FROM \"{}\" WHERE id = ?1", spec.kind))?
            .execute([&id])?;
        return Ok(());
    }
    let columns: Vec<String> = spec
        .fields
        .iter()
        .map(|f| format!("\"{}\"", f.name))
        .collect();
    let marks: Vec<String> = (1..=spec.fields.len() + 1)
        .map(|i| format!("?{i}"))
        .collect();
    let sql = format!(
        "INSERT OR REPLACE INTO \"{}\" (id, {}) VALUES ({})",
        spec.kind,
        columns.join(", "),
        marks.join(", ")
    );
    let mut values: Vec<Sql> = Vec::with_capacity(spec.fields.len() + 1);
    values.push(Sql::Text(id.clone()));
    for field in spec.fields {
        values.push(to_sql(field.ty, shown(state.entries(field.name))));
    }
    let column = |name: &str| {
        spec.fields
            .iter()
            .position(|f| f.name == name)
            .and_then(|i| values.get(i + 1).cloned())
            .unwrap_or(Sql::Null)
    };
    let (occurred_at, next_visit_on) = (column("occurred_at"), column("next_visit_on"));
    conn.prepare_cached(&sql)?
        .execute(rusqlite::params_from_iter(values))?;
    if spec.kind == "visit"
        && let Some(Value::Array(ids)) = shown(state.entries("person_ids"))
    {
        let mut insert = conn.prepare_cached(
            "INSERT OR IGNORE INTO visit_person (visit_id, person_id, occurred_at, next_visit_on)
             VALUES (?1, ?2, ?3, ?4)",
        )?;
        for person in ids.iter().filter_map(Value::as_str) {
            insert.execute(params![id, person, occurred_at, next_visit_on])?;
        }
    }
    if spec.kind == "person" {
        index_terms(conn, &id, state)?;
    }
    Ok(())
}

fn index_terms(conn: &Connection, id: &str, state: &RecordState) -> Result<()> {
    let mut insert = conn.prepare_cached(
        "INSERT OR IGNORE INTO person_terms (term, person_id, field) VALUES (?1, ?2, ?3)",
    )?;
    let texts = |field: &str| duplicates::texts(state, field);
    // Every entry of a field in conflict is searchable: either spelling finds the person.
    for name in texts("family_name").iter().chain(&texts("given_names")) {
        for word in fold::words(name) {
            insert.execute(params![word, id, 0])?;
        }
    }
    for alias in texts("aliases") {
        for word in fold::words(&alias) {
            insert.execute(params![word, id, 1])?;
        }
    }
    for phone in texts("phone") {
        let digits = fold::digits(&phone);
        if !digits.is_empty() {
            insert.execute(params![digits, id, 2])?;
        }
    }
    Ok(())
}

/// The entry a derived table shows: the only one, or in a conflict the most recent by its
/// `at` (then by dot), so every replica shows the same.
pub(crate) fn shown(entries: &[Entry]) -> Option<&Value> {
    entries
        .iter()
        .max_by(|a, b| {
            let at = |e: &Entry| e.at.to_datetime();
            at(a).cmp(&at(b)).then(a.dot.cmp(&b.dot))
        })
        .map(|e| &e.value)
}

fn to_sql(ty: FieldType, value: Option<&Value>) -> Sql {
    match value {
        None | Some(Value::Null) => Sql::Null,
        Some(Value::Bool(b)) => Sql::Integer(i64::from(*b)),
        Some(Value::Number(n)) => n.as_f64().map_or(Sql::Null, Sql::Real),
        Some(Value::String(s)) if ty == FieldType::DateTime => {
            // Times compare as text only in one offset: keep them in UTC.
            match s.parse::<Timestamp>().ok().and_then(|t| t.to_datetime()) {
                Some(at) => Sql::Text(Timestamp::from_datetime(at).to_string()),
                None => Sql::Text(s.clone()),
            }
        }
        Some(Value::String(s)) => Sql::Text(s.clone()),
        Some(other) => Sql::Text(other.to_string()),
    }
}

impl CaseFile {
    /// Recomputes every derived table (typed rows, visit participants, search terms) and
    /// the derived flags of `records` from the record states alone, in one transaction.
    /// An erased record's row, which earlier versions kept, is deleted with its traces:
    /// an erased record leaves none.
    pub fn rebuild(&mut self) -> Result<()> {
        let _span = info_span!("casefile.rebuild").entered();
        self.write(|tx| rebuild_tables(tx))
    }
}

/// [`CaseFile::rebuild`] within the caller's transaction.
pub(crate) fn rebuild_tables(tx: &Connection) -> Result<()> {
    for spec in KINDS {
        tx.execute(&format!("DELETE FROM \"{}\"", spec.kind), [])?;
    }
    for table in [
        "visit_person",
        "person_terms",
        "person_keys",
        "person_merge",
        "person_survivor",
        "not_duplicate",
    ] {
        tx.execute(&format!("DELETE FROM {table}"), [])?;
    }
    let mut stmt = tx.prepare("SELECT state FROM records")?;
    let mut rows = stmt.query([])?;
    let mut update =
        tx.prepare("UPDATE records SET deleted = ?2, erased = ?3, conflicted = ?4 WHERE id = ?1")?;
    let mut erased = Vec::new();
    while let Some(row) = rows.next()? {
        let text: String = row.get(0)?;
        let state = RecordState::from_json(&text)?;
        if state.is_erased() {
            erased.push(state.id());
            continue;
        }
        update.execute(params![
            state.id().to_string(),
            state.is_deleted(),
            state.is_erased(),
            !state.conflicts().is_empty()
        ])?;
        index(tx, &state, true)?;
    }
    for id in erased {
        erasure::wipe(tx, id)?;
    }
    duplicates::refresh_survivors(tx)
}
