//! Live alerts published to MQTT and Kafka (read back by `mosquitto_sub` and confluent-kafka),
//! SOX XML documents arriving over both brokers, and the Prometheus endpoint of a broker run.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::harness::{
    free_port, kafka_publish, mosquitto, mqtt_publish, published, python, tansu, tools,
};
use super::*;

/// `(alert_id, kind)` of every record in the `alerts` dataset.
fn stored_alerts(data: &Path) -> BTreeSet<(String, String)> {
    let ctx = session(None, &[("alerts", &data.join("alerts"))]);
    let batches = query(&ctx, "SELECT alert_id, kind FROM alerts");
    let mut out = BTreeSet::new();
    for b in &batches {
        use datafusion::arrow::array::AsArray;
        let text = |i: usize| {
            datafusion::arrow::compute::cast(
                b.column(i),
                &datafusion::arrow::datatypes::DataType::Utf8,
            )
            .expect("cast")
        };
        let (ids, kinds) = (text(0), text(1));
        for r in 0..b.num_rows() {
            out.insert((
                ids.as_string::<i32>().value(r).to_owned(),
                kinds.as_string::<i32>().value(r).to_owned(),
            ));
        }
    }
    out
}

/// `(alert_id, kind)` of JSON alert messages, one per line (after an optional `topic ` prefix).
fn parsed_alerts(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let json = &l[l.find('{').expect("a JSON object")..];
            let v: serde_json::Value = serde_json::from_str(json).expect("alert JSON");
            (
                v["alert_id"].as_str().expect("alert_id").to_owned(),
                v["kind"].as_str().expect("kind").to_owned(),
            )
        })
        .collect()
}

