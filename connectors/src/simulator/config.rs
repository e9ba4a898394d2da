//! [`SimulatorConfig`]: what to simulate, with its defaults in one place.

use serde::{Deserialize, Serialize};

use super::clock::{HOUR, MINUTE, SECOND};
use crate::error::{ConnectorError, Result};
use crate::validate::MIN_TS_MS;

/// Settings of the city simulator. Every field has a default (`#[serde(default)]`), so a
/// config file names only what it changes; unknown keys are rejected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimulatorConfig {
    /// Seed of every random choice (default 42). Same seed and settings → byte-identical
    /// output, on every platform.
    pub seed: u64,
    /// Simulated start, epoch ms (default 1 772 409 600 000 = 2026-03-02T00:00:00Z, a
    /// Monday). Must not be before 2000-01-01; keep the run in the past (or less than the
    /// pipeline's `max_future_ms` ahead), or its readings are rejected as `future_ts`.
    pub start_ms: i64,
    /// Simulated duration in hours (default 1.0).
    pub hours: f64,
    /// Homes of elderly people living alone in Santander, `home-001`… (default 20).
    pub households: usize,
    /// Environment devices in Las Llamas park, `llamas-env-01`… (default 12), before scaling
    /// by `devices`.
    pub env_devices: usize,
    /// Crowd counters in Las Llamas park, `llamas-crowd-01`… (default 6), before scaling by
    /// `devices`.
    pub crowd_counters: usize,
    /// Garbage trucks in Fujisawa, `fujisawa-truck-01`… (default 4), before scaling by
    /// `devices`.
    pub trucks: usize,
    /// Scale factor for the park and truck fleets (default 1.0): 10.0 gives 120 environment
    /// devices, 60 crowd counters and 40 trucks. Households are set by `households` alone.
    pub devices: f64,
    /// Target readings per simulated second over the whole city (default 100.0, about
    /// 360 000 readings per hour). The reporting intervals of the park and truck devices are
    /// scaled to reach it; home devices keep their natural, event-driven rhythm. `0` keeps the
    /// natural intervals (environment and crowd every ~60 s, trucks every ~10 s).
    pub rate: f64,
    /// Bounded disorder in ms (default 0): readings are emitted in order of event time plus
    /// a delay drawn uniformly from `[0, disorder_ms]`, so no reading trails the largest event
    /// time emitted before it by more than `disorder_ms`.
    pub disorder_ms: u64,
    /// Fraction of records replaced by bad ones (default 0.0): malformed JSON, a missing
    /// field, a non-numeric value, an unknown sensor kind, or a value outside its physical
    /// range, in equal shares; counted in the manifest per dead-letter reason.
    pub bad_rate: f64,
    /// Expected home incidents per household per simulated day (default 0.5); see
    /// [`IncidentKind`](super::IncidentKind).
    pub incident_rate: f64,
    /// Citizens posting photo reports in Fujisawa, `citizen-0001`… (default 0); see
    /// `reports.rs`.
    #[serde(default)]
    pub reporters: usize,
    /// Reports per citizen per hour, while active (07:00–21:00 local; default 6.0).
    #[serde(default)]
    pub report_rate: f64,
    /// Wall-clock pace of [`SimulatorSource`](super::SimulatorSource), in records (JSON
    /// lines: readings, plus bad records when `bad_rate > 0`) per second (default `None`: as
    /// fast as the pipeline takes them). Paced, records go downstream in small batches, at
    /// least every millisecond, each stamped with the wall clock when it is sent, so that a
    /// run stands in for a live feed; event time is still the simulated one. It changes only
    /// when records are produced, never which: [`simulate`](super::simulate) ignores it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pace: Option<f64>,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            start_ms: 1_772_409_600_000,
            hours: 1.0,
            households: 20,
            env_devices: 12,
            crowd_counters: 6,
            trucks: 4,
            devices: 1.0,
            rate: 100.0,
            disorder_ms: 0,
            bad_rate: 0.0,
            incident_rate: 0.5,
            reporters: 0,
            report_rate: 6.0,
            pace: None,
        }
    }
}

/// Natural report intervals.
pub(crate) const ENV_INTERVAL_MS: f64 = 60_000.0;
pub(crate) const CROWD_INTERVAL_MS: f64 = 60_000.0;
pub(crate) const TRUCK_INTERVAL_MS: f64 = 10_000.0;
/// Readings per environment report and per truck report.
pub(crate) const ENV_SENSORS: f64 = 5.0;
pub(crate) const TRUCK_SENSORS: f64 = 3.0;
/// Measured average readings per second of one household (heartbeats, events, battery).
pub(crate) const HOME_RATE: f64 = 0.0175;

/// Settings derived from a validated config.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Plan {
    pub end_ms: i64,
    pub env_devices: usize,
    pub crowd_counters: usize,
    pub trucks: usize,
    /// Multiplier of the natural report rate of park and truck devices.
    pub speedup: f64,
    /// Length of one generation slice.
    pub slice_ms: i64,
}

