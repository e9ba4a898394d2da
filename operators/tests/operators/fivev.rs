//! Tests of the `fivev` operator in a real timely dataflow: a hand-computed window, and an
//! oracle recomputing every column from scratch under several worker counts and batch
//! sizes.

use crate::rng::Rng;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use msec_engine::metrics::Metrics;
use msec_engine::time::{coarsen, window_start};
use msec_engine::{DeadLetterReason, Interner, ReadingBatch, SensorKind};
use msec_operators::fivev::{
    Fivev, FivevBatch, FivevInputs, FivevReason, FivevRow, SourceStats, ValueEvent,
};
use msec_operators::veracity::{Flag, VeracityFlags, VeracityKind};
use msec_operators::{LogHistogram, PartitionReadings};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::{Input, Inspect, Probe};
use timely::dataflow::{InputHandle, ProbeHandle};

const WINDOW: u64 = 60_000;
/// A window boundary.
const T0: i64 = 1_700_000_040_000;

/// One input record of any of the four inputs.
#[derive(Debug, Clone)]
enum Ev {
    /// (source, device, sensor, ts, latency).
    Reading(u32, u32, SensorKind, i64, i64),
    Stats(SourceStats),
    Flag(Flag),
    Value(ValueEvent),
}

impl Ev {
    fn ts(&self) -> i64 {
        match self {
            Ev::Reading(.., ts, _) => *ts,
            Ev::Stats(s) => s.ts,
            Ev::Flag(f) => f.ts,
            Ev::Value(v) => v.ts,
        }
    }
}

/// Feeds `events` (in event-time order) to worker 0's four inputs, `chunk` at a time, each
/// chunk at the coarsened time of its first event; returns the rows in output order.
fn run(events: Vec<Ev>, interner: Arc<Interner>, workers: usize, chunk: usize) -> Vec<FivevRow> {
    let got: Arc<Mutex<Vec<FivevRow>>> = Arc::default();
    let sink = Arc::clone(&got);
    let events = Arc::new(events);
    let guards = timely::execute(timely::Config::process(workers), move |worker| {
        let index = worker.index();
        let mut readings = InputHandle::<u64, CapacityContainerBuilder<Vec<ReadingBatch>>>::new();
        let mut stats = InputHandle::<u64, CapacityContainerBuilder<Vec<SourceStats>>>::new();
        let mut flags = InputHandle::<u64, CapacityContainerBuilder<Vec<VeracityFlags>>>::new();
        let mut value = InputHandle::<u64, CapacityContainerBuilder<Vec<ValueEvent>>>::new();
        let probe = ProbeHandle::new();
        let metrics = Metrics::default();
        let sink = Arc::clone(&sink);
        let interner = Arc::clone(&interner);
        worker.dataflow::<u64, _, _>(|scope| {
            let inputs = FivevInputs {
                stats: scope.input_from(&mut stats),
                flags: scope.input_from(&mut flags),
                value: Some(scope.input_from(&mut value)),
            };
            scope
                .input_from(&mut readings)
                .partition_by_device()
                .fivev(inputs, WINDOW, interner, metrics.operator("fivev", index))
                .inspect(move |b: &FivevBatch| sink.lock().expect("lock").extend(b.0.clone()))
                .probe_with(&probe);
        });
        if index != 0 {
            return;
        }
        for part in events.chunks(chunk) {
            let t = coarsen(part[0].ts(), 1_000);
            if t > *readings.time() {
                readings.advance_to(t);
                stats.advance_to(t);
                flags.advance_to(t);
                value.advance_to(t);
            }
            let mut batches: BTreeMap<u32, ReadingBatch> = BTreeMap::new();
            let mut fl = VeracityFlags::default();
            for ev in part {
                match ev {
                    Ev::Reading(source, device, sensor, ts, latency) => batches
                        .entry(*source)
                        .or_insert_with(|| ReadingBatch::with_capacity(*source, 8))
                        .push(*device, *sensor, *ts, 1.0, None, None, ts + latency, 0),
                    Ev::Stats(s) => stats.send(s.clone()),
                    Ev::Flag(f) => fl.push(*f),
                    Ev::Value(v) => value.send(v.clone()),
                }
            }
            batches.into_values().for_each(|b| readings.send(b));
            if !fl.is_empty() {
                flags.send(fl);
            }
            while probe.less_than(readings.time()) {
                worker.step();
            }
        }
    })
    .expect("timely");
    drop(guards);
    std::mem::take(&mut *got.lock().expect("lock"))
}

