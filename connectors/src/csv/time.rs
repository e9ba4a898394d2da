//! Event-time parsing for delimited logs: epoch ms, epoch s, RFC 3339, or a `strftime`
//! pattern for naive local times in a [`Zone`], optionally the start of a range
//! (`2024-01-01 6:00-6:59` → 06:00) and on a business day that starts at a given clock time
//! (with `day_start` 06:00, `2024-01-01 0:00` is 2024-01-02 00:00 local).
//!
//! The zones and their DST rules (how a naive local time in the autumn fold or the spring
//! gap is read) are [`msec_engine::zone`]'s: the mapping is monotone, so a log sorted by
//! local time stays sorted in UTC and the DST gap creates no late records.

use chrono::{NaiveDateTime, NaiveTime};

pub use msec_engine::zone::Zone;

/// How a time column is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeFormat {
    /// Integer epoch milliseconds.
    EpochMs,
    /// Epoch seconds, optionally with a fraction (digits past milliseconds are truncated).
    EpochS,
    /// RFC 3339 with its own offset.
    Rfc3339,
    /// A chrono `strftime` pattern for a naive local time in a zone.
    Strftime {
        /// The pattern, e.g. `%Y-%m-%dT%H:%M:%S%.3f`.
        pattern: String,
        /// The zone of the local times.
        zone: Zone,
        /// The text is a range `start-end` read as its start: the pattern matches a prefix,
        /// and what follows is empty or (after spaces) starts with `-`.
        range_start: bool,
        /// Clock times before this belong to the day after the parsed date.
        day_start: Option<NaiveTime>,
    },
}

/// Why a time could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeError {
    /// Not written in the format.
    Invalid,
    /// Well-formed but does not fit `i64` milliseconds.
    Overflow,
}

impl TimeFormat {
    /// A short description for dead-letter details.
    pub fn describe(&self) -> String {
        match self {
            TimeFormat::EpochMs => "integer epoch ms".into(),
            TimeFormat::EpochS => "epoch seconds".into(),
            TimeFormat::Rfc3339 => "an RFC 3339 time".into(),
            TimeFormat::Strftime {
                pattern,
                range_start: false,
                ..
            } => format!("a local time like {pattern:?}"),
            TimeFormat::Strftime { pattern, .. } => {
                format!("a local time like {pattern:?} or a range starting with one")
            }
        }
    }

    /// Parses `text` (already trimmed) to epoch ms.
    pub fn parse(&self, text: &str) -> Result<i64, TimeError> {
        match self {
            TimeFormat::EpochMs => parse_epoch(text, 0),
            TimeFormat::EpochS => parse_epoch(text, 3),
            TimeFormat::Rfc3339 => chrono::DateTime::parse_from_rfc3339(text)
                .map(|t| t.timestamp_millis())
                .map_err(|_| TimeError::Invalid),
            TimeFormat::Strftime {
                pattern,
                zone,
                range_start,
                day_start,
            } => {
                let local = if *range_start {
                    let (t, rest) = NaiveDateTime::parse_and_remainder(text, pattern)
                        .map_err(|_| TimeError::Invalid)?;
                    let rest = rest.trim_start();
                    if !(rest.is_empty() || rest.starts_with('-')) {
                        return Err(TimeError::Invalid);
                    }
                    t
                } else {
                    NaiveDateTime::parse_from_str(text, pattern).map_err(|_| TimeError::Invalid)?
                };
                let local = match day_start {
                    Some(start) if local.time() < *start => local
                        .checked_add_signed(chrono::Duration::days(1))
                        .ok_or(TimeError::Overflow)?,
                    _ => local,
                };
                Ok(zone.to_utc_ms(local))
            }
        }
    }
}

