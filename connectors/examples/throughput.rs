//! Measures the simulator's generation speed and the JSON-lines source's parsing speed.
//!
//! ```text
//! cargo run --release -p msec-connectors --example throughput -- [readings, default 10000000]
//! ```
//!
//! 1. simulates about `readings` readings into a temporary file (disorder 2 s, 0.1 % bad),
//!    reporting readings/s and the peak resident memory so far;
//! 2. reads the file back with [`JsonlSource`] on a thread while this thread drains the
//!    batches (the whole source path: block reads, line split, scan, validate, intern,
//!    batch, channel), reporting lines/s and MB/s.

use std::io::BufWriter;
use std::time::Instant;

use msec_connectors::{JsonlSource, SimulatorConfig, simulate};
use msec_engine::Interner;
use msec_engine::config::PipelineConfig;
use msec_engine::source::{Source, batch_channel};

/// Peak resident set size of this process in MiB (Linux), if known.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target: f64 = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(10_000_000.0);
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("city.jsonl");

    // The default city at 100 readings/s; raise the rate so one simulated hour holds `target`.
    let cfg = SimulatorConfig {
        hours: 1.0,
        rate: target / 3600.0,
        disorder_ms: 2_000,
        bad_rate: 0.001,
        ..SimulatorConfig::default()
    };
    let started = Instant::now();
    let manifest = simulate(
        &cfg,
        &mut BufWriter::with_capacity(1 << 20, std::fs::File::create(&path)?),
    )?;
    let secs = started.elapsed().as_secs_f64();
    let bytes = std::fs::metadata(&path)?.len();
    println!(
        "simulate: {} records, {:.1} MB in {secs:.2} s = {:.2} M records/s; peak RSS {:.0} MiB",
        manifest.records,
        bytes as f64 / 1e6,
        manifest.records as f64 / secs / 1e6,
        peak_rss_mib().unwrap_or(f64::NAN)
    );

    let pipeline = PipelineConfig::default();
    for round in 1..=3 {
        let source = JsonlSource::open(&path, Interner::shared(), &pipeline)?;
        let (tx, rx) = batch_channel(source.name(), pipeline.channel_capacity);
        let started = Instant::now();
        let handle = std::thread::spawn(move || source.run(&tx));
        let mut readings = 0usize;
        for batch in rx.iter() {
            readings += batch.readings.len();
        }
        let summary = handle.join().map_err(|_| "source thread panicked")??;
        let secs = started.elapsed().as_secs_f64();
        println!(
            "jsonl #{round}: {} lines ({readings} readings, {} dead letters) in {secs:.2} s = {:.2} M lines/s, {:.0} MB/s",
            summary.records,
            summary.dead_lettered(),
            summary.records as f64 / secs / 1e6,
            summary.bytes as f64 / secs / 1e6
        );
    }
    println!("peak RSS {:.0} MiB", peak_rss_mib().unwrap_or(f64::NAN));
    Ok(())
}
