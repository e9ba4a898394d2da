//! From one delimited row to readings or dead letters, through a compiled [`CsvMapping`].
//!
//! Checks run in a fixed order and stop at the first failure, so every rejected row (or
//! cell) has exactly one reason:
//!
//! 1. `parse` — not UTF-8; an unterminated quote or text after a closing quote; fewer fields
//!    than the mapping's highest column needs (extra fields are ignored);
//! 2. `missing_field` — an empty time (any of the time columns), channel or value cell; only
//!    one of lat/lon given;
//! 3. `invalid_type` — the time not in the mapping's format; (after 4) a value that is
//!    neither in the channel's `values` table nor a number; lat/lon not numbers;
//! 4. `unknown_sensor` — a channel absent from the mapping (the detail says so, or quotes the
//!    mapping's `rejected` entry for channels known not to be readings);
//! 5. `out_of_range` — the (scaled) value outside its kind's range or not finite; lat/lon
//!    outside WGS84; the time before 2000-01-01Z or beyond `i64` ms;
//! 6. `future_ts` — the time more than `max_future_ms` after the wall clock;
//! 7. `late` — below the watermark ([`WatermarkTracker::observe`]), as in the JSONL source.
//!
//! The channel is looked up (4) before the value is read (3) because the channel says how.
//! A reading without a row position takes its channel's fixed `lat` / `lon`, if any.
//! In a **wide** layout the row-level checks (parse, time, position, future) give one dead
//! letter for the row; a bad cell gives one dead letter for that cell (raw = the row, detail
//! names the column) and the row's other cells still become readings.
//!
//! [`CsvMapping`]: super::CsvMapping

use std::sync::Arc;

use msec_engine::intern::InternCache;
use msec_engine::time::{Arrival, WatermarkTracker};
use msec_engine::{DeadLetter, DeadLetterReason, ReadingBatch};

use super::mapping::{Compiled, CompiledChannel, CompiledLayout};
use super::row::Fields;
use super::time::TimeError;
use crate::validate::{Reject, check_event_time, check_position, excerpt, reject};

/// Validates rows of one source.
#[derive(Debug)]
pub(crate) struct Decoder {
    source: Arc<str>,
    map: Compiled,
    devices: InternCache,
    /// Interned device id per channel, filled on the channel's first valid reading.
    device_ids: Vec<Option<u32>>,
    tracker: WatermarkTracker,
    max_future_ms: i64,
    fields: Fields,
    /// The time text of several time columns, joined with spaces (reused).
    time_text: String,
}

/// The row-level part of a reading.
#[derive(Clone, Copy)]
struct RowCtx {
    ts: i64,
    lat: Option<f64>,
    lon: Option<f64>,
    now: i64,
    offset: u64,
}

impl Decoder {
    pub(crate) fn new(
        source: Arc<str>,
        map: Compiled,
        devices: InternCache,
        lateness_ms: u64,
        max_future_ms: u64,
    ) -> Self {
        Self {
            source,
            device_ids: vec![None; map.channels.len()],
            map,
            devices,
            tracker: WatermarkTracker::new(lateness_ms),
            max_future_ms: i64::try_from(max_future_ms).unwrap_or(i64::MAX),
            fields: Fields::default(),
            time_text: String::new(),
        }
    }

    /// The source's current watermark.
    pub(crate) fn watermark(&self) -> Option<i64> {
        self.tracker.watermark()
    }

    /// Readings one row can produce at most.
    pub(crate) fn max_per_row(&self) -> usize {
        match &self.map.layout {
            CompiledLayout::Long { .. } => 1,
            CompiledLayout::Wide { columns, .. } => columns.len(),
        }
    }

    /// Splits a header row; `None` on a row that cannot be split.
    pub(crate) fn split_header(line: &[u8], delimiter: u8, quote: bool) -> Option<Fields> {
        let text = std::str::from_utf8(line).ok()?;
        let mut f = Fields::default();
        f.split(text, delimiter, quote).ok()?;
        Some(f)
    }

