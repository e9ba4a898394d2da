//! What `msec run` sets up before the dataflow starts: the datasets it writes and their
//! sinks, the configuration sections (`[pipeline]`, `[alerts]`, `[heatmap]`, `[veracity]`),
//! the input source, the live alert output, and the alerts an earlier run already delivered.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64};

use msec_connectors::{
    AlertSinkConfig, CsvMapping, CsvSource, FramesSource, JsonLinesAlertSink, JsonlSource,
    KafkaSourceConfig, MqttSourceConfig, SimulatorSource, SourceConfig, SoxSource,
};
use msec_datasets::{DatasetSpec, DatasetWriter, WriterOptions};
use msec_engine::Interner;
use msec_engine::alert::AlertSink;
use msec_engine::arrow::array::{Array, StringArray};
use msec_engine::arrow::compute::cast;
use msec_engine::arrow::datatypes::DataType;
use msec_engine::checkpoint::SkipSealed;
use msec_engine::config::PipelineConfig;
use msec_engine::dead_letter::dead_letter_schema;
use msec_engine::reading::readings_schema;
use msec_engine::report::reports_schema;
use msec_engine::sink::{SinkHandle, spawn_sink};
use msec_engine::source::{CommitReceiver, CommitSender, commit_channel};
use msec_operators::fivev::fivev_schema;
use msec_operators::heatmap::{HeatmapConfig, heatmap_schema};
use msec_operators::veracity::{VeracityConfig, veracity_flags_schema};
use msec_operators::{AlertConfig, agg_schema, alerts_schema, delivered_key, kpi_schema};

use crate::cli::RunArgs;
use crate::commands::simulator_config;
use crate::progress::Progress;

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

/// Opens the live alert outputs: `--alerts-out` (else `[alerts] output`), plus every
/// `[[alert_sinks]]` of `--config`; several are fanned out, each batch to all.
pub(crate) fn live_alert_output(
    args: &RunArgs,
    alerts: &AlertConfig,
) -> anyhow::Result<Option<Box<dyn AlertSink>>> {
    let mut outputs: Vec<Box<dyn AlertSink>> = Vec::new();
    let chosen = args.alerts_out.as_deref().or(alerts.output.as_deref());
    match chosen {
        None | Some("none") => {}
        Some("stdout" | "-") => outputs.push(Box::new(JsonLinesAlertSink::stdout())),
        Some(path) => outputs.push(Box::new(
            JsonLinesAlertSink::file(Path::new(path))
                .with_context(|| format!("opening the live alert output {path}"))?,
        )),
    }
    for sink in alert_sink_configs(args)? {
        outputs.push(open_alert_sink(&sink)?);
    }
    Ok(match outputs.len() {
        0 => None,
        1 => outputs.pop(),
        _ => Some(Box::new(FanOut(outputs))),
    })
}

