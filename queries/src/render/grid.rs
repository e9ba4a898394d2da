//! Grids of the `heatmap` dataset and the polygons of their cells.
//!
//! A grid is named in the dataset's `grid` column: `deg<size>` is a grid of `size`° squares
//! aligned to (0°, 0°), whose cell `(cell_x, cell_y)` spans `[cell_x·size, (cell_x+1)·size)` in
//! longitude and `[cell_y·size, (cell_y+1)·size)` in latitude (cell id `"<cell_x>:<cell_y>"`);
//! `h3r<res>` is the H3 grid at resolution `res`, whose cell ids are H3 indexes in hex and whose
//! polygons come from `h3o`. Every ring is returned closed and counter-clockwise (RFC 7946).

use std::str::FromStr;

use super::RenderError;

/// A grid that cells can be drawn on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Grid {
    /// Squares of `size` degrees.
    Degrees {
        /// Side of a cell in degrees.
        size: f64,
    },
    /// H3 cells at a resolution (0..=15).
    H3 {
        /// The resolution.
        res: u8,
    },
}

impl FromStr for Grid {
    type Err = RenderError;
    fn from_str(name: &str) -> Result<Self, RenderError> {
        let bad = |reason: &str| RenderError::BadGrid {
            grid: name.to_owned(),
            reason: reason.to_owned(),
        };
        if let Some(size) = name.strip_prefix("deg") {
            let size: f64 = size
                .parse()
                .map_err(|_| bad("expected deg<cell size in degrees>, e.g. deg0.001"))?;
            if !(size.is_finite() && size > 0.0 && size <= 180.0) {
                return Err(bad("the cell size must be in (0, 180] degrees"));
            }
            Ok(Self::Degrees { size })
        } else if let Some(res) = name.strip_prefix("h3r") {
            match res.parse::<u8>() {
                Ok(res) if res <= 15 => Ok(Self::H3 { res }),
                _ => Err(bad("expected h3r<resolution 0..=15>, e.g. h3r9")),
            }
        } else {
            Err(bad("unknown grid kind (deg<size> or h3r<resolution>)"))
        }
    }
}

impl std::fmt::Display for Grid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Degrees { size } => write!(f, "deg{size}"),
            Self::H3 { res } => write!(f, "h3r{res}"),
        }
    }
}

impl Grid {
    /// The closed, counter-clockwise `[lon, lat]` ring of a cell. Degree cells take their
    /// indexes from `cell_x`/`cell_y`, or from the id when those are null.
    pub fn ring(
        &self,
        cell: &str,
        cell_x: Option<i64>,
        cell_y: Option<i64>,
    ) -> Result<Vec<[f64; 2]>, RenderError> {
        let bad = |reason: String| RenderError::BadCell {
            grid: self.to_string(),
            cell: cell.to_owned(),
            reason,
        };
        let mut ring = match *self {
            Self::Degrees { size } => {
                let (x, y) = match (cell_x, cell_y) {
                    (Some(x), Some(y)) => (x, y),
                    _ => parse_xy(cell)
                        .ok_or_else(|| bad("expected \"<cell_x>:<cell_y>\"".into()))?,
                };
                let (x0, x1) = (edge(x, size), edge(x + 1, size));
                let (y0, y1) = (edge(y, size), edge(y + 1, size));
                vec![[x0, y0], [x1, y0], [x1, y1], [x0, y1]]
            }
            Self::H3 { res } => {
                let index = h3o::CellIndex::from_str(cell).map_err(|e| bad(e.to_string()))?;
                if u8::from(index.resolution()) != res {
                    return Err(bad(format!(
                        "resolution {} on an h3r{res} grid",
                        u8::from(index.resolution())
                    )));
                }
                index
                    .boundary()
                    .iter()
                    .map(|p| [p.lng(), p.lat()])
                    .collect()
            }
        };
        if signed_area(&ring) < 0.0 {
            ring.reverse();
        }
        if let Some(&first) = ring.first() {
            ring.push(first);
        }
        Ok(ring)
    }
}

/// `i · size`, computed as `i / (1/size)` when `1/size` is a whole number, so that the edges of
/// a `deg0.001` grid are exactly the decimals `floor(lon · 1000) / 1000`.
fn edge(i: i64, size: f64) -> f64 {
    let inv = (1.0 / size).round();
    if inv >= 1.0 && (inv * size - 1.0).abs() < 1e-12 {
        i as f64 / inv
    } else {
        i as f64 * size
    }
}

fn parse_xy(cell: &str) -> Option<(i64, i64)> {
    let (x, y) = cell.split_once(':')?;
    Some((x.trim().parse().ok()?, y.trim().parse().ok()?))
}

/// Twice the signed area of an open ring (shoelace), positive when counter-clockwise.
pub(crate) fn signed_area(ring: &[[f64; 2]]) -> f64 {
    let n = ring.len();
    (0..n)
        .map(|i| {
            let (a, b) = (ring[i], ring[(i + 1) % n]);
            a[0] * b[1] - b[0] * a[1]
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_print() {
        assert_eq!(
            "deg0.001".parse::<Grid>().ok(),
            Some(Grid::Degrees { size: 0.001 })
        );
        assert_eq!("h3r9".parse::<Grid>().ok(), Some(Grid::H3 { res: 9 }));
        assert_eq!(Grid::Degrees { size: 0.001 }.to_string(), "deg0.001");
        for bad in ["deg", "deg-1", "h3r16", "utm", "h3rx"] {
            assert!(bad.parse::<Grid>().is_err(), "{bad}");
        }
    }

    #[test]
    fn degree_rings_are_closed_ccw_squares() {
        let g = Grid::Degrees { size: 0.001 };
        let r = g.ring("-3802:43472", Some(-3802), Some(43472)).ok();
        let want = vec![
            [-3.802, 43.472],
            [-3.801, 43.472],
            [-3.801, 43.473],
            [-3.802, 43.473],
            [-3.802, 43.472],
        ];
        assert_eq!(r, Some(want.clone()));
        assert_eq!(g.ring("-3802:43472", None, None).ok(), Some(want));
        assert!(g.ring("nope", None, None).is_err());
    }

    #[test]
    fn h3_rings_are_closed_ccw_hexagons() {
        let g = Grid::H3 { res: 9 };
        let ll = h3o::LatLng::new(35.339, 139.49).expect("lat lng");
        let cell = ll.to_cell(h3o::Resolution::Nine).to_string();
        let cell = cell.as_str();
        let ring = g.ring(cell, None, None).expect("ring");
        assert_eq!(ring.len(), 7);
        assert_eq!(ring.first(), ring.last());
        assert!(signed_area(&ring[..6]) > 0.0);
        assert!(Grid::H3 { res: 8 }.ring(cell, None, None).is_err());
        assert!(g.ring("zz", None, None).is_err());
    }
}
