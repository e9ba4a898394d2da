//! `--metrics-addr`: the run's counters in the Prometheus text format, served over plain
//! HTTP by one small thread (no HTTP library: one request line in, one response out).
//!
//! Exposed: `msec_operator_records_{in,out,dead_lettered}_total{operator,worker}` for every
//! operator (sources included), `msec_source_consumer_lag` (Kafka), `msec_watermark_delay_ms`
//! (wall clock minus the dataflow's event time), `msec_checkpoints_total` and
//! `msec_checkpoint_seconds` (the last one's duration).

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use anyhow::Context;
use msec_engine::metrics::Metrics;

/// Gauges the run loop updates.
#[derive(Debug, Default)]
pub(crate) struct Gauges {
    /// Event time of the dataflow (epoch ms), 0 before the first watermark.
    pub event_time: AtomicI64,
    /// Checkpoints taken.
    pub checkpoints: AtomicU64,
    /// Duration of the last checkpoint, µs.
    pub checkpoint_us: AtomicU64,
    /// Consumer lag of each Kafka source thread (−1 unknown).
    pub lag: Vec<Arc<AtomicI64>>,
}

/// Starts serving on `addr`; the thread lives as long as the process.
pub(crate) fn serve(
    addr: SocketAddr,
    metrics: Metrics,
    gauges: Arc<Gauges>,
) -> anyhow::Result<SocketAddr> {
    let listener =
        TcpListener::bind(addr).with_context(|| format!("binding the metrics endpoint {addr}"))?;
    let bound = listener.local_addr()?;
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(&stream);
                let mut line = String::new();
                // Read the request head; the path does not matter.
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let body = render(&metrics, &gauges);
                let mut out = &stream;
                let _ = write!(
                    out,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        })?;
    tracing::info!(%bound, "serving Prometheus metrics");
    Ok(bound)
}

/// The text exposition.
pub(crate) fn render(metrics: &Metrics, gauges: &Gauges) -> String {
    let mut out = String::new();
    let counters = metrics.snapshot();
    for (metric, help, pick) in [
        (
            "msec_operator_records_in_total",
            "Records received by an operator.",
            0,
        ),
        (
            "msec_operator_records_out_total",
            "Records emitted by an operator.",
            1,
        ),
        (
            "msec_operator_records_dead_lettered_total",
            "Records an operator dead-lettered.",
            2,
        ),
    ] {
        out.push_str(&format!(
            "# HELP {metric} {help}\n# TYPE {metric} counter\n"
        ));
        for (operator, worker, values) in &counters {
            out.push_str(&format!(
                "{metric}{{operator=\"{operator}\",worker=\"{worker}\"}} {}\n",
                values[pick]
            ));
        }
    }
    let event_time = gauges.event_time.load(Ordering::Relaxed);
    if event_time > 0 {
        let delay = msec_engine::time::now_ms().saturating_sub(event_time);
        out.push_str("# HELP msec_watermark_delay_ms Wall clock minus the dataflow's event time.\n# TYPE msec_watermark_delay_ms gauge\n");
        out.push_str(&format!("msec_watermark_delay_ms {delay}\n"));
    }
    if !gauges.lag.is_empty() {
        let known: Vec<i64> = gauges
            .lag
            .iter()
            .map(|l| l.load(Ordering::Relaxed))
            .filter(|l| *l >= 0)
            .collect();
        let lag = if known.is_empty() {
            -1
        } else {
            known.iter().sum()
        };
        out.push_str("# HELP msec_source_consumer_lag Messages behind the partitions' ends (-1 unknown).\n# TYPE msec_source_consumer_lag gauge\n");
        out.push_str(&format!("msec_source_consumer_lag {lag}\n"));
    }
    out.push_str(
        "# HELP msec_checkpoints_total Checkpoints taken.\n# TYPE msec_checkpoints_total counter\n",
    );
    out.push_str(&format!(
        "msec_checkpoints_total {}\n",
        gauges.checkpoints.load(Ordering::Relaxed)
    ));
    out.push_str("# HELP msec_checkpoint_seconds Duration of the last checkpoint.\n# TYPE msec_checkpoint_seconds gauge\n");
    out.push_str(&format!(
        "msec_checkpoint_seconds {}\n",
        gauges.checkpoint_us.load(Ordering::Relaxed) as f64 / 1e6
    ));
    out
}
