//! Las Llamas park (Santander): environment stations and crowd counters.
//!
//! Environment devices `llamas-env-NN` report temperature, humidity, CO2, VOC and noise in
//! one message (same `ts`) about every 60 s (scaled by the run's rate), ±10 % jitter. Values
//! follow diurnal curves in Europe/Madrid local time: temperature peaks mid-afternoon around
//! a seasonal mean, humidity moves against it, CO2/VOC/noise follow commuter traffic and park
//! visitors. Crowd counters `llamas-crowd-NN` report people counts at fixed spots, peaking at
//! lunch and in the evening, higher at weekends. Every park reading carries its device's
//! position.

use msec_engine::SensorKind;

use super::clock::{Local, Madrid};
use super::config::{CROWD_INTERVAL_MS, ENV_INTERVAL_MS};
use super::generator::{Devices, SimReading};
use super::rng::{Rng, bump, round_to, sin_turns, stream};

/// Centre of Las Llamas park.
const PARK_LAT: f64 = 43.4715;
const PARK_LON: f64 = -3.8010;

/// Commuter traffic near the park, 0..≈1.
pub(crate) fn traffic(hour: f64, weekend: bool) -> f64 {
    let t = bump(hour, 8.5, 1.2) + 0.9 * bump(hour, 19.0, 1.5) + 0.3 * bump(hour, 13.5, 2.0);
    if weekend { 0.5 * t } else { t }
}

/// Visitors in the park, 0..≈1.
fn visitors(hour: f64, weekend: bool) -> f64 {
    let mut v = 0.05
        + 0.3 * bump(hour, 10.5, 1.5)
        + 0.9 * bump(hour, 13.5, 1.5)
        + 0.8 * bump(hour, 19.0, 2.0);
    if !(7.0..23.0).contains(&hour) {
        v *= 0.1;
    }
    if weekend { 1.7 * v } else { v }
}

/// A mean-reverting random walk (AR(1)).
#[derive(Debug, Clone, Default)]
struct Drift(f64);

impl Drift {
    fn step(&mut self, rng: &mut Rng, sigma: f64) -> f64 {
        self.0 = 0.9 * self.0 + sigma * rng.normal();
        self.0
    }
}

#[derive(Debug)]
struct EnvDevice {
    id: u32,
    rng: Rng,
    next_ts: f64,
    lat: f64,
    lon: f64,
    temp_bias: f64,
    noise_bias: f64,
    drift: [Drift; 5],
}

#[derive(Debug)]
struct CrowdCounter {
    id: u32,
    rng: Rng,
    next_ts: f64,
    lat: f64,
    lon: f64,
    spot: f64,
}

/// All park devices.
#[derive(Debug)]
pub(crate) struct Park {
    env: Vec<EnvDevice>,
    crowd: Vec<CrowdCounter>,
    env_interval: f64,
    crowd_interval: f64,
    madrid: Madrid,
}

/// A position within about 300 m of the park's centre, to 6 decimals.
fn spot(rng: &mut Rng) -> (f64, f64) {
    (
        round_to(PARK_LAT + rng.uniform(-0.0025, 0.0025), 6),
        round_to(PARK_LON + rng.uniform(-0.0035, 0.0035), 6),
    )
}

impl Park {
    /// `env` environment devices and `crowd` counters, registered in `devices`.
    pub fn new(
        seed: u64,
        start_ms: i64,
        env: usize,
        crowd: usize,
        speedup: f64,
        devices: &mut Devices,
    ) -> Self {
        let env_interval = ENV_INTERVAL_MS / speedup;
        let crowd_interval = CROWD_INTERVAL_MS / speedup;
        let env = (0..env)
            .map(|i| {
                let mut rng = Rng::new(seed, stream::PARK_ENV + i as u64);
                let (lat, lon) = spot(&mut rng);
                EnvDevice {
                    id: devices.add(format!("llamas-env-{:02}", i + 1)),
                    next_ts: start_ms as f64 + rng.uniform(0.0, env_interval),
                    lat,
                    lon,
                    temp_bias: rng.uniform(-0.8, 0.8),
                    noise_bias: rng.uniform(-4.0, 4.0),
                    drift: Default::default(),
                    rng,
                }
            })
            .collect();
        let crowd = (0..crowd)
            .map(|i| {
                let mut rng = Rng::new(seed, stream::PARK_CROWD + i as u64);
                let (lat, lon) = spot(&mut rng);
                CrowdCounter {
                    id: devices.add(format!("llamas-crowd-{:02}", i + 1)),
                    next_ts: start_ms as f64 + rng.uniform(0.0, crowd_interval),
                    lat,
                    lon,
                    spot: rng.uniform(0.4, 1.6),
                    rng,
                }
            })
            .collect();
        Self {
            env,
            crowd,
            env_interval,
            crowd_interval,
            madrid: Madrid::default(),
        }
    }

