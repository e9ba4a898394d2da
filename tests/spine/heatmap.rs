//! The `heatmap` dataset through the binary (issue 4): equal to a DataFusion SQL computation
//! over the raw JSON lines with the same cell function, the same rows for shuffled input,
//! other worker counts and batch sizes; and the Tour Perret frames' quirks in `fivev` and
//! `dead_letter`.

use std::collections::BTreeMap;
use std::path::Path;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};

use crate::common::*;

/// (metric, cell, window start) → (count, sum, max, avg).
type Cells = BTreeMap<(String, String, i64), (i64, f64, f64, f64)>;

fn cells(ctx: &datafusion::prelude::SessionContext, sql: &str) -> Cells {
    let mut out = Cells::new();
    for b in query(ctx, sql) {
        let text = |i: usize| {
            datafusion::arrow::compute::cast(b.column(i), &DataType::Utf8).expect("cast")
        };
        let int = |i: usize| {
            datafusion::arrow::compute::cast(b.column(i), &DataType::Int64).expect("cast")
        };
        let float = |i: usize| {
            datafusion::arrow::compute::cast(b.column(i), &DataType::Float64).expect("cast")
        };
        let (metric, cell, w, n) = (text(0), text(1), int(2), int(3));
        let (sum, max, avg) = (float(4), float(5), float(6));
        for i in 0..b.num_rows() {
            out.insert(
                (
                    metric.as_string::<i32>().value(i).to_owned(),
                    cell.as_string::<i32>().value(i).to_owned(),
                    w.as_primitive::<Int64Type>().value(i),
                ),
                (
                    n.as_primitive::<Int64Type>().value(i),
                    sum.as_primitive::<Float64Type>().value(i),
                    max.as_primitive::<Float64Type>().value(i),
                    avg.as_primitive::<Float64Type>().value(i),
                ),
            );
        }
        assert_eq!(sum.null_count(), 0);
    }
    out
}

const HEATMAP_SQL: &str = "SELECT metric, cell, CAST(window_start AS BIGINT), count, sum, max, avg \
                           FROM heatmap WHERE metric IN ('crowd', 'pm25', 'temperature', 'noise', 'co2')";

#[test]
fn heatmap_equals_sql_over_the_raw_readings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (input, _) = simulate(
        dir.path(),
        "city",
        &["--hours", "0.5", "--disorder-ms", "2000"],
    );
    let data = dir.path().join("data");
    ok(&["run", "--input", s(&input), "--data", s(&data)]);

    let ctx = session(Some(&input), &[("heatmap", &data.join("heatmap"))]);
    let got = cells(&ctx, HEATMAP_SQL);
    // The same cell function in SQL: floor(lon × 1000), floor(lat × 1000), 5-min windows.
    let want = cells(
        &ctx,
        "SELECT sensor, concat(CAST(CAST(floor(lon * 1000) AS BIGINT) AS VARCHAR), ':', \
                CAST(CAST(floor(lat * 1000) AS BIGINT) AS VARCHAR)), \
                (ts - ts % 300000), count(*), sum(value), max(value), avg(value) \
         FROM raw WHERE lat IS NOT NULL AND sensor IN ('crowd', 'pm25', 'temperature', 'noise', 'co2') \
         GROUP BY 1, 2, 3",
    );
    assert!(want.len() > 100, "{} cells", want.len());
    // 5V value: the cells published, counted in fivev.
    let value = session(
        None,
        &[
            ("fivev", &data.join("fivev")),
            ("heatmap", &data.join("heatmap")),
        ],
    );
    assert_eq!(
        count(&value, "SELECT sum(heatmap_cells) FROM fivev"),
        count(&value, "SELECT count(*) FROM heatmap")
    );
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    for (k, g) in &got {
        let w = want[k];
        assert_eq!((g.0, g.2), (w.0, w.2), "{k:?} count/max");
        // The heat map's sum is exact (fixed point); DataFusion's is a float sum.
        assert!(
            (g.1 - w.1).abs() <= 1e-9 * w.1.abs().max(1.0),
            "{k:?} sum {} vs {}",
            g.1,
            w.1
        );
        assert!(
            (g.3 - w.3).abs() <= 1e-9 * w.3.abs().max(1.0),
            "{k:?} avg {} vs {}",
            g.3,
            w.3
        );
    }
}

#[test]
fn same_heatmap_for_shuffles_workers_and_batch_sizes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (input, _) = simulate(
        dir.path(),
        "city",
        &["--hours", "0.5", "--reporters", "200"],
    );
    let shuffled = dir.path().join("shuffled.jsonl");
    shuffle_within(&input, &shuffled, 5_000, 5);
    let run = |name: &str, file: &Path, extra: &[&str]| {
        let data = dir.path().join(name);
        let mut args = vec!["run", "--input", s(file), "--data", s(&data)];
        args.extend_from_slice(extra);
        ok(&args);
        let ctx = session(None, &[("heatmap", &data.join("heatmap"))]);
        cells(
            &ctx,
            "SELECT metric, cell, CAST(window_start AS BIGINT), count, sum, max, avg FROM heatmap",
        )
    };
    let reference = run("ref", &input, &[]);
    assert!(
        reference.keys().any(|(m, _, _)| m == "reports"),
        "some report cell reaches k"
    );
    for (name, file, extra) in [
        ("shuffled", &shuffled, vec!["--workers", "2"]),
        ("w4", &input, vec!["--workers", "4", "--batch-rows", "333"]),
        ("b50", &shuffled, vec!["--batch-rows", "50"]),
    ] {
        let got = run(name, file, &extra);
        assert!(got == reference, "{name}: heat map differs");
    }
}

#[test]
fn tour_perret_quirks_show_in_fivev_and_dead_letters() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets/grenoble_tourperret");
    if !dir.exists() {
        println!("skipped: ../shared/datasets not found");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let out = ok(&["run", "--input", s(&dir), "--data", s(&data)]);
    // Both files, merged by time: 1,983 re-deliveries in file 1, 6,300 frames in both files,
    // 213 more re-deliveries in file 2 (SOURCE.md mentions the first two), one frame whose
    // decoded payload is empty.
    assert!(out.contains("records in:      32965"), "{out}");
    let ctx = session(
        None,
        &[
            ("fivev", &data.join("fivev")),
            ("dl", &data.join("dead_letter")),
        ],
    );
    assert_eq!(count(&ctx, "SELECT sum(duplicate) FROM fivev"), 8_496);
    assert_eq!(
        count(&ctx, "SELECT count(*) FROM dl WHERE reason = 'duplicate'"),
        8_496
    );
    assert_eq!(
        count(
            &ctx,
            "SELECT count(*) FROM dl WHERE reason = 'missing_field'"
        ),
        1
    );
    assert_eq!(count(&ctx, "SELECT sum(invalid) FROM fivev"), 1);
    assert_eq!(count(&ctx, "SELECT sum(records) FROM fivev"), 32_965);
    assert_eq!(
        count(&ctx, "SELECT count(*) FROM dl"),
        8_497,
        "no other rejection"
    );
    let fmt = ok(&["fivev", "--data", s(&data), "--format", "csv"]);
    assert!(fmt.lines().count() >= 2, "{fmt}");
}
