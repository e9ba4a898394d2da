//! Broker runs (MQTT, Kafka): the checkpoints that seal every dataset and then commit the
//! source's positions, and the replay filter of a run restarted after a crash. The protocol is
//! described in `msec_engine::checkpoint`; this module wires it to the run's sinks and source.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use msec_datasets::{ChainLog, sealed_provenance, sealed_rows};
use msec_engine::Interner;
use msec_engine::checkpoint::{Checkpoint, Horizon, PositionMark, PositionTracker, ResumePoint};
use msec_engine::reading::Behind;
use msec_engine::restore::{readings_from_record_batch, reports_from_record_batch};
use msec_engine::sink::SinkHandle;
use msec_engine::source::{CommitSender, SourceBatch};
use msec_engine::time::now_ms;

/// Takes checkpoints for one broker source.
pub(crate) struct Checkpointer {
    data: PathBuf,
    horizon: Horizon,
    tracker: PositionTracker,
    interval: Duration,
    last: Instant,
    sinks: Vec<(String, SinkHandle)>,
    /// One commit channel per source thread (each commits the partitions it reads).
    commits: Vec<CommitSender>,
    /// How many commits each source thread has applied (they count them).
    applied: Vec<Arc<AtomicU64>>,
    /// Frontiers of the commits sent, oldest first, not yet known to be applied.
    sent: VecDeque<(u64, i64)>,
    sent_count: u64,
    interner: Arc<Interner>,
    file: Checkpoint,
    /// Checkpoints taken by this run.
    pub taken: u64,
    /// Time spent in the last checkpoint.
    pub last_duration: Duration,
}

impl Checkpointer {
    /// A checkpointer for `source`, continuing from its last checkpoint file if any.
    pub(crate) fn new(
        data: &Path,
        source: &str,
        interval: Duration,
        sinks: Vec<(String, SinkHandle)>,
        commits: Vec<CommitSender>,
        applied: Vec<Arc<AtomicU64>>,
        interner: Arc<Interner>,
    ) -> anyhow::Result<Self> {
        let file = Checkpoint::load(data, source)?.unwrap_or_else(|| Checkpoint {
            source: source.to_owned(),
            ..Checkpoint::default()
        });
        Ok(Self {
            data: data.to_owned(),
            // A position is committed once its records are sealed in `readings`/`reports`:
            // the windows they fall in are rebuilt from there after a crash.
            horizon: Horizon::new(&[]),
            tracker: PositionTracker::default(),
            interval,
            last: Instant::now(),
            sinks,
            commits,
            applied,
            sent: VecDeque::new(),
            sent_count: 0,
            interner,
            file,
            taken: 0,
            last_duration: Duration::ZERO,
        })
    }

    /// Records the positions a batch handed to the dataflow reached.
    pub(crate) fn observe(&mut self, marks: &[PositionMark]) {
        self.tracker.observe(marks, &self.horizon);
    }

    /// Whether a checkpoint is due.
    pub(crate) fn due(&self) -> bool {
        self.last.elapsed() >= self.interval
    }

    /// Takes a checkpoint at `frontier`: the caller guarantees that every output released
    /// before it has been handed to the sinks and none after.
    pub(crate) fn take(&mut self, frontier: i64) -> anyhow::Result<()> {
        let started = Instant::now();
        self.last = started;
        if self.file.frontier.is_some_and(|f| f >= frontier) {
            return Ok(()); // nothing released since the last one
        }
        let commit = self.tracker.committable(frontier);
        self.note_applied();
        // 1. Intent: a crash from here on may leave some datasets sealed at `frontier`.
        self.file.pending = Some(frontier);
        self.store()?;
        // 2. Seal every dataset; ask all first, then wait for all.
        let mut answers = Vec::with_capacity(self.sinks.len());
        for (name, handle) in &self.sinks {
            answers.push((name, handle.request_seal()?));
        }
        for (name, answer) in answers {
            match answer.recv() {
                Ok(Ok(Some(len))) => {
                    self.file.datasets.insert(name.clone(), len);
                }
                Ok(Ok(None)) => {}
                Ok(Err(e)) => return Err(anyhow!("sealing dataset {name} at a checkpoint: {e}")),
                Err(_) => return Err(anyhow!("sealing dataset {name}: its sink stopped")),
            }
        }
        // 3. Durable: everything released before `frontier` is sealed everywhere.
        self.file.frontier = Some(frontier);
        self.file.pending = None;
        for (partition, next) in &commit {
            if let Some(name) = self.interner.name(*partition) {
                self.file.positions.insert(name.to_string(), *next);
            }
        }
        self.store()?;
        tracing::debug!(frontier, ?commit, "checkpoint sealed");
        // 4. Only now may the broker forget the records.
        if !commit.is_empty() {
            for commits in &self.commits {
                commits
                    .send(commit.clone())
                    .map_err(|_| anyhow!("the source stopped taking commits"))?;
            }
            self.sent_count += 1;
            self.sent.push_back((self.sent_count, frontier));
        }
        self.taken += 1;
        self.last_duration = started.elapsed();
        Ok(())
    }

