//! Sensor kinds known to msec, their canonical names, units and physical ranges.
//!
//! A reading whose `sensor` is not one of these is rejected with reason `unknown_sensor`;
//! a value outside the kind's physical range is rejected with reason `out_of_range`.

use serde::{Deserialize, Serialize};

macro_rules! sensor_kinds {
    ($( $variant:ident = $name:literal, $unit:literal, $min:expr, $max:expr; )*) => {
        /// A sensor kind. The discriminant is its compact code on the hot path.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[repr(u8)]
        pub enum SensorKind { $( #[doc = concat!("`", $name, "` (", $unit, ")")] $variant, )* }

        impl SensorKind {
            /// Every kind, in code order.
            pub const ALL: &'static [SensorKind] = &[$(SensorKind::$variant,)*];

            /// The canonical name used in records and datasets.
            pub const fn name(self) -> &'static str {
                match self { $(SensorKind::$variant => $name,)* }
            }

            /// The unit of the value.
            pub const fn unit(self) -> &'static str {
                match self { $(SensorKind::$variant => $unit,)* }
            }

            /// Inclusive physical range of a valid value.
            pub const fn range(self) -> (f64, f64) {
                match self { $(SensorKind::$variant => ($min, $max),)* }
            }

            /// Parses a canonical name.
            pub fn from_name(name: &str) -> Option<SensorKind> {
                match name { $($name => Some(SensorKind::$variant),)* _ => None }
            }
        }
    };
}

sensor_kinds! {
    Temperature = "temperature", "°C", -60.0, 70.0;
    Humidity = "humidity", "%", 0.0, 100.0;
    Co2 = "co2", "ppm", 150.0, 40_000.0;
    Voc = "voc", "ppb", 0.0, 60_000.0;
    Noise = "noise", "dB(A)", 0.0, 194.0;
    Crowd = "crowd", "people", 0.0, 1_000_000.0;
    Motion = "motion", "0/1", 0.0, 1.0;
    Door = "door", "0/1", 0.0, 1.0;
    Bed = "bed", "0/1", 0.0, 1.0;
    PlugPower = "plug_power", "W", 0.0, 20_000.0;
    Pm25 = "pm25", "µg/m³", 0.0, 2_000.0;
    Pm10 = "pm10", "µg/m³", 0.0, 3_000.0;
    Pressure = "pressure", "hPa", 300.0, 1_100.0;
    Uva = "uva", "mW/cm²", 0.0, 100.0;
    Accel = "accel", "g", -64.0, 64.0;
    Battery = "battery", "%", 0.0, 100.0;
    Light = "light", "lx", 0.0, 200_000.0;
    No2 = "no2", "µg/m³", 0.0, 5_000.0;
    O3 = "o3", "µg/m³", 0.0, 5_000.0;
    So2 = "so2", "µg/m³", 0.0, 5_000.0;
    Co = "co", "µg/m³", 0.0, 100_000.0;
}

impl SensorKind {
    /// The kind for a compact code.
    pub fn from_code(code: u8) -> Option<SensorKind> {
        Self::ALL.get(code as usize).copied()
    }

    /// The compact code.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// Whether `value` is finite and inside the physical range.
    pub fn accepts(self, value: f64) -> bool {
        let (lo, hi) = self.range();
        value.is_finite() && value >= lo && value <= hi
    }
}

impl std::fmt::Display for SensorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes_round_trip() {
        for (i, kind) in SensorKind::ALL.iter().enumerate() {
            assert_eq!(kind.code() as usize, i);
            assert_eq!(SensorKind::from_code(kind.code()), Some(*kind));
            assert_eq!(SensorKind::from_name(kind.name()), Some(*kind));
        }
        assert_eq!(SensorKind::from_name("smoke_level"), None);
    }

    #[test]
    fn ranges_reject_non_finite_and_outliers() {
        assert!(SensorKind::Humidity.accepts(55.0));
        assert!(!SensorKind::Humidity.accepts(100.5));
        assert!(!SensorKind::Temperature.accepts(f64::NAN));
        assert!(!SensorKind::Bed.accepts(7.0));
    }
}
