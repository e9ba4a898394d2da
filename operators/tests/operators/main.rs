//! Integration tests of the operators, one binary (areas as modules).

mod fivev;
mod heatmap;
mod kpi;
mod rng;
mod veracity;
mod window_oracle;
