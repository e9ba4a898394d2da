//! Dispatch of the subcommands.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::process::ExitCode;

use anyhow::Context;
use msec_connectors::{SimulatorConfig, simulate};
use msec_queries::{OutputFormat, open_context, run_sql, write_results};

use crate::cli::{Cli, Command, DataArgs, SimOptions, SimulateArgs, SqlArgs};

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
    cfg
}

fn simulate_cmd(args: SimulateArgs) -> anyhow::Result<ExitCode> {
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
