//! Time zones of the pilots' homes and cities, without a time-zone database.
//!
//! chrono-tz is not a dependency, so the zones msec needs are written out here:
//!
//! * `Europe/Madrid` (Santander; also accepted as `Europe/Paris`, which has had the same
//!   rules since 1978): UTC+2 from the last Sunday of March 01:00 UTC to the last Sunday of
//!   October 01:00 UTC, UTC+1 otherwise (the EU rule, in force since 1996; earlier years are
//!   read with it too);
//! * `Asia/Tokyo` (Fujisawa): UTC+9, no DST;
//! * `Pacific/Auckland` (also accepted as `NZ`): NZDT, UTC+13, from the last Sunday of
//!   September 02:00 NZST (14:00 UTC on the Saturday) to the first Sunday of April 03:00 NZDT
//!   (14:00 UTC on the Saturday), NZST, UTC+12, otherwise (the rule in force since 2007;
//!   earlier years are read with it too). Summer spans the new year;
//! * `UTC` and fixed offsets `+HH:MM` / `-HH:MM`.
//!
//! **DST changes**: a naive local time in the autumn fold (it happens twice, e.g.
//! `2017-10-29T02:30` in Madrid) is read as the *earlier* instant, with the summer offset; a
//! naive local time in the spring gap (it never happens, e.g. `2017-03-26T02:30`) is read as
//! the instant of the change (`01:00Z`). Both are deterministic and keep the local → UTC
//! mapping monotone. Auckland follows the same rules: `2024-04-07T02:30` (fold) is
//! `2024-04-06T13:30Z` (NZDT), `2024-09-29T02:30` (gap) is `2024-09-28T14:00Z`.
//!
//! [`ZoneClock`] answers "what local time is it at this instant" with a cache of the current
//! offset's validity, so the hot path (alert rules ask it per reading) costs a comparison.

use chrono::{Datelike, NaiveDate, NaiveDateTime};

/// One second in ms.
pub const SECOND: i64 = 1_000;
/// One minute in ms.
pub const MINUTE: i64 = 60_000;
/// One hour in ms.
pub const HOUR: i64 = 3_600_000;
/// One day in ms.
pub const DAY: i64 = 86_400_000;
/// Asia/Tokyo's offset from UTC.
pub const TOKYO_OFFSET: i64 = 9 * HOUR;

/// 01:00 UTC on the last Sunday of `month` (March or October: 31 days) of `year`.
pub(crate) fn last_sunday_0100_utc(year: i32, month: u32) -> Option<i64> {
    let last = NaiveDate::from_ymd_opt(year, month, 31)?;
    let back = i64::from(last.weekday().num_days_from_sunday());
    let date = last - chrono::Duration::days(back);
    Some(date.and_hms_opt(1, 0, 0)?.and_utc().timestamp_millis())
}

/// Europe/Madrid's UTC offset at `utc_ms`, with a cache of the current offset's validity.
#[derive(Debug, Clone, Default)]
pub struct Madrid {
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

/// Pacific/Auckland's standard offset (NZST, UTC+12).
pub const NZST_OFFSET: i64 = 12 * HOUR;
/// Pacific/Auckland's daylight-saving offset (NZDT, UTC+13).
pub const NZDT_OFFSET: i64 = 13 * HOUR;

/// 14:00 UTC on the Saturday before the last Sunday of September of `year`: 02:00 NZST on
/// that Sunday, when NZDT starts.
pub(crate) fn nz_dst_start_utc(year: i32) -> Option<i64> {
    let last = NaiveDate::from_ymd_opt(year, 9, 30)?;
    let back = i64::from(last.weekday().num_days_from_sunday());
    let saturday = last - chrono::Duration::days(back + 1);
    Some(saturday.and_hms_opt(14, 0, 0)?.and_utc().timestamp_millis())
}

/// 14:00 UTC on the Saturday before the first Sunday of April of `year`: 03:00 NZDT on that
/// Sunday, when NZDT ends.
pub(crate) fn nz_dst_end_utc(year: i32) -> Option<i64> {
    let first = NaiveDate::from_ymd_opt(year, 4, 1)?;
    let ahead = i64::from((7 - first.weekday().num_days_from_sunday()) % 7);
    let saturday = first + chrono::Duration::days(ahead - 1);
    Some(saturday.and_hms_opt(14, 0, 0)?.and_utc().timestamp_millis())
}

/// Pacific/Auckland's UTC offset at `utc_ms`, with a cache of the current offset's validity.
#[derive(Debug, Clone, Default)]
pub struct Auckland {
    /// `[from, to)` in UTC ms where `offset` holds.
    valid: Option<(i64, i64, i64)>,
}

impl Auckland {
    /// The offset (ms) to add to UTC to get Auckland local time.
    pub fn offset(&mut self, utc_ms: i64) -> i64 {
        if let Some((from, to, off)) = self.valid
            && (from..to).contains(&utc_ms)
        {
            return off;
        }
        let (from, to, off) = auckland_span(utc_ms);
        self.valid = Some((from, to, off));
        off
    }

