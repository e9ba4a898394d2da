//! [`CsvMapping`]: how the columns of a delimited log map onto canonical readings, as a serde
//! struct loadable from TOML, and its validation into the compiled form the decoder uses.
//!
//! ```toml
//! delimiter = ";"              # ",", ";", "\t" (or "tab"), or another single ASCII char
//! header = false               # first line names the columns
//! quote = true                 # honour "..." quoting (default true)
//! household = "home1"          # optional; default device prefix "home1-"
//! device_prefix = "home1-"     # optional; prepended to every channel's device id
//! lat_column = "lat"           # optional, with lon_column: position of every reading
//! lon_column = "lon"
//!
//! [time]
//! column = 0                   # 0-based index, or a header name
//! format = "strftime"          # epoch_ms | epoch_s | rfc3339 | strftime
//! pattern = "%Y-%m-%dT%H:%M:%S%.3f"
//! zone = "Europe/Madrid"       # strftime only: UTC, ±HH:MM, Europe/Madrid, Asia/Tokyo,
//!                              # Pacific/Auckland
//!
//! [layout]
//! kind = "long"                # one row = one reading
//! sensor_column = 1
//! value_column = 2
//! # or: kind = "wide", columns = [{ column = "t", channel = "temp" }], skip_empty = false
//!
//! [channels.MotionD_B]         # raw channel name → reading
//! device = "motion-bedroom"
//! room = "bedroom"
//! kind = "motion"              # a SensorKind name
//! values = { ON = 1, OFF = 0 } # optional: raw strings → numbers (tried first)
//! scale = 1.0                  # optional: multiplies the number
//! lat = 43.4721                # optional, with lon: the fixed position of a fixed device
//! lon = -3.8012
//!
//! [rejected]                   # optional: known channels that are not readings
//! "*.CommFailure" = "communication-failure flag, not a measurement"
//! ```
//!
//! **Time in several columns, hour ranges, business days.** A wide table of hourly counts
//! such as
//!
//! ```text
//! date,hour,year,107 Quay Street,Te Ara Tahuhu Walkway
//! 2024-01-01,6:00-6:59,2024,78.0,53.0
//! 2024-01-01,0:00-0:59,2024,12.0,
//! ```
//!
//! is read with
//!
//! ```toml
//! header = true
//! [time]
//! columns = ["date", "hour"]   # instead of `column`: the cells joined with one space,
//!                              # "2024-01-01 6:00-6:59", are the time text
//! format = "strftime"
//! pattern = "%Y-%m-%d %H:%M"   # %H also reads an unpadded "6"
//! range_start = true           # the text may go on with a range's end ("-6:59"): the
//!                              # time is the range's start, 06:00
//! day_start = "06:00"          # the date names a day that starts at 06:00: clock times
//!                              # before it belong to the next calendar date
//! zone = "Pacific/Auckland"
//! [layout]
//! kind = "wide"
//! skip_empty = true            # an empty cell is no reading (not a zero)
//! columns = [{ column = "107 Quay Street" }, { column = "Te Ara Tahuhu Walkway" }]
//! [channels."107 Quay Street"] # a wide column without `channel` is the channel named
//! device = "107-quay-street"   # like its header
//! kind = "crowd"
//! lat = -36.843015
//! lon = 174.766494
//! ```
//!
//! * `range_start`, `day_start` apply to `strftime` only. With `range_start` the pattern
//!   must match a prefix of the text; what follows it must be empty or, after spaces, start
//!   with `-` (the end of the range, not read), or the time is `invalid_type`.
//!   `day_start = "HH:MM"` adds one day to every parsed local time whose clock time is
//!   before it (before the zone is applied).
//! * **Positions:** a reading's position is the row's `lat_column` / `lon_column` when both
//!   cells are set, else its channel's fixed `lat` / `lon`, else none. A channel's `lat` and
//!   `lon` go together and must be finite WGS84 degrees (a configuration error otherwise).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use msec_engine::SensorKind;
use serde::{Deserialize, Serialize};

