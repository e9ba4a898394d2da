//! The SOX XML source (Pilot 3, Fujisawa) on the fixtures of `tests/fixtures/sox`: two
//! garbage-truck routes, one file in the wrapped XMPP pubsub form and one of concatenated
//! documents, each alone and merged as a directory; and a file of broken documents between
//! good ones, with exact counts per reason (see the fixtures' README for what is where).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use msec_connectors::SoxSource;
use msec_engine::config::PipelineConfig;
use msec_engine::source::{Source, SourceBatch, SourceSummary};
use msec_engine::{DeadLetterReason, Interner};

use crate::{DeadRow, Row, dead, drain, rows};

use DeadLetterReason::*;

/// 2025-06-02T09:00:00+09:00, the first document of truck 07.
const T07: i64 = 1_748_822_400_000;
/// 2025-06-02T10:00:00+09:00, the first document of the malformed file.
const TBAD: i64 = T07 + 3_600_000;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sox")
}

fn read(path: &Path, cfg: &PipelineConfig) -> (SourceSummary, Vec<SourceBatch>, Arc<Interner>) {
    let interner = Interner::shared();
    let source = SoxSource::open(path, Arc::clone(&interner), cfg).expect("open");
    let (summary, batches) = drain(source, cfg);
    (summary, batches, interner)
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).expect("metadata").len()
}

/// (device, sensor, ts, value, lat, lon, offset) of a row, floats as numbers.
fn plain(r: &Row) -> (&str, &str, i64, f64, f64, f64, u64) {
    (
        r.device.as_str(),
        r.sensor,
        r.ts,
        f64::from_bits(r.value),
        f64::from_bits(r.lat),
        f64::from_bits(r.lon),
        r.offset,
    )
}

/// Readings per (device, sensor).
fn per_series(rows: &[Row]) -> BTreeMap<(String, &'static str), usize> {
    let mut out = BTreeMap::new();
    for r in rows {
        *out.entry((r.device.clone(), r.sensor)).or_default() += 1;
    }
    out
}

#[test]
fn two_routes_merged_by_event_time() {
    let dir = fixtures().join("routes");
    let cfg = PipelineConfig::default();
    let interner = Interner::shared();
    let source = SoxSource::open(&dir, Arc::clone(&interner), &cfg).expect("open");
    let f07 = dir.join("fujisawa-truck-07.xml");
    let f12 = dir.join("fujisawa-truck-12.xml");
    assert_eq!(source.paths(), [f07.clone(), f12.clone()]);
    let size = file_len(&f07) + file_len(&f12);
    assert_eq!(source.total_bytes(), Some(size));
    assert_eq!(source.name(), dir.display().to_string());
    let (summary, batches) = drain(source, &cfg);

    // 60 documents per truck, every 10 s, each with pm25, temperature and humidity: none late,
    // though the trucks drive at the same time.
    assert_eq!(summary.records, 120);
    assert_eq!(summary.readings, 360);
    assert_eq!(summary.dead_lettered(), 0, "{:?}", dead(&batches));
    assert_eq!(summary.bytes, size);
    let got = rows(&batches, &interner);
    let series = per_series(&got);
    assert_eq!(series.len(), 6);
    assert!(series.values().all(|&n| n == 60), "{series:?}");

    // Merged: event times never go back; truck 12 runs 5 s behind truck 07.
    assert!(got.windows(2).all(|w| w[0].ts <= w[1].ts));
    assert_eq!(
        got[..4].iter().map(plain).collect::<Vec<_>>(),
        [
            ("fujisawa-truck-07", "pm25", T07, 14.0, 35.3387, 139.4871, 1),
            (
                "fujisawa-truck-07",
                "temperature",
                T07,
                21.8,
                35.3387,
                139.4871,
                1
            ),
            (
                "fujisawa-truck-07",
                "humidity",
                T07,
                64.0,
                35.3387,
                139.4871,
                1
            ),
            // Truck 12's documents have no `device`: the file's name gives it.
            (
                "fujisawa-truck-12",
                "pm25",
                T07 + 5_000,
                23.0,
                35.356,
                139.47603,
                1
            ),
        ]
    );
    assert_eq!(
        got.last().map(plain),
        Some((
            "fujisawa-truck-12",
            "humidity",
            T07 + 595_000,
            65.1,
            35.3383,
            139.49368,
            60
        ))
    );
    let t07_last = got
        .iter()
        .rfind(|r| r.device == "fujisawa-truck-07" && r.sensor == "pm25")
        .map(plain);
    assert_eq!(
        t07_last,
        Some((
            "fujisawa-truck-07",
            "pm25",
            T07 + 590_000,
            15.3,
            35.35938,
            139.4989,
            60
        ))
    );
    // Every reading is positioned, in Fujisawa, with a plausible PM2.5.
    for r in &got {
        let (_, sensor, _, value, lat, lon, _) = plain(r);
        assert!((35.33..=35.36).contains(&lat), "{r:?}");
        assert!((139.47..=139.50).contains(&lon), "{r:?}");
        if sensor == "pm25" {
            assert!((5.0..=30.0).contains(&value), "{r:?}");
        }
    }
    let names: Vec<_> = batches
        .iter()
        .map(|b| interner.name(b.readings.source).map(|n| n.to_string()))
        .collect();
    assert!(
        names
            .iter()
            .all(|n| n.as_deref() == Some(&*dir.display().to_string()))
    );
    assert_eq!(
        batches.last().and_then(|b| b.watermark),
        Some(T07 + 595_000 - 5_000)
    );
}

