//! The engine's error type. Variants say whose fault it is (the user's input or configuration,
//! an external system, or a bug of ours) and whether retrying can help.

use std::path::PathBuf;

/// Result alias for the engine.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;

/// Whose fault an error is — shared by every crate's error type, so callers can tell a user
/// mistake from an outage from a bug without knowing the crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The caller asked for something invalid (a bad option or name, a missing file, input
    /// that cannot be what it claims): fix the request; retrying does not help.
    User,
    /// The outside world failed: the file system, a pipe, a broker, another pipeline stage,
    /// or files on disk that are not what they should be.
    External,
    /// A bug in msec or in a library it uses.
    Internal,
}

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
    /// Whose fault the error is.
    pub fn fault(&self) -> Fault {
        match self {
            Self::Config(_) | Self::ConfigFile { .. } => Fault::User,
            Self::ChannelClosed(_) => Fault::External,
            Self::Arrow(_) | Self::Runtime(_) => Fault::Internal,
        }
    }
}
