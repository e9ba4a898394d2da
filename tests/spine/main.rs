//! End-to-end tests of the spine (issue 2): the `msec` binary over simulated input, checked
//! against DataFusion recomputations over the raw JSON lines, one test binary.

mod akl;
mod alerts;
mod brokers;
mod common;
mod dead_letters;
mod heatmap;
mod invariance;
mod oracle;
mod real_data;
mod render;
mod sql;
mod tamper;
