//! Exactly-once delivery from brokers (DESIGN §9): source positions, checkpoints, and what a
//! restarted run skips.
//!
//! # The protocol
//!
//! A broker source (Kafka, MQTT) tags each [`SourceBatch`](crate::source::SourceBatch) with
//! [`PositionMark`]s: "partition `p` up to offset `next` is in, and the largest event time in
//! that prefix is `max_ts`". Every output derived from a record at event time `ts` is released
//! once the dataflow's frontier reaches its *completion time* ([`Horizon::completion`]): `ts +
//! 1` for the record itself (`readings`), the end of every window that holds it (`agg_1m`,
//! `heatmap`, `kpi_latency`, `fivev`).
//!
//! A checkpoint happens at a moment when the dataflow has caught up with its input at time
//! `T`: every output released before `T` has been handed to its sink and none after. The run
//! then
//!
//! 1. writes the checkpoint file with `pending = T` (intent),
//! 2. asks every dataset sink to seal (each answers with its chain length),
//! 3. writes the checkpoint file with `frontier = T`, the chain lengths and the positions
//!    whose completion time is `≤ T` ([`PositionTracker::committable`]),
//! 4. and only then tells the source to commit those positions (Kafka offsets, MQTT acks).
//!
//! A crash anywhere leaves the broker at or before the checkpoint file's positions, so
//! records are re-read, never lost. On restart ([`ResumePoint`]), each dataset skips the rows
//! it already sealed: those released before its own frontier (the pending `T` if its chain
//! grew past the length the file recorded, else the committed one) — [`SkipSealed`] does
//! that in the sink. Re-read records still feed the open windows they belong to.
//!
//! Sinks seal only at checkpoints in this mode (no size or age seals in between), so "sealed
//! before `T`" and "released before `T`" are the same rows.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{Array, BooleanArray, Int64Array, TimestampMillisecondArray};
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::record_batch::RecordBatch;
use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};
use crate::sink::BatchSink;

/// After a batch: partition `partition` of the source is read up to (excluding) `next`, and
/// the largest event time of the records read in it since the previous mark is `max_ts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionMark {
    /// Index of the partition within its source (the source names it).
    pub partition: u32,
    /// The next offset to read: everything before it is in this batch or an earlier one.
    pub next: u64,
    /// Largest event time of the records since the previous mark of this partition (`None`
    /// when none had a readable time: dead letters only).
    pub max_ts: Option<i64>,
}

/// When the outputs derived from a record are complete: the ends of the windows it falls in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Horizon {
    windows: Vec<i64>,
}

impl Horizon {
    /// A horizon over tumbling windows of these lengths (ms; zeros are ignored).
    pub fn new(windows_ms: &[u64]) -> Self {
        Self {
            windows: windows_ms
                .iter()
                .filter(|w| **w > 0)
                .map(|w| i64::try_from(*w).unwrap_or(i64::MAX))
                .collect(),
        }
    }

    /// The frontier at which every output derived from a record at `ts` has been released:
    /// `ts + 1`, or the end of the latest window holding `ts`.
    pub fn completion(&self, ts: i64) -> i64 {
        self.windows.iter().fold(ts.saturating_add(1), |c, w| {
            c.max(ts.div_euclid(*w).saturating_add(1).saturating_mul(*w))
        })
    }

    /// The longest window (ms), 0 without windows.
    pub fn longest(&self) -> i64 {
        self.windows.iter().copied().max().unwrap_or(0)
    }
}

/// The run loop's view of the source's positions: which prefixes are complete at a frontier.
#[derive(Debug, Clone, Default)]
pub struct PositionTracker {
    /// Per partition: (next offset, completion time of the prefix up to it), completion times
    /// non-decreasing.
    queues: BTreeMap<u32, VecDeque<(u64, i64)>>,
    /// Per partition: the completion time of everything marked so far.
    reached: BTreeMap<u32, i64>,
    /// Per partition: the largest `next` ever marked.
    latest: BTreeMap<u32, u64>,
}

impl PositionTracker {
    /// Records the marks of a batch handed to the dataflow.
    pub fn observe(&mut self, marks: &[PositionMark], horizon: &Horizon) {
        for m in marks {
            let reached = self.reached.entry(m.partition).or_insert(i64::MIN);
            if let Some(ts) = m.max_ts {
                *reached = (*reached).max(horizon.completion(ts));
            }
            let completion = *reached;
            let queue = self.queues.entry(m.partition).or_default();
            match queue.back_mut() {
                // Same completion time: only the newest position matters.
                Some(last) if last.1 == completion => last.0 = last.0.max(m.next),
                _ => queue.push_back((m.next, completion)),
            }
            let latest = self.latest.entry(m.partition).or_insert(0);
            *latest = (*latest).max(m.next);
        }
    }

