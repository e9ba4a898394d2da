//! Typed pipeline configuration with its defaults in one place.
//!
//! Precedence: defaults → TOML file (`--config`) → environment (`MSEC_*`) → command line.
//! Every field is documented with its default.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};

/// Settings of a `msec run`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PipelineConfig {
    /// Allowed lateness in ms (default 5 000): records more than this behind the largest event
    /// time seen are `late`.
    pub lateness_ms: u64,
    /// Length of the `agg_1m` tumbling windows in ms (default 60 000), aligned to the epoch.
    pub window_ms: u64,
    /// Granularity of timely timestamps in ms (default 1 000): watermarks are coarsened down
    /// to it so that progress tracking stays cheap.
    pub watermark_granularity_ms: u64,
    /// Readings per batch produced by sources (default 16 384).
    pub batch_rows: usize,
    /// Rows per sealed Parquet segment (default 1 000 000).
    pub segment_rows: usize,
    /// Also seal a segment once it has been open this long, in ms (default 0 = only by
    /// size and at the end of input). Checked whenever a batch arrives.
    pub segment_max_age_ms: u64,
    /// Batches buffered between a source or sink thread and the dataflow (default 8).
    pub channel_capacity: usize,
    /// Event times more than this ahead of the wall clock are rejected as `future_ts`
    /// (default 86 400 000 = 1 day).
    pub max_future_ms: u64,
    /// Number of timely worker threads (default 1).
    pub workers: usize,
    /// Length of the `kpi_latency` windows in ms (default 60 000). Longer windows write fewer
    /// rows for sparse devices (a home device reports every ~10 min), but each window close
    /// is a burst on the worker that delays alerts queued behind it: with 5 000 households,
    /// 1 h windows put the alert-latency p99 at 33 ms, 1 min windows at 4 ms.
    pub kpi_window_ms: u64,
    /// The pilots' data-frequency target in ms (default 25 000): `kpi_latency` counts the
    /// inter-arrival gaps above it.
    pub kpi_target_gap_ms: u64,
    /// A live source (stdin, a broker) silent this long, in ms, no longer holds event time
    /// back (default 10 000): the dataflow's time then advances with the wall clock, so
    /// a silent house still raises `device_silent`. 0 disables it. Bounded inputs (files,
    /// the simulator) never idle: their end is not the passing of time.
    pub idle_timeout_ms: u64,
    /// How often a run reading a broker (MQTT, Kafka) takes a checkpoint, in ms (default
    /// 1 000): seals every dataset, then commits the source positions the seal covers. Shorter
    /// means earlier acknowledgements and smaller segments.
    pub checkpoint_interval_ms: u64,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            lateness_ms: 5_000,
            window_ms: 60_000,
            watermark_granularity_ms: 1_000,
            batch_rows: 16_384,
            segment_rows: 1_000_000,
            segment_max_age_ms: 0,
            channel_capacity: 8,
            max_future_ms: 86_400_000,
            kpi_window_ms: 60_000,
            kpi_target_gap_ms: 25_000,
            idle_timeout_ms: 10_000,
            checkpoint_interval_ms: 1_000,
            workers: 1,
        }
    }
}

impl PipelineConfig {
    /// Defaults overlaid with a TOML file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| EngineError::ConfigFile {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        Self::from_toml(&text).map_err(|e| EngineError::ConfigFile {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }

