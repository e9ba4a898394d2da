//! Broker benchmarks (the connectors issue's figures): Kafka → msec → sealed datasets with one
//! and two workers, the end-to-end latency from publish to sealed, MQTT QoS 1 throughput, and
//! the latency from publish to alert of an alert-triggering reading.
//!
//! ```text
//! cargo build --release -p msec -p msec-benches
//! target/release/brokers [--readings 1000000] [--workers 1,2] [--mqtt-readings 300000]
//!     [--rate 50000] [--msec target/release/msec] [--dir target/bench-data]
//! ```
//!
//! Needs what `scripts/test.sh` installs: `tansu` (`MSEC_TANSU` or ~/.cache/msec/tansu),
//! `mosquitto` and `mosquitto_pub`, and Python with confluent-kafka (`MSEC_PYTHON` or
//! ~/.cache/msec/venv). Each broker runs on loopback at a free port.
//!
//! 1. **Kafka throughput:** the whole stream is published to a 3-partition topic first, then
//!    `msec run` reads it (`end_after_idle_ms`): readings/s = readings / (run wall time − the
//!    idle wait), which covers reading, the dataflow and sealing every dataset. Checked: every
//!    reading is in `readings`.
//! 2. **Kafka latency:** the producer publishes at `--rate`, stamping each reading's event time
//!    with the wall clock at publish, while msec runs. A reading's latency is the `sealed_at`
//!    of its `readings` segment minus that time, over every reading (p50, p99, max). A reading
//!    is sealed at the first checkpoint after the watermark passes it, so the floor is the
//!    lateness plus the watermark granularity plus the checkpoint interval; the run is made
//!    with the defaults (5 s, 1 s, 1 s) and with a tight setting (100 ms, 10 ms, 100 ms).
//! 3. **MQTT throughput (QoS 1):** msec subscribed, the stream published with mosquitto_pub;
//!    readings/s = readings / (time from the first publish to the run's end − the idle wait).
//! 4. **MQTT publish → alert:** home readings stamped with the wall clock at publish, a
//!    `battery` reading below the threshold every 200 ms (`low_battery` raises at once); the
//!    latency of a `raised` alert is its `emit_ts` minus the triggering reading's time (its
//!    evidence), read from the `alerts` dataset; lateness 0 (the publisher is in order).

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

struct Options {
    readings: u64,
    workers: Vec<usize>,
    mqtt_readings: u64,
    rate: u64,
    msec: PathBuf,
    dir: PathBuf,
}

fn parse_args() -> anyhow::Result<Options> {
    let mut o = Options {
        readings: 1_000_000,
        workers: vec![1, 2],
        mqtt_readings: 300_000,
        rate: 50_000,
        msec: PathBuf::from("target/release/msec"),
        dir: PathBuf::from("target/bench-data"),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--readings" => o.readings = val()?.parse()?,
            "--mqtt-readings" => o.mqtt_readings = val()?.parse()?,
            "--rate" => o.rate = val()?.parse()?,
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

/// A broker process, killed on drop.
struct Broker {
    child: Child,
    port: u16,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn wait_port(port: u16) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("nothing listens on port {port}")
}

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default()
}

fn tansu(dir: &Path) -> anyhow::Result<Broker> {
    let bin = std::env::var_os("MSEC_TANSU")
        .map(PathBuf::from)
        .unwrap_or_else(|| home().join(".cache/msec/tansu/bin/tansu"));
    let port = free_port()?;
    let url = format!("tcp://127.0.0.1:{port}");
    let child = Command::new(&bin)
        .args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
        ])
        .args(["--storage-engine", "memory://tansu/"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("tansu.log"))?)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    wait_port(port)?;
    Ok(Broker { child, port })
}

fn mosquitto(dir: &Path) -> anyhow::Result<Broker> {
    let port = free_port()?;
    let conf = dir.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nuser root\n\
             max_inflight_messages 0\nmax_queued_messages 0\n"
        ),
    )?;
    let bin = std::env::var_os("MSEC_MOSQUITTO").unwrap_or_else(|| "mosquitto".into());
    let child = Command::new(bin)
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("mosquitto.log"))?)
        .spawn()
        .context("starting mosquitto")?;
    wait_port(port)?;
    Ok(Broker { child, port })
}