    /// Removes and returns, per partition, the furthest position whose whole prefix is
    /// complete once the frontier is at `frontier` (completion time `≤ frontier`).
    pub fn committable(&mut self, frontier: i64) -> Vec<(u32, u64)> {
        let mut out = Vec::new();
        for (&partition, queue) in &mut self.queues {
            let mut best = None;
            while let Some(&(next, completion)) = queue.front() {
                if completion > frontier {
                    break;
                }
                best = Some(next);
                queue.pop_front();
            }
            if let Some(next) = best {
                out.push((partition, next));
            }
        }
        out
    }

    /// Every position marked so far (for the final commit, once everything is sealed).
    pub fn all(&mut self) -> Vec<(u32, u64)> {
        self.queues.clear();
        self.latest.iter().map(|(p, n)| (*p, *n)).collect()
    }
}

/// The checkpoint file of one source: `<data>/_checkpoints/<source>.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The source it belongs to.
    pub source: String,
    /// Everything released before this event time is sealed in every dataset listed.
    pub frontier: Option<i64>,
    /// Chain length of each dataset after the seal at `frontier`.
    pub datasets: BTreeMap<String, u64>,
    /// Per partition name: the next offset to read; everything before is sealed everywhere.
    pub positions: BTreeMap<String, u64>,
    /// A checkpoint at this frontier was started and may have sealed some datasets.
    pub pending: Option<i64>,
    /// Frontier of the latest checkpoint whose commit the source is known to have applied:
    /// the broker will not deliver again anything that was complete at it.
    #[serde(default)]
    pub confirmed: Option<i64>,
    /// Wall clock when the file was written, epoch ms.
    pub written_at: i64,
}

impl Checkpoint {
    /// The checkpoint file of `source` under the data directory `data`.
    pub fn path(data: &Path, source: &str) -> PathBuf {
        let safe: String = source
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        data.join("_checkpoints").join(format!("{safe}.json"))
    }

    /// Reads the checkpoint of `source`, if one was written.
    pub fn load(data: &Path, source: &str) -> Result<Option<Self>> {
        let path = Self::path(data, source);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error(&path, e)),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| EngineError::Config(format!("checkpoint {}: {e}", path.display())))
    }

    /// Writes the file atomically (temp file, fsync, rename, fsync of the directory).
    pub fn store(&self, data: &Path) -> Result<()> {
        let path = Self::path(data, &self.source);
        let dir = path.parent().unwrap_or(data);
        std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_vec_pretty(self)
            .map_err(|e| EngineError::Runtime(format!("encoding checkpoint: {e}")))?;
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp).map_err(|e| io_error(&tmp, e))?;
            f.write_all(&text).map_err(|e| io_error(&tmp, e))?;
            f.sync_all().map_err(|e| io_error(&tmp, e))?;
        }
        std::fs::rename(&tmp, &path).map_err(|e| io_error(&path, e))?;
        if let Ok(d) = std::fs::File::open(dir) {
            d.sync_all().map_err(|e| io_error(dir, e))?;
        }
        Ok(())
    }
}

fn io_error(path: &Path, e: std::io::Error) -> EngineError {
    EngineError::Runtime(format!("{}: {e}", path.display()))
}

/// Where a restarted run picks up, per dataset: rows released before the threshold are
/// already sealed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResumePoint {
    /// Per dataset: the frontier its sealed rows reach.
    pub thresholds: BTreeMap<String, i64>,
}

impl ResumePoint {
    /// Derives the thresholds from a checkpoint and the datasets' current chain lengths.
    pub fn from_checkpoint(cp: &Checkpoint, chain_lengths: &BTreeMap<String, u64>) -> Self {
        let mut thresholds = BTreeMap::new();
        for (name, &len) in chain_lengths {
            let recorded = cp.datasets.get(name).copied().unwrap_or(0);
            let t = match (cp.pending, cp.frontier) {
                (Some(p), _) if len > recorded => Some(p),
                (_, f) => f,
            };
            if let Some(t) = t {
                thresholds.insert(name.clone(), t);
            }
        }
        Self { thresholds }
    }

    /// The threshold of `dataset`, if it has sealed anything under a checkpoint.
    pub fn threshold(&self, dataset: &str) -> Option<i64> {
        self.thresholds.get(dataset).copied()
    }
}

/// A sink that drops the rows a previous run already sealed: those whose `time_column + extent
/// ≤ threshold` (released before the threshold frontier), then writes the rest to `inner`.
#[derive(Debug)]
pub struct SkipSealed<S> {
    inner: S,
    column: Arc<str>,
    extent: i64,
    threshold: Option<i64>,
    skipped: u64,
}

