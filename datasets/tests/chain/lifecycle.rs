//! Writing, re-opening, crash leftovers, locking, options, reading back with a plain Parquet
//! reader, the Merkle oracle, and the catalog.

use std::fs;
use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::array::{Array, RecordBatch, StringArray};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use msec_datasets::chain::ChainLog;
use msec_datasets::encoding::leaf_hashes;
use msec_datasets::merkle::merkle_root;
use msec_datasets::{
    Catalog, DatasetError, DatasetSpec, DatasetWriter, What, WriterOptions, verify_all,
    verify_dataset,
};

use crate::common::*;

#[test]
fn batches_are_split_so_no_segment_exceeds_segment_rows() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = DatasetWriter::open(dir.path(), spec("readings"), schema(), opts()).unwrap();
    let mut at = 0;
    for n in [7, 3, 25, 1] {
        w.write(&batch(at, n, 0.0)).unwrap();
        at += n;
    }
    assert_eq!(w.buffered_rows(), 6);
    let s = w.finish().unwrap();
    let log = ChainLog::read(dir.path(), "readings").unwrap();
    let rows: Vec<u64> = log.entries.iter().map(|e| e.rows).collect();
    assert_eq!(rows, [10, 10, 10, 6]);
    assert_eq!((s.rows, s.segments), (36, 4));
    assert_eq!(s.bytes, log.entries.iter().map(|e| e.bytes).sum::<u64>());
    assert_eq!(s.ts_min, Some(1_600_070_400_000));
    assert_eq!(s.ts_max, Some(1_600_070_400_000 + 35_000));
    assert_eq!(log.entries[1].ts_min, Some(1_600_070_410_000));
    assert_eq!(log.entries[1].ts_max, Some(1_600_070_419_000));
    assert_ok(dir.path(), "readings");
}

#[test]
fn merkle_root_matches_an_independent_oracle() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path(), "readings", 2, 0.0);
    let log = ChainLog::read(dir.path(), "readings").unwrap();
    for (i, e) in log.entries.iter().enumerate() {
        // Recompute from the rows as written (not as read back), in one piece.
        let leaves = leaf_hashes("readings", &batch(i * SEG_ROWS, SEG_ROWS, 0.0)).unwrap();
        assert_eq!(e.merkle, merkle_root(&leaves), "segment {}", e.seq);
    }
}

#[test]
fn reopen_and_append_continues_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let first = write_dataset(root, "readings", 2, 0.0);
    let mut w = DatasetWriter::open(root, spec("readings"), schema(), opts()).unwrap();
    assert_eq!(w.summary(), &first);
    w.write(&batch(20, 15, 0.0)).unwrap();
    let e = w.seal().unwrap().unwrap();
    assert_eq!(e.seq, 4);
    let s = w.finish().unwrap();
    assert_eq!((s.rows, s.segments), (35, 4));
    assert_eq!(s.genesis, first.genesis);
    let log = ChainLog::read(root, "readings").unwrap();
    assert_eq!(log.entries[2].prev, first.head.unwrap());
    assert_eq!(log.entries[2].seq, 3);
    // The catalog still points at segment 2: the longer chain is fine, and noted.
    let r = assert_ok(root, "readings");
    assert_eq!(r.notes.len(), 1, "{r:?}");
    Catalog::update(root, &spec("readings"), &s, &publication()).unwrap();
    let r = assert_ok(root, "readings");
    assert!(r.notes.is_empty());
    assert_eq!((r.segments, r.rows, r.head), (4, 35, s.head));
}

