//! `msec run`: wires the sources, the timely dataflow and the dataset sinks together.
//!
//! ```text
//! source thread(s) ──bounded──► worker inputs (timely time = coarsened watermark; src/ingest.rs)
//!   (parse, validate,         readings ─┬─► partition by device ─► Veracity ─┬─► readings, agg_1m,
//!    watermark, late)                   │    (duplicates, stuck)           │   kpi_latency, fivev
//!                                       │                                  └─► dead_letter, veracity_flags
//!                                       ├─► route by household ─► AlertRules ─► OrderAlerts
//!                                       │        ─► alerts dataset, live alert output, kpi, fivev
//!                             reports ──┴─► Heatmap (with readings) ─► heatmap; reports dataset
//!                             source stats ──────────────────────────► fivev
//!        └─ dead letters ─────────────────────────────────────────► sink thread: dead_letter
//! ```
//!
//! A file, stdin, the simulator or an MQTT session is one source thread feeding worker 0; a
//! Kafka input has one source thread per worker, each reading its share of the partitions.
//! Every dataset has its own sink thread (its chain stays linear); [`crate::setup`] opens them.
//! A broker run takes checkpoints (src/broker.rs, src/ingest.rs).
//!
//! At the end of the input the dataflow's time is advanced to the largest event time seen
//! before the input closes, so absence rules fire up to the end of the data and no further.
//! The catalog is updated once every sink has sealed its last segment.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use msec_datasets::{Catalog, Publication};
use msec_engine::checkpoint::{Checkpoint, ResumePoint};
use msec_engine::metrics::Metrics;
use msec_engine::report::ReportBatch;
use msec_engine::runtime::timely_config;
use msec_engine::sink::Failure;
use msec_engine::source::{Source, SourceSummary, batch_channel};
use msec_engine::{Interner, ReadingBatch};
use msec_operators::fivev::{AlertValue, DEFAULT_FIVEV_WINDOW_MS, Fivev, FivevInputs, SourceStats};
use msec_operators::heatmap::{Heatmap, HeatmapBatch, OrderHeatmap};
use msec_operators::veracity::{
    OrderDeadLetters, OrderFlags, OrderReadings, Veracity, VeracityTotals,
};
use msec_operators::{
    AlertLatency, Alerts, KpiLatency, OrderAlerts, OrderKpi, OrderWindows, PartitionReadings,
    SinkTo, SkipDelivered, TumblingAggregate,
};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::{Concat, Input, Inspect, Probe};
use timely::dataflow::{InputHandle, ProbeHandle};

use crate::broker::{Checkpointer, Replay};
use crate::cli::RunArgs;
use crate::ingest::{Clock, Inputs, Shared, ingest};
use crate::metrics_http::{self, Gauges};
use crate::setup::{
    InputSource, alert_config, dataset_specs, delivered_alerts, heatmap_config, live_alert_output,
    open_input, open_sink, pipeline_config, release_extent, veracity_config,
};
use crate::stages::{STOPPED, heatmap_value, publish_live};
use crate::summary::RunSummary;

