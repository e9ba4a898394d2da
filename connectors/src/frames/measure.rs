//! Step 6 of the checks (see module `decode`): the measurements of a frame, from
//! `decoded.payload` when the network decoded it, else from the raw `payload` bytes (Elsys
//! TLV, module `elsys`), as (kind, value) pairs ready for their range checks.

use msec_engine::DeadLetterReason::{MissingField, Parse};
use msec_engine::SensorKind;
use serde_json::{Map, Value};

use super::decode::{Wire, decoded_payload, describe, wrong_type};
use super::elsys::{self, Measures};
use crate::validate::{Reject, check_value, reject};

/// Accelerometer counts per g (Elsys: ±2 g in a signed byte, 63 = 1 g).
pub const COUNTS_PER_G: f64 = 63.0;

/// One measurement before its range check: a number, or why it is not one.
pub(crate) type Measure = Result<f64, Reject>;

/// Step 6: the measurements of a checked frame — from `decoded.payload` when the network
/// decoded it, else from the raw `payload` bytes (Elsys TLV) — as (kind, value) pairs for the
/// kinds present. `Err` for an empty payload (`missing_field`) or unreadable bytes (`parse`).
pub(crate) fn measures(w: &Wire, ts: Option<i64>) -> Result<Vec<(SensorKind, Measure)>, Reject> {
    let port = describe(w.port.as_ref());
    let (m, bad) = match decoded_payload(w) {
        Some(Value::Object(p)) => {
            if p.is_empty() {
                let detail = format!("decoded payload is empty (port {port}): no measurement");
                return Err(reject(MissingField, ts, detail));
            }
            from_json(p, ts)
        }
        _ => {
            let text = w.payload.as_ref().and_then(Value::as_str).unwrap_or("");
            let bytes = elsys::base64(text)
                .map_err(|e| reject(Parse, ts, format!("raw `payload` is not base64: {e}")))?;
            let m = elsys::tlv(&bytes)
                .map_err(|e| reject(Parse, ts, format!("raw `payload` is not Elsys TLV: {e}")))?;
            if m == Measures::default() {
                let detail = format!("raw payload holds no measurement (port {port})");
                return Err(reject(MissingField, ts, detail));
            }
            (m, Vec::new())
        }
    };
    let mut out: Vec<(SensorKind, Measure)> = bad;
    if let Some(t) = m.temperature {
        out.push((SensorKind::Temperature, Ok(t)));
    }
    if let Some(h) = m.humidity {
        out.push((SensorKind::Humidity, Ok(h)));
    }
    if let (Some(x), Some(y), Some(z)) = (m.x, m.y, m.z) {
        out.push((
            SensorKind::Accel,
            Ok((x * x + y * y + z * z).sqrt() / COUNTS_PER_G),
        ));
    }
    Ok(out)
}

/// The measurements of a decoded payload; a mapped field that is not a number becomes an
/// `invalid_type` rejection of its kind.
fn from_json(p: &Map<String, Value>, ts: Option<i64>) -> (Measures, Vec<(SensorKind, Measure)>) {
    let mut bad = Vec::new();
    let mut num = |key: &str, kind: SensorKind| match p.get(key) {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_f64() {
            Some(x) => Some(x),
            None => {
                // One rejection per kind, even when several axes are bad.
                if !bad.iter().any(|(k, _)| *k == kind) {
                    bad.push((kind, Err(wrong_type(key, "a number", v, ts))));
                }
                None
            }
        },
    };
    let m = Measures {
        temperature: num("temperature", SensorKind::Temperature),
        humidity: num("humidity", SensorKind::Humidity),
        x: num("x", SensorKind::Accel),
        y: num("y", SensorKind::Accel),
        z: num("z", SensorKind::Accel),
    };
    (m, bad)
}

/// A value-level range check.
pub(crate) fn in_range(kind: SensorKind, v: f64, ts: Option<i64>) -> Measure {
    check_value(kind, v, ts).map(|()| v)
}
