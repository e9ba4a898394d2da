//! The JSON-lines source against the simulator's manifest, against itself under other batch
//! sizes and compression, and against a from-scratch recomputation of lateness.

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::Arc;

use flate2::Compression;
use flate2::write::GzEncoder;
use msec_connectors::{JsonlSource, SimulatorConfig, SimulatorSource};
use msec_engine::config::PipelineConfig;
use msec_engine::{DeadLetterReason, Interner, SensorKind};
use serde_json::Value;

use crate::{bad_by_reason, dead, drain, read_file, rows, sim_file};

#[test]
fn manifest_bad_counts_equal_dead_letters_per_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = SimulatorConfig {
        hours: 3.0,
        bad_rate: 0.01,
        disorder_ms: 2_000,
        ..SimulatorConfig::default()
    };
    let (path, manifest) = sim_file(dir.path(), "bad.jsonl", &cfg);
    let (summary, _, _) = read_file(&path, &PipelineConfig::default());
    assert_eq!(summary.dead_letters, bad_by_reason(&manifest));
    assert_eq!(summary.readings, manifest.readings);
    assert_eq!(summary.records, manifest.records);
    assert!(
        manifest.bad.values().all(|&n| n > 1_000),
        "{:?}",
        manifest.bad
    );
}

/// Whether a line is a valid reading, judged independently with `serde_json`.
fn valid_ts(line: &[u8]) -> Option<i64> {
    let v: Value = serde_json::from_slice(line).ok()?;
    let obj = v.as_object()?;
    let device = obj.get("device")?.as_str()?;
    let sensor = SensorKind::from_name(obj.get("sensor")?.as_str()?)?;
    let ts = obj.get("ts")?.as_i64()?;
    let value = obj.get("value")?.as_f64()?;
    (!device.is_empty() && sensor.accepts(value)).then_some(ts)
}

#[test]
fn late_records_match_an_independent_recomputation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lateness = 5_000i64;
    let cfg = SimulatorConfig {
        hours: 1.0,
        disorder_ms: 20_000,
        bad_rate: 0.01,
        ..SimulatorConfig::default()
    };
    let (path, manifest) = sim_file(dir.path(), "late.jsonl", &cfg);
    let pipeline = PipelineConfig {
        lateness_ms: lateness as u64,
        ..PipelineConfig::default()
    };
    let (summary, batches, _) = read_file(&path, &pipeline);

    // From scratch: a valid record is late iff its ts is below (max ts of the valid, on-time
    // records before it − lateness).
    let bytes = std::fs::read(&path).expect("read");
    let mut max: Option<i64> = None;
    let mut expected = BTreeSet::new();
    for (i, line) in bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        let Some(ts) = valid_ts(line) else { continue };
        match max {
            Some(m) if ts < m - lateness => {
                expected.insert(i as u64 + 1);
            }
            _ => max = Some(max.map_or(ts, |m| m.max(ts))),
        }
    }
    let late: BTreeSet<u64> = dead(&batches)
        .into_iter()
        .filter(|d| d.1 == DeadLetterReason::Late)
        .map(|d| d.0)
        .collect();
    assert!(late.len() > 1_000, "{} late", late.len());
    assert_eq!(late, expected);
    // Every other dead letter is one of the simulator's bad records.
    let mut others = summary.dead_letters.clone();
    others.remove(&DeadLetterReason::Late);
    assert_eq!(others, bad_by_reason(&manifest));
    assert_eq!(summary.readings + late.len() as u64, manifest.readings);
}

#[test]
fn batch_boundaries_do_not_change_results() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = SimulatorConfig {
        hours: 0.25,
        disorder_ms: 8_000,
        bad_rate: 0.02,
        ..SimulatorConfig::default()
    };
    let (path, _) = sim_file(dir.path(), "batches.jsonl", &cfg);
    let mut results = Vec::new();
    for batch_rows in [1usize, 7, 16_384] {
        let pipeline = PipelineConfig {
            batch_rows,
            ..PipelineConfig::default()
        };
        let (summary, batches, interner) = read_file(&path, &pipeline);
        assert!(
            batches
                .iter()
                .all(|b| b.readings.len() <= batch_rows && b.dead_letters.len() <= batch_rows)
        );
        // Each batch's watermark is the one after its last record.
        assert!(batches.windows(2).all(|w| w[0].watermark <= w[1].watermark));
        results.push((summary, rows(&batches, &interner), dead(&batches)));
    }
    assert!(results[0].1.len() > 50_000);
    assert!(results[0].2.iter().any(|d| d.1 == DeadLetterReason::Late));
    assert_eq!(results[0], results[1]);
    assert_eq!(results[0], results[2]);
}

