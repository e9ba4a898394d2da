//! The rows of the `kpi_latency` dataset as a columnar [`KpiBatch`], its Arrow schema
//! ([`kpi_schema`]), the metric names ([`KpiMetric`]) and the alert-latency input
//! ([`AlertLatencies`]).
//!
//! Schema (long format, one row per source, device, window and metric):
//!
//! | column | type | notes |
//! | --- | --- | --- |
//! | source | Dictionary(Int32, Utf8) | source name; `alerts` for alert latency |
//! | device | Dictionary(Int32, Utf8) | device name; the household for alert latency |
//! | window_start | Timestamp(ms, UTC) | start of the tumbling event-time window |
//! | metric | Utf8 | `delivery_latency`, `inter_arrival` or `alert_latency` |
//! | count | UInt64 | values in the window (latencies, or gaps) |
//! | p50_ms, p95_ms, p99_ms | Int64 | quantiles from a [`LogHistogram`]: never below the exact quantile, less than 1/128 above it, exact below 256 ms |
//! | max_ms | Int64 | exact maximum |
//! | over_target | UInt64, nullable | gaps longer than the target; set only for `inter_arrival` |

use std::sync::{Arc, OnceLock};

use msec_engine::Interner;
use msec_engine::arrow::array::{
    ArrayRef, DictionaryArray, Int32Array, Int64Array, StringArray, TimestampMillisecondArray,
    UInt64Array,
};
use msec_engine::arrow::datatypes::{DataType, Field, Int32Type, Schema, SchemaRef};
use msec_engine::arrow::record_batch::RecordBatch;
use msec_engine::reading::{dictionary_utf8, timestamp_ms};
use serde::{Deserialize, Serialize};

use super::histogram::LogHistogram;
use crate::sink::ToRecordBatch;

/// The `source` id of alert-latency rows; it is written as the name [`ALERTS_SOURCE_NAME`].
pub const ALERTS_SOURCE: u32 = u32::MAX;
/// The source name of alert-latency rows.
pub const ALERTS_SOURCE_NAME: &str = "alerts";

/// Which KPI a row measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum KpiMetric {
    /// `ingest_ts − ts` of readings, ms (negative clamped to 0).
    DeliveryLatency,
    /// Gap between consecutive readings of a device in event-time order, ms.
    InterArrival,
    /// Latency of alerts (emit time − ingest time of the evidence that completed them), ms.
    AlertLatency,
}

impl KpiMetric {
    /// The name written in the `metric` column.
    pub fn name(self) -> &'static str {
        match self {
            KpiMetric::DeliveryLatency => "delivery_latency",
            KpiMetric::InterArrival => "inter_arrival",
            KpiMetric::AlertLatency => "alert_latency",
        }
    }
}

/// Alert latencies, column by column: the input of the `alert_latency` metric.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertLatencies {
    /// Interned household ids.
    pub household: Vec<u32>,
    /// Event time of the alert decision, epoch ms (chooses the window).
    pub decision_ts: Vec<i64>,
    /// Emit time − ingest time of the evidence that completed the alert, ms.
    pub latency_ms: Vec<i64>,
}

impl AlertLatencies {
    /// Number of alerts.
    pub fn len(&self) -> usize {
        self.household.len()
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.household.is_empty()
    }

    /// Appends one alert's latency.
    pub fn push(&mut self, household: u32, decision_ts: i64, latency_ms: i64) {
        self.household.push(household);
        self.decision_ts.push(decision_ts);
        self.latency_ms.push(latency_ms);
    }
}

/// Rows of `kpi_latency`: one per (source, device, window, metric).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KpiBatch {
    /// Interned source ids, or [`ALERTS_SOURCE`].
    pub source: Vec<u32>,
    /// Interned device (or household) ids.
    pub device: Vec<u32>,
    /// Window start, epoch ms.
    pub window_start: Vec<i64>,
    /// The metric.
    pub metric: Vec<KpiMetric>,
    /// Number of values.
    pub count: Vec<u64>,
    /// Median, ms.
    pub p50_ms: Vec<i64>,
    /// 95th percentile, ms.
    pub p95_ms: Vec<i64>,
    /// 99th percentile, ms.
    pub p99_ms: Vec<i64>,
    /// Maximum, ms (exact).
    pub max_ms: Vec<i64>,
    /// Gaps over the target (inter-arrival rows only).
    pub over_target: Vec<Option<u64>>,
}

impl KpiBatch {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.source.len()
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.source.is_empty()
    }

    /// Appends a row summarising `hist`; nothing if `hist` is empty.
    pub fn push_hist(
        &mut self,
        (source, device, window_start, metric): (u32, u32, i64, KpiMetric),
        hist: &LogHistogram,
        over_target: Option<u64>,
    ) {
        let q = |q: f64| i64::try_from(hist.quantile(q).unwrap_or(0)).unwrap_or(i64::MAX);
        let Some(max) = hist.max() else { return };
        self.source.push(source);
        self.device.push(device);
        self.window_start.push(window_start);
        self.metric.push(metric);
        self.count.push(hist.count());
        self.p50_ms.push(q(0.5));
        self.p95_ms.push(q(0.95));
        self.p99_ms.push(q(0.99));
        self.max_ms.push(i64::try_from(max).unwrap_or(i64::MAX));
        self.over_target.push(over_target);
    }

    /// Appends row `i` of `other`.
    pub fn push_from(&mut self, other: &KpiBatch, i: usize) {
        self.source.push(other.source[i]);
        self.device.push(other.device[i]);
        self.window_start.push(other.window_start[i]);
        self.metric.push(other.metric[i]);
        self.count.push(other.count[i]);
        self.p50_ms.push(other.p50_ms[i]);
        self.p95_ms.push(other.p95_ms[i]);
        self.p99_ms.push(other.p99_ms[i]);
        self.max_ms.push(other.max_ms[i]);
        self.over_target.push(other.over_target[i]);
    }
}

