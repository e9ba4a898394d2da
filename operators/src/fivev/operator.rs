//! The `fivev` operator ([`Fivev`]): per source and tumbling event-time window, the five Vs.
//!
//! # Time semantics
//!
//! Like [`crate::TumblingAggregate`]: windows are `[k·len, (k+1)·len)` in epoch ms; every
//! input record is put in the window of its event time — readings by `ts`, flags by `ts`,
//! [`SourceStats`] and [`ValueEvent`]s by their `ts` — taken as at least the timely time it
//! arrives at (the inputs promise `ts ≥` that time; a record below it is counted at it, not
//! dropped, so Volume stays complete). A window is complete once **every** input's frontier
//! has reached its end; each worker then emits its partial aggregates at the window's end,
//! and the partials are gathered and merged on the sink worker
//! ([`crate::gather::GatherPerTime`]) into one row per source, in the order
//! (window start, source name). At the end of input every open window is flushed.
//!
//! Every part merges exactly (see the private `partial` module), so the rows depend only on
//! the inputs, not on arrival order, batch sizes or worker count — except
//! `latency_p99_ms`, which reads wall-clock ingest times.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use msec_engine::intern::NameKeys;
use msec_engine::metrics::OperatorCounters;
use msec_engine::time::window_start;
use msec_engine::{Interner, ReadingBatch};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::Stream;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::operator::empty;
use timely::dataflow::operators::{Capability, InputCapability};

use super::batch::FivevBatch;
use super::input::{SourceStats, ValueEvent};
use super::partial::{Acc, FivevPartial};
use crate::gather::GatherPerTime;
use crate::veracity::VeracityFlags;

/// Default `fivev` window: 5 minutes. Long enough that rates over few records mean
/// something, short enough to follow a day's pattern (288 rows per source and day).
pub const DEFAULT_FIVEV_WINDOW_MS: u64 = 300_000;

/// The inputs of [`Fivev::fivev`] besides the readings.
pub struct FivevInputs<'scope> {
    /// One [`SourceStats`] per source batch (the binary feeds it at worker 0's input).
    pub stats: Stream<'scope, u64, Vec<SourceStats>>,
    /// The veracity flags ([`crate::veracity::VeracityStreams::flags`]).
    pub flags: Stream<'scope, u64, Vec<VeracityFlags>>,
    /// Value events; without them the Value columns are 0.
    pub value: Option<Stream<'scope, u64, Vec<ValueEvent>>>,
}

/// The five Vs per source and window.
pub trait Fivev<'scope> {
    /// Computes `fivev` rows from the (cleaned) readings and `inputs`, in tumbling windows
    /// of `window_ms` (see the module doc). Rows come out on the sink worker, in order.
    fn fivev(
        self,
        inputs: FivevInputs<'scope>,
        window_ms: u64,
        interner: Arc<Interner>,
        counters: Arc<OperatorCounters>,
    ) -> Stream<'scope, u64, Vec<FivevBatch>>;
}

/// One open window: a capability at its end and an accumulator per source.
struct Open {
    cap: Capability<u64>,
    sources: HashMap<u32, Acc, ahash::RandomState>,
}

/// Open windows by start.
struct Windows {
    len: i64,
    open: BTreeMap<i64, Open>,
}

impl Windows {
    /// The accumulator of `source` in the window of `ts` (at least the input time).
    fn acc(&mut self, ts: i64, source: u32, cap: &InputCapability<u64>) -> &mut Acc {
        let time = cap.least().copied().unwrap_or(0);
        let ts = ts.max(i64::try_from(time).unwrap_or(i64::MAX));
        let start = window_start(ts, self.len);
        let end = start.saturating_add(self.len);
        let open = self.open.entry(start).or_insert_with(|| Open {
            // `end > ts ≥ time`: the capability lies after the input time.
            cap: cap.delayed(&u64::try_from(end).unwrap_or(0).max(time), 0),
            sources: HashMap::default(),
        });
        open.sources.entry(source).or_default()
    }
}