    /// Decodes `line` (without its line ending) at 1-based line `offset`.
    pub(crate) fn decode(
        &mut self,
        line: &[u8],
        offset: u64,
        now: i64,
        out: &mut ReadingBatch,
        dead: &mut Vec<DeadLetter>,
    ) {
        let ctx = match self.row(line, offset, now) {
            Ok(ctx) => ctx,
            Err(r) => return dead.push(self.dead_letter(line, offset, now, r)),
        };
        match &self.map.layout {
            CompiledLayout::Long { sensor, value } => {
                let (sensor, value) = (*sensor, *value);
                match self.long(sensor, value, ctx) {
                    Ok((ch, v)) => self.accept(ch, v, ctx, out, dead, line, None),
                    Err(r) => dead.push(self.dead_letter(line, offset, now, r)),
                }
            }
            CompiledLayout::Wide {
                columns,
                skip_empty,
            } => {
                let skip_empty = *skip_empty;
                for k in 0..columns.len() {
                    let (col, ch) = match &self.map.layout {
                        CompiledLayout::Wide { columns, .. } => columns[k],
                        CompiledLayout::Long { .. } => return,
                    };
                    let cell = self.fields.get(col).unwrap_or("");
                    if cell.is_empty() && skip_empty {
                        continue;
                    }
                    let result = if cell.is_empty() {
                        Err(reject(
                            DeadLetterReason::MissingField,
                            Some(ctx.ts),
                            format!("column {} is empty", col + 1),
                        ))
                    } else {
                        value_of(&self.map.channels[ch], cell, ctx.ts)
                    };
                    match result {
                        Ok(v) => self.accept(ch, v, ctx, out, dead, line, Some(col)),
                        Err(mut r) => {
                            r.detail = format!("column {}: {}", col + 1, r.detail);
                            dead.push(self.dead_letter(line, offset, now, r));
                        }
                    }
                }
            }
        }
    }

    /// Range and lateness checks of one value, then the push. `col` names the wide column
    /// in details.
    #[allow(clippy::too_many_arguments)]
    fn accept(
        &mut self,
        ch: usize,
        value: f64,
        ctx: RowCtx,
        out: &mut ReadingBatch,
        dead: &mut Vec<DeadLetter>,
        line: &[u8],
        col: Option<usize>,
    ) {
        let at = |detail: String| match col {
            Some(c) => format!("column {}: {detail}", c + 1),
            None => detail,
        };
        let c = &self.map.channels[ch];
        let (lat, lon) = match (ctx.lat, ctx.lon, c.position) {
            (None, None, Some((lat, lon))) => (Some(lat), Some(lon)),
            (lat, lon, _) => (lat, lon),
        };
        if !c.kind.accepts(value) {
            let (lo, hi) = c.kind.range();
            let r = reject(
                DeadLetterReason::OutOfRange,
                Some(ctx.ts),
                at(format!("value {value} outside [{lo}, {hi}] for {}", c.kind)),
            );
            return dead.push(self.dead_letter(line, ctx.offset, ctx.now, r));
        }
        let wm = self.tracker.watermark();
        if self.tracker.observe(ctx.ts) == Arrival::Late {
            let r = reject(
                DeadLetterReason::Late,
                Some(ctx.ts),
                at(format!(
                    "ts {} is below the watermark {}",
                    ctx.ts,
                    wm.unwrap_or(i64::MIN)
                )),
            );
            return dead.push(self.dead_letter(line, ctx.offset, ctx.now, r));
        }
        let kind = c.kind;
        let device = match self.device_ids[ch] {
            Some(id) => id,
            None => {
                let id = self.devices.intern(&self.map.channels[ch].device);
                self.device_ids[ch] = Some(id);
                id
            }
        };
        out.push(device, kind, ctx.ts, value, lat, lon, ctx.now, ctx.offset);
    }

