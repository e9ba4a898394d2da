//! Dispatch of the subcommands.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::process::ExitCode;

use anyhow::Context;
use msec_connectors::{SimulatorConfig, simulate};
use msec_queries::{OutputFormat, open_context, run_sql, write_results};

use crate::cli::{
    AlertsArgs, Cli, Command, DataArgs, SimOptions, SimulateArgs, SqlArgs, SqlFormatArgs,
};

/// Runs the command.
pub fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Simulate(args) => simulate_cmd(args),
        Command::Run(args) => {
            let summary = crate::run::run(args)?;
            println!("{summary}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify(args) => verify_cmd(args),
        Command::Sql(args) => sql_cmd(args),
        Command::Alerts(args) => alerts_cmd(args),
        Command::Fivev(args) => fivev_cmd(args),
        Command::Render(args) => render_cmd(args),
    }
}

/// The simulator configuration for the given options (defaults where unset).
pub fn simulator_config(opts: &SimOptions) -> SimulatorConfig {
    let mut cfg = SimulatorConfig {
        seed: opts.seed,
        ..SimulatorConfig::default()
    };
    if let Some(v) = opts.households {
        cfg.households = v;
    }
    if let Some(v) = opts.hours {
        cfg.hours = v;
    }
    if let Some(v) = opts.devices {
        cfg.env_devices = v;
        cfg.crowd_counters = v.div_ceil(2);
    }
    if let Some(v) = opts.trucks {
        cfg.trucks = v;
    }
    if let Some(v) = opts.rate {
        cfg.rate = v;
    }
    if let Some(v) = opts.disorder_ms {
        cfg.disorder_ms = v;
    }
    if let Some(v) = opts.bad_rate {
        cfg.bad_rate = v;
    }
    if let Some(v) = opts.incident_rate {
        cfg.incident_rate = v;
    }
    if let Some(v) = opts.reporters {
        cfg.reporters = v;
    }
    if let Some(v) = opts.report_rate {
        cfg.report_rate = v;
    }
    cfg.pace = opts.pace;
    cfg
}

fn simulate_cmd(args: SimulateArgs) -> anyhow::Result<ExitCode> {
    if args.sim.pace.is_some() {
        anyhow::bail!(
            "--pace paces the simulator as a live source of `msec run`, not `msec simulate`"
        );
    }
    let cfg = simulator_config(&args.sim);
    let to_stdout = args.out.as_os_str() == "-";
    let manifest = if to_stdout {
        let stdout = std::io::stdout();
        let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());
        let m = simulate(&cfg, &mut out)?;
        out.flush()?;
        m
    } else {
        let file =
            File::create(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let m =
            simulate(&cfg, &mut out).with_context(|| format!("writing {}", args.out.display()))?;
        out.flush()?;
        let manifest_path = format!("{}.manifest.json", args.out.display());
        std::fs::write(&manifest_path, serde_json::to_vec_pretty(&m)?)
            .with_context(|| format!("writing {manifest_path}"))?;
        m
    };
    let bad: u64 = manifest.bad.values().sum();
    eprintln!(
        "simulated {} records ({} readings, {} reports, {} bad)",
        manifest.records, manifest.readings, manifest.reports, bad
    );
    Ok(ExitCode::SUCCESS)
}