/// The `[[alert_sinks]]` of `--config`.
fn alert_sink_configs(args: &RunArgs) -> anyhow::Result<Vec<AlertSinkConfig>> {
    #[derive(serde::Deserialize)]
    struct File {
        #[serde(default)]
        alert_sinks: Vec<AlertSinkConfig>,
    }
    let Some(path) = &args.config else {
        return Ok(Vec::new());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading configuration {}", path.display()))?;
    let mut table: toml::Table = text
        .parse()
        .with_context(|| format!("configuration {}", path.display()))?;
    table.retain(|k, _| k == "alert_sinks");
    let file: File = table
        .try_into()
        .with_context(|| format!("configuration {}: [[alert_sinks]]", path.display()))?;
    Ok(file.alert_sinks)
}

fn open_alert_sink(cfg: &AlertSinkConfig) -> anyhow::Result<Box<dyn AlertSink>> {
    Ok(match cfg {
        AlertSinkConfig::Stdout => Box::new(JsonLinesAlertSink::stdout()),
        AlertSinkConfig::File { path } => Box::new(
            JsonLinesAlertSink::file(path)
                .with_context(|| format!("opening the alert sink {}", path.display()))?,
        ),
        #[cfg(feature = "mqtt")]
        AlertSinkConfig::Mqtt {
            host,
            port,
            client_id,
            topic,
        } => Box::new(msec_connectors::MqttAlertSink::new(
            host, *port, client_id, topic,
        )?),
        #[cfg(feature = "kafka")]
        AlertSinkConfig::Kafka { brokers, topic } => {
            Box::new(msec_connectors::KafkaAlertSink::new(brokers, topic)?)
        }
        #[allow(unreachable_patterns)]
        other => bail!("this msec was built without the connector for the alert sink {other:?}"),
    })
}

/// Several live alert outputs: each batch goes to every one; the first failure fails.
struct FanOut(Vec<Box<dyn AlertSink>>);

impl AlertSink for FanOut {
    fn publish(
        &mut self,
        alerts: &[msec_engine::alert::AlertMessage],
    ) -> Result<(), msec_engine::alert::AlertSinkError> {
        for sink in &mut self.0 {
            sink.publish(alerts)?;
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), msec_engine::alert::AlertSinkError> {
        let mut first = Ok(());
        for sink in &mut self.0 {
            let r = sink.close();
            if first.is_ok() {
                first = r;
            }
        }
        first
    }
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

pub(crate) type SinkJoin = msec_engine::sink::SinkJoin<SkipSealed<DatasetWriter>>;

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
    /// SOX XML documents (`.xml` files, or a folder of them).
    Sox(Box<SoxSource>),
    /// An MQTT broker.
    #[cfg(feature = "mqtt")]
    Mqtt(Box<msec_connectors::MqttSource>),
    /// A Kafka cluster.
    #[cfg(feature = "kafka")]
    Kafka(Box<msec_connectors::KafkaSource>),
}

impl InputSource {
    /// The source's name (provenance, logs, checkpoint file).
    pub(crate) fn name(&self) -> &str {
        use msec_engine::source::Source;
        match self {
            InputSource::Jsonl(s) => s.name(),
            InputSource::Csv(s) => s.name(),
            InputSource::Simulator(s) => s.name(),
            InputSource::Frames(s) => s.name(),
            InputSource::Sox(s) => s.name(),
            #[cfg(feature = "mqtt")]
            InputSource::Mqtt(s) => s.name(),
            #[cfg(feature = "kafka")]
            InputSource::Kafka(s) => s.name(),
        }
    }
}

/// What a broker input needs beside its source threads: the channels their commits go
/// through, the stop flag, how many commits each applied, and which provenance names are the
/// input's own.
pub(crate) struct BrokerLinks {
    pub commits: Vec<CommitSender>,
    pub stop: Arc<AtomicBool>,
    pub applied: Vec<Arc<AtomicU64>>,
    /// Whether a provenance `source` name belongs to this input.
    pub ours: Box<dyn Fn(&str) -> bool + Send + Sync>,
    /// Consumer lag of each Kafka source thread, −1 when unknown.
    pub lag: Vec<Arc<std::sync::atomic::AtomicI64>>,
}

impl BrokerLinks {
    fn new(ours: Box<dyn Fn(&str) -> bool + Send + Sync>) -> Self {
        Self {
            commits: Vec::new(),
            stop: Arc::default(),
            applied: Vec::new(),
            ours,
            lag: Vec::new(),
        }
    }

    /// A commit channel and applied counter for one more source thread.
    fn link(&mut self) -> (CommitReceiver, Arc<AtomicU64>) {
        let (tx, rx) = commit_channel();
        let applied = Arc::<AtomicU64>::default();
        self.commits.push(tx);
        self.applied.push(Arc::clone(&applied));
        (rx, applied)
    }
}

/// The `[source]` table of `--config`, if any.
pub(crate) fn source_config(args: &RunArgs) -> anyhow::Result<Option<SourceConfig>> {
    #[derive(serde::Deserialize)]
    struct File {
        source: Option<SourceConfig>,
    }
    let Some(path) = &args.config else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading configuration {}", path.display()))?;
    let mut table: toml::Table = text
        .parse()
        .with_context(|| format!("configuration {}", path.display()))?;
    table.retain(|k, _| k == "source");
    let file: File = table
        .try_into()
        .with_context(|| format!("configuration {}: [source]", path.display()))?;
    Ok(file.source)
}

/// Opens the input named by `--input`, else by `[source]`, else the simulator. A missing or
/// unreadable input fails here, before any dataset is created or touched.
/// A broker input may have several source threads (a Kafka run reads one share of the
/// partitions per worker); every other input has one.
pub(crate) fn open_input(
    args: &RunArgs,
    interner: &Arc<Interner>,
    cfg: &PipelineConfig,
) -> anyhow::Result<(Vec<InputSource>, Option<BrokerLinks>)> {
    let declared = source_config(args)?;
    let (path, mapping) = match (&args.input, &declared) {
        (Some(path), _) => (path.clone(), args.mapping.clone()),
        (None, Some(SourceConfig::File { path, mapping })) => (path.clone(), mapping.clone()),
        (None, Some(SourceConfig::Mqtt(m))) => return open_mqtt(m, interner, cfg),
        (None, Some(SourceConfig::Kafka(k))) => return open_kafka(k, interner, cfg),
        (None, Some(SourceConfig::Simulator) | None) => {
            let source =
                SimulatorSource::new(&simulator_config(&args.sim), Arc::clone(interner), cfg)?;
            return Ok((vec![InputSource::Simulator(Box::new(source))], None));
        }
    };
    let opened = |e: msec_connectors::ConnectorError| {
        anyhow::Error::new(e).context(format!("opening input {}", path.display()))
    };
    let source = if let Some(mapping) = mapping {
        let mapping = CsvMapping::from_toml_file(&mapping)
            .with_context(|| format!("reading mapping {}", mapping.display()))?;
        let source = CsvSource::open(&path, mapping, Arc::clone(interner), cfg).map_err(opened)?;
        let mut progress = Progress::new(source.total_bytes());
        InputSource::Csv(Box::new(
            source.with_progress(Box::new(move |bytes| progress.update(bytes))),
        ))
    } else if is_sox_input(&path) {
        let source = SoxSource::open(&path, Arc::clone(interner), cfg).map_err(opened)?;
        let mut progress = Progress::new(source.total_bytes());
        InputSource::Sox(Box::new(
            source.with_progress(Box::new(move |bytes| progress.update(bytes))),
        ))
    } else if is_frames_input(&path) {
        let source =
            FramesSource::open_many(&[&path], Arc::clone(interner), cfg).map_err(opened)?;
        let mut progress = Progress::new(source.total_bytes());
        InputSource::Frames(Box::new(
            source.with_progress(Box::new(move |bytes| progress.update(bytes))),
        ))
    } else {
        let source = JsonlSource::open(&path, Arc::clone(interner), cfg).map_err(opened)?;
        let mut progress = Progress::new(source.total_bytes());
        InputSource::Jsonl(Box::new(
            source.with_progress(Box::new(move |bytes| progress.update(bytes))),
        ))
    };
    Ok((vec![source], None))
}

#[cfg(feature = "mqtt")]
fn open_mqtt(
    m: &MqttSourceConfig,
    interner: &Arc<Interner>,
    cfg: &PipelineConfig,
) -> anyhow::Result<(Vec<InputSource>, Option<BrokerLinks>)> {
    let name = m.source_name();
    let mut links = BrokerLinks::new(Box::new(move |s: &str| s == name));
    let (rx, applied) = links.link();
    // One MQTT session: one source thread, whatever the number of workers.
    let source = msec_connectors::MqttSource::new(m.clone(), Arc::clone(interner), cfg)
        .with_context(|| format!("MQTT source {}", m.broker()))?
        .with_commits(rx)
        .with_stop(Arc::clone(&links.stop))
        .with_applied(applied);
    Ok((vec![InputSource::Mqtt(Box::new(source))], Some(links)))
}

#[cfg(not(feature = "mqtt"))]
fn open_mqtt(
    _: &MqttSourceConfig,
    _: &Arc<Interner>,
    _: &PipelineConfig,
) -> anyhow::Result<(Vec<InputSource>, Option<BrokerLinks>)> {
    bail!("this msec was built without the `mqtt` feature")
}

#[cfg(feature = "kafka")]
fn open_kafka(
    k: &KafkaSourceConfig,
    interner: &Arc<Interner>,
    cfg: &PipelineConfig,
) -> anyhow::Result<(Vec<InputSource>, Option<BrokerLinks>)> {
    let prefixes: Vec<String> = k.topics.iter().map(|t| format!("kafka:{t}/")).collect();
    let mut links = BrokerLinks::new(Box::new(move |s: &str| {
        prefixes.iter().any(|p| s.starts_with(p.as_str()))
    }));
    // One consumer per worker, each reading its share of this process's partitions.
    let workers = u32::try_from(cfg.workers.max(1)).unwrap_or(1);
    let mut sources = Vec::new();
    for w in 0..workers {
        let (rx, applied) = links.link();
        let mut share = k.clone();
        share.processes = k.processes.max(1) * workers;
        share.process_index = k.process_index * workers + w;
        let source = msec_connectors::KafkaSource::new(share, Arc::clone(interner), cfg)
            .with_context(|| format!("Kafka source {}", k.brokers))?
            .with_commits(rx)
            .with_stop(Arc::clone(&links.stop))
            .with_applied(applied);
        links.lag.push(source.lag());
        sources.push(InputSource::Kafka(Box::new(source)));
    }
    Ok((sources, Some(links)))
}

#[cfg(not(feature = "kafka"))]
fn open_kafka(
    _: &KafkaSourceConfig,
    _: &Arc<Interner>,
    _: &PipelineConfig,
) -> anyhow::Result<(Vec<InputSource>, Option<BrokerLinks>)> {
    bail!("this msec was built without the `kafka` feature")
}

/// Whether `--input` names SOX XML: an `.xml` file, or a folder holding `.xml` files.
pub(crate) fn is_sox_input(path: &Path) -> bool {
    if path.is_dir() {
        return std::fs::read_dir(path).is_ok_and(|entries| {
            entries
                .flatten()
                .any(|e| e.path().extension().is_some_and(|x| x == "xml"))
        });
    }
    path.extension().is_some_and(|x| x == "xml")
}

/// How a restarted broker run skips what it already sealed: for each dataset, the frontier
/// reached, the column its rows are released by, and how long after that column's time a row
/// is released (1 ms for records, the window for windowed rows).
pub(crate) fn release_extent(
    dataset: &str,
    cfg: &PipelineConfig,
    heatmap: &HeatmapConfig,
) -> Option<i64> {
    let ms = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    Some(match dataset {
        "readings" | "reports" | "alerts" | "veracity_flags" => 1,
        "agg_1m" => ms(cfg.window_ms),
        "kpi_latency" => ms(cfg.kpi_window_ms),
        "heatmap" => ms(heatmap.window_ms),
        "fivev" => ms(msec_operators::fivev::DEFAULT_FIVEV_WINDOW_MS),
        _ => return None,
    })
}

/// Opens the writer of one dataset on its own thread. In a broker run (`checkpointed`)
/// segments are sealed at checkpoints only, and rows a run before a restart already sealed
/// (`skip`: time column, extent, frontier) are skipped.
pub(crate) fn open_sink(
    data: &Path,
    spec: &DatasetSpec,
    cfg: &PipelineConfig,
    checkpointed: bool,
    skip: Option<(i64, i64)>,
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
    let opts = if checkpointed {
        WriterOptions {
            segment_rows: usize::MAX,
            max_segment_age: None,
            ..WriterOptions::default()
        }
    } else {
        WriterOptions {
            segment_rows: cfg.segment_rows,
            max_segment_age: (cfg.segment_max_age_ms > 0)
                .then(|| Duration::from_millis(cfg.segment_max_age_ms)),
            ..WriterOptions::default()
        }
    };
    let writer = DatasetWriter::open(data, spec.clone(), schema, opts)
        .with_context(|| format!("opening dataset {}", spec.name))?;
    let column = spec.time_column.as_deref().unwrap_or("ts");
    let (extent, threshold) = skip.map_or((1, None), |(e, t)| (e, Some(t)));
    let writer = SkipSealed::new(writer, column, extent, threshold);
    Ok(spawn_sink(&spec.name, writer, cfg.channel_capacity)?)
}
