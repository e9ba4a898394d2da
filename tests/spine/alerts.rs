//! End-to-end checks of the home-activity alerts and latency KPIs (issue 3) through the
//! binary: the simulator's injected incidents as the oracle, invariance under shuffles,
//! workers and batch sizes, no duplicates on re-delivery or restart, the live output, and
//! bad input and configuration.

use std::collections::BTreeSet;
use std::path::Path;

use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

use crate::common::*;

/// Every alert record as text (`emit_ts` and `ingest_ts`, wall-clock times, left out), in
/// the order the dataset stores them.
fn alert_rows(data: &Path) -> Vec<String> {
    stored_rows(
        &data.join("alerts"),
        &[
            "alert_id",
            "kind",
            "household",
            "rule",
            "criticity",
            "device",
            "message",
            "evidence",
            "decision_ts",
        ],
    )
}

/// The named columns of every row of a dataset folder as text, in stored order: segments by
/// name, rows as written (read with the Parquet reader itself: a DataFusion scan may
/// interleave partitions).
fn stored_rows(dir: &Path, columns: &[&str]) -> Vec<String> {
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let mut segments: Vec<_> = std::fs::read_dir(dir)
        .expect("dataset folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    segments.sort();
    let options = FormatOptions::default().with_null("∅");
    let mut rows = Vec::new();
    for segment in segments {
        let file = std::fs::File::open(&segment).expect("segment");
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .expect("parquet")
            .build()
            .expect("reader");
        for batch in reader {
            let batch = batch.expect("batch");
            let formatters: Vec<_> = columns
                .iter()
                .map(|name| {
                    let column = batch
                        .column_by_name(name)
                        .unwrap_or_else(|| panic!("column {name}"));
                    ArrayFormatter::try_new(column.as_ref(), &options).expect("formatter")
                })
                .collect();
            for i in 0..batch.num_rows() {
                let cells: Vec<String> =
                    formatters.iter().map(|f| f.value(i).to_string()).collect();
                rows.push(cells.join("|"));
            }
        }
    }
    rows
}

fn text_rows(data: &Path, dataset: &str, sql: &str) -> Vec<String> {
    let ctx = session(None, &[(dataset, &data.join(dataset))]);
    let options = FormatOptions::default().with_null("∅");
    let mut rows = Vec::new();
    for batch in query(&ctx, sql) {
        let formatters: Vec<_> = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).expect("formatter"))
            .collect();
        for i in 0..batch.num_rows() {
            let cells: Vec<String> = formatters.iter().map(|f| f.value(i).to_string()).collect();
            rows.push(cells.join("|"));
        }
    }
    rows
}

/// (household, rule, evidence time) of every raised alert.
fn raised(data: &Path) -> BTreeSet<(String, String, i64)> {
    text_rows(
        data,
        "alerts",
        "SELECT household, rule, CAST(evidence_ts AS BIGINT) FROM alerts WHERE kind = 'raised'",
    )
    .into_iter()
    .map(|row| {
        let cells: Vec<&str> = row.split('|').collect();
        (
            cells[0].to_owned(),
            cells[1].to_owned(),
            cells[2].parse().expect("ts"),
        )
    })
    .collect()
}

/// Equal row lists, reporting the first difference rather than both lists.
fn assert_same(got: &[String], want: &[String], what: &str) {
    if let Some(i) = (0..got.len().max(want.len())).find(|&i| got.get(i) != want.get(i)) {
        panic!(
            "{what} differ at row {i} of {}/{}: got {:?}, want {:?}",
            got.len(),
            want.len(),
            got.get(i),
            want.get(i)
        );
    }
}

fn sim_args() -> Vec<&'static str> {
    vec![
        "--hours",
        "72",
        "--households",
        "12",
        "--devices",
        "1",
        "--trucks",
        "0",
        "--rate",
        "0",
        "--incident-rate",
        "1.5",
        "--disorder-ms",
        "3000",
        "--seed",
        "7",
    ]
}

