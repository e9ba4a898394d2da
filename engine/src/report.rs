//! Citizens' photo reports (Pilot 4, SmileCityReport; DESIGN §4) as a columnar batch.
//!
//! A report is `report_id, reporter, ts, lat, lon, theme, smile (0..1), photo_digest` — never
//! the photo. Reporter ids are personal: they are interned here (`u32`, like devices) so the
//! heat map can count *distinct* reporters per cell for k-anonymity, and no public output
//! carries them. Reports are low-volume (people, not sensors), so `report_id` and
//! `photo_digest` are plain strings.

use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::{
    ArrayRef, DictionaryArray, Float64Array, Int32Array, StringArray, TimestampMillisecondArray,
    UInt64Array,
};
use datafusion::arrow::datatypes::{DataType, Field, Int32Type, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use serde::{Deserialize, Serialize};

use crate::Result;
use crate::dead_letter::{DeadLetter, DeadLetterReason};
use crate::intern::Interner;
use crate::reading::Behind;
use crate::reading::{dictionary_utf8, timestamp_ms};

/// A batch of validated citizen reports from one source.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReportBatch {
    /// Interned id of the source.
    pub source: u32,
    /// Report ids, as sent.
    pub report_id: Vec<String>,
    /// Interned reporter ids (personal: never published).
    pub reporter: Vec<u32>,
    /// Event time (when the photo was taken), epoch ms.
    pub ts: Vec<i64>,
    /// Latitude (WGS84), required for a report.
    pub lat: Vec<f64>,
    /// Longitude (WGS84), required for a report.
    pub lon: Vec<f64>,
    /// Interned theme (`litter`, `flowers`, `graffiti`, …).
    pub theme: Vec<u32>,
    /// Smile degree of the photo, 0..1.
    pub smile: Vec<f64>,
    /// Hex digest of the photo (the photo itself never enters msec).
    pub photo_digest: Vec<String>,
    /// Ingest time, epoch ms.
    pub ingest_ts: Vec<i64>,
    /// Position in the source (1-based line).
    pub offset: Vec<u64>,
}

impl ReportBatch {
    /// An empty batch for `source`.
    pub fn new(source: u32) -> Self {
        Self {
            source,
            ..Self::default()
        }
    }

    /// Number of reports.
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }
}

/// Schema of the `reports` dataset (personal: it keeps the reporter; public outputs such as
/// the heat map never do): `report_id, reporter, ts, lat, lon, theme, smile, photo_digest,
/// ingest_ts, source, offset`.
pub fn reports_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    Arc::clone(SCHEMA.get_or_init(|| {
        Arc::new(Schema::new(vec![
            Field::new("report_id", DataType::Utf8, false),
            Field::new("reporter", dictionary_utf8(), false),
            Field::new("ts", timestamp_ms(), false),
            Field::new("lat", DataType::Float64, false),
            Field::new("lon", DataType::Float64, false),
            Field::new("theme", dictionary_utf8(), false),
            Field::new("smile", DataType::Float64, false),
            Field::new("photo_digest", DataType::Utf8, false),
            Field::new("ingest_ts", timestamp_ms(), false),
            Field::new("source", dictionary_utf8(), false),
            Field::new("offset", DataType::UInt64, false),
        ]))
    }))
}

impl ReportBatch {
    /// Moves every report with event time below `time` out of the batch as `late` dead
    /// letters (see [`crate::ReadingBatch::split_behind`]).
    pub fn split_behind(&mut self, time: i64, interner: &Interner) -> Vec<DeadLetter> {
        self.split_behind_with(time, interner, |_| Behind::Late, |ts| {
            format!(
                "report time {ts} is behind the dataflow's time {time}, which the wall clock advanced while every source was idle"
            )
        })
    }

    /// Like [`crate::ReadingBatch::split_behind_with`], for reports.
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
        let mut kept = ReportBatch::new(self.source);
        let mut dead = Vec::new();
        let name = |id: u32| interner.name(id).map(|n| n.to_string()).unwrap_or_default();
        for i in 0..self.len() {
            let fate = if self.ts[i] >= time {
                Behind::Keep
            } else {
                fate(self.offset[i])
            };
            if fate == Behind::Drop {
                continue;
            }
            if fate == Behind::Keep {
                kept.report_id.push(std::mem::take(&mut self.report_id[i]));
                kept.reporter.push(self.reporter[i]);
                kept.ts.push(self.ts[i]);
                kept.lat.push(self.lat[i]);
                kept.lon.push(self.lon[i]);
                kept.theme.push(self.theme[i]);
                kept.smile.push(self.smile[i]);
                kept.photo_digest
                    .push(std::mem::take(&mut self.photo_digest[i]));
                kept.ingest_ts.push(self.ingest_ts[i]);
                kept.offset.push(self.offset[i]);
                continue;
            }
            let raw = serde_json::json!({
                "report_id": self.report_id[i],
                "reporter": name(self.reporter[i]),
                "ts": self.ts[i],
                "lat": self.lat[i],
                "lon": self.lon[i],
                "theme": name(self.theme[i]),
                "smile": self.smile[i],
                "photo_digest": self.photo_digest[i],
            });
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

    /// Converts to an Arrow batch with [`reports_schema`].
    pub fn to_record_batch(&self, interner: &Interner) -> Result<RecordBatch> {
        let dict = |ids: &[u32]| -> Result<ArrayRef> {
            let keys = Int32Array::from_iter_values(ids.iter().map(|&d| d as i32));
            Ok(Arc::new(DictionaryArray::<Int32Type>::try_new(
                keys,
                interner.dictionary_values(),
            )?))
        };
        let ts = |v: &[i64]| -> ArrayRef {
            Arc::new(TimestampMillisecondArray::from(v.to_vec()).with_timezone("UTC"))
        };
        let source = vec![self.source; self.len()];
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(&self.report_id)),
            dict(&self.reporter)?,
            ts(&self.ts),
            Arc::new(Float64Array::from(self.lat.clone())),
            Arc::new(Float64Array::from(self.lon.clone())),
            dict(&self.theme)?,
            Arc::new(Float64Array::from(self.smile.clone())),
            Arc::new(StringArray::from_iter_values(&self.photo_digest)),
            ts(&self.ingest_ts),
            dict(&source)?,
            Arc::new(UInt64Array::from(self.offset.clone())),
        ];
        Ok(RecordBatch::try_new(reports_schema(), columns)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_to_arrow() {
        let interner = Interner::shared();
        let mut b = ReportBatch::new(interner.intern("sim"));
        b.report_id.push("r-1".into());
        b.reporter.push(interner.intern("citizen-0001"));
        b.ts.push(1_772_409_600_000);
        b.lat.push(35.3);
        b.lon.push(139.4);
        b.theme.push(interner.intern("flowers"));
        b.smile.push(0.9);
        b.photo_digest.push("ab".into());
        b.ingest_ts.push(1);
        b.offset.push(7);
        let rb = b.to_record_batch(&interner).expect("arrow");
        assert_eq!(rb.num_rows(), 1);
        assert_eq!(rb.schema(), reports_schema());
    }
}
