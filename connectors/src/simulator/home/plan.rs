//! One local day of a household's life, planned in advance: the routine and the incidents.
//!
//! Times are minutes after local midnight (Europe/Madrid). The routine: asleep until ~07:30
//! (never before 07:10, so a morning bed exit is never "at night"), often one short bathroom
//! visit at night (5–15 min), breakfast with the kettle, an outing on some days (10:00–12:00
//! for 1–2.5 h), lunch, a quiet siesta, dinner, television for 1.5–2.5 h, bed between 22:15
//! and 23:45. Motion gaps while awake are at most an hour.
//!
//! Incidents (at most one at night and one by day):
//! * `bed_exit_no_return` — at 01:30–05:00 the bed empties and stays empty 40–90 min;
//! * `door_open_night` — at 01:00–05:00 the entrance door opens for 0.5–4 min (back in bed
//!   within 15 min, so not also a bed exit);
//! * `inactivity` — from 10:00–13:00, no motion anywhere for 4.5–5.5 h (no outing that day);
//! * `device_silent` — at 09:00–19:00 a device (plug, door, or hall/bathroom/bedroom motion)
//!   sends one last status report, then nothing for 45–120 min;
//! * `low_battery` — at 08:00–20:00 a battery-powered device reports 5–14 %.

use super::super::IncidentKind;
use super::super::clock::{DAY, MINUTE, Madrid};
use super::super::rng::Rng;
use super::{Act, Ev, slot};

/// A household's habits, fixed for the whole run.
#[derive(Debug, Clone)]
pub(crate) struct Persona {
    wake: f64,
    bed: f64,
    outing_p: f64,
    night_visit_p: f64,
    pub kettle_w: f64,
    pub tv_w: f64,
}

impl Persona {
    pub fn new(rng: &mut Rng) -> Self {
        Self {
            wake: rng.uniform(445.0, 475.0),
            bed: rng.uniform(1360.0, 1400.0),
            outing_p: rng.uniform(0.3, 0.7),
            night_visit_p: rng.uniform(0.4, 0.9),
            kettle_w: rng.uniform(1800.0, 2200.0).round(),
            tv_w: rng.uniform(70.0, 130.0).round(),
        }
    }
}

/// An action at a local time, before conversion to UTC.
enum Planned {
    Motion,
    Set(f64),
    /// Silent until this many local minutes.
    Silence(f64),
    BatteryLow(f64),
}

struct Day<'r> {
    rng: &'r mut Rng,
    evs: Vec<(f64, u8, Planned, Option<IncidentKind>)>,
}

impl Day<'_> {
    fn at(&mut self, min: f64, slot: u8, act: Planned) {
        self.evs.push((min, slot, act, None));
    }

    fn incident(&mut self, min: f64, slot: u8, act: Planned, kind: IncidentKind) {
        self.evs.push((min, slot, act, Some(kind)));
    }

    fn motion(&mut self, min: f64, room: u8) {
        self.at(min, room, Planned::Motion);
    }

    /// Motion in `room` every ~`gap` minutes (exponential, 0.3–60 min) in `(from, to)`.
    fn stay(&mut self, room: u8, from: f64, to: f64, gap: f64) {
        let mut t = from;
        loop {
            t += self.rng.exp(gap).clamp(0.3, 60.0);
            if t >= to {
                break;
            }
            self.motion(t, room);
        }
    }

    /// Ordinary time at home: mostly the living room, some kitchen, bathroom and hall.
    fn wander(&mut self, from: f64, to: f64) {
        let mut t = from;
        loop {
            t += self.rng.exp(6.0).clamp(0.3, 60.0);
            if t >= to {
                break;
            }
            let room = match self.rng.below(20) {
                0..13 => slot::LIVING,
                13..17 => slot::KITCHEN,
                17..19 => slot::BATHROOM,
                _ => slot::HALL,
            };
            self.motion(t, room);
        }
    }
}

