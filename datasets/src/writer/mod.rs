//! [`DatasetWriter`]: appends Arrow batches to a dataset as sealed Parquet segments, each
//! committed by a chain entry.
//!
//! Rows stream into the open segment's Parquet writer, which writes a hidden temp file
//! (`.seg-NNNNNNNN.tmp`) through a hashing adapter, so the file digest and length come for
//! free; each row's Merkle leaf and the event-time range are computed as the batch goes by.
//! Sealing: finish the Parquet footer → fsync the file → rename to `seg-NNNNNNNN.parquet` →
//! fsync the directory → append the chain entry to `_chain.jsonl` → fsync the log. A crash
//! leaves a hidden temp file (removed by the next `open`), or a whole segment without an
//! entry (reported by `verify`, refused by `open`), or a whole segment with its entry.
//!
//! One writer per dataset: `open` takes an exclusive lock on the chain log (released when the
//! writer is dropped, or when the process dies).

mod open;

use std::borrow::Cow;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::errors::ParquetError;
use datafusion::parquet::file::properties::WriterProperties;

use crate::chain::{ChainEntry, ChainLog, Record};
use crate::digest::Digest;
use crate::encoding::{
    RowEncoder, describe_schema, fingerprint, merge_range, time_column, time_range,
};
use crate::error::{DatasetError, Result, io_err};
use crate::layout::{
    CHAIN_LOG, now_ms, segment_file_name, sync_dir, temp_segment_name, validate_name,
};
use crate::merkle::MerkleBuilder;
use crate::spec::{DatasetSpec, DatasetSummary, WriterOptions};
use open::{clean_directory, create_log, schema_difference};

/// Batches at least this large hash their rows beside the Parquet encoding (see `append`).
const PARALLEL_HASH_MIN_ROWS: usize = 4096;

/// `Write` adapter that BLAKE3-hashes and counts every byte on its way to the file.
struct HashingWriter {
    file: File,
    hasher: blake3::Hasher,
    bytes: u64,
}

impl Write for HashingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// Removes a temp file on drop unless disarmed (a segment abandoned by an error or a drop).
struct TempGuard(Option<PathBuf>);

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = fs::remove_file(p);
        }
    }
}

/// The segment being filled.
struct OpenSegment {
    seq: u64,
    writer: ArrowWriter<HashingWriter>,
    merkle: MerkleBuilder,
    rows: usize,
    range: Option<(i64, i64)>,
    started: Instant,
    /// Declared last so the Parquet writer (and its file) is dropped first.
    temp: TempGuard,
}

/// Appends batches to one dataset; see the module docs for the sealing protocol.
pub struct DatasetWriter {
    dir: PathBuf,
    spec: DatasetSpec,
    schema: SchemaRef,
    opts: WriterOptions,
    props: WriterProperties,
    time_idx: Option<usize>,
    /// Open for append, exclusively locked.
    log: File,
    prev: Digest,
    next_seq: u64,
    summary: DatasetSummary,
    open: Option<OpenSegment>,
    /// Scratch buffer for row encodings.
    buf: Vec<u8>,
    poisoned: bool,
}

impl std::fmt::Debug for DatasetWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatasetWriter")
            .field("dir", &self.dir)
            .field("next_seq", &self.next_seq)
            .field("buffered_rows", &self.buffered_rows())
            .field("summary", &self.summary)
            .finish_non_exhaustive()
    }
}

