//! Reporting periods and the organisation's time zone.
//!
//! A period is two calendar days, both included, read in the organisation's time zone
//! (DOMAIN.md, CLI.md). Dates of records (`start_on`, `to_on`, …) are calendar days
//! already and compare as they are; a visit's `occurred_at` is an instant, and falls in
//! the period when its local day does.
//!
//! The time zone is Europe/Paris unless the setting `time_zone` says otherwise. Its rule
//! is written here rather than read from a time-zone database: France has followed the
//! European Union's rule since 1996 (UTC+1, and UTC+2 from 01:00 UTC on the last Sunday
//! of March to 01:00 UTC on the last Sunday of October), the programme's records all
//! date from after that, and a database would add a dependency (or the system's tzdata,
//! which a Windows laptop lacks) for no other zone the programme needs. The setting also
//! takes `UTC` or a fixed offset such as `+01:00`; any other value is refused.

use serde::Serialize;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset, Weekday};

use crate::error::{Error, Result};
use crate::store::CaseFile;

/// The setting that names the organisation's time zone.
pub const SETTING_TIME_ZONE: &str = "time_zone";

/// How local days map to instants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TimeZone {
    /// Central European Time with the EU's summer time (Europe/Paris since 1996).
    EuropeParis,
    /// A fixed offset from UTC, in seconds.
    Fixed(i32),
}

impl TimeZone {
    /// Reads a time zone setting: `Europe/Paris` (also `CET`), `UTC`, or `±HH:MM`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "Europe/Paris" | "CET" => return Some(Self::EuropeParis),
            "UTC" | "Z" => return Some(Self::Fixed(0)),
            _ => {}
        }
        let format = time::macros::format_description!("[offset_hour]:[offset_minute]");
        UtcOffset::parse(text, &format)
            .ok()
            .map(|o| Self::Fixed(o.whole_seconds()))
    }

    /// The offset from UTC at the instant `at`.
    pub fn offset_at(self, at: OffsetDateTime) -> UtcOffset {
        match self {
            Self::Fixed(seconds) => {
                UtcOffset::from_whole_seconds(seconds).unwrap_or(UtcOffset::UTC)
            }
            Self::EuropeParis => {
                let utc = at.to_offset(UtcOffset::UTC);
                let year = utc.year();
                let (Some(start), Some(end)) = (
                    last_sunday_1am_utc(year, Month::March),
                    last_sunday_1am_utc(year, Month::October),
                ) else {
                    return hours(1);
                };
                if utc >= start && utc < end {
                    hours(2)
                } else {
                    hours(1)
                }
            }
        }
    }

    /// The local calendar day of the instant `at`.
    pub fn local_date(self, at: OffsetDateTime) -> Date {
        at.to_offset(self.offset_at(at)).date()
    }

    /// The local time of the instant `at`.
    pub fn local(self, at: OffsetDateTime) -> OffsetDateTime {
        at.to_offset(self.offset_at(at))
    }

    /// The first instant of the local day `day` (local midnight, which no change of
    /// offset in this zone skips: they happen at 02:00 or 03:00 local time).
    pub fn start_of(self, day: Date) -> OffsetDateTime {
        let naive = PrimitiveDateTime::new(day, Time::MIDNIGHT);
        // The offset of the instant that midnight UTC of the same day is: right for every
        // local midnight, as the changes happen at 01:00 UTC.
        let guess = naive.assume_utc();
        naive.assume_offset(self.offset_at(guess))
    }
}

fn hours(h: i8) -> UtcOffset {
    UtcOffset::from_hms(h, 0, 0).unwrap_or(UtcOffset::UTC)
}

fn last_sunday_1am_utc(year: i32, month: Month) -> Option<OffsetDateTime> {
    let last = Date::from_calendar_date(year, month, month.length(year)).ok()?;
    let back = last.weekday().number_days_from_sunday();
    let sunday = last.saturating_sub(time::Duration::days(i64::from(back)));
    debug_assert_eq!(sunday.weekday(), Weekday::Sunday);
    Some(PrimitiveDateTime::new(sunday, Time::from_hms(1, 0, 0).ok()?).assume_utc())
}

/// A reporting period: `from` and `to` both included, local days of `zone`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// The first day.
    pub from: Date,
    /// The last day.
    pub to: Date,
    /// The organisation's time zone.
    pub zone: TimeZone,
}

impl Period {
    /// A period from two dates `YYYY-MM-DD`.
    ///
    /// Errors: [`Error::Invalid`] naming `from` or `to` when a date does not read, or
    /// `to` when it comes before `from`.
    pub fn new(from: &str, to: &str, zone: TimeZone) -> Result<Self> {
        let from = parse_date(from).ok_or_else(|| Error::invalid("from", "a date YYYY-MM-DD"))?;
        let to = parse_date(to).ok_or_else(|| Error::invalid("to", "a date YYYY-MM-DD"))?;
        if to < from {
            return Err(Error::invalid(
                "to",
                "a date on or after the period's first day",
            ));
        }
        Ok(Self { from, to, zone })
    }

