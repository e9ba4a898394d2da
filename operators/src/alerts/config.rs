//! The alert rules' configuration (`[alerts]` in the TOML file given to `msec run --config`):
//! thresholds, day and night windows, criticities, combined rules, and how devices map to
//! households and households to time zones. Every field has the default of DESIGN §6;
//! `docs/ALERTS.md` documents them.

use std::collections::BTreeMap;

use msec_engine::SensorKind;
use msec_engine::zone::{HOUR, MINUTE, Zone};
use serde::Deserialize;

use crate::error::{OperatorError, Result};

/// A daily window of local time, `[start, end)`, in ms after local midnight. A window whose
/// end is not after its start wraps midnight (22:00–07:00).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyWindow {
    /// Start, ms after local midnight.
    pub start: i64,
    /// End, ms after local midnight (exclusive).
    pub end: i64,
}

impl DailyWindow {
    /// Parses `HH:MM-HH:MM`.
    pub fn parse(text: &str) -> Option<Self> {
        let (a, b) = text.split_once('-')?;
        let hm = |s: &str| -> Option<i64> {
            let (h, m) = s.trim().split_once(':')?;
            let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
            ((0..=24).contains(&h) && (0..60).contains(&m) && h * 60 + m <= 24 * 60)
                .then_some(h * HOUR + m * MINUTE)
        };
        let (start, end) = (hm(a)?, hm(b)?);
        (start != end).then_some(Self { start, end })
    }

    /// Whether `tod` (ms after local midnight) lies in the window.
    pub fn contains(&self, tod: i64) -> bool {
        if self.start < self.end {
            (self.start..self.end).contains(&tod)
        } else {
            tod >= self.start || tod < self.end
        }
    }

    /// Length of the window, ms.
    pub fn len_ms(&self) -> i64 {
        (self.end - self.start).rem_euclid(24 * HOUR)
    }
}

/// Settings shared by every rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleToml {
    enabled: Option<bool>,
    criticity: Option<u8>,
    message: Option<String>,
    night: Option<String>,
    day: Option<String>,
    minutes: Option<f64>,
    threshold: Option<f64>,
    device_prefix: Option<String>,
    away_door_minutes: Option<f64>,
    #[serde(default)]
    per_sensor: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct CombinedToml {
    name: String,
    all: Vec<String>,
    within_minutes: f64,
    criticity: u8,
    message: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct HouseholdsToml {
    prefix: String,
    id_parts: usize,
    time_zone: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertsToml {
    default_time_zone: Option<String>,
    output: Option<String>,
    #[serde(default)]
    households: Vec<HouseholdsToml>,
    #[serde(default)]
    time_zones: BTreeMap<String, String>,
    bed_exit_no_return: Option<RuleToml>,
    inactivity: Option<RuleToml>,
    door_open_night: Option<RuleToml>,
    appliance_left_on: Option<RuleToml>,
    low_battery: Option<RuleToml>,
    device_silent: Option<RuleToml>,
    combined: Option<Vec<CombinedToml>>,
}

/// One of the six base rules (DESIGN §6); combined rules are numbered after them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BaseRule {
    /// The bed empties at night and is not occupied again in time.
    BedExitNoReturn = 0,
    /// No motion in any room for hours during the day.
    Inactivity = 1,
    /// The entrance door opens at night.
    DoorOpenNight = 2,
    /// A smart plug draws power for too long.
    ApplianceLeftOn = 3,
    /// A device reports a low battery.
    LowBattery = 4,
    /// A device sends nothing for longer than its silence limit.
    DeviceSilent = 5,
}

impl BaseRule {
    /// All base rules, by code.
    pub const ALL: [BaseRule; 6] = [
        Self::BedExitNoReturn,
        Self::Inactivity,
        Self::DoorOpenNight,
        Self::ApplianceLeftOn,
        Self::LowBattery,
        Self::DeviceSilent,
    ];

    /// The rule's name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::BedExitNoReturn => "bed_exit_no_return",
            Self::Inactivity => "inactivity",
            Self::DoorOpenNight => "door_open_night",
            Self::ApplianceLeftOn => "appliance_left_on",
            Self::LowBattery => "low_battery",
            Self::DeviceSilent => "device_silent",
        }
    }

    /// The rule's code (its index in [`BaseRule::ALL`]).
    pub const fn code(self) -> u8 {
        self as u8
    }
}

