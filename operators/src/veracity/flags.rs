//! What the veracity operator reports besides the cleaned readings: [`VeracityFlags`] (one
//! row per removed duplicate and per stuck run, schema [`veracity_flags_schema`]),
//! [`DeadLetterRows`] (the removed duplicates as `dead_letter` rows) and [`VeracityTotals`]
//! (per-source counts, readable while the dataflow runs).
//!
//! `veracity_flags` schema:
//!
//! | column | type | notes |
//! | --- | --- | --- |
//! | source | Dictionary(Int32, Utf8) | source of the flagged reading |
//! | device | Dictionary(Int32, Utf8) | device |
//! | sensor | Dictionary(Int32, Utf8) | sensor kind |
//! | kind | Utf8 | `duplicate` or `stuck` |
//! | ts | Timestamp(ms, UTC) | duplicate: its event time; stuck: event time of the reading that made the run reach N |
//! | first_ts | Timestamp(ms, UTC) | duplicate: same as `ts`; stuck: event time of the run's first reading |
//! | count | UInt64 | duplicate: which copy (2 = the first extra copy); stuck: N, the run length when flagged |
//! | offset | UInt64 | source position of the flagged reading |

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use msec_engine::arrow::array::{
    ArrayRef, DictionaryArray, Int32Array, StringArray, TimestampMillisecondArray, UInt64Array,
};
use msec_engine::arrow::datatypes::{DataType, Field, Int32Type, Schema, SchemaRef};
use msec_engine::arrow::record_batch::RecordBatch;
use msec_engine::dead_letter::dead_letters_to_record_batch;
use msec_engine::reading::{dictionary_utf8, sensor_names, timestamp_ms};
use msec_engine::{DeadLetter, Interner, SensorKind};
use serde::{Deserialize, Serialize};

use crate::sink::ToRecordBatch;

/// What the veracity operator found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum VeracityKind {
    /// A later copy of a (device, sensor, ts) already kept: removed and dead-lettered.
    Duplicate,
    /// A run of identical values reached the configured length: kept, but flagged.
    Stuck,
}

impl VeracityKind {
    /// Every kind, in a stable order.
    pub const ALL: [VeracityKind; 2] = [Self::Duplicate, Self::Stuck];

    /// The stable name written to datasets (`duplicate` is also the dead-letter reason).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Duplicate => "duplicate",
            Self::Stuck => "stuck",
        }
    }
}

/// Flags, column by column (see the module doc for the meaning of each column).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VeracityFlags {
    /// Interned source ids.
    pub source: Vec<u32>,
    /// Interned device ids.
    pub device: Vec<u32>,
    /// Sensor kinds.
    pub sensor: Vec<SensorKind>,
    /// What was found.
    pub kind: Vec<VeracityKind>,
    /// Event time of the flagged reading, epoch ms.
    pub ts: Vec<i64>,
    /// Event time of the run's first reading (stuck) or `ts` (duplicate), epoch ms.
    pub first_ts: Vec<i64>,
    /// Copy number (duplicate) or run length when flagged (stuck).
    pub count: Vec<u64>,
    /// Source position of the flagged reading.
    pub offset: Vec<u64>,
}

/// One flag, as pushed into [`VeracityFlags`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Flag {
    /// Interned source id.
    pub source: u32,
    /// Interned device id.
    pub device: u32,
    /// Sensor kind.
    pub sensor: SensorKind,
    /// What was found.
    pub kind: VeracityKind,
    /// Event time of the flagged reading.
    pub ts: i64,
    /// Event time of the run's first reading (or `ts`).
    pub first_ts: i64,
    /// Copy number or run length.
    pub count: u64,
    /// Source position of the flagged reading.
    pub offset: u64,
}

impl VeracityFlags {
    /// Number of flags.
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    /// Appends one flag.
    pub fn push(&mut self, f: Flag) {
        self.source.push(f.source);
        self.device.push(f.device);
        self.sensor.push(f.sensor);
        self.kind.push(f.kind);
        self.ts.push(f.ts);
        self.first_ts.push(f.first_ts);
        self.count.push(f.count);
        self.offset.push(f.offset);
    }

    /// Flag `i`.
    pub fn get(&self, i: usize) -> Flag {
        Flag {
            source: self.source[i],
            device: self.device[i],
            sensor: self.sensor[i],
            kind: self.kind[i],
            ts: self.ts[i],
            first_ts: self.first_ts[i],
            count: self.count[i],
            offset: self.offset[i],
        }
    }
}

