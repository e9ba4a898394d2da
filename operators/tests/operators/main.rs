//! Integration tests of the operators, one binary (areas as modules).

mod window_oracle;
