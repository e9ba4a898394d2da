//! Kafka source: a consumer group member whose offsets are committed only once everything
//! before them is sealed.
//!
//! * **Group and partitions:** the consumer group `group` holds the committed offsets, where a
//!   run resumes. Partitions are assigned statically, not by the group's rebalancing: process
//!   `process_index` of `processes` reads the partitions whose number is its index modulo
//!   the count (the shares of a timely cluster, DESIGN §10). A process restarted after a
//!   crash therefore takes its partitions back at once, instead of waiting for the dead
//!   member's session to expire, and no partition is ever read by two processes. Partitions
//!   added to a topic while msec runs are picked up at the next start.
//! * **Partitions:** each assigned partition `kafka:<topic>/<partition>` has its own decoder
//!   and watermark (see `broker`); the source's watermark is the minimum over live ones.
//! * **Provenance:** a reading's `source` is its partition's name and its `offset` the Kafka
//!   offset, so a restarted run recognises what it already wrote.
//! * **Commits:** automatic commits are off; the run loop commits a partition's offset when
//!   every record before it is sealed in every dataset ([`Commit`]), synchronously. A crash
//!   before that means the records after the last commit are read again, never lost.
//! * **Lag:** librdkafka's statistics (every second) give the consumer lag summed over the
//!   assigned partitions ([`KafkaSource::lag`]).

pub mod alerts;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use msec_engine::Interner;
use msec_engine::config::PipelineConfig;
use msec_engine::source::{
    BatchSender, CommitReceiver, Source, SourceBatch, SourceSummary, commit_channel,
};
use rdkafka::client::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::message::Message;
use rdkafka::statistics::Statistics;
use rdkafka::{Offset, TopicPartitionList};

use crate::broker::{Partition, source_watermark};
use crate::config::KafkaSourceConfig;
use crate::error::{ConnectorError, Result};

/// Consumer context that keeps the total consumer lag from librdkafka's statistics.
struct LagContext {
    lag: Arc<AtomicI64>,
}

impl ClientContext for LagContext {
    fn stats(&self, statistics: Statistics) {
        let lag: i64 = statistics
            .topics
            .values()
            .flat_map(|t| t.partitions.values())
            .filter(|p| p.partition >= 0 && p.consumer_lag >= 0)
            .map(|p| p.consumer_lag)
            .sum();
        self.lag.store(lag, Ordering::Relaxed);
    }
}

impl ConsumerContext for LagContext {}

/// A Kafka source; see the module docs.
pub struct KafkaSource {
    name: String,
    cfg: KafkaSourceConfig,
    pipeline: PipelineConfig,
    interner: Arc<Interner>,
    commits: CommitReceiver,
    stop: Arc<AtomicBool>,
    lag: Arc<AtomicI64>,
    applied: Arc<AtomicU64>,
}

impl std::fmt::Debug for KafkaSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSource")
            .field("brokers", &self.cfg.brokers)
            .field("topics", &self.cfg.topics)
            .field("group", &self.cfg.group)
            .finish_non_exhaustive()
    }
}

/// One assigned partition and where it is.
struct Assigned {
    topic: String,
    partition: i32,
    state: Partition,
}

impl KafkaSource {
    /// A source for `cfg`; nothing connects until [`run_owned`](Self::run_owned).
    pub fn new(
        cfg: KafkaSourceConfig,
        interner: Arc<Interner>,
        pipeline: &PipelineConfig,
    ) -> Result<Self> {
        if cfg.topics.is_empty() {
            return Err(ConnectorError::Config {
                what: "kafka source",
                detail: "`topics` is empty".into(),
            });
        }
        if cfg.process_index >= cfg.processes.max(1) {
            return Err(ConnectorError::Config {
                what: "kafka source",
                detail: format!(
                    "process_index {} is not below processes {}",
                    cfg.process_index, cfg.processes
                ),
            });
        }
        Ok(Self {
            name: cfg.source_name(),
            cfg,
            pipeline: pipeline.clone(),
            interner,
            commits: commit_channel().1,
            stop: Arc::default(),
            lag: Arc::new(AtomicI64::new(-1)),
            applied: Arc::default(),
        })
    }

    /// Positions the run loop commits arrive here.
    pub fn with_commits(mut self, commits: CommitReceiver) -> Self {
        self.commits = commits;
        self
    }

    /// When `stop` is set, the source stops reading (graceful stop; not an end of input).
    pub fn with_stop(mut self, stop: Arc<AtomicBool>) -> Self {
        self.stop = stop;
        self
    }

    /// Counts the commits the source has applied (one per message of the commit channel).
    pub fn with_applied(mut self, applied: Arc<AtomicU64>) -> Self {
        self.applied = applied;
        self
    }

    /// The consumer lag summed over assigned partitions (−1 until first known), updated
    /// every second while the source runs.
    pub fn lag(&self) -> Arc<AtomicI64> {
        Arc::clone(&self.lag)
    }

