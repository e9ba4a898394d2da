//! Unit tests of [`LogHistogram`]: bucket layout, merge, error bound, edge cases.

use super::*;

/// A tiny deterministic LCG (Knuth's MMIX constants), high bits only.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 11
    }
    /// Log-uniform-ish values: a random power of two below `2^max_bits`, then a random
    /// mantissa, so every bucket range is exercised.
    fn value(&mut self, max_bits: u32) -> u64 {
        let bits = (self.next() % u64::from(max_bits)) as u32;
        let v = self.next() & ((1u64 << bits) - 1);
        v | (1u64 << bits.saturating_sub(1))
    }
}

/// The exact q-quantile of `sorted` by the same rank rule.
fn exact(sorted: &[u64], q: f64) -> u64 {
    let r = LogHistogram::rank(q, sorted.len() as u64);
    sorted[(r - 1) as usize]
}

#[test]
fn buckets_are_contiguous_and_cover_u64() {
    let mut prev_upper = None;
    for idx in 0..LogHistogram::BUCKETS {
        let lo = LogHistogram::bucket_lower(idx);
        let hi = LogHistogram::bucket_upper(idx);
        assert!(lo <= hi, "bucket {idx}");
        if let Some(p) = prev_upper {
            assert_eq!(lo, p + 1, "bucket {idx} starts after the previous one");
        }
        assert_eq!(LogHistogram::index(lo), idx);
        assert_eq!(LogHistogram::index(hi), idx);
        // Width bound: (hi − lo + 1) ≤ lo / 128 above the exact range.
        if lo >= LogHistogram::EXACT_BELOW {
            assert!((hi - lo + 1) * 128 <= lo, "bucket {idx} too wide");
        }
        prev_upper = Some(hi);
    }
    assert_eq!(LogHistogram::BUCKETS, 7_424);
    assert_eq!(prev_upper, Some(u64::MAX));
}

#[test]
fn small_values_are_exact() {
    let mut h = LogHistogram::new();
    for v in 0..LogHistogram::EXACT_BELOW {
        h.record(v);
    }
    assert_eq!(h.count(), 256);
    assert_eq!(h.quantile(0.5), Some(127)); // rank 128 → value 127
    assert_eq!(h.quantile(0.0), Some(0));
    assert_eq!(h.quantile(1.0), Some(255));
    assert_eq!(h.max(), Some(255));
}

#[test]
fn empty_one_value_and_all_equal() {
    let h = LogHistogram::new();
    assert_eq!(h.quantile(0.5), None);
    assert_eq!(h.max(), None);
    assert!(h.is_empty());

    let mut one = LogHistogram::new();
    one.record(12_345);
    for q in [0.0, 0.5, 0.99, 1.0, f64::NAN, -3.0, 7.0] {
        assert_eq!(one.quantile(q), Some(12_345), "q = {q}");
    }

    let mut same = LogHistogram::new();
    same.record_n(100_000, 1_000);
    same.record_n(7, 0); // no-op
    assert_eq!(same.count(), 1_000);
    // The bucket's upper bound is clamped to the exact maximum, so equal values are exact.
    assert_eq!(same.quantile(0.5), Some(100_000));
    assert_eq!(same.quantile(0.99), Some(100_000));
}

#[test]
fn huge_values_do_not_panic() {
    let mut h = LogHistogram::new();
    for v in [i64::MAX as u64, i64::MAX as u64 - 1, u64::MAX, 0, 1 << 62] {
        h.record(v);
    }
    assert_eq!(h.max(), Some(u64::MAX));
    assert_eq!(h.quantile(0.0), Some(0));
    assert_eq!(h.quantile(1.0), Some(u64::MAX));
    let p60 = h.quantile(0.6).expect("non-empty");
    let x = i64::MAX as u64 - 1;
    assert!(p60 >= x && (p60 - x) as f64 <= x as f64 / 128.0, "{p60}");
}

#[test]
fn rank_is_integer_exact() {
    assert_eq!(LogHistogram::rank(0.5, 1), 1);
    assert_eq!(LogHistogram::rank(0.5, 4), 2);
    assert_eq!(LogHistogram::rank(0.5, 5), 3);
    assert_eq!(LogHistogram::rank(0.95, 20), 19);
    assert_eq!(LogHistogram::rank(0.07, 100), 7); // 0.07·100 is 7.000000000000001 in f64
    assert_eq!(LogHistogram::rank(0.99, 1_000), 990);
    assert_eq!(LogHistogram::rank(0.0, 10), 1);
    assert_eq!(LogHistogram::rank(1.0, u64::MAX), u64::MAX);
}

#[test]
fn error_bound_holds_for_random_values() {
    let mut rng = Lcg(42);
    for max_bits in [8, 12, 20, 31, 45, 63] {
        let mut values: Vec<u64> = (0..5_000).map(|_| rng.value(max_bits)).collect();
        let mut h = LogHistogram::new();
        for &v in &values {
            h.record(v);
        }
        values.sort_unstable();
        assert_eq!(h.count(), values.len() as u64);
        assert_eq!(h.max(), values.last().copied());
        for q in [0.0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0] {
            let x = exact(&values, q);
            let got = h.quantile(q).expect("non-empty");
            assert!(got >= x, "q {q}: {got} < exact {x}");
            assert!(
                ((got - x) as f64) < (x as f64) * LogHistogram::RELATIVE_ERROR || got == x,
                "q {q}: {got} too far above exact {x}"
            );
            if x < LogHistogram::EXACT_BELOW {
                assert_eq!(got, x, "q {q}: small values are exact");
            }
        }
    }
}

#[test]
fn merge_equals_recording_everything_once() {
    let mut rng = Lcg(7);
    let values: Vec<u64> = (0..10_000).map(|_| rng.value(40)).collect();
    let mut single = LogHistogram::new();
    for &v in &values {
        single.record(v);
    }
    // Split unevenly over 4 partials, one of them empty, and merge in two different orders.
    let mut parts = vec![LogHistogram::new(); 4];
    for (i, &v) in values.iter().enumerate() {
        parts[(i * 7 + i / 3) % 3].record(v);
    }
    let mut forward = LogHistogram::new();
    for p in &parts {
        forward.merge(p);
    }
    let mut backward = parts[3].clone();
    for p in parts[..3].iter().rev() {
        backward.merge(p);
    }
    assert_eq!(forward, single);
    assert_eq!(backward, single);
    for q in [0.5, 0.95, 0.99, 1.0] {
        assert_eq!(forward.quantile(q), single.quantile(q));
    }
}

#[test]
fn range_grows_both_ways() {
    let mut h = LogHistogram::new();
    for v in (0..2_000u64).rev().map(|i| i * 997) {
        h.record(v);
    }
    let mut fwd = LogHistogram::new();
    for v in (0..2_000u64).map(|i| i * 997) {
        fwd.record(v);
    }
    assert_eq!(h, fwd);
    assert_eq!(h.buckets().map(|(_, c)| c).sum::<u64>(), 2_000);
}
