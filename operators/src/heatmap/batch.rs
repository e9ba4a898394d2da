//! The rows of the `heatmap` dataset as a columnar [`HeatmapBatch`], its Arrow schema
//! ([`heatmap_schema`]), the metric names ([`HeatmapMetric`]) and the per-window summary
//! that is not written to the dataset ([`HeatmapSummary`]).
//!
//! Schema (long format, one row per metric, cell and window):
//!
//! | column | type | notes |
//! | --- | --- | --- |
//! | metric | Utf8 | a sensor kind (`crowd`, `pm25`, …), `reports` or `smile` |
//! | grid | Utf8 | `deg0.001`, `h3r9`, … (see [`super::HeatmapGrid`]) |
//! | cell | Utf8 | `"<cell_x>:<cell_y>"` on a degree grid, the H3 index in hex on H3 |
//! | cell_x, cell_y | Int64, nullable | degree-grid coordinates; null on H3 |
//! | center_lat, center_lon | Float64 | the cell's centre |
//! | window_start | Timestamp(ms, UTC) | start of the tumbling event-time window |
//! | count | UInt64 | values (readings, or reports) in the cell and window |
//! | sum | Float64 | exact sum ([`crate::window::ExactSum`]); the count for `reports` |
//! | avg | Float64 | `sum / count` from the exact sum |
//! | max | Float64 | largest value |
//!
//! No reporter id, device id or position finer than the cell is ever written.

use std::sync::{Arc, OnceLock};

use msec_engine::arrow::array::{
    ArrayRef, Float64Array, Int64Array, StringArray, TimestampMillisecondArray, UInt64Array,
};
use msec_engine::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use msec_engine::arrow::record_batch::RecordBatch;
use msec_engine::reading::timestamp_ms;
use msec_engine::{Interner, SensorKind};
use serde::{Deserialize, Serialize};

use super::grid::HeatmapGrid;
use crate::sink::ToRecordBatch;

/// What a row measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum HeatmapMetric {
    /// Values of readings of one sensor kind.
    Sensor(SensorKind),
    /// Report density: every citizen's report counts 1 (k-anonymous).
    Reports,
    /// The smile degree of citizens' reports, 0..1 (k-anonymous).
    Smile,
}

impl HeatmapMetric {
    /// The name written in the `metric` column.
    pub fn name(self) -> &'static str {
        match self {
            HeatmapMetric::Sensor(kind) => kind.name(),
            HeatmapMetric::Reports => "reports",
            HeatmapMetric::Smile => "smile",
        }
    }

    /// Whether the metric is derived from citizens' reports (and so subject to k-anonymity).
    pub fn from_reports(self) -> bool {
        !matches!(self, HeatmapMetric::Sensor(_))
    }
}

/// What a closed window left out of the rows, summed over workers by
/// [`super::OrderHeatmap`]. Not written to the dataset: the binary logs it, `fivev` counts it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeatmapSummary {
    /// Window start, epoch ms.
    pub window_start: i64,
    /// Cells whose report-derived rows (`reports`, `smile`) were suppressed: fewer than k
    /// distinct reporters in the window.
    pub suppressed_cells: u64,
    /// Readings (of a mapped sensor kind) and reports skipped for want of a usable position.
    pub unpositioned: u64,
}

/// Rows of `heatmap`: one per (metric, cell, window), all on one grid; plus the summary of
/// every window the rows come from (possibly with no rows at all).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HeatmapBatch {
    /// The grid of every row.
    pub grid: HeatmapGrid,
    /// The metric.
    pub metric: Vec<HeatmapMetric>,
    /// Cell keys (see [`super::grid`]).
    pub cell: Vec<u64>,
    /// Window start, epoch ms.
    pub window_start: Vec<i64>,
    /// Values in the cell and window.
    pub count: Vec<u64>,
    /// Exact sum.
    pub sum: Vec<f64>,
    /// Mean.
    pub avg: Vec<f64>,
    /// Largest value.
    pub max: Vec<f64>,
    /// Per-window summary of what was left out, by window start.
    pub summary: Vec<HeatmapSummary>,
}

