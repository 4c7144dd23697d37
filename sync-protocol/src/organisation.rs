//! The organisation's settings record, and the retention rule both sides read from it.
//!
//! The settings (the organisation's name and contact, its data protection contact, the
//! purposes and recipients of the case file, how long a closed file is kept) are one
//! record of kind `organisation` with a **well-known id**, [`SETTINGS_ID`], the same in
//! every organisation (records are kept per organisation, so it never clashes). Any device
//! may write it, offline too: two devices that create it apart write the same record,
//! and their edits merge field by field like any other. The server reads it (for
//! `retention`); notices and access exports are filled from it.
//!
//! The retention rule lives here so that the server's `retention` command and the app's
//! coordinator view list the same files.

use chrono::NaiveDate;
use serde_json::Value;

use crate::{RecordId, RecordState};

/// The id of every organisation's settings record.
pub const SETTINGS_ID: RecordId = RecordId::from_u128(0x0000_0000_0000_7000_8000_6f72_6761_6e69);

/// The kind of the settings record.
pub const SETTINGS_KIND: &str = "organisation";

/// The settings' field holding the months a closed file is kept.
pub const RETENTION_FIELD: &str = "retention_months";

/// How long a closed person's file is kept when the settings say nothing: 24 months.
pub const DEFAULT_RETENTION_MONTHS: u32 = 24;

/// The longest retention the settings may set: 20 years.
pub const MAX_RETENTION_MONTHS: u32 = 240;

/// The months a closed file is kept, from the settings record (or its absence): a whole
/// number from 1 to [`MAX_RETENTION_MONTHS`], else the default. A conflict on the field
/// keeps the shorter value, the choice that keeps less.
pub fn retention_months(settings: Option<&RecordState>) -> u32 {
    settings
        .filter(|s| !s.is_erased() && !s.is_deleted())
        .map(|s| s.entries(RETENTION_FIELD))
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.value.as_u64())
        .filter_map(|months| u32::try_from(months).ok())
        .filter(|months| (1..=MAX_RETENTION_MONTHS).contains(months))
        .min()
        .unwrap_or(DEFAULT_RETENTION_MONTHS)
}

/// A file past its retention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PastRetention {
    /// The day the file was closed.
    pub closed_on: NaiveDate,
    /// The last day it was to be kept: `closed_on` plus the retention.
    pub kept_until: NaiveDate,
}

fn date_of(state: &RecordState, field: &str) -> Option<NaiveDate> {
    crate::dates::parse_date(state.value(field).and_then(Value::as_str)?)
}

/// `date` plus `months`, on the same day of the month, or the month's last day when it
/// has fewer days (31 January plus one month is 28 or 29 February).
pub fn add_months(date: NaiveDate, months: u32) -> NaiveDate {
    date.checked_add_months(chrono::Months::new(months))
        .unwrap_or(NaiveDate::MAX)
}

/// Whether the person record `person` is past its retention on `today` (§ DOMAIN: a
/// person's file is kept `months` after it is closed): a person, neither deleted nor
/// erased, whose `status` is `closed` with a `closed_on` date, kept no longer than
/// `closed_on + months`, and with no `keep_until` date from today on (a coordinator's
/// recorded reason to keep it, `keep_reason`, until then).
pub fn past_retention(
    person: &RecordState,
    months: u32,
    today: NaiveDate,
) -> Option<PastRetention> {
    if person.kind().as_str() != "person" || person.is_erased() || person.is_deleted() {
        return None;
    }
    if person.value("status").and_then(Value::as_str) != Some("closed") {
        return None;
    }
    let closed_on = date_of(person, "closed_on")?;
    let kept_until = add_months(closed_on, months);
    if today <= kept_until {
        return None;
    }
    if date_of(person, "keep_until").is_some_and(|until| until >= today) {
        return None;
    }
    Some(PastRetention {
        closed_on,
        kept_until,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FieldName, Kind, ReplicaId, Timestamp};
    use serde_json::json;
    /// The date `text` (`YYYY-MM-DD`).
    fn date(text: &str) -> NaiveDate {
        crate::dates::parse_date(text).unwrap()
    }

    fn state(kind: &str, fields: Value) -> RecordState {
        let fields = fields
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.parse::<FieldName>().unwrap(), v.clone()));
        RecordState::create(
            RecordId::from_u128(5),
            kind.parse::<Kind>().unwrap(),
            ReplicaId::from_u128(1),
            "2026-11-30T10:00:00Z".parse::<Timestamp>().unwrap(),
            fields,
        )
        .unwrap()
    }

    #[test]
    fn the_settings_id_is_a_lowercase_uuid() {
        assert_eq!(
            SETTINGS_ID.to_string(),
            "00000000-0000-7000-8000-6f7267616e69"
        );
    }

    #[test]
    fn retention_reads_the_settings_or_the_default() {
        assert_eq!(retention_months(None), 24);
        let set = state(SETTINGS_KIND, json!({"retention_months": 36}));
        assert_eq!(retention_months(Some(&set)), 36);
        for bad in [json!(0), json!(241), json!(1.5), json!("12")] {
            let set = state(SETTINGS_KIND, json!({ "retention_months": bad }));
            assert_eq!(retention_months(Some(&set)), 24, "{bad} is not a retention");
        }
    }

    #[test]
    fn months_are_added_on_the_calendar() {
        assert_eq!(add_months(date("2024-01-31"), 1), date("2024-02-29"));
        assert_eq!(add_months(date("2024-11-15"), 24), date("2026-11-15"));
        assert_eq!(add_months(date("2025-12-01"), 1), date("2026-01-01"));
    }

    #[test]
    fn a_closed_file_is_past_its_retention_the_day_after_it_ends() {
        let closed = |extra: Value| {
            let mut fields = json!({"status": "closed", "closed_on": "2024-11-15"});
            fields
                .as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            state("person", fields)
        };
        let person = closed(json!({}));
        assert_eq!(past_retention(&person, 24, date("2026-11-15")), None);
        assert_eq!(
            past_retention(&person, 24, date("2026-11-16")),
            Some(PastRetention {
                closed_on: date("2024-11-15"),
                kept_until: date("2026-11-15")
            })
        );
        let kept = closed(json!({"keep_until": "2027-06-30", "keep_reason": "procédure"}));
        assert_eq!(past_retention(&kept, 24, date("2026-11-30")), None);
        assert!(past_retention(&kept, 24, date("2027-07-01")).is_some());
        let active = state(
            "person",
            json!({"status": "active", "closed_on": "2020-01-01"}),
        );
        assert_eq!(past_retention(&active, 24, date("2026-11-30")), None);
        let undated = state("person", json!({"status": "closed"}));
        assert_eq!(past_retention(&undated, 24, date("2026-11-30")), None);
    }
}
