//! What the exports read: each export as plain data, every value already printed as
//! text, for the `documents` crate to render (PDF, CSV, XLSX). The split keeps this crate
//! to storage, domain and sync: the documents change without rebuilding it, and they never
//! touch storage.
//!
//! - the visit sheet (fiche de visite) and a person's summary sheet
//!   ([`CaseFile::visit_sheet`], [`CaseFile::person_sheet`]);
//! - one kind as a table for machines ([`CaseFile::table`], the CLI's CSV: field names,
//!   `id` first) or as a sheet for people ([`CaseFile::sheet`], the app's CSV: French
//!   headers and labels, typed cells, ids last), and a period as a workbook of sheets for
//!   people ([`CaseFile::workbook`], the XLSX);
//! - the indicators of a period ([`CaseFile::indicators`]) and the series of people in
//!   work ([`CaseFile::people_in_work`]);
//! - everything held about one person, for a GDPR access request ([`CaseFile::access`]):
//!   the JSON document, and what its PDF prints, other people's data left out;
//! - the information notice of GDPR articles 13 and 14 takes the organisation's settings
//!   ([`CaseFile::organisation`]) and a [`NoticeLang`].
//!
//! The domain stays here: the period and its time zone, the French labels of fields and
//! choices, what an access export withholds and the information of article 15.
//!
//! Every export reads record states through the case file's own queries; none writes
//! to the case file. Records that are deleted or erased are left out. A field in
//! conflict shows every value, joined with ` / `, so nothing is silently chosen.

mod access;
mod article15;
mod bilingual;
mod cv;
mod indicators;
mod labels;
mod period;
mod person_sheet;
mod sheet;
mod table;
mod visit_copy;
mod visit_sheet;
mod withhold;
mod workbook;

pub use crate::kinds::NoticeLang;
pub use access::{Access, AccessRecord, HistoryLine, WithheldNote};
pub use article15::Information;
pub use bilingual::{Bilingual, BilingualField, CopyLang};
pub use cv::{Cv, CvDraft, CvItem};
pub use indicators::{Indicators, WorkPoint};
pub use period::{Period, SETTING_TIME_ZONE, TimeZone};
pub use person_sheet::{
    JobRow, OpenStep, PersonSheet, ReferralRow, SheetVisit, StayRow, TrainingRow,
};
pub use sheet::{Cell, Worksheet};
pub use table::Table;
pub use visit_copy::{CopyStep, Slip, VisitCopy};
pub use visit_sheet::{DecidedStep, PersonMet, VisitSheet};
pub use workbook::Workbook;

use chrono::{Datelike, Timelike, Weekday};
use serde::Serialize;
use serde_json::Value;
use sync_protocol::{RecordId, RecordState};

use crate::error::Result;
use crate::schema::{self, FieldType};
use crate::store::CaseFile;

/// The setting that names the organisation on printed sheets.
pub const SETTING_ORG_NAME: &str = "org_name";
/// The organisation this case file is enrolled with (written by enrolment).
const SETTING_SYNC_ORG: &str = "sync.org";

impl CaseFile {
    /// The organisation's name printed on sheets: the `name` of the organisation's
    /// settings ([`CaseFile::organisation`]), else the setting `org_name` of this case
    /// file, else the organisation the case file is enrolled with, else "Passerelle".
    pub fn org_name(&self) -> Result<String> {
        Ok(self
            .organisation()?
            .name
            .unwrap_or_else(|| "Passerelle".to_owned()))
    }

    /// The organisation's name this case file knows without the settings record: the
    /// setting `org_name`, else the organisation it is enrolled with.
    pub(crate) fn name_on_this_device(&self) -> Result<Option<String>> {
        for key in [SETTING_ORG_NAME, SETTING_SYNC_ORG] {
            if let Some(name) = self.setting(key)?
                && !name.trim().is_empty()
            {
                return Ok(Some(name));
            }
        }
        Ok(None)
    }

    /// Sets the organisation's name printed on sheets.
    pub fn set_org_name(&mut self, name: &str) -> Result<()> {
        self.set_setting(SETTING_ORG_NAME, name)
    }
}

/// A labelled value of a printed sheet: the label in French, the value as printed (empty
/// when the field holds nothing; a sheet shows that as a dash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Field {
    /// The label, in French.
    pub label: String,
    /// The value, as printed.
    pub value: String,
}

impl Field {
    pub(crate) fn new(label: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            value: value.into(),
        }
    }
}

/// A value as text for machine-readable exports: texts as written, lists joined with
/// `, `, numbers and booleans as JSON writes them, null as nothing.
pub(crate) fn value_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        Value::Array(items) => items.iter().map(value_text).collect::<Vec<_>>().join(", "),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Object(_) => value.to_string(),
    }
}

/// A field of a state as text for machine-readable exports: its value, or in a conflict
/// every entry's value joined with ` / ` (CLI.md).
pub(crate) fn cell(state: &RecordState, field: &str) -> String {
    state
        .entries(field)
        .iter()
        .map(|e| value_text(&e.value))
        .collect::<Vec<_>>()
        .join(" / ")
}

/// The values of a field (every entry's, in a conflict), skipping nulls.
pub(crate) fn values<'a>(state: &'a RecordState, field: &str) -> Vec<&'a Value> {
    state
        .entries(field)
        .iter()
        .map(|e| &e.value)
        .filter(|v| !v.is_null())
        .collect()
}

