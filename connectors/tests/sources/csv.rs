//! The CSV source on small files: header names, quoting, delimiters, CRLF/BOM/blank lines,
//! batching, time zones across DST changes, every dead-letter reason, open errors.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use msec_connectors::{ConnectorError, CsvMapping, CsvSource};
use msec_engine::config::PipelineConfig;
use msec_engine::source::{SourceBatch, SourceSummary};
use msec_engine::{DeadLetterReason, Interner};

use crate::{dead, drain, rows};

/// Writes `text` to `dir/name`.
fn write(dir: &Path, name: &str, text: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

/// Reads `path` through `mapping` (TOML) with `cfg`.
pub fn read(
    path: &Path,
    mapping: &str,
    cfg: &PipelineConfig,
) -> (SourceSummary, Vec<SourceBatch>, Arc<Interner>) {
    let interner = Interner::shared();
    let mapping = CsvMapping::from_toml_str(mapping).expect("mapping");
    let source = CsvSource::open(path, mapping, Arc::clone(&interner), cfg).expect("open");
    let (summary, batches) = drain(source, cfg);
    (summary, batches, interner)
}

fn utc(s: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(s)
        .expect("test time")
        .timestamp_millis()
}

const WIDE_HEADER: &str = r#"
header = true
lat_column = "lat"
lon_column = "lon"
device_prefix = "stn-"
[time]
column = "when"
format = "rfc3339"
[layout]
kind = "wide"
skip_empty = true
columns = [{ column = "temp C", channel = "t" }, { column = "state", channel = "s" }]
[channels.t]
device = "1"
kind = "temperature"
[channels.s]
device = "1"
room = "hall"
kind = "door"
values = { OPEN = 1, CLOSE = 0 }
"#;

#[test]
fn header_names_quoting_bom_crlf_and_blank_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = "\u{feff}\r\n\"when\",lat,lon,\"temp C\",state\r\n\
                2020-01-01T00:00:00Z,43.4,-3.8,\"21,5\",OPEN\r\n\
                \r\n\
                \"2020-01-01T00:00:01+00:00\",,,22,\"CLOSE\"\r\n\
                2020-01-01T00:00:02Z,,,,\r\n";
    // "21,5" is quoted so the comma is data: it is not a number, so invalid_type.
    let path = write(dir.path(), "wide.csv", text.as_bytes());
    let (summary, batches, interner) = read(&path, WIDE_HEADER, &PipelineConfig::default());
    let got = rows(&batches, &interner);
    assert_eq!(summary.records, 3, "header and blank lines are not records");
    assert_eq!(summary.bytes, text.len() as u64);
    let vals: Vec<_> = got
        .iter()
        .map(|r| (r.offset, r.sensor, f64::from_bits(r.value)))
        .collect();
    assert_eq!(
        vals,
        vec![(3, "door", 1.0), (5, "temperature", 22.0), (5, "door", 0.0)]
    );
    assert_eq!(got[0].device, "stn-1");
    assert_eq!(f64::from_bits(got[0].lat), 43.4);
    assert!(f64::from_bits(got[1].lat).is_nan());
    let d = dead(&batches);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].1, DeadLetterReason::InvalidType);
    assert_eq!(d[0].3, b"2020-01-01T00:00:00Z,43.4,-3.8,\"21,5\",OPEN");
    assert!(d[0].2.contains("column 4"), "{}", d[0].2);
    let mapping = CsvMapping::from_toml_str(WIDE_HEADER).expect("mapping");
    let devices = mapping.devices();
    assert_eq!(devices.len(), 2);
    assert_eq!(devices[0].room.as_deref(), Some("hall"));
}

#[test]
fn tab_and_semicolon_delimiters() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (delim, sep) in [("\\t", "\t"), ("tab", "\t"), (";", ";"), (",", ",")] {
        let mapping = format!(
            "delimiter = \"{delim}\"\n[time]\ncolumn = 0\nformat = \"epoch_ms\"\n\
             [layout]\nkind = \"long\"\nsensor_column = 1\nvalue_column = 2\n\
             [channels.m]\ndevice = \"d\"\nkind = \"motion\"\n"
        );
        let text = format!("1600000000000{sep}m{sep}1\n1600000000001{sep} m {sep}0");
        let path = write(dir.path(), "d.csv", text.as_bytes());
        let (summary, _, _) = read(&path, &mapping, &PipelineConfig::default());
        assert_eq!(summary.readings, 2, "delimiter {delim:?}");
    }
}

const LONG: &str = r#"
delimiter = ","
[time]
column = 0
format = "epoch_ms"
[layout]
kind = "long"
sensor_column = 1
value_column = 2
[channels.p]
device = "plug"
kind = "plug_power"
[rejected]
"x.Status" = "relay state"
"#;

