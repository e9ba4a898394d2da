//! From one Helium uplink frame to readings or dead letters.
//!
//! [`FrameDecoder::decode`] runs the frame-level checks in a fixed order and stops at the
//! first that fails, so a rejected frame has exactly one dead letter with one reason:
//!
//! 1. `parse` — not UTF-8, not one JSON object, trailing garbage, a duplicate key (checked
//!    when the line is read, [`parse`]); the raw `payload` not base64 or not Elsys TLV when
//!    it has to be decoded (step 6);
//! 2. `missing_field` — `dev_eui`, `fcnt` or `payload` absent or `null`, `dev_eui` empty,
//!    neither `reported_at` nor `_timestamp`, only one of `_devLocation`'s
//!    `latitude`/`longitude`;
//! 3. `invalid_type` — `dev_eui`/`payload` not strings, `fcnt` not a non-negative integer,
//!    the event time not an integer, `decoded`/`decoded.payload`/`_devLocation` not
//!    objects, a coordinate not a number;
//! 4. `duplicate` — the same (`dev_eui`, `fcnt`, `payload`) as one of the device's last
//!    [`RECENT`] distinct frames (see below);
//! 5. `out_of_range` — event time before 2000, latitude/longitude out of range;
//!    `future_ts` — event time more than `max_future_ms` after the wall clock;
//! 6. `missing_field` — no measurement msec maps: the decoded payload is `{}` (the port-6
//!    settings frame), or it has none of temperature, humidity, x/y/z;
//! 7. `late` — the frame's event time is below the source's watermark: one dead letter for
//!    the whole frame.
//!
//! Between 6 and 7 each measurement is checked on its own: a value that is not a number is
//! `invalid_type`, one outside its kind's range `out_of_range` ([`SensorKind::accepts`]);
//! such a value-level dead letter rejects that value only, and the frame's other values
//! still become readings. Only frames with at least one reading advance the watermark.
//!
//! **Duplicates.** Helium re-delivers uplinks: the same frame counter and payload again,
//! seconds to minutes later, once even after a 48-day gap. The key includes the payload, so
//! a frame-counter reset (a re-join restarts `fcnt` at 0) never makes new frames look like
//! old ones. The memory is bounded by count, not time: the last [`RECENT`] distinct keys per
//! device (a time horizon short enough to bound memory would miss the re-deliveries after
//! long gaps). A frame dead-lettered for another reason after step 4 is remembered too: its
//! copies are `duplicate`, its data accounted for once.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use msec_engine::DeadLetterReason::{Duplicate, InvalidType, Late, MissingField, Parse};
use msec_engine::intern::InternCache;
use msec_engine::time::{Arrival, WatermarkTracker};
use msec_engine::{DeadLetter, ReadingBatch, SensorKind};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::measure::{in_range, measures};
use crate::validate::{Reject, check_event_time, check_position, excerpt, reject};

/// Distinct frames remembered per device for the duplicate check.
pub const RECENT: usize = 16;

/// The fields of a frame msec reads; every other field is skipped unparsed.
#[derive(Debug, Deserialize)]
pub(crate) struct Wire {
    dev_eui: Option<Value>,
    fcnt: Option<Value>,
    pub(crate) payload: Option<Value>,
    pub(crate) port: Option<Value>,
    reported_at: Option<Value>,
    #[serde(rename = "_timestamp")]
    timestamp: Option<Value>,
    decoded: Option<Value>,
    #[serde(rename = "_devLocation")]
    location: Option<Value>,
}

impl Wire {
    /// The event time to merge inputs by: `reported_at`, else `_timestamp`, else
    /// `i64::MIN` (taken as soon as it is read).
    pub(crate) fn order_ts(&self) -> i64 {
        match (&self.reported_at, &self.timestamp) {
            (Some(t), _) | (None, Some(t)) => t.as_i64().unwrap_or(i64::MIN),
            (None, None) => i64::MIN,
        }
    }
}

/// Step 1: parses a line (without its newline).
pub(crate) fn parse(line: &[u8]) -> Result<Wire, Reject> {
    serde_json::from_slice(line).map_err(|e| reject(Parse, None, format!("not a frame: {e}")))
}

/// Where a frame came from.
pub(crate) struct At<'a> {
    /// Index of the input among the source's inputs.
    pub input: usize,
    /// The input's name.
    pub source: &'a Arc<str>,
    /// 1-based line number.
    pub line: u64,
    /// Wall clock, epoch ms.
    pub now: i64,
}

