//! The canonical reading (DESIGN §4) as a columnar batch, and its Arrow schema.
//!
//! A [`ReadingBatch`] holds validated readings of one source, column by column: interned
//! device ids, sensor codes, event time, value, optional position, and provenance (source,
//! offset, ingest time). No per-record allocation: a batch is a handful of `Vec`s.

use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::{
    ArrayRef, DictionaryArray, Float64Array, Int32Array, StringArray, TimestampMillisecondArray,
    UInt64Array,
};
use datafusion::arrow::datatypes::{DataType, Field, Int32Type, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use serde::{Deserialize, Serialize};

use crate::Result;
use crate::dead_letter::{DeadLetter, DeadLetterReason};
use crate::intern::Interner;
use crate::sensor::SensorKind;

/// What becomes of a record behind a time (see [`ReadingBatch::split_behind_with`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behind {
    /// Kept in the batch.
    Keep,
    /// Removed: it is already accounted for (e.g. dead-lettered by an earlier run).
    Drop,
    /// Removed as a `late` dead letter.
    Late,
}

/// A batch of validated readings from one source.
///
/// `lat`/`lon` hold `NaN` where the reading has no position (validation rejects a `NaN` in
/// the input, so `NaN` here always means "absent").
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReadingBatch {
    /// Interned id of the source (file name, topic, `simulator`).
    pub source: u32,
    /// Interned device ids.
    pub device: Vec<u32>,
    /// Sensor kinds.
    pub sensor: Vec<SensorKind>,
    /// Event time, epoch ms.
    pub ts: Vec<i64>,
    /// Value in the unit of the sensor kind.
    pub value: Vec<f64>,
    /// Latitude (WGS84) or NaN.
    pub lat: Vec<f64>,
    /// Longitude (WGS84) or NaN.
    pub lon: Vec<f64>,
    /// Ingest time (wall clock when parsed), epoch ms.
    pub ingest_ts: Vec<i64>,
    /// Position in the source: 1-based line number in a file, offset in a partition.
    pub offset: Vec<u64>,
}

impl ReadingBatch {
    /// An empty batch for `source` with room for `capacity` readings.
    pub fn with_capacity(source: u32, capacity: usize) -> Self {
        Self {
            source,
            device: Vec::with_capacity(capacity),
            sensor: Vec::with_capacity(capacity),
            ts: Vec::with_capacity(capacity),
            value: Vec::with_capacity(capacity),
            lat: Vec::with_capacity(capacity),
            lon: Vec::with_capacity(capacity),
            ingest_ts: Vec::with_capacity(capacity),
            offset: Vec::with_capacity(capacity),
        }
    }