fn python() -> PathBuf {
    std::env::var_os("MSEC_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| home().join(".cache/msec/venv/bin/python"))
}

fn publisher(
    kafka: &Broker,
    topic: &str,
    file: &Path,
    rate: u64,
    stamp: bool,
) -> anyhow::Result<Child> {
    let mut cmd = Command::new(python());
    cmd.arg("tests/tools/kafka_publish.py")
        .args([
            "--brokers",
            &format!("127.0.0.1:{}", kafka.port),
            "--topic",
            topic,
        ])
        .args(["--partitions", "3", "--create", "--rate", &rate.to_string()]);
    if stamp {
        cmd.arg("--stamp-now");
    }
    Ok(cmd.arg(file).stdout(Stdio::piped()).spawn()?)
}

fn published(child: Child) -> anyhow::Result<u64> {
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!("publisher failed");
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().parse()?)
}

/// Simulates a stream of about `readings` readings (cached by size).
fn stream(o: &Options, readings: u64) -> anyhow::Result<PathBuf> {
    let path = o.dir.join(format!("brokers-{readings}.jsonl"));
    if path.exists() {
        return Ok(path);
    }
    // 40 park devices, 4 trucks, 20 homes at 200 readings per simulated second.
    let hours = readings as f64 / 200.0 / 3600.0;
    let status = Command::new(&o.msec)
        .args(["simulate", "--out"])
        .arg(&path)
        .args([
            "--hours",
            &format!("{hours:.4}"),
            "--households",
            "20",
            "--devices",
            "40",
        ])
        .args(["--trucks", "4", "--rate", "200", "--bad-rate", "0"])
        .stdout(Stdio::null())
        .status()?;
    if !status.success() {
        bail!("simulate failed");
    }
    Ok(path)
}

fn lines(path: &Path) -> anyhow::Result<u64> {
    Ok(std::fs::read_to_string(path)?.lines().count() as u64)
}

