//! The input loop of one timely worker: it takes batches from its source's channel into the
//! dataflow, moves event time forward, and (worker 0 of a broker run) takes checkpoints.
//!
//! Several workers may each read their own source (a Kafka run reads one share of the
//! partitions per worker). The [`Clock`] they share records every worker's input time; a
//! checkpoint holds every input at the minimum of them, `T`, so that nothing at or after `T`
//! can be released while the sinks seal everything before it.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use msec_engine::config::PipelineConfig;
use msec_engine::dead_letter::dead_letters_to_record_batch;
use msec_engine::metrics::OperatorCounters;
use msec_engine::reading::Behind;
use msec_engine::report::ReportBatch;
use msec_engine::sink::{Failure, SinkHandle};
use msec_engine::source::SourceBatch;
use msec_engine::time::coarsen;
use msec_engine::{Interner, ReadingBatch};
use msec_operators::fivev::SourceStats;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::{InputHandle, ProbeHandle};

use crate::broker::{Checkpointer, Replay};
use crate::metrics_http::Gauges;
use crate::stages::STOPPED;

/// The input times of every worker, and the hold a checkpoint puts on them.
#[derive(Debug)]
pub(crate) struct Clock {
    state: Mutex<ClockState>,
}

#[derive(Debug)]
struct ClockState {
    /// No input may move past this time (`u64::MAX`: no checkpoint in progress).
    hold: u64,
    /// Each worker's input time; `u64::MAX` once its input is gone.
    times: Vec<u64>,
}

