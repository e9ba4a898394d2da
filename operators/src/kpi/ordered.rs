//! Puts closed `kpi_latency` windows in a canonical order before they are written
//! ([`OrderKpi`]), like [`crate::OrderWindows`] does for `agg_1m`.
//!
//! Everything stamped with a time is gathered on worker [`SINK_WORKER`](msec_engine::runtime::SINK_WORKER) until the frontier
//! passes that time, then emitted as one batch sorted by (window start, source name, device
//! name, metric name). Names, not interned ids, decide the order, so the rows — and the
//! dataset's segments — are the same whatever the number of workers, batch sizes, arrival
//! order or the order in which names were first interned.

use std::sync::Arc;

use crate::gather::GatherPerTime;
use msec_engine::Interner;
use timely::dataflow::Stream;

use super::batch::{KpiBatch, source_name};

/// Canonical ordering of `kpi_latency` rows on the sink worker.
pub trait OrderKpi<'scope> {
    /// Gathers each time's rows on worker [`SINK_WORKER`](msec_engine::runtime::SINK_WORKER) and emits them sorted.
    fn order_kpi(self, interner: Arc<Interner>) -> Stream<'scope, u64, Vec<KpiBatch>>;
}

impl<'scope> OrderKpi<'scope> for Stream<'scope, u64, Vec<KpiBatch>> {
    fn order_kpi(self, interner: Arc<Interner>) -> Stream<'scope, u64, Vec<KpiBatch>> {
        self.gather_per_time("OrderKpi", move |batches: Vec<KpiBatch>| {
            let merged = sorted(&batches, &interner);
            (!merged.is_empty()).then_some(merged)
        })
    }
}

/// A row to sort: (window start, source name, device name, metric name), then where it is.
type SortRow<'a> = (i64, Arc<str>, Arc<str>, &'static str, &'a KpiBatch, usize);

/// All rows of `batches`, sorted by (window start, source name, device name, metric name).
pub fn sorted(batches: &[KpiBatch], interner: &Interner) -> KpiBatch {
    let mut rows: Vec<SortRow<'_>> = batches
        .iter()
        .flat_map(|b| {
            (0..b.len()).map(move |i| {
                let source = source_name(b.source[i], interner);
                let device = interner.name(b.device[i]).unwrap_or_else(|| Arc::from(""));
                (b.window_start[i], source, device, b.metric[i].name(), b, i)
            })
        })
        .collect();
    rows.sort_unstable_by(|a, b| (a.0, &a.1, &a.2, a.3).cmp(&(b.0, &b.1, &b.2, b.3)));
    let mut out = KpiBatch::default();
    for (_, _, _, _, b, i) in rows {
        out.push_from(b, i);
    }
    out
}
