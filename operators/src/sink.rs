//! Hands a stream's batches to a sink thread ([`msec_engine::sink::SinkHandle`]) as Arrow
//! record batches. All data is funnelled through worker [`SINK_WORKER`] so that each dataset's
//! hash chain stays linear (DESIGN §10). Conversion to Arrow happens here, once per batch.

use std::sync::Arc;

use msec_engine::arrow::record_batch::RecordBatch;
use msec_engine::metrics::OperatorCounters;
use msec_engine::runtime::SINK_WORKER;
use msec_engine::sink::{Failure, SinkHandle};
use msec_engine::{Interner, ReadingBatch};
use serde::Serialize;
use serde::de::DeserializeOwned;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::Stream;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;

/// A batch type that can become an Arrow record batch.
pub trait ToRecordBatch {
    /// Number of rows.
    fn rows(&self) -> usize;
    /// Converts, resolving interned ids with `interner`.
    fn to_record_batch(&self, interner: &Interner) -> msec_engine::Result<RecordBatch>;
}

impl ToRecordBatch for ReadingBatch {
    fn rows(&self) -> usize {
        self.len()
    }
    fn to_record_batch(&self, interner: &Interner) -> msec_engine::Result<RecordBatch> {
        ReadingBatch::to_record_batch(self, interner)
    }
}

impl ToRecordBatch for msec_engine::report::ReportBatch {
    fn rows(&self) -> usize {
        self.len()
    }
    fn to_record_batch(&self, interner: &Interner) -> msec_engine::Result<RecordBatch> {
        msec_engine::report::ReportBatch::to_record_batch(self, interner)
    }
}

/// Sinks a stream into a sink thread.
pub trait SinkTo<'scope> {
    /// Sends every batch, as Arrow, to `handle` from worker 0. If conversion or the sink thread
    /// fails, `failed` records why and the run ends with that error; once anything in the
    /// pipeline has failed, nothing more is handed to the sink, so results flushed while the
    /// dataflow shuts down are never sealed as if they were complete.
    ///
    /// Returns an empty stream whose frontier passes a time only once every batch before it
    /// has been handed to the sink thread: probing it tells when a checkpoint may seal.
    fn sink_to(
        self,
        handle: SinkHandle,
        interner: Arc<Interner>,
        counters: Arc<OperatorCounters>,
        failed: Failure,
    ) -> Stream<'scope, u64, Vec<()>>;
}

impl<'scope, B> SinkTo<'scope> for Stream<'scope, u64, Vec<B>>
where
    B: ToRecordBatch + Clone + Send + Serialize + DeserializeOwned + 'static,
{
    fn sink_to(
        self,
        handle: SinkHandle,
        interner: Arc<Interner>,
        counters: Arc<OperatorCounters>,
        failed: Failure,
    ) -> Stream<'scope, u64, Vec<()>> {
        let name = format!("Sink({})", handle.name());
        self.unary::<CapacityContainerBuilder<Vec<()>>, _, _, _>(
            Exchange::new(|_: &B| SINK_WORKER as u64),
            &name,
            move |_cap, _info| {
                move |input, _output| {
                    input.for_each(|_cap, data| {
                        for batch in data.drain(..) {
                            if batch.rows() == 0 || failed.is_set() {
                                continue;
                            }
                            counters.add_in(batch.rows());
                            let result = batch
                                .to_record_batch(&interner)
                                .map_err(|e| e.to_string())
                                .and_then(|rb| handle.send(rb).map_err(|e| e.to_string()));
                            match result {
                                Ok(()) => counters.add_out(batch.rows()),
                                Err(e) => {
                                    tracing::error!(sink = handle.name(), error = %e, "sink failed");
                                    failed.set(format!("sink {}: {e}", handle.name()));
                                }
                            }
                        }
                    });
                }
            },
        )
    }
}
