//! Which source positions a dataset already holds: the `(source, offset)` provenance of its
//! sealed rows, read back from the segments (only those two columns). A run restarted after
//! a crash uses it to recognise records its broker delivers again (DESIGN §9).

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::Path;

use datafusion::arrow::array::{Array, StringArray, UInt64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::chain::ChainLog;
use crate::error::{DatasetError, Result};

/// Per source name, the offsets present in a dataset's sealed segments.
pub type Provenance = HashMap<String, HashSet<u64>>;

/// The `(source, offset)` pairs of the rows of dataset `name` under `root` whose source is
/// accepted by `source_filter`, from segments whose event time reaches `since` or later (all
/// segments when `since` is `None`, or when a segment has no time range). A dataset that does
/// not exist yet holds nothing.
pub fn sealed_provenance(
    root: &Path,
    name: &str,
    since: Option<i64>,
    source_filter: &dyn Fn(&str) -> bool,
) -> Result<Provenance> {
    let mut out = Provenance::new();
    for_each_segment(root, name, since, &["source", "offset"], &mut |batch| {
        let arrow = |source| DatasetError::Arrow {
            dataset: name.to_owned(),
            source,
        };
        let not = |detail: &str| DatasetError::SchemaMismatch {
            dataset: name.to_owned(),
            detail: detail.to_owned(),
        };
        let sources = cast(batch.column(0), &DataType::Utf8).map_err(arrow)?;
        let sources = sources
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| not("`source` is not text"))?;
        let offsets = batch
            .column(1)
            .as_any()
            .downcast_ref::<UInt64Array>()
            .ok_or_else(|| not("`offset` is not UInt64"))?;
        for i in 0..batch.num_rows() {
            if sources.is_null(i) || offsets.is_null(i) || !source_filter(sources.value(i)) {
                continue;
            }
            let source = sources.value(i);
            match out.get_mut(source) {
                Some(set) => {
                    set.insert(offsets.value(i));
                }
                None => {
                    out.insert(source.to_owned(), HashSet::from([offsets.value(i)]));
                }
            }
        }
        Ok(())
    })?;
    Ok(out)
}

/// Every row of dataset `name` under `root` in segments whose event time reaches `since` or
/// later (all segments when `since` is `None` or a segment has no time range), in chain
/// order. A dataset that does not exist yet has no rows.
pub fn sealed_rows(root: &Path, name: &str, since: Option<i64>) -> Result<Vec<RecordBatch>> {
    let mut out = Vec::new();
    for_each_segment(root, name, since, &[], &mut |batch| {
        out.push(batch);
        Ok(())
    })?;
    Ok(out)
}

/// Reads the segments of `name` reaching `since`, only the `columns` given (all when empty,
/// in that order otherwise), handing each record batch to `f`.
fn for_each_segment(
    root: &Path,
    name: &str,
    since: Option<i64>,
    columns: &[&str],
    f: &mut dyn FnMut(RecordBatch) -> Result<()>,
) -> Result<()> {
    if !root.join(name).join("_chain.jsonl").exists() {
        return Ok(());
    }
    let chain = ChainLog::read(root, name)?;
    for entry in &chain.entries {
        if let (Some(since), Some(max)) = (since, entry.ts_max)
            && max < since
        {
            continue;
        }
        let path = root.join(name).join(&entry.file);
        let parquet = |source| DatasetError::Parquet {
            dataset: name.to_owned(),
            seq: entry.seq,
            file: entry.file.clone(),
            source,
        };
        let file = File::open(&path).map_err(|source| DatasetError::Io {
            dataset: name.to_owned(),
            path: path.clone(),
            source,
        })?;
        let mut builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(parquet)?;
        if !columns.is_empty() {
            let schema = builder.parquet_schema();
            let wanted: Vec<usize> = columns
                .iter()
                .filter_map(|c| schema.columns().iter().position(|d| d.name() == *c))
                .collect();
            if wanted.len() != columns.len() {
                return Err(DatasetError::SchemaMismatch {
                    dataset: name.to_owned(),
                    detail: format!(
                        "segment {} lacks one of the columns {columns:?}",
                        entry.file
                    ),
                });
            }
            let mask = ProjectionMask::leaves(schema, wanted);
            builder = builder.with_projection(mask);
        }
        for batch in builder.build().map_err(parquet)? {
            f(batch.map_err(|e| parquet(e.into()))?)?;
        }
    }
    Ok(())
}
