//! A command's context: the validated config, which node this is, the runner and the output
//! settings. The engine sees it through [`engine::Context`]; the checks of each capability
//! get all of it.

use std::path::PathBuf;

use crate::cli::Global;
use crate::config::Config;
use crate::domain::facts::Mode;
use crate::engine::lock::HostLock;
use crate::engine::runner::Runner;
use crate::engine::{self, Settings};
use crate::process::shell_quote;

/// The plans and steps of nfs-manage's commands, checked against this context.
pub type Plan = engine::plan::Plan<Ctx>;
pub type Step = engine::plan::Step<Ctx>;

/// Everything a command needs: the validated config, which node this is, the runner and
/// the output settings.
pub struct Ctx {
    pub config: Config,
    pub config_path: PathBuf,
    pub node: String,
    pub runner: Runner,
    pub global: Global,
    settings: Settings,
}

impl engine::Context for Ctx {
    fn runner(&self) -> &Runner {
        &self.runner
    }
    fn settings(&self) -> &Settings {
        &self.settings
    }
}

/// This binary's path, for the steps that run nfs-manage itself (the local half of a
/// failover, bdsync's remote wrapper, the cache expiry); `nfs-manage` from PATH if unknown.
pub fn self_exe() -> String {
    std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "nfs-manage".into())
}

impl Ctx {
    pub fn new(global: &Global) -> anyhow::Result<Ctx> {
        let config = Config::load(&global.config)?;
        Ctx::with_config(global, config)
    }

    /// A context for a config already loaded (from `global.config`).
    pub fn with_config(global: &Global, config: Config) -> anyhow::Result<Ctx> {
        let node = config.this_node(global.node.as_deref())?;
        let runner = Runner::new(
            global.dry_run,
            global.verbose,
            config.timeouts.probe,
            config.timeouts.step,
        )
        .with_packages(crate::tools::package_of);
        crate::engine::signals::set_grace(config.timeouts.grace);
        let settings = Settings {
            node: node.clone(),
            cluster: config.cluster.clone(),
            journal: config.paths.journal.clone(),
            dry_run: global.dry_run,
            yes: global.yes,
            json: global.json,
            quiet: global.quiet,
        };
        Ok(Ctx {
            config,
            config_path: global.config.clone(),
            node,
            runner,
            global: global.clone(),
            settings,
        })
    }

    /// The host lock for a run that changes things, waiting up to `--wait-lock` for another
    /// run's. A dry run takes none: it changes nothing and must not wait behind a run that does.
    pub fn host_lock(&self) -> anyhow::Result<Option<HostLock>> {
        if self.global.dry_run {
            return Ok(None);
        }
        HostLock::acquire_wait(&self.config.paths.lock, self.global.wait_lock).map(Some)
    }

    /// How a plan gathers facts: a dry run shows its plan even on a machine without DRBD or
    /// systemd; a real run needs every probe to answer.
    pub fn plan_mode(&self) -> Mode {
        if self.global.dry_run {
            Mode::Lenient
        } else {
            Mode::Strict
        }
    }

    /// The command line to rerun a subcommand with this run's config and node, for messages.
    pub fn self_command(&self, sub: &str) -> String {
        let mut s = String::from("nfs-manage");
        if self.config_path != std::path::Path::new(crate::cli::DEFAULT_CONFIG) {
            s.push_str(&format!(
                " --config {}",
                shell_quote(&self.config_path.display().to_string())
            ));
        }
        if let Some(n) = &self.global.node {
            s.push_str(&format!(" --node {}", shell_quote(n)));
        }
        s.push(' ');
        s.push_str(sub);
        s
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        if self.global.verbose {
            errln!("nfs-manage: {} processes spawned", self.runner.spawned());
        }
    }
}

/// A context for unit tests: `config` (YAML) on node `node`, nothing run yet.
#[cfg(test)]
pub fn test_ctx(config: &str, node: &str) -> Ctx {
    let global = Global {
        config: PathBuf::from("c.yaml"),
        fleet: crate::config::fleet::DEFAULT_FLEET.into(),
        node: Some(node.into()),
        dry_run: false,
        yes: false,
        json: false,
        quiet: false,
        verbose: false,
        no_color: true,
        wait_lock: None,
        detailed_exitcode: false,
    };
    Ctx::with_config(
        &global,
        Config::parse(std::path::Path::new("c.yaml"), config).unwrap(),
    )
    .unwrap()
}
