//! A [`Heatmap`] as a GeoJSON FeatureCollection (RFC 7946).
//!
//! One Feature per cell: a Polygon whose single exterior ring is closed (first point = last)
//! and counter-clockwise, in `[lon, lat]` order, and the properties `metric`, `grid`, `cell`,
//! `window_start` (RFC 3339), `count`, `sum`, `avg`, `max`, `center_lat` and `center_lon`.
//! Values that are not finite (a null `avg`) are written as `null`.

use serde_json::{Value, json};

use super::{Heatmap, rfc3339};

/// The FeatureCollection of `map`'s cells.
pub fn to_geojson(map: &Heatmap) -> Value {
    let window = rfc3339(map.window_start);
    let num = |v: f64| if v.is_finite() { json!(v) } else { Value::Null };
    let features: Vec<Value> = map
        .cells
        .iter()
        .map(|c| {
            json!({
                "type": "Feature",
                "id": c.cell,
                "geometry": {"type": "Polygon", "coordinates": [c.ring]},
                "properties": {
                    "metric": map.metric,
                    "grid": map.grid.to_string(),
                    "cell": c.cell,
                    "window_start": window,
                    "count": c.count,
                    "sum": num(c.sum),
                    "avg": num(c.avg),
                    "max": num(c.max),
                    "center_lat": num(c.center_lat),
                    "center_lon": num(c.center_lon),
                },
            })
        })
        .collect();
    json!({"type": "FeatureCollection", "features": features})
}

#[cfg(test)]
mod tests {
    use super::super::{Grid, HeatCell};
    use super::*;

    #[test]
    fn one_feature_per_cell_with_closed_rings() {
        let grid = Grid::Degrees { size: 0.001 };
        let ring = grid.ring("1:2", Some(1), Some(2)).expect("ring");
        let map = Heatmap {
            metric: "crowd".into(),
            grid,
            window_start: 1_600_070_400_000,
            cells: vec![HeatCell {
                cell: "1:2".into(),
                cell_x: Some(1),
                cell_y: Some(2),
                center_lat: 0.0025,
                center_lon: 0.0015,
                count: 3,
                sum: 7.0,
                avg: f64::NAN,
                max: 4.0,
                ring,
            }],
        };
        let v = to_geojson(&map);
        assert_eq!(v["type"], "FeatureCollection");
        let f = &v["features"][0];
        let ring = f["geometry"]["coordinates"][0].as_array().expect("ring");
        assert_eq!(ring.len(), 5);
        assert_eq!(ring[0], ring[4]);
        assert_eq!(f["properties"]["window_start"], "2020-09-14T08:00:00Z");
        assert_eq!(f["properties"]["count"], 3);
        assert!(f["properties"]["avg"].is_null());
    }
}
