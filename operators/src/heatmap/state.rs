//! Per-window state of the heat map: the open tumbling windows of one worker, each holding
//! a capability at its end ([`OpenWindows`]), and inside each window the accumulators per
//! (metric, cell), the distinct reporters per cell and the count of unpositioned records
//! ([`WindowState`]). Closing a window applies k-anonymity and yields its rows.

use crate::window::open::Windows;
use std::collections::HashMap;

use super::batch::{HeatmapBatch, HeatmapMetric, HeatmapSummary};
use super::grid::HeatmapGrid;
use crate::window::ExactSum;

/// A hash map with a fast, non-cryptographic hasher (keys are small ints).
type FastMap<K, V> = HashMap<K, V, ahash::RandomState>;

/// The reporter id of values that come from readings.
pub(super) const NO_REPORTER: u32 = u32::MAX;

/// Count, exact sum and max of one (metric, cell) in one window.
#[derive(Debug, Clone, Copy)]
struct Acc {
    count: u64,
    sum: ExactSum,
    max: f64,
}

/// What one window holds on one worker.
#[derive(Debug, Default)]
pub(super) struct WindowState {
    cells: FastMap<(HeatmapMetric, u64), Acc>,
    /// Distinct reporters per cell, sorted (reports are few: a sorted `Vec` is enough).
    reporters: FastMap<u64, Vec<u32>>,
    unpositioned: u64,
}

impl WindowState {
    /// Adds a value of `metric` in `cell`; `reporter` is [`NO_REPORTER`] for readings.
    #[inline]
    pub fn add(&mut self, metric: HeatmapMetric, cell: u64, value: f64, reporter: u32) {
        let acc = self.cells.entry((metric, cell)).or_insert(Acc {
            count: 0,
            sum: ExactSum::default(),
            max: f64::NEG_INFINITY,
        });
        acc.count += 1;
        acc.sum.add(value);
        acc.max = acc.max.max(value);
        if reporter != NO_REPORTER {
            let set = self.reporters.entry(cell).or_default();
            if let Err(pos) = set.binary_search(&reporter) {
                set.insert(pos, reporter);
            }
        }
    }

    /// Counts a record skipped for want of a position.
    pub fn add_unpositioned(&mut self) {
        self.unpositioned += 1;
    }

    /// The rows of the closed window starting at `start`, by (metric name, cell); the
    /// report-derived rows of a cell with fewer than `k` distinct reporters are left out and
    /// counted in the summary. Reporter ids are dropped here.
    pub fn close(self, grid: HeatmapGrid, start: i64, k: usize) -> HeatmapBatch {
        let published = |cell: u64| self.reporters.get(&cell).is_some_and(|r| r.len() >= k);
        let mut rows: Vec<(&(HeatmapMetric, u64), &Acc)> = self
            .cells
            .iter()
            .filter(|((metric, cell), _)| !metric.from_reports() || published(*cell))
            .collect();
        rows.sort_unstable_by_key(|((metric, cell), _)| (metric.name(), *cell));
        let mut out = HeatmapBatch::new(grid);
        for (&(metric, cell), acc) in rows {
            let (sum, avg) = (acc.sum.value(), acc.sum.mean(acc.count));
            out.push(metric, cell, start, acc.count, sum, avg, acc.max);
        }
        let suppressed = self.reporters.values().filter(|r| r.len() < k).count();
        out.summary.push(HeatmapSummary {
            window_start: start,
            suppressed_cells: suppressed as u64,
            unpositioned: self.unpositioned,
        });
        out
    }
}

/// Open heat-map windows of one worker.
pub(super) type OpenWindows = Windows<WindowState>;

#[cfg(test)]
mod tests {
    use super::*;
    use msec_engine::SensorKind;

    #[test]
    fn k_anonymity_counts_distinct_reporters() {
        let grid = HeatmapGrid::default();
        let mut w = WindowState::default();
        for reporter in [1, 2, 2, 3] {
            w.add(HeatmapMetric::Reports, 10, 1.0, reporter);
            w.add(HeatmapMetric::Smile, 10, 0.5, reporter);
        }
        w.add(
            HeatmapMetric::Sensor(SensorKind::Crowd),
            10,
            4.0,
            NO_REPORTER,
        );
        w.add_unpositioned();
        let out = w.close(grid, 0, 4);
        assert_eq!(
            out.len(),
            1,
            "only the reading row: 3 distinct reporters < 4"
        );
        assert_eq!(out.metric[0], HeatmapMetric::Sensor(SensorKind::Crowd));
        assert_eq!(
            out.summary,
            vec![HeatmapSummary {
                window_start: 0,
                suppressed_cells: 1,
                unpositioned: 1
            }]
        );
    }
}
