//! A deterministic city simulator: the default source of msec, and its test oracle.
//!
//! It simulates the M-Sec pilots' devices (see each model's docs):
//!
//! | module | devices |
//! | --- | --- |
//! | `park` | Las Llamas park, Santander: `llamas-env-NN` (temperature, humidity, co2, voc, noise) and `llamas-crowd-NN` (crowd) |
//! | `home` | homes of elderly people living alone, Santander: motion per room, entrance door, bed, smart plugs, batteries, with routines and injected incidents |
//! | `trucks` | garbage trucks of Fujisawa: `fujisawa-truck-NN` (pm25, temperature, humidity) with GPS |
//!
//! and writes canonical JSON lines (DESIGN §4) with bounded disorder and, on request, bad
//! records (`emit`). It owns the run's [`SimulatorManifest`]: what was written, the bad
//! records per dead-letter reason, and the injected [`Incident`]s — the oracle the alert
//! rules are tested against.
//!
//! **Determinism:** the same [`SimulatorConfig`] gives byte-identical output on every
//! platform: one PRNG stream per purpose and device (`rng`), no floating-point function
//! from the platform's `libm`, no wall clock, no hash-map iteration.
//!
//! **Memory** is bounded by one time slice plus the disorder buffer (`generator`), so
//! runs of tens of millions of readings stream in constant memory.
//!
//! ```
//! use msec_connectors::{SimulatorConfig, simulate};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let cfg = SimulatorConfig { hours: 0.1, bad_rate: 0.01, ..SimulatorConfig::default() };
//! let mut out = Vec::new();
//! let manifest = simulate(&cfg, &mut out)?;
//! assert_eq!(manifest.records as usize, out.iter().filter(|&&b| b == b'\n').count());
//! assert_eq!(manifest.records, manifest.readings + manifest.bad.values().sum::<u64>());
//! # Ok(()) }
//! ```

pub(crate) mod clock;
mod config;
pub(crate) mod emit;
pub(crate) mod generator;
pub(crate) mod home;
mod pace;
pub(crate) mod park;
pub(crate) mod reports;
pub(crate) mod rng;
pub(crate) mod trucks;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use msec_engine::Interner;
use msec_engine::config::PipelineConfig;
use msec_engine::source::{BatchSender, Source, SourceSummary};
use serde::{Deserialize, Serialize};

pub use self::config::SimulatorConfig;
use self::generator::{GenReader, Generator};
use self::pace::Pacer;
use crate::error::{ConnectorError, Result};
use crate::jsonl::new_pump;
use crate::jsonl::pump::Pump;

/// The kinds of home incidents the simulator injects, named after the alert rules that
/// should catch them (DESIGN §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentKind {
    /// At night the bed empties and is not occupied again for 40–90 min.
    BedExitNoReturn,
    /// During the day no motion in any room for 4.5–5.5 h.
    Inactivity,
    /// The entrance door opens at night (01:00–05:05 local time).
    DoorOpenNight,
    /// A device sends one last report, then nothing for 45–120 min.
    DeviceSilent,
    /// A device reports a battery level of 5–14 %.
    LowBattery,
}

impl IncidentKind {
    /// The stable name (as serialized).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::BedExitNoReturn => "bed_exit_no_return",
            Self::Inactivity => "inactivity",
            Self::DoorOpenNight => "door_open_night",
            Self::DeviceSilent => "device_silent",
            Self::LowBattery => "low_battery",
        }
    }

    /// How long after `start_ts` the condition is complete (the alert rule's threshold):
    /// an incident is listed only if `start_ts + threshold_ms <= end of the run`.
    pub const fn threshold_ms(self) -> i64 {
        match self {
            Self::BedExitNoReturn | Self::DeviceSilent => 30 * clock::MINUTE,
            Self::Inactivity => 4 * clock::HOUR,
            Self::DoorOpenNight | Self::LowBattery => 0,
        }
    }
}

