//! MQTT source (Pilot 1's gateway, Pilot 2's hub): QoS 1 with a persistent session, and a
//! message acknowledged only once everything derived from it is sealed.
//!
//! * **Session:** `clean_session = false` and a fixed client id, so the broker keeps the
//!   subscription and every unacknowledged message while msec is down, and redelivers them
//!   when it comes back.
//! * **Manual acknowledgements:** a message's PUBACK is sent when the run loop commits a
//!   position at or past it ([`Commit`]), that is after the checkpoint covering it is durable.
//!   A crash before that means redelivery, never loss. PUBACKs go out in the order the
//!   messages arrived (MQTT 3.1.1 §4.6).
//! * **Provenance:** MQTT has no offsets; a reading's `offset` is a 64-bit FNV-1a digest of
//!   the message's topic and payload, so a redelivered copy is recognised as the same message
//!   by a restarted run. The position used for commits is the arrival sequence number.
//! * **Reconnects:** the client reconnects by itself. Messages that were in flight on the old
//!   connection cannot be acknowledged on the new one; the broker redelivers them, and the
//!   copy is matched to the original by its digest: its data is not decoded twice, and the
//!   copy is what gets acknowledged.
//! * **Broker settings:** acknowledgements wait for a checkpoint (a second or so, plus the
//!   longest window), so the broker must allow that many messages in flight: with mosquitto,
//!   `max_inflight_messages 0` and `max_queued_messages 0` (see `docs/CONNECTORS.md`).

pub mod alerts;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use msec_engine::Interner;
use msec_engine::config::PipelineConfig;
use msec_engine::source::{
    BatchSender, CommitReceiver, Source, SourceBatch, SourceSummary, commit_channel,
};
use rumqttc::{
    Client, ConnectionError, Event, MqttOptions, Packet, QoS, RecvTimeoutError, TryRecvError,
};

use crate::broker::{Partition, TopicLayout, message_digest, source_watermark};
use crate::config::MqttSourceConfig;
use crate::error::{ConnectorError, Result};

/// One message not yet acknowledged.
#[derive(Debug, Clone, Copy)]
struct Unacked {
    /// Arrival sequence number (the position).
    seq: u64,
    pkid: u16,
    qos: QoS,
    /// Connection it arrived on; a PUBACK on another connection would be meaningless.
    connection: u64,
    digest: u64,
}

/// An MQTT source; see the module docs.
pub struct MqttSource {
    name: String,
    cfg: MqttSourceConfig,
    layout: Option<TopicLayout>,
    topics: Vec<String>,
    pipeline: PipelineConfig,
    interner: Arc<Interner>,
    commits: CommitReceiver,
    stop: Arc<AtomicBool>,
    applied: Arc<AtomicU64>,
}

impl std::fmt::Debug for MqttSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttSource")
            .field("broker", &self.cfg.broker())
            .field("topics", &self.topics)
            .finish_non_exhaustive()
    }
}

impl MqttSource {
    /// A source for `cfg`; nothing connects until [`run_owned`](Self::run_owned).
    pub fn new(
        cfg: MqttSourceConfig,
        interner: Arc<Interner>,
        pipeline: &PipelineConfig,
    ) -> Result<Self> {
        let layout = cfg.layout.as_deref().map(TopicLayout::parse).transpose()?;
        let topics = if cfg.topics.is_empty() {
            vec![
                layout
                    .as_ref()
                    .map_or_else(|| "#".to_owned(), |l| l.filter()),
            ]
        } else {
            cfg.topics.clone()
        };
        if cfg.client_id.is_empty() {
            return Err(ConnectorError::Config {
                what: "mqtt source",
                detail: "client_id must not be empty (the broker keeps the session by it)".into(),
            });
        }
        Ok(Self {
            name: cfg.source_name(),
            cfg,
            layout,
            topics,
            pipeline: pipeline.clone(),
            interner,
            commits: commit_channel().1,
            stop: Arc::default(),
            applied: Arc::default(),
        })
    }

    /// Positions the run loop commits arrive here.
    pub fn with_commits(mut self, commits: CommitReceiver) -> Self {
        self.commits = commits;
        self
    }

    /// Counts the commits whose acknowledgements have all been handed to the client.
    pub fn with_applied(mut self, applied: Arc<AtomicU64>) -> Self {
        self.applied = applied;
        self
    }

    /// When `stop` is set, the source stops reading (graceful stop; not an end of input).
    pub fn with_stop(mut self, stop: Arc<AtomicBool>) -> Self {
        self.stop = stop;
        self
    }