use super::row::Fields;
use super::time::{TimeFormat, Zone};
use crate::error::{ConnectorError, Result};

/// A column: a 0-based index, or a name from the header row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Column {
    /// 0-based position.
    Index(usize),
    /// Header name (needs `header = true`).
    Name(String),
}

/// The format names of [`TimeColumn::format`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeFormatName {
    /// Integer epoch milliseconds.
    EpochMs,
    /// Epoch seconds, optionally fractional.
    EpochS,
    /// RFC 3339 with an offset.
    Rfc3339,
    /// A chrono `strftime` pattern for naive local times, with `zone`.
    Strftime,
}

/// Where the event time is and how it is written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeColumn {
    /// The time column (exactly one of `column` and `columns`).
    #[serde(default)]
    pub column: Option<Column>,
    /// Several time columns (e.g. a date and an hour): their cells joined with one space, in
    /// this order, are the time text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<Column>,
    /// Its format.
    pub format: TimeFormatName,
    /// The chrono pattern (`strftime` only).
    #[serde(default)]
    pub pattern: Option<String>,
    /// The zone of naive local times (`strftime` only): `UTC`, `±HH:MM`, `Europe/Madrid`
    /// (alias `Europe/Paris`), `Asia/Tokyo` or `Pacific/Auckland` (alias `NZ`).
    #[serde(default)]
    pub zone: Option<String>,
    /// `strftime` only: the text is a range `start-end` (`6:00-6:59`) and the time is its
    /// start; the pattern matches the start, the end is not read.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub range_start: bool,
    /// `strftime` only: `HH:MM` at which the day named by the date starts; local clock times
    /// before it belong to the next calendar date (a business day 06:00 → 05:59).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day_start: Option<String>,
}

/// One value column of a wide layout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WideColumn {
    /// The column.
    pub column: Column,
    /// The channel (key of [`CsvMapping::channels`]) its values belong to; by default the
    /// column's header name (a column given by index needs one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
}

/// How rows carry values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Layout {
    /// One reading per row: a column names the raw channel, another holds the value.
    Long {
        /// The channel-name column.
        sensor_column: Column,
        /// The value column.
        value_column: Column,
    },
    /// Several value columns per row, one reading each.
    Wide {
        /// The value columns.
        columns: Vec<WideColumn>,
        /// Whether an empty cell is skipped (default: dead-lettered as `missing_field`).
        #[serde(default)]
        skip_empty: bool,
    },
}

/// What one raw channel becomes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Channel {
    /// Device id (prefixed with the mapping's device prefix).
    pub device: String,
    /// Room (metadata; see [`CsvMapping::devices`]).
    #[serde(default)]
    pub room: Option<String>,
    /// A [`SensorKind`] name.
    pub kind: String,
    /// Raw strings mapped to numbers, tried before parsing a number (`ON` → 1).
    #[serde(default)]
    pub values: BTreeMap<String, f64>,
    /// Factor applied to parsed numbers (not to `values`), default 1.
    #[serde(default)]
    pub scale: Option<f64>,
    /// Fixed latitude of the device (with `lon`), WGS84 degrees: the position of its
    /// readings when the row gives none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    /// Fixed longitude of the device (with `lat`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lon: Option<f64>,
}

/// A device the mapping can produce, with its metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Full device id (prefix included).
    pub device: String,
    /// The household, if the mapping names one.
    pub household: Option<String>,
    /// The room, if the channel names one.
    pub room: Option<String>,
    /// The sensor kind.
    pub kind: SensorKind,
    /// The raw channel name.
    pub channel: String,
}

