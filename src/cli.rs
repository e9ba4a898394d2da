//! Command-line contract (other tools and checks rely on it; see the README).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// msec — stream processing for smart-city data.
#[derive(Debug, Parser)]
#[command(name = "msec", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process; boxing buys nothing
pub enum Command {
    /// Write the city simulator's stream as canonical JSON lines.
    Simulate(SimulateArgs),
    /// Run the pipeline over a file, stdin or the built-in simulator.
    Run(RunArgs),
    /// Verify every dataset's hash chain and the catalog.
    Verify(DataArgs),
    /// Run a SQL query over the datasets.
    Sql(SqlArgs),
    /// List active and recent home-activity alerts from the `alerts` dataset.
    Alerts(AlertsArgs),
    /// Print the latest 5V window (volume, velocity, variety, veracity, value) per source.
    Fivev(SqlFormatArgs),
    /// Draw a dataset as a PNG map or GeoJSON (`msec render heatmap`).
    Render(RenderArgs),
}

/// Simulator options shared by `simulate` and `run` without `--input`.
#[derive(Debug, Clone, Args)]
pub struct SimOptions {
    /// Seed of the deterministic simulator.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Households of elderly people living alone.
    #[arg(long)]
    pub households: Option<usize>,
    /// Simulated hours.
    #[arg(long)]
    pub hours: Option<f64>,
    /// Park environment devices (crowd counters: half as many).
    #[arg(long)]
    pub devices: Option<usize>,
    /// Garbage trucks in Fujisawa.
    #[arg(long)]
    pub trucks: Option<usize>,
    /// Scale the park and truck reporting intervals to about this many readings per simulated
    /// second overall (0 keeps the natural intervals; default 100).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Bounded disorder of the emitted stream, in ms.
    #[arg(long)]
    pub disorder_ms: Option<u64>,
    /// Fraction of malformed and out-of-range records.
    #[arg(long)]
    pub bad_rate: Option<f64>,
    /// Expected injected home incidents per household per simulated day (default 0.5).
    #[arg(long)]
    pub incident_rate: Option<f64>,
    /// Citizens posting photo reports in Fujisawa (default 0).
    #[arg(long)]
    pub reporters: Option<usize>,
    /// Reports per citizen per active hour (default 6).
    #[arg(long)]
    pub report_rate: Option<f64>,
    /// `msec run` only: feed the pipeline at this many records per wall-clock second, in
    /// batches of at most 1 ms, as a live source would (default: as fast as it goes).
    #[arg(long, value_name = "READINGS_PER_SEC")]
    pub pace: Option<f64>,
}

/// `msec simulate`.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Output file (`-` for stdout). A manifest of what was injected is written beside it
    /// as `<FILE>.manifest.json`.
    #[arg(long)]
    pub out: PathBuf,
    /// Simulator options.
    #[command(flatten)]
    pub sim: SimOptions,
}

/// `msec run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Canonical JSON-lines readings (`.jsonl`, `.jsonl.gz`, or `-` for stdin); with
    /// `--mapping`, a delimited log (CSV, TSV, …). Without it the built-in simulator runs.
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Field mapping (TOML) that reads `--input` as a delimited log, e.g.
    /// `docs/mappings/homeassist_home1.toml`.
    #[arg(long, requires = "input")]
    pub mapping: Option<PathBuf>,
    /// Datasets directory.
    #[arg(long, default_value = "./data")]
    pub data: PathBuf,
    /// Timely worker threads.
    #[arg(long)]
    pub workers: Option<usize>,
    /// Configuration (TOML): `[pipeline]` settings, the `[alerts]` rules (docs/ALERTS.md),
    /// `[heatmap]`, `[veracity]`, the `[source]` (simulator, file, mqtt, kafka) and the
    /// `[[alert_sinks]]` (stdout, file, mqtt, kafka) — see docs/CONNECTORS.md.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Allowed lateness in ms.
    #[arg(long)]
    pub lateness_ms: Option<u64>,
    /// Rows per sealed segment.
    #[arg(long)]
    pub segment_rows: Option<usize>,
    /// Readings per source batch.
    #[arg(long)]
    pub batch_rows: Option<usize>,
    /// Tumbling window length of `agg_1m` in ms.
    #[arg(long)]
    pub window_ms: Option<u64>,
    /// Live alert output: `stdout`, `none`, or a file to append JSON lines to (overrides
    /// `[alerts] output` in `--config`; default `none`).
    #[arg(long)]
    pub alerts_out: Option<String>,
    /// Serve Prometheus metrics (text format) on this address, e.g. `127.0.0.1:9898`:
    /// records in/out/dead-lettered per source and operator, consumer lag, watermark delay.
    #[arg(long)]
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Simulator options (used without `--input`).
    #[command(flatten)]
    pub sim: SimOptions,
}

/// A command that only needs the datasets directory.
#[derive(Debug, Args)]
pub struct DataArgs {
    /// Datasets directory.
    #[arg(long, default_value = "./data")]
    pub data: PathBuf,
}

/// `msec sql`.
#[derive(Debug, Args)]
pub struct SqlArgs {
    /// Datasets directory.
    #[arg(long, default_value = "./data")]
    pub data: PathBuf,
    /// Output format: table, csv, json or parquet.
    #[arg(long, default_value = "table")]
    pub format: String,
    /// The query.
    pub query: String,
}

/// `msec alerts`.
#[derive(Debug, Args)]
pub struct AlertsArgs {
    /// Datasets directory.
    #[arg(long, default_value = "./data")]
    pub data: PathBuf,
    /// How many of the most recent alert records to list.
    #[arg(long, default_value_t = 20)]
    pub recent: usize,
    /// Only this household.
    #[arg(long)]
    pub household: Option<String>,
    /// Output format: table, csv or json.
    #[arg(long, default_value = "table")]
    pub format: String,
}

/// `msec render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// What to draw.
    #[command(subcommand)]
    pub what: RenderWhat,
}

/// What `msec render` draws.
#[derive(Debug, Subcommand)]
pub enum RenderWhat {
    /// One metric's cells of the `heatmap` dataset in one window.
    Heatmap(RenderHeatmapArgs),
}

/// `msec render heatmap`.
#[derive(Debug, Args)]
pub struct RenderHeatmapArgs {
    /// Datasets directory.
    #[arg(long, default_value = "./data")]
    pub data: PathBuf,
    /// The metric, e.g. `crowd` (coloured by `sum` for crowd and reports, `avg` otherwise).
    #[arg(long)]
    pub metric: String,
    /// The window: an RFC 3339 time, epoch ms, or `latest` (the metric's last window).
    #[arg(long, default_value = "latest")]
    pub window: String,
    /// The grid, e.g. `deg0.001` or `h3r9`; needed when the window has several.
    #[arg(long)]
    pub grid: Option<String>,
    /// Output file (`-` for stdout).
    #[arg(long)]
    pub out: PathBuf,
    /// png or geojson (default: geojson for a `.geojson`/`.json` output, png otherwise).
    #[arg(long)]
    pub format: Option<String>,
}

/// A command that queries the datasets and prints a table.
#[derive(Debug, Args)]
pub struct SqlFormatArgs {
    /// Datasets directory.
    #[arg(long, default_value = "./data")]
    pub data: PathBuf,
    /// Output format: table, csv or json.
    #[arg(long, default_value = "table")]
    pub format: String,
}
