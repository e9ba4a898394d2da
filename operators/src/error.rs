//! Errors of the operators crate.

/// Result alias for operators.
pub type Result<T, E = OperatorError> = std::result::Result<T, E>;

/// Errors raised by operators.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    /// An operator parameter is invalid (user error).
    #[error("operator {operator}: invalid parameter: {message}")]
    InvalidParameter {
        /// The operator.
        operator: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The alert rules' configuration is invalid (user error).
    #[error("alert rules: {0}")]
    Config(String),
    /// Building an output batch failed (internal error).
    #[error(transparent)]
    Engine(#[from] msec_engine::EngineError),
}