impl HeatmapBatch {
    /// An empty batch on `grid`.
    pub fn new(grid: HeatmapGrid) -> Self {
        Self {
            grid,
            ..Self::default()
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.metric.len()
    }

    /// Whether there are no rows (the summary may still say something).
    pub fn is_empty(&self) -> bool {
        self.metric.is_empty()
    }

    /// Appends a row.
    #[allow(clippy::too_many_arguments)]
    pub fn push(
        &mut self,
        metric: HeatmapMetric,
        cell: u64,
        window_start: i64,
        count: u64,
        sum: f64,
        avg: f64,
        max: f64,
    ) {
        self.metric.push(metric);
        self.cell.push(cell);
        self.window_start.push(window_start);
        self.count.push(count);
        self.sum.push(sum);
        self.avg.push(avg);
        self.max.push(max);
    }

    /// Appends row `i` of `other` (same grid).
    pub fn push_from(&mut self, other: &HeatmapBatch, i: usize) {
        self.push(
            other.metric[i],
            other.cell[i],
            other.window_start[i],
            other.count[i],
            other.sum[i],
            other.avg[i],
            other.max[i],
        );
    }
}

/// Schema of the `heatmap` dataset (see the module doc).
pub fn heatmap_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    Arc::clone(SCHEMA.get_or_init(|| {
        Arc::new(Schema::new(vec![
            Field::new("metric", DataType::Utf8, false),
            Field::new("grid", DataType::Utf8, false),
            Field::new("cell", DataType::Utf8, false),
            Field::new("cell_x", DataType::Int64, true),
            Field::new("cell_y", DataType::Int64, true),
            Field::new("center_lat", DataType::Float64, false),
            Field::new("center_lon", DataType::Float64, false),
            Field::new("window_start", timestamp_ms(), false),
            Field::new("count", DataType::UInt64, false),
            Field::new("sum", DataType::Float64, false),
            Field::new("avg", DataType::Float64, false),
            Field::new("max", DataType::Float64, false),
        ]))
    }))
}

impl ToRecordBatch for HeatmapBatch {
    fn rows(&self) -> usize {
        self.len()
    }

    fn to_record_batch(&self, _interner: &Interner) -> msec_engine::Result<RecordBatch> {
        let grid = self.grid;
        let name = grid.name();
        let xy: Vec<Option<(i64, i64)>> = self.cell.iter().map(|&c| grid.cell_xy(c)).collect();
        let center: Vec<(f64, f64)> = self
            .cell
            .iter()
            .map(|&c| grid.center(c).unwrap_or((f64::NAN, f64::NAN)))
            .collect();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(
                self.metric.iter().map(|m| m.name()),
            )),
            Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
                name.as_str(),
                self.len(),
            ))),
            Arc::new(StringArray::from_iter_values(
                self.cell.iter().map(|&c| grid.cell_name(c)),
            )),
            Arc::new(Int64Array::from_iter(xy.iter().map(|p| p.map(|p| p.0)))),
            Arc::new(Int64Array::from_iter(xy.iter().map(|p| p.map(|p| p.1)))),
            Arc::new(Float64Array::from_iter_values(center.iter().map(|c| c.0))),
            Arc::new(Float64Array::from_iter_values(center.iter().map(|c| c.1))),
            Arc::new(
                TimestampMillisecondArray::from(self.window_start.clone()).with_timezone("UTC"),
            ),
            Arc::new(UInt64Array::from(self.count.clone())),
            Arc::new(Float64Array::from(self.sum.clone())),
            Arc::new(Float64Array::from(self.avg.clone())),
            Arc::new(Float64Array::from(self.max.clone())),
        ];
        Ok(RecordBatch::try_new(heatmap_schema(), columns)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use msec_engine::arrow::array::Array;

    #[test]
    fn converts_to_arrow_with_null_xy_on_h3() {
        let interner = Interner::shared();
        let deg = HeatmapGrid::default();
        let cell = deg.cell(43.4721, -3.8001).expect("cell");
        let mut b = HeatmapBatch::new(deg);
        b.push(HeatmapMetric::Reports, cell, 300_000, 5, 5.0, 1.0, 1.0);
        let rb = b.to_record_batch(&interner).expect("batch");
        assert_eq!(rb.schema(), heatmap_schema());
        let names = rb
            .column(2)
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("utf8");
        assert_eq!(names.value(0), "-3801:43472");
        assert_eq!(rb.column(3).null_count(), 0);

        let h3 = HeatmapGrid::H3 { resolution: 9 };
        let cell = h3.cell(43.4721, -3.8001).expect("cell");
        let mut b = HeatmapBatch::new(h3);
        b.push(
            HeatmapMetric::Sensor(SensorKind::Crowd),
            cell,
            0,
            1,
            7.0,
            7.0,
            7.0,
        );
        let rb = b.to_record_batch(&interner).expect("batch");
        assert_eq!(rb.column(3).null_count(), 1);
        assert_eq!(rb.column(4).null_count(), 1);
        let grid = rb
            .column(1)
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("utf8");
        assert_eq!(grid.value(0), "h3r9");
    }
}
