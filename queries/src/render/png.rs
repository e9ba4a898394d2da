//! Drawing a [`Heatmap`] as a PNG map.
//!
//! The map is an equirectangular projection scaled by cos(mean latitude), so that cells are
//! drawn with their true proportions near that latitude: x = (lon − west)·cos φ̄·k,
//! y = (north − lat)·k. The plot spans the image's width less its margins (1024 px wide by
//! default); its lon/lat extent is the cells' bounding box plus 5 %, widened to that aspect.
//! Cells are filled with the viridis scale ([`colour_at`](super::colour_at)) on the metric's
//! [`ValueColumn`](super::ValueColumn) between its smallest and largest value in the window;
//! below the plot a legend bar shows that scale with its min and max, the axes carry lat/lon
//! labels, and a title names metric, window, grid and cell count. A cell too small to see at
//! the map's scale (under 3 px) is drawn as a 3 px dot at its centre. The georeference is
//! stored in a tEXt chunk [`PLOT_TEXT_KEY`] as
//! `left=L top=T right=R bottom=B west=W north=N east=E south=S`: pixel edges `L..R`, `T..B`
//! span longitudes `W..E` and latitudes `N..S`, linearly.

use super::raster::Canvas;
use super::scale::{colour_at, label, ticks, value_fraction};
use super::{Heatmap, RenderError, rfc3339};

/// The colour of the image and of the plot where there is no cell.
pub const BACKGROUND: [u8; 3] = [255, 255, 255];
/// The tEXt keyword of the plot's georeference.
pub const PLOT_TEXT_KEY: &str = "msec:plot";

const INK: [u8; 3] = [30, 30, 30];
const FRAME: [u8; 3] = [90, 90, 90];
const OUTLINE: [u8; 3] = [255, 255, 255];
const LEFT: usize = 130;
const RIGHT: usize = 40;
const TOP: usize = 64;
const BOTTOM: usize = 126;
const TEXT: usize = 2;
/// Cells narrower or shorter than this many pixels are drawn as a dot this wide.
const MIN_CELL_PX: f64 = 3.0;

/// How to draw the map.
#[derive(Debug, Clone, PartialEq)]
pub struct PngOptions {
    /// Image width in pixels (default 1024; at least 400). The height follows the map's aspect.
    pub width: u32,
}

impl Default for PngOptions {
    fn default() -> Self {
        Self { width: 1024 }
    }
}

/// An encoded PNG and its size.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedPng {
    /// The PNG file.
    pub bytes: Vec<u8>,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// The projection of the plot area: lon/lat → pixel coordinates.
struct Frame {
    left: f64,
    top: f64,
    width: f64,
    height: f64,
    west: f64,
    north: f64,
    /// Pixels per degree of latitude.
    k: f64,
    /// cos(mean latitude).
    kx: f64,
}

impl Frame {
    /// Fits the bounding box `[west, south, east, north]` (plus 5 %) into `width` pixels wide
    /// and at most 0.8 of that high.
    fn fit(bbox: [f64; 4], left: usize, width: usize) -> Self {
        let [w, s, e, n] = bbox;
        let kx = ((s + n) / 2.0).to_radians().cos().max(0.01);
        let pad = ((e - w) * kx).max(n - s).max(1e-6) * 0.05;
        let (dx, dy) = ((e - w) * kx + 2.0 * pad, (n - s) + 2.0 * pad);
        let max_h = width as f64 * 0.8;
        let k = (width as f64 / dx).min(max_h / dy);
        let height = (dy * k).round().max(1.0);
        let (cx, cy) = ((w + e) / 2.0, (s + n) / 2.0);
        Self {
            left: left as f64,
            top: TOP as f64,
            width: width as f64,
            height,
            west: cx - width as f64 / k / kx / 2.0,
            north: cy + height / k / 2.0,
            k,
            kx,
        }
    }

    fn east(&self) -> f64 {
        self.west + self.width / self.k / self.kx
    }

