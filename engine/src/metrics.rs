//! Per-operator counters with stable labels (operator, worker): records in, out and
//! dead-lettered. Counters are relaxed atomics, updated once per batch, never per record.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Counters of one operator on one worker.
#[derive(Debug)]
pub struct OperatorCounters {
    /// Operator name (stable label).
    pub operator: &'static str,
    /// Worker index.
    pub worker: usize,
    /// Records received.
    pub records_in: AtomicU64,
    /// Records emitted.
    pub records_out: AtomicU64,
    /// Records dead-lettered.
    pub dead_lettered: AtomicU64,
}

impl OperatorCounters {
    /// Adds `n` to records in.
    pub fn add_in(&self, n: usize) {
        self.records_in.fetch_add(n as u64, Ordering::Relaxed);
    }
    /// Adds `n` to records out.
    pub fn add_out(&self, n: usize) {
        self.records_out.fetch_add(n as u64, Ordering::Relaxed);
    }
    /// Adds `n` to records dead-lettered.
    pub fn add_dead(&self, n: usize) {
        self.dead_lettered.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// A snapshot of one operator's counters summed over workers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorTotals {
    /// Operator name.
    pub operator: &'static str,
    /// Records received.
    pub records_in: u64,
    /// Records emitted.
    pub records_out: u64,
    /// Records dead-lettered.
    pub dead_lettered: u64,
}

/// The registry of counters of a process.
#[derive(Debug, Default, Clone)]
pub struct Metrics {
    counters: Arc<Mutex<Vec<Arc<OperatorCounters>>>>,
}

impl Metrics {
    /// Registers the counters of `operator` on `worker`.
    pub fn operator(&self, operator: &'static str, worker: usize) -> Arc<OperatorCounters> {
        let c = Arc::new(OperatorCounters {
            operator,
            worker,
            records_in: AtomicU64::new(0),
            records_out: AtomicU64::new(0),
            dead_lettered: AtomicU64::new(0),
        });
        self.counters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::clone(&c));
        c
    }

    /// Every registered counter: operator, worker, and `[in, out, dead-lettered]`.
    pub fn snapshot(&self) -> Vec<(&'static str, usize, [u64; 3])> {
        let counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        counters
            .iter()
            .map(|c| {
                (
                    c.operator,
                    c.worker,
                    [
                        c.records_in.load(Ordering::Relaxed),
                        c.records_out.load(Ordering::Relaxed),
                        c.dead_lettered.load(Ordering::Relaxed),
                    ],
                )
            })
            .collect()
    }

    /// Totals per operator (summed over workers), in registration order of first appearance.
    pub fn totals(&self) -> Vec<OperatorTotals> {
        let counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<OperatorTotals> = Vec::new();
        for c in counters.iter() {
            let i = match out.iter().position(|t| t.operator == c.operator) {
                Some(i) => i,
                None => {
                    out.push(OperatorTotals {
                        operator: c.operator,
                        records_in: 0,
                        records_out: 0,
                        dead_lettered: 0,
                    });
                    out.len() - 1
                }
            };
            out[i].records_in += c.records_in.load(Ordering::Relaxed);
            out[i].records_out += c.records_out.load(Ordering::Relaxed);
            out[i].dead_lettered += c.dead_lettered.load(Ordering::Relaxed);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_sum_over_workers() {
        let m = Metrics::default();
        m.operator("agg", 0).add_in(3);
        m.operator("agg", 1).add_in(4);
        m.operator("sink", 0).add_out(1);
        let t = m.totals();
        assert_eq!(t[0].records_in, 7);
        assert_eq!(t[1].records_out, 1);
    }
}
