//! Canonical order of the veracity outputs on the sink worker, so that what is written is
//! the same row for row whatever the number of workers, batch sizes or arrival order (like
//! [`crate::OrderWindows`] for `agg_1m`). Each gathers everything stamped with a time on
//! worker [`SINK_WORKER`](msec_engine::runtime::SINK_WORKER) until the frontier passes it.
//!
//! * [`OrderDeadLetters`] — by (ts, source name, offset, detail);
//! * [`OrderFlags`] — by (ts, source name, offset, kind);
//! * [`OrderReadings`] — one batch per source, sources by name, readings by (offset, ts,
//!   sensor, device name): the order of the source itself.

use std::sync::Arc;

use msec_engine::intern::NameKeys;
use msec_engine::{Interner, ReadingBatch};
use timely::dataflow::Stream;
use timely::dataflow::operators::vec::Map;

use super::flags::{DeadLetterRows, VeracityFlags};
use crate::gather::GatherPerTime;

/// Canonical order of dead letters.
pub trait OrderDeadLetters<'scope> {
    /// Gathers each time's dead letters on the sink worker and emits them sorted.
    fn order_dead_letters(self) -> Stream<'scope, u64, Vec<DeadLetterRows>>;
}

impl<'scope> OrderDeadLetters<'scope> for Stream<'scope, u64, Vec<DeadLetterRows>> {
    fn order_dead_letters(self) -> Stream<'scope, u64, Vec<DeadLetterRows>> {
        self.gather_per_time("OrderDeadLetters", |batches: Vec<DeadLetterRows>| {
            let mut rows: Vec<_> = batches.into_iter().flat_map(|b| b.0).collect();
            rows.sort_by(|a, b| {
                (a.ts, &a.source, a.offset, &a.detail).cmp(&(b.ts, &b.source, b.offset, &b.detail))
            });
            (!rows.is_empty()).then_some(DeadLetterRows(rows))
        })
    }
}

/// Canonical order of veracity flags.
pub trait OrderFlags<'scope> {
    /// Gathers each time's flags on the sink worker and emits them sorted.
    fn order_flags(self, interner: Arc<Interner>) -> Stream<'scope, u64, Vec<VeracityFlags>>;
}

impl<'scope> OrderFlags<'scope> for Stream<'scope, u64, Vec<VeracityFlags>> {
    fn order_flags(self, interner: Arc<Interner>) -> Stream<'scope, u64, Vec<VeracityFlags>> {
        let mut names = NameKeys::new(interner);
        self.gather_per_time("OrderFlags", move |batches: Vec<VeracityFlags>| {
            let mut rows: Vec<_> = batches
                .iter()
                .flat_map(|b| (0..b.len()).map(move |i| b.get(i)))
                .collect();
            rows.sort_by(|a, b| {
                a.ts.cmp(&b.ts)
                    .then_with(|| names.cmp(a.source, b.source))
                    .then((a.offset, a.kind).cmp(&(b.offset, b.kind)))
                    .then_with(|| names.cmp(a.device, b.device))
                    .then(a.sensor.cmp(&b.sensor))
            });
            let mut out = VeracityFlags::default();
            rows.into_iter().for_each(|f| out.push(f));
            (!out.is_empty()).then_some(out)
        })
    }
}

/// Canonical order of readings.
pub trait OrderReadings<'scope> {
    /// Gathers each time's readings on the sink worker and emits one batch per source.
    fn order_readings(self, interner: Arc<Interner>) -> Stream<'scope, u64, Vec<ReadingBatch>>;
}

impl<'scope> OrderReadings<'scope> for Stream<'scope, u64, Vec<ReadingBatch>> {
    fn order_readings(self, interner: Arc<Interner>) -> Stream<'scope, u64, Vec<ReadingBatch>> {
        let mut names = NameKeys::new(interner);
        self.gather_per_time("OrderReadings", move |batches: Vec<ReadingBatch>| {
            let mut rows: Vec<(&ReadingBatch, usize)> = batches
                .iter()
                .flat_map(|b| (0..b.len()).map(move |i| (b, i)))
                .collect();
            rows.sort_by(|(a, i), (b, j)| {
                names
                    .cmp(a.source, b.source)
                    .then((a.offset[*i], a.ts[*i]).cmp(&(b.offset[*j], b.ts[*j])))
                    .then(a.sensor[*i].cmp(&b.sensor[*j]))
                    .then_with(|| names.cmp(a.device[*i], b.device[*j]))
            });
            let mut out: Vec<ReadingBatch> = Vec::new();
            for (b, i) in rows {
                if out.last().is_none_or(|o| o.source != b.source) {
                    out.push(ReadingBatch::with_capacity(b.source, 0));
                }
                if let Some(o) = out.last_mut() {
                    o.push_from(b, i);
                }
            }
            Some(out)
        })
        .flat_map(|batches| batches)
    }
}