    fn broker_error(&self, what: &'static str, detail: impl std::fmt::Display) -> ConnectorError {
        ConnectorError::Broker {
            broker: format!("{} {}", self.cfg.broker(), self.topics.join(",")),
            what,
            detail: detail.to_string(),
            retryable: true,
        }
    }

    /// Reads until the end of input (`end_after_idle_ms`), a stop, or a failure. On an end of
    /// input it sets `ended`, then drops `out`; in every case it keeps acknowledging what the
    /// run loop commits until the commit channel closes.
    pub fn run_owned(self, out: BatchSender, ended: Arc<AtomicBool>) -> Result<SourceSummary> {
        let name = self.name.clone();
        crate::pending::run_traced(&name, || self.pump(out, ended))
    }

    fn pump(self, out: BatchSender, ended: Arc<AtomicBool>) -> Result<SourceSummary> {
        let mut opts = MqttOptions::new(&self.cfg.client_id, &self.cfg.host, self.cfg.port);
        opts.set_clean_session(false)
            .set_manual_acks(true)
            .set_keep_alive(Duration::from_secs(self.cfg.keep_alive_s.max(5)))
            .set_max_packet_size(16 << 20, 16 << 20)
            .set_request_channel_capacity(1 << 16);
        let (client, mut conn) = Client::new(opts, 1 << 16);
        for topic in &self.topics {
            client
                .subscribe(topic.as_str(), QoS::AtLeastOnce)
                .map_err(|e| self.broker_error("subscribe", e))?;
        }
        let batch_rows = self.pipeline.batch_rows.max(1);
        let idle = Duration::from_millis(self.pipeline.idle_timeout_ms);
        let flush_every = Duration::from_millis(20);
        let end_after = self.cfg.end_after_idle_ms.map(Duration::from_millis);
        let mut partition = Partition::new(
            &self.cfg.source_name(),
            self.cfg.format,
            &self.interner,
            &self.pipeline,
        );
        let mut summary = SourceSummary::default();
        let mut state = Acks::default();
        let mut out = Some(out);
        let mut last_flush = Instant::now();
        let mut last_message = Instant::now();
        let mut connected_once = false;
        let mut failures = 0u32;
        loop {
            state.take_commits(&self.commits);
            state.send_acks(&client);
            if state.to_ack.is_empty() && state.waiting > 0 {
                self.applied.fetch_add(state.waiting, Ordering::AcqRel);
                state.waiting = 0;
            }
            if out.is_some() {
                let stopping = self.stop.load(Ordering::Acquire);
                let idle_end =
                    end_after.is_some_and(|d| connected_once && last_message.elapsed() >= d);
                let due = partition.buffered() >= batch_rows
                    || last_flush.elapsed() >= flush_every
                    || stopping
                    || idle_end;
                if due {
                    let wm = source_watermark([&partition], idle);
                    if let (Some(batch), Some(tx)) =
                        (partition.take(wm, batch_rows, &mut summary), out.as_ref())
                    {
                        send(tx, batch, &self.name)?;
                    }
                    last_flush = Instant::now();
                }
                if stopping || idle_end {
                    if idle_end {
                        ended.store(true, Ordering::Release);
                    }
                    out = None; // the dataflow sees the end of this source
                }
            } else if state.commits_closed && state.to_ack.is_empty() {
                break;
            }
            match conn.recv_timeout(Duration::from_millis(5)) {
                Ok(Ok(Event::Incoming(Packet::Publish(p)))) => {
                    if out.is_none() {
                        // Read after the end: not acknowledged, so redelivered to the next run.
                        continue;
                    }
                    last_message = Instant::now();
                    let digest = message_digest(&p.topic, &p.payload);
                    if state.is_redelivery(digest, p.pkid, p.qos) {
                        continue; // its data is already in; the copy is what gets acked
                    }
                    let seq = state.push(p.pkid, p.qos, digest);
                    partition.decode(&p.topic, &p.payload, self.layout.as_ref(), digest, seq + 1);
                }
                Ok(Ok(Event::Incoming(Packet::SubAck(_)))) => {
                    tracing::info!(broker = %self.cfg.broker(), topics = ?self.topics, "subscribed");
                }
                Ok(Ok(Event::Incoming(Packet::ConnAck(ack)))) => {
                    if !ack.session_present {
                        state.session_lost();
                    }
                    if connected_once && !ack.session_present {
                        tracing::warn!(
                            broker = %self.cfg.broker(),
                            "the broker did not keep msec's session: messages published while disconnected were not queued for it"
                        );
                    }
                    connected_once = true;
                    failures = 0;
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    failures += 1;
                    state.reconnecting();
                    if !connected_once && failures >= 50 {
                        return Err(self.broker_error("connect", e));
                    }
                    if matches!(e, ConnectionError::RequestsDone) {
                        return Err(self.broker_error("connect", e));
                    }
                    tracing::warn!(broker = %self.cfg.broker(), error = %e, "MQTT connection lost; reconnecting");
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(self.broker_error("connect", "the client closed"));
                }
            }
        }
        // Let the last PUBACKs reach the broker, then leave (the session stays).
        let _ = client.disconnect();
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            match conn.try_recv() {
                Ok(Ok(_)) => {}
                Err(TryRecvError::Empty) => std::thread::sleep(Duration::from_millis(5)),
                Ok(Err(_)) | Err(TryRecvError::Disconnected) => break,
            }
        }
        Ok(summary)
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

/// Acknowledgement bookkeeping of an MQTT session.
#[derive(Debug, Default)]
struct Acks {
    /// Messages received and not acknowledged, in arrival order.
    unacked: VecDeque<Unacked>,
    /// Messages whose position was committed, waiting for room in the request channel.
    to_ack: VecDeque<Unacked>,
    next_seq: u64,
    connection: u64,
    /// Digests of messages in flight on a lost connection → their place in `unacked`.
    lost: HashMap<u64, u64>,
    commits_closed: bool,
    /// Commit messages taken whose acknowledgements are not all handed to the client yet.
    waiting: u64,
}

impl Acks {
    fn push(&mut self, pkid: u16, qos: QoS, digest: u64) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.unacked.push_back(Unacked {
            seq,
            pkid,
            qos,
            connection: self.connection,
            digest,
        });
        seq
    }

