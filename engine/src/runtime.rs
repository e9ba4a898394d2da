//! Timely runtime bootstrap: worker threads in one process (a cluster of processes later).

use crate::error::{EngineError, Result};

/// A timely configuration for `workers` threads in this process.
pub fn timely_config(workers: usize) -> Result<timely::Config> {
    if workers == 0 {
        return Err(EngineError::Config("workers must be at least 1".into()));
    }
    Ok(if workers == 1 {
        timely::Config::thread()
    } else {
        timely::Config::process(workers)
    })
}

/// Worker that owns chain appends and single-writer sinks.
pub const SINK_WORKER: usize = 0;

/// The async runtime for connector tasks and SQL: a multi-threaded tokio runtime with
/// `threads` workers (at least 1). CPU-heavy dataflow work stays on timely workers.
pub fn async_runtime(threads: usize) -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
        .map_err(|e| EngineError::Runtime(format!("starting async runtime: {e}")))
}
