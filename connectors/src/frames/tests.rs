use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use msec_engine::config::PipelineConfig;
use msec_engine::source::{SourceBatch, SourceSummary, batch_channel};
use msec_engine::{DeadLetterReason, Interner, SensorKind};
use serde_json::{Value, json};

use super::*;

/// 2023-01-04T21:31:22.173Z, the first Tour Perret frame.
const T0: i64 = 1_672_867_882_173;
/// The first Tour Perret payload: 7.0 °C, 83 %, x/y/z 59/15/-3, vdd 3616.
const P0: &str = "AQBGAlMDOw/9Bw4gCwAAAAANAA8AEgA=";
const EUI: &str = "A81758FFFE04B1C1";

fn frame(fcnt: u64, ts: i64, payload: &str, decoded: Value) -> Value {
    json!({
        "name": "ELSYS_EMS_B1C1_PERRET_SOO", "dev_eui": EUI, "fcnt": fcnt, "port": 5,
        "payload": payload, "reported_at": ts, "_timestamp": ts + 488,
        "decoded": decoded,
        "_devLocation": {"latitude": 45.18402099609375, "longitude": 5.7403564453125},
        "hotspots": [{"rssi": -111}]
    })
}

fn ok(fcnt: u64, ts: i64) -> Value {
    let p = json!({"temperature": 7, "humidity": 83, "x": 59, "y": 15, "z": -3, "vdd": 3616,
        "accMotion": 0, "digital": 0, "pulseAbs": 0, "waterleak": 0});
    frame(fcnt, ts, P0, json!({"payload": p, "status": "success"}))
}

fn write(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let path = dir.join(name);
    let mut f = std::fs::File::create(&path).expect("create");
    for l in lines {
        writeln!(f, "{l}").expect("write");
    }
    path
}

fn lines(frames: &[Value]) -> Vec<String> {
    frames.iter().map(Value::to_string).collect()
}

fn run_source(source: FramesSource) -> (SourceSummary, Vec<SourceBatch>) {
    let (tx, rx) = batch_channel("t", 1 << 16);
    let summary = source.run(&tx).expect("run");
    drop(tx);
    (summary, rx.iter().collect())
}

fn read(paths: &[PathBuf]) -> (SourceSummary, Vec<SourceBatch>, Arc<Interner>) {
    let interner = Interner::shared();
    let cfg = PipelineConfig::default();
    let source = FramesSource::open_many(paths, Arc::clone(&interner), &cfg).expect("open");
    let (s, b) = run_source(source);
    (s, b, interner)
}

fn dead(batches: &[SourceBatch]) -> Vec<(u64, DeadLetterReason, String)> {
    let it = batches.iter().flat_map(|b| &b.dead_letters);
    it.map(|d| (d.offset, d.reason, d.detail.clone())).collect()
}

fn sensors(batches: &[SourceBatch]) -> Vec<(u64, SensorKind, f64)> {
    let mut out = Vec::new();
    for b in batches {
        for i in 0..b.readings.len() {
            let r = &b.readings;
            out.push((r.offset[i], r.sensor[i], r.value[i]));
        }
    }
    out
}

#[test]
fn a_frame_gives_temperature_humidity_and_the_accel_magnitude() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = write(dir.path(), "f.ndjson", &lines(&[ok(71, T0)]));
    let (summary, batches, interner) = read(std::slice::from_ref(&p));
    assert_eq!(
        (summary.records, summary.readings, summary.dead_lettered()),
        (1, 3, 0)
    );
    let r = &batches[0].readings;
    assert_eq!(
        interner.name(r.device[0]).as_deref(),
        Some("perret-A81758FFFE04B1C1")
    );
    assert_eq!(
        interner.name(r.source).as_deref(),
        Some(p.display().to_string().as_str())
    );
    assert_eq!(r.ts, vec![T0; 3]);
    assert_eq!(r.lat[0], 45.18402099609375);
    let accel = (59f64 * 59.0 + 15.0 * 15.0 + 9.0).sqrt() / 63.0;
    let got = sensors(&batches);
    let want = [
        (1, SensorKind::Temperature, 7.0),
        (1, SensorKind::Humidity, 83.0),
    ];
    assert_eq!(got[..2], want);
    assert_eq!((got[2].1, got[2].2), (SensorKind::Accel, accel));
    assert_eq!(batches[0].watermark, Some(T0 - 5_000));
}

#[test]
fn error_frames_are_decoded_from_the_raw_payload() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut f = frame(
        3,
        T0,
        P0,
        json!({"error": "ignoring_invalid_javascript", "status": "error"}),
    );
    f.as_object_mut().expect("obj").remove("reported_at");
    let bad = frame(4, T0 + 1, "AQ!", json!({"status": "error"}));
    let p = write(dir.path(), "f.ndjson", &lines(&[f, bad]));
    let (summary, batches, interner) = read(&[p]);
    assert_eq!(summary.readings, 3);
    let r = &batches[0].readings;
    assert_eq!(r.ts[0], T0 + 488, "falls back to _timestamp");
    assert_eq!(r.value[..2], [7.0, 83.0]);
    assert_eq!(
        interner.name(r.device[0]).as_deref(),
        Some("perret-A81758FFFE04B1C1")
    );
    let d = dead(&batches);
    assert_eq!((d[0].0, d[0].1), (2, DeadLetterReason::Parse));
    assert!(d[0].2.contains("not base64"), "{}", d[0].2);
}

