//! Latency KPIs: the `kpi_latency` dataset (DESIGN §6).
//!
//! Per source and device, per tumbling event-time window: delivery latency (ingest − event
//! time), inter-arrival time (the pilots' "data frequency" KPI, target ≤ 25 s) and alert
//! latency, each as count, p50, p95, p99 and max, in long format (one row per metric).
//!
//! * [`histogram`] — [`LogHistogram`], the mergeable log-linear histogram behind the
//!   quantiles (relative error < 1/128, exact below 256 ms, exact count and max);
//! * [`batch`] — the row batch [`KpiBatch`], its schema [`kpi_schema`], and the alert input
//!   [`AlertLatencies`];
//! * [`operator`] — the operator, [`KpiLatency`];
//! * [`ordered`] — canonical row order on the sink worker, [`OrderKpi`].
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use msec_engine::{Interner, ReadingBatch, metrics::Metrics};
//! # use msec_operators::kpi::{AlertLatencies, KpiLatency, OrderKpi, DEFAULT_TARGET_GAP_MS};
//! # use msec_operators::PartitionReadings;
//! # use timely::dataflow::operators::{ToStream, Inspect};
//! timely::example(|scope| {
//!     let interner = Interner::shared();
//!     let counters = Metrics::default().operator("kpi", 0);
//!     let readings = Vec::<ReadingBatch>::new().to_stream(scope).container::<Vec<_>>();
//!     let alerts = Vec::<AlertLatencies>::new().to_stream(scope).container::<Vec<_>>();
//!     readings
//!         .partition_by_device()
//!         .kpi_latency(alerts, 60_000, DEFAULT_TARGET_GAP_MS, counters)
//!         .order_kpi(interner)
//!         .inspect(|batch| println!("{} rows", batch.len()));
//! });
//! ```

pub mod batch;
pub mod histogram;
pub mod operator;
pub mod ordered;
mod windows;

pub use batch::{
    ALERTS_SOURCE, ALERTS_SOURCE_NAME, AlertLatencies, KpiBatch, KpiMetric, kpi_schema,
};
pub use histogram::LogHistogram;
pub use operator::{DEFAULT_TARGET_GAP_MS, KpiLatency};
pub use ordered::OrderKpi;
