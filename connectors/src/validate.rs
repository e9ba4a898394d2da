//! Checks shared by every text source (JSON lines, delimited logs): the rejection type, the
//! position and event-time range checks, and how a field value is quoted in a dead letter.
//! Each source parses its own syntax; what a valid reading is, is decided here once.

use std::sync::Arc;

use msec_engine::DeadLetter;
use msec_engine::DeadLetterReason::{self, FutureTs, OutOfRange};

/// 2000-01-01T00:00:00Z in epoch ms: earlier event times are `out_of_range`.
pub(crate) const MIN_TS_MS: i64 = 946_684_800_000;

/// Longest excerpt of a field value quoted in a dead letter's detail.
const DETAIL_MAX: usize = 64;

/// Why a record (or a cell of one) was rejected.
pub(crate) struct Reject {
    pub(crate) reason: DeadLetterReason,
    pub(crate) detail: String,
    pub(crate) ts: Option<i64>,
}

impl Reject {
    /// The dead letter of record `raw` at `offset` of `source`, ingested at `now`.
    pub(crate) fn into_dead_letter(
        self,
        source: &Arc<str>,
        raw: &[u8],
        offset: u64,
        now: i64,
    ) -> DeadLetter {
        DeadLetter {
            source: Arc::clone(source),
            offset,
            reason: self.reason,
            detail: self.detail,
            raw: raw.to_vec(),
            ts: self.ts,
            ingest_ts: now,
        }
    }
}

/// A rejection for `reason`, with the event time if it was read.
pub(crate) fn reject(reason: DeadLetterReason, ts: Option<i64>, detail: String) -> Reject {
    Reject { reason, detail, ts }
}

/// A value inside the physical range of its sensor kind (`out_of_range` otherwise).
pub(crate) fn check_value(
    sensor: msec_engine::SensorKind,
    value: f64,
    ts_known: Option<i64>,
) -> Result<(), Reject> {
    if sensor.accepts(value) {
        return Ok(());
    }
    let (lo, hi) = sensor.range();
    Err(reject(
        OutOfRange,
        ts_known,
        format!("value {value} outside [{lo}, {hi}] for {sensor}"),
    ))
}

/// Latitude in [-90, 90] and longitude in [-180, 180] when present (`out_of_range`).
pub(crate) fn check_position(
    lat: Option<f64>,
    lon: Option<f64>,
    ts_known: Option<i64>,
) -> Result<(), Reject> {
    if let Some(lat) = lat.filter(|l| !(-90.0..=90.0).contains(l)) {
        return Err(reject(
            OutOfRange,
            ts_known,
            format!("lat {lat} outside [-90, 90]"),
        ));
    }
    if let Some(lon) = lon.filter(|l| !(-180.0..=180.0).contains(l)) {
        return Err(reject(
            OutOfRange,
            ts_known,
            format!("lon {lon} outside [-180, 180]"),
        ));
    }
    Ok(())
}

/// An event time not before 2000 (`out_of_range`) and at most `max_future_ms` after `now`
/// (`future_ts`).
pub(crate) fn check_event_time(ts: i64, now: i64, max_future_ms: i64) -> Result<(), Reject> {
    if ts < MIN_TS_MS {
        return Err(reject(
            OutOfRange,
            Some(ts),
            format!("ts {ts} is before 2000-01-01T00:00:00Z"),
        ));
    }
    if ts > now.saturating_add(max_future_ms) {
        return Err(reject(
            FutureTs,
            Some(ts),
            format!("ts {ts} is more than {max_future_ms} ms after now ({now})"),
        ));
    }
    Ok(())
}

/// At most the first 64 bytes of `s` (on a character boundary), for dead-letter details.
pub(crate) fn excerpt(s: &str) -> &str {
    if s.len() <= DETAIL_MAX {
        return s;
    }
    let mut end = DETAIL_MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
