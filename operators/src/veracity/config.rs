//! [`VeracityConfig`]: the parameters of the veracity operator, with documented defaults.

use msec_engine::SensorKind;
use serde::{Deserialize, Deserializer};

use crate::error::{OperatorError, Result};

/// Default length of a run of identical values that flags a sensor as stuck.
pub const DEFAULT_STUCK_RUN: u64 = 10;

/// Sensor kinds exempt from the stuck check by default: binary 0/1 sensors, whose values
/// are constant for hours by nature (an empty bed, a closed door, no motion).
pub const DEFAULT_STUCK_EXEMPT: [SensorKind; 3] =
    [SensorKind::Motion, SensorKind::Door, SensorKind::Bed];

/// Parameters of [`super::Veracity`].
///
/// Deserializes from a TOML table such as
///
/// ```toml
/// stuck_run = 10
/// stuck_exempt = ["motion", "door", "bed"]
/// ```
///
/// where every field is optional (defaults above) and sensor kinds are canonical names.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VeracityConfig {
    /// A (device, sensor) whose value is identical `stuck_run` times in a row, in event-time
    /// order, is flagged `stuck` once for that run. At least 2. Default
    /// [`DEFAULT_STUCK_RUN`].
    pub stuck_run: u64,
    /// Sensor kinds never flagged stuck. Default [`DEFAULT_STUCK_EXEMPT`].
    #[serde(deserialize_with = "sensor_names")]
    pub stuck_exempt: Vec<SensorKind>,
}

impl Default for VeracityConfig {
    fn default() -> Self {
        Self {
            stuck_run: DEFAULT_STUCK_RUN,
            stuck_exempt: DEFAULT_STUCK_EXEMPT.to_vec(),
        }
    }
}

impl VeracityConfig {
    /// Sets the stuck-run length (consuming setter).
    pub fn with_stuck_run(mut self, n: u64) -> Self {
        self.stuck_run = n;
        self
    }

    /// Sets the exempt sensor kinds (consuming setter).
    pub fn with_stuck_exempt(mut self, kinds: impl IntoIterator<Item = SensorKind>) -> Self {
        self.stuck_exempt = kinds.into_iter().collect();
        self
    }

    /// Reads the `[veracity]` table of a TOML document (see the type's doc; an absent table
    /// gives the defaults, other tables are left to their components) and validates it.
    pub fn from_toml_str(text: &str) -> Result<Self> {
        let invalid = |message: String| OperatorError::InvalidParameter {
            operator: "veracity",
            message,
        };
        let doc: toml::Table = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let cfg: Self = match doc.get("veracity") {
            Some(v) => v
                .clone()
                .try_into()
                .map_err(|e| invalid(format!("[veracity]: {e}")))?,
            None => Self::default(),
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks the parameters (a user error if invalid).
    pub fn validate(&self) -> Result<()> {
        if self.stuck_run < 2 {
            return Err(OperatorError::InvalidParameter {
                operator: "veracity",
                message: format!(
                    "stuck_run must be at least 2 (a single value is not a run), got {}",
                    self.stuck_run
                ),
            });
        }
        Ok(())
    }

    /// The exempt kinds as a bit mask over [`SensorKind::code`].
    pub(super) fn exempt_mask(&self) -> u64 {
        self.stuck_exempt
            .iter()
            .fold(0u64, |m, k| m | (1u64 << k.code()))
    }
}

/// Deserializes sensor kinds from their canonical names.
fn sensor_names<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Vec<SensorKind>, D::Error> {
    let names = Vec::<String>::deserialize(d)?;
    names
        .iter()
        .map(|n| {
            SensorKind::from_name(n)
                .ok_or_else(|| serde::de::Error::custom(format!("unknown sensor kind {n:?}")))
        })
        .collect()
}

// Sensor codes index a 64-bit mask.
const _: () = assert!(SensorKind::ALL.len() <= 64);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_toml() {
        let d = VeracityConfig::default();
        assert_eq!(d.stuck_run, 10);
        assert_eq!(d.exempt_mask().count_ones(), 3);
        let c = VeracityConfig::from_toml_str(
            "[pipeline]\nworkers = 2\n[veracity]\nstuck_run = 4\nstuck_exempt = [\"noise\"]",
        )
        .expect("valid");
        assert_eq!(c.stuck_run, 4);
        assert_eq!(c.stuck_exempt, vec![SensorKind::Noise]);
        assert!(VeracityConfig::from_toml_str("[veracity]\nstuck_exempt = [\"smell\"]").is_err());
        assert!(VeracityConfig::from_toml_str("[veracity]\nstuck_run = 1").is_err());
        assert!(VeracityConfig::from_toml_str("[veracity]\nstuck = 3").is_err());
    }
}
