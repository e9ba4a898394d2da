//! Scenario tests per rule: a scripted day of one household (Europe/Madrid, winter, so
//! local = UTC+1) where the rule must fire exactly once at the right event time, and its
//! near-miss twin where it must not.

use msec_engine::SensorKind;
use msec_engine::alert::AlertKind;
use msec_engine::zone::{HOUR, MINUTE, Zone, ZoneClock};

use super::*;

const MOTION: u32 = 1;
const BED: u32 = 2;
const DOOR: u32 = 3;
const PLUG: u32 = 4;
const MOTION2: u32 = 5;
const ALL: u8 = 0b11_1111;

/// 2026-01-14T00:00 local (Madrid, UTC+1).
const MIDNIGHT: i64 = 1_768_345_200_000;

fn at(hh: i64, mm: i64) -> i64 {
    MIDNIGHT + hh * HOUR + mm * MINUTE
}

fn kind_of(device: u32) -> SensorKind {
    match device {
        BED => SensorKind::Bed,
        DOOR => SensorKind::Door,
        PLUG => SensorKind::PlugPower,
        _ => SensorKind::Motion,
    }
}

/// A day in the life: status reports of every device every 10 min, motion in two rooms
/// every 20 min while awake (07:30–22:30), in bed otherwise, door closed, TV on standby.
/// `changes` are extra (local ts, device, value) state changes; `quiet` are spans without
/// motion; `silent` spans in which `device` sends nothing.
struct Script {
    changes: Vec<(i64, u32, f64)>,
    quiet: Vec<(i64, i64)>,
    silent: Vec<(u32, i64, i64)>,
    extra: Vec<HomeReading>,
}

impl Script {
    fn new() -> Self {
        Self {
            changes: vec![(at(7, 30), BED, 0.0), (at(22, 30), BED, 1.0)],
            quiet: Vec::new(),
            silent: Vec::new(),
            extra: Vec::new(),
        }
    }

    fn state(&self, device: u32, t: i64) -> f64 {
        let initial = match device {
            BED => 1.0,
            PLUG => 0.5,
            _ => 0.0,
        };
        self.changes
            .iter()
            .filter(|(ts, d, _)| *d == device && *ts <= t)
            .max_by_key(|(ts, _, _)| *ts)
            .map_or(initial, |c| c.2)
    }

    fn readings(&self, days: i64) -> Vec<HomeReading> {
        let mut out = Vec::new();
        let sent = |d: u32, t: i64| {
            !self
                .silent
                .iter()
                .any(|(s, a, b)| *s == d && (*a..*b).contains(&t))
        };
        for device in [MOTION, BED, DOOR, PLUG, MOTION2] {
            let mut t = MIDNIGHT + i64::from(device) * 7_000;
            while t < MIDNIGHT + days * 24 * HOUR {
                let value = if kind_of(device) == SensorKind::Motion {
                    0.0
                } else {
                    self.state(device, t)
                };
                if sent(device, t) {
                    out.push(HomeReading {
                        ts: t,
                        device,
                        sensor: kind_of(device),
                        value,
                        rules: ALL,
                    });
                }
                t += 10 * MINUTE;
            }
        }
        for day in 0..days {
            let mut t = at(7, 31) + day * 24 * HOUR;
            while t < at(22, 30) + day * 24 * HOUR {
                let room = if (t / MINUTE) % 40 < 20 {
                    MOTION
                } else {
                    MOTION2
                };
                if !self.quiet.iter().any(|(a, b)| (*a..*b).contains(&t)) && sent(room, t) {
                    out.push(HomeReading {
                        ts: t,
                        device: room,
                        sensor: SensorKind::Motion,
                        value: 1.0,
                        rules: ALL,
                    });
                }
                t += 20 * MINUTE;
            }
        }
        for &(ts, device, value) in &self.changes {
            if sent(device, ts) {
                out.push(HomeReading {
                    ts,
                    device,
                    sensor: kind_of(device),
                    value,
                    rules: ALL,
                });
            }
        }
        out.extend(self.extra.iter().copied());
        out.sort_by_key(|r| (r.ts, r.device));
        out
    }

