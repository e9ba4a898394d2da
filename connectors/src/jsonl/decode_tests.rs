use std::sync::Arc;

use msec_engine::Interner;
use msec_engine::intern::InternCache;

use super::*;

/// 2026-03-02T00:00:00Z.
const T0: i64 = 1_772_409_600_000;
/// "Now" for these tests: an hour after `T0`.
const NOW: i64 = T0 + 3_600_000;

struct Fixture {
    interner: Arc<Interner>,
    decoder: Decoder,
    out: ReadingBatch,
    dead: Vec<DeadLetter>,
    offset: u64,
}

impl Fixture {
    fn new() -> Self {
        let interner = Interner::shared();
        let source = interner.intern("test.jsonl");
        let decoder = Decoder::new(
            Arc::from("test.jsonl"),
            InternCache::new(Arc::clone(&interner)),
            5_000,
            86_400_000,
        );
        Self {
            interner,
            decoder,
            out: ReadingBatch::with_capacity(source, 8),
            dead: Vec::new(),
            offset: 0,
        }
    }

    /// Decodes `line`; returns the dead letter's reason, or `None` if it became a reading.
    fn feed(&mut self, line: &str) -> Option<DeadLetterReason> {
        self.feed_bytes(line.as_bytes())
    }

    fn feed_bytes(&mut self, line: &[u8]) -> Option<DeadLetterReason> {
        self.offset += 1;
        let before = self.dead.len();
        self.decoder
            .decode(line, self.offset, NOW, &mut self.out, &mut self.dead);
        (self.dead.len() > before).then(|| self.dead[before].reason)
    }

    fn last_dead(&self) -> &DeadLetter {
        self.dead.last().expect("a dead letter")
    }
}

fn line(fields: &str) -> String {
    format!("{{{fields}}}")
}

#[test]
fn valid_reading_lands_in_the_batch() {
    let mut fx = Fixture::new();
    let l = format!(
        r#"{{"device":"llamas-env-03","sensor":"co2","ts":{T0},"value":412.5,"lat":43.4721,"lon":-3.8012,"battery":87,"unit":"ppm"}}"#
    );
    assert_eq!(fx.feed(&l), None);
    assert_eq!(fx.out.len(), 1);
    assert_eq!(
        fx.interner.name(fx.out.device[0]).as_deref(),
        Some("llamas-env-03")
    );
    assert_eq!(fx.out.sensor[0], SensorKind::Co2);
    assert_eq!(fx.out.ts[0], T0);
    assert_eq!(fx.out.value[0], 412.5);
    assert_eq!((fx.out.lat[0], fx.out.lon[0]), (43.4721, -3.8012));
    assert_eq!((fx.out.offset[0], fx.out.ingest_ts[0]), (1, NOW));
    assert_eq!(fx.decoder.watermark(), Some(T0 - 5_000));

    // No position, null position, escaped device, numbers in other spellings.
    assert_eq!(
        fx.feed(&line(&format!(
            r#""device":"h","sensor":"bed","ts":{T0},"value":1"#
        ))),
        None
    );
    assert!(fx.out.lat[1].is_nan() && fx.out.lon[1].is_nan());
    assert_eq!(
        fx.feed(&line(&format!(
            r#""device":"h","sensor":"bed","ts":{T0},"value":0,"lat":null,"lon":null"#
        ))),
        None
    );
    assert_eq!(
        fx.feed(&line(&format!(
            r#""device":"h\u00e9","sensor":"b\u0065d","ts":{T0},"value":-0.0"#
        ))),
        None
    );
    assert_eq!(fx.interner.name(fx.out.device[3]).as_deref(), Some("hé"));
    assert_eq!(
        fx.feed(&line(&format!(
            r#""device":"h","sensor":"co2","ts":{T0},"value":1e3"#
        ))),
        None
    );
    assert_eq!(fx.out.value[4], 1000.0);
    assert_eq!(
        fx.feed(&line(
            r#""device":"h","sensor":"temperature","ts":1.7724096e12,"value":-0.5"#
        )),
        None
    );
    assert_eq!(fx.out.ts[5], T0);
    assert_eq!(fx.out.value[5], -0.5);
    assert!(fx.dead.is_empty());
}

#[test]
fn rfc3339_times_with_offsets() {
    let mut fx = Fixture::new();
    for (ts, want) in [
        ("2026-03-02T00:00:00Z", T0),
        ("2026-03-02T01:00:00+01:00", T0),
        ("2026-03-01T19:00:00.250-05:00", T0 + 250),
        ("2026-03-02T09:00:00.123456789+09:00", T0 + 123),
        ("2026-03-02t00:00:00z", T0),
    ] {
        assert_eq!(
            fx.feed(&line(&format!(
                r#""device":"d","sensor":"noise","ts":"{ts}","value":40"#
            ))),
            None,
            "{ts}"
        );
        assert_eq!(fx.out.ts.last().copied(), Some(want), "{ts}");
    }
    for bad in [
        "2026-03-02",
        "2026-03-02T00:00:00",
        "yesterday",
        "1772409600000",
        "2026-02-30T00:00:00Z",
    ] {
        assert_eq!(
            fx.feed(&line(&format!(
                r#""device":"d","sensor":"noise","ts":"{bad}","value":40"#
            ))),
            Some(DeadLetterReason::InvalidType),
            "{bad}"
        );
    }
}

