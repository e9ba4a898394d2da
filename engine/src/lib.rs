//! # msec-engine
//!
//! The bottom layer of msec. Everything above it (connectors, operators, datasets, queries and
//! the `msec` binary) speaks the types defined here:
//!
//! * [`reading`] — the canonical reading as a columnar [`ReadingBatch`] and its Arrow schema;
//! * [`report`] — citizens' photo reports as a columnar [`report::ReportBatch`];
//! * [`sensor`] — the sensor kinds msec knows and their physical ranges;
//! * [`intern`] — the device-id interner (ids are `u32` on the hot path, strings only at the edges);
//! * [`dead_letter`] — rejected records with their raw bytes, position and reason;
//! * [`time`] — event time, watermarks and lateness;
//! * [`source`] / [`sink`] — the traits connectors and dataset writers implement;
//! * [`restore`] — dataset rows back into batches (a restarted broker run rebuilds its open windows);
//! * [`checkpoint`] — source positions, checkpoints and what a restarted run skips (exactly once);
//! * [`config`] — typed pipeline configuration with documented defaults;
//! * [`metrics`] — per-operator counters;
//! * [`runtime`] — timely bootstrap helpers.
//!
//! ```
//! use msec_engine::{time::WatermarkTracker, time::Arrival};
//! let mut wm = WatermarkTracker::new(5_000);
//! assert_eq!(wm.observe(10_000), Arrival::OnTime);
//! assert_eq!(wm.watermark(), Some(5_000));
//! assert_eq!(wm.observe(4_999), Arrival::Late);
//! ```

pub mod alert;
pub mod checkpoint;
pub mod config;
pub mod dead_letter;
pub mod error;
pub mod intern;
pub mod metrics;
pub mod reading;
pub mod report;
pub mod restore;
pub mod runtime;
pub mod sensor;
pub mod sink;
pub mod source;
pub mod time;
pub mod zone;

pub use dead_letter::{DeadLetter, DeadLetterReason};
pub use error::{EngineError, Fault, Result};
pub use intern::Interner;
pub use reading::ReadingBatch;
pub use sensor::SensorKind;

/// Arrow, re-exported from DataFusion so that the whole workspace compiles one arrow.
pub use datafusion::arrow;
