//! msec datasets: tamper-evident, hash-chained Parquet datasets, their verification, and the
//! catalog (DESIGN §7; byte-level format in `docs/FORMAT.md`).
//!
//! A dataset is a directory `<root>/<name>/` of immutable Parquet segments
//! (`seg-00000001.parquet`, …) that any Parquet reader can open as a folder, plus an
//! append-only chain log `_chain.jsonl` beside them. Each sealed segment gets a chain entry
//! committing to its file's BLAKE3 digest, its rows' Merkle root, its event-time range and
//! schema fingerprint, and the previous entry's hash; the chain starts from a genesis hash
//! bound to the dataset name and a random creation nonce. The catalog `<root>/_catalog.json`
//! records each chain's head. Every dataset commits a Merkle root over its rows — DESIGN §7
//! requires it of personal datasets only, but computing it everywhere keeps one format.
//!
//! | module | owns |
//! | --- | --- |
//! | [`writer`] | [`DatasetWriter`]: batches → segments → chain entries (atomic, fsynced) |
//! | [`spec`] | [`DatasetSpec`], [`WriterOptions`], [`Compression`], [`DatasetSummary`] |
//! | [`chain`] | chain log records, genesis and chain hashes, strict log reading |
//! | [`merkle`] | the Merkle tree over rows |
//! | [`provenance`] | [`sealed_provenance`], [`sealed_rows`]: what a dataset already holds, read back when a broker run restarts after a crash |
//! | [`encoding`] | canonical row encoding, schema fingerprint, event-time ranges |
//! | [`verify`] | [`verify_dataset`], [`verify_all`]: recompute and compare everything |
//! | [`catalog`] | [`Catalog`]: `_catalog.json`, and the `catalog` table |
//! | [`layout`] | file names, name validation, fsync helpers |
//! | [`digest`] | [`Digest`], 32-byte hashes as hex |
//! | [`error`] | [`DatasetError`] |
//!
//! ```
//! use std::sync::Arc;
//! use datafusion::arrow::array::{Float64Array, RecordBatch, StringArray};
//! use datafusion::arrow::datatypes::{DataType, Field, Schema};
//! use msec_datasets::{DatasetSpec, DatasetWriter, WriterOptions, verify_dataset};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let root = tempfile::tempdir()?;
//! let schema = Arc::new(Schema::new(vec![
//!     Field::new("device", DataType::Utf8, false),
//!     Field::new("value", DataType::Float64, true),
//! ]));
//! let opts = WriterOptions { segment_rows: 2, ..WriterOptions::default() };
//! let mut w = DatasetWriter::open(root.path(), DatasetSpec::new("readings"), schema.clone(), opts)?;
//! w.write(&RecordBatch::try_new(schema, vec![
//!     Arc::new(StringArray::from(vec!["a", "b", "c"])),
//!     Arc::new(Float64Array::from(vec![1.0, 2.0, 3.0])),
//! ])?)?;
//! let summary = w.finish()?;
//! assert_eq!((summary.rows, summary.segments), (3, 2));
//!
//! let report = verify_dataset(root.path(), "readings")?;
//! assert!(report.ok, "{report}");
//! # Ok(())
//! # }
//! ```

// Tests may unwrap; library code may not (workspace lint `unwrap_used`).
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod catalog;
pub mod chain;
pub mod digest;
pub mod encoding;
pub mod error;
pub mod layout;
pub mod merkle;
pub mod provenance;
pub mod spec;
pub mod verify;
pub mod writer;

pub use catalog::{Catalog, CatalogEntry, Publication};
pub use chain::{ChainEntry, ChainLog, Header};
pub use digest::Digest;
pub use error::{DatasetError, Fault, Result};
pub use provenance::{Provenance, sealed_provenance, sealed_rows};
pub use spec::{Compression, DatasetSpec, DatasetSummary, WriterOptions};
pub use verify::{Problem, VerifyReport, What, verify_all, verify_dataset};
pub use writer::DatasetWriter;
