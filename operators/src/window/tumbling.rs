//! Tumbling event-time windows per (device, sensor): count, min, max, avg (`agg_1m`).
//!
//! Windows are `[k·len, (k+1)·len)` in epoch ms. Time semantics: a batch arriving at timely
//! time `t` holds only readings with event time `≥ t` (the source dead-letters anything below
//! its watermark), so once the input frontier reaches a window's end no reading of that window
//! can arrive any more, and the window is emitted — at the timely time of its end. At the end
//! of input the frontier empties and every open window is flushed. The result depends only on
//! which readings arrive, not on their order, batch boundaries or the number of workers: min
//! and max are order-free, and the sum is an [`ExactSum`].
//!
//! State per open window is one hash map from the packed key `(device << 8) | sensor` to a
//! small accumulator; no allocation per record once a key exists.

use std::collections::HashMap;
use std::sync::Arc;

use msec_engine::metrics::OperatorCounters;
use msec_engine::time::window_start;
use msec_engine::{ReadingBatch, SensorKind};
use timely::dataflow::Stream;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::Capability;
use timely::dataflow::operators::generic::Operator;

use super::agg_batch::AggBatch;
use super::exact_sum::ExactSum;

#[derive(Debug, Clone, Copy)]
struct Acc {
    count: u64,
    min: f64,
    max: f64,
    sum: ExactSum,
}

struct OpenWindow {
    end: i64,
    cap: Capability<u64>,
    keys: HashMap<u64, Acc, ahash::RandomState>,
}

/// Tumbling-window aggregation of readings.
pub trait TumblingAggregate<'scope> {
    /// Aggregates readings per (device, sensor) in tumbling windows of `window_ms`.
    /// The input must be partitioned by device (see [`crate::PartitionReadings`]).
    fn tumbling_aggregate(
        self,
        window_ms: u64,
        counters: Arc<OperatorCounters>,
    ) -> Stream<'scope, u64, Vec<AggBatch>>;
}

impl<'scope> TumblingAggregate<'scope> for Stream<'scope, u64, Vec<ReadingBatch>> {
    fn tumbling_aggregate(
        self,
        window_ms: u64,
        counters: Arc<OperatorCounters>,
    ) -> Stream<'scope, u64, Vec<AggBatch>> {
        let len = i64::try_from(window_ms.max(1)).unwrap_or(i64::MAX);
        self.unary_frontier(Pipeline, "TumblingAggregate", move |_cap, _info| {
            // Open windows, sorted by end.
            let mut open: Vec<OpenWindow> = Vec::new();
            move |(input, frontier), output| {
                input.for_each(|cap, data| {
                    for batch in data.drain(..) {
                        counters.add_in(batch.len());
                        let mut hint = 0usize;
                        for i in 0..batch.len() {
                            let end = window_start(batch.ts[i], len) + len;
                            if open.get(hint).is_none_or(|w| w.end != end) {
                                hint = match open.binary_search_by_key(&end, |w| w.end) {
                                    Ok(pos) => pos,
                                    Err(pos) => {
                                        // The reading's event time is ≥ the batch's timely time,
                                        // so the window end lies strictly after it.
                                        let t = u64::try_from(end)
                                            .unwrap_or(0)
                                            .max(cap.least().copied().unwrap_or(0));
                                        open.insert(
                                            pos,
                                            OpenWindow {
                                                end,
                                                cap: cap.delayed(&t, 0),
                                                keys: HashMap::default(),
                                            },
                                        );
                                        pos
                                    }
                                };
                            }
                            let key = (u64::from(batch.device[i]) << 8)
                                | u64::from(batch.sensor[i].code());
                            let v = batch.value[i];
                            let acc = open[hint].keys.entry(key).or_insert(Acc {
                                count: 0,
                                min: f64::INFINITY,
                                max: f64::NEG_INFINITY,
                                sum: ExactSum::default(),
                            });
                            acc.count += 1;
                            acc.min = acc.min.min(v);
                            acc.max = acc.max.max(v);
                            acc.sum.add(v);
                        }
                    }
                });

                // Emit every window whose end the frontier has reached.
                let ready = open
                    .iter()
                    .take_while(|w| !frontier.less_than(&u64::try_from(w.end).unwrap_or(0)))
                    .count();
                for w in open.drain(..ready) {
                    let mut rows: Vec<(u64, Acc)> = w.keys.into_iter().collect();
                    rows.sort_unstable_by_key(|(k, _)| *k);
                    let start = w.end - len;
                    let mut out = AggBatch::default();
                    for (key, acc) in rows {
                        let Some(sensor) = SensorKind::from_code((key & 0xff) as u8) else {
                            continue;
                        };
                        out.device.push((key >> 8) as u32);
                        out.sensor.push(sensor);
                        out.window_start.push(start);
                        out.count.push(acc.count);
                        out.min.push(acc.min);
                        out.max.push(acc.max);
                        out.avg.push(acc.sum.mean(acc.count));
                    }
                    counters.add_out(out.len());
                    output.session(&w.cap).give(out);
                }
            }
        })
    }
}
