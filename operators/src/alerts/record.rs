//! Alert records as Arrow: the `alerts` dataset's schema and [`AlertRows`], the batch the
//! ordering step hands to the dataset sink and the live alert sink.
//!
//! `alerts`: `alert_id, kind, household, rule, criticity, device, message, evidence,
//! evidence_device, evidence_ts, decision_ts, ingest_ts, emit_ts`. `evidence` lists every
//! evidence reading as `device@RFC 3339 time` separated by `; ` (combined rules have several);
//! `evidence_device` / `evidence_ts` repeat the first, for SQL.

use std::sync::{Arc, OnceLock};

use msec_engine::Interner;
use msec_engine::alert::AlertMessage;
use msec_engine::arrow::array::{ArrayRef, StringArray, TimestampMillisecondArray, UInt8Array};
use msec_engine::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use msec_engine::arrow::record_batch::RecordBatch;
use msec_engine::reading::timestamp_ms;
use serde::{Deserialize, Serialize};

use crate::sink::ToRecordBatch;

/// Alert records in canonical order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertRows(pub Vec<AlertMessage>);

/// Schema of the `alerts` dataset.
pub fn alerts_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    Arc::clone(SCHEMA.get_or_init(|| {
        let utf8 = |name: &str, nullable: bool| Field::new(name, DataType::Utf8, nullable);
        Arc::new(Schema::new(vec![
            utf8("alert_id", false),
            utf8("kind", false),
            utf8("household", false),
            utf8("rule", false),
            Field::new("criticity", DataType::UInt8, false),
            utf8("device", true),
            utf8("message", false),
            utf8("evidence", false),
            utf8("evidence_device", true),
            Field::new("evidence_ts", timestamp_ms(), true),
            Field::new("decision_ts", timestamp_ms(), false),
            Field::new("ingest_ts", timestamp_ms(), false),
            Field::new("emit_ts", timestamp_ms(), false),
        ]))
    }))
}

/// `ts` as RFC 3339 with milliseconds, UTC (the epoch ms number if out of range).
pub fn rfc3339_ms(ts: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ts).map_or_else(
        || ts.to_string(),
        |t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
    )
}

impl ToRecordBatch for AlertRows {
    fn rows(&self) -> usize {
        self.0.len()
    }

    fn to_record_batch(&self, _interner: &Interner) -> msec_engine::Result<RecordBatch> {
        let rows = &self.0;
        let text = |f: &dyn Fn(&AlertMessage) -> String| -> ArrayRef {
            Arc::new(rows.iter().map(|m| Some(f(m))).collect::<StringArray>())
        };
        let ts = |f: &dyn Fn(&AlertMessage) -> Option<i64>| -> ArrayRef {
            Arc::new(
                rows.iter()
                    .map(f)
                    .collect::<TimestampMillisecondArray>()
                    .with_timezone("UTC"),
            )
        };
        let columns: Vec<ArrayRef> = vec![
            text(&|m| m.alert_id.clone()),
            text(&|m| m.kind.as_str().to_owned()),
            text(&|m| m.household.clone()),
            text(&|m| m.rule.clone()),
            Arc::new(
                rows.iter()
                    .map(|m| Some(m.criticity))
                    .collect::<UInt8Array>(),
            ),
            Arc::new(
                rows.iter()
                    .map(|m| m.device.clone())
                    .collect::<StringArray>(),
            ),
            text(&|m| m.message.clone()),
            text(&|m| {
                m.evidence
                    .iter()
                    .map(|e| format!("{}@{}", e.device, rfc3339_ms(e.ts)))
                    .collect::<Vec<_>>()
                    .join("; ")
            }),
            Arc::new(
                rows.iter()
                    .map(|m| m.evidence.first().map(|e| e.device.clone()))
                    .collect::<StringArray>(),
            ),
            ts(&|m| m.evidence.first().map(|e| e.ts)),
            ts(&|m| Some(m.decision_ts)),
            ts(&|m| Some(m.ingest_ts)),
            ts(&|m| Some(m.emit_ts)),
        ];
        Ok(RecordBatch::try_new(alerts_schema(), columns)?)
    }
}
