//! `msec render heatmap`: GeoJSON and PNG of a hand-made `heatmap` dataset with known cells,
//! checked cell by cell (corners, properties, pixel colours), and its errors.

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray,
    UInt64Array,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use msec_datasets::{DatasetSpec, DatasetWriter, WriterOptions};
use msec_queries::render::{BACKGROUND, PLOT_TEXT_KEY, colour_at, png_crate};
use serde_json::Value;

use crate::common::{ok, run, s};

/// 2020-09-14T08:00:00Z and five minutes later.
const W1: i64 = 1_600_070_400_000;
const W2: i64 = W1 + 300_000;

/// One row: metric, grid, cell, cell_x, cell_y, center_lat, center_lon, window, count, sum,
/// avg, max.
type Row = (
    &'static str,
    &'static str,
    String,
    Option<i64>,
    Option<i64>,
    f64,
    f64,
    i64,
    u64,
    f64,
    f64,
    f64,
);

/// The `heatmap` dataset schema, as the heatmap operator writes it.
fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("metric", DataType::Utf8, false),
        Field::new("grid", DataType::Utf8, false),
        Field::new("cell", DataType::Utf8, false),
        Field::new("cell_x", DataType::Int64, true),
        Field::new("cell_y", DataType::Int64, true),
        Field::new("center_lat", DataType::Float64, false),
        Field::new("center_lon", DataType::Float64, false),
        Field::new(
            "window_start",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            false,
        ),
        Field::new("count", DataType::UInt64, false),
        Field::new("sum", DataType::Float64, false),
        Field::new("avg", DataType::Float64, false),
        Field::new("max", DataType::Float64, false),
    ]))
}

/// A degree cell of `deg0.001` (x, y are floor(lon·1000), floor(lat·1000)).
fn deg(metric: &'static str, x: i64, y: i64, w: i64, count: u64, sum: f64, max: f64) -> Row {
    let (lat, lon) = ((y as f64 + 0.5) / 1000.0, (x as f64 + 0.5) / 1000.0);
    let avg = sum / count as f64;
    let id = format!("{x}:{y}");
    (
        metric,
        "deg0.001",
        id,
        Some(x),
        Some(y),
        lat,
        lon,
        w,
        count,
        sum,
        avg,
        max,
    )
}

/// An H3 cell of `h3r9` (its hex index and centre, as `h3o` computes them).
fn h3(metric: &'static str, cell: (&str, f64, f64), w: i64, count: u64, avg: f64) -> Row {
    let (id, lat, lon) = cell;
    let sum = avg * count as f64;
    (
        metric,
        "h3r9",
        id.to_owned(),
        None,
        None,
        lat,
        lon,
        w,
        count,
        sum,
        avg,
        sum,
    )
}

/// H3 resolution-9 cells around (43.4725, -3.8015), (35.339, 139.49) and (35.342, 139.495).
const SANTANDER: (&str, f64, f64) = ("89392db2373ffff", 43.47279561927854, -3.8029221874535217);
const FUJISAWA_1: (&str, f64, f64) = ("892f586dab3ffff", 35.339018762781365, 139.4893506605755);
const FUJISAWA_2: (&str, f64, f64) = ("892f586da8fffff", 35.34285315171604, 139.49356206338354);

/// Crowd at W2: three Santander cells whose sums (5, 10, 20) order opposite to their avgs,
/// so the colours show which column is drawn; crowd at W1: one degree and one H3 cell; noise
/// at W2: two H3 cells in Fujisawa.
fn rows() -> Vec<Row> {
    vec![
        deg("crowd", -3802, 43472, W2, 1, 5.0, 5.0),
        deg("crowd", -3801, 43472, W2, 5, 10.0, 4.0),
        deg("crowd", -3801, 43473, W2, 20, 20.0, 1.0),
        deg("crowd", -3802, 43472, W1, 9, 99.0, 30.0),
        h3("crowd", SANTANDER, W1, 3, 7.0),
        h3("noise", FUJISAWA_1, W2, 4, 55.5),
        h3("noise", FUJISAWA_2, W2, 2, 61.0),
    ]
}

fn make_heatmap(root: &Path) {
    let rows = rows();
    let strs = |f: fn(&Row) -> String| -> ArrayRef {
        Arc::new(StringArray::from(rows.iter().map(f).collect::<Vec<_>>()))
    };
    let f64s = |f: fn(&Row) -> f64| -> ArrayRef {
        Arc::new(Float64Array::from(rows.iter().map(f).collect::<Vec<_>>()))
    };
    let columns: Vec<ArrayRef> = vec![
        strs(|r| r.0.to_owned()),
        strs(|r| r.1.to_owned()),
        strs(|r| r.2.clone()),
        Arc::new(Int64Array::from(
            rows.iter().map(|r| r.3).collect::<Vec<_>>(),
        )),
        Arc::new(Int64Array::from(
            rows.iter().map(|r| r.4).collect::<Vec<_>>(),
        )),
        f64s(|r| r.5),
        f64s(|r| r.6),
        Arc::new(
            TimestampMillisecondArray::from(rows.iter().map(|r| r.7).collect::<Vec<_>>())
                .with_timezone("UTC"),
        ),
        Arc::new(UInt64Array::from(
            rows.iter().map(|r| r.8).collect::<Vec<_>>(),
        )),
        f64s(|r| r.9),
        f64s(|r| r.10),
        f64s(|r| r.11),
    ];
    let batch = RecordBatch::try_new(schema(), columns).expect("batch");
    let mut spec = DatasetSpec::new("heatmap");
    spec.time_column = Some("window_start".into());
    let mut w = DatasetWriter::open(root, spec, schema(), WriterOptions::default()).expect("open");
    w.write(&batch).expect("write");
    w.finish().expect("finish");
}

