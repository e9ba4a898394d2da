//! From one line to a validated reading or a dead letter.
//!
//! [`Decoder::decode`] runs the checks in a fixed order and stops at the first that fails,
//! so every rejected line has exactly one reason:
//!
//! 1. `parse` — not UTF-8, not one JSON object, trailing garbage, truncated, duplicate key;
//! 2. `missing_field` — `device`, `sensor`, `ts` or `value` absent or `null`; `device` empty;
//!    only one of `lat`/`lon` given;
//! 3. `invalid_type` — `value` not a number (a numeric *string* such as `"12"` included);
//!    `ts` neither an integral number of epoch ms nor an RFC 3339 string; `device`/`sensor`
//!    not strings; `lat`/`lon` not numbers;
//! 4. `unknown_sensor` — `sensor` not a [`SensorKind`] name;
//! 5. `out_of_range` — value outside [`SensorKind::accepts`] or not finite (`1e400`);
//!    `lat ∉ [-90, 90]`, `lon ∉ [-180, 180]`; `ts` before 2000-01-01T00:00:00Z or beyond `i64`;
//! 6. `future_ts` — `ts` more than `max_future_ms` after the wall clock;
//! 7. `late` — below the source's watermark ([`WatermarkTracker::observe`]).
//!
//! Only records that pass all of them advance the watermark. `lat`/`lon` set to `null` count
//! as absent. A `ts` number with a fraction or exponent is accepted when its value is a whole
//! number of milliseconds (`1.6e12`); RFC 3339 times with sub-millisecond digits are truncated
//! to the millisecond.

use std::sync::Arc;

use msec_engine::intern::InternCache;
use msec_engine::time::{Arrival, WatermarkTracker};
use msec_engine::{DeadLetter, DeadLetterReason, ReadingBatch, SensorKind};

use msec_engine::report::ReportBatch;

use super::report::looks_like_report;
use super::scan::{JStr, Val, scan_object, unescape_into};
use crate::validate::{Reject, check_event_time, check_position, check_value, excerpt, reject};

/// Validates lines of one source into a [`ReadingBatch`] and dead letters.
#[derive(Debug)]
pub(crate) struct Decoder {
    source: Arc<str>,
    devices: InternCache,
    tracker: WatermarkTracker,
    max_future_ms: i64,
    key_scratch: String,
    str_scratch: String,
}

/// `device` and `sensor` read from a message's topic, used where the payload lacks them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TopicFields<'a> {
    /// The device named by the topic.
    pub device: Option<&'a str>,
    /// The sensor named by the topic.
    pub sensor: Option<&'a str>,
}

/// A line that passed validation up to (not including) the lateness check.
struct Valid {
    device: u32,
    sensor: SensorKind,
    ts: i64,
    value: f64,
    lat: Option<f64>,
    lon: Option<f64>,
}

/// The outcome of reading `ts`.
enum Ts {
    Ok(i64),
    /// A well-typed time that does not fit `i64` milliseconds.
    Overflow,
    /// Not an integral number nor an RFC 3339 string.
    Invalid,
}

impl Decoder {
    /// A decoder for the source `source`, interning devices through `devices`.
    pub(crate) fn new(
        source: Arc<str>,
        devices: InternCache,
        lateness_ms: u64,
        max_future_ms: u64,
    ) -> Self {
        Self {
            source,
            devices,
            tracker: WatermarkTracker::new(lateness_ms),
            max_future_ms: i64::try_from(max_future_ms).unwrap_or(i64::MAX),
            key_scratch: String::new(),
            str_scratch: String::new(),
        }
    }

    /// The source's current watermark.
    pub(crate) fn watermark(&self) -> Option<i64> {
        self.tracker.watermark()
    }

    /// Decodes `line` (without its newline) at 1-based line number `offset`: appends a reading
    /// to `out` or a dead letter to `dead`. `now` is the wall clock, epoch ms.
    #[cfg(test)]
    pub(crate) fn decode(
        &mut self,
        line: &[u8],
        offset: u64,
        now: i64,
        out: &mut ReadingBatch,
        dead: &mut Vec<DeadLetter>,
    ) {
        self.decode_with(line, TopicFields::default(), offset, now, out, dead);
    }

    /// Like [`decode`](Self::decode), with `device`/`sensor` taken from `topic` where the
    /// object lacks them (an MQTT topic layout such as `park/{device}/{sensor}`).
    pub(crate) fn decode_with(
        &mut self,
        line: &[u8],
        topic: TopicFields<'_>,
        offset: u64,
        now: i64,
        out: &mut ReadingBatch,
        dead: &mut Vec<DeadLetter>,
    ) {
        let result = self.validate(line, topic, now).and_then(|v| {
            let wm = self.tracker.watermark();
            match self.tracker.observe(v.ts) {
                Arrival::OnTime => Ok(v),
                Arrival::Late => Err(reject(
                    DeadLetterReason::Late,
                    Some(v.ts),
                    format!(
                        "ts {} is below the watermark {}",
                        v.ts,
                        wm.unwrap_or(i64::MIN)
                    ),
                )),
            }
        });
        match result {
            Ok(v) => out.push(v.device, v.sensor, v.ts, v.value, v.lat, v.lon, now, offset),
            Err(r) => dead.push(self.dead_letter(line, offset, now, r)),
        }
    }

