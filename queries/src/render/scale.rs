//! The colour scale (viridis: dark purple for the smallest value, yellow for the largest),
//! "nice" axis ticks, and short number labels.

/// Viridis sampled at nine evenly spaced points; colours in between are interpolated linearly.
const VIRIDIS: [[u8; 3]; 9] = [
    [68, 1, 84],
    [71, 45, 123],
    [59, 82, 139],
    [44, 114, 142],
    [33, 145, 140],
    [40, 174, 128],
    [94, 201, 98],
    [173, 220, 48],
    [253, 231, 37],
];

/// The colour at `t` in [0, 1] (clamped; NaN is grey, for cells without a value).
pub fn colour_at(t: f64) -> [u8; 3] {
    if t.is_nan() {
        return [160, 160, 160];
    }
    let x = t.clamp(0.0, 1.0) * (VIRIDIS.len() - 1) as f64;
    let i = (x.floor() as usize).min(VIRIDIS.len() - 2);
    let f = x - i as f64;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    std::array::from_fn(|k| (a[k] as f64 + (b[k] as f64 - a[k] as f64) * f).round() as u8)
}

/// Where `v` lies between `min` and `max`, in [0, 1]; 0.5 when the range is empty.
pub fn value_fraction(v: f64, min: f64, max: f64) -> f64 {
    if max > min {
        ((v - min) / (max - min)).clamp(0.0, 1.0)
    } else if v.is_nan() {
        f64::NAN
    } else {
        0.5
    }
}

/// About `target` round tick positions covering `[lo, hi]`, and the decimals they need.
pub fn ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, usize) {
    let span = (hi - lo).abs().max(1e-12);
    let raw = span / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    let ticks = (first..=last).map(|k| k as f64 * step).collect();
    (ticks, decimals)
}

/// A short label: whole numbers as such, others with up to four significant digits.
pub fn label(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".into();
    }
    if v.fract() == 0.0 && v.abs() < 1e15 {
        return format!("{v:.0}");
    }
    let decimals = (3 - v.abs().log10().floor() as i64).clamp(0, 6) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_ends_and_middle() {
        assert_eq!(colour_at(0.0), [68, 1, 84]);
        assert_eq!(colour_at(1.0), [253, 231, 37]);
        assert_eq!(colour_at(0.5), [33, 145, 140]);
        assert_eq!(colour_at(2.0), colour_at(1.0));
        assert_eq!(value_fraction(15.0, 10.0, 20.0), 0.5);
        assert_eq!(value_fraction(3.0, 3.0, 3.0), 0.5);
    }

    #[test]
    fn ticks_are_round() {
        let (t, d) = ticks(-3.8023, -3.7997, 5);
        assert_eq!(d, 3);
        assert_eq!(t.len(), 3);
        assert!((t[0] + 3.802).abs() < 1e-9);
        let (t, d) = ticks(0.0, 100.0, 5);
        assert_eq!((t.len(), d), (6, 0));
    }

    #[test]
    fn labels_are_short() {
        assert_eq!(label(20.0), "20");
        assert_eq!(label(12.345678), "12.35");
        assert_eq!(label(0.012346), "0.01235");
        assert_eq!(label(1234.56), "1235");
        assert_eq!(label(2.5), "2.5");
    }
}
