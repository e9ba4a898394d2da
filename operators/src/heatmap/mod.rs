//! Heat maps: the `heatmap` dataset (DESIGN §6).
//!
//! Crowd counts (Pilot 1), PM2.5 and temperature (Pilot 3), noise and CO2 from readings that
//! carry a position, and report density and smile from citizens' reports (Pilot 4), on a
//! geographic grid — a fixed degree grid or H3 cells — per tumbling event-time window
//! (default 5 min): count, sum, avg and max per (metric, cell, window). Sums are exact
//! ([`crate::window::ExactSum`]), so the rows are bit-identical whatever the arrival order,
//! batch sizes or number of workers. Cells derived from reports with fewer than k distinct
//! reporters (default 5) are suppressed; how many were suppressed, and how many records had
//! no position, travels beside the rows in each batch's [`HeatmapSummary`] list (not written
//! to the dataset; for the binary's log and `fivev`).
//!
//! * [`grid`] — [`HeatmapGrid`], the cell of a position, a cell's name, centre and
//!   [`cell_polygon`] (for rendering);
//! * [`config`] — [`HeatmapConfig`] and its defaults;
//! * [`batch`] — the row batch [`HeatmapBatch`], its schema [`heatmap_schema`], the metric
//!   names [`HeatmapMetric`] and the [`HeatmapSummary`];
//! * [`operator`] — the operator, [`Heatmap`];
//! * [`ordered`] — canonical row order on the sink worker, [`OrderHeatmap`].
//!
//! ```no_run
//! # use msec_engine::{ReadingBatch, metrics::Metrics, report::ReportBatch};
//! # use msec_operators::heatmap::{Heatmap, HeatmapConfig, HeatmapGrid, OrderHeatmap};
//! # use timely::dataflow::operators::{Inspect, ToStream};
//! timely::example(|scope| {
//!     let counters = Metrics::default().operator("heatmap", 0);
//!     let readings = Vec::<ReadingBatch>::new().to_stream(scope).container::<Vec<_>>();
//!     let reports = Vec::<ReportBatch>::new().to_stream(scope).container::<Vec<_>>();
//!     let config = HeatmapConfig {
//!         grid: HeatmapGrid::h3(9).expect("resolution"),
//!         ..HeatmapConfig::default()
//!     };
//!     readings
//!         .heatmap(reports, &config, counters)
//!         .expect("valid config")
//!         .order_heatmap()
//!         .inspect(|batch| println!("{} rows, {:?}", batch.len(), batch.summary));
//! });
//! ```

pub mod batch;
pub mod config;
pub mod grid;
pub mod operator;
pub mod ordered;
mod state;

pub use batch::{HeatmapBatch, HeatmapMetric, HeatmapSummary, heatmap_schema};
pub use config::{DEFAULT_K, DEFAULT_METRICS, DEFAULT_WINDOW_MS, HeatmapConfig};
pub use grid::{DEFAULT_SCALE, HeatmapGrid, MAX_SCALE, cell_polygon, degree_cell};
pub use operator::Heatmap;
pub use ordered::OrderHeatmap;
