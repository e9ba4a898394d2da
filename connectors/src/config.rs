//! Which source a run reads and where its live alerts go, as declared in the pipeline file
//! (`msec run --config pipeline.toml`): one serde-tagged enum per role, `kind` naming the
//! connector, every field documented with its default.
//!
//! ```toml
//! [source]
//! kind = "kafka"
//! brokers = "127.0.0.1:9092"
//! topics = ["city.readings"]
//! group = "msec"
//!
//! [[alert_sinks]]
//! kind = "mqtt"
//! port = 1883
//! topic = "msec/alerts/{household}"
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::broker::PayloadFormat;

/// The input of a run (`[source]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum SourceConfig {
    /// The built-in simulator (the default without `--input` or `[source]`).
    Simulator,
    /// A file or directory: JSON lines, CSV (with a mapping), LoRaWAN frames or SOX XML,
    /// chosen by extension as for `--input`.
    File {
        /// The input path (`-` for stdin).
        path: PathBuf,
        /// A CSV mapping file, for CSV input.
        #[serde(default)]
        mapping: Option<PathBuf>,
    },
    /// An MQTT broker.
    Mqtt(MqttSourceConfig),
    /// A Kafka cluster (or any broker speaking its protocol).
    Kafka(KafkaSourceConfig),
}

/// How an MQTT source connects and what it reads (`kind = "mqtt"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttSourceConfig {
    /// Broker host (default `127.0.0.1`).
    #[serde(default = "default_host")]
    pub host: String,
    /// Broker port (default 1883).
    #[serde(default = "default_mqtt_port")]
    pub port: u16,
    /// Client id; the broker keeps this id's session between runs (default `msec`).
    #[serde(default = "default_client_id")]
    pub client_id: String,
    /// Topic filters to subscribe to; default: the layout's filter, else `#`.
    #[serde(default)]
    pub topics: Vec<String>,
    /// Topic layout naming device and sensor, e.g. `park/{device}/{sensor}`.
    #[serde(default)]
    pub layout: Option<String>,
    /// Payload format (default `json`).
    #[serde(default)]
    pub format: PayloadFormat,
    /// Keep-alive interval, seconds (default 30).
    #[serde(default = "default_keep_alive")]
    pub keep_alive_s: u64,
    /// End the input after this long without a message (a replay job); default: never.
    #[serde(default)]
    pub end_after_idle_ms: Option<u64>,
}

impl MqttSourceConfig {
    /// A config for the broker at `host:port` with every other field at its default.
    pub fn new(host: &str, port: u16) -> Self {
        Self {
            host: host.to_owned(),
            port,
            client_id: default_client_id(),
            topics: Vec::new(),
            layout: None,
            format: PayloadFormat::default(),
            keep_alive_s: default_keep_alive(),
            end_after_idle_ms: None,
        }
    }

    /// The broker's address for messages: `mqtt://host:port`.
    pub fn broker(&self) -> String {
        format!("mqtt://{}:{}", self.host, self.port)
    }

    /// The source name: `mqtt:<client id>` (the readings' `source`).
    pub fn source_name(&self) -> String {
        format!("mqtt:{}", self.client_id)
    }
}

/// How a Kafka source connects and what it reads (`kind = "kafka"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSourceConfig {
    /// Bootstrap servers, `host:port[,host:port…]` (default `127.0.0.1:9092`).
    #[serde(default = "default_brokers")]
    pub brokers: String,
    /// Topics to consume.
    pub topics: Vec<String>,
    /// Consumer group whose committed offsets are where a run resumes (default `msec`).
    #[serde(default = "default_group")]
    pub group: String,
    /// Payload format (default `json`).
    #[serde(default)]
    pub format: PayloadFormat,
    /// Group session timeout, ms (default 10 000).
    #[serde(default = "default_session_timeout")]
    pub session_timeout_ms: u64,
    /// Number of msec processes sharing the topics' partitions (default 1).
    #[serde(default = "default_processes")]
    pub processes: u32,
    /// This process's index among them, `0..processes` (default 0): it reads the partitions
    /// whose number modulo `processes` is this index.
    #[serde(default)]
    pub process_index: u32,
    /// End the input after this long without a message (a replay job); default: never.
    #[serde(default)]
    pub end_after_idle_ms: Option<u64>,
    /// Further librdkafka properties (`fetch.max.bytes`, `security.protocol`, …).
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

