//! Overload: a broker holding or pushing several times what the dataflow takes per second.
//! msec slows its source down (bounded channels; Kafka keeps the records, MQTT's TCP window
//! fills and mosquitto queues), its peak resident memory stays bounded, nothing is lost.
//!
//! Bound checked: 256 MiB peak RSS (debug build, 323 784 readings waiting at the broker or
//! pushed by it; measured about 100 MiB for Kafka, 50 MiB for MQTT on the 2-core CI VM).

use std::time::Duration;

use super::harness::{kafka_publish, mosquitto, mqtt_publish, peak_rss_mib, published, tansu};
use super::*;

const PEAK_RSS_LIMIT_MIB: f64 = 256.0;

fn big_stream(dir: &Path) -> (PathBuf, serde_json::Value) {
    simulate(
        dir,
        "big",
        &[
            "--hours",
            "1.5",
            "--households",
            "20",
            "--devices",
            "40",
            "--trucks",
            "4",
            "--rate",
            "60",
            "--bad-rate",
            "0",
        ],
    )
}

/// Waits for a run to end, sampling its peak RSS; returns it (MiB) and the run's stdout.
fn finish_sampling(mut child: std::process::Child, data: &Path) -> (f64, String) {
    let mut peak: f64 = 0.0;
    let deadline = Instant::now() + Duration::from_secs(600);
    while child.try_wait().expect("wait").is_none() {
        if let Some(rss) = peak_rss_mib(child.id()) {
            peak = peak.max(rss);
        }
        assert!(Instant::now() < deadline, "run did not end");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = finish(child, data, Duration::from_secs(1));
    (peak, out)
}

#[test]
fn kafka_backlog_is_read_in_bounded_memory() {
    let Some(broker) = tansu() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let (input, manifest) = big_stream(dir.path());
    let records = manifest["records"].as_u64().expect("records");
    assert!(records > 300_000, "{records}");
    // The whole stream waits at the broker before msec starts: the source can go as fast as
    // it likes and must still be held back by the dataflow.
    assert_eq!(
        published(kafka_publish(&broker, "big", 3, &input, 0)),
        records
    );
    let config = pipeline_file(
        dir.path(),
        "kafka",
        &format!(
            "kind = \"kafka\"\nbrokers = \"{}\"\ntopics = [\"big\"]\nend_after_idle_ms = 3000\n",
            broker.addr()
        ),
    );
    let data = dir.path().join("data");
    let started = Instant::now();
    let (peak, _) = finish_sampling(spawn_run(&config, &data, &[]), &data);
    let secs = started.elapsed().as_secs_f64();
    eprintln!("kafka backlog: {records} readings in {secs:.1} s, peak RSS {peak:.0} MiB");
    let n = manifest["readings"].as_i64().expect("readings");
    assert_eq!(readings_by_provenance(&data), (n, n));
    assert!(peak < PEAK_RSS_LIMIT_MIB, "peak RSS {peak:.0} MiB");
}

#[test]
fn mqtt_flood_is_read_in_bounded_memory() {
    let Some(broker) = mosquitto() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let (input, manifest) = big_stream(dir.path());
    let text = std::fs::read_to_string(&input).expect("stream");
    let lines: Vec<&str> = text.lines().collect();
    let config = pipeline_file(
        dir.path(),
        "mqtt",
        &format!(
            "kind = \"mqtt\"\nport = {}\nclient_id = \"flood\"\ntopics = [\"city/readings\"]\nend_after_idle_ms = 10000\n",
            broker.port
        ),
    );
    let data = dir.path().join("data");
    let run = spawn_ready(&config, &data, "subscribed");
    let started = Instant::now();
    // As fast as mosquitto_pub goes, with no pause.
    let sent = mqtt_publish(broker.port, "city/readings", &lines, Duration::ZERO);
    let publish_secs = started.elapsed().as_secs_f64();
    let (peak, _) = finish_sampling(run, &data);
    let secs = started.elapsed().as_secs_f64() - 10.0;
    eprintln!(
        "mqtt flood: {sent} messages published in {publish_secs:.1} s, read in {secs:.1} s, peak RSS {peak:.0} MiB"
    );
    let n = manifest["readings"].as_i64().expect("readings");
    assert_eq!(readings_by_provenance(&data), (n, n));
    assert!(peak < PEAK_RSS_LIMIT_MIB, "peak RSS {peak:.0} MiB");
}
