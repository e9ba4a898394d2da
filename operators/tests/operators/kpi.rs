//! Tests of `kpi_latency` in a real timely dataflow: hand-computed inter-arrival rows,
//! identical canonical output under every arrival order within the lateness bound, batch size
//! and worker count tried, and an oracle recomputing every KPI from scratch.

use crate::rng::Rng;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use msec_engine::metrics::Metrics;
use msec_engine::time::{Arrival, WatermarkTracker, coarsen, window_start};
use msec_engine::{Interner, ReadingBatch, SensorKind};
use msec_operators::kpi::batch::source_name;
use msec_operators::kpi::{AlertLatencies, DEFAULT_TARGET_GAP_MS, KpiBatch, KpiLatency, OrderKpi};
use msec_operators::{LogHistogram, PartitionReadings};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::{Input, Inspect, Probe};
use timely::dataflow::{InputHandle, ProbeHandle};

const WINDOW: i64 = 60_000;
const LATENESS: u64 = 5_000;
/// A window boundary (divisible by 60 000).
const T0: i64 = 1_699_999_980_000;

/// One input reading, optionally carrying an alert (household, latency) decided at its `ts`.
#[derive(Debug, Clone)]
struct Reading {
    device: String,
    sensor: SensorKind,
    ts: i64,
    ingest_ts: i64,
    alert: Option<(String, i64)>,
}

fn reading(device: &str, ts: i64, ingest_ts: i64) -> Reading {
    Reading {
        device: device.to_string(),
        sensor: SensorKind::Temperature,
        ts,
        ingest_ts,
        alert: None,
    }
}

/// (source, device, window start, metric, count, p50, p95, p99, max, over_target).
type Row = (
    String,
    String,
    i64,
    &'static str,
    u64,
    i64,
    i64,
    i64,
    i64,
    Option<u64>,
);

fn rows_of(batches: &[KpiBatch], interner: &Interner) -> Vec<Row> {
    batches
        .iter()
        .flat_map(|b| {
            (0..b.len()).map(move |i| {
                (
                    source_name(b.source[i], interner).to_string(),
                    interner.name(b.device[i]).expect("interned").to_string(),
                    b.window_start[i],
                    b.metric[i].name(),
                    b.count[i],
                    b.p50_ms[i],
                    b.p95_ms[i],
                    b.p99_ms[i],
                    b.max_ms[i],
                    b.over_target[i],
                )
            })
        })
        .collect()
}

