//! The `kpi_latency` operator ([`KpiLatency`]): delivery latency, inter-arrival time and alert
//! latency per source and device (household for alerts), per tumbling event-time window.
//!
//! Time semantics are those of [`crate::window::TumblingAggregate`]: a batch at timely time
//! `t` holds only records with event time `≥ t`, so once an input's frontier reaches a
//! window's end the window is complete and is emitted at the timely time of its end. At the
//! end of input every open window is flushed. A record below its batch's time breaks that
//! contract; it is counted as dead (`add_dead`) and left out rather than folded into a window
//! that may already have been emitted.
//!
//! * **delivery latency** — `ingest_ts − ts` (negative clamped to 0) of every reading, in the
//!   window of `ts`;
//! * **inter-arrival** — gaps between consecutive readings of a (source, device), all sensors
//!   together, in event-time order; a gap belongs to the window of its later reading and the
//!   first reading of a device has none; `over_target` counts gaps `> target_gap_ms`. Readings
//!   are buffered until the frontier passes their event time and then chained in (ts) order
//!   (see the private `windows` module), so the gaps do not depend on arrival order, batch sizes or worker
//!   count. Windows without a gap get no inter-arrival row;
//! * **alert latency** — the second input, windowed by `decision_ts`, one row per household
//!   with source `alerts`. Alerts are few: they are all exchanged to [`SINK_WORKER`].
//!
//! Readings must be partitioned by device (see [`crate::PartitionReadings`]), so every
//! (source, device) lives on one worker. Every result except the delivery latencies (which
//! depend on the wall-clock ingest time) is a function of the input alone; with
//! [`super::OrderKpi`] the rows also come in a canonical order.

use std::sync::Arc;

use msec_engine::ReadingBatch;
use msec_engine::metrics::OperatorCounters;
use msec_engine::runtime::SINK_WORKER;
use timely::dataflow::Stream;
use timely::dataflow::channels::pact::{Exchange, Pipeline};
use timely::dataflow::operators::generic::Operator;
use timely::progress::frontier::MutableAntichain;

use super::batch::{ALERTS_SOURCE, AlertLatencies, KpiBatch, KpiMetric};
use super::histogram::LogHistogram;
use super::windows::{FastMap, GapTracker, Open, ReadingWindow, Windows};

/// The default inter-arrival target of the pilots' "data frequency" KPI: 25 s.
pub const DEFAULT_TARGET_GAP_MS: u64 = 25_000;

/// Latency and data-frequency KPIs (`kpi_latency`).
pub trait KpiLatency<'scope> {
    /// Computes the KPIs of the readings (partitioned by device) and of `alerts` in tumbling
    /// windows of `window_ms`; gaps above `target_gap_ms` count as `over_target`.
    fn kpi_latency(
        self,
        alerts: Stream<'scope, u64, Vec<AlertLatencies>>,
        window_ms: u64,
        target_gap_ms: u64,
        counters: Arc<OperatorCounters>,
    ) -> Stream<'scope, u64, Vec<KpiBatch>>;
}

/// The input's frontier as an event time: every future record has event time `≥` it.
fn frontier_ms(frontier: &MutableAntichain<u64>) -> i64 {
    frontier
        .frontier()
        .iter()
        .next()
        .map_or(i64::MAX, |&t| i64::try_from(t).unwrap_or(i64::MAX))
}

/// The packed key of a (source, device).
#[inline]
fn key(source: u32, device: u32) -> u64 {
    (u64::from(source) << 32) | u64::from(device)
}

