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
//! | [`sox`] | [`SoxSource`]: SOX XML documents (Pilot 3, Fujisawa garbage trucks), files or folders merged by event time; the decoder the brokers share |
//! | [`broker`] | what MQTT and Kafka share: payload formats (JSON, SOX), topic layouts, per-partition decoding with position marks |
//! | [`mqtt`] | `MqttSource` (QoS 1, persistent session, acknowledged once sealed) and `MqttAlertSink` (feature `mqtt`) |
//! | [`kafka`] | `KafkaSource` (consumer group, offsets committed once sealed) and `KafkaAlertSink` (feature `kafka`) |
//! | [`config`] | [`SourceConfig`], [`AlertSinkConfig`]: the serde-tagged `[source]` and `[[alert_sinks]]` of a pipeline file |
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
// Without a broker client, the shared broker decoding has no user but its tests.
#[cfg_attr(not(any(feature = "kafka", feature = "mqtt")), allow(dead_code))]
pub mod broker;
pub mod config;
pub mod csv;
pub mod error;
mod file;
pub mod frames;
pub mod jsonl;
#[cfg(feature = "kafka")]
pub mod kafka;
#[cfg(feature = "mqtt")]
pub mod mqtt;
mod pending;
pub mod simulator;
pub mod sox;
mod validate;

pub use alert_out::JsonLinesAlertSink;
pub use broker::{PayloadFormat, TopicLayout};
pub use config::{AlertSinkConfig, KafkaSourceConfig, MqttSourceConfig, SourceConfig};
pub use csv::{CsvMapping, CsvSource};
pub use error::{ConnectorError, Fault, Result};
pub use frames::FramesSource;
pub use jsonl::JsonlSource;
#[cfg(feature = "kafka")]
pub use kafka::{KafkaSource, alerts::KafkaAlertSink};
#[cfg(feature = "mqtt")]
pub use mqtt::{MqttSource, alerts::MqttAlertSink};
pub use simulator::{
    Incident, IncidentKind, SimulatorConfig, SimulatorManifest, SimulatorSource, simulate,
};
pub use sox::SoxSource;