#[test]
fn reopen_refuses_another_schema_or_time_column() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path(), "readings", 1, 0.0);
    let mut fields: Vec<Field> = schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields[3] = Field::new("value", DataType::Float32, true);
    let other = Arc::new(Schema::new(fields));
    let e = DatasetWriter::open(dir.path(), spec("readings"), other, opts()).unwrap_err();
    assert!(matches!(e, DatasetError::SchemaMismatch { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("column 3: the dataset has value: float64"),
        "{e}"
    );
    let mut s = spec("readings");
    s.time_column = None;
    let e = DatasetWriter::open(dir.path(), s, schema(), opts()).unwrap_err();
    assert!(e.to_string().contains("time column"), "{e}");
}

#[test]
fn a_second_writer_is_locked_out() {
    let dir = tempfile::tempdir().unwrap();
    let w = DatasetWriter::open(dir.path(), spec("readings"), schema(), opts()).unwrap();
    let e = DatasetWriter::open(dir.path(), spec("readings"), schema(), opts()).unwrap_err();
    assert!(
        matches!(e, DatasetError::Locked { .. }) && e.is_retryable(),
        "{e}"
    );
    drop(w);
    DatasetWriter::open(dir.path(), spec("readings"), schema(), opts()).unwrap();
}

#[test]
fn wrong_batch_schema_is_rejected_and_the_writer_stays_usable() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = DatasetWriter::open(dir.path(), spec("readings"), schema(), opts()).unwrap();
    let bad = RecordBatch::try_from_iter([(
        "device",
        Arc::new(StringArray::from(vec!["a"])) as Arc<dyn Array>,
    )])
    .unwrap();
    assert!(matches!(
        w.write(&bad),
        Err(DatasetError::SchemaMismatch { .. })
    ));
    w.write(&batch(0, 3, 0.0)).unwrap();
    assert_eq!(w.finish().unwrap().rows, 3);
}

#[test]
fn empty_seal_is_a_no_op_and_an_empty_dataset_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = DatasetWriter::open(dir.path(), spec("readings"), schema(), opts()).unwrap();
    assert_eq!(w.seal().unwrap(), None);
    let s = w.finish().unwrap();
    assert_eq!((s.rows, s.segments, s.head), (0, 0, None));
    let r = assert_ok(dir.path(), "readings");
    assert_eq!(r.segments, 0);
}

#[test]
fn segments_are_sealed_by_age() {
    let dir = tempfile::tempdir().unwrap();
    let o = WriterOptions {
        segment_rows: 1_000_000,
        max_segment_age: Some(Duration::ZERO),
        ..WriterOptions::default()
    };
    let mut w = DatasetWriter::open(dir.path(), spec("readings"), schema(), o).unwrap();
    w.write(&batch(0, 5, 0.0)).unwrap();
    w.write(&batch(5, 5, 0.0)).unwrap();
    assert_eq!(w.buffered_rows(), 0);
    assert_eq!(w.seal_if_due().unwrap(), None);
    assert_eq!(w.finish().unwrap().segments, 2);
}

#[test]
fn invalid_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["../evil", "a/b", "", "Readings", "_catalog", ".x"] {
        let e = DatasetWriter::open(dir.path(), DatasetSpec::new(name), schema(), opts());
        assert!(matches!(e, Err(DatasetError::InvalidName { .. })), "{name}");
        assert!(verify_dataset(dir.path(), name).is_err(), "{name}");
    }
    assert!(fs::read_dir(dir.path()).unwrap().next().is_none());
}

#[test]
fn any_parquet_reader_reads_the_folder() {
    // What a listing reader does: open every *.parquet in the folder, skip the rest.
    let dir = tempfile::tempdir().unwrap();
    let s = write_dataset(dir.path(), "readings", 3, 0.0);
    let mut files: Vec<_> = fs::read_dir(dir.path().join("readings"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "_chain.jsonl",
            "seg-00000001.parquet",
            "seg-00000002.parquet",
            "seg-00000003.parquet"
        ]
    );
    let mut batches = Vec::new();
    for f in files.iter().filter(|f| f.ends_with(".parquet")) {
        let file = fs::File::open(dir.path().join("readings").join(f)).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap();
        batches.extend(reader.map(Result::unwrap));
    }
    let all = concat_batches(&schema(), &batches).unwrap();
    assert_eq!(all.num_rows() as u64, s.rows);
    assert_eq!(all, batch(0, 30, 0.0));
}