    /// Runs the day(s) through a household; returns every decision.
    fn run_with(&self, cfg: &AlertConfig, days: i64) -> Vec<AlertEvent> {
        let mut h = Household::new(42, ZoneClock::new(Zone::EuropeMadrid), cfg);
        let mut out = Vec::new();
        let readings = self.readings(days);
        let end = readings.last().map_or(0, |r| r.ts);
        for r in readings {
            h.on_reading(r, cfg, &mut out);
        }
        h.fire_until(end, cfg, &mut out);
        out
    }

    fn run(&self) -> Vec<AlertEvent> {
        self.run_with(&AlertConfig::default(), 1)
    }
}

fn raised(events: &[AlertEvent], rule: BaseRule) -> Vec<i64> {
    events
        .iter()
        .filter(|e| e.kind == AlertKind::Raised && e.rule == rule.code())
        .map(|e| e.decision_ts)
        .collect()
}

fn all_raised(events: &[AlertEvent]) -> Vec<(u8, i64)> {
    events
        .iter()
        .filter(|e| e.kind == AlertKind::Raised)
        .map(|e| (e.rule, e.decision_ts))
        .collect()
}

#[test]
fn an_ordinary_day_raises_nothing() {
    let events = Script::new().run_with(&AlertConfig::default(), 3);
    assert_eq!(all_raised(&events), vec![]);
}

#[test]
fn bed_exit_no_return_fires_once_at_exit_plus_30_min() {
    let mut s = Script::new();
    s.changes
        .extend([(at(2, 10), BED, 0.0), (at(2, 55), BED, 1.0)]);
    let events = s.run();
    assert_eq!(raised(&events, BaseRule::BedExitNoReturn), vec![at(2, 40)]);
    assert_eq!(all_raised(&events).len(), 1, "{events:?}");
    let resolved: Vec<_> = events
        .iter()
        .filter(|e| e.kind == AlertKind::Resolved)
        .collect();
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0].decision_ts, at(2, 55));
    assert_eq!(resolved[0].evidence, vec![(BED, at(2, 10))]);
}

#[test]
fn bed_exit_near_miss_back_after_29_min() {
    let mut s = Script::new();
    s.changes
        .extend([(at(2, 10), BED, 0.0), (at(2, 39), BED, 1.0)]);
    assert_eq!(all_raised(&s.run()), vec![]);
    // Back at exactly 30 min is "within 30 min" too.
    let mut s = Script::new();
    s.changes
        .extend([(at(2, 10), BED, 0.0), (at(2, 40), BED, 1.0)]);
    assert_eq!(all_raised(&s.run()), vec![]);
}

#[test]
fn bed_exit_by_day_is_not_a_night_exit() {
    let mut s = Script::new();
    // Out of bed at 07:30 (the routine) is after the night window: nothing.
    s.changes
        .extend([(at(21, 50), BED, 1.0), (at(21, 59), BED, 0.0)]);
    assert_eq!(all_raised(&s.run()), vec![]);
}

#[test]
fn inactivity_fires_after_4_hours_without_motion() {
    let mut s = Script::new();
    s.quiet.push((at(10, 0), at(16, 0)));
    let events = s.run();
    // The last motion before the quiet span is at 09:51.
    assert_eq!(raised(&events, BaseRule::Inactivity), vec![at(13, 51)]);
    assert_eq!(all_raised(&events).len(), 1, "{events:?}");
    let resolved: Vec<_> = events
        .iter()
        .filter(|e| e.kind == AlertKind::Resolved)
        .map(|e| e.decision_ts)
        .collect();
    assert_eq!(resolved, vec![at(16, 11)]);
}

#[test]
fn inactivity_near_miss_motion_after_3_h_59_min() {
    let mut s = Script::new();
    s.quiet.push((at(10, 0), at(14, 0)));
    s.extra.push(HomeReading {
        ts: at(13, 50),
        device: MOTION,
        sensor: SensorKind::Motion,
        value: 1.0,
        rules: ALL,
    });
    assert_eq!(all_raised(&s.run()), vec![]);
}

