//! A real log through `msec run --mapping`: the HomeAssist home (95,157 events of 2017).

use std::path::Path;

use crate::common::*;

#[test]
fn homeassist_log_through_run_verify_and_sql() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets");
    let log = shared.join("homeassist_home1/Home1_2017.csv");
    if !log.exists() {
        println!("skipped: ../shared/datasets not found");
        return;
    }
    let mapping = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/mappings/homeassist_home1.toml");
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let out = ok(&[
        "run",
        "--input",
        s(&log),
        "--mapping",
        s(&mapping),
        "--data",
        s(&data),
    ]);
    assert!(out.contains("records in:      95157"), "{out}");
    ok(&["verify", "--data", s(&data)]);

    let ctx = session(
        None,
        &[
            ("readings", &data.join("readings")),
            ("dl", &data.join("dead_letter")),
        ],
    );
    let readings = count(&ctx, "SELECT count(*) FROM readings");
    let dead = count(&ctx, "SELECT count(*) FROM dl");
    assert_eq!(readings + dead, 95_157, "nothing dropped");
    // Every reading lies in 2017 and every dead letter keeps its line.
    assert_eq!(
        count(
            &ctx,
            "SELECT count(*) FROM readings WHERE ts < '2017-01-01T00:00:00Z' OR ts >= '2018-01-01T00:00:00Z'"
        ),
        0
    );
    assert_eq!(
        count(&ctx, "SELECT count(DISTINCT \"offset\") FROM dl"),
        dead
    );
}
