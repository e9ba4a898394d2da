//! The crate's one error type, [`DatasetError`], and its [`Result`] alias.
//!
//! Every variant names the dataset (and, where there is one, the file or segment sequence
//! number) it concerns. [`DatasetError::fault`] tells a user's mistake from an external
//! failure (disk, corrupt files) from a bug in msec, and [`DatasetError::is_retryable`] says
//! whether trying again can help.
//!
//! Tampering found by `verify` is *not* an error: it is reported as data in a
//! [`VerifyReport`](crate::verify::VerifyReport). Errors are for what stops an operation.

use std::path::PathBuf;

use datafusion::arrow::error::ArrowError;
use datafusion::parquet::errors::ParquetError;

/// Result alias of this crate.
pub type Result<T, E = DatasetError> = std::result::Result<T, E>;

pub use msec_engine::error::Fault;

/// Errors of the datasets crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DatasetError {
    /// A dataset name that is not `[a-z0-9][a-z0-9_]*` (at most 64 bytes).
    #[error("invalid dataset name {name:?}: {reason}")]
    InvalidName {
        /// The rejected name.
        name: String,
        /// Why it was rejected.
        reason: &'static str,
    },

    /// Invalid [`WriterOptions`](crate::WriterOptions) or [`DatasetSpec`](crate::DatasetSpec).
    #[error("dataset {dataset}: invalid options: {detail}")]
    InvalidOptions {
        /// The dataset.
        dataset: String,
        /// What is wrong.
        detail: String,
    },

    /// An I/O operation on a dataset file failed.
    #[error("{}{}: {source}", dataset_prefix(dataset), path.display())]
    Io {
        /// The dataset (empty for the datasets root itself).
        dataset: String,
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A batch, or a re-opened dataset, whose schema differs from the dataset's.
    #[error("dataset {dataset}: schema mismatch: {detail}")]
    SchemaMismatch {
        /// The dataset.
        dataset: String,
        /// The first difference found.
        detail: String,
    },

    /// A column whose Arrow type has no canonical row encoding.
    #[error("dataset {dataset}: column {column:?} has unsupported type {data_type}")]
    UnsupportedType {
        /// The dataset.
        dataset: String,
        /// The column.
        column: String,
        /// Its Arrow type.
        data_type: String,
    },

    /// The spec's time column is missing or not a timestamp / Int64 column.
    #[error("dataset {dataset}: time column {column:?}: {reason}")]
    TimeColumn {
        /// The dataset.
        dataset: String,
        /// The configured time column.
        column: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The Parquet writer or reader failed on a segment.
    #[error("dataset {dataset}: segment {seq} ({file}): {source}")]
    Parquet {
        /// The dataset.
        dataset: String,
        /// The segment's sequence number.
        seq: u64,
        /// The segment's file name.
        file: String,
        /// The underlying error.
        #[source]
        source: ParquetError,
    },

    /// An Arrow kernel failed on a batch.
    #[error("dataset {dataset}: {source}")]
    Arrow {
        /// The dataset.
        dataset: String,
        /// The underlying error.
        #[source]
        source: ArrowError,
    },

    /// The chain log cannot be parsed or its links do not hold, so it cannot be appended to.
    #[error("dataset {dataset}: chain log line {line}: {detail}")]
    ChainLog {
        /// The dataset.
        dataset: String,
        /// 1-based line number in `_chain.jsonl`.
        line: usize,
        /// What is wrong.
        detail: String,
    },

    /// A `*.parquet` file in the dataset directory that no chain entry names (for example
    /// the segment being sealed when a previous run crashed). Writing refuses to continue;
    /// run `msec verify`, then move the file away.
    #[error(
        "dataset {dataset}: segment file {file} is not in the chain log \
         (left over from a crash, or added by hand); verify the dataset and move it away"
    )]
    UnchainedSegment {
        /// The dataset.
        dataset: String,
        /// The unchained file.
        file: String,
    },

    /// Another writer holds the dataset's lock.
    #[error("dataset {dataset} is being written by another writer")]
    Locked {
        /// The dataset.
        dataset: String,
    },

    /// A directory that exists but holds files and no chain log.
    #[error("dataset {dataset}: {} holds files but no chain log; not an msec dataset", path.display())]
    NotADataset {
        /// The dataset.
        dataset: String,
        /// The directory.
        path: PathBuf,
    },

    /// No dataset of that name under the root.
    #[error("dataset {dataset} not found under {}", root.display())]
    NotFound {
        /// The dataset.
        dataset: String,
        /// The datasets root.
        root: PathBuf,
    },

    /// The catalog cannot be read, parsed or converted.
    #[error("catalog {}: {detail}", path.display())]
    Catalog {
        /// The catalog file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },

    /// A previous seal failed half-way; the writer must be dropped and the dataset re-opened
    /// (after `verify`) before writing again.
    #[error("dataset {dataset}: writer unusable after an earlier failure")]
    Poisoned {
        /// The dataset.
        dataset: String,
    },
}

