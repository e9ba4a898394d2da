//! One household's rule state: per-device states, open episodes and pending deadlines, fed
//! one reading at a time in event-time order. Pure logic, no dataflow: the operator in
//! [`super::operator`] decides *when* a reading or a deadline may be processed (once the
//! frontier guarantees nothing earlier can still arrive); this module decides *what* it means.
//!
//! Deadline semantics, the same for every absence rule: a deadline `d` (the bed empty since
//! `t`, `d = t + 30 min`) is cancelled by a reading with event time `≤ d` and fires otherwise,
//! so "back in bed after 29 min" or "after exactly 30 min" raises nothing, and the alert's
//! decision time is `d` itself. Readings at the same time are applied in a fixed order
//! (device, sensor, value), so the outcome does not depend on arrival order.

use msec_engine::SensorKind;
use msec_engine::alert::AlertKind;
use msec_engine::zone::{DAY, ZoneClock};
use serde::{Deserialize, Serialize};

use super::config::{AlertConfig, BaseRule, DailyWindow};

/// `device` of an alert that concerns no single device (inactivity, combined rules).
pub const NO_DEVICE: u32 = u32::MAX;

/// One reading as the rules see it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HomeReading {
    /// Event time, epoch ms.
    pub ts: i64,
    /// Interned device id.
    pub device: u32,
    /// Sensor kind.
    pub sensor: SensorKind,
    /// Value.
    pub value: f64,
    /// The rules that watch this device ([`AlertConfig::rules_for`]).
    pub rules: u8,
}

/// A decision of the rules: one episode raised or resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertEvent {
    /// Raised or resolved.
    pub kind: AlertKind,
    /// Interned household id.
    pub household: u32,
    /// Rule code: [`BaseRule::code`], then combined rules in configuration order.
    pub rule: u8,
    /// Interned device id, or [`NO_DEVICE`].
    pub device: u32,
    /// Event time of the decision, epoch ms.
    pub decision_ts: i64,
    /// Event time of the evidence that started the episode (part of the episode's id).
    pub start_ts: i64,
    /// Evidence readings: (device, event time).
    pub evidence: Vec<(u32, i64)>,
    /// Ingest time of the newest reading seen when the decision became final (set by the
    /// operator).
    pub ingest_ts: i64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Episode {
    start_ts: i64,
    evidence: (u32, i64),
}

impl Episode {
    /// An episode started by the reading of `device` at `ts`, which is its evidence.
    fn of(device: u32, ts: i64) -> Self {
        Self {
            start_ts: ts,
            evidence: (device, ts),
        }
    }
}

#[derive(Debug, Clone)]
struct DeviceState {
    device: u32,
    rules: u8,
    last_ts: i64,
    limit: i64,
    primary: Option<SensorKind>,
    silent: Option<Episode>,
    bed: Option<bool>,
    bed_exit: Option<i64>,
    bed_ep: Option<Episode>,
    door: Option<bool>,
    door_ep: Option<Episode>,
    plug_on_since: Option<i64>,
    plug_ep: Option<Episode>,
    battery_ep: Option<Episode>,
}

impl DeviceState {
    fn new(device: u32, rules: u8, limit: i64) -> Self {
        Self {
            device,
            rules,
            last_ts: i64::MIN,
            limit,
            primary: None,
            silent: None,
            bed: None,
            bed_exit: None,
            bed_ep: None,
            door: None,
            door_ep: None,
            plug_on_since: None,
            plug_ep: None,
            battery_ep: None,
        }
    }

    fn watched_by(&self, rule: BaseRule) -> bool {
        self.rules & (1 << rule.code()) != 0
    }

    fn episode(&self, rule: BaseRule) -> Option<&Episode> {
        match rule {
            BaseRule::BedExitNoReturn => self.bed_ep.as_ref(),
            BaseRule::DoorOpenNight => self.door_ep.as_ref(),
            BaseRule::ApplianceLeftOn => self.plug_ep.as_ref(),
            BaseRule::LowBattery => self.battery_ep.as_ref(),
            BaseRule::DeviceSilent => self.silent.as_ref(),
            BaseRule::Inactivity => None,
        }
    }
}

/// The rule state of one household.
#[derive(Debug, Clone)]
pub struct Household {
    id: u32,
    clock: ZoneClock,
    devices: Vec<DeviceState>,
    /// Last motion (device, ts), or the household's first reading before any motion.
    last_motion: Option<(u32, i64)>,
    inactivity_deadline: Option<i64>,
    inactivity_ep: Option<Episode>,
    /// Last opening of an entrance door (a door watched by door_open_night).
    last_door_open: Option<i64>,
    /// The earliest pending deadline.
    next: Option<i64>,
    /// Per base rule: evidence of its latest raise.
    last_raise: [Option<(u32, i64)>; 6],
    combined_ep: Vec<Option<Episode>>,
}