#[test]
fn every_injected_incident_is_raised_and_nothing_else() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (input, manifest) = simulate(dir.path(), "homes", &sim_args());
    let data = dir.path().join("data");
    ok(&["run", "--input", s(&input), "--data", s(&data)]);

    // The run's event time ends at the last reading: incidents whose threshold falls after
    // it cannot be decided yet (the simulator lists those up to the end of its clock).
    let text = std::fs::read_to_string(&input).expect("input");
    let last_ts = text
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("json")["ts"]
                .as_i64()
                .expect("ts")
        })
        .max()
        .expect("readings");
    let threshold = |kind: &str| match kind {
        "bed_exit_no_return" | "device_silent" => 30 * 60_000,
        "inactivity" => 4 * 3_600_000,
        _ => 0,
    };
    let expected: BTreeSet<(String, String, i64)> = manifest["incidents"]
        .as_array()
        .expect("incidents")
        .iter()
        .map(|i| {
            (
                i["household"].as_str().expect("household").to_owned(),
                i["kind"].as_str().expect("kind").to_owned(),
                i["start_ts"].as_i64().expect("start"),
            )
        })
        .filter(|(_, kind, start)| start + threshold(kind) <= last_ts)
        .collect();
    let kinds: BTreeSet<&str> = expected.iter().map(|(_, k, _)| k.as_str()).collect();
    assert_eq!(
        kinds.len(),
        5,
        "the run must exercise every injected kind: {kinds:?}"
    );
    assert!(expected.len() >= 40, "only {} incidents", expected.len());
    let got = raised(&data);
    let missed: Vec<_> = expected.difference(&got).collect();
    let false_positives: Vec<_> = got.difference(&expected).collect();
    assert!(missed.is_empty(), "incidents not raised: {missed:?}");
    assert!(
        false_positives.is_empty(),
        "alerts nobody injected: {false_positives:?}"
    );

    // kpi_latency: every device's inter-arrival rows, and an alert-latency row per window
    // with raised alerts.
    let ctx = session(None, &[("kpi", &data.join("kpi_latency"))]);
    assert!(
        count(
            &ctx,
            "SELECT count(*) FROM kpi WHERE metric = 'inter_arrival'"
        ) > 100
    );
    assert_eq!(
        count(
            &ctx,
            "SELECT sum(count) FROM kpi WHERE metric = 'alert_latency'"
        ) as usize,
        got.len()
    );
    // Home devices report their status every 10 min ± 1 min, far beyond the 25 s target.
    assert!(
        count(
            &ctx,
            "SELECT sum(over_target) FROM kpi WHERE device LIKE 'home-%'"
        ) > 1000
    );
    assert_eq!(
        count(&ctx, "SELECT count(*) FROM kpi WHERE over_target > count"),
        0
    );
}

#[test]
fn same_alerts_for_shuffles_workers_and_batch_sizes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (input, _) = simulate(dir.path(), "ordered", &sim_args());
    let shuffled = dir.path().join("shuffled.jsonl");
    shuffle_within(&input, &shuffled, 5_000, 11);
    let run = |name: &str, input: &Path, extra: &[&str]| {
        let data = dir.path().join(name);
        let mut args = vec!["run", "--input", s(input), "--data", s(&data)];
        args.extend_from_slice(extra);
        ok(&args);
        let gaps: Vec<String> = stored_rows(
            &data.join("kpi_latency"),
            &[
                "metric",
                "device",
                "window_start",
                "count",
                "p50_ms",
                "p95_ms",
                "p99_ms",
                "max_ms",
                "over_target",
            ],
        )
        .into_iter()
        .filter(|row| row.starts_with("inter_arrival|"))
        .collect();
        (alert_rows(&data), gaps)
    };
    let reference = run("ref", &input, &["--workers", "1"]);
    assert!(reference.0.len() > 60, "{} alert rows", reference.0.len());
    for (name, file, extra) in [
        ("shuffled", &shuffled, vec!["--workers", "1"]),
        ("w2", &shuffled, vec!["--workers", "2"]),
        ("w4", &input, vec!["--workers", "4"]),
        (
            "b500",
            &shuffled,
            vec!["--batch-rows", "500", "--workers", "3"],
        ),
        ("b37", &input, vec!["--batch-rows", "37"]),
    ] {
        let got = run(name, file, &extra);
        assert_same(&got.0, &reference.0, &format!("{name}: alert rows"));
        assert_same(&got.1, &reference.1, &format!("{name}: inter-arrival KPIs"));
    }
}

