//! `msec run`: wires a source, the timely dataflow and the dataset sinks together.
//!
//! ```text
//! source thread ──bounded──► worker 0 inputs (timely time = coarsened watermark)
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
//! Every dataset has its own sink thread (its chain stays linear); [`crate::setup`] opens them.
//!
//! At the end of the input the dataflow's time is advanced to the largest event time seen
//! before the input closes, so absence rules fire up to the end of the data and no further.
//!
//! Each sink thread owns one dataset's writer (its chain stays linear); the catalog is
//! updated once every sink has sealed its last segment.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use crossbeam_channel::RecvTimeoutError;
use msec_datasets::{Catalog, Publication};
use msec_engine::alert::AlertSink;
use msec_engine::checkpoint::{Checkpoint, ResumePoint};
use msec_engine::dead_letter::dead_letters_to_record_batch;
use msec_engine::metrics::Metrics;
use msec_engine::report::ReportBatch;
use msec_engine::runtime::timely_config;
use msec_engine::sink::Failure;
use msec_engine::source::{Source, SourceSummary, batch_channel};
use msec_engine::time::coarsen;
use msec_engine::{Interner, ReadingBatch};
use msec_operators::fivev::{
    AlertValue, DEFAULT_FIVEV_WINDOW_MS, Fivev, FivevInputs, SourceStats, ValueEvent,
};
use msec_operators::heatmap::{Heatmap, HeatmapBatch, OrderHeatmap};
use msec_operators::veracity::{
    OrderDeadLetters, OrderFlags, OrderReadings, Veracity, VeracityTotals,
};
use msec_operators::{
    AlertLatency, AlertRows, Alerts, KpiLatency, OrderAlerts, OrderKpi, OrderWindows,
    PartitionReadings, SinkTo, SkipDelivered, TumblingAggregate,
};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::Stream;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::{Concat, Input, Inspect, Probe};
use timely::dataflow::{InputHandle, ProbeHandle};

