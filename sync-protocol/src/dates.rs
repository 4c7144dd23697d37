//! Dates and times as the protocol writes them: RFC 3339 timestamps (§2) and
//! `YYYY-MM-DD` dates. Read exactly as before chrono (the tests hold them to the `time`
//! crate's readers): a leap second only where one can be, dates with their zeros.

use chrono::{
    DateTime, Datelike, FixedOffset, NaiveDate, NaiveTime, SecondsFormat, TimeZone, Timelike, Utc,
};

/// An RFC 3339 date-time (`2026-11-02T10:14:00Z`, `2026-11-02T11:14:00.5+01:00`), read
/// as the protocol always read them: any one character between date and time (RFC 3339
/// §5.6 allows a space), `z` for `Z`, any number of fractional digits (the first nine
/// count), offsets within ±23:59, and a leap second (`23:59:60` UTC on a month's last day
/// only) read as the last nanosecond before it.
pub fn parse_rfc3339(text: &str) -> Option<DateTime<FixedOffset>> {
    let b = text.as_bytes();
    let digits = |at: usize, n: usize| -> Option<u32> {
        let part = b.get(at..at + n)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0, |v, d| v * 10 + u32::from(d - b'0')))
    };
    let is = |at: usize, c: u8| b.get(at) == Some(&c);
    let year = digits(0, 4)?;
    let month = digits(5, 2).filter(|_| is(4, b'-'))?;
    let day = digits(8, 2).filter(|_| is(7, b'-'))?;
    // Byte 10 is the separator, whatever it is: the hour's digits follow it.
    let hour = digits(11, 2)?;
    let minute = digits(14, 2).filter(|_| is(13, b':'))?;
    let second = digits(17, 2).filter(|_| is(16, b':'))?;
    let mut at = 19;
    let mut nanos = 0;
    if is(at, b'.') {
        at += 1;
        let first = at;
        let mut weight = 100_000_000;
        while let Some(d) = b.get(at).filter(|d| d.is_ascii_digit()) {
            nanos += u32::from(d - b'0') * weight;
            weight /= 10;
            at += 1;
        }
        if at == first {
            return None;
        }
    }
    let offset = match *b.get(at)? {
        b'Z' | b'z' => {
            at += 1;
            0
        }
        sign @ (b'+' | b'-') => {
            let hours = digits(at + 1, 2).filter(|h| *h <= 23)?;
            let minutes = digits(at + 4, 2).filter(|m| *m <= 59 && is(at + 3, b':'))?;
            at += 6;
            let seconds = i32::try_from(hours * 3600 + minutes * 60).ok()?;
            if sign == b'-' { -seconds } else { seconds }
        }
        _ => return None,
    };
    if at != b.len() || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let leap = second == 60;
    let (second, nanos) = if leap {
        (59, 999_999_999)
    } else {
        (second, nanos)
    };
    let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    let local = date.and_time(NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)?);
    let parsed = FixedOffset::east_opt(offset)?
        .from_local_datetime(&local)
        .single()?;
    let utc = parsed.naive_utc();
    let last_day = utc.date().succ_opt().is_none_or(|next| next.day() == 1);
    if leap && !(utc.hour() == 23 && utc.minute() == 59 && last_day) {
        return None;
    }
    Some(parsed)
}

/// A calendar date written `YYYY-MM-DD`, with its zeros, that exists.
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    let b = text.as_bytes();
    let shaped = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shaped {
        return None;
    }
    let number = |range: std::ops::Range<usize>| text.get(range)?.parse::<u32>().ok();
    NaiveDate::from_ymd_opt(
        i32::try_from(number(0..4)?).ok()?,
        number(5..7)?,
        number(8..10)?,
    )
}

