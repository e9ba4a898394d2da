//! From one SOX document to validated readings and dead letters.
//!
//! [`parse_document`] reads the document with quick-xml's streaming [`Reader`] into a
//! [`Doc`] (borrowing from the input: no copy unless an attribute holds an entity such as
//! `&amp;`); [`SoxDecoder::decode`] validates each of its values like a JSON reading.
//!
//! **The document** (checked first; any failure is one `parse` dead letter for the whole
//! document, with quick-xml's message and the byte position in `detail`): UTF-8; well-formed
//! (every start tag closed by its own end tag, attributes quoted and not repeated, known
//! entities); exactly one `data` element, at any depth (wrappers such as
//! `<items><item>…</item></items>` are accepted), with any namespace prefix; no text outside
//! the elements nor directly inside `data` (whitespace, comments, processing instructions,
//! an XML declaration are fine); at most one `latitude` and one `longitude` value.
//!
//! **Each value** — a `transducerValue` child of `data`, other than the position — is then
//! checked like a JSON reading whose `device`, `lat` and `lon` come from the document, in the
//! same order, stopping at the first failure, so it gets exactly one reason:
//!
//! 1. `missing_field` — no device (neither the `device` attribute nor a device from the
//!    context); `id`, `timestamp`, or both `typedValue` and `rawValue` absent or blank; only
//!    one of `latitude`/`longitude` in the document;
//! 2. `invalid_type` — the value (`typedValue`, else `rawValue`) not a decimal number
//!    (`NaN`, `inf`, `12 µg` included); `timestamp` neither integer epoch ms nor RFC 3339;
//!    the document's latitude or longitude not a number;
//! 3. `unknown_sensor` — `id` not in the alias table nor a [`SensorKind`] name;
//! 4. `out_of_range` — value outside [`SensorKind::accepts`] or not finite (`1e400`); the
//!    position outside [-90, 90] × [-180, 180]; `timestamp` before 2000 or beyond `i64`;
//! 5. `future_ts` — `timestamp` more than `max_future_ms` after the wall clock;
//! 6. `late` — below the source's watermark ([`WatermarkTracker::observe`]).
//!
//! A value that fails is one dead letter whose `raw` is the document (its first
//! [`OVERLONG_RAW`] bytes) and whose `detail` names the value (`transducerValue 3 "pm2.5":
//! …`, numbered in document order from 1); the other values of the document are unaffected.
//! Values are observed by the watermark in document order; only accepted ones advance it.

use std::borrow::Cow;
use std::sync::Arc;

use msec_engine::intern::InternCache;
use msec_engine::time::{Arrival, WatermarkTracker};
use msec_engine::{DeadLetter, DeadLetterReason, ReadingBatch, SensorKind};
use quick_xml::XmlVersion;
use quick_xml::events::attributes::Attributes;
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

use crate::jsonl::pump::OVERLONG_RAW;
use crate::validate::{Reject, check_event_time, check_position, check_value, excerpt, reject};

/// One `transducerValue`: its attributes as written (entities resolved).
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Value<'a> {
    /// `id`: the sensor (or `latitude`/`longitude`).
    pub(crate) id: Option<Cow<'a, str>>,
    /// `typedValue`.
    pub(crate) typed: Option<Cow<'a, str>>,
    /// `rawValue`.
    pub(crate) raw: Option<Cow<'a, str>>,
    /// `timestamp`.
    pub(crate) timestamp: Option<Cow<'a, str>>,
}

/// What a position value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Axis {
    Lat,
    Lon,
}

impl Value<'_> {
    /// The value's text: `typedValue` unless absent or blank, else `rawValue` unless blank.
    fn text(&self) -> Option<&str> {
        present(&self.typed).or_else(|| present(&self.raw))
    }

    /// Whether the value is the document's latitude or longitude.
    fn axis(&self) -> Option<Axis> {
        let id = self.id.as_deref()?.trim();
        if ["latitude", "lat"]
            .iter()
            .any(|n| id.eq_ignore_ascii_case(n))
        {
            Some(Axis::Lat)
        } else if ["longitude", "lon", "lng"]
            .iter()
            .any(|n| id.eq_ignore_ascii_case(n))
        {
            Some(Axis::Lon)
        } else {
            None
        }
    }
}

