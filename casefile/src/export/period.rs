//! Reporting periods and the organisation's time zone.
//!
//! A period is two calendar days, both included, read in the organisation's time zone
//! (DOMAIN.md, CLI.md). Dates of records (`start_on`, `to_on`, …) are calendar days
//! already and compare as they are; a visit's `occurred_at` is an instant, and falls in
//! the period when its local day does.
//!
//! The time zone is Europe/Paris unless the setting `time_zone` says otherwise: any zone
//! of the IANA database (chrono-tz, built in, so a laptop without the system's tzdata
//! reads it the same: `Europe/Bucharest`, `Europe/Sofia`…), `UTC`, or a fixed offset such
//! as `+01:00`; any other value is refused.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, Offset, Utc};
use chrono_tz::Tz;

use crate::error::{Error, Result};
use crate::store::CaseFile;

/// The setting that names the organisation's time zone.
pub const SETTING_TIME_ZONE: &str = "time_zone";

/// How local days map to instants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeZone {
    /// A zone of the IANA database, with its summer time.
    Named(Tz),
    /// A fixed offset from UTC, in seconds.
    Fixed(i32),
}

impl TimeZone {
    /// The organisation's zone unless it says otherwise.
    pub const EUROPE_PARIS: Self = Self::Named(Tz::Europe__Paris);

    /// Reads a time zone setting: an IANA name (`Europe/Paris`), `UTC`, or `±HH:MM`.
    pub fn parse(text: &str) -> Option<Self> {
        if matches!(text, "UTC" | "Z") {
            return Some(Self::Fixed(0));
        }
        if let Ok(zone) = text.parse::<Tz>() {
            return Some(Self::Named(zone));
        }
        let b = text.as_bytes();
        let two = |at: usize| -> Option<i32> {
            let part = b.get(at..at + 2)?;
            part.iter()
                .all(u8::is_ascii_digit)
                .then(|| i32::from(part[0] - b'0') * 10 + i32::from(part[1] - b'0'))
        };
        // The sign may be left out (`01:00`), as the setting was read before.
        let (sign, at) = match b.first() {
            Some(b'+') => (1, 1),
            Some(b'-') => (-1, 1),
            _ => (1, 0),
        };
        let hours = two(at).filter(|h| *h <= 23)?;
        let minutes = two(at + 3).filter(|m| *m <= 59)?;
        (b.len() == at + 5 && b.get(at + 2) == Some(&b':'))
            .then_some(Self::Fixed(sign * (hours * 3600 + minutes * 60)))
    }

    /// The offset from UTC at the instant `at`.
    pub fn offset_at(self, at: DateTime<Utc>) -> FixedOffset {
        match self {
            Self::Fixed(seconds) => FixedOffset::east_opt(seconds).unwrap_or(Utc.fix()),
            Self::Named(zone) => {
                use chrono::TimeZone as _;
                zone.offset_from_utc_datetime(&at.naive_utc()).fix()
            }
        }
    }

    /// The local calendar day of the instant `at`.
    pub fn local_date<Z: chrono::TimeZone>(self, at: DateTime<Z>) -> NaiveDate {
        self.local(at).date_naive()
    }

    /// The local time of the instant `at`.
    pub fn local<Z: chrono::TimeZone>(self, at: DateTime<Z>) -> DateTime<FixedOffset> {
        let utc = at.with_timezone(&Utc);
        utc.with_timezone(&self.offset_at(utc))
    }

    /// The first instant of the local day `day`: local midnight, or, in a zone whose
    /// clocks skip midnight on that day, the instant they jump to.
    pub fn start_of(self, day: NaiveDate) -> DateTime<FixedOffset> {
        let midnight = day.and_time(NaiveTime::MIN);
        let first = match self {
            Self::Fixed(_) => None,
            Self::Named(zone) => {
                use chrono::TimeZone as _;
                zone.from_local_datetime(&midnight)
                    .earliest()
                    .or_else(|| chrono_tz::GapInfo::new(&midnight, &zone)?.end)
                    .map(|at| at.fixed_offset())
            }
        };
        first.unwrap_or_else(|| {
            let instant = midnight.and_utc();
            let offset = self.offset_at(instant);
            (midnight - chrono::Duration::seconds(i64::from(offset.local_minus_utc())))
                .and_utc()
                .with_timezone(&offset)
        })
    }

