//! Emission: bounded disorder, bad records, and the canonical JSON-lines text.
//!
//! Readings arrive in event-time order. Each gets a delay drawn uniformly from
//! `[0, disorder_ms]` and is emitted in order of `ts + delay` (ties: arrival order). Hence
//! for every record, `max ts emitted before it − its ts ≤ disorder_ms`. Once the generator
//! has produced everything before `t`, every pending record with `ts + delay < t` can go.
//!
//! At emission, a record is replaced by a bad one with probability `bad_rate` (never an
//! incident's evidence). A bad record keeps its reading's place, device, sensor and `ts`, so
//! it fails validation for exactly the reason it is counted under:
//!
//! | kind | what is wrong | dead-letter reason |
//! | --- | --- | --- |
//! | malformed | the line is cut short before its closing `}` | `parse` |
//! | missing | one of `device`, `sensor`, `ts`, `value` left out | `missing_field` |
//! | wrong type | `value` is a non-numeric string (`"n/a"`, `"ERR"`, …) | `invalid_type` |
//! | unknown kind | `sensor` is not a kind msec knows (`smoke_level`, …) | `unknown_sensor` |
//! | impossible | `value` outside the sensor's physical range | `out_of_range` |
//!
//! Numbers are written with Rust's shortest round-trip formatting (`{}` for `f64`): whole
//! values print without a decimal point (`1`, `412`), and every value parses back to the
//! same `f64`.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::io::Write;

use msec_engine::{DeadLetterReason, SensorKind};

use super::generator::{Devices, SimReading, SimReport};
use super::reports::THEMES;
use super::rng::{Rng, round_to, stream};

/// The kinds of bad records, in the order they are drawn.
pub(crate) const BAD_KINDS: [DeadLetterReason; 5] = [
    DeadLetterReason::Parse,
    DeadLetterReason::MissingField,
    DeadLetterReason::InvalidType,
    DeadLetterReason::UnknownSensor,
    DeadLetterReason::OutOfRange,
];

/// Sensor names that are not msec sensor kinds.
pub(crate) const UNKNOWN_SENSORS: [&str; 4] =
    ["smoke_level", "radiation", "soil_moisture", "gas_leak"];
/// Non-numeric strings used as values.
const NOT_NUMBERS: [&str; 5] = ["n/a", "ERR", "high", "--", "offline"];

/// A reading waiting in the disorder buffer, ordered by (emission key, arrival).
#[derive(Debug)]
struct Pending {
    key: i64,
    seq: u64,
    reading: SimReading,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.key, self.seq) == (other.key, other.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.key, self.seq).cmp(&(other.key, other.seq))
    }
}

/// Orders, corrupts and writes records; counts what it wrote.
#[derive(Debug)]
pub(crate) struct Emitter {
    disorder_ms: u64,
    bad_rate: f64,
    delay_rng: Rng,
    bad_rng: Rng,
    seq: u64,
    heap: BinaryHeap<Reverse<Pending>>,
    line: Vec<u8>,
    /// Lines written.
    pub records: u64,
    /// Valid readings written.
    pub readings: u64,
    /// Citizen reports written.
    pub reports: u64,
    bad: [u64; 5],
}

impl Emitter {
    pub fn new(seed: u64, disorder_ms: u64, bad_rate: f64) -> Self {
        Self {
            disorder_ms,
            bad_rate,
            delay_rng: Rng::new(seed, stream::DELAY),
            bad_rng: Rng::new(seed, stream::BAD),
            seq: 0,
            heap: BinaryHeap::new(),
            line: Vec::with_capacity(256),
            records: 0,
            readings: 0,
            reports: 0,
            bad: [0; 5],
        }
    }

    /// Takes the next reading in event-time order.
    pub fn push(&mut self, reading: SimReading, out: &mut Vec<u8>, devices: &Devices) {
        if self.disorder_ms == 0 {
            self.write(&reading, out, devices);
            return;
        }
        let delay = self.delay_rng.below(self.disorder_ms + 1) as i64;
        self.heap.push(Reverse(Pending {
            key: reading.ts.saturating_add(delay),
            seq: self.seq,
            reading,
        }));
        self.seq += 1;
    }

    /// Writes every pending reading whose emission key is below `limit`.
    pub fn drain(&mut self, limit: i64, out: &mut Vec<u8>, devices: &Devices) {
        while let Some(Reverse(p)) = self.heap.peek() {
            if p.key >= limit && limit != i64::MAX {
                break;
            }
            if let Some(Reverse(p)) = self.heap.pop() {
                self.write(&p.reading, out, devices);
            }
        }
    }

    /// Bad-record counts by dead-letter reason name (non-zero only).
    pub fn bad_counts(&self) -> BTreeMap<String, u64> {
        BAD_KINDS
            .iter()
            .zip(self.bad)
            .filter(|(_, n)| *n > 0)
            .map(|(r, n)| (r.as_str().to_owned(), n))
            .collect()
    }

    fn write(&mut self, r: &SimReading, out: &mut Vec<u8>, devices: &Devices) {
        self.records += 1;
        if let Some(report) = r.report {
            self.reports += 1;
            write_report(out, r, report, devices);
            return;
        }
        if self.bad_rate > 0.0 && !r.evidence && self.bad_rng.chance(self.bad_rate) {
            let k = self.bad_rng.below(BAD_KINDS.len() as u64) as usize;
            self.bad[k] += 1;
            self.write_bad(BAD_KINDS[k], r, out, devices);
        } else {
            self.readings += 1;
            write_line(
                out,
                Some(devices.name(r.device)),
                Some(r.sensor.name()),
                Some(r.ts),
                Value::Num(r.value),
                r.pos,
            );
        }
    }

