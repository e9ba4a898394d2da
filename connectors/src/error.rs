//! The crate's one error type, [`ConnectorError`], and its [`Result`] alias.
//!
//! Every variant names the input or output it concerns (a path, `-` for stdin, `simulator`)
//! and, where there is one, the position (1-based line number, byte offset).
//! [`ConnectorError::fault`] tells a user's mistake from an external failure from a bug in
//! msec, and [`ConnectorError::is_retryable`] says whether trying again can help.
//!
//! Bad *records* are not errors: they become dead letters
//! ([`DeadLetter`](msec_engine::DeadLetter)) and the source carries on. Errors are for what
//! stops a source: a file that cannot be opened or read, an invalid configuration, a
//! downstream stage that went away.

use std::path::PathBuf;

use msec_engine::EngineError;

/// Result alias of this crate.
pub type Result<T, E = ConnectorError> = std::result::Result<T, E>;

pub use msec_engine::error::Fault;

/// Errors of the connectors crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectorError {
    /// An input could not be opened (or its size read).
    #[error("cannot open {}: {source}", path.display())]
    Open {
        /// The input path as given (`-` for stdin).
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// Reading an input failed part-way (I/O error, corrupt gzip stream).
    #[error("reading {} at line {line} (byte {offset}): {source}", path.display())]
    Read {
        /// The input path as given (`-` for stdin, `simulator`).
        path: PathBuf,
        /// 1-based number of the line being read when it failed.
        line: u64,
        /// Bytes (decompressed, for gzip) successfully read before the failure.
        offset: u64,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// Writing an output failed.
    #[error("writing {target} after {offset} bytes: {source}")]
    Write {
        /// What was being written (a path, `output`).
        target: String,
        /// Bytes successfully written before the failure.
        offset: u64,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A connector configuration value is invalid.
    #[error("invalid {what} configuration: {detail}")]
    Config {
        /// Which configuration (`simulator`, `pipeline`).
        what: &'static str,
        /// What is wrong.
        detail: String,
    },

    /// A broker (MQTT, Kafka) refused or dropped a connection, a subscription, a commit or a
    /// publication.
    #[error("broker {broker} ({what}): {detail}")]
    Broker {
        /// The broker and topic or client concerned (`mqtt://127.0.0.1:1883 park/#`).
        broker: String,
        /// What was being done (`connect`, `subscribe`, `commit`, `publish`).
        what: &'static str,
        /// The client library's message.
        detail: String,
        /// Whether trying again later may succeed (the broker was unreachable).
        retryable: bool,
    },

    /// The channel to the dataflow closed before the source reached the end of its input
    /// (a downstream stage stopped or failed).
    #[error("source {source_name}: downstream closed at line {line}: {engine}")]
    Downstream {
        /// The source's name.
        source_name: String,
        /// 1-based number of the last line read.
        line: u64,
        /// The engine's error.
        #[source]
        engine: EngineError,
    },
}

impl ConnectorError {
    /// Whose fault the error is.
    pub fn fault(&self) -> Fault {
        match self {
            Self::Config { .. } => Fault::User,
            Self::Open { source, .. } => match source.kind() {
                std::io::ErrorKind::NotFound
                | std::io::ErrorKind::PermissionDenied
                | std::io::ErrorKind::IsADirectory
                | std::io::ErrorKind::InvalidInput => Fault::User,
                _ => Fault::External,
            },
            // A corrupt or truncated gzip stream is a bad input, not an outage.
            Self::Read { source, .. } if is_corrupt_input(source) => Fault::User,
            Self::Read { .. }
            | Self::Write { .. }
            | Self::Downstream { .. }
            | Self::Broker { .. } => Fault::External,
        }
    }

    /// Whether retrying the same operation later can succeed (an interrupted read, a full
    /// disk that may be freed). A downstream that closed will not reopen: not retryable.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Open { source, .. } | Self::Write { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::Interrupted
                    | std::io::ErrorKind::WouldBlock
                    | std::io::ErrorKind::TimedOut
                    | std::io::ErrorKind::StorageFull
                    | std::io::ErrorKind::ResourceBusy
            ),
            Self::Read { source, .. } => {
                !is_corrupt_input(source)
                    && matches!(
                        source.kind(),
                        std::io::ErrorKind::Interrupted
                            | std::io::ErrorKind::WouldBlock
                            | std::io::ErrorKind::TimedOut
                            | std::io::ErrorKind::ResourceBusy
                    )
            }
            Self::Broker { retryable, .. } => *retryable,
            Self::Config { .. } | Self::Downstream { .. } => false,
        }
    }
}

/// Whether a read error means the input's bytes are bad (gzip decoders report corrupt and
/// truncated streams this way).
fn is_corrupt_input(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::InvalidData
            | std::io::ErrorKind::InvalidInput
            | std::io::ErrorKind::UnexpectedEof
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::ErrorKind;

    #[test]
    fn faults_and_retry() {
        let open = ConnectorError::Open {
            path: "/nope.jsonl".into(),
            source: ErrorKind::NotFound.into(),
        };
        assert_eq!(open.fault(), Fault::User);
        assert!(!open.is_retryable());
        assert!(open.to_string().contains("/nope.jsonl"), "{open}");

        let corrupt = ConnectorError::Read {
            path: "in.jsonl.gz".into(),
            line: 12,
            offset: 4096,
            source: ErrorKind::InvalidData.into(),
        };
        assert_eq!(corrupt.fault(), Fault::User);
        assert!(!corrupt.is_retryable());
        let msg = corrupt.to_string();
        assert!(msg.contains("line 12") && msg.contains("4096"), "{msg}");

        let flaky = ConnectorError::Read {
            path: "-".into(),
            line: 1,
            offset: 0,
            source: ErrorKind::Interrupted.into(),
        };
        assert_eq!(flaky.fault(), Fault::External);
        assert!(flaky.is_retryable());

        let cfg = ConnectorError::Config {
            what: "simulator",
            detail: "hours must be positive".into(),
        };
        assert_eq!(cfg.fault(), Fault::User);

        let down = ConnectorError::Downstream {
            source_name: "simulator".into(),
            line: 3,
            engine: EngineError::ChannelClosed("simulator".into()),
        };
        assert_eq!(down.fault(), Fault::External);
        assert!(!down.is_retryable());
    }
}
