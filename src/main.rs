//! `msec`: the command-line front end. It parses arguments and wires the layers together;
//! everything else lives in the library crates (DESIGN §3).

mod broker;
mod cli;
mod commands;
mod ingest;
mod metrics_http;
mod progress;
mod run;
mod setup;
mod stages;
mod summary;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    init_tracing();
    match commands::dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("msec: error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and those of its causes that its message does not already include, on one line.
fn one_line(e: &anyhow::Error) -> String {
    let mut message = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !message.contains(&cause) {
            message.push_str(": ");
            message.push_str(&cause);
        }
    }
    message.replace('\n', " ")
}

/// Logs go to stderr; `MSEC_LOG` sets the level (error, warn, info, debug, trace; default info).
fn init_tracing() {
    let level = std::env::var("MSEC_LOG")
        .ok()
        .and_then(|v| v.parse::<tracing::Level>().ok())
        .unwrap_or(tracing::Level::INFO);
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_target(false)
        .compact()
        .init();
}