/// The name of source id `id` ([`ALERTS_SOURCE`] is `alerts`; unknown ids are `?`).
pub fn source_name(id: u32, interner: &Interner) -> Arc<str> {
    if id == ALERTS_SOURCE {
        return Arc::from(ALERTS_SOURCE_NAME);
    }
    interner.name(id).unwrap_or_else(|| Arc::from("?"))
}

/// Schema of the `kpi_latency` dataset (see the module doc).
pub fn kpi_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    Arc::clone(SCHEMA.get_or_init(|| {
        Arc::new(Schema::new(vec![
            Field::new("source", dictionary_utf8(), false),
            Field::new("device", dictionary_utf8(), false),
            Field::new("window_start", timestamp_ms(), false),
            Field::new("metric", DataType::Utf8, false),
            Field::new("count", DataType::UInt64, false),
            Field::new("p50_ms", DataType::Int64, false),
            Field::new("p95_ms", DataType::Int64, false),
            Field::new("p99_ms", DataType::Int64, false),
            Field::new("max_ms", DataType::Int64, false),
            Field::new("over_target", DataType::UInt64, true),
        ]))
    }))
}

impl ToRecordBatch for KpiBatch {
    fn rows(&self) -> usize {
        self.len()
    }

    fn to_record_batch(&self, interner: &Interner) -> msec_engine::Result<RecordBatch> {
        let device_keys = Int32Array::from_iter_values(self.device.iter().map(|&d| d as i32));
        let device =
            DictionaryArray::<Int32Type>::try_new(device_keys, interner.dictionary_values())?;
        // Sources are few, and include the `alerts` pseudo-source: a dictionary of the distinct
        // sources of this batch, in order of first appearance.
        let mut seen: Vec<u32> = Vec::new();
        let source_keys = Int32Array::from_iter_values(self.source.iter().map(|s| {
            let pos = seen.iter().position(|x| x == s).unwrap_or_else(|| {
                seen.push(*s);
                seen.len() - 1
            });
            pos as i32
        }));
        let source_values: ArrayRef = Arc::new(StringArray::from_iter_values(
            seen.iter().map(|&s| source_name(s, interner)),
        ));
        let source = DictionaryArray::<Int32Type>::try_new(source_keys, source_values)?;
        let metric = StringArray::from_iter_values(self.metric.iter().map(|m| m.name()));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(source),
            Arc::new(device),
            Arc::new(
                TimestampMillisecondArray::from(self.window_start.clone()).with_timezone("UTC"),
            ),
            Arc::new(metric),
            Arc::new(UInt64Array::from(self.count.clone())),
            Arc::new(Int64Array::from(self.p50_ms.clone())),
            Arc::new(Int64Array::from(self.p95_ms.clone())),
            Arc::new(Int64Array::from(self.p99_ms.clone())),
            Arc::new(Int64Array::from(self.max_ms.clone())),
            Arc::new(UInt64Array::from(self.over_target.clone())),
        ];
        Ok(RecordBatch::try_new(kpi_schema(), columns)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use msec_engine::arrow::array::Array;

    #[test]
    fn converts_to_arrow_with_alerts_source_and_nullable_over_target() {
        let interner = Interner::shared();
        let src = interner.intern("sensors.jsonl");
        let dev = interner.intern("llamas-env-03");
        let home = interner.intern("home-7");
        let mut h = LogHistogram::new();
        for v in [10, 20, 30_000] {
            h.record(v);
        }
        let mut b = KpiBatch::default();
        b.push_hist((src, dev, 60_000, KpiMetric::DeliveryLatency), &h, None);
        b.push_hist((src, dev, 60_000, KpiMetric::InterArrival), &h, Some(1));
        b.push_hist(
            (ALERTS_SOURCE, home, 60_000, KpiMetric::AlertLatency),
            &h,
            None,
        );
        b.push_hist(
            (src, dev, 0, KpiMetric::InterArrival),
            &LogHistogram::new(),
            Some(0),
        );
        assert_eq!(b.len(), 3, "an empty histogram adds no row");
        let rb = b.to_record_batch(&interner).expect("batch");
        assert_eq!(rb.schema(), kpi_schema());
        assert_eq!(rb.num_rows(), 3);
        assert_eq!(rb.column(9).null_count(), 2);
        let source = rb
            .column(0)
            .as_any()
            .downcast_ref::<DictionaryArray<Int32Type>>()
            .expect("dictionary");
        let names = source
            .values()
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("utf8");
        let key = source.keys().value(2) as usize;
        assert_eq!(names.value(key), "alerts");
        assert_eq!(
            names.value(source.keys().value(0) as usize),
            "sensors.jsonl"
        );
        assert_eq!(b.p50_ms, vec![20, 20, 20]);
        assert_eq!(b.max_ms, vec![30_000; 3]);
        assert_eq!(b.metric[1].name(), "inter_arrival");
    }
}