/// A parsed SOX document.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Doc<'a> {
    /// The `device` attribute of `data`.
    pub(crate) device: Option<Cow<'a, str>>,
    /// The `transducerValue` children of `data`, in document order.
    pub(crate) values: Vec<Value<'a>>,
}

impl Doc<'_> {
    /// The earliest event time among the values that have a readable `timestamp`.
    pub(crate) fn min_ts(&self) -> Option<i64> {
        self.values
            .iter()
            .filter_map(|v| match read_ts(present(&v.timestamp)?) {
                Ts::Ok(t) => Some(t),
                _ => None,
            })
            .min()
    }
}

/// An attribute's text unless absent or only whitespace, trimmed.
fn present<'s>(attr: &'s Option<Cow<'_, str>>) -> Option<&'s str> {
    attr.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// The local name of a possibly prefixed XML name (`sox:data` → `data`).
pub(crate) fn local_name(name: &[u8]) -> &[u8] {
    match memchr::memrchr(b':', name) {
        Some(i) => &name[i + 1..],
        None => name,
    }
}

/// Whether `s` holds anything but XML whitespace.
fn has_text(s: &[u8]) -> bool {
    s.iter().any(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

/// A `parse` rejection.
fn parse_err(detail: String) -> Reject {
    reject(DeadLetterReason::Parse, None, detail)
}

/// Parses one SOX document (see the module docs for what is accepted).
pub(crate) fn parse_document(doc: &[u8]) -> Result<Doc<'_>, Reject> {
    let text = std::str::from_utf8(doc).map_err(|e| {
        parse_err(format!(
            "not UTF-8 (invalid byte at byte {})",
            e.valid_up_to()
        ))
    })?;
    let mut reader = Reader::from_str(text);
    // Open elements, outermost first: where their start tags begin.
    let mut open: Vec<u64> = Vec::new();
    // Depth of `data` (its children are at `data_depth + 1`) while inside it.
    let mut data_depth: Option<usize> = None;
    let mut found: Option<Doc<'_>> = None;
    let mut lat_seen = false;
    let mut lon_seen = false;
    loop {
        let at = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|e| parse_err(format!("{e} at byte {}", reader.error_position())))?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                let local = local_name(e.name().into_inner().as_bytes());
                if local == b"data" {
                    if data_depth.is_some() {
                        return Err(parse_err(format!("nested <data> element at byte {at}")));
                    }
                    if found.is_some() {
                        return Err(parse_err(format!(
                            "more than one <data> element (the second at byte {at})"
                        )));
                    }
                    let mut doc = Doc::default();
                    for_attrs(text, at, e, |key, value| {
                        if key == b"device" {
                            doc.device = Some(value);
                        }
                    })?;
                    found = Some(doc);
                    if !empty {
                        data_depth = Some(open.len());
                    }
                } else if local == b"transducerValue"
                    && data_depth.is_some_and(|d| d + 1 == open.len())
                    && let Some(doc) = found.as_mut()
                {
                    let mut v = Value::default();
                    for_attrs(text, at, e, |key, value| match key {
                        b"id" => v.id = Some(value),
                        b"typedValue" => v.typed = Some(value),
                        b"rawValue" => v.raw = Some(value),
                        b"timestamp" => v.timestamp = Some(value),
                        _ => {}
                    })?;
                    let seen = match v.axis() {
                        Some(Axis::Lat) => Some((&mut lat_seen, "latitude")),
                        Some(Axis::Lon) => Some((&mut lon_seen, "longitude")),
                        None => None,
                    };
                    if let Some((seen, name)) = seen {
                        if *seen {
                            return Err(parse_err(format!(
                                "second {name} value at byte {at} (one position per document)"
                            )));
                        }
                        *seen = true;
                    }
                    doc.values.push(v);
                } else {
                    // Any other element: checked for syntax, otherwise ignored.
                    for_attrs(text, at, e, |_, _| {})?;
                }
                if !empty {
                    open.push(at);
                }
            }
            Event::End(_) => {
                open.pop();
                if data_depth == Some(open.len()) {
                    data_depth = None;
                }
            }
            Event::Text(ref t) if has_text(t.as_bytes()) => {
                text_allowed(open.len(), data_depth, at)?
            }
            Event::CData(_) | Event::GeneralRef(_) => text_allowed(open.len(), data_depth, at)?,
            Event::Eof => break,
            _ => {}
        }
    }
    if let Some(&at) = open.last() {
        let tag = usize::try_from(at).ok().and_then(|at| text.get(at + 1..));
        let name = tag.map_or("", |t| {
            t.split(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/')
                .next()
                .unwrap_or("")
        });
        return Err(parse_err(format!(
            "unexpected end of document: <{}> at byte {at} is not closed",
            excerpt(name)
        )));
    }
    found.ok_or_else(|| parse_err("no <data> element".into()))
}

