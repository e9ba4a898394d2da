//! Unit tests of the SOX decoder (every reason, aliases, position, timestamps, malformed
//! XML), of the document splitter (in one piece and fed in small steps), and of the file
//! source on small temporary files.

use std::sync::Arc;

use msec_engine::config::PipelineConfig;
use msec_engine::intern::InternCache;
use msec_engine::source::{Source, SourceBatch, SourceSummary, batch_channel};
use msec_engine::{DeadLetter, DeadLetterReason, Interner, ReadingBatch, SensorKind};

use super::decode::{Ts, is_number, read_ts, sensor_kind};
use super::{Item, SoxDecoder, SoxSource, file_device, split};
use crate::jsonl::pump::OVERLONG_RAW;

use DeadLetterReason::*;

/// 2026-06-01T00:00:00Z = 2026-06-01T09:00:00+09:00.
const T0: i64 = 1_780_272_000_000;
/// The wall clock of the tests: noon UTC that day.
const NOW: i64 = T0 + 12 * 3_600_000;

/// A decoder with 5 s lateness and one day of allowed future.
fn decoder() -> (SoxDecoder, Arc<Interner>) {
    let interner = Interner::shared();
    let d = SoxDecoder::new(
        Arc::from("test"),
        InternCache::new(Arc::clone(&interner)),
        5_000,
        86_400_000,
    );
    (d, interner)
}

/// What one document gave.
struct Out {
    readings: ReadingBatch,
    dead: Vec<DeadLetter>,
    interner: Arc<Interner>,
}

impl Out {
    /// (sensor, ts, value) of each reading.
    fn values(&self) -> Vec<(&'static str, i64, f64)> {
        let r = &self.readings;
        (0..r.len())
            .map(|i| (r.sensor[i].name(), r.ts[i], r.value[i]))
            .collect()
    }

    fn device(&self, i: usize) -> String {
        self.interner
            .name(self.readings.device[i])
            .map(|n| n.to_string())
            .unwrap_or_default()
    }

    fn reasons(&self) -> Vec<DeadLetterReason> {
        self.dead.iter().map(|d| d.reason).collect()
    }
}

/// Decodes `doc` alone with `context` as the context device.
fn decode_ctx(doc: &str, context: Option<&str>) -> Out {
    let (mut d, interner) = decoder();
    let mut readings = ReadingBatch::with_capacity(0, 8);
    let mut dead = Vec::new();
    d.decode(doc.as_bytes(), context, 7, NOW, &mut readings, &mut dead);
    Out {
        readings,
        dead,
        interner,
    }
}

fn decode(doc: &str) -> Out {
    decode_ctx(doc, None)
}