/// A text field's value (the entries' texts joined with ` / ` in a conflict).
pub(crate) fn text(state: &RecordState, field: &str) -> String {
    values(state, field)
        .into_iter()
        .map(value_text)
        .collect::<Vec<_>>()
        .join(" / ")
}

/// The ids a reference or list of references holds (every entry's, in a conflict),
/// each once, in order.
pub(crate) fn refs(state: &RecordState, field: &str) -> Vec<RecordId> {
    let mut out: Vec<RecordId> = Vec::new();
    for value in values(state, field) {
        let items: Vec<&Value> = match value {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        for item in items {
            if let Some(id) = item.as_str().and_then(|t| t.parse::<RecordId>().ok())
                && !out.contains(&id)
            {
                out.push(id);
            }
        }
    }
    out
}

/// A field as a person reads it on a printed sheet, in French: choices by their label,
/// booleans as oui / non, dates as `JJ/MM/AAAA`, times in the organisation's zone.
/// References are not resolved here (the sheets print names).
pub(crate) fn printed(state: &RecordState, field: &str, zone: TimeZone) -> String {
    let ty = schema::kind(state.kind().as_str())
        .and_then(|k| k.field(field))
        .map_or(FieldType::Text, |f| f.ty);
    values(state, field)
        .into_iter()
        .map(|v| printed_value(v, field, ty, zone))
        .collect::<Vec<_>>()
        .join(" / ")
}

/// A value as a person reads it on a printed sheet: see [`printed`].
pub(crate) fn printed_value(value: &Value, field: &str, ty: FieldType, zone: TimeZone) -> String {
    match (ty, value) {
        (FieldType::Choice(_), Value::String(t)) => labels::value(field, t).to_owned(),
        (FieldType::Country, Value::String(t)) => labels::country(t).to_owned(),
        (_, Value::Bool(true)) => "oui".to_owned(),
        (_, Value::Bool(false)) => "non".to_owned(),
        (FieldType::Date | FieldType::ApproxDate, Value::String(t)) => french_date(t),
        (FieldType::DateTime, Value::String(t)) => french_time(t, zone),
        (_, Value::Number(n)) => n.as_f64().map_or_else(|| n.to_string(), french_number),
        (_, other) => value_text(other),
    }
}

/// A number as a French reader reads it: a decimal comma, no exponent, no trailing
/// `.0` (`35,5`, `1500`, `0,000001`). Rust writes a float with the fewest digits that
/// read back the same.
pub fn french_number(n: f64) -> String {
    n.to_string().replace('.', ",")
}

/// `2026-11-02` as `02/11/2026`, `1991-04` as `04/1991`; anything else as written.
pub(crate) fn french_date(text: &str) -> String {
    let parts: Vec<&str> = text.split('-').collect();
    match parts.as_slice() {
        [y, m, d] => format!("{d}/{m}/{y}"),
        [y, m] => format!("{m}/{y}"),
        _ => text.to_owned(),
    }
}

/// An RFC 3339 time as `lundi 02/11/2026 à 10 h 14`, in the zone's local time.
pub(crate) fn french_time(text: &str, zone: TimeZone) -> String {
    let Some(at) = sync_protocol::dates::parse_rfc3339(text) else {
        return text.to_owned();
    };
    let local = zone.local(at);
    let day = match local.weekday() {
        Weekday::Mon => "lundi",
        Weekday::Tue => "mardi",
        Weekday::Wed => "mercredi",
        Weekday::Thu => "jeudi",
        Weekday::Fri => "vendredi",
        Weekday::Sat => "samedi",
        Weekday::Sun => "dimanche",
    };
    format!(
        "{day} {:02}/{:02}/{:04} à {} h {:02}",
        local.day(),
        local.month(),
        local.year(),
        local.hour(),
        local.minute()
    )
}

/// A person's name as written: family name, then given names.
pub(crate) fn person_name(person: &RecordState) -> String {
    let family = text(person, "family_name");
    let given = text(person, "given_names");
    match (family.is_empty(), given.is_empty()) {
        (false, false) => format!("{family} {given}"),
        (false, true) => family,
        (true, false) => given,
        (true, true) => "(sans nom)".to_owned(),
    }
}

/// The year of a possibly approximate birth date.
pub(crate) fn birth_year(person: &RecordState) -> String {
    values(person, "birth_date")
        .into_iter()
        .filter_map(Value::as_str)
        .map(|t| t.chars().take(4).collect::<String>())
        .collect::<Vec<_>>()
        .join(" / ")
}

impl CaseFile {
    /// The state of `id` when the case file holds it and it is not erased; `None`
    /// otherwise (a reference to a record not synced yet prints as unknown). A person
    /// merged into another is read as the file that stays.
    pub(crate) fn state_if_any(&self, id: RecordId) -> Result<Option<RecordState>> {
        match self.get(crate::duplicates::survivor(&self.conn, id)?) {
            Ok(state) => Ok(Some(state)),
            Err(crate::Error::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The name of the record `id` refers to (a site's or household's `name`, a
    /// person's names), or "inconnu" when the case file does not hold it.
    pub(crate) fn name_of(&self, id: RecordId) -> Result<String> {
        Ok(match self.state_if_any(id)? {
            Some(state) if state.kind().as_str() == "person" => person_name(&state),
            Some(state) => text(&state, "name"),
            None => "inconnu".to_owned(),
        })
    }
}

/// Today's local date and time, for "printed on" lines.
pub(crate) fn now_text(zone: TimeZone) -> String {
    french_time(sync_protocol::Timestamp::now().as_str(), zone)
}
