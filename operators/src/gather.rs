//! Gathers everything stamped with one timely time on the sink worker, and hands it to a
//! function once the frontier has passed that time — the building block of the canonical
//! orderings (`agg_1m`, `kpi_latency`, `alerts`).
//!
//! Workers produce a time's output in scheduling order; once all of it is on one worker
//! and complete, sorting it by names gives the same rows in the same order whatever the
//! number of workers, batch sizes or arrival order.

use std::collections::BTreeMap;

use msec_engine::runtime::SINK_WORKER;
use serde::Serialize;
use serde::de::DeserializeOwned;
use timely::dataflow::Stream;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::Capability;
use timely::dataflow::operators::generic::Operator;

/// Per-time gathering on the sink worker.
pub trait GatherPerTime<'scope, D> {
    /// Sends every item to worker [`SINK_WORKER`]; when the frontier passes a time, calls
    /// `f` with all of that time's items and emits its result (if any) at that time.
    fn gather_per_time<O, F>(self, name: &str, f: F) -> Stream<'scope, u64, Vec<O>>
    where
        O: Clone + 'static,
        F: FnMut(Vec<D>) -> Option<O> + 'static;
}

impl<'scope, D> GatherPerTime<'scope, D> for Stream<'scope, u64, Vec<D>>
where
    D: Clone + Send + Serialize + DeserializeOwned + 'static,
{
    fn gather_per_time<O, F>(self, name: &str, mut f: F) -> Stream<'scope, u64, Vec<O>>
    where
        O: Clone + 'static,
        F: FnMut(Vec<D>) -> Option<O> + 'static,
    {
        self.unary_frontier(
            Exchange::new(|_: &D| SINK_WORKER as u64),
            name,
            move |_cap, _info| {
                let mut stash: BTreeMap<u64, (Capability<u64>, Vec<D>)> = BTreeMap::new();
                move |(input, frontier), output| {
                    input.for_each(|cap, data| {
                        let Some(&time) = cap.least() else { return };
                        let entry = stash
                            .entry(time)
                            .or_insert_with(|| (cap.delayed(&time, 0), Vec::new()));
                        entry.1.append(data);
                    });
                    while let Some(entry) = stash.first_entry() {
                        if frontier.less_equal(entry.key()) {
                            break;
                        }
                        let (cap, items) = entry.remove();
                        if let Some(out) = f(items) {
                            output.session(&cap).give(out);
                        }
                    }
                }
            },
        )
    }
}
