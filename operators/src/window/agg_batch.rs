//! The rows of `agg_1m` as a columnar batch, and its Arrow schema
//! `device, sensor, window_start, count, min, max, avg`.

use std::sync::{Arc, OnceLock};

use msec_engine::arrow::array::{ArrayRef, DictionaryArray, Float64Array, Int32Array, Int64Array};
use msec_engine::arrow::datatypes::{DataType, Field, Int32Type, Schema, SchemaRef};
use msec_engine::arrow::record_batch::RecordBatch;
use msec_engine::reading::{dictionary_utf8, sensor_names};
use msec_engine::{Interner, SensorKind};
use serde::{Deserialize, Serialize};

use crate::sink::ToRecordBatch;

/// Closed windows: one row per (device, sensor, window).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AggBatch {
    /// Interned device ids.
    pub device: Vec<u32>,
    /// Sensor kinds.
    pub sensor: Vec<SensorKind>,
    /// Window start, epoch ms.
    pub window_start: Vec<i64>,
    /// Readings in the window.
    pub count: Vec<u64>,
    /// Smallest value.
    pub min: Vec<f64>,
    /// Largest value.
    pub max: Vec<f64>,
    /// Mean value.
    pub avg: Vec<f64>,
}

impl AggBatch {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.device.len()
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.device.is_empty()
    }
}

/// Schema of the `agg_1m` dataset.
pub fn agg_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    Arc::clone(SCHEMA.get_or_init(|| {
        Arc::new(Schema::new(vec![
            Field::new("device", dictionary_utf8(), false),
            Field::new("sensor", dictionary_utf8(), false),
            Field::new("window_start", DataType::Int64, false),
            Field::new("count", DataType::Int64, false),
            Field::new("min", DataType::Float64, false),
            Field::new("max", DataType::Float64, false),
            Field::new("avg", DataType::Float64, false),
        ]))
    }))
}

impl ToRecordBatch for AggBatch {
    fn rows(&self) -> usize {
        self.len()
    }

    fn to_record_batch(&self, interner: &Interner) -> msec_engine::Result<RecordBatch> {
        let device_keys = Int32Array::from_iter_values(self.device.iter().map(|&d| d as i32));
        let device =
            DictionaryArray::<Int32Type>::try_new(device_keys, interner.dictionary_values())?;
        let sensor_keys = Int32Array::from_iter_values(self.sensor.iter().map(|s| s.code() as i32));
        let sensor = DictionaryArray::<Int32Type>::try_new(sensor_keys, sensor_names())?;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(device),
            Arc::new(sensor),
            Arc::new(Int64Array::from(self.window_start.clone())),
            Arc::new(Int64Array::from_iter_values(
                self.count.iter().map(|&c| c as i64),
            )),
            Arc::new(Float64Array::from(self.min.clone())),
            Arc::new(Float64Array::from(self.max.clone())),
            Arc::new(Float64Array::from(self.avg.clone())),
        ];
        Ok(RecordBatch::try_new(agg_schema(), columns)?)
    }
}
