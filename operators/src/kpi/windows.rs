//! Per-window state of `kpi_latency`: the open tumbling windows of one input, each holding a
//! capability at its end ([`Windows`]), and the event-time-ordered gap computation of the
//! inter-arrival KPI ([`GapTracker`]).

use std::collections::HashMap;

use msec_engine::time::window_start;
use timely::dataflow::operators::{Capability, InputCapability};
use timely::progress::frontier::MutableAntichain;

use super::histogram::LogHistogram;

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

/// One open window.
pub(super) struct Open<S> {
    /// Window start, epoch ms.
    pub start: i64,
    /// Window end (exclusive), epoch ms, saturating.
    pub end: i64,
    /// Capability at the window's end (or the input time, if later).
    pub cap: Capability<u64>,
    /// The window's accumulators.
    pub state: S,
}

/// Open windows of one input, sorted by start.
pub(super) struct Windows<S> {
    len: i64,
    open: Vec<Open<S>>,
}

impl<S: Default> Windows<S> {
    /// No open windows; windows are `len` ms long.
    pub fn new(len: i64) -> Self {
        Self {
            len: len.max(1),
            open: Vec::new(),
        }
    }

    /// The start of the window holding `ts`.
    #[inline]
    pub fn start_of(&self, ts: i64) -> i64 {
        window_start(ts, self.len)
    }

    /// The state of the window holding `ts`, opened with a capability at its end if new.
    /// `hint` caches the last position (consecutive records mostly share a window). Callers
    /// guarantee `ts ≥` the input time, so the window's end lies strictly after it.
    #[inline]
    pub fn slot(&mut self, ts: i64, cap: &InputCapability<u64>, hint: &mut usize) -> &mut S {
        let start = self.start_of(ts);
        if self.open.get(*hint).is_none_or(|w| w.start != start) {
            *hint = match self.open.binary_search_by_key(&start, |w| w.start) {
                Ok(pos) => pos,
                Err(pos) => {
                    let end = start.saturating_add(self.len);
                    let t = u64::try_from(end)
                        .unwrap_or(0)
                        .max(cap.least().copied().unwrap_or(0));
                    self.open.insert(
                        pos,
                        Open {
                            start,
                            end,
                            cap: cap.delayed(&t, 0),
                            state: S::default(),
                        },
                    );
                    pos
                }
            };
        }
        &mut self.open[*hint].state
    }

    /// The state of the open window holding `ts`, if any.
    #[inline]
    pub fn get_mut(&mut self, ts: i64, hint: &mut usize) -> Option<&mut S> {
        let start = self.start_of(ts);
        if self.open.get(*hint).is_none_or(|w| w.start != start) {
            *hint = self.open.binary_search_by_key(&start, |w| w.start).ok()?;
        }
        Some(&mut self.open[*hint].state)
    }

    /// Removes and returns, oldest first, every window whose end the frontier has reached.
    pub fn take_ready(&mut self, frontier: &MutableAntichain<u64>) -> Vec<Open<S>> {
        let ready = self
            .open
            .iter()
            .take_while(|w| !frontier.less_than(&u64::try_from(w.end).unwrap_or(0)))
            .count();
        self.open.drain(..ready).collect()
    }
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