#[test]
fn re_deliveries_are_duplicates_and_an_fcnt_reset_is_not() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut other = ok(1, T0 + 600_000);
    other["payload"] = json!("AQBHAlQDOxD+Bw4gCwAAAAANAA8AEgA=");
    let frames = [
        ok(1, T0),
        ok(1, T0 + 197_000), // re-delivered: same fcnt and payload
        other,               // after a reset: fcnt 1 again, another payload
        ok(2, T0 + 1_200_000),
    ];
    let p = write(dir.path(), "f.ndjson", &lines(&frames));
    let (summary, batches, _) = read(std::slice::from_ref(&p));
    assert_eq!(summary.readings, 9);
    let d = dead(&batches);
    assert_eq!(d.len(), 1);
    assert_eq!((d[0].0, d[0].1), (2, DeadLetterReason::Duplicate));
    let want = format!(
        "fcnt 1 and payload as line 1 of {} (+197000 ms)",
        p.display()
    );
    assert!(d[0].2.ends_with(&want), "{}", d[0].2);
    assert_eq!(
        batches
            .iter()
            .flat_map(|b| &b.dead_letters)
            .next()
            .map(|d| d.ts),
        Some(Some(T0 + 197_000))
    );
}

#[test]
fn the_duplicate_memory_is_bounded_by_count() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut frames: Vec<Value> = (0..=RECENT as u64)
        .map(|i| ok(i, T0 + i as i64 * 1000))
        .collect();
    for (i, f) in frames.iter_mut().enumerate() {
        f["decoded"]["payload"]["temperature"] = json!(i as f64 / 10.0);
        f["payload"] = json!(format!("AQ{i:02}"));
    }
    frames.push(frames[1].clone()); // 16 distinct frames later: remembered
    let mut again = frames[0].clone(); // 17 distinct frames later: forgotten
    again["reported_at"] = json!(T0 + 100_000);
    frames.push(again);
    frames.last_mut().expect("x")["reported_at"] = json!(T0 + 100_000);
    let p = write(dir.path(), "f.ndjson", &lines(&frames));
    let (summary, batches, _) = read(&[p]);
    let d = dead(&batches);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(
        (d[0].0, d[0].1),
        (RECENT as u64 + 2, DeadLetterReason::Duplicate)
    );
    assert_eq!(summary.readings, 3 * (RECENT as u64 + 2));
}

#[test]
fn missing_measurements_and_bad_values() {
    let dir = tempfile::tempdir().expect("tmp");
    let empty = frame(
        0,
        T0,
        "PksHAQ==",
        json!({"payload": {}, "status": "success"}),
    );
    let mut no_th = ok(2, T0 + 1);
    let p = no_th["decoded"]["payload"].as_object_mut().expect("obj");
    p.remove("temperature");
    p.remove("humidity");
    let mut hot = ok(3, T0 + 2);
    hot["decoded"]["payload"]["temperature"] = json!(80.5);
    let mut typed = ok(4, T0 + 3);
    typed["decoded"]["payload"]["humidity"] = json!("83");
    typed["decoded"]["payload"]["x"] = json!(null);
    let mut only_vdd = ok(5, T0 + 4);
    only_vdd["decoded"]["payload"] = json!({"vdd": 3600});
    let frames = lines(&[empty, no_th, hot, typed, only_vdd]);
    let p = write(dir.path(), "f.ndjson", &frames);
    let (summary, batches, _) = read(&[p]);
    let d = dead(&batches);
    use DeadLetterReason::*;
    let reasons: Vec<_> = d.iter().map(|x| (x.0, x.1)).collect();
    assert_eq!(
        reasons,
        [
            (1, MissingField),
            (3, OutOfRange),
            (4, InvalidType),
            (5, MissingField)
        ]
    );
    assert!(
        d[0].2.contains("decoded payload is empty (port 5)"),
        "{}",
        d[0].2
    );
    assert!(
        d[1].2.contains("80.5 outside [-60, 70] for temperature"),
        "{}",
        d[1].2
    );
    assert!(d[2].2.contains("`humidity` must be a number"), "{}", d[2].2);
    assert!(
        d[3].2.contains("no temperature, humidity or x/y/z"),
        "{}",
        d[3].2
    );
    let got: Vec<_> = sensors(&batches).iter().map(|r| (r.0, r.1)).collect();
    use SensorKind::*;
    assert_eq!(
        got,
        [(2, Accel), (3, Humidity), (3, Accel), (4, Temperature)]
    );
    assert_eq!(summary.records, 5);
}

