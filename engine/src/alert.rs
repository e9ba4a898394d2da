//! An alert as it leaves the engine (DESIGN §6 `alerts`), and the [`AlertSink`] trait every
//! live alert output implements: JSON lines on stdout or in a file today, MQTT and Kafka
//! publishers with the connectors.
//!
//! The alert rules live in `msec-operators`; this type sits in the engine so that sinks in
//! any crate above it can deliver alerts without depending on the operators.

use serde::{Deserialize, Serialize};

/// Whether an alert record opens or closes an episode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// The condition became true: one `raised` record per episode.
    Raised,
    /// The condition cleared (the person is back in bed, motion returned, the device spoke).
    Resolved,
}

impl AlertKind {
    /// `raised` or `resolved`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Raised => "raised",
            Self::Resolved => "resolved",
        }
    }
}

/// One piece of evidence: a reading of `device` at event time `ts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// Device id.
    pub device: String,
    /// Event time, epoch ms.
    pub ts: i64,
}

/// One alert record: a `raised` or `resolved` event of one episode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertMessage {
    /// Stable id of the episode (same on its `raised` and `resolved` records, and across
    /// re-runs over the same readings): a hash of household, rule, device and the event time
    /// of the evidence that started the episode.
    pub alert_id: String,
    /// Raised or resolved.
    pub kind: AlertKind,
    /// Household id.
    pub household: String,
    /// Rule name (`bed_exit_no_return`, …, or a combined rule's name).
    pub rule: String,
    /// 1 (informative) … 5 (urgent).
    pub criticity: u8,
    /// The device the alert concerns, if one (the silent device, the plug, the battery).
    pub device: Option<String>,
    /// Text for the operator's dashboard, e.g. "Connection fail - bed".
    pub message: String,
    /// The readings the decision rests on.
    pub evidence: Vec<Evidence>,
    /// Event time of the decision, epoch ms (the deadline for absence rules, the reading's
    /// time otherwise).
    pub decision_ts: i64,
    /// Ingest time (wall clock, epoch ms) of the newest reading the deciding worker had
    /// received when the decision became final.
    pub ingest_ts: i64,
    /// Wall-clock time the record was emitted, epoch ms.
    pub emit_ts: i64,
}

/// A live output for alerts (stdout, a file, an MQTT topic, a Kafka topic).
///
/// `publish` is called on the sink worker with every batch of alert records in their
/// canonical order, as soon as they are decided; `close` once at the end of the run.
pub trait AlertSink: Send {
    /// Delivers alerts. An error stops the run (a caregiver must not silently miss one).
    fn publish(&mut self, alerts: &[AlertMessage]) -> Result<(), AlertSinkError>;

    /// Flushes and closes the output.
    fn close(&mut self) -> Result<(), AlertSinkError>;
}

/// A live alert output failed.
#[derive(Debug, thiserror::Error)]
#[error("alert sink {sink}: {message}")]
pub struct AlertSinkError {
    /// Which sink (`stdout`, a file path, a topic).
    pub sink: String,
    /// What went wrong.
    pub message: String,
}