/// Runs partition → kpi_latency → order_kpi like `msec run` drives it: the watermark tracker
/// checks lateness, batches are sent at the coarsened watermark before them. Returns the rows
/// in output order and the number of records counted dead.
fn run(input_order: Vec<Reading>, batch_rows: usize, workers: usize) -> (Vec<Row>, u64) {
    let out: Arc<Mutex<Vec<KpiBatch>>> = Arc::default();
    let interner = Interner::shared();
    let metrics = Metrics::default();
    let (sink, names, registry) = (Arc::clone(&out), Arc::clone(&interner), metrics.clone());
    let input_order = Arc::new(input_order);
    let guards = timely::execute(timely::Config::process(workers), move |worker| {
        let index = worker.index();
        let mut input = InputHandle::<u64, CapacityContainerBuilder<Vec<ReadingBatch>>>::new();
        let mut alerts = InputHandle::<u64, CapacityContainerBuilder<Vec<AlertLatencies>>>::new();
        let probe = ProbeHandle::new();
        let sink = Arc::clone(&sink);
        let counters = registry.operator("kpi", index);
        let names = Arc::clone(&names);
        worker.dataflow::<u64, _, _>(|scope| {
            let alert_stream = scope.input_from(&mut alerts);
            scope
                .input_from(&mut input)
                .partition_by_device()
                .kpi_latency(alert_stream, WINDOW as u64, DEFAULT_TARGET_GAP_MS, counters)
                .order_kpi(Arc::clone(&names))
                .inspect(move |b: &KpiBatch| sink.lock().expect("lock").push(b.clone()))
                .probe_with(&probe);
        });
        if index != 0 {
            return;
        }
        let source = names.intern("test.jsonl");
        let mut wm = WatermarkTracker::new(LATENESS);
        for chunk in input_order.chunks(batch_rows) {
            let mut batch = ReadingBatch::with_capacity(source, chunk.len());
            let mut alert_batch = AlertLatencies::default();
            for (i, r) in chunk.iter().enumerate() {
                assert_eq!(wm.observe(r.ts), Arrival::OnTime, "input within lateness");
                let device = names.intern(&r.device);
                batch.push(
                    device,
                    r.sensor,
                    r.ts,
                    1.0,
                    None,
                    None,
                    r.ingest_ts,
                    i as u64,
                );
                if let Some((home, latency)) = &r.alert {
                    alert_batch.push(names.intern(home), r.ts, *latency);
                }
            }
            input.send(batch);
            alerts.send(alert_batch);
            if let Some(w) = wm.watermark() {
                let t = coarsen(w, 1_000);
                if t > *input.time() {
                    input.advance_to(t);
                    alerts.advance_to(t);
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
    let dead = metrics.totals().iter().map(|t| t.dead_lettered).sum();
    (rows_of(&batches, &interner), dead)
}

/// Emits with bounded disorder: sorted by ts + delay, delay ≤ `disorder`.
fn disorder(rs: &[Reading], seed: u64, disorder: u64) -> Vec<Reading> {
    let mut rng = Rng(seed);
    let mut keyed: Vec<(i64, usize, Reading)> = rs
        .iter()
        .enumerate()
        .map(|(i, r)| (r.ts + rng.below(disorder + 1) as i64, i, r.clone()))
        .collect();
    keyed.sort_by_key(|(k, i, _)| (*k, *i));
    keyed.into_iter().map(|(_, _, r)| r).collect()
}

/// Readings of `devices` devices with gaps of 0 (another sensor at the same time), up to 20 s,
/// exactly the 25 s target, and well over it; fixed ingest times (some before the event time);
/// an alert on about one reading in 40. In event-time order.
fn generated(seed: u64, devices: usize, per_device: usize) -> Vec<Reading> {
    let mut rng = Rng(seed);
    let sensors = [SensorKind::Temperature, SensorKind::Co2, SensorKind::Noise];
    let mut all = Vec::new();
    for d in 0..devices {
        let mut ts = T0 + rng.below(30_000) as i64;
        for k in 0..per_device {
            ts += match rng.below(20) {
                0 | 1 => 0,
                2 => 25_000,
                3 | 4 => 25_001 + rng.below(120_000) as i64,
                _ => rng.below(20_000) as i64,
            };
            let ingest_ts = match rng.below(10) {
                0 => ts - 50,
                1 => ts + rng.below(10_000_000) as i64,
                _ => ts + rng.below(3_000) as i64,
            };
            let alert = (rng.below(40) == 0).then(|| {
                let home = format!("home-{}", rng.below(4));
                (home, rng.below(200_000) as i64 - 100)
            });
            all.push(Reading {
                device: format!("dev-{d:02}"),
                sensor: sensors[k % 3],
                ts,
                ingest_ts,
                alert,
            });
        }
    }
    all.sort_by(|a, b| (a.ts, &a.device).cmp(&(b.ts, &b.device)));
    all
}

/// Whether `got` is the q-quantile of `sorted` within the histogram's stated bound.
fn within_bound(sorted: &[u64], q: f64, got: i64) -> bool {
    let x = sorted[(LogHistogram::rank(q, sorted.len() as u64) - 1) as usize];
    let got = u64::try_from(got).expect("non-negative");
    got >= x && (got == x || ((got - x) as f64) < x as f64 * LogHistogram::RELATIVE_ERROR)
}

#[test]
fn inter_arrival_counts_gaps_over_target_and_max() {
    let mut base = vec![
        // Device a: gaps 10, 10, 30, 5 s in the first window; 5, 40, 0 s in the second.
        reading("a", T0, T0 + 100),
        reading("a", T0 + 10_000, T0 + 10_100),
        reading("a", T0 + 20_000, T0 + 20_100),
        reading("a", T0 + 50_000, T0 + 50_100),
        reading("a", T0 + 55_000, T0 + 55_100),
        reading("a", T0 + 60_000, T0 + 60_100),
        reading("a", T0 + 100_000, T0 + 100_100),
        Reading {
            sensor: SensorKind::Co2,
            ..reading("a", T0 + 100_000, T0 + 99_000) // ingested "before" it happened: 0
        },
        // Device b: a first reading (no gap), then a 195 s gap into the fourth window.
        reading("b", T0 + 5_000, T0 + 5_300),
        reading("b", T0 + 200_000, T0 + 200_200),
    ];
    base[1].alert = Some(("home-1".into(), 200));
    base[2].alert = Some(("home-1".into(), 1_500));
    base.sort_by_key(|r| r.ts);
    let (rows, dead) = run(base, 3, 1);
    assert_eq!(dead, 0);
    let w = |k: i64| T0 + k * WINDOW;
    let row = |dev: &str, start, metric, stats: (u64, i64, i64, i64, i64), over| -> Row {
        let (count, p50, p95, p99, max) = stats;
        let src = if metric == "alert_latency" {
            "alerts"
        } else {
            "test.jsonl"
        };
        let (s, d) = (src.to_string(), dev.to_string());
        (s, d, start, metric, count, p50, p95, p99, max, over)
    };
    // 10 000 lies in the bucket [9 984, 10 047] and 5 000 in [4 992, 5 023]: the quantiles
    // report the bucket's upper bound (within 1/128 above); counts, max and over_target are exact.
    let expected = vec![
        row(
            "home-1",
            w(0),
            "alert_latency",
            (2, 200, 1_500, 1_500, 1_500),
            None,
        ),
        row("a", w(0), "delivery_latency", (5, 100, 100, 100, 100), None),
        row(
            "a",
            w(0),
            "inter_arrival",
            (4, 10_047, 30_000, 30_000, 30_000),
            Some(1),
        ),
        row("b", w(0), "delivery_latency", (1, 300, 300, 300, 300), None),
        row("a", w(1), "delivery_latency", (3, 100, 100, 100, 100), None),
        row(
            "a",
            w(1),
            "inter_arrival",
            (3, 5_023, 40_000, 40_000, 40_000),
            Some(1),
        ),
        row("b", w(3), "delivery_latency", (1, 200, 200, 200, 200), None),
        row(
            "b",
            w(3),
            "inter_arrival",
            (1, 195_000, 195_000, 195_000, 195_000),
            Some(1),
        ),
    ];
    assert_eq!(rows, expected);
}

#[test]
fn a_gap_of_exactly_the_target_is_not_over_it() {
    let base = vec![
        reading("a", T0, T0),
        reading("a", T0 + 25_000, T0 + 25_000),
        reading("a", T0 + 50_001, T0 + 50_001),
    ];
    let (rows, _) = run(base, 1, 2);
    let ia: Vec<&Row> = rows.iter().filter(|r| r.3 == "inter_arrival").collect();
    assert_eq!(ia.len(), 1);
    assert_eq!((ia[0].4, ia[0].8, ia[0].9), (2, 25_001, Some(1)));
}

#[test]
fn same_rows_for_every_order_batch_size_and_worker_count() {
    let base = generated(3, 24, 300);
    let (expected, dead) = run(base.clone(), 1_000, 1);
    assert_eq!(dead, 0);
    assert!(expected.len() > 1_000, "enough rows: {}", expected.len());
    for metric in ["delivery_latency", "inter_arrival", "alert_latency"] {
        assert!(expected.iter().any(|r| r.3 == metric), "{metric} present");
    }
    // Canonical order: by window start (then source, a hash of the device name, metric),
    // no duplicates.
    let keys: Vec<_> = expected.iter().map(|r| (r.2, &r.0, &r.1, r.3)).collect();
    assert!(
        keys.windows(2).all(|k| k[0].0 <= k[1].0),
        "sorted by window start"
    );
    let distinct: std::collections::BTreeSet<_> = keys.iter().collect();
    assert_eq!(distinct.len(), keys.len(), "no duplicate rows");
    for (seed, batch_rows, workers) in [(1, 7, 1), (2, 333, 2), (3, 4_096, 4), (4, 50, 4)] {
        let shuffled = disorder(&base, seed, LATENESS);
        let (got, dead) = run(shuffled, batch_rows, workers);
        assert_eq!(dead, 0);
        assert_eq!(
            got.len(),
            expected.len(),
            "seed {seed}, batch {batch_rows}, workers {workers}"
        );
        assert_eq!(
            got, expected,
            "seed {seed}, batch {batch_rows}, workers {workers}"
        );
    }
}

/// Values per (source, device, window, metric), recomputed from scratch.
type Oracle = BTreeMap<(String, String, i64, &'static str), Vec<u64>>;

fn oracle(rs: &[Reading]) -> Oracle {
    let mut m = Oracle::new();
    let win = |ts| window_start(ts, WINDOW);
    let src = "test.jsonl".to_string();
    let mut by_device: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for r in rs {
        let latency = u64::try_from(r.ingest_ts - r.ts).unwrap_or(0);
        m.entry((src.clone(), r.device.clone(), win(r.ts), "delivery_latency"))
            .or_default()
            .push(latency);
        by_device.entry(&r.device).or_default().push(r.ts);
        if let Some((home, latency)) = &r.alert {
            m.entry(("alerts".into(), home.clone(), win(r.ts), "alert_latency"))
                .or_default()
                .push(u64::try_from(*latency).unwrap_or(0));
        }
    }
    for (device, mut ts) in by_device {
        ts.sort_unstable();
        for pair in ts.windows(2) {
            m.entry((
                src.clone(),
                device.to_string(),
                win(pair[1]),
                "inter_arrival",
            ))
            .or_default()
            .push((pair[1] - pair[0]) as u64);
        }
    }
    for v in m.values_mut() {
        v.sort_unstable();
    }
    m
}

#[test]
fn equals_from_scratch_oracle_within_the_error_bound() {
    let base = generated(17, 30, 400);
    let expected = oracle(&base);
    let (rows, _) = run(disorder(&base, 9, LATENESS), 250, 3);
    let got: BTreeMap<_, &Row> = rows
        .iter()
        .map(|r| ((r.0.clone(), r.1.clone(), r.2, r.3), r))
        .collect();
    assert_eq!(got.len(), rows.len(), "one row per key");
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "same (source, device, window, metric) keys"
    );
    let mut over = 0;
    for (key, values) in &expected {
        let r = got[key];
        assert_eq!(r.4, values.len() as u64, "count {key:?}");
        assert_eq!(
            r.8,
            *values.last().expect("non-empty") as i64,
            "max {key:?}"
        );
        let over_target = values
            .iter()
            .filter(|&&g| g > DEFAULT_TARGET_GAP_MS)
            .count() as u64;
        if key.3 == "inter_arrival" {
            assert_eq!(r.9, Some(over_target), "over_target {key:?}");
            over += over_target;
        } else {
            assert_eq!(r.9, None, "{key:?}");
        }
        for (q, p) in [(0.5, r.5), (0.95, r.6), (0.99, r.7)] {
            assert!(
                within_bound(values, q, p),
                "p{q} {key:?}: {p} vs {values:?}"
            );
        }
    }
    assert!(over > 100, "the data has gaps over the target: {over}");
}

#[test]
fn records_below_their_batch_time_are_counted_dead_not_merged() {
    // A batch sent at a timely time above one of its readings' event times.
    let interner = Interner::shared();
    let metrics = Metrics::default();
    let registry = metrics.clone();
    let names = Arc::clone(&interner);
    let out: Arc<Mutex<Vec<KpiBatch>>> = Arc::default();
    let sink = Arc::clone(&out);
    timely::execute(timely::Config::thread(), move |worker| {
        let mut input = InputHandle::<u64, CapacityContainerBuilder<Vec<ReadingBatch>>>::new();
        let mut alerts = InputHandle::<u64, CapacityContainerBuilder<Vec<AlertLatencies>>>::new();
        let sink = Arc::clone(&sink);
        let counters = registry.operator("kpi", 0);
        worker.dataflow::<u64, _, _>(|scope| {
            let a = scope.input_from(&mut alerts);
            scope
                .input_from(&mut input)
                .kpi_latency(a, WINDOW as u64, DEFAULT_TARGET_GAP_MS, counters)
                .inspect(move |b: &KpiBatch| sink.lock().expect("lock").push(b.clone()));
        });
        let dev = names.intern("a");
        let t = u64::try_from(T0 + 30_000).expect("positive");
        input.advance_to(t);
        alerts.advance_to(t);
        let mut b = ReadingBatch::with_capacity(names.intern("src"), 2);
        for (offset, ts) in [(1, T0 + 29_999), (2, T0 + 30_000)] {
            let at = T0 + 30_000;
            b.push(dev, SensorKind::Co2, ts, 1.0, None, None, at, offset);
        }
        input.send(b);
        let mut late_alert = AlertLatencies::default();
        late_alert.push(names.intern("home"), T0, 10);
        alerts.send(late_alert);
    })
    .expect("timely");
    let totals = metrics.totals();
    assert_eq!(totals.iter().map(|t| t.dead_lettered).sum::<u64>(), 2);
    assert_eq!(totals.iter().map(|t| t.records_in).sum::<u64>(), 3);
    let rows = rows_of(&out.lock().expect("lock"), &interner);
    assert_eq!(rows.len(), 1, "{rows:?}");
    let (metric, count, max) = (rows[0].3, rows[0].4, rows[0].8);
    assert_eq!((metric, count, max), ("delivery_latency", 1, 0));
}
