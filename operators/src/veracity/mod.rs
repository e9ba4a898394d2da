//! Veracity (DESIGN §4, §6): the checks that need more than one record — duplicates and
//! stuck sensors — on the readings stream, after the sources have already dead-lettered what
//! one record shows (unparseable, missing field, out of range, future, late).
//!
//! * [`config`] — [`VeracityConfig`]: stuck-run length (default 10) and exempt kinds
//!   (default motion, door, bed);
//! * `check` (private) — the exact core, which decides duplicates and stuck runs for the
//!   readings the frontier has passed;
//! * [`operator`] — [`Veracity`], the timely operator, and its three outputs
//!   [`VeracityStreams`] (the module doc gives the time semantics and the definitions);
//! * [`flags`] — [`VeracityFlags`] and [`veracity_flags_schema`], [`DeadLetterRows`], and
//!   the per-source counters [`VeracityTotals`];
//! * [`ordered`] — canonical order on the sink worker for each output.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use msec_engine::{Interner, ReadingBatch, metrics::Metrics};
//! # use msec_operators::veracity::{Veracity, VeracityConfig, VeracityTotals};
//! # use msec_operators::PartitionReadings;
//! # use timely::dataflow::operators::{ToStream, Inspect};
//! timely::example(|scope| {
//!     let interner = Interner::shared();
//!     let counters = Metrics::default().operator("veracity", 0);
//!     let readings = Vec::<ReadingBatch>::new().to_stream(scope).container::<Vec<_>>();
//!     let checked = readings.partition_by_device().veracity(
//!         &VeracityConfig::default(),
//!         interner,
//!         counters,
//!         VeracityTotals::default(),
//!     );
//!     checked.flags.inspect(|f| println!("{} flags", f.len()));
//! });
//! ```

mod check;
pub mod config;
pub mod flags;
pub mod operator;
pub mod ordered;

pub use config::{DEFAULT_STUCK_EXEMPT, DEFAULT_STUCK_RUN, VeracityConfig};
pub use flags::{
    DeadLetterRows, Flag, VeracityFlags, VeracityKind, VeracityTotals, veracity_flags_schema,
};
pub use operator::{Veracity, VeracityStreams};
pub use ordered::{OrderDeadLetters, OrderFlags, OrderReadings};