/// One `transducerValue` with `typedValue`, at `ts` (RFC 3339, +09:00).
fn tv(id: &str, value: &str, ts: &str) -> String {
    format!(r#"<transducerValue id="{id}" typedValue="{value}" timestamp="{ts}"/>"#)
}

const TS: &str = "2026-06-01T09:00:00.000+09:00";

/// A document of device `truck` at [`TS`] with the position and `body`.
fn doc(body: &str) -> String {
    format!(
        r#"<data device="truck">{}{}{body}</data>"#,
        tv("latitude", "35.3387", TS),
        tv("longitude", "139.4871", TS)
    )
}

/// Asserts that `doc` is one `parse` dead letter whose detail contains `needle`.
#[track_caller]
fn assert_parse(doc: &[u8], needle: &str) {
    let (mut d, _) = decoder();
    let mut readings = ReadingBatch::with_capacity(0, 8);
    let mut dead = Vec::new();
    d.decode(doc, Some("ctx"), 3, NOW, &mut readings, &mut dead);
    assert!(readings.is_empty(), "{:?}", String::from_utf8_lossy(doc));
    assert_eq!(dead.len(), 1, "{:?}", String::from_utf8_lossy(doc));
    assert_eq!(dead[0].reason, Parse, "{}", dead[0].detail);
    assert!(
        dead[0].detail.contains(needle),
        "{:?} lacks {needle:?}",
        dead[0].detail
    );
    assert_eq!(dead[0].raw, doc);
    assert_eq!(dead[0].offset, 3);
    assert_eq!(&*dead[0].source, "test");
    assert_eq!(d.watermark(), None);
}

#[test]
fn the_documented_example() {
    let text = r#"<data device="fujisawa-truck-07">
  <transducerValue id="latitude" typedValue="35.3387" timestamp="2026-06-01T09:00:00.000+09:00"/>
  <transducerValue id="longitude" typedValue="139.4871" timestamp="2026-06-01T09:00:00.000+09:00"/>
  <transducerValue id="pm2.5" typedValue="18.2" rawValue="18.2" timestamp="2026-06-01T09:00:00.000+09:00"/>
  <transducerValue id="temperature" rawValue="21.5" timestamp="2026-06-01T09:00:00.000+09:00"/>
</data>"#;
    let out = decode(text);
    assert!(out.dead.is_empty(), "{:?}", out.dead);
    assert_eq!(
        out.values(),
        vec![("pm25", T0, 18.2), ("temperature", T0, 21.5)]
    );
    let r = &out.readings;
    for i in 0..2 {
        assert_eq!(out.device(i), "fujisawa-truck-07");
        assert_eq!((r.lat[i], r.lon[i]), (35.3387, 139.4871));
        assert_eq!((r.offset[i], r.ingest_ts[i]), (7, NOW));
    }
}

#[test]
fn sensor_aliases_are_case_insensitive() {
    let mut s = String::new();
    for (id, kind) in [
        ("pm2.5", SensorKind::Pm25),
        ("PM2.5", SensorKind::Pm25),
        ("pm25", SensorKind::Pm25),
        ("PM2_5", SensorKind::Pm25),
        ("Pm2-5", SensorKind::Pm25),
        ("temperature", SensorKind::Temperature),
        ("Temp", SensorKind::Temperature),
        ("HUMIDITY", SensorKind::Humidity),
        ("noise", SensorKind::Noise),
        ("CO2", SensorKind::Co2),
        ("crowd", SensorKind::Crowd),
        ("pm10", SensorKind::Pm10),
        ("Pressure", SensorKind::Pressure),
    ] {
        assert_eq!(sensor_kind(id, &mut s), Some(kind), "{id}");
    }
    for id in ["pm", "temperatur", "pm2.5 ", "radiation", ""] {
        assert_eq!(sensor_kind(id, &mut s), None, "{id:?}");
    }
    let out = decode(&doc(&format!(
        "{}{}{}",
        tv("PM2_5", "10", TS),
        tv(" Temp ", "20", TS),
        tv("Humidity", "60", TS)
    )));
    assert!(out.dead.is_empty(), "{:?}", out.dead);
    assert_eq!(
        out.values(),
        vec![
            ("pm25", T0, 10.0),
            ("temperature", T0, 20.0),
            ("humidity", T0, 60.0)
        ]
    );
}

#[test]
fn typed_value_first_then_raw_value() {
    let text = format!(
        r#"<data device="d"><transducerValue id="pm25" typedValue="12.5" rawValue="1250" timestamp="{TS}"/><transducerValue id="noise" rawValue=" 55 " timestamp="{TS}"/><transducerValue id="co2" typedValue="  " rawValue="420" timestamp="{TS}"/></data>"#
    );
    let out = decode(&text);
    assert!(out.dead.is_empty(), "{:?}", out.dead);
    assert_eq!(
        out.values(),
        vec![("pm25", T0, 12.5), ("noise", T0, 55.0), ("co2", T0, 420.0)]
    );
    // No position at all: NaN.
    assert!(out.readings.lat[0].is_nan() && out.readings.lon[0].is_nan());
}

#[test]
fn timestamps_rfc3339_and_epoch_ms() {
    assert_eq!(read_ts("2026-06-01T09:00:00.000+09:00"), Ts::Ok(T0));
    assert_eq!(read_ts("2026-06-01T00:00:00Z"), Ts::Ok(T0));
    assert_eq!(read_ts("2026-06-01T00:00:00.123456Z"), Ts::Ok(T0 + 123));
    assert_eq!(read_ts("1780272000000"), Ts::Ok(T0));
    assert_eq!(read_ts("1.78027200000e12"), Ts::Ok(T0));
    assert_eq!(read_ts("1780272000000.5"), Ts::Invalid);
    assert_eq!(read_ts("99999999999999999999"), Ts::Overflow);
    assert_eq!(read_ts("1e400"), Ts::Overflow);
    for bad in [
        "",
        "yesterday",
        "2026-06-01 09:00",
        "2026-06-01T09:00:00",
        "0x10",
    ] {
        assert_eq!(read_ts(bad), Ts::Invalid, "{bad:?}");
    }
    let out = decode(&format!(
        r#"<data device="d">{}{}{}</data>"#,
        tv("pm25", "1", "1780272000000"),
        tv("pm25", "2", " 2026-06-01T00:00:01Z "),
        tv("pm25", "3", "2026-06-01T09:00:02.000+09:00")
    ));
    assert!(out.dead.is_empty(), "{:?}", out.dead);
    assert_eq!(
        out.values(),
        vec![
            ("pm25", T0, 1.0),
            ("pm25", T0 + 1000, 2.0),
            ("pm25", T0 + 2000, 3.0)
        ]
    );
}

#[test]
fn numbers_are_decimal_only() {
    for good in ["0", "-3", "+4", "18.2", "1e3", "1.5E-2", "007"] {
        assert!(is_number(good), "{good}");
    }
    for bad in [
        "",
        "-",
        ".5",
        "5.",
        "NaN",
        "inf",
        "-Infinity",
        "1,5",
        "0x10",
        "12 µg",
        "1e",
    ] {
        assert!(!is_number(bad), "{bad}");
    }
}

#[test]
fn device_from_the_attribute_else_the_context() {
    let body = tv("pm25", "10", TS);
    let out = decode_ctx(
        &format!(r#"<data device="own">{body}</data>"#),
        Some("topic"),
    );
    assert_eq!(out.device(0), "own");
    for text in [
        format!("<data>{body}</data>"),
        format!(r#"<data device="  ">{body}</data>"#),
    ] {
        let out = decode_ctx(&text, Some("topic"));
        assert!(out.dead.is_empty(), "{:?}", out.dead);
        assert_eq!(out.device(0), "topic");
    }
    // Neither: each value is missing its device, with its event time kept.
    let out = decode_ctx(&format!("<data>{body}{body}</data>"), Some(" "));
    assert!(out.readings.is_empty());
    assert_eq!(out.reasons(), vec![MissingField, MissingField]);
    assert!(
        out.dead[0].detail.contains("no device"),
        "{}",
        out.dead[0].detail
    );
    assert_eq!(out.dead[0].ts, Some(T0));
}

#[test]
fn the_position_applies_to_every_reading() {
    let out = decode(&doc(&format!(
        "{}{}",
        tv("pm25", "10", TS),
        tv("humidity", "60", TS)
    )));
    assert_eq!(out.readings.len(), 2);
    assert_eq!(out.readings.lat, vec![35.3387, 35.3387]);
    assert_eq!(out.readings.lon, vec![139.4871, 139.4871]);

    // Anywhere in the document, in any case, with short names.
    let out = decode(&format!(
        r#"<data device="d">{}{}{}</data>"#,
        tv("pm25", "10", TS),
        tv("LAT", "35.35", TS),
        tv("lng", "139.49", TS)
    ));
    assert_eq!((out.readings.lat[0], out.readings.lon[0]), (35.35, 139.49));

    // A document holding only the position gives nothing.
    let out = decode(&doc(""));
    assert!(out.readings.is_empty() && out.dead.is_empty());
}

#[test]
fn a_broken_position_rejects_every_reading() {
    let two = format!("{}{}", tv("pm25", "10", TS), tv("humidity", "60", TS));
    let cases = [
        (
            tv("latitude", "35.3", TS),
            MissingField,
            "`latitude` given without `longitude`",
        ),
        (
            tv("longitude", "139.4", TS),
            MissingField,
            "`longitude` given without `latitude`",
        ),
        (
            // A latitude without a value counts as absent.
            format!(
                r#"<transducerValue id="latitude" timestamp="{TS}"/>{}"#,
                tv("longitude", "139.4", TS)
            ),
            MissingField,
            "`longitude` given without `latitude`",
        ),
        (
            format!(
                "{}{}",
                tv("latitude", "north", TS),
                tv("longitude", "139.4", TS)
            ),
            InvalidType,
            "`latitude` must be a number",
        ),
        (
            format!(
                "{}{}",
                tv("latitude", "95", TS),
                tv("longitude", "139.4", TS)
            ),
            OutOfRange,
            "lat 95 outside [-90, 90]",
        ),
        (
            format!(
                "{}{}",
                tv("latitude", "35", TS),
                tv("longitude", "-181", TS)
            ),
            OutOfRange,
            "lon -181 outside [-180, 180]",
        ),
    ];
    for (position, reason, needle) in cases {
        let out = decode(&format!(r#"<data device="d">{position}{two}</data>"#));
        assert!(out.readings.is_empty(), "{position}");
        assert_eq!(out.reasons(), vec![reason, reason], "{position}");
        assert!(
            out.dead[1].detail.contains(needle),
            "{}",
            out.dead[1].detail
        );
        assert!(
            out.dead[1].detail.contains(r#""humidity""#),
            "{}",
            out.dead[1].detail
        );
    }
    assert_parse(
        doc(&tv("latitude", "35.4", TS)).as_bytes(),
        "second latitude value",
    );
}

#[test]
fn each_reason_once() {
    let cases: Vec<(String, DeadLetterReason, &str)> = vec![
        (
            format!(r#"<transducerValue typedValue="1" timestamp="{TS}"/>"#),
            MissingField,
            "`id` is missing",
        ),
        (
            format!(r#"<transducerValue id=" " typedValue="1" timestamp="{TS}"/>"#),
            MissingField,
            "`id` is missing",
        ),
        (
            r#"<transducerValue id="pm25" typedValue="1"/>"#.into(),
            MissingField,
            "`timestamp` is missing",
        ),
        (
            format!(r#"<transducerValue id="pm25" timestamp="{TS}"/>"#),
            MissingField,
            "`typedValue` and `rawValue` are missing",
        ),
        (
            tv("pm25", "n/a", TS),
            InvalidType,
            r#"value must be a number, got "n/a""#,
        ),
        (tv("pm25", "NaN", TS), InvalidType, "value must be a number"),
        (tv("pm25", "inf", TS), InvalidType, "value must be a number"),
        (
            tv("pm25", "12 ug/m3", TS),
            InvalidType,
            "value must be a number",
        ),
        (
            tv("pm25", "1", "yesterday"),
            InvalidType,
            "`timestamp` must be",
        ),
        (
            tv("radiation", "0.1", TS),
            UnknownSensor,
            r#"unknown sensor "radiation""#,
        ),
        (
            tv("pm25", "2500", TS),
            OutOfRange,
            "value 2500 outside [0, 2000] for pm25",
        ),
        (
            tv("humidity", "-1", TS),
            OutOfRange,
            "outside [0, 100] for humidity",
        ),
        (tv("pm25", "1e400", TS), OutOfRange, "value inf outside"),
        (
            tv("pm25", "1", "1999-12-31T23:59:59Z"),
            OutOfRange,
            "before 2000",
        ),
        (
            tv("pm25", "1", "99999999999999999999"),
            OutOfRange,
            "does not fit epoch ms",
        ),
        (
            tv("pm25", "1", "2026-06-03T00:00:00Z"),
            FutureTs,
            "after now",
        ),
    ];
    for (value, reason, needle) in cases {
        let text = doc(&format!("{}{value}", tv("pm25", "5", TS)));
        let out = decode(&text);
        assert_eq!(out.values(), vec![("pm25", T0, 5.0)], "{value}");
        assert_eq!(out.reasons(), vec![reason], "{value}");
        let d = &out.dead[0];
        assert!(d.detail.contains(needle), "{:?} lacks {needle:?}", d.detail);
        assert!(d.detail.starts_with("transducerValue 4 "), "{}", d.detail);
        assert_eq!(d.raw, text.as_bytes());
        assert_eq!((d.offset, d.ingest_ts, &*d.source), (7, NOW, "test"));
    }
}

#[test]
fn dead_letters_keep_the_event_time_when_it_was_read() {
    let out = decode(&doc(&format!(
        "{}{}{}",
        tv("pm25", "9999", TS),
        tv("pm25", "x", "2026-06-01T00:00:05Z"),
        tv("pm25", "1", "later")
    )));
    let ts: Vec<_> = out.dead.iter().map(|d| (d.reason, d.ts)).collect();
    assert_eq!(
        ts,
        vec![
            (OutOfRange, Some(T0)),
            (InvalidType, Some(T0 + 5000)),
            (InvalidType, None)
        ]
    );
}

#[test]
fn values_are_independent_and_only_good_ones_move_the_watermark() {
    let (mut d, _) = decoder();
    let mut readings = ReadingBatch::with_capacity(0, 8);
    let mut dead = Vec::new();
    let first = doc(&format!(
        "{}{}{}",
        tv("pm25", "10", "2026-06-01T00:00:10Z"),
        tv("pm25", "3000", "2026-06-01T00:10:00Z"),
        tv("temperature", "21", "2026-06-01T00:00:20Z")
    ));
    d.decode(first.as_bytes(), None, 1, NOW, &mut readings, &mut dead);
    assert_eq!(readings.len(), 2);
    assert_eq!(dead.len(), 1);
    assert_eq!(d.watermark(), Some(T0 + 20_000 - 5_000));

    // Late against the watermark (15 s): the second document's first value only.
    let second = doc(&format!(
        "{}{}",
        tv("pm25", "11", "2026-06-01T00:00:14.999Z"),
        tv("pm25", "12", "2026-06-01T00:00:15Z")
    ));
    d.decode(second.as_bytes(), None, 2, NOW, &mut readings, &mut dead);
    assert_eq!(readings.len(), 3);
    assert_eq!(readings.offset, vec![1, 1, 2]);
    assert_eq!(dead.len(), 2);
    assert_eq!(dead[1].reason, Late);
    assert_eq!(dead[1].offset, 2);
    assert_eq!(dead[1].ts, Some(T0 + 14_999));
    assert!(
        dead[1].detail.contains("below the watermark"),
        "{}",
        dead[1].detail
    );
}

#[test]
fn namespaces_wrappers_declarations_and_comments() {
    let text = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- an XMPP pubsub delivery -->
<event xmlns="http://jabber.org/protocol/pubsub#event"><items node="truck_data"><item id="1">
<sox:data xmlns:sox="http://jabber.org/protocol/sox" sox:device="ns-truck">
  <sox:transducerValue sox:id="pm2.5" typedValue="7.5" timestamp="{TS}"/>
  <!-- <transducerValue id="pm25" typedValue="99" timestamp="{TS}"/> -->
  <transducerValue id="noise" typedValue="61.5" timestamp="{TS}"></transducerValue>
  <other id="co2" typedValue="400" timestamp="{TS}"/>
</sox:data></item></items></event>
"#
    );
    let out = decode(&text);
    assert!(out.dead.is_empty(), "{:?}", out.dead);
    assert_eq!(out.values(), vec![("pm25", T0, 7.5), ("noise", T0, 61.5)]);
    assert_eq!(out.device(0), "ns-truck");

    // A byte-order mark; a namespace declaration is no `device`.
    let out = decode_ctx(
        &format!(
            "\u{feff}<data xmlns:device=\"urn:x\">{}</data>",
            tv("pm25", "3", TS)
        ),
        Some("ctx"),
    );
    assert!(out.dead.is_empty(), "{:?}", out.dead);
    assert_eq!(out.device(0), "ctx");

    // Entities in values are resolved.
    let out = decode(&format!(
        r#"<data device="a&amp;b">{}</data>"#,
        tv("pm25", "&#49;2", TS)
    ));
    assert_eq!(out.values(), vec![("pm25", T0, 12.0)]);
    assert_eq!(out.device(0), "a&b");

    // A value inside another element of `data` is not one of its values.
    let out = decode(&format!(
        r#"<data device="d"><group>{}</group>{}</data>"#,
        tv("pm25", "1", TS),
        tv("pm25", "2", TS)
    ));
    assert_eq!(out.values(), vec![("pm25", T0, 2.0)]);

    // An empty document is no record of anything.
    let out = decode(r#"<data device="d"/>"#);
    assert!(out.readings.is_empty() && out.dead.is_empty());
}

#[test]
fn malformed_documents_are_one_parse_dead_letter() {
    let good = tv("pm25", "1", TS);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            format!(r#"<data device="d">{good}"#).into_bytes(),
            "<data> at byte 0 is not closed",
        ),
        (
            format!(r#"<data device="d"><transducerValue id="pm25"></transducer>{good}</data>"#)
                .into_bytes(),
            "ill-formed document",
        ),
        (
            format!(r#"<data device="d">{good}</dat>"#).into_bytes(),
            "ill-formed document",
        ),
        (
            format!(r#"<data device="d"><transducerValue id=pm25 typedValue="1" timestamp="{TS}"/></data>"#)
                .into_bytes(),
            "bad attribute in <transducerValue> at byte 17",
        ),
        (
            format!(r#"<data device="d"><transducerValue id="pm25" id="co2" typedValue="1" timestamp="{TS}"/></data>"#)
                .into_bytes(),
            "duplicated attribute",
        ),
        (
            format!(r#"<data device="d"><transducerValue id="pm25" typedValue="1" timestamp="{TS}></data>"#)
                .into_bytes(),
            "syntax error",
        ),
        (
            r#"<data device="d"><transducerValue id="pm25" typedValue="&bogus;"/></data>"#
                .as_bytes()
                .to_vec(),
            "bad attribute value in <transducerValue> at byte 17",
        ),
        (b"<data device=\"caf\xe9\"></data>".to_vec(), "not UTF-8 (invalid byte at byte 17)"),
        (b"".to_vec(), "no <data> element"),
        (b"   \n".to_vec(), "no <data> element"),
        (b"hello world".to_vec(), "text outside any element at byte 0"),
        (
            format!(r#"<data device="d">{good}</data> trailing"#).into_bytes(),
            "text outside any element",
        ),
        (
            format!(r#"<data device="d">garbage{good}</data>"#).into_bytes(),
            "text inside <data> at byte 17",
        ),
        (
            format!(r#"<items>{good}</items>"#).into_bytes(),
            "no <data> element",
        ),
        (
            format!(r#"<data><data device="d">{good}</data></data>"#).into_bytes(),
            "nested <data> element at byte 6",
        ),
        (
            format!(r#"<data device="d">{good}</data><data device="e">{good}</data>"#)
                .into_bytes(),
            "more than one <data> element",
        ),
        (
            format!(r#"<data device="d"><transducerValue id="pm25" typedValue="1" timestamp="{TS}""#)
                .into_bytes(),
            "syntax error",
        ),
        (b"<data device=\"d\"><![CDATA[x]]></data>".to_vec(), "text inside <data>"),
        (b"</data>".to_vec(), "ill-formed document"),
    ];
    for (text, needle) in cases {
        assert_parse(&text, needle);
    }
}

#[test]
fn long_documents_are_cut_in_dead_letters() {
    let padding = "<!-- padding -->".repeat(400);
    let text = doc(&format!("{padding}{}", tv("pm25", "-5", TS)));
    assert!(text.len() > OVERLONG_RAW);
    let out = decode(&text);
    assert_eq!(out.reasons(), vec![OutOfRange]);
    assert_eq!(out.dead[0].raw, &text.as_bytes()[..OVERLONG_RAW]);
}

// Splitting files into documents, and the file source.
#[path = "split_tests.rs"]
mod splitting;
