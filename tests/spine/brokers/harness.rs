//! Real brokers for the tests, started on loopback at free ports and stopped on drop:
//! mosquitto (Debian's package) and tansu (a Kafka-protocol broker, crates.io), plus the
//! independent clients that publish to them (`mosquitto_pub`, Python's `confluent-kafka`).
//!
//! `scripts/test.sh` installs all of them and sets `MSEC_REQUIRE_BROKERS=1`, so a missing
//! one fails the suite there; a plain `cargo test` without them says "skipped" and passes.

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A broker process, killed when dropped.
pub struct Broker {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Broker {
    /// `host:port`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// Whether tests must fail rather than skip when a broker or client is missing.
fn required() -> bool {
    std::env::var("MSEC_REQUIRE_BROKERS").is_ok_and(|v| v == "1")
}

/// `None` (and a "skipped" line) if `what` is missing and brokers are not required.
fn missing(what: &str) -> Option<()> {
    if required() {
        panic!("{what} not found, and MSEC_REQUIRE_BROKERS=1 (scripts/test.sh installs it)");
    }
    eprintln!("skipped: {what} not found (scripts/test.sh installs it)");
    None
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn wait_for_port(port: u16, child: &mut Child, what: &str) {
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited before listening: {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} did not listen on port {port} within 20 s");
}

/// Starts mosquitto with the settings msec needs: unlimited in-flight and queued QoS 1
/// messages (msec acknowledges only once sealed), no persistence.
pub fn mosquitto() -> Option<Broker> {
    let Some(bin) = std::env::var_os("MSEC_MOSQUITTO")
        .map(PathBuf::from)
        .or_else(|| on_path("mosquitto"))
        .or_else(|| Some(PathBuf::from("/usr/sbin/mosquitto")).filter(|p| p.is_file()))
    else {
        return missing("mosquitto").and(None);
    };
    on_path("mosquitto_pub").or_else(|| missing("mosquitto_pub").and(None))?;
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let conf = dir.path().join("mosquitto.conf");
    let mut text = format!(
        "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n\
         max_inflight_messages 0\nmax_queued_messages 0\nlog_dest stderr\n"
    );
    // Started as root, mosquitto drops to user `mosquitto` unless told otherwise.
    if std::env::var("USER").is_ok_and(|u| u == "root") || is_root() {
        text.push_str("user root\n");
    }
    std::fs::write(&conf, text).expect("mosquitto.conf");
    let log = std::fs::File::create(dir.path().join("mosquitto.log")).expect("log");
    let mut child = Command::new(bin)
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("mosquitto starts");
    wait_for_port(port, &mut child, "mosquitto");
    Some(Broker {
        child,
        port,
        _dir: dir,
    })
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .is_some_and(|l| l.split_whitespace().nth(1) == Some("0"))
    })
}

/// Starts tansu with in-memory storage.
pub fn tansu() -> Option<Broker> {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let Some(bin) = std::env::var_os("MSEC_TANSU")
        .map(PathBuf::from)
        .or_else(|| on_path("tansu"))
        .or_else(|| Some(home.join(".cache/msec/tansu/bin/tansu")).filter(|p| p.is_file()))
    else {
        return missing("tansu").and(None);
    };
    python()?;
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let url = format!("tcp://127.0.0.1:{port}");
    let log = std::fs::File::create(dir.path().join("tansu.log")).expect("log");
    let mut child = Command::new(bin)
        .args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
        ])
        .args(["--storage-engine", "memory://tansu/"])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("tansu starts");
    wait_for_port(port, &mut child, "tansu");
    Some(Broker {
        child,
        port,
        _dir: dir,
    })
}

/// A Python interpreter with `confluent_kafka` (`MSEC_PYTHON`, else the cached venv, else
/// `python3`).
pub fn python() -> Option<PathBuf> {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let candidates = [
        std::env::var_os("MSEC_PYTHON").map(PathBuf::from),
        Some(home.join(".cache/msec/venv/bin/python")).filter(|p| p.is_file()),
        on_path("python3"),
    ];
    for py in candidates.into_iter().flatten() {
        let ok = Command::new(&py)
            .args(["-c", "import confluent_kafka"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Some(py);
        }
    }
    missing("python3 with confluent-kafka").and(None)
}

/// The repository's test tools directory.
pub fn tools() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools")
}

/// Publishes every line of `file` to `topic` (created with `partitions`) with
/// confluent-kafka, at `rate` messages/s (0 = as fast as it goes). Returns the child.
pub fn kafka_publish(
    broker: &Broker,
    topic: &str,
    partitions: u32,
    file: &Path,
    rate: u32,
) -> Child {
    let py = python().expect("python");
    Command::new(py)
        .arg(tools().join("kafka_publish.py"))
        .args(["--brokers", &broker.addr(), "--topic", topic])
        .args(["--partitions", &partitions.to_string(), "--create"])
        .args(["--rate", &rate.to_string()])
        .arg(file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kafka_publish.py starts")
}

/// Waits for a publisher and returns the number of messages it had acknowledged.
pub fn published(child: Child) -> u64 {
    let out = child.wait_with_output().expect("publisher");
    assert!(
        out.status.success(),
        "publisher failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("publisher prints its count")
}

/// Publishes every line of `lines` to `topic` at QoS 1 with `mosquitto_pub -l`, in chunks of
/// 10 000 lines (mosquitto_pub 2.0.11 drops its queue at end of input beyond ~40 000 lines),
/// pausing `pause` between chunks. Returns the number of lines published.
pub fn mqtt_publish(port: u16, topic: &str, lines: &[&str], pause: Duration) -> u64 {
    let mut sent = 0u64;
    for chunk in lines.chunks(10_000) {
        let mut child = Command::new("mosquitto_pub")
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .args(["-q", "1", "-t", topic, "-l"])
            .stdin(Stdio::piped())
            .spawn()
            .expect("mosquitto_pub starts");
        {
            let mut stdin = child.stdin.take().expect("stdin");
            for line in chunk {
                stdin.write_all(line.as_bytes()).expect("write");
                stdin.write_all(b"\n").expect("write");
            }
        }
        let status = child.wait().expect("mosquitto_pub");
        assert!(status.success(), "mosquitto_pub failed: {status}");
        sent += chunk.len() as u64;
        std::thread::sleep(pause);
    }
    sent
}

/// Peak resident memory of a running process so far (VmHWM), in MiB.
pub fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}
