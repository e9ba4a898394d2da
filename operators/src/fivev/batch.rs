//! The rows of the `fivev` dataset ([`FivevBatch`]) and its Arrow schema ([`fivev_schema`]).
//!
//! One row per source and tumbling event-time window:
//!
//! | column | type | V | notes |
//! | --- | --- | --- | --- |
//! | source | Dictionary(Int32, Utf8) | | source name |
//! | window_start | Timestamp(ms, UTC) | | start of the window |
//! | records | UInt64 | Volume | input records (lines, messages) of the source batches accounted to the window |
//! | bytes | UInt64 | Volume | input bytes of those batches |
//! | readings | UInt64 | Velocity | readings (after veracity) with event time in the window |
//! | events_per_s | Float64 | Velocity | `readings / window length in s` |
//! | latency_p99_ms | Int64, nullable | Velocity | p99 of `ingest_ts − ts` of those readings ([`crate::LogHistogram`]: < 1/128 above the exact value, exact below 256 ms); null without readings |
//! | sensor_kinds | UInt64 | Variety | distinct sensor kinds among the readings |
//! | devices | UInt64 | Variety | distinct devices among the readings |
//! | schemas | UInt64 | Variety | distinct record schemas seen: reading, report, other |
//! | invalid, out_of_range, late, future_ts, duplicate, stuck | UInt64 | Veracity | counts; `invalid` = parse + missing_field + invalid_type + unknown_sensor |
//! | invalid_rate … stuck_rate | Float64, nullable | Veracity | count / records; null when records = 0 |
//! | alerts, heatmap_cells, datasets_sealed | UInt64 | Value | from the value events; 0 without them |

use std::sync::{Arc, OnceLock};

use msec_engine::Interner;
use msec_engine::arrow::array::{
    ArrayRef, DictionaryArray, Float64Array, Int32Array, Int64Array, TimestampMillisecondArray,
    UInt64Array,
};
use msec_engine::arrow::datatypes::{DataType, Field, Int32Type, Schema, SchemaRef};
use msec_engine::arrow::record_batch::RecordBatch;
use msec_engine::reading::{dictionary_utf8, timestamp_ms};
use serde::{Deserialize, Serialize};

use crate::sink::ToRecordBatch;

/// A Veracity column of `fivev`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum FivevReason {
    /// Parse, missing field, invalid type or unknown sensor.
    Invalid,
    /// Value outside its physical range.
    OutOfRange,
    /// Below the watermark at arrival.
    Late,
    /// Event time absurdly far in the future.
    FutureTs,
    /// A removed copy of a reading.
    Duplicate,
    /// A stuck run (kept, flagged).
    Stuck,
}

impl FivevReason {
    /// Every reason, in column order.
    pub const ALL: [FivevReason; 6] = [
        Self::Invalid,
        Self::OutOfRange,
        Self::Late,
        Self::FutureTs,
        Self::Duplicate,
        Self::Stuck,
    ];

    /// The column name of the count (the rate is `<name>_rate`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Invalid => "invalid",
            Self::OutOfRange => "out_of_range",
            Self::Late => "late",
            Self::FutureTs => "future_ts",
            Self::Duplicate => "duplicate",
            Self::Stuck => "stuck",
        }
    }

    /// The position in [`FivevReason::ALL`] (and in [`FivevRow::veracity`]).
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// One `fivev` row (see the module doc).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FivevRow {
    /// Interned source id.
    pub source: u32,
    /// Window start, epoch ms.
    pub window_start: i64,
    /// Input records.
    pub records: u64,
    /// Input bytes.
    pub bytes: u64,
    /// Readings with event time in the window.
    pub readings: u64,
    /// Readings per second of event time.
    pub events_per_s: f64,
    /// p99 delivery latency, ms.
    pub latency_p99_ms: Option<i64>,
    /// Distinct sensor kinds.
    pub sensor_kinds: u64,
    /// Distinct devices.
    pub devices: u64,
    /// Distinct record schemas.
    pub schemas: u64,
    /// Counts per [`FivevReason`], in [`FivevReason::ALL`] order.
    pub veracity: [u64; 6],
    /// Alerts raised.
    pub alerts: u64,
    /// Heat-map cells published.
    pub heatmap_cells: u64,
    /// Dataset segments sealed.
    pub datasets_sealed: u64,
}

