//! Rejected records (DESIGN §4): never dropped silently, kept with their raw bytes, source
//! position and the reason, in the `dead_letter` dataset.

use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::{
    ArrayRef, BinaryArray, StringArray, TimestampMillisecondArray, UInt64Array,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use serde::{Deserialize, Serialize};

use crate::Result;
use crate::reading::timestamp_ms;

/// Why a record was rejected. `as_str` is the stable name written to datasets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum DeadLetterReason {
    /// Not valid JSON / not a JSON object / not UTF-8.
    Parse,
    /// A required field (device, sensor, ts, value) is absent or null.
    MissingField,
    /// A field has the wrong type (e.g. `value` is a string, `ts` is not a valid time).
    InvalidType,
    /// The sensor kind is not known to msec.
    UnknownSensor,
    /// Value (or position, or timestamp) outside its physical range, or not finite.
    OutOfRange,
    /// Event time absurdly far in the future.
    FutureTs,
    /// Event time below the watermark at arrival.
    Late,
    /// A second copy of a reading: same (device, sensor, event time) as one already kept
    /// (removed by the veracity operator, `msec_operators::veracity`).
    Duplicate,
}

impl DeadLetterReason {
    /// Every reason, in a stable order.
    pub const ALL: &'static [DeadLetterReason] = &[
        Self::Parse,
        Self::MissingField,
        Self::InvalidType,
        Self::UnknownSensor,
        Self::OutOfRange,
        Self::FutureTs,
        Self::Late,
        Self::Duplicate,
    ];

    /// The stable name written to datasets.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Parse => "parse",
            Self::MissingField => "missing_field",
            Self::InvalidType => "invalid_type",
            Self::UnknownSensor => "unknown_sensor",
            Self::OutOfRange => "out_of_range",
            Self::FutureTs => "future_ts",
            Self::Late => "late",
            Self::Duplicate => "duplicate",
        }
    }
}

impl std::fmt::Display for DeadLetterReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One rejected record. Rare by nature, so it may own its bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// Source name (file path, topic, `simulator`).
    pub source: Arc<str>,
    /// Position in the source (1-based line number, partition offset).
    pub offset: u64,
    /// Why it was rejected.
    pub reason: DeadLetterReason,
    /// Human-readable detail (which field, which value).
    pub detail: String,
    /// The raw bytes as received.
    pub raw: Vec<u8>,
    /// Event time if it could be read.
    pub ts: Option<i64>,
    /// Wall-clock time of ingestion, epoch ms.
    pub ingest_ts: i64,
}

/// Schema of the `dead_letter` dataset.
pub fn dead_letter_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    Arc::clone(SCHEMA.get_or_init(|| {
        Arc::new(Schema::new(vec![
            Field::new("source", DataType::Utf8, false),
            Field::new("offset", DataType::UInt64, false),
            Field::new("reason", DataType::Utf8, false),
            Field::new("detail", DataType::Utf8, false),
            Field::new("raw", DataType::Binary, false),
            Field::new("ts", timestamp_ms(), true),
            Field::new("ingest_ts", timestamp_ms(), false),
        ]))
    }))
}

/// Converts dead letters to an Arrow batch with [`dead_letter_schema`].
pub fn dead_letters_to_record_batch(rows: &[DeadLetter]) -> Result<RecordBatch> {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| &*r.source),
        )),
        Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.offset))),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.reason.as_str()),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.detail.as_str()),
        )),
        Arc::new(BinaryArray::from_iter_values(
            rows.iter().map(|r| r.raw.as_slice()),
        )),
        Arc::new(
            TimestampMillisecondArray::from_iter(rows.iter().map(|r| r.ts)).with_timezone("UTC"),
        ),
        Arc::new(
            TimestampMillisecondArray::from_iter_values(rows.iter().map(|r| r.ingest_ts))
                .with_timezone("UTC"),
        ),
    ];
    Ok(RecordBatch::try_new(dead_letter_schema(), columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_have_distinct_names() {
        let mut names: Vec<_> = DeadLetterReason::ALL.iter().map(|r| r.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DeadLetterReason::ALL.len());
    }

    #[test]
    fn converts_to_arrow() {
        let dl = DeadLetter {
            source: Arc::from("in.jsonl"),
            offset: 7,
            reason: DeadLetterReason::Late,
            detail: "ts 5 < watermark 10".into(),
            raw: b"{}".to_vec(),
            ts: Some(5),
            ingest_ts: 9,
        };
        let rb = dead_letters_to_record_batch(&[dl]).expect("batch");
        assert_eq!(rb.num_rows(), 1);
        assert_eq!(rb.schema(), dead_letter_schema());
    }
}
