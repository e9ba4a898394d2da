//! The catalog `<root>/_catalog.json`: one [`CatalogEntry`] per dataset, what the data
//! marketplace ingests, and the anchor that `verify` checks each chain's head and genesis
//! against (a truncated chain, or a dataset directory swapped for another creation's files,
//! is only visible against it).
//!
//! Updates are read-modify-write under an exclusive lock (`<root>/.catalog.lock`) and replace
//! the file atomically (temp file, fsync, rename, fsync of the directory).
//! [`Catalog::to_record_batch`] gives the `catalog` SQL table.

use std::fs::{File, OpenOptions};
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanArray, RecordBatch, StringArray, TimestampMillisecondArray, UInt64Array,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use serde::{Deserialize, Serialize};

use crate::chain::ChainLog;
use crate::digest::Digest;
use crate::error::{DatasetError, Result, io_err};
use crate::layout::{CATALOG_FILE, CATALOG_LOCK, now_rfc3339, write_atomic};
use crate::spec::{DatasetSpec, DatasetSummary};

/// Format identifier written at the top of the catalog file.
pub const CATALOG_FORMAT: &str = "msec-catalog/1";

/// Who publishes a dataset and under which licence (deployment configuration).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Publication {
    /// Publisher (e.g. "Ayuntamiento de Santander").
    pub publisher: String,
    /// Licence identifier (e.g. "CC-BY-4.0").
    pub licence: String,
}

/// One dataset in the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogEntry {
    /// Dataset name.
    pub name: String,
    /// Pilot the data comes from.
    pub pilot: String,
    /// Description.
    pub description: String,
    /// Schema as a JSON array of `{"name","type","nullable"}`.
    pub schema: String,
    /// Schema fingerprint.
    pub schema_fingerprint: Digest,
    /// Rows over the first `segments` segments.
    pub rows: u64,
    /// Bytes over the first `segments` segments.
    pub bytes: u64,
    /// Number of segments covered by `head`.
    pub segments: u64,
    /// Smallest event time (epoch ms).
    pub ts_min: Option<i64>,
    /// Largest event time (epoch ms).
    pub ts_max: Option<i64>,
    /// Chain hash of entry `segments` (`null` for an empty dataset).
    pub head: Option<Digest>,
    /// Genesis hash of the chain (identifies this creation of the dataset).
    pub genesis: Digest,
    /// Publisher.
    pub publisher: String,
    /// Licence.
    pub licence: String,
    /// Whether the dataset may hold personal data.
    pub personal: bool,
    /// When this entry was last updated, RFC 3339.
    pub updated: String,
}

impl CatalogEntry {
    /// An entry from a spec, a writer's (or chain log's) summary and publication details,
    /// stamped with the current time.
    pub fn new(spec: &DatasetSpec, summary: &DatasetSummary, publication: &Publication) -> Self {
        Self {
            name: summary.name.clone(),
            pilot: spec.pilot.clone(),
            description: spec.description.clone(),
            schema: summary.schema.clone(),
            schema_fingerprint: summary.schema_fingerprint,
            rows: summary.rows,
            bytes: summary.bytes,
            segments: summary.segments,
            ts_min: summary.ts_min,
            ts_max: summary.ts_max,
            head: summary.head,
            genesis: summary.genesis,
            publisher: publication.publisher.clone(),
            licence: publication.licence.clone(),
            personal: spec.personal,
            updated: now_rfc3339(),
        }
    }
}

/// The catalog: datasets sorted by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    /// One entry per dataset, sorted by name.
    pub datasets: Vec<CatalogEntry>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    format: String,
    updated: String,
    datasets: Vec<CatalogEntry>,
}