/// Plans local day `day` (days since 1970-01-01 on the Madrid wall clock). Returns the events
/// sorted by UTC time, all within the day.
pub(crate) fn plan_day(
    day: i64,
    p: &Persona,
    rng: &mut Rng,
    incident_rate: f64,
    madrid: &mut Madrid,
) -> Vec<Ev> {
    use slot::*;
    let weekday = (day + 3).rem_euclid(7);
    let wake = (p.wake + 10.0 * rng.normal()).clamp(430.0, 495.0);
    let bedtime = (p.bed + 15.0 * rng.normal()).clamp(1335.0, 1425.0);
    let night = rng.chance(0.4 * incident_rate).then(|| {
        if rng.chance(0.5) {
            IncidentKind::BedExitNoReturn
        } else {
            IncidentKind::DoorOpenNight
        }
    });
    let by_day = rng.chance(0.6 * incident_rate).then(|| match rng.below(3) {
        0 => IncidentKind::Inactivity,
        1 => IncidentKind::DeviceSilent,
        _ => IncidentKind::LowBattery,
    });
    let night_visit = rng.chance(p.night_visit_p);
    let mut d = Day {
        rng,
        evs: Vec::with_capacity(512),
    };

    // Night.
    match night {
        Some(IncidentKind::BedExitNoReturn) => {
            let n = d.rng.uniform(90.0, 300.0);
            let away = d.rng.uniform(40.0, 90.0);
            d.incident(n, BED, Planned::Set(0.0), IncidentKind::BedExitNoReturn);
            d.motion(n + 0.3, BEDROOM);
            d.motion(n + 0.8, HALL);
            d.stay(LIVING, n + 1.0, n + away - 2.0, 8.0);
            d.motion(n + away - 1.0, HALL);
            d.motion(n + away - 0.6, BEDROOM);
            d.at(n + away, BED, Planned::Set(1.0));
        }
        Some(_) => {
            let n = d.rng.uniform(60.0, 300.0);
            let open = d.rng.uniform(0.5, 4.0);
            d.at(n, BED, Planned::Set(0.0));
            d.motion(n + 0.4, BEDROOM);
            d.motion(n + 1.0, HALL);
            d.incident(
                n + 2.0,
                DOOR,
                Planned::Set(1.0),
                IncidentKind::DoorOpenNight,
            );
            d.at(n + 2.0 + open, DOOR, Planned::Set(0.0));
            d.motion(n + 2.3 + open, HALL);
            d.motion(n + 3.5 + open, BEDROOM);
            d.at(n + 4.5 + open, BED, Planned::Set(1.0));
        }
        None if night_visit => {
            let n = d.rng.uniform(90.0, 330.0);
            let away = d.rng.uniform(5.0, 15.0);
            d.at(n, BED, Planned::Set(0.0));
            d.motion(n + 0.3, BEDROOM);
            d.motion(n + 0.8, HALL);
            d.motion(n + 1.2, BATHROOM);
            d.stay(BATHROOM, n + 1.2, n + away - 1.5, 1.5);
            d.motion(n + away - 1.0, HALL);
            d.motion(n + away - 0.5, BEDROOM);
            d.at(n + away, BED, Planned::Set(1.0));
        }
        None => {}
    }

    // Morning.
    d.at(wake, BED, Planned::Set(0.0));
    d.motion(wake + 0.5, BEDROOM);
    d.motion(wake + 1.5, HALL);
    d.motion(wake + 2.5, BATHROOM);
    d.stay(BATHROOM, wake + 2.5, wake + 15.0, 2.0);
    d.motion(wake + 16.0, KITCHEN);
    d.stay(KITCHEN, wake + 16.0, wake + 45.0, 3.0);
    d.at(wake + 20.0, KETTLE, Planned::Set(p.kettle_w));
    d.at(wake + 23.5, KETTLE, Planned::Set(0.0));

    // Day: an outing, or an inactivity incident, or neither.
    let inactive = (by_day == Some(IncidentKind::Inactivity))
        .then(|| (d.rng.uniform(600.0, 780.0), d.rng.uniform(270.0, 330.0)));
    let outing_p = if weekday >= 5 {
        (p.outing_p * 1.2).min(1.0)
    } else {
        p.outing_p
    };
    let outing = (inactive.is_none() && d.rng.chance(outing_p))
        .then(|| (d.rng.uniform(600.0, 720.0), d.rng.uniform(60.0, 150.0)));
    let mut lunch = d.rng.uniform(810.0, 870.0);
    match outing {
        Some((out, dur)) => {
            d.wander(wake + 45.0, out - 2.0);
            d.motion(out - 2.0, HALL);
            d.at(out, DOOR, Planned::Set(1.0));
            d.at(out + 0.3, DOOR, Planned::Set(0.0));
            let back = out + dur;
            d.at(back, DOOR, Planned::Set(1.0));
            d.at(back + 0.3, DOOR, Planned::Set(0.0));
            d.motion(back + 0.6, HALL);
            lunch = lunch.max(back + 5.0);
            d.wander(back + 1.0, lunch);
        }
        None => d.wander(wake + 45.0, lunch),
    }
    d.motion(lunch, KITCHEN);
    d.stay(KITCHEN, lunch, lunch + 40.0, 3.0);
    if inactive.is_none() && d.rng.chance(0.4) {
        d.at(lunch + 30.0, KETTLE, Planned::Set(p.kettle_w));
        d.at(lunch + 33.0, KETTLE, Planned::Set(0.0));
    }
    let dinner = d.rng.uniform(1230.0, 1260.0);
    d.wander(lunch + 40.0, 930.0);
    d.stay(LIVING, 930.0_f64.max(lunch + 40.0), 1000.0, 25.0);
    d.wander(1000.0, dinner);
    d.motion(dinner, KITCHEN);
    d.stay(KITCHEN, dinner, dinner + 30.0, 3.0);

    // Evening: television, then bed.
    let tv_on = dinner + 35.0;
    let tv_off = (tv_on + d.rng.uniform(90.0, 150.0)).min(bedtime - 15.0);
    d.motion(tv_on - 0.5, LIVING);
    d.at(tv_on, TV, Planned::Set(p.tv_w));
    d.stay(LIVING, tv_on, tv_off, 15.0);
    d.at(tv_off, TV, Planned::Set(0.5));
    d.wander(tv_off, bedtime - 12.0);
    d.motion(bedtime - 12.0, BATHROOM);
    d.stay(BATHROOM, bedtime - 12.0, bedtime - 4.0, 2.0);
    d.motion(bedtime - 3.0, HALL);
    d.motion(bedtime - 2.0, BEDROOM);
    d.at(bedtime, BED, Planned::Set(1.0));

    // Day incidents.
    match by_day {
        Some(IncidentKind::Inactivity) => {
            if let Some((start, gap)) = inactive {
                d.evs.retain(|e| {
                    !(matches!(e.2, Planned::Motion) && e.0 >= start && e.0 <= start + gap)
                });
                d.incident(start, LIVING, Planned::Motion, IncidentKind::Inactivity);
                d.motion(start + gap, LIVING);
            }
        }
        Some(IncidentKind::DeviceSilent) => {
            let device = [KETTLE, TV, DOOR, HALL, BATHROOM, BEDROOM][d.rng.below(6) as usize];
            let start = d.rng.uniform(540.0, 1140.0);
            let until = start + d.rng.uniform(45.0, 120.0);
            d.incident(
                start,
                device,
                Planned::Silence(until),
                IncidentKind::DeviceSilent,
            );
        }
        Some(_) => {
            let device = d.rng.below(u64::from(BED) + 1) as u8;
            let start = d.rng.uniform(480.0, 1200.0);
            let level = d.rng.uniform(5.0, 14.0).round();
            d.incident(
                start,
                device,
                Planned::BatteryLow(level),
                IncidentKind::LowBattery,
            );
        }
        None => {}
    }

    // Convert in order of local time: the conversion is monotone, so the events come out
    // sorted by UTC time too, with ties (the spring-forward gap) in their local order.
    d.evs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let midnight = day * DAY;
    let mut to_utc =
        |min: f64| madrid.utc_of_local(midnight + (min.clamp(0.0, 1439.99) * MINUTE as f64) as i64);
    let mut evs: Vec<Ev> = d
        .evs
        .into_iter()
        .map(|(min, slot, act, incident)| Ev {
            ts: to_utc(min),
            slot,
            act: match act {
                Planned::Motion => Act::Motion,
                Planned::Set(v) => Act::Set(v),
                Planned::Silence(until) => Act::Silence {
                    until: to_utc(until),
                },
                Planned::BatteryLow(v) => Act::BatteryLow(v),
            },
            incident,
        })
        .collect();
    evs.sort_by_key(|e| e.ts); // already sorted; kept as a guard, stable
    evs
}