impl KafkaSourceConfig {
    /// A config for `topics` on `brokers` with every other field at its default.
    pub fn new(brokers: &str, topics: &[&str]) -> Self {
        Self {
            brokers: brokers.to_owned(),
            topics: topics.iter().map(|t| (*t).to_owned()).collect(),
            group: default_group(),
            format: PayloadFormat::default(),
            session_timeout_ms: default_session_timeout(),
            processes: default_processes(),
            process_index: 0,
            end_after_idle_ms: None,
            properties: BTreeMap::new(),
        }
    }

    /// The source name: `kafka:<group>` (partitions are `kafka:<topic>/<partition>`).
    pub fn source_name(&self) -> String {
        format!("kafka:{}", self.group)
    }
}

/// A live alert output (`[[alert_sinks]]`); `--alerts-out` adds a `stdout` or `file` one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum AlertSinkConfig {
    /// JSON lines on standard output.
    Stdout,
    /// JSON lines appended to a file.
    File {
        /// The file.
        path: PathBuf,
    },
    /// One JSON message per alert on an MQTT topic, QoS 1, each acknowledged by the broker
    /// before the batch counts as delivered.
    Mqtt {
        /// Broker host (default `127.0.0.1`).
        #[serde(default = "default_host")]
        host: String,
        /// Broker port (default 1883).
        #[serde(default = "default_mqtt_port")]
        port: u16,
        /// Client id (default `msec-alerts`).
        #[serde(default = "default_alert_client_id")]
        client_id: String,
        /// Topic; `{household}`, `{rule}` and `{kind}` are replaced (default
        /// `msec/alerts/{household}`).
        #[serde(default = "default_alert_topic")]
        topic: String,
    },
    /// One JSON message per alert on a Kafka topic, keyed by household (so one household's
    /// alerts stay in order), each acknowledged by the cluster before the batch counts.
    Kafka {
        /// Bootstrap servers (default `127.0.0.1:9092`).
        #[serde(default = "default_brokers")]
        brokers: String,
        /// Topic (default `msec.alerts`).
        #[serde(default = "default_kafka_alert_topic")]
        topic: String,
    },
}

fn default_host() -> String {
    "127.0.0.1".into()
}
fn default_mqtt_port() -> u16 {
    1883
}
fn default_client_id() -> String {
    "msec".into()
}
fn default_keep_alive() -> u64 {
    30
}
fn default_brokers() -> String {
    "127.0.0.1:9092".into()
}
fn default_group() -> String {
    "msec".into()
}
fn default_session_timeout() -> u64 {
    10_000
}
fn default_processes() -> u32 {
    1
}
fn default_alert_client_id() -> String {
    "msec-alerts".into()
}
fn default_alert_topic() -> String {
    "msec/alerts/{household}".into()
}
fn default_kafka_alert_topic() -> String {
    "msec.alerts".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct File {
        source: SourceConfig,
        #[serde(default)]
        alert_sinks: Vec<AlertSinkConfig>,
    }

    #[test]
    fn tagged_configs_parse_with_defaults() {
        let f: File = toml::from_str(
            r#"
            [source]
            kind = "mqtt"
            port = 1884
            layout = "park/{device}/{sensor}"

            [[alert_sinks]]
            kind = "kafka"
            topic = "alerts"

            [[alert_sinks]]
            kind = "stdout"
            "#,
        )
        .expect("parses");
        let SourceConfig::Mqtt(m) = &f.source else {
            panic!("mqtt expected: {:?}", f.source)
        };
        assert_eq!(
            (m.host.as_str(), m.port, m.client_id.as_str()),
            ("127.0.0.1", 1884, "msec")
        );
        assert_eq!(m.format, PayloadFormat::Json);
        assert_eq!(
            f.alert_sinks[0],
            AlertSinkConfig::Kafka {
                brokers: "127.0.0.1:9092".into(),
                topic: "alerts".into()
            }
        );
        assert_eq!(f.alert_sinks[1], AlertSinkConfig::Stdout);
    }

    #[test]
    fn unknown_kinds_and_keys_are_refused() {
        let e = toml::from_str::<File>("[source]\nkind = \"amqp\"\n").expect_err("kind");
        assert!(e.to_string().contains("amqp"), "{e}");
        let e = toml::from_str::<File>(
            "[source]\nkind = \"kafka\"\ntopics = [\"t\"]\ngroupp = \"x\"\n",
        )
        .expect_err("key");
        assert!(e.to_string().contains("groupp"), "{e}");
    }
}