    /// `from` as `YYYY-MM-DD`.
    pub fn from_text(&self) -> String {
        date_text(self.from)
    }

    /// `to` as `YYYY-MM-DD`.
    pub fn to_text(&self) -> String {
        date_text(self.to)
    }

    /// Whether the day `text` (`YYYY-MM-DD`) falls in the period; false when it does not
    /// read as a day.
    pub fn holds_day(&self, text: &str) -> bool {
        parse_date(text).is_some_and(|d| d >= self.from && d <= self.to)
    }

    /// Whether the instant `at` falls on a local day of the period.
    pub fn holds_instant(&self, at: OffsetDateTime) -> bool {
        let day = self.zone.local_date(at);
        day >= self.from && day <= self.to
    }

    /// The period's bounds as UTC timestamps written as the derived tables write them
    /// (`YYYY-MM-DDTHH:MM:SSZ`): the start included, the end excluded.
    pub(crate) fn utc_bounds(&self) -> (String, String) {
        let start = self.zone.start_of(self.from);
        let end = match self.to.next_day() {
            Some(next) => self.zone.start_of(next),
            None => PrimitiveDateTime::new(self.to, Time::MAX).assume_utc(),
        };
        (utc_text(start), utc_text(end))
    }
}

/// Reads `YYYY-MM-DD`.
pub(crate) fn parse_date(text: &str) -> Option<Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    if text.len() != 10 {
        return None;
    }
    Date::parse(text, &format).ok()
}

/// Writes `YYYY-MM-DD`.
pub(crate) fn date_text(day: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        day.year(),
        u8::from(day.month()),
        day.day()
    )
}

fn utc_text(at: OffsetDateTime) -> String {
    sync_protocol::Timestamp::from_datetime(at).to_string()
}

impl CaseFile {
    /// The organisation's time zone: the setting `time_zone` when it reads, else
    /// Europe/Paris.
    ///
    /// Errors: [`Error::Invalid`] naming `time_zone` when the setting holds something
    /// else than `Europe/Paris`, `UTC` or `±HH:MM`.
    pub fn time_zone(&self) -> Result<TimeZone> {
        match self.setting(SETTING_TIME_ZONE)? {
            None => Ok(TimeZone::EuropeParis),
            Some(text) => TimeZone::parse(&text).ok_or_else(|| {
                Error::invalid(
                    SETTING_TIME_ZONE,
                    "Europe/Paris, UTC or an offset such as +01:00",
                )
            }),
        }
    }

    /// A period from two dates `YYYY-MM-DD` in the organisation's time zone.
    ///
    /// Errors: as [`Period::new`] and [`CaseFile::time_zone`].
    pub fn period(&self, from: &str, to: &str) -> Result<Period> {
        Period::new(from, to, self.time_zone()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn paris_follows_the_eu_rule() {
        let paris = TimeZone::EuropeParis;
        // 2026: summer time from 29 March 01:00 UTC to 25 October 01:00 UTC.
        assert_eq!(paris.offset_at(datetime!(2026-03-29 00:59 UTC)), hours(1));
        assert_eq!(paris.offset_at(datetime!(2026-03-29 01:00 UTC)), hours(2));
        assert_eq!(paris.offset_at(datetime!(2026-10-25 00:59 UTC)), hours(2));
        assert_eq!(paris.offset_at(datetime!(2026-10-25 01:00 UTC)), hours(1));
        assert_eq!(
            paris.local_date(datetime!(2026-11-30 23:30 UTC)),
            time::macros::date!(2026 - 12 - 01),
            "half past midnight in Paris is the next day"
        );
        assert_eq!(
            paris.start_of(time::macros::date!(2026 - 07 - 01)),
            datetime!(2026-06-30 22:00 UTC)
        );
    }

    #[test]
    fn periods_include_both_days() {
        let p = Period::new("2026-11-01", "2026-11-30", TimeZone::EuropeParis).unwrap();
        assert!(p.holds_day("2026-11-01") && p.holds_day("2026-11-30"));
        assert!(!p.holds_day("2026-12-01") && !p.holds_day("2026-10-31"));
        assert!(!p.holds_day("2026-11"), "a month is not a day");
        assert_eq!(
            p.utc_bounds(),
            (
                "2026-10-31T23:00:00Z".to_owned(),
                "2026-11-30T23:00:00Z".to_owned()
            )
        );
        assert!(Period::new("2026-11-30", "2026-11-01", TimeZone::EuropeParis).is_err());
        assert_eq!(TimeZone::parse("+02:00"), Some(TimeZone::Fixed(7200)));
        assert_eq!(TimeZone::parse("Mars/Olympus"), None);
    }
}
