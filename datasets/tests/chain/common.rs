//! Shared fixtures: a readings-like schema, deterministic batches, a multi-segment dataset
//! writer, and assertions on verify reports.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, DictionaryArray, Float64Array, RecordBatch, StringArray, TimestampMillisecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Int32Type, Schema, SchemaRef, TimeUnit};
use msec_datasets::{
    Catalog, DatasetSpec, DatasetSummary, DatasetWriter, Publication, VerifyReport, What,
    WriterOptions, verify_dataset,
};

/// Rows per segment in the fixtures.
pub const SEG_ROWS: usize = 10;
/// Segments in the standard fixture.
pub const SEGMENTS: usize = 4;

pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new(
            "device",
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            false,
        ),
        Field::new("sensor", DataType::Utf8, false),
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            false,
        ),
        Field::new("value", DataType::Float64, true),
    ]))
}

/// `n` rows starting at row number `start`; `salt` changes the values (another run).
pub fn batch(start: usize, n: usize, salt: f64) -> RecordBatch {
    let rows = start..start + n;
    let device: DictionaryArray<Int32Type> = rows
        .clone()
        .map(|i| ["llamas-env-00", "llamas-env-01", "llamas-env-02"][i % 3])
        .collect();
    let sensor = StringArray::from_iter_values(rows.clone().map(|i| ["co2", "noise"][i % 2]));
    let ts = TimestampMillisecondArray::from_iter_values(
        rows.clone().map(|i| 1_600_070_400_000 + 1000 * i as i64),
    )
    .with_timezone("UTC");
    let value =
        Float64Array::from_iter(rows.map(|i| (i % 7 != 3).then_some(400.0 + i as f64 + salt)));
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(device) as ArrayRef,
            Arc::new(sensor),
            Arc::new(ts),
            Arc::new(value),
        ],
    )
    .unwrap()
}

pub fn spec(name: &str) -> DatasetSpec {
    DatasetSpec {
        name: name.into(),
        pilot: "santander".into(),
        description: "test readings".into(),
        personal: true,
        time_column: Some("ts".into()),
    }
}

pub fn opts() -> WriterOptions {
    WriterOptions {
        segment_rows: SEG_ROWS,
        ..WriterOptions::default()
    }
}

pub fn publication() -> Publication {
    Publication {
        publisher: "test".into(),
        licence: "CC-BY-4.0".into(),
    }
}

/// Writes `segments` full segments (in batches of 7 rows, so batches straddle segments)
/// and records the dataset in the catalog.
pub fn write_dataset(root: &Path, name: &str, segments: usize, salt: f64) -> DatasetSummary {
    let mut w = DatasetWriter::open(root, spec(name), schema(), opts()).unwrap();
    let total = segments * SEG_ROWS;
    let mut at = 0;
    while at < total {
        let n = 7.min(total - at);
        w.write(&batch(at, n, salt)).unwrap();
        at += n;
    }
    let summary = w.finish().unwrap();
    assert_eq!(summary.segments, segments as u64);
    Catalog::update(root, &spec(name), &summary, &publication()).unwrap();
    summary
}

/// The standard fixture: a verified 4-segment dataset `readings` in a fresh root.
pub fn fixture() -> (tempfile::TempDir, DatasetSummary) {
    let dir = tempfile::tempdir().unwrap();
    let s = write_dataset(dir.path(), "readings", SEGMENTS, 0.0);
    assert_ok(dir.path(), "readings");
    (dir, s)
}

pub fn seg(root: &Path, name: &str, seq: u64) -> PathBuf {
    root.join(name).join(format!("seg-{seq:08}.parquet"))
}

pub fn chain_log(root: &Path, name: &str) -> PathBuf {
    root.join(name).join("_chain.jsonl")
}

pub fn assert_ok(root: &Path, name: &str) -> VerifyReport {
    let r = verify_dataset(root, name).unwrap();
    assert!(r.ok, "{r}");
    r
}

/// Verifies, asserts failure, and checks that the first problem concerns `seq` (and
/// `file`, if given) and is of kind `what`.
pub fn assert_fails(
    root: &Path,
    name: &str,
    seq: Option<u64>,
    file: Option<&str>,
    what: What,
) -> VerifyReport {
    let r = verify_dataset(root, name).unwrap();
    assert!(!r.ok, "tampering not detected");
    let first = &r.problems[0];
    eprintln!("{r}");
    assert_eq!(first.dataset, name, "{first}");
    assert_eq!(first.what, what, "{first}");
    assert_eq!(first.seq, seq, "{first}");
    if let Some(f) = file {
        assert_eq!(first.file.as_deref(), Some(f), "{first}");
    }
    r
}

