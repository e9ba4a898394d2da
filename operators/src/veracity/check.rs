//! The exact core of the veracity operator, free of timely: given every reading with event
//! time below a bound that has not been checked yet, decide which are duplicates and which
//! complete a stuck run ([`Checker::check`]).
//!
//! The operator calls it once per frontier step with the readings the frontier has passed.
//! Readings arrive at or above their batch's time, so no reading below the frontier can
//! arrive any more: a step holds *every* copy of each of its (device, sensor, ts) keys, and
//! successive steps cover increasing, disjoint event-time ranges. Hence
//!
//! * duplicates are found within one step, with no key set kept between steps;
//! * within a key, copies are ordered by (value in IEEE total order, offset, source name,
//!   then the remaining fields): the first is kept whatever the arrival order, batch sizes or
//!   worker count;
//! * the stuck check sees each (device, sensor)'s kept readings in event-time order, across
//!   steps, and carries one small run record per (device, sensor) between steps.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use msec_engine::intern::NameKeys;
use msec_engine::{Interner, SensorKind};

use super::config::VeracityConfig;

/// A reading waiting for the frontier, with the timely time of the batch it came in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Held {
    /// Timely time of the batch it arrived in (`≤ ts`), the last tie-breaker.
    pub time: u64,
    /// Interned source id.
    pub source: u32,
    /// Interned device id.
    pub device: u32,
    /// Sensor kind.
    pub sensor: SensorKind,
    /// Event time, epoch ms.
    pub ts: i64,
    /// Value.
    pub value: f64,
    /// Latitude or NaN.
    pub lat: f64,
    /// Longitude or NaN.
    pub lon: f64,
    /// Ingest time, epoch ms.
    pub ingest_ts: i64,
    /// Source position.
    pub offset: u64,
}

/// A removed copy: `copy` repeats the key of `kept`; it is copy number `number` (≥ 2).
#[derive(Debug, Clone, Copy)]
pub(super) struct Duplicate {
    /// The removed reading.
    pub copy: Held,
    /// The reading kept for the key.
    pub kept: Held,
    /// 2 for the first extra copy, 3 for the next, …
    pub number: u64,
}

/// A run of identical values that reached the configured length at reading `at`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Stuck {
    /// The reading that made the run reach its length.
    pub at: Held,
    /// Event time of the run's first reading.
    pub first_ts: i64,
    /// The run's length when flagged (the configured length).
    pub len: u64,
}

/// The outcome of one step.
#[derive(Debug, Default)]
pub(super) struct Verdicts {
    /// Readings kept, sorted by (device, sensor, ts).
    pub kept: Vec<Held>,
    /// Removed copies.
    pub duplicates: Vec<Duplicate>,
    /// Stuck runs found.
    pub stuck: Vec<Stuck>,
}

impl Verdicts {
    /// Empties every list, keeping their memory.
    pub fn clear(&mut self) {
        self.kept.clear();
        self.duplicates.clear();
        self.stuck.clear();
    }
}

/// The current run of one (device, sensor).
#[derive(Debug, Clone, Copy)]
struct Run {
    value: f64,
    first_ts: i64,
    len: u64,
}

/// Duplicate and stuck checks (see the module doc).
#[derive(Debug)]
pub(super) struct Checker {
    stuck_run: u64,
    exempt: u64,
    runs: HashMap<u64, Run, ahash::RandomState>,
    names: NameKeys,
}

impl Checker {
    /// A checker with `cfg`'s parameters; `interner` orders sources by name.
    pub fn new(cfg: &VeracityConfig, interner: Arc<Interner>) -> Self {
        Self {
            stuck_run: cfg.stuck_run.max(2),
            exempt: cfg.exempt_mask(),
            runs: HashMap::default(),
            names: NameKeys::new(interner),
        }
    }

    /// Checks one step's readings (sorting `ready`), appending the outcome to `out`.
    pub fn check(&mut self, ready: &mut [Held], out: &mut Verdicts) {
        let names = &mut self.names;
        ready.sort_unstable_by(|a, b| {
            (a.device, a.sensor, a.ts)
                .cmp(&(b.device, b.sensor, b.ts))
                .then_with(|| tie(a, b, names))
        });
        let mut i = 0;
        while i < ready.len() {
            let kept = ready[i];
            let mut j = i + 1;
            while j < ready.len()
                && (ready[j].device, ready[j].sensor, ready[j].ts)
                    == (kept.device, kept.sensor, kept.ts)
            {
                out.duplicates.push(Duplicate {
                    copy: ready[j],
                    kept,
                    number: (j - i + 1) as u64,
                });
                j += 1;
            }
            out.kept.push(kept);
            if let Some(stuck) = self.stuck(&kept) {
                out.stuck.push(stuck);
            }
            i = j;
        }
    }

