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
    /// Bad arguments that clap cannot check (a project name, a volume that does not exist).
    #[error("{0}")]
    Usage(String),
    /// Some facts could not be probed: a dry run's steps, or `fleet status`'s hosts, are unknown.
    #[error("{0}")]
    Unknown(String),
    /// Stopped by SIGINT or SIGTERM (exit 128 + the signal: 130, 143).
    #[error("{message}")]
    Interrupted { signal: i32, message: String },
    /// Everything was already said on stdout; exit with this code and print nothing more
    /// (`check` speaks the Nagios codes through this).
    #[error("")]
    Silent(u8),
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
            Error::Unknown(_) => exit::UNKNOWN_FACTS,
            Error::Interrupted { signal, .. } => (128 + signal).clamp(0, 255) as u8,
            Error::Silent(code) => *code,
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