/// Text at `depth` (elements open) is garbage outside any element and directly in `data`.
fn text_allowed(depth: usize, data_depth: Option<usize>, at: u64) -> Result<(), Reject> {
    if depth == 0 {
        return Err(parse_err(format!("text outside any element at byte {at}")));
    }
    if data_depth.is_some_and(|d| d + 1 == depth) {
        return Err(parse_err(format!("text inside <data> at byte {at}")));
    }
    Ok(())
}

/// Calls `f` with each attribute's local name and value of the tag `e`, which starts at
/// byte `at` of `text`; a syntax error (unquoted value, repeated attribute, unknown entity)
/// is `parse`. Values borrow from `text` unless they hold an entity.
fn for_attrs<'a>(
    text: &'a str,
    at: u64,
    e: &BytesStart<'_>,
    mut f: impl FnMut(&[u8], Cow<'a, str>),
) -> Result<(), Reject> {
    let name_len = e.name().into_inner().len();
    // The tag's text between `<` and `>` (or `/>`), found in `text` so that values can
    // borrow from it rather than from the event.
    let content: &str = e;
    let start = usize::try_from(at).map_or(usize::MAX, |a| a.saturating_add(1));
    let tag = text
        .get(start..start.saturating_add(content.len()))
        .filter(|t| *t == content);
    match tag {
        Some(tag) => each_attr(Attributes::new(tag, name_len), e, at, f),
        None => each_attr(e.attributes(), e, at, |k, v| {
            f(k, Cow::Owned(v.into_owned()))
        }),
    }
}

/// Calls `f` with the local name and normalized value of each of `attrs`, the attributes
/// of `e` at byte `at`.
fn each_attr<'x>(
    attrs: Attributes<'x>,
    e: &BytesStart<'_>,
    at: u64,
    mut f: impl FnMut(&[u8], Cow<'x, str>),
) -> Result<(), Reject> {
    let tag = || {
        let name = e.name().into_inner();
        excerpt(name.rsplit(':').next().unwrap_or(name)).to_owned()
    };
    for attr in attrs {
        let attr = attr.map_err(|err| {
            parse_err(format!("bad attribute in <{}> at byte {at}: {err}", tag()))
        })?;
        let value = attr
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|err| {
                parse_err(format!(
                    "bad attribute value in <{}> at byte {at}: {err}",
                    tag()
                ))
            })?;
        let key = attr.key.into_inner();
        // Namespace declarations are not attributes of the data (`xmlns:device=…`).
        if key != "xmlns" && !key.starts_with("xmlns:") {
            f(local_name(key.as_bytes()), value);
        }
    }
    Ok(())
}

/// The outcome of reading a `timestamp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ts {
    Ok(i64),
    /// A well-formed time that does not fit `i64` milliseconds.
    Overflow,
    /// Neither an integral number of epoch ms nor an RFC 3339 string.
    Invalid,
}

