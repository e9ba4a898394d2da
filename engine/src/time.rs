//! Event time, watermarks and lateness (DESIGN §5).
//!
//! Event times are epoch milliseconds (`i64`). A source tracks the largest event time it has
//! seen per partition; its watermark is that maximum minus the allowed lateness. A record
//! whose event time is below the watermark *at its arrival* is late: it is dead-lettered with
//! reason `late`, never merged. Because the watermark only depends on the records before it in
//! the partition's order, the set of late records is a function of the input alone — not of
//! batch sizes, worker counts or timing.
//!
//! Timely timestamps are watermarks coarsened down to a granularity (default 1 s), so that
//! progress tracking stays cheap; see [`coarsen`].

/// Whether a record arrived in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// At or above the watermark.
    OnTime,
    /// Below the watermark: must be dead-lettered as `late`.
    Late,
}

/// Tracks the watermark of one partition.
#[derive(Debug, Clone)]
pub struct WatermarkTracker {
    lateness_ms: i64,
    max_seen: Option<i64>,
}

impl WatermarkTracker {
    /// A tracker with the given allowed lateness (ms).
    pub fn new(lateness_ms: u64) -> Self {
        Self {
            lateness_ms: i64::try_from(lateness_ms).unwrap_or(i64::MAX),
            max_seen: None,
        }
    }

    /// The current watermark: `max seen − lateness`, or `None` before the first record.
    #[inline]
    pub fn watermark(&self) -> Option<i64> {
        self.max_seen.map(|m| m.saturating_sub(self.lateness_ms))
    }

    /// Classifies a record with event time `ts` and advances the watermark if it is on time.
    #[inline]
    pub fn observe(&mut self, ts: i64) -> Arrival {
        match self.watermark() {
            Some(wm) if ts < wm => Arrival::Late,
            _ => {
                if self.max_seen.is_none_or(|m| ts > m) {
                    self.max_seen = Some(ts);
                }
                Arrival::OnTime
            }
        }
    }

    /// The largest event time seen.
    pub fn max_seen(&self) -> Option<i64> {
        self.max_seen
    }
}

/// Coarsens an event-time watermark down to a multiple of `granularity_ms` as a timely time.
/// Negative watermarks (before the epoch) map to 0.
#[inline]
pub fn coarsen(watermark_ms: i64, granularity_ms: u64) -> u64 {
    let wm = u64::try_from(watermark_ms).unwrap_or(0);
    let g = granularity_ms.max(1);
    wm - wm % g
}

/// Start of the tumbling window of length `len_ms` (aligned to the epoch) holding `ts`.
#[inline]
pub fn window_start(ts: i64, len_ms: i64) -> i64 {
    ts.div_euclid(len_ms) * len_ms
}

/// Wall-clock now in epoch milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lateness_is_relative_to_max_seen_before() {
        let mut wm = WatermarkTracker::new(5_000);
        assert_eq!(wm.watermark(), None);
        assert_eq!(wm.observe(100_000), Arrival::OnTime);
        assert_eq!(wm.observe(95_000), Arrival::OnTime); // exactly at the watermark
        assert_eq!(wm.observe(94_999), Arrival::Late);
        assert_eq!(wm.watermark(), Some(95_000));
        assert_eq!(wm.observe(101_000), Arrival::OnTime);
        assert_eq!(wm.watermark(), Some(96_000));
    }

    #[test]
    fn late_records_do_not_move_the_watermark() {
        let mut wm = WatermarkTracker::new(0);
        wm.observe(10);
        wm.observe(5);
        assert_eq!(wm.max_seen(), Some(10));
    }

    #[test]
    fn coarsening_and_windows() {
        assert_eq!(coarsen(12_345, 1_000), 12_000);
        assert_eq!(coarsen(-5, 1_000), 0);
        assert_eq!(window_start(119_999, 60_000), 60_000);
        assert_eq!(window_start(-1, 60_000), -60_000);
    }
}