#[test]
fn each_route_alone() {
    let cfg = PipelineConfig::default();
    for (name, first_ts) in [
        ("fujisawa-truck-07.xml", T07),
        ("fujisawa-truck-12.xml", T07 + 5_000),
    ] {
        let path = fixtures().join("routes").join(name);
        let (summary, batches, interner) = read(&path, &cfg);
        assert_eq!(
            (summary.records, summary.readings, summary.dead_lettered()),
            (60, 180, 0),
            "{name}"
        );
        assert_eq!(summary.bytes, file_len(&path));
        let got = rows(&batches, &interner);
        assert_eq!(got[0].ts, first_ts);
        assert_eq!(got[0].device, name.trim_end_matches(".xml"));
        let offsets: Vec<u64> = got.iter().map(|r| r.offset).collect();
        let want: Vec<u64> = (1..=60).flat_map(|d| [d; 3]).collect();
        assert_eq!(offsets, want, "{name}");
        let source = interner.name(batches[0].readings.source);
        assert_eq!(source.as_deref(), Some(&*path.display().to_string()));
    }
}

/// The reasons and document numbers the malformed file must give, in file order.
const MALFORMED_DEAD: &[(u64, DeadLetterReason, &str)] = &[
    (2, Parse, "<data> at byte 0 is not closed"),
    (
        4,
        Parse,
        "expected `</transducerValue>`, but `</transducerVal>` was found",
    ),
    (5, Parse, "attribute value must be enclosed in `\"` or `'`"),
    (6, Parse, "text outside any element at byte 0"),
    (
        7,
        InvalidType,
        r#"transducerValue 3 "pm2.5": value must be a number, got "n/a""#,
    ),
    (
        7,
        UnknownSensor,
        r#"transducerValue 6 "radiation": unknown sensor "radiation""#,
    ),
    (8, Parse, "not UTF-8"),
    (10, Parse, "unrecognized entity `bogus`"),
    (11, OutOfRange, "value 2500 outside [0, 2000] for pm25"),
    (12, MissingField, "attribute `timestamp` is missing"),
    (13, MissingField, "`latitude` given without `longitude`"),
    (13, MissingField, "`latitude` given without `longitude`"),
    (13, MissingField, "`latitude` given without `longitude`"),
    (14, Late, "below the watermark"),
    (14, Late, "below the watermark"),
    (14, Late, "below the watermark"),
    (15, FutureTs, "after now"),
    (16, Parse, "close tag `</data>` does not match any open tag"),
    (18, Parse, "syntax error"),
];

