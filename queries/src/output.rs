//! Printing query results: an aligned table, CSV with a header row, JSON lines, or Parquet.

use std::io::Write;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::parquet::arrow::ArrowWriter;

use crate::error::{QueryError, Result};

/// How to print results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// An aligned text table.
    Table,
    /// CSV with a header row.
    Csv,
    /// One JSON object per row.
    Json,
    /// A Parquet file (binary).
    Parquet,
}

impl std::str::FromStr for OutputFormat {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "table" => Ok(Self::Table),
            "csv" => Ok(Self::Csv),
            "json" => Ok(Self::Json),
            "parquet" => Ok(Self::Parquet),
            other => Err(format!(
                "unknown format {other:?} (table, csv, json, parquet)"
            )),
        }
    }
}

/// Writes `batches` to `out` in `format`.
pub fn write_results(
    batches: &[RecordBatch],
    format: OutputFormat,
    out: &mut dyn Write,
) -> Result<()> {
    let io = |e: std::io::Error| QueryError::Output(e.to_string());
    let arrow = |e: datafusion::arrow::error::ArrowError| QueryError::Output(e.to_string());
    match format {
        OutputFormat::Table => {
            writeln!(out, "{}", pretty_format_batches(batches).map_err(arrow)?).map_err(io)?;
        }
        OutputFormat::Csv => {
            let mut w = datafusion::arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut *out);
            for b in batches {
                w.write(b).map_err(arrow)?;
            }
        }
        OutputFormat::Json => {
            let mut w = datafusion::arrow::json::LineDelimitedWriter::new(&mut *out);
            for b in batches {
                w.write(b).map_err(arrow)?;
            }
            w.finish().map_err(arrow)?;
        }
        OutputFormat::Parquet => {
            let Some(first) = batches.first() else {
                return Err(QueryError::Output(
                    "no result batches to write as Parquet".into(),
                ));
            };
            let mut buf = Vec::new();
            let mut w = ArrowWriter::try_new(&mut buf, first.schema(), None)
                .map_err(|e| QueryError::Output(e.to_string()))?;
            for b in batches {
                w.write(b).map_err(|e| QueryError::Output(e.to_string()))?;
            }
            w.close().map_err(|e| QueryError::Output(e.to_string()))?;
            out.write_all(&buf).map_err(io)?;
        }
    }
    out.flush().map_err(io)
}
