//! What a dataset is ([`DatasetSpec`]), how it is written ([`WriterOptions`],
//! [`Compression`]) and what a writer reports at the end ([`DatasetSummary`]).

use std::time::Duration;

use datafusion::parquet::basic::{Compression as PqCompression, ZstdLevel};
use serde::{Deserialize, Serialize};

use crate::chain::ChainLog;
use crate::digest::Digest;
use crate::encoding::{merge_range, schema_json};

/// Describes a dataset: its name and the catalog fields that come from configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetSpec {
    /// Dataset name: `[a-z0-9][a-z0-9_]*`, at most 64 bytes; also the directory name.
    pub name: String,
    /// Pilot the data comes from (e.g. `santander`, `fujisawa`).
    pub pilot: String,
    /// One-line description for the catalog.
    pub description: String,
    /// Whether the dataset may hold personal data.
    pub personal: bool,
    /// Event-time column (a timestamp, or Int64 epoch ms) whose range each entry records.
    pub time_column: Option<String>,
}

impl DatasetSpec {
    /// A spec with just a name; other fields empty.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }
}

/// Parquet compression of segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// No compression.
    None,
    /// Snappy (the default): fast, and read by every Parquet reader.
    #[default]
    Snappy,
    /// LZ4 (the `LZ4_RAW` codec): about as fast; older readers lack it.
    Lz4Raw,
    /// Zstandard at a level in 1..=22: smaller files, slower writes.
    Zstd(i32),
}

impl Compression {
    pub(crate) fn to_parquet(self) -> Result<PqCompression, String> {
        Ok(match self {
            Compression::None => PqCompression::UNCOMPRESSED,
            Compression::Snappy => PqCompression::SNAPPY,
            Compression::Lz4Raw => PqCompression::LZ4_RAW,
            Compression::Zstd(level) => PqCompression::ZSTD(
                ZstdLevel::try_new(level).map_err(|e| format!("zstd level {level}: {e}"))?,
            ),
        })
    }
}

/// How a [`DatasetWriter`](crate::DatasetWriter) cuts and encodes segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterOptions {
    /// Rows per segment; a segment is sealed as soon as it holds this many (default 1 000 000).
    pub segment_rows: usize,
    /// Seal a non-empty segment once its first row is this old (checked on each
    /// [`write`](crate::DatasetWriter::write) and by
    /// [`seal_if_due`](crate::DatasetWriter::seal_if_due)). Default: none.
    pub max_segment_age: Option<Duration>,
    /// Parquet compression (default [`Compression::Snappy`]).
    pub compression: Compression,
    /// Rows per Parquet row group (default 128 Ki), capped at `segment_rows`.
    pub row_group_rows: usize,
}

impl Default for WriterOptions {
    fn default() -> Self {
        Self {
            segment_rows: 1_000_000,
            max_segment_age: None,
            compression: Compression::Snappy,
            row_group_rows: 128 * 1024,
        }
    }
}

/// Totals of a dataset after a writer finishes (or read from its chain log).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetSummary {
    /// Dataset name.
    pub name: String,
    /// Rows over all segments.
    pub rows: u64,
    /// Number of segments.
    pub segments: u64,
    /// Bytes over all segment files.
    pub bytes: u64,
    /// Hash of the last chain entry, `None` before the first segment.
    pub head: Option<Digest>,
    /// The chain's genesis hash (identifies this creation of the dataset).
    pub genesis: Digest,
    /// Smallest event time over all segments (epoch ms).
    pub ts_min: Option<i64>,
    /// Largest event time over all segments (epoch ms).
    pub ts_max: Option<i64>,
    /// The schema as a JSON array of `{"name","type","nullable"}`.
    pub schema: String,
    /// The schema fingerprint.
    pub schema_fingerprint: Digest,
}

impl DatasetSummary {
    /// The head as 64 hex digits.
    pub fn head_hex(&self) -> Option<String> {
        self.head.map(|h| h.to_hex())
    }

    /// Sums a chain log's entries.
    pub fn from_log(log: &ChainLog) -> Self {
        let mut s = DatasetSummary {
            name: log.header.dataset.clone(),
            rows: 0,
            segments: 0,
            bytes: 0,
            head: log.head(),
            genesis: log.header.genesis,
            ts_min: None,
            ts_max: None,
            schema: schema_json(&log.header.schema),
            schema_fingerprint: log.header.schema_fingerprint,
        };
        let mut range = None;
        for e in &log.entries {
            s.rows += e.rows;
            s.bytes += e.bytes;
            s.segments += 1;
            range = merge_range(range, e.ts_min.zip(e.ts_max));
        }
        (s.ts_min, s.ts_max) = (range.map(|r| r.0), range.map(|r| r.1));
        s
    }
}