/// Where a household's decisions go.
pub type Out = Vec<AlertEvent>;

impl Household {
    /// A household with interned id `id` whose local time is `clock`'s.
    pub fn new(id: u32, clock: ZoneClock, cfg: &AlertConfig) -> Self {
        Self {
            id,
            clock,
            devices: Vec::new(),
            last_motion: None,
            inactivity_deadline: None,
            inactivity_ep: None,
            last_door_open: None,
            next: None,
            last_raise: [None; 6],
            combined_ep: vec![None; cfg.combined.len()],
        }
    }

    /// The earliest pending deadline, if any (cached: kept up to date by every change).
    pub fn next_deadline(&self) -> Option<i64> {
        self.next
    }

    /// Recomputes the earliest pending deadline (after any change of state).
    fn compute_next(&self, cfg: &AlertConfig) -> Option<i64> {
        let mut next = if self.inactivity_ep.is_none() {
            self.inactivity_deadline
        } else {
            None
        };
        let mut consider = |d: Option<i64>| {
            if let Some(d) = d {
                next = Some(next.map_or(d, |n: i64| n.min(d)));
            }
        };
        for d in &self.devices {
            if d.silent.is_none() && d.last_ts != i64::MIN && d.watched_by(BaseRule::DeviceSilent) {
                consider(Some(d.last_ts.saturating_add(d.limit)));
            }
            if d.bed_ep.is_none() {
                consider(d.bed_exit.map(|t| t.saturating_add(cfg.bed_return_ms)));
            }
            if d.plug_ep.is_none() {
                consider(d.plug_on_since.map(|t| t.saturating_add(cfg.appliance_ms)));
            }
        }
        next
    }

    /// Fires every deadline `≤ upto`, in time order.
    pub fn fire_until(&mut self, upto: i64, cfg: &AlertConfig, out: &mut Out) {
        while let Some(d) = self.next {
            if d > upto {
                break;
            }
            self.fire_at(d, cfg, out);
            self.next = self.compute_next(cfg);
        }
    }

    fn fire_at(&mut self, d: i64, cfg: &AlertConfig, out: &mut Out) {
        for i in 0..self.devices.len() {
            let dev = &self.devices[i];
            let device = dev.device;
            if dev.silent.is_none()
                && dev.last_ts != i64::MIN
                && dev.last_ts.saturating_add(dev.limit) == d
            {
                let ep = Episode::of(device, dev.last_ts);
                self.devices[i].silent = Some(ep);
                self.raise(BaseRule::DeviceSilent, device, d, ep, cfg, out);
            }
            let dev = &self.devices[i];
            if dev.bed_ep.is_none()
                && let Some(t) = dev.bed_exit
                && t.saturating_add(cfg.bed_return_ms) == d
            {
                let ep = Episode::of(device, t);
                self.devices[i].bed_exit = None;
                self.devices[i].bed_ep = Some(ep);
                self.raise(BaseRule::BedExitNoReturn, device, d, ep, cfg, out);
            }
            let dev = &self.devices[i];
            if dev.plug_ep.is_none()
                && let Some(t) = dev.plug_on_since
                && t.saturating_add(cfg.appliance_ms) == d
            {
                let ep = Episode::of(device, t);
                self.devices[i].plug_ep = Some(ep);
                self.raise(BaseRule::ApplianceLeftOn, device, d, ep, cfg, out);
            }
        }
        if self.inactivity_ep.is_none() && self.inactivity_deadline == Some(d) {
            self.inactivity_deadline = None;
            // No motion is no evidence when every motion sensor of the home is itself silent.
            let motion_devices = self
                .devices
                .iter()
                .filter(|x| x.primary == Some(SensorKind::Motion));
            let mut any = false;
            let mut all_silent = true;
            for m in motion_devices {
                any = true;
                all_silent &= m.silent.is_some();
            }
            // Nor is it when the entrance door opened around the last motion: the person
            // went out (if configured).
            let went_out = cfg.inactivity_away_ms > 0
                && self
                    .last_motion
                    .zip(self.last_door_open)
                    .is_some_and(|((_, m), door)| (door - m).abs() <= cfg.inactivity_away_ms);
            if !(went_out || any && all_silent)
                && let Some((device, ts)) = self.last_motion
            {
                let ep = Episode::of(device, ts);
                self.inactivity_ep = Some(ep);
                self.raise(BaseRule::Inactivity, NO_DEVICE, d, ep, cfg, out);
            }
        }
    }

