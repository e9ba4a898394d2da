//! Puts closed windows in a canonical order before they are written.
//!
//! Workers close the same windows at the same timely time (the window's end), but their
//! batches reach the sink worker in scheduling order. This operator gathers, on one worker,
//! everything stamped with a time until the frontier passes it, and emits it as one batch
//! sorted by (window start, device name, sensor name). `agg_1m` is then written row for row
//! in the same order — and, since segments are cut by row count, into byte-identical
//! segments — whatever the number of workers, batch sizes or arrival order.

use std::sync::Arc;

use crate::gather::GatherPerTime;
use msec_engine::Interner;
use timely::dataflow::Stream;

use super::agg_batch::AggBatch;

/// Canonical ordering of closed windows on the sink worker.
pub trait OrderWindows<'scope> {
    /// Gathers each time's windows on worker [`SINK_WORKER`](msec_engine::runtime::SINK_WORKER) and emits them sorted.
    fn order_windows(self, interner: Arc<Interner>) -> Stream<'scope, u64, Vec<AggBatch>>;
}

impl<'scope> OrderWindows<'scope> for Stream<'scope, u64, Vec<AggBatch>> {
    fn order_windows(self, interner: Arc<Interner>) -> Stream<'scope, u64, Vec<AggBatch>> {
        self.gather_per_time("OrderWindows", move |batches: Vec<AggBatch>| {
            let merged = sorted(&batches, &interner);
            (!merged.is_empty()).then_some(merged)
        })
    }
}

/// All rows of `batches`, sorted by (window start, device name, sensor name).
fn sorted(batches: &[AggBatch], interner: &Interner) -> AggBatch {
    let mut rows: Vec<(i64, Arc<str>, &'static str, &AggBatch, usize)> = batches
        .iter()
        .flat_map(|b| {
            (0..b.len()).map(move |i| {
                let name = interner.name(b.device[i]).unwrap_or_else(|| Arc::from(""));
                (b.window_start[i], name, b.sensor[i].name(), b, i)
            })
        })
        .collect();
    rows.sort_unstable_by(|a, b| (a.0, &a.1, a.2).cmp(&(b.0, &b.1, b.2)));
    let mut out = AggBatch::default();
    for (_, _, _, b, i) in rows {
        out.device.push(b.device[i]);
        out.sensor.push(b.sensor[i]);
        out.window_start.push(b.window_start[i]);
        out.count.push(b.count[i]);
        out.min.push(b.min[i]);
        out.max.push(b.max[i]);
        out.avg.push(b.avg[i]);
    }
    out
}
