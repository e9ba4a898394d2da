//! `msec sql`: every dataset and the catalog as tables, four output formats, SQL errors as
//! errors (exit 1 with a one-line reason), never panics.

use crate::common::*;

#[test]
fn sql_formats_catalog_and_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (input, _) = simulate(dir.path(), "in", &["--hours", "0.1", "--bad-rate", "0.01"]);
    let data = dir.path().join("data");
    ok(&["run", "--input", s(&input), "--data", s(&data)]);
    let d = s(&data);

    let csv = ok(&[
        "sql",
        "--data",
        d,
        "--format",
        "csv",
        "SELECT name, rows FROM catalog ORDER BY name",
    ]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "name,rows", "header row");
    // One row per dataset, in name order, each with its row count.
    let names: Vec<&str> = lines[1..]
        .iter()
        .filter_map(|l| l.split(',').next())
        .collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted, "{csv}");
    for expected in ["agg_1m", "alerts", "dead_letter", "kpi_latency", "readings"] {
        assert!(names.contains(&expected), "{expected} missing: {csv}");
    }
    assert!(lines[1..].iter().all(|l| {
        l.split(',')
            .nth(1)
            .is_some_and(|n| n.parse::<u64>().is_ok())
    }));

    let table = ok(&["sql", "--data", d, "SELECT count(*) AS n FROM readings"]);
    assert!(table.contains("| n"), "{table}");

    let json = ok(&[
        "sql",
        "--data",
        d,
        "--format",
        "json",
        "SELECT sensor, count(*) AS n FROM agg_1m GROUP BY sensor",
    ]);
    for line in json.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("json line");
        assert!(v["n"].as_i64().expect("n") > 0);
    }

    let out = msec()
        .args([
            "sql",
            "--data",
            d,
            "--format",
            "parquet",
            "SELECT * FROM dead_letter",
        ])
        .output()
        .expect("run");
    assert!(out.status.success());
    assert_eq!(&out.stdout[..4], b"PAR1", "parquet magic");

    for bad in [
        "SELEC 1",
        "SELECT nope FROM readings",
        "SELECT * FROM no_such_table",
    ] {
        let out = run(&["sql", "--data", d, bad]);
        assert_eq!(out.status.code(), Some(1), "{bad}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            stderr.trim().lines().count(),
            1,
            "one-line reason: {stderr}"
        );
        assert!(stderr.starts_with("msec: error:"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
