//! Per-worker partial aggregates of one (source, window) of `fivev`, and how partials of all
//! workers merge into a row. Every part merges exactly: sums, the union of bit masks and of
//! device sets, and [`LogHistogram::merge`] — so a row is the same whatever the number of
//! workers and however the readings are partitioned.

use std::collections::{BTreeMap, HashSet};

use msec_engine::{DeadLetterReason, SensorKind};
use serde::{Deserialize, Serialize};

use super::batch::{FivevReason, FivevRow};
use super::input::{SourceStats, ValueEvent};
use crate::kpi::LogHistogram;
use crate::veracity::VeracityKind;

/// Record-schema bits of [`FivevPartial::schemas`].
const READING: u8 = 1;
const REPORT: u8 = 2;
const OTHER: u8 = 4;

// Sensor codes index a 64-bit mask.
const _: () = assert!(SensorKind::ALL.len() <= 64);

/// What one worker saw of one (source, window).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct FivevPartial {
    pub source: u32,
    pub window_start: i64,
    pub records: u64,
    pub bytes: u64,
    pub readings: u64,
    pub latency: LogHistogram,
    /// Bit mask over [`SensorKind::code`].
    pub sensors: u64,
    /// Distinct devices, sorted.
    pub devices: Vec<u32>,
    /// Bit mask of record schemas seen.
    pub schemas: u8,
    /// The sources' rejections per reason.
    pub dead_letters: BTreeMap<DeadLetterReason, u64>,
    /// Veracity flags per kind.
    pub duplicates: u64,
    pub stuck: u64,
    pub alerts: u64,
    pub heatmap_cells: u64,
    pub datasets_sealed: u64,
}

/// The accumulator behind a [`FivevPartial`] while its window is open.
#[derive(Debug, Default)]
pub(super) struct Acc {
    part: FivevPartial,
    devices: HashSet<u32, ahash::RandomState>,
    last_device: Option<u32>,
}

impl Acc {
    /// Adds a reading (latency `ingest − ts`, clamped at 0).
    #[inline]
    pub fn reading(&mut self, device: u32, sensor: SensorKind, latency_ms: i64) {
        let p = &mut self.part;
        p.readings += 1;
        p.latency.record(u64::try_from(latency_ms).unwrap_or(0));
        p.sensors |= 1u64 << sensor.code();
        if self.last_device != Some(device) {
            self.devices.insert(device);
            self.last_device = Some(device);
        }
    }

    /// Adds a source batch's statistics.
    pub fn stats(&mut self, s: &SourceStats) {
        let p = &mut self.part;
        p.records += s.records;
        p.bytes += s.bytes;
        for (bit, n) in [(READING, s.readings), (REPORT, s.reports), (OTHER, s.other)] {
            if n > 0 {
                p.schemas |= bit;
            }
        }
        for (&reason, &n) in &s.dead_letters {
            *p.dead_letters.entry(reason).or_default() += n;
        }
    }

    /// Adds one veracity flag.
    pub fn flag(&mut self, kind: VeracityKind) {
        match kind {
            VeracityKind::Duplicate => self.part.duplicates += 1,
            VeracityKind::Stuck => self.part.stuck += 1,
        }
    }

    /// Adds a value event.
    pub fn value(&mut self, v: &ValueEvent) {
        self.part.alerts += v.alerts;
        self.part.heatmap_cells += v.heatmap_cells;
        self.part.datasets_sealed += v.datasets_sealed;
    }

    /// The partial of `(source, window_start)`.
    pub fn finish(self, source: u32, window_start: i64) -> FivevPartial {
        let mut devices: Vec<u32> = self.devices.into_iter().collect();
        devices.sort_unstable();
        FivevPartial {
            source,
            window_start,
            devices,
            ..self.part
        }
    }
}

