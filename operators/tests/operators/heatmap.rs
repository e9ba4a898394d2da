//! Tests of the `heatmap` operator in a real timely dataflow: the cell functions, an oracle
//! recomputing every (metric, cell, window) from scratch, identical canonical output under
//! every arrival order within the lateness bound, batch size and worker count tried,
//! k-anonymity of report-derived cells, and H3 cells.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use msec_engine::metrics::Metrics;
use msec_engine::report::ReportBatch;
use msec_engine::time::{Arrival, WatermarkTracker, coarsen, window_start};
use msec_engine::{Interner, ReadingBatch, SensorKind};
use msec_operators::heatmap::{
    Heatmap, HeatmapBatch, HeatmapConfig, HeatmapGrid, HeatmapMetric, HeatmapSummary, OrderHeatmap,
    cell_polygon, degree_cell,
};
use msec_operators::{ToRecordBatch, heatmap_schema};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::{Input, Inspect, Probe};
use timely::dataflow::{InputHandle, ProbeHandle};

const WINDOW: i64 = 60_000;
const LATENESS: u64 = 5_000;
const T0: i64 = 1_699_999_980_000;

/// Knuth's MMIX linear congruential generator; the high bits are used.
struct Lcg(u64);
impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// One input record: a reading (`reporter` None) or a report (`sensor` unused).
#[derive(Debug, Clone, Copy)]
struct Rec {
    ts: i64,
    lat: f64,
    lon: f64,
    value: f64,
    sensor: SensorKind,
    reporter: Option<u32>,
}

/// Records in event-time order around (0°, 0°), so cells straddle both signs; values are
/// multiples of 1/64, so every sum is exact in plain `f64` too.
fn records(seed: u64, n: usize) -> Vec<Rec> {
    let mut rng = Lcg(seed);
    let sensors = [SensorKind::Crowd, SensorKind::Pm25, SensorKind::Humidity];
    let mut ts = T0;
    (0..n)
        .map(|_| {
            ts += rng.below(400) as i64;
            let coord = |rng: &mut Lcg| (rng.below(8_000) as f64 - 4_000.0) / 1e6;
            let (mut lat, mut lon) = (coord(&mut rng), coord(&mut rng));
            if rng.below(20) == 0 {
                (lat, lon) = (f64::NAN, f64::NAN);
            }
            let report = rng.below(4) == 0;
            Rec {
                ts,
                lat,
                lon,
                value: if report {
                    rng.below(65) as f64 / 64.0
                } else {
                    rng.below(64_000) as f64 / 64.0
                },
                sensor: sensors[rng.below(3) as usize],
                reporter: report.then(|| rng.below(6) as u32),
            }
        })
        .collect()
}

/// Emits with bounded disorder: sorted by ts + delay, delay ≤ `disorder`.
fn disorder(rs: &[Rec], seed: u64, disorder: u64) -> Vec<Rec> {
    let mut rng = Lcg(seed);
    let mut keyed: Vec<(i64, usize, Rec)> = rs
        .iter()
        .enumerate()
        .map(|(i, r)| (r.ts + rng.below(disorder + 1) as i64, i, *r))
        .collect();
    keyed.sort_by_key(|(k, i, _)| (*k, *i));
    keyed.into_iter().map(|(_, _, r)| r).collect()
}

fn push_report(b: &mut ReportBatch, r: &Rec, reporter: u32) {
    b.report_id.push(format!("r{}", b.len()));
    b.reporter.push(reporter);
    b.ts.push(r.ts);
    b.lat.push(r.lat);
    b.lon.push(r.lon);
    b.theme.push(0);
    b.smile.push(r.value);
    b.photo_digest.push(String::new());
    b.ingest_ts.push(r.ts);
    b.offset.push(0);
}

