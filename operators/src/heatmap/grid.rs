//! The grids of the heat map ([`HeatmapGrid`]): a fixed degree grid or H3 cells, how a
//! position maps to a cell, and each cell's name, centre and polygon.
//!
//! A cell is identified by a `u64` key whose unsigned order is the canonical row order:
//!
//! * **degrees** (`Degrees { scale }`, cell size `1/scale`°): `cell_x = ⌊lon · scale⌋`,
//!   `cell_y = ⌊lat · scale⌋`, the product computed in binary64 and floored toward −∞ (with
//!   the default size 0.001°, `−3.8001 → −3801` and `43.4721 → 43472`). The key packs both
//!   as biased 32-bit halves, `((cell_x + 2³¹) << 32) | (cell_y + 2³¹)`, so keys sort like
//!   `(cell_x, cell_y)`. A scale is at most [`MAX_SCALE`] (cells of at least 1e-7°, about a
//!   centimetre), which keeps both halves within 32 bits. The cell's name is
//!   `"<cell_x>:<cell_y>"`, its centre `((cell + 0.5) / scale)`;
//! * **H3** (`H3 { resolution }`, 0–15): the H3 index of the cell (via `h3o`); its name is
//!   the index in lower-case hex (`8928308280fffff`), its centre and polygon those of H3.
//!
//! A position is usable when both coordinates are finite, `|lat| ≤ 90` and `|lon| ≤ 180`.

use std::fmt;
use std::str::FromStr;

use h3o::{CellIndex, LatLng, Resolution};
use serde::{Deserialize, Serialize};

use crate::error::{OperatorError, Result};

/// The largest degree-grid scale (cells per degree): 10⁷, cells of 1e-7°.
pub const MAX_SCALE: i64 = 10_000_000;

/// The default degree-grid scale: 1000 cells per degree (0.001°, about 111 m of latitude).
pub const DEFAULT_SCALE: i64 = 1_000;

const BIAS: u32 = 0x8000_0000;

/// The geographic grid a heat map is computed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HeatmapGrid {
    /// A fixed grid of `1/scale`-degree squares.
    Degrees {
        /// Cells per degree (`round(1 / size)`), 1..=[`MAX_SCALE`].
        scale: i64,
    },
    /// H3 cells.
    H3 {
        /// H3 resolution, 0..=15.
        resolution: u8,
    },
}

impl Default for HeatmapGrid {
    /// The 0.001° degree grid.
    fn default() -> Self {
        HeatmapGrid::Degrees {
            scale: DEFAULT_SCALE,
        }
    }
}

/// `⌊coord · scale⌋`: the degree-grid cell coordinate of a latitude or longitude.
#[inline]
pub fn degree_cell(coord: f64, scale: i64) -> i64 {
    (coord * scale as f64).floor() as i64
}

/// The polygon of `cell` on `grid` as closed `(lon, lat)` rings (first == last), counter-
/// clockwise; empty if `cell` is not a cell of `grid`. See [`HeatmapGrid::polygon`].
pub fn cell_polygon(grid: HeatmapGrid, cell: u64) -> Vec<(f64, f64)> {
    grid.polygon(cell)
}

fn invalid(message: String) -> OperatorError {
    OperatorError::InvalidParameter {
        operator: "heatmap",
        message,
    }
}

impl HeatmapGrid {
    /// A degree grid of `size`-degree cells; `size` must be `1/n` for a whole `n ≤ 10⁷`
    /// (0.001, 0.01, 0.5, 1, …) so that the grid is exactly `⌊coord · n⌋`.
    pub fn degrees(size: f64) -> Result<Self> {
        if !(size.is_finite() && size > 0.0) {
            return Err(invalid(format!(
                "cell size {size} is not a positive number"
            )));
        }
        let inverse = 1.0 / size;
        let scale = inverse.round();
        if (inverse - scale).abs() > 1e-9 * scale || !(1.0..=MAX_SCALE as f64).contains(&scale) {
            return Err(invalid(format!(
                "cell size {size}° must be 1/n degrees for a whole n in 1..={MAX_SCALE}"
            )));
        }
        Ok(HeatmapGrid::Degrees {
            scale: scale as i64,
        })
    }

    /// An H3 grid at `resolution` (0..=15).
    pub fn h3(resolution: u8) -> Result<Self> {
        let grid = HeatmapGrid::H3 { resolution };
        grid.validate()?;
        Ok(grid)
    }

    /// Checks the parameters (a grid built with the struct syntax is not checked).
    pub fn validate(&self) -> Result<()> {
        match *self {
            HeatmapGrid::Degrees { scale } if !(1..=MAX_SCALE).contains(&scale) => Err(invalid(
                format!("degree-grid scale {scale} is outside 1..={MAX_SCALE}"),
            )),
            HeatmapGrid::H3 { resolution } if Resolution::try_from(resolution).is_err() => Err(
                invalid(format!("H3 resolution {resolution} is outside 0..=15")),
            ),
            _ => Ok(()),
        }
    }

    /// The name written in the `grid` column: `deg0.001`, `h3r9`.
    pub fn name(&self) -> String {
        self.to_string()
    }

    /// The cell holding a position, or `None` if the position is not usable (NaN, out of
    /// range) or the grid is invalid.
    #[inline]
    pub fn cell(&self, lat: f64, lon: f64) -> Option<u64> {
        if !((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)) {
            return None;
        }
        match *self {
            HeatmapGrid::Degrees { scale } => {
                if !(1..=MAX_SCALE).contains(&scale) {
                    return None;
                }
                Some(pack(degree_cell(lon, scale), degree_cell(lat, scale)))
            }
            HeatmapGrid::H3 { resolution } => {
                let resolution = Resolution::try_from(resolution).ok()?;
                let ll = LatLng::new(lat, lon).ok()?;
                Some(u64::from(ll.to_cell(resolution)))
            }
        }
    }