impl std::fmt::Display for IncidentKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One injected incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    /// The household, `home-NNN`.
    pub household: String,
    /// What happened.
    pub kind: IncidentKind,
    /// Event time of the evidence reading, epoch ms: the bed becoming empty, the last
    /// motion before the inactivity, the door opening, the silent device's last report, the
    /// low battery report. That reading is always written as a valid record.
    pub start_ts: i64,
    /// The device whose reading is the evidence.
    pub device: String,
}

/// What a simulation wrote. Serializes to JSON (the binary writes it next to the output).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimulatorManifest {
    /// Lines written (valid readings plus bad records).
    pub records: u64,
    /// Valid readings written.
    pub readings: u64,
    /// Citizen reports written (not counted in `readings`).
    #[serde(default)]
    pub reports: u64,
    /// Bad records per dead-letter reason ([`DeadLetterReason::as_str`](msec_engine::DeadLetterReason::as_str));
    /// reasons with no record are left out.
    pub bad: BTreeMap<String, u64>,
    /// Injected incidents that are complete within the run, by start time.
    pub incidents: Vec<Incident>,
}

/// Runs the simulation described by `cfg`, writing JSON lines to `out` as it goes (wrap a
/// file in a `BufWriter` or not: writes are whole slices). Returns the manifest.
pub fn simulate(cfg: &SimulatorConfig, out: &mut dyn std::io::Write) -> Result<SimulatorManifest> {
    let mut generator = Generator::new(cfg)?;
    let mut buf = Vec::with_capacity(8 << 20);
    let mut written: u64 = 0;
    let write_err = |offset, source| ConnectorError::Write {
        target: "simulator output".into(),
        offset,
        source,
    };
    while generator.next_chunk(&mut buf) {
        out.write_all(&buf).map_err(|e| write_err(written, e))?;
        written += buf.len() as u64;
        buf.clear();
    }
    out.flush().map_err(|e| write_err(written, e))?;
    Ok(generator.manifest())
}

/// The simulator as a [`Source`] named `simulator`: the same lines as [`simulate`], parsed
/// and validated by the JSON-lines path, so both agree exactly.
pub struct SimulatorSource {
    pump: Pump<GenReader>,
}

impl std::fmt::Debug for SimulatorSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimulatorSource").finish_non_exhaustive()
    }
}

impl SimulatorSource {
    /// The source name, used for provenance.
    pub const NAME: &'static str = "simulator";

    /// A source simulating `cfg`, batching and validating per `pipeline`; paced to
    /// [`SimulatorConfig::pace`] records per wall-clock second when set.
    pub fn new(
        cfg: &SimulatorConfig,
        interner: Arc<Interner>,
        pipeline: &PipelineConfig,
    ) -> Result<Self> {
        let mut reader = GenReader::new(Generator::new(cfg)?);
        if let Some(rate) = cfg.pace {
            reader = reader.paced(Pacer::new(rate, pipeline.batch_rows));
        }
        Ok(Self {
            pump: new_pump(
                PathBuf::from(Self::NAME),
                reader,
                // Paced, each read is one batch: flush it as it comes.
                cfg.pace.is_some(),
                &interner,
                pipeline,
            ),
        })
    }

    /// Calls `f` with the number of JSON bytes generated so far, at most once per batch.
    pub fn with_progress(mut self, f: Box<dyn FnMut(u64) + Send>) -> Self {
        self.pump.progress = Some(f);
        self
    }

    /// Like [`Source::run`], and also returns the simulation's manifest.
    pub fn run_with_manifest(
        self,
        out: &BatchSender,
    ) -> Result<(SourceSummary, SimulatorManifest)> {
        let span = tracing::info_span!("source", name = Self::NAME);
        let _enter = span.enter();
        let (summary, reader) = self.pump.run(out)?;
        Ok((summary, reader.generator.manifest()))
    }
}

impl Source for SimulatorSource {
    type Error = ConnectorError;

    fn name(&self) -> &str {
        Self::NAME
    }

    fn run(self, out: &BatchSender) -> Result<SourceSummary> {
        self.run_with_manifest(out).map(|(summary, _)| summary)
    }
}