impl DatasetError {
    /// Whose fault the error is.
    pub fn fault(&self) -> Fault {
        match self {
            Self::InvalidName { .. }
            | Self::InvalidOptions { .. }
            | Self::SchemaMismatch { .. }
            | Self::UnsupportedType { .. }
            | Self::TimeColumn { .. }
            | Self::NotFound { .. } => Fault::User,
            Self::Io { .. }
            | Self::ChainLog { .. }
            | Self::UnchainedSegment { .. }
            | Self::Locked { .. }
            | Self::NotADataset { .. }
            | Self::Catalog { .. } => Fault::External,
            Self::Parquet { .. } | Self::Arrow { .. } | Self::Poisoned { .. } => Fault::Internal,
        }
    }

    /// Whether retrying the same operation later can succeed (an I/O hiccup, a lock held by
    /// another writer).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Locked { .. } => true,
            Self::Io { source, .. } => !matches!(
                source.kind(),
                std::io::ErrorKind::NotFound
                    | std::io::ErrorKind::PermissionDenied
                    | std::io::ErrorKind::InvalidData
                    | std::io::ErrorKind::InvalidInput
            ),
            _ => false,
        }
    }

    /// The dataset the error concerns, if any.
    pub fn dataset(&self) -> Option<&str> {
        match self {
            Self::InvalidName { name, .. } => Some(name),
            Self::InvalidOptions { dataset, .. }
            | Self::Io { dataset, .. }
            | Self::SchemaMismatch { dataset, .. }
            | Self::UnsupportedType { dataset, .. }
            | Self::TimeColumn { dataset, .. }
            | Self::Parquet { dataset, .. }
            | Self::Arrow { dataset, .. }
            | Self::ChainLog { dataset, .. }
            | Self::UnchainedSegment { dataset, .. }
            | Self::Locked { dataset }
            | Self::NotADataset { dataset, .. }
            | Self::NotFound { dataset, .. }
            | Self::Poisoned { dataset } => Some(dataset),
            Self::Catalog { .. } => None,
        }
    }
}

fn dataset_prefix(dataset: &str) -> String {
    if dataset.is_empty() {
        String::new()
    } else {
        format!("dataset {dataset}: ")
    }
}

/// Builds a closure mapping an `io::Error` to [`DatasetError::Io`] for `dataset` and `path`.
pub(crate) fn io_err(
    dataset: &str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> DatasetError {
    let dataset = dataset.to_owned();
    let path = path.into();
    move |source| DatasetError::Io {
        dataset,
        path,
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_and_retry() {
        let e = DatasetError::Locked {
            dataset: "readings".into(),
        };
        assert!(e.is_retryable());
        assert_eq!(e.fault(), Fault::External);
        assert_eq!(e.dataset(), Some("readings"));
        let e = io_err("x", "/nope")(std::io::Error::from(std::io::ErrorKind::NotFound));
        assert!(!e.is_retryable());
        assert_eq!(e.to_string(), "dataset x: /nope: entity not found");
        let e = io_err("", "/root")(std::io::Error::from(std::io::ErrorKind::NotFound));
        assert_eq!(e.to_string(), "/root: entity not found");
    }
}