    /// `(cell_x, cell_y)` of a degree-grid cell; `None` on an H3 grid.
    #[inline]
    pub fn cell_xy(&self, cell: u64) -> Option<(i64, i64)> {
        match self {
            HeatmapGrid::Degrees { .. } => Some(unpack(cell)),
            HeatmapGrid::H3 { .. } => None,
        }
    }

    /// The name of a cell, as written in the `cell` column: `"<cell_x>:<cell_y>"` or the H3
    /// index in hex.
    pub fn cell_name(&self, cell: u64) -> String {
        match self {
            HeatmapGrid::Degrees { .. } => {
                let (x, y) = unpack(cell);
                format!("{x}:{y}")
            }
            HeatmapGrid::H3 { .. } => format!("{cell:x}"),
        }
    }

    /// The cell key of a name written by [`cell_name`](Self::cell_name), if it names a cell of
    /// this grid.
    pub fn parse_cell(&self, name: &str) -> Option<u64> {
        match *self {
            HeatmapGrid::Degrees { .. } => {
                let (x, y) = name.split_once(':')?;
                let (x, y): (i32, i32) = (x.parse().ok()?, y.parse().ok()?);
                Some(pack(i64::from(x), i64::from(y)))
            }
            HeatmapGrid::H3 { resolution } => {
                let cell = CellIndex::from_str(name).ok()?;
                (u8::from(cell.resolution()) == resolution).then_some(u64::from(cell))
            }
        }
    }

    /// The centre of a cell as `(lat, lon)`; `None` if `cell` is not a valid H3 index.
    pub fn center(&self, cell: u64) -> Option<(f64, f64)> {
        match *self {
            HeatmapGrid::Degrees { scale } => {
                let (x, y) = unpack(cell);
                let s = scale as f64;
                Some(((y as f64 + 0.5) / s, (x as f64 + 0.5) / s))
            }
            HeatmapGrid::H3 { .. } => {
                let ll = LatLng::from(CellIndex::try_from(cell).ok()?);
                Some((ll.lat(), ll.lng()))
            }
        }
    }

    /// The polygon of a cell as a closed ring of `(lon, lat)` points (first == last),
    /// counter-clockwise, for rendering (GeoJSON order): the four corners of a degree cell,
    /// the boundary vertices of an H3 cell. Empty if `cell` is not a valid H3 index.
    pub fn polygon(&self, cell: u64) -> Vec<(f64, f64)> {
        let mut ring: Vec<(f64, f64)> = match *self {
            HeatmapGrid::Degrees { scale } => {
                let (x, y) = unpack(cell);
                let s = scale as f64;
                let (w, e) = (x as f64 / s, (x + 1) as f64 / s);
                let (south, north) = (y as f64 / s, (y + 1) as f64 / s);
                vec![(w, south), (e, south), (e, north), (w, north)]
            }
            HeatmapGrid::H3 { .. } => match CellIndex::try_from(cell) {
                Ok(index) => index
                    .boundary()
                    .iter()
                    .map(|v| (v.lng(), v.lat()))
                    .collect(),
                Err(_) => return Vec::new(),
            },
        };
        if let Some(&first) = ring.first() {
            ring.push(first);
        }
        ring
    }
}

impl fmt::Display for HeatmapGrid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            HeatmapGrid::Degrees { scale } => write!(f, "deg{}", 1.0 / scale.max(1) as f64),
            HeatmapGrid::H3 { resolution } => write!(f, "h3r{resolution}"),
        }
    }
}

impl FromStr for HeatmapGrid {
    type Err = OperatorError;

    /// Parses a grid name: `deg<size>` (`deg0.001`) or `h3r<resolution>` (`h3r9`).
    fn from_str(name: &str) -> Result<Self> {
        if let Some(resolution) = name.strip_prefix("h3r") {
            let resolution = resolution
                .parse()
                .map_err(|_| invalid(format!("bad H3 resolution in grid {name:?}")))?;
            return HeatmapGrid::h3(resolution);
        }
        if let Some(size) = name.strip_prefix("deg") {
            let size = size
                .parse()
                .map_err(|_| invalid(format!("bad cell size in grid {name:?}")))?;
            return HeatmapGrid::degrees(size);
        }
        Err(invalid(format!(
            "unknown grid {name:?} (expected deg<size> or h3r<resolution>)"
        )))
    }
}

/// Packs degree-grid coordinates (each within `i32`) into a key ordered like `(x, y)`.
#[inline]
fn pack(x: i64, y: i64) -> u64 {
    let half = |v: i64| u64::from((v as i32 as u32) ^ BIAS);
    (half(x) << 32) | half(y)
}

/// The coordinates packed by [`pack`].
#[inline]
fn unpack(cell: u64) -> (i64, i64) {
    let half = |v: u64| i64::from(((v as u32) ^ BIAS) as i32);
    (half(cell >> 32), half(cell))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_keys_sort_like_coordinates() {
        let coords = [
            (-3, 7),
            (-3, -8),
            (0, 0),
            (-1, 5),
            (2, -1),
            (i32::MIN as i64, 0),
        ];
        let mut by_key: Vec<(i64, i64)> = coords.to_vec();
        by_key.sort_by_key(|&(x, y)| pack(x, y));
        let mut by_xy = coords.to_vec();
        by_xy.sort();
        assert_eq!(by_key, by_xy);
        for (x, y) in coords {
            assert_eq!(unpack(pack(x, y)), (x, y));
        }
    }
}