/// Reads a (trimmed) timestamp: integer epoch ms (a number with a fraction or exponent is
/// accepted when it is a whole number of ms, as in JSON), or RFC 3339 with an offset
/// (sub-millisecond digits truncated).
pub(crate) fn read_ts(text: &str) -> Ts {
    if is_number(text) {
        if !text.bytes().any(|b| matches!(b, b'.' | b'e' | b'E')) {
            return text.parse::<i64>().map_or(Ts::Overflow, Ts::Ok);
        }
        return match text.parse::<f64>() {
            Ok(x) if x.is_finite() && x.fract() == 0.0 => {
                // 2^63 is exactly representable: anything in [-2^63, 2^63) fits.
                if (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&x) {
                    Ts::Ok(x as i64)
                } else {
                    Ts::Overflow
                }
            }
            Ok(x) if x.is_infinite() => Ts::Overflow,
            _ => Ts::Invalid,
        };
    }
    chrono::DateTime::parse_from_rfc3339(text).map_or(Ts::Invalid, |t| Ts::Ok(t.timestamp_millis()))
}

/// Whether `s` is a decimal number as JSON writes one (an optional `+` allowed):
/// `[+-]?digits[.digits][(e|E)[+-]digits]`. Rejects `NaN`, `inf`, `0x10`, `1,5`, `.5`.
pub(crate) fn is_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > start
    };
    if !digits(&mut i) {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == b.len()
}

/// The sensor kind of a `transducerValue` id: an alias (ASCII case-insensitive), else a
/// [`SensorKind`] name in any case.
pub(crate) fn sensor_kind(id: &str, scratch: &mut String) -> Option<SensorKind> {
    scratch.clear();
    scratch.extend(id.chars().map(|c| c.to_ascii_lowercase()));
    let name = match scratch.as_str() {
        "pm2.5" | "pm2_5" | "pm2-5" | "pm_2.5" => "pm25",
        "temp" => "temperature",
        other => other,
    };
    SensorKind::from_name(name)
}

/// Decodes SOX documents of one source into readings and dead letters.
#[derive(Debug)]
pub(crate) struct SoxDecoder {
    source: Arc<str>,
    devices: InternCache,
    tracker: WatermarkTracker,
    max_future_ms: i64,
    scratch: String,
}

/// The document's position as read: each axis absent, a number, or the text that is not one.
struct Position<'d> {
    lat: Option<Result<f64, &'d str>>,
    lon: Option<Result<f64, &'d str>>,
}

/// A value that passed validation up to (not including) the lateness check.
struct Valid {
    device: u32,
    sensor: SensorKind,
    ts: i64,
    value: f64,
    lat: Option<f64>,
    lon: Option<f64>,
}

