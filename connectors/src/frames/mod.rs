//! LoRaWAN uplink-frame source: Helium/CampusIoT NDJSON logs of Elsys EMS sensors, such as
//! the Tour Perret frames of `../shared/datasets/grenoble_tourperret` (one JSON object per
//! line, `.ndjson` or gzipped `.ndjson.gz`).
//!
//! ```text
//! {"name":"ELSYS_EMS_B1C1_PERRET_SOO","dev_eui":"A81758FFFE04B1C1","fcnt":71,"port":5,
//!  "payload":"AQBGAlMDOw/9Bw4gCwAAAAANAA8AEgA=","reported_at":1672867882173,
//!  "decoded":{"payload":{"temperature":7,"humidity":83,"x":59,"y":15,"z":-3,"vdd":3616,…},"status":"success"},
//!  "_devLocation":{"latitude":45.18402099609375,"longitude":5.7403564453125,…},"hotspots":[…],…}
//! ```
//!
//! Each frame becomes up to three readings of device `perret-<DEV_EUI>` (the EUI in upper
//! case; the prefix is [`FramesSource::with_device_prefix`]), all at the frame's event time
//! and position:
//!
//! | frame field | fate |
//! | --- | --- |
//! | `reported_at` (epoch ms) | event time; `_timestamp` (archive time, ~0.5 s later) when absent |
//! | `_devLocation.latitude`/`longitude` | `lat`/`lon` of every reading (a geohash-6 cell centre) |
//! | `temperature` (°C) | `temperature` |
//! | `humidity` (% RH) | `humidity` |
//! | `x`, `y`, `z` (counts, 63 = 1 g) | one `accel` reading: the magnitude √(x²+y²+z²)/63 in g (≈ 1 g at rest); the axes themselves are not kept, since three `accel` readings of one device at one time would be duplicates downstream; no reading unless all three are there |
//! | `vdd` (mV) | skipped: the lithium cell's voltage is flat until it is nearly empty, so no honest % exists for `battery` |
//! | `accMotion` (movements since the last frame, saturating at 255) | skipped: no count kind (`motion` is 0/1 presence) |
//! | `waterleak`, `digital`, `pulseAbs` | skipped: no kind fits (and nothing is wired to them: always 0) |
//! | `dev_eui`, `fcnt`, `payload` | the duplicate key; `payload` is also the measurement when `decoded` has none |
//! | `name`, `devaddr`, `port`, `hotspots`, `raw_packet`, `metadata`, … | not read (`port` is quoted in details) |
//!
//! The measurements come from `decoded.payload` when the network decoded the frame, else from
//! the raw base64 `payload` itself, Elsys TLV (module `elsys`): 13,716 frames of the second
//! Perret file have `"decoded":{"status":"error"}` and only the raw bytes.
//!
//! * **Several files, one source** ([`FramesSource::open_many`], or a directory): the inputs
//!   are merged by event time (each file is in time order; ties go to the file listed first),
//!   so a later file that overlaps an earlier one is not `late`, and one duplicate check spans
//!   them all: a frame present in two files is kept once, the other copy is `duplicate`.
//!   Reading the files one after the other instead would make every frame of the second file
//!   that precedes the first file's end `late`.
//! * **Checks**, in order, and the duplicate memory (bounded: [`RECENT`] frames per device):
//!   see module `decode`.
//! * **Provenance:** readings and dead letters name the file they come from (the path as
//!   given) and its 1-based line number; `ingest_ts` is the wall clock when the batch began.
//! * **Inputs** are files only (no stdin: merging needs every input's next frame at hand).
//! * **Batches:** at most `batch_rows` readings and `batch_rows` dead letters; `records`
//!   counts frames (non-blank lines), `bytes` decompressed bytes.

pub(crate) mod decode;
pub(crate) mod elsys;
pub(crate) mod input;
pub(crate) mod measure;
pub(crate) mod pump;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use msec_engine::Interner;
use msec_engine::config::PipelineConfig;
use msec_engine::intern::InternCache;
use msec_engine::source::{BatchSender, Source, SourceSummary};

use self::decode::FrameDecoder;
pub use self::decode::RECENT;
use self::input::Input;
pub use self::measure::COUNTS_PER_G;
use self::pump::Pump;
use crate::error::{ConnectorError, Result};

/// The default device name prefix: devices are `perret-<DEV_EUI>`.
pub const DEFAULT_DEVICE_PREFIX: &str = "perret-";