impl FivevRow {
    /// The count of `reason`.
    pub fn count(&self, reason: FivevReason) -> u64 {
        self.veracity[reason.index()]
    }

    /// `count / records`, or `None` when no record was consumed.
    pub fn rate(&self, reason: FivevReason) -> Option<f64> {
        (self.records > 0).then(|| self.count(reason) as f64 / self.records as f64)
    }
}

/// `fivev` rows, in canonical order (window start, source name) once through the operator.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FivevBatch(pub Vec<FivevRow>);

/// Schema of the `fivev` dataset (see the module doc).
pub fn fivev_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    Arc::clone(SCHEMA.get_or_init(|| {
        let u64f = |name: &str| Field::new(name, DataType::UInt64, false);
        let mut fields = vec![
            Field::new("source", dictionary_utf8(), false),
            Field::new("window_start", timestamp_ms(), false),
            u64f("records"),
            u64f("bytes"),
            u64f("readings"),
            Field::new("events_per_s", DataType::Float64, false),
            Field::new("latency_p99_ms", DataType::Int64, true),
            u64f("sensor_kinds"),
            u64f("devices"),
            u64f("schemas"),
        ];
        fields.extend(FivevReason::ALL.iter().map(|r| u64f(r.name())));
        fields.extend(
            FivevReason::ALL
                .iter()
                .map(|r| Field::new(format!("{}_rate", r.name()), DataType::Float64, true)),
        );
        fields.extend(["alerts", "heatmap_cells", "datasets_sealed"].map(u64f));
        Arc::new(Schema::new(fields))
    }))
}

impl ToRecordBatch for FivevBatch {
    fn rows(&self) -> usize {
        self.0.len()
    }

    fn to_record_batch(&self, interner: &Interner) -> msec_engine::Result<RecordBatch> {
        let rows = &self.0;
        let u64c = |f: &dyn Fn(&FivevRow) -> u64| -> ArrayRef {
            Arc::new(UInt64Array::from_iter_values(rows.iter().map(f)))
        };
        let keys = Int32Array::from_iter_values(rows.iter().map(|r| r.source as i32));
        let source = DictionaryArray::<Int32Type>::try_new(keys, interner.dictionary_values())?;
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(source),
            Arc::new(
                TimestampMillisecondArray::from_iter_values(rows.iter().map(|r| r.window_start))
                    .with_timezone("UTC"),
            ),
            u64c(&|r| r.records),
            u64c(&|r| r.bytes),
            u64c(&|r| r.readings),
            Arc::new(Float64Array::from_iter_values(
                rows.iter().map(|r| r.events_per_s),
            )),
            Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.latency_p99_ms))),
            u64c(&|r| r.sensor_kinds),
            u64c(&|r| r.devices),
            u64c(&|r| r.schemas),
        ];
        for reason in FivevReason::ALL {
            columns.push(u64c(&|r| r.count(reason)));
        }
        for reason in FivevReason::ALL {
            columns.push(Arc::new(Float64Array::from_iter(
                rows.iter().map(|r| r.rate(reason)),
            )));
        }
        columns.push(u64c(&|r| r.alerts));
        columns.push(u64c(&|r| r.heatmap_cells));
        columns.push(u64c(&|r| r.datasets_sealed));
        Ok(RecordBatch::try_new(fivev_schema(), columns)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use msec_engine::arrow::array::Array;

    #[test]
    fn converts_with_null_rates_without_records() {
        let interner = Interner::shared();
        let src = interner.intern("sensors.jsonl");
        let mut with = FivevRow {
            source: src,
            records: 4,
            ..FivevRow::default()
        };
        with.veracity[FivevReason::Late.index()] = 1;
        let without = FivevRow {
            source: src,
            ..FivevRow::default()
        };
        assert_eq!(with.rate(FivevReason::Late), Some(0.25));
        let rb = FivevBatch(vec![with, without])
            .to_record_batch(&interner)
            .expect("batch");
        assert_eq!(rb.schema(), fivev_schema());
        assert_eq!(rb.num_columns(), 25);
        let late_rate = rb.schema().index_of("late_rate").expect("column");
        assert_eq!(rb.column(late_rate).null_count(), 1);
        assert_eq!(rb.column(6).null_count(), 2, "no latency without readings");
    }
}
