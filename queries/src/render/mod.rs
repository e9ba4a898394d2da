//! Rendering the `heatmap` dataset: one metric's cells in one window, as GeoJSON or a PNG map.
//!
//! [`load_heatmap`] queries the `heatmap` table of a session from
//! [`open_context`](crate::open_context) for a metric, a window ([`WindowSel`]: an exact
//! `window_start` or the latest one of that metric) and optionally a grid, and turns every row
//! into a [`HeatCell`] with its polygon ([`Grid`]: degree cells from `cell_x`/`cell_y` and the
//! cell size in the grid's name, H3 cells from `h3o`). [`to_geojson`] writes a FeatureCollection
//! (RFC 7946, counter-clockwise rings); [`render_png`] draws the cells with a colour scale, a
//! legend, a title and lat/lon axes, with its own rasteriser and bitmap font (no system fonts).
//!
//! The colour of a cell is its [`ValueColumn`]: `sum` for the count-like metrics `crowd` and
//! `reports` (the number of people or reports in the cell), `avg` for every other metric.
//!
//! ```no_run
//! # async fn demo() -> Result<(), msec_queries::render::RenderError> {
//! use msec_queries::render::{HeatmapRequest, PngOptions, load_heatmap, render_png};
//! let ctx = msec_queries::open_context(std::path::Path::new("./data")).await?;
//! let req = HeatmapRequest { metric: "crowd".into(), window: "latest".parse()?, grid: None };
//! let map = load_heatmap(&ctx, &req).await?;
//! std::fs::write("map.png", render_png(&map, &PngOptions::default())?.bytes).ok();
//! # Ok(()) }
//! ```

mod font;
mod geojson;
mod grid;
mod load;
mod png;
mod raster;
mod scale;

pub use geojson::to_geojson;
pub use grid::Grid;
pub use load::load_heatmap;
pub use png::{BACKGROUND, PLOT_TEXT_KEY, PngOptions, RenderedPng, render_png};
pub use scale::{colour_at, value_fraction};

/// The `png` crate this module encodes with, for readers that decode what it wrote.
pub use ::png as png_crate;

use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};

/// The dataset [`load_heatmap`] reads.
pub const HEATMAP_DATASET: &str = "heatmap";

/// Errors of rendering; all but [`Query`](RenderError::Query) and
/// [`Output`](RenderError::Output) are the user's to fix (a metric, window or grid that is not
/// there), and none is helped by retrying.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// Querying the datasets failed.
    #[error(transparent)]
    Query(#[from] crate::QueryError),
    /// The data directory has no `heatmap` dataset.
    #[error("no dataset {HEATMAP_DATASET} in the data directory (run a pipeline that writes it)")]
    NoDataset,
    /// No row of the dataset has this metric.
    #[error("dataset {HEATMAP_DATASET}: no metric {metric:?} (metrics: {known})")]
    UnknownMetric {
        /// The metric asked for.
        metric: String,
        /// The metrics present, comma-separated.
        known: String,
    },
    /// The metric has no cell at that window (or on that grid).
    #[error(
        "dataset {HEATMAP_DATASET}: nothing to draw for metric {metric:?} at window {window}{} ({available})",
        grid.as_ref().map(|g| format!(" on grid {g}")).unwrap_or_default()
    )]
    NothingToDraw {
        /// The metric.
        metric: String,
        /// The window asked for, as RFC 3339 or `latest`.
        window: String,
        /// The grid asked for, if any.
        grid: Option<String>,
        /// What the dataset does have for that metric.
        available: String,
    },
    /// The window holds cells of several grids and none was chosen.
    #[error(
        "dataset {HEATMAP_DATASET}: metric {metric:?} at window {window} has cells on several grids ({grids}); choose one with --grid"
    )]
    AmbiguousGrid {
        /// The metric.
        metric: String,
        /// The window, RFC 3339.
        window: String,
        /// The grids present, comma-separated.
        grids: String,
    },
    /// A window that is neither RFC 3339, epoch milliseconds nor `latest`.
    #[error("window {0:?}: expected an RFC 3339 time, epoch milliseconds or `latest`")]
    BadWindow(String),
    /// A grid name msec cannot draw.
    #[error("grid {grid:?}: {reason}")]
    BadGrid {
        /// The grid name.
        grid: String,
        /// Why it cannot be drawn.
        reason: String,
    },
    /// A cell that does not belong to its grid.
    #[error("grid {grid}: cell {cell:?}: {reason}")]
    BadCell {
        /// The grid name.
        grid: String,
        /// The cell id.
        cell: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Encoding or writing the output failed.
    #[error("rendering output: {0}")]
    Output(String),
}

/// Which window to draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowSel {
    /// The largest `window_start` of the metric (on the grid, when one is chosen).
    Latest,
    /// The window starting at this time, epoch milliseconds.
    At(i64),
}