impl<'scope> Fivev<'scope> for Stream<'scope, u64, Vec<ReadingBatch>> {
    fn fivev(
        self,
        inputs: FivevInputs<'scope>,
        window_ms: u64,
        interner: Arc<Interner>,
        counters: Arc<OperatorCounters>,
    ) -> Stream<'scope, u64, Vec<FivevBatch>> {
        let len = i64::try_from(window_ms.max(1)).unwrap_or(i64::MAX);
        let scope = self.scope();
        let value = inputs.value.unwrap_or_else(|| empty(scope));
        let mut builder = OperatorBuilder::new("Fivev".to_owned(), scope);
        let mut readings = builder.new_input(self, Pipeline);
        let mut stats = builder.new_input(inputs.stats, Pipeline);
        let mut flags = builder.new_input(inputs.flags, Pipeline);
        let mut value = builder.new_input(value, Pipeline);
        let (port, partials) = builder.new_output();
        let mut output: OutputBuilder<u64, CapacityContainerBuilder<Vec<FivevPartial>>> =
            OutputBuilder::from(port);
        builder.build(move |_initial| {
            let mut windows = Windows {
                len,
                open: BTreeMap::new(),
            };
            move |frontiers| {
                readings.for_each(|cap, data| {
                    let time = cap
                        .least()
                        .map_or(0, |&t| i64::try_from(t).unwrap_or(i64::MAX));
                    let start_of = |ts: i64| window_start(ts.max(time), len);
                    for batch in data.drain(..) {
                        counters.add_in(batch.len());
                        let mut i = 0;
                        while i < batch.len() {
                            // One lookup per run of readings in the same window.
                            let start = start_of(batch.ts[i]);
                            let acc = windows.acc(batch.ts[i], batch.source, &cap);
                            while i < batch.len() && start_of(batch.ts[i]) == start {
                                let latency = batch.ingest_ts[i].saturating_sub(batch.ts[i]);
                                acc.reading(batch.device[i], batch.sensor[i], latency);
                                i += 1;
                            }
                        }
                    }
                });
                stats.for_each(|cap, data| {
                    counters.add_in(data.len());
                    for s in data.drain(..) {
                        windows.acc(s.ts, s.source, &cap).stats(&s);
                    }
                });
                flags.for_each(|cap, data| {
                    for f in data.drain(..) {
                        counters.add_in(f.len());
                        for i in 0..f.len() {
                            windows.acc(f.ts[i], f.source[i], &cap).flag(f.kind[i]);
                        }
                    }
                });
                value.for_each(|cap, data| {
                    counters.add_in(data.len());
                    for v in data.drain(..) {
                        windows.acc(v.ts, v.source, &cap).value(&v);
                    }
                });

                // Emit every window whose end all inputs' frontiers have reached.
                let mut out = output.activate();
                while let Some(entry) = windows.open.first_entry() {
                    let end = u64::try_from(entry.key().saturating_add(len)).unwrap_or(0);
                    if frontiers.iter().any(|f| f.less_than(&end)) {
                        break;
                    }
                    let start = *entry.key();
                    let Open { cap, sources } = entry.remove();
                    let mut parts: Vec<FivevPartial> = sources
                        .into_iter()
                        .map(|(source, acc)| acc.finish(source, start))
                        .collect();
                    parts.sort_unstable_by_key(|p| p.source);
                    counters.add_out(parts.len());
                    out.session(&cap).give_iterator(parts.into_iter());
                }
            }
        });
        let mut names = NameKeys::new(interner);
        partials.gather_per_time("OrderFivev", move |parts: Vec<FivevPartial>| {
            let mut merged: BTreeMap<(i64, u32), FivevPartial> = BTreeMap::new();
            for p in parts {
                match merged.entry((p.window_start, p.source)) {
                    std::collections::btree_map::Entry::Vacant(e) => {
                        e.insert(p);
                    }
                    std::collections::btree_map::Entry::Occupied(mut e) => e.get_mut().merge(p),
                }
            }
            let mut rows: Vec<_> = merged.into_values().map(|p| p.row(window_ms)).collect();
            rows.sort_by(|a, b| {
                a.window_start
                    .cmp(&b.window_start)
                    .then_with(|| names.cmp(a.source, b.source))
            });
            (!rows.is_empty()).then_some(FivevBatch(rows))
        })
    }
}