/// A source reading LoRaWAN uplink frames (Elsys EMS over Helium) from one or more NDJSON
/// files, merged by event time.
///
/// ```no_run
/// use std::path::Path;
/// use msec_connectors::FramesSource;
/// use msec_engine::{Interner, config::PipelineConfig, source::{Source, batch_channel}};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let cfg = PipelineConfig::default();
/// let dir = Path::new("../shared/datasets/grenoble_tourperret");
/// let source = FramesSource::open(dir, Interner::shared(), &cfg)?; // both .ndjson.gz files
/// let (tx, rx) = batch_channel(source.name(), cfg.channel_capacity);
/// let reader = std::thread::spawn(move || source.run(&tx));
/// let readings: usize = rx.iter().map(|b| b.readings.len()).sum();
/// let summary = reader.join().expect("source thread")?;
/// assert_eq!(summary.readings as usize, readings);
/// # Ok(()) }
/// ```
pub struct FramesSource {
    name: String,
    paths: Vec<PathBuf>,
    total_bytes: Option<u64>,
    pump: Pump,
}

impl std::fmt::Debug for FramesSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FramesSource")
            .field("paths", &self.paths)
            .field("total_bytes", &self.total_bytes)
            .finish()
    }
}

impl FramesSource {
    /// Opens one file, or every `*.ndjson` / `*.ndjson.gz` file of a directory (in name
    /// order). A name ending in `.gz` is gunzipped.
    pub fn open(path: &Path, interner: Arc<Interner>, cfg: &PipelineConfig) -> Result<Self> {
        Self::open_many(&[path], interner, cfg)
    }

    /// Opens several files (or directories, as in [`open`](Self::open)) read as one source,
    /// merged by event time. The files are opened now, so a missing one fails here. Fails
    /// with [`ConnectorError::Open`] when there is no file at all.
    pub fn open_many<P: AsRef<Path>>(
        paths: &[P],
        interner: Arc<Interner>,
        cfg: &PipelineConfig,
    ) -> Result<Self> {
        let mut files = Vec::new();
        for p in paths {
            expand(p.as_ref(), &mut files)?;
        }
        if files.is_empty() {
            return Err(ConnectorError::Open {
                path: paths
                    .first()
                    .map_or_else(PathBuf::new, |p| p.as_ref().to_owned()),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no .ndjson or .ndjson.gz file",
                ),
            });
        }
        let mut inputs = Vec::with_capacity(files.len());
        let mut total = Some(0u64);
        for f in &files {
            let id = interner.intern(&f.display().to_string());
            let (input, size) = Input::open(f, id)?;
            total = total.zip(size).map(|(a, b)| a + b);
            inputs.push(input);
        }
        let name = files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(" + ");
        let sources = inputs.iter().map(|i| Arc::clone(&i.source)).collect();
        let decoder = FrameDecoder::new(
            InternCache::new(interner),
            DEFAULT_DEVICE_PREFIX.to_owned(),
            sources,
            cfg.lateness_ms,
            cfg.max_future_ms,
        );
        Ok(Self {
            name: name.clone(),
            paths: files,
            total_bytes: total,
            pump: Pump {
                name,
                inputs,
                decoder,
                batch_rows: cfg.batch_rows.max(1),
                progress: None,
            },
        })
    }

    /// Names devices `prefix` + `DEV_EUI` instead of `perret-` + `DEV_EUI`.
    pub fn with_device_prefix(mut self, prefix: &str) -> Self {
        self.pump.decoder.set_prefix(prefix.to_owned());
        self
    }

    /// Calls `f` with the number of input bytes consumed so far, at most once per batch
    /// (after it is sent). For gzip input these are decompressed bytes.
    pub fn with_progress(mut self, f: Box<dyn FnMut(u64) + Send>) -> Self {
        self.pump.progress = Some(f);
        self
    }

    /// The inputs' total size in bytes, for a progress bar: `None` when one is gzipped or
    /// not a regular file.
    pub fn total_bytes(&self) -> Option<u64> {
        self.total_bytes
    }

    /// The files read, in the order given (directories expanded).
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }
}

/// Appends `path`, or a directory's `*.ndjson` and `*.ndjson.gz` files in name order.
fn expand(path: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    if !path.is_dir() {
        out.push(path.to_owned());
        return Ok(());
    }
    let open_err = |source| ConnectorError::Open {
        path: path.to_owned(),
        source,
    };
    let mut found = Vec::new();
    for entry in std::fs::read_dir(path).map_err(open_err)? {
        let p = entry.map_err(open_err)?.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if p.is_file() && (name.ends_with(".ndjson") || name.ends_with(".ndjson.gz")) {
            found.push(p);
        }
    }
    found.sort();
    out.extend(found);
    Ok(())
}

impl Source for FramesSource {
    type Error = ConnectorError;

    fn name(&self) -> &str {
        &self.name
    }

    /// Reads every input. Fails on an I/O error (after sending the batches before it) or
    /// when the channel closes early ([`ConnectorError::Downstream`]).
    fn run(self, out: &BatchSender) -> Result<SourceSummary> {
        crate::pending::run_traced(&self.name, || self.pump.run(out))
    }
}

#[cfg(test)]
mod tests;
