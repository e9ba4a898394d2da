//! The `heatmap` operator ([`Heatmap`]): per (metric, cell, tumbling event-time window) the
//! count, exact sum, mean and max of readings with a position and of citizens' reports.
//!
//! Two stages:
//!
//! 1. `HeatmapCells`, on the worker that holds each input batch: every reading of a mapped
//!    sensor kind and every report is given its cell on the configured grid, and the batch is
//!    split into one columnar batch of cell updates per worker, by a hash of the cell. A
//!    report becomes two updates, `reports` (value 1) and `smile` (its smile, if finite), both
//!    carrying the interned reporter. A record without a usable position is not an error: it
//!    is counted in its window's [`HeatmapSummary::unpositioned`](super::HeatmapSummary) and
//!    stays on its worker;
//! 2. `Heatmap`, after the exchange, so every cell — all its metrics and its reporters —
//!    lives on one worker: the updates are folded into their windows.
//!
//! Time semantics are those of [`crate::window::TumblingAggregate`]: a batch at timely time
//! `t` holds only records with event time `≥ t`, so once the frontier reaches a window's end
//! the window is complete and is emitted at the timely time of its end; at the end of input
//! every open window is flushed. A record below its batch's time breaks that contract: it is
//! counted as dead (`add_dead`) and left out. Counts, exact sums ([`crate::window::ExactSum`])
//! and maxima do not depend on arrival order, batch sizes or the number of workers; with
//! [`super::OrderHeatmap`] the rows also come in a canonical order.
//!
//! k-anonymity: the `reports` and `smile` rows of a cell are published only if at least `k`
//! distinct reporters reported in it during the window; otherwise they are suppressed and the
//! cell is counted in the window's `suppressed_cells`. Reporter ids never leave the operator.

use std::sync::Arc;

use msec_engine::metrics::OperatorCounters;
use msec_engine::report::ReportBatch;
use msec_engine::{ReadingBatch, SensorKind};
use serde::{Deserialize, Serialize};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::Stream;
use timely::dataflow::channels::pact::{Exchange, Pipeline};
use timely::dataflow::operators::generic::Operator;

use super::batch::{HeatmapBatch, HeatmapMetric};
use super::config::HeatmapConfig;
use super::grid::HeatmapGrid;
use super::state::{NO_REPORTER, OpenWindows};
use crate::error::Result;

/// The heat map (`heatmap`).
pub trait Heatmap<'scope> {
    /// Maps the readings (any partitioning) and `reports` onto `config.grid` and aggregates
    /// them per (metric, cell) in tumbling windows of `config.window_ms`. Fails only if the
    /// configuration is invalid.
    fn heatmap(
        self,
        reports: Stream<'scope, u64, Vec<ReportBatch>>,
        config: &HeatmapConfig,
        counters: Arc<OperatorCounters>,
    ) -> Result<Stream<'scope, u64, Vec<HeatmapBatch>>>;
}

/// Cell updates bound for one worker, column by column.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct CellUpdates {
    metric: Vec<HeatmapMetric>,
    cell: Vec<u64>,
    ts: Vec<i64>,
    value: Vec<f64>,
    /// Interned reporter, or [`NO_REPORTER`].
    reporter: Vec<u32>,
    /// Event times of records skipped for want of a position.
    unpositioned: Vec<i64>,
}

impl CellUpdates {
    fn is_empty(&self) -> bool {
        self.ts.is_empty() && self.unpositioned.is_empty()
    }

    #[inline]
    fn push(&mut self, metric: HeatmapMetric, cell: u64, ts: i64, value: f64, reporter: u32) {
        self.metric.push(metric);
        self.cell.push(cell);
        self.ts.push(ts);
        self.value.push(value);
        self.reporter.push(reporter);
    }
}

/// Mixes a cell key into a well-spread 64-bit hash (SplitMix64 finaliser; deterministic).
#[inline]
fn cell_hash(cell: u64) -> u64 {
    let mut z = cell.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Splits records into per-worker [`CellUpdates`].
struct Splitter {
    grid: HeatmapGrid,
    peers: usize,
    local: usize,
    parts: Vec<CellUpdates>,
}

impl Splitter {
    /// Adds a positioned value, or counts the record as unpositioned.
    #[inline]
    fn add(&mut self, lat: f64, lon: f64, ts: i64, values: &[(HeatmapMetric, f64)], who: u32) {
        match self.grid.cell(lat, lon) {
            Some(cell) => {
                let part = &mut self.parts[(cell_hash(cell) % self.peers as u64) as usize];
                for &(metric, value) in values {
                    part.push(metric, cell, ts, value, who);
                }
            }
            None => self.parts[self.local].unpositioned.push(ts),
        }
    }

    /// The non-empty parts, tagged with their worker; leaves empty parts behind.
    fn drain(&mut self) -> impl Iterator<Item = (u64, CellUpdates)> + '_ {
        self.parts
            .iter_mut()
            .enumerate()
            .filter(|(_, part)| !part.is_empty())
            .map(|(worker, part)| (worker as u64, std::mem::take(part)))
    }
}