    /// The zone as the setting writes it.
    pub fn name(self) -> String {
        match self {
            Self::Named(zone) => zone.name().to_owned(),
            Self::Fixed(0) => "UTC".to_owned(),
            Self::Fixed(seconds) => {
                let sign = if seconds < 0 { '-' } else { '+' };
                let s = seconds.abs();
                format!("{sign}{:02}:{:02}", s / 3600, s % 3600 / 60)
            }
        }
    }
}

/// A reporting period: `from` and `to` both included, local days of `zone`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// The first day.
    pub from: NaiveDate,
    /// The last day.
    pub to: NaiveDate,
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
    pub fn holds_instant<Z: chrono::TimeZone>(&self, at: DateTime<Z>) -> bool {
        let day = self.zone.local_date(at);
        day >= self.from && day <= self.to
    }

    /// The period's bounds as UTC timestamps written as the derived tables write them
    /// (`YYYY-MM-DDTHH:MM:SSZ`): the start included, the end excluded.
    pub(crate) fn utc_bounds(&self) -> (String, String) {
        let start = self.zone.start_of(self.from);
        let end = match self.to.succ_opt() {
            Some(next) => self.zone.start_of(next),
            None => NaiveDate::MAX
                .and_time(NaiveTime::MIN)
                .and_utc()
                .fixed_offset(),
        };
        (utc_text(start), utc_text(end))
    }
}

/// Reads `YYYY-MM-DD`.
pub(crate) fn parse_date(text: &str) -> Option<NaiveDate> {
    sync_protocol::dates::parse_date(text)
}

/// Writes `YYYY-MM-DD`.
pub(crate) fn date_text(day: NaiveDate) -> String {
    sync_protocol::dates::date_text(day)
}

fn utc_text(at: DateTime<FixedOffset>) -> String {
    sync_protocol::Timestamp::from_datetime(at).to_string()
}

