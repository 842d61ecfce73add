//! The engine every state-changing command runs on: facts → plan → run → verify → journal.
//! It knows processes, plans, checks, files and the journal — and nothing of storage: what a
//! step does and how it is checked come from the modules of each capability (`domain`).
//!
//! - [`plan`]: ordered steps, each with one action, an optional guard and a check.
//! - [`check`]: the guard and check traits the capabilities implement.
//! - [`execute`]: prints the plan, asks (or requires `--yes` off a terminal), then runs each
//!   step through the [`runner`], re-checks its guard right before it and its postcondition
//!   after it, journaling every step; stops at the first failure or keeps going, as the
//!   command's policy says.
//! - [`runner`]: the one place processes are spawned; [`files`]: atomic file writes.
//! - [`journal`]: one JSON line per step; [`lock`]: one run at a time per host.
//! - [`parallel`]: in-process work (reading many small files) shared out over the CPUs.

pub mod check;
pub mod execute;
pub mod files;
pub mod journal;
pub mod lock;
pub mod logging;
pub mod parallel;
pub mod plan;
pub mod runner;
pub mod signals;

use std::path::PathBuf;

use runner::Runner;

/// What a run is told about where and how it runs.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// This node's name and its cluster's, for the journal and messages.
    pub node: String,
    pub cluster: String,
    pub journal: PathBuf,
    pub dry_run: bool,
    /// Run without asking.
    pub yes: bool,
    /// Print one JSON document instead of tables.
    pub json: bool,
    pub quiet: bool,
}

/// What the engine needs of a command's context; the checks get the whole context.
pub trait Context: Sync {
    fn runner(&self) -> &Runner;
    fn settings(&self) -> &Settings;
}