/// From-scratch recomputation, rows in (window start, source name) order. Latencies stay
/// below 256 ms, where [`LogHistogram`] quantiles are exact.
fn oracle(events: &[Ev], interner: &Interner) -> Vec<FivevRow> {
    #[derive(Default)]
    struct W {
        records: u64,
        bytes: u64,
        latencies: Vec<i64>,
        sensors: BTreeSet<SensorKind>,
        devices: BTreeSet<u32>,
        schemas: BTreeSet<&'static str>,
        veracity: [u64; 6],
        value: [u64; 3],
    }
    let mut ws: BTreeMap<(i64, u32), W> = BTreeMap::new();
    let win = |ts: i64| window_start(ts, WINDOW as i64);
    for ev in events {
        match ev {
            Ev::Reading(source, device, sensor, ts, latency) => {
                let w = ws.entry((win(*ts), *source)).or_default();
                w.latencies.push((*latency).max(0));
                w.sensors.insert(*sensor);
                w.devices.insert(*device);
                w.schemas.insert("reading");
            }
            Ev::Stats(s) => {
                let w = ws.entry((win(s.ts), s.source)).or_default();
                w.records += s.records;
                w.bytes += s.bytes;
                for (n, name) in [
                    (s.readings, "reading"),
                    (s.reports, "report"),
                    (s.other, "other"),
                ] {
                    if n > 0 {
                        w.schemas.insert(name);
                    }
                }
                for (reason, n) in &s.dead_letters {
                    let r = match reason {
                        DeadLetterReason::OutOfRange => FivevReason::OutOfRange,
                        DeadLetterReason::Late => FivevReason::Late,
                        DeadLetterReason::FutureTs => FivevReason::FutureTs,
                        DeadLetterReason::Duplicate => FivevReason::Duplicate,
                        _ => FivevReason::Invalid,
                    };
                    w.veracity[r.index()] += n;
                }
            }
            Ev::Flag(f) => {
                let w = ws.entry((win(f.ts), f.source)).or_default();
                let r = match f.kind {
                    VeracityKind::Duplicate => FivevReason::Duplicate,
                    VeracityKind::Stuck => FivevReason::Stuck,
                };
                w.veracity[r.index()] += 1;
            }
            Ev::Value(v) => {
                let w = ws.entry((win(v.ts), v.source)).or_default();
                w.value[0] += v.alerts;
                w.value[1] += v.heatmap_cells;
                w.value[2] += v.datasets_sealed;
            }
        }
    }
    let mut rows: Vec<FivevRow> = ws
        .into_iter()
        .map(|((start, source), mut w)| {
            w.latencies.sort_unstable();
            let n = w.latencies.len() as u64;
            let p99 = (n > 0).then(|| w.latencies[LogHistogram::rank(0.99, n) as usize - 1]);
            FivevRow {
                source,
                window_start: start,
                records: w.records,
                bytes: w.bytes,
                readings: n,
                events_per_s: n as f64 * 1000.0 / WINDOW as f64,
                latency_p99_ms: p99,
                sensor_kinds: w.sensors.len() as u64,
                devices: w.devices.len() as u64,
                schemas: w.schemas.len() as u64,
                veracity: w.veracity,
                alerts: w.value[0],
                heatmap_cells: w.value[1],
                datasets_sealed: w.value[2],
            }
        })
        .collect();
    let name = |id: u32| interner.name(id).expect("interned");
    rows.sort_by_key(|a| (a.window_start, name(a.source)));
    rows
}

fn stats(
    source: u32,
    ts: i64,
    records: u64,
    bytes: u64,
    reports: u64,
    dead: &[(DeadLetterReason, u64)],
) -> Ev {
    Ev::Stats(SourceStats {
        source,
        ts,
        records,
        bytes,
        readings: records - reports - dead.iter().map(|d| d.1).sum::<u64>(),
        reports,
        other: 0,
        dead_letters: dead.iter().copied().collect(),
    })
}

fn flag(source: u32, kind: VeracityKind, ts: i64) -> Ev {
    Ev::Flag(Flag {
        source,
        device: 99,
        sensor: SensorKind::Noise,
        kind,
        ts,
        first_ts: ts,
        count: 2,
        offset: 1,
    })
}

fn reading(source: u32, device: u32, sensor: SensorKind, ts: i64, latency: i64) -> Ev {
    Ev::Reading(source, device, sensor, ts, latency)
}

/// A value event: (alerts, heat-map cells, datasets sealed).
fn value(source: u32, ts: i64, (alerts, heatmap_cells, datasets_sealed): (u64, u64, u64)) -> Ev {
    Ev::Value(ValueEvent {
        source,
        ts,
        alerts,
        heatmap_cells,
        datasets_sealed,
    })
}

