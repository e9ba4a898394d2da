//! Puts closed heat-map windows in a canonical order before they are written
//! ([`OrderHeatmap`]), like [`crate::OrderWindows`] does for `agg_1m`.
//!
//! Everything stamped with a time is gathered on worker
//! [`SINK_WORKER`](msec_engine::runtime::SINK_WORKER) until the frontier passes that time,
//! then emitted as one batch sorted by (window start, metric name, cell key) — integers and
//! static names only, so the rows, and the dataset's segments, are the same whatever the
//! number of workers, batch sizes or arrival order. The workers' [`HeatmapSummary`]s of a
//! window are summed into one, in window order. A time whose windows have neither rows nor
//! anything to summarise emits nothing.

use std::collections::BTreeMap;

use timely::dataflow::Stream;

use super::batch::{HeatmapBatch, HeatmapSummary};
use crate::gather::GatherPerTime;

/// Canonical ordering of heat-map rows on the sink worker.
pub trait OrderHeatmap<'scope> {
    /// Gathers each time's rows on worker [`SINK_WORKER`](msec_engine::runtime::SINK_WORKER)
    /// and emits them sorted, with the summaries merged.
    fn order_heatmap(self) -> Stream<'scope, u64, Vec<HeatmapBatch>>;
}

impl<'scope> OrderHeatmap<'scope> for Stream<'scope, u64, Vec<HeatmapBatch>> {
    fn order_heatmap(self) -> Stream<'scope, u64, Vec<HeatmapBatch>> {
        self.gather_per_time("OrderHeatmap", move |batches: Vec<HeatmapBatch>| {
            let merged = sorted(&batches);
            (!merged.is_empty() || !merged.summary.is_empty()).then_some(merged)
        })
    }
}

/// All rows of `batches` (one grid), sorted by (window start, metric name, cell), and their
/// summaries summed per window. Summaries that report nothing are dropped.
pub fn sorted(batches: &[HeatmapBatch]) -> HeatmapBatch {
    let mut rows: Vec<(i64, &'static str, u64, &HeatmapBatch, usize)> = batches
        .iter()
        .flat_map(|b| {
            (0..b.len()).map(move |i| (b.window_start[i], b.metric[i].name(), b.cell[i], b, i))
        })
        .collect();
    rows.sort_unstable_by_key(|&(start, metric, cell, _, _)| (start, metric, cell));
    let mut out = HeatmapBatch::new(batches.first().map(|b| b.grid).unwrap_or_default());
    for (_, _, _, b, i) in rows {
        out.push_from(b, i);
    }
    let mut summary: BTreeMap<i64, HeatmapSummary> = BTreeMap::new();
    for s in batches.iter().flat_map(|b| &b.summary) {
        let total = summary.entry(s.window_start).or_insert(HeatmapSummary {
            window_start: s.window_start,
            ..HeatmapSummary::default()
        });
        total.suppressed_cells += s.suppressed_cells;
        total.unpositioned += s.unpositioned;
    }
    out.summary = summary
        .into_values()
        .filter(|s| s.suppressed_cells > 0 || s.unpositioned > 0)
        .collect();
    out
}