impl SimulatorConfig {
    /// Checks the values and derives the run's plan.
    pub(crate) fn plan(&self) -> Result<Plan> {
        let bad = |detail: String| {
            Err(ConnectorError::Config {
                what: "simulator",
                detail,
            })
        };
        if !(self.hours.is_finite() && self.hours > 0.0 && self.hours <= 24.0 * 366.0 * 10.0) {
            return bad(format!("hours must be in (0, 87840], got {}", self.hours));
        }
        if !(self.devices.is_finite() && (0.0..=10_000.0).contains(&self.devices)) {
            return bad(format!(
                "devices must be in [0, 10000], got {}",
                self.devices
            ));
        }
        if !(self.rate.is_finite() && (0.0..=1e8).contains(&self.rate)) {
            return bad(format!(
                "rate must be in [0, 1e8] readings/s, got {}",
                self.rate
            ));
        }
        if !(0.0..=1.0).contains(&self.bad_rate) {
            return bad(format!("bad_rate must be in [0, 1], got {}", self.bad_rate));
        }
        if !(self.incident_rate.is_finite() && (0.0..=5.0).contains(&self.incident_rate)) {
            return bad(format!(
                "incident_rate must be in [0, 5] per household-day, got {}",
                self.incident_rate
            ));
        }
        if let Some(pace) = self.pace
            && !(pace.is_finite() && pace > 0.0 && pace <= 1e9)
        {
            return bad(format!("pace must be in (0, 1e9] records/s, got {pace}"));
        }
        if self.reporters > 99_999 {
            return bad(format!(
                "reporters must be at most 9999, got {}",
                self.reporters
            ));
        }
        if !(self.report_rate.is_finite() && (0.0..=3600.0).contains(&self.report_rate)) {
            return bad(format!(
                "report_rate must be in [0, 3600] per citizen-hour, got {}",
                self.report_rate
            ));
        }
        if self.households > 99_999 {
            return bad(format!(
                "households must be at most 99999, got {}",
                self.households
            ));
        }
        if self.disorder_ms > 24 * HOUR as u64 {
            return bad(format!(
                "disorder_ms must be at most one day, got {}",
                self.disorder_ms
            ));
        }
        let end_ms = self
            .start_ms
            .checked_add((self.hours * HOUR as f64).round() as i64);
        let Some(end_ms) = end_ms.filter(|_| self.start_ms >= MIN_TS_MS) else {
            return bad(format!(
                "start_ms {} must be after 2000-01-01 and the run must fit i64",
                self.start_ms
            ));
        };
        let scale = |n: usize| (n as f64 * self.devices).round() as usize;
        let (env_devices, crowd_counters, trucks) = (
            scale(self.env_devices),
            scale(self.crowd_counters),
            scale(self.trucks),
        );
        let periodic = env_devices as f64 * ENV_SENSORS * 1000.0 / ENV_INTERVAL_MS
            + crowd_counters as f64 * 1000.0 / CROWD_INTERVAL_MS
            + trucks as f64 * TRUCK_SENSORS * 1000.0 / TRUCK_INTERVAL_MS;
        let homes = self.households as f64 * HOME_RATE;
        let speedup = if self.rate > 0.0 && periodic > 0.0 {
            (self.rate - homes).max(0.01 * self.rate) / periodic
        } else {
            1.0
        };
        let per_second = (periodic * speedup + homes).max(1.0);
        // About 50 000 readings per slice, between 1 s and 1 min of simulated time.
        let slice_ms =
            ((50_000.0 / per_second) * SECOND as f64).clamp(SECOND as f64, MINUTE as f64) as i64;
        Ok(Plan {
            end_ms,
            env_devices,
            crowd_counters,
            trucks,
            speedup,
            slice_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_serde() {
        let cfg: SimulatorConfig =
            serde_json::from_str(r#"{"seed":7,"hours":2.5}"#).expect("valid");
        assert_eq!(cfg.seed, 7);
        assert_eq!(cfg.hours, 2.5);
        assert_eq!(cfg.households, 20);
        assert!(serde_json::from_str::<SimulatorConfig>(r#"{"sed":7}"#).is_err());
        let back: SimulatorConfig =
            serde_json::from_str(&serde_json::to_string(&cfg).expect("json")).expect("parse");
        assert_eq!(back, cfg);
        let plan = SimulatorConfig::default().plan().expect("valid");
        assert_eq!(plan.end_ms - SimulatorConfig::default().start_ms, HOUR);
        assert_eq!(
            (plan.env_devices, plan.crowd_counters, plan.trucks),
            (12, 6, 4)
        );
        assert!(plan.speedup > 30.0, "{}", plan.speedup);
        assert_eq!(plan.slice_ms, MINUTE);
    }

    #[test]
    fn invalid_values_are_user_errors() {
        for cfg in [
            SimulatorConfig {
                hours: 0.0,
                ..Default::default()
            },
            SimulatorConfig {
                hours: f64::NAN,
                ..Default::default()
            },
            SimulatorConfig {
                bad_rate: 1.5,
                ..Default::default()
            },
            SimulatorConfig {
                rate: -1.0,
                ..Default::default()
            },
            SimulatorConfig {
                start_ms: 0,
                ..Default::default()
            },
            SimulatorConfig {
                devices: f64::INFINITY,
                ..Default::default()
            },
            SimulatorConfig {
                pace: Some(0.0),
                ..Default::default()
            },
            SimulatorConfig {
                pace: Some(f64::NAN),
                ..Default::default()
            },
        ] {
            let e = cfg.plan().expect_err("invalid");
            assert_eq!(e.fault(), crate::error::Fault::User, "{e}");
        }
        let natural = SimulatorConfig {
            rate: 0.0,
            ..Default::default()
        }
        .plan()
        .expect("valid");
        assert_eq!(natural.speedup, 1.0);
    }
}