impl FromStr for WindowSel {
    type Err = RenderError;
    /// `latest`, epoch milliseconds (`1600070400000`) or RFC 3339 (`2020-09-14T08:00:00Z`).
    fn from_str(s: &str) -> Result<Self, RenderError> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("latest") {
            return Ok(Self::Latest);
        }
        if let Ok(ms) = t.parse::<i64>() {
            return Ok(Self::At(ms));
        }
        DateTime::parse_from_rfc3339(t)
            .map(|d| Self::At(d.timestamp_millis()))
            .map_err(|_| RenderError::BadWindow(s.to_owned()))
    }
}

impl std::fmt::Display for WindowSel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Latest => f.write_str("latest"),
            Self::At(ms) => f.write_str(&rfc3339(*ms)),
        }
    }
}

/// Epoch milliseconds as RFC 3339 in UTC (`2020-09-14T08:00:00Z`, fractions only when present).
pub fn rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|d| d.to_rfc3339_opts(SecondsFormat::AutoSi, true))
        .unwrap_or_else(|| format!("{ms} ms"))
}

/// What [`load_heatmap`] reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeatmapRequest {
    /// The metric, e.g. `crowd`.
    pub metric: String,
    /// The window.
    pub window: WindowSel,
    /// The grid, e.g. `deg0.001` or `h3r9`; needed when the window has cells on several grids.
    pub grid: Option<String>,
}

/// Which column colours the cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueColumn {
    /// `sum`: for counts (`crowd`, `reports`), the total in the cell.
    Sum,
    /// `avg`: for measurements, the mean in the cell.
    Avg,
}

impl ValueColumn {
    /// `Sum` for the count-like metrics `crowd` and `reports`, `Avg` for the others.
    pub fn for_metric(metric: &str) -> Self {
        match metric {
            "crowd" | "reports" => Self::Sum,
            _ => Self::Avg,
        }
    }

    /// The column name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sum => "sum",
            Self::Avg => "avg",
        }
    }
}

/// One cell of a heatmap window, with its polygon.
#[derive(Debug, Clone, PartialEq)]
pub struct HeatCell {
    /// The cell id (`"<cell_x>:<cell_y>"` or an H3 index in hex).
    pub cell: String,
    /// Column index on a degree grid.
    pub cell_x: Option<i64>,
    /// Row index on a degree grid.
    pub cell_y: Option<i64>,
    /// Latitude of the cell's centre.
    pub center_lat: f64,
    /// Longitude of the cell's centre.
    pub center_lon: f64,
    /// Readings in the cell.
    pub count: u64,
    /// Sum of their values.
    pub sum: f64,
    /// Mean of their values.
    pub avg: f64,
    /// Largest value.
    pub max: f64,
    /// Closed exterior ring, `[lon, lat]`, counter-clockwise, first point repeated last.
    pub ring: Vec<[f64; 2]>,
}

/// The cells of one metric, grid and window.
#[derive(Debug, Clone, PartialEq)]
pub struct Heatmap {
    /// The metric.
    pub metric: String,
    /// The grid.
    pub grid: Grid,
    /// Start of the window, epoch milliseconds.
    pub window_start: i64,
    /// The cells, sorted by id.
    pub cells: Vec<HeatCell>,
}

impl Heatmap {
    /// The column that colours this metric's cells.
    pub fn value_column(&self) -> ValueColumn {
        ValueColumn::for_metric(&self.metric)
    }

    /// The colouring value of a cell.
    pub fn value(&self, cell: &HeatCell) -> f64 {
        match self.value_column() {
            ValueColumn::Sum => cell.sum,
            ValueColumn::Avg => cell.avg,
        }
    }

    /// Smallest and largest finite colouring value, `None` when there is none.
    pub fn value_range(&self) -> Option<(f64, f64)> {
        self.cells
            .iter()
            .map(|c| self.value(c))
            .filter(|v| v.is_finite())
            .fold(None, |acc, v| match acc {
                None => Some((v, v)),
                Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_parse() {
        assert_eq!("latest".parse::<WindowSel>().ok(), Some(WindowSel::Latest));
        assert_eq!(
            "1600070400000".parse::<WindowSel>().ok(),
            Some(WindowSel::At(1_600_070_400_000))
        );
        assert_eq!(
            "2020-09-14T08:00:00Z".parse::<WindowSel>().ok(),
            Some(WindowSel::At(1_600_070_400_000))
        );
        assert_eq!(
            "2020-09-14T10:00:00+02:00".parse::<WindowSel>().ok(),
            Some(WindowSel::At(1_600_070_400_000))
        );
        assert!("yesterday".parse::<WindowSel>().is_err());
        assert_eq!(rfc3339(1_600_070_400_000), "2020-09-14T08:00:00Z");
        assert_eq!(rfc3339(1_600_070_400_250), "2020-09-14T08:00:00.250Z");
    }

    #[test]
    fn count_metrics_use_sum() {
        assert_eq!(ValueColumn::for_metric("crowd"), ValueColumn::Sum);
        assert_eq!(ValueColumn::for_metric("reports"), ValueColumn::Sum);
        assert_eq!(ValueColumn::for_metric("noise"), ValueColumn::Avg);
    }
}