impl<'scope> Heatmap<'scope> for Stream<'scope, u64, Vec<ReadingBatch>> {
    fn heatmap(
        self,
        reports: Stream<'scope, u64, Vec<ReportBatch>>,
        config: &HeatmapConfig,
        counters: Arc<OperatorCounters>,
    ) -> Result<Stream<'scope, u64, Vec<HeatmapBatch>>> {
        config.validate()?;
        let (grid, k) = (config.grid, config.k);
        let len = i64::try_from(config.window_ms).unwrap_or(i64::MAX);
        let mut mapped = [false; 256];
        for kind in &config.metrics {
            mapped[usize::from(kind.code())] = true;
        }
        let scope = self.scope();
        let mut split = Splitter {
            grid,
            peers: scope.peers(),
            local: scope.index(),
            parts: vec![CellUpdates::default(); scope.peers()],
        };
        let cell_counters = Arc::clone(&counters);
        let cells = self
            .binary::<_, CapacityContainerBuilder<Vec<(u64, CellUpdates)>>, _, _, _, _>(
                reports,
                Pipeline,
                Pipeline,
                "HeatmapCells",
                move |_cap, _info| {
                    move |readings, reports, output| {
                        let counters = &cell_counters;
                        readings.for_each(|cap, data| {
                            let time = cap.least().map_or(0, |&t| i64::try_from(t).unwrap_or(0));
                            let mut session = output.session(&cap);
                            for batch in data.drain(..) {
                                counters.add_in(batch.len());
                                let mut dead = 0usize;
                                for i in 0..batch.len() {
                                    let kind: SensorKind = batch.sensor[i];
                                    if !mapped[usize::from(kind.code())] {
                                        continue;
                                    }
                                    let ts = batch.ts[i];
                                    if ts < time {
                                        dead += 1;
                                        continue;
                                    }
                                    let value = [(HeatmapMetric::Sensor(kind), batch.value[i])];
                                    split.add(batch.lat[i], batch.lon[i], ts, &value, NO_REPORTER);
                                }
                                if dead > 0 {
                                    counters.add_dead(dead);
                                }
                                session.give_iterator(split.drain());
                            }
                        });
                        reports.for_each(|cap, data| {
                            let time = cap.least().map_or(0, |&t| i64::try_from(t).unwrap_or(0));
                            let mut session = output.session(&cap);
                            for batch in data.drain(..) {
                                counters.add_in(batch.len());
                                let mut dead = 0usize;
                                for i in 0..batch.len() {
                                    let ts = batch.ts[i];
                                    if ts < time {
                                        dead += 1;
                                        continue;
                                    }
                                    let smile = batch.smile[i];
                                    let both = [
                                        (HeatmapMetric::Reports, 1.0),
                                        (HeatmapMetric::Smile, smile),
                                    ];
                                    let values = if smile.is_finite() {
                                        &both[..]
                                    } else {
                                        &both[..1]
                                    };
                                    let (lat, lon) = (batch.lat[i], batch.lon[i]);
                                    split.add(lat, lon, ts, values, batch.reporter[i]);
                                }
                                if dead > 0 {
                                    counters.add_dead(dead);
                                }
                                session.give_iterator(split.drain());
                            }
                        });
                    }
                },
            );
        let stream = cells.unary_frontier(
            Exchange::new(|(worker, _): &(u64, CellUpdates)| *worker),
            "Heatmap",
            move |_cap, _info| {
                let mut windows = OpenWindows::new(len);
                move |(input, frontier), output| {
                    input.for_each(|cap, data| {
                        for (_, updates) in data.drain(..) {
                            // Stage 1 left out every record below its batch's time, and the
                            // time is unchanged by the exchange.
                            let mut hint = 0usize;
                            for i in 0..updates.ts.len() {
                                let w = windows.slot(updates.ts[i], &cap, &mut hint);
                                let (metric, cell) = (updates.metric[i], updates.cell[i]);
                                w.add(metric, cell, updates.value[i], updates.reporter[i]);
                            }
                            for &ts in &updates.unpositioned {
                                windows.slot(ts, &cap, &mut hint).add_unpositioned();
                            }
                        }
                    });
                    for w in windows.take_ready(frontier) {
                        let out = w.state.close(grid, w.start, k);
                        counters.add_out(out.len());
                        output.session(&w.cap).give(out);
                    }
                }
            },
        );
        Ok(stream)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_spreads_neighbouring_cells() {
        let grid = HeatmapGrid::default();
        let mut counts = [0usize; 4];
        for x in 0..40 {
            for y in 0..100 {
                let cell = grid.cell(43.0 + f64::from(y) / 1000.0, -3.8 + f64::from(x) / 1000.0);
                counts[(cell_hash(cell.expect("cell")) % 4) as usize] += 1;
            }
        }
        assert!(counts.iter().all(|&c| c > 800), "{counts:?}");
    }
}
