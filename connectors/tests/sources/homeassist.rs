//! The CSV source on the real HomeAssist "Home1" 2017 log through the shipped mapping
//! `docs/mappings/homeassist_home1.toml`, checked against plain counts over the file.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use msec_connectors::{CsvMapping, CsvSource};
use msec_engine::config::PipelineConfig;
use msec_engine::{DeadLetterReason, Interner};

use crate::{dead, drain, rows};

const DAY_MS: i64 = 86_400_000;

fn utc(s: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(s)
        .expect("test time")
        .timestamp_millis()
}

#[test]
fn home1_2017_through_the_shipped_mapping() {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let data = crate_dir.join("../../shared/datasets");
    if !data.is_dir() {
        println!("skipped: ../shared/datasets not found");
        return;
    }
    let csv = data.join("homeassist_home1/Home1_2017.csv");
    let mapping_path = crate_dir.join("../docs/mappings/homeassist_home1.toml");
    let mapping = CsvMapping::from_toml_file(&mapping_path).expect("shipped mapping");
    let bytes = std::fs::read(&csv).expect("read the log");

    // Plain counts over the file, independent of the source.
    let mut lines = 0u64;
    let mut per_channel: BTreeMap<String, u64> = BTreeMap::new();
    for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        lines += 1;
        let text = std::str::from_utf8(line).expect("utf-8 log");
        let channel = text.split(';').nth(1).expect("three fields");
        *per_channel.entry(channel.to_owned()).or_default() += 1;
    }

    let cfg = PipelineConfig::default();
    let interner = Interner::shared();
    let source = CsvSource::open(&csv, mapping, Arc::clone(&interner), &cfg).expect("open");
    assert_eq!(source.total_bytes(), Some(bytes.len() as u64));
    let (summary, batches) = drain(source, &cfg);
    let got = rows(&batches, &interner);
    let dead = dead(&batches);

    assert_eq!(summary.records, lines, "one record per line, no header");
    assert_eq!(summary.bytes, bytes.len() as u64);
    assert_eq!(
        summary.readings + summary.dead_lettered(),
        summary.records,
        "nothing dropped"
    );
    println!("records {} readings {}", summary.records, summary.readings);
    println!("dead letters {:?}", summary.dead_letters);

    // Per-channel counts: readings of the channel's (device, kind) against the file.
    let mut by_series: BTreeMap<(String, &str), u64> = BTreeMap::new();
    for r in &got {
        *by_series.entry((r.device.clone(), r.sensor)).or_default() += 1;
    }
    let mut dead_by_channel: BTreeMap<String, u64> = BTreeMap::new();
    for d in &dead {
        let text = String::from_utf8_lossy(&d.3);
        let channel = text.split(';').nth(1).unwrap_or("?").to_owned();
        *dead_by_channel.entry(channel).or_default() += 1;
    }
    for (channel, device, kind) in [
        ("MotionD_K", "home1-motion-kitchen", "motion"),
        ("MotionD_B", "home1-motion-bedroom", "motion"),
        ("MotionD_Ba", "home1-motion-bathroom", "motion"),
        ("ContactS_E", "home1-door-entrance", "door"),
        ("ContactS_Fridge", "home1-contact-fridge", "door"),
        ("ContactS_Cupboard", "home1-contact-cupboard", "door"),
        ("EMeter_Coffeemaker", "home1-plug-coffeemaker", "plug_power"),
        ("EMeter_L", "home1-plug-living", "plug_power"),
        ("MotionD_E.BatteryLevel", "home1-motion-entrance", "battery"),
    ] {
        let plain = per_channel.get(channel).copied().unwrap_or(0);
        let read = by_series
            .get(&(device.to_owned(), kind))
            .copied()
            .unwrap_or(0);
        let rejected = dead_by_channel.get(channel).copied().unwrap_or(0);
        println!("{channel:<24} file {plain:>6}  readings {read:>6}  dead {rejected:>3}");
        assert!(plain > 0, "{channel}");
        assert_eq!(read + rejected, plain, "{channel}");
    }
    assert_eq!(dead_by_channel.get("MotionD_K"), None, "motion is clean");
    // The equipment channels are all dead letters, as unknown_sensor.
    let equipment: u64 = per_channel
        .iter()
        .filter(|(c, _)| {
            c.ends_with(".CommFailure") || c.ends_with(".Status") || c.ends_with(".Tripped")
        })
        .map(|(_, n)| n)
        .sum();
    assert_eq!(
        summary.dead_letters.get(&DeadLetterReason::UnknownSensor),
        Some(&equipment)
    );

    // Event times: within 2017, first row at 17:49:25.864 CET.
    let min = got.iter().map(|r| r.ts).min().expect("readings");
    let max = got.iter().map(|r| r.ts).max().expect("readings");
    assert!(min >= utc("2017-01-01T00:00:00Z") && max < utc("2018-01-01T00:00:00Z"));
    assert_eq!(got[0].ts, utc("2017-01-16T16:49:25.864Z"));
    println!(
        "event time {} .. {}",
        chrono::DateTime::from_timestamp_millis(min).expect("ts"),
        chrono::DateTime::from_timestamp_millis(max).expect("ts")
    );

    // Outages: gaps of more than two days between consecutive readings.
    let mut ts: Vec<i64> = got.iter().map(|r| r.ts).collect();
    ts.sort_unstable();
    let gaps: Vec<(i64, i64)> = ts
        .windows(2)
        .filter(|w| w[1] - w[0] > 2 * DAY_MS)
        .map(|w| (w[0], w[1]))
        .collect();
    for (a, b) in &gaps {
        println!(
            "gap {:.1} days: {} .. {}",
            (b - a) as f64 / DAY_MS as f64,
            chrono::DateTime::from_timestamp_millis(*a).expect("ts"),
            chrono::DateTime::from_timestamp_millis(*b).expect("ts")
        );
    }
    let long: Vec<_> = gaps
        .iter()
        .filter(|(a, b)| b - a > 30 * DAY_MS)
        .map(|(a, b)| (*a, (b - a) / DAY_MS))
        .collect();
    assert_eq!(long.len(), 2, "{gaps:?}");
    let (start, days) = long[0];
    assert!(start >= utc("2017-01-17T00:00:00Z") && start < utc("2017-01-18T00:00:00Z"));
    assert_eq!(days, 36);
    let (start, days) = long[1];
    assert!(start >= utc("2017-09-24T00:00:00Z") && start < utc("2017-09-25T00:00:00Z"));
    assert_eq!(days, 47);
}