fn verify_cmd(args: DataArgs) -> anyhow::Result<ExitCode> {
    let reports = msec_datasets::verify_all(&args.data)
        .with_context(|| format!("verifying {}", args.data.display()))?;
    if reports.is_empty() {
        anyhow::bail!("no datasets under {}", args.data.display());
    }
    let mut failed = Vec::new();
    for report in &reports {
        println!("{report}");
        if !report.ok {
            failed.push(report);
        }
    }
    match failed.first() {
        None => Ok(ExitCode::SUCCESS),
        Some(first) => {
            let what = first
                .problems
                .first()
                .map(|p| p.to_string())
                .unwrap_or_default();
            eprintln!(
                "msec: verify failed: {} of {} datasets; first: {}",
                failed.len(),
                reports.len(),
                what
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

fn sql_cmd(args: SqlArgs) -> anyhow::Result<ExitCode> {
    let format: OutputFormat = args
        .format
        .parse()
        .map_err(|e: String| anyhow::anyhow!(e))?;
    let runtime = msec_engine::runtime::async_runtime(2)?;
    let batches = runtime.block_on(async {
        let ctx = open_context(&args.data).await?;
        run_sql(&ctx, &args.query).await
    })?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    write_results(&batches, format, &mut out)?;
    Ok(ExitCode::SUCCESS)
}

/// The SQL behind `msec alerts`: episodes raised and not resolved (most critical first),
/// then the most recent records.
pub fn alerts_queries(household: Option<&str>, recent: usize) -> (String, String) {
    let only = |column: &str| match household {
        Some(h) => format!(" AND {column} = '{}'", h.replace('\'', "''")),
        None => String::new(),
    };
    let active = format!(
        "SELECT r.household, r.rule, r.criticity, r.device, r.decision_ts AS since, r.message \
         FROM alerts r LEFT JOIN (SELECT DISTINCT alert_id FROM alerts WHERE kind = 'resolved') x \
         ON r.alert_id = x.alert_id \
         WHERE r.kind = 'raised' AND x.alert_id IS NULL{} \
         ORDER BY r.criticity DESC, since, r.household, r.rule",
        only("r.household")
    );
    let recent = format!(
        "SELECT decision_ts AS at, kind, household, rule, criticity, device, message \
         FROM alerts WHERE true{} \
         ORDER BY decision_ts DESC, household, rule, kind LIMIT {recent}",
        only("household")
    );
    (active, recent)
}

fn alerts_cmd(args: AlertsArgs) -> anyhow::Result<ExitCode> {
    let format: OutputFormat = args
        .format
        .parse()
        .map_err(|e: String| anyhow::anyhow!(e))?;
    if matches!(format, OutputFormat::Parquet) {
        anyhow::bail!("msec alerts prints table, csv or json; use msec sql for parquet");
    }
    if !args.data.join("alerts").join("_chain.jsonl").exists() {
        anyhow::bail!(
            "no alerts dataset under {} (run `msec run --data {}` first)",
            args.data.display(),
            args.data.display()
        );
    }
    let (active, recent) = alerts_queries(args.household.as_deref(), args.recent);
    let runtime = msec_engine::runtime::async_runtime(2)?;
    let (active, recent) = runtime.block_on(async {
        let ctx = open_context(&args.data).await?;
        anyhow::Ok((run_sql(&ctx, &active).await?, run_sql(&ctx, &recent).await?))
    })?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let rows = |b: &[msec_engine::arrow::record_batch::RecordBatch]| {
        b.iter().map(|b| b.num_rows()).sum::<usize>()
    };
    let table = matches!(format, OutputFormat::Table);
    for (title, batches) in [
        ("active alerts", &active),
        ("\nrecent alert records (newest first)", &recent),
    ] {
        if table {
            writeln!(out, "{title}: {}", rows(batches))?;
            if rows(batches) == 0 {
                continue;
            }
        }
        write_results(batches, format, &mut out)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn render_cmd(args: crate::cli::RenderArgs) -> anyhow::Result<ExitCode> {
    use msec_queries::render::{HeatmapRequest, PngOptions, load_heatmap, render_png, to_geojson};
    let crate::cli::RenderWhat::Heatmap(args) = args.what;
    let ext = args.out.extension().and_then(|e| e.to_str());
    let format = match (args.format.as_deref(), ext) {
        (Some(f), _) => f,
        (None, Some("geojson" | "json")) => "geojson",
        (None, _) => "png",
    };
    if !matches!(format, "png" | "geojson") {
        anyhow::bail!("unknown format {format:?} (png, geojson)");
    }
    let req = HeatmapRequest {
        metric: args.metric.clone(),
        window: args.window.parse()?,
        grid: args.grid.clone(),
    };
    let runtime = msec_engine::runtime::async_runtime(2)?;
    let map = runtime
        .block_on(async {
            let ctx = open_context(&args.data).await?;
            anyhow::Ok(load_heatmap(&ctx, &req).await?)
        })
        .with_context(|| format!("rendering heatmap under {}", args.data.display()))?;
    let (bytes, size) = if format == "png" {
        let png = render_png(&map, &PngOptions::default())?;
        let size = format!("PNG {}x{} px", png.width, png.height);
        (png.bytes, size)
    } else {
        let json = serde_json::to_vec_pretty(&to_geojson(&map))?;
        (json, "GeoJSON".to_owned())
    };
    let summary = format!(
        "{size}, {} cells of {} ({} per cell) at {} on grid {}",
        map.cells.len(),
        map.metric,
        map.value_column().name(),
        msec_queries::render::rfc3339(map.window_start),
        map.grid
    );
    if args.out.as_os_str() == "-" {
        std::io::stdout().lock().write_all(&bytes)?;
        eprintln!("wrote {summary}");
    } else {
        std::fs::write(&args.out, &bytes)
            .with_context(|| format!("writing {}", args.out.display()))?;
        println!("wrote {}: {summary}", args.out.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// The SQL behind `msec fivev`: the latest window of every source.
pub const FIVEV_LATEST: &str = "SELECT f.source, f.window_start, f.records, f.bytes, f.readings, \
     round(f.events_per_s, 1) AS events_per_s, f.latency_p99_ms, f.sensor_kinds, f.devices, \
     f.schemas, f.invalid, f.out_of_range, f.late, f.future_ts, f.duplicate, f.stuck, \
     round(f.invalid_rate + f.out_of_range_rate + f.late_rate + f.future_ts_rate + f.duplicate_rate, 4) \
     AS rejected_rate, f.alerts, f.heatmap_cells, f.datasets_sealed \
     FROM fivev f JOIN (SELECT source, max(window_start) AS w FROM fivev GROUP BY source) l \
     ON f.source = l.source AND f.window_start = l.w ORDER BY f.source";

fn fivev_cmd(args: SqlFormatArgs) -> anyhow::Result<ExitCode> {
    let format: OutputFormat = args
        .format
        .parse()
        .map_err(|e: String| anyhow::anyhow!(e))?;
    if !args.data.join("fivev").join("_chain.jsonl").exists() {
        anyhow::bail!(
            "no fivev dataset under {} (run `msec run --data {}` first)",
            args.data.display(),
            args.data.display()
        );
    }
    let runtime = msec_engine::runtime::async_runtime(2)?;
    let batches = runtime.block_on(async {
        let ctx = open_context(&args.data).await?;
        run_sql(&ctx, FIVEV_LATEST).await
    })?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    write_results(&batches, format, &mut out)?;
    Ok(ExitCode::SUCCESS)
}