    /// UTC ms of Auckland local time `local_ms` (ms since the epoch on the local wall clock).
    /// Monotone: in the April overlap the first occurrence (NZDT) is taken, and every time in
    /// the September gap maps to the instant of the change.
    pub fn utc_of_local(&mut self, local_ms: i64) -> i64 {
        let summer = local_ms - NZDT_OFFSET;
        if self.offset(summer) == NZDT_OFFSET {
            return summer;
        }
        let winter = local_ms - NZST_OFFSET;
        if self.offset(winter) == NZST_OFFSET {
            return winter;
        }
        // In the gap: `winter` lies just after the change, in summer time.
        auckland_span(winter).0
    }
}

/// The span of constant Auckland offset holding `utc_ms`, and that offset. NZDT runs from
/// September of one year to April of the next, so a year's standard time is the span
/// `[end, start)` between its own two changes.
fn auckland_span(utc_ms: i64) -> (i64, i64, i64) {
    let year = chrono::DateTime::from_timestamp_millis(utc_ms).map_or(1970, |t| t.year());
    let bounds = |y: i32| Some((nz_dst_end_utc(y)?, nz_dst_start_utc(y)?));
    match (bounds(year - 1), bounds(year), bounds(year + 1)) {
        (Some((_, prev_start)), Some((end, start)), Some((next_end, _))) => {
            if utc_ms < end {
                (prev_start, end, NZDT_OFFSET)
            } else if utc_ms < start {
                (end, start, NZST_OFFSET)
            } else {
                (start, next_end, NZDT_OFFSET)
            }
        }
        // Outside chrono's calendar: standard time, valid for this instant only.
        _ => (utc_ms, utc_ms.saturating_add(1), NZST_OFFSET),
    }
}

/// A time zone for naive local times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// A fixed offset from UTC, in seconds east of Greenwich (`UTC` is 0).
    Fixed(i32),
    /// `Europe/Madrid` (= `Europe/Paris`): CET/CEST with the EU DST rule.
    EuropeMadrid,
    /// `Asia/Tokyo`: UTC+9, no DST.
    AsiaTokyo,
    /// `Pacific/Auckland` (= `NZ`): NZST/NZDT with the New Zealand DST rule.
    PacificAuckland,
}

impl Zone {
    /// Parses `UTC`, `Z`, `Europe/Madrid`, `Europe/Paris`, `Asia/Tokyo`, `Pacific/Auckland`,
    /// `NZ` or `±HH:MM`.
    pub fn parse(text: &str) -> Option<Zone> {
        match text {
            "UTC" | "Z" | "Etc/UTC" => return Some(Zone::Fixed(0)),
            "Europe/Madrid" | "Europe/Paris" => return Some(Zone::EuropeMadrid),
            "Asia/Tokyo" => return Some(Zone::AsiaTokyo),
            "Pacific/Auckland" | "NZ" => return Some(Zone::PacificAuckland),
            _ => {}
        }
        let b = text.as_bytes();
        if b.len() != 6 || b[3] != b':' {
            return None;
        }
        let sign = match b[0] {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        let hh: i32 = text.get(1..3)?.parse().ok()?;
        let mm: i32 = text.get(4..6)?.parse().ok()?;
        let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
        if hh > 23 || mm > 59 || !digits(1..3) || !digits(4..6) {
            return None;
        }
        Some(Zone::Fixed(sign * (hh * 3600 + mm * 60)))
    }

    /// The UTC instant (epoch ms) of the naive local time `local`, disambiguated as the
    /// module docs say.
    pub fn to_utc_ms(self, local: NaiveDateTime) -> i64 {
        let naive_ms = local.and_utc().timestamp_millis();
        match self {
            Zone::Fixed(secs) => naive_ms - i64::from(secs) * 1000,
            Zone::AsiaTokyo => naive_ms - TOKYO_OFFSET,
            Zone::EuropeMadrid => Madrid::default().utc_of_local(naive_ms),
            Zone::PacificAuckland => Auckland::default().utc_of_local(naive_ms),
        }
    }
}

impl Zone {
    /// The offset (ms) to add to UTC at `utc_ms` to get local time.
    pub fn offset_ms(self, utc_ms: i64) -> i64 {
        match self {
            Zone::Fixed(secs) => i64::from(secs) * 1000,
            Zone::AsiaTokyo => TOKYO_OFFSET,
            Zone::EuropeMadrid => madrid_span(utc_ms).2,
            Zone::PacificAuckland => auckland_span(utc_ms).2,
        }
    }