#[test]
fn malformed_documents_do_not_cost_the_good_ones() {
    let path = fixtures().join("malformed.xml");
    let cfg = PipelineConfig::default();
    let (summary, batches, interner) = read(&path, &cfg);
    assert_eq!(summary.records, 18);
    assert_eq!(summary.readings, 20);
    assert_eq!(summary.bytes, file_len(&path));
    let by_reason: BTreeMap<DeadLetterReason, u64> = [
        (Parse, 8),
        (MissingField, 4),
        (InvalidType, 1),
        (UnknownSensor, 1),
        (OutOfRange, 1),
        (FutureTs, 1),
        (Late, 3),
    ]
    .into_iter()
    .collect();
    assert_eq!(summary.dead_letters, by_reason);

    let got = rows(&batches, &interner);
    let offsets: Vec<u64> = got.iter().map(|r| r.offset).collect();
    assert_eq!(
        offsets,
        [
            1, 1, 1, 3, 3, 3, 7, 7, 9, 9, 9, 11, 11, 12, 12, 15, 15, 17, 17, 17
        ]
    );
    assert!(got.iter().all(|r| r.device == "fujisawa-truck-21"));
    assert_eq!(
        plain(&got[0]),
        (
            "fujisawa-truck-21",
            "pm25",
            TBAD,
            15.0,
            35.3453,
            139.4852,
            1
        )
    );
    // Document 7 keeps its temperature and humidity beside its two bad values.
    assert_eq!(
        got[6..8]
            .iter()
            .map(|r| (r.sensor, r.ts))
            .collect::<Vec<_>>(),
        [("temperature", TBAD + 60_000), ("humidity", TBAD + 60_000)]
    );

    let letters: Vec<DeadRow> = dead(&batches);
    assert_eq!(letters.len(), MALFORMED_DEAD.len());
    for ((offset, reason, detail, _, _), (want_offset, want_reason, needle)) in
        letters.iter().zip(MALFORMED_DEAD)
    {
        assert_eq!((offset, reason), (want_offset, want_reason), "{detail}");
        assert!(detail.contains(needle), "{detail:?} lacks {needle:?}");
    }
    // Raw bytes: the document as written (the stray text alone, without its newlines).
    let raw = |doc: u64| {
        letters
            .iter()
            .find(|d| d.0 == doc)
            .map(|d| d.3.clone())
            .unwrap_or_default()
    };
    assert_eq!(raw(6), b"-- connection reset by peer --");
    assert!(
        raw(8).windows(2).any(|w| w == b"\"\xb5"),
        "the Latin-1 byte is kept"
    );
    assert!(raw(2).starts_with(b"<data device=\"fujisawa-truck-21\">"));
    assert!(raw(16).starts_with(b"</data>\n<transducerValue"));
    // The late values carry their event time; the broken documents none.
    let late: Vec<Option<i64>> = letters
        .iter()
        .filter(|d| d.1 == Late)
        .map(|d| d.4)
        .collect();
    assert_eq!(late, [Some(TBAD + 60_000); 3]);
    assert!(
        letters
            .iter()
            .filter(|d| d.1 == Parse)
            .all(|d| d.4.is_none())
    );
    let all_named = batches
        .iter()
        .flat_map(|b| &b.dead_letters)
        .all(|d| *d.source == *path.display().to_string());
    assert!(all_named);
    assert_eq!(
        batches.last().and_then(|b| b.watermark),
        Some(TBAD + 160_000 - 5_000)
    );
}

#[test]
fn batch_sizes_do_not_change_what_is_accepted() {
    let path = fixtures().join("malformed.xml");
    // Dead letters without their raw bytes (compared by length) and the wall clock quoted
    // in a `future_ts` detail.
    let brief = |b: &[SourceBatch]| -> Vec<(u64, DeadLetterReason, String, usize, Option<i64>)> {
        dead(b)
            .into_iter()
            .map(|(offset, reason, detail, raw, ts)| {
                let detail = if reason == FutureTs {
                    String::new()
                } else {
                    detail
                };
                (offset, reason, detail, raw.len(), ts)
            })
            .collect()
    };
    let (summary, batches, interner) = read(&path, &PipelineConfig::default());
    let want = (rows(&batches, &interner), brief(&batches));
    for batch_rows in [1, 2, 5] {
        let cfg = PipelineConfig {
            batch_rows,
            ..PipelineConfig::default()
        };
        let (s, b, i) = read(&path, &cfg);
        assert_eq!(
            (s.records, s.readings, &s.dead_letters, s.bytes),
            (
                summary.records,
                summary.readings,
                &summary.dead_letters,
                summary.bytes
            )
        );
        assert!(b.len() > 1);
        assert!(b.iter().all(|b| b.readings.len() <= batch_rows + 2));
        assert_eq!(rows(&b, &i), want.0, "batch_rows {batch_rows}");
        assert_eq!(brief(&b), want.1, "batch_rows {batch_rows}");
    }
}
