//! The veracity operator ([`Veracity`]): removes duplicate readings (dead-lettered with
//! reason `duplicate`) and flags stuck sensors, exactly, whatever the arrival order.
//!
//! # Time semantics
//!
//! A batch at timely time `t` holds readings with event time `≥ t`, so once the input
//! frontier passes `ts` no reading at `ts` can arrive any more. Readings are therefore *held*
//! until the frontier passes their event time, then checked all together (the private
//! `check` module) and emitted. The operator holds one capability per output, kept at the
//! input frontier of its previous step: it is `≤` the event time of every reading still
//! held, so released readings go out at a time `≤` their event time (downstream operators
//! keep their `ts ≥ t` invariant), and the output frontier follows the input frontier with
//! no lag — a driver that waits for the dataflow to catch up with its input (`msec run`)
//! never waits on this operator. (Keeping each reading at the time of the batch it came in
//! would hold the output frontier below the input frontier for as long as readings wait,
//! and such a driver would wait forever.)
//!
//! In wall-clock terms readings are delayed by about the lateness bound plus the watermark
//! granularity — the price of exactness: emitting a reading at once and dropping later
//! copies would make "which copy is kept" depend on arrival order, batch sizes and worker
//! count. At the end of input the frontier empties and everything held is checked and
//! emitted. A reading below its batch's time (which the sources never send) is checked with
//! the next step and may miss a copy already checked.
//!
//! # Outputs
//!
//! * the cleaned readings: every reading except removed copies, one batch per source and
//!   step, sorted by (device, sensor, ts);
//! * dead letters ([`DeadLetterRows`]): one per removed copy, reason `duplicate`, `raw` the
//!   copy's canonical JSON (made by [`ReadingBatch::split_behind`], the one place that
//!   defines it), `detail` naming the kept copy's source and offset;
//! * flags ([`VeracityFlags`]): one `duplicate` row per removed copy and one `stuck` row per
//!   run of `stuck_run` identical consecutive values of a (device, sensor) — raised when the
//!   run reaches that length, once per run however long it goes on; a different value
//!   starts a new run. Stuck readings are kept. Kinds in `stuck_exempt` are never flagged.
//!
//! Every flag is also added to a [`VeracityTotals`]. The input must be partitioned by device
//! (see [`crate::PartitionReadings`]) so that all copies of a key meet on one worker.

use std::collections::BTreeMap;
use std::sync::Arc;

use msec_engine::metrics::OperatorCounters;
use msec_engine::{DeadLetter, DeadLetterReason, Interner, ReadingBatch};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::Stream;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::Capability;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::progress::frontier::MutableAntichain;

use super::check::{Checker, Held, Verdicts};
use super::config::VeracityConfig;
use super::flags::{DeadLetterRows, Flag, VeracityFlags, VeracityKind, VeracityTotals};

/// The three outputs of [`Veracity::veracity`].
pub struct VeracityStreams<'scope> {
    /// Readings without removed copies, at times `≤` their event times.
    pub readings: Stream<'scope, u64, Vec<ReadingBatch>>,
    /// Removed copies as `dead_letter` rows (reason `duplicate`).
    pub dead_letters: Stream<'scope, u64, Vec<DeadLetterRows>>,
    /// One row per removed copy and per stuck run.
    pub flags: Stream<'scope, u64, Vec<VeracityFlags>>,
}

/// Duplicate removal and stuck-sensor flags.
pub trait Veracity<'scope> {
    /// Checks readings partitioned by device (see the module doc). `cfg` should have been
    /// validated ([`VeracityConfig::validate`]); a run length below 2 is taken as 2.
    fn veracity(
        self,
        cfg: &VeracityConfig,
        interner: Arc<Interner>,
        counters: Arc<OperatorCounters>,
        totals: VeracityTotals,
    ) -> VeracityStreams<'scope>;
}

/// Output ports.
const READINGS: usize = 0;
const DEAD: usize = 1;
const FLAGS: usize = 2;

type Out<C> = OutputBuilder<u64, CapacityContainerBuilder<Vec<C>>>;

/// The input's frontier as an event time: every future reading has event time `≥` it.
fn frontier_ms(frontier: &MutableAntichain<u64>) -> i64 {
    frontier
        .frontier()
        .iter()
        .next()
        .map_or(i64::MAX, |&t| i64::try_from(t).unwrap_or(i64::MAX))
}

