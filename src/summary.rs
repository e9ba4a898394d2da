//! The summary printed at the end of every run.

use std::time::Duration;

use msec_datasets::DatasetSummary;
use msec_engine::metrics::OperatorTotals;
use msec_engine::source::SourceSummary;

/// What a run did.
pub struct RunSummary {
    /// What the source read and rejected.
    pub source: SourceSummary,
    /// Each dataset after its last seal.
    pub datasets: Vec<DatasetSummary>,
    /// Operator counters summed over workers.
    pub operators: Vec<OperatorTotals>,
    /// Busy time per pipeline stage (threads run concurrently).
    pub stages: Vec<(String, Duration)>,
    /// Wall time of the whole run.
    pub elapsed: Duration,
}

impl std::fmt::Display for RunSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let s = &self.source;
        writeln!(
            f,
            "records in:      {} ({:.1} MB)",
            s.records,
            s.bytes as f64 / 1e6
        )?;
        writeln!(f, "readings:        {}", s.readings)?;
        if s.reports > 0 {
            writeln!(f, "reports:         {}", s.reports)?;
        }
        let reasons: Vec<String> = s
            .dead_letters
            .iter()
            .map(|(r, n)| format!("{r}={n}"))
            .collect();
        writeln!(
            f,
            "dead letters:    {}{}",
            s.dead_lettered(),
            if reasons.is_empty() {
                String::new()
            } else {
                format!(" ({})", reasons.join(", "))
            }
        )?;
        if let Some(agg) = self.operators.iter().find(|o| o.operator == "agg_1m") {
            writeln!(f, "windows emitted: {}", agg.records_out)?;
        }
        if let Some(cells) = self.operators.iter().find(|o| o.operator == "sink_heatmap") {
            let suppressed = self
                .operators
                .iter()
                .find(|o| o.operator == "heatmap_suppressed_cells")
                .map_or(0, |o| o.records_out);
            writeln!(
                f,
                "heatmap cells:   {} published, {} suppressed (< k reporters)",
                cells.records_out, suppressed
            )?;
        }
        if let Some(alerts) = self.operators.iter().find(|o| o.operator == "alerts") {
            writeln!(f, "alert records:   {}", alerts.records_out)?;
        }
        for d in &self.datasets {
            writeln!(
                f,
                "dataset {:<12} {:>10} rows {:>5} segments {:>10} bytes  head {}",
                d.name,
                d.rows,
                d.segments,
                d.bytes,
                d.head_hex().unwrap_or_else(|| "-".into())
            )?;
        }
        for (stage, busy) in &self.stages {
            writeln!(f, "stage {stage:<48} {:>8.2} s busy", busy.as_secs_f64())?;
        }
        write!(
            f,
            "throughput:      {:.0} records/s ({:.1} MB/s) in {:.2} s",
            s.records as f64 / secs,
            s.bytes as f64 / 1e6 / secs,
            secs
        )
    }
}