    /// Moves the frontier of the latest commit the source has applied into the file.
    fn note_applied(&mut self) {
        let applied = self
            .applied
            .iter()
            .map(|a| a.load(Ordering::Acquire))
            .min()
            .unwrap_or(0);
        while let Some(&(n, frontier)) = self.sent.front() {
            if n > applied {
                break;
            }
            self.file.confirmed = Some(frontier);
            self.sent.pop_front();
        }
    }

    /// Lets go of the sink handles (so the sinks can finish), keeping what the final commit
    /// needs.
    pub(crate) fn release_sinks(&mut self) {
        self.sinks.clear();
    }

    /// Lets go of the commit channels: the sources leave once they have applied the last.
    pub(crate) fn release_sources(&mut self) {
        self.commits.clear();
    }

    /// After an end of input, once every sink has sealed its last segment: records the
    /// final state and commits every position read.
    pub(crate) fn finish(
        &mut self,
        chain_lengths: BTreeMap<String, u64>,
        max_ts: Option<i64>,
    ) -> anyhow::Result<()> {
        let commit = self.tracker.all();
        self.note_applied();
        if let Some(ts) = max_ts {
            let end = self.horizon.completion(ts);
            self.file.frontier = Some(self.file.frontier.map_or(end, |f| f.max(end)));
        }
        self.file.pending = None;
        self.file.datasets = chain_lengths;
        for (partition, next) in &commit {
            if let Some(name) = self.interner.name(*partition) {
                self.file.positions.insert(name.to_string(), *next);
            }
        }
        self.store()?;
        if !commit.is_empty() {
            // A source may already be gone after a failure; then the broker re-delivers.
            for commits in &self.commits {
                let _ = commits.send(commit.clone());
            }
        }
        Ok(())
    }

    fn store(&mut self) -> anyhow::Result<()> {
        self.file.written_at = now_ms();
        self.file
            .store(&self.data)
            .with_context(|| format!("writing the checkpoint of {}", self.file.source))
    }
}

/// What a restarted run does before reading its broker: the readings and reports that the
/// windows still open at the last checkpoint hold (`prefix`, read back from the datasets),
/// and how it treats records the broker delivers again.
#[derive(Debug, Default)]
pub(crate) struct Replay {
    /// Records released before these frontiers are sealed (readings, reports).
    readings_before: Option<i64>,
    reports_before: Option<i64>,
    /// Sealed readings and reports, per interned source.
    rows: HashMap<u32, HashSet<u64>>,
    /// Dead-lettered records, per source name.
    dead: HashMap<Arc<str>, HashSet<u64>>,
    /// Per interned source, the dead-lettered offsets (the same sets, by id).
    dead_ids: HashMap<u32, HashSet<u64>>,
    /// Sealed readings and reports that open windows hold, to feed the dataflow first.
    pub prefix: Vec<SourceBatch>,
}