    /// Applies one reading; deadlines before its event time fire first.
    pub fn on_reading(&mut self, r: HomeReading, cfg: &AlertConfig, out: &mut Out) {
        if self.next.is_some_and(|d| d < r.ts) {
            self.fire_until(r.ts - 1, cfg, out);
        }
        self.apply(r, cfg, out);
        self.next = self.compute_next(cfg);
    }

    fn apply(&mut self, r: HomeReading, cfg: &AlertConfig, out: &mut Out) {
        let i = match self.devices.iter().position(|d| d.device == r.device) {
            Some(i) => i,
            None => {
                self.devices
                    .push(DeviceState::new(r.device, r.rules, cfg.silence_limit(None)));
                self.devices.len() - 1
            }
        };
        if self.last_motion.is_none() {
            self.last_motion = Some((r.device, r.ts));
            self.rearm_inactivity(r.ts, cfg);
        }
        // device_silent: the device speaks again.
        {
            let dev = &mut self.devices[i];
            if dev.primary.is_none() && r.sensor != SensorKind::Battery {
                dev.primary = Some(r.sensor);
                dev.limit = cfg.silence_limit(Some(r.sensor));
            }
            dev.last_ts = dev.last_ts.max(r.ts);
            if let Some(ep) = dev.silent.take() {
                self.resolve(BaseRule::DeviceSilent, r.device, r.ts, ep, cfg, out);
            }
        }
        let on = r.value >= 0.5;
        match r.sensor {
            SensorKind::Motion if on && self.devices[i].watched_by(BaseRule::Inactivity) => {
                if let Some(ep) = self.inactivity_ep.take() {
                    self.resolve(BaseRule::Inactivity, NO_DEVICE, r.ts, ep, cfg, out);
                }
                self.last_motion = Some((r.device, r.ts));
                self.rearm_inactivity(r.ts, cfg);
            }
            SensorKind::Bed => {
                let was = self.devices[i].bed.replace(on);
                if on {
                    self.devices[i].bed_exit = None;
                    if let Some(ep) = self.devices[i].bed_ep.take() {
                        self.resolve(BaseRule::BedExitNoReturn, r.device, r.ts, ep, cfg, out);
                    }
                } else if was == Some(true)
                    && self.devices[i].watched_by(BaseRule::BedExitNoReturn)
                    && cfg.bed_night.contains(self.clock.time_of_day_ms(r.ts))
                {
                    self.devices[i].bed_exit = Some(r.ts);
                }
            }
            SensorKind::Door => {
                let was = self.devices[i].door.replace(on);
                if on && was != Some(true) && self.devices[i].watched_by(BaseRule::DoorOpenNight) {
                    self.last_door_open = Some(r.ts);
                }
                if on {
                    if was != Some(true)
                        && self.devices[i].door_ep.is_none()
                        && self.devices[i].watched_by(BaseRule::DoorOpenNight)
                        && cfg.door_night.contains(self.clock.time_of_day_ms(r.ts))
                    {
                        let ep = Episode::of(r.device, r.ts);
                        self.devices[i].door_ep = Some(ep);
                        self.raise(BaseRule::DoorOpenNight, r.device, r.ts, ep, cfg, out);
                    }
                } else if let Some(ep) = self.devices[i].door_ep.take() {
                    self.resolve(BaseRule::DoorOpenNight, r.device, r.ts, ep, cfg, out);
                }
            }
            SensorKind::PlugPower => {
                if r.value > cfg.appliance_above_w {
                    if self.devices[i].plug_on_since.is_none()
                        && self.devices[i].watched_by(BaseRule::ApplianceLeftOn)
                    {
                        self.devices[i].plug_on_since = Some(r.ts);
                    }
                } else {
                    self.devices[i].plug_on_since = None;
                    if let Some(ep) = self.devices[i].plug_ep.take() {
                        self.resolve(BaseRule::ApplianceLeftOn, r.device, r.ts, ep, cfg, out);
                    }
                }
            }
            SensorKind::Battery => {
                if r.value < cfg.battery_below_pct {
                    if self.devices[i].battery_ep.is_none()
                        && self.devices[i].watched_by(BaseRule::LowBattery)
                    {
                        let ep = Episode::of(r.device, r.ts);
                        self.devices[i].battery_ep = Some(ep);
                        self.raise(BaseRule::LowBattery, r.device, r.ts, ep, cfg, out);
                    }
                } else if let Some(ep) = self.devices[i].battery_ep.take() {
                    self.resolve(BaseRule::LowBattery, r.device, r.ts, ep, cfg, out);
                }
            }
            _ => {}
        }
    }

