//! Homes of elderly people living alone in Santander (Pilot 2, tele-assistance).
//!
//! Household `home-NNN` has nine devices, none with a position (home locations are
//! personal):
//!
//! | device | sensor | values |
//! | --- | --- | --- |
//! | `home-NNN-motion-<room>` (bedroom, kitchen, living, bathroom, hall) | `motion` | `1` on motion; `0` in status reports |
//! | `home-NNN-door` (entrance) | `door` | `1` open, `0` closed |
//! | `home-NNN-bed` | `bed` | `1` occupied, `0` empty |
//! | `home-NNN-plug-kettle`, `home-NNN-plug-tv` | `plug_power` | W (TV standby 0.5 W) |
//!
//! Every device also sends a **status report** of its current state every 10 min ± 1 min
//! (motion sensors report `0`), so a device is never quiet for 30 min unless a
//! `device_silent` incident says so; the battery-powered ones (all but the plugs) report
//! `battery` (%) every 4 h ± 30 min (never below 20 % outside a `low_battery` incident; a
//! low battery is replaced by the next report). State changes follow the routine planned in
//! [`plan`]. Alert rules should therefore count `motion = 1` as movement.
//!
//! The readings that are the evidence of an incident are never replaced by bad records.

mod plan;

use std::collections::VecDeque;

use msec_engine::SensorKind;

use super::clock::{DAY, Local, MINUTE, Madrid};
use super::generator::{Devices, SimReading};
use super::rng::{Rng, round_to, stream};
use super::{Incident, IncidentKind};
use plan::{Persona, plan_day};

/// Device slots of a household.
pub(crate) mod slot {
    pub const BEDROOM: u8 = 0;
    pub const KITCHEN: u8 = 1;
    pub const LIVING: u8 = 2;
    pub const BATHROOM: u8 = 3;
    pub const HALL: u8 = 4;
    pub const DOOR: u8 = 5;
    pub const BED: u8 = 6;
    pub const KETTLE: u8 = 7;
    pub const TV: u8 = 8;
    /// Number of slots.
    pub const N: usize = 9;
}

const SUFFIXES: [&str; slot::N] = [
    "motion-bedroom",
    "motion-kitchen",
    "motion-living",
    "motion-bathroom",
    "motion-hall",
    "door",
    "bed",
    "plug-kettle",
    "plug-tv",
];

fn sensor_of(slot: u8) -> SensorKind {
    match slot {
        0..=4 => SensorKind::Motion,
        slot::DOOR => SensorKind::Door,
        slot::BED => SensorKind::Bed,
        _ => SensorKind::PlugPower,
    }
}

fn has_battery(slot: u8) -> bool {
    slot <= slot::BED
}

const STATUS_EVERY: i64 = 10 * MINUTE;
const BATTERY_EVERY: i64 = 240 * MINUTE;

/// A planned action.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Act {
    /// Motion detected (value 1).
    Motion,
    /// The device's state becomes this value, and it reports it.
    Set(f64),
    /// One last status report, then nothing until `until`.
    Silence { until: i64 },
    /// A battery report at this level, which becomes the battery's level.
    BatteryLow(f64),
}

/// A planned event of one device.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Ev {
    pub ts: i64,
    pub slot: u8,
    pub act: Act,
    /// The incident this event starts (its reading is the evidence).
    pub incident: Option<IncidentKind>,
}

#[derive(Debug, Clone)]
struct Device {
    id: u32,
    state: f64,
    next_status: i64,
    next_battery: i64,
    battery: f64,
    silent_until: i64,
}

/// One household and its devices.
#[derive(Debug)]
pub(crate) struct Household {
    name: String,
    persona: Persona,
    plan_rng: Rng,
    jitter: Rng,
    madrid: Madrid,
    events: VecDeque<Ev>,
    /// Next local day to plan, and the UTC instant it starts.
    next_day: i64,
    planned_until: i64,
    devices: Vec<Device>,
    start_ms: i64,
    end_ms: i64,
    incident_rate: f64,
}

impl Household {
    /// Household number `index` (0-based; named `home-{index+1:03}`), registered in `devices`.
    pub fn new(
        seed: u64,
        index: usize,
        start_ms: i64,
        end_ms: i64,
        incident_rate: f64,
        registry: &mut Devices,
    ) -> Self {
        let name = format!("home-{:03}", index + 1);
        let mut plan_rng = Rng::new(seed, stream::HOME_PLAN + index as u64);
        let mut jitter = Rng::new(seed, stream::HOME_JITTER + index as u64);
        let persona = Persona::new(&mut plan_rng);
        let devices = (0..slot::N as u8)
            .map(|s| Device {
                id: registry.add(format!("{name}-{}", SUFFIXES[s as usize])),
                // At local midnight the person is asleep, the door closed, the plugs off.
                state: match s {
                    slot::BED => 1.0,
                    slot::TV => 0.5,
                    _ => 0.0,
                },
                next_status: start_ms + jitter.below(STATUS_EVERY as u64) as i64,
                next_battery: if has_battery(s) {
                    start_ms + jitter.below(BATTERY_EVERY as u64) as i64
                } else {
                    i64::MAX
                },
                battery: jitter.uniform(35.0, 100.0),
                silent_until: i64::MIN,
            })
            .collect();
        let mut madrid = Madrid::default();
        let next_day = Local::at(start_ms, madrid.offset(start_ms)).day;
        let planned_until = madrid.utc_of_local(next_day * DAY);
        Self {
            name,
            persona,
            plan_rng,
            jitter,
            madrid,
            events: VecDeque::new(),
            next_day,
            planned_until,
            devices,
            start_ms,
            end_ms,
            incident_rate,
        }
    }

