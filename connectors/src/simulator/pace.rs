//! Wall-clock pacing of the simulator source ([`SimulatorConfig::pace`](super::SimulatorConfig::pace)):
//! records leave at a set rate per wall-clock second, in small batches, so that a run can
//! stand in for a live feed (latency benchmarks) rather than a file read as fast as possible.
//!
//! The schedule is absolute: record `n` (1-based) is due `n / rate` seconds after the first
//! read, so sleeping late never makes the rate drift; records that fell behind (a slow
//! generator, backpressure) go out at once, at most `batch` at a time. A batch goes when
//! `batch` records are due, or when at least one is due and [`FLUSH_EVERY`] has passed since
//! the last one, so no due record waits longer than about that. Waiting is sleeping, never
//! spinning: the source shares the cores with the dataflow.

use std::time::{Duration, Instant};

/// The longest a due record waits for its batch to be handed on.
pub(crate) const FLUSH_EVERY: Duration = Duration::from_millis(1);

/// Records generated ahead while waiting, in seconds of the pace: generation runs in the
/// idle time between batches rather than delaying one.
const AHEAD_S: f64 = 0.01;

/// When records may go, for a fixed rate.
#[derive(Debug, Clone)]
pub(crate) struct Pacer {
    /// Records per wall-clock second.
    rate: f64,
    /// Most records released at once.
    batch: u64,
    /// The first poll: record `n` is due at `start + n / rate`.
    start: Option<Instant>,
    /// Records released so far.
    sent: u64,
    /// When the last batch was released.
    last: Option<Instant>,
}

impl Pacer {
    /// A pacer releasing `rate` records per second (finite, > 0), at most `batch` at a time.
    pub(crate) fn new(rate: f64, batch: usize) -> Self {
        Self {
            rate,
            batch: batch.max(1) as u64,
            start: None,
            sent: 0,
            last: None,
        }
    }

    /// How many records to keep generated ahead of the schedule.
    pub(crate) fn low_water(&self) -> u64 {
        ((self.rate * AHEAD_S) as u64).max(self.batch.min(1 << 16))
    }

    /// The instant record `n` is due.
    fn due_at(&self, start: Instant, n: u64) -> Instant {
        // Rounded up, so that `n` is due by `poll`'s count at that instant.
        let nanos = (n as f64 * 1e9 / self.rate).ceil().min(1e18) as u64;
        start
            .checked_add(Duration::from_nanos(nanos))
            .unwrap_or(start)
    }

    /// At `now`: `Ok(n)` to release up to `n` records now (`n >= 1`), or `Err(t)` to wait
    /// until `t` and ask again.
    pub(crate) fn poll(&mut self, now: Instant) -> Result<u64, Instant> {
        let start = *self.start.get_or_insert(now);
        let elapsed = now.saturating_duration_since(start).as_nanos() as f64;
        let due = (elapsed * self.rate / 1e9) as u64;
        let ready = due.saturating_sub(self.sent);
        let flush_at = self.last.map(|l| l + FLUSH_EVERY);
        if ready >= self.batch || (ready > 0 && flush_at.is_none_or(|t| now >= t)) {
            return Ok(ready.min(self.batch));
        }
        let next = self.due_at(start, self.sent + 1);
        let next = flush_at.map_or(next, |t| next.max(t));
        Err(next.min(self.due_at(start, self.sent + self.batch)))
    }

    /// Records that `n` records were released at `now` (the instant of the [`poll`](Self::poll)).
    pub(crate) fn released(&mut self, n: u64, now: Instant) {
        if n > 0 {
            self.sent += n;
            self.last = Some(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_the_rate_in_small_batches() {
        let mut p = Pacer::new(100_000.0, 1000);
        let t0 = Instant::now();
        // The first poll starts the clock: nothing is due yet.
        let wake = p.poll(t0).expect_err("nothing due at the start");
        assert_eq!(wake, t0 + Duration::from_micros(10));
        // 0.5 ms later 50 records are due.
        let t = t0 + Duration::from_micros(500);
        assert_eq!(p.poll(t), Ok(50));
        p.released(50, t);
        // Another 0.5 ms: 50 more are due, but the batch waits for the 1 ms flush interval.
        let t = t0 + Duration::from_micros(1000);
        assert_eq!(p.poll(t), Err(t0 + Duration::from_micros(1500)));
        let t = t0 + Duration::from_micros(1500);
        assert_eq!(p.poll(t), Ok(100));
        p.released(100, t);
        // Far behind: at most a batch at a time, immediately.
        let t = t0 + Duration::from_secs(1);
        assert_eq!(p.poll(t), Ok(1000));
        p.released(1000, t);
        assert_eq!(p.poll(t), Ok(1000));
    }

    #[test]
    fn a_slow_rate_waits_for_the_next_record() {
        let mut p = Pacer::new(10.0, 1000);
        let t0 = Instant::now();
        assert_eq!(p.poll(t0), Err(t0 + Duration::from_millis(100)));
        let t = t0 + Duration::from_millis(250);
        assert_eq!(p.poll(t), Ok(2));
        p.released(2, t);
        assert_eq!(p.poll(t), Err(t0 + Duration::from_millis(300)));
    }
}
