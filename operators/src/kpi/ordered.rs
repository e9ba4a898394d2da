//! Puts closed `kpi_latency` windows in a canonical order before they are written
//! ([`OrderKpi`]), like [`crate::OrderWindows`] does for `agg_1m`.
//!
//! Everything stamped with a time is gathered on worker [`SINK_WORKER`](msec_engine::runtime::SINK_WORKER) until the frontier
//! passes that time, then emitted as one batch sorted by (window start, source name, device,
//! metric name), devices by a hash of their name ([`NameKeys`]). Names, not interned ids, decide the order, so the rows — and the
//! dataset's segments — are the same whatever the number of workers, batch sizes, arrival
//! order or the order in which names were first interned.

use std::sync::Arc;

use crate::gather::GatherPerTime;
use msec_engine::Interner;
use msec_engine::intern::NameKeys;
use timely::dataflow::Stream;

use super::batch::{KpiBatch, source_name};

/// Canonical ordering of `kpi_latency` rows on the sink worker.
pub trait OrderKpi<'scope> {
    /// Gathers each time's rows on worker [`SINK_WORKER`](msec_engine::runtime::SINK_WORKER) and emits them sorted.
    fn order_kpi(self, interner: Arc<Interner>) -> Stream<'scope, u64, Vec<KpiBatch>>;
}

impl<'scope> OrderKpi<'scope> for Stream<'scope, u64, Vec<KpiBatch>> {
    fn order_kpi(self, interner: Arc<Interner>) -> Stream<'scope, u64, Vec<KpiBatch>> {
        let mut keys = NameKeys::new(Arc::clone(&interner));
        self.gather_per_time("OrderKpi", move |batches: Vec<KpiBatch>| {
            let merged = sorted(&batches, &interner, &mut keys);
            (!merged.is_empty()).then_some(merged)
        })
    }
}

/// A row to sort: (window start, source name, device key, metric name), then where it is.
type SortRow<'a> = (i64, Arc<str>, u64, &'static str, &'a KpiBatch, usize);

/// All rows of `batches`, sorted by (window start, source name, device name key, metric).
pub fn sorted(batches: &[KpiBatch], interner: &Interner, keys: &mut NameKeys) -> KpiBatch {
    let mut rows: Vec<SortRow<'_>> = Vec::new();
    let mut sources: Vec<(u32, Arc<str>)> = Vec::new();
    for b in batches {
        for i in 0..b.len() {
            let s = b.source[i];
            let source = match sources.iter().find(|(id, _)| *id == s) {
                Some((_, name)) => Arc::clone(name),
                None => {
                    let name = source_name(s, interner);
                    sources.push((s, Arc::clone(&name)));
                    name
                }
            };
            rows.push((
                b.window_start[i],
                source,
                keys.key(b.device[i]),
                b.metric[i].name(),
                b,
                i,
            ));
        }
    }
    rows.sort_unstable_by(|a, b| {
        (a.0, &a.1, a.2, a.3)
            .cmp(&(b.0, &b.1, b.2, b.3))
            .then_with(|| keys.cmp(a.4.device[a.5], b.4.device[b.5]))
    });
    let mut out = KpiBatch::default();
    for (_, _, _, _, b, i) in rows {
        out.push_from(b, i);
    }
    out
}
