//! Checks of one segment file against its chain entry: existence, length, digest, then —
//! only when the digest matches, so that only files msec wrote are parsed — the Parquet
//! contents: schema fingerprint, rows, Merkle root and event-time range.

use std::fs::File;
use std::path::Path;

use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::{Verifier, What};
use crate::chain::ChainEntry;
use crate::digest::Digest;
use crate::encoding::{RowEncoder, merge_range, schema_fingerprint, time_column, time_range};
use crate::error::{Result, io_err};
use crate::merkle::MerkleBuilder;

/// What a segment file holds, recomputed from its rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recomputed {
    /// Fingerprint of the file's Arrow schema.
    pub schema: Digest,
    /// Rows read.
    pub rows: u64,
    /// Merkle root over the rows.
    pub merkle: Digest,
    /// Event-time range (epoch ms).
    pub range: Option<(i64, i64)>,
}

/// Checks `e`'s file in `dir`, adding problems to `v`. `Err` only for I/O failures other
/// than a missing file.
pub(super) fn check(
    v: &mut Verifier,
    dir: &Path,
    e: &ChainEntry,
    time_col: Option<&str>,
) -> Result<()> {
    let path = dir.join(&e.file);
    let dataset = v.dataset.clone();
    let mut bad = |what, detail: String| {
        v.problem(Some(e.seq), Some(e.file.clone()), what, detail);
    };
    let meta = match std::fs::metadata(&path) {
        Ok(m) => m,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            bad(What::Missing, "file missing (segment deleted)".into());
            return Ok(());
        }
        Err(err) => return Err(io_err(&dataset, &path)(err)),
    };
    if !meta.is_file() {
        bad(What::Missing, "not a regular file".into());
        return Ok(());
    }
    if meta.len() != e.bytes {
        bad(
            What::Length,
            format!(
                "length differs: chain {} bytes, file {} bytes",
                e.bytes,
                meta.len()
            ),
        );
        return Ok(());
    }
    let digest = file_digest(&path).map_err(io_err(&dataset, &path))?;
    if digest != e.digest {
        bad(
            What::Digest,
            format!(
                "digest differs: chain {}, file {}",
                e.digest.short(),
                digest.short()
            ),
        );
        return Ok(());
    }
    let r = match recompute(&dataset, &path, time_col) {
        Ok(r) => r,
        Err(detail) => {
            bad(What::Unreadable, detail);
            return Ok(());
        }
    };
    if r.schema != e.schema {
        bad(
            What::Schema,
            format!(
                "schema fingerprint differs: chain {}, file {}",
                e.schema.short(),
                r.schema.short()
            ),
        );
    }
    if r.rows != e.rows {
        bad(
            What::Rows,
            format!("rows differ: chain {}, file {}", e.rows, r.rows),
        );
    }
    if r.merkle != e.merkle {
        bad(
            What::Merkle,
            format!(
                "merkle root differs: chain {}, file {}",
                e.merkle.short(),
                r.merkle.short()
            ),
        );
    }
    let chain_range = e.ts_min.zip(e.ts_max);
    if r.range != chain_range {
        let show =
            |x: Option<(i64, i64)>| x.map_or_else(|| "none".into(), |(a, b)| format!("{a}..{b}"));
        bad(
            What::TimeRange,
            format!(
                "time range differs: chain {}, file {}",
                show(chain_range),
                show(r.range)
            ),
        );
    }
    Ok(())
}

/// BLAKE3 of a file's bytes.
pub fn file_digest(path: &Path) -> std::io::Result<Digest> {
    let mut h = blake3::Hasher::new();
    h.update_reader(File::open(path)?)?;
    Ok(h.finalize().into())
}

/// Reads a segment with the Parquet reader and recomputes what its entry commits to. The
/// error says why the file cannot be read.
pub fn recompute(
    dataset: &str,
    path: &Path,
    time_col: Option<&str>,
) -> std::result::Result<Recomputed, String> {
    let file = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| format!("not readable as Parquet: {e}"))?
        .with_batch_size(8192);
    let schema = builder.schema().clone();
    let fp = schema_fingerprint(dataset, &schema).map_err(|e| e.to_string())?;
    let tidx = match time_col {
        Some(c) => Some(time_column(dataset, &schema, c).map_err(|e| e.to_string())?),
        None => None,
    };
    let reader = builder
        .build()
        .map_err(|e| format!("not readable as Parquet: {e}"))?;
    let mut merkle = MerkleBuilder::new();
    let mut buf = Vec::with_capacity(256);
    let mut range = None;
    let mut rows = 0u64;
    for batch in reader {
        let batch = batch.map_err(|e| format!("reading rows: {e}"))?;
        RowEncoder::new(dataset, &batch)
            .map_err(|e| e.to_string())?
            .push_leaves(&mut merkle, &mut buf);
        if let Some(i) = tidx {
            range = merge_range(range, time_range(batch.column(i).as_ref()));
        }
        rows += batch.num_rows() as u64;
    }
    Ok(Recomputed {
        schema: fp,
        rows,
        merkle: merkle.finish(),
        range,
    })
}