/// How a delimited log maps onto canonical readings. See the module docs for the TOML form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvMapping {
    /// Field delimiter: `,` (default), `;`, `\t` (or `tab`), or any single ASCII char other
    /// than `"`, CR and LF.
    #[serde(default = "default_delimiter")]
    pub delimiter: String,
    /// Whether the first non-blank line is a header naming the columns (default false).
    #[serde(default)]
    pub header: bool,
    /// Whether `"` quotes fields (default true).
    #[serde(default = "default_true")]
    pub quote: bool,
    /// Household id; when `device_prefix` is unset the prefix is `"<household>-"`.
    #[serde(default)]
    pub household: Option<String>,
    /// Prefix of every device id.
    #[serde(default)]
    pub device_prefix: Option<String>,
    /// The event time.
    pub time: TimeColumn,
    /// Long or wide.
    pub layout: Layout,
    /// Latitude column (with `lon_column`); empty cells mean no position.
    #[serde(default)]
    pub lat_column: Option<Column>,
    /// Longitude column (with `lat_column`).
    #[serde(default)]
    pub lon_column: Option<Column>,
    /// Raw channel name → reading.
    #[serde(default)]
    pub channels: BTreeMap<String, Channel>,
    /// Channels known not to be readings → why; a key `*.Suffix` matches every channel
    /// ending in `.Suffix`. Their rows are dead-lettered as `unknown_sensor` with that detail.
    #[serde(default)]
    pub rejected: BTreeMap<String, String>,
}

fn default_delimiter() -> String {
    ",".into()
}

fn default_true() -> bool {
    true
}

fn config(detail: impl Into<String>) -> ConnectorError {
    ConnectorError::Config {
        what: "csv mapping",
        detail: detail.into(),
    }
}

impl CsvMapping {
    /// Parses a mapping from TOML text and checks what can be checked without the header.
    pub fn from_toml_str(text: &str) -> Result<Self> {
        let mapping: CsvMapping = toml::from_str(text).map_err(|e| config(e.to_string()))?;
        mapping.compile(None, false)?;
        Ok(mapping)
    }

    /// Reads a mapping from a TOML file.
    pub fn from_toml_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| ConnectorError::Open {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml_str(&text).map_err(|e| match e {
            ConnectorError::Config { what, detail } => ConnectorError::Config {
                what,
                detail: format!("{}: {detail}", path.display()),
            },
            other => other,
        })
    }

    /// The device prefix in effect.
    pub fn prefix(&self) -> String {
        match (&self.device_prefix, &self.household) {
            (Some(p), _) => p.clone(),
            (None, Some(h)) => format!("{h}-"),
            (None, None) => String::new(),
        }
    }

    /// Every channel's device with its household, room and kind, in channel-name order.
    /// Readings carry no room or household column: this is where they are looked up.
    pub fn devices(&self) -> Vec<DeviceInfo> {
        let prefix = self.prefix();
        self.channels
            .iter()
            .filter_map(|(name, c)| {
                Some(DeviceInfo {
                    device: format!("{prefix}{}", c.device),
                    household: self.household.clone(),
                    room: c.room.clone(),
                    kind: SensorKind::from_name(&c.kind)?,
                    channel: name.clone(),
                })
            })
            .collect()
    }

    /// The delimiter byte.
    fn delimiter_byte(&self) -> Result<u8> {
        match self.delimiter.as_str() {
            "tab" | "\\t" | "\t" => Ok(b'\t'),
            d if d.len() == 1 && !matches!(d.as_bytes()[0], b'"' | b'\r' | b'\n') => {
                Ok(d.as_bytes()[0])
            }
            d => Err(config(format!(
                "delimiter {d:?} must be one ASCII character other than a quote or line break"
            ))),
        }
    }