impl CaseFile {
    /// The organisation's time zone: the setting `time_zone` when it reads, else
    /// Europe/Paris.
    ///
    /// Errors: [`Error::Invalid`] naming `time_zone` when the setting holds something
    /// else than an IANA zone, `UTC` or `±HH:MM`.
    pub fn time_zone(&self) -> Result<TimeZone> {
        match self.setting(SETTING_TIME_ZONE)? {
            None => Ok(TimeZone::EUROPE_PARIS),
            Some(text) => TimeZone::parse(&text).ok_or_else(|| {
                Error::invalid(
                    SETTING_TIME_ZONE,
                    "a time zone such as Europe/Paris or Europe/Bucharest, UTC, or an offset such as +01:00",
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

    fn utc(text: &str) -> DateTime<Utc> {
        sync_protocol::dates::parse_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn day(text: &str) -> NaiveDate {
        parse_date(text).unwrap()
    }

    fn hours(h: i32) -> FixedOffset {
        FixedOffset::east_opt(h * 3600).unwrap()
    }

    #[test]
    fn paris_follows_the_eu_rule() {
        let paris = TimeZone::EUROPE_PARIS;
        // 2026: summer time from 29 March 01:00 UTC to 25 October 01:00 UTC.
        assert_eq!(paris.offset_at(utc("2026-03-29T00:59:00Z")), hours(1));
        assert_eq!(paris.offset_at(utc("2026-03-29T01:00:00Z")), hours(2));
        assert_eq!(paris.offset_at(utc("2026-10-25T00:59:00Z")), hours(2));
        assert_eq!(paris.offset_at(utc("2026-10-25T01:00:00Z")), hours(1));
        assert_eq!(
            paris.local_date(utc("2026-11-30T23:30:00Z")),
            day("2026-12-01"),
            "half past midnight in Paris is the next day"
        );
        assert_eq!(
            paris.start_of(day("2026-07-01")),
            utc("2026-06-30T22:00:00Z")
        );
    }

    /// The days around both changes of 2026 start at local midnight: the day of a change
    /// lasts 23 or 25 hours.
    #[test]
    fn days_around_the_changes_start_at_local_midnight() {
        let paris = TimeZone::EUROPE_PARIS;
        let start = |d: &str| paris.start_of(day(d)).with_timezone(&Utc);
        assert_eq!(start("2026-03-29"), utc("2026-03-28T23:00:00Z"));
        assert_eq!(start("2026-03-30"), utc("2026-03-29T22:00:00Z"));
        assert_eq!(start("2026-10-25"), utc("2026-10-24T22:00:00Z"));
        assert_eq!(start("2026-10-26"), utc("2026-10-25T23:00:00Z"));
        let march = Period::new("2026-03-29", "2026-03-29", paris).unwrap();
        assert_eq!(
            march.utc_bounds(),
            (
                "2026-03-28T23:00:00Z".to_owned(),
                "2026-03-29T22:00:00Z".to_owned()
            )
        );
        assert!(march.holds_instant(utc("2026-03-29T21:59:59Z")));
        assert!(!march.holds_instant(utc("2026-03-29T22:00:00Z")));
        let october = Period::new("2026-10-25", "2026-10-25", paris).unwrap();
        assert_eq!(
            october.utc_bounds(),
            (
                "2026-10-24T22:00:00Z".to_owned(),
                "2026-10-25T23:00:00Z".to_owned()
            )
        );
    }

    /// A partner in Bucharest or Sofia has its own zone (UTC+2, +3 in summer), and a
    /// zone whose clocks skip midnight starts its day at the first local time there is.
    #[test]
    fn other_zones_are_read_from_the_iana_database() {
        let bucharest = TimeZone::parse("Europe/Bucharest").unwrap();
        assert_eq!(bucharest.offset_at(utc("2026-01-15T12:00:00Z")), hours(2));
        assert_eq!(bucharest.offset_at(utc("2026-07-15T12:00:00Z")), hours(3));
        assert_eq!(bucharest.name(), "Europe/Bucharest");
        let sofia = TimeZone::parse("Europe/Sofia").unwrap();
        assert_eq!(
            sofia.start_of(day("2026-11-02")),
            utc("2026-11-01T22:00:00Z")
        );
        // Santiago moved its clocks from 00:00 to 01:00 on 7 September 2025.
        let santiago = TimeZone::parse("America/Santiago").unwrap();
        assert_eq!(
            santiago.start_of(day("2025-09-07")),
            utc("2025-09-07T04:00:00Z"),
            "midnight did not exist: the day starts when the clocks jumped"
        );
    }

    #[test]
    fn periods_include_both_days() {
        let p = Period::new("2026-11-01", "2026-11-30", TimeZone::EUROPE_PARIS).unwrap();
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
        assert!(Period::new("2026-11-30", "2026-11-01", TimeZone::EUROPE_PARIS).is_err());
        assert_eq!(TimeZone::parse("+02:00"), Some(TimeZone::Fixed(7200)));
        assert_eq!(TimeZone::parse("-05:30"), Some(TimeZone::Fixed(-19800)));
        assert_eq!(TimeZone::parse("UTC"), Some(TimeZone::Fixed(0)));
        assert_eq!(
            TimeZone::parse("02:00"),
            Some(TimeZone::Fixed(7200)),
            "the sign may be left out, as before"
        );
        for bad in [
            "Mars/Olympus",
            "+2:00",
            "+24:00",
            "+02:60",
            "+02:00 ",
            "+0200",
        ] {
            assert_eq!(TimeZone::parse(bad), None, "{bad}");
        }
        assert_eq!(TimeZone::Fixed(-19800).name(), "-05:30");
    }
}