    /// Defaults overlaid with TOML text (a `[pipeline]` table or top-level keys). Other
    /// tables (`[alerts]`, …) belong to other components and are left to them.
    pub fn from_toml(text: &str) -> Result<Self> {
        #[derive(Deserialize)]
        struct File {
            pipeline: PipelineConfig,
        }
        let mut value: toml_value::Table = text
            .parse()
            .map_err(|e| EngineError::Config(format!("{e}")))?;
        // Keep `[pipeline]` and top-level keys; tables and arrays of tables (`[[alert_sinks]]`)
        // belong to other components.
        value.retain(|key, v| {
            key == "pipeline"
                || !(v.is_table()
                    || v.as_array()
                        .is_some_and(|a| !a.is_empty() && a.iter().all(|x| x.is_table())))
        });
        let cfg = if value.contains_key("pipeline") {
            toml_value::from_table::<File>(value)?.pipeline
        } else {
            toml_value::from_table::<PipelineConfig>(value)?
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// Overlays `MSEC_<FIELD>` environment variables (e.g. `MSEC_LATENESS_MS=10000`).
    pub fn apply_env(&mut self) -> Result<()> {
        fn var<T: std::str::FromStr>(name: &str, slot: &mut T) -> Result<()> {
            if let Ok(v) = std::env::var(name) {
                *slot = v.trim().parse().map_err(|_| {
                    EngineError::Config(format!("{name}={v:?} is not a valid value"))
                })?;
            }
            Ok(())
        }
        var("MSEC_LATENESS_MS", &mut self.lateness_ms)?;
        var("MSEC_WINDOW_MS", &mut self.window_ms)?;
        var(
            "MSEC_WATERMARK_GRANULARITY_MS",
            &mut self.watermark_granularity_ms,
        )?;
        var("MSEC_BATCH_ROWS", &mut self.batch_rows)?;
        var("MSEC_SEGMENT_ROWS", &mut self.segment_rows)?;
        var("MSEC_SEGMENT_MAX_AGE_MS", &mut self.segment_max_age_ms)?;
        var("MSEC_CHANNEL_CAPACITY", &mut self.channel_capacity)?;
        var("MSEC_MAX_FUTURE_MS", &mut self.max_future_ms)?;
        var("MSEC_WORKERS", &mut self.workers)?;
        var("MSEC_KPI_WINDOW_MS", &mut self.kpi_window_ms)?;
        var("MSEC_KPI_TARGET_GAP_MS", &mut self.kpi_target_gap_ms)?;
        var("MSEC_IDLE_TIMEOUT_MS", &mut self.idle_timeout_ms)?;
        var(
            "MSEC_CHECKPOINT_INTERVAL_MS",
            &mut self.checkpoint_interval_ms,
        )?;
        self.validate()
    }

    /// Checks the values make sense.
    pub fn validate(&self) -> Result<()> {
        let positive = [
            ("window_ms", self.window_ms as usize),
            (
                "watermark_granularity_ms",
                self.watermark_granularity_ms as usize,
            ),
            ("batch_rows", self.batch_rows),
            ("segment_rows", self.segment_rows),
            ("channel_capacity", self.channel_capacity),
            ("workers", self.workers),
            ("kpi_window_ms", self.kpi_window_ms as usize),
            ("kpi_target_gap_ms", self.kpi_target_gap_ms as usize),
        ];
        for (name, v) in positive {
            if v == 0 {
                return Err(EngineError::Config(format!("{name} must be positive")));
            }
        }
        Ok(())
    }
}

/// A tiny bridge to the `toml` crate, kept private to this module.
mod toml_value {
    pub use toml::Table;

    pub fn from_table<T: serde::de::DeserializeOwned>(table: Table) -> crate::Result<T> {
        T::deserialize(table).map_err(|e| crate::EngineError::Config(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_overrides_defaults_and_rejects_unknown_keys() {
        let cfg = PipelineConfig::from_toml("[pipeline]\nlateness_ms = 10000\n").expect("valid");
        assert_eq!(cfg.lateness_ms, 10_000);
        assert_eq!(cfg.window_ms, 60_000);
        let flat = PipelineConfig::from_toml("window_ms = 300000").expect("valid");
        assert_eq!(flat.window_ms, 300_000);
        assert!(PipelineConfig::from_toml("latenes_ms = 1").is_err());
        let mixed = PipelineConfig::from_toml("lateness_ms = 7\n[alerts]\nx = 1\n").expect("valid");
        assert_eq!(mixed.lateness_ms, 7);
        assert!(PipelineConfig::from_toml("workers = 0").is_err());
        let with_sinks = PipelineConfig::from_toml(
            "lateness_ms = 8\n[source]\nkind = \"mqtt\"\n[[alert_sinks]]\nkind = \"stdout\"\n",
        )
        .expect("valid");
        assert_eq!(with_sinks.lateness_ms, 8);
    }
}