    /// Row-level checks: split, field count, time, position, future.
    fn row(&mut self, line: &[u8], offset: u64, now: i64) -> Result<RowCtx, Reject> {
        use DeadLetterReason::*;
        let text = std::str::from_utf8(line).map_err(|e| {
            reject(
                Parse,
                None,
                format!("not UTF-8 (invalid byte at byte {})", e.valid_up_to() + 1),
            )
        })?;
        let m = &self.map;
        self.fields
            .split(text, m.delimiter, m.quote)
            .map_err(|(col, what)| reject(Parse, None, format!("{what} at column {col}")))?;
        let f = &self.fields;
        if f.len() < m.min_fields {
            return Err(reject(
                Parse,
                None,
                format!(
                    "{} field(s) separated by {:?}, the mapping needs at least {}",
                    f.len(),
                    m.delimiter as char,
                    m.min_fields
                ),
            ));
        }
        let cell = |i: usize| f.get(i).unwrap_or("");
        if let Some(&c) = m.time_cols.iter().find(|&&c| cell(c).is_empty()) {
            return Err(reject(
                MissingField,
                None,
                format!("time column {} is empty", c + 1),
            ));
        }
        let ts_cell = match m.time_cols.as_slice() {
            [c] => cell(*c),
            cols => {
                self.time_text.clear();
                for (k, &c) in cols.iter().enumerate() {
                    if k > 0 {
                        self.time_text.push(' ');
                    }
                    self.time_text.push_str(cell(c));
                }
                self.time_text.as_str()
            }
        };
        let ts = m.time.parse(ts_cell);
        let ts_known = ts.ok();
        if let CompiledLayout::Long { sensor, value } = m.layout {
            for (i, what) in [(sensor, "channel"), (value, "value")] {
                if cell(i).is_empty() {
                    return Err(reject(
                        MissingField,
                        ts_known,
                        format!("{what} column {} is empty", i + 1),
                    ));
                }
            }
        }
        let position = match m.position {
            Some((a, o)) => match (cell(a), cell(o)) {
                ("", "") => None,
                ("", _) => {
                    return Err(reject(MissingField, ts_known, "lon without lat".into()));
                }
                (_, "") => {
                    return Err(reject(MissingField, ts_known, "lat without lon".into()));
                }
                (a, o) => Some((a, o)),
            },
            None => None,
        };
        let ts = match ts {
            Ok(t) => Ok(t),
            Err(TimeError::Overflow) => Err(()),
            Err(TimeError::Invalid) => {
                return Err(reject(
                    InvalidType,
                    None,
                    format!("time {:?} is not {}", excerpt(ts_cell), m.time.describe()),
                ));
            }
        };
        let (lat, lon) = match position {
            Some((a, o)) => {
                let num = |s: &str, what: &str| {
                    s.parse::<f64>().map_err(|_| {
                        reject(
                            InvalidType,
                            ts_known,
                            format!("{what} {:?} is not a number", excerpt(s)),
                        )
                    })
                };
                (Some(num(a, "lat")?), Some(num(o, "lon")?))
            }
            None => (None, None),
        };
        check_position(lat, lon, ts_known)?;
        let Ok(ts) = ts else {
            return Err(reject(
                OutOfRange,
                None,
                format!("time {:?} does not fit epoch ms", excerpt(ts_cell)),
            ));
        };
        check_event_time(ts, now, self.max_future_ms)?;
        Ok(RowCtx {
            ts,
            lat,
            lon,
            now,
            offset,
        })
    }

    /// The channel and value of a long row.
    fn long(&self, sensor: usize, value: usize, ctx: RowCtx) -> Result<(usize, f64), Reject> {
        let name = self.fields.get(sensor).unwrap_or("");
        let Some(&ch) = self.map.by_name.get(name) else {
            let detail = match self.map.rejected_detail(name) {
                Some(why) => format!("channel {:?} is not a reading: {why}", excerpt(name)),
                None => format!("channel {:?} is not in the mapping", excerpt(name)),
            };
            return Err(reject(
                DeadLetterReason::UnknownSensor,
                Some(ctx.ts),
                detail,
            ));
        };
        let cell = self.fields.get(value).unwrap_or("");
        Ok((ch, value_of(&self.map.channels[ch], cell, ctx.ts)?))
    }

    fn dead_letter(&self, raw: &[u8], offset: u64, now: i64, r: Reject) -> DeadLetter {
        r.into_dead_letter(&self.source, raw, offset, now)
    }

    /// A dead letter for a row rejected outside [`decode`](Self::decode) (too long).
    pub(crate) fn dead_letter_parse(
        &self,
        raw: &[u8],
        offset: u64,
        now: i64,
        detail: String,
    ) -> DeadLetter {
        self.dead_letter(
            raw,
            offset,
            now,
            reject(DeadLetterReason::Parse, None, detail),
        )
    }
}

/// The number a channel's raw cell stands for: its `values` entry, or a scaled number.
fn value_of(c: &CompiledChannel, cell: &str, ts: i64) -> Result<f64, Reject> {
    if let Some(&v) = c.values.get(cell) {
        return Ok(v);
    }
    match cell.parse::<f64>() {
        Ok(v) => Ok(v * c.scale),
        Err(_) => Err(reject(
            DeadLetterReason::InvalidType,
            Some(ts),
            format!("value {:?} is not a number", excerpt(cell)),
        )),
    }
}
