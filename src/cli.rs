//! Command-line definitions (clap derive). No logic lives here: `commands/` does the work.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub const DEFAULT_CONFIG: &str = "/etc/nfs-manage/cluster.yaml";

/// Run a DRBD-replicated NFS storage pair: bring it up and down in ordered,
/// verified steps, and say what is true about it.
///
/// Every state-changing command prints its plan first; `--dry-run` stops there.
/// Off a terminal nothing prompts, and a plan that changes anything needs `--yes`.
#[derive(Debug, Parser)]
#[command(name = "nfs-manage", version, propagate_version = true, max_term_width = 100, after_long_help = crate::exit::help())]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
pub struct Global {
    /// Cluster configuration file
    #[arg(long, global = true, env = "NFS_MANAGE_CONFIG", default_value = DEFAULT_CONFIG, value_name = "FILE")]
    pub config: PathBuf,
    /// Which node of the config this host is (default: the short hostname)
    #[arg(long, global = true, env = "NFS_MANAGE_NODE", value_name = "NAME")]
    pub node: Option<String>,
    /// Print the plan and stop; change nothing and send nothing on the network
    #[arg(long, global = true)]
    pub dry_run: bool,
    /// Run a state-changing plan without asking (required off a terminal)
    #[arg(long, short = 'y', global = true)]
    pub yes: bool,
    /// Machine-readable output (an object with "format_version": 1)
    #[arg(long, global = true)]
    pub json: bool,
    /// Print nothing on success (for cron); errors still go to stderr
    #[arg(long, short = 'q', global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Show every command spawned, with its exit code and time
    #[arg(long, short = 'v', global = true)]
    pub verbose: bool,
    /// No colours (also: NO_COLOR set, or output not a terminal)
    #[arg(long, global = true)]
    pub no_color: bool,
    /// Wait this long (e.g. 30s) for another run's host lock instead of exiting 4 at once
    #[arg(long, global = true, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub wait_lock: Option<std::time::Duration>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show DRBD, mounts, exports, NFS and the service IP, and the node's overall role
    Status,
    /// Bring the service up on this node: DRBD Primary, mount, NFS, exports, services, IP
    Up,
    /// Take the service down on this node, in the exact reverse order of `up`
    Down(DownArgs),
    /// Move the service to the other node: preflight, lock, down there, proof, up here
    Failover(FailoverArgs),
    /// Work with the configuration file
    #[command(subcommand)]
    Config(ConfigCommand),
    /// The cluster lock in etcd: who holds it, and the audited manual override
    #[command(subcommand)]
    Lock(LockCommand),
    /// Write shell completions and man pages (used to refresh completions/ and man/)
    #[command(hide = true)]
    Generate(GenerateArgs),
}

#[derive(Debug, Args)]
pub struct DownArgs {
    /// Kill the processes that hold a mount (TERM, then KILL) instead of stopping
    #[arg(long)]
    pub force_unmount: bool,
    /// Leave dual-primary volumes Primary and mounted (only NFS and the IP go; used by failover)
    #[arg(long)]
    pub keep_dual_primary: bool,
}

#[derive(Debug, Args)]
pub struct FailoverArgs {
    /// The node that takes over (default: the node that is not active)
    #[arg(long, value_name = "NODE")]
    pub to: Option<String>,
    /// Go ahead while DRBD resyncs (the target must still be UpToDate)
    #[arg(long)]
    pub allow_resync: bool,
    /// The active node is hard-down: take over from here without it, only with evidence
    /// (unreachable over ssh, DRBD not connected, no ARP answer for the service IP) and
    /// after `failover.fence_command` succeeded, when configured; promotes with --force
    #[arg(long)]
    pub peer_dead: bool,
}

#[derive(Debug, Subcommand)]
pub enum LockCommand {
    /// Show who holds the cluster lock, since when, and its revision
    Show,
    /// Delete the cluster lock whoever holds it (audited: journaled with operator and reason)
    Break(BreakArgs),
}

#[derive(Debug, Args)]
pub struct BreakArgs {
    /// Why the lock is broken (recorded in the journal)
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration (keys, types, names, paths, DRBD resources)
    Check,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Directory for bash, zsh and fish completions
    #[arg(long, value_name = "DIR", default_value = "completions")]
    pub completions: PathBuf,
    /// Directory for man pages (one per subcommand)
    #[arg(long, value_name = "DIR", default_value = "man")]
    pub man: PathBuf,
}