    /// Appends the readings due before `to` and the incidents they start.
    pub fn generate(&mut self, to: i64, out: &mut Vec<SimReading>, incidents: &mut Vec<Incident>) {
        while self.planned_until <= to {
            let evs = plan_day(
                self.next_day,
                &self.persona,
                &mut self.plan_rng,
                self.incident_rate,
                &mut self.madrid,
            );
            self.events.extend(evs);
            self.next_day += 1;
            self.planned_until = self.madrid.utc_of_local(self.next_day * DAY);
        }
        loop {
            let ev_ts = self.events.front().map_or(i64::MAX, |e| e.ts);
            let (status_slot, status_ts) = self.earliest(|d| d.next_status);
            let (battery_slot, battery_ts) = self.earliest(|d| d.next_battery);
            let t = ev_ts.min(status_ts).min(battery_ts);
            if t >= to {
                break;
            }
            if ev_ts == t {
                if let Some(ev) = self.events.pop_front() {
                    self.apply(ev, out, incidents);
                }
            } else if status_ts == t {
                let value = self.status_value(status_slot);
                self.emit(status_slot, sensor_of(status_slot), t, value, false, out);
                let jitter = self.jitter.below(2 * MINUTE as u64 + 1) as i64 - MINUTE;
                self.devices[status_slot as usize].next_status = t + STATUS_EVERY + jitter;
            } else {
                let d = &mut self.devices[battery_slot as usize];
                if d.battery < 20.0 {
                    d.battery = 100.0; // replaced by a caregiver
                }
                let level = d.battery.round();
                d.battery -= self.jitter.uniform(0.05, 0.25);
                self.emit(battery_slot, SensorKind::Battery, t, level, false, out);
                let jitter = self.jitter.below(60 * MINUTE as u64 + 1) as i64 - 30 * MINUTE;
                self.devices[battery_slot as usize].next_battery = t + BATTERY_EVERY + jitter;
            }
        }
    }

    /// The slot whose `key` is smallest (first slot on ties), and that key.
    fn earliest(&self, key: impl Fn(&Device) -> i64) -> (u8, i64) {
        let mut best = (0u8, i64::MAX);
        for (i, d) in self.devices.iter().enumerate() {
            let k = key(d);
            if k < best.1 {
                best = (i as u8, k);
            }
        }
        best
    }

    fn status_value(&mut self, slot: u8) -> f64 {
        let state = self.devices[slot as usize].state;
        match slot {
            0..=4 => 0.0,
            slot::TV if state > 10.0 => round_to(state + 2.0 * self.jitter.normal(), 1),
            _ => state,
        }
    }

    fn apply(&mut self, ev: Ev, out: &mut Vec<SimReading>, incidents: &mut Vec<Incident>) {
        let evidence = ev.incident.is_some();
        let sensor = sensor_of(ev.slot);
        let sent = match ev.act {
            Act::Motion => self.emit(ev.slot, sensor, ev.ts, 1.0, evidence, out),
            Act::Set(v) => {
                self.devices[ev.slot as usize].state = v;
                self.emit(ev.slot, sensor, ev.ts, v, evidence, out)
            }
            Act::Silence { until } => {
                let value = self.status_value(ev.slot);
                let sent = self.emit(ev.slot, sensor, ev.ts, value, evidence, out);
                self.devices[ev.slot as usize].silent_until = until;
                sent
            }
            Act::BatteryLow(level) => {
                self.devices[ev.slot as usize].battery = level;
                self.emit(ev.slot, SensorKind::Battery, ev.ts, level, evidence, out)
            }
        };
        if let Some(kind) = ev.incident
            && sent
            && ev.ts.saturating_add(kind.threshold_ms()) <= self.end_ms
        {
            incidents.push(Incident {
                household: self.name.clone(),
                kind,
                start_ts: ev.ts,
                device: format!("{}-{}", self.name, SUFFIXES[ev.slot as usize]),
            });
        }
    }

    /// Sends a reading unless it falls before the run or in a silence; returns whether sent.
    fn emit(
        &mut self,
        slot: u8,
        sensor: SensorKind,
        ts: i64,
        value: f64,
        evidence: bool,
        out: &mut Vec<SimReading>,
    ) -> bool {
        let d = &self.devices[slot as usize];
        if ts < self.start_ms || ts < d.silent_until {
            return false;
        }
        let mut r = SimReading::new(ts, d.id, sensor, value);
        r.evidence = evidence;
        out.push(r);
        true
    }
}

/// Longest gap (ms) between two status reports of a device, for tests.
#[cfg(test)]
pub(crate) const MAX_STATUS_GAP: i64 = STATUS_EVERY + MINUTE + super::clock::SECOND;

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