    /// The canonical name: `Europe/Madrid`, `Asia/Tokyo`, `Pacific/Auckland`, `UTC` or
    /// `±HH:MM`.
    pub fn name(self) -> String {
        match self {
            Zone::Fixed(0) => "UTC".to_owned(),
            Zone::Fixed(secs) => {
                let sign = if secs < 0 { '-' } else { '+' };
                let a = secs.unsigned_abs();
                format!("{sign}{:02}:{:02}", a / 3600, a / 60 % 60)
            }
            Zone::EuropeMadrid => "Europe/Madrid".to_owned(),
            Zone::AsiaTokyo => "Asia/Tokyo".to_owned(),
            Zone::PacificAuckland => "Pacific/Auckland".to_owned(),
        }
    }
}

/// A [`Zone`] with a cache of the span where its current offset holds.
#[derive(Debug, Clone)]
pub struct ZoneClock {
    zone: Zone,
    madrid: Madrid,
    auckland: Auckland,
}

impl ZoneClock {
    /// A clock for `zone`.
    pub fn new(zone: Zone) -> Self {
        Self {
            zone,
            madrid: Madrid::default(),
            auckland: Auckland::default(),
        }
    }

    /// The zone.
    pub fn zone(&self) -> Zone {
        self.zone
    }

    /// The offset (ms) to add to UTC at `utc_ms` to get local time.
    pub fn offset(&mut self, utc_ms: i64) -> i64 {
        match self.zone {
            Zone::EuropeMadrid => self.madrid.offset(utc_ms),
            Zone::PacificAuckland => self.auckland.offset(utc_ms),
            other => other.offset_ms(utc_ms),
        }
    }

    /// Local wall-clock ms since the epoch at `utc_ms`.
    pub fn local_ms(&mut self, utc_ms: i64) -> i64 {
        utc_ms.saturating_add(self.offset(utc_ms))
    }

    /// Milliseconds since local midnight at `utc_ms`.
    pub fn time_of_day_ms(&mut self, utc_ms: i64) -> i64 {
        self.local_ms(utc_ms).rem_euclid(DAY)
    }