impl<S> SkipSealed<S> {
    /// Wraps `inner`. `extent` is 1 for point data (a reading at `ts` is released at `ts + 1`)
    /// and the window length for windowed rows keyed by their start. Without a threshold
    /// every row is written.
    pub fn new(inner: S, column: &str, extent: i64, threshold: Option<i64>) -> Self {
        Self {
            inner,
            column: Arc::from(column),
            extent,
            threshold,
            skipped: 0,
        }
    }

    /// Rows skipped so far.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    fn keep_mask(&self, batch: &RecordBatch) -> Option<BooleanArray> {
        let threshold = self.threshold?;
        let col = batch.column_by_name(&self.column)?;
        let keep = |t: Option<i64>| t.is_none_or(|t| t.saturating_add(self.extent) > threshold);
        if let Some(a) = col.as_any().downcast_ref::<TimestampMillisecondArray>() {
            return Some(a.iter().map(|t| Some(keep(t))).collect());
        }
        if let Some(a) = col.as_any().downcast_ref::<Int64Array>() {
            return Some(a.iter().map(|t| Some(keep(t))).collect());
        }
        None
    }
}

impl<S: BatchSink> BatchSink for SkipSealed<S> {
    type Summary = S::Summary;
    type Error = S::Error;

    fn write(&mut self, batch: &RecordBatch) -> std::result::Result<(), Self::Error> {
        let Some(mask) = self.keep_mask(batch) else {
            return self.inner.write(batch);
        };
        if mask.true_count() == batch.num_rows() {
            return self.inner.write(batch);
        }
        self.skipped += (batch.num_rows() - mask.true_count()) as u64;
        match filter_record_batch(batch, &mask) {
            Ok(kept) if kept.num_rows() == 0 => Ok(()),
            Ok(kept) => self.inner.write(&kept),
            // Filtering a batch by a mask of its own length cannot fail; keep every row
            // rather than lose one if it ever does.
            Err(_) => self.inner.write(batch),
        }
    }

    fn seal(&mut self) -> std::result::Result<Option<u64>, Self::Error> {
        self.inner.seal()
    }

    fn finish(self) -> std::result::Result<Self::Summary, Self::Error> {
        if self.skipped > 0 {
            tracing::info!(
                column = %self.column,
                skipped = self.skipped,
                "rows already sealed before the restart were skipped"
            );
        }
        self.inner.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completion_is_the_end_of_the_longest_window() {
        let h = Horizon::new(&[60_000, 300_000]);
        assert_eq!(h.completion(0), 300_000);
        assert_eq!(h.completion(299_999), 300_000);
        assert_eq!(h.completion(300_000), 600_000);
        assert_eq!(Horizon::new(&[]).completion(41), 42);
        assert_eq!(Horizon::new(&[60_000]).completion(-1), 0);
    }

    #[test]
    fn committable_prefixes_follow_the_running_max() {
        let h = Horizon::new(&[10]);
        let mut t = PositionTracker::default();
        let mark = |partition, next, max_ts| PositionMark {
            partition,
            next,
            max_ts,
        };
        t.observe(&[mark(0, 5, Some(3)), mark(1, 2, Some(25))], &h);
        // A later record with a smaller time does not lower the prefix's completion.
        t.observe(&[mark(0, 9, Some(25)), mark(0, 12, Some(1))], &h);
        assert_eq!(t.committable(9), vec![]);
        assert_eq!(t.committable(10), vec![(0, 5)]);
        assert_eq!(t.committable(30), vec![(0, 12), (1, 2)]);
        assert_eq!(t.committable(1000), vec![]);
        t.observe(&[mark(1, 7, None)], &h);
        assert_eq!(t.all(), vec![(0, 12), (1, 7)]);
    }

    #[test]
    fn resume_uses_the_pending_frontier_only_where_the_chain_grew() {
        let cp = Checkpoint {
            source: "kafka".into(),
            frontier: Some(100),
            pending: Some(200),
            datasets: [("readings".to_string(), 3), ("agg_1m".to_string(), 2)].into(),
            ..Checkpoint::default()
        };
        let lens = [("readings".to_string(), 4), ("agg_1m".to_string(), 2)].into();
        let r = ResumePoint::from_checkpoint(&cp, &lens);
        assert_eq!(r.threshold("readings"), Some(200));
        assert_eq!(r.threshold("agg_1m"), Some(100));
        assert_eq!(r.threshold("heatmap"), None);
    }

    #[test]
    fn checkpoint_file_round_trips() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cp = Checkpoint {
            source: "kafka:city/readings".into(),
            frontier: Some(7),
            positions: [("kafka:city/0".to_string(), 42)].into(),
            ..Checkpoint::default()
        };
        cp.store(dir.path()).expect("store");
        let back = Checkpoint::load(dir.path(), "kafka:city/readings").expect("load");
        assert_eq!(back, Some(cp));
        assert!(
            Checkpoint::load(dir.path(), "other")
                .expect("load")
                .is_none()
        );
    }
}
