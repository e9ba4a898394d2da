//! Where Arrow batches go: the [`BatchSink`] trait (datasets, alert sinks) and a sink thread
//! fed by a bounded channel, so that encoding and hashing run beside the timely workers.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use datafusion::arrow::record_batch::RecordBatch;

use crate::error::{EngineError, Result};

/// A consumer of Arrow batches.
pub trait BatchSink: Send + 'static {
    /// What `finish` reports.
    type Summary: Send + 'static;
    /// The sink's own error type.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Consumes one batch.
    fn write(&mut self, batch: &RecordBatch) -> std::result::Result<(), Self::Error>;

    /// Makes everything written so far durable (a dataset seals its open segment) and returns
    /// the dataset's chain length afterwards, if it has one. Called at checkpoints.
    fn seal(&mut self) -> std::result::Result<Option<u64>, Self::Error> {
        Ok(None)
    }

    /// Flushes and closes the sink.
    fn finish(self) -> std::result::Result<Self::Summary, Self::Error>;
}

/// What travels to a sink thread: batches, and checkpoint requests in between.
#[derive(Debug)]
pub enum SinkMessage {
    /// Rows to write.
    Batch(RecordBatch),
    /// Seal what was written before this message; answer with the chain length or an error.
    Seal(Sender<std::result::Result<Option<u64>, String>>),
}

/// The sending end of a sink thread. Cloneable; the thread finishes when every clone is dropped.
#[derive(Debug, Clone)]
pub struct SinkHandle {
    name: String,
    tx: Sender<SinkMessage>,
}

impl SinkHandle {
    /// Sends a batch to the sink thread, blocking while its channel is full.
    pub fn send(&self, batch: RecordBatch) -> Result<()> {
        self.tx
            .send(SinkMessage::Batch(batch))
            .map_err(|_| EngineError::ChannelClosed(self.name.clone()))
    }

    /// Asks the sink thread to seal everything sent before this call. The answer (the
    /// dataset's chain length after sealing) arrives on the returned channel once it is
    /// durable, so a caller can ask every sink first and then wait for all of them.
    pub fn request_seal(&self) -> Result<Receiver<std::result::Result<Option<u64>, String>>> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.tx
            .send(SinkMessage::Seal(tx))
            .map_err(|_| EngineError::ChannelClosed(self.name.clone()))?;
        Ok(rx)
    }

    /// The sink's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// What a sink thread reports when it ends.
#[derive(Debug)]
pub struct SinkOutcome<T> {
    /// The sink's own summary.
    pub summary: T,
    /// Time spent inside `write` and `finish` (not waiting for batches).
    pub busy: Duration,
}

/// The join handle of a sink thread: its outcome or the sink's first error.
pub type SinkJoin<S> = JoinHandle<
    std::result::Result<SinkOutcome<<S as BatchSink>::Summary>, <S as BatchSink>::Error>,
>;

/// Runs `sink` on its own thread behind a channel of `capacity` batches. The join handle
/// yields the sink's summary, or its first error (after which incoming batches are refused,
/// so senders see `ChannelClosed` rather than a silent drop).
pub fn spawn_sink<S: BatchSink>(
    name: &str,
    mut sink: S,
    capacity: usize,
) -> Result<(SinkHandle, SinkJoin<S>)> {
    let (tx, rx) = crossbeam_channel::bounded::<SinkMessage>(capacity.max(1));
    let span = tracing::info_span!("sink", dataset = name);
    let handle = std::thread::Builder::new()
        .name(format!("sink-{name}"))
        .spawn(move || {
            let _enter = span.enter();
            let mut busy = Duration::ZERO;
            for message in rx.iter() {
                let start = Instant::now();
                match message {
                    SinkMessage::Batch(batch) => sink.write(&batch)?,
                    SinkMessage::Seal(answer) => match sink.seal() {
                        Ok(length) => {
                            let _ = answer.send(Ok(length)); // the asker may have given up
                        }
                        Err(e) => {
                            let _ = answer.send(Err(e.to_string()));
                            return Err(e);
                        }
                    },
                }
                busy += start.elapsed();
            }
            let start = Instant::now();
            let summary = sink.finish()?;
            busy += start.elapsed();
            Ok(SinkOutcome { summary, busy })
        })
        .map_err(|e| EngineError::Runtime(format!("spawning sink thread {name}: {e}")))?;
    Ok((
        SinkHandle {
            name: name.to_owned(),
            tx,
        },
        handle,
    ))
}

/// The first failure of a pipeline, shared by every stage: once set, stages stop handing data
/// to sinks (so nothing partial is sealed as if complete) and the run reports this message.
#[derive(Debug, Clone, Default)]
pub struct Failure {
    set: Arc<AtomicBool>,
    message: Arc<Mutex<Option<String>>>,
}

impl Failure {
    /// Records a failure; the first one wins.
    pub fn set(&self, message: impl Into<String>) {
        let mut slot = self.message.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            *slot = Some(message.into());
        }
        self.set.store(true, Ordering::Release);
    }

    /// Whether a failure was recorded (cheap: one atomic load).
    #[inline]
    pub fn is_set(&self) -> bool {
        self.set.load(Ordering::Acquire)
    }

    /// The first failure's message.
    pub fn message(&self) -> Option<String> {
        self.message
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}
