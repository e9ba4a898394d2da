//! The heat map's parameters ([`HeatmapConfig`]) with the defaults of DESIGN §6: a 0.001°
//! degree grid, 5-minute tumbling windows, the sensor kinds crowd, pm25, temperature, noise
//! and co2, and k = 5 distinct reporters for cells derived from citizens' reports.

use msec_engine::SensorKind;

use super::grid::HeatmapGrid;
use crate::error::{OperatorError, Result};

/// The default window length: 5 minutes.
pub const DEFAULT_WINDOW_MS: u64 = 300_000;

/// The default k of k-anonymity: a report-derived cell needs 5 distinct reporters.
pub const DEFAULT_K: usize = 5;

/// The sensor kinds mapped by default.
pub const DEFAULT_METRICS: [SensorKind; 5] = [
    SensorKind::Crowd,
    SensorKind::Pm25,
    SensorKind::Temperature,
    SensorKind::Noise,
    SensorKind::Co2,
];

/// Parameters of one heat-map operator instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeatmapConfig {
    /// The grid (one per instance). Default: 0.001° degrees.
    pub grid: HeatmapGrid,
    /// Tumbling window length, ms. Default [`DEFAULT_WINDOW_MS`].
    pub window_ms: u64,
    /// Sensor kinds mapped from readings (each once). Default [`DEFAULT_METRICS`]. The
    /// report metrics `reports` and `smile` are always computed from the report input.
    pub metrics: Vec<SensorKind>,
    /// Distinct reporters a cell needs, per window, before its report-derived rows are
    /// published (≥ 1). Default [`DEFAULT_K`].
    pub k: usize,
}

impl Default for HeatmapConfig {
    fn default() -> Self {
        Self {
            grid: HeatmapGrid::default(),
            window_ms: DEFAULT_WINDOW_MS,
            metrics: DEFAULT_METRICS.to_vec(),
            k: DEFAULT_K,
        }
    }
}

/// `[heatmap]` in the configuration file.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct HeatmapToml {
    grid: Option<String>,
    window_ms: Option<u64>,
    metrics: Option<Vec<String>>,
    k: Option<usize>,
}

impl HeatmapConfig {
    /// Reads the `[heatmap]` table of a TOML document (`grid = "deg0.001"` or `"h3r9"`,
    /// `window_ms`, `metrics = ["crowd", …]`, `k`); absent keys keep the defaults.
    pub fn from_toml_str(text: &str) -> Result<Self> {
        let invalid = |message: String| OperatorError::InvalidParameter {
            operator: "heatmap",
            message,
        };
        let doc: toml::Table = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let t: HeatmapToml = match doc.get("heatmap") {
            Some(v) => v
                .clone()
                .try_into()
                .map_err(|e| invalid(format!("[heatmap]: {e}")))?,
            None => HeatmapToml::default(),
        };
        let mut cfg = Self::default();
        if let Some(g) = t.grid {
            cfg.grid = g.parse().map_err(|_| {
                invalid(format!(
                    "grid {g:?} is neither deg<size> nor h3r<resolution>"
                ))
            })?;
        }
        if let Some(w) = t.window_ms {
            cfg.window_ms = w;
        }
        if let Some(k) = t.k {
            cfg.k = k;
        }
        if let Some(names) = t.metrics {
            cfg.metrics = names
                .iter()
                .map(|n| {
                    SensorKind::from_name(n)
                        .ok_or_else(|| invalid(format!("unknown sensor kind {n:?} in metrics")))
                })
                .collect::<Result<_>>()?;
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks every parameter; a user error names the one at fault.
    pub fn validate(&self) -> Result<()> {
        let invalid = |message: String| OperatorError::InvalidParameter {
            operator: "heatmap",
            message,
        };
        self.grid.validate()?;
        if self.window_ms == 0 || i64::try_from(self.window_ms).is_err() {
            return Err(invalid(format!(
                "window length {} ms must be positive and fit in i64",
                self.window_ms
            )));
        }
        if self.k == 0 {
            return Err(invalid("k must be at least 1".to_owned()));
        }
        for (i, kind) in self.metrics.iter().enumerate() {
            if self.metrics[..i].contains(kind) {
                return Err(invalid(format!("sensor kind {kind} is listed twice")));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_heatmap_table() {
        let c = HeatmapConfig::from_toml_str(
            "[heatmap]\ngrid = \"h3r8\"\nwindow_ms = 60000\nk = 3\nmetrics = [\"pm25\"]\n",
        )
        .expect("valid");
        assert_eq!(c.grid, HeatmapGrid::h3(8).expect("h3"));
        assert_eq!((c.window_ms, c.k), (60_000, 3));
        assert_eq!(c.metrics, vec![SensorKind::Pm25]);
        assert_eq!(
            HeatmapConfig::from_toml_str("").expect("defaults"),
            HeatmapConfig::default()
        );
        for bad in [
            "[heatmap]\ngrid = \"hex\"\n",
            "[heatmap]\nk = 0\n",
            "[heatmap]\nmetrics = [\"smell\"]\n",
            "[heatmap]\nsize = 1\n",
        ] {
            assert!(HeatmapConfig::from_toml_str(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn defaults_validate_and_bad_values_do_not() {
        assert!(HeatmapConfig::default().validate().is_ok());
        let bad = [
            HeatmapConfig {
                k: 0,
                ..HeatmapConfig::default()
            },
            HeatmapConfig {
                window_ms: 0,
                ..HeatmapConfig::default()
            },
            HeatmapConfig {
                metrics: vec![SensorKind::Co2, SensorKind::Co2],
                ..HeatmapConfig::default()
            },
            HeatmapConfig {
                grid: HeatmapGrid::H3 { resolution: 16 },
                ..HeatmapConfig::default()
            },
            HeatmapConfig {
                grid: HeatmapGrid::Degrees { scale: 0 },
                ..HeatmapConfig::default()
            },
        ];
        for config in bad {
            assert!(config.validate().is_err(), "{config:?}");
        }
    }
}