    /// Appends the readings due before `to` (each device resumes where it stopped).
    pub fn generate(&mut self, to: i64, out: &mut Vec<SimReading>) {
        for d in &mut self.env {
            while (d.next_ts as i64) < to {
                let ts = d.next_ts as i64;
                let local = Local::at(ts, self.madrid.offset(ts));
                env_report(d, ts, local, out);
                d.next_ts += self.env_interval * d.rng.uniform(0.9, 1.1);
            }
        }
        for c in &mut self.crowd {
            while (c.next_ts as i64) < to {
                let ts = c.next_ts as i64;
                let local = Local::at(ts, self.madrid.offset(ts));
                let lambda = 60.0 * c.spot * visitors(local.hour, local.weekend());
                let count = (lambda + lambda.sqrt() * c.rng.normal()).round().max(0.0);
                out.push(SimReading::new(ts, c.id, SensorKind::Crowd, count).at(c.lat, c.lon));
                c.next_ts += self.crowd_interval * c.rng.uniform(0.9, 1.1);
            }
        }
    }
}

fn env_report(d: &mut EnvDevice, ts: i64, local: Local, out: &mut Vec<SimReading>) {
    let weekend = local.weekend();
    let season = 14.5 - 5.0 * sin_turns(local.year_frac - 0.055 + 0.25);
    let temp = season
        + 3.5 * sin_turns((local.hour - 9.0) / 24.0)
        + d.temp_bias
        + d.drift[0].step(&mut d.rng, 0.15);
    let humidity =
        (78.0 - 2.5 * (temp - season) + d.drift[1].step(&mut d.rng, 1.0)).clamp(35.0, 99.0);
    let tr = traffic(local.hour, weekend);
    let people = visitors(local.hour, weekend);
    let co2 = 410.0 + 30.0 * tr + 12.0 * people + d.drift[2].step(&mut d.rng, 2.0);
    let voc = (90.0 + 160.0 * tr + 40.0 * people + d.drift[3].step(&mut d.rng, 8.0)).max(5.0);
    let noise = (38.0 + 20.0 * tr.max(people) + d.noise_bias + d.drift[4].step(&mut d.rng, 1.2))
        .clamp(25.0, 110.0);
    for (sensor, value, decimals) in [
        (SensorKind::Temperature, temp, 2),
        (SensorKind::Humidity, humidity, 1),
        (SensorKind::Co2, co2, 1),
        (SensorKind::Voc, voc, 0),
        (SensorKind::Noise, noise, 1),
    ] {
        out.push(SimReading::new(ts, d.id, sensor, round_to(value, decimals)).at(d.lat, d.lon));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curves_peak_when_people_are_out() {
        assert!(traffic(8.5, false) > traffic(3.0, false) * 5.0);
        assert!(visitors(13.5, false) > visitors(4.0, false) * 5.0);
        assert!(visitors(13.5, true) > visitors(13.5, false));
    }

    #[test]
    fn readings_are_in_range_and_positioned() {
        let mut devices = Devices::default();
        let t0 = 1_772_409_600_000;
        let mut park = Park::new(42, t0, 3, 2, 1.0, &mut devices);
        let mut out = Vec::new();
        park.generate(t0 + 24 * 3_600_000, &mut out);
        // 3 devices × 5 sensors × ~1440 reports + 2 counters × ~1440
        assert!((23_000..26_000).contains(&out.len()), "{}", out.len());
        for r in &out {
            assert!(r.sensor.accepts(r.value), "{r:?}");
            let (lat, lon) = r.pos.expect("park readings are positioned");
            assert!((lat - PARK_LAT).abs() < 0.003 && (lon - PARK_LON).abs() < 0.004);
        }
        assert_eq!(devices.name(0), "llamas-env-01");
        assert_eq!(devices.name(4), "llamas-crowd-02");
    }
}
