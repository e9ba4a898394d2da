//! More than 100 000 readings published to a real broker by an ordinary client, read by msec:
//! exactly the published readings in `readings`, the bad records in `dead_letter` with their
//! reasons, every chain verified; a second run over the same topic or session reads nothing.

use std::time::Duration;

use super::harness::{kafka_publish, mosquitto, mqtt_publish, published, tansu};
use super::*;

/// A simulated city stream with about 108 000 records, 0.1 % of them bad.
fn city_stream(dir: &Path) -> (PathBuf, serde_json::Value) {
    simulate(
        dir,
        "city",
        &[
            "--hours",
            "0.5",
            "--households",
            "20",
            "--devices",
            "40",
            "--trucks",
            "4",
            "--rate",
            "60",
            "--bad-rate",
            "0.001",
        ],
    )
}

#[test]
fn kafka_round_trip_of_100k_readings() {
    let Some(broker) = tansu() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let (input, manifest) = city_stream(dir.path());
    let records = manifest["records"].as_u64().expect("records");
    assert!(records >= 100_000, "{records} records");
    assert_eq!(
        published(kafka_publish(&broker, "city", 3, &input, 0)),
        records
    );

    let config = pipeline_file(
        dir.path(),
        "kafka",
        &format!(
            "kind = \"kafka\"\nbrokers = \"{}\"\ntopics = [\"city\"]\ngroup = \"round-trip\"\nend_after_idle_ms = 3000\n",
            broker.addr()
        ),
    );
    let data = dir.path().join("data");
    let out = finish(
        spawn_run(&config, &data, &[]),
        &data,
        Duration::from_secs(300),
    );
    assert!(
        out.contains(&format!("records in:      {records} ")),
        "{out}"
    );

    let readings = manifest["readings"].as_i64().expect("readings");
    assert_eq!(readings_by_provenance(&data), (readings, readings));
    assert_eq!(dead_letters_by_reason(&data), manifest_bad(&manifest));
    // Provenance is the Kafka partition and offset: every offset of every partition once.
    let ctx = session(
        None,
        &[
            ("readings", &data.join("readings")),
            ("dead", &data.join("dead_letter")),
        ],
    );
    assert_eq!(
        count(
            &ctx,
            "SELECT count(*) FROM (SELECT source, \"offset\" FROM readings UNION SELECT source, \"offset\" FROM dead)"
        ),
        records as i64
    );
    assert_eq!(
        count(
            &ctx,
            "SELECT count(DISTINCT source) FROM readings WHERE source LIKE 'kafka:city/%'"
        ),
        3
    );
    assert_verifies(&data);

    // The offsets were committed: a second run reads nothing and writes nothing.
    let again = finish(
        spawn_run(&config, &data, &[]),
        &data,
        Duration::from_secs(120),
    );
    assert!(again.contains("records in:      0 "), "{again}");
    assert_eq!(readings_by_provenance(&data), (readings, readings));
}

#[test]
fn mqtt_round_trip_of_100k_readings() {
    let Some(broker) = mosquitto() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let (input, manifest) = city_stream(dir.path());
    let text = std::fs::read_to_string(&input).expect("stream");
    let lines: Vec<&str> = text.lines().collect();

    let config = pipeline_file(
        dir.path(),
        "mqtt",
        &format!(
            "kind = \"mqtt\"\nport = {}\nclient_id = \"round-trip\"\ntopics = [\"city/readings\"]\nend_after_idle_ms = 10000\n",
            broker.port
        ),
    );
    let data = dir.path().join("data");
    // The run subscribes with a persistent session before anything is published.
    let run = spawn_ready(&config, &data, "subscribed");
    let sent = mqtt_publish(broker.port, "city/readings", &lines, Duration::ZERO);
    assert_eq!(sent, manifest["records"].as_u64().expect("records"));
    let out = finish(run, &data, Duration::from_secs(300));
    assert!(out.contains(&format!("records in:      {sent} ")), "{out}");

    let readings = manifest["readings"].as_i64().expect("readings");
    assert_eq!(readings_by_provenance(&data), (readings, readings));
    assert_eq!(dead_letters_by_reason(&data), manifest_bad(&manifest));
    assert_verifies(&data);
}

#[test]
fn mqtt_topic_layout_names_device_and_sensor() {
    let Some(broker) = mosquitto() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let config = pipeline_file(
        dir.path(),
        "layout",
        &format!(
            "kind = \"mqtt\"\nport = {}\nclient_id = \"layout\"\nlayout = \"park/{{device}}/{{sensor}}\"\ntopics = [\"park/#\"]\nend_after_idle_ms = 10000\n",
            broker.port
        ),
    );
    let data = dir.path().join("data");
    let run = spawn_ready(&config, &data, "subscribed");
    let base = 1_772_410_000_000i64;
    // One device after the other, in event-time order (the second one's readings are later).
    for (k, (device, sensor, value)) in [
        ("llamas-env-01", "co2", 410.0),
        ("llamas-env-02", "noise", 41.5),
    ]
    .into_iter()
    .enumerate()
    {
        let start = base + k as i64 * 60_000;
        let lines: Vec<String> = (0..50)
            .map(|i| {
                format!(
                    "{{\"ts\":{},\"value\":{value},\"lat\":43.47,\"lon\":-3.80}}",
                    start + i * 1000
                )
            })
            .collect();
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        mqtt_publish(
            broker.port,
            &format!("park/{device}/{sensor}"),
            &lines,
            Duration::ZERO,
        );
    }
    // A topic outside the layout is a dead letter naming the layout; a bad payload too.
    mqtt_publish(
        broker.port,
        "park/llamas-env-03",
        &[r#"{"ts":1772410200000,"value":1}"#],
        Duration::ZERO,
    );
    mqtt_publish(
        broker.port,
        "park/llamas-env-03/co2",
        &[r#"{"ts":"yesterday","value":1}"#],
        Duration::ZERO,
    );
    finish(run, &data, Duration::from_secs(60));
    let ctx = session(None, &[("readings", &data.join("readings"))]);
    assert_eq!(
        count(
            &ctx,
            "SELECT count(*) FROM readings WHERE device = 'llamas-env-01' AND sensor = 'co2' AND value = 410.0"
        ),
        50
    );
    assert_eq!(
        count(
            &ctx,
            "SELECT count(*) FROM readings WHERE device = 'llamas-env-02' AND sensor = 'noise'"
        ),
        50
    );
    let dead = dead_letters_by_reason(&data);
    assert_eq!(
        dead,
        vec![
            ("invalid_type".to_owned(), 1),
            ("missing_field".to_owned(), 1)
        ],
        "{dead:?}"
    );
}