    fn error(
        &self,
        what: &'static str,
        e: impl std::fmt::Display,
        retryable: bool,
    ) -> ConnectorError {
        ConnectorError::Broker {
            broker: format!("kafka://{} {}", self.cfg.brokers, self.cfg.topics.join(",")),
            what,
            detail: e.to_string(),
            retryable,
        }
    }

    fn consumer(&self) -> Result<BaseConsumer<LagContext>> {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.cfg.brokers)
            .set("group.id", &self.cfg.group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set(
                "session.timeout.ms",
                self.cfg.session_timeout_ms.to_string(),
            )
            .set(
                "max.poll.interval.ms",
                self.cfg.session_timeout_ms.max(60_000).to_string(),
            )
            .set("statistics.interval.ms", "1000");
        for (k, v) in &self.cfg.properties {
            config.set(k, v);
        }
        config
            .create_with_context(LagContext {
                lag: Arc::clone(&self.lag),
            })
            .map_err(|e| self.error("connect", e, false))
    }

    /// Reads until the end of input (`end_after_idle_ms`), a stop, or a failure. On an end of
    /// input it sets `ended`, then drops `out`; in every case it keeps committing what the
    /// run loop commits until the commit channel closes.
    pub fn run_owned(self, out: BatchSender, ended: Arc<AtomicBool>) -> Result<SourceSummary> {
        let name = self.name.clone();
        crate::pending::run_traced(&name, || self.pump(out, ended))
    }

