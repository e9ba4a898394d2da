//! Garbage trucks of Fujisawa (mobile sensing, Pilot 3).
//!
//! Each truck `fujisawa-truck-NN` drives a closed route of eight waypoints around Fujisawa
//! (35.339 N, 139.490 E) at about 20 km/h from 08:00 to 16:00 Asia/Tokyo (UTC+9), and waits
//! at its depot (the first waypoint) otherwise. It reports PM2.5, temperature and humidity in
//! one message about every 10 s (scaled by the run's rate), with its GPS position.

use msec_engine::SensorKind;

use super::clock::{HOUR, Local, TOKYO_OFFSET};
use super::config::TRUCK_INTERVAL_MS;
use super::generator::{Devices, SimReading};
use super::park::traffic;
use super::rng::{Rng, round_to, sin_turns, stream};

const FUJISAWA_LAT: f64 = 35.339;
const FUJISAWA_LON: f64 = 139.490;
/// Metres per degree of latitude, and of longitude at Fujisawa (× cos 35.34°).
const M_PER_DEG_LAT: f64 = 111_320.0;
const M_PER_DEG_LON: f64 = 111_320.0 * 0.815_7;
const WAYPOINTS: usize = 8;
/// Duty hours, local.
const DUTY: (f64, f64) = (8.0, 16.0);

#[derive(Debug)]
struct Truck {
    id: u32,
    rng: Rng,
    next_ts: f64,
    route: [(f64, f64); WAYPOINTS],
    /// Cumulative distance (m) at each waypoint; the last entry is the loop's length.
    cum: [f64; WAYPOINTS + 1],
    speed: f64,
    pm_bias: f64,
    drift: [f64; 3],
}

/// The fleet.
#[derive(Debug)]
pub(crate) struct Trucks {
    trucks: Vec<Truck>,
    interval: f64,
}

impl Trucks {
    /// `n` trucks, registered in `devices`.
    pub fn new(seed: u64, start_ms: i64, n: usize, speedup: f64, devices: &mut Devices) -> Self {
        let interval = TRUCK_INTERVAL_MS / speedup;
        let trucks = (0..n)
            .map(|i| {
                let mut rng = Rng::new(seed, stream::TRUCK + i as u64);
                let centre = (
                    FUJISAWA_LAT + rng.uniform(-0.015, 0.015),
                    FUJISAWA_LON + rng.uniform(-0.015, 0.015),
                );
                let radius = rng.uniform(0.006, 0.012);
                let mut route = [(0.0, 0.0); WAYPOINTS];
                for (k, p) in route.iter_mut().enumerate() {
                    let turn = k as f64 / WAYPOINTS as f64 + rng.uniform(-0.03, 0.03);
                    let r = radius * rng.uniform(0.7, 1.3);
                    *p = (
                        centre.0 + r * sin_turns(turn),
                        centre.1 + r * sin_turns(turn + 0.25) / 0.815_7,
                    );
                }
                let mut cum = [0.0; WAYPOINTS + 1];
                for k in 0..WAYPOINTS {
                    let (a, b) = (route[k], route[(k + 1) % WAYPOINTS]);
                    let (dy, dx) = ((b.0 - a.0) * M_PER_DEG_LAT, (b.1 - a.1) * M_PER_DEG_LON);
                    cum[k + 1] = cum[k] + (dx * dx + dy * dy).sqrt();
                }
                Truck {
                    id: devices.add(format!("fujisawa-truck-{:02}", i + 1)),
                    next_ts: start_ms as f64 + rng.uniform(0.0, interval),
                    route,
                    cum,
                    speed: rng.uniform(4.5, 6.5),
                    pm_bias: rng.uniform(-2.0, 2.0),
                    drift: [0.0; 3],
                    rng,
                }
            })
            .collect();
        Self { trucks, interval }
    }

