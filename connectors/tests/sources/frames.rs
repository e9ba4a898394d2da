//! The LoRaWAN frames source on the real Tour Perret files
//! (`../shared/datasets/grenoble_tourperret`, two gzipped NDJSON logs of one Elsys EMS),
//! each alone and both merged, against counts verified with an independent Python script
//! over the files (see the `frames` module docs for the field mapping).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use msec_connectors::FramesSource;
use msec_engine::config::PipelineConfig;
use msec_engine::source::{SourceBatch, SourceSummary};
use msec_engine::{DeadLetterReason, Interner, SensorKind};

use crate::drain;

const FILE1: &str = "ems-tourperret-A81758FFFE04B1C1.ndjson.gz";
const FILE2: &str = "ems-tourperret-A81758FFFE04B1C1-2.ndjson.gz";

/// What one run must give.
struct Want {
    frames: u64,
    temperature: u64,
    humidity: u64,
    accel: u64,
    duplicate: u64,
    missing_field: u64,
    /// Duplicates per (file of the copy, file of the first copy), as indices into the paths.
    cited: &'static [((usize, usize), u64)],
    /// The largest `reported_at`.
    last_ts: i64,
}

fn dir() -> Option<PathBuf> {
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets");
    data.is_dir().then(|| data.join("grenoble_tourperret"))
}

/// Non-blank lines of a gzipped file, counted without the source.
fn count_lines(path: &PathBuf) -> u64 {
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(path).expect("open"))
        .read_to_string(&mut text)
        .expect("gunzip");
    text.lines().filter(|l| !l.trim().is_empty()).count() as u64
}

fn run(paths: &[PathBuf]) -> (SourceSummary, Vec<SourceBatch>, Arc<Interner>) {
    let cfg = PipelineConfig::default();
    let interner = Interner::shared();
    let source = FramesSource::open_many(paths, Arc::clone(&interner), &cfg).expect("open");
    assert_eq!(source.total_bytes(), None, "gzip input");
    let (summary, batches) = drain(source, &cfg);
    (summary, batches, interner)
}

