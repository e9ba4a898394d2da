//! Oracle test of `TumblingAggregate`: the streaming result, under every arrival order within
//! the lateness bound, batch size and worker count tried, equals a from-scratch recomputation.

use crate::rng::Rng;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use msec_engine::metrics::Metrics;
use msec_engine::time::{Arrival, WatermarkTracker, coarsen, window_start};
use msec_engine::{ReadingBatch, SensorKind};
use msec_operators::window::ExactSum;
use msec_operators::{AggBatch, PartitionReadings, TumblingAggregate};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::{Input, Inspect, Probe};
use timely::dataflow::{InputHandle, ProbeHandle};

const WINDOW: i64 = 60_000;
const LATENESS: u64 = 5_000;

#[derive(Debug, Clone, Copy)]
struct Reading {
    device: u32,
    sensor: SensorKind,
    ts: i64,
    value: f64,
}

/// Readings in event-time order over ~10 minutes, 30 devices, 3 sensors.
fn readings(seed: u64, n: usize) -> Vec<Reading> {
    let mut rng = Rng(seed);
    let sensors = [SensorKind::Temperature, SensorKind::Co2, SensorKind::Noise];
    let mut ts = 1_700_000_000_000i64;
    (0..n)
        .map(|_| {
            ts += rng.below(300) as i64;
            Reading {
                device: rng.below(30) as u32,
                sensor: sensors[rng.below(3) as usize],
                ts,
                value: (rng.below(1_000_000) as f64) / 997.0 - 200.0,
            }
        })
        .collect()
}

/// Emits with bounded disorder: sorted by ts + delay, delay ≤ `disorder`.
fn disorder(mut rs: Vec<Reading>, seed: u64, disorder: u64) -> Vec<Reading> {
    let mut rng = Rng(seed);
    let mut keyed: Vec<(i64, usize, Reading)> = rs
        .drain(..)
        .enumerate()
        .map(|(i, r)| (r.ts + rng.below(disorder + 1) as i64, i, r))
        .collect();
    keyed.sort_by_key(|(k, i, _)| (*k, *i));
    keyed.into_iter().map(|(_, _, r)| r).collect()
}

type Row = (u32, SensorKind, i64, u64, u64, u64, u64); // device, sensor, start, count, min bits, max bits, avg bits

type Key = (u32, SensorKind, i64);
type Acc = (u64, f64, f64, ExactSum);

fn oracle(rs: &[Reading]) -> Vec<Row> {
    let mut m: BTreeMap<Key, Acc> = BTreeMap::new();
    for r in rs {
        let e = m
            .entry((r.device, r.sensor, window_start(r.ts, WINDOW)))
            .or_insert((0, f64::INFINITY, f64::NEG_INFINITY, ExactSum::default()));
        e.0 += 1;
        e.1 = e.1.min(r.value);
        e.2 = e.2.max(r.value);
        e.3.add(r.value);
    }
    m.into_iter()
        .map(|((d, s, w), (c, mn, mx, sum))| {
            (
                d,
                s,
                w,
                c,
                mn.to_bits(),
                mx.to_bits(),
                sum.mean(c).to_bits(),
            )
        })
        .collect()
}

/// Runs the operator like `msec run` drives it: the watermark tracker decides lateness, the
/// batch is sent at the coarsened watermark before it.
fn stream(input_order: Vec<Reading>, batch_rows: usize, workers: usize) -> Vec<Row> {
    let out: Arc<Mutex<Vec<AggBatch>>> = Arc::default();
    let sink = Arc::clone(&out);
    let input_order = Arc::new(input_order);
    let guards = timely::execute(timely::Config::process(workers), move |worker| {
        let index = worker.index();
        let mut input = InputHandle::<u64, CapacityContainerBuilder<Vec<ReadingBatch>>>::new();
        let probe = ProbeHandle::new();
        let metrics = Metrics::default();
        let sink = Arc::clone(&sink);
        worker.dataflow::<u64, _, _>(|scope| {
            scope
                .input_from(&mut input)
                .partition_by_device()
                .tumbling_aggregate(WINDOW as u64, metrics.operator("agg", index))
                .inspect(move |b: &AggBatch| sink.lock().expect("lock").push(b.clone()))
                .probe_with(&probe);
        });
        if index != 0 {
            return;
        }
        let mut wm = WatermarkTracker::new(LATENESS);
        for chunk in input_order.chunks(batch_rows) {
            let mut batch = ReadingBatch::with_capacity(0, chunk.len());
            for r in chunk {
                assert_eq!(
                    wm.observe(r.ts),
                    Arrival::OnTime,
                    "test input must be within lateness"
                );
                batch.push(r.device, r.sensor, r.ts, r.value, None, None, 0, 0);
            }
            input.send(batch);
            if let Some(w) = wm.watermark() {
                let t = coarsen(w, 1_000);
                if t > *input.time() {
                    input.advance_to(t);
                }
            }
            while probe.less_than(input.time()) {
                worker.step();
            }
        }
    })
    .expect("timely");
    drop(guards);
    let batches = out.lock().expect("lock");
    let mut rows: Vec<Row> = batches
        .iter()
        .flat_map(|b| {
            (0..b.len()).map(move |i| {
                (
                    b.device[i],
                    b.sensor[i],
                    b.window_start[i],
                    b.count[i],
                    b.min[i].to_bits(),
                    b.max[i].to_bits(),
                    b.avg[i].to_bits(),
                )
            })
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn equals_oracle_for_every_order_batch_size_and_worker_count() {
    let base = readings(7, 20_000);
    let expected = oracle(&base);
    assert!(
        expected.len() > 500,
        "enough windows to be meaningful: {}",
        expected.len()
    );
    for (seed, batch_rows, workers) in [
        (1, 1_000, 1),
        (2, 7, 1),
        (3, 4_096, 2),
        (4, 333, 4),
        (5, 20_000, 3),
    ] {
        let shuffled = disorder(base.clone(), seed, LATENESS);
        let got = stream(shuffled, batch_rows, workers);
        assert_eq!(
            got, expected,
            "seed {seed}, batch {batch_rows}, workers {workers}"
        );
    }
}

#[test]
fn every_reading_is_counted_once() {
    let base = readings(11, 5_000);
    let got = stream(base.clone(), 100, 2);
    assert_eq!(got.iter().map(|r| r.3).sum::<u64>(), base.len() as u64);
}