#[test]
fn redelivery_and_restarts_raise_no_episode_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (input, _) = simulate(
        dir.path(),
        "homes",
        &[
            "--hours",
            "48",
            "--incident-rate",
            "2",
            "--devices",
            "1",
            "--trucks",
            "0",
            "--rate",
            "0",
        ],
    );
    // Every reading delivered twice, the copy right after the original.
    let text = std::fs::read_to_string(&input).expect("input");
    let doubled = dir.path().join("doubled.jsonl");
    let lines: Vec<&str> = text.lines().flat_map(|l| [l, l]).collect();
    std::fs::write(&doubled, lines.join("\n") + "\n").expect("write");

    let once = dir.path().join("once");
    ok(&["run", "--input", s(&input), "--data", s(&once)]);
    let twice = dir.path().join("twice");
    let live = dir.path().join("live.jsonl");
    ok(&[
        "run",
        "--input",
        s(&doubled),
        "--data",
        s(&twice),
        "--alerts-out",
        s(&live),
    ]);
    let reference = alert_rows(&once);
    assert!(reference.len() > 20);
    assert_same(&alert_rows(&twice), &reference, "re-delivered readings");

    // The live output carried the same records, in the same order.
    let live_rows: Vec<serde_json::Value> = std::fs::read_to_string(&live)
        .expect("live output")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(live_rows.len(), reference.len());
    for (row, json) in reference.iter().zip(&live_rows) {
        let id = json["alert_id"].as_str().expect("id");
        let kind = json["kind"].as_str().expect("kind");
        assert!(row.starts_with(&format!("{id}|{kind}|")), "{row} vs {json}");
    }

    // A restart over the same input into the same datasets adds no record and sends none.
    ok(&[
        "run",
        "--input",
        s(&doubled),
        "--data",
        s(&twice),
        "--alerts-out",
        s(&live),
    ]);
    assert_same(&alert_rows(&twice), &reference, "restart");
    let after = std::fs::read_to_string(&live)
        .expect("live output")
        .lines()
        .count();
    assert_eq!(after, live_rows.len(), "the restart re-sent alerts");
    ok(&["verify", "--data", s(&twice)]);
}

#[test]
fn msec_alerts_lists_active_and_recent_alerts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("night.jsonl");
    // 2026-01-14, Madrid (UTC+1): the door opens at 03:12 local and is never closed; the
    // bed empties at 02:10 and is occupied again at 02:55.
    let t0 = 1_768_345_200_000_i64; // 00:00 local
    let min = 60_000_i64;
    let mut lines = Vec::new();
    let mut push = |device: &str, sensor: &str, ts: i64, value: f64| {
        lines.push(format!(
            r#"{{"device":"{device}","sensor":"{sensor}","ts":{ts},"value":{value}}}"#
        ));
    };
    for m in (0..240).step_by(10) {
        let bed = if (130..175).contains(&m) { 0.0 } else { 1.0 };
        push("home-900-bed", "bed", t0 + m * min, bed);
        push(
            "home-900-door",
            "door",
            t0 + m * min + 1,
            if m >= 192 { 1.0 } else { 0.0 },
        );
    }
    push("home-900-bed", "bed", t0 + 130 * min + 5, 0.0);
    push("home-900-door", "door", t0 + 192 * min, 1.0);
    lines.sort_by_key(|l| {
        serde_json::from_str::<serde_json::Value>(l).expect("json")["ts"].as_i64()
    });
    std::fs::write(&input, lines.join("\n") + "\n").expect("write");
    let data = dir.path().join("data");
    ok(&["run", "--input", s(&input), "--data", s(&data)]);

    let out = ok(&["alerts", "--data", s(&data)]);
    assert!(out.contains("active alerts: 1"), "{out}");
    assert!(
        out.contains("door_open_night") && out.contains("home-900"),
        "{out}"
    );
    assert!(
        out.contains("recent alert records (newest first): 3"),
        "{out}"
    );
    assert!(
        out.contains("bed_exit_no_return") && out.contains("resolved"),
        "{out}"
    );
    let json = ok(&[
        "alerts",
        "--data",
        s(&data),
        "--household",
        "home-901",
        "--format",
        "json",
    ]);
    assert!(!json.contains("home-900"), "{json}");
    let missing = run(&["alerts", "--data", s(&dir.path().join("nothing"))]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no alerts dataset"));
}

