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
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/rules/homeassist_home1.toml");
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let out = ok(&[
        "run",
        "--input",
        s(&log),
        "--mapping",
        s(&mapping),
        "--config",
        s(&rules),
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

    // The 36-day (from 17 January) and 47-day (from 24 September) outages: every device
    // that spoke before them is reported silent a day later (a week for the plugs, which
    // report only when used), then back when data resumes.
    let actx = session(None, &[("alerts", &data.join("alerts"))]);
    for (from, to, min_devices) in [
        ("2017-01-17T00:00:00Z", "2017-01-25T00:00:00Z", 11),
        ("2017-09-24T00:00:00Z", "2017-10-02T00:00:00Z", 6), // only the motion sensors still spoke then
    ] {
        let silent = count(
            &actx,
            &format!(
                "SELECT count(DISTINCT device) FROM alerts WHERE kind = 'raised' \
                 AND rule = 'device_silent' AND decision_ts >= '{from}' AND decision_ts < '{to}'"
            ),
        );
        assert!(
            silent >= min_devices,
            "only {silent} devices silent after {from}"
        );
    }
    assert_eq!(
        count(
            &actx,
            "SELECT count(*) FROM alerts WHERE rule = 'device_silent' AND decision_ts >= '2017-01-25' AND decision_ts < '2017-02-22'"
        ),
        0,
        "one raise per device and outage, nothing during it"
    );
    // The fridge and cupboard contacts are not entrance doors, and the log has no entrance
    // door opening between 23:00 and 06:00.
    assert_eq!(
        count(
            &actx,
            "SELECT count(*) FROM alerts WHERE rule = 'door_open_night'"
        ),
        0
    );
    // Every episode raised is resolved or still open, never raised twice.
    assert_eq!(
        count(
            &actx,
            "SELECT count(*) - count(DISTINCT alert_id) FROM alerts WHERE kind = 'raised'"
        ),
        0
    );
}