impl Catalog {
    /// Reads `<root>/_catalog.json`; a missing file is an empty catalog.
    pub fn load(root: &Path) -> Result<Self> {
        let path = root.join(CATALOG_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(io_err("", &path)(e)),
        };
        let file: CatalogFile = serde_json::from_str(&text).map_err(|e| DatasetError::Catalog {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        if file.format != CATALOG_FORMAT {
            return Err(DatasetError::Catalog {
                path,
                detail: format!("unsupported format {:?}", file.format),
            });
        }
        let mut c = Catalog {
            datasets: file.datasets,
        };
        c.datasets.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(c)
    }

    /// The entry of dataset `name`.
    pub fn get(&self, name: &str) -> Option<&CatalogEntry> {
        self.datasets.iter().find(|e| e.name == name)
    }

    /// Inserts or replaces the entry of `entry.name`, keeping the list sorted.
    pub fn upsert(&mut self, entry: CatalogEntry) {
        match self
            .datasets
            .binary_search_by(|e| e.name.as_str().cmp(&entry.name))
        {
            Ok(i) => self.datasets[i] = entry,
            Err(i) => self.datasets.insert(i, entry),
        }
    }

    /// Writes `<root>/_catalog.json` atomically. Prefer [`Catalog::update`] or
    /// [`Catalog::refresh`], which also take the catalog lock.
    pub fn save(&self, root: &Path) -> Result<()> {
        let file = CatalogFile {
            format: CATALOG_FORMAT.to_owned(),
            updated: now_rfc3339(),
            datasets: self.datasets.clone(),
        };
        let path = root.join(CATALOG_FILE);
        let mut text = serde_json::to_string_pretty(&file).map_err(|e| DatasetError::Catalog {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        text.push('\n');
        write_atomic(root, ".catalog.json.tmp", CATALOG_FILE, text.as_bytes())
            .map_err(io_err("", &path))
    }

    /// Records one dataset (typically after [`DatasetWriter::finish`](crate::DatasetWriter::finish))
    /// and returns the catalog as saved.
    pub fn update(
        root: &Path,
        spec: &DatasetSpec,
        summary: &DatasetSummary,
        publication: &Publication,
    ) -> Result<Self> {
        if spec.name != summary.name {
            return Err(DatasetError::Catalog {
                path: root.join(CATALOG_FILE),
                detail: format!(
                    "spec names dataset {:?}, summary {:?}",
                    spec.name, summary.name
                ),
            });
        }
        let entry = CatalogEntry::new(spec, summary, publication);
        Self::locked(root, |c| {
            c.upsert(entry);
            Ok(())
        })
    }

    /// Re-reads the chain log of each dataset in `specs` that exists under `root` and records
    /// its totals and head; entries of other datasets are kept. Returns the catalog as saved.
    pub fn refresh(root: &Path, specs: &[DatasetSpec], publication: &Publication) -> Result<Self> {
        Self::locked(root, |c| {
            for spec in specs {
                crate::layout::validate_name(&spec.name)?;
                if !root
                    .join(&spec.name)
                    .join(crate::layout::CHAIN_LOG)
                    .exists()
                {
                    continue;
                }
                let log = ChainLog::read(root, &spec.name)?;
                let summary = DatasetSummary::from_log(&log);
                c.upsert(CatalogEntry::new(spec, &summary, publication));
            }
            Ok(())
        })
    }

    fn locked(root: &Path, edit: impl FnOnce(&mut Catalog) -> Result<()>) -> Result<Self> {
        std::fs::create_dir_all(root).map_err(io_err("", root))?;
        let lock_path = root.join(CATALOG_LOCK);
        let lock: File = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_err("", &lock_path))?;
        lock.lock().map_err(io_err("", &lock_path))?;
        let mut c = Catalog::load(root)?;
        edit(&mut c)?;
        c.save(root)?;
        drop(lock);
        Ok(c)
    }

    /// Arrow schema of [`Catalog::to_record_batch`].
    pub fn arrow_schema() -> SchemaRef {
        let ts = || DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()));
        Arc::new(Schema::new(vec![
            Field::new("name", DataType::Utf8, false),
            Field::new("pilot", DataType::Utf8, false),
            Field::new("description", DataType::Utf8, false),
            Field::new("schema", DataType::Utf8, false),
            Field::new("schema_fingerprint", DataType::Utf8, false),
            Field::new("rows", DataType::UInt64, false),
            Field::new("bytes", DataType::UInt64, false),
            Field::new("segments", DataType::UInt64, false),
            Field::new("ts_min", ts(), true),
            Field::new("ts_max", ts(), true),
            Field::new("head", DataType::Utf8, true),
            Field::new("genesis", DataType::Utf8, false),
            Field::new("publisher", DataType::Utf8, false),
            Field::new("licence", DataType::Utf8, false),
            Field::new("personal", DataType::Boolean, false),
            Field::new("updated", ts(), true),
        ]))
    }

    /// The catalog as one Arrow batch (one row per dataset), to register as the `catalog`
    /// table. `updated` is parsed from RFC 3339 (null if unparseable).
    pub fn to_record_batch(&self) -> Result<RecordBatch> {
        let d = &self.datasets;
        let strs = |f: fn(&CatalogEntry) -> &str| -> ArrayRef {
            Arc::new(StringArray::from_iter_values(d.iter().map(f)))
        };
        let nums = |f: fn(&CatalogEntry) -> u64| -> ArrayRef {
            Arc::new(UInt64Array::from_iter_values(d.iter().map(f)))
        };
        let times = |f: fn(&CatalogEntry) -> Option<i64>| -> ArrayRef {
            Arc::new(
                TimestampMillisecondArray::from(d.iter().map(f).collect::<Vec<_>>())
                    .with_timezone("UTC"),
            )
        };
        let hex = |f: fn(&CatalogEntry) -> Option<Digest>| -> ArrayRef {
            Arc::new(StringArray::from(
                d.iter()
                    .map(|e| f(e).map(|h| h.to_hex()))
                    .collect::<Vec<_>>(),
            ))
        };
        let columns = vec![
            strs(|e| &e.name),
            strs(|e| &e.pilot),
            strs(|e| &e.description),
            strs(|e| &e.schema),
            hex(|e| Some(e.schema_fingerprint)),
            nums(|e| e.rows),
            nums(|e| e.bytes),
            nums(|e| e.segments),
            times(|e| e.ts_min),
            times(|e| e.ts_max),
            hex(|e| e.head),
            hex(|e| Some(e.genesis)),
            strs(|e| &e.publisher),
            strs(|e| &e.licence),
            Arc::new(BooleanArray::from(
                d.iter().map(|e| e.personal).collect::<Vec<_>>(),
            )),
            times(|e| {
                chrono::DateTime::parse_from_rfc3339(&e.updated)
                    .ok()
                    .map(|t| t.timestamp_millis())
            }),
        ];
        RecordBatch::try_new(Self::arrow_schema(), columns).map_err(|e| DatasetError::Arrow {
            dataset: "catalog".into(),
            source: e,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(name: &str, rows: u64) -> DatasetSummary {
        DatasetSummary {
            name: name.into(),
            rows,
            segments: 1,
            bytes: 10,
            head: Some(Digest([1; 32])),
            genesis: Digest([2; 32]),
            ts_min: Some(5),
            ts_max: Some(9),
            schema: "[]".into(),
            schema_fingerprint: Digest([3; 32]),
        }
    }

    #[test]
    fn update_load_and_table() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        assert_eq!(Catalog::load(root).unwrap(), Catalog::default());
        let p = Publication {
            publisher: "City".into(),
            licence: "CC-BY-4.0".into(),
        };
        let mut spec = DatasetSpec::new("readings");
        spec.personal = true;
        Catalog::update(root, &spec, &summary("readings", 3), &p).unwrap();
        Catalog::update(root, &DatasetSpec::new("agg_1m"), &summary("agg_1m", 1), &p).unwrap();
        let c = Catalog::update(root, &spec, &summary("readings", 4), &p).unwrap();
        assert_eq!(Catalog::load(root).unwrap(), c);
        let names: Vec<_> = c.datasets.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["agg_1m", "readings"]);
        assert_eq!(c.get("readings").map(|e| e.rows), Some(4));
        assert!(!root.join(".catalog.json.tmp").exists());

        let b = c.to_record_batch().unwrap();
        assert_eq!(b.num_rows(), 2);
        assert_eq!(b.schema(), Catalog::arrow_schema());
        assert_eq!(b.column_by_name("updated").unwrap().null_count(), 0);
    }

    #[test]
    fn bad_catalog_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CATALOG_FILE), "{").unwrap();
        assert!(matches!(
            Catalog::load(dir.path()),
            Err(DatasetError::Catalog { .. })
        ));
    }
}