#[test]
fn bad_rules_and_bad_home_input_give_clear_errors_or_dead_letters() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("bad.jsonl");
    std::fs::write(
        &input,
        concat!(
            "{\"device\":\"home-001-bed\",\"sensor\":\"bed\",\"ts\":1768345200000,\"value\":7}\n",
            "{\"device\":\"home-001-smell\",\"sensor\":\"smell\",\"ts\":1768345200001,\"value\":1}\n",
            "{\"device\":\"home-001-bed\",\"sensor\":\"bed\",\"ts\":1768345200002,\"value\":1}\n",
        ),
    )
    .expect("write");
    let data = dir.path().join("data");
    ok(&["run", "--input", s(&input), "--data", s(&data)]);
    let ctx = session(None, &[("dead", &data.join("dead_letter"))]);
    assert_eq!(
        count(
            &ctx,
            "SELECT count(*) FROM dead WHERE reason = 'out_of_range'"
        ),
        1
    );
    assert_eq!(
        count(
            &ctx,
            "SELECT count(*) FROM dead WHERE reason = 'unknown_sensor'"
        ),
        1
    );

    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        "[[alerts.households]]\nprefix = \"casa-\"\nid_parts = 2\n",
    )
    .expect("write");
    let out = run(&[
        "run",
        "--input",
        s(&input),
        "--data",
        s(&dir.path().join("d2")),
        "--config",
        s(&rules),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("rules.toml") && err.contains("casa-") && err.contains("no time zone"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_silent_house_raises_device_silent_on_the_wall_clock() {
    use std::io::Write;
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        "[pipeline]\nlateness_ms = 0\nidle_timeout_ms = 200\n\n[alerts.device_silent]\nminutes = 0.02\n",
    )
    .expect("write");
    let live = dir.path().join("live.jsonl");
    let data = dir.path().join("data");
    let mut child = msec()
        .args([
            "run",
            "--input",
            "-",
            "--data",
            s(&data),
            "--config",
            s(&rules),
            "--alerts-out",
            s(&live),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("msec starts");
    let mut stdin = child.stdin.take().expect("stdin");
    let t0 = msec_engine::time::now_ms();
    let line =
        |ts: i64| format!(r#"{{"device":"home-001-bed","sensor":"bed","ts":{ts},"value":1}}"#);
    writeln!(stdin, "{}\n{}", line(t0), line(t0 + 100)).expect("write");
    stdin.flush().expect("flush");

    // The house is silent and stdin stays open: the alert must come from the wall clock
    // (1.2 s silence limit, 0.2 s idle timeout, 1 s watermark granularity), not from data.
    let started = Instant::now();
    let raised = loop {
        let text = std::fs::read_to_string(&live).unwrap_or_default();
        if let Some(l) = text.lines().find(|l| l.contains("device_silent")) {
            break serde_json::from_str::<serde_json::Value>(l).expect("json");
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no alert while idle"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(raised["kind"], "raised");
    assert_eq!(raised["decision_ts"], t0 + 100 + 1_200);

    // A reading the clock has passed since is late, not silently merged.
    writeln!(stdin, "{}", line(t0 + 200)).expect("write");
    drop(stdin);
    let out = child.wait_with_output().expect("msec ends");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ctx = session(None, &[("dead", &data.join("dead_letter"))]);
    assert_eq!(
        count(&ctx, "SELECT count(*) FROM dead WHERE reason = 'late'"),
        1
    );
    let rows = alert_rows(&data);
    assert_eq!(rows.len(), 1, "{rows:?}");
}
