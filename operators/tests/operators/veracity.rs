//! Tests of the veracity operator in a real timely dataflow: duplicates removed exactly once
//! and the same copies dead-lettered under every arrival order within the lateness bound,
//! batch size and worker count tried (an oracle recomputes everything from scratch); stuck
//! runs flagged once at length N, never below N, never for exempt kinds.

use crate::rng::Rng;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use msec_engine::metrics::Metrics;
use msec_engine::time::{Arrival, WatermarkTracker, coarsen};
use msec_engine::{DeadLetter, Interner, ReadingBatch, SensorKind};
use msec_operators::PartitionReadings;
use msec_operators::veracity::{
    DeadLetterRows, OrderDeadLetters, OrderFlags, Veracity, VeracityConfig, VeracityFlags,
    VeracityKind, VeracityTotals,
};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::{Input, Inspect, Probe};
use timely::dataflow::{InputHandle, ProbeHandle};

const LATENESS: u64 = 5_000;
const T0: i64 = 1_700_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq)]
struct R {
    device: u32,
    sensor: SensorKind,
    ts: i64,
    value: f64,
    offset: u64,
}

const SENSORS: [SensorKind; 3] = [SensorKind::Noise, SensorKind::Co2, SensorKind::Motion];

/// Readings in event-time order with sticky values (long runs) and ~8 % extra copies, some
/// with a different value. Offsets are unique. Devices are ids `1..=devices`.
fn readings(seed: u64, n: usize, devices: u32) -> Vec<R> {
    let mut rng = Rng(seed);
    let mut last: BTreeMap<(u32, SensorKind), f64> = BTreeMap::new();
    let mut ts = T0;
    let mut out = Vec::new();
    for _ in 0..n {
        ts += rng.below(200) as i64;
        let device = 1 + rng.below(u64::from(devices)) as u32;
        let sensor = SENSORS[rng.below(3) as usize];
        let prev = last.get(&(device, sensor)).copied();
        let value = match prev {
            Some(v) if rng.below(100) < 85 => v,
            _ => rng.below(3) as f64,
        };
        last.insert((device, sensor), value);
        let offset = out.len() as u64 + 1;
        out.push(R {
            device,
            sensor,
            ts,
            value,
            offset,
        });
        if rng.below(100) < 8 {
            for _ in 0..1 + rng.below(2) {
                let value = if rng.below(2) == 0 {
                    value
                } else {
                    value + 0.5
                };
                let offset = out.len() as u64 + 1;
                out.push(R {
                    device,
                    sensor,
                    ts,
                    value,
                    offset,
                });
            }
        }
    }
    out
}

/// Emits with bounded disorder: sorted by ts + delay, delay ≤ `disorder`.
fn disorder(rs: &[R], seed: u64, disorder: u64) -> Vec<R> {
    let mut rng = Rng(seed);
    let mut keyed: Vec<(i64, usize, R)> = rs
        .iter()
        .enumerate()
        .map(|(i, r)| (r.ts + rng.below(disorder + 1) as i64, i, *r))
        .collect();
    keyed.sort_by_key(|(k, i, _)| (*k, *i));
    keyed.into_iter().map(|(_, _, r)| r).collect()
}