    /// The UTC instant of local wall-clock ms `local_ms`, disambiguated as the module says.
    pub fn utc_of_local(&mut self, local_ms: i64) -> i64 {
        match self.zone {
            Zone::EuropeMadrid => self.madrid.utc_of_local(local_ms),
            Zone::PacificAuckland => self.auckland.utc_of_local(local_ms),
            other => local_ms - other.offset_ms(local_ms),
        }
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
    fn zone_clock_time_of_day() {
        let mut c = ZoneClock::new(Zone::EuropeMadrid);
        // 22:00 local in winter is 21:00Z, in summer 20:00Z.
        assert_eq!(c.time_of_day_ms(ms("2026-01-10T21:00:00Z")), 22 * HOUR);
        assert_eq!(c.time_of_day_ms(ms("2026-07-10T20:00:00Z")), 22 * HOUR);
        let mut t = ZoneClock::new(Zone::AsiaTokyo);
        assert_eq!(t.time_of_day_ms(ms("2026-07-10T13:00:00Z")), 22 * HOUR);
        assert_eq!(
            t.utc_of_local(ms("2026-07-10T22:00:00Z")),
            ms("2026-07-10T13:00:00Z")
        );
        assert_eq!(
            Zone::parse("-05:30").map(Zone::name).as_deref(),
            Some("-05:30")
        );
        assert_eq!(Zone::EuropeMadrid.name(), "Europe/Madrid");
    }

    #[test]
    fn nz_dst_rule_2024_and_2025() {
        // 2024: NZDT ends Sunday 7 April 03:00 NZDT, starts Sunday 29 September 02:00 NZST;
        // 2025: ends Sunday 6 April, starts Sunday 28 September.
        assert_eq!(nz_dst_end_utc(2024), Some(ms("2024-04-06T14:00:00Z")));
        assert_eq!(nz_dst_start_utc(2024), Some(ms("2024-09-28T14:00:00Z")));
        assert_eq!(nz_dst_end_utc(2025), Some(ms("2025-04-05T14:00:00Z")));
        assert_eq!(nz_dst_start_utc(2025), Some(ms("2025-09-27T14:00:00Z")));
        // A first of April that is a Sunday, and a 30 September that is one.
        assert_eq!(nz_dst_end_utc(2029), Some(ms("2029-03-31T14:00:00Z")));
        assert_eq!(nz_dst_start_utc(2029), Some(ms("2029-09-29T14:00:00Z")));
        assert_eq!(nz_dst_start_utc(2018), Some(ms("2018-09-29T14:00:00Z")));
        let mut a = Auckland::default();
        for (t, off) in [
            ("2024-01-01T00:00:00Z", NZDT_OFFSET),
            ("2024-04-06T13:59:59Z", NZDT_OFFSET),
            ("2024-04-06T14:00:00Z", NZST_OFFSET),
            ("2024-07-01T00:00:00Z", NZST_OFFSET),
            ("2024-09-28T13:59:59Z", NZST_OFFSET),
            ("2024-09-28T14:00:00Z", NZDT_OFFSET),
            ("2024-12-31T23:59:59Z", NZDT_OFFSET),
            ("2025-01-01T00:00:00Z", NZDT_OFFSET),
            ("2025-04-05T13:59:59Z", NZDT_OFFSET),
            ("2025-04-05T14:00:00Z", NZST_OFFSET),
            ("2025-09-27T13:59:59Z", NZST_OFFSET),
            ("2025-09-27T14:00:00Z", NZDT_OFFSET),
        ] {
            assert_eq!(a.offset(ms(t)), off, "{t}");
            assert_eq!(Zone::PacificAuckland.offset_ms(ms(t)), off, "{t}");
        }
    }

    #[test]
    fn auckland_fold_and_gap() {
        let mut a = Auckland::default();
        // 2024-01-01 06:00 NZDT.
        assert_eq!(
            a.utc_of_local(ms("2024-01-01T06:00:00Z")),
            ms("2023-12-31T17:00:00Z")
        );
        for year in ["2024-04-07", "2025-04-06"] {
            // Autumn: 03:00 NZDT becomes 02:00 NZST; the fold 02:00..03:00 reads as NZDT.
            let at = |hm: &str| ms(&format!("{year}T{hm}:00Z"));
            let change = at("03:00") - NZDT_OFFSET;
            assert_eq!(a.utc_of_local(at("01:59")), at("01:59") - NZDT_OFFSET);
            assert_eq!(a.utc_of_local(at("02:30")), at("02:30") - NZDT_OFFSET);
            assert_eq!(a.utc_of_local(at("03:00")), change + HOUR);
            assert_eq!(a.utc_of_local(at("12:00")), at("12:00") - NZST_OFFSET);
        }
        for year in ["2024-09-29", "2025-09-28"] {
            // Spring: 02:00 NZST becomes 03:00 NZDT; the gap maps to the change.
            let at = |hm: &str| ms(&format!("{year}T{hm}:00Z"));
            let change = at("02:00") - NZST_OFFSET;
            assert_eq!(a.utc_of_local(at("01:59")), at("01:59") - NZST_OFFSET);
            assert_eq!(a.utc_of_local(at("02:00")), change);
            assert_eq!(a.utc_of_local(at("02:30")), change);
            assert_eq!(a.utc_of_local(at("03:00")), change);
            assert_eq!(a.utc_of_local(at("03:01")), change + MINUTE);
        }
        assert_eq!(
            a.utc_of_local(ms("2024-09-29T02:30:00Z")),
            ms("2024-09-28T14:00:00Z")
        );
        assert_eq!(
            a.utc_of_local(ms("2024-04-07T02:30:00Z")),
            ms("2024-04-06T13:30:00Z")
        );
        // Monotone over both change days of both years, and round trips off the fold.
        for day in ["2024-04-07", "2024-09-29", "2025-04-06", "2025-09-28"] {
            let midnight = ms(&format!("{day}T00:00:00Z"));
            let mut prev = i64::MIN;
            for minute in 0..24 * 60 {
                let utc = a.utc_of_local(midnight + minute * MINUTE);
                assert!(utc >= prev, "{day} minute {minute}");
                prev = utc;
            }
        }
        for t in [
            "2024-03-02T07:30:00+13:00",
            "2024-07-01T23:00:00+12:00",
            "2025-04-06T04:00:00+12:00",
            "2025-12-31T23:00:00+13:00",
        ] {
            let utc = ms(t);
            let local = utc + a.offset(utc);
            assert_eq!(a.utc_of_local(local), utc, "{t}");
        }
        let mut c = ZoneClock::new(Zone::PacificAuckland);
        assert_eq!(c.time_of_day_ms(ms("2024-01-01T00:00:00Z")), 13 * HOUR);
        assert_eq!(c.time_of_day_ms(ms("2024-07-01T00:00:00Z")), 12 * HOUR);
        assert_eq!(
            c.utc_of_local(ms("2025-07-01T12:00:00Z")),
            ms("2025-07-01T00:00:00Z")
        );
        assert_eq!(Zone::parse("Pacific/Auckland"), Some(Zone::PacificAuckland));
        assert_eq!(Zone::parse("NZ"), Some(Zone::PacificAuckland));
        assert_eq!(Zone::PacificAuckland.name(), "Pacific/Auckland");
    }
}