    /// Appends the readings due before `to`.
    pub fn generate(&mut self, to: i64, out: &mut Vec<SimReading>) {
        for t in &mut self.trucks {
            while (t.next_ts as i64) < to {
                let ts = t.next_ts as i64;
                report(t, ts, out);
                t.next_ts += self.interval * t.rng.uniform(0.9, 1.1);
            }
        }
    }
}

impl Truck {
    /// Position at local hour `hour`.
    fn position(&self, hour: f64) -> (f64, f64) {
        if !(DUTY.0..DUTY.1).contains(&hour) {
            return self.route[0];
        }
        let length = self.cum[WAYPOINTS];
        if length <= 0.0 {
            return self.route[0];
        }
        let s = (self.speed * (hour - DUTY.0) * (HOUR / 1000) as f64) % length;
        let k = (0..WAYPOINTS).rfind(|&k| self.cum[k] <= s).unwrap_or(0);
        let seg = self.cum[k + 1] - self.cum[k];
        let f = if seg > 0.0 {
            (s - self.cum[k]) / seg
        } else {
            0.0
        };
        let (a, b) = (self.route[k], self.route[(k + 1) % WAYPOINTS]);
        (a.0 + f * (b.0 - a.0), a.1 + f * (b.1 - a.1))
    }
}

fn report(t: &mut Truck, ts: i64, out: &mut Vec<SimReading>) {
    let local = Local::at(ts, TOKYO_OFFSET);
    let (lat, lon) = t.position(local.hour);
    let lat = round_to(lat + 0.000_02 * t.rng.normal(), 6);
    let lon = round_to(lon + 0.000_02 * t.rng.normal(), 6);
    let on_duty = (DUTY.0..DUTY.1).contains(&local.hour);
    let mut step = |k: usize, sigma: f64, rng: &mut Rng| {
        t.drift[k] = 0.9 * t.drift[k] + sigma * rng.normal();
        t.drift[k]
    };
    let season = 16.5 - 8.0 * sin_turns(local.year_frac - 0.07 + 0.25);
    let temp = season + 4.0 * sin_turns((local.hour - 8.0) / 24.0) + step(0, 0.2, &mut t.rng);
    let humidity = (68.0 - 2.0 * (temp - season) + step(1, 1.5, &mut t.rng)).clamp(20.0, 99.0);
    let road = if on_duty { 4.0 } else { 0.0 };
    let pm25 = (9.0
        + 10.0 * traffic(local.hour, local.weekend())
        + road
        + t.pm_bias
        + step(2, 1.5, &mut t.rng))
    .max(0.5);
    for (sensor, value, decimals) in [
        (SensorKind::Pm25, pm25, 1),
        (SensorKind::Temperature, temp, 2),
        (SensorKind::Humidity, humidity, 1),
    ] {
        out.push(SimReading::new(ts, t.id, sensor, round_to(value, decimals)).at(lat, lon));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trucks_move_on_duty_and_rest_at_the_depot() {
        let mut devices = Devices::default();
        let t0 = 1_772_409_600_000; // 09:00 in Tokyo
        let mut fleet = Trucks::new(42, t0, 2, 1.0, &mut devices);
        let mut out = Vec::new();
        fleet.generate(t0 + HOUR, &mut out);
        assert!(
            (2 * 3 * 330..2 * 3 * 400).contains(&out.len()),
            "{}",
            out.len()
        );
        let first: Vec<_> = out
            .iter()
            .filter(|r| r.device == 0)
            .map(|r| r.pos.expect("pos"))
            .collect();
        let spread = first.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max)
            - first.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
        assert!(spread > 0.001, "the truck moves: {spread}");
        for r in &out {
            assert!(r.sensor.accepts(r.value), "{r:?}");
            let (lat, lon) = r.pos.expect("pos");
            assert!(
                (lat - FUJISAWA_LAT).abs() < 0.04 && (lon - FUJISAWA_LON).abs() < 0.05,
                "{lat},{lon}"
            );
        }
        let truck = &fleet.trucks[0];
        assert_eq!(truck.position(3.0), truck.route[0]);
        assert_eq!(devices.name(1), "fujisawa-truck-02");
    }
}
