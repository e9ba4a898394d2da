//! `agg_1m` equals a DataFusion GROUP BY over the raw readings; late records are exactly the
//! ones below (max event time before them − lateness), and agg_1m then equals the oracle over
//! the rest.

use crate::common::*;

#[test]
fn agg_1m_equals_group_by_over_raw_readings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (input, _) = simulate(dir.path(), "clean", &["--disorder-ms", "4000"]);
    let data = dir.path().join("data");
    let out = ok(&["run", "--input", s(&input), "--data", s(&data)]);
    assert!(out.contains("dead letters:    0"), "{out}");
    let want = oracle(&input, "");
    assert!(want.len() > 100, "meaningful input: {} windows", want.len());
    assert_agg_eq(&agg_1m(&data), &want);

    // Every reading is in `readings`, read by DataFusion directly from the segment files.
    let ctx = session(Some(&input), &[("readings", &data.join("readings"))]);
    assert_eq!(
        count(&ctx, "SELECT count(*) FROM readings"),
        count(&ctx, "SELECT count(*) FROM raw")
    );
    // Provenance: offsets are the 1-based line numbers, each exactly once.
    assert_eq!(
        count(&ctx, "SELECT count(DISTINCT \"offset\") FROM readings"),
        count(&ctx, "SELECT count(*) FROM raw")
    );
}

#[test]
fn late_records_are_dead_lettered_and_excluded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (input, _) = simulate(dir.path(), "disordered", &["--disorder-ms", "30000"]);
    let data = dir.path().join("data");
    ok(&[
        "run",
        "--input",
        s(&input),
        "--data",
        s(&data),
        "--lateness-ms",
        "5000",
    ]);

    // Recompute lateness from scratch: a line is late when its ts is below the largest ts of
    // the on-time lines before it minus the lateness.
    let text = std::fs::read_to_string(&input).expect("read");
    let mut max_seen: Option<i64> = None;
    let mut late_lines = Vec::new();
    let mut on_time = String::new();
    for (i, line) in text.lines().enumerate() {
        let ts = serde_json::from_str::<serde_json::Value>(line).expect("json")["ts"]
            .as_i64()
            .expect("ts");
        if max_seen.is_some_and(|m| ts < m - 5000) {
            late_lines.push(i as u64 + 1);
        } else {
            max_seen = Some(max_seen.map_or(ts, |m| m.max(ts)));
            on_time.push_str(line);
            on_time.push('\n');
        }
    }
    assert!(
        late_lines.len() > 100,
        "the test needs late records: {}",
        late_lines.len()
    );

    let ctx = session(None, &[("dl", &data.join("dead_letter"))]);
    let got = query(
        &ctx,
        "SELECT \"offset\" FROM dl WHERE reason = 'late' ORDER BY 1",
    );
    let mut offsets = Vec::new();
    for b in &got {
        let col = datafusion::arrow::compute::cast(
            b.column(0),
            &datafusion::arrow::datatypes::DataType::Int64,
        )
        .expect("cast");
        use datafusion::arrow::array::AsArray;
        offsets.extend(
            col.as_primitive::<datafusion::arrow::datatypes::Int64Type>()
                .values()
                .iter()
                .map(|&v| v as u64),
        );
    }
    assert_eq!(
        offsets, late_lines,
        "late dead letters are exactly the late lines"
    );

    let on_time_path = dir.path().join("on_time.jsonl");
    std::fs::write(&on_time_path, on_time).expect("write");
    assert_agg_eq(&agg_1m(&data), &oracle(&on_time_path, ""));
}
