//! The batch a text source is filling: readings and dead letters of one stretch of input,
//! and how it is handed downstream as a [`SourceBatch`].

use msec_engine::report::ReportBatch;
use msec_engine::source::{BatchSender, SourceBatch, SourceSummary};
use msec_engine::time::now_ms;
use msec_engine::{DeadLetter, EngineError, ReadingBatch};

/// Readings and dead letters not yet sent.
#[derive(Debug)]
pub(crate) struct Pending {
    /// Valid readings.
    pub(crate) readings: ReadingBatch,
    /// Valid citizen reports.
    pub(crate) reports: ReportBatch,
    /// Rejected records, in input order.
    pub(crate) dead: Vec<DeadLetter>,
    /// Input records consumed.
    pub(crate) records: u64,
    /// Input bytes consumed.
    pub(crate) bytes: u64,
    /// Ingest time of this batch: the wall clock when its first input arrived (see
    /// [`restamp`](Self::restamp)), else when it was started.
    pub(crate) now: i64,
}

impl Pending {
    /// An empty batch for source `source_id`, sized for `batch_rows` readings.
    pub(crate) fn new(source_id: u32, batch_rows: usize) -> Self {
        Self {
            readings: ReadingBatch::with_capacity(source_id, batch_rows.min(1 << 16)),
            reports: ReportBatch::new(source_id),
            dead: Vec::new(),
            records: 0,
            bytes: 0,
            now: now_ms(),
        }
    }

    /// Moves the ingest time to now if nothing was consumed yet: a source that waits for its
    /// input (a live pipe, the paced simulator) calls it when input arrives, so that the
    /// readings are not stamped with the time the wait began.
    pub(crate) fn restamp(&mut self) {
        if self.records == 0 && self.bytes == 0 && self.dead.is_empty() && self.reports.is_empty() {
            self.now = now_ms();
        }
    }

    /// Sends what is pending (nothing if nothing was consumed) with the source's watermark,
    /// accounts for it in `summary`, and starts a new batch. Returns whether it sent.
    pub(crate) fn flush(
        &mut self,
        batch_rows: usize,
        watermark: Option<i64>,
        summary: &mut SourceSummary,
        out: &BatchSender,
    ) -> Result<bool, EngineError> {
        if self.records == 0 && self.bytes == 0 && self.dead.is_empty() && self.reports.is_empty() {
            return Ok(false);
        }
        let next = Pending::new(self.readings.source, batch_rows);
        let done = std::mem::replace(self, next);
        let batch = SourceBatch {
            readings: done.readings,
            reports: done.reports,
            dead_letters: done.dead,
            watermark,
            records: done.records,
            bytes: done.bytes,
            marks: Vec::new(),
        };
        summary.account(&batch);
        out.send(batch)?;
        Ok(true)
    }
}

/// Runs a source's pump inside a `source` tracing span named after it, and logs its summary
/// when it ends (the common body of every connector's [`Source::run`](msec_engine::source::Source::run)).
pub(crate) fn run_traced<E>(
    name: &str,
    run: impl FnOnce() -> Result<SourceSummary, E>,
) -> Result<SourceSummary, E> {
    let span = tracing::info_span!("source", name = %name);
    let _enter = span.enter();
    let summary = run()?;
    tracing::debug!(
        records = summary.records,
        readings = summary.readings,
        reports = summary.reports,
        "source finished"
    );
    Ok(summary)
}