fn check(paths: &[PathBuf], want: &Want) {
    let (summary, batches, interner) = run(paths);
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let frames: u64 = paths.iter().map(count_lines).sum();
    assert_eq!(frames, want.frames);
    assert_eq!(summary.records, frames);

    // Readings per kind, and the frames (file, line) that gave at least one.
    let mut kinds: BTreeMap<SensorKind, u64> = BTreeMap::new();
    let mut with_readings: BTreeSet<(String, u64)> = BTreeSet::new();
    let (mut tmin, mut tmax) = (f64::MAX, f64::MIN);
    for b in &batches {
        let r = &b.readings;
        let source = interner.name(r.source).expect("source").to_string();
        for i in 0..r.len() {
            *kinds.entry(r.sensor[i]).or_default() += 1;
            with_readings.insert((source.clone(), r.offset[i]));
            let device = interner.name(r.device[i]).expect("device");
            assert_eq!(&*device, "perret-A81758FFFE04B1C1");
            assert_eq!((r.lat[i], r.lon[i]), (45.18402099609375, 5.7403564453125));
            if r.sensor[i] == SensorKind::Temperature {
                tmin = tmin.min(r.value[i]);
                tmax = tmax.max(r.value[i]);
            }
            if r.sensor[i] == SensorKind::Accel {
                assert!((0.8..1.8).contains(&r.value[i]), "|a| {} g", r.value[i]);
            }
        }
    }
    let get = |k| kinds.get(&k).copied().unwrap_or(0);
    let got = (
        get(SensorKind::Temperature),
        get(SensorKind::Humidity),
        get(SensorKind::Accel),
    );
    assert_eq!(got, (want.temperature, want.humidity, want.accel));
    assert_eq!(kinds.len(), 3, "{kinds:?}");
    assert!(tmax <= 43.8 && tmin >= 0.7, "temperature {tmin}..{tmax}");

    // Dead letters: only duplicates and the empty settings frame, none late.
    let mut reasons: BTreeMap<DeadLetterReason, u64> = BTreeMap::new();
    let mut cited: BTreeMap<(usize, usize), u64> = BTreeMap::new();
    let mut dead_frames: BTreeSet<(String, u64)> = BTreeSet::new();
    for d in batches.iter().flat_map(|b| &b.dead_letters) {
        *reasons.entry(d.reason).or_default() += 1;
        assert!(
            dead_frames.insert((d.source.to_string(), d.offset)),
            "one letter per frame"
        );
        let copy = names.iter().position(|n| **n == *d.source).expect("a file");
        match d.reason {
            DeadLetterReason::Duplicate => {
                let of = names
                    .iter()
                    .position(|n| d.detail.contains(&format!(" of {n} (")));
                *cited.entry((copy, of.expect("cites a file"))).or_default() += 1;
                assert!(d.detail.contains("fcnt"), "{}", d.detail);
            }
            DeadLetterReason::MissingField => {
                assert!(
                    d.detail.contains("decoded payload is empty (port 6)"),
                    "{}",
                    d.detail
                );
            }
            other => panic!("unexpected {other}: {}", d.detail),
        }
    }
    let want_reasons: BTreeMap<_, _> = [
        (DeadLetterReason::Duplicate, want.duplicate),
        (DeadLetterReason::MissingField, want.missing_field),
    ]
    .into_iter()
    .filter(|(_, n)| *n > 0)
    .collect();
    assert_eq!(reasons, want_reasons);
    assert_eq!(summary.dead_letters, want_reasons);
    assert_eq!(cited, want.cited.iter().copied().collect());

    // Nothing dropped: every frame gave readings or exactly one (frame-level) dead letter.
    assert!(with_readings.is_disjoint(&dead_frames));
    assert_eq!(
        with_readings.len() as u64 + dead_frames.len() as u64,
        frames
    );
    assert_eq!(
        summary.readings,
        want.temperature + want.humidity + want.accel
    );
    // Merged in event time (nothing late): the watermark ends 5 s below the last frame.
    let last_wm = batches.iter().rev().find_map(|b| b.watermark);
    assert_eq!(last_wm, Some(want.last_ts - 5_000));
}

#[test]
fn tour_perret_frames_file_by_file_and_merged() {
    let Some(dir) = dir() else {
        println!("skipped: ../shared/datasets not found");
        return;
    };
    let (f1, f2) = (dir.join(FILE1), dir.join(FILE2));
    // File 1: SOURCE.md's 1,983 re-delivered uplinks; the port-6 settings frame with an empty
    // decoded payload; the frame without temperature/humidity gives only `accel`.
    check(
        std::slice::from_ref(&f1),
        &Want {
            frames: 12_614,
            temperature: 10_629,
            humidity: 10_629,
            accel: 10_630,
            duplicate: 1_983,
            missing_field: 1,
            cited: &[((0, 0), 1_983)],
            last_ts: 1_695_882_095_467,
        },
    );
    // File 2: 13,716 frames decoded from the raw TLV bytes; 242 re-deliveries (not in SOURCE.md).
    check(
        std::slice::from_ref(&f2),
        &Want {
            frames: 20_351,
            temperature: 20_109,
            humidity: 20_109,
            accel: 20_109,
            duplicate: 242,
            missing_field: 0,
            cited: &[((0, 0), 242)],
            last_ts: 1_720_716_816_837,
        },
    );
    // Both, merged by time: the 6,300 frames of file 2 also in file 1 are duplicates of file
    // 1's copies; 29 of file 2's 242 re-deliveries lie in that overlap, so 213 remain.
    check(
        &[f1.clone(), f2.clone()],
        &Want {
            frames: 32_965,
            temperature: 24_467,
            humidity: 24_467,
            accel: 24_468,
            duplicate: 8_496,
            missing_field: 1,
            cited: &[((0, 0), 1_983), ((1, 0), 6_300), ((1, 1), 213)],
            last_ts: 1_720_716_816_837,
        },
    );
}
