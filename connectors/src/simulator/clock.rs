//! Local time for the simulated cities, without a time-zone database.
//!
//! * Europe/Madrid (Santander): UTC+1, and UTC+2 from the last Sunday of March 01:00 UTC to
//!   the last Sunday of October 01:00 UTC (the EU rule, in force since 1996).
//! * Asia/Tokyo (Fujisawa): UTC+9, no daylight saving time.

use chrono::{Datelike, NaiveDate};

/// One second in ms.
pub(crate) const SECOND: i64 = 1_000;
/// One minute in ms.
pub(crate) const MINUTE: i64 = 60_000;
/// One hour in ms.
pub(crate) const HOUR: i64 = 3_600_000;
/// One day in ms.
pub(crate) const DAY: i64 = 86_400_000;
/// Asia/Tokyo's offset from UTC.
pub(crate) const TOKYO_OFFSET: i64 = 9 * HOUR;

/// 01:00 UTC on the last Sunday of `month` (March or October: 31 days) of `year`.
fn last_sunday_0100_utc(year: i32, month: u32) -> Option<i64> {
    let last = NaiveDate::from_ymd_opt(year, month, 31)?;
    let back = i64::from(last.weekday().num_days_from_sunday());
    let date = last - chrono::Duration::days(back);
    Some(date.and_hms_opt(1, 0, 0)?.and_utc().timestamp_millis())
}

/// Europe/Madrid's UTC offset at `utc_ms`, with a cache of the current offset's validity.
#[derive(Debug, Clone, Default)]
pub(crate) struct Madrid {
    /// `[from, to)` in UTC ms where `offset` holds.
    valid: Option<(i64, i64, i64)>,
}

impl Madrid {
    /// The offset (ms) to add to UTC to get Madrid local time.
    pub fn offset(&mut self, utc_ms: i64) -> i64 {
        if let Some((from, to, off)) = self.valid
            && (from..to).contains(&utc_ms)
        {
            return off;
        }
        let (from, to, off) = madrid_span(utc_ms);
        self.valid = Some((from, to, off));
        off
    }

    /// UTC ms of Madrid local time `local_ms` (ms since the epoch on the local wall clock).
    /// Monotone: in the autumn overlap the first occurrence is taken, and every time in the
    /// spring-forward gap maps to the instant of the change.
    pub fn utc_of_local(&mut self, local_ms: i64) -> i64 {
        let summer = local_ms - 2 * HOUR;
        if self.offset(summer) == 2 * HOUR {
            return summer;
        }
        let winter = local_ms - HOUR;
        if self.offset(winter) == HOUR {
            return winter;
        }
        // In the gap: `winter` lies just after the change, in summer time.
        madrid_span(winter).0
    }
}

/// The span of constant Madrid offset holding `utc_ms`, and that offset.
fn madrid_span(utc_ms: i64) -> (i64, i64, i64) {
    let year = chrono::DateTime::from_timestamp_millis(utc_ms).map_or(1970, |t| t.year());
    let bounds = |y: i32| Some((last_sunday_0100_utc(y, 3)?, last_sunday_0100_utc(y, 10)?));
    match (bounds(year - 1), bounds(year), bounds(year + 1)) {
        (Some((_, prev_end)), Some((start, end)), Some((next_start, _))) => {
            if utc_ms < start {
                (prev_end, start, HOUR)
            } else if utc_ms < end {
                (start, end, 2 * HOUR)
            } else {
                (end, next_start, HOUR)
            }
        }
        // Outside chrono's calendar: standard time, valid for this instant only.
        _ => (utc_ms, utc_ms.saturating_add(1), HOUR),
    }
}

/// A local wall-clock reading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Local {
    /// Local days since 1970-01-01.
    pub day: i64,
    /// Hours since local midnight, fractional.
    pub hour: f64,
    /// 0 = Monday … 6 = Sunday.
    pub weekday: u8,
    /// Day of the year, 0-based, fractional (approximate: 365-day years).
    pub year_frac: f64,
}