impl Clock {
    /// A clock for `workers` workers, all at time 0.
    pub(crate) fn new(workers: usize) -> Self {
        Self {
            state: Mutex::new(ClockState {
                hold: u64::MAX,
                times: vec![0; workers],
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ClockState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The time worker `w` may move its input to, wanting `want` (held back by a checkpoint).
    fn allowed(&self, w: usize, want: u64) -> u64 {
        let mut s = self.lock();
        let t = want.min(s.hold);
        if t > s.times[w] {
            s.times[w] = t;
        }
        s.times[w]
    }

    /// Worker `w`'s input goes away, unless a checkpoint holds the inputs (dropping an input
    /// moves the frontier): then it returns `false` and the worker keeps stepping and retries.
    fn try_retire(&self, w: usize) -> bool {
        let mut s = self.lock();
        if s.hold != u64::MAX {
            return false;
        }
        s.times[w] = u64::MAX;
        true
    }

    /// Retires worker `w`, stepping it while a checkpoint holds the inputs.
    fn retire(&self, w: usize, worker: &mut timely::worker::Worker) {
        while !self.try_retire(w) {
            worker.step();
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Holds every input at the minimum input time and returns it (`None` when no input is
    /// left).
    fn hold_at_min(&self) -> Option<u64> {
        let mut s = self.lock();
        let min = s.times.iter().copied().min().filter(|m| *m != u64::MAX)?;
        s.hold = min;
        Some(min)
    }

    /// Ends a hold.
    fn release(&self) {
        self.lock().hold = u64::MAX;
    }
}

/// The input handles of one worker's dataflow.
pub(crate) struct Inputs {
    pub readings: InputHandle<u64, CapacityContainerBuilder<Vec<ReadingBatch>>>,
    pub reports: InputHandle<u64, CapacityContainerBuilder<Vec<ReportBatch>>>,
    pub stats: InputHandle<u64, CapacityContainerBuilder<Vec<SourceStats>>>,
}

impl Inputs {
    fn time(&self) -> u64 {
        *self.readings.time()
    }

    fn advance_to(&mut self, t: u64) {
        self.readings.advance_to(t);
        self.reports.advance_to(t);
        self.stats.advance_to(t);
    }

    /// Sends a batch's records and stats at the current time; `max_ts` follows them.
    fn send(&mut self, batch: SourceBatch, max_ts: &mut i64) {
        self.stats
            .send(SourceStats::from_batch(&batch, self.time()));
        if !batch.readings.is_empty() {
            *max_ts = batch.readings.ts.iter().fold(*max_ts, |m, t| m.max(*t));
            self.readings.send(batch.readings);
        }
        if !batch.reports.is_empty() {
            *max_ts = batch.reports.ts.iter().fold(*max_ts, |m, t| m.max(*t));
            self.reports.send(batch.reports);
        }
    }
}

/// A worker's end of its source: the channel, and the flag saying the source read all its
/// input.
pub(crate) type SourceEnd = (Receiver<SourceBatch>, Arc<AtomicBool>);

/// What every worker's input loop shares.
#[derive(Clone)]
pub(crate) struct Shared {
    pub cfg: PipelineConfig,
    pub interner: Arc<Interner>,
    pub failed: Failure,
    pub dead_sink: SinkHandle,
    /// A restarted broker run's rules for records delivered again.
    pub replay: Arc<Option<Replay>>,
    /// The records re-opening the windows left open before a restart (worker 0 feeds them).
    pub prefix: Arc<Mutex<Vec<SourceBatch>>>,
    pub checkpointer: Arc<Mutex<Option<Checkpointer>>>,
    pub clock: Arc<Clock>,
    /// Set by SIGINT/SIGTERM in a broker run.
    pub stop: Option<Arc<AtomicBool>>,
    pub gauges: Arc<Gauges>,
    /// Whether the inputs are live (stdin, brokers): idle inputs let time follow the clock.
    pub live: bool,
    /// Per worker: its source's channel and the flag saying the source read all its input.
    pub receivers: Arc<Mutex<Vec<Option<SourceEnd>>>>,
    /// The largest event time any worker fed in.
    pub max_ts: Arc<AtomicI64>,
}

/// Runs worker `index`'s input loop until its source ends, fails or is stopped; returns the
/// time it was busy.
pub(crate) fn ingest(
    worker: &mut timely::worker::Worker,
    index: usize,
    mut inputs: Inputs,
    probe: &ProbeHandle<u64>,
    sealed: &ProbeHandle<u64>,
    shared: &Shared,
    counters: &OperatorCounters,
) -> Result<Duration, String> {
    let taken = shared
        .receivers
        .lock()
        .ok()
        .and_then(|mut r| r.get_mut(index).and_then(Option::take));
    let Some((rx, source_done)) = taken else {
        shared.clock.retire(index, worker);
        return Ok(Duration::ZERO); // dropping the inputs releases this worker's hold on the frontier
    };
    let _span = tracing::info_span!("dataflow", worker = index).entered();
    let cfg = &shared.cfg;
    let failed = &shared.failed;
    let interner = &shared.interner;
    let started = Instant::now();
    let mut idle = Duration::ZERO;
    let mut time = 0u64;
    let mut wanted = 0u64;
    let mut max_ts = i64::MIN;
    // Wall-clock progress of event time while a live source is idle (DESIGN §5).
    let idle_timeout = Duration::from_millis(cfg.idle_timeout_ms);
    let mut last_data = Instant::now();
    let mut last_watermark: Option<i64> = None;
    let mut clock_ahead = false;
    // Any error here is recorded in `failed` before the inputs are dropped, so the windows
    // flushed by the emptied frontier are not handed to the sinks.
    let fail = |message: String| {
        failed.set(message.clone());
        message
    };
    if index == 0 {
        // A restarted broker run first re-opens the windows the run before left open.
        let reopened = shared
            .prefix
            .lock()
            .map(|mut p| std::mem::take(&mut *p))
            .unwrap_or_default();
        for batch in reopened {
            inputs.send(batch, &mut max_ts);
        }
    }
    let result = loop {
        let wait = Instant::now();
        let received = rx.recv_timeout(Duration::from_millis(2));
        idle += wait.elapsed();
        match received {
            Ok(mut batch) => {
                last_data = Instant::now();
                if let Some(replay) = shared.replay.as_ref() {
                    replay.apply(&mut batch, interner);
                }
                // Time may have moved past records of this batch: the wall clock while every
                // source was idle, or another partition's watermark. What it passed is late,
                // never merged into results already final.
                let behind = i64::try_from(time).unwrap_or(i64::MAX);
                if clock_ahead {
                    let late = batch.readings.split_behind(behind, interner);
                    batch.dead_letters.extend(late);
                    let late = batch.reports.split_behind(behind, interner);
                    batch.dead_letters.extend(late);
                } else {
                    let detail =
                        |ts: i64| format!("event time {ts} is behind the dataflow's time {behind}");
                    let late = |_| Behind::Late;
                    let d = batch
                        .readings
                        .split_behind_with(behind, interner, late, detail);
                    batch.dead_letters.extend(d);
                    let d = batch
                        .reports
                        .split_behind_with(behind, interner, late, detail);
                    batch.dead_letters.extend(d);
                }
                counters.add_in(batch.records as usize);
                counters.add_out(batch.readings.len() + batch.reports.len());
                counters.add_dead(batch.dead_letters.len());
                // Dead letters reach their sink before the batch's positions are known to the
                // checkpointer: a checkpoint that commits a position has sealed them.
                if !batch.dead_letters.is_empty()
                    && let Err(e) = dead_letters_to_record_batch(&batch.dead_letters)
                        .map_err(|e| e.to_string())
                        .and_then(|rb| shared.dead_sink.send(rb).map_err(|e| e.to_string()))
                {
                    break Err(fail(format!("sink dead_letter: {e}")));
                }
                if !batch.marks.is_empty()
                    && let Ok(mut c) = shared.checkpointer.lock()
                    && let Some(c) = c.as_mut()
                {
                    c.observe(&batch.marks);
                }
                let watermark = batch.watermark;
                inputs.send(batch, &mut max_ts);
                if let Some(wm) = watermark {
                    last_watermark = Some(wm);
                    let t = coarsen(wm, cfg.watermark_granularity_ms);
                    if t > wanted {
                        wanted = t;
                        clock_ahead = false;
                    }
                }
                worker.step();
                // Keep the dataflow within one watermark step of the input (with several
                // inputs, of the slowest one: a worker does not run ahead of the others).
                while probe.less_than(&inputs.time()) && !failed.is_set() {
                    worker.step_or_park(Some(Duration::from_millis(1)));
                }
                if let Some(message) = failed.message() {
                    // Another worker's graceful stop ends this one too.
                    break if message == STOPPED {
                        Ok(())
                    } else {
                        Err(message)
                    };
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                let quiet = last_data.elapsed();
                if shared.live
                    && !idle_timeout.is_zero()
                    && quiet >= idle_timeout
                    && let Some(wm) = last_watermark
                {
                    let now = wm.saturating_add(quiet.as_millis() as i64);
                    let t = coarsen(now, cfg.watermark_granularity_ms);
                    if t > wanted {
                        wanted = t;
                        clock_ahead = true;
                    }
                }
                worker.step();
                if let Some(message) = failed.message() {
                    break if message == STOPPED {
                        Ok(())
                    } else {
                        Err(message)
                    };
                }
            }
            Err(RecvTimeoutError::Disconnected) => {
                let stopping = shared
                    .stop
                    .as_ref()
                    .is_some_and(|s| s.load(Ordering::Acquire));
                if !source_done.load(Ordering::Acquire) {
                    if !stopping {
                        break Err(fail(
                            "the source stopped before the end of its input".into(),
                        ));
                    }
                    // A graceful stop: worker 0 seals what is complete and commits; open
                    // windows are left to the next run. The others wait for it.
                    if index == 0 {
                        if let Err(e) = checkpoint(worker, shared, sealed) {
                            break Err(fail(e));
                        }
                        failed.set(STOPPED);
                    }
                    while !failed.is_set() {
                        worker.step();
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    break Ok(());
                }
                // Everything up to the largest event time seen is complete: deadlines up to
                // it may fire, later ones may not.
                shared.clock.retire(index, worker);
                let end = u64::try_from(max_ts).unwrap_or(0);
                if end > inputs.time() {
                    inputs.advance_to(end);
                }
                break Ok(());
            }
        }
        // Move event time as far as the watermark wants and a checkpoint allows.
        if wanted > time {
            let t = shared.clock.allowed(index, wanted);
            if t > time {
                time = t;
                inputs.advance_to(t);
            }
        }
        if index == 0 {
            shared
                .gauges
                .event_time
                .store(i64::try_from(time).unwrap_or(0), Ordering::Relaxed);
            let due = shared
                .checkpointer
                .lock()
                .ok()
                .is_some_and(|c| c.as_ref().is_some_and(Checkpointer::due));
            if due && let Err(e) = checkpoint(worker, shared, sealed) {
                break Err(fail(e));
            }
        }
    };
    shared.max_ts.fetch_max(max_ts, Ordering::AcqRel);
    if result.is_err() {
        shared.clock.release();
    }
    result?;
    Ok(started.elapsed().saturating_sub(idle))
}

/// Holds every input at the minimum input time `T`, brings the dataflow up to it — every
/// output released before `T` handed to its sink, none after — and takes a checkpoint there.
/// The checkpointer is locked only for the seal itself: the other workers keep stepping (and
/// noting positions) while the dataflow catches up.
fn checkpoint(
    worker: &mut timely::worker::Worker,
    shared: &Shared,
    sealed: &ProbeHandle<u64>,
) -> Result<(), String> {
    let Some(frontier) = shared.clock.hold_at_min() else {
        return Ok(());
    };
    let result = (|| {
        while sealed.less_than(&frontier) {
            worker.step();
            if let Some(message) = shared.failed.message() {
                return Err(message);
            }
        }
        let t = i64::try_from(frontier).unwrap_or(i64::MAX);
        let mut cp = shared
            .checkpointer
            .lock()
            .map_err(|_| "checkpointer lock poisoned".to_owned())?;
        let Some(c) = cp.as_mut() else { return Ok(()) };
        c.take(t).map_err(|e| format!("{e:#}"))?;
        shared.gauges.checkpoints.store(c.taken, Ordering::Relaxed);
        shared.gauges.checkpoint_us.store(
            u64::try_from(c.last_duration.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        Ok(())
    })();
    shared.clock.release();
    result
}
