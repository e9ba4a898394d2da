//! A small, self-contained PRNG (xoshiro256**, seeded with SplitMix64) and the few
//! transcendental functions the simulator needs, written with IEEE basic operations only
//! (`+ − × ÷`, `sqrt`, `floor`), so that a seed gives byte-identical output on every
//! platform, whatever its `libm`.

/// xoshiro256** by Blackman and Vigna. Not cryptographic; fast and well distributed.
#[derive(Debug, Clone)]
pub(crate) struct Rng {
    s: [u64; 4],
}

/// One SplitMix64 step.
fn splitmix(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Stream ids: one independent generator per purpose and per device, so that adding a
/// device or changing a slice size never shifts another stream's numbers.
pub(crate) mod stream {
    pub const DELAY: u64 = 1;
    pub const BAD: u64 = 2;
    pub const PARK_ENV: u64 = 1 << 40;
    pub const PARK_CROWD: u64 = 2 << 40;
    pub const TRUCK: u64 = 3 << 40;
    pub const HOME_PLAN: u64 = 4 << 40;
    pub const HOME_JITTER: u64 = 5 << 40;
    pub const REPORTS: u64 = 6 << 40;
}

impl Rng {
    /// The generator for `stream` under `seed`.
    pub fn new(seed: u64, stream: u64) -> Self {
        let mut x = seed ^ splitmix(&mut stream.wrapping_mul(0xD1B5_4A32_D192_ED03));
        let mut s = [
            splitmix(&mut x),
            splitmix(&mut x),
            splitmix(&mut x),
            splitmix(&mut x),
        ];
        if s == [0; 4] {
            s[0] = 1;
        }
        Self { s }
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in `[0, 1)`.
    #[inline]
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[lo, hi)`.
    #[inline]
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.f64()
    }

    /// Uniform integer in `[0, n)` (`0` when `n == 0`).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// `true` with probability `p`.
    #[inline]
    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// Approximately standard normal (Irwin–Hall sum of 12 uniforms; tails cut at ±6).
    pub fn normal(&mut self) -> f64 {
        (0..12).map(|_| self.f64()).sum::<f64>() - 6.0
    }

    /// Exponential with the given mean.
    pub fn exp(&mut self, mean: f64) -> f64 {
        -mean * ln(1.0 - self.f64())
    }
}

/// `sin(2π·x)`: `x` in turns. Range reduction plus a Taylor polynomial; error < 1e-9.
pub(crate) fn sin_turns(x: f64) -> f64 {
    if !x.is_finite() {
        return 0.0;
    }
    // y in [-0.5, 0.5): sin(2πx) = -sin(2πy) with y = frac(x) - 0.5
    let mut y = x - x.floor() - 0.5;
    if y > 0.25 {
        y = 0.5 - y;
    } else if y < -0.25 {
        y = -0.5 - y;
    }
    let a = y * std::f64::consts::TAU;
    let a2 = a * a;
    let mut term = a;
    let mut sum = a;
    for k in 1..8 {
        let k = f64::from(k);
        term *= -a2 / ((2.0 * k) * (2.0 * k + 1.0));
        sum += term;
    }
    -sum
}

/// Natural logarithm of `x > 0` (returns `-inf` for `x <= 0`). Error < 1e-12.
pub(crate) fn ln(x: f64) -> f64 {
    if x <= 0.0 || x.is_nan() {
        return f64::NEG_INFINITY;
    }
    if x.is_infinite() {
        return x;
    }
    let mut x = x;
    let mut e: i64 = 0;
    // Normalise subnormals.
    if x < f64::MIN_POSITIVE {
        x *= (1u64 << 54) as f64;
        e -= 54;
    }
    let bits = x.to_bits();
    e += ((bits >> 52) & 0x7ff) as i64 - 1023;
    let mut m = f64::from_bits((bits & 0x000F_FFFF_FFFF_FFFF) | 0x3FF0_0000_0000_0000);
    if m > std::f64::consts::SQRT_2 {
        m *= 0.5;
        e += 1;
    }
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let mut term = s;
    let mut sum = s;
    for k in 1..10 {
        term *= s2;
        sum += term / f64::from(2 * k + 1);
    }
    e as f64 * std::f64::consts::LN_2 + 2.0 * sum
}

/// A bell-shaped bump of height 1 at `center` and half-width `width` (a Cauchy profile:
/// basic operations only).
pub(crate) fn bump(x: f64, center: f64, width: f64) -> f64 {
    let d = (x - center) / width;
    1.0 / (1.0 + d * d)
}

/// `x` rounded to `decimals` places (exactly the `f64` that the printed decimal parses to).
pub(crate) fn round_to(x: f64, decimals: i32) -> f64 {
    let scale = [1.0, 10.0, 100.0, 1_000.0, 10_000.0, 100_000.0, 1_000_000.0]
        [decimals.clamp(0, 6) as usize];
    (x * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..4)
            .map({
                let mut r = Rng::new(42, 7);
                move |_| r.next_u64()
            })
            .collect();
        let mut r = Rng::new(42, 7);
        assert_eq!(a, (0..4).map(|_| r.next_u64()).collect::<Vec<_>>());
        assert_ne!(Rng::new(42, 8).next_u64(), a[0]);
        assert_ne!(Rng::new(43, 7).next_u64(), a[0]);
        // The reference xoshiro256** output for the state [1, 2, 3, 4].
        let mut reference = Rng { s: [1, 2, 3, 4] };
        assert_eq!(reference.next_u64(), 11_520);
        assert_eq!(reference.next_u64(), 0);
    }

    #[test]
    fn distributions_are_sane() {
        let mut r = Rng::new(1, 1);
        let n = 100_000;
        let mean = (0..n).map(|_| r.f64()).sum::<f64>() / n as f64;
        assert!((mean - 0.5).abs() < 0.01, "{mean}");
        let mean = (0..n).map(|_| r.exp(3.0)).sum::<f64>() / n as f64;
        assert!((mean - 3.0).abs() < 0.1, "{mean}");
        let (s, s2) = (0..n)
            .map(|_| r.normal())
            .fold((0.0, 0.0), |(s, s2), x| (s + x, s2 + x * x));
        assert!((s / n as f64).abs() < 0.02);
        assert!((s2 / n as f64 - 1.0).abs() < 0.03);
        assert!((0..1000).all(|_| r.below(7) < 7));
        assert_eq!(r.below(0), 0);
    }

    #[test]
    fn math_matches_libm_closely() {
        for i in -200..=200 {
            let x = f64::from(i) * 0.0137;
            assert!(
                (sin_turns(x) - (x * std::f64::consts::TAU).sin()).abs() < 1e-9,
                "sin {x}"
            );
        }
        for x in [
            1e-300, 1e-10, 0.001, 0.5, 0.999_999, 1.0, 2.0, 1234.5, 1e300,
        ] {
            assert!(
                (ln(x) - x.ln()).abs() < 1e-11 * x.ln().abs().max(1.0),
                "ln {x}"
            );
        }
        assert_eq!(ln(0.0), f64::NEG_INFINITY);
        assert_eq!(round_to(12.3456, 2), 12.35);
        assert_eq!(round_to(2.5, 0), 3.0);
        assert!((bump(13.5, 13.5, 1.0) - 1.0).abs() < 1e-12);
    }
}