fn run_msec(o: &Options, config: &Path, data: &Path, extra: &[&str]) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let out = Command::new(&o.msec)
        .env("MSEC_LOG", "warn")
        .args(["run", "--config"])
        .arg(config)
        .arg("--data")
        .arg(data)
        .args(extra)
        .output()?;
    if !out.status.success() {
        bail!("msec run failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(start.elapsed())
}

fn sql(o: &Options, data: &Path, query: &str) -> anyhow::Result<Vec<Vec<String>>> {
    let out = Command::new(&o.msec)
        .args(["sql", "--format", "csv", "--data"])
        .arg(data)
        .arg(query)
        .output()?;
    if !out.status.success() {
        bail!("msec sql failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect())
}

fn count_readings(o: &Options, data: &Path) -> anyhow::Result<u64> {
    let rows = sql(o, data, "SELECT count(*) FROM readings")?;
    Ok(rows
        .first()
        .and_then(|r| r.first())
        .context("count")?
        .parse()?)
}

fn quantile(v: &[i64], q: f64) -> i64 {
    if v.is_empty() {
        return 0;
    }
    let i = ((v.len() as f64 - 1.0) * q).round() as usize;
    v[i.min(v.len() - 1)]
}

/// `sealed_at − ts` of every reading, from the chain log and the segments.
fn sealed_latencies(o: &Options, data: &Path) -> anyhow::Result<Vec<i64>> {
    let chain = std::fs::read_to_string(data.join("readings/_chain.jsonl"))?;
    let mut sealed_at = std::collections::HashMap::new();
    for line in chain.lines().skip(1) {
        let v: serde_json::Value = serde_json::from_str(line)?;
        if let (Some(file), Some(at)) = (v["file"].as_str(), v["sealed_at"].as_i64()) {
            sealed_at.insert(file.to_owned(), at);
        }
    }
    let rows = sql(
        o,
        data,
        "SELECT regexp_replace(input_file_name(), '.*/', ''), CAST(ts AS BIGINT) FROM readings",
    );
    let mut out = Vec::new();
    match rows {
        Ok(rows) => {
            for r in rows {
                if let (Some(at), Some(ts)) = (
                    sealed_at.get(&r[0]),
                    r.get(1).and_then(|t| t.parse::<i64>().ok()),
                ) {
                    out.push(at - ts);
                }
            }
        }
        Err(_) => {
            // Without input_file_name(): per segment, from the chain's time range and seal time.
            for line in chain.lines().skip(1) {
                let v: serde_json::Value = serde_json::from_str(line)?;
                if let (Some(at), Some(max), Some(min)) = (
                    v["sealed_at"].as_i64(),
                    v["ts_max"].as_i64(),
                    v["ts_min"].as_i64(),
                ) {
                    out.push(at - max);
                    out.push(at - min);
                }
            }
        }
    }
    out.sort_unstable();
    Ok(out)
}

fn kafka_config(
    dir: &Path,
    name: &str,
    kafka: &Broker,
    topic: &str,
    pipeline: &str,
) -> anyhow::Result<PathBuf> {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            "[pipeline]\n{pipeline}\n[source]\nkind = \"kafka\"\nbrokers = \"127.0.0.1:{}\"\ntopics = [\"{topic}\"]\ngroup = \"{name}\"\nend_after_idle_ms = 2000\n",
            kafka.port
        ),
    )?;
    Ok(path)
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_default();
    format!("{cpus} cores, {model}")
}

fn main() -> anyhow::Result<()> {
    let o = parse_args()?;
    std::fs::create_dir_all(&o.dir)?;
    let work = tempdir(&o.dir)?;
    println!("machine: {}", machine());
    let kafka = tansu(&work)?;
    let input = stream(&o, o.readings)?;
    let n = lines(&input)?;

    // 1. Kafka throughput, per worker count.
    let sent = published(publisher(&kafka, "bench", &input, 0, false)?)?;
    println!("kafka: {sent} readings published to 3 partitions");
    for &w in &o.workers {
        let data = work.join(format!("kafka-w{w}"));
        let config = kafka_config(&work, &format!("w{w}"), &kafka, "bench", "")?;
        let wall = run_msec(&o, &config, &data, &["--workers", &w.to_string()])?;
        let busy = wall
            .saturating_sub(Duration::from_millis(2000))
            .as_secs_f64();
        let got = count_readings(&o, &data)?;
        if got != n {
            bail!("kafka run with {w} workers has {got} readings of {n}");
        }
        println!(
            "kafka → msec → sealed, {w} worker(s): {n} readings in {busy:.2} s = {:.0} readings/s",
            n as f64 / busy
        );
    }

    // 2. Kafka latency, publish → sealed.
    let latency_n = (o.rate * 20).min(n);
    let part = o.dir.join(format!("brokers-latency-{latency_n}.jsonl"));
    if !part.exists() {
        let text = std::fs::read_to_string(&input)?;
        let mut f = std::fs::File::create(&part)?;
        for l in text.lines().take(latency_n as usize) {
            writeln!(f, "{l}")?;
        }
    }
    for (name, pipeline) in [
        ("defaults", ""),
        (
            "tight",
            "lateness_ms = 100\nwatermark_granularity_ms = 10\ncheckpoint_interval_ms = 100\n",
        ),
    ] {
        let topic = format!("latency-{name}");
        let data = work.join(&topic);
        let config = kafka_config(&work, &topic, &kafka, &topic, pipeline)?;
        let producer = publisher(&kafka, &topic, &part, o.rate, true)?;
        std::thread::sleep(Duration::from_millis(1500)); // the topic exists
        run_msec(&o, &config, &data, &[])?;
        published(producer)?;
        let lat = sealed_latencies(&o, &data)?;
        println!(
            "kafka publish → sealed at {} readings/s ({name}: {}): p50 {} ms, p99 {} ms, max {} ms over {} readings",
            o.rate,
            if pipeline.is_empty() {
                "lateness 5 s, granularity 1 s, checkpoint 1 s".to_owned()
            } else {
                pipeline.replace('\n', " ")
            },
            quantile(&lat, 0.5),
            quantile(&lat, 0.99),
            lat.last().copied().unwrap_or(0),
            lat.len()
        );
    }
    drop(kafka);

    // 3. MQTT throughput.
    let mqtt = mosquitto(&work)?;
    let small = stream(&o, o.mqtt_readings)?;
    let m = lines(&small)?;
    let data = work.join("mqtt");
    let mut run = mqtt_run(&o, &work, &mqtt, "bench", "city", "", &data)?;
    let start = Instant::now();
    let text = std::fs::read_to_string(&small)?;
    let all: Vec<&str> = text.lines().collect();
    for chunk in all.chunks(10_000) {
        mosquitto_pub(mqtt.port, "city", chunk)?;
    }
    let status = run.wait()?;
    if !status.success() {
        bail!("msec run (mqtt) failed");
    }
    let busy = start
        .elapsed()
        .saturating_sub(Duration::from_millis(2000))
        .as_secs_f64();
    let got = count_readings(&o, &data)?;
    if got != m {
        bail!("mqtt run has {got} readings of {m}");
    }
    println!(
        "mqtt QoS 1 → msec → sealed, 1 worker: {m} readings in {busy:.2} s = {:.0} readings/s",
        m as f64 / busy
    );

    // 4. MQTT publish → alert.
    let data = work.join("mqtt-alerts");
    let mut run = mqtt_run(
        &o,
        &work,
        &mqtt,
        "bench-alerts",
        "homes",
        "[pipeline]\nlateness_ms = 0\nwatermark_granularity_ms = 1\n",
        &data,
    )?;
    let mut publisher = Command::new("mosquitto_pub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &mqtt.port.to_string(),
            "-q",
            "1",
            "-t",
            "homes",
            "-l",
        ])
        .stdin(Stdio::piped())
        .spawn()?;
    {
        let mut stdin = publisher.stdin.take().context("stdin")?;
        // 10 s at 5 000 readings/s from 100 homes; every 200 ms one battery reading below 15 %.
        let start = Instant::now();
        for i in 0u64..50_000 {
            let due = Duration::from_micros(i * 200);
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
            let now = msec_now();
            let home = (i / 1000) % 100;
            let line = if i % 1000 == 0 {
                format!(
                    "{{\"device\":\"home-{home:03}-door\",\"sensor\":\"battery\",\"ts\":{now},\"value\":5}}"
                )
            } else {
                format!(
                    "{{\"device\":\"home-{home:03}-plug\",\"sensor\":\"plug_power\",\"ts\":{now},\"value\":{}}}",
                    i % 7
                )
            };
            writeln!(stdin, "{line}")?;
        }
    }
    publisher.wait()?;
    run.wait()?;
    let rows = sql(
        &o,
        &data,
        "SELECT CAST(emit_ts AS BIGINT) - CAST(evidence_ts AS BIGINT) FROM alerts WHERE kind = 'raised' AND rule = 'low_battery'",
    )?;
    let mut lat: Vec<i64> = rows
        .iter()
        .filter_map(|r| r.first()?.parse().ok())
        .collect();
    lat.sort_unstable();
    println!(
        "mqtt publish → alert (low_battery, lateness 0): p50 {} ms, p99 {} ms, max {} ms over {} alerts",
        quantile(&lat, 0.5),
        quantile(&lat, 0.99),
        lat.last().copied().unwrap_or(0),
        lat.len()
    );
    Ok(())
}

