//! # msec-connectors
//!
//! Where readings come from. A connector turns an outside stream into the engine's
//! [`SourceBatch`](msec_engine::source::SourceBatch)es — validated readings in a columnar
//! [`ReadingBatch`](msec_engine::ReadingBatch), rejected records as
//! [`DeadLetter`](msec_engine::DeadLetter)s with their reason, and the source's watermark —
//! and pushes them through a bounded channel, so a slow dataflow slows the source down.
//!
//! | module | owns |
//! | --- | --- |
//! | [`alert_out`] | [`JsonLinesAlertSink`]: live alerts as JSON lines on stdout or in a file |
//! | [`csv`] | [`CsvSource`]: delimited logs (`,` `;` tab, optional header and quoting) mapped onto readings by a [`CsvMapping`] (TOML), with local-time zones |
//! | [`frames`] | [`FramesSource`]: LoRaWAN uplink frames (Helium NDJSON, Elsys EMS payloads: decoded or raw TLV) of one or more files merged by event time, re-delivered and repeated frames dead-lettered as `duplicate` |
//! | [`jsonl`] | [`JsonlSource`]: JSON-lines files (`.gz`, stdin), a fast flat-JSON scanner, validation into readings or dead letters |
//! | [`simulator`] | [`simulate`], [`SimulatorSource`]: a deterministic simulation of the Santander and Fujisawa pilots, with bounded disorder, bad records and injected home incidents ([`SimulatorManifest`]) |
//! | [`error`] | [`ConnectorError`]: whose fault, retryable or not |
//!
//! Both sources share one reader and one validator, so a simulated run fed through
//! [`SimulatorSource`] gives exactly what [`JsonlSource`] gives on the file [`simulate`]
//! wrote.
//!
//! ```
//! use msec_connectors::{JsonlSource, SimulatorConfig, simulate};
//! use msec_engine::{Interner, config::PipelineConfig, source::{Source, batch_channel}};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("city.jsonl");
//! let sim = SimulatorConfig { hours: 0.25, bad_rate: 0.01, ..SimulatorConfig::default() };
//! let manifest = simulate(&sim, &mut std::io::BufWriter::new(std::fs::File::create(&path)?))?;
//!
//! let cfg = PipelineConfig::default();
//! let source = JsonlSource::open(&path, Interner::shared(), &cfg)?;
//! let (tx, rx) = batch_channel(source.name(), cfg.channel_capacity);
//! let reader = std::thread::spawn(move || source.run(&tx));
//! let readings: usize = rx.iter().map(|batch| batch.readings.len()).sum();
//! let summary = reader.join().expect("source thread")?;
//!
//! assert_eq!(readings as u64, manifest.readings);
//! assert_eq!(summary.dead_lettered(), manifest.bad.values().sum::<u64>());
//! # Ok(()) }
//! ```

pub mod alert_out;
pub mod csv;
pub mod error;
pub mod frames;
pub mod jsonl;
mod pending;
pub mod simulator;
mod validate;

pub use alert_out::JsonLinesAlertSink;
pub use csv::{CsvMapping, CsvSource};
pub use error::{ConnectorError, Fault, Result};
pub use frames::FramesSource;
pub use jsonl::JsonlSource;
pub use simulator::{
    Incident, IncidentKind, SimulatorConfig, SimulatorManifest, SimulatorSource, simulate,
};
