//! Puts closed windows in a canonical order before they are written.
//!
//! Workers close the same windows at the same timely time (the window's end), but their
//! batches reach the sink worker in scheduling order. This operator gathers, on one worker,
//! everything stamped with a time until the frontier passes it, and emits it as one batch
//! sorted by (window start, device, sensor), devices ordered by a hash of their *name*
//! ([`NameKeys`]), never by interned id. `agg_1m` is then written row for row
//! in the same order — and, since segments are cut by row count, into byte-identical
//! segments — whatever the number of workers, batch sizes or arrival order.

use std::sync::Arc;

use crate::gather::GatherPerTime;
use msec_engine::Interner;
use msec_engine::intern::NameKeys;
use timely::dataflow::Stream;

use super::agg_batch::AggBatch;

/// Canonical ordering of closed windows on the sink worker.
pub trait OrderWindows<'scope> {
    /// Gathers each time's windows on worker [`SINK_WORKER`](msec_engine::runtime::SINK_WORKER) and emits them sorted.
    fn order_windows(self, interner: Arc<Interner>) -> Stream<'scope, u64, Vec<AggBatch>>;
}

impl<'scope> OrderWindows<'scope> for Stream<'scope, u64, Vec<AggBatch>> {
    fn order_windows(self, interner: Arc<Interner>) -> Stream<'scope, u64, Vec<AggBatch>> {
        let mut keys = NameKeys::new(interner);
        self.gather_per_time("OrderWindows", move |batches: Vec<AggBatch>| {
            let merged = sorted(&batches, &mut keys);
            (!merged.is_empty()).then_some(merged)
        })
    }
}

/// All rows of `batches`, sorted by (window start, device name key, sensor).
fn sorted(batches: &[AggBatch], keys: &mut NameKeys) -> AggBatch {
    let mut rows: Vec<(i64, u64, u8, &AggBatch, usize)> = batches
        .iter()
        .flat_map(|b| (0..b.len()).map(move |i| (b.window_start[i], 0, b.sensor[i].code(), b, i)))
        .collect();
    for row in &mut rows {
        row.1 = keys.key(row.3.device[row.4]);
    }
    rows.sort_unstable_by(|a, b| {
        (a.0, a.1, a.2)
            .cmp(&(b.0, b.1, b.2))
            .then_with(|| keys.cmp(a.3.device[a.4], b.3.device[b.4]))
    });
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