/// A frame remembered for the duplicate check.
struct Seen {
    fcnt: u64,
    payload: Box<str>,
    input: usize,
    line: u64,
    ts: i64,
}

/// Validates the frames of one source (all its inputs) into readings and dead letters.
pub(crate) struct FrameDecoder {
    devices: InternCache,
    prefix: String,
    tracker: WatermarkTracker,
    max_future_ms: i64,
    sources: Vec<Arc<str>>,
    recent: HashMap<String, VecDeque<Seen>>,
    name: String,
}

/// A frame that passed steps 1–5.
struct Checked {
    dev_eui: String,
    ts: i64,
    lat: Option<f64>,
    lon: Option<f64>,
}

impl FrameDecoder {
    /// A decoder for the inputs named `sources`, naming devices `prefix` + `dev_eui`.
    pub(crate) fn new(
        devices: InternCache,
        prefix: String,
        sources: Vec<Arc<str>>,
        lateness_ms: u64,
        max_future_ms: u64,
    ) -> Self {
        Self {
            devices,
            prefix,
            tracker: WatermarkTracker::new(lateness_ms),
            max_future_ms: i64::try_from(max_future_ms).unwrap_or(i64::MAX),
            sources,
            recent: HashMap::new(),
            name: String::new(),
        }
    }

    /// Sets the device name prefix.
    pub(crate) fn set_prefix(&mut self, prefix: String) {
        self.prefix = prefix;
    }

    /// The source's current watermark.
    pub(crate) fn watermark(&self) -> Option<i64> {
        self.tracker.watermark()
    }

    /// Decodes one frame: appends its readings to `out` and its dead letters to `dead`;
    /// returns how many readings it gave.
    pub(crate) fn decode(
        &mut self,
        frame: Result<Wire, Reject>,
        raw: &[u8],
        at: &At<'_>,
        out: &mut ReadingBatch,
        dead: &mut Vec<DeadLetter>,
    ) -> usize {
        let letter = |r: Reject| r.into_dead_letter(at.source, raw, at.line, at.now);
        let (wire, checked) = match frame.and_then(|w| self.check(&w, at).map(|c| (w, c))) {
            Ok(ok) => ok,
            Err(r) => {
                dead.push(letter(r));
                return 0;
            }
        };
        let ts = Some(checked.ts);
        let measures = match measures(&wire, ts) {
            Ok(m) => m,
            Err(r) => {
                dead.push(letter(r));
                return 0;
            }
        };
        // Value-level checks.
        let mut values: [(SensorKind, f64); 3] = [(SensorKind::Temperature, 0.0); 3];
        let mut n = 0;
        let mut rejected = 0;
        for (kind, value) in measures {
            match value.and_then(|v| in_range(kind, v, ts)) {
                Ok(v) => {
                    values[n] = (kind, v);
                    n += 1;
                }
                Err(r) => {
                    dead.push(letter(r));
                    rejected += 1;
                }
            }
        }
        if n == 0 {
            if rejected == 0 {
                let detail = format!(
                    "no temperature, humidity or x/y/z in the payload (port {})",
                    describe(wire.port.as_ref())
                );
                dead.push(letter(reject(MissingField, ts, detail)));
            }
            return 0;
        }
        // 7. late
        let wm = self.tracker.watermark();
        if self.tracker.observe(checked.ts) == Arrival::Late {
            let detail = format!(
                "ts {} is below the watermark {}",
                checked.ts,
                wm.unwrap_or(i64::MIN)
            );
            dead.push(letter(reject(Late, ts, detail)));
            return 0;
        }
        self.name.clear();
        self.name.push_str(&self.prefix);
        self.name.push_str(&checked.dev_eui);
        let device = self.devices.intern(&self.name);
        for &(kind, value) in &values[..n] {
            out.push(
                device,
                kind,
                checked.ts,
                value,
                checked.lat,
                checked.lon,
                at.now,
                at.line,
            );
        }
        n
    }

