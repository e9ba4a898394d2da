//! Small stages `msec run` wires into its dataflow: the live alert output, the heat map's
//! 5V value events, and what a stopped run reports.

use std::sync::{Arc, Mutex};

use msec_engine::alert::AlertSink;
use msec_engine::sink::Failure;
use msec_operators::AlertRows;
use msec_operators::fivev::ValueEvent;
use msec_operators::heatmap::HeatmapBatch;
use timely::dataflow::Stream;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;

/// The `failed` message of a run stopped by a signal (not an error).
pub(crate) const STOPPED: &str = "stopped by a signal";

/// Heat-map cells published, per window, as 5V "value" events of the run's source.
pub(crate) fn heatmap_value<'scope>(
    cells: Stream<'scope, u64, Vec<HeatmapBatch>>,
    source: u32,
) -> Stream<'scope, u64, Vec<ValueEvent>> {
    cells.unary(Pipeline, "HeatmapValue", move |_cap, _info| {
        move |input, output| {
            input.for_each(|cap, data| {
                let mut events: Vec<ValueEvent> = Vec::new();
                for batch in data.drain(..) {
                    for &ts in &batch.window_start {
                        match events.last_mut() {
                            Some(e) if e.ts == ts => e.heatmap_cells += 1,
                            _ => events.push(ValueEvent {
                                source,
                                ts,
                                alerts: 0,
                                heatmap_cells: 1,
                                datasets_sealed: 0,
                            }),
                        }
                    }
                }
                if !events.is_empty() {
                    output.session(&cap).give_iterator(events.into_iter());
                }
            });
        }
    })
}

/// The live alert output, fed on the sink worker (the only worker `order_alerts` emits on)
/// with each batch of decisions as soon as the frontier makes them final. A failing output
/// fails the run: an alert a caregiver never receives is not a detail.
pub(crate) fn publish_live(
    alerts: Stream<'_, u64, Vec<AlertRows>>,
    live: &Arc<Mutex<Option<Box<dyn AlertSink>>>>,
    counters: Arc<msec_engine::metrics::OperatorCounters>,
    failed: Failure,
) {
    let live = Arc::clone(live);
    alerts.sink(Pipeline, "LiveAlerts", move |(input, _frontier)| {
        input.for_each(|_cap, data| {
            for rows in data.drain(..) {
                if rows.0.is_empty() || failed.is_set() {
                    continue;
                }
                counters.add_in(rows.0.len());
                let Ok(mut guard) = live.lock() else {
                    failed.set(String::from("live alert output: lock poisoned"));
                    return;
                };
                if let Some(sink) = guard.as_mut() {
                    match sink.publish(&rows.0) {
                        Ok(()) => counters.add_out(rows.0.len()),
                        Err(e) => failed.set(e.to_string()),
                    }
                }
            }
        });
    });
}