/// Runs readings and reports through `heatmap` and `order_heatmap` like `msec run` drives
/// them; returns the ordered batches of the sink worker.
fn stream(
    recs: Vec<Rec>,
    batch: usize,
    workers: usize,
    config: HeatmapConfig,
) -> Vec<HeatmapBatch> {
    let out: Arc<Mutex<Vec<HeatmapBatch>>> = Arc::default();
    let sink = Arc::clone(&out);
    let recs = Arc::new(recs);
    let guards = timely::execute(timely::Config::process(workers), move |worker| {
        let index = worker.index();
        let mut readings = InputHandle::<u64, CapacityContainerBuilder<Vec<ReadingBatch>>>::new();
        let mut reports = InputHandle::<u64, CapacityContainerBuilder<Vec<ReportBatch>>>::new();
        let probe = ProbeHandle::new();
        let metrics = Metrics::default();
        let sink = Arc::clone(&sink);
        let config = config.clone();
        worker.dataflow::<u64, _, _>(|scope| {
            let reports = scope.input_from(&mut reports);
            scope
                .input_from(&mut readings)
                .heatmap(reports, &config, metrics.operator("heatmap", index))
                .expect("valid config")
                .order_heatmap()
                .inspect(move |b: &HeatmapBatch| sink.lock().expect("lock").push(b.clone()))
                .probe_with(&probe);
        });
        if index != 0 {
            return;
        }
        let mut wm = WatermarkTracker::new(LATENESS);
        for chunk in recs.chunks(batch) {
            let (mut rb, mut pb) = (
                ReadingBatch::with_capacity(0, chunk.len()),
                ReportBatch::new(0),
            );
            for r in chunk {
                assert_eq!(wm.observe(r.ts), Arrival::OnTime, "input within lateness");
                match r.reporter {
                    Some(who) => push_report(&mut pb, r, who),
                    None => rb.push(0, r.sensor, r.ts, r.value, Some(r.lat), Some(r.lon), 0, 0),
                }
            }
            readings.send(rb);
            reports.send(pb);
            if let Some(t) = wm.watermark().map(|w| coarsen(w, 1_000))
                && t > *readings.time()
            {
                readings.advance_to(t);
                reports.advance_to(t);
            }
            while probe.less_than(readings.time()) {
                worker.step();
            }
        }
    })
    .expect("timely");
    drop(guards);
    std::mem::take(&mut *out.lock().expect("lock"))
}