impl Replay {
    /// Loads what the datasets under `data` hold for the sources `ours` accepts, given the
    /// source's checkpoint, and the thresholds each dataset's sink skips rows below.
    pub(crate) fn load(
        data: &Path,
        cp: &Checkpoint,
        windows: &[(&str, i64)],
        lateness_ms: u64,
        ours: &dyn Fn(&str) -> bool,
        interner: &Interner,
    ) -> anyhow::Result<(Self, ResumePoint)> {
        let mut lengths = BTreeMap::new();
        for name in DATASETS {
            if data.join(name).join("_chain.jsonl").exists() {
                let chain = ChainLog::read(data, name)?;
                lengths.insert((*name).to_owned(), chain.entries.len() as u64);
            }
        }
        let resume = ResumePoint::from_checkpoint(cp, &lengths);
        // Windows still open: those ending after their dataset's frontier. Their records
        // start at the earliest such window's start.
        // A windowed dataset that sealed nothing under a checkpoint needs every record.
        let prefix_from = resume.threshold("readings").map(|_| {
            windows
                .iter()
                .map(|(name, w)| {
                    resume
                        .threshold(name)
                        .map_or(i64::MIN, |t| t.saturating_sub(*w))
                })
                .min()
                .unwrap_or(i64::MIN)
        });
        // Records the broker may deliver again were not complete at the last checkpoint whose
        // commit the source applied: their event times are above its frontier minus the
        // lateness (an earlier one would have been late).
        let lateness = i64::try_from(lateness_ms).unwrap_or(i64::MAX);
        let redelivered_from = cp
            .confirmed
            .map(|f| f.saturating_sub(lateness).saturating_sub(1));
        let since = match (prefix_from, redelivered_from) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let mut replay = Replay {
            readings_before: resume.threshold("readings"),
            reports_before: resume.threshold("reports"),
            ..Replay::default()
        };
        let from = prefix_from.unwrap_or(i64::MAX);
        for rb in sealed_rows(data, "readings", since)? {
            for mut batch in readings_from_record_batch(&rb, interner, i64::MIN, ours)? {
                replay.note_sealed(batch.source, &batch.offset);
                let _ =
                    batch.split_behind_with(from, interner, |_| Behind::Drop, |_| String::new());
                if !batch.is_empty() {
                    replay.prefix.push(SourceBatch {
                        readings: batch,
                        ..SourceBatch::default()
                    });
                }
            }
        }
        for rb in sealed_rows(data, "reports", since)? {
            for mut batch in reports_from_record_batch(&rb, interner, i64::MIN, ours)? {
                replay.note_sealed(batch.source, &batch.offset);
                let _ =
                    batch.split_behind_with(from, interner, |_| Behind::Drop, |_| String::new());
                if !batch.is_empty() {
                    replay.prefix.push(SourceBatch {
                        readings: msec_engine::ReadingBatch::with_capacity(batch.source, 0),
                        reports: batch,
                        ..SourceBatch::default()
                    });
                }
            }
        }
        for (source, offsets) in sealed_provenance(data, "dead_letter", since, ours)? {
            replay
                .dead_ids
                .entry(interner.intern(&source))
                .or_default()
                .extend(offsets.iter().copied());
            replay.dead.insert(Arc::from(source.as_str()), offsets);
        }
        // The prefix goes in in event-time order, as a source would deliver it.
        replay
            .prefix
            .sort_by_key(|b| b.readings.ts.first().or(b.reports.ts.first()).copied());
        Ok((replay, resume))
    }

    /// Records the provenance of sealed rows of `source`.
    fn note_sealed(&mut self, source: u32, offsets: &[u64]) {
        self.rows
            .entry(source)
            .or_default()
            .extend(offsets.iter().copied());
    }

    /// Rows known to be sealed, dead letters known, and prefix rows (for the log).
    pub(crate) fn known(&self) -> (usize, usize, usize) {
        (
            self.rows.values().map(HashSet::len).sum(),
            self.dead.values().map(HashSet::len).sum(),
            self.prefix
                .iter()
                .map(|b| b.readings.len() + b.reports.len())
                .sum(),
        )
    }

    /// Applies the replay rules to a batch from the broker: a record behind its dataset's
    /// sealed frontier is dropped if it was sealed (the prefix already fed it to the open
    /// windows) or dead-lettered by the run before, and is dead-lettered as `late` otherwise
    /// (a record the run before never saw, behind what it already sealed). A dead letter the
    /// run before already wrote is not written again.
    pub(crate) fn apply(&self, batch: &mut SourceBatch, interner: &Interner) {
        if !self.dead.is_empty() {
            batch.dead_letters.retain(|d| {
                !self
                    .dead
                    .get(&d.source)
                    .is_some_and(|set| set.contains(&d.offset))
            });
        }
        let detail = |what: &'static str, before: i64| {
            move |ts: i64| {
                format!(
                    "{what} time {ts} is behind {before}, up to which a run before a restart sealed its datasets"
                )
            }
        };
        if let Some(before) = self.readings_before {
            let fate = self.fate(batch.readings.source);
            let late =
                batch
                    .readings
                    .split_behind_with(before, interner, fate, detail("event", before));
            batch.dead_letters.extend(late);
        }
        if let Some(before) = self.reports_before {
            let fate = self.fate(batch.reports.source);
            let late =
                batch
                    .reports
                    .split_behind_with(before, interner, fate, detail("report", before));
            batch.dead_letters.extend(late);
        }
    }

    fn fate(&self, source: u32) -> impl FnMut(u64) -> Behind + '_ {
        let rows = self.rows.get(&source);
        let dead = self.dead_ids.get(&source);
        move |offset| {
            if rows.is_some_and(|s| s.contains(&offset))
                || dead.is_some_and(|s| s.contains(&offset))
            {
                Behind::Drop
            } else {
                Behind::Late
            }
        }
    }
}

/// The datasets a run writes, whose chains a checkpoint records.
const DATASETS: &[&str] = &[
    "readings",
    "reports",
    "agg_1m",
    "alerts",
    "heatmap",
    "kpi_latency",
    "fivev",
    "veracity_flags",
    "dead_letter",
];