/// Thresholds and presentation of one base rule.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSettings {
    /// Whether the rule is evaluated.
    pub enabled: bool,
    /// 1 … 5.
    pub criticity: u8,
    /// Dashboard text; the device's name (without the household prefix) is appended for
    /// per-device rules ("Low battery - motion-kitchen").
    pub message: String,
    /// Only devices whose name after the household starts with this are watched by the
    /// rule (`door` for door_open_night, so a fridge contact is not an entrance door).
    pub device_prefix: Option<String>,
}

/// A conjunction of base rules whose evidence lies within a window.
#[derive(Debug, Clone, PartialEq)]
pub struct CombinedRule {
    /// The combined rule's name (`wandering`).
    pub name: String,
    /// The base rules that must all be raised.
    pub all: Vec<BaseRule>,
    /// Largest distance between the evidence times of the components, ms.
    pub within_ms: i64,
    /// Criticity.
    pub criticity: u8,
    /// Dashboard text.
    pub message: String,
}

/// How devices whose id starts with `prefix` map to households.
#[derive(Debug, Clone, PartialEq)]
pub struct HouseholdGroup {
    /// Device-id prefix of the group (`home-`).
    pub prefix: String,
    /// The household id is the first `id_parts` dash-separated parts of the device id
    /// (`home-001-motion-bedroom` → `home-001` with 2).
    pub id_parts: usize,
    /// The households' time zone.
    pub zone: Zone,
}

/// The alert rules' configuration, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertConfig {
    /// Settings per base rule, indexed by [`BaseRule::code`].
    pub rules: [RuleSettings; 6],
    /// bed_exit_no_return: the night window.
    pub bed_night: DailyWindow,
    /// bed_exit_no_return: how soon the bed must be occupied again, ms.
    pub bed_return_ms: i64,
    /// inactivity: the day window.
    pub inactivity_day: DailyWindow,
    /// inactivity: how long without motion, ms.
    pub inactivity_ms: i64,
    /// inactivity: not raised when an entrance door (a door watched by door_open_night)
    /// opened within this many ms of the last motion — the person went out (0: off).
    pub inactivity_away_ms: i64,
    /// door_open_night: the night window.
    pub door_night: DailyWindow,
    /// appliance_left_on: power above which a plug is "on", W.
    pub appliance_above_w: f64,
    /// appliance_left_on: how long on, ms.
    pub appliance_ms: i64,
    /// low_battery: level below which a battery is low, %.
    pub battery_below_pct: f64,
    /// device_silent: default silence limit, ms.
    pub silent_ms: i64,
    /// device_silent: silence limit by the device's sensor kind, ms.
    pub silent_per_sensor: Vec<(SensorKind, i64)>,
    /// Combined rules.
    pub combined: Vec<CombinedRule>,
    /// Device → household mapping.
    pub households: Vec<HouseholdGroup>,
    /// Per-household time-zone overrides.
    pub time_zones: BTreeMap<String, Zone>,
    /// The live alert output named in the file (`stdout`, `none`, or a file path); the
    /// binary interprets it.
    pub output: Option<String>,
}

impl Default for AlertConfig {
    fn default() -> Self {
        Self::from_toml_str("").unwrap_or_else(|_| unreachable!("the defaults are valid"))
    }
}

fn text_of(
    r: &Option<RuleToml>,
    pick: for<'b> fn(&'b RuleToml) -> Option<&'b String>,
) -> Option<&String> {
    r.as_ref().and_then(pick)
}

fn bad(message: String) -> OperatorError {
    OperatorError::Config(message)
}

