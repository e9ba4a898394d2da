//! Integration tests of hash-chained datasets: writing and re-opening (`lifecycle`), and one
//! test per kind of tampering that `verify` must detect (`tamper`).

#![allow(clippy::unwrap_used)]

mod common;
mod lifecycle;
mod tamper;