    /// Like [`decode`](Self::decode), but a line that is a citizen report (see
    /// [`super::report`]) goes to `reports`.
    pub(crate) fn decode_any(
        &mut self,
        line: &[u8],
        offset: u64,
        now: i64,
        out: &mut ReadingBatch,
        reports: &mut ReportBatch,
        dead: &mut Vec<DeadLetter>,
    ) {
        self.decode_any_with(
            line,
            TopicFields::default(),
            offset,
            now,
            out,
            reports,
            dead,
        );
    }

    /// [`decode_any`](Self::decode_any) with fields from the topic (see
    /// [`decode_with`](Self::decode_with)).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn decode_any_with(
        &mut self,
        line: &[u8],
        topic: TopicFields<'_>,
        offset: u64,
        now: i64,
        out: &mut ReadingBatch,
        reports: &mut ReportBatch,
        dead: &mut Vec<DeadLetter>,
    ) {
        let before = dead.len();
        self.decode_with(line, topic, offset, now, out, dead);
        if dead.len() > before
            && dead[before].reason == DeadLetterReason::MissingField
            && dead[before].detail.contains("`device`")
            && looks_like_report(line)
        {
            dead.truncate(before);
            self.decode_report(line, offset, now, reports, dead);
        }
    }

    /// The event-time tracker (shared by readings and reports of the source).
    pub(crate) fn tracker_mut(&mut self) -> &mut WatermarkTracker {
        &mut self.tracker
    }

    /// How far ahead of the wall clock an event time may be, ms.
    pub(crate) fn max_future(&self) -> i64 {
        self.max_future_ms
    }

    /// Interns a name (device, reporter, theme).
    pub(crate) fn intern(&mut self, name: &str) -> u32 {
        self.devices.intern(name)
    }

    /// Builds a dead letter for a line rejected outside [`decode`](Self::decode) (e.g. too long).
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

    /// A dead letter for `raw` with the rejection `r`.
    pub(crate) fn dead_letter(&self, raw: &[u8], offset: u64, now: i64, r: Reject) -> DeadLetter {
        r.into_dead_letter(&self.source, raw, offset, now)
    }

    fn validate<'a>(
        &mut self,
        line: &'a [u8],
        topic: TopicFields<'a>,
        now: i64,
    ) -> Result<Valid, Reject> {
        use DeadLetterReason::*;
        // 1. parse
        let text = std::str::from_utf8(line).map_err(|e| {
            reject(
                Parse,
                None,
                format!("not UTF-8 (invalid byte at column {})", e.valid_up_to() + 1),
            )
        })?;
        let mut f = scan_object(text, &mut self.key_scratch)
            .map_err(|e| reject(Parse, None, format!("{} at column {}", e.what, e.at + 1)))?;
        let from_topic = |name: Option<&'a str>| {
            name.map(|raw| {
                Val::Str(JStr {
                    raw,
                    escaped: false,
                })
            })
        };
        if f.device.is_none() {
            f.device = from_topic(topic.device);
        }
        if f.sensor.is_none() {
            f.sensor = from_topic(topic.sensor);
        }
        let ts = f.ts.map(|v| self.read_ts(v));
        let ts_known = match ts {
            Some(Ts::Ok(t)) => Some(t),
            _ => None,
        };

        // 2. missing_field
        for (name, v) in [
            ("device", f.device),
            ("sensor", f.sensor),
            ("ts", f.ts),
            ("value", f.value),
        ] {
            match v {
                None => {
                    return Err(reject(
                        MissingField,
                        ts_known,
                        format!("field `{name}` is missing"),
                    ));
                }
                Some(Val::Null) => {
                    return Err(reject(
                        MissingField,
                        ts_known,
                        format!("field `{name}` is null"),
                    ));
                }
                _ => {}
            }
        }
        if let Some(Val::Str(JStr { raw: "", .. })) = f.device {
            return Err(reject(
                MissingField,
                ts_known,
                "field `device` is empty".into(),
            ));
        }
        let lat = f.lat.filter(|v| *v != Val::Null);
        let lon = f.lon.filter(|v| *v != Val::Null);
        match (lat, lon) {
            (Some(_), None) => {
                return Err(reject(
                    MissingField,
                    ts_known,
                    "`lat` given without `lon`".into(),
                ));
            }
            (None, Some(_)) => {
                return Err(reject(
                    MissingField,
                    ts_known,
                    "`lon` given without `lat`".into(),
                ));
            }
            _ => {}
        }

        // 3. invalid_type
        let (Some(Val::Str(device)), Some(Val::Str(sensor))) = (f.device, f.sensor) else {
            let (name, v) = if matches!(f.device, Some(Val::Str(_))) {
                ("sensor", f.sensor)
            } else {
                ("device", f.device)
            };
            return Err(reject(
                InvalidType,
                ts_known,
                format!("field `{name}` must be a string, got {}", describe(v)),
            ));
        };
        let ts = match ts {
            Some(Ts::Ok(t)) => Ok(t),
            Some(Ts::Overflow) => Err(()),
            _ => {
                return Err(reject(
                    InvalidType,
                    None,
                    format!(
                        "field `ts` must be integer epoch ms or an RFC 3339 string, got {}",
                        describe(f.ts)
                    ),
                ));
            }
        };
        let value = number(f.value).ok_or_else(|| {
            reject(
                InvalidType,
                ts_known,
                format!("field `value` must be a number, got {}", describe(f.value)),
            )
        })?;
        let lat = match lat {
            Some(v) => Some(number(Some(v)).ok_or_else(|| {
                reject(
                    InvalidType,
                    ts_known,
                    format!("field `lat` must be a number, got {}", describe(Some(v))),
                )
            })?),
            None => None,
        };
        let lon = match lon {
            Some(v) => Some(number(Some(v)).ok_or_else(|| {
                reject(
                    InvalidType,
                    ts_known,
                    format!("field `lon` must be a number, got {}", describe(Some(v))),
                )
            })?),
            None => None,
        };

        // 4. unknown_sensor
        let sensor_name = if sensor.escaped {
            unescape_into(sensor.raw, &mut self.str_scratch);
            self.str_scratch.as_str()
        } else {
            sensor.raw
        };
        let Some(sensor) = SensorKind::from_name(sensor_name) else {
            return Err(reject(
                UnknownSensor,
                ts_known,
                format!("unknown sensor {:?}", excerpt(sensor_name)),
            ));
        };

        // 5. out_of_range
        check_value(sensor, value, ts_known)?;
        check_position(lat, lon, ts_known)?;
        let Ok(ts) = ts else {
            return Err(reject(
                OutOfRange,
                None,
                format!("ts {} does not fit epoch ms", describe(f.ts)),
            ));
        };
        check_event_time(ts, now, self.max_future_ms)?;

        // Valid: intern the device last, so rejected lines never grow the interner.
        let device_name = if device.escaped {
            unescape_into(device.raw, &mut self.str_scratch);
            self.str_scratch.as_str()
        } else {
            device.raw
        };
        let device = self.devices.intern(device_name);
        Ok(Valid {
            device,
            sensor,
            ts,
            value,
            lat,
            lon,
        })
    }

    fn read_ts(&mut self, v: Val<'_>) -> Ts {
        match v {
            Val::Num(text) => {
                if !text.bytes().any(|b| matches!(b, b'.' | b'e' | b'E')) {
                    // Grammar-checked digits: the only failure left is overflow.
                    return text.parse::<i64>().map_or(Ts::Overflow, Ts::Ok);
                }
                match text.parse::<f64>() {
                    Ok(x) if x.is_finite() && x.fract() == 0.0 => {
                        // 2^63 is exactly representable: anything in [-2^63, 2^63) fits.
                        if (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&x)
                        {
                            Ts::Ok(x as i64)
                        } else {
                            Ts::Overflow
                        }
                    }
                    Ok(x) if x.is_infinite() => Ts::Overflow,
                    _ => Ts::Invalid,
                }
            }
            Val::Str(s) => {
                let text = if s.escaped {
                    unescape_into(s.raw, &mut self.str_scratch);
                    self.str_scratch.as_str()
                } else {
                    s.raw
                };
                chrono::DateTime::parse_from_rfc3339(text)
                    .map_or(Ts::Invalid, |t| Ts::Ok(t.timestamp_millis()))
            }
            _ => Ts::Invalid,
        }
    }
}

/// The value of a JSON number field, or `None` if it is not a number.
fn number(v: Option<Val<'_>>) -> Option<f64> {
    match v {
        Some(Val::Num(text)) => text.parse::<f64>().ok(),
        _ => None,
    }
}

/// A short description of a field's value for a dead letter's detail.
fn describe(v: Option<Val<'_>>) -> String {
    match v {
        None => "nothing".into(),
        Some(Val::Str(s)) => format!("string {:?}", excerpt(s.raw)),
        Some(Val::Num(n)) => format!("number {}", excerpt(n)),
        Some(Val::Bool(b)) => format!("boolean {b}"),
        Some(other) => other.type_name().into(),
    }
}

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;
