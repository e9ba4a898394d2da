//! What `msec run` sets up before the dataflow starts: the datasets it writes and their
//! sinks, the configuration sections (`[pipeline]`, `[alerts]`, `[heatmap]`, `[veracity]`),
//! the input source, the live alert output, and the alerts an earlier run already delivered.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use msec_connectors::{CsvSource, FramesSource, JsonLinesAlertSink, JsonlSource, SimulatorSource};
use msec_datasets::{DatasetSpec, DatasetWriter, WriterOptions};
use msec_engine::alert::AlertSink;
use msec_engine::arrow::array::{Array, StringArray};
use msec_engine::arrow::compute::cast;
use msec_engine::arrow::datatypes::DataType;
use msec_engine::config::PipelineConfig;
use msec_engine::dead_letter::dead_letter_schema;
use msec_engine::reading::readings_schema;
use msec_engine::report::reports_schema;
use msec_engine::sink::{SinkHandle, spawn_sink};
use msec_operators::fivev::fivev_schema;
use msec_operators::heatmap::{HeatmapConfig, heatmap_schema};
use msec_operators::veracity::{VeracityConfig, veracity_flags_schema};
use msec_operators::{AlertConfig, agg_schema, alerts_schema, delivered_key, kpi_schema};

use crate::cli::RunArgs;

/// The datasets a run writes, with their catalog descriptions.
pub fn dataset_specs() -> Vec<DatasetSpec> {
    let spec = |name: &str, description: &str, time_column: &str| {
        let mut s = DatasetSpec::new(name);
        s.pilot = "all".into();
        s.description = description.into();
        s.personal = true;
        s.time_column = Some(time_column.into());
        s
    };
    vec![
        spec(
            "readings",
            "validated sensor readings with provenance (source, offset)",
            "ts",
        ),
        spec(
            "reports",
            "citizens' photo reports (Pilot 4) with their reporter: personal, never published as is",
            "ts",
        ),
        spec(
            "agg_1m",
            "per device and sensor, tumbling event-time windows: count, min, max, avg",
            "window_start",
        ),
        {
            let mut s = spec(
                "heatmap",
                "per metric (crowd, pm25, temperature, noise, co2, citizen reports, smile), grid cell and window: count, sum, avg, max; report cells with fewer than k distinct reporters suppressed",
                "window_start",
            );
            s.personal = false;
            s
        },
        spec(
            "alerts",
            "home-activity alerts: one raised and one resolved record per episode",
            "decision_ts",
        ),
        spec(
            "kpi_latency",
            "per source and device, per window: delivery latency, inter-arrival time and alert latency (count, p50, p95, p99, max)",
            "window_start",
        ),
        {
            let mut s = spec(
                "fivev",
                "per source and window: volume, velocity, variety, veracity, value (the pilots' 5Vs)",
                "window_start",
            );
            s.personal = false;
            s
        },
        spec(
            "veracity_flags",
            "removed duplicate copies and stuck-sensor runs, one row each",
            "ts",
        ),
        spec(
            "dead_letter",
            "rejected records with raw bytes, source position and reason",
            "ts",
        ),
    ]
}

/// Resolves the pipeline configuration: defaults → `--config` → environment → flags.
pub(crate) fn pipeline_config(args: &RunArgs) -> anyhow::Result<PipelineConfig> {
    let mut cfg = match &args.config {
        Some(path) => PipelineConfig::from_file(path)?,
        None => PipelineConfig::default(),
    };
    cfg.apply_env()?;
    if let Some(v) = args.workers {
        cfg.workers = v;
    }
    if let Some(v) = args.lateness_ms {
        cfg.lateness_ms = v;
    }
    if let Some(v) = args.segment_rows {
        cfg.segment_rows = v;
    }
    if let Some(v) = args.batch_rows {
        cfg.batch_rows = v;
    }
    if let Some(v) = args.window_ms {
        cfg.window_ms = v;
    }
    cfg.validate()?;
    Ok(cfg)
}

/// Reads the `[alerts]` rules from `--config` (defaults without it).
pub(crate) fn alert_config(args: &RunArgs) -> anyhow::Result<AlertConfig> {
    match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading configuration {}", path.display()))?;
            AlertConfig::from_toml_str(&text)
                .with_context(|| format!("configuration {}", path.display()))
        }
        None => Ok(AlertConfig::default()),
    }
}

/// Whether `--input` names LoRaWAN frames: an `.ndjson` / `.ndjson.gz` file or a folder.
pub(crate) fn is_frames_input(path: &Path) -> bool {
    let name = path.to_string_lossy();
    path.is_dir() || name.ends_with(".ndjson") || name.ends_with(".ndjson.gz")
}

