//! The engine every state-changing command runs on: facts → plan → run → verify → journal.
//!
//! - [`facts`] probes live state once per run, one call per tool.
//! - A command (in `commands/`) compares facts with the wanted state and builds a [`plan::Plan`];
//!   steps that already hold are marked `already`, so rerunning converges.
//! - [`execute`] prints the plan, asks (or requires `--yes` off a terminal), then runs each step
//!   through the [`runner`], re-checks its guard right before it and verifies its postcondition
//!   by probing again after it, journaling every step. The first failure stops the run.
//! - [`lock`] keeps it to one run at a time per host.

pub mod backup_check;
pub mod check;
pub mod cluster_lock;
pub mod execute;
pub mod facts;
pub mod files;
pub mod journal;
pub mod lock;
pub mod logging;
pub mod plan;
pub mod runner;

use std::path::PathBuf;

use crate::cli::Global;
use crate::config::Config;
use runner::Runner;

/// Everything a command needs: the validated config, which node this is, the runner and
/// the output settings.
pub struct Ctx {
    pub config: Config,
    pub config_path: PathBuf,
    pub node: String,
    pub runner: Runner,
    pub global: Global,
}

impl Ctx {
    pub fn new(global: &Global) -> anyhow::Result<Ctx> {
        let config = Config::load(&global.config)?;
        let node = config.this_node(global.node.as_deref())?;
        let runner = Runner::new(
            global.dry_run,
            global.verbose,
            config.timeouts.probe,
            config.timeouts.step,
        );
        Ok(Ctx {
            config,
            config_path: global.config.clone(),
            node,
            runner,
            global: global.clone(),
        })
    }

    /// The host lock for a run that changes things, waiting up to `--wait-lock` for another
    /// run's. A dry run takes none: it changes nothing and must not wait behind a run that does.
    pub fn host_lock(&self) -> anyhow::Result<Option<lock::HostLock>> {
        if self.global.dry_run {
            return Ok(None);
        }
        lock::HostLock::acquire_wait(&self.config.paths.lock, self.global.wait_lock).map(Some)
    }

    /// How a plan gathers facts: a dry run shows its plan even on a machine without DRBD or
    /// systemd; a real run needs every probe to answer.
    pub fn plan_mode(&self) -> facts::Mode {
        if self.global.dry_run {
            facts::Mode::Lenient
        } else {
            facts::Mode::Strict
        }
    }

    /// The command line to rerun a subcommand with this run's config and node, for messages.
    pub fn self_command(&self, sub: &str) -> String {
        let mut s = String::from("nfs-manage");
        if self.config_path != std::path::Path::new(crate::cli::DEFAULT_CONFIG) {
            s.push_str(&format!(
                " --config {}",
                runner::shell_quote(&self.config_path.display().to_string())
            ));
        }
        if let Some(n) = &self.global.node {
            s.push_str(&format!(" --node {}", runner::shell_quote(n)));
        }
        s.push(' ');
        s.push_str(sub);
        s
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        if self.global.verbose {
            eprintln!("nfs-manage: {} processes spawned", self.runner.spawned());
        }
    }
}
