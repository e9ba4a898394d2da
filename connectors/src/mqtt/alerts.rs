//! Live alerts on MQTT: one JSON message per alert at QoS 1 on a topic templated by
//! household, rule and kind. A batch counts as delivered only when the broker has
//! acknowledged (PUBACK) every message of it; a broker that does not answer within the
//! timeout fails the run, as any alert output does.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use msec_engine::alert::{AlertMessage, AlertSink, AlertSinkError};
use rumqttc::{Client, Event, MqttOptions, Outgoing, Packet, QoS};

use crate::error::{ConnectorError, Result};

/// What the connection thread saw.
#[derive(Debug, Default)]
struct Progress {
    acked: u64,
    error: Option<String>,
}

/// Alerts published to an MQTT broker.
pub struct MqttAlertSink {
    name: String,
    topic: String,
    client: Client,
    progress: Arc<(Mutex<Progress>, Condvar)>,
    thread: Option<JoinHandle<()>>,
    sent: u64,
    timeout: Duration,
}

impl std::fmt::Debug for MqttAlertSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttAlertSink")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl MqttAlertSink {
    /// Connects to `host:port` as `client_id`; `topic` may contain `{household}`, `{rule}`
    /// and `{kind}`.
    pub fn new(host: &str, port: u16, client_id: &str, topic: &str) -> Result<Self> {
        let name = format!("mqtt://{host}:{port}/{topic}");
        if topic.is_empty() || topic.contains(['+', '#']) {
            return Err(ConnectorError::Config {
                what: "mqtt alert sink",
                detail: format!("topic {topic:?} must be a plain topic (no wildcards)"),
            });
        }
        let mut opts = MqttOptions::new(client_id, host, port);
        opts.set_keep_alive(Duration::from_secs(30))
            .set_clean_session(false)
            .set_inflight(1000);
        let (client, mut connection) = Client::new(opts, 4096);
        let progress: Arc<(Mutex<Progress>, Condvar)> = Arc::default();
        let seen = Arc::clone(&progress);
        let thread = std::thread::Builder::new()
            .name("mqtt-alerts".into())
            .spawn(move || {
                for event in connection.iter() {
                    let (lock, cv) = &*seen;
                    let mut p = lock.lock().unwrap_or_else(|e| e.into_inner());
                    match event {
                        Ok(Event::Incoming(Packet::PubAck(_))) => {
                            p.acked += 1;
                            p.error = None;
                        }
                        Ok(Event::Outgoing(Outgoing::Disconnect)) => break,
                        Ok(_) => {}
                        Err(e) => {
                            p.error = Some(e.to_string());
                            drop(p);
                            cv.notify_all();
                            std::thread::sleep(Duration::from_millis(200));
                            continue;
                        }
                    }
                    cv.notify_all();
                }
            })
            .map_err(|e| ConnectorError::Broker {
                broker: name.clone(),
                what: "connect",
                detail: e.to_string(),
                retryable: false,
            })?;
        Ok(Self {
            name,
            topic: topic.to_owned(),
            client,
            progress,
            thread: Some(thread),
            sent: 0,
            timeout: Duration::from_secs(10),
        })
    }

    fn fail(&self, e: impl std::fmt::Display) -> AlertSinkError {
        AlertSinkError {
            sink: self.name.clone(),
            message: format!("after {} alerts: {e}", self.sent),
        }
    }

    fn topic_for(&self, alert: &AlertMessage) -> String {
        self.topic
            .replace("{household}", &alert.household)
            .replace("{rule}", &alert.rule)
            .replace(
                "{kind}",
                match alert.kind {
                    msec_engine::alert::AlertKind::Raised => "raised",
                    msec_engine::alert::AlertKind::Resolved => "resolved",
                },
            )
    }

    /// Waits until the broker has acknowledged every message sent.
    fn wait_acked(&self) -> std::result::Result<(), AlertSinkError> {
        let deadline = Instant::now() + self.timeout;
        let (lock, cv) = &*self.progress;
        let mut p = lock.lock().unwrap_or_else(|e| e.into_inner());
        while p.acked < self.sent {
            let now = Instant::now();
            if now >= deadline {
                let why = p
                    .error
                    .clone()
                    .unwrap_or_else(|| "no acknowledgement".into());
                return Err(self.fail(format!(
                    "{} of {} alerts acknowledged after {:?}: {why}",
                    p.acked, self.sent, self.timeout
                )));
            }
            p = cv
                .wait_timeout(p, deadline - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
        Ok(())
    }
}

impl AlertSink for MqttAlertSink {
    fn publish(&mut self, alerts: &[AlertMessage]) -> std::result::Result<(), AlertSinkError> {
        for alert in alerts {
            let payload = serde_json::to_vec(alert).map_err(|e| self.fail(e))?;
            let topic = self.topic_for(alert);
            self.client
                .publish(topic, QoS::AtLeastOnce, false, payload)
                .map_err(|e| self.fail(e))?;
            self.sent += 1;
        }
        self.wait_acked()
    }

    fn close(&mut self) -> std::result::Result<(), AlertSinkError> {
        let waited = self.wait_acked();
        let _ = self.client.disconnect();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        waited
    }
}

impl Drop for MqttAlertSink {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = self.client.disconnect();
            let _ = t.join();
        }
    }
}