    fn pump(self, out: BatchSender, ended: Arc<AtomicBool>) -> Result<SourceSummary> {
        let consumer = self.consumer()?;
        let assigned = self.assign(&consumer)?;
        let batch_rows = self.pipeline.batch_rows.max(1);
        let idle = Duration::from_millis(self.pipeline.idle_timeout_ms);
        let flush_every = Duration::from_millis(20);
        let end_after = self.cfg.end_after_idle_ms.map(Duration::from_millis);
        let mut partitions: Vec<Assigned> = Vec::new();
        let mut index: HashMap<(String, i32), usize> = HashMap::new();
        let mut by_id: HashMap<u32, usize> = HashMap::new();
        // Every assigned partition holds the watermark back from the start, data or not.
        for (topic, partition) in assigned {
            let state = Partition::new(
                &format!("kafka:{topic}/{partition}"),
                self.cfg.format,
                &self.interner,
                &self.pipeline,
            );
            by_id.insert(state.id, partitions.len());
            index.insert((topic.clone(), partition), partitions.len());
            partitions.push(Assigned {
                topic,
                partition,
                state,
            });
        }
        let mut summary = SourceSummary::default();
        let mut out = Some(out);
        if partitions.is_empty() {
            // An empty share ends at once: the other shares hold the frontier.
            ended.store(true, Ordering::Release);
            out = None;
        }
        let mut last_flush = Instant::now();
        // Idleness counts from the latest message, or from the assignment.
        let mut last_message: Option<Instant> = Some(Instant::now());
        let mut commits_closed = false;
        loop {
            // Commits first: they are what makes progress durable on the broker.
            loop {
                match self.commits.try_recv() {
                    Ok(positions) => {
                        self.commit(&consumer, &positions, &partitions, &by_id);
                        self.applied.fetch_add(1, Ordering::AcqRel);
                    }
                    Err(crossbeam_channel::TryRecvError::Empty) => break,
                    Err(crossbeam_channel::TryRecvError::Disconnected) => {
                        commits_closed = true;
                        break;
                    }
                }
            }
            let Some(tx) = out.as_ref() else {
                if commits_closed {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
                continue;
            };
            let stopping = self.stop.load(Ordering::Acquire);
            let idle_end = end_after
                .zip(last_message)
                .is_some_and(|(d, last)| last.elapsed() >= d);
            let full = partitions.iter().any(|p| p.state.buffered() >= batch_rows);
            if full || stopping || idle_end || last_flush.elapsed() >= flush_every {
                // The watermark covers what every partition decoded so far, so it travels on
                // the last batch only: the dataflow must not move past data still to come.
                let wm = source_watermark(partitions.iter().map(|p| &p.state), idle);
                let mut batches: Vec<SourceBatch> = partitions
                    .iter_mut()
                    .filter_map(|p| p.state.take(None, batch_rows, &mut summary))
                    .collect();
                if let Some(last) = batches.last_mut() {
                    last.watermark = wm;
                }
                for batch in batches {
                    send(tx, batch, &self.name)?;
                }
                last_flush = Instant::now();
            }
            if stopping || idle_end {
                if idle_end {
                    ended.store(true, Ordering::Release);
                }
                out = None; // the dataflow sees the end of this source
                continue;
            }
            match consumer.poll(Duration::from_millis(5)) {
                None => {}
                Some(Err(e)) => {
                    // librdkafka retries by itself; a fatal error stops the source.
                    if matches!(e, rdkafka::error::KafkaError::MessageConsumptionFatal(_)) {
                        return Err(self.error("consume", e, true));
                    }
                    tracing::warn!(source = %self.name, error = %e, "kafka consumer error");
                }
                Some(Ok(m)) => {
                    let key = (m.topic().to_owned(), m.partition());
                    let i = match index.get(&key) {
                        Some(&i) => i,
                        None => {
                            let name = format!("kafka:{}/{}", key.0, key.1);
                            let state = Partition::new(
                                &name,
                                self.cfg.format,
                                &self.interner,
                                &self.pipeline,
                            );
                            by_id.insert(state.id, partitions.len());
                            partitions.push(Assigned {
                                topic: key.0.clone(),
                                partition: key.1,
                                state,
                            });
                            index.insert(key, partitions.len() - 1);
                            partitions.len() - 1
                        }
                    };
                    let offset = u64::try_from(m.offset()).unwrap_or(0);
                    if offset < partitions[i].state.next() {
                        // Offsets only move forward; a message below the position was decoded
                        // already (librdkafka re-delivers a fetched batch's head against some
                        // brokers, tansu 0.6 among them).
                        tracing::debug!(source = %self.name, partition = %partitions[i].state.name, offset, next = partitions[i].state.next(), "kafka delivered an offset again; skipped");
                        continue;
                    }
                    let payload = m.payload().unwrap_or(&[]);
                    partitions[i]
                        .state
                        .decode(m.topic(), payload, None, offset, offset + 1);
                    last_message = Some(Instant::now());
                }
            }
        }
        Ok(summary)
    }

    /// Assigns this process its share of every partition of the topics, each at the group's
    /// committed offset (the beginning where none was committed).
    fn assign(&self, consumer: &BaseConsumer<LagContext>) -> Result<Vec<(String, i32)>> {
        let timeout = Duration::from_secs(30);
        let mut wanted = TopicPartitionList::new();
        for topic in &self.cfg.topics {
            let metadata = consumer
                .fetch_metadata(Some(topic), timeout)
                .map_err(|e| self.error("metadata", e, true))?;
            for t in metadata.topics() {
                if let Some(e) = t.error() {
                    return Err(self.error("metadata", format!("topic {topic}: {e:?}"), true));
                }
                for p in t.partitions() {
                    let share = u32::try_from(p.id()).unwrap_or(0) % self.cfg.processes.max(1);
                    if share == self.cfg.process_index {
                        wanted.add_partition(topic, p.id());
                    }
                }
            }
        }
        if wanted.count() == 0 {
            if self.cfg.processes > 1 {
                // Fewer partitions than shares: this share has nothing to read.
                tracing::info!(source = %self.name, share = self.cfg.process_index, "no partition in this share");
                return Ok(Vec::new());
            }
            return Err(self.error(
                "metadata",
                "no partitions to read (does the topic exist? topics are not created implicitly)",
                false,
            ));
        }
        let committed = consumer
            .committed_offsets(wanted, timeout)
            .map_err(|e| self.error("committed offsets", e, true))?;
        let mut assignment = TopicPartitionList::new();
        for e in committed.elements() {
            let offset = match e.offset() {
                Offset::Offset(o) => Offset::Offset(o),
                _ => Offset::Beginning,
            };
            assignment
                .add_partition_offset(e.topic(), e.partition(), offset)
                .map_err(|e| self.error("assign", e, false))?;
        }
        tracing::info!(source = %self.name, partitions = assignment.count(), "kafka partitions assigned at the committed offsets");
        consumer
            .assign(&assignment)
            .map_err(|e| self.error("assign", e, true))?;
        Ok(assignment
            .elements()
            .iter()
            .map(|e| (e.topic().to_owned(), e.partition()))
            .collect())
    }

    fn commit(
        &self,
        consumer: &BaseConsumer<LagContext>,
        positions: &[(u32, u64)],
        partitions: &[Assigned],
        by_id: &HashMap<u32, usize>,
    ) {
        let mut tpl = TopicPartitionList::new();
        for (id, next) in positions {
            let Some(p) = by_id.get(id).map(|&i| &partitions[i]) else {
                continue;
            };
            let offset = Offset::Offset(i64::try_from(*next).unwrap_or(i64::MAX));
            if let Err(e) = tpl.add_partition_offset(&p.topic, p.partition, offset) {
                tracing::warn!(source = %self.name, error = %e, "kafka commit list");
            }
        }
        if tpl.count() == 0 {
            return;
        }
        // A failed commit (e.g. the partition moved to another member) is not a loss: the
        // offset stays where it was and the records are read again, then recognised.
        if let Err(e) = consumer.commit(&tpl, CommitMode::Sync) {
            tracing::warn!(source = %self.name, error = %e, "kafka commit failed; the records after the last commit will be re-read");
        }
    }
}

fn send(out: &BatchSender, batch: SourceBatch, name: &str) -> Result<()> {
    out.send(batch)
        .map_err(|engine| ConnectorError::Downstream {
            source_name: name.to_owned(),
            line: 0,
            engine,
        })
}

impl Source for KafkaSource {
    type Error = ConnectorError;

    fn name(&self) -> &str {
        &self.name
    }

    /// Runs [`run_owned`](Self::run_owned) on a clone of `out`.
    fn run(self, out: &BatchSender) -> Result<SourceSummary> {
        self.run_owned(out.clone(), Arc::default())
    }
}