    /// Number of readings.
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    /// Appends one reading.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn push(
        &mut self,
        device: u32,
        sensor: SensorKind,
        ts: i64,
        value: f64,
        lat: Option<f64>,
        lon: Option<f64>,
        ingest_ts: i64,
        offset: u64,
    ) {
        self.device.push(device);
        self.sensor.push(sensor);
        self.ts.push(ts);
        self.value.push(value);
        self.lat.push(lat.unwrap_or(f64::NAN));
        self.lon.push(lon.unwrap_or(f64::NAN));
        self.ingest_ts.push(ingest_ts);
        self.offset.push(offset);
    }

    /// Appends reading `i` of `other` (same source).
    #[inline]
    pub fn push_from(&mut self, other: &ReadingBatch, i: usize) {
        self.device.push(other.device[i]);
        self.sensor.push(other.sensor[i]);
        self.ts.push(other.ts[i]);
        self.value.push(other.value[i]);
        self.lat.push(other.lat[i]);
        self.lon.push(other.lon[i]);
        self.ingest_ts.push(other.ingest_ts[i]);
        self.offset.push(other.offset[i]);
    }

    /// Moves every reading with event time below `time` out of the batch, as `late` dead
    /// letters (its canonical JSON as the raw bytes, since the original bytes are gone).
    /// Used when the dataflow's time was advanced by the wall clock past what the source's
    /// watermark allows; returns the dead letters, in batch order.
    pub fn split_behind(&mut self, time: i64, interner: &Interner) -> Vec<DeadLetter> {
        self.split_behind_with(time, interner, |_| Behind::Late, |ts| {
            format!(
                "event time {ts} is behind the dataflow's time {time}, which the wall clock advanced while every source was idle"
            )
        })
    }

    /// Decides, for every reading with event time below `time`, by its offset, whether it is
    /// kept, dropped (already accounted for elsewhere) or moved out as a `late` dead letter
    /// whose detail is `detail(ts)`. Readings at or after `time` are kept.
    pub fn split_behind_with(
        &mut self,
        time: i64,
        interner: &Interner,
        mut fate: impl FnMut(u64) -> Behind,
        detail: impl Fn(i64) -> String,
    ) -> Vec<DeadLetter> {
        if self.ts.iter().all(|&ts| ts >= time) {
            return Vec::new();
        }
        let source: Arc<str> = interner.name(self.source).unwrap_or_else(|| Arc::from("?"));
        let mut kept = ReadingBatch::with_capacity(self.source, self.len());
        let mut dead = Vec::new();
        for i in 0..self.len() {
            if self.ts[i] >= time {
                kept.push_from(self, i);
                continue;
            }
            match fate(self.offset[i]) {
                Behind::Keep => {
                    kept.push_from(self, i);
                    continue;
                }
                Behind::Drop => continue,
                Behind::Late => {}
            }
            let device = interner
                .name(self.device[i])
                .unwrap_or_else(|| Arc::from("?"));
            let mut raw = serde_json::json!({
                "device": &*device,
                "sensor": self.sensor[i].name(),
                "ts": self.ts[i],
                "value": self.value[i],
            });
            if !self.lat[i].is_nan() {
                raw["lat"] = self.lat[i].into();
                raw["lon"] = self.lon[i].into();
            }
            dead.push(DeadLetter {
                source: Arc::clone(&source),
                offset: self.offset[i],
                reason: DeadLetterReason::Late,
                detail: detail(self.ts[i]),
                raw: raw.to_string().into_bytes(),
                ts: Some(self.ts[i]),
                ingest_ts: self.ingest_ts[i],
            });
        }
        *self = kept;
        dead
    }

    /// Splits the batch into `parts` batches by `key(device, sensor) % parts`, keeping order.
    pub fn partition_by(
        &self,
        parts: usize,
        key: impl Fn(u32, SensorKind) -> u64,
    ) -> Vec<ReadingBatch> {
        let parts = parts.max(1);
        if parts == 1 {
            return vec![self.clone()];
        }
        let mut out: Vec<ReadingBatch> = (0..parts)
            .map(|_| ReadingBatch::with_capacity(self.source, self.len() / parts + 1))
            .collect();
        for i in 0..self.len() {
            let p = (key(self.device[i], self.sensor[i]) % parts as u64) as usize;
            out[p].push_from(self, i);
        }
        out
    }

    /// Converts to an Arrow batch with [`readings_schema`]; `interner` resolves devices and
    /// the source name.
    pub fn to_record_batch(&self, interner: &Interner) -> Result<RecordBatch> {
        let devices = interner.dictionary_values();
        let device_keys = Int32Array::from_iter_values(self.device.iter().map(|&d| d as i32));
        let device = DictionaryArray::<Int32Type>::try_new(device_keys, devices)?;
        let sensor_keys = Int32Array::from_iter_values(self.sensor.iter().map(|s| s.code() as i32));
        let sensor = DictionaryArray::<Int32Type>::try_new(sensor_keys, sensor_names())?;
        let source_name = interner.name(self.source).unwrap_or_else(|| Arc::from("?"));
        let source_keys = Int32Array::from_iter_values(std::iter::repeat_n(0, self.len()));
        let source_values: ArrayRef = Arc::new(StringArray::from(vec![&*source_name]));
        let source = DictionaryArray::<Int32Type>::try_new(source_keys, source_values)?;
        let position =
            |v: &[f64]| Float64Array::from_iter(v.iter().map(|x| (!x.is_nan()).then_some(*x)));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(device),
            Arc::new(sensor),
            Arc::new(TimestampMillisecondArray::from(self.ts.clone()).with_timezone("UTC")),
            Arc::new(Float64Array::from(self.value.clone())),
            Arc::new(position(&self.lat)),
            Arc::new(position(&self.lon)),
            Arc::new(TimestampMillisecondArray::from(self.ingest_ts.clone()).with_timezone("UTC")),
            Arc::new(source),
            Arc::new(UInt64Array::from(self.offset.clone())),
        ];
        Ok(RecordBatch::try_new(readings_schema(), columns)?)
    }
}