#[test]
fn inactivity_after_going_out_is_not_raised_when_configured() {
    let mut s = Script::new();
    s.quiet.push((at(10, 0), at(16, 0)));
    // The door opens and closes two minutes after the last motion (09:51): out.
    s.changes
        .extend([(at(9, 53), DOOR, 1.0), (at(9, 54), DOOR, 0.0)]);
    assert_eq!(
        raised(&s.run(), BaseRule::Inactivity),
        vec![at(13, 51)],
        "off by default"
    );
    let cfg =
        AlertConfig::from_toml_str("[alerts.inactivity]\naway_door_minutes = 10\n").expect("valid");
    assert_eq!(all_raised(&s.run_with(&cfg, 1)), vec![]);
    // A door 20 minutes before the last motion is not going out.
    let mut s = Script::new();
    s.quiet.push((at(10, 0), at(16, 0)));
    s.changes
        .extend([(at(9, 31), DOOR, 1.0), (at(9, 32), DOOR, 0.0)]);
    assert_eq!(
        raised(&s.run_with(&cfg, 1), BaseRule::Inactivity),
        vec![at(13, 51)]
    );
}

#[test]
fn inactivity_counts_only_daytime() {
    // Asleep from 22:30 to 07:30 is 9 h without motion, but not in the day window; a late
    // morning without motion counts from 07:00.
    let mut s = Script::new();
    s.quiet.push((at(0, 0), at(12, 0)));
    let events = s.run();
    assert_eq!(raised(&events, BaseRule::Inactivity), vec![at(11, 0)]);
}

#[test]
fn door_open_night_fires_at_the_opening() {
    let mut s = Script::new();
    s.changes
        .extend([(at(3, 12), DOOR, 1.0), (at(3, 15), DOOR, 0.0)]);
    let events = s.run();
    assert_eq!(raised(&events, BaseRule::DoorOpenNight), vec![at(3, 12)]);
    assert_eq!(all_raised(&events).len(), 1, "{events:?}");
    assert!(
        events
            .iter()
            .any(|e| e.kind == AlertKind::Resolved && e.decision_ts == at(3, 15))
    );
}

#[test]
fn door_near_miss_opened_at_22_59() {
    let mut s = Script::new();
    // Opened at 22:59 and left open past 23:00: the opening was not at night.
    s.changes
        .extend([(at(22, 59), DOOR, 1.0), (at(23, 20), DOOR, 0.0)]);
    assert_eq!(all_raised(&s.run()), vec![]);
}

#[test]
fn appliance_left_on_fires_after_3_hours() {
    let mut s = Script::new();
    s.changes
        .extend([(at(12, 0), PLUG, 95.0), (at(15, 30), PLUG, 0.5)]);
    let events = s.run();
    assert_eq!(raised(&events, BaseRule::ApplianceLeftOn), vec![at(15, 0)]);
    assert_eq!(all_raised(&events).len(), 1, "{events:?}");
    let mut s = Script::new();
    s.changes
        .extend([(at(12, 0), PLUG, 95.0), (at(14, 59), PLUG, 0.5)]);
    assert_eq!(
        all_raised(&s.run()),
        vec![],
        "near miss: off after 2 h 59 min"
    );
}

#[test]
fn low_battery_fires_once_per_episode() {
    let mut s = Script::new();
    for (t, v) in [(at(9, 0), 14.0), (at(13, 0), 12.0), (at(17, 0), 100.0)] {
        s.extra.push(HomeReading {
            ts: t,
            device: BED,
            sensor: SensorKind::Battery,
            value: v,
            rules: ALL,
        });
    }
    let events = s.run();
    assert_eq!(raised(&events, BaseRule::LowBattery), vec![at(9, 0)]);
    assert_eq!(all_raised(&events).len(), 1, "{events:?}");
    let mut s = Script::new();
    s.extra.push(HomeReading {
        ts: at(9, 0),
        device: BED,
        sensor: SensorKind::Battery,
        value: 15.0,
        rules: ALL,
    });
    assert_eq!(all_raised(&s.run()), vec![], "15 % is not below 15 %");
}