    /// Steps 2–5.
    fn check(&mut self, w: &Wire, at: &At<'_>) -> Result<Checked, Reject> {
        // 2. missing_field
        let time = w.reported_at.as_ref().or(w.timestamp.as_ref());
        let ts_known = time.and_then(Value::as_i64);
        let missing = |what: String| reject(MissingField, ts_known, what);
        for (name, v) in [
            ("dev_eui", &w.dev_eui),
            ("fcnt", &w.fcnt),
            ("payload", &w.payload),
        ] {
            if v.is_none() {
                return Err(missing(format!("field `{name}` is missing or null")));
            }
        }
        if w.dev_eui.as_ref().and_then(Value::as_str) == Some("") {
            return Err(missing("field `dev_eui` is empty".into()));
        }
        let Some(time) = time else {
            return Err(missing(
                "neither `reported_at` nor `_timestamp` is given".into(),
            ));
        };
        let loc = match &w.location {
            None => None,
            Some(Value::Object(m)) => Some(m),
            Some(v) => return Err(wrong_type("_devLocation", "an object", v, ts_known)),
        };
        let (lat, lon) = match loc.map(|m| (non_null(m, "latitude"), non_null(m, "longitude"))) {
            None | Some((None, None)) => (None, None),
            Some((Some(_), None)) => {
                return Err(missing("`latitude` given without `longitude`".into()));
            }
            Some((None, Some(_))) => {
                return Err(missing("`longitude` given without `latitude`".into()));
            }
            Some((Some(a), Some(b))) => (Some(a), Some(b)),
        };

        // 3. invalid_type
        let ty = |name, what, v: &Value| wrong_type(name, what, v, ts_known);
        let dev = w.dev_eui.as_ref().map_or(&Value::Null, |v| v);
        let dev_eui = dev.as_str().ok_or_else(|| ty("dev_eui", "a string", dev))?;
        let f = w.fcnt.as_ref().map_or(&Value::Null, |v| v);
        let fcnt = f
            .as_u64()
            .ok_or_else(|| ty("fcnt", "a non-negative integer", f))?;
        let p = w.payload.as_ref().map_or(&Value::Null, |v| v);
        let payload = p.as_str().ok_or_else(|| ty("payload", "a string", p))?;
        let name = if w.reported_at.is_some() {
            "reported_at"
        } else {
            "_timestamp"
        };
        let ts = time
            .as_i64()
            .ok_or_else(|| ty(name, "integer epoch ms", time))?;
        match &w.decoded {
            None | Some(Value::Object(_)) => {}
            Some(v) => return Err(ty("decoded", "an object", v)),
        }
        if let Some(v) = decoded_payload(w).filter(|v| !v.is_object()) {
            return Err(ty("decoded.payload", "an object", v));
        }
        let lat = lat.map(|v| {
            v.as_f64()
                .ok_or_else(|| ty("_devLocation.latitude", "a number", v))
        });
        let lon = lon.map(|v| {
            v.as_f64()
                .ok_or_else(|| ty("_devLocation.longitude", "a number", v))
        });
        let (lat, lon) = (lat.transpose()?, lon.transpose()?);

        // 4. duplicate
        let dev_eui = dev_eui.to_ascii_uppercase();
        let recent = self.recent.entry(dev_eui.clone()).or_default();
        if let Some(first) = recent
            .iter()
            .find(|s| s.fcnt == fcnt && *s.payload == *payload)
        {
            let detail = format!(
                "same dev_eui {dev_eui}, fcnt {fcnt} and payload as line {} of {} ({:+} ms)",
                first.line,
                self.sources[first.input],
                ts.saturating_sub(first.ts)
            );
            return Err(reject(Duplicate, Some(ts), detail));
        }
        if recent.len() == RECENT {
            recent.pop_front();
        }
        recent.push_back(Seen {
            fcnt,
            payload: payload.into(),
            input: at.input,
            line: at.line,
            ts,
        });

        // 5. out_of_range, future_ts
        check_event_time(ts, at.now, self.max_future_ms)?;
        check_position(lat, lon, Some(ts))?;
        Ok(Checked {
            dev_eui,
            ts,
            lat,
            lon,
        })
    }
}

/// `decoded.payload` when present and not `null`.
pub(crate) fn decoded_payload(w: &Wire) -> Option<&Value> {
    match &w.decoded {
        Some(Value::Object(d)) => d.get("payload").filter(|v| !v.is_null()),
        _ => None,
    }
}

fn non_null<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    m.get(key).filter(|v| !v.is_null())
}

pub(crate) fn wrong_type(name: &str, what: &str, v: &Value, ts: Option<i64>) -> Reject {
    let got = describe(Some(v));
    reject(
        InvalidType,
        ts,
        format!("field `{name}` must be {what}, got {got}"),
    )
}

/// A short description of a JSON value for a detail.
pub(crate) fn describe(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "none".into(),
        Some(Value::String(s)) => format!("string {:?}", excerpt(s)),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => format!("boolean {b}"),
        Some(Value::Array(_)) => "an array".into(),
        Some(Value::Object(_)) => "an object".into(),
    }
}
