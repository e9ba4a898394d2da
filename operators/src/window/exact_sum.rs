//! An order-independent sum of `f64` values.
//!
//! Floating-point addition is not associative, so a plain `f64` sum depends on arrival order,
//! batch sizes and the number of workers. Each value is instead rounded once to a fixed-point
//! integer with 40 fractional bits (an error below 2⁻⁴¹ ≈ 4.5·10⁻¹³ per value, independent of
//! everything else) and summed exactly in an `i128`. The result is identical for every order
//! and every partitioning, and partial sums merge exactly. Values up to 2⁸⁶ in magnitude are
//! represented; msec's physical ranges stay far below that.

use serde::{Deserialize, Serialize};

const SCALE: f64 = (1u64 << 40) as f64;

/// An exact, order-independent sum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExactSum(i128);

impl ExactSum {
    /// Adds a value.
    #[inline]
    pub fn add(&mut self, v: f64) {
        // `as` saturates on overflow and maps NaN to 0; validated readings are finite and in range.
        self.0 += (v * SCALE).round() as i128;
    }

    /// Merges another partial sum.
    #[inline]
    pub fn merge(&mut self, other: ExactSum) {
        self.0 += other.0;
    }

    /// The sum as `f64`.
    pub fn value(self) -> f64 {
        self.0 as f64 / SCALE
    }

    /// The mean over `count` values.
    pub fn mean(self, count: u64) -> f64 {
        if count == 0 {
            f64::NAN
        } else {
            self.0 as f64 / SCALE / count as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_does_not_matter() {
        let values = [1e6, 0.1, -3.3, 1e-7, 412.5, 0.2, 0.3];
        let mut a = ExactSum::default();
        values.iter().for_each(|v| a.add(*v));
        let mut b = ExactSum::default();
        values.iter().rev().for_each(|v| b.add(*v));
        assert_eq!(a, b);
        let exact = 1e6 + 0.1 - 3.3 + 1e-7 + 412.5 + 0.2 + 0.3;
        assert!((a.value() - exact).abs() < 1e-9);
    }
}
