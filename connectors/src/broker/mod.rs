//! What the broker sources (MQTT, Kafka) share: payload formats, topic layouts, and the
//! per-partition decoding that turns messages into [`SourceBatch`]es with position marks.
//!
//! * **Payloads:** one canonical JSON reading or citizen report per message (`json`), or one
//!   SOX XML document with several values of one device (`sox`, Pilot 3).
//! * **Topic layouts** such as `park/{device}/{sensor}` fill `device` and `sensor` where the
//!   payload lacks them (Pilot 1's gateway publishes one topic per measurement with a payload
//!   of `{"ts":…,"value":…}`); `+` or `{_}` match any one level. For SOX, `{device}` names the
//!   document's device when the document does not.
//! * **Partitions:** each partition (a Kafka topic partition; the MQTT session) has its own
//!   decoder and watermark tracker, so which records are late depends only on that
//!   partition's order, not on how partitions interleave. The source's watermark is the
//!   minimum over partitions that have delivered data and were not idle for `idle_timeout`.
//! * **Marks:** every batch carries, per partition, the next offset and the largest event time
//!   it delivered ([`PositionMark`]); the run loop commits positions from them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use msec_engine::checkpoint::PositionMark;
use msec_engine::config::PipelineConfig;
use msec_engine::intern::InternCache;
use msec_engine::source::{SourceBatch, SourceSummary};
use msec_engine::{DeadLetter, Interner};
use serde::{Deserialize, Serialize};

use crate::error::{ConnectorError, Result};
use crate::jsonl::decode::{Decoder, TopicFields};
use crate::pending::Pending;
use crate::sox::SoxDecoder;

/// What one message holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PayloadFormat {
    /// One canonical JSON reading or citizen report (DESIGN §4).
    #[default]
    Json,
    /// One SOX XML document (Pilot 3): several values of one device.
    Sox,
}

/// One level of a topic layout.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Level {
    Literal(String),
    Device,
    Sensor,
    Any,
}

/// A topic layout such as `park/{device}/{sensor}`: which topic levels name the device and
/// the sensor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicLayout {
    text: String,
    levels: Vec<Level>,
    /// A trailing `#`: any number of further levels.
    rest: bool,
}

impl TopicLayout {
    /// Parses a layout; `{device}` and `{sensor}` at most once each, `+`/`{_}` any level, a
    /// final `#` any number of levels.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |detail: String| ConnectorError::Config {
            what: "topic layout",
            detail,
        };
        if text.is_empty() {
            return Err(bad("empty layout".into()));
        }
        let mut levels = Vec::new();
        let mut rest = false;
        let parts: Vec<&str> = text.split('/').collect();
        for (i, part) in parts.iter().enumerate() {
            let level = match *part {
                "{device}" => Level::Device,
                "{sensor}" => Level::Sensor,
                "+" | "{_}" => Level::Any,
                "#" if i + 1 == parts.len() => {
                    rest = true;
                    continue;
                }
                p if p.contains(['{', '}', '+', '#']) => {
                    return Err(bad(format!(
                        "{text:?}: level {p:?} is neither a name nor {{device}}, {{sensor}}, + or a final #"
                    )));
                }
                p => Level::Literal(p.to_owned()),
            };
            if level != Level::Any && !matches!(level, Level::Literal(_)) && levels.contains(&level)
            {
                return Err(bad(format!("{text:?}: {part} appears twice")));
            }
            levels.push(level);
        }
        Ok(Self {
            text: text.to_owned(),
            levels,
            rest,
        })
    }

    /// The layout as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The MQTT subscription filter that matches the layout (`park/+/+`).
    pub fn filter(&self) -> String {
        let mut parts: Vec<&str> = self
            .levels
            .iter()
            .map(|l| match l {
                Level::Literal(s) => s.as_str(),
                _ => "+",
            })
            .collect();
        if self.rest {
            parts.push("#");
        }
        parts.join("/")
    }

    /// The device and sensor named by `topic`, or `None` if the topic does not match.
    pub(crate) fn fields<'t>(&self, topic: &'t str) -> Option<TopicFields<'t>> {
        let mut out = TopicFields::default();
        let mut parts = topic.split('/');
        for level in &self.levels {
            let part = parts.next()?;
            match level {
                Level::Literal(s) if s != part => return None,
                Level::Device if part.is_empty() => return None,
                Level::Device => out.device = Some(part),
                Level::Sensor => out.sensor = Some(part),
                _ => {}
            }
        }
        if parts.next().is_some() && !self.rest {
            return None;
        }
        Some(out)
    }
}