/// A schema with every type that has a row encoding, and a batch of it with nulls.
pub fn all_types_batch(n: usize) -> RecordBatch {
    use datafusion::arrow::array::*;
    use datafusion::arrow::datatypes::UInt16Type;
    let idx = 0..n;
    let s = |i: usize| format!("s{}", i % 5);
    let nul = |i: usize| i % 4 == 1;
    let cols: Vec<(&str, ArrayRef)> = vec![
        (
            "utf8",
            Arc::new(StringArray::from_iter(
                idx.clone().map(|i| (!nul(i)).then(|| s(i))),
            )),
        ),
        (
            "large",
            Arc::new(LargeStringArray::from_iter(
                idx.clone().map(|i| Some(s(i + 1))),
            )),
        ),
        (
            "view",
            Arc::new(StringViewArray::from_iter(
                idx.clone().map(|i| (!nul(i)).then(|| s(i + 2))),
            )),
        ),
        (
            "dict",
            Arc::new(
                idx.clone()
                    .map(|i| (!nul(i)).then_some(["a", "b"][i % 2]))
                    .collect::<DictionaryArray<UInt16Type>>(),
            ),
        ),
        (
            "i8",
            Arc::new(Int8Array::from_iter(idx.clone().map(|i| Some(-(i as i8))))),
        ),
        (
            "i16",
            Arc::new(Int16Array::from_iter(
                idx.clone().map(|i| (!nul(i)).then_some(i as i16 * -300)),
            )),
        ),
        (
            "i32",
            Arc::new(Int32Array::from_iter_values(
                idx.clone().map(|i| i as i32 * 70_000),
            )),
        ),
        (
            "i64",
            Arc::new(Int64Array::from_iter_values(
                idx.clone().map(|i| i64::MIN + i as i64),
            )),
        ),
        (
            "u8",
            Arc::new(UInt8Array::from_iter_values(
                idx.clone().map(|i| 250u8.wrapping_add(i as u8)),
            )),
        ),
        (
            "u16",
            Arc::new(UInt16Array::from_iter_values(idx.clone().map(|i| i as u16))),
        ),
        (
            "u32",
            Arc::new(UInt32Array::from_iter_values(
                idx.clone().map(|i| u32::MAX - i as u32),
            )),
        ),
        (
            "u64",
            Arc::new(UInt64Array::from_iter_values(
                idx.clone().map(|i| u64::MAX - i as u64),
            )),
        ),
        (
            "f32",
            Arc::new(Float32Array::from_iter(
                idx.clone().map(|i| (!nul(i)).then_some(i as f32 / 3.0)),
            )),
        ),
        (
            "f64",
            Arc::new(Float64Array::from_iter_values(
                idx.clone().map(|i| -(i as f64) / 7.0),
            )),
        ),
        (
            "ts_ns",
            Arc::new(TimestampNanosecondArray::from_iter(
                idx.clone()
                    .map(|i| (!nul(i)).then_some(i as i64 * 1_234_567 - 5_000_000)),
            )),
        ),
        (
            "ts_ms",
            Arc::new(
                TimestampMillisecondArray::from_iter_values(
                    idx.clone().map(|i| 1_700_000_000_000 + i as i64),
                )
                .with_timezone("Europe/Madrid"),
            ),
        ),
        (
            "ts_us",
            Arc::new(
                TimestampMicrosecondArray::from_iter_values(idx.clone().map(|i| i as i64))
                    .with_timezone("+09:00"),
            ),
        ),
        (
            "bool",
            Arc::new(BooleanArray::from_iter(
                idx.clone().map(|i| (!nul(i)).then_some(i % 3 == 0)),
            )),
        ),
        (
            "bin",
            Arc::new(BinaryArray::from_iter(
                idx.clone().map(|i| (!nul(i)).then(|| vec![i as u8; i % 4])),
            )),
        ),
        (
            "lbin",
            Arc::new(LargeBinaryArray::from_iter_values(
                idx.clone().map(|i| vec![0xff; i % 3]),
            )),
        ),
        (
            "vbin",
            Arc::new(BinaryViewArray::from_iter_values(
                idx.clone().map(|i| vec![7u8; i % 20]),
            )),
        ),
        (
            "fixed",
            Arc::new(
                FixedSizeBinaryArray::try_from_iter(idx.clone().map(|i| (i as u32).to_le_bytes()))
                    .unwrap(),
            ),
        ),
        ("nothing", Arc::new(NullArray::new(n))),
    ];
    RecordBatch::try_from_iter(cols).unwrap()
}
