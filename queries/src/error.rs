//! Errors of the query layer.

use std::path::PathBuf;

/// Result alias for queries.
pub type Result<T, E = QueryError> = std::result::Result<T, E>;

/// Errors raised by the query layer.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The data directory does not exist or cannot be read.
    #[error("data directory {path}: {message}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A dataset could not be registered as a table.
    #[error("dataset {dataset}: {message}")]
    Dataset {
        /// The dataset.
        dataset: String,
        /// What went wrong.
        message: String,
    },
    /// The query failed to plan or execute (usually the user's SQL).
    #[error("SQL: {0}")]
    Sql(#[from] datafusion::error::DataFusionError),
    /// Writing the results failed.
    #[error("writing results: {0}")]
    Output(String),
    /// Reading the catalog failed.
    #[error(transparent)]
    Catalog(#[from] msec_datasets::DatasetError),
}
