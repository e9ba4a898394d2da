//! Open tumbling event-time windows of one operator input, sorted by start, each holding a
//! capability at its end: a window is opened by the first record inside it and handed back
//! by [`Windows::take_ready`] once the frontier reaches its end. Shared by `kpi_latency` and
//! `heatmap`.

use msec_engine::time::window_start;
use timely::dataflow::operators::{Capability, InputCapability};
use timely::progress::frontier::MutableAntichain;

/// One open window.
pub(crate) struct Open<S> {
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
pub(crate) struct Windows<S> {
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
