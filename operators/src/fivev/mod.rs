//! The `fivev` dataset (DESIGN §6): per source (pilot) and tumbling event-time window
//! (default 5 min, [`DEFAULT_FIVEV_WINDOW_MS`]) — Volume (records, bytes), Velocity
//! (events/s, p99 delivery latency), Variety (distinct sensor kinds, devices, record
//! schemas), Veracity (counts and rates of invalid, out-of-range, late, future, duplicate
//! and stuck records) and Value (alerts raised, heat-map cells published, datasets sealed).
//!
//! * [`input`] — the extra inputs: [`SourceStats`] per source batch (fed by the binary),
//!   [`ValueEvent`]s, and [`AlertValue`] (raised alerts as value events);
//! * [`batch`] — the rows [`FivevBatch`] / [`FivevRow`] and the schema [`fivev_schema`];
//! * [`operator`] — the operator [`Fivev`] (time semantics there);
//! * the private `partial` module — per-worker partials and their exact merge.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use msec_engine::{Interner, ReadingBatch, metrics::Metrics};
//! # use msec_operators::fivev::{Fivev, FivevInputs, SourceStats, DEFAULT_FIVEV_WINDOW_MS};
//! # use msec_operators::veracity::VeracityFlags;
//! # use timely::dataflow::operators::{ToStream, Inspect};
//! timely::example(|scope| {
//!     let interner = Interner::shared();
//!     let counters = Metrics::default().operator("fivev", 0);
//!     let readings = Vec::<ReadingBatch>::new().to_stream(scope).container::<Vec<_>>();
//!     let stats = Vec::<SourceStats>::new().to_stream(scope).container::<Vec<_>>();
//!     let flags = Vec::<VeracityFlags>::new().to_stream(scope).container::<Vec<_>>();
//!     let inputs = FivevInputs { stats, flags, value: None };
//!     readings
//!         .fivev(inputs, DEFAULT_FIVEV_WINDOW_MS, interner, counters)
//!         .inspect(|rows| println!("{} rows", rows.0.len()));
//! });
//! ```

pub mod batch;
pub mod input;
pub mod operator;
mod partial;

pub use batch::{FivevBatch, FivevReason, FivevRow, fivev_schema};
pub use input::{AlertValue, SourceStats, ValueEvent};
pub use operator::{DEFAULT_FIVEV_WINDOW_MS, Fivev, FivevInputs};
