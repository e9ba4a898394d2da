//! Citizens' photo reports of Fujisawa (Pilot 4, SmileCityReport).
//!
//! `reporters` citizens `citizen-NNNN` each post about `report_rate` reports an hour (a
//! Poisson process, 07:00–21:00 Asia/Tokyo), most of them (80 %) around three hot spots —
//! Fujisawa station, Enoshima and Shonandai, within ~40 m — the rest anywhere in a 4 km
//! square around the city centre. A report has an id `r-<seq>`, a theme (`flowers`,
//! `litter`, `graffiti`, `pothole`, `street_art`, `event`), a smile degree in [0, 1] that
//! depends on the theme, and a 128-bit photo digest — never a photo.

use super::clock::{HOUR, Local, TOKYO_OFFSET};
use super::generator::{Devices, SimReading, SimReport};
use super::rng::{Rng, round_to, stream};

/// Hot spots: (lat, lon).
const SPOTS: [(f64, f64); 3] = [
    (35.3386, 139.4873),
    (35.2990, 139.4800),
    (35.3940, 139.4660),
];
const CENTRE: (f64, f64) = (35.339, 139.490);
/// Themes and their mean smile.
pub(crate) const THEMES: [(&str, f64); 6] = [
    ("flowers", 0.85),
    ("litter", 0.2),
    ("graffiti", 0.3),
    ("pothole", 0.15),
    ("street_art", 0.75),
    ("event", 0.9),
];
/// Active hours, local.
const ACTIVE: (f64, f64) = (7.0, 21.0);
const M_PER_DEG: f64 = 111_320.0;

#[derive(Debug)]
struct Citizen {
    id: u32,
    next_ts: f64,
}

/// The reporting citizens.
#[derive(Debug)]
pub(crate) struct Citizens {
    citizens: Vec<Citizen>,
    rng: Rng,
    mean_gap_ms: f64,
    seq: u32,
}

impl Citizens {
    /// `n` citizens posting `rate` reports an hour each, registered in `devices`.
    pub fn new(seed: u64, start_ms: i64, n: usize, rate: f64, devices: &mut Devices) -> Self {
        let mut rng = Rng::new(seed, stream::REPORTS);
        let mean_gap_ms = if rate > 0.0 {
            HOUR as f64 / rate
        } else {
            f64::INFINITY
        };
        let citizens = (0..n)
            .map(|i| Citizen {
                id: devices.add(format!("citizen-{:04}", i + 1)),
                next_ts: start_ms as f64 + rng.exp(mean_gap_ms),
            })
            .collect();
        Self {
            citizens,
            rng,
            mean_gap_ms,
            seq: 0,
        }
    }

    /// Appends the reports posted before `to`.
    pub fn generate(&mut self, to: i64, out: &mut Vec<SimReading>) {
        if !self.mean_gap_ms.is_finite() {
            return;
        }
        for c in &mut self.citizens {
            while c.next_ts < to as f64 {
                let ts = c.next_ts.round() as i64;
                c.next_ts += self.rng.exp(self.mean_gap_ms).max(1_000.0);
                let hour = Local::at(ts, TOKYO_OFFSET).hour;
                if !(ACTIVE.0..ACTIVE.1).contains(&hour) {
                    continue;
                }
                let (lat, lon) = if self.rng.chance(0.8) {
                    let (lat, lon) = SPOTS[self.rng.below(SPOTS.len() as u64) as usize];
                    let r = 40.0 * self.rng.normal();
                    let a = self.rng.f64() * std::f64::consts::TAU;
                    (
                        lat + r * a.sin() / M_PER_DEG,
                        lon + r * a.cos() / (M_PER_DEG * 0.8157),
                    )
                } else {
                    (
                        CENTRE.0 + self.rng.uniform(-0.018, 0.018),
                        CENTRE.1 + self.rng.uniform(-0.022, 0.022),
                    )
                };
                let theme = self.rng.below(THEMES.len() as u64) as u8;
                let smile = (THEMES[theme as usize].1 + 0.1 * self.rng.normal()).clamp(0.0, 1.0);
                self.seq += 1;
                let mut r =
                    SimReading::new(ts, c.id, msec_engine::SensorKind::Crowd, round_to(smile, 3))
                        .at(round_to(lat, 6), round_to(lon, 6));
                r.report = Some(SimReport {
                    seq: self.seq,
                    theme,
                    digest: [self.rng.next_u64(), self.rng.next_u64()],
                });
                out.push(r);
            }
        }
    }
}