/// `[-]digits[.digits]` scaled by `10^scale` to an integer; at most `scale` fraction digits
/// are kept (the rest truncated); with `scale == 0` no fraction is allowed.
fn parse_epoch(text: &str, scale: u32) -> Result<i64, TimeError> {
    let (neg, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) if scale > 0 => (i, f),
        Some(_) => return Err(TimeError::Invalid),
        None => (body, ""),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !digits(int) || !digits(frac) {
        return Err(TimeError::Invalid);
    }
    let mut v: i64 = 0;
    for b in int.bytes() {
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(i64::from(b - b'0')))
            .ok_or(TimeError::Overflow)?;
    }
    let mut frac_bytes = frac.bytes();
    for _ in 0..scale {
        let d = frac_bytes.next().map_or(0, |b| i64::from(b - b'0'));
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(d))
            .ok_or(TimeError::Overflow)?;
    }
    Ok(if neg { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").expect("test time")
    }

    fn utc(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s)
            .expect("test time")
            .timestamp_millis()
    }

    #[test]
    fn zones_parse() {
        assert_eq!(Zone::parse("UTC"), Some(Zone::Fixed(0)));
        assert_eq!(Zone::parse("+01:30"), Some(Zone::Fixed(5400)));
        assert_eq!(Zone::parse("-05:00"), Some(Zone::Fixed(-18000)));
        assert_eq!(Zone::parse("Europe/Paris"), Some(Zone::EuropeMadrid));
        assert_eq!(Zone::parse("Asia/Tokyo"), Some(Zone::AsiaTokyo));
        assert_eq!(Zone::parse("Pacific/Auckland"), Some(Zone::PacificAuckland));
        for bad in [
            "",
            "+1:00",
            "+24:00",
            "01:00",
            "Europe/Berlin",
            "+0a:00",
            "+01:+5",
        ] {
            assert_eq!(Zone::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn madrid_local_times_across_both_changes() {
        let z = Zone::EuropeMadrid;
        assert_eq!(
            z.to_utc_ms(local("2017-01-16T17:49:25")),
            utc("2017-01-16T16:49:25Z")
        );
        assert_eq!(
            z.to_utc_ms(local("2017-07-01T12:00:00")),
            utc("2017-07-01T10:00:00Z")
        );
        // Spring: 01:59:59 CET, then the gap 02:00..03:00 at the change, then CEST.
        assert_eq!(
            z.to_utc_ms(local("2017-03-26T01:59:59")),
            utc("2017-03-26T00:59:59Z")
        );
        assert_eq!(
            z.to_utc_ms(local("2017-03-26T02:30:00")),
            utc("2017-03-26T01:00:00Z")
        );
        assert_eq!(
            z.to_utc_ms(local("2017-03-26T03:00:00")),
            utc("2017-03-26T01:00:00Z")
        );
        // Autumn: the fold 02:00..03:00 is read as summer time (the earlier instant).
        assert_eq!(
            z.to_utc_ms(local("2017-10-29T01:59:59")),
            utc("2017-10-28T23:59:59Z")
        );
        assert_eq!(
            z.to_utc_ms(local("2017-10-29T02:30:00")),
            utc("2017-10-29T00:30:00Z")
        );
        assert_eq!(
            z.to_utc_ms(local("2017-10-29T03:00:00")),
            utc("2017-10-29T02:00:00Z")
        );
        // 2024: 31 March and 27 October.
        assert_eq!(
            z.to_utc_ms(local("2024-03-31T03:00:00")),
            utc("2024-03-31T01:00:00Z")
        );
        assert_eq!(
            z.to_utc_ms(local("2024-10-27T02:59:59")),
            utc("2024-10-27T00:59:59Z")
        );
    }

    #[test]
    fn tokyo_has_no_dst() {
        let z = Zone::AsiaTokyo;
        for (l, u) in [
            ("2017-03-26T02:30:00", "2017-03-25T17:30:00Z"),
            ("2017-10-29T02:30:00", "2017-10-28T17:30:00Z"),
            ("2017-07-01T09:00:00", "2017-07-01T00:00:00Z"),
        ] {
            assert_eq!(z.to_utc_ms(local(l)), utc(u), "{l}");
        }
    }

    #[test]
    fn formats() {
        assert_eq!(
            TimeFormat::EpochMs.parse("1500000000123"),
            Ok(1_500_000_000_123)
        );
        assert_eq!(TimeFormat::EpochMs.parse("1.5"), Err(TimeError::Invalid));
        assert_eq!(
            TimeFormat::EpochMs.parse("99999999999999999999"),
            Err(TimeError::Overflow)
        );
        assert_eq!(
            TimeFormat::EpochS.parse("1500000000"),
            Ok(1_500_000_000_000)
        );
        assert_eq!(
            TimeFormat::EpochS.parse("1500000000.1239"),
            Ok(1_500_000_000_123)
        );
        assert_eq!(TimeFormat::EpochS.parse("-1.5"), Ok(-1_500));
        assert_eq!(TimeFormat::EpochS.parse("1."), Ok(1_000));
        for bad in ["", "-", "x1", "1.2.3", " 1", "1e3"] {
            assert_eq!(
                TimeFormat::EpochS.parse(bad),
                Err(TimeError::Invalid),
                "{bad}"
            );
        }
        assert_eq!(
            TimeFormat::Rfc3339.parse("2017-01-16T17:49:25.864+01:00"),
            Ok(utc("2017-01-16T16:49:25.864Z"))
        );
        assert_eq!(
            TimeFormat::Rfc3339.parse("2017-01-16 17:49"),
            Err(TimeError::Invalid)
        );
        let f = TimeFormat::Strftime {
            pattern: "%Y-%m-%dT%H:%M:%S%.3f".into(),
            zone: Zone::EuropeMadrid,
            range_start: false,
            day_start: None,
        };
        assert_eq!(
            f.parse("2017-01-16T17:49:25.864"),
            Ok(utc("2017-01-16T16:49:25.864Z"))
        );
        assert_eq!(f.parse("2017-02-30T00:00:00.000"), Err(TimeError::Invalid));
        let fixed = TimeFormat::Strftime {
            pattern: "%d/%m/%Y %H:%M".into(),
            zone: Zone::Fixed(-3600),
            range_start: false,
            day_start: None,
        };
        assert_eq!(
            fixed.parse("16/01/2017 17:49"),
            Ok(utc("2017-01-16T18:49:00Z"))
        );
    }

    #[test]
    fn hour_ranges_and_business_days_in_auckland() {
        let f = TimeFormat::Strftime {
            pattern: "%Y-%m-%d %H:%M".into(),
            zone: Zone::PacificAuckland,
            range_start: true,
            day_start: None,
        };
        // 06:00 NZDT on New Year's day is 17:00Z the day before; NZST in July.
        assert_eq!(
            f.parse("2024-01-01 6:00-6:59"),
            Ok(utc("2023-12-31T17:00:00Z"))
        );
        assert_eq!(
            f.parse("2024-07-01 12:00-12:59"),
            Ok(utc("2024-07-01T00:00:00Z"))
        );
        assert_eq!(f.parse("2024-07-01 12:00"), Ok(utc("2024-07-01T00:00:00Z")));
        assert_eq!(
            f.parse("2024-07-01 12:00 - 12:59"),
            Ok(utc("2024-07-01T00:00:00Z"))
        );
        for bad in [
            "2024-07-01 12:00x",
            "2024-07-01 12:00:00",
            "2024-07-01",
            "2024-07-01 25:00-25:59",
            "12:00-12:59",
        ] {
            assert_eq!(f.parse(bad), Err(TimeError::Invalid), "{bad}");
        }
        // Without range_start the end is an error.
        let plain = TimeFormat::Strftime {
            pattern: "%Y-%m-%d %H:%M".into(),
            zone: Zone::PacificAuckland,
            range_start: false,
            day_start: None,
        };
        assert_eq!(plain.parse("2024-01-01 6:00-6:59"), Err(TimeError::Invalid));
        // A business day from 06:00: 0:00..5:59 belong to the next date.
        let day = TimeFormat::Strftime {
            pattern: "%Y-%m-%d %H:%M".into(),
            zone: Zone::PacificAuckland,
            range_start: true,
            day_start: NaiveTime::from_hms_opt(6, 0, 0),
        };
        for (text, want) in [
            ("2024-01-01 6:00-6:59", "2023-12-31T17:00:00Z"),
            ("2024-01-01 23:00-23:59", "2024-01-01T10:00:00Z"),
            ("2024-01-01 0:00-0:59", "2024-01-01T11:00:00Z"),
            ("2024-01-01 5:00-5:59", "2024-01-01T16:00:00Z"),
            ("2024-12-31 3:00-3:59", "2024-12-31T14:00:00Z"),
            // The block of Saturday 28 September 2024 ends on Sunday the 29th, the day NZDT
            // starts: 1:00 is NZST, 2:00 lies in the gap (the change), 3:00 is NZDT.
            ("2024-09-28 1:00-1:59", "2024-09-28T13:00:00Z"),
            ("2024-09-28 2:00-2:59", "2024-09-28T14:00:00Z"),
            ("2024-09-28 3:00-3:59", "2024-09-28T14:00:00Z"),
            ("2024-09-28 4:00-4:59", "2024-09-28T15:00:00Z"),
            // The block of Saturday 5 April 2025 ends on Sunday the 6th, when NZDT ends:
            // 2:00 is in the fold (read as NZDT), 3:00 is NZST.
            ("2025-04-05 2:00-2:59", "2025-04-05T13:00:00Z"),
            ("2025-04-05 3:00-3:59", "2025-04-05T15:00:00Z"),
        ] {
            assert_eq!(day.parse(text), Ok(utc(want)), "{text}");
        }
    }
}