use crate::broker::{Checkpointer, Replay};
use crate::stages::{STOPPED, checkpoint_at, heatmap_value, publish_live};
use crate::cli::RunArgs;
use crate::metrics_http::{self, Gauges};
use crate::setup::{
    InputSource, alert_config, dataset_specs, delivered_alerts, heatmap_config, live_alert_output,
    open_input, open_sink, pipeline_config, release_extent, veracity_config,
};
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
    let (source, broker) = open_input(&args, &interner, &cfg)?;
    let source_name = source.name().to_owned();
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
        lag: broker.as_ref().and_then(|b| b.lag.clone()),
        ..Gauges::default()
    });
    if let Some(addr) = args.metrics_addr {
        metrics_http::serve(addr, metrics.clone(), Arc::clone(&gauges))?;
    }
    // SIGINT/SIGTERM stop a broker run gracefully: a last checkpoint, then exit. (A file run
    // keeps the default: its input is bounded and a re-run starts over.)
    let stop = broker.as_ref().map(|b| Arc::clone(&b.stop));
    if let Some(stop) = &stop {
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::flag::register(signal, Arc::clone(stop))
                .context("installing the signal handlers")?;
        }
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
            Arc::clone(&links.applied),
            Arc::clone(&interner),
        )?),
        None => None,
    };
    // Worker 0 takes the checkpointer and hands it back, with the largest event time seen,
    // for the final commit.
    let checkpoint_slot: Arc<Mutex<(Option<Checkpointer>, Option<i64>)>> =
        Arc::new(Mutex::new((checkpointer, None)));
    let (replay, prefix) = match replay {
        Some(mut r) => {
            let prefix = std::mem::take(&mut r.prefix);
            (Some(r), prefix)
        }
        None => (None, Vec::new()),
    };
    let replay = Arc::new(replay);
    let prefix = Arc::new(Mutex::new(prefix));

    // Stdin and brokers are live inputs: when idle, event time advances with the wall clock.
    let live_input =
        broker.is_some() || args.input.as_deref().is_some_and(|p| p.as_os_str() == "-");
    // The source runs on its own thread behind a bounded channel (backpressure).
    let (tx, rx) = batch_channel("source", cfg.channel_capacity);
    // `source_done` is set only when the source read its whole input: a channel that closes
    // without it means the source failed, and open windows must not be flushed as complete.
    let source_done = Arc::new(AtomicBool::new(false));
    let source_thread = {
        let source_done = Arc::clone(&source_done);
        std::thread::Builder::new().name("source".into()).spawn(
            move || -> anyhow::Result<(SourceSummary, Duration)> {
                let _span = tracing::info_span!("source").entered();
                let start = Instant::now();
                let summary = match source {
                    InputSource::Jsonl(s) => (*s).run(&tx)?,
                    InputSource::Csv(s) => (*s).run(&tx)?,
                    InputSource::Simulator(s) => (*s).run(&tx)?,
                    InputSource::Frames(s) => (*s).run(&tx)?,
                    InputSource::Sox(s) => (*s).run(&tx)?,
                    // Broker sources say themselves when their input ended, then keep
                    // committing until the run is done with them.
                    #[cfg(feature = "mqtt")]
                    InputSource::Mqtt(s) => {
                        return Ok(((*s).run_owned(tx, source_done)?, start.elapsed()));
                    }
                    #[cfg(feature = "kafka")]
                    InputSource::Kafka(s) => {
                        return Ok(((*s).run_owned(tx, source_done)?, start.elapsed()));
                    }
                };
                source_done.store(true, Ordering::Release);
                Ok((summary, start.elapsed().saturating_sub(tx.blocked())))
            },
        )?
    };
    let broker_commits = broker.map(|b| b.commits);

    // The dataflow.
    let failed = Failure::default();
    let dataflow = {
        let cfg = cfg.clone();
        let interner = Arc::clone(&interner);
        let metrics = metrics.clone();
        let failed = failed.clone();
        let source_done = Arc::clone(&source_done);
        let alert_cfg = Arc::clone(&alert_cfg);
        let heatmap_cfg = heatmap_cfg.clone();
        let veracity_cfg = veracity_cfg.clone();
        let veracity_totals = veracity_totals.clone();
        let live_alerts = Arc::clone(&live_alerts);
        let delivered = Arc::clone(&delivered);
        let live = live_input;
        let checkpoint_slot = Arc::clone(&checkpoint_slot);
        let replay = Arc::clone(&replay);
        let prefix = Arc::clone(&prefix);
        let stop = stop.clone();
        let gauges = Arc::clone(&gauges);
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
            if index != 0 {
                return Ok(Duration::ZERO); // dropping `input` releases this worker's hold on the frontier
            }
            let _span = tracing::info_span!("dataflow", worker = index).entered();
            let started = Instant::now();
            let mut idle = Duration::ZERO;
            let mut time = 0u64;
            let mut max_ts = i64::MIN;
            // Wall-clock progress of event time while a live source is idle (DESIGN §5).
            let idle_timeout = Duration::from_millis(cfg.idle_timeout_ms);
            let mut last_data = Instant::now();
            let mut last_watermark: Option<i64> = None;
            let mut clock_ahead = false;
            let mut checkpointer = checkpoint_slot.lock().ok().and_then(|mut c| c.0.take());
            let source_counters = metrics.operator("source", index);
            // Any error here is recorded in `failed` before `input` is dropped, so the windows
            // flushed by the emptied frontier are not handed to the sinks.
            let fail = |message: String| {
                failed.set(message.clone());
                message
            };
            // A restarted broker run first re-opens the windows the run before left open.
            let reopened = prefix
                .lock()
                .map(|mut p| std::mem::take(&mut *p))
                .unwrap_or_default();
            for batch in reopened {
                stats_input.send(SourceStats::from_batch(&batch, *input.time()));
                if !batch.readings.is_empty() {
                    max_ts = batch.readings.ts.iter().fold(max_ts, |m, t| m.max(*t));
                    input.send(batch.readings);
                }
                if !batch.reports.is_empty() {
                    max_ts = batch.reports.ts.iter().fold(max_ts, |m, t| m.max(*t));
                    report_input.send(batch.reports);
                }
            }
            let result = loop {
                let wait = Instant::now();
                let received = rx.recv_timeout(Duration::from_millis(2));
                idle += wait.elapsed();
                match received {
                    Ok(mut batch) => {
                        last_data = Instant::now();
                        if let Some(replay) = replay.as_ref() {
                            replay.apply(&mut batch, &interner);
                        }
                        // Time may have moved past records of this batch: the wall clock while
                        // every source was idle, or another partition's watermark. What it
                        // passed is late, never merged into results already final.
                        let behind = i64::try_from(time).unwrap_or(i64::MAX);
                        if clock_ahead {
                            let late = batch.readings.split_behind(behind, &interner);
                            batch.dead_letters.extend(late);
                            let late = batch.reports.split_behind(behind, &interner);
                            batch.dead_letters.extend(late);
                        } else {
                            let detail = |ts: i64| {
                                format!("event time {ts} is behind the dataflow's time {behind}")
                            };
                            let keep = |_| msec_engine::reading::Behind::Late;
                            let late = batch
                                .readings
                                .split_behind_with(behind, &interner, keep, detail);
                            batch.dead_letters.extend(late);
                            let late = batch
                                .reports
                                .split_behind_with(behind, &interner, keep, detail);
                            batch.dead_letters.extend(late);
                        }
                        source_counters.add_in(batch.records as usize);
                        source_counters.add_out(batch.readings.len() + batch.reports.len());
                        source_counters.add_dead(batch.dead_letters.len());
                        if let Some(c) = checkpointer.as_mut() {
                            c.observe(&batch.marks);
                        }
                        stats_input.send(SourceStats::from_batch(&batch, *input.time()));
                        if !batch.dead_letters.is_empty()
                            && let Err(e) = dead_letters_to_record_batch(&batch.dead_letters)
                                .map_err(|e| e.to_string())
                                .and_then(|rb| dead_sink.send(rb).map_err(|e| e.to_string()))
                        {
                            break Err(fail(format!("sink dead_letter: {e}")));
                        }
                        if !batch.readings.is_empty() {
                            max_ts = batch.readings.ts.iter().fold(max_ts, |m, t| m.max(*t));
                            input.send(batch.readings);
                        }
                        if !batch.reports.is_empty() {
                            max_ts = batch.reports.ts.iter().fold(max_ts, |m, t| m.max(*t));
                            report_input.send(batch.reports);
                        }
                        if let Some(wm) = batch.watermark {
                            last_watermark = Some(wm);
                            let t = coarsen(wm, cfg.watermark_granularity_ms);
                            if t > time {
                                time = t;
                                clock_ahead = false;
                                input.advance_to(t);
                                report_input.advance_to(t);
                                stats_input.advance_to(t);
                            }
                        }
                        worker.step();
                        // Keep the dataflow within one watermark step of the input.
                        while probe.less_than(input.time()) {
                            worker.step();
                        }
                        if let Some(message) = failed.message() {
                            break Err(message);
                        }
                    }
                    Err(RecvTimeoutError::Timeout) => {
                        let quiet = last_data.elapsed();
                        if live
                            && !idle_timeout.is_zero()
                            && quiet >= idle_timeout
                            && let Some(wm) = last_watermark
                        {
                            let now = wm.saturating_add(quiet.as_millis() as i64);
                            let t = coarsen(now, cfg.watermark_granularity_ms);
                            if t > time {
                                time = t;
                                clock_ahead = true;
                                input.advance_to(t);
                                report_input.advance_to(t);
                                stats_input.advance_to(t);
                            }
                        }
                        worker.step();
                    }
                    Err(RecvTimeoutError::Disconnected) => {
                        if !source_done.load(Ordering::Acquire) {
                            if stop.as_ref().is_some_and(|s| s.load(Ordering::Acquire)) {
                                // A graceful stop: seal what is complete, commit, and leave
                                // open windows to the next run.
                                if let Some(c) = checkpointer.as_mut()
                                    && let Err(e) =
                                        checkpoint_at(worker, c, &input, &sealed, &failed)
                                {
                                    break Err(fail(e));
                                }
                                failed.set(STOPPED);
                                break Ok(());
                            }
                            break Err(fail(
                                "the source stopped before the end of its input".into(),
                            ));
                        }
                        // Everything up to the largest event time seen is complete: deadlines
                        // up to it may fire, later ones may not.
                        let end = u64::try_from(max_ts).unwrap_or(0);
                        if end > time {
                            input.advance_to(end);
                            report_input.advance_to(end);
                            stats_input.advance_to(end);
                        }
                        break Ok(());
                    }
                }
                gauges
                    .event_time
                    .store(i64::try_from(time).unwrap_or(0), Ordering::Relaxed);
                if let Some(c) = checkpointer.as_mut()
                    && c.due()
                {
                    if let Err(e) = checkpoint_at(worker, c, &input, &sealed, &failed) {
                        break Err(fail(e));
                    }
                    gauges.checkpoints.store(c.taken, Ordering::Relaxed);
                    gauges.checkpoint_us.store(
                        u64::try_from(c.last_duration.as_micros()).unwrap_or(u64::MAX),
                        Ordering::Relaxed,
                    );
                }
            };
            if let Some(mut c) = checkpointer {
                c.release_sinks();
                if let Ok(mut slot) = checkpoint_slot.lock() {
                    *slot = (Some(c), (max_ts > i64::MIN).then_some(max_ts));
                }
            }
            result?;
            Ok(started.elapsed().saturating_sub(idle))
        }
    };
    let guards = timely::execute(timely_config(cfg.workers)?, dataflow)
        .map_err(|e| anyhow!("starting dataflow: {e}"))?;
    let worker_results = guards.join();
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
    let (final_checkpoint, final_max_ts) = checkpoint_slot
        .lock()
        .map(|mut slot| (slot.0.take(), slot.1))
        .unwrap_or((None, None));
    if let Some(mut c) = final_checkpoint
        && errors.is_empty()
        && source_done.load(Ordering::Acquire)
        && failed.message().is_none()
    {
        let lengths = summaries
            .iter()
            .map(|s: &msec_datasets::DatasetSummary| (s.name.clone(), s.segments))
            .collect();
        if let Err(e) = c.finish(lengths, final_max_ts) {
            errors.push(e);
        }
    }
    drop(broker_commits);
    let source_result = source_thread.join();
    let source = match source_result {
        Ok(Ok(v)) => Some(v),
        Ok(Err(e)) => {
            let downstream = e
                .downcast_ref::<msec_connectors::ConnectorError>()
                .is_some_and(|c| matches!(c, msec_connectors::ConnectorError::Downstream { .. }));
            if downstream {
                secondary.push(e)
            } else {
                errors.push(e)
            }
            None
        }
        Err(_) => {
            errors.push(anyhow!("source thread panicked"));
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
