//! Unit tests of the CSV decoder: one row at a time through a compiled mapping.

use std::sync::Arc;

use msec_engine::intern::InternCache;
use msec_engine::{DeadLetter, DeadLetterReason, Interner, ReadingBatch, SensorKind};

use super::CsvMapping;
use super::decode::Decoder;

const NOW: i64 = 1_700_000_000_000;

const LONG: &str = r#"
delimiter = ","
household = "h"
[time]
column = 0
format = "epoch_ms"
[layout]
kind = "long"
sensor_column = 1
value_column = 2
[channels.door]
device = "front"
kind = "door"
values = { OPEN = 1, CLOSE = 0 }
[channels.plug]
device = "tv"
kind = "plug_power"
scale = 1000.0
[rejected]
"*.CommFailure" = "link flag"
"#;

fn decoder(toml: &str) -> (Decoder, Arc<Interner>) {
    let mapping = CsvMapping::from_toml_str(toml).expect("mapping");
    let interner = Interner::shared();
    let compiled = mapping.compile(None, true).expect("compile");
    let d = Decoder::new(
        Arc::from("t.csv"),
        compiled,
        InternCache::new(Arc::clone(&interner)),
        5_000,
        86_400_000,
    );
    (d, interner)
}

fn run(d: &mut Decoder, lines: &[&str]) -> (ReadingBatch, Vec<DeadLetter>) {
    let mut out = ReadingBatch::default();
    let mut dead = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        d.decode(l.as_bytes(), i as u64 + 1, NOW, &mut out, &mut dead);
    }
    (out, dead)
}

#[test]
fn long_rows_map_values_and_scale() {
    let (mut d, interner) = decoder(LONG);
    let (out, dead) = run(
        &mut d,
        &[
            "1600000000000,door,OPEN",
            "1600000000001,door,0",
            "1600000000002,plug,0.25",
        ],
    );
    assert!(dead.is_empty(), "{dead:?}");
    assert_eq!(out.value, vec![1.0, 0.0, 250.0]);
    assert_eq!(
        out.sensor,
        vec![SensorKind::Door, SensorKind::Door, SensorKind::PlugPower]
    );
    assert_eq!(interner.name(out.device[0]).as_deref(), Some("h-front"));
    assert_eq!(interner.name(out.device[2]).as_deref(), Some("h-tv"));
    assert_eq!(out.offset, vec![1, 2, 3]);
}

#[test]
fn every_reason_once() {
    let (mut d, _) = decoder(LONG);
    let lines = [
        "1600000000000,door,\"OPEN",     // parse: unterminated quote
        "1600000000000,door",            // parse: too few fields
        ",door,1",                       // missing_field: time
        "1600000000000,door,",           // missing_field: value
        "16000x,door,1",                 // invalid_type: time
        "1600000000000,door,AJAR",       // invalid_type: value
        "1600000000000,window,1",        // unknown_sensor
        "1600000000000,x.CommFailure,1", // unknown_sensor (rejected)
        "1600000000000,door,2",          // out_of_range
        "900000000000,door,1",           // out_of_range: before 2000
        "99999999999999999999,door,1",   // out_of_range: overflow
        "1800000000000,door,1",          // future_ts
        "1600000000000,door,1",          // ok
        "1599999990000,door,1",          // late
    ];
    let (out, dead) = run(&mut d, &lines);
    use DeadLetterReason::*;
    let reasons: Vec<_> = dead.iter().map(|d| d.reason).collect();
    assert_eq!(
        reasons,
        vec![
            Parse,
            Parse,
            MissingField,
            MissingField,
            InvalidType,
            InvalidType,
            UnknownSensor,
            UnknownSensor,
            OutOfRange,
            OutOfRange,
            OutOfRange,
            FutureTs,
            Late
        ]
    );
    assert_eq!(out.len(), 1);
    assert!(dead[7].detail.contains("link flag"), "{}", dead[7].detail);
    assert!(
        dead[6].detail.contains("not in the mapping"),
        "{}",
        dead[6].detail
    );
    assert_eq!(dead[12].offset, 14);
    assert_eq!(dead[12].raw, lines[13].as_bytes());
    assert_eq!(dead[12].ts, Some(1_599_999_990_000));
    let not_utf8 = b"1600000000000,door,\xff";
    let mut o = ReadingBatch::default();
    let mut dl = Vec::new();
    d.decode(not_utf8, 99, NOW, &mut o, &mut dl);
    assert_eq!(dl[0].reason, Parse);
    assert_eq!(dl[0].raw, not_utf8);
}