    /// A connection was lost: messages in flight on it will be redelivered.
    fn reconnecting(&mut self) {
        self.connection += 1;
        for u in self.unacked.iter().chain(&self.to_ack) {
            if u.connection < self.connection && u.qos != QoS::AtMostOnce {
                self.lost.insert(u.digest, u.seq);
            }
        }
    }

    /// The broker started a fresh session: nothing in flight before will be redelivered.
    fn session_lost(&mut self) {
        self.lost.clear();
    }

    /// Whether a message is the redelivered copy of one in flight on a lost connection; if so
    /// the copy (its packet id, this connection) replaces it for acknowledgement.
    fn is_redelivery(&mut self, digest: u64, pkid: u16, qos: QoS) -> bool {
        let Some(seq) = self.lost.remove(&digest) else {
            return false;
        };
        let connection = self.connection;
        for u in self.unacked.iter_mut().chain(self.to_ack.iter_mut()) {
            if u.seq == seq {
                u.pkid = pkid;
                u.qos = qos;
                u.connection = connection;
                return true;
            }
        }
        false
    }

    fn take_commits(&mut self, commits: &CommitReceiver) {
        loop {
            match commits.try_recv() {
                Ok(positions) => {
                    self.waiting += 1;
                    for (_, next) in positions {
                        while self.unacked.front().is_some_and(|u| u.seq < next) {
                            if let Some(u) = self.unacked.pop_front() {
                                self.to_ack.push_back(u);
                            }
                        }
                    }
                }
                Err(crossbeam_channel::TryRecvError::Empty) => return,
                Err(crossbeam_channel::TryRecvError::Disconnected) => {
                    self.commits_closed = true;
                    return;
                }
            }
        }
    }

    fn send_acks(&mut self, client: &Client) {
        while let Some(u) = self.to_ack.front().copied() {
            if u.qos == QoS::AtMostOnce || u.connection != self.connection {
                // Nothing to acknowledge, or redelivered later and acknowledged then.
                if u.connection != self.connection && u.qos != QoS::AtMostOnce {
                    // Still waiting for its redelivered copy: keep it until it arrives.
                    if self.lost.contains_key(&u.digest) {
                        return;
                    }
                }
                self.to_ack.pop_front();
                continue;
            }
            let mut publish = rumqttc::Publish::new("", u.qos, Vec::new());
            publish.pkid = u.pkid;
            if client.try_ack(&publish).is_err() {
                return; // request channel full: the next turn of the loop drains it
            }
            self.to_ack.pop_front();
        }
    }
}

impl Source for MqttSource {
    type Error = ConnectorError;

    fn name(&self) -> &str {
        &self.name
    }

    /// Runs [`run_owned`](Self::run_owned) on a clone of `out`.
    fn run(self, out: &BatchSender) -> Result<SourceSummary> {
        self.run_owned(out.clone(), Arc::default())
    }
}
