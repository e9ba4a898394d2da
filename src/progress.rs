//! Progress of long runs: a bar on a terminal, plain log lines every few seconds otherwise.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Reports bytes read by a source.
pub struct Progress {
    bar: Option<ProgressBar>,
    last_log: Instant,
    started: Instant,
    total: Option<u64>,
}

impl Progress {
    /// A reporter for an input of `total` bytes (if known).
    pub fn new(total: Option<u64>) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = match total {
                Some(t) => ProgressBar::new(t),
                None => ProgressBar::new_spinner(),
            };
            bar.set_draw_target(ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar
        });
        Self {
            bar,
            last_log: Instant::now(),
            started: Instant::now(),
            total,
        }
    }

    /// Bytes read so far.
    pub fn update(&mut self, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(bytes);
        } else if self.last_log.elapsed() >= Duration::from_secs(5) {
            self.last_log = Instant::now();
            let mb = bytes as f64 / 1e6;
            let rate = mb / self.started.elapsed().as_secs_f64().max(1e-9);
            match self.total {
                Some(t) if t > 0 => tracing::info!(
                    "progress: {mb:.1} MB of {:.1} MB ({:.0} %), {rate:.1} MB/s",
                    t as f64 / 1e6,
                    100.0 * bytes as f64 / t as f64
                ),
                _ => tracing::info!("progress: {mb:.1} MB, {rate:.1} MB/s"),
            }
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