#[test]
fn frame_level_rejections_in_order() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut no_eui = ok(1, T0);
    no_eui.as_object_mut().expect("o").remove("dev_eui");
    let mut no_time = ok(2, T0);
    no_time.as_object_mut().expect("o").remove("reported_at");
    no_time.as_object_mut().expect("o").remove("_timestamp");
    let mut fcnt_str = ok(3, T0);
    fcnt_str["fcnt"] = json!("3");
    let mut half = ok(4, T0);
    half["_devLocation"] = json!({"latitude": 45.0});
    let mut old = ok(5, 1000);
    old["_timestamp"] = json!(1000);
    let mut late = ok(7, T0 - 60_000);
    late["_timestamp"] = json!(0);
    let l = vec![
        "not json".to_owned(),
        no_eui.to_string(),
        no_time.to_string(),
        fcnt_str.to_string(),
        half.to_string(),
        old.to_string(),
        ok(6, T0).to_string(),
        String::new(),
        "  ".to_owned(),
        late.to_string(),
    ];
    let p = write(dir.path(), "f.ndjson", &l);
    let (summary, batches, _) = read(&[p]);
    use DeadLetterReason::*;
    let d: Vec<_> = dead(&batches).into_iter().map(|x| (x.0, x.1)).collect();
    let want = [
        (1, Parse),
        (2, MissingField),
        (3, MissingField),
        (4, InvalidType),
        (5, MissingField),
        (6, OutOfRange),
        (10, Late),
    ];
    assert_eq!(d, want);
    assert_eq!((summary.records, summary.readings), (8, 3));
}

#[test]
fn several_files_are_merged_by_time_and_copies_are_duplicates() {
    let dir = tempfile::tempdir().expect("tmp");
    let f1: Vec<Value> = (0..6).map(|i| ok(i, T0 + i as i64 * 600_000)).collect();
    let mut f2: Vec<Value> = f1[3..].to_vec(); // overlap: three identical frames
    f2.extend((6..9).map(|i| ok(i, T0 + i as i64 * 600_000)));
    let mut frames_b = lines(&f2);
    frames_b.insert(0, String::new());
    let a = write(dir.path(), "a.ndjson", &lines(&f1));
    let b = write(dir.path(), "b.ndjson", &frames_b);
    let progress = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&progress);
    let interner = Interner::shared();
    let cfg = PipelineConfig {
        batch_rows: 4,
        ..PipelineConfig::default()
    };
    let source = FramesSource::open(dir.path(), Arc::clone(&interner), &cfg)
        .expect("dir")
        .with_device_prefix("tower-")
        .with_progress(Box::new(move |n| seen.lock().expect("lock").push(n)));
    assert_eq!(source.paths(), [a.clone(), b.clone()]);
    let size = std::fs::metadata(&a).expect("a").len() + std::fs::metadata(&b).expect("b").len();
    assert_eq!(source.total_bytes(), Some(size));
    let (summary, batches) = run_source(source);
    assert_eq!(
        (summary.records, summary.readings, summary.bytes),
        (12, 27, size)
    );
    let d: Vec<_> = batches.iter().flat_map(|b| &b.dead_letters).collect();
    assert_eq!(d.len(), 3);
    for (k, x) in d.iter().enumerate() {
        assert_eq!(
            (x.reason, &*x.source, x.offset),
            (
                DeadLetterReason::Duplicate,
                &*b.display().to_string(),
                k as u64 + 2
            )
        );
        assert!(
            x.detail
                .contains(&format!("line {} of {}", k + 4, a.display())),
            "{}",
            x.detail
        );
    }
    let names: Vec<_> = batches
        .iter()
        .filter(|x| !x.readings.is_empty())
        .map(|x| interner.name(x.readings.source))
        .collect();
    assert!(names.iter().all(|n| n.is_some()));
    let first = batches
        .iter()
        .find(|x| !x.readings.is_empty())
        .expect("one");
    assert_eq!(
        interner.name(first.readings.device[0]).as_deref(),
        Some("tower-A81758FFFE04B1C1")
    );
    let all_ts: Vec<i64> = batches
        .iter()
        .flat_map(|x| x.readings.ts.iter().copied())
        .collect();
    assert!(all_ts.is_sorted(), "merged in time order");
    assert_eq!(progress.lock().expect("lock").last(), Some(&size));
}

#[test]
fn missing_inputs_fail_at_open() {
    let cfg = PipelineConfig::default();
    let err = FramesSource::open(
        Path::new("/nonexistent/x.ndjson.gz"),
        Interner::shared(),
        &cfg,
    )
    .expect_err("missing");
    assert!(matches!(err, ConnectorError::Open { .. }));
    let dir = tempfile::tempdir().expect("tmp");
    let err = FramesSource::open(dir.path(), Interner::shared(), &cfg).expect_err("empty dir");
    assert!(err.to_string().contains("no .ndjson"), "{err}");
}
