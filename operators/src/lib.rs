//! # msec-operators
//!
//! Timely-dataflow operators over [`msec_engine::ReadingBatch`] streams. Each operator is an
//! extension trait on `Stream` in a file of its own, with a `//!` note on what it computes and
//! its time semantics.
//!
//! Streams carry timely timestamps that are coarsened watermarks (epoch ms, see
//! [`msec_engine::time`]): a batch sent at time `t` only holds readings with event time `≥ t`.
//! That invariant is what lets window operators fire from the frontier alone.
//!
//! * [`partition`] — exchanges reading batches between workers by device;
//! * [`window`] — tumbling event-time windows (`agg_1m`);
//! * [`kpi`] — latency and data-frequency KPIs per source, device and window (`kpi_latency`);
//! * [`alerts`] — home-activity alert rules with event-time deadlines (`alerts`);
//! * [`heatmap`] — per (metric, cell, window) heat maps of readings and citizens' reports on
//!   a degree or H3 grid, k-anonymous for reports (`heatmap`);
//! * [`fivev`] — Volume, Velocity, Variety, Veracity and Value per source and window (`fivev`);
//! * [`veracity`] — duplicate removal (dead letters `duplicate`) and stuck-sensor flags,
//!   exact in event-time order;
//! * [`gather`] — per-time gathering on the sink worker, for canonical output order;
//! * [`sink`] — hands Arrow batches to a sink thread (datasets), funnelled through one worker.

pub mod alerts;
pub mod error;
pub mod fivev;
pub mod gather;
pub mod heatmap;
pub mod kpi;
pub mod partition;
pub mod sink;
pub mod veracity;
pub mod window;

pub use alerts::{
    AlertConfig, AlertLatency, AlertRows, Alerts, OrderAlerts, SkipDelivered, alerts_schema,
    delivered_key,
};
pub use error::{OperatorError, Result};
pub use fivev::{
    AlertValue, DEFAULT_FIVEV_WINDOW_MS, Fivev, FivevBatch, FivevInputs, FivevReason, FivevRow,
    SourceStats, ValueEvent, fivev_schema,
};
pub use heatmap::{
    Heatmap, HeatmapBatch, HeatmapConfig, HeatmapGrid, HeatmapMetric, HeatmapSummary, OrderHeatmap,
    cell_polygon, heatmap_schema,
};
pub use kpi::{
    AlertLatencies, KpiBatch, KpiLatency, KpiMetric, LogHistogram, OrderKpi, kpi_schema,
};
pub use partition::PartitionReadings;
pub use sink::{SinkTo, ToRecordBatch};
pub use veracity::{
    DeadLetterRows, OrderDeadLetters, OrderFlags, OrderReadings, Veracity, VeracityConfig,
    VeracityFlags, VeracityKind, VeracityStreams, VeracityTotals, veracity_flags_schema,
};
pub use window::{AggBatch, OrderWindows, TumblingAggregate, agg_schema};
