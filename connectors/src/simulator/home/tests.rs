use super::*;
use crate::simulator::clock::HOUR;

/// 2026-03-02T00:00:00Z (01:00 in Madrid).
const T0: i64 = 1_772_409_600_000;

fn run(seed: u64, days: i64, rate: f64, slice: i64) -> (Devices, Vec<SimReading>, Vec<Incident>) {
    let mut devices = Devices::default();
    let end = T0 + days * DAY;
    let mut home = Household::new(seed, 0, T0, end, rate, &mut devices);
    let (mut out, mut incidents) = (Vec::new(), Vec::new());
    let mut t = T0;
    while t < end {
        t = (t + slice).min(end);
        home.generate(t, &mut out, &mut incidents);
    }
    (devices, out, incidents)
}

#[test]
fn names_values_and_order() {
    let (devices, out, _) = run(42, 3, 0.5, 60_000);
    assert_eq!(devices.name(0), "home-001-motion-bedroom");
    assert_eq!(devices.name(8), "home-001-plug-tv");
    assert!(
        out.windows(2).all(|w| w[0].ts <= w[1].ts),
        "generated in event-time order"
    );
    assert!(
        out.iter()
            .all(|r| r.pos.is_none() && r.sensor.accepts(r.value) && r.ts >= T0)
    );
    // Every device reports its status at least every ~11 min.
    let per_day = out.len() as f64 / 3.0;
    assert!(
        (1_400.0..2_600.0).contains(&per_day),
        "{per_day} readings per day"
    );
}

#[test]
fn slice_length_does_not_change_the_output() {
    let a = run(7, 2, 1.0, 60_000);
    let b = run(7, 2, 1.0, 1_000);
    let c = run(7, 2, 1.0, 3_600_000);
    assert_eq!(a.1, b.1);
    assert_eq!(a.1, c.1);
    assert_eq!(a.2, b.2);
    assert_eq!(a.2, c.2);
}

#[test]
fn incidents_leave_their_evidence() {
    let mut kinds = std::collections::BTreeSet::new();
    for seed in 0..20 {
        let (devices, out, incidents) = run(seed, 4, 2.0, 60_000);
        for inc in &incidents {
            kinds.insert(inc.kind);
            let ev = out
                .iter()
                .find(|r| {
                    r.ts == inc.start_ts && devices.name(r.device) == inc.device && r.evidence
                })
                .unwrap_or_else(|| panic!("no evidence for {inc:?}"));
            let local = Local::at(inc.start_ts, Madrid::default().offset(inc.start_ts));
            match inc.kind {
                IncidentKind::BedExitNoReturn => {
                    assert_eq!((ev.sensor, ev.value), (SensorKind::Bed, 0.0));
                    assert!(!(7.0..22.0).contains(&local.hour), "{}", local.hour);
                    let back = out.iter().any(|r| {
                        r.sensor == SensorKind::Bed
                            && r.value == 1.0
                            && r.ts > inc.start_ts
                            && r.ts <= inc.start_ts + 30 * MINUTE
                    });
                    assert!(!back, "{inc:?} back in bed within 30 min");
                }
                IncidentKind::DoorOpenNight => {
                    assert_eq!((ev.sensor, ev.value), (SensorKind::Door, 1.0));
                    assert!(local.hour < 6.0 || local.hour >= 23.0, "{}", local.hour);
                }
                IncidentKind::Inactivity => {
                    assert_eq!((ev.sensor, ev.value), (SensorKind::Motion, 1.0));
                    let moved = out.iter().any(|r| {
                        r.sensor == SensorKind::Motion
                            && r.value == 1.0
                            && r.ts > inc.start_ts
                            && r.ts <= inc.start_ts + 4 * HOUR
                    });
                    assert!(!moved, "{inc:?}");
                    assert!((7.0..18.0).contains(&local.hour));
                }
                IncidentKind::DeviceSilent => {
                    let next = out
                        .iter()
                        .find(|r| r.device == ev.device && r.ts > inc.start_ts)
                        .map(|r| r.ts);
                    assert!(
                        next.is_none_or(|t| t - inc.start_ts > 30 * MINUTE),
                        "{inc:?}"
                    );
                }
                IncidentKind::LowBattery => {
                    assert_eq!(ev.sensor, SensorKind::Battery);
                    assert!(ev.value < 15.0);
                }
            }
        }
        // Outside incidents: no low battery, no door opening at night, status every ~10 min.
        for r in &out {
            let listed = |kind| {
                incidents.iter().any(|i| {
                    i.kind == kind && i.start_ts == r.ts && devices.name(r.device) == i.device
                })
            };
            if r.sensor == SensorKind::Battery && r.value < 15.0 {
                assert!(listed(IncidentKind::LowBattery), "{r:?}");
            }
            let after_night_opening = incidents.iter().any(|i| {
                i.kind == IncidentKind::DoorOpenNight
                    && (i.start_ts..i.start_ts + 5 * MINUTE).contains(&r.ts)
            });
            if r.sensor == SensorKind::Door && r.value == 1.0 && !after_night_opening {
                let hour = Local::at(r.ts, Madrid::default().offset(r.ts)).hour;
                assert!((9.0..21.0).contains(&hour), "door opened at {hour}");
            }
        }
        for id in 0..slot::N as u32 {
            let times: Vec<i64> = out
                .iter()
                .filter(|r| r.device == id)
                .map(|r| r.ts)
                .collect();
            for w in times.windows(2) {
                let silent = incidents
                    .iter()
                    .any(|i| i.kind == IncidentKind::DeviceSilent && i.start_ts == w[0]);
                assert!(
                    w[1] - w[0] <= MAX_STATUS_GAP || silent,
                    "device {id} quiet {} ms after {}",
                    w[1] - w[0],
                    w[0]
                );
            }
        }
    }
    assert_eq!(kinds.len(), 5, "every kind occurs: {kinds:?}");
}

#[test]
fn dst_days_are_planned_in_order() {
    let mut madrid = Madrid::default();
    let mut rng = Rng::new(1, 1);
    let persona = Persona::new(&mut rng);
    for day_utc in [
        1_774_742_400_000i64, /* 2026-03-29 */
        1_792_886_400_000,    /* 2026-10-25 */
    ] {
        let day = day_utc / DAY;
        for _ in 0..50 {
            let evs = plan_day(day, &persona, &mut rng, 2.0, &mut madrid);
            assert!(evs.windows(2).all(|w| w[0].ts <= w[1].ts));
            let (first, last) = (
                madrid.utc_of_local(day * DAY),
                madrid.utc_of_local((day + 1) * DAY),
            );
            assert!(evs.iter().all(|e| (first..last).contains(&e.ts)));
        }
    }
}
