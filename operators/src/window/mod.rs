//! Event-time windows.

mod agg_batch;
mod exact_sum;
pub(crate) mod open;
mod ordered;
mod tumbling;

pub use agg_batch::{AggBatch, agg_schema};
pub use exact_sum::ExactSum;
pub use ordered::OrderWindows;
pub use tumbling::TumblingAggregate;