fn render_json(data: &Path, extra: &[&str]) -> Value {
    let out = data.join("map.geojson");
    let mut args = vec!["render", "heatmap", "--data", s(data), "--out", s(&out)];
    args.extend_from_slice(extra);
    let said = ok(&args);
    assert!(said.contains("GeoJSON"), "{said}");
    serde_json::from_slice(&std::fs::read(&out).expect("geojson written")).expect("json")
}

fn ring(f: &Value) -> Vec<[f64; 2]> {
    assert_eq!(f["geometry"]["type"], "Polygon");
    let rings = f["geometry"]["coordinates"].as_array().expect("rings");
    assert_eq!(rings.len(), 1, "one exterior ring");
    let pts: Vec<[f64; 2]> = rings[0]
        .as_array()
        .expect("ring")
        .iter()
        .map(|p| [p[0].as_f64().expect("lon"), p[1].as_f64().expect("lat")])
        .collect();
    assert_eq!(pts.first(), pts.last(), "ring closed");
    let area: f64 = pts
        .windows(2)
        .map(|w| w[0][0] * w[1][1] - w[1][0] * w[0][1])
        .sum();
    assert!(area > 0.0, "ring counter-clockwise");
    pts
}

#[test]
fn geojson_has_one_closed_polygon_per_cell_with_its_values() {
    let dir = tempfile::tempdir().expect("tmp");
    make_heatmap(dir.path());
    let v = render_json(dir.path(), &["--metric", "crowd", "--format", "geojson"]);
    assert_eq!(v["type"], "FeatureCollection");
    let features = v["features"].as_array().expect("features");
    let want: Vec<Row> = rows()
        .into_iter()
        .filter(|r| r.0 == "crowd" && r.7 == W2)
        .collect();
    assert_eq!(features.len(), want.len(), "latest window W2 has 3 cells");
    for r in &want {
        let f = features
            .iter()
            .find(|f| f["properties"]["cell"] == r.2.as_str())
            .unwrap_or_else(|| panic!("cell {} missing", r.2));
        let p = &f["properties"];
        assert_eq!(p["metric"], "crowd");
        assert_eq!(p["window_start"], "2020-09-14T08:05:00Z");
        assert_eq!(p["count"], r.8);
        assert_eq!(
            (p["sum"].as_f64(), p["avg"].as_f64()),
            (Some(r.9), Some(r.10))
        );
        assert_eq!(p["max"].as_f64(), Some(r.11));
        let pts = ring(f);
        assert_eq!(pts.len(), 5);
        let (x0, y0) = (
            r.3.expect("x") as f64 / 1000.0,
            r.4.expect("y") as f64 / 1000.0,
        );
        let (x1, y1) = (x0 + 0.001, y0 + 0.001);
        for (got, want) in pts
            .iter()
            .zip([[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]])
        {
            assert!(
                (got[0] - want[0]).abs() < 1e-9 && (got[1] - want[1]).abs() < 1e-9,
                "cell {}: corner {got:?}, want {want:?}",
                r.2
            );
        }
    }

    // An explicit earlier window, as RFC 3339 and as epoch ms, on one grid.
    for w in ["2020-09-14T08:00:00Z", "1600070400000"] {
        let v = render_json(
            dir.path(),
            &["--metric", "crowd", "--window", w, "--grid", "deg0.001"],
        );
        let features = v["features"].as_array().expect("features");
        assert_eq!(features.len(), 1);
        assert_eq!(features[0]["properties"]["sum"].as_f64(), Some(99.0));
    }

    // H3 cells: closed hexagons around their centres.
    let v = render_json(dir.path(), &["--metric", "noise"]);
    let features = v["features"].as_array().expect("features");
    assert_eq!(features.len(), 2);
    for f in features {
        let pts = ring(f);
        assert_eq!(pts.len(), 7, "hexagon + closing point");
        let (lat, lon) = (
            f["properties"]["center_lat"].as_f64().expect("lat"),
            f["properties"]["center_lon"].as_f64().expect("lon"),
        );
        assert!(pts.iter().any(|p| p[0] < lon) && pts.iter().any(|p| p[0] > lon));
        assert!(pts.iter().any(|p| p[1] < lat) && pts.iter().any(|p| p[1] > lat));
    }
}

