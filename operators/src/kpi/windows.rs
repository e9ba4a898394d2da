//! Per-window state of `kpi_latency` (kept in [`Windows`]), and the event-time-ordered gap
//! computation of the inter-arrival KPI ([`GapTracker`]).

use std::collections::HashMap;

use super::histogram::LogHistogram;
pub(super) use crate::window::open::{Open, Windows};

/// A hash map with a fast, non-cryptographic hasher (keys are packed ints).
pub(super) type FastMap<K, V> = HashMap<K, V, ahash::RandomState>;

/// Inter-arrival gaps of one key in one window.
#[derive(Debug, Default)]
pub(super) struct Gaps {
    /// The gaps, ms.
    pub hist: LogHistogram,
    /// Gaps longer than the target.
    pub over_target: u64,
}

/// Readings-side accumulators of one window, keyed by `(source << 32) | device`.
#[derive(Debug, Default)]
pub(super) struct ReadingWindow {
    /// Delivery latencies.
    pub delivery: FastMap<u64, LogHistogram>,
    /// Inter-arrival gaps whose later reading lies in this window.
    pub gaps: FastMap<u64, Gaps>,
}

/// Computes inter-arrival gaps in event-time order per key.
///
/// Readings wait in `pending` until the frontier passes their event time: then no reading of
/// the same key with a smaller event time can arrive any more (it would be below its batch's
/// time), so the ready ones are sorted by (key, ts) and chained after the last event time seen
/// per key. Only readings within the lateness bound wait; `last` keeps one entry per key.
#[derive(Debug)]
pub(super) struct GapTracker {
    pending: Vec<(i64, u64)>,
    ready: Vec<(u64, i64)>,
    last: FastMap<u64, i64>,
    /// Every reading with event time below this was processed.
    done_below: i64,
}

impl Default for GapTracker {
    fn default() -> Self {
        Self {
            pending: Vec::new(),
            ready: Vec::new(),
            last: FastMap::default(),
            done_below: i64::MIN,
        }
    }
}

impl GapTracker {
    /// Queues a reading of `key` at event time `ts` (`ts ≥` the input frontier).
    #[inline]
    pub fn push(&mut self, key: u64, ts: i64) {
        self.pending.push((ts, key));
    }

    /// Processes every queued reading with event time `< upto`, adding each gap to the window
    /// of its later reading in `windows` (which is still open: its end is above `ts`).
    pub fn advance(&mut self, upto: i64, target_gap_ms: u64, windows: &mut Windows<ReadingWindow>) {
        // Frontiers only advance and queued readings lie at or above the last one processed:
        // nothing can be ready unless the frontier moved.
        if upto <= self.done_below {
            return;
        }
        self.done_below = upto;
        let ready = &mut self.ready;
        self.pending.retain(|&(ts, key)| {
            let is_ready = ts < upto;
            if is_ready {
                ready.push((key, ts));
            }
            !is_ready
        });
        if ready.is_empty() {
            return;
        }
        ready.sort_unstable();
        let mut hint = 0usize;
        for &(key, ts) in ready.iter() {
            let Some(prev) = self.last.insert(key, ts) else {
                continue; // the first reading of a key has no gap
            };
            let gap = u64::try_from(ts.saturating_sub(prev)).unwrap_or(0);
            if let Some(w) = windows.get_mut(ts, &mut hint) {
                let g = w.gaps.entry(key).or_default();
                g.hist.record(gap);
                g.over_target += u64::from(gap > target_gap_ms);
            }
        }
        ready.clear();
    }
}