impl FivevPartial {
    /// Adds `other` (same source and window) to `self`.
    pub fn merge(&mut self, other: FivevPartial) {
        self.records += other.records;
        self.bytes += other.bytes;
        self.readings += other.readings;
        self.latency.merge(&other.latency);
        self.sensors |= other.sensors;
        self.devices.extend(other.devices);
        self.devices.sort_unstable();
        self.devices.dedup();
        self.schemas |= other.schemas;
        for (reason, n) in other.dead_letters {
            *self.dead_letters.entry(reason).or_default() += n;
        }
        self.duplicates += other.duplicates;
        self.stuck += other.stuck;
        self.alerts += other.alerts;
        self.heatmap_cells += other.heatmap_cells;
        self.datasets_sealed += other.datasets_sealed;
    }

    /// The row of a fully merged partial, for windows of `window_ms`.
    pub fn row(&self, window_ms: u64) -> FivevRow {
        let dead = |r: DeadLetterReason| self.dead_letters.get(&r).copied().unwrap_or(0);
        use DeadLetterReason as D;
        let mut veracity = [0u64; 6];
        veracity[FivevReason::Invalid.index()] =
            dead(D::Parse) + dead(D::MissingField) + dead(D::InvalidType) + dead(D::UnknownSensor);
        veracity[FivevReason::OutOfRange.index()] = dead(D::OutOfRange);
        veracity[FivevReason::Late.index()] = dead(D::Late);
        veracity[FivevReason::FutureTs.index()] = dead(D::FutureTs);
        veracity[FivevReason::Duplicate.index()] = dead(D::Duplicate) + self.duplicates;
        veracity[FivevReason::Stuck.index()] = self.stuck;
        let schemas = self.schemas | if self.readings > 0 { READING } else { 0 };
        FivevRow {
            source: self.source,
            window_start: self.window_start,
            records: self.records,
            bytes: self.bytes,
            readings: self.readings,
            events_per_s: self.readings as f64 * 1000.0 / window_ms.max(1) as f64,
            latency_p99_ms: self
                .latency
                .quantile(0.99)
                .map(|v| i64::try_from(v).unwrap_or(i64::MAX)),
            sensor_kinds: u64::from(self.sensors.count_ones()),
            devices: self.devices.len() as u64,
            schemas: u64::from(schemas.count_ones()),
            veracity,
            alerts: self.alerts,
            heatmap_cells: self.heatmap_cells,
            datasets_sealed: self.datasets_sealed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partials_merge_to_the_whole() {
        let (mut a, mut b, mut whole) = (Acc::default(), Acc::default(), Acc::default());
        for (acc, d, s, l) in [
            (&mut a, 1, SensorKind::Co2, 10),
            (&mut b, 1, SensorKind::Noise, 300),
        ] {
            acc.reading(d, s, l);
            whole.reading(d, s, l);
        }
        whole.reading(2, SensorKind::Co2, -5);
        b.reading(2, SensorKind::Co2, -5);
        let mut stats = SourceStats {
            records: 10,
            reports: 1,
            ..SourceStats::default()
        };
        stats.dead_letters.insert(DeadLetterReason::Parse, 2);
        stats
            .dead_letters
            .insert(DeadLetterReason::UnknownSensor, 1);
        a.stats(&stats);
        whole.stats(&stats);
        b.flag(VeracityKind::Stuck);
        whole.flag(VeracityKind::Stuck);
        let mut merged = a.finish(0, 0);
        merged.merge(b.finish(0, 0));
        let whole = whole.finish(0, 0);
        assert_eq!(merged, whole);
        let row = merged.row(1_000);
        assert_eq!(
            (row.readings, row.devices, row.sensor_kinds, row.schemas),
            (3, 2, 2, 2)
        );
        assert_eq!(row.count(FivevReason::Invalid), 3);
        assert_eq!(row.rate(FivevReason::Stuck), Some(0.1));
        assert_eq!(row.events_per_s, 3.0);
        assert_eq!(row.latency_p99_ms, Some(300));
    }
}