    fn south(&self) -> f64 {
        self.north - self.height / self.k
    }

    fn x(&self, lon: f64) -> f64 {
        self.left + (lon - self.west) * self.kx * self.k
    }

    fn y(&self, lat: f64) -> f64 {
        self.top + (self.north - lat) * self.k
    }

    fn georeference(&self) -> String {
        format!(
            "left={} top={} right={} bottom={} west={} north={} east={} south={}",
            self.left,
            self.top,
            self.left + self.width,
            self.top + self.height,
            self.west,
            self.north,
            self.east(),
            self.south()
        )
    }
}

/// Draws `map` and encodes it as an RGB PNG.
pub fn render_png(map: &Heatmap, opts: &PngOptions) -> Result<RenderedPng, RenderError> {
    let width = (opts.width.max(400)) as usize;
    let mut bbox = [f64::INFINITY, f64::INFINITY, -f64::INFINITY, -f64::INFINITY];
    for p in map.cells.iter().flat_map(|c| &c.ring) {
        bbox = [
            bbox[0].min(p[0]),
            bbox[1].min(p[1]),
            bbox[2].max(p[0]),
            bbox[3].max(p[1]),
        ];
    }
    if !bbox.iter().all(|v| v.is_finite()) {
        return Err(RenderError::Output("no cell has a polygon to draw".into()));
    }
    let frame = Frame::fit(bbox, LEFT, width - LEFT - RIGHT);
    let height = TOP + frame.height as usize + BOTTOM;
    let mut canvas = Canvas::new(width, height, BACKGROUND);
    let (lo, hi) = map.value_range().unwrap_or((f64::NAN, f64::NAN));

    for cell in &map.cells {
        let colour = colour_at(value_fraction(map.value(cell), lo, hi));
        let pts: Vec<[f64; 2]> = cell
            .ring
            .iter()
            .map(|p| [frame.x(p[0]), frame.y(p[1])])
            .collect();
        let [x0, y0, x1, y1] = pts.iter().fold(
            [
                f64::INFINITY,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::NEG_INFINITY,
            ],
            |b, p| {
                [
                    b[0].min(p[0]),
                    b[1].min(p[1]),
                    b[2].max(p[0]),
                    b[3].max(p[1]),
                ]
            },
        );
        if x1 - x0 < MIN_CELL_PX || y1 - y0 < MIN_CELL_PX {
            // Too small to see at this scale: a dot of MIN_CELL_PX pixels at its centre.
            let (cx, cy) = (((x0 + x1) / 2.0).floor(), ((y0 + y1) / 2.0).floor());
            let d = MIN_CELL_PX as i64;
            canvas.fill_rect(cx as i64 - d / 2, cy as i64 - d / 2, d, d, colour);
            continue;
        }
        canvas.fill_polygon(&pts, colour);
        if x1 - x0 >= 16.0 {
            for w in pts.windows(2) {
                canvas.line(w[0], w[1], OUTLINE);
            }
        }
    }
    let (l, t) = (frame.left as i64, frame.top as i64);
    let (w, h) = (frame.width as i64, frame.height as i64);
    canvas.stroke_rect(l - 1, t - 1, w + 2, h + 2, FRAME);
    draw_axes(&mut canvas, &frame);
    draw_title(&mut canvas, map);
    draw_legend(&mut canvas, map, &frame, lo, hi);
    encode(&canvas, map, &frame)
}

