//! Delimited-log file source: rows of a `,` / `;` / tab separated file mapped onto canonical
//! readings (DESIGN §4) through a [`CsvMapping`].
//!
//! ```text
//! 2017-01-16T17:50:17.385;MotionD_T;1        (long layout: time, channel, value)
//! ts,temp,hum                                (wide layout: one reading per value column)
//! 1500000000000,21.5,40
//! date,hour,year,107 Quay Street,...         (wide, time in two columns, hour ranges,
//! 2024-01-01,6:00-6:59,2024,78.0,...          fixed positions per channel)
//! ```
//!
//! The mapping syntax, with the options for time split over columns (`columns`,
//! `range_start`, `day_start`) and fixed device positions (`lat` / `lon` of a channel), is
//! documented in [`mapping`]; `docs/mappings/` holds mappings of real logs (HomeAssist home
//! events, the Auckland pedestrian counts).
//!
//! This module owns reading such files (`*.gz` gunzipped, `-` = stdin), the header row,
//! and batching; submodules own the rest:
//!
//! | module | owns |
//! | --- | --- |
//! | `mapping` | [`CsvMapping`] (serde/TOML) and its validation into column indices |
//! | `time` | the time formats (one column or several joined, hour ranges, business days) and the zones ([`Zone`]: `Europe/Madrid`, `Asia/Tokyo`, `Pacific/Auckland`, fixed offsets) |
//! | `row` | splitting a line into fields with optional `"` quoting |
//! | `decode` | the checks, in order, that make a row readings or dead letters |
//! | `pump` | the line reader and the batcher |
//!
//! * **Provenance:** the source name is the path as given; offsets are 1-based line numbers
//!   (the header is line 1 when there is one); `ingest_ts` is the wall clock at batch start.
//! * **Batches:** at most `batch_rows` readings and at most `batch_rows` dead letters each
//!   (a wide row is never split, so a wide layout with more value columns than `batch_rows`
//!   can exceed it by one row); `records` counts non-blank rows (not the header).
//! * **Time:** event times are checked against a [`WatermarkTracker`] with
//!   `cfg.lateness_ms`, exactly as in the JSON-lines source; see `decode` for the order of
//!   checks and `time` for DST handling.
//! * **Speed:** one reused line buffer, one reused field buffer, channels looked up by
//!   `&str`, device ids interned once per channel: no allocation per valid row.
//!
//! [`WatermarkTracker`]: msec_engine::time::WatermarkTracker

pub(crate) mod decode;
pub mod mapping;
pub(crate) mod pump;
pub(crate) mod row;
pub mod time;

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use msec_engine::Interner;
use msec_engine::config::PipelineConfig;
use msec_engine::intern::InternCache;
use msec_engine::source::{BatchSender, Source, SourceSummary};

use self::decode::Decoder;
pub use self::mapping::{
    Channel, Column, CsvMapping, DeviceInfo, Layout, TimeColumn, TimeFormatName, WideColumn,
};
use self::pump::{LineReader, Pump};
pub use self::time::{TimeFormat, Zone};
use crate::error::{ConnectorError, Result};
use crate::file::open_file;

/// A source reading a delimited text file through a [`CsvMapping`].
///
/// ```no_run
/// use std::path::Path;
/// use msec_connectors::{CsvMapping, CsvSource};
/// use msec_engine::{Interner, config::PipelineConfig, source::{Source, batch_channel}};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let cfg = PipelineConfig::default();
/// let mapping = CsvMapping::from_toml_file(Path::new("docs/mappings/homeassist_home1.toml"))?;
/// let source = CsvSource::open(Path::new("Home1_2017.csv"), mapping, Interner::shared(), &cfg)?;
/// let (tx, rx) = batch_channel(source.name(), cfg.channel_capacity);
/// let reader = std::thread::spawn(move || source.run(&tx));
/// let readings: usize = rx.iter().map(|b| b.readings.len()).sum();
/// let summary = reader.join().expect("source thread")?;
/// assert_eq!(summary.readings as usize, readings);
/// # Ok(()) }
/// ```
pub struct CsvSource {
    name: String,
    total_bytes: Option<u64>,
    pump: Pump,
}

impl std::fmt::Debug for CsvSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvSource")
            .field("name", &self.name)
            .field("total_bytes", &self.total_bytes)
            .finish()
    }
}

impl CsvSource {
    /// Opens `path` (`-` for stdin; a name ending in `.gz` is gunzipped) and, when the
    /// mapping has `header = true`, reads the header and resolves column names. Fails with
    /// [`ConnectorError::Config`] on an invalid mapping or a column name not in the header.
    pub fn open(
        path: &Path,
        mapping: CsvMapping,
        interner: Arc<Interner>,
        cfg: &PipelineConfig,
    ) -> Result<Self> {
        let _open_err = |source| ConnectorError::Open {
            path: path.to_owned(),
            source,
        };
        let (input, total_bytes): (Box<dyn Read + Send>, Option<u64>) = if path.as_os_str() == "-" {
            (Box::new(std::io::stdin()), None)
        } else {
            let f = open_file(path)?;
            (f.reader, f.size)
        };
        // Validate what needs no input first, so a bad mapping fails before any read.
        let delimiter = mapping.compile(None, false)?.delimiter;
        let mut reader = LineReader::new(input);
        let mut header_bytes = 0;
        let mut header = None;
        if mapping.header {
            loop {
                let line = reader.next_line().map_err(|source| ConnectorError::Read {
                    path: path.to_owned(),
                    line: reader.line_no + 1,
                    offset: header_bytes,
                    source,
                })?;
                let Some(line) = line else { break };
                header_bytes += line.bytes;
                if !reader.blank() {
                    header = Decoder::split_header(&reader.line, delimiter, mapping.quote);
                    if header.is_none() {
                        return Err(ConnectorError::Config {
                            what: "csv mapping",
                            detail: format!(
                                "{}: the header row is not valid UTF-8 or has a bad quote",
                                path.display()
                            ),
                        });
                    }
                    break;
                }
            }
        }
        let compiled = mapping.compile(header.as_ref(), true)?;
        let name = path.display().to_string();
        let source: Arc<str> = Arc::from(name.as_str());
        let source_id = interner.intern(&source);
        let decoder = Decoder::new(
            source,
            compiled,
            InternCache::new(interner),
            cfg.lateness_ms,
            cfg.max_future_ms,
        );
        Ok(Self {
            name,
            total_bytes,
            pump: Pump {
                path: path.to_owned(),
                reader,
                decoder,
                source_id,
                batch_rows: cfg.batch_rows.max(1),
                header_bytes,
                progress: None,
            },
        })
    }

    /// Calls `f` with the number of input bytes consumed so far, at most once per batch
    /// (after it is sent). For gzip input these are decompressed bytes.
    pub fn with_progress(mut self, f: Box<dyn FnMut(u64) + Send>) -> Self {
        self.pump.progress = Some(f);
        self
    }

    /// The input's size in bytes, for a progress bar: `None` for stdin, gzip and non-regular
    /// files.
    pub fn total_bytes(&self) -> Option<u64> {
        self.total_bytes
    }
}

impl Source for CsvSource {
    type Error = ConnectorError;

    fn name(&self) -> &str {
        &self.name
    }

    /// Reads the whole input. Fails on an I/O error (after sending the rows before it) or
    /// when the channel closes early ([`ConnectorError::Downstream`]).
    fn run(self, out: &BatchSender) -> Result<SourceSummary> {
        crate::pending::run_traced(&self.name, || self.pump.run(out))
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
