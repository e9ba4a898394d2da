//! The engine's error type. Variants say whose fault it is (the user's input or configuration,
//! an external system, or a bug of ours) and whether retrying can help.

use std::path::PathBuf;

/// Result alias for the engine.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;

/// Errors raised by the engine layer.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A configuration value is invalid (user error, retrying does not help).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A configuration file could not be read or parsed.
    #[error("configuration file {path}: {message}")]
    ConfigFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Building an Arrow batch failed (internal error).
    #[error("arrow: {0}")]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    /// A downstream channel was closed before the end of the stream (a stage failed).
    #[error("channel to {0} closed before end of stream")]
    ChannelClosed(String),
    /// The timely runtime failed.
    #[error("dataflow runtime: {0}")]
    Runtime(String),
}

impl EngineError {
    /// Whether the fault lies with the user's input or configuration.
    pub fn is_user_error(&self) -> bool {
        matches!(self, Self::Config(_) | Self::ConfigFile { .. })
    }
}
