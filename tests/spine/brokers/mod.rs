//! msec against real brokers (issue 5): round trips of more than 100 000 readings through
//! Kafka (tansu) and MQTT (mosquitto) published by clients no one here wrote, crash tests
//! that SIGKILL msec at random moments while the stream is being published, and overload.

mod crash;
mod harness;
mod outputs;
mod overload;
mod round_trip;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

/// A pipeline file with a `[source]` and `[pipeline]` settings for broker tests.
pub fn pipeline_file(dir: &Path, name: &str, source: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    let text = format!("[pipeline]\ncheckpoint_interval_ms = 300\n\n[source]\n{source}\n");
    std::fs::write(&path, text).expect("pipeline file");
    path
}

/// Starts `msec run --config <config> --data <data>` in the background; its log (info
/// level) goes to a file beside `data` (see [`log_of`]).
pub fn spawn_run(config: &Path, data: &Path, extra: &[&str]) -> Child {
    let log = std::fs::File::create(log_of(data)).expect("log file");
    msec()
        .env("MSEC_LOG", "info")
        .args(["run", "--config", s(config), "--data", s(data)])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("msec run starts")
}

/// The log file of the latest run started on `data`.
pub fn log_of(data: &Path) -> PathBuf {
    data.with_extension("log")
}

/// Starts a run and waits until its log says `marker` (e.g. the MQTT source's "subscribed").
pub fn spawn_ready(config: &Path, data: &Path, marker: &str) -> Child {
    let mut child = spawn_run(config, data, &[]);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let log = std::fs::read_to_string(log_of(data)).unwrap_or_default();
        if log.contains(marker) {
            return child;
        }
        if let Some(status) = child.try_wait().expect("wait") {
            panic!("msec run exited ({status}) before {marker:?}: {log}");
        }
        assert!(
            Instant::now() < deadline,
            "no {marker:?} within 60 s: {log}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for a run on `data` to end by itself (end of input), at most `limit`; returns its
/// stdout.
pub fn finish(mut child: Child, data: &Path, limit: Duration) -> String {
    let log = log_of(data);
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let out = child.wait_with_output().expect("output");
            assert!(
                status.success(),
                "msec run failed ({status}): {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            return String::from_utf8_lossy(&out.stdout).into_owned();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "msec run did not end within {limit:?}: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `readings` checked by provenance: (rows, distinct (source, offset) pairs).
pub fn readings_by_provenance(data: &Path) -> (i64, i64) {
    let ctx = session(None, &[("readings", &data.join("readings"))]);
    (
        count(&ctx, "SELECT count(*) FROM readings"),
        count(
            &ctx,
            "SELECT count(*) FROM (SELECT DISTINCT source, \"offset\" FROM readings)",
        ),
    )
}

/// Dead letters per reason.
pub fn dead_letters_by_reason(data: &Path) -> Vec<(String, i64)> {
    let has_segments = std::fs::read_dir(data.join("dead_letter")).is_ok_and(|d| {
        d.flatten()
            .any(|e| e.path().extension().is_some_and(|x| x == "parquet"))
    });
    if !has_segments {
        return Vec::new();
    }
    let ctx = session(None, &[("dead", &data.join("dead_letter"))]);
    let batches = query(
        &ctx,
        "SELECT reason, count(*) AS n FROM dead GROUP BY reason ORDER BY reason",
    );
    let mut out = Vec::new();
    for b in &batches {
        let reasons = datafusion::arrow::compute::cast(
            b.column(0),
            &datafusion::arrow::datatypes::DataType::Utf8,
        )
        .expect("cast");
        let n = datafusion::arrow::compute::cast(
            b.column(1),
            &datafusion::arrow::datatypes::DataType::Int64,
        )
        .expect("cast");
        use datafusion::arrow::array::AsArray;
        let reasons = reasons.as_string::<i32>();
        let n = n.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
        for i in 0..b.num_rows() {
            out.push((reasons.value(i).to_owned(), n.value(i)));
        }
    }
    out
}

/// The manifest's bad records per reason, in the same shape.
pub fn manifest_bad(manifest: &serde_json::Value) -> Vec<(String, i64)> {
    let mut out: Vec<(String, i64)> = manifest["bad"]
        .as_object()
        .expect("bad")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_i64().expect("count")))
        .filter(|(_, n)| *n > 0)
        .collect();
    out.sort();
    out
}

/// `msec verify` passes on every dataset.
pub fn assert_verifies(data: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_msec"))
        .args(["verify", "--data", s(data)])
        .output()
        .expect("verify");
    assert!(
        out.status.success(),
        "verify failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
