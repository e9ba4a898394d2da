//! Citizen reports in a JSON-lines stream (DESIGN §4): a line with `report_id` and no
//! `device` is a report, `{"report_id", "reporter", "ts", "lat", "lon", "theme", "smile",
//! "photo_digest"}`. Reports are few (people, not sensors), so they take a serde_json slow
//! path that readings never pay for: it runs only for a line the reading checks reject for
//! a missing `device` and that mentions `report_id`.
//!
//! Checks, first failure wins, with the reasons of readings: `parse`; `missing_field`
//! (`report_id`, `reporter`, `ts`, `lat`, `lon`, `theme`, `smile`; empty strings count as
//! missing); `invalid_type`; `out_of_range` (`smile ∉ [0, 1]`, position, `ts` before 2000);
//! `future_ts`; `late`. `photo_digest` is optional (a string); a `photo` field is never read.

use msec_engine::report::ReportBatch;
use msec_engine::time::Arrival;
use msec_engine::{DeadLetter, DeadLetterReason};
use serde_json::{Map, Value};

use super::decode::Decoder;
use crate::validate::{Reject, check_event_time, check_position, reject};

/// Whether `line` may be a report (cheap test, run only on lines rejected as readings).
pub(crate) fn looks_like_report(line: &[u8]) -> bool {
    memchr::memmem::find(line, b"\"report_id\"").is_some()
}

struct ValidReport {
    report_id: String,
    reporter: String,
    ts: i64,
    lat: f64,
    lon: f64,
    theme: String,
    smile: f64,
    photo_digest: String,
}

impl Decoder {
    /// Decodes a report line into `out`, or a dead letter into `dead`.
    pub(crate) fn decode_report(
        &mut self,
        line: &[u8],
        offset: u64,
        now: i64,
        out: &mut ReportBatch,
        dead: &mut Vec<DeadLetter>,
    ) {
        let result = validate(line, now, self.max_future()).and_then(|v| {
            let wm = self.tracker_mut().watermark();
            match self.tracker_mut().observe(v.ts) {
                Arrival::OnTime => Ok(v),
                Arrival::Late => Err(reject(
                    DeadLetterReason::Late,
                    Some(v.ts),
                    format!(
                        "report ts {} is below the watermark {}",
                        v.ts,
                        wm.unwrap_or(i64::MIN)
                    ),
                )),
            }
        });
        match result {
            Ok(v) => {
                let reporter = self.intern(&v.reporter);
                let theme = self.intern(&v.theme);
                out.report_id.push(v.report_id);
                out.reporter.push(reporter);
                out.ts.push(v.ts);
                out.lat.push(v.lat);
                out.lon.push(v.lon);
                out.theme.push(theme);
                out.smile.push(v.smile);
                out.photo_digest.push(v.photo_digest);
                out.ingest_ts.push(now);
                out.offset.push(offset);
            }
            Err(r) => dead.push(self.dead_letter(line, offset, now, r)),
        }
    }
}