#[test]
fn a_hand_computed_window() {
    use DeadLetterReason::*;
    let interner = Interner::shared();
    let (a, b) = (interner.intern("santander"), interner.intern("fujisawa"));
    let [d1, d2, d3] = ["d1", "d2", "d3"].map(|d| interner.intern(d));
    let events = vec![
        reading(a, d1, SensorKind::Co2, T0 + 1_000, 10),
        reading(a, d1, SensorKind::Noise, T0 + 2_000, 20),
        reading(a, d2, SensorKind::Co2, T0 + 3_000, 200),
        stats(
            a,
            T0 + 3_000,
            10,
            1_000,
            1,
            &[(Parse, 1), (UnknownSensor, 1), (OutOfRange, 2), (Late, 1)],
        ),
        reading(b, d3, SensorKind::Pm25, T0 + 4_000, 5),
        stats(b, T0 + 4_000, 1, 80, 0, &[]),
        flag(a, VeracityKind::Duplicate, T0 + 5_000),
        flag(a, VeracityKind::Stuck, T0 + 6_000),
        value(a, T0 + 7_000, (2, 5, 1)),
        // The next window: only a value event for b.
        value(b, T0 + 61_000, (1, 0, 0)),
    ];
    let rows = run(events.clone(), Arc::clone(&interner), 2, 3);
    assert_eq!(rows, oracle(&events, &interner));
    assert_eq!(rows.len(), 3);
    // Window 1: fujisawa sorts before santander.
    let (f, s, next) = (&rows[0], &rows[1], &rows[2]);
    assert_eq!(
        (f.source, f.records, f.bytes, f.readings, f.devices),
        (b, 1, 80, 1, 1)
    );
    assert_eq!(
        (s.source, s.window_start, s.records, s.bytes),
        (a, T0, 10, 1_000)
    );
    assert_eq!(
        (s.readings, s.sensor_kinds, s.devices, s.schemas),
        (3, 2, 2, 2)
    );
    assert_eq!(s.events_per_s, 3.0 / 60.0);
    assert_eq!(s.latency_p99_ms, Some(200));
    let counts: Vec<u64> = FivevReason::ALL.iter().map(|r| s.count(*r)).collect();
    assert_eq!(
        counts,
        vec![2, 2, 1, 0, 1, 1],
        "invalid, out_of_range, late, future_ts, duplicate, stuck"
    );
    assert_eq!(s.rate(FivevReason::Invalid), Some(0.2));
    assert_eq!(s.rate(FivevReason::Stuck), Some(0.1));
    assert_eq!((s.alerts, s.heatmap_cells, s.datasets_sealed), (2, 5, 1));
    assert_eq!(
        (next.source, next.window_start, next.alerts, next.records),
        (b, T0 + 60_000, 1, 0)
    );
    assert_eq!(next.rate(FivevReason::Late), None, "no records, no rate");
}

#[test]
fn equals_oracle_for_every_batch_size_and_worker_count() {
    use DeadLetterReason::*;
    let interner = Interner::shared();
    let sources: Vec<u32> = ["santander", "fujisawa", "mqtt"]
        .iter()
        .map(|n| interner.intern(n))
        .collect();
    let devices: Vec<u32> = (0..40)
        .map(|d| interner.intern(&format!("dev-{d}")))
        .collect();
    let sensors = [
        SensorKind::Co2,
        SensorKind::Noise,
        SensorKind::Pm25,
        SensorKind::Bed,
    ];
    let reasons = [
        Parse,
        MissingField,
        InvalidType,
        UnknownSensor,
        OutOfRange,
        FutureTs,
        Late,
    ];
    let mut rng = Rng(17);
    let mut ts = T0;
    let mut events = Vec::new();
    for _ in 0..8_000 {
        ts += rng.below(120) as i64;
        let source = sources[rng.below(3) as usize];
        match rng.below(20) {
            0 => {
                let dead: Vec<_> = (0..rng.below(3))
                    .map(|_| (reasons[rng.below(7) as usize], 1 + rng.below(3)))
                    .collect();
                let dead_total: u64 = dead.iter().map(|d| d.1).sum();
                let records = dead_total + rng.below(50) + 1;
                let reports = rng.below(2).min(records - dead_total);
                events.push(stats(source, ts, records, records * 90, reports, &dead));
            }
            1 => {
                let kind = if rng.below(2) == 0 {
                    VeracityKind::Duplicate
                } else {
                    VeracityKind::Stuck
                };
                events.push(flag(source, kind, ts));
            }
            2 => {
                let v = (rng.below(3), rng.below(10), rng.below(2));
                events.push(value(source, ts, v));
            }
            _ => events.push(reading(
                source,
                devices[rng.below(40) as usize],
                sensors[rng.below(4) as usize],
                ts,
                rng.below(270) as i64 - 20,
            )),
        }
    }
    let expected = oracle(&events, &interner);
    assert!(expected.len() > 20, "{} rows", expected.len());
    for (workers, chunk) in [(1, 1_000), (2, 7), (3, 256), (4, 8_000)] {
        let got = run(events.clone(), Arc::clone(&interner), workers, chunk);
        assert_eq!(got, expected, "workers {workers}, chunk {chunk}");
    }
}
