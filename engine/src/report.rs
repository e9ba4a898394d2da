//! Citizens' photo reports (Pilot 4, SmileCityReport; DESIGN §4) as a columnar batch.
//!
//! A report is `report_id, reporter, ts, lat, lon, theme, smile (0..1), photo_digest` — never
//! the photo. Reporter ids are personal: they are interned here (`u32`, like devices) so the
//! heat map can count *distinct* reporters per cell for k-anonymity, and no public output
//! carries them. Reports are low-volume (people, not sensors), so `report_id` and
//! `photo_digest` are plain strings.

use serde::{Deserialize, Serialize};

/// A batch of validated citizen reports from one source.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReportBatch {
    /// Interned id of the source.
    pub source: u32,
    /// Report ids, as sent.
    pub report_id: Vec<String>,
    /// Interned reporter ids (personal: never published).
    pub reporter: Vec<u32>,
    /// Event time (when the photo was taken), epoch ms.
    pub ts: Vec<i64>,
    /// Latitude (WGS84), required for a report.
    pub lat: Vec<f64>,
    /// Longitude (WGS84), required for a report.
    pub lon: Vec<f64>,
    /// Interned theme (`litter`, `flowers`, `graffiti`, …).
    pub theme: Vec<u32>,
    /// Smile degree of the photo, 0..1.
    pub smile: Vec<f64>,
    /// Hex digest of the photo (the photo itself never enters msec).
    pub photo_digest: Vec<String>,
    /// Ingest time, epoch ms.
    pub ingest_ts: Vec<i64>,
    /// Position in the source (1-based line).
    pub offset: Vec<u64>,
}

impl ReportBatch {
    /// An empty batch for `source`.
    pub fn new(source: u32) -> Self {
        Self {
            source,
            ..Self::default()
        }
    }

    /// Number of reports.
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }
}
