//! Rows of the `readings` and `reports` datasets back into columnar batches: what a broker
//! run restarted after a crash feeds its dataflow again, so the windows that were open are
//! rebuilt from what was sealed (DESIGN §9) instead of being lost.

use std::collections::BTreeMap;

use datafusion::arrow::array::{
    Array, ArrayRef, Float64Array, Int64Array, StringArray, UInt64Array,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;

use crate::error::{EngineError, Result};
use crate::intern::Interner;
use crate::reading::ReadingBatch;
use crate::report::ReportBatch;
use crate::sensor::SensorKind;

fn column(rb: &RecordBatch, name: &str, to: &DataType) -> Result<ArrayRef> {
    let col = rb
        .column_by_name(name)
        .ok_or_else(|| EngineError::Runtime(format!("restoring rows: no column `{name}`")))?;
    Ok(cast(col, to)?)
}

fn strings(a: &ArrayRef) -> Result<&StringArray> {
    a.as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| EngineError::Runtime("restoring rows: not text".into()))
}

fn ints(a: &ArrayRef) -> Result<&Int64Array> {
    a.as_any()
        .downcast_ref::<Int64Array>()
        .ok_or_else(|| EngineError::Runtime("restoring rows: not Int64".into()))
}

fn floats(a: &ArrayRef) -> Result<&Float64Array> {
    a.as_any()
        .downcast_ref::<Float64Array>()
        .ok_or_else(|| EngineError::Runtime("restoring rows: not Float64".into()))
}

fn offsets(a: &ArrayRef) -> Result<&UInt64Array> {
    a.as_any()
        .downcast_ref::<UInt64Array>()
        .ok_or_else(|| EngineError::Runtime("restoring rows: not UInt64".into()))
}

/// The rows of a `readings` record batch whose source `keep` accepts and whose event time is
/// at least `since`, as one [`ReadingBatch`] per source (interned through `interner`).
pub fn readings_from_record_batch(
    rb: &RecordBatch,
    interner: &Interner,
    since: i64,
    keep: &dyn Fn(&str) -> bool,
) -> Result<Vec<ReadingBatch>> {
    let device = column(rb, "device", &DataType::Utf8)?;
    let sensor = column(rb, "sensor", &DataType::Utf8)?;
    let ts = column(rb, "ts", &DataType::Int64)?;
    let value = column(rb, "value", &DataType::Float64)?;
    let lat = column(rb, "lat", &DataType::Float64)?;
    let lon = column(rb, "lon", &DataType::Float64)?;
    let ingest = column(rb, "ingest_ts", &DataType::Int64)?;
    let source = column(rb, "source", &DataType::Utf8)?;
    let offset = column(rb, "offset", &DataType::UInt64)?;
    let (device, sensor, source) = (strings(&device)?, strings(&sensor)?, strings(&source)?);
    let (ts, ingest) = (ints(&ts)?, ints(&ingest)?);
    let (value, lat, lon) = (floats(&value)?, floats(&lat)?, floats(&lon)?);
    let offset = offsets(&offset)?;
    let mut out: BTreeMap<u32, ReadingBatch> = BTreeMap::new();
    for i in 0..rb.num_rows() {
        if ts.value(i) < since || !keep(source.value(i)) {
            continue;
        }
        let Some(kind) = SensorKind::from_name(sensor.value(i)) else {
            return Err(EngineError::Runtime(format!(
                "restoring readings: unknown sensor {:?}",
                sensor.value(i)
            )));
        };
        let source_id = interner.intern(source.value(i));
        let batch = out
            .entry(source_id)
            .or_insert_with(|| ReadingBatch::with_capacity(source_id, 1024));
        let position = |a: &Float64Array| (!a.is_null(i)).then(|| a.value(i));
        batch.push(
            interner.intern(device.value(i)),
            kind,
            ts.value(i),
            value.value(i),
            position(lat),
            position(lon),
            ingest.value(i),
            offset.value(i),
        );
    }
    Ok(out.into_values().collect())
}

/// Like [`readings_from_record_batch`], for the `reports` dataset.
pub fn reports_from_record_batch(
    rb: &RecordBatch,
    interner: &Interner,
    since: i64,
    keep: &dyn Fn(&str) -> bool,
) -> Result<Vec<ReportBatch>> {
    let report_id = column(rb, "report_id", &DataType::Utf8)?;
    let reporter = column(rb, "reporter", &DataType::Utf8)?;
    let ts = column(rb, "ts", &DataType::Int64)?;
    let lat = column(rb, "lat", &DataType::Float64)?;
    let lon = column(rb, "lon", &DataType::Float64)?;
    let theme = column(rb, "theme", &DataType::Utf8)?;
    let smile = column(rb, "smile", &DataType::Float64)?;
    let digest = column(rb, "photo_digest", &DataType::Utf8)?;
    let ingest = column(rb, "ingest_ts", &DataType::Int64)?;
    let source = column(rb, "source", &DataType::Utf8)?;
    let offset = column(rb, "offset", &DataType::UInt64)?;
    let (report_id, reporter, theme) =
        (strings(&report_id)?, strings(&reporter)?, strings(&theme)?);
    let (digest, source) = (strings(&digest)?, strings(&source)?);
    let (ts, ingest) = (ints(&ts)?, ints(&ingest)?);
    let (lat, lon, smile) = (floats(&lat)?, floats(&lon)?, floats(&smile)?);
    let offset = offsets(&offset)?;
    let mut out: BTreeMap<u32, ReportBatch> = BTreeMap::new();
    for i in 0..rb.num_rows() {
        if ts.value(i) < since || !keep(source.value(i)) {
            continue;
        }
        let source_id = interner.intern(source.value(i));
        let b = out
            .entry(source_id)
            .or_insert_with(|| ReportBatch::new(source_id));
        b.report_id.push(report_id.value(i).to_owned());
        b.reporter.push(interner.intern(reporter.value(i)));
        b.ts.push(ts.value(i));
        b.lat.push(lat.value(i));
        b.lon.push(lon.value(i));
        b.theme.push(interner.intern(theme.value(i)));
        b.smile.push(smile.value(i));
        b.photo_digest.push(digest.value(i).to_owned());
        b.ingest_ts.push(ingest.value(i));
        b.offset.push(offset.value(i));
    }
    Ok(out.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_round_trip_through_arrow() {
        let interner = Interner::shared();
        let src = interner.intern("kafka:city/0");
        let mut b = ReadingBatch::with_capacity(src, 4);
        let dev = interner.intern("llamas-env-03");
        b.push(
            dev,
            SensorKind::Co2,
            1_000,
            412.5,
            Some(43.47),
            Some(-3.8),
            5,
            7,
        );
        b.push(dev, SensorKind::Noise, 2_000, 40.0, None, None, 6, 8);
        let rb = b.to_record_batch(&interner).expect("arrow");
        let back = readings_from_record_batch(&rb, &interner, i64::MIN, &|_| true).expect("back");
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].ts, b.ts);
        assert_eq!(back[0].offset, b.offset);
        assert_eq!(back[0].device, b.device);
        assert!(back[0].lat[1].is_nan());
        let later = readings_from_record_batch(&rb, &interner, 1_500, &|_| true).expect("since");
        assert_eq!(later[0].ts, vec![2_000]);
        let none =
            readings_from_record_batch(&rb, &interner, i64::MIN, &|s| s == "x").expect("filter");
        assert!(none.is_empty());
    }
}