impl SoxDecoder {
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
            scratch: String::new(),
        }
    }

    /// The source's current watermark.
    pub(crate) fn watermark(&self) -> Option<i64> {
        self.tracker.watermark()
    }

    /// Decodes one document: its readings go to `out` (all with provenance offset `offset`),
    /// its rejects to `dead`. `context_device` (a broker topic's device, a file's stem) names
    /// the device when the document does not; `now` is the wall clock, epoch ms.
    pub(crate) fn decode(
        &mut self,
        doc: &[u8],
        context_device: Option<&str>,
        offset: u64,
        now: i64,
        out: &mut ReadingBatch,
        dead: &mut Vec<DeadLetter>,
    ) {
        let raw = &doc[..doc.len().min(OVERLONG_RAW)];
        let parsed = match parse_document(doc) {
            Ok(parsed) => parsed,
            Err(r) => {
                dead.push(r.into_dead_letter(&self.source, raw, offset, now));
                return;
            }
        };
        let device = present(&parsed.device)
            .or_else(|| context_device.map(str::trim).filter(|d| !d.is_empty()));
        let mut position = Position {
            lat: None,
            lon: None,
        };
        for v in &parsed.values {
            let axis = match v.axis() {
                Some(Axis::Lat) => &mut position.lat,
                Some(Axis::Lon) => &mut position.lon,
                None => continue,
            };
            *axis = v.text().map(|t| number(t).ok_or(t));
        }
        for (i, v) in parsed.values.iter().enumerate() {
            if v.axis().is_some() {
                continue;
            }
            match self.validate(v, device, &position, now) {
                Ok(r) => out.push(r.device, r.sensor, r.ts, r.value, r.lat, r.lon, now, offset),
                Err(mut r) => {
                    let id = v.id.as_deref().unwrap_or("");
                    r.detail = format!("transducerValue {} {:?}: {}", i + 1, excerpt(id), r.detail);
                    dead.push(r.into_dead_letter(&self.source, raw, offset, now));
                }
            }
        }
    }

    /// Checks one value (see the module docs for the order), then its lateness.
    fn validate(
        &mut self,
        v: &Value<'_>,
        device: Option<&str>,
        position: &Position<'_>,
        now: i64,
    ) -> Result<Valid, Reject> {
        use DeadLetterReason::*;
        let ts_text = present(&v.timestamp);
        let ts = ts_text.map(read_ts);
        let ts_known = match ts {
            Some(Ts::Ok(t)) => Some(t),
            _ => None,
        };
        let missing = |what: &str| reject(MissingField, ts_known, what.to_owned());

        // 1. missing_field
        let Some(device) = device else {
            return Err(missing(
                "no device: `device` attribute absent and none from the context",
            ));
        };
        let Some(id) = present(&v.id) else {
            return Err(missing("attribute `id` is missing"));
        };
        let (Some(ts), Some(ts_text)) = (ts, ts_text) else {
            return Err(missing("attribute `timestamp` is missing"));
        };
        let Some(text) = v.text() else {
            return Err(missing(
                "attributes `typedValue` and `rawValue` are missing",
            ));
        };
        match (&position.lat, &position.lon) {
            (Some(_), None) => return Err(missing("`latitude` given without `longitude`")),
            (None, Some(_)) => return Err(missing("`longitude` given without `latitude`")),
            _ => {}
        }

        // 2. invalid_type
        let ts = match ts {
            Ts::Ok(t) => Ok(t),
            Ts::Overflow => Err(()),
            Ts::Invalid => {
                return Err(reject(
                    InvalidType,
                    None,
                    format!(
                        "`timestamp` must be integer epoch ms or RFC 3339, got {:?}",
                        excerpt(ts_text)
                    ),
                ));
            }
        };
        let value = number(text).ok_or_else(|| {
            reject(
                InvalidType,
                ts_known,
                format!("value must be a number, got {:?}", excerpt(text)),
            )
        })?;
        let axis = |a: &Option<Result<f64, &str>>, name: &str| match a {
            Some(Ok(x)) => Ok(Some(*x)),
            None => Ok(None),
            Some(Err(t)) => Err(reject(
                InvalidType,
                ts_known,
                format!("`{name}` must be a number, got {:?}", excerpt(t)),
            )),
        };
        let lat = axis(&position.lat, "latitude")?;
        let lon = axis(&position.lon, "longitude")?;

        // 3. unknown_sensor
        let Some(sensor) = sensor_kind(id, &mut self.scratch) else {
            return Err(reject(
                UnknownSensor,
                ts_known,
                format!("unknown sensor {:?}", excerpt(id)),
            ));
        };

        // 4. out_of_range
        check_value(sensor, value, ts_known)?;
        check_position(lat, lon, ts_known)?;
        let Ok(ts) = ts else {
            return Err(reject(
                OutOfRange,
                None,
                format!("timestamp {} does not fit epoch ms", excerpt(ts_text)),
            ));
        };
        // 5. future_ts (and before 2000: out_of_range)
        check_event_time(ts, now, self.max_future_ms)?;

        // 6. late; the device is interned only for a value that passed the checks above.
        let device = self.devices.intern(device);
        let wm = self.tracker.watermark();
        match self.tracker.observe(ts) {
            Arrival::OnTime => Ok(Valid {
                device,
                sensor,
                ts,
                value,
                lat,
                lon,
            }),
            Arrival::Late => Err(reject(
                Late,
                Some(ts),
                format!("ts {ts} is below the watermark {}", wm.unwrap_or(i64::MIN)),
            )),
        }
    }
}

/// A (trimmed) decimal number, or `None` if the text is not one (see [`is_number`]).
fn number(text: &str) -> Option<f64> {
    let text = text.trim();
    if is_number(text) {
        text.parse::<f64>().ok()
    } else {
        None
    }
}
