//! JSON-lines file source: one canonical reading (DESIGN §4) per line.
//!
//! ```text
//! {"device":"llamas-env-03","sensor":"co2","ts":1600070400123,"value":412.5,"lat":43.4721,"lon":-3.8012}
//! ```
//!
//! This module owns reading files (`-` = stdin, read as plain text; `*.gz` is gunzipped
//! transparently, multi-member streams included), validating each line into a [`ReadingBatch`](msec_engine::ReadingBatch)
//! or a [`DeadLetter`](msec_engine::DeadLetter), and batching both into
//! [`SourceBatch`](msec_engine::source::SourceBatch)es.
//!
//! * **Provenance:** the source name is the path as given; a reading's `offset` and a dead
//!   letter's `offset` are the 1-based line number; `ingest_ts` is the wall clock when the
//!   batch was started.
//! * **Batches:** at most `batch_rows` readings (and at most `batch_rows` dead letters) each;
//!   `records` counts the non-blank lines consumed, `bytes` all bytes (for gzip input: the
//!   decompressed bytes). Batch boundaries never change which records are accepted.
//! * **Blank lines** (only whitespace) are skipped: not readings, not dead letters, not
//!   counted in `records`, but they do advance the line number.
//! * **Validation** and its order of checks: see the `decode` module. Unknown keys (`battery`, `rssi`,
//!   `unit`, `household`, `room`, …) are accepted and ignored. A *duplicate* `device`,
//!   `sensor`, `ts`, `value`, `lat` or `lon` key is rejected as `parse` (no "last wins").
//! * **Speed:** 4 MiB blocks, `memchr` line splitting, a hand-written scanner (module `scan`) that
//!   borrows from the block, devices interned through an
//!   [`InternCache`](msec_engine::intern::InternCache): no allocation per valid record.

pub(crate) mod decode;
pub(crate) mod pump;
pub(crate) mod report;
pub(crate) mod scan;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use msec_engine::Interner;
use msec_engine::config::PipelineConfig;
use msec_engine::intern::InternCache;
use msec_engine::source::{BatchSender, Source, SourceSummary};

use self::decode::Decoder;
use self::pump::{BLOCK, Pump};
use crate::error::{ConnectorError, Result};
use crate::file::open_file;

/// A source reading canonical readings from a JSON-lines file, a `.gz` file or stdin.
///
/// ```no_run
/// use std::path::Path;
/// use msec_connectors::JsonlSource;
/// use msec_engine::{Interner, config::PipelineConfig, source::{Source, batch_channel}};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let cfg = PipelineConfig::default();
/// let source = JsonlSource::open(Path::new("readings.jsonl.gz"), Interner::shared(), &cfg)?;
/// let (tx, rx) = batch_channel(source.name(), cfg.channel_capacity);
/// let reader = std::thread::spawn(move || source.run(&tx));
/// let readings: usize = rx.iter().map(|b| b.readings.len()).sum();
/// let summary = reader.join().expect("source thread")?;
/// assert_eq!(summary.readings as usize, readings);
/// # Ok(()) }
/// ```
pub struct JsonlSource {
    name: String,
    total_bytes: Option<u64>,
    pump: Pump<Box<dyn Read + Send>>,
}

impl std::fmt::Debug for JsonlSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonlSource")
            .field("name", &self.name)
            .field("total_bytes", &self.total_bytes)
            .finish()
    }
}

impl JsonlSource {
    /// Opens `path` (`-` for stdin; a name ending in `.gz` is gunzipped). The file is opened
    /// now, so a missing file fails here rather than on the source thread.
    pub fn open(path: &Path, interner: Arc<Interner>, cfg: &PipelineConfig) -> Result<Self> {
        let (input, total_bytes, live): (Box<dyn Read + Send>, Option<u64>, bool) =
            if path.as_os_str() == "-" {
                (Box::new(std::io::stdin()), None, true)
            } else {
                // A FIFO or character device behaves like a live stream.
                let f = open_file(path)?;
                (f.reader, f.size, f.live)
            };
        let pump = new_pump(path.to_owned(), input, live, &interner, cfg);
        Ok(Self {
            name: path.display().to_string(),
            total_bytes,
            pump,
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

/// A pump over `input` for the source `name`, configured from `cfg`.
pub(crate) fn new_pump<R: Read>(
    name: PathBuf,
    input: R,
    live: bool,
    interner: &Arc<Interner>,
    cfg: &PipelineConfig,
) -> Pump<R> {
    let source: Arc<str> = Arc::from(name.display().to_string());
    let source_id = interner.intern(&source);
    let decoder = Decoder::new(
        source,
        InternCache::new(Arc::clone(interner)),
        cfg.lateness_ms,
        cfg.max_future_ms,
    );
    Pump {
        path: name,
        input,
        decoder,
        source_id,
        batch_rows: cfg.batch_rows.max(1),
        block: BLOCK,
        live,
        progress: None,
    }
}

impl Source for JsonlSource {
    type Error = ConnectorError;

    fn name(&self) -> &str {
        &self.name
    }

    /// Reads the whole input. Fails on an I/O error (after sending the batches before it) or
    /// when the channel closes early ([`ConnectorError::Downstream`]).
    fn run(self, out: &BatchSender) -> Result<SourceSummary> {
        let name = self.name;
        let pump = self.pump;
        crate::pending::run_traced(&name, || pump.run(out).map(|(summary, _input)| summary))
    }
}