#[test]
fn wide_rows_split_into_cells() {
    let toml = r#"
lat_column = 3
lon_column = 4
[time]
column = 0
format = "epoch_s"
[layout]
kind = "wide"
columns = [{ column = 1, channel = "t" }, { column = 2, channel = "h" }]
[channels.t]
device = "env-1"
kind = "temperature"
[channels.h]
device = "env-1"
kind = "humidity"
"#;
    let (mut d, _) = decoder(toml);
    let (out, dead) = run(
        &mut d,
        &[
            "1600000000,21.5,40,43.4,-3.8",
            "1600000001,21.6,140,,",
            "1600000002,,41,43.4,",
            "1600000003,x,41,,",
        ],
    );
    assert_eq!(out.value, vec![21.5, 40.0, 21.6, 41.0]);
    assert_eq!(out.ts[0], 1_600_000_000_000);
    assert_eq!(out.lat[0], 43.4);
    assert!(out.lat[2].is_nan());
    let got: Vec<_> = dead.iter().map(|d| (d.offset, d.reason)).collect();
    use DeadLetterReason::*;
    assert_eq!(
        got,
        vec![(2, OutOfRange), (3, MissingField), (4, InvalidType)]
    );
    assert!(
        dead[0].detail.starts_with("column 3:"),
        "{}",
        dead[0].detail
    );
}

#[test]
fn bad_mappings_are_config_errors() {
    let base = LONG.replace("delimiter = \",\"", "delimiter = \"::\"");
    assert!(CsvMapping::from_toml_str(&base).is_err());
    assert!(
        CsvMapping::from_toml_str(&LONG.replace("kind = \"door\"", "kind = \"window\"")).is_err()
    );
    assert!(CsvMapping::from_toml_str(&LONG.replace("column = 0", "column = \"ts\"")).is_err());
    assert!(
        CsvMapping::from_toml_str(&LONG.replace("\"epoch_ms\"", "\"strftime\"")).is_err(),
        "strftime without pattern"
    );
    assert!(CsvMapping::from_toml_str(&LONG.replace("value_column", "valu_column")).is_err());
    assert!(CsvMapping::from_toml_str(LONG).is_ok());
}

/// A wide table of hourly counts like the Auckland pedestrian counters': time in a date and
/// an hour-range column, value columns named by header (spaces, parentheses), positions per
/// channel, a business day from 06:00 in Pacific/Auckland.
const COUNTS: &str = r#"
header = true
device_prefix = "akl-"
[time]
columns = ["date", "hour"]
format = "strftime"
pattern = "%Y-%m-%d %H:%M"
range_start = true
day_start = "06:00"
zone = "Pacific/Auckland"
[layout]
kind = "wide"
skip_empty = true
columns = [
    { column = "188 Quay Street Lower Albert (EW)" },
    { column = "Te Ara Tahuhu Walkway" },
    { column = "Nowhere Lane", channel = "nowhere" },
]
[channels."188 Quay Street Lower Albert (EW)"]
device = "188-quay-street-lower-albert-ew"
kind = "crowd"
lat = -36.84306
lon = 174.76573
[channels."Te Ara Tahuhu Walkway"]
device = "te-ara-tahuhu-walkway"
kind = "crowd"
lat = -36.84465
lon = 174.769645
[channels.nowhere]
device = "nowhere-lane"
kind = "crowd"
"#;

const COUNTS_HEADER: &str =
    "date,hour,year,Te Ara Tahuhu Walkway,188 Quay Street Lower Albert (EW),Nowhere Lane";

fn decoder_with_header(toml: &str, header: &str) -> (Decoder, Arc<Interner>) {
    let mapping = CsvMapping::from_toml_str(toml).expect("mapping");
    let interner = Interner::shared();
    let header = Decoder::split_header(header.as_bytes(), b',', mapping.quote).expect("header");
    let compiled = mapping.compile(Some(&header), true).expect("compile");
    let d = Decoder::new(
        Arc::from("t.csv"),
        compiled,
        InternCache::new(Arc::clone(&interner)),
        5_000,
        86_400_000,
    );
    (d, interner)
}

fn utc(s: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(s)
        .expect("test time")
        .timestamp_millis()
}

