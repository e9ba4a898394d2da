//! Live alert outputs ([`AlertSink`]): alerts as JSON lines on stdout or appended to a file,
//! flushed after every batch so a caregiver's tooling sees an alert as soon as it is decided.
//! MQTT and Kafka publishers implement the same trait.

use std::fs::OpenOptions;
use std::io::{BufWriter, Write};
use std::path::Path;

use msec_engine::alert::{AlertMessage, AlertSink, AlertSinkError};

use crate::error::{ConnectorError, Result};

/// Alerts as JSON lines on a writer.
pub struct JsonLinesAlertSink {
    name: String,
    out: BufWriter<Box<dyn Write + Send>>,
    written: u64,
}

impl std::fmt::Debug for JsonLinesAlertSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonLinesAlertSink")
            .field("name", &self.name)
            .finish()
    }
}

impl JsonLinesAlertSink {
    /// Alerts on standard output.
    pub fn stdout() -> Self {
        Self::new("stdout", Box::new(std::io::stdout()))
    }

    /// Alerts appended to the file at `path` (created if missing).
    pub fn file(path: &Path) -> Result<Self> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| ConnectorError::Open {
                path: path.to_owned(),
                source,
            })?;
        Ok(Self::new(&path.display().to_string(), Box::new(file)))
    }

    /// Alerts on any writer, named `name` in errors.
    pub fn new(name: &str, out: Box<dyn Write + Send>) -> Self {
        Self {
            name: name.to_owned(),
            out: BufWriter::new(out),
            written: 0,
        }
    }

    fn fail(&self, e: impl std::fmt::Display) -> AlertSinkError {
        AlertSinkError {
            sink: self.name.clone(),
            message: format!("after {} alerts: {e}", self.written),
        }
    }
}

impl AlertSink for JsonLinesAlertSink {
    fn publish(&mut self, alerts: &[AlertMessage]) -> std::result::Result<(), AlertSinkError> {
        for alert in alerts {
            serde_json::to_writer(&mut self.out, alert).map_err(|e| self.fail(e))?;
            self.out.write_all(b"\n").map_err(|e| self.fail(e))?;
            self.written += 1;
        }
        self.out.flush().map_err(|e| self.fail(e))
    }

    fn close(&mut self) -> std::result::Result<(), AlertSinkError> {
        self.out.flush().map_err(|e| self.fail(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use msec_engine::alert::{AlertKind, Evidence};

    fn alert() -> AlertMessage {
        AlertMessage {
            alert_id: "00ff".into(),
            kind: AlertKind::Raised,
            household: "home-001".into(),
            rule: "device_silent".into(),
            criticity: 3,
            device: Some("home-001-bed".into()),
            message: "Connection fail - bed".into(),
            evidence: vec![Evidence {
                device: "home-001-bed".into(),
                ts: 1,
            }],
            decision_ts: 1_800_001,
            ingest_ts: 5,
            emit_ts: 6,
        }
    }

    #[test]
    fn appends_json_lines_and_round_trips() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("alerts.jsonl");
        for _ in 0..2 {
            let mut sink = JsonLinesAlertSink::file(&path).expect("open");
            sink.publish(&[alert()]).expect("publish");
            sink.close().expect("close");
        }
        let text = std::fs::read_to_string(&path).expect("read");
        let lines: Vec<AlertMessage> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("json"))
            .collect();
        assert_eq!(lines, vec![alert(), alert()]);
        assert!(text.contains("\"kind\":\"raised\""), "{text}");
    }

    #[test]
    fn a_failing_writer_is_named() {
        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk full"))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Err(std::io::Error::other("disk full"))
            }
        }
        let mut sink = JsonLinesAlertSink::new("pager.jsonl", Box::new(Broken));
        let e = sink.publish(&[alert()]).expect_err("fails").to_string();
        assert!(e.contains("pager.jsonl") && e.contains("disk full"), "{e}");
    }
}