/// Runs the pipeline.
pub fn run(args: RunArgs) -> anyhow::Result<RunSummary> {
    let started = Instant::now();
    let cfg = pipeline_config(&args)?;
    let alert_cfg = Arc::new(alert_config(&args)?);
    let heatmap_cfg = heatmap_config(&args)?;
    let live_alerts = Arc::new(Mutex::new(live_alert_output(&args, &alert_cfg)?));
    let data: PathBuf = args.data.clone();
    let specs = dataset_specs();
    let interner = Interner::shared();
    let metrics = Metrics::default();

    // Open the input first: a missing or unreadable input must fail before any dataset is
    // created or touched.
    let (sources, broker) = open_input(&args, &interner, &cfg)?;
    let source_name = sources
        .first()
        .map(|s| s.name().to_owned())
        .ok_or_else(|| anyhow!("no input"))?;
    // SIGINT/SIGTERM stop a broker run gracefully: a last checkpoint, then exit. (A file run
    // keeps the default: its input is bounded and a re-run starts over.)
    let stop = broker.as_ref().map(|b| Arc::clone(&b.stop));
    if let Some(stop) = &stop {
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::flag::register(signal, Arc::clone(stop))
                .context("installing the signal handlers")?;
        }
    }

    let source_id = interner.intern(&source_name);
    let veracity_cfg = veracity_config(&args)?;
    let veracity_totals = VeracityTotals::default();

    std::fs::create_dir_all(&data)
        .with_context(|| format!("creating data directory {}", data.display()))?;
    let delivered = Arc::new(delivered_alerts(&data)?);

    // A broker input is read exactly once across crashes: checkpoints seal every dataset and
    // then commit the positions of the records sealed; a restart rebuilds the open windows
    // from the datasets and skips what the run before it sealed (src/broker.rs).
    let windows: Vec<(&str, i64)> = specs
        .iter()
        .filter_map(|spec| {
            let extent = release_extent(&spec.name, &cfg, &heatmap_cfg)?;
            (extent > 1).then_some((spec.name.as_str(), extent))
        })
        .collect();
    let checkpoint = match &broker {
        Some(_) => Checkpoint::load(&data, &source_name)?,
        None => None,
    };
    let (replay, resume) = match (&broker, &checkpoint) {
        (Some(links), Some(cp)) => {
            let (replay, resume) = Replay::load(
                &data,
                cp,
                &windows,
                cfg.lateness_ms,
                &*links.ours,
                &interner,
            )?;
            let (rows, dead, prefix) = replay.known();
            tracing::info!(
                source = %source_name,
                frontier = ?cp.frontier,
                sealed_rows = rows,
                dead_letters = dead,
                reopened = prefix,
                "resuming after the last checkpoint"
            );
            (Some(replay), resume)
        }
        _ => (None, ResumePoint::default()),
    };
    let mut sinks = Vec::new();
    for spec in &specs {
        let skip = resume
            .threshold(&spec.name)
            .zip(release_extent(&spec.name, &cfg, &heatmap_cfg))
            .map(|(t, extent)| (extent, t));
        sinks.push(open_sink(&data, spec, &cfg, broker.is_some(), skip)?);
    }
    let sink = |name: &str| {
        sinks
            .iter()
            .zip(&specs)
            .find(|(_, spec)| spec.name == name)
            .map(|((handle, _), _)| handle.clone())
            .ok_or_else(|| anyhow!("no sink for dataset {name}"))
    };
    let readings_sink = sink("readings")?;
    let reports_sink = sink("reports")?;
    let agg_sink = sink("agg_1m")?;
    let alerts_sink = sink("alerts")?;
    let heatmap_sink = sink("heatmap")?;
    let fivev_sink = sink("fivev")?;
    let flags_sink = sink("veracity_flags")?;
    let kpi_sink = sink("kpi_latency")?;
    let dead_sink = sink("dead_letter")?;

    let gauges = Arc::new(Gauges {
        lag: broker.as_ref().map(|b| b.lag.clone()).unwrap_or_default(),
        ..Gauges::default()
    });
    if let Some(addr) = args.metrics_addr {
        metrics_http::serve(addr, metrics.clone(), Arc::clone(&gauges))?;
    }
    let checkpointer = match &broker {
        Some(links) => Some(Checkpointer::new(
            &data,
            &source_name,
            Duration::from_millis(cfg.checkpoint_interval_ms.max(1)),
            sinks
                .iter()
                .zip(&specs)
                .map(|((handle, _), spec)| (spec.name.clone(), handle.clone()))
                .collect(),
            links.commits.clone(),
            links.applied.clone(),
            Arc::clone(&interner),
        )?),
        None => None,
    };
    let checkpointer = Arc::new(Mutex::new(checkpointer));
    let (replay, prefix) = match replay {
        Some(mut r) => {
            let prefix = std::mem::take(&mut r.prefix);
            (Some(r), prefix)
        }
        None => (None, Vec::new()),
    };

    // Stdin and brokers are live inputs: when idle, event time advances with the wall clock.
    let live_input =
        broker.is_some() || args.input.as_deref().is_some_and(|p| p.as_os_str() == "-");
    // Each source runs on its own thread behind a bounded channel (backpressure); source `i`
    // feeds worker `i`. Its flag is set only when the source read its whole input: a channel
    // that closes without it means the source failed (or was stopped), and open windows must
    // not be flushed as complete.
    let mut receivers = Vec::new();
    let mut source_threads = Vec::new();
    for (i, source) in sources.into_iter().enumerate() {
        let (tx, rx) = batch_channel("source", cfg.channel_capacity);
        let done = Arc::new(AtomicBool::new(false));
        receivers.push(Some((rx, Arc::clone(&done))));
        source_threads.push(spawn_source(i, source, tx, done)?);
    }
    receivers.resize_with(cfg.workers.max(receivers.len()), || None);
    let shared = Shared {
        cfg: cfg.clone(),
        interner: Arc::clone(&interner),
        failed: Failure::default(),
        dead_sink: dead_sink.clone(),
        replay: Arc::new(replay),
        prefix: Arc::new(Mutex::new(prefix)),
        checkpointer: Arc::clone(&checkpointer),
        clock: Arc::new(Clock::new(cfg.workers.max(1))),
        stop: stop.clone(),
        gauges: Arc::clone(&gauges),
        live: live_input,
        receivers: Arc::new(Mutex::new(receivers)),
        max_ts: Arc::new(AtomicI64::new(i64::MIN)),
    };

    // The dataflow.
    let failed = shared.failed.clone();
    let dataflow = {
        let shared = shared.clone();
        let cfg = cfg.clone();
        let interner = Arc::clone(&interner);
        let metrics = metrics.clone();
        let failed = failed.clone();
        let alert_cfg = Arc::clone(&alert_cfg);
        let heatmap_cfg = heatmap_cfg.clone();
        let veracity_cfg = veracity_cfg.clone();
        let veracity_totals = veracity_totals.clone();
        let live_alerts = Arc::clone(&live_alerts);
        let delivered = Arc::clone(&delivered);
        move |worker: &mut timely::worker::Worker| -> Result<Duration, String> {
            let index = worker.index();
            let mut input = InputHandle::<u64, CapacityContainerBuilder<Vec<ReadingBatch>>>::new();
            let mut report_input =
                InputHandle::<u64, CapacityContainerBuilder<Vec<ReportBatch>>>::new();
            let mut stats_input =
                InputHandle::<u64, CapacityContainerBuilder<Vec<SourceStats>>>::new();
            let probe = ProbeHandle::new();
            // Passes a time once every dataset's batches before it are with their sinks.
            let sealed = ProbeHandle::new();
            worker.dataflow::<u64, _, _>(|scope| {
                let readings = scope.input_from(&mut input);
                let reports = scope.input_from(&mut report_input);
                let mut heat_value = None;
                match readings.clone().heatmap(
                    reports.clone(),
                    &heatmap_cfg,
                    metrics.operator("heatmap", index),
                ) {
                    Ok(cells) => {
                        let suppressed = metrics.operator("heatmap_suppressed_cells", index);
                        let ordered = cells.order_heatmap();
                        heat_value = Some(heatmap_value(ordered.clone(), source_id));
                        ordered
                            .inspect(move |b: &HeatmapBatch| {
                                let n: u64 = b.summary.iter().map(|s| s.suppressed_cells).sum();
                                suppressed.add_out(n as usize);
                            })
                            .probe_with(&probe)
                            .sink_to(
                                heatmap_sink.clone(),
                                Arc::clone(&interner),
                                metrics.operator("sink_heatmap", index),
                                failed.clone(),
                            )
                            .probe_with(&sealed);
                    }
                    Err(e) => failed.set(format!("heatmap: {e}")),
                }
                reports
                    .sink_to(
                        reports_sink.clone(),
                        Arc::clone(&interner),
                        metrics.operator("sink_reports", index),
                        failed.clone(),
                    )
                    .probe_with(&sealed);
                let stats = scope.input_from(&mut stats_input);
                // Veracity: duplicates out (dead-lettered), stuck runs flagged. Alerts read the
                // raw stream, so they do not wait for it; every dataset of readings is cleaned.
                let checked = readings.clone().partition_by_device().veracity(
                    &veracity_cfg,
                    Arc::clone(&interner),
                    metrics.operator("veracity", index),
                    veracity_totals.clone(),
                );
                let by_device = checked.readings;
                checked
                    .dead_letters
                    .order_dead_letters()
                    .probe_with(&probe)
                    .sink_to(
                        dead_sink.clone(),
                        Arc::clone(&interner),
                        metrics.operator("sink_dead_letter", index),
                        failed.clone(),
                    )
                    .probe_with(&sealed);
                checked
                    .flags
                    .clone()
                    .order_flags(Arc::clone(&interner))
                    .probe_with(&probe)
                    .sink_to(
                        flags_sink.clone(),
                        Arc::clone(&interner),
                        metrics.operator("sink_veracity_flags", index),
                        failed.clone(),
                    )
                    .probe_with(&sealed);
                by_device
                    .clone()
                    .order_readings(Arc::clone(&interner))
                    .probe_with(&probe)
                    .sink_to(
                        readings_sink.clone(),
                        Arc::clone(&interner),
                        metrics.operator("sink_readings", index),
                        failed.clone(),
                    )
                    .probe_with(&sealed);
                let flags = checked.flags;
                let aggregates = by_device
                    .clone()
                    .tumbling_aggregate(cfg.window_ms, metrics.operator("agg_1m", index))
                    .order_windows(Arc::clone(&interner))
                    .probe_with(&probe);
                aggregates
                    .sink_to(
                        agg_sink.clone(),
                        Arc::clone(&interner),
                        metrics.operator("sink_agg_1m", index),
                        failed.clone(),
                    )
                    .probe_with(&sealed);
                let alerts = readings
                    .alerts(
                        Arc::clone(&alert_cfg),
                        Arc::clone(&interner),
                        metrics.operator("alerts", index),
                    )
                    .order_alerts(Arc::clone(&alert_cfg), Arc::clone(&interner))
                    .skip_delivered(Arc::clone(&delivered))
                    .probe_with(&probe);
                publish_live(
                    alerts.clone(),
                    &live_alerts,
                    metrics.operator("live_alerts", index),
                    failed.clone(),
                );
                alerts
                    .clone()
                    .sink_to(
                        alerts_sink.clone(),
                        Arc::clone(&interner),
                        metrics.operator("sink_alerts", index),
                        failed.clone(),
                    )
                    .probe_with(&sealed);
                by_device
                    .clone()
                    .fivev(
                        FivevInputs {
                            stats,
                            flags,
                            value: Some(match heat_value {
                                Some(cells) => alerts.clone().alert_value(source_id).concat(cells),
                                None => alerts.clone().alert_value(source_id),
                            }),
                        },
                        DEFAULT_FIVEV_WINDOW_MS,
                        Arc::clone(&interner),
                        metrics.operator("fivev", index),
                    )
                    .probe_with(&probe)
                    .sink_to(
                        fivev_sink.clone(),
                        Arc::clone(&interner),
                        metrics.operator("sink_fivev", index),
                        failed.clone(),
                    )
                    .probe_with(&sealed);
                let kpi = by_device
                    .kpi_latency(
                        alerts.alert_latencies(Arc::clone(&interner)),
                        cfg.kpi_window_ms,
                        cfg.kpi_target_gap_ms,
                        metrics.operator("kpi_latency", index),
                    )
                    .order_kpi(Arc::clone(&interner))
                    .probe_with(&probe);
                kpi.sink_to(
                    kpi_sink.clone(),
                    Arc::clone(&interner),
                    metrics.operator("sink_kpi_latency", index),
                    failed.clone(),
                )
                .probe_with(&sealed);
            });
            let inputs = Inputs {
                readings: input,
                reports: report_input,
                stats: stats_input,
            };
            let counters = metrics.operator("source", index);
            ingest(worker, index, inputs, &probe, &sealed, &shared, &counters)
        }
    };
    let guards = timely::execute(timely_config(cfg.workers)?, dataflow)
        .map_err(|e| anyhow!("starting dataflow: {e}"))?;
    let worker_results = guards.join();
    let final_max_ts = Some(shared.max_ts.load(Ordering::Acquire)).filter(|m| *m > i64::MIN);
    let ended = source_threads
        .iter()
        .all(|(_, done)| done.load(Ordering::Acquire));
    drop(shared);
    if let Ok(mut c) = checkpointer.lock()
        && let Some(c) = c.as_mut()
    {
        c.release_sinks();
    }
    // Every sender is gone once the workers are: each sink seals what it was handed. All
    // stages are joined before any error is reported, and the root cause is reported first:
    // a sink's own error, then the source's (unless it only saw the dataflow go away), then
    // the dataflow's, then the rest.
    let sink_results: Vec<_> = sinks
        .into_iter()
        .map(|(handle, join)| {
            drop(handle);
            join.join()
        })
        .collect();
    let mut errors: Vec<anyhow::Error> = Vec::new();
    let mut secondary: Vec<anyhow::Error> = Vec::new();
    let mut stages = Vec::new();
    let mut summaries = Vec::new();
    for r in sink_results {
        match r {
            Ok(Ok(outcome)) => {
                stages.push((
                    format!("sink {} (encode, hash, seal)", outcome.summary.name),
                    outcome.busy,
                ));
                summaries.push(outcome.summary);
            }
            Ok(Err(e)) => errors.push(e.into()),
            Err(_) => errors.push(anyhow!("sink thread panicked")),
        }
    }
    // A broker input that ended: everything read is sealed now, so every position may be
    // committed. Then the source, which waits for its last commits, can leave.
    let stopped = failed.message().as_deref() == Some(STOPPED);
    let final_checkpoint = checkpointer.lock().ok().and_then(|mut c| c.take());
    if let Some(mut c) = final_checkpoint {
        if errors.is_empty() && ended && failed.message().is_none() {
            let lengths = summaries
                .iter()
                .map(|s: &msec_datasets::DatasetSummary| (s.name.clone(), s.segments))
                .collect();
            if let Err(e) = c.finish(lengths, final_max_ts) {
                errors.push(e);
            }
        }
        c.release_sources();
    }
    // The sources leave once every commit channel is closed.
    drop(broker);
    let mut source_result: anyhow::Result<(SourceSummary, Duration)> =
        Ok((SourceSummary::default(), Duration::ZERO));
    for (thread, _) in source_threads {
        let one = thread
            .join()
            .unwrap_or_else(|_| Err(anyhow!("source thread panicked")));
        source_result = match (source_result, one) {
            (Ok((mut a, busy_a)), Ok((b, busy_b))) => {
                a.merge(&b);
                Ok((a, busy_a.max(busy_b)))
            }
            (Err(e), _) | (_, Err(e)) => Err(e),
        };
    }
    let source = match source_result {
        Ok(v) => Some(v),
        Err(e) => {
            let downstream = e
                .downcast_ref::<msec_connectors::ConnectorError>()
                .is_some_and(|c| matches!(c, msec_connectors::ConnectorError::Downstream { .. }));
            if downstream {
                // A source still sending when the dataflow stopped (after another error, or
                // a graceful stop: then it is no error at all).
                if !stopped {
                    secondary.push(e)
                }
            } else {
                errors.push(e)
            }
            None
        }
    };
    if let Some(mut live) = live_alerts.lock().ok().and_then(|mut l| l.take())
        && let Err(e) = live.close()
    {
        errors.push(e.into());
    }
    let mut worker_busy = Duration::ZERO;
    for r in worker_results {
        match r {
            Ok(Ok(busy)) => worker_busy += busy,
            Ok(Err(e)) => errors.push(anyhow!("dataflow: {e}")),
            Err(e) => errors.push(anyhow!("dataflow worker panicked: {e}")),
        }
    }
    if let Some(message) = failed.message().filter(|_| !stopped) {
        secondary.push(anyhow!("{message}"));
    }
    if stopped {
        tracing::info!(source = %source_name, "stopped by a signal after a last checkpoint; a restart resumes from it");
    }
    errors.extend(secondary);
    if let Some(first) = errors.into_iter().next() {
        return Err(first);
    }
    let Some((source_summary, source_busy)) = source else {
        bail!("the source ended without a summary");
    };
    stages.insert(
        0,
        ("source (read, parse, validate)".to_owned(), source_busy),
    );
    stages.insert(
        1,
        (
            "dataflow worker 0 (windows, hand-off to sinks)".to_owned(),
            worker_busy,
        ),
    );

    let publication = Publication {
        publisher: "msec".into(),
        licence: "unspecified".into(),
    };
    for (spec, summary) in specs.iter().zip(&summaries) {
        Catalog::update(&data, spec, summary, &publication)?;
    }

    Ok(RunSummary {
        source: source_summary,
        datasets: summaries,
        operators: metrics.totals(),
        stages,
        elapsed: started.elapsed(),
    })
}