#[test]
fn parse_errors() {
    let mut fx = Fixture::new();
    assert_eq!(
        fx.feed_bytes(b"{\"device\":\"d\xff\",\"sensor\":\"co2\"}"),
        Some(DeadLetterReason::Parse)
    );
    assert!(
        fx.last_dead().detail.contains("UTF-8"),
        "{}",
        fx.last_dead().detail
    );
    for bad in [
        "[1,2,3]",
        "\"just a string\"",
        r#"{"device":"d","sensor":"co2","ts":1,"value":1} trailing"#,
        r#"{"device":"d","sensor":"co2","ts":17724"#,
        r#"{"device":"d","value":1,"value":2}"#,
        "NaN",
    ] {
        assert_eq!(fx.feed(bad), Some(DeadLetterReason::Parse), "{bad}");
        let dl = fx.last_dead();
        assert_eq!(dl.raw, bad.as_bytes());
        assert_eq!(dl.ts, None);
        assert_eq!(&*dl.source, "test.jsonl");
    }
    assert!(
        fx.last_dead().detail.contains("column 1"),
        "{}",
        fx.last_dead().detail
    );
}

#[test]
fn missing_fields() {
    let mut fx = Fixture::new();
    let cases = [
        (
            line(&format!(r#""sensor":"co2","ts":{T0},"value":1"#)),
            "`device` is missing",
        ),
        (
            line(&format!(
                r#""device":null,"sensor":"co2","ts":{T0},"value":1"#
            )),
            "`device` is null",
        ),
        (
            line(&format!(
                r#""device":"","sensor":"co2","ts":{T0},"value":1"#
            )),
            "`device` is empty",
        ),
        (
            line(&format!(r#""device":"d","ts":{T0},"value":1"#)),
            "`sensor` is missing",
        ),
        (
            line(r#""device":"d","sensor":"co2","value":1"#),
            "`ts` is missing",
        ),
        (
            line(&format!(r#""device":"d","sensor":"co2","ts":{T0}"#)),
            "`value` is missing",
        ),
        (
            line(&format!(
                r#""device":"d","sensor":"co2","ts":{T0},"value":null"#
            )),
            "`value` is null",
        ),
        (
            line(&format!(
                r#""device":"d","sensor":"co2","ts":{T0},"value":500,"lat":43.0"#
            )),
            "`lat` given without `lon`",
        ),
        // missing_field wins over a type error in another field
        (
            line(r#""device":7,"sensor":"co2","ts":"soon""#),
            "`value` is missing",
        ),
    ];
    for (l, detail) in cases {
        assert_eq!(fx.feed(&l), Some(DeadLetterReason::MissingField), "{l}");
        assert!(
            fx.last_dead().detail.contains(detail),
            "{l}: {}",
            fx.last_dead().detail
        );
    }
    // The event time is kept when it could be read.
    fx.feed(&line(&format!(r#""device":"d","sensor":"co2","ts":{T0}"#)));
    assert_eq!(fx.last_dead().ts, Some(T0));
    assert!(fx.out.is_empty());
}

#[test]
fn invalid_types() {
    let mut fx = Fixture::new();
    let cases = [
        (
            line(&format!(
                r#""device":"d","sensor":"co2","ts":{T0},"value":"12""#
            )),
            "`value` must be a number, got string \"12\"",
        ),
        (
            line(&format!(
                r#""device":"d","sensor":"co2","ts":{T0},"value":"NaN""#
            )),
            "`value`",
        ),
        (
            line(&format!(
                r#""device":"d","sensor":"co2","ts":{T0},"value":true"#
            )),
            "`value`",
        ),
        (
            line(&format!(
                r#""device":"d","sensor":"co2","ts":{T0},"value":[1]"#
            )),
            "got array",
        ),
        (
            line(r#""device":"d","sensor":"co2","ts":1772409600000.5,"value":1"#),
            "`ts`",
        ),
        (
            line(r#""device":"d","sensor":"co2","ts":true,"value":1"#),
            "`ts`",
        ),
        (
            line(r#""device":"d","sensor":"co2","ts":{"ms":1},"value":1"#),
            "`ts`",
        ),
        (
            line(&format!(r#""device":5,"sensor":"co2","ts":{T0},"value":1"#)),
            "`device` must be a string",
        ),
        (
            line(&format!(r#""device":"d","sensor":3,"ts":{T0},"value":1"#)),
            "`sensor` must be a string",
        ),
        (
            line(&format!(
                r#""device":"d","sensor":"co2","ts":{T0},"value":400,"lat":"43.4","lon":-3.8"#
            )),
            "`lat`",
        ),
        (
            line(&format!(
                r#""device":"d","sensor":"co2","ts":{T0},"value":400,"lat":43.4,"lon":false"#
            )),
            "`lon`",
        ),
        // invalid_type wins over an unknown sensor
        (
            line(&format!(
                r#""device":"d","sensor":"smoke","ts":{T0},"value":"x""#
            )),
            "`value`",
        ),
    ];
    for (l, detail) in cases {
        assert_eq!(fx.feed(&l), Some(DeadLetterReason::InvalidType), "{l}");
        assert!(
            fx.last_dead().detail.contains(detail),
            "{l}: {}",
            fx.last_dead().detail
        );
    }
}

#[test]
fn unknown_sensors() {
    let mut fx = Fixture::new();
    for s in ["smoke_level", "CO2", "", "co2 "] {
        let l = line(&format!(
            r#""device":"d","sensor":"{s}","ts":{T0},"value":1e9"#
        ));
        assert_eq!(fx.feed(&l), Some(DeadLetterReason::UnknownSensor), "{s}");
        assert_eq!(fx.last_dead().ts, Some(T0));
    }
    assert_eq!(
        fx.interner.lookup("d"),
        None,
        "rejected lines do not intern their device"
    );
}

#[test]
fn out_of_range() {
    let mut fx = Fixture::new();
    let cases = [
        line(&format!(
            r#""device":"d","sensor":"humidity","ts":{T0},"value":100.5"#
        )),
        line(&format!(
            r#""device":"d","sensor":"bed","ts":{T0},"value":7"#
        )),
        line(&format!(
            r#""device":"d","sensor":"co2","ts":{T0},"value":1e400"#
        )),
        line(&format!(
            r#""device":"d","sensor":"temperature","ts":{T0},"value":-1e400"#
        )),
        line(&format!(
            r#""device":"d","sensor":"co2","ts":{T0},"value":400,"lat":91,"lon":0"#
        )),
        line(&format!(
            r#""device":"d","sensor":"co2","ts":{T0},"value":400,"lat":0,"lon":-180.5"#
        )),
        line(r#""device":"d","sensor":"co2","ts":946684799999,"value":400"#),
        line(r#""device":"d","sensor":"co2","ts":"1999-12-31T23:59:59Z","value":400"#),
        line(r#""device":"d","sensor":"co2","ts":-5,"value":400"#),
        line(r#""device":"d","sensor":"co2","ts":99999999999999999999999,"value":400"#),
        line(r#""device":"d","sensor":"co2","ts":1e300,"value":400"#),
    ];
    for l in cases {
        assert_eq!(fx.feed(&l), Some(DeadLetterReason::OutOfRange), "{l}");
    }
    // out_of_range wins over future_ts
    let l = line(&format!(
        r#""device":"d","sensor":"bed","ts":{},"value":2"#,
        NOW + 10 * 86_400_000
    ));
    assert_eq!(fx.feed(&l), Some(DeadLetterReason::OutOfRange));
    assert!(fx.out.is_empty());
    // 2000-01-01T00:00:00Z itself is fine
    let l = line(r#""device":"d","sensor":"co2","ts":946684800000,"value":400"#);
    assert_eq!(fx.feed(&l), None);
}

#[test]
fn future_timestamps() {
    let mut fx = Fixture::new();
    let day = 86_400_000;
    let l = line(&format!(
        r#""device":"d","sensor":"co2","ts":{},"value":400"#,
        NOW + day + 1
    ));
    assert_eq!(fx.feed(&l), Some(DeadLetterReason::FutureTs));
    assert_eq!(fx.last_dead().ts, Some(NOW + day + 1));
    let l = line(&format!(
        r#""device":"d","sensor":"co2","ts":{},"value":400"#,
        NOW + day
    ));
    assert_eq!(fx.feed(&l), None, "exactly at the limit is accepted");
}

#[test]
fn late_records_and_the_watermark() {
    let mut fx = Fixture::new();
    let at = |ts: i64| {
        line(&format!(
            r#""device":"d","sensor":"co2","ts":{ts},"value":400"#
        ))
    };
    assert_eq!(fx.feed(&at(T0 + 10_000)), None);
    assert_eq!(fx.feed(&at(T0 + 5_000)), None, "exactly at the watermark");
    assert_eq!(fx.feed(&at(T0 + 4_999)), Some(DeadLetterReason::Late));
    let dl = fx.last_dead();
    assert_eq!((dl.ts, dl.offset), (Some(T0 + 4_999), 3));
    assert!(
        dl.detail.contains(&format!("watermark {}", T0 + 5_000)),
        "{}",
        dl.detail
    );
    // Rejected records never advance the watermark.
    assert_eq!(
        fx.feed(&line(&format!(
            r#""device":"d","sensor":"bed","ts":{},"value":9"#,
            T0 + 60_000
        ))),
        Some(DeadLetterReason::OutOfRange)
    );
    assert_eq!(fx.decoder.watermark(), Some(T0 + 5_000));
    assert_eq!(fx.feed(&at(T0 + 5_001)), None);
    assert_eq!(fx.out.len(), 3);
}
