//! End-to-end load harness for `msec run` (issue 2's speed figures).
//!
//! ```text
//! cargo build --release -p msec && cargo run --release -p msec-benches --bin e2e -- [--readings N] [--workers 1,2]
//! ```
//!
//! Simulates an N-reading JSONL file once (cached under `target/bench-data/`), then times
//! `msec run` over it (readings + agg_1m + dead_letter written and sealed) for each worker
//! count, reporting readings/s, peak RSS (VmHWM of the child) and msec's own per-stage times.
//! It checks its results: the run must account for every input line, and `msec verify` must
//! pass. If Python's `duckdb` module is importable, the same per-minute statistics are timed
//! with DuckDB (2 threads) over the same file for comparison.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

struct Options {
    readings: u64,
    workers: Vec<usize>,
    msec: PathBuf,
    dir: PathBuf,
}

fn parse_args() -> anyhow::Result<Options> {
    let mut o = Options {
        readings: 10_000_000,
        workers: vec![1, 2],
        msec: PathBuf::from("target/release/msec"),
        dir: PathBuf::from("target/bench-data"),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--readings" => o.readings = val()?.parse()?,
            "--workers" => {
                o.workers = val()?
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()?
            }
            "--msec" => o.msec = val()?.into(),
            "--dir" => o.dir = val()?.into(),
            other => bail!("unknown argument {other}"),
        }
    }
    Ok(o)
}

/// Runs a command, sampling the child's peak RSS (VmHWM) from /proc until it exits.
fn timed(cmd: &mut Command) -> anyhow::Result<(Duration, u64, String)> {
    let start = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("spawn")?;
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0u64;
    loop {
        let hwm = std::fs::read_to_string(&status_path).ok().and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        });
        peak_kb = peak_kb.max(hwm.unwrap_or(0));
        if child.try_wait()?.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!("{cmd:?} failed");
    }
    Ok((
        start.elapsed(),
        peak_kb * 1024,
        String::from_utf8_lossy(&out.stdout).into_owned(),
    ))
}

fn simulate(o: &Options) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(&o.dir)?;
    let path = o.dir.join(format!("sim-{}.jsonl", o.readings));
    if path.exists() {
        return Ok(path);
    }
    // The default simulator mix yields about `rate` readings per simulated second.
    let hours = 1.0;
    let rate = o.readings as f64 / (hours * 3600.0);
    let (t, _, _) = timed(Command::new(&o.msec).args([
        "simulate",
        "--out",
        path.to_str().context("path")?,
        "--hours",
        &hours.to_string(),
        "--rate",
        &format!("{rate:.3}"),
    ]))?;
    eprintln!("simulated {} in {:.1} s", path.display(), t.as_secs_f64());
    Ok(path)
}

fn lines(path: &Path) -> anyhow::Result<u64> {
    use std::io::BufRead;
    let mut n = 0u64;
    for l in std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(path)?).split(b'\n') {
        l?;
        n += 1;
    }
    Ok(n)
}

fn main() -> anyhow::Result<()> {
    let o = parse_args()?;
    if !o.msec.exists() {
        bail!(
            "{} not found: run `cargo build --release -p msec` first",
            o.msec.display()
        );
    }
    let input = simulate(&o)?;
    let n = lines(&input)?;
    let size = std::fs::metadata(&input)?.len();
    println!(
        "input: {} ({n} lines, {:.0} MB)",
        input.display(),
        size as f64 / 1e6
    );
    for &w in &o.workers {
        let data = o.dir.join(format!("data-w{w}"));
        let _ = std::fs::remove_dir_all(&data);
        let (t, rss, out) = timed(Command::new(&o.msec).env("MSEC_LOG", "warn").args([
            "run",
            "--input",
            input.to_str().context("path")?,
            "--data",
            data.to_str().context("path")?,
            "--workers",
            &w.to_string(),
        ]))?;
        let records: u64 = out
            .lines()
            .find_map(|l| l.strip_prefix("records in:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .context("summary has no `records in`")?;
        if records != n {
            bail!("msec read {records} records of {n}");
        }
        let verify = Command::new(&o.msec)
            .args(["verify", "--data", data.to_str().context("path")?])
            .output()?;
        if !verify.status.success() {
            bail!("verify failed: {}", String::from_utf8_lossy(&verify.stdout));
        }
        println!(
            "workers {w}: {:.2} s, {:.0} readings/s, {:.1} MB/s, peak RSS {:.0} MB",
            t.as_secs_f64(),
            n as f64 / t.as_secs_f64(),
            size as f64 / 1e6 / t.as_secs_f64(),
            rss as f64 / 1e6
        );
        for l in out
            .lines()
            .filter(|l| l.starts_with("stage") || l.starts_with("throughput"))
        {
            println!("    {l}");
        }
        let _ = std::fs::remove_dir_all(&data);
    }
    duckdb(&input)?;
    Ok(())
}

fn duckdb(input: &Path) -> anyhow::Result<()> {
    let probe = Command::new("python3")
        .args(["-c", "import duckdb"])
        .status();
    if !probe.map(|s| s.success()).unwrap_or(false) {
        println!("duckdb: skipped (python3 -m pip install duckdb to compare)");
        return Ok(());
    }
    let script = format!(
        "import duckdb; c = duckdb.connect(); c.execute('SET threads=2'); \
         c.execute(\"SELECT device, sensor, (ts // 60000) * 60000 AS w, count(*), min(value), max(value), avg(value) \
         FROM read_json('{}', format='newline_delimited', columns={{'device':'VARCHAR','sensor':'VARCHAR','ts':'BIGINT','value':'DOUBLE','lat':'DOUBLE','lon':'DOUBLE'}}, ignore_errors=true) \
         GROUP BY ALL\").fetchall()",
        input.display()
    );
    let (t, rss, _) = timed(Command::new("python3").args(["-c", &script]))?;
    println!(
        "duckdb (2 threads, batch GROUP BY): {:.2} s, peak RSS {:.0} MB",
        t.as_secs_f64(),
        rss as f64 / 1e6
    );
    Ok(())
}
