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
