//! What a source delivers to the dataflow, and how.
//!
//! A source (connector) runs on its own thread, parses its input into [`SourceBatch`]es and
//! pushes them through a bounded [`BatchSender`]: when the dataflow is slower than the source,
//! `send` blocks, so the source is slowed down instead of buffered without bound.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use crate::checkpoint::PositionMark;
use crate::dead_letter::{DeadLetter, DeadLetterReason};
use crate::error::{EngineError, Result};
use crate::reading::ReadingBatch;
use crate::report::ReportBatch;

/// One unit of work from a source: validated readings, the records it rejected, and the
/// source's watermark after them.
#[derive(Debug, Clone, Default)]
pub struct SourceBatch {
    /// Validated, on-time readings.
    pub readings: ReadingBatch,
    /// Validated, on-time citizen reports (empty for sensor sources).
    pub reports: ReportBatch,
    /// Rejected records, in input order.
    pub dead_letters: Vec<DeadLetter>,
    /// Watermark after this batch (max event time seen − lateness), if any record was seen.
    pub watermark: Option<i64>,
    /// Input records (lines, messages) consumed for this batch.
    pub records: u64,
    /// Input bytes consumed for this batch.
    pub bytes: u64,
    /// Positions reached by this batch (broker sources; empty for files and the simulator).
    pub marks: Vec<PositionMark>,
}

/// What a source reports when it ends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceSummary {
    /// Input records consumed.
    pub records: u64,
    /// Input bytes consumed.
    pub bytes: u64,
    /// Readings accepted.
    pub readings: u64,
    /// Citizen reports accepted.
    pub reports: u64,
    /// Rejected records per reason.
    pub dead_letters: BTreeMap<DeadLetterReason, u64>,
}

impl SourceSummary {
    /// Accounts for a batch about to be sent.
    pub fn account(&mut self, batch: &SourceBatch) {
        self.records += batch.records;
        self.bytes += batch.bytes;
        self.readings += batch.readings.len() as u64;
        self.reports += batch.reports.len() as u64;
        for dl in &batch.dead_letters {
            *self.dead_letters.entry(dl.reason).or_default() += 1;
        }
    }

    /// Adds another source thread's summary to this one.
    pub fn merge(&mut self, other: &SourceSummary) {
        self.records += other.records;
        self.bytes += other.bytes;
        self.readings += other.readings;
        self.reports += other.reports;
        for (reason, n) in &other.dead_letters {
            *self.dead_letters.entry(*reason).or_default() += n;
        }
    }

    /// Total rejected records.
    pub fn dead_lettered(&self) -> u64 {
        self.dead_letters.values().sum()
    }
}

/// The sending end of a bounded source channel.
#[derive(Debug, Clone)]
pub struct BatchSender {
    name: String,
    tx: Sender<SourceBatch>,
    blocked_ns: Arc<AtomicU64>,
}

impl BatchSender {
    /// Sends a batch, blocking while the channel is full (backpressure).
    pub fn send(&self, batch: SourceBatch) -> Result<()> {
        let batch = match self.tx.try_send(batch) {
            Ok(()) => return Ok(()),
            Err(crossbeam_channel::TrySendError::Full(batch)) => batch,
            Err(crossbeam_channel::TrySendError::Disconnected(_)) => {
                return Err(EngineError::ChannelClosed(self.name.clone()));
            }
        };
        let start = Instant::now();
        let sent = self
            .tx
            .send(batch)
            .map_err(|_| EngineError::ChannelClosed(self.name.clone()));
        let waited = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.blocked_ns.fetch_add(waited, Ordering::Relaxed);
        sent
    }

    /// Total time `send` spent waiting for room (the source was faster than the dataflow).
    pub fn blocked(&self) -> Duration {
        Duration::from_nanos(self.blocked_ns.load(Ordering::Relaxed))
    }
}

/// A bounded channel of `capacity` batches for the source called `name`.
pub fn batch_channel(name: &str, capacity: usize) -> (BatchSender, Receiver<SourceBatch>) {
    let (tx, rx) = crossbeam_channel::bounded(capacity.max(1));
    (
        BatchSender {
            name: name.to_owned(),
            tx,
            blocked_ns: Arc::default(),
        },
        rx,
    )
}

/// A source of readings. Implementations live in `msec-connectors`.
pub trait Source: Send {
    /// The source's own error type.
    type Error: std::error::Error + Send + Sync + 'static;

    /// A name for logs and provenance.
    fn name(&self) -> &str;

    /// Reads the whole input (or until the channel closes), sending batches to `out`.
    fn run(self, out: &BatchSender) -> std::result::Result<SourceSummary, Self::Error>;
}

/// Positions a source may commit (Kafka offsets, MQTT acknowledgements): per partition
/// index, the next offset to read. Sent by the run loop once everything before them is sealed.
pub type Commit = Vec<(u32, u64)>;

/// The run loop's end of a commit channel.
pub type CommitSender = Sender<Commit>;

/// The source's end of a commit channel: it drains it between reads.
pub type CommitReceiver = Receiver<Commit>;

/// A commit channel (unbounded: at most one message per checkpoint).
pub fn commit_channel() -> (CommitSender, CommitReceiver) {
    crossbeam_channel::unbounded()
}
