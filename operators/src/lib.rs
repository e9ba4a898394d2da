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
//! * [`gather`] — per-time gathering on the sink worker, for canonical output order;
//! * [`sink`] — hands Arrow batches to a sink thread (datasets), funnelled through one worker.

pub mod alerts;
pub mod error;
pub mod gather;
pub mod kpi;
pub mod partition;
pub mod sink;
pub mod window;

pub use alerts::{
    AlertConfig, AlertLatency, AlertRows, Alerts, OrderAlerts, SkipDelivered, alerts_schema,
    delivered_key,
};
pub use error::{OperatorError, Result};
pub use kpi::{
    AlertLatencies, KpiBatch, KpiLatency, KpiMetric, LogHistogram, OrderKpi, kpi_schema,
};
pub use partition::PartitionReadings;
pub use sink::{SinkTo, ToRecordBatch};
pub use window::{AggBatch, OrderWindows, TumblingAggregate, agg_schema};