fn draw_axes(canvas: &mut Canvas, frame: &Frame) {
    let (l, t) = (frame.left as i64, frame.top as i64);
    let (r, b) = (l + frame.width as i64, t + frame.height as i64);
    let glyph_h = (7 * TEXT) as i64;
    let (lons, dx) = ticks(frame.west, frame.east(), (frame.width / 160.0) as usize);
    for lon in lons {
        let x = frame.x(lon).floor() as i64;
        canvas.fill_rect(x, b + 1, 1, 6, FRAME);
        let text = format!("{lon:.dx$}°");
        let tw = super::font::text_width(&text, TEXT) as i64;
        let right = canvas.width as i64 - tw;
        canvas.text((x - tw / 2).min(right).max(0), b + 12, &text, TEXT, INK);
    }
    let caption = "longitude (°E)";
    let cw = super::font::text_width(caption, TEXT) as i64;
    canvas.text((l + r - cw) / 2, b + 36, caption, TEXT, INK);

    let (lats, dy) = ticks(
        frame.south(),
        frame.north,
        (frame.height / 90.0).max(2.0) as usize,
    );
    for lat in lats {
        let y = frame.y(lat).floor() as i64;
        canvas.fill_rect(l - 7, y, 6, 1, FRAME);
        let text = format!("{lat:.dy$}°");
        let tw = super::font::text_width(&text, TEXT) as i64;
        canvas.text((l - 12 - tw).max(0), y - glyph_h / 2, &text, TEXT, INK);
    }
    canvas.text(8, t - 24, "latitude (°N)", TEXT, INK);
}

fn draw_title(canvas: &mut Canvas, map: &Heatmap) {
    let title = format!(
        "heatmap {} | window {} | grid {} | {} cells",
        map.metric,
        rfc3339(map.window_start),
        map.grid,
        map.cells.len()
    );
    let scale = if super::font::text_width(&title, TEXT) + 16 <= canvas.width {
        TEXT
    } else {
        1
    };
    let tw = super::font::text_width(&title, scale) as i64;
    canvas.text(
        ((canvas.width as i64 - tw) / 2).max(4),
        12,
        &title,
        scale,
        INK,
    );
}

fn draw_legend(canvas: &mut Canvas, map: &Heatmap, frame: &Frame, lo: f64, hi: f64) {
    let (l, y) = (frame.left as i64, (frame.top + frame.height) as i64 + 70);
    let bar_w = (frame.width as i64).min(480);
    for i in 0..bar_w {
        let colour = colour_at(i as f64 / (bar_w - 1).max(1) as f64);
        canvas.fill_rect(l + i, y, 1, 18, colour);
    }
    canvas.stroke_rect(l - 1, y - 1, bar_w + 2, 20, FRAME);
    canvas.text(l, y + 26, &label(lo), TEXT, INK);
    let max = label(hi);
    let mw = super::font::text_width(&max, TEXT) as i64;
    canvas.text(l + bar_w - mw, y + 26, &max, TEXT, INK);
    let caption = format!("{} per cell: {}", map.value_column().name(), map.metric);
    canvas.text(l + bar_w + 20, y + 2, &caption, TEXT, INK);
}

fn encode(canvas: &Canvas, map: &Heatmap, frame: &Frame) -> Result<RenderedPng, RenderError> {
    let err = |e: ::png::EncodingError| RenderError::Output(format!("PNG: {e}"));
    let (width, height) = (canvas.width as u32, canvas.height as u32);
    let mut bytes = Vec::new();
    {
        let mut enc = ::png::Encoder::new(&mut bytes, width, height);
        enc.set_color(::png::ColorType::Rgb);
        enc.set_depth(::png::BitDepth::Eight);
        let title = format!(
            "heatmap {} {} {}",
            map.metric,
            rfc3339(map.window_start),
            map.grid
        );
        enc.add_text_chunk("Title".into(), title).map_err(err)?;
        enc.add_text_chunk("Software".into(), "msec".into())
            .map_err(err)?;
        enc.add_text_chunk(PLOT_TEXT_KEY.into(), frame.georeference())
            .map_err(err)?;
        let mut w = enc.write_header().map_err(err)?;
        w.write_image_data(&canvas.rgb).map_err(err)?;
        w.finish().map_err(err)?;
    }
    Ok(RenderedPng {
        bytes,
        width,
        height,
    })
}