    fn write_bad(
        &mut self,
        kind: DeadLetterReason,
        r: &SimReading,
        out: &mut Vec<u8>,
        devices: &Devices,
    ) {
        let device = Some(devices.name(r.device));
        let sensor = Some(r.sensor.name());
        let rng = &mut self.bad_rng;
        match kind {
            DeadLetterReason::Parse => {
                self.line.clear();
                write_line(
                    &mut self.line,
                    device,
                    sensor,
                    Some(r.ts),
                    Value::Num(r.value),
                    r.pos,
                );
                // Without its `}\n`, any prefix of an object is not JSON.
                let body = self.line.len().saturating_sub(2).max(1);
                let cut = 1 + rng.below(body as u64) as usize;
                out.extend_from_slice(&self.line[..cut.min(body)]);
                out.push(b'\n');
            }
            DeadLetterReason::MissingField => {
                let (mut d, mut s, mut t, mut v) =
                    (device, sensor, Some(r.ts), Value::Num(r.value));
                match rng.below(4) {
                    0 => d = None,
                    1 => s = None,
                    2 => t = None,
                    _ => v = Value::Absent,
                }
                write_line(out, d, s, t, v, r.pos);
            }
            DeadLetterReason::InvalidType => {
                let text = NOT_NUMBERS[rng.below(NOT_NUMBERS.len() as u64) as usize];
                write_line(out, device, sensor, Some(r.ts), Value::Text(text), r.pos);
            }
            DeadLetterReason::UnknownSensor => {
                let name = UNKNOWN_SENSORS[rng.below(UNKNOWN_SENSORS.len() as u64) as usize];
                write_line(
                    out,
                    device,
                    Some(name),
                    Some(r.ts),
                    Value::Num(r.value),
                    r.pos,
                );
            }
            _ => {
                let value = impossible(r.sensor, rng);
                write_line(out, device, sensor, Some(r.ts), Value::Num(value), r.pos);
            }
        }
    }
}

/// A value outside `sensor`'s physical range (above or below it).
fn impossible(sensor: SensorKind, rng: &mut Rng) -> f64 {
    let (lo, hi) = sensor.range();
    let span = (hi - lo).max(1.0);
    let v = if rng.chance(0.5) || lo == 0.0 {
        hi + 1.0 + span * rng.f64()
    } else {
        lo - 1.0 - span * rng.f64()
    };
    round_to(v, 1)
}

/// The `value` field of a line.
enum Value<'a> {
    Num(f64),
    Text(&'a str),
    Absent,
}

/// Writes one canonical line; absent fields are left out. Names are plain ASCII (the
/// simulator's own ids), so they need no escaping.
fn write_line(
    out: &mut Vec<u8>,
    device: Option<&str>,
    sensor: Option<&str>,
    ts: Option<i64>,
    value: Value<'_>,
    pos: Option<(f64, f64)>,
) {
    let mut sep = b'{';
    let mut key = |out: &mut Vec<u8>, k: &str| {
        out.push(sep);
        sep = b',';
        out.push(b'"');
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(b"\":");
    };
    if let Some(d) = device {
        key(out, "device");
        quoted(out, d);
    }
    if let Some(s) = sensor {
        key(out, "sensor");
        quoted(out, s);
    }
    if let Some(t) = ts {
        key(out, "ts");
        int(out, t);
    }
    match value {
        Value::Num(v) => {
            key(out, "value");
            float(out, v);
        }
        Value::Text(s) => {
            key(out, "value");
            quoted(out, s);
        }
        Value::Absent => {}
    }
    if let Some((lat, lon)) = pos {
        key(out, "lat");
        float(out, lat);
        key(out, "lon");
        float(out, lon);
    }
    if sep == b'{' {
        out.push(b'{');
    }
    out.extend_from_slice(b"}\n");
}

/// Writes a citizen report line: `report_id, reporter, ts, lat, lon, theme, smile,
/// photo_digest`.
fn write_report(out: &mut Vec<u8>, r: &SimReading, report: SimReport, devices: &Devices) {
    out.extend_from_slice(b"{\"report_id\":\"r-");
    int(out, i64::from(report.seq));
    out.extend_from_slice(b"\",\"reporter\":");
    quoted(out, devices.name(r.device));
    out.extend_from_slice(b",\"ts\":");
    int(out, r.ts);
    let (lat, lon) = r.pos.unwrap_or((0.0, 0.0));
    out.extend_from_slice(b",\"lat\":");
    float(out, lat);
    out.extend_from_slice(b",\"lon\":");
    float(out, lon);
    out.extend_from_slice(b",\"theme\":");
    quoted(out, THEMES[report.theme as usize % THEMES.len()].0);
    out.extend_from_slice(b",\"smile\":");
    float(out, r.value);
    out.extend_from_slice(
        format!(
            ",\"photo_digest\":\"{:016x}{:016x}\"}}\n",
            report.digest[0], report.digest[1]
        )
        .as_bytes(),
    );
}

fn quoted(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
}

/// Decimal digits of an `i64`, without going through `fmt`.
fn int(out: &mut Vec<u8>, v: i64) {
    let mut digits = [0u8; 20];
    let mut n = v.unsigned_abs();
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&digits[i..]);
}

/// Shortest round-trip decimal of a finite `f64` (`1` for 1.0).
fn float(out: &mut Vec<u8>, v: f64) {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        int(out, v as i64); // -0.0 prints as 0
    } else {
        // Writing into a Vec cannot fail.
        let _ = write!(out, "{v}");
    }
}

#[cfg(test)]
#[path = "emit_tests.rs"]
mod tests;