/// (window start, metric, cell_x, cell_y).
type Key = (i64, &'static str, i64, i64);

/// (window start, metric, cell_x, cell_y, count, sum, avg bits, max).
type Row = (i64, &'static str, i64, i64, u64, f64, u64, f64);

fn rows(batches: &[HeatmapBatch]) -> Vec<Row> {
    let mut out = Vec::new();
    for b in batches {
        for i in 0..b.len() {
            let (x, y) = b.grid.cell_xy(b.cell[i]).expect("degree grid");
            let (m, c) = (b.metric[i].name(), b.count[i]);
            out.push((
                b.window_start[i],
                m,
                x,
                y,
                c,
                b.sum[i],
                b.avg[i].to_bits(),
                b.max[i],
            ));
        }
    }
    out
}

fn summaries(batches: &[HeatmapBatch]) -> Vec<HeatmapSummary> {
    batches.iter().flat_map(|b| b.summary.clone()).collect()
}

fn config(k: usize) -> HeatmapConfig {
    HeatmapConfig {
        window_ms: WINDOW as u64,
        k,
        ..HeatmapConfig::default()
    }
}

#[test]
fn degree_cells_floor_toward_negative_infinity() {
    assert_eq!(degree_cell(-3.8001, 1000), -3801);
    assert_eq!(degree_cell(43.4721, 1000), 43472);
    for (coord, cell) in [
        (0.0, 0),
        (-0.0, 0),
        (0.0009, 0),
        (0.001, 1),
        (-0.0001, -1),
        (-0.001, -1),
        (-0.0011, -2),
        (180.0, 180_000),
        (-180.0, -180_000),
        (-90.0, -90_000),
    ] {
        assert_eq!(degree_cell(coord, 1000), cell, "{coord}");
    }
    let mut rng = Lcg(3);
    for _ in 0..10_000 {
        let lon = (rng.below(360_000_000) as f64 - 180_000_000.0) / 1e6 + 1e-7;
        assert_eq!(
            degree_cell(lon, 1000),
            (lon * 1000.0).floor() as i64,
            "{lon}"
        );
    }
    let centi = HeatmapGrid::degrees(0.01).expect("size");
    assert_eq!(centi, HeatmapGrid::Degrees { scale: 100 });
    let cell = centi.cell(43.4721, -3.8001).expect("cell");
    assert_eq!(centi.cell_xy(cell), Some((-381, 4347)));
    assert_eq!(centi.cell_name(cell), "-381:4347");
    assert_eq!(centi.parse_cell("-381:4347"), Some(cell));
    assert_eq!(centi.name(), "deg0.01");
    assert_eq!(
        "deg0.001".parse::<HeatmapGrid>().expect("grid"),
        HeatmapGrid::default()
    );
    assert_eq!(
        "h3r9".parse::<HeatmapGrid>().expect("grid"),
        HeatmapGrid::H3 { resolution: 9 }
    );
    assert!(HeatmapGrid::degrees(0.3).is_err() && "h3r16".parse::<HeatmapGrid>().is_err());
    let deg = HeatmapGrid::default();
    assert_eq!(deg.cell(f64::NAN, 1.0), None);
    assert_eq!(deg.cell(91.0, 1.0), None);
    let cell = deg.cell(43.4721, -3.8001).expect("cell");
    let (lat, lon) = deg.center(cell).expect("centre");
    assert!((lat - 43.4725).abs() < 1e-12 && (lon + 3.8005).abs() < 1e-12);
    let ring = cell_polygon(deg, cell);
    assert_eq!(ring.len(), 5);
    assert_eq!(ring.first(), ring.last());
    assert!((ring[0].0 + 3.801).abs() < 1e-12 && (ring[2].1 - 43.473).abs() < 1e-12);
}

#[test]
fn equals_oracle() {
    let recs = records(7, 6_000);
    let k = 3;
    let got = stream(disorder(&recs, 1, LATENESS), 333, 2, config(k));
    // (window, metric, x, y) → (count, sum, max); distinct reporters per (window, x, y).
    let mut acc: HashMap<Key, (u64, f64, f64)> = HashMap::new();
    let mut who: HashMap<(i64, i64, i64), BTreeSet<u32>> = HashMap::new();
    let mut unpositioned: BTreeMap<i64, u64> = BTreeMap::new();
    for r in &recs {
        let w = window_start(r.ts, WINDOW);
        let mapped = r.reporter.is_some() || r.sensor != SensorKind::Humidity;
        if r.lat.is_nan() {
            if mapped {
                *unpositioned.entry(w).or_default() += 1;
            }
            continue;
        }
        let (x, y) = (
            (r.lon * 1000.0).floor() as i64,
            (r.lat * 1000.0).floor() as i64,
        );
        let values = match r.reporter {
            Some(id) => {
                who.entry((w, x, y)).or_default().insert(id);
                vec![("reports", 1.0), ("smile", r.value)]
            }
            None if mapped => vec![(r.sensor.name(), r.value)],
            None => vec![],
        };
        for (metric, v) in values {
            let e = acc
                .entry((w, metric, x, y))
                .or_insert((0, 0.0, f64::NEG_INFINITY));
            *e = (e.0 + 1, e.1 + v, e.2.max(v));
        }
    }
    let report = |m: &str| m == "reports" || m == "smile";
    let mut expected: Vec<_> = acc
        .into_iter()
        .filter(|((w, m, x, y), _)| !report(m) || who[&(*w, *x, *y)].len() >= k)
        .collect();
    expected.sort_by_key(|e| e.0);
    let got_rows = rows(&got);
    assert_eq!(got_rows.len(), expected.len());
    assert!(expected.len() > 1_000, "meaningful: {}", expected.len());
    for (g, ((w, m, x, y), (count, sum, max))) in got_rows.iter().zip(&expected) {
        assert_eq!(
            (g.0, g.1, g.2, g.3, g.4, g.5, g.7),
            (*w, *m, *x, *y, *count, *sum, *max)
        );
        let want = sum / *count as f64;
        assert!(
            (f64::from_bits(g.6) - want).abs() <= 1e-9 * want.abs().max(1e-300),
            "{g:?}"
        );
    }
    let suppressed: BTreeMap<i64, u64> =
        who.iter()
            .filter(|(_, s)| s.len() < k)
            .fold(BTreeMap::new(), |mut m, ((w, _, _), _)| {
                *m.entry(*w).or_default() += 1;
                m
            });
    assert!(suppressed.values().sum::<u64>() > 10 && got_rows.iter().any(|r| report(r.1)));
    let windows: BTreeSet<i64> = suppressed
        .keys()
        .chain(unpositioned.keys())
        .copied()
        .collect();
    let want: Vec<HeatmapSummary> = windows
        .into_iter()
        .map(|w| HeatmapSummary {
            window_start: w,
            suppressed_cells: suppressed.get(&w).copied().unwrap_or(0),
            unpositioned: unpositioned.get(&w).copied().unwrap_or(0),
        })
        .collect();
    assert_eq!(summaries(&got), want);
}

#[test]
fn identical_rows_in_identical_order_for_every_order_batch_size_and_workers() {
    let recs = records(11, 3_000);
    let reference = stream(recs.clone(), 1_000, 1, config(2));
    assert!(rows(&reference).len() > 500);
    for (seed, batch, workers) in [(1, 1, 1), (2, 7, 2), (3, 1_000, 4), (4, 7, 4), (5, 1, 2)] {
        let got = stream(disorder(&recs, seed, LATENESS), batch, workers, config(2));
        let bits = |rs: Vec<Row>| -> Vec<_> {
            rs.into_iter()
                .map(|r| (r.0, r.1, r.2, r.3, r.4, r.5.to_bits(), r.6, r.7.to_bits()))
                .collect()
        };
        assert_eq!(
            bits(rows(&got)),
            bits(rows(&reference)),
            "seed {seed}, batch {batch}, workers {workers}"
        );
        assert_eq!(summaries(&got), summaries(&reference));
    }
}

#[test]
fn report_cells_need_k_distinct_reporters() {
    let deg = HeatmapGrid::default();
    let report = |lat: f64, reporter: u32, i: i64| Rec {
        ts: T0 + 1_000 * i,
        lat,
        lon: 2.0005,
        value: 0.5,
        sensor: SensorKind::Crowd,
        reporter: Some(reporter),
    };
    let mut recs = Vec::new();
    // Cell A (lat 1.0005): 5 reports by 4 reporters — one reported twice: suppressed.
    for (i, who) in [1, 2, 3, 4, 1].into_iter().enumerate() {
        recs.push(report(1.0005, who, i as i64));
    }
    // Cell B: 5 distinct reporters, one reporting twice: published, 6 reports.
    for (i, who) in [1, 2, 3, 4, 5, 5].into_iter().enumerate() {
        recs.push(report(1.0015, who, i as i64));
    }
    // A crowd reading in cell A is not a report: it is published.
    recs.push(Rec {
        reporter: None,
        value: 12.0,
        ..report(1.0005, 0, 10)
    });
    recs.sort_by_key(|r| r.ts);
    for workers in [1, 3] {
        let got = stream(recs.clone(), 4, workers, config(5));
        let rows = rows(&got);
        let (a, b) = (deg.cell(1.0005, 2.0005), deg.cell(1.0015, 2.0005));
        let cell = |r: &Row| deg.cell(r.3 as f64 / 1000.0 + 5e-4, r.2 as f64 / 1000.0 + 5e-4);
        let names: Vec<(&str, bool, u64)> = rows.iter().map(|r| (r.1, cell(r) == b, r.4)).collect();
        assert_eq!(
            names,
            vec![
                ("crowd", false, 1),
                ("reports", true, 6),
                ("smile", true, 6)
            ]
        );
        assert!(rows.iter().all(|r| cell(r) != a || r.1 == "crowd"));
        assert_eq!(rows[1].5, 6.0);
        assert_eq!(f64::from_bits(rows[2].6), 0.5);
        let summary = summaries(&got);
        assert_eq!(summary.len(), 1);
        assert_eq!(
            (summary[0].suppressed_cells, summary[0].unpositioned),
            (1, 0)
        );
        let columns: Vec<String> = heatmap_schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert!(
            !columns
                .iter()
                .any(|c| c.contains("reporter") || c.contains("device"))
        );
    }
}

#[test]
fn h3_cells_match_the_published_example_and_close() {
    // The H3 documentation's indexing example: (37.7752702151959, -122.418307270836) at
    // resolution 9 is 8928308280fffff.
    let h3 = HeatmapGrid::h3(9).expect("resolution");
    let cell = h3
        .cell(37.775_270_215_195_9, -122.418_307_270_836)
        .expect("cell");
    assert_eq!(cell, 0x0892_8308_280f_ffff);
    assert_eq!(h3.cell_name(cell), "8928308280fffff");
    assert_eq!(h3.parse_cell("8928308280fffff"), Some(cell));
    assert_eq!(h3.cell_xy(cell), None);
    let ring = cell_polygon(h3, cell);
    assert_eq!(ring.len(), 7, "a hexagon and its closing point");
    assert_eq!(ring.first(), ring.last());
    let (lat, lon) = h3.center(cell).expect("centre");
    assert!((lat - 37.7752702).abs() < 0.003 && (lon + 122.4183073).abs() < 0.003);
    assert!(
        ring.iter()
            .all(|(x, y)| (x - lon).abs() < 0.005 && (y - lat).abs() < 0.005)
    );

    let rec = Rec {
        ts: T0,
        lat: 37.775_270_215_195_9,
        lon: -122.418_307_270_836,
        value: 3.0,
        sensor: SensorKind::Pm25,
        reporter: None,
    };
    let got = stream(
        vec![rec],
        1,
        2,
        HeatmapConfig {
            grid: h3,
            ..config(5)
        },
    );
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].cell.clone(), got[0].metric.clone()),
        (vec![cell], vec![HeatmapMetric::Sensor(SensorKind::Pm25)])
    );
    let rb = got[0].to_record_batch(&Interner::shared()).expect("arrow");
    assert_eq!((rb.num_rows(), rb.column(3).null_count()), (1, 1));
}