impl AlertConfig {
    /// Reads the `[alerts]` table of a TOML document (an empty or absent table gives the
    /// defaults). Other tables are ignored.
    pub fn from_toml_str(text: &str) -> Result<Self> {
        let doc: toml::Table = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
        let alerts: AlertsToml = match doc.get("alerts") {
            Some(v) => v
                .clone()
                .try_into()
                .map_err(|e| bad(format!("[alerts]: {e}")))?,
            None => AlertsToml::default(),
        };
        Self::from_parsed(alerts)
    }

    fn from_parsed(t: AlertsToml) -> Result<Self> {
        let zone = |where_: &str, name: &str| {
            Zone::parse(name).ok_or_else(|| {
                bad(format!(
                    "{where_}: unknown time zone {name:?} (known: Europe/Madrid, Europe/Paris, Asia/Tokyo, UTC, ±HH:MM)"
                ))
            })
        };
        let default_zone = t
            .default_time_zone
            .as_deref()
            .map(|z| zone("[alerts] default_time_zone", z))
            .transpose()?;
        let groups = if t.households.is_empty() {
            vec![HouseholdsToml {
                prefix: "home-".into(),
                id_parts: 2,
                time_zone: Some("Europe/Madrid".into()),
            }]
        } else {
            t.households
        };
        let mut households = Vec::new();
        for g in groups {
            let where_ = format!("[[alerts.households]] prefix {:?}", g.prefix);
            if g.prefix.is_empty() || g.id_parts == 0 {
                return Err(bad(format!(
                    "{where_}: prefix must be non-empty and id_parts ≥ 1"
                )));
            }
            let z = match (&g.time_zone, default_zone) {
                (Some(z), _) => zone(&where_, z)?,
                (None, Some(d)) => d,
                (None, None) => {
                    return Err(bad(format!(
                        "{where_}: the households have no time zone; set time_zone there or [alerts] default_time_zone"
                    )));
                }
            };
            households.push(HouseholdGroup {
                prefix: g.prefix,
                id_parts: g.id_parts,
                zone: z,
            });
        }
        let mut time_zones = BTreeMap::new();
        for (h, z) in &t.time_zones {
            time_zones.insert(h.clone(), zone(&format!("[alerts.time_zones] {h}"), z)?);
        }

        let settings = |rule: BaseRule,
                        r: &Option<RuleToml>,
                        crit: u8,
                        message: &str,
                        prefix: Option<&str>| {
            let r = r.as_ref();
            let criticity = r.and_then(|r| r.criticity).unwrap_or(crit);
            if !(1..=5).contains(&criticity) {
                return Err(bad(format!(
                    "[alerts.{}] criticity must be 1..5",
                    rule.name()
                )));
            }
            Ok(RuleSettings {
                enabled: r.and_then(|r| r.enabled).unwrap_or(true),
                criticity,
                message: r
                    .and_then(|r| r.message.clone())
                    .unwrap_or_else(|| message.into()),
                device_prefix: match r.and_then(|r| r.device_prefix.clone()) {
                    Some(p) if p.is_empty() => None,
                    Some(p) => Some(p),
                    None => prefix.map(str::to_owned),
                },
            })
        };
        let window = |rule: BaseRule, v: Option<&String>, default: &str| {
            let text = v.map_or(default, String::as_str);
            DailyWindow::parse(text).ok_or_else(|| {
                bad(format!(
                    "[alerts.{}] window {text:?} is not HH:MM-HH:MM",
                    rule.name()
                ))
            })
        };
        let minutes = |rule: BaseRule, v: Option<f64>, default: f64| {
            let m = v.unwrap_or(default);
            if !(m.is_finite() && m > 0.0 && m <= 366.0 * 24.0 * 60.0) {
                return Err(bad(format!(
                    "[alerts.{}] minutes must be > 0, got {m}",
                    rule.name()
                )));
            }
            Ok((m * MINUTE as f64).round() as i64)
        };
        use BaseRule as R;
        let rules = [
            settings(
                R::BedExitNoReturn,
                &t.bed_exit_no_return,
                4,
                "Bed exit at night, not back",
                None,
            )?,
            settings(R::Inactivity, &t.inactivity, 5, "No motion at home", None)?,
            settings(
                R::DoorOpenNight,
                &t.door_open_night,
                3,
                "Entrance door opened at night",
                Some("door"),
            )?,
            settings(
                R::ApplianceLeftOn,
                &t.appliance_left_on,
                2,
                "Appliance left on",
                None,
            )?,
            settings(R::LowBattery, &t.low_battery, 3, "Low battery", None)?,
            settings(
                R::DeviceSilent,
                &t.device_silent,
                3,
                "Connection fail",
                None,
            )?,
        ];
        let f =
            |r: &Option<RuleToml>, pick: fn(&RuleToml) -> Option<f64>| r.as_ref().and_then(pick);
        let inactivity_day = window(
            R::Inactivity,
            text_of(&t.inactivity, |r| r.day.as_ref()),
            "07:00-22:00",
        )?;
        let inactivity_ms = minutes(R::Inactivity, f(&t.inactivity, |r| r.minutes), 240.0)?;
        if inactivity_ms > inactivity_day.len_ms() {
            return Err(bad(format!(
                "[alerts.inactivity] minutes ({}) is longer than the day window",
                inactivity_ms / MINUTE
            )));
        }
        let mut silent_per_sensor = Vec::new();
        if let Some(r) = &t.device_silent {
            for (name, m) in &r.per_sensor {
                let kind = SensorKind::from_name(name).ok_or_else(|| {
                    bad(format!(
                        "[alerts.device_silent.per_sensor] unknown sensor kind {name:?}"
                    ))
                })?;
                silent_per_sensor.push((kind, minutes(R::DeviceSilent, Some(*m), 30.0)?));
            }
        }
        let threshold = |rule: BaseRule, v: Option<f64>, default: f64, range: (f64, f64)| {
            let x = v.unwrap_or(default);
            if !(x.is_finite() && x >= range.0 && x <= range.1) {
                return Err(bad(format!(
                    "[alerts.{}] threshold must be in [{}, {}], got {x}",
                    rule.name(),
                    range.0,
                    range.1
                )));
            }
            Ok(x)
        };
        let mut combined = Vec::new();
        let combined_toml = t.combined.unwrap_or_else(|| {
            vec![CombinedToml {
                name: "wandering".into(),
                all: vec!["bed_exit_no_return".into(), "door_open_night".into()],
                within_minutes: 15.0,
                criticity: 5,
                message: Some("Wandering at night: out of bed and the entrance door opened".into()),
            }]
        });
        for c in combined_toml {
            let where_ = format!("[[alerts.combined]] {:?}", c.name);
            if BaseRule::ALL.iter().any(|r| r.name() == c.name) || c.name.is_empty() {
                return Err(bad(format!("{where_}: the name must be new and non-empty")));
            }
            let mut all = Vec::new();
            for name in &c.all {
                let rule = BaseRule::ALL
                    .iter()
                    .find(|r| r.name() == name)
                    .ok_or_else(|| bad(format!("{where_}: unknown rule {name:?}")))?;
                if !all.contains(rule) {
                    all.push(*rule);
                }
            }
            if all.len() < 2 || !(1..=5).contains(&c.criticity) {
                return Err(bad(format!(
                    "{where_}: needs two distinct rules and criticity 1..5"
                )));
            }
            if !(c.within_minutes.is_finite() && c.within_minutes >= 0.0) {
                return Err(bad(format!("{where_}: within_minutes must be ≥ 0")));
            }
            combined.push(CombinedRule {
                message: c.message.unwrap_or_else(|| c.name.clone()),
                name: c.name,
                all,
                within_ms: (c.within_minutes * MINUTE as f64).round() as i64,
                criticity: c.criticity,
            });
        }
        if combined.len() > 200 {
            return Err(bad("at most 200 combined rules".into()));
        }
        Ok(Self {
            rules,
            bed_night: window(
                R::BedExitNoReturn,
                text_of(&t.bed_exit_no_return, |r| r.night.as_ref()),
                "22:00-07:00",
            )?,
            bed_return_ms: minutes(
                R::BedExitNoReturn,
                f(&t.bed_exit_no_return, |r| r.minutes),
                30.0,
            )?,
            inactivity_day,
            inactivity_ms,
            inactivity_away_ms: match f(&t.inactivity, |r| r.away_door_minutes) {
                None => 0,
                Some(m) if m.is_finite() && (0.0..=24.0 * 60.0).contains(&m) => {
                    (m * MINUTE as f64).round() as i64
                }
                Some(m) => {
                    return Err(bad(format!(
                        "[alerts.inactivity] away_door_minutes must be in [0, 1440], got {m}"
                    )));
                }
            },
            door_night: window(
                R::DoorOpenNight,
                text_of(&t.door_open_night, |r| r.night.as_ref()),
                "23:00-06:00",
            )?,
            appliance_above_w: threshold(
                R::ApplianceLeftOn,
                f(&t.appliance_left_on, |r| r.threshold),
                10.0,
                (0.0, 1e6),
            )?,
            appliance_ms: minutes(
                R::ApplianceLeftOn,
                f(&t.appliance_left_on, |r| r.minutes),
                180.0,
            )?,
            battery_below_pct: threshold(
                R::LowBattery,
                f(&t.low_battery, |r| r.threshold),
                15.0,
                (0.0, 100.0),
            )?,
            silent_ms: minutes(R::DeviceSilent, f(&t.device_silent, |r| r.minutes), 30.0)?,
            silent_per_sensor,
            combined,
            households,
            time_zones,
            output: t.output,
        })
    }

