//! Dispatch of the subcommands.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::process::ExitCode;

use anyhow::Context;
use msec_connectors::{SimulatorConfig, simulate};
use msec_queries::{OutputFormat, open_context, run_sql, write_results};

use crate::cli::{AlertsArgs, Cli, Command, DataArgs, SimOptions, SimulateArgs, SqlArgs};

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
        "simulated {} records ({} readings, {} bad)",
        manifest.records, manifest.readings, bad
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