#[test]
fn alerts_reach_mqtt_and_kafka_subscribers() {
    let Some(mqtt) = mosquitto() else { return };
    let Some(kafka) = tansu() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let (input, _) = simulate(
        dir.path(),
        "homes",
        &[
            "--hours",
            "24",
            "--households",
            "8",
            "--devices",
            "1",
            "--trucks",
            "0",
            "--rate",
            "0",
            "--incident-rate",
            "2",
            "--seed",
            "11",
        ],
    );
    // tansu does not create topics implicitly: create the alert topic (no message).
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "").expect("empty");
    assert_eq!(
        published(kafka_publish(&kafka, "msec.alerts", 2, &empty, 0)),
        0
    );

    let mut sub = Command::new("mosquitto_sub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &mqtt.port.to_string(),
            "-q",
            "1",
            "-v",
        ])
        .args(["-t", "msec/alerts/#"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("mosquitto_sub");
    std::thread::sleep(Duration::from_millis(500));

    let config = dir.path().join("alerts.toml");
    std::fs::write(
        &config,
        format!(
            "[[alert_sinks]]\nkind = \"mqtt\"\nport = {}\ntopic = \"msec/alerts/{{household}}/{{kind}}\"\n\n\
             [[alert_sinks]]\nkind = \"kafka\"\nbrokers = \"{}\"\ntopic = \"msec.alerts\"\n",
            mqtt.port,
            kafka.addr()
        ),
    )
    .expect("config");
    let data = dir.path().join("data");
    ok(&[
        "run",
        "--input",
        s(&input),
        "--config",
        s(&config),
        "--data",
        s(&data),
    ]);
    let stored = stored_alerts(&data);
    assert!(
        stored.len() >= 4,
        "the simulation raises alerts: {stored:?}"
    );

    // MQTT: every alert once, on its household's topic.
    std::thread::sleep(Duration::from_millis(500));
    let _ = sub.kill();
    let mut text = String::new();
    sub.stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut text)
        .expect("read");
    let _ = sub.wait();
    let got = parsed_alerts(&text);
    assert_eq!(got.iter().cloned().collect::<BTreeSet<_>>(), stored);
    assert_eq!(got.len(), stored.len(), "each alert exactly once over MQTT");
    assert!(
        text.lines().all(|l| l.starts_with("msec/alerts/home-")
            && (l.contains("/raised {") || l.contains("/resolved {"))),
        "topics name household and kind: {}",
        text.lines().next().unwrap_or_default()
    );

    // Kafka: every alert once.
    let out = Command::new(python().expect("python"))
        .arg(tools().join("kafka_consume.py"))
        .args([
            "--brokers",
            &kafka.addr(),
            "--topic",
            "msec.alerts",
            "--idle",
            "3",
        ])
        .output()
        .expect("kafka_consume.py");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = parsed_alerts(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(
        got.len(),
        stored.len(),
        "each alert exactly once over Kafka"
    );
    assert_eq!(got.into_iter().collect::<BTreeSet<_>>(), stored);
}

/// The SOX documents of a fixture file, one line each.
fn sox_documents(name: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("connectors/tests/fixtures/sox/routes")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("fixture");
    let mut docs = Vec::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("<data").or_else(|| rest.find("<sox:data")) {
        let (close, len) = match rest[start..].find("</data>") {
            Some(i) => (i, "</data>".len()),
            None => (
                rest[start..].find("</sox:data>").expect("closed"),
                "</sox:data>".len(),
            ),
        };
        let doc = &rest[start..start + close + len];
        docs.push(doc.replace(['\n', '\r'], " "));
        rest = &rest[start + close + len..];
    }
    docs
}

/// `device, sensor, ts, value` of every reading, sorted.
fn reading_rows(data: &Path) -> Vec<String> {
    let ctx = session(None, &[("readings", &data.join("readings"))]);
    let batches = query(
        &ctx,
        "SELECT concat_ws(' ', CAST(device AS VARCHAR), CAST(sensor AS VARCHAR), CAST(CAST(ts AS BIGINT) AS VARCHAR), CAST(value AS VARCHAR), CAST(lat AS VARCHAR)) FROM readings",
    );
    let mut rows = Vec::new();
    for b in &batches {
        use datafusion::arrow::array::AsArray;
        let col = datafusion::arrow::compute::cast(
            b.column(0),
            &datafusion::arrow::datatypes::DataType::Utf8,
        )
        .expect("cast");
        let col = col.as_string::<i32>();
        rows.extend((0..b.num_rows()).map(|r| col.value(r).to_owned()));
    }
    rows.sort();
    rows
}

#[test]
fn sox_documents_over_mqtt_and_kafka_give_the_file_readings() {
    let Some(mqtt) = mosquitto() else { return };
    let Some(kafka) = tansu() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let routes = Path::new(env!("CARGO_MANIFEST_DIR")).join("connectors/tests/fixtures/sox/routes");
    let from_file = dir.path().join("file");
    ok(&["run", "--input", s(&routes), "--data", s(&from_file)]);
    let want = reading_rows(&from_file);
    assert_eq!(want.len(), 360);

    // MQTT: each truck on its own topic, the layout naming the device (truck 12's documents
    // carry none); documents interleaved in time order as the trucks send them.
    let config = pipeline_file(
        dir.path(),
        "sox-mqtt",
        &format!(
            "kind = \"mqtt\"\nport = {}\nclient_id = \"sox\"\nformat = \"sox\"\nlayout = \"sox/{{device}}\"\nend_after_idle_ms = 10000\n",
            mqtt.port
        ),
    );
    let data = dir.path().join("mqtt");
    let run = spawn_ready(&config, &data, "subscribed");
    let (t07, t12) = (
        sox_documents("fujisawa-truck-07.xml"),
        sox_documents("fujisawa-truck-12.xml"),
    );
    assert_eq!((t07.len(), t12.len()), (60, 60));
    for (a, b) in t07.iter().zip(&t12) {
        mqtt_publish(
            mqtt.port,
            "sox/fujisawa-truck-07",
            &[a.as_str()],
            Duration::ZERO,
        );
        mqtt_publish(
            mqtt.port,
            "sox/fujisawa-truck-12",
            &[b.as_str()],
            Duration::ZERO,
        );
    }
    // Malformed documents are dead letters with their reason.
    mqtt_publish(
        mqtt.port,
        "sox/fujisawa-truck-21",
        &["<data><transducerValue id=\"pm2.5\" typedValue=\"1\""],
        Duration::ZERO,
    );
    mqtt_publish(
        mqtt.port,
        "sox/fujisawa-truck-21",
        &[
            "<data><transducerValue id=\"pm2.5\" typedValue=\"n/a\" timestamp=\"1748823000000\"/></data>",
        ],
        Duration::ZERO,
    );
    finish(run, &data, Duration::from_secs(60));
    assert_eq!(reading_rows(&data), want);
    assert_eq!(
        dead_letters_by_reason(&data),
        vec![("invalid_type".to_owned(), 1), ("parse".to_owned(), 1)]
    );

    // Kafka: truck 07's documents (which name their device), one per message.
    let docs = dir.path().join("t07.xmllines");
    std::fs::write(&docs, t07.join("\n")).expect("docs");
    assert_eq!(published(kafka_publish(&kafka, "sox", 1, &docs, 0)), 60);
    let config = pipeline_file(
        dir.path(),
        "sox-kafka",
        &format!(
            "kind = \"kafka\"\nbrokers = \"{}\"\ntopics = [\"sox\"]\nformat = \"sox\"\nend_after_idle_ms = 10000\n",
            kafka.addr()
        ),
    );
    let data = dir.path().join("kafka");
    finish(
        spawn_run(&config, &data, &[]),
        &data,
        Duration::from_secs(60),
    );
    let truck07: Vec<String> = want
        .iter()
        .filter(|r| r.starts_with("fujisawa-truck-07 "))
        .cloned()
        .collect();
    assert_eq!(reading_rows(&data), truck07);
    assert_eq!(dead_letters_by_reason(&data), vec![]);
}

#[test]
fn a_broker_run_serves_prometheus_metrics() {
    let Some(mqtt) = mosquitto() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let config = pipeline_file(
        dir.path(),
        "metrics",
        &format!(
            "kind = \"mqtt\"\nport = {}\nclient_id = \"metrics\"\ntopics = [\"m\"]\nend_after_idle_ms = 6000\n",
            mqtt.port
        ),
    );
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let data = dir.path().join("data");
    let mut run = spawn_run(&config, &data, &["--metrics-addr", &addr]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(log_of(&data))
        .unwrap_or_default()
        .contains("subscribed")
    {
        assert!(
            Instant::now() < deadline && run.try_wait().expect("wait").is_none(),
            "run did not subscribe"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let lines: Vec<String> = (0..500)
        .map(|i| {
            format!(
                "{{\"device\":\"env-{}\",\"sensor\":\"co2\",\"ts\":{},\"value\":400}}",
                i % 5,
                1_772_410_000_000i64 + i * 100
            )
        })
        .collect();
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    mqtt_publish(mqtt.port, "m", &lines, Duration::ZERO);
    // Poll until the source counter shows the 500 records and a checkpoint was taken.
    let mut body = String::new();
    while Instant::now() < deadline {
        body.clear();
        if let Ok(mut stream) = TcpStream::connect(&addr) {
            let _ = stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: msec\r\n\r\n");
            let _ = stream.read_to_string(&mut body);
        }
        if body.contains("msec_operator_records_in_total{operator=\"source\",worker=\"0\"} 500")
            && !body.contains("msec_checkpoints_total 0\n")
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(body.starts_with("HTTP/1.1 200 OK"), "{body}");
    assert!(
        body.contains("msec_operator_records_in_total{operator=\"source\",worker=\"0\"} 500"),
        "{body}"
    );
    assert!(
        body.contains("msec_operator_records_out_total{operator=\"sink_readings\""),
        "{body}"
    );
    assert!(
        body.contains("# TYPE msec_watermark_delay_ms gauge"),
        "{body}"
    );
    assert!(!body.contains("msec_checkpoints_total 0\n"), "{body}");
    let _ = run.kill();
    let _ = run.wait();
}