/// Starts `msec run` on an MQTT source (client `client`, topic `topic`, end after 2 s idle)
/// and waits until it has subscribed.
fn mqtt_run(
    o: &Options,
    work: &Path,
    mqtt: &Broker,
    client: &str,
    topic: &str,
    pipeline: &str,
    data: &Path,
) -> anyhow::Result<Child> {
    let config = work.join(format!("{client}.toml"));
    std::fs::write(
        &config,
        format!(
            "{pipeline}[source]\nkind = \"mqtt\"\nport = {}\nclient_id = \"{client}\"\ntopics = [\"{topic}\"]\nend_after_idle_ms = 2000\n",
            mqtt.port
        ),
    )?;
    let mut run = Command::new(&o.msec)
        .env("MSEC_LOG", "info")
        .args(["run", "--config"])
        .arg(&config)
        .arg("--data")
        .arg(data)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    wait_for_line(&mut run, "subscribed")?;
    Ok(run)
}

fn msec_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn mosquitto_pub(port: u16, topic: &str, lines: &[&str]) -> anyhow::Result<()> {
    let mut child = Command::new("mosquitto_pub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-q",
            "1",
            "-t",
            topic,
            "-l",
        ])
        .stdin(Stdio::piped())
        .spawn()?;
    {
        let mut stdin = child.stdin.take().context("stdin")?;
        for l in lines {
            writeln!(stdin, "{l}")?;
        }
    }
    if !child.wait()?.success() {
        bail!("mosquitto_pub failed");
    }
    Ok(())
}

/// Reads a child's stderr until a line contains `marker`, then keeps draining it.
fn wait_for_line(child: &mut Child, marker: &str) -> anyhow::Result<()> {
    use std::io::BufRead;
    let stderr = child.stderr.take().context("stderr")?;
    let mut reader = std::io::BufReader::new(stderr);
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            bail!("msec ended before {marker:?}");
        }
        if line.contains(marker) {
            break;
        }
    }
    std::thread::spawn(move || {
        let mut sink = String::new();
        while reader.read_line(&mut sink).is_ok_and(|n| n > 0) {
            sink.clear();
        }
    });
    Ok(())
}

fn tempdir(root: &Path) -> anyhow::Result<PathBuf> {
    let dir = root.join(format!("brokers-run-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
