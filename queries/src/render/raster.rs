//! A small RGB canvas: rectangles, lines, text in the bitmap font, and polygons filled by
//! scanline.
//!
//! Polygons are filled with the even-odd rule, sampling each pixel at its centre: a pixel is
//! inside when its centre is. Neighbouring polygons that share an edge therefore tile without
//! gaps or overlaps, whatever their shape (squares, H3 hexagons, pentagons).

use super::font;

/// An RGB image, row-major, 3 bytes a pixel.
pub struct Canvas {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// The pixels.
    pub rgb: Vec<u8>,
}

impl Canvas {
    /// A canvas filled with `background`.
    pub fn new(width: usize, height: usize, background: [u8; 3]) -> Self {
        let mut rgb = Vec::with_capacity(width * height * 3);
        for _ in 0..width * height {
            rgb.extend_from_slice(&background);
        }
        Self { width, height, rgb }
    }

    /// Sets one pixel; outside the canvas it does nothing.
    pub fn put(&mut self, x: i64, y: i64, c: [u8; 3]) {
        if x >= 0 && y >= 0 && (x as usize) < self.width && (y as usize) < self.height {
            let i = (y as usize * self.width + x as usize) * 3;
            self.rgb[i..i + 3].copy_from_slice(&c);
        }
    }

    /// The pixel at `(x, y)`.
    #[cfg(test)]
    pub fn get(&self, x: usize, y: usize) -> [u8; 3] {
        let i = (y * self.width + x) * 3;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }

    /// Fills the rectangle of `w × h` pixels whose top-left pixel is `(x, y)`.
    pub fn fill_rect(&mut self, x: i64, y: i64, w: i64, h: i64, c: [u8; 3]) {
        for yy in y..y + h {
            for xx in x..x + w {
                self.put(xx, yy, c);
            }
        }
    }

    /// The outline of a `w × h` rectangle, one pixel wide, inside it.
    pub fn stroke_rect(&mut self, x: i64, y: i64, w: i64, h: i64, c: [u8; 3]) {
        self.fill_rect(x, y, w, 1, c);
        self.fill_rect(x, y + h - 1, w, 1, c);
        self.fill_rect(x, y, 1, h, c);
        self.fill_rect(x + w - 1, y, 1, h, c);
    }

    /// A one-pixel line from `a` to `b` (pixel coordinates, centres at `.5`).
    pub fn line(&mut self, a: [f64; 2], b: [f64; 2], c: [u8; 3]) {
        let steps = (b[0] - a[0]).abs().max((b[1] - a[1]).abs()).ceil().max(1.0) as usize;
        for i in 0..=steps {
            let t = i as f64 / steps as f64;
            let x = a[0] + (b[0] - a[0]) * t;
            let y = a[1] + (b[1] - a[1]) * t;
            self.put(x.floor() as i64, y.floor() as i64, c);
        }
    }

    /// Draws `text` with its top-left corner at `(x, y)`, each font pixel `scale` pixels wide.
    pub fn text(&mut self, x: i64, y: i64, text: &str, scale: usize, c: [u8; 3]) {
        for (dx, dy) in font::pixels(text, scale) {
            self.put(x + dx as i64, y + dy as i64, c);
        }
    }

    /// Fills the polygon with vertices `points` (pixel coordinates; the ring may be open or
    /// closed) by the even-odd rule, sampling at pixel centres.
    pub fn fill_polygon(&mut self, points: &[[f64; 2]], c: [u8; 3]) {
        if points.len() < 3 {
            return;
        }
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for p in points {
            lo = lo.min(p[1]);
            hi = hi.max(p[1]);
        }
        let first_row = (lo - 0.5).ceil().max(0.0) as i64;
        let last_row = ((hi - 0.5).floor() as i64).min(self.height as i64 - 1);
        let mut xs: Vec<f64> = Vec::new();
        for row in first_row..=last_row {
            let y = row as f64 + 0.5;
            xs.clear();
            for i in 0..points.len() {
                let (a, b) = (points[i], points[(i + 1) % points.len()]);
                // Half-open in y, so a vertex on the scanline is counted once.
                if (a[1] <= y) != (b[1] <= y) {
                    xs.push(a[0] + (y - a[1]) / (b[1] - a[1]) * (b[0] - a[0]));
                }
            }
            xs.sort_by(f64::total_cmp);
            for pair in xs.chunks_exact(2) {
                let from = (pair[0] - 0.5).ceil() as i64;
                let to = (pair[1] - 0.5).ceil() as i64; // exclusive
                for x in from.max(0)..to.min(self.width as i64) {
                    self.put(x, row, c);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: [u8; 3] = [255, 255, 255];
    const R: [u8; 3] = [255, 0, 0];
    const G: [u8; 3] = [0, 255, 0];

    #[test]
    fn squares_fill_exactly_their_pixels() {
        let mut c = Canvas::new(10, 10, W);
        c.fill_polygon(&[[2.0, 2.0], [5.0, 2.0], [5.0, 4.0], [2.0, 4.0]], R);
        let filled: usize = (0..10)
            .flat_map(|y| (0..10).map(move |x| (x, y)))
            .filter(|&(x, y)| c.get(x, y) == R)
            .count();
        assert_eq!(filled, 6);
        assert_eq!(c.get(2, 2), R);
        assert_eq!(c.get(4, 3), R);
        assert_eq!(c.get(5, 3), W);
        assert_eq!(c.get(1, 2), W);
    }

    #[test]
    fn neighbours_tile_without_gaps_or_overlap() {
        let mut c = Canvas::new(20, 20, W);
        // Two triangles halving a square along its diagonal.
        c.fill_polygon(&[[1.3, 1.7], [15.2, 1.7], [15.2, 16.1]], R);
        c.fill_polygon(&[[1.3, 1.7], [15.2, 16.1], [1.3, 16.1]], G);
        let mut counts = [0usize; 3];
        let mut c2 = Canvas::new(20, 20, W);
        c2.fill_polygon(&[[1.3, 1.7], [15.2, 1.7], [15.2, 16.1], [1.3, 16.1]], R);
        for y in 0..20 {
            for x in 0..20 {
                let square = c2.get(x, y) == R;
                match c.get(x, y) {
                    p if p == R => counts[0] += 1,
                    p if p == G => counts[1] += 1,
                    _ => counts[2] += 1,
                }
                assert_eq!(square, c.get(x, y) != W, "pixel {x},{y}");
            }
        }
        assert!(counts[0] > 0 && counts[1] > 0);
    }

    #[test]
    fn text_draws_inside_its_box() {
        let mut c = Canvas::new(40, 20, W);
        c.text(1, 1, "A1", 2, R);
        let inked = c.rgb.chunks(3).filter(|p| *p == R).count();
        assert!(inked > 20);
        assert_eq!(c.get(0, 0), W);
    }
}