    /// Validates the mapping into the decoder's form. `header` holds the header row when
    /// there is one; with `resolve` false (no input yet) column names are not resolved.
    pub(crate) fn compile(&self, header: Option<&Fields>, resolve: bool) -> Result<Compiled> {
        let delimiter = self.delimiter_byte()?;
        let col = |c: &Column, what: &str| -> Result<usize> {
            match c {
                Column::Index(i) => Ok(*i),
                Column::Name(n) if !self.header => Err(config(format!(
                    "{what} column {n:?} is a name but the mapping has `header = false`"
                ))),
                Column::Name(_) if !resolve => Ok(0),
                Column::Name(n) => header
                    .and_then(|h| (0..h.len()).find(|&i| h.get(i) == Some(n.as_str())))
                    .ok_or_else(|| config(format!("{what} column {n:?} is not in the header"))),
            }
        };
        let t = &self.time;
        let time = match (t.format, &t.pattern, &t.zone) {
            (TimeFormatName::Strftime, Some(p), Some(z)) => {
                let zone = Zone::parse(z).ok_or_else(|| {
                    config(format!(
                        "zone {z:?}: expected UTC, ±HH:MM, Europe/Madrid, Europe/Paris, \
                         Asia/Tokyo or Pacific/Auckland"
                    ))
                })?;
                if chrono::format::StrftimeItems::new(p)
                    .any(|i| matches!(i, chrono::format::Item::Error))
                {
                    return Err(config(format!("invalid strftime pattern {p:?}")));
                }
                let day_start = match &t.day_start {
                    None => None,
                    Some(d) => {
                        Some(chrono::NaiveTime::parse_from_str(d, "%H:%M").map_err(|_| {
                            config(format!("day_start {d:?}: expected a local time HH:MM"))
                        })?)
                    }
                };
                TimeFormat::Strftime {
                    pattern: p.clone(),
                    zone,
                    range_start: t.range_start,
                    day_start,
                }
            }
            (TimeFormatName::Strftime, _, _) => {
                return Err(config("format `strftime` needs `pattern` and `zone`"));
            }
            (_, None, None) if !t.range_start && t.day_start.is_none() => match t.format {
                TimeFormatName::EpochMs => TimeFormat::EpochMs,
                TimeFormatName::EpochS => TimeFormat::EpochS,
                _ => TimeFormat::Rfc3339,
            },
            _ => {
                return Err(config(
                    "`pattern`, `zone`, `range_start` and `day_start` apply only to format \
                     `strftime`",
                ));
            }
        };
        let time_cols = match (&t.column, t.columns.as_slice()) {
            (Some(c), []) => vec![col(c, "time")?],
            (None, cs) if !cs.is_empty() => cs
                .iter()
                .map(|c| col(c, "time"))
                .collect::<Result<Vec<_>>>()?,
            (Some(_), _) => {
                return Err(config("[time] takes `column` or `columns`, not both"));
            }
            (None, _) => return Err(config("[time] needs `column` or `columns`")),
        };

        let prefix = self.prefix();
        let mut channels = Vec::with_capacity(self.channels.len());
        let mut by_name = HashMap::with_capacity(self.channels.len());
        for (name, c) in &self.channels {
            let kind = SensorKind::from_name(&c.kind).ok_or_else(|| {
                config(format!(
                    "channel {name:?}: unknown sensor kind {:?}",
                    c.kind
                ))
            })?;
            if c.device.is_empty() {
                return Err(config(format!("channel {name:?}: empty device")));
            }
            let scale = c.scale.unwrap_or(1.0);
            if !scale.is_finite() {
                return Err(config(format!("channel {name:?}: scale must be finite")));
            }
            let position = match (c.lat, c.lon) {
                (None, None) => None,
                (Some(lat), Some(lon))
                    if (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon) =>
                {
                    Some((lat, lon))
                }
                (Some(lat), Some(lon)) => {
                    return Err(config(format!(
                        "channel {name:?}: position ({lat}, {lon}) is outside \
                         [-90, 90] × [-180, 180]"
                    )));
                }
                _ => {
                    return Err(config(format!(
                        "channel {name:?}: `lat` and `lon` go together"
                    )));
                }
            };
            by_name.insert(name.clone(), channels.len());
            channels.push(CompiledChannel {
                device: format!("{prefix}{}", c.device),
                kind,
                scale,
                values: c.values.iter().map(|(k, v)| (k.clone(), *v)).collect(),
                position,
            });
        }
        let layout = match &self.layout {
            Layout::Long {
                sensor_column,
                value_column,
            } => CompiledLayout::Long {
                sensor: col(sensor_column, "sensor")?,
                value: col(value_column, "value")?,
            },
            Layout::Wide {
                columns,
                skip_empty,
            } => {
                if columns.is_empty() {
                    return Err(config("wide layout without columns"));
                }
                let mut cols = Vec::with_capacity(columns.len());
                for w in columns {
                    let channel = match (&w.channel, &w.column) {
                        (Some(c), _) => c,
                        (None, Column::Name(n)) => n,
                        (None, Column::Index(i)) => {
                            return Err(config(format!(
                                "wide column {i} is given by index and needs a `channel`"
                            )));
                        }
                    };
                    let ch = *by_name.get(channel).ok_or_else(|| {
                        config(format!("wide column channel {channel:?} is not mapped"))
                    })?;
                    cols.push((col(&w.column, "value")?, ch));
                }
                CompiledLayout::Wide {
                    columns: cols,
                    skip_empty: *skip_empty,
                }
            }
        };
        let position = match (&self.lat_column, &self.lon_column) {
            (Some(a), Some(o)) => Some((col(a, "lat")?, col(o, "lon")?)),
            (None, None) => None,
            _ => return Err(config("`lat_column` and `lon_column` go together")),
        };
        let mut min_fields = time_cols.iter().max().map_or(0, |c| c + 1);
        match &layout {
            CompiledLayout::Long { sensor, value } => {
                min_fields = min_fields.max(sensor + 1).max(value + 1);
            }
            CompiledLayout::Wide { columns, .. } => {
                for (c, _) in columns {
                    min_fields = min_fields.max(c + 1);
                }
            }
        }
        if let Some((a, o)) = position {
            min_fields = min_fields.max(a + 1).max(o + 1);
        }
        Ok(Compiled {
            delimiter,
            quote: self.quote,
            time_cols,
            time,
            layout,
            position,
            channels,
            by_name,
            rejected: self
                .rejected
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            min_fields,
        })
    }
}