    fn rearm_inactivity(&mut self, last: i64, cfg: &AlertConfig) {
        self.inactivity_deadline = if cfg.enabled(BaseRule::Inactivity) {
            inactivity_deadline(&mut self.clock, cfg.inactivity_day, cfg.inactivity_ms, last)
        } else {
            None
        };
    }

    fn rule_open(&self, rule: BaseRule) -> bool {
        match rule {
            BaseRule::Inactivity => self.inactivity_ep.is_some(),
            _ => self.devices.iter().any(|d| d.episode(rule).is_some()),
        }
    }

    fn raise(
        &mut self,
        rule: BaseRule,
        device: u32,
        decision: i64,
        ep: Episode,
        cfg: &AlertConfig,
        out: &mut Out,
    ) {
        out.push(AlertEvent {
            kind: AlertKind::Raised,
            household: self.id,
            rule: rule.code(),
            device,
            decision_ts: decision,
            start_ts: ep.start_ts,
            evidence: vec![ep.evidence],
            ingest_ts: 0,
        });
        self.last_raise[rule.code() as usize] = Some(ep.evidence);
        for (ci, c) in cfg.combined.iter().enumerate() {
            if self.combined_ep[ci].is_some() || !c.all.contains(&rule) {
                continue;
            }
            let mut evidence = Vec::with_capacity(c.all.len());
            let complete = c
                .all
                .iter()
                .all(|q| match self.last_raise[q.code() as usize] {
                    Some(e) if (e.1 - ep.evidence.1).abs() <= c.within_ms => {
                        evidence.push(e);
                        true
                    }
                    _ => false,
                });
            if !complete {
                continue;
            }
            evidence.sort_unstable_by_key(|e| (e.1, e.0));
            let start = evidence.first().map_or(ep.start_ts, |e| e.1);
            self.combined_ep[ci] = Some(Episode {
                start_ts: start,
                evidence: evidence[0],
            });
            out.push(AlertEvent {
                kind: AlertKind::Raised,
                household: self.id,
                rule: (BaseRule::ALL.len() + ci) as u8,
                device: NO_DEVICE,
                decision_ts: decision,
                start_ts: start,
                evidence,
                ingest_ts: 0,
            });
        }
    }

    fn resolve(
        &mut self,
        rule: BaseRule,
        device: u32,
        decision: i64,
        ep: Episode,
        cfg: &AlertConfig,
        out: &mut Out,
    ) {
        out.push(AlertEvent {
            kind: AlertKind::Resolved,
            household: self.id,
            rule: rule.code(),
            device,
            decision_ts: decision,
            start_ts: ep.start_ts,
            evidence: vec![ep.evidence],
            ingest_ts: 0,
        });
        for (ci, c) in cfg.combined.iter().enumerate() {
            let Some(cep) = self.combined_ep[ci] else {
                continue;
            };
            if !c.all.contains(&rule) || c.all.iter().any(|q| self.rule_open(*q)) {
                continue;
            }
            self.combined_ep[ci] = None;
            out.push(AlertEvent {
                kind: AlertKind::Resolved,
                household: self.id,
                rule: (BaseRule::ALL.len() + ci) as u8,
                device: NO_DEVICE,
                decision_ts: decision,
                start_ts: cep.start_ts,
                evidence: vec![cep.evidence],
                ingest_ts: 0,
            });
        }
    }
}

/// The first instant `d` such that `[max(last, window start), d)` is `len` ms inside one day
/// window, i.e. when "no motion for `len` during the day" becomes true after motion at
/// `last`. Windows are taken in local time; `None` if no window is long enough.
fn inactivity_deadline(
    clock: &mut ZoneClock,
    window: DailyWindow,
    len: i64,
    last: i64,
) -> Option<i64> {
    // Fast path (motion by day, most readings): `last` is inside a window that still has
    // `len` to run, and no offset change lies in between.
    let offset = clock.offset(last);
    let tod = last.saturating_add(offset).rem_euclid(DAY);
    if window.contains(tod) {
        let remaining = (window.end - tod).rem_euclid(DAY);
        let d = last.saturating_add(len);
        if len <= remaining && clock.offset(d) == offset {
            return Some(d);
        }
    }
    let local = clock.local_ms(last);
    let day = local.div_euclid(DAY);
    for k in -1..=2 {
        let start_local = (day + k) * DAY + window.start;
        let end_local = start_local + window.len_ms();
        if end_local <= local {
            continue;
        }
        let start = clock.utc_of_local(start_local);
        let end = clock.utc_of_local(end_local);
        let d = last.max(start).saturating_add(len);
        if d <= end {
            return Some(d);
        }
    }
    None
}

#[cfg(test)]
#[path = "household_tests.rs"]
mod tests;
