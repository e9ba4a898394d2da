//! Integration tests of the sources: the simulator's guarantees, and the JSON-lines source
//! checked against the simulator's manifest and against from-scratch recomputations; the
//! CSV source on small files and on the real HomeAssist log through its shipped mapping; the
//! LoRaWAN frames source on the real Tour Perret files; the Auckland pedestrian counts through
//! their shipped wide mapping.

mod agreement;
mod akl;
mod csv;
mod frames;
mod homeassist;
mod simulation;
mod sox;

use std::path::{Path, PathBuf};

use msec_connectors::{JsonlSource, SimulatorConfig, SimulatorManifest, simulate};
use msec_engine::config::PipelineConfig;
use msec_engine::source::{Source, SourceBatch, SourceSummary, batch_channel};
use msec_engine::{DeadLetterReason, Interner};

/// 2026-03-02T00:00:00Z.
pub const T0: i64 = 1_772_409_600_000;

/// Writes a simulation to `dir/name`; returns its path and manifest.
pub fn sim_file(dir: &Path, name: &str, cfg: &SimulatorConfig) -> (PathBuf, SimulatorManifest) {
    let path = dir.join(name);
    let file = std::fs::File::create(&path).expect("create");
    let manifest = simulate(cfg, &mut std::io::BufWriter::new(file)).expect("simulate");
    (path, manifest)
}

/// Runs any source to the end on its own thread; returns its summary and batches.
pub fn drain<S: Source + 'static>(
    source: S,
    cfg: &PipelineConfig,
) -> (SourceSummary, Vec<SourceBatch>) {
    let (tx, rx) = batch_channel(source.name(), cfg.channel_capacity);
    let handle = std::thread::spawn(move || source.run(&tx));
    let batches: Vec<SourceBatch> = rx.iter().collect();
    let summary = handle.join().expect("source thread").expect("source run");
    (summary, batches)
}

/// Reads a JSON-lines file with `cfg`.
pub fn read_file(
    path: &Path,
    cfg: &PipelineConfig,
) -> (SourceSummary, Vec<SourceBatch>, std::sync::Arc<Interner>) {
    let interner = Interner::shared();
    let source = JsonlSource::open(path, std::sync::Arc::clone(&interner), cfg).expect("open");
    let (summary, batches) = drain(source, cfg);
    (summary, batches, interner)
}

/// A reading with ids resolved and floats as bits: comparable across runs and interners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Device name.
    pub device: String,
    /// Sensor name.
    pub sensor: &'static str,
    /// Event time.
    pub ts: i64,
    /// Value, as bits.
    pub value: u64,
    /// Latitude, as bits (NaN when absent).
    pub lat: u64,
    /// Longitude, as bits (NaN when absent).
    pub lon: u64,
    /// Line number.
    pub offset: u64,
}

/// Every reading of `batches`, in order.
pub fn rows(batches: &[SourceBatch], interner: &Interner) -> Vec<Row> {
    let mut out = Vec::new();
    for b in batches {
        let r = &b.readings;
        for i in 0..r.len() {
            out.push(Row {
                device: interner
                    .name(r.device[i])
                    .map(|n| n.to_string())
                    .unwrap_or_default(),
                sensor: r.sensor[i].name(),
                ts: r.ts[i],
                value: r.value[i].to_bits(),
                lat: r.lat[i].to_bits(),
                lon: r.lon[i].to_bits(),
                offset: r.offset[i],
            });
        }
    }
    out
}

/// A dead letter without its source name and ingest time: offset, reason, detail, raw, ts.
pub type DeadRow = (u64, DeadLetterReason, String, Vec<u8>, Option<i64>);

/// Every dead letter of `batches`, in order.
pub fn dead(batches: &[SourceBatch]) -> Vec<DeadRow> {
    batches
        .iter()
        .flat_map(|b| b.dead_letters.iter())
        .map(|d| (d.offset, d.reason, d.detail.clone(), d.raw.clone(), d.ts))
        .collect()
}

/// The manifest's bad counts keyed like a [`SourceSummary`].
pub fn bad_by_reason(m: &SimulatorManifest) -> std::collections::BTreeMap<DeadLetterReason, u64> {
    m.bad
        .iter()
        .map(|(name, n)| {
            let reason = DeadLetterReason::ALL
                .iter()
                .find(|r| r.as_str() == name)
                .copied()
                .expect("known reason");
            (reason, *n)
        })
        .collect()
}