type SourceThread = (
    std::thread::JoinHandle<anyhow::Result<(SourceSummary, Duration)>>,
    Arc<AtomicBool>,
);

/// Runs source `index` on its own thread, sending to `tx`; `done` is set once it has read its
/// whole input (a broker source sets it itself, then keeps committing until the run is done
/// with it). Returns the thread and the flag.
fn spawn_source(
    index: usize,
    source: InputSource,
    tx: msec_engine::source::BatchSender,
    done: Arc<AtomicBool>,
) -> anyhow::Result<SourceThread> {
    let flag = Arc::clone(&done);
    let thread = std::thread::Builder::new()
        .name(format!("source-{index}"))
        .spawn(move || -> anyhow::Result<(SourceSummary, Duration)> {
            let _span = tracing::info_span!("source", index).entered();
            let start = Instant::now();
            let summary = match source {
                InputSource::Jsonl(s) => (*s).run(&tx)?,
                InputSource::Csv(s) => (*s).run(&tx)?,
                InputSource::Simulator(s) => (*s).run(&tx)?,
                InputSource::Frames(s) => (*s).run(&tx)?,
                InputSource::Sox(s) => (*s).run(&tx)?,
                #[cfg(feature = "mqtt")]
                InputSource::Mqtt(s) => {
                    return Ok(((*s).run_owned(tx, done)?, start.elapsed()));
                }
                #[cfg(feature = "kafka")]
                InputSource::Kafka(s) => {
                    return Ok(((*s).run_owned(tx, done)?, start.elapsed()));
                }
            };
            done.store(true, Ordering::Release);
            Ok((summary, start.elapsed().saturating_sub(tx.blocked())))
        })?;
    Ok((thread, flag))
}