    /// Extends the run of `r`'s (device, sensor) with `r`, in event-time order.
    fn stuck(&mut self, r: &Held) -> Option<Stuck> {
        if self.exempt & (1u64 << r.sensor.code()) != 0 {
            return None;
        }
        let key = (u64::from(r.device) << 8) | u64::from(r.sensor.code());
        let run = self.runs.entry(key).or_insert(Run {
            value: r.value,
            first_ts: r.ts,
            len: 0,
        });
        // `==`, not bits: 0.0 and -0.0 are the same reading.
        if run.len > 0 && run.value == r.value {
            run.len += 1;
        } else {
            *run = Run {
                value: r.value,
                first_ts: r.ts,
                len: 1,
            };
        }
        (run.len == self.stuck_run).then_some(Stuck {
            at: *r,
            first_ts: run.first_ts,
            len: run.len,
        })
    }
}

/// Orders copies of one key: value (IEEE total order), offset, source name, then the
/// remaining fields, so that only truly identical records tie.
fn tie(a: &Held, b: &Held, names: &mut NameKeys) -> Ordering {
    a.value
        .total_cmp(&b.value)
        .then(a.offset.cmp(&b.offset))
        .then_with(|| names.cmp(a.source, b.source))
        .then(a.lat.total_cmp(&b.lat))
        .then(a.lon.total_cmp(&b.lon))
        .then(a.ingest_ts.cmp(&b.ingest_ts))
        .then(a.time.cmp(&b.time))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(device: u32, sensor: SensorKind, ts: i64, value: f64, offset: u64) -> Held {
        Held {
            time: 0,
            source: 0,
            device,
            sensor,
            ts,
            value,
            lat: f64::NAN,
            lon: f64::NAN,
            ingest_ts: 0,
            offset,
        }
    }

    fn checker(n: u64) -> Checker {
        Checker::new(
            &VeracityConfig::default().with_stuck_run(n),
            Interner::shared(),
        )
    }

    #[test]
    fn keeps_the_smallest_copy_whatever_the_order() {
        let a = held(1, SensorKind::Co2, 10, 500.0, 9);
        let b = held(1, SensorKind::Co2, 10, 400.0, 3);
        let c = held(1, SensorKind::Co2, 10, 400.0, 5);
        for mut order in [vec![a, b, c], vec![c, b, a], vec![b, a, c]] {
            let mut out = Verdicts::default();
            checker(10).check(&mut order, &mut out);
            assert_eq!(
                out.kept.iter().map(|r| r.offset).collect::<Vec<_>>(),
                vec![b.offset]
            );
            let removed: Vec<_> = out
                .duplicates
                .iter()
                .map(|d| (d.copy.offset, d.number))
                .collect();
            assert_eq!(removed, vec![(5, 2), (9, 3)]);
        }
    }

    #[test]
    fn flags_a_run_once_when_it_reaches_n_across_steps() {
        let mut ch = checker(3);
        let mut out = Verdicts::default();
        let mut step1: Vec<_> = (0..2)
            .map(|t| held(1, SensorKind::Noise, t, 5.0, 0))
            .collect();
        ch.check(&mut step1, &mut out);
        assert!(out.stuck.is_empty(), "a run of N−1 is not stuck");
        let mut step2: Vec<_> = (2..6)
            .map(|t| held(1, SensorKind::Noise, t, -0.0 + 5.0, 0))
            .collect();
        ch.check(&mut step2, &mut out);
        assert_eq!(out.stuck.len(), 1, "one flag per run");
        assert_eq!(
            (out.stuck[0].first_ts, out.stuck[0].at.ts, out.stuck[0].len),
            (0, 2, 3)
        );
        let mut exempt: Vec<_> = (0..20)
            .map(|t| held(2, SensorKind::Bed, t, 0.0, 0))
            .collect();
        ch.check(&mut exempt, &mut out);
        assert_eq!(out.stuck.len(), 1, "bed is exempt");
    }
}