impl<'scope> Veracity<'scope> for Stream<'scope, u64, Vec<ReadingBatch>> {
    fn veracity(
        self,
        cfg: &VeracityConfig,
        interner: Arc<Interner>,
        counters: Arc<OperatorCounters>,
        totals: VeracityTotals,
    ) -> VeracityStreams<'scope> {
        let mut builder = OperatorBuilder::new("Veracity".to_owned(), self.scope());
        let mut input = builder.new_input(self, Pipeline);
        let (readings_port, readings) = builder.new_output();
        let (dead_port, dead_letters) = builder.new_output();
        let (flags_port, flags) = builder.new_output();
        let mut readings_out: Out<ReadingBatch> = OutputBuilder::from(readings_port);
        let mut dead_out: Out<DeadLetterRows> = OutputBuilder::from(dead_port);
        let mut flags_out: Out<VeracityFlags> = OutputBuilder::from(flags_port);
        let mut checker = Checker::new(cfg, Arc::clone(&interner));
        builder.build(move |initial| {
            // One capability per output, at the input frontier of the previous step.
            let mut caps: Option<Vec<Capability<u64>>> = Some(initial);
            let mut held: Vec<Held> = Vec::new();
            let mut ready: Vec<Held> = Vec::new();
            let mut verdicts = Verdicts::default();
            let mut done_below = i64::MIN;
            move |frontiers| {
                input.for_each(|cap, data| {
                    let time = cap.least().copied().unwrap_or(0);
                    for batch in data.drain(..) {
                        counters.add_in(batch.len());
                        held.extend((0..batch.len()).map(|i| Held {
                            time,
                            source: batch.source,
                            device: batch.device[i],
                            sensor: batch.sensor[i],
                            ts: batch.ts[i],
                            value: batch.value[i],
                            lat: batch.lat[i],
                            lon: batch.lon[i],
                            ingest_ts: batch.ingest_ts[i],
                            offset: batch.offset[i],
                        }));
                    }
                });
                // Nothing becomes ready unless the frontier moved.
                let upto = frontier_ms(&frontiers[0]);
                if upto <= done_below {
                    return;
                }
                done_below = upto;
                let Some(held_caps) = caps.as_mut() else {
                    return;
                };
                held.retain(|r| {
                    let is_ready = r.ts < upto;
                    if is_ready {
                        ready.push(*r);
                    }
                    !is_ready
                });
                if !ready.is_empty() {
                    checker.check(&mut ready, &mut verdicts);
                    ready.clear();
                    emit(
                        &verdicts,
                        held_caps,
                        (&mut readings_out, &mut dead_out, &mut flags_out),
                        &interner,
                        &counters,
                        &totals,
                    );
                    verdicts.clear();
                }
                match frontiers[0].frontier().iter().next() {
                    Some(t) => held_caps.iter_mut().for_each(|c| c.downgrade(t)),
                    None => caps = None,
                }
            }
        });
        VeracityStreams {
            readings,
            dead_letters,
            flags,
        }
    }
}

/// Sends one step's outcome at the held capabilities.
fn emit(
    verdicts: &Verdicts,
    caps: &[Capability<u64>],
    (readings_out, dead_out, flags_out): (
        &mut Out<ReadingBatch>,
        &mut Out<DeadLetterRows>,
        &mut Out<VeracityFlags>,
    ),
    interner: &Interner,
    counters: &OperatorCounters,
    totals: &VeracityTotals,
) {
    // Cleaned readings, one batch per source.
    let mut kept: BTreeMap<u32, ReadingBatch> = BTreeMap::new();
    for r in &verdicts.kept {
        let b = kept
            .entry(r.source)
            .or_insert_with(|| ReadingBatch::with_capacity(r.source, 0));
        let (lat, lon) = (Some(r.lat), Some(r.lon));
        b.push(
            r.device,
            r.sensor,
            r.ts,
            r.value,
            lat,
            lon,
            r.ingest_ts,
            r.offset,
        );
    }
    counters.add_out(verdicts.kept.len());
    readings_out
        .activate()
        .session(&caps[READINGS])
        .give_iterator(kept.into_values());

    let mut dead = Vec::with_capacity(verdicts.duplicates.len());
    let mut flags = VeracityFlags::default();
    for d in &verdicts.duplicates {
        dead.push(dead_letter(d.copy, d.kept, d.number, interner));
        flags.push(Flag {
            source: d.copy.source,
            device: d.copy.device,
            sensor: d.copy.sensor,
            kind: VeracityKind::Duplicate,
            ts: d.copy.ts,
            first_ts: d.copy.ts,
            count: d.number,
            offset: d.copy.offset,
        });
    }
    for s in &verdicts.stuck {
        flags.push(Flag {
            source: s.at.source,
            device: s.at.device,
            sensor: s.at.sensor,
            kind: VeracityKind::Stuck,
            ts: s.at.ts,
            first_ts: s.first_ts,
            count: s.len,
            offset: s.at.offset,
        });
    }
    counters.add_dead(dead.len());
    if !dead.is_empty() {
        dead_out
            .activate()
            .session(&caps[DEAD])
            .give(DeadLetterRows(dead));
    }
    if !flags.is_empty() {
        totals.add_flags(&flags);
        flags_out.activate().session(&caps[FLAGS]).give(flags);
    }
}

/// The dead letter of a removed copy: its canonical JSON, reason `duplicate`.
fn dead_letter(copy: Held, kept: Held, number: u64, interner: &Interner) -> DeadLetter {
    let mut one = ReadingBatch::with_capacity(copy.source, 1);
    let (lat, lon) = (Some(copy.lat), Some(copy.lon));
    one.push(
        copy.device,
        copy.sensor,
        copy.ts,
        copy.value,
        lat,
        lon,
        copy.ingest_ts,
        copy.offset,
    );
    // `split_behind` writes the canonical JSON of every reading below the given time.
    let raw = one
        .split_behind(copy.ts.saturating_add(1), interner)
        .pop()
        .map(|d| d.raw)
        .unwrap_or_default();
    let name = |id: u32| interner.name(id).unwrap_or_else(|| Arc::from("?"));
    DeadLetter {
        source: name(copy.source),
        offset: copy.offset,
        reason: DeadLetterReason::Duplicate,
        detail: format!(
            "copy {number} of device {}, sensor {}, ts {}: the reading kept is {}:{} (value {})",
            name(copy.device),
            copy.sensor.name(),
            copy.ts,
            name(kept.source),
            kept.offset,
            kept.value
        ),
        raw,
        ts: Some(copy.ts),
        ingest_ts: copy.ingest_ts,
    }
}