fn validate(line: &[u8], now: i64, max_future_ms: i64) -> Result<ValidReport, Reject> {
    use DeadLetterReason::*;
    let map: Map<String, Value> =
        serde_json::from_slice(line).map_err(|e| reject(Parse, None, format!("report: {e}")))?;
    let ts_known = map.get("ts").and_then(Value::as_i64);
    let field = |name: &str| -> Result<&Value, Reject> {
        match map.get(name) {
            None | Some(Value::Null) => Err(reject(
                MissingField,
                ts_known,
                format!("report field `{name}` is missing"),
            )),
            Some(Value::String(s)) if s.is_empty() => Err(reject(
                MissingField,
                ts_known,
                format!("report field `{name}` is empty"),
            )),
            Some(v) => Ok(v),
        }
    };
    let text = |name: &str| -> Result<String, Reject> {
        match field(name)? {
            Value::String(s) => Ok(s.clone()),
            _ => Err(reject(
                InvalidType,
                ts_known,
                format!("report field `{name}` is not a string"),
            )),
        }
    };
    let number = |name: &str| -> Result<f64, Reject> {
        field(name)?.as_f64().ok_or_else(|| {
            reject(
                InvalidType,
                ts_known,
                format!("report field `{name}` is not a number"),
            )
        })
    };
    // missing_field before invalid_type, as for readings.
    for name in [
        "report_id",
        "reporter",
        "ts",
        "lat",
        "lon",
        "theme",
        "smile",
    ] {
        field(name)?;
    }
    let report_id = text("report_id")?;
    let reporter = text("reporter")?;
    let ts = match field("ts")? {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|x| x.fract() == 0.0 && x.abs() < 9.2e18)
                .map(|x| x as i64)
        }),
        Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.timestamp_millis()),
        _ => None,
    }
    .ok_or_else(|| {
        reject(
            InvalidType,
            None,
            "report `ts` is neither epoch ms nor RFC 3339".into(),
        )
    })?;
    let (lat, lon) = (number("lat")?, number("lon")?);
    let theme = text("theme")?;
    let smile = number("smile")?;
    let photo_digest = match map.get("photo_digest") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => {
            return Err(reject(
                InvalidType,
                Some(ts),
                "report `photo_digest` is not a string".into(),
            ));
        }
    };
    if !(0.0..=1.0).contains(&smile) {
        return Err(reject(
            OutOfRange,
            Some(ts),
            format!("report smile {smile} is outside [0, 1]"),
        ));
    }
    check_position(Some(lat), Some(lon), Some(ts))?;
    check_event_time(ts, now, max_future_ms)?;
    Ok(ValidReport {
        report_id,
        reporter,
        ts,
        lat,
        lon,
        theme,
        smile,
        photo_digest,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use msec_engine::Interner;
    use msec_engine::intern::InternCache;

    use super::*;

    const NOW: i64 = 1_772_409_600_000;

    fn run(lines: &[&str]) -> (ReportBatch, Vec<DeadLetter>) {
        let mut d = Decoder::new(
            Arc::from("t.jsonl"),
            InternCache::new(Interner::shared()),
            5_000,
            86_400_000,
        );
        let (mut out, mut dead) = (ReportBatch::new(0), Vec::new());
        for (i, l) in lines.iter().enumerate() {
            d.decode_report(l.as_bytes(), i as u64 + 1, NOW, &mut out, &mut dead);
        }
        (out, dead)
    }

    #[test]
    fn a_valid_report_and_every_reason() {
        let ok = r#"{"report_id":"r-1","reporter":"citizen-0001","ts":1772409500000,"lat":35.33,"lon":139.48,"theme":"flowers","smile":0.8,"photo_digest":"ab"}"#;
        let (out, dead) = run(&[
            ok,
            r#"{"report_id":"r-2","reporter":"c","ts":"2026-03-02T00:00:00Z","lat":35.3,"lon":139.4,"theme":"litter","smile":0}"#,
            r#"{"report_id":"r-3","reporter":"c","ts":1772409500000,"lat":35.3,"lon":139.4,"theme":"x","smile":1.5}"#,
            r#"{"report_id":"r-4","ts":1772409500000,"lat":35.3,"lon":139.4,"theme":"x","smile":0.5}"#,
            r#"{"report_id":"r-5","reporter":"c","ts":1772409500000,"lat":"35.3","lon":139.4,"theme":"x","smile":0.5}"#,
            r#"{"report_id":"r-6","reporter":"c","ts":1772409500000,"lat":95,"lon":139.4,"theme":"x","smile":0.5}"#,
            r#"{"report_id":"r-7","reporter":"c","ts":1772409500000,"lat":35.3,"lon":139.4,"theme":"x","smile":0.5"#,
            r#"{"report_id":"r-8","reporter":"c","ts":1872409500000,"lat":35.3,"lon":139.4,"theme":"x","smile":0.5}"#,
            r#"{"report_id":"r-9","reporter":"c","ts":1772409000000,"lat":35.3,"lon":139.4,"theme":"x","smile":0.5}"#,
        ]);
        assert_eq!(out.report_id, vec!["r-1", "r-2"]);
        assert_eq!(out.ts, vec![1_772_409_500_000, 1_772_409_600_000]);
        assert_eq!(out.photo_digest, vec!["ab".to_owned(), String::new()]);
        assert_eq!(out.offset, vec![1, 2]);
        let reasons: Vec<_> = dead.iter().map(|d| (d.offset, d.reason)).collect();
        use DeadLetterReason::*;
        assert_eq!(
            reasons,
            vec![
                (3, OutOfRange),
                (4, MissingField),
                (5, InvalidType),
                (6, OutOfRange),
                (7, Parse),
                (8, FutureTs),
                (9, Late)
            ]
        );
        assert!(looks_like_report(ok.as_bytes()));
        assert!(!looks_like_report(br#"{"device":"d"}"#));
    }
}