/// `v` as a non-negative histogram value.
#[inline]
fn non_negative(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

impl<'scope> KpiLatency<'scope> for Stream<'scope, u64, Vec<ReadingBatch>> {
    fn kpi_latency(
        self,
        alerts: Stream<'scope, u64, Vec<AlertLatencies>>,
        window_ms: u64,
        target_gap_ms: u64,
        counters: Arc<OperatorCounters>,
    ) -> Stream<'scope, u64, Vec<KpiBatch>> {
        let len = i64::try_from(window_ms.max(1)).unwrap_or(i64::MAX);
        self.binary_frontier(
            alerts,
            Pipeline,
            Exchange::new(|_: &AlertLatencies| SINK_WORKER as u64),
            "KpiLatency",
            move |_cap, _info| {
                let mut readings: Windows<ReadingWindow> = Windows::new(len);
                let mut gaps = GapTracker::default();
                let mut alert_windows: Windows<FastMap<u32, LogHistogram>> = Windows::new(len);
                move |(input, frontier), (alert_input, alert_frontier), output| {
                    input.for_each(|cap, data| {
                        let time = cap.least().map_or(0, |&t| i64::try_from(t).unwrap_or(0));
                        for batch in data.drain(..) {
                            counters.add_in(batch.len());
                            let mut hint = 0usize;
                            let mut dead = 0usize;
                            for i in 0..batch.len() {
                                let ts = batch.ts[i];
                                if ts < time {
                                    dead += 1;
                                    continue;
                                }
                                let k = key(batch.source, batch.device[i]);
                                let latency = non_negative(batch.ingest_ts[i].saturating_sub(ts));
                                let w = readings.slot(ts, &cap, &mut hint);
                                w.delivery.entry(k).or_default().record(latency);
                                gaps.push(k, ts);
                            }
                            if dead > 0 {
                                counters.add_dead(dead);
                            }
                        }
                    });
                    alert_input.for_each(|cap, data| {
                        let time = cap.least().map_or(0, |&t| i64::try_from(t).unwrap_or(0));
                        for batch in data.drain(..) {
                            counters.add_in(batch.len());
                            let mut hint = 0usize;
                            let mut dead = 0usize;
                            for i in 0..batch.len() {
                                let ts = batch.decision_ts[i];
                                if ts < time {
                                    dead += 1;
                                    continue;
                                }
                                let w = alert_windows.slot(ts, &cap, &mut hint);
                                let latency = non_negative(batch.latency_ms[i]);
                                w.entry(batch.household[i]).or_default().record(latency);
                            }
                            if dead > 0 {
                                counters.add_dead(dead);
                            }
                        }
                    });

                    // Chain the gaps of every reading below the frontier, then emit the windows
                    // the frontier has passed (their gaps are all in by now).
                    gaps.advance(frontier_ms(frontier), target_gap_ms, &mut readings);
                    for w in readings.take_ready(frontier) {
                        let out = reading_rows(w.start, &w.state);
                        counters.add_out(out.len());
                        if !out.is_empty() {
                            output.session(&w.cap).give(out);
                        }
                    }
                    for Open {
                        start, cap, state, ..
                    } in alert_windows.take_ready(alert_frontier)
                    {
                        let mut homes: Vec<(&u32, &LogHistogram)> = state.iter().collect();
                        homes.sort_unstable_by_key(|(h, _)| **h);
                        let mut out = KpiBatch::default();
                        for (&home, hist) in homes {
                            let row = (ALERTS_SOURCE, home, start, KpiMetric::AlertLatency);
                            out.push_hist(row, hist, None);
                        }
                        counters.add_out(out.len());
                        if !out.is_empty() {
                            output.session(&cap).give(out);
                        }
                    }
                }
            },
        )
    }
}

/// The rows of one closed readings window, by key then metric.
fn reading_rows(start: i64, w: &ReadingWindow) -> KpiBatch {
    let mut keys: Vec<u64> = w.delivery.keys().copied().collect();
    keys.sort_unstable();
    let mut out = KpiBatch::default();
    for k in keys {
        let (source, device) = ((k >> 32) as u32, k as u32);
        if let Some(h) = w.delivery.get(&k) {
            out.push_hist((source, device, start, KpiMetric::DeliveryLatency), h, None);
        }
        if let Some(g) = w.gaps.get(&k) {
            let row = (source, device, start, KpiMetric::InterArrival);
            out.push_hist(row, &g.hist, Some(g.over_target));
        }
    }
    out
}