/// The georeference a PNG carries: pixel edges (left, top, right, bottom) and the
/// longitudes/latitudes (west, north, east, south) they stand for.
fn georeference(info: &png_crate::Info) -> [f64; 8] {
    let text = info
        .uncompressed_latin1_text
        .iter()
        .find(|t| t.keyword == PLOT_TEXT_KEY)
        .expect("georeference chunk");
    let get = |k: &str| -> f64 {
        text.text
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{k} in {}", text.text))
    };
    [
        "left", "top", "right", "bottom", "west", "north", "east", "south",
    ]
    .map(get)
}

#[test]
fn png_draws_each_cell_in_the_colour_of_its_value() {
    let dir = tempfile::tempdir().expect("tmp");
    make_heatmap(dir.path());
    let out = dir.path().join("map.png");
    let said = ok(&[
        "render",
        "heatmap",
        "--data",
        s(dir.path()),
        "--metric",
        "crowd",
        "--window",
        "latest",
        "--out",
        s(&out),
        "--format",
        "png",
    ]);
    let bytes = std::fs::read(&out).expect("png written");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "PNG signature");
    keep(&out);

    let decoder = png_crate::Decoder::new(std::io::Cursor::new(&bytes));
    let mut reader = decoder.read_info().expect("decodes");
    let (w, h) = (reader.info().width, reader.info().height);
    assert!(
        said.contains(&format!("PNG {w}x{h} px")),
        "stated size: {said}"
    );
    assert_eq!(w, 1024);
    let [left, top, right, bottom, west, north, east, south] = georeference(reader.info());
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let frame = reader.next_frame(&mut buf).expect("frame");
    assert_eq!(frame.color_type, png_crate::ColorType::Rgb);
    let pixel = |lat: f64, lon: f64| -> [u8; 3] {
        let x = (left + (lon - west) / (east - west) * (right - left)).floor() as usize;
        let y = (top + (north - lat) / (north - south) * (bottom - top)).floor() as usize;
        let i = (y * w as usize + x) * 3;
        [buf[i], buf[i + 1], buf[i + 2]]
    };
    // crowd is coloured by sum: 5 is the scale's start, 20 its end, 10 a third of the way.
    assert_eq!(
        pixel(43.4725, -3.8015),
        [68, 1, 84],
        "sum 5 = viridis start"
    );
    assert_eq!(
        pixel(43.4735, -3.8005),
        [253, 231, 37],
        "sum 20 = viridis end"
    );
    assert_eq!(pixel(43.4725, -3.8005), colour_at(5.0 / 15.0), "sum 10");
    // The missing fourth cell of the 2×2 block, and the plot's corner, are background.
    assert_eq!(pixel(43.4735, -3.8015), BACKGROUND);
    assert_eq!(pixel(south + 1e-6, west + 1e-6), BACKGROUND);

    // H3 hexagons render too.
    let out = dir.path().join("noise.png");
    let said = ok(&[
        "render",
        "heatmap",
        "--data",
        s(dir.path()),
        "--metric",
        "noise",
        "--out",
        s(&out),
    ]);
    assert!(said.contains("2 cells of noise (avg per cell)"), "{said}");
    keep(&out);
}

/// Copies a rendered file into `$MSEC_TEST_RENDER_OUT`, when set, to look at.
fn keep(file: &Path) {
    if let Ok(dir) = std::env::var("MSEC_TEST_RENDER_OUT") {
        let name = file.file_name().expect("file name");
        std::fs::copy(file, Path::new(&dir).join(name)).expect("keep a copy");
    }
}

#[test]
fn nothing_to_draw_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("x.png");
    let fails = |extra: &[&str]| -> String {
        let mut args = vec![
            "render",
            "heatmap",
            "--data",
            s(dir.path()),
            "--out",
            s(&out),
        ];
        args.extend_from_slice(extra);
        let o = run(&args);
        assert!(!o.status.success(), "{args:?} should fail");
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let e = fails(&["--metric", "crowd"]);
    assert!(e.contains("no dataset heatmap"), "{e}");

    make_heatmap(dir.path());
    let e = fails(&["--metric", "nope"]);
    assert!(e.contains("\"nope\"") && e.contains("crowd, noise"), "{e}");
    let e = fails(&["--metric", "crowd", "--window", "2020-09-14T09:00:00Z"]);
    assert!(
        e.contains("nothing to draw") && e.contains("2020-09-14T09:00:00Z") && e.contains("crowd"),
        "{e}"
    );
    let e = fails(&["--metric", "crowd", "--window", "2020-09-14T08:00:00Z"]);
    assert!(e.contains("deg0.001, h3r9") && e.contains("--grid"), "{e}");
    let e = fails(&["--metric", "noise", "--grid", "deg0.001"]);
    assert!(e.contains("on grid deg0.001") && e.contains("h3r9"), "{e}");
    let e = fails(&["--metric", "crowd", "--window", "soon"]);
    assert!(e.contains("\"soon\""), "{e}");
    assert!(!out.exists());
}