/// Reads `[veracity]` from `--config` (defaults without it).
pub(crate) fn veracity_config(args: &RunArgs) -> anyhow::Result<VeracityConfig> {
    match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading configuration {}", path.display()))?;
            VeracityConfig::from_toml_str(&text)
                .with_context(|| format!("configuration {}", path.display()))
        }
        None => Ok(VeracityConfig::default()),
    }
}

/// Reads `[heatmap]` from `--config` (defaults without it).
pub(crate) fn heatmap_config(args: &RunArgs) -> anyhow::Result<HeatmapConfig> {
    let cfg = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading configuration {}", path.display()))?;
            HeatmapConfig::from_toml_str(&text)
                .with_context(|| format!("configuration {}", path.display()))?
        }
        None => HeatmapConfig::default(),
    };
    cfg.validate()?;
    Ok(cfg)
}

/// Opens the live alert output: `--alerts-out`, else `[alerts] output`, else none.
pub(crate) fn live_alert_output(
    args: &RunArgs,
    alerts: &AlertConfig,
) -> anyhow::Result<Option<Box<dyn AlertSink>>> {
    let chosen = args.alerts_out.as_deref().or(alerts.output.as_deref());
    Ok(match chosen {
        None | Some("none") => None,
        Some("stdout" | "-") => Some(Box::new(JsonLinesAlertSink::stdout())),
        Some(path) => Some(Box::new(
            JsonLinesAlertSink::file(Path::new(path))
                .with_context(|| format!("opening the live alert output {path}"))?,
        )),
    })
}

/// The `alert_id/kind` of every record already in the `alerts` dataset under `data`, so
/// that a run over readings an earlier run saw delivers no alert twice.
pub(crate) fn delivered_alerts(data: &Path) -> anyhow::Result<HashSet<String>> {
    let mut delivered = HashSet::new();
    if !data.join("alerts").join("_chain.jsonl").exists() {
        return Ok(delivered);
    }
    let runtime = msec_engine::runtime::async_runtime(1)?;
    let batches = runtime
        .block_on(async {
            let ctx = msec_queries::open_context(data).await?;
            msec_queries::run_sql(&ctx, "SELECT alert_id, kind FROM alerts").await
        })
        .with_context(|| format!("reading the alerts already in {}", data.display()))?;
    for batch in &batches {
        // Strings may come back as views: read them as plain UTF-8.
        let text = |i: usize| cast(batch.column(i), &DataType::Utf8);
        let (ids, kinds) = (text(0)?, text(1)?);
        let (Some(ids), Some(kinds)) = (
            ids.as_any().downcast_ref::<StringArray>(),
            kinds.as_any().downcast_ref::<StringArray>(),
        ) else {
            bail!(
                "the alerts dataset in {} has an unexpected schema",
                data.display()
            );
        };
        for i in 0..batch.num_rows() {
            delivered.insert(delivered_key(ids.value(i), kinds.value(i)));
        }
    }
    Ok(delivered)
}

pub(crate) type SinkJoin = msec_engine::sink::SinkJoin<DatasetWriter>;

/// The input of a run.
pub(crate) enum InputSource {
    /// A JSON-lines file or stdin.
    Jsonl(Box<JsonlSource>),
    /// A delimited log read through a field mapping.
    Csv(Box<CsvSource>),
    /// The built-in city simulator.
    Simulator(Box<SimulatorSource>),
    /// LoRaWAN uplink frames (`.ndjson[.gz]` files, or a folder of them).
    Frames(Box<FramesSource>),
}

pub(crate) fn open_sink(
    data: &Path,
    spec: &DatasetSpec,
    cfg: &PipelineConfig,
) -> anyhow::Result<(SinkHandle, SinkJoin)> {
    let schema = match spec.name.as_str() {
        "readings" => readings_schema(),
        "reports" => reports_schema(),
        "agg_1m" => agg_schema(),
        "alerts" => alerts_schema(),
        "heatmap" => heatmap_schema(),
        "fivev" => fivev_schema(),
        "veracity_flags" => veracity_flags_schema(),
        "kpi_latency" => kpi_schema(),
        "dead_letter" => dead_letter_schema(),
        other => bail!("no schema for dataset {other}"),
    };
    let opts = WriterOptions {
        segment_rows: cfg.segment_rows,
        max_segment_age: (cfg.segment_max_age_ms > 0)
            .then(|| Duration::from_millis(cfg.segment_max_age_ms)),
        ..WriterOptions::default()
    };
    let writer = DatasetWriter::open(data, spec.clone(), schema, opts)
        .with_context(|| format!("opening dataset {}", spec.name))?;
    Ok(spawn_sink(&spec.name, writer, cfg.channel_capacity)?)
}