#[test]
fn gzip_input_equals_plain_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = SimulatorConfig {
        hours: 0.25,
        disorder_ms: 1_000,
        bad_rate: 0.01,
        ..SimulatorConfig::default()
    };
    let (path, _) = sim_file(dir.path(), "plain.jsonl", &cfg);
    let bytes = std::fs::read(&path).expect("read");
    // Two gzip members, split mid-line: `cat a.gz b.gz` must read as one stream.
    let gz_path = dir.path().join("plain.jsonl.gz");
    let mut gz = Vec::new();
    for part in [
        &bytes[..bytes.len() / 2 + 17],
        &bytes[bytes.len() / 2 + 17..],
    ] {
        let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
        enc.write_all(part).expect("gzip");
        gz.extend(enc.finish().expect("gzip"));
    }
    std::fs::write(&gz_path, gz).expect("write");

    let pipeline = PipelineConfig::default();
    let plain_src = JsonlSource::open(&path, Interner::shared(), &pipeline).expect("open");
    assert_eq!(plain_src.total_bytes(), Some(bytes.len() as u64));
    let gz_src = JsonlSource::open(&gz_path, Interner::shared(), &pipeline).expect("open");
    assert_eq!(gz_src.total_bytes(), None);

    let (ps, pb, pi) = read_file(&path, &pipeline);
    let (gs, gb, gi) = read_file(&gz_path, &pipeline);
    assert_eq!(ps, gs);
    assert_eq!(rows(&pb, &pi), rows(&gb, &gi));
    assert_eq!(dead(&pb), dead(&gb));
    assert!(
        gb.iter()
            .flat_map(|b| b.dead_letters.iter())
            .all(|d| d.source.ends_with("plain.jsonl.gz"))
    );
    assert_eq!(gi.name(gb[0].readings.source).as_deref(), gz_path.to_str());
}

#[test]
fn simulator_source_equals_reading_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = SimulatorConfig {
        hours: 0.5,
        disorder_ms: 7_000,
        bad_rate: 0.01,
        ..SimulatorConfig::default()
    };
    let (path, manifest) = sim_file(dir.path(), "sim.jsonl", &cfg);
    let pipeline = PipelineConfig {
        batch_rows: 5_000,
        ..PipelineConfig::default()
    };
    let (fs, fb, fi) = read_file(&path, &pipeline);

    let interner = Interner::shared();
    let progress = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let seen = Arc::clone(&progress);
    let source = SimulatorSource::new(&cfg, Arc::clone(&interner), &pipeline)
        .expect("source")
        .with_progress(Box::new(move |b| {
            seen.store(b, std::sync::atomic::Ordering::Relaxed)
        }));
    let (tx, rx) = msec_engine::source::batch_channel("simulator", 4);
    let handle = std::thread::spawn(move || source.run_with_manifest(&tx));
    let sb: Vec<_> = rx.iter().collect();
    let (ss, sim_manifest) = handle.join().expect("thread").expect("run");

    assert_eq!(sim_manifest, manifest);
    assert_eq!(ss, fs);
    assert_eq!(rows(&sb, &interner), rows(&fb, &fi));
    assert_eq!(dead(&sb), dead(&fb));
    assert_eq!(
        interner.name(sb[0].readings.source).as_deref(),
        Some("simulator")
    );
    assert_eq!(
        progress.load(std::sync::atomic::Ordering::Relaxed),
        ss.bytes
    );

    // Through the plain `Source` trait too.
    let (summary, _) = drain(
        SimulatorSource::new(&cfg, Interner::shared(), &pipeline).expect("source"),
        &pipeline,
    );
    assert_eq!(summary, fs);
}