/// `date` as `YYYY-MM-DD`.
pub fn date_text(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// `at` in UTC with second precision, as the protocol writes new timestamps
/// (`2026-11-02T10:14:00Z`).
pub fn utc_text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The rare cases the generator seldom makes, read as the `time` crate read them:
    /// leap seconds where one can be and where none can, and text after the offset.
    #[test]
    fn leap_seconds_and_trailing_text_read_as_before() {
        use time::format_description::well_known::Rfc3339;
        let cases = [
            ("2026-12-31T23:59:60Z", true),
            ("2026-06-30T23:59:60.5Z", true),
            ("2026-06-29T23:59:60Z", false),
            ("2027-01-01T00:59:60+01:00", true),
            ("2026-12-31T23:59:60+01:00", false),
            ("0000-01-01T00:59:60+01:00", true),
            ("2026-11-02T10:14:00Z ", false),
            ("2026-11-02T10:14:00+01:00x", false),
            ("2026-11-02T10:14:00ZZ", false),
        ];
        for (text, accepted) in cases {
            let before = time::OffsetDateTime::parse(text, &Rfc3339).ok();
            let now = parse_rfc3339(text);
            assert_eq!(now.is_some(), accepted, "{text}");
            assert_eq!(
                before.map(|t| (t.unix_timestamp(), t.nanosecond())),
                now.map(|t| (t.timestamp(), t.timestamp_subsec_nanos())),
                "{text}"
            );
        }
    }

    #[test]
    fn dates_are_read_with_their_zeros_only() {
        assert_eq!(
            parse_date("2026-02-28"),
            NaiveDate::from_ymd_opt(2026, 2, 28)
        );
        for text in [
            "2026-2-28",
            "2026-02-29",
            "26-02-28",
            "+2026-02-28",
            "2026/02/28",
            "2026-02-28 ",
        ] {
            assert_eq!(parse_date(text), None, "{text}");
        }
        assert_eq!(date_text(parse_date("0999-01-01").unwrap()), "0999-01-01");
    }

    /// One piece of a timestamp: as the protocol writes it, or a variant a parser might
    /// wrongly take.
    fn timestamps() -> impl Strategy<Value = String> {
        let year = prop_oneof![
            Just("2026".to_owned()),
            Just("0000".to_owned()),
            Just("9999".to_owned()),
            "[0-9]{3,5}"
        ];
        let month = prop_oneof![
            Just("02".to_owned()),
            Just("12".to_owned()),
            Just("13".to_owned()),
            Just("2".to_owned()),
            "[0-9]{2}"
        ];
        let day = prop_oneof![
            Just("28".to_owned()),
            Just("29".to_owned()),
            Just("31".to_owned()),
            Just("00".to_owned()),
            "[0-9]{2}"
        ];
        let sep = prop_oneof![
            Just("T"),
            Just("t"),
            Just(" "),
            Just("_"),
            Just("é"),
            Just("")
        ];
        let hour = prop_oneof![
            Just("23".to_owned()),
            Just("24".to_owned()),
            Just("00".to_owned()),
            "[0-9]{2}"
        ];
        let minute = prop_oneof![Just("59".to_owned()), Just("60".to_owned()), "[0-9]{2}"];
        let second = prop_oneof![
            Just("59".to_owned()),
            Just("60".to_owned()),
            Just("61".to_owned()),
            "[0-9]{2}"
        ];
        let fraction = prop_oneof![
            Just(String::new()),
            Just(".".to_owned()),
            "\\.[0-9]{1,12}",
            Just(",5".to_owned())
        ];
        let offset = prop_oneof![
            Just("Z".to_owned()),
            Just("z".to_owned()),
            Just("+01:00".to_owned()),
            Just("-00:00".to_owned()),
            Just("+23:59".to_owned()),
            Just("+24:00".to_owned()),
            Just("+0100".to_owned()),
            Just("+01".to_owned()),
            Just(String::new()),
            "[+-][0-9]{2}:[0-9]{2}"
        ];
        (
            year, month, day, sep, hour, minute, second, fraction, offset,
        )
            .prop_map(|(y, mo, d, s, h, mi, se, f, o)| {
                format!("{y}-{mo}-{d}{s}{h}:{mi}:{se}{f}{o}")
            })
    }

    proptest! {
        /// The reader accepts exactly what the `time` crate's RFC 3339 reader accepted
        /// (the protocol's reader before), at the same instant: no timestamp already
        /// written reads otherwise.
        #[test]
        fn timestamps_read_as_before(text in timestamps()) {
            use time::format_description::well_known::Rfc3339;
            let before = time::OffsetDateTime::parse(&text, &Rfc3339).ok();
            let now = parse_rfc3339(&text);
            prop_assert_eq!(
                before.map(|t| (t.unix_timestamp(), t.nanosecond(), t.offset().whole_seconds())),
                now.map(|t| (t.timestamp(), t.timestamp_subsec_nanos(), t.offset().local_minus_utc())),
                "{}", text
            );
        }

        /// Dates read as the `time` crate's `[year]-[month]-[day]` read them.
        #[test]
        fn dates_read_as_before(y in "[0-9]{4}", m in "[0-9]{1,2}", d in "[0-9]{1,2}") {
            let text = format!("{y}-{m}-{d}");
            let format = time::macros::format_description!("[year]-[month]-[day]");
            let before = time::Date::parse(&text, format).ok().filter(|_| text.len() == 10);
            prop_assert_eq!(before.map(|d| d.to_string()), parse_date(&text).map(date_text));
        }
    }
}