/// `Dictionary(Int32, Utf8)`, the type of interned string columns.
pub fn dictionary_utf8() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

/// `Timestamp(ms, UTC)`, the type of every event-time and ingest-time column.
pub fn timestamp_ms() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

/// The names of all sensor kinds, indexed by code.
pub fn sensor_names() -> ArrayRef {
    static NAMES: OnceLock<ArrayRef> = OnceLock::new();
    Arc::clone(NAMES.get_or_init(|| {
        Arc::new(StringArray::from_iter_values(
            SensorKind::ALL.iter().map(|s| s.name()),
        ))
    }))
}

/// Schema of the `readings` dataset.
pub fn readings_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    Arc::clone(SCHEMA.get_or_init(|| {
        Arc::new(Schema::new(vec![
            Field::new("device", dictionary_utf8(), false),
            Field::new("sensor", dictionary_utf8(), false),
            Field::new("ts", timestamp_ms(), false),
            Field::new("value", DataType::Float64, false),
            Field::new("lat", DataType::Float64, true),
            Field::new("lon", DataType::Float64, true),
            Field::new("ingest_ts", timestamp_ms(), false),
            Field::new("source", dictionary_utf8(), false),
            Field::new("offset", DataType::UInt64, false),
        ]))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_behind_dead_letters_what_the_clock_passed() {
        let interner = Interner::shared();
        let src = interner.intern("-");
        let dev = interner.intern("home-001-bed");
        let mut b = ReadingBatch::with_capacity(src, 3);
        for (ts, off) in [(100, 1), (99, 2), (150, 3)] {
            b.push(dev, SensorKind::Bed, ts, 1.0, None, None, 7, off);
        }
        assert!(b.clone().split_behind(99, &interner).is_empty());
        let dead = b.split_behind(100, &interner);
        assert_eq!(b.ts, vec![100, 150]);
        assert_eq!(b.offset, vec![1, 3]);
        assert_eq!(dead.len(), 1);
        assert_eq!(
            (dead[0].offset, dead[0].reason, dead[0].ts),
            (2, DeadLetterReason::Late, Some(99))
        );
        let raw: serde_json::Value = serde_json::from_slice(&dead[0].raw).expect("json");
        assert_eq!(raw["device"], "home-001-bed");
        assert_eq!(raw["sensor"], "bed");
        assert_eq!(raw["ts"], 99);
        assert!(dead[0].detail.contains("wall clock"), "{}", dead[0].detail);
    }

    #[test]
    fn converts_to_arrow_with_nulls_for_absent_positions() {
        let interner = Interner::shared();
        let src = interner.intern("test.jsonl");
        let dev = interner.intern("llamas-env-03");
        let mut b = ReadingBatch::with_capacity(src, 2);
        b.push(
            dev,
            SensorKind::Co2,
            1_600_070_400_123,
            412.5,
            Some(43.47),
            Some(-3.80),
            1,
            1,
        );
        b.push(
            dev,
            SensorKind::Noise,
            1_600_070_400_124,
            50.0,
            None,
            None,
            1,
            2,
        );
        let rb = b.to_record_batch(&interner).expect("batch");
        assert_eq!(rb.num_rows(), 2);
        assert_eq!(rb.column(4).null_count(), 1);
        assert_eq!(rb.schema(), readings_schema());
    }

    #[test]
    fn partition_keeps_every_reading_once() {
        let mut b = ReadingBatch::with_capacity(0, 10);
        for i in 0..10 {
            b.push(
                i,
                SensorKind::Temperature,
                i as i64,
                1.0,
                None,
                None,
                0,
                i as u64,
            );
        }
        let parts = b.partition_by(3, |d, _| d as u64);
        assert_eq!(parts.iter().map(ReadingBatch::len).sum::<usize>(), 10);
        assert!(parts[1].device.iter().all(|d| d % 3 == 1));
    }
}