/// A channel ready for decoding.
#[derive(Debug)]
pub(crate) struct CompiledChannel {
    /// Full device id.
    pub device: String,
    pub kind: SensorKind,
    pub scale: f64,
    pub values: HashMap<String, f64>,
    /// Fixed `(lat, lon)`, used when the row has no position.
    pub position: Option<(f64, f64)>,
}

/// Resolved layout: column indices and channel indices.
#[derive(Debug)]
pub(crate) enum CompiledLayout {
    Long {
        sensor: usize,
        value: usize,
    },
    Wide {
        columns: Vec<(usize, usize)>,
        skip_empty: bool,
    },
}

/// A validated mapping with columns resolved.
#[derive(Debug)]
pub(crate) struct Compiled {
    pub delimiter: u8,
    pub quote: bool,
    /// The time columns, joined with one space when there are several.
    pub time_cols: Vec<usize>,
    pub time: TimeFormat,
    pub layout: CompiledLayout,
    pub position: Option<(usize, usize)>,
    pub channels: Vec<CompiledChannel>,
    pub by_name: HashMap<String, usize>,
    pub rejected: Vec<(String, String)>,
    /// Fewest fields a row must have.
    pub min_fields: usize,
}

impl Compiled {
    /// The documented reason a channel absent from `channels` is not a reading, if any.
    pub(crate) fn rejected_detail(&self, channel: &str) -> Option<&str> {
        self.rejected.iter().find_map(|(k, v)| {
            let hit = match k.strip_prefix('*') {
                Some(suffix) => channel.ends_with(suffix),
                None => k == channel,
            };
            hit.then_some(v.as_str())
        })
    }
}
