//! Live alerts on a Kafka topic: one JSON message per alert, keyed by household so a
//! household's alerts stay in order within a partition. A batch counts as delivered only when
//! the cluster has acknowledged every message of it (`acks=all`, idempotent producer).

use std::sync::Mutex;
use std::time::Duration;

use msec_engine::alert::{AlertMessage, AlertSink, AlertSinkError};
use rdkafka::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};

use crate::error::{ConnectorError, Result};

/// Remembers the first delivery failure.
#[derive(Default)]
struct Deliveries {
    failed: Mutex<Option<String>>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = result {
            let mut slot = self.failed.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert_with(|| e.to_string());
        }
    }
}

/// Alerts published to a Kafka topic.
pub struct KafkaAlertSink {
    name: String,
    topic: String,
    producer: BaseProducer<Deliveries>,
    timeout: Duration,
    sent: u64,
    buf: Vec<u8>,
}

impl std::fmt::Debug for KafkaAlertSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaAlertSink")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl KafkaAlertSink {
    /// A producer for `topic` on `brokers`.
    pub fn new(brokers: &str, topic: &str) -> Result<Self> {
        let name = format!("kafka://{brokers}/{topic}");
        let producer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("linger.ms", "0")
            .create_with_context(Deliveries::default())
            .map_err(|e| ConnectorError::Broker {
                broker: name.clone(),
                what: "connect",
                detail: e.to_string(),
                retryable: false,
            })?;
        Ok(Self {
            name,
            topic: topic.to_owned(),
            producer,
            timeout: Duration::from_secs(30),
            sent: 0,
            buf: Vec::new(),
        })
    }

    fn fail(&self, e: impl std::fmt::Display) -> AlertSinkError {
        AlertSinkError {
            sink: self.name.clone(),
            message: format!("after {} alerts: {e}", self.sent),
        }
    }
}

impl AlertSink for KafkaAlertSink {
    fn publish(&mut self, alerts: &[AlertMessage]) -> std::result::Result<(), AlertSinkError> {
        for alert in alerts {
            self.buf.clear();
            serde_json::to_writer(&mut self.buf, alert).map_err(|e| self.fail(e))?;
            let mut record = BaseRecord::to(&self.topic)
                .key(alert.household.as_bytes())
                .payload(&self.buf[..]);
            loop {
                match self.producer.send(record) {
                    Ok(()) => break,
                    Err((
                        rdkafka::error::KafkaError::MessageProduction(
                            rdkafka::types::RDKafkaErrorCode::QueueFull,
                        ),
                        back,
                    )) => {
                        record = back;
                        self.producer.poll(Duration::from_millis(10));
                    }
                    Err((e, _)) => return Err(self.fail(e)),
                }
            }
            self.sent += 1;
        }
        self.producer
            .flush(self.timeout)
            .map_err(|e| self.fail(e))?;
        let failed = self.producer.context().failed.lock().map(|mut f| f.take());
        match failed {
            Ok(Some(e)) => Err(self.fail(e)),
            Ok(None) => Ok(()),
            Err(_) => Err(self.fail("delivery state poisoned")),
        }
    }

    fn close(&mut self) -> std::result::Result<(), AlertSinkError> {
        self.producer.flush(self.timeout).map_err(|e| self.fail(e))
    }
}