#[test]
fn batches_hold_at_most_batch_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut text = String::new();
    for i in 0..100 {
        text.push_str(&format!("{},p,{i}\n", 1_600_000_000_000_i64 + i));
        if i % 7 == 0 {
            text.push_str("1600000000000,q,1\n");
        }
    }
    let path = write(dir.path(), "b.csv", text.as_bytes());
    let cfg = PipelineConfig {
        batch_rows: 8,
        ..PipelineConfig::default()
    };
    let (summary, batches, _) = read(&path, LONG, &cfg);
    assert!(
        batches
            .iter()
            .all(|b| b.readings.len() <= 8 && b.dead_letters.len() <= 8)
    );
    assert_eq!(summary.readings, 100);
    assert_eq!(summary.dead_lettered(), 15);
    assert_eq!(summary.bytes, text.len() as u64);
    let (whole, _, _) = read(&path, LONG, &PipelineConfig::default());
    assert_eq!(whole, summary, "batch size changes nothing");

    // Progress: once per batch, ending at the file size.
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let mapping = CsvMapping::from_toml_str(LONG).expect("mapping");
    let source = CsvSource::open(&path, mapping, Interner::shared(), &cfg)
        .expect("open")
        .with_progress(Box::new(move |n| sink.lock().expect("lock").push(n)));
    assert_eq!(source.total_bytes(), Some(text.len() as u64));
    let (_, again) = drain(source, &cfg);
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), again.len());
    assert_eq!(seen.last(), Some(&(text.len() as u64)));
    assert!(batches.iter().all(|b| b.watermark.is_some()));
}

#[test]
fn every_dead_letter_reason_from_a_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = "1600000000000,p,\"5\n\
                ,p,5\n\
                later,p,5\n\
                1600000000000,p,five\n\
                1600000000000,q,5\n\
                1600000000000,x.Status,1\n\
                1600000000000,p,-1\n\
                4102444800000,p,5\n\
                1600000010000,p,5\n\
                1600000000000,p,5\n";
    let path = write(dir.path(), "bad.csv", text.as_bytes());
    let (summary, batches, _) = read(&path, LONG, &PipelineConfig::default());
    let reasons: Vec<_> = dead(&batches).iter().map(|d| (d.0, d.1)).collect();
    use DeadLetterReason::*;
    assert_eq!(
        reasons,
        vec![
            (1, Parse),
            (2, MissingField),
            (3, InvalidType),
            (4, InvalidType),
            (5, UnknownSensor),
            (6, UnknownSensor),
            (7, OutOfRange),
            (8, FutureTs),
            (10, Late),
        ]
    );
    assert_eq!(summary.readings, 1);
    assert_eq!(summary.readings + summary.dead_lettered(), summary.records);
    let details: Vec<_> = dead(&batches).into_iter().map(|d| d.2).collect();
    assert!(details[4].contains("not in the mapping"), "{}", details[4]);
    assert!(details[5].contains("relay state"), "{}", details[5]);
}

const ZONED: &str = r#"
delimiter = ";"
quote = false
[time]
column = 0
format = "strftime"
pattern = "%d/%m/%Y %H:%M:%S"
zone = "ZONE"
[layout]
kind = "long"
sensor_column = 1
value_column = 2
[channels.m]
device = "d"
kind = "motion"
"#;

#[test]
fn local_times_across_both_dst_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = "26/03/2017 01:59:59;m;1\n\
                26/03/2017 02:30:00;m;1\n\
                26/03/2017 03:00:00;m;1\n\
                29/10/2017 01:59:59;m;1\n\
                29/10/2017 02:30:00;m;1\n\
                29/10/2017 03:00:00;m;1\n";
    let path = write(dir.path(), "z.csv", text.as_bytes());
    let cfg = PipelineConfig {
        lateness_ms: 3_600_000,
        ..PipelineConfig::default()
    };
    let ts = |zone: &str| -> Vec<i64> {
        let (summary, batches, interner) = read(&path, &ZONED.replace("ZONE", zone), &cfg);
        assert_eq!(summary.readings, 6, "{zone}: {:?}", dead(&batches));
        rows(&batches, &interner).iter().map(|r| r.ts).collect()
    };
    let madrid = [
        "2017-03-26T00:59:59Z",
        "2017-03-26T01:00:00Z", // in the gap: the instant of the change
        "2017-03-26T01:00:00Z",
        "2017-10-28T23:59:59Z",
        "2017-10-29T00:30:00Z", // in the fold: the earlier (summer) instant
        "2017-10-29T02:00:00Z",
    ];
    assert_eq!(ts("Europe/Madrid"), madrid.map(utc));
    let tokyo = [
        "2017-03-25T16:59:59Z",
        "2017-03-25T17:30:00Z",
        "2017-03-25T18:00:00Z",
        "2017-10-28T16:59:59Z",
        "2017-10-28T17:30:00Z",
        "2017-10-28T18:00:00Z",
    ];
    assert_eq!(ts("Asia/Tokyo"), tokyo.map(utc));
    assert_eq!(ts("+00:00"), ts("UTC"));
    assert_eq!(ts("-02:30")[0], utc("2017-03-26T04:29:59Z"));
}

#[test]
fn open_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mapping = CsvMapping::from_toml_str(LONG).expect("mapping");
    let missing = CsvSource::open(
        &dir.path().join("nope.csv"),
        mapping.clone(),
        Interner::shared(),
        &PipelineConfig::default(),
    );
    assert!(matches!(missing, Err(ConnectorError::Open { .. })));
    // A header name that the header does not have.
    let path = write(dir.path(), "h.csv", b"ts,x,y\n1,p,2\n");
    let named = WIDE_HEADER.replace("\"when\"", "\"time\"");
    let bad = CsvSource::open(
        &path,
        CsvMapping::from_toml_str(&named).expect("mapping"),
        Interner::shared(),
        &PipelineConfig::default(),
    );
    match bad {
        Err(e @ ConnectorError::Config { .. }) => {
            assert!(e.to_string().contains("\"time\""), "{e}");
        }
        other => panic!("expected a config error, got {other:?}"),
    }
    assert!(matches!(
        CsvMapping::from_toml_file(&dir.path().join("none.toml")),
        Err(ConnectorError::Open { .. })
    ));
}