#[test]
fn device_silent_fires_at_last_report_plus_limit() {
    let mut s = Script::new();
    // The door reports at hh:m0 + 21 s; silent from 12:00 to 13:00.
    s.silent.push((DOOR, at(12, 0), at(13, 0)));
    let events = s.run();
    let last = at(11, 50) + 21_000;
    assert_eq!(
        raised(&events, BaseRule::DeviceSilent),
        vec![last + 30 * MINUTE]
    );
    assert_eq!(all_raised(&events).len(), 1, "{events:?}");
    let mut s = Script::new();
    // Two reports missed: a gap of exactly the limit is not longer than it.
    s.silent.push((DOOR, at(12, 0), at(12, 19)));
    assert_eq!(all_raised(&s.run()), vec![]);
}

#[test]
fn wandering_combines_bed_exit_and_door_within_15_min() {
    let mut s = Script::new();
    s.changes.extend([
        (at(2, 10), BED, 0.0),
        (at(2, 20), DOOR, 1.0),
        (at(2, 24), DOOR, 0.0),
        (at(3, 30), BED, 1.0),
    ]);
    let events = s.run();
    let wandering = BaseRule::ALL.len() as u8;
    assert_eq!(
        all_raised(&events),
        vec![
            (BaseRule::DoorOpenNight.code(), at(2, 20)),
            (BaseRule::BedExitNoReturn.code(), at(2, 40)),
            (wandering, at(2, 40))
        ]
    );
    let w: Vec<_> = events.iter().filter(|e| e.rule == wandering).collect();
    assert_eq!(w[0].evidence, vec![(BED, at(2, 10)), (DOOR, at(2, 20))]);
    assert_eq!(
        (w[1].kind, w[1].decision_ts),
        (AlertKind::Resolved, at(3, 30))
    );
    // Door 20 min after the exit: both alerts, no wandering.
    let mut s = Script::new();
    s.changes.extend([
        (at(2, 10), BED, 0.0),
        (at(2, 31), DOOR, 1.0),
        (at(2, 33), DOOR, 0.0),
        (at(3, 30), BED, 1.0),
    ]);
    assert!(raised(&s.run(), BaseRule::BedExitNoReturn).len() == 1);
    assert!(all_raised(&s.run()).iter().all(|(r, _)| *r != wandering));
}

#[test]
fn duplicates_and_status_reports_raise_nothing_twice() {
    let mut s = Script::new();
    s.changes
        .extend([(at(3, 12), DOOR, 1.0), (at(3, 40), DOOR, 0.0)]);
    // The same opening delivered three times, and battery lows repeated.
    for _ in 0..2 {
        s.extra.push(HomeReading {
            ts: at(3, 12),
            device: DOOR,
            sensor: SensorKind::Door,
            value: 1.0,
            rules: ALL,
        });
        s.extra.push(HomeReading {
            ts: at(9, 0),
            device: BED,
            sensor: SensorKind::Battery,
            value: 9.0,
            rules: ALL,
        });
    }
    let events = s.run();
    assert_eq!(raised(&events, BaseRule::DoorOpenNight), vec![at(3, 12)]);
    assert_eq!(raised(&events, BaseRule::LowBattery), vec![at(9, 0)]);
}

#[test]
fn dst_days_keep_local_windows() {
    // 2026-03-29: Madrid springs forward at 02:00 local. A door at 23:30 local the evening
    // before is at night; the inactivity window still starts at 07:00 local (05:00Z).
    let mut clock = ZoneClock::new(Zone::EuropeMadrid);
    let cfg = AlertConfig::default();
    let last = 1_774_738_800_000; // 2026-03-28T23:00Z = 2026-03-29T00:00 local (CET)
    let d = inactivity_deadline(&mut clock, cfg.inactivity_day, cfg.inactivity_ms, last);
    assert_eq!(d, Some(1_774_738_800_000 + 6 * HOUR + 4 * HOUR)); // 07:00 CEST = 05:00Z, +4 h
}
