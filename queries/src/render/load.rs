//! Querying one metric's cells of one window out of the `heatmap` table.
//!
//! The window is resolved first (`latest` is the largest `window_start` of the metric, on the
//! chosen grid if any), then its rows are read and given polygons. When there is nothing to
//! draw, a second look at the table says why: the metric is unknown (naming the metrics there
//! are), or it has no cells at that window or grid (naming the windows and grids it has).

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Float64Type, Int64Type, TimeUnit, TimestampMillisecondType, UInt64Type,
};
use datafusion::prelude::SessionContext;

use super::{HEATMAP_DATASET, HeatCell, Heatmap, HeatmapRequest, RenderError, WindowSel, rfc3339};
use crate::{registered_tables, run_sql};

/// Reads the cells of `req` from the `heatmap` table of `ctx`, with their polygons.
pub async fn load_heatmap(
    ctx: &SessionContext,
    req: &HeatmapRequest,
) -> Result<Heatmap, RenderError> {
    if !registered_tables(ctx).iter().any(|t| t == HEATMAP_DATASET) {
        return Err(RenderError::NoDataset);
    }
    let mut filter = format!("metric = {}", quote(&req.metric));
    if let Some(g) = &req.grid {
        filter += &format!(" AND grid = {}", quote(g));
    }
    let window = match req.window {
        WindowSel::At(ms) => Some(ms),
        WindowSel::Latest => {
            let sql = format!("SELECT max(window_start) FROM {HEATMAP_DATASET} WHERE {filter}");
            timestamps(&run_sql(ctx, &sql).await?, 0)?
                .into_iter()
                .next()
                .flatten()
        }
    };
    let Some(window) = window else {
        return Err(nothing_to_draw(ctx, req).await?);
    };
    let sql = format!(
        "SELECT grid, cell, cell_x, cell_y, center_lat, center_lon, count, sum, avg, max \
         FROM {HEATMAP_DATASET} WHERE {filter} AND window_start = to_timestamp_millis({window}) \
         ORDER BY grid, cell"
    );
    let batches = run_sql(ctx, &sql).await?;
    let mut grids: Vec<String> = Vec::new();
    for b in &batches {
        for g in strings(b, 0)? {
            if !grids.contains(&g) {
                grids.push(g);
            }
        }
    }
    let grid_name = match grids.as_slice() {
        [] => return Err(nothing_to_draw(ctx, req).await?),
        [one] => one.clone(),
        _ => {
            return Err(RenderError::AmbiguousGrid {
                metric: req.metric.clone(),
                window: rfc3339(window),
                grids: grids.join(", "),
            });
        }
    };
    let grid: super::Grid = grid_name.parse()?;
    let mut cells = Vec::new();
    for b in &batches {
        let (ids, xs, ys) = (strings(b, 1)?, ints(b, 2)?, ints(b, 3)?);
        let (lats, lons) = (floats(b, 4)?, floats(b, 5)?);
        let counts = column(b, 6, &DataType::UInt64)?;
        let counts = counts.as_primitive::<UInt64Type>();
        let (sums, avgs, maxs) = (floats(b, 7)?, floats(b, 8)?, floats(b, 9)?);
        for (r, id) in ids.into_iter().enumerate() {
            let ring = grid.ring(&id, xs[r], ys[r])?;
            cells.push(HeatCell {
                cell: id,
                cell_x: xs[r],
                cell_y: ys[r],
                center_lat: lats[r],
                center_lon: lons[r],
                count: if counts.is_null(r) {
                    0
                } else {
                    counts.value(r)
                },
                sum: sums[r],
                avg: avgs[r],
                max: maxs[r],
                ring,
            });
        }
    }
    Ok(Heatmap {
        metric: req.metric.clone(),
        grid,
        window_start: window,
        cells,
    })
}

/// Why `req` found no rows: an unknown metric, or what the metric does have.
async fn nothing_to_draw(
    ctx: &SessionContext,
    req: &HeatmapRequest,
) -> Result<RenderError, RenderError> {
    let metric = quote(&req.metric);
    let sql = format!(
        "SELECT min(window_start), max(window_start), count(DISTINCT window_start) \
         FROM {HEATMAP_DATASET} WHERE metric = {metric}"
    );
    let b = run_sql(ctx, &sql).await?;
    let (lo, hi) = (timestamps(&b, 0)?, timestamps(&b, 1)?);
    let (Some(Some(lo)), Some(Some(hi))) = (lo.first(), hi.first()) else {
        let sql = format!("SELECT DISTINCT metric FROM {HEATMAP_DATASET} ORDER BY metric");
        return Ok(RenderError::UnknownMetric {
            metric: req.metric.clone(),
            known: distinct(ctx, &sql, "none, the dataset is empty").await?,
        });
    };
    let mut n = 0;
    for b in &b {
        n += ints(b, 2)?.into_iter().flatten().sum::<i64>();
    }
    let sql = format!(
        "SELECT DISTINCT grid FROM {HEATMAP_DATASET} WHERE metric = {metric} ORDER BY grid"
    );
    let grids = distinct(ctx, &sql, "none").await?;
    Ok(RenderError::NothingToDraw {
        metric: req.metric.clone(),
        window: req.window.to_string(),
        grid: req.grid.clone(),
        available: format!(
            "it has {n} windows from {} to {} on grids {grids}",
            rfc3339(*lo),
            rfc3339(*hi)
        ),
    })
}

/// The first column of `sql`'s rows, comma-separated, or `none` when there are no rows.
async fn distinct(ctx: &SessionContext, sql: &str, none: &str) -> Result<String, RenderError> {
    let mut values = Vec::new();
    for b in run_sql(ctx, sql).await? {
        values.extend(strings(&b, 0)?);
    }
    Ok(if values.is_empty() {
        none.to_owned()
    } else {
        values.join(", ")
    })
}

/// A SQL string literal.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn column(
    b: &RecordBatch,
    i: usize,
    to: &DataType,
) -> Result<datafusion::arrow::array::ArrayRef, RenderError> {
    cast(b.column(i), to).map_err(|e| {
        let name = b.schema().field(i).name().clone();
        RenderError::Query(crate::QueryError::Dataset {
            dataset: HEATMAP_DATASET.into(),
            message: format!("column {name}: {e}"),
        })
    })
}

fn strings(b: &RecordBatch, i: usize) -> Result<Vec<String>, RenderError> {
    let a = column(b, i, &DataType::Utf8)?;
    let a = a.as_string::<i32>();
    Ok((0..a.len()).map(|r| a.value(r).to_owned()).collect())
}

fn ints(b: &RecordBatch, i: usize) -> Result<Vec<Option<i64>>, RenderError> {
    let a = column(b, i, &DataType::Int64)?;
    Ok(a.as_primitive::<Int64Type>().iter().collect())
}

fn floats(b: &RecordBatch, i: usize) -> Result<Vec<f64>, RenderError> {
    let a = column(b, i, &DataType::Float64)?;
    let a = a.as_primitive::<Float64Type>();
    Ok(a.iter().map(|v| v.unwrap_or(f64::NAN)).collect())
}

/// Column `i` of every batch as epoch milliseconds.
fn timestamps(batches: &[RecordBatch], i: usize) -> Result<Vec<Option<i64>>, RenderError> {
    let mut out = Vec::new();
    for b in batches {
        let a = column(
            b,
            i,
            &DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
        )?;
        out.extend(a.as_primitive::<TimestampMillisecondType>().iter());
    }
    Ok(out)
}
