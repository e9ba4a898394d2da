//! # msec-queries
//!
//! SQL over msec's datasets with DataFusion (DESIGN §8). [`open_context`] registers every
//! dataset under a data directory as a table — a Parquet listing table over the live
//! segments of `<data>/<name>/` — and the catalog as the table `catalog`. [`run_sql`] runs a
//! query; [`write_results`] prints the batches as a table, CSV, JSON lines or Parquet.
//! [`render`] draws the `heatmap` dataset as GeoJSON or a PNG map.
//!
//! ```no_run
//! # async fn demo() -> Result<(), msec_queries::QueryError> {
//! let ctx = msec_queries::open_context(std::path::Path::new("./data")).await?;
//! let batches = msec_queries::run_sql(&ctx, "SELECT count(*) FROM readings").await?;
//! msec_queries::write_results(&batches, msec_queries::OutputFormat::Table, &mut std::io::stdout())?;
//! # Ok(()) }
//! ```

mod context;
mod error;
mod output;
pub mod render;

pub use context::{open_context, registered_tables, run_sql};
pub use error::{QueryError, Result};
pub use output::{OutputFormat, write_results};
pub use render::{HeatmapRequest, RenderError, WindowSel, load_heatmap, render_png, to_geojson};