/// Schema of the `veracity_flags` rows (see the module doc).
pub fn veracity_flags_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    Arc::clone(SCHEMA.get_or_init(|| {
        Arc::new(Schema::new(vec![
            Field::new("source", dictionary_utf8(), false),
            Field::new("device", dictionary_utf8(), false),
            Field::new("sensor", dictionary_utf8(), false),
            Field::new("kind", DataType::Utf8, false),
            Field::new("ts", timestamp_ms(), false),
            Field::new("first_ts", timestamp_ms(), false),
            Field::new("count", DataType::UInt64, false),
            Field::new("offset", DataType::UInt64, false),
        ]))
    }))
}

impl ToRecordBatch for VeracityFlags {
    fn rows(&self) -> usize {
        self.len()
    }

    fn to_record_batch(&self, interner: &Interner) -> msec_engine::Result<RecordBatch> {
        let keys = |ids: &[u32]| Int32Array::from_iter_values(ids.iter().map(|&d| d as i32));
        let names = interner.dictionary_values();
        let device = DictionaryArray::<Int32Type>::try_new(keys(&self.device), names.clone())?;
        let source = DictionaryArray::<Int32Type>::try_new(keys(&self.source), names)?;
        let sensor_keys =
            Int32Array::from_iter_values(self.sensor.iter().map(|s| i32::from(s.code())));
        let sensor = DictionaryArray::<Int32Type>::try_new(sensor_keys, sensor_names())?;
        let ts = |v: &[i64]| TimestampMillisecondArray::from(v.to_vec()).with_timezone("UTC");
        let columns: Vec<ArrayRef> = vec![
            Arc::new(source),
            Arc::new(device),
            Arc::new(sensor),
            Arc::new(StringArray::from_iter_values(
                self.kind.iter().map(|k| k.as_str()),
            )),
            Arc::new(ts(&self.ts)),
            Arc::new(ts(&self.first_ts)),
            Arc::new(UInt64Array::from(self.count.clone())),
            Arc::new(UInt64Array::from(self.offset.clone())),
        ];
        Ok(RecordBatch::try_new(veracity_flags_schema(), columns)?)
    }
}

/// Dead letters as one batch, written with the `dead_letter` schema.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeadLetterRows(pub Vec<DeadLetter>);

impl ToRecordBatch for DeadLetterRows {
    fn rows(&self) -> usize {
        self.0.len()
    }

    fn to_record_batch(&self, _interner: &Interner) -> msec_engine::Result<RecordBatch> {
        dead_letters_to_record_batch(&self.0)
    }
}

/// Per-source counts of each [`VeracityKind`], summed over workers; cheap to clone, updated
/// once per frontier step (never per record).
#[derive(Debug, Clone, Default)]
pub struct VeracityTotals {
    counts: Arc<Mutex<BTreeMap<(u32, VeracityKind), u64>>>,
}

impl VeracityTotals {
    /// Adds `n` flags of `kind` for `source`.
    pub fn add(&self, source: u32, kind: VeracityKind, n: u64) {
        if n == 0 {
            return;
        }
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        *counts.entry((source, kind)).or_default() += n;
    }

    /// Adds every flag of `flags`.
    pub fn add_flags(&self, flags: &VeracityFlags) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        for (s, k) in flags.source.iter().zip(&flags.kind) {
            *counts.entry((*s, *k)).or_default() += 1;
        }
    }

    /// The count of `kind` for `source`.
    pub fn get(&self, source: u32, kind: VeracityKind) -> u64 {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.get(&(source, kind)).copied().unwrap_or(0)
    }

    /// Every non-zero count, keyed by (source name, kind name), in name order.
    pub fn snapshot(&self, interner: &Interner) -> BTreeMap<(String, &'static str), u64> {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = BTreeMap::new();
        for (&(source, kind), &n) in counts.iter() {
            let name = interner
                .name(source)
                .map_or_else(|| "?".to_owned(), |n| n.to_string());
            *out.entry((name, kind.as_str())).or_default() += n;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_convert_to_arrow_and_totals_count_per_source() {
        let interner = Interner::shared();
        let src = interner.intern("sensors.jsonl");
        let dev = interner.intern("llamas-env-03");
        let mut f = VeracityFlags::default();
        for kind in VeracityKind::ALL {
            f.push(Flag {
                source: src,
                device: dev,
                sensor: SensorKind::Co2,
                kind,
                ts: 10,
                first_ts: 1,
                count: 2,
                offset: 7,
            });
        }
        let rb = f.to_record_batch(&interner).expect("batch");
        assert_eq!(rb.schema(), veracity_flags_schema());
        assert_eq!(rb.num_rows(), 2);
        let totals = VeracityTotals::default();
        totals.add_flags(&f);
        totals.add(src, VeracityKind::Stuck, 3);
        assert_eq!(totals.get(src, VeracityKind::Duplicate), 1);
        let snap = totals.snapshot(&interner);
        assert_eq!(snap.get(&("sensors.jsonl".into(), "stuck")), Some(&4));
        assert_eq!(f.get(1).kind, VeracityKind::Stuck);
    }
}