/// Decodes messages of one format.
#[derive(Debug)]
enum MessageDecoder {
    Json(Box<Decoder>),
    Sox(Box<SoxDecoder>),
}

/// One partition of a broker source: its decoder, the batch it is filling, and its position.
#[derive(Debug)]
pub(crate) struct Partition {
    /// Interned partition name (`kafka:topic/2`, `mqtt:client`): the readings' `source`.
    pub id: u32,
    /// The partition name.
    pub name: Arc<str>,
    decoder: MessageDecoder,
    pending: Pending,
    /// Next offset after the last message decoded.
    next: u64,
    /// Largest event time decoded since the last mark.
    max_ts: Option<i64>,
    /// Whether a message arrived since the last mark.
    moved: bool,
    last_message: Instant,
}

impl Partition {
    /// A partition called `name` of a source decoding `format`.
    pub(crate) fn new(
        name: &str,
        format: PayloadFormat,
        interner: &Arc<Interner>,
        cfg: &PipelineConfig,
    ) -> Self {
        let source: Arc<str> = Arc::from(name);
        let id = interner.intern(name);
        let devices = InternCache::new(Arc::clone(interner));
        let decoder = match format {
            PayloadFormat::Json => MessageDecoder::Json(Box::new(Decoder::new(
                Arc::clone(&source),
                devices,
                cfg.lateness_ms,
                cfg.max_future_ms,
            ))),
            PayloadFormat::Sox => MessageDecoder::Sox(Box::new(SoxDecoder::new(
                Arc::clone(&source),
                devices,
                cfg.lateness_ms,
                cfg.max_future_ms,
            ))),
        };
        Self {
            id,
            name: source,
            decoder,
            pending: Pending::new(id, cfg.batch_rows.max(1)),
            next: 0,
            max_ts: None,
            moved: false,
            last_message: Instant::now(),
        }
    }

    /// Decodes one message at `offset` (the position recorded as its provenance); the
    /// partition's position moves to `next`.
    pub(crate) fn decode(
        &mut self,
        topic: &str,
        payload: &[u8],
        layout: Option<&TopicLayout>,
        offset: u64,
        next: u64,
    ) {
        self.pending.restamp();
        let now = self.pending.now;
        let p = &mut self.pending;
        let (readings_before, reports_before) = (p.readings.len(), p.reports.len());
        let fields = match layout {
            None => Some(TopicFields::default()),
            Some(l) => l.fields(topic),
        };
        match (&mut self.decoder, fields) {
            (MessageDecoder::Json(d), Some(fields)) => d.decode_any_with(
                payload,
                fields,
                offset,
                now,
                &mut p.readings,
                &mut p.reports,
                &mut p.dead,
            ),
            (MessageDecoder::Sox(d), Some(fields)) => d.decode(
                payload,
                fields.device,
                offset,
                now,
                &mut p.readings,
                &mut p.dead,
            ),
            (_, None) => p.dead.push(DeadLetter {
                source: Arc::clone(&self.name),
                offset,
                reason: msec_engine::DeadLetterReason::MissingField,
                detail: format!(
                    "topic {topic:?} does not match the layout {:?}",
                    layout.map_or("", |l| l.as_str())
                ),
                raw: payload.to_vec(),
                ts: None,
                ingest_ts: now,
            }),
        }
        let new_max = p.readings.ts[readings_before..]
            .iter()
            .chain(&p.reports.ts[reports_before..])
            .copied()
            .max();
        if let Some(ts) = new_max {
            self.max_ts = Some(self.max_ts.map_or(ts, |m| m.max(ts)));
        }
        p.records += 1;
        p.bytes += (topic.len() + payload.len()) as u64;
        self.next = self.next.max(next);
        self.moved = true;
        self.last_message = Instant::now();
    }

    /// Whether the partition has delivered nothing for `idle` (then it does not hold the
    /// source's watermark back).
    pub(crate) fn is_idle(&self, idle: Duration) -> bool {
        !idle.is_zero() && self.last_message.elapsed() >= idle
    }

    /// The partition's watermark, unless it is idle.
    pub(crate) fn watermark(&self, idle: Duration) -> Option<i64> {
        if self.is_idle(idle) {
            return None;
        }
        match &self.decoder {
            MessageDecoder::Json(d) => d.watermark(),
            MessageDecoder::Sox(d) => d.watermark(),
        }
    }

    /// The next offset expected (after the last message decoded).
    pub(crate) fn next(&self) -> u64 {
        self.next
    }

    /// Readings and reports waiting to be sent.
    pub(crate) fn buffered(&self) -> usize {
        self.pending.readings.len() + self.pending.reports.len() + self.pending.dead.len()
    }

