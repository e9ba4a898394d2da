//! The inputs of the `fivev` operator besides the readings: per-batch source statistics
//! ([`SourceStats`], fed by the binary from each [`SourceBatch`]) and value events
//! ([`ValueEvent`]: alerts raised, heat-map cells published, datasets sealed), with a helper
//! that turns raised alerts into value events ([`AlertValue`]).

use std::collections::BTreeMap;

use msec_engine::DeadLetterReason;
use msec_engine::alert::AlertKind;
use msec_engine::source::SourceBatch;
use serde::{Deserialize, Serialize};
use timely::dataflow::Stream;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;

use crate::alerts::AlertRows;

/// What one source batch consumed: the Volume, the schemas seen and the source's own
/// rejections, for the `fivev` window of `ts`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceStats {
    /// Interned source id (that of the batch's readings).
    pub source: u32,
    /// Event time the batch is accounted to, epoch ms: see [`SourceStats::from_batch`]. A
    /// value below the timely time it is sent at is taken as that time.
    pub ts: i64,
    /// Input records (lines, messages) consumed.
    pub records: u64,
    /// Input bytes consumed.
    pub bytes: u64,
    /// Readings accepted by the source.
    pub readings: u64,
    /// Citizen reports accepted by the source.
    pub reports: u64,
    /// Accepted records of any other schema (ratings, …); 0 today.
    pub other: u64,
    /// The source's rejected records, per reason.
    pub dead_letters: BTreeMap<DeadLetterReason, u64>,
}

impl SourceStats {
    /// The statistics of `batch`, sent at timely time `time`. The batch is accounted, whole,
    /// to the largest event time among its readings and reports, or else to its watermark,
    /// or else to `time` — never below `time`. (Records and bytes belong to the batch, not to
    /// single readings, so a batch that spans a window boundary counts in the later window.)
    /// Dead letters should already include those the binary adds (`late` after the wall
    /// clock moved ahead).
    pub fn from_batch(batch: &SourceBatch, time: u64) -> Self {
        let time = i64::try_from(time).unwrap_or(i64::MAX);
        let max_ts = batch
            .readings
            .ts
            .iter()
            .chain(&batch.reports.ts)
            .copied()
            .max();
        let mut dead_letters = BTreeMap::new();
        for d in &batch.dead_letters {
            *dead_letters.entry(d.reason).or_default() += 1;
        }
        Self {
            source: batch.readings.source,
            ts: max_ts.or(batch.watermark).unwrap_or(time).max(time),
            records: batch.records,
            bytes: batch.bytes,
            readings: batch.readings.len() as u64,
            reports: batch.reports.len() as u64,
            other: 0,
            dead_letters,
        }
    }
}

/// Value produced downstream, attributed to a source and an event time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValueEvent {
    /// Interned source id the value is attributed to.
    pub source: u32,
    /// Event time, epoch ms (a value below the timely time it is sent at is taken as that
    /// time).
    pub ts: i64,
    /// Alerts raised.
    pub alerts: u64,
    /// Heat-map cells published.
    pub heatmap_cells: u64,
    /// Dataset segments sealed.
    pub datasets_sealed: u64,
}

/// Raised alerts as value events.
pub trait AlertValue<'scope> {
    /// One event per decision time with the number of alerts raised then (resolutions do
    /// not count), attributed to `source` (alerts carry no source: a run has one).
    fn alert_value(self, source: u32) -> Stream<'scope, u64, Vec<ValueEvent>>;
}

impl<'scope> AlertValue<'scope> for Stream<'scope, u64, Vec<AlertRows>> {
    fn alert_value(self, source: u32) -> Stream<'scope, u64, Vec<ValueEvent>> {
        self.unary(Pipeline, "AlertValue", move |_cap, _info| {
            move |input, output| {
                input.for_each(|cap, data| {
                    let mut raised: BTreeMap<i64, u64> = BTreeMap::new();
                    for rows in data.drain(..) {
                        for m in rows.0.iter().filter(|m| m.kind == AlertKind::Raised) {
                            *raised.entry(m.decision_ts).or_default() += 1;
                        }
                    }
                    if raised.is_empty() {
                        return;
                    }
                    output
                        .session(&cap)
                        .give_iterator(raised.into_iter().map(|(ts, n)| ValueEvent {
                            source,
                            ts,
                            alerts: n,
                            ..ValueEvent::default()
                        }));
                });
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use msec_engine::{DeadLetter, ReadingBatch, SensorKind};
    use std::sync::Arc;

    #[test]
    fn stats_of_a_batch() {
        let mut readings = ReadingBatch::with_capacity(3, 2);
        readings.push(1, SensorKind::Co2, 5_000, 400.0, None, None, 0, 1);
        readings.push(1, SensorKind::Co2, 9_000, 400.0, None, None, 0, 2);
        let dl = DeadLetter {
            source: Arc::from("s"),
            offset: 3,
            reason: DeadLetterReason::Parse,
            detail: String::new(),
            raw: Vec::new(),
            ts: None,
            ingest_ts: 0,
        };
        let batch = SourceBatch {
            readings,
            dead_letters: vec![dl.clone(), dl],
            watermark: Some(4_000),
            records: 4,
            bytes: 100,
            ..SourceBatch::default()
        };
        let s = SourceStats::from_batch(&batch, 2_000);
        assert_eq!(
            (s.source, s.ts, s.records, s.bytes, s.readings),
            (3, 9_000, 4, 100, 2)
        );
        assert_eq!(s.dead_letters.get(&DeadLetterReason::Parse), Some(&2));
        let only_dead = SourceBatch {
            watermark: Some(1_000),
            ..SourceBatch::default()
        };
        assert_eq!(SourceStats::from_batch(&only_dead, 2_000).ts, 2_000);
    }
}
