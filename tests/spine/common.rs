//! Helpers: run the binary, simulate input, query with DataFusion directly (not through msec).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema};
use datafusion::prelude::{JsonReadOptions, ParquetReadOptions, SessionContext};

/// The msec binary under test.
pub fn msec() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_msec"));
    c.env("MSEC_LOG", "warn");
    c
}

/// Runs msec with `args`, asserting success; returns stdout.
pub fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "msec {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs msec with `args`.
pub fn run(args: &[&str]) -> Output {
    msec().args(args).output().expect("msec runs")
}

/// Path as &str.
pub fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Simulates into `dir/name.jsonl` and returns the path and the manifest.
pub fn simulate(dir: &Path, name: &str, extra: &[&str]) -> (PathBuf, serde_json::Value) {
    let path = dir.join(format!("{name}.jsonl"));
    let mut args = vec!["simulate", "--out", s(&path)];
    if !extra.contains(&"--households") {
        args.extend_from_slice(&["--households", "10"]);
    }
    if !extra.contains(&"--hours") {
        args.extend_from_slice(&["--hours", "0.5"]);
    }
    args.extend_from_slice(extra);
    ok(&args);
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(format!("{}.manifest.json", path.display())).expect("manifest"),
    )
    .expect("manifest json");
    (path, manifest)
}

/// A tokio runtime for DataFusion.
pub fn rt() -> tokio::runtime::Runtime {
    msec_engine::runtime::async_runtime(2).expect("runtime")
}

/// Collects a query over a session.
pub fn query(ctx: &SessionContext, sql: &str) -> Vec<RecordBatch> {
    rt().block_on(async {
        ctx.sql(sql)
            .await
            .expect("plan")
            .collect()
            .await
            .expect("execute")
    })
}

/// The canonical reading schema of raw JSON lines.
pub fn raw_schema() -> Schema {
    Schema::new(vec![
        Field::new("device", DataType::Utf8, false),
        Field::new("sensor", DataType::Utf8, false),
        Field::new("ts", DataType::Int64, false),
        Field::new("value", DataType::Float64, false),
        Field::new("lat", DataType::Float64, true),
        Field::new("lon", DataType::Float64, true),
    ])
}

/// A session with the raw JSON lines as `raw` and a dataset folder's Parquet files as `name`,
/// both read by DataFusion itself.
pub fn session(raw: Option<&Path>, datasets: &[(&str, &Path)]) -> SessionContext {
    let ctx = SessionContext::new();
    rt().block_on(async {
        if let Some(raw) = raw {
            let schema = raw_schema();
            let opts = JsonReadOptions::default()
                .schema(&schema)
                .file_extension(".jsonl");
            ctx.register_json("raw", s(raw), opts)
                .await
                .expect("register raw");
        }
        for (name, dir) in datasets {
            let opts = ParquetReadOptions::default().file_extension(".parquet");
            ctx.register_parquet(*name, format!("{}/", s(dir)), opts)
                .await
                .expect("register parquet");
        }
    });
    ctx
}

/// One `agg_1m`-shaped row: device, sensor, window_start, count, min, max, avg.
pub type AggRow = (String, String, i64, i64, f64, f64, f64);

/// Rows of a query returning (device, sensor, window_start, count, min, max, avg), sorted.
pub fn agg_rows(batches: &[RecordBatch]) -> Vec<AggRow> {
    let mut rows = Vec::new();
    for b in batches {
        let strings = |i: usize| -> Vec<String> {
            let col = datafusion::arrow::compute::cast(b.column(i), &DataType::Utf8).expect("cast");
            let col = col.as_string::<i32>();
            (0..col.len()).map(|r| col.value(r).to_owned()).collect()
        };
        let ints = |i: usize| -> Vec<i64> {
            let col =
                datafusion::arrow::compute::cast(b.column(i), &DataType::Int64).expect("cast");
            col.as_primitive::<Int64Type>().values().to_vec()
        };
        let floats = |i: usize| -> Vec<f64> {
            let col =
                datafusion::arrow::compute::cast(b.column(i), &DataType::Float64).expect("cast");
            col.as_primitive::<Float64Type>().values().to_vec()
        };
        let (d, se, w, c, mn, mx, av) = (
            strings(0),
            strings(1),
            ints(2),
            ints(3),
            floats(4),
            floats(5),
            floats(6),
        );
        for r in 0..b.num_rows() {
            rows.push((d[r].clone(), se[r].clone(), w[r], c[r], mn[r], mx[r], av[r]));
        }
    }
    rows.sort_by(|a, b| (&a.0, &a.1, a.2).cmp(&(&b.0, &b.1, b.2)));
    rows
}

/// `agg_1m` as msec wrote it, read directly from its Parquet files.
pub fn agg_1m(data: &Path) -> Vec<AggRow> {
    let ctx = session(None, &[("agg", &data.join("agg_1m"))]);
    agg_rows(&query(
        &ctx,
        "SELECT device, sensor, window_start, count, min, max, avg FROM agg",
    ))
}

/// The oracle: a DataFusion GROUP BY over the raw JSON lines (optionally filtered).
pub fn oracle(raw: &Path, filter: &str) -> Vec<AggRow> {
    let ctx = session(Some(raw), &[]);
    let sql = format!(
        "SELECT device, sensor, (ts / 60000) * 60000 AS window_start, count(*) AS count, \
         min(value), max(value), avg(value) FROM raw {filter} GROUP BY 1, 2, 3"
    );
    agg_rows(&query(&ctx, &sql))
}

/// Asserts two aggregate tables agree: count, min and max exactly, avg to 1e-9 relative.
pub fn assert_agg_eq(got: &[AggRow], want: &[AggRow]) {
    assert_eq!(got.len(), want.len(), "row counts differ");
    for (g, w) in got.iter().zip(want) {
        assert_eq!(
            (&g.0, &g.1, g.2, g.3, g.4, g.5),
            (&w.0, &w.1, w.2, w.3, w.4, w.5),
            "row differs"
        );
        let rel = (g.6 - w.6).abs() / w.6.abs().max(1e-300);
        assert!(
            rel <= 1e-9 || (g.6 - w.6).abs() < 1e-12,
            "avg differs: {g:?} vs {w:?}"
        );
    }
}

/// Counts rows of a single-integer query.
pub fn count(ctx: &SessionContext, sql: &str) -> i64 {
    let b = query(ctx, sql);
    let col = b[0].column(0);
    datafusion::arrow::compute::cast(col, &DataType::Int64)
        .expect("cast")
        .as_primitive::<Int64Type>()
        .value(0)
}

/// Reorders JSON lines with bounded disorder: sorted by ts + delay, delay uniform in [0, bound].
pub fn shuffle_within(src: &Path, dst: &Path, bound: i64, seed: u64) {
    let text = std::fs::read_to_string(src).expect("read");
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut keyed: Vec<(i64, usize, &str)> = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            let v: serde_json::Value = serde_json::from_str(l).expect("clean input");
            let ts = v["ts"].as_i64().expect("ts");
            (ts + (next() % (bound as u64 + 1)) as i64, i, l)
        })
        .collect();
    keyed.sort();
    let out: Vec<&str> = keyed.into_iter().map(|(_, _, l)| l).collect();
    std::fs::write(dst, out.join("\n") + "\n").expect("write");
}