    /// Takes what is pending as a batch with this partition's mark (`None` if no message
    /// arrived since the last one). `watermark` is the source's.
    pub(crate) fn take(
        &mut self,
        watermark: Option<i64>,
        batch_rows: usize,
        summary: &mut SourceSummary,
    ) -> Option<SourceBatch> {
        if !self.moved {
            return None;
        }
        let done = std::mem::replace(&mut self.pending, Pending::new(self.id, batch_rows));
        let batch = SourceBatch {
            readings: done.readings,
            reports: done.reports,
            dead_letters: done.dead,
            watermark,
            records: done.records,
            bytes: done.bytes,
            marks: vec![PositionMark {
                partition: self.id,
                next: self.next,
                max_ts: self.max_ts.take(),
            }],
        };
        self.moved = false;
        summary.account(&batch);
        Some(batch)
    }
}

/// The source's watermark: the minimum over live partitions (see [`Partition::watermark`]).
/// A live partition that has not delivered a record yet holds it back entirely (`None`): its
/// first records may be older than anything the others delivered.
pub(crate) fn source_watermark<'a>(
    partitions: impl IntoIterator<Item = &'a Partition>,
    idle: Duration,
) -> Option<i64> {
    let mut min: Option<i64> = None;
    for p in partitions {
        if p.is_idle(idle) {
            continue;
        }
        let wm = p.watermark(idle)?;
        min = Some(min.map_or(wm, |m| m.min(wm)));
    }
    min
}

/// FNV-1a over a message's topic and payload: the provenance of an MQTT message, which has no
/// offset, so that a redelivered copy is recognised as the same message.
pub(crate) fn message_digest(topic: &str, payload: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in topic.bytes().chain([0u8]).chain(payload.iter().copied()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_name_device_and_sensor() {
        let l = TopicLayout::parse("park/{device}/{sensor}").expect("layout");
        assert_eq!(l.filter(), "park/+/+");
        let f = l.fields("park/llamas-env-03/co2").expect("match");
        assert_eq!((f.device, f.sensor), (Some("llamas-env-03"), Some("co2")));
        assert!(l.fields("park/llamas-env-03").is_none());
        assert!(l.fields("home/x/co2").is_none());
        assert!(l.fields("park/a/co2/extra").is_none());
        let l = TopicLayout::parse("home/+/{device}/#").expect("layout");
        assert_eq!(l.filter(), "home/+/+/#");
        assert_eq!(
            l.fields("home/fujisawa/home-001-bed/state")
                .and_then(|f| f.device),
            Some("home-001-bed")
        );
        assert!(TopicLayout::parse("a/{device}/{device}").is_err());
        assert!(TopicLayout::parse("a/#/b").is_err());
        assert!(TopicLayout::parse("a/{room}").is_err());
    }

    #[test]
    fn partition_marks_carry_position_and_time() {
        let interner = Interner::shared();
        let cfg = PipelineConfig::default();
        let layout = TopicLayout::parse("park/{device}/{sensor}").expect("layout");
        let mut p = Partition::new("mqtt:test", PayloadFormat::Json, &interner, &cfg);
        let mut summary = SourceSummary::default();
        assert!(p.take(None, 16, &mut summary).is_none());
        p.decode(
            "park/env-1/co2",
            br#"{"ts":1600000000000,"value":412}"#,
            Some(&layout),
            77,
            1,
        );
        p.decode("park/env-1/co2", b"{not json", Some(&layout), 78, 2);
        p.decode(
            "weird",
            br#"{"ts":1600000000500,"value":1}"#,
            Some(&layout),
            79,
            3,
        );
        let b = p.take(None, 16, &mut summary).expect("batch");
        assert_eq!(b.readings.len(), 1);
        assert_eq!(b.readings.offset, vec![77]);
        assert_eq!(
            interner.name(b.readings.device[0]).as_deref(),
            Some("env-1")
        );
        assert_eq!(b.dead_letters.len(), 2);
        assert!(
            b.dead_letters[1].detail.contains("does not match"),
            "{:?}",
            b.dead_letters[1]
        );
        assert_eq!(
            b.marks,
            vec![PositionMark {
                partition: p.id,
                next: 3,
                max_ts: Some(1_600_000_000_000)
            }]
        );
        assert_eq!(summary.records, 3);
    }

    #[test]
    fn digest_separates_topic_from_payload() {
        assert_ne!(message_digest("a/b", b"c"), message_digest("a", b"/bc"));
        assert_eq!(message_digest("t", b"x"), message_digest("t", b"x"));
    }
}
