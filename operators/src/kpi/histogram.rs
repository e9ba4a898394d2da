//! [`LogHistogram`]: a small, mergeable log-linear histogram of non-negative millisecond
//! values (HDR style), used for the latency and inter-arrival quantiles of `kpi_latency`.
//!
//! # Buckets
//!
//! Values below [`LogHistogram::EXACT_BELOW`] (256) have a bucket each. Above, every power of
//! two `[2^e, 2^(e+1))` (`e ≥ 8`) is split into 128 equal sub-buckets of width `2^(e−7)`, so a
//! bucket is never wider than 1/128 of any value in it. The whole `u64` range needs 7,424
//! buckets; a histogram only stores the counts between its smallest and largest occupied
//! bucket (one `Vec<u64>`, grown geometrically), so a key whose values span a few powers of
//! two costs a few hundred bytes and recording allocates only when the range widens.
//!
//! # Quantiles and error bound
//!
//! `quantile(q)` looks for the exact q-quantile `x`: the smallest recorded value whose
//! cumulative count reaches the rank `r = ⌈q·n⌉` (clamped to `1..=n`; `q` is clamped to
//! `[0, 1]` and rounded to a millionth first, so the rank is computed in integers). It reports
//! the *upper bound* of `x`'s bucket, clamped to the exact maximum. Hence
//!
//! * `x ≤ reported < x · (1 + 1/128)` — relative error below 0.79 %, never an underestimate;
//! * `reported == x` whenever `x < 256`, and `quantile(1.0) == max` always.
//!
//! The count and the maximum are exact. Merging adds bucket counts, so merging per-worker
//! partials gives exactly the histogram of the union (see [`LogHistogram::merge`]).

use serde::{Deserialize, Serialize};

/// Sub-bucket bits: each power of two above [`LogHistogram::EXACT_BELOW`] has `2^7` buckets.
const SUB_BITS: u32 = 7;
/// Sub-buckets per power of two.
const SUB: u64 = 1 << SUB_BITS;

/// A log-linear histogram of `u64` values with exact count and max (see the module doc).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LogHistogram {
    /// Bucket index of `counts[0]`.
    lo: usize,
    /// Counts of buckets `lo..lo + counts.len()`.
    counts: Vec<u64>,
    /// Number of recorded values.
    total: u64,
    /// Largest recorded value (meaningless while `total == 0`).
    max: u64,
}

impl LogHistogram {
    /// Values below this have a bucket of their own: their quantiles are exact.
    pub const EXACT_BELOW: u64 = 2 * SUB;
    /// Upper bound of the relative error of a reported quantile (`1/128`).
    pub const RELATIVE_ERROR: f64 = 1.0 / SUB as f64;
    /// Number of buckets covering all of `u64`.
    pub const BUCKETS: usize = Self::index(u64::MAX) + 1;

    /// An empty histogram (allocates nothing).
    pub fn new() -> Self {
        Self::default()
    }

    /// The bucket index of `v`.
    #[inline]
    pub const fn index(v: u64) -> usize {
        if v < Self::EXACT_BELOW {
            return v as usize;
        }
        let exp = 63 - v.leading_zeros(); // ≥ 8
        let shift = exp - SUB_BITS; // ≥ 1
        ((shift as usize) << SUB_BITS) + (v >> shift) as usize
    }

    /// The smallest value of bucket `index`.
    #[inline]
    pub const fn bucket_lower(index: usize) -> u64 {
        if index < Self::EXACT_BELOW as usize {
            return index as u64;
        }
        let shift = (index >> SUB_BITS) - 1;
        let sub = (index as u64 & (SUB - 1)) | SUB;
        sub << shift
    }

    /// The largest value of bucket `index`.
    #[inline]
    pub const fn bucket_upper(index: usize) -> u64 {
        if index < Self::EXACT_BELOW as usize {
            return index as u64;
        }
        let shift = (index >> SUB_BITS) - 1;
        // `lower + width − 1` never overflows: the last bucket ends at `u64::MAX`.
        Self::bucket_lower(index) + ((1u64 << shift) - 1)
    }