#[test]
fn crash_leftovers() {
    let (dir, _) = fixture();
    let root = dir.path();
    let d = root.join("readings");
    // A crash mid-segment leaves a hidden temp file: readers and verify ignore it, and the
    // next writer removes it.
    fs::write(d.join(".seg-00000005.tmp"), b"PAR1 half a segment").unwrap();
    assert_ok(root, "readings");
    drop(DatasetWriter::open(root, spec("readings"), schema(), opts()).unwrap());
    assert!(!d.join(".seg-00000005.tmp").exists());

    // A crash between the rename and the chain append leaves a whole unchained segment:
    // verify reports it and writers refuse to continue.
    fs::copy(
        d.join("seg-00000004.parquet"),
        d.join("seg-00000005.parquet"),
    )
    .unwrap();
    assert_fails(
        root,
        "readings",
        None,
        Some("seg-00000005.parquet"),
        What::Unchained,
    );
    let e = DatasetWriter::open(root, spec("readings"), schema(), opts()).unwrap_err();
    assert!(matches!(e, DatasetError::UnchainedSegment { .. }), "{e}");
    fs::remove_file(d.join("seg-00000005.parquet")).unwrap();

    // A crash mid-append leaves a torn last line.
    let log = chain_log(root, "readings");
    let mut text = fs::read_to_string(&log).unwrap();
    text.push_str("{\"kind\":\"segment\",\"seq\":5,\"fi");
    fs::write(&log, &text).unwrap();
    let r = assert_fails(root, "readings", None, Some("_chain.jsonl"), What::ChainLog);
    assert!(r.problems[0].detail.contains("torn"), "{r}");
    let e = DatasetWriter::open(root, spec("readings"), schema(), opts()).unwrap_err();
    assert!(matches!(e, DatasetError::ChainLog { .. }), "{e}");
}

#[test]
fn erased_entries_are_not_silently_skipped() {
    let (dir, _) = fixture();
    let log = chain_log(dir.path(), "readings");
    let mut text = fs::read_to_string(&log).unwrap();
    text.push_str("{\"kind\":\"erased\",\"seq\":5}\n");
    fs::write(&log, text).unwrap();
    let r = assert_fails(
        dir.path(),
        "readings",
        None,
        Some("_chain.jsonl"),
        What::ChainLog,
    );
    assert!(r.problems[0].detail.contains("erased"), "{r}");
}

#[test]
fn verify_all_covers_every_dataset_and_the_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_dataset(root, "readings", 2, 0.0);
    write_dataset(root, "alerts", 1, 0.0);
    write_dataset(root, "gone", 1, 0.0);
    fs::remove_dir_all(root.join("gone")).unwrap();
    fs::create_dir(root.join("not_a_dataset")).unwrap();
    let reports = verify_all(root).unwrap();
    let names: Vec<_> = reports.iter().map(|r| (r.dataset.as_str(), r.ok)).collect();
    assert_eq!(
        names,
        [("alerts", true), ("gone", false), ("readings", true)]
    );
    assert_eq!(reports[1].problems[0].what, What::Catalog);
}

#[test]
fn catalog_refresh_reads_the_chain_logs() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let s = write_dataset(root, "readings", 2, 0.0);
    fs::remove_file(root.join("_catalog.json")).unwrap();
    let c = Catalog::refresh(root, &[spec("readings"), spec("absent")], &publication()).unwrap();
    assert_eq!(c.datasets.len(), 1);
    let e = &c.datasets[0];
    assert_eq!(
        (e.rows, e.segments, e.head, e.genesis),
        (s.rows, 2, s.head, s.genesis)
    );
    assert_eq!((e.pilot.as_str(), e.personal), ("santander", true));
    assert_eq!(e.schema, s.schema);
    assert!(
        e.schema.contains("\"type\":\"dictionary<int32,utf8>\""),
        "{}",
        e.schema
    );
    assert_ok(root, "readings");
    let b = c.to_record_batch().unwrap();
    assert_eq!(b.num_rows(), 1);
}

#[test]
fn every_supported_type_round_trips_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let b = all_types_batch(25);
    let spec = DatasetSpec {
        time_column: Some("ts_ns".into()),
        ..DatasetSpec::new("types")
    };
    let o = WriterOptions {
        segment_rows: 10,
        ..WriterOptions::default()
    };
    let mut w = DatasetWriter::open(dir.path(), spec, b.schema(), o).unwrap();
    w.write(&b).unwrap();
    let s = w.finish().unwrap();
    assert_eq!((s.rows, s.segments), (25, 3));
    // ns → ms rounds towards −∞: −5 000 000 ns is −5 ms; the largest, 24·1 234 567 − 5e6 ns.
    assert_eq!(s.ts_min, Some(-5));
    assert_eq!(s.ts_max, Some((24 * 1_234_567 - 5_000_000) / 1_000_000));
    let r = assert_ok(dir.path(), "types");
    assert_eq!(r.rows, 25);
    let log = ChainLog::read(dir.path(), "types").unwrap();
    let leaves = leaf_hashes("types", &b.slice(0, 10)).unwrap();
    assert_eq!(log.entries[0].merkle, merkle_root(&leaves));
}