/// (kept readings as (device, sensor, ts, value bits, offset), dead letters as (device,
/// sensor, ts, reason, offset), flags as (device, sensor, ts, kind, first_ts, count)).
#[derive(Debug, PartialEq, Default)]
struct Outcome {
    kept: BTreeSet<(u32, SensorKind, i64, u64, u64)>,
    dead: BTreeSet<(u32, SensorKind, i64, &'static str, u64)>,
    flags: BTreeSet<(u32, SensorKind, i64, VeracityKind, i64, u64)>,
}

/// From-scratch recomputation.
fn oracle(rs: &[R], cfg: &VeracityConfig) -> Outcome {
    let mut groups: BTreeMap<(u32, SensorKind, i64), Vec<R>> = BTreeMap::new();
    for r in rs {
        groups
            .entry((r.device, r.sensor, r.ts))
            .or_default()
            .push(*r);
    }
    let mut out = Outcome::default();
    let mut runs: BTreeMap<(u32, SensorKind), (f64, i64, u64)> = BTreeMap::new();
    for ((device, sensor, ts), mut copies) in groups {
        copies.sort_by(|a, b| a.value.total_cmp(&b.value).then(a.offset.cmp(&b.offset)));
        let kept = copies[0];
        out.kept
            .insert((device, sensor, ts, kept.value.to_bits(), kept.offset));
        for (i, c) in copies.iter().enumerate().skip(1) {
            out.dead.insert((device, sensor, ts, "duplicate", c.offset));
            out.flags.insert((
                device,
                sensor,
                ts,
                VeracityKind::Duplicate,
                ts,
                i as u64 + 1,
            ));
        }
        if cfg.stuck_exempt.contains(&sensor) {
            continue;
        }
        let run = runs.entry((device, sensor)).or_insert((kept.value, ts, 0));
        if run.2 > 0 && run.0 == kept.value {
            run.2 += 1;
        } else {
            *run = (kept.value, ts, 1);
        }
        if run.2 == cfg.stuck_run {
            out.flags
                .insert((device, sensor, ts, VeracityKind::Stuck, run.1, run.2));
        }
    }
    out
}

/// Runs `partition_by_device → veracity` like `msec run` drives it.
fn stream(
    input: Vec<R>,
    batch_rows: usize,
    workers: usize,
    cfg: VeracityConfig,
) -> (Outcome, Vec<DeadLetterRows>) {
    let interner = Interner::shared();
    let source = interner.intern("veracity.jsonl");
    for d in 0..=64 {
        interner.intern(&format!("dev-{d:02}"));
    }
    let got: Arc<Mutex<(Outcome, Vec<DeadLetterRows>)>> = Arc::default();
    let sink = Arc::clone(&got);
    let by_offset: BTreeMap<u64, R> = input.iter().map(|r| (r.offset, *r)).collect();
    let input = Arc::new(input);
    let totals = VeracityTotals::default();
    let worker_totals = totals.clone();
    let guards = timely::execute(timely::Config::process(workers), move |worker| {
        let index = worker.index();
        let mut handle = InputHandle::<u64, CapacityContainerBuilder<Vec<ReadingBatch>>>::new();
        let probe = ProbeHandle::new();
        let metrics = Metrics::default();
        let (s1, s2, s3) = (Arc::clone(&sink), Arc::clone(&sink), Arc::clone(&sink));
        let interner = Arc::clone(&interner);
        worker.dataflow::<u64, _, _>(|scope| {
            let out = scope
                .input_from(&mut handle)
                .partition_by_device()
                .veracity(
                    &cfg,
                    Arc::clone(&interner),
                    metrics.operator("veracity", index),
                    worker_totals.clone(),
                );
            out.readings
                .inspect_core(move |event| {
                    let Ok((stamp, batches)) = event else { return };
                    let time = *stamp.least().expect("time") as i64;
                    let mut g = s1.lock().expect("lock");
                    for b in batches {
                        for i in 0..b.len() {
                            assert!(b.ts[i] >= time, "readings keep ts ≥ their time");
                            g.0.kept.insert((
                                b.device[i],
                                b.sensor[i],
                                b.ts[i],
                                b.value[i].to_bits(),
                                b.offset[i],
                            ));
                        }
                    }
                })
                .probe_with(&probe);
            out.dead_letters
                .order_dead_letters()
                .inspect(move |rows: &DeadLetterRows| s2.lock().expect("lock").1.push(rows.clone()))
                .probe_with(&probe);
            out.flags
                .order_flags(Arc::clone(&interner))
                .inspect(move |f: &VeracityFlags| {
                    let mut g = s3.lock().expect("lock");
                    for i in 0..f.len() {
                        let f = f.get(i);
                        g.0.flags
                            .insert((f.device, f.sensor, f.ts, f.kind, f.first_ts, f.count));
                    }
                })
                .probe_with(&probe);
        });
        if index != 0 {
            return;
        }
        let mut wm = WatermarkTracker::new(LATENESS);
        for chunk in input.chunks(batch_rows) {
            let mut batch = ReadingBatch::with_capacity(source, chunk.len());
            for r in chunk {
                assert_eq!(wm.observe(r.ts), Arrival::OnTime, "within lateness");
                let (ingest, off) = (r.ts + 7, r.offset);
                batch.push(r.device, r.sensor, r.ts, r.value, None, None, ingest, off);
            }
            handle.send(batch);
            if let Some(w) = wm.watermark() {
                let t = coarsen(w, 1_000);
                if t > *handle.time() {
                    handle.advance_to(t);
                }
            }
            while probe.less_than(handle.time()) {
                worker.step();
            }
        }
    })
    .expect("timely");
    drop(guards);
    let mut g = got.lock().expect("lock");
    let dead_rows = std::mem::take(&mut g.1);
    let mut outcome = std::mem::take(&mut g.0);
    for d in dead_rows.iter().flat_map(|b| &b.0) {
        let r = by_offset[&d.offset];
        let raw = String::from_utf8_lossy(&d.raw);
        let device = format!("\"device\":\"dev-{:02}\"", r.device - 1);
        assert!(
            raw.contains(&device) && raw.contains(r.sensor.name()),
            "{raw}"
        );
        assert!(d.detail.contains("kept is veracity.jsonl:"), "{}", d.detail);
        assert_eq!((&*d.source, d.ts), ("veracity.jsonl", Some(r.ts)));
        let reason = d.reason.as_str();
        outcome
            .dead
            .insert((r.device, r.sensor, r.ts, reason, d.offset));
    }
    // The shared per-source counters saw every flag once, summed over workers.
    let flags = |k: VeracityKind| outcome.flags.iter().filter(|f| f.3 == k).count() as u64;
    for kind in VeracityKind::ALL {
        assert_eq!(totals.get(source, kind), flags(kind), "{kind:?}");
    }
    (outcome, dead_rows)
}

#[test]
fn duplicates_and_stuck_runs_are_exact_for_every_order_batch_size_and_worker_count() {
    // Devices 1..=20 are interned as dev-00..dev-19 (ids shifted by the source's id 0).
    let base = readings(3, 6_000, 20);
    let cfg = VeracityConfig::default();
    let expected = oracle(&base, &cfg);
    let dups = expected.dead.len();
    let stuck = expected
        .flags
        .iter()
        .filter(|f| f.3 == VeracityKind::Stuck)
        .count();
    assert!(
        dups > 300 && stuck > 20,
        "a meaningful test: {dups} duplicates, {stuck} stuck"
    );
    assert_eq!(expected.kept.len() + dups, base.len());
    let mut first_dead: Option<Vec<DeadLetter>> = None;
    for (seed, batch_rows, workers) in [
        (1, 1_000, 1),
        (2, 7, 1),
        (3, 500, 2),
        (4, 333, 4),
        (5, 6_000, 4),
        (6, 64, 2),
    ] {
        let shuffled = disorder(&base, seed, LATENESS);
        let (got, dead_rows) = stream(shuffled, batch_rows, workers, cfg.clone());
        assert_eq!(
            got.kept, expected.kept,
            "kept: seed {seed}, batch {batch_rows}, workers {workers}"
        );
        assert_eq!(
            got.dead, expected.dead,
            "dead: seed {seed}, batch {batch_rows}, workers {workers}"
        );
        assert_eq!(
            got.flags, expected.flags,
            "flags: seed {seed}, batch {batch_rows}, workers {workers}"
        );
        // The ordered dead letters are the same rows in the same order, ingest time aside.
        let flat: Vec<_> = dead_rows.into_iter().flat_map(|b| b.0).collect();
        match &first_dead {
            None => first_dead = Some(flat),
            Some(first) => assert_eq!(first, &flat, "seed {seed}"),
        }
    }
}

/// One (device, sensor) with `n` identical values, then a different one.
fn run_of(device: u32, sensor: SensorKind, n: usize, t: i64) -> Vec<R> {
    (0..=n)
        .map(|i| R {
            device,
            sensor,
            ts: t + i as i64 * 1_000,
            value: if i < n { 42.0 } else { 41.0 },
            offset: (device as u64) * 1_000 + i as u64 + 1,
        })
        .collect()
}

#[test]
fn stuck_is_flagged_once_at_n_never_below_never_for_exempt_kinds() {
    let n = 10;
    let mut rs = Vec::new();
    rs.extend(run_of(1, SensorKind::Noise, n - 1, T0)); // N − 1: not stuck
    rs.extend(run_of(2, SensorKind::Noise, n, T0)); // exactly N: one flag
    rs.extend(run_of(3, SensorKind::Co2, 3 * n, T0)); // 3N: still one flag
    rs.extend(run_of(4, SensorKind::Motion, 5 * n, T0)); // exempt
    rs.extend(run_of(5, SensorKind::Bed, 5 * n, T0)); // exempt
    rs.extend(run_of(6, SensorKind::Door, 5 * n, T0)); // exempt
    rs.sort_by_key(|r| (r.ts, r.offset));
    for (workers, batch_rows) in [(1, 5), (3, 17)] {
        let (got, _) = stream(
            disorder(&rs, 9, 3_000),
            batch_rows,
            workers,
            VeracityConfig::default(),
        );
        let stuck: Vec<_> = got
            .flags
            .iter()
            .filter(|f| f.3 == VeracityKind::Stuck)
            .collect();
        assert_eq!(
            stuck,
            vec![
                &(
                    2,
                    SensorKind::Noise,
                    T0 + (n as i64 - 1) * 1_000,
                    VeracityKind::Stuck,
                    T0,
                    n as u64
                ),
                &(
                    3,
                    SensorKind::Co2,
                    T0 + (n as i64 - 1) * 1_000,
                    VeracityKind::Stuck,
                    T0,
                    n as u64
                ),
            ],
            "workers {workers}"
        );
        assert_eq!(got.kept.len(), rs.len(), "stuck readings are kept");
        assert!(got.dead.is_empty());
    }
    // With no exemptions, binary sensors are checked like any other.
    let cfg = VeracityConfig::default().with_stuck_exempt([]);
    let (got, _) = stream(rs.clone(), 50, 2, cfg);
    assert_eq!(got.flags.len(), 5);
}
