//! Local time for the simulated cities: the zones live in [`msec_engine::zone`]; this
//! module adds the broken-down [`Local`] time the simulator plans routines with.

pub(crate) use msec_engine::zone::{DAY, HOUR, MINUTE, Madrid, SECOND, TOKYO_OFFSET};

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