    /// The rule name of a rule code (base rules, then combined rules).
    pub fn rule_name(&self, code: u8) -> &str {
        match BaseRule::ALL.get(code as usize) {
            Some(r) => r.name(),
            None => self
                .combined
                .get(code as usize - BaseRule::ALL.len())
                .map_or("unknown", |c| c.name.as_str()),
        }
    }

    /// The criticity of a rule code.
    pub fn criticity(&self, code: u8) -> u8 {
        match self.rules.get(code as usize) {
            Some(r) => r.criticity,
            None => self
                .combined
                .get(code as usize - BaseRule::ALL.len())
                .map_or(5, |c| c.criticity),
        }
    }

    /// The dashboard message of a rule code.
    pub fn message(&self, code: u8) -> &str {
        match self.rules.get(code as usize) {
            Some(r) => &r.message,
            None => self
                .combined
                .get(code as usize - BaseRule::ALL.len())
                .map_or("", |c| c.message.as_str()),
        }
    }

    /// Whether base rule `rule` is enabled.
    pub fn enabled(&self, rule: BaseRule) -> bool {
        self.rules[rule.code() as usize].enabled
    }

    /// The household of a device id and its time zone, or `None` if the device belongs to no
    /// household group.
    pub fn household_of<'a>(&self, device: &'a str) -> Option<(&'a str, Zone)> {
        let group = self
            .households
            .iter()
            .find(|g| device.starts_with(&g.prefix))?;
        let mut end = 0;
        for (n, part) in device.split('-').enumerate() {
            if n == group.id_parts {
                break;
            }
            end += part.len() + usize::from(n > 0);
        }
        let household = &device[..end];
        if household.len() == device.len() && group.id_parts > 0 {
            // The device id is only the household id: no device part.
            return None;
        }
        let zone = self
            .time_zones
            .get(household)
            .copied()
            .unwrap_or(group.zone);
        Some((household, zone))
    }

    /// Which base rules watch the device named `label` (its id without the household):
    /// bit [`BaseRule::code`] is set for each.
    pub fn rules_for(&self, label: &str) -> u8 {
        let mut mask = 0u8;
        for rule in BaseRule::ALL {
            let settings = &self.rules[rule.code() as usize];
            if settings.enabled
                && settings
                    .device_prefix
                    .as_deref()
                    .is_none_or(|p| label.starts_with(p))
            {
                mask |= 1 << rule.code();
            }
        }
        mask
    }

    /// The silence limit of a device whose main sensor kind is `kind`, ms.
    pub fn silence_limit(&self, kind: Option<SensorKind>) -> i64 {
        kind.and_then(|k| self.silent_per_sensor.iter().find(|(s, _)| *s == k))
            .map_or(self.silent_ms, |(_, ms)| *ms)
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
