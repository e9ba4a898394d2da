//! Home-activity alerts (Pilot 2, DESIGN §6 `alerts`).
//!
//! * [`config`] — the rules' thresholds, windows, criticities, combined rules and the
//!   device → household → time-zone mapping, read from `[alerts]` in TOML;
//! * [`household`] — one household's state machine: readings in event-time order in,
//!   `raised` / `resolved` decisions out;
//! * [`operator`] — the timely operators: route readings by household, apply them once the
//!   frontier guarantees their order, fire deadlines from the frontier, and put decisions in
//!   a canonical order on the sink worker;
//! * [`record`] — alert records as Arrow (`alerts` dataset).

pub mod config;
pub mod household;
pub mod operator;
pub mod record;

pub use config::{AlertConfig, BaseRule, CombinedRule, DailyWindow, HouseholdGroup};
pub use household::{AlertEvent, HomeReading, Household, NO_DEVICE};
pub use operator::{AlertLatency, Alerts, OrderAlerts, SkipDelivered, delivered_key};
pub use record::{AlertRows, alerts_schema};
