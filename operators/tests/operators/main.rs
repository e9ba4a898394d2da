//! Integration tests of the operators, one binary (areas as modules).

mod kpi;
mod window_oracle;