    /// Records one value.
    #[inline]
    pub fn record(&mut self, v: u64) {
        self.record_n(v, 1);
    }

    /// Records `n` copies of `v`.
    #[inline]
    pub fn record_n(&mut self, v: u64, n: u64) {
        if n == 0 {
            return;
        }
        let idx = Self::index(v);
        self.cover(idx, idx);
        self.counts[idx - self.lo] += n;
        self.max = if self.total == 0 { v } else { self.max.max(v) };
        self.total += n;
    }

    /// Adds every value of `other` to `self`: the result equals a histogram that recorded
    /// both inputs (bucket counts, count and max are all exact).
    pub fn merge(&mut self, other: &LogHistogram) {
        if other.total == 0 {
            return;
        }
        let (first, last) = (other.lo, other.lo + other.counts.len() - 1);
        self.cover(first, last);
        let at = first - self.lo;
        for (dst, src) in self.counts[at..].iter_mut().zip(&other.counts) {
            *dst += src;
        }
        self.max = if self.total == 0 {
            other.max
        } else {
            self.max.max(other.max)
        };
        self.total += other.total;
    }

    /// Widens the stored range to cover buckets `first..=last`, with geometric slack so that
    /// a range that keeps widening costs amortised O(1) per bucket.
    fn cover(&mut self, first: usize, last: usize) {
        if self.counts.is_empty() {
            self.lo = first;
            self.counts.resize(last - first + 1, 0);
            return;
        }
        if first < self.lo {
            let slack = self.counts.len().min(self.lo);
            let new_lo = first.min(self.lo - slack);
            let grow = self.lo - new_lo;
            self.counts.splice(0..0, std::iter::repeat_n(0, grow));
            self.lo = new_lo;
        }
        let end = self.lo + self.counts.len();
        if last >= end {
            self.counts.resize(last + 1 - self.lo, 0);
        }
    }

    /// Number of recorded values (exact).
    pub fn count(&self) -> u64 {
        self.total
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The largest recorded value (exact), or `None` if empty.
    pub fn max(&self) -> Option<u64> {
        (self.total > 0).then_some(self.max)
    }

    /// The rank `⌈q·n⌉` in `1..=n` of the q-quantile among `n` values (`n > 0`); `q` is
    /// clamped to `[0, 1]` (NaN counts as 0) and rounded to a millionth.
    pub fn rank(q: f64, n: u64) -> u64 {
        let q = if q.is_nan() { 0.0 } else { q.clamp(0.0, 1.0) };
        let ppm = (q * 1e6).round() as u128;
        let r = (ppm * u128::from(n)).div_ceil(1_000_000);
        u64::try_from(r).unwrap_or(u64::MAX).clamp(1, n.max(1))
    }

    /// The q-quantile, reported as the upper bound of its bucket clamped to the maximum
    /// (see the module doc for the error bound), or `None` if empty.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if self.total == 0 {
            return None;
        }
        let rank = Self::rank(q, self.total);
        let mut cum = 0u64;
        for (i, &c) in self.counts.iter().enumerate() {
            cum += c;
            if cum >= rank {
                return Some(Self::bucket_upper(self.lo + i).min(self.max));
            }
        }
        Some(self.max)
    }

    /// The non-empty buckets as `(index, count)`, in increasing index order.
    pub fn buckets(&self) -> impl Iterator<Item = (usize, u64)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(i, &c)| (self.lo + i, c))
    }
}

/// Equal when they hold the same values' buckets, count and max, whatever the stored range.
impl PartialEq for LogHistogram {
    fn eq(&self, other: &Self) -> bool {
        self.total == other.total && self.max() == other.max() && self.buckets().eq(other.buckets())
    }
}

impl Eq for LogHistogram {}

#[cfg(test)]
#[path = "histogram_tests.rs"]
mod tests;