impl Local {
    /// Local time at `utc_ms` with the given offset.
    pub fn at(utc_ms: i64, offset_ms: i64) -> Self {
        let local = utc_ms + offset_ms;
        let day = local.div_euclid(DAY);
        let tod = local.rem_euclid(DAY);
        Self {
            day,
            hour: tod as f64 / HOUR as f64,
            weekday: (day + 3).rem_euclid(7) as u8,
            year_frac: (local as f64 / DAY as f64 / 365.2425).fract(),
        }
    }

    /// Saturday or Sunday.
    pub fn weekend(&self) -> bool {
        self.weekday >= 5
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(rfc3339: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(rfc3339)
            .expect("time")
            .timestamp_millis()
    }

    #[test]
    fn eu_dst_rule() {
        let mut m = Madrid::default();
        assert_eq!(
            last_sunday_0100_utc(2026, 3),
            Some(ms("2026-03-29T01:00:00Z"))
        );
        assert_eq!(
            last_sunday_0100_utc(2026, 10),
            Some(ms("2026-10-25T01:00:00Z"))
        );
        assert_eq!(
            last_sunday_0100_utc(2025, 3),
            Some(ms("2025-03-30T01:00:00Z"))
        );
        assert_eq!(m.offset(ms("2026-03-29T00:59:59Z")), HOUR);
        assert_eq!(m.offset(ms("2026-03-29T01:00:00Z")), 2 * HOUR);
        assert_eq!(m.offset(ms("2026-07-01T12:00:00Z")), 2 * HOUR);
        assert_eq!(m.offset(ms("2026-10-25T00:59:59Z")), 2 * HOUR);
        assert_eq!(m.offset(ms("2026-10-25T01:00:00Z")), HOUR);
        assert_eq!(m.offset(ms("2026-12-31T23:00:00Z")), HOUR);
        assert_eq!(m.offset(ms("2027-01-01T00:00:00Z")), HOUR);
    }

    #[test]
    fn local_to_utc_is_monotone_across_changes() {
        let mut m = Madrid::default();
        for day in ["2026-03-29", "2026-10-25"] {
            let midnight = ms(&format!("{day}T00:00:00Z"));
            let mut prev = i64::MIN;
            for minute in 0..24 * 60 {
                let utc = m.utc_of_local(midnight + minute * MINUTE);
                assert!(utc >= prev, "{day} minute {minute}");
                prev = utc;
            }
        }
        assert_eq!(
            m.utc_of_local(ms("2026-03-29T02:30:00Z")),
            ms("2026-03-29T01:00:00Z")
        );
        assert_eq!(
            m.utc_of_local(ms("2026-10-25T02:30:00Z")),
            ms("2026-10-25T00:30:00Z")
        );
    }

    #[test]
    fn local_to_utc_round_trips() {
        let mut m = Madrid::default();
        for t in [
            "2026-03-02T07:30:00+01:00",
            "2026-07-01T23:00:00+02:00",
            "2026-10-25T04:00:00+01:00",
        ] {
            let utc = ms(t);
            let local = utc + m.offset(utc);
            assert_eq!(m.utc_of_local(local), utc, "{t}");
        }
    }

    #[test]
    fn local_fields() {
        // 2026-03-02 is a Monday; 00:00 UTC is 01:00 in Madrid.
        let l = Local::at(ms("2026-03-02T00:00:00Z"), HOUR);
        assert_eq!(l.weekday, 0);
        assert!((l.hour - 1.0).abs() < 1e-12);
        assert!(!l.weekend());
        let l = Local::at(ms("2026-03-07T12:00:00Z"), TOKYO_OFFSET);
        assert_eq!((l.weekday, l.hour), (5, 21.0));
        assert!(l.weekend());
        assert!((0.15..0.2).contains(&l.year_frac), "{}", l.year_frac);
    }
}
