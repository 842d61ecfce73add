//! Errors that carry an exit code. Everything else is an `anyhow::Error` and exits 1.

use crate::exit;

/// A failure with a documented exit code. Wrapped in `anyhow::Error` on the way up;
/// `main` finds it again with `downcast_ref` (context layers are transparent to that).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("refused: {0}")]
    Refused(String),
    #[error("{0}")]
    LockHeld(String),
    #[error("`{tool}` is not installed or not on PATH (Debian package: {package})")]
    ToolMissing { tool: String, package: &'static str },
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    StepFailed(String),
    /// Bad input on the command line (an unknown backup name, a bad path): exit 2.
    #[error("{0}")]
    Usage(String),
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Refused(_) => exit::REFUSED,
            Error::LockHeld(_) => exit::LOCKED,
            Error::ToolMissing { .. } => exit::TOOL_MISSING,
            Error::Config(_) => exit::CONFIG,
            Error::StepFailed(_) => exit::STEP_FAILED,
            Error::Usage(_) => exit::USAGE,
        }
    }
}

/// The exit code for any error: ours if one is in the chain, else 1.
pub fn exit_code_of(err: &anyhow::Error) -> u8 {
    err.chain()
        .find_map(|e| e.downcast_ref::<Error>())
        .map(Error::exit_code)
        .unwrap_or(exit::STEP_FAILED)
}