impl DatasetWriter {
    /// Creates `<root>/<name>/` (validating the name) with a fresh chain, or re-opens an
    /// existing dataset and continues its chain. Re-opening checks the chain log's links, that
    /// its schema fingerprint and time column equal the given ones, and that no `*.parquet`
    /// file lies outside the chain; leftover hidden temp files are removed.
    pub fn open(
        root: &Path,
        spec: DatasetSpec,
        schema: SchemaRef,
        opts: WriterOptions,
    ) -> Result<Self> {
        let name = spec.name.clone();
        validate_name(&name)?;
        let invalid = |detail: String| DatasetError::InvalidOptions {
            dataset: name.clone(),
            detail,
        };
        if opts.segment_rows == 0 || opts.row_group_rows == 0 {
            return Err(invalid(
                "segment_rows and row_group_rows must be > 0".into(),
            ));
        }
        if schema.fields().is_empty() {
            return Err(invalid("the schema has no columns".into()));
        }
        let props = WriterProperties::builder()
            .set_compression(opts.compression.to_parquet().map_err(invalid)?)
            .set_max_row_group_row_count(Some(opts.row_group_rows.min(opts.segment_rows)))
            .set_created_by(format!("msec-datasets {}", env!("CARGO_PKG_VERSION")))
            .build();
        let fields = describe_schema(&name, &schema)?;
        let time_idx = match spec.time_column.as_deref() {
            Some(c) => Some(time_column(&name, &schema, c)?),
            None => None,
        };

        fs::create_dir_all(root).map_err(io_err(&name, root))?;
        let dir = root.join(&name);
        match fs::create_dir(&dir) {
            Ok(()) => sync_dir(root).map_err(io_err(&name, root))?,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_err(&name, &dir)(e)),
        }
        let log_path = dir.join(CHAIN_LOG);
        if !log_path.exists() {
            create_log(&name, &dir, &spec, fields.clone())?;
        }
        let mut log = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&log_path)
            .map_err(io_err(&name, &log_path))?;
        match log.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(DatasetError::Locked { dataset: name }),
            Err(TryLockError::Error(e)) => return Err(io_err(&name, &log_path)(e)),
        }
        let mut text = String::new();
        log.read_to_string(&mut text)
            .map_err(io_err(&name, &log_path))?;
        let chain = ChainLog::parse(&name, &text)?;
        if chain.header.schema_fingerprint != fingerprint(&fields) {
            return Err(DatasetError::SchemaMismatch {
                detail: schema_difference(&chain.header.schema, &fields),
                dataset: name,
            });
        }
        if chain.header.time_column != spec.time_column {
            return Err(invalid(format!(
                "the dataset was created with time column {:?}, not {:?}",
                chain.header.time_column, spec.time_column
            )));
        }
        clean_directory(&name, &dir, &chain)?;

        let summary = DatasetSummary::from_log(&chain);
        let (prev, next_seq) = chain
            .entries
            .last()
            .map_or((chain.header.genesis, 1), |e| (e.hash, e.seq + 1));
        tracing::debug!(dataset = %name, next_seq, "opened dataset");
        Ok(Self {
            dir,
            spec,
            schema,
            opts,
            props,
            time_idx,
            log,
            prev,
            next_seq,
            summary,
            open: None,
            buf: Vec::with_capacity(256),
            poisoned: false,
        })
    }

    /// The dataset's name.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// The dataset's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The dataset's schema.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The spec the writer was opened with.
    pub fn spec(&self) -> &DatasetSpec {
        &self.spec
    }

    /// Rows written to the open segment and not yet sealed.
    pub fn buffered_rows(&self) -> usize {
        self.open.as_ref().map_or(0, |s| s.rows)
    }

    /// Totals over the sealed segments so far.
    pub fn summary(&self) -> &DatasetSummary {
        &self.summary
    }

    /// Writes `batch` (its columns must match the dataset's schema: names, types,
    /// nullability), sealing a segment each time `segment_rows` rows are buffered; a batch is
    /// split across segments so that none exceeds `segment_rows`. Also seals when the open
    /// segment is older than `max_segment_age`.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.usable()?;
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let batch = self.conform(batch)?;
        let r = self.write_rows(&batch);
        self.poisoned |= r.is_err();
        r
    }

    /// Number of entries in the chain (sealed segments), the one being written excluded.
    pub fn chain_len(&self) -> u64 {
        self.next_seq.saturating_sub(1)
    }

    /// Seals the open segment (no-op if nothing is buffered) and returns its chain entry.
    pub fn seal(&mut self) -> Result<Option<ChainEntry>> {
        self.usable()?;
        let Some(seg) = self.open.take() else {
            return Ok(None);
        };
        let r = self.seal_segment(seg);
        self.poisoned |= r.is_err();
        r.map(Some)
    }

    /// Seals the open segment if it is older than `max_segment_age`. Call it periodically
    /// when batches may stop arriving.
    pub fn seal_if_due(&mut self) -> Result<Option<ChainEntry>> {
        match (&self.open, self.opts.max_segment_age) {
            (Some(seg), Some(age)) if seg.started.elapsed() >= age => self.seal(),
            _ => Ok(None),
        }
    }

    /// Seals what is buffered and returns the dataset's totals.
    pub fn finish(mut self) -> Result<DatasetSummary> {
        self.seal()?;
        Ok(self.summary.clone())
    }

    fn usable(&self) -> Result<()> {
        if self.poisoned {
            return Err(DatasetError::Poisoned {
                dataset: self.spec.name.clone(),
            });
        }
        Ok(())
    }

    /// Checks the batch's columns against the schema and re-labels it with the dataset's
    /// schema (so field metadata cannot differ between segments).
    fn conform<'b>(&self, batch: &'b RecordBatch) -> Result<Cow<'b, RecordBatch>> {
        if Arc::ptr_eq(batch.schema_ref(), &self.schema) {
            return Ok(Cow::Borrowed(batch));
        }
        let mismatch = |detail: String| DatasetError::SchemaMismatch {
            dataset: self.spec.name.clone(),
            detail,
        };
        let (got, want) = (batch.schema_ref().fields(), self.schema.fields());
        if got.len() != want.len() {
            return Err(mismatch(format!(
                "batch has {} columns, the dataset {}",
                got.len(),
                want.len()
            )));
        }
        for (i, (g, w)) in got.iter().zip(want.iter()).enumerate() {
            if g.name() != w.name() || g.data_type() != w.data_type() {
                return Err(mismatch(format!(
                    "column {i}: batch has {}: {}, the dataset {}: {}",
                    g.name(),
                    g.data_type(),
                    w.name(),
                    w.data_type()
                )));
            }
        }
        RecordBatch::try_new(self.schema.clone(), batch.columns().to_vec())
            .map(Cow::Owned)
            .map_err(|e| mismatch(e.to_string()))
    }

    fn write_rows(&mut self, batch: &RecordBatch) -> Result<()> {
        let mut offset = 0;
        while offset < batch.num_rows() {
            let mut seg = match self.open.take() {
                Some(s) => s,
                None => self.start_segment()?,
            };
            let take = (self.opts.segment_rows - seg.rows).min(batch.num_rows() - offset);
            self.append(&mut seg, &batch.slice(offset, take))?;
            offset += take;
            if seg.rows >= self.opts.segment_rows {
                self.seal_segment(seg)?;
            } else {
                self.open = Some(seg);
            }
        }
        if let Some(age) = self.opts.max_segment_age
            && let Some(seg) = self.open.take()
        {
            if seg.started.elapsed() >= age {
                self.seal_segment(seg)?;
            } else {
                self.open = Some(seg);
            }
        }
        Ok(())
    }

    fn start_segment(&mut self) -> Result<OpenSegment> {
        let seq = self.next_seq;
        let path = self.dir.join(temp_segment_name(seq));
        let file = File::create(&path).map_err(io_err(&self.spec.name, &path))?;
        let temp = TempGuard(Some(path));
        let sink = HashingWriter {
            file,
            hasher: blake3::Hasher::new(),
            bytes: 0,
        };
        let writer = ArrowWriter::try_new(sink, self.schema.clone(), Some(self.props.clone()))
            .map_err(|e| self.parquet_err(seq, e))?;
        Ok(OpenSegment {
            seq,
            writer,
            merkle: MerkleBuilder::new(),
            rows: 0,
            range: None,
            started: Instant::now(),
            temp,
        })
    }

    fn append(&mut self, seg: &mut OpenSegment, part: &RecordBatch) -> Result<()> {
        let encoder = RowEncoder::new(&self.spec.name, part)?;
        let (writer, merkle, buf) = (&mut seg.writer, &mut seg.merkle, &mut self.buf);
        // Parquet encoding and row hashing are independent and each costs about as much:
        // large batches hash their rows on a scoped thread meanwhile, so a writer keeps two
        // cores busy (a spawn per batch is ~20 µs against milliseconds of work).
        let written = if part.num_rows() >= PARALLEL_HASH_MIN_ROWS {
            std::thread::scope(|scope| {
                let hashing = scope.spawn(|| encoder.push_leaves(merkle, buf));
                let written = writer.write(part);
                hashing.join().map(|()| written)
            })
            .map_err(|_| DatasetError::Poisoned {
                dataset: self.spec.name.clone(),
            })?
        } else {
            encoder.push_leaves(merkle, buf);
            writer.write(part)
        };
        written.map_err(|e| self.parquet_err(seg.seq, e))?;
        if let Some(i) = self.time_idx {
            seg.range = merge_range(seg.range, time_range(part.column(i).as_ref()));
        }
        seg.rows += part.num_rows();
        Ok(())
    }

    fn seal_segment(&mut self, seg: OpenSegment) -> Result<ChainEntry> {
        let OpenSegment {
            seq,
            writer,
            merkle,
            rows,
            range,
            mut temp,
            ..
        } = seg;
        let name = self.spec.name.clone();
        let file_name = segment_file_name(seq);
        let sink = writer.into_inner().map_err(|e| self.parquet_err(seq, e))?;
        let HashingWriter {
            file,
            hasher,
            bytes,
        } = sink;
        let temp_path = temp.0.clone().unwrap_or_default();
        file.sync_all().map_err(io_err(&name, &temp_path))?;
        drop(file);
        let final_path = self.dir.join(&file_name);
        fs::rename(&temp_path, &final_path).map_err(io_err(&name, &final_path))?;
        temp.0 = None;
        sync_dir(&self.dir).map_err(io_err(&name, &self.dir))?;

        let mut entry = ChainEntry {
            seq,
            file: file_name,
            rows: rows as u64,
            bytes,
            ts_min: range.map(|r| r.0),
            ts_max: range.map(|r| r.1),
            sealed_at: now_ms(),
            schema: self.summary.schema_fingerprint,
            digest: hasher.finalize().into(),
            merkle: merkle.finish(),
            prev: self.prev,
            hash: Digest::ZERO,
        };
        entry.hash = entry.compute_hash(&name);
        let line = Record::Segment(entry.clone()).to_line();
        let log_path = self.dir.join(CHAIN_LOG);
        let log_len = self.log.metadata().map(|m| m.len()).ok();
        if let Err(e) = self
            .log
            .write_all(line.as_bytes())
            .and_then(|()| self.log.sync_data())
        {
            // Undo what can be undone, so that a transient failure (a full disk) leaves a
            // dataset the next `open` accepts: cut a torn line off the log and turn the
            // segment back into a temp file, which `open` removes. Best effort: the original
            // error is what is reported.
            if let Some(len) = log_len {
                let _ = self.log.set_len(len);
            }
            if fs::rename(&final_path, &temp_path).is_ok() {
                let _ = sync_dir(&self.dir);
            }
            return Err(io_err(&name, &log_path)(e));
        }

        self.prev = entry.hash;
        self.next_seq = seq + 1;
        let s = &mut self.summary;
        s.rows += entry.rows;
        s.bytes += entry.bytes;
        s.segments += 1;
        s.head = Some(entry.hash);
        let range = merge_range(s.ts_min.zip(s.ts_max), range);
        (s.ts_min, s.ts_max) = (range.map(|r| r.0), range.map(|r| r.1));
        tracing::debug!(dataset = %name, seq, rows, bytes, "sealed segment");
        Ok(entry)
    }

    fn parquet_err(&self, seq: u64, source: ParquetError) -> DatasetError {
        DatasetError::Parquet {
            dataset: self.spec.name.clone(),
            seq,
            file: segment_file_name(seq),
            source,
        }
    }
}

/// A dataset writer is a sink of the engine: the `msec` binary runs it on a sink thread.
impl msec_engine::sink::BatchSink for DatasetWriter {
    type Summary = DatasetSummary;
    type Error = DatasetError;

    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        DatasetWriter::write(self, batch)
    }

    fn seal(&mut self) -> Result<Option<u64>> {
        DatasetWriter::seal(self)?;
        Ok(Some(self.chain_len()))
    }

    fn finish(self) -> Result<DatasetSummary> {
        DatasetWriter::finish(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writers move between threads (a timely worker owns one per dataset).
    #[test]
    fn writer_is_send() {
        fn assert_send<T: Send>() {}
        assert_send::<DatasetWriter>();
    }
}