#[test]
fn wide_counts_with_joined_time_ranges_and_fixed_positions() {
    let (mut d, interner) = decoder_with_header(COUNTS, COUNTS_HEADER);
    let mut out = ReadingBatch::default();
    let mut dead = Vec::new();
    let now = utc("2026-01-01T00:00:00Z");
    for (i, l) in [
        "2024-01-01,6:00-6:59,2024,53.0,115.0,7.0",
        "2024-01-01,23:00-23:59,2024,10.0,,",
        "2024-01-01,0:00-0:59,2024,,,",
        "2024-01-01,1:00-1:59,2024,NaN,x,-1.0",
        "2024-01-01,2:00-2:59,2024,1.0,inf,2",
        ",3:00-3:59,2024,1.0,2.0,3.0",
        "2024-01-01,3:00,2024,1.0,2.0,3.0",
        "2024-01-01,7 o'clock,2024,1.0,2.0,3.0",
    ]
    .iter()
    .enumerate()
    {
        d.decode(l.as_bytes(), i as u64 + 1, now, &mut out, &mut dead);
    }
    let devices: Vec<_> = out
        .device
        .iter()
        .map(|&id| interner.name(id).expect("device").to_string())
        .collect();
    assert_eq!(
        devices,
        vec![
            "akl-188-quay-street-lower-albert-ew",
            "akl-te-ara-tahuhu-walkway",
            "akl-nowhere-lane",
            "akl-te-ara-tahuhu-walkway",
            "akl-te-ara-tahuhu-walkway",
            "akl-nowhere-lane",
            "akl-188-quay-street-lower-albert-ew",
            "akl-te-ara-tahuhu-walkway",
            "akl-nowhere-lane",
        ]
    );
    // Values come from the header-named columns, not their order in the mapping.
    assert_eq!(
        out.value,
        vec![115.0, 53.0, 7.0, 10.0, 1.0, 2.0, 2.0, 1.0, 3.0]
    );
    assert!(out.sensor.iter().all(|&k| k == SensorKind::Crowd));
    // 06:00 NZDT on New Year's day; 23:00 the same day; 0:00 of that block is the 2nd.
    assert_eq!(out.ts[0], utc("2023-12-31T17:00:00Z"));
    assert_eq!(out.ts[3], utc("2024-01-01T10:00:00Z"));
    assert_eq!(out.ts[4], utc("2024-01-01T13:00:00Z"));
    assert_eq!(out.ts[6], utc("2024-01-01T14:00:00Z"));
    // Fixed positions per channel; a channel without one gives none.
    assert_eq!((out.lat[0], out.lon[0]), (-36.84306, 174.76573));
    assert_eq!((out.lat[1], out.lon[1]), (-36.84465, 174.769645));
    assert!(out.lat[2].is_nan() && out.lon[2].is_nan());
    // Empty cells are skipped (the all-empty 0:00 row gives nothing); NaN, inf, negative and
    // non-numeric counts, an empty date and a bad hour are dead letters with their reason.
    use DeadLetterReason::*;
    let got: Vec<_> = dead.iter().map(|d| (d.offset, d.reason)).collect();
    assert_eq!(
        got,
        vec![
            (4, InvalidType),
            (4, OutOfRange),
            (4, OutOfRange),
            (5, OutOfRange),
            (6, MissingField),
            (8, InvalidType),
        ]
    );
    assert!(
        dead[0].detail.starts_with("column 5: value \"x\""),
        "{}",
        dead[0].detail
    );
    assert!(dead[1].detail.contains("NaN"), "{}", dead[1].detail);
    assert_eq!(dead[4].detail, "time column 1 is empty");
    assert!(
        dead[5].detail.contains("2024-01-01 7 o'clock") && dead[5].detail.contains("range"),
        "{}",
        dead[5].detail
    );
    assert_eq!(dead[0].raw, b"2024-01-01,1:00-1:59,2024,NaN,x,-1.0");
}

#[test]
fn a_row_position_wins_over_the_channel_position() {
    let toml = r#"
lat_column = 2
lon_column = 3
[time]
column = 0
format = "epoch_s"
[layout]
kind = "wide"
columns = [{ column = 1, channel = "c" }]
[channels.c]
device = "cam"
kind = "crowd"
lat = 1.5
lon = 2.5
"#;
    let (mut d, _) = decoder(toml);
    let (out, dead) = run(&mut d, &["1600000000,3,43.4,-3.8", "1600000001,4,,"]);
    assert!(dead.is_empty(), "{dead:?}");
    assert_eq!((out.lat[0], out.lon[0]), (43.4, -3.8));
    assert_eq!((out.lat[1], out.lon[1]), (1.5, 2.5));
}

#[test]
fn bad_time_and_position_options_are_config_errors() {
    assert!(CsvMapping::from_toml_str(COUNTS).is_ok());
    for (from, to, why) in [
        ("lat = -36.84306\n", "", "lat without lon"),
        ("lat = -36.84306", "lat = -96.8", "lat out of range"),
        ("lon = 174.76573", "lon = inf", "lon not finite"),
        (
            "day_start = \"06:00\"",
            "day_start = \"6am\"",
            "bad day_start",
        ),
        (
            "columns = [\"date\", \"hour\"]",
            "columns = []",
            "no time column",
        ),
        (
            "columns = [\"date\", \"hour\"]",
            "column = 0\ncolumns = [0, 1]",
            "column and columns",
        ),
        (
            "{ column = \"Nowhere Lane\", channel = \"nowhere\" }",
            "{ column = 5 }",
            "index column without channel",
        ),
        (
            "{ column = \"Te Ara Tahuhu Walkway\" }",
            "{ column = \"Te Ara Tahuhu\" }",
            "column name that is no channel",
        ),
        (
            "zone = \"Pacific/Auckland\"",
            "zone = \"Pacific/Fiji\"",
            "zone",
        ),
    ] {
        let text = COUNTS.replacen(from, to, 1);
        assert_ne!(text, COUNTS, "{why}: nothing replaced");
        assert!(CsvMapping::from_toml_str(&text).is_err(), "{why}");
    }
    // range_start and day_start need strftime.
    let epoch = LONG.replace(
        "format = \"epoch_ms\"",
        "format = \"epoch_ms\"\nrange_start = true",
    );
    assert!(CsvMapping::from_toml_str(&epoch).is_err());
    // A header without one of the named columns fails when the file is opened.
    let mapping = CsvMapping::from_toml_str(COUNTS).expect("mapping");
    let header =
        Decoder::split_header(b"date,hour,Te Ara Tahuhu Walkway", b',', true).expect("header");
    assert!(mapping.compile(Some(&header), true).is_err());
}
