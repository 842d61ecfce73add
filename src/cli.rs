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
    /// The fleet layout (fleet, where, client-config): a file, or
    /// etcd://HOST:PORT[,HOST:PORT…]/KEY (one etcd key holding the same YAML). Without a layout
    /// file at the default place, the cluster config (--config) is a fleet of one
    #[arg(long = "fleet", global = true, env = "NFS_MANAGE_FLEET", default_value = crate::config::fleet::DEFAULT_FLEET, value_name = "SOURCE")]
    pub fleet: String,
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
    /// Exit codes for scripts that plan: 0 nothing to do, 2 the plan had steps to run (pending
    /// in a dry run, done in a run), 1 any error
    #[arg(long, global = true)]
    pub detailed_exitcode: bool,
    /// Wait this long (e.g. 30s) for another run's host lock instead of exiting 4 at once
    #[arg(long, global = true, value_name = "DURATION", value_parser = crate::config::parse_duration)]
    pub wait_lock: Option<std::time::Duration>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show DRBD, mounts, exports, NFS and the service IP, and the node's overall role
    Status(StatusArgs),
    /// Bring the service up on this node: DRBD Primary, mount, NFS, exports, services, IP
    Up,
    /// Take the service down on this node, in the exact reverse order of `up`
    Down(DownArgs),
    /// Move the service to the other node: preflight, lock, down there, proof, up here
    Failover(FailoverArgs),
    /// DRBD volumes: bring one up from blank disks
    #[command(subcommand)]
    Volume(VolumeCommand),
    /// Work with the configuration file
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Give a project an NFS export: GID, project file, directory, exports
    EnableProject(EnableProjectArgs),
    /// Withdraw a project's exports; its data stays where it is
    DisableProject(DisableProjectArgs),
    /// Render and apply project and public exports
    #[command(subcommand)]
    Exports(ExportsCommand),
    /// Projects across the fleet: move one to another cluster
    #[command(subcommand)]
    Project(ProjectCommand),
    /// Nagios/Icinga plugin: one line `NFS-MANAGE OK|WARNING|CRITICAL|UNKNOWN - …`, exit 0-3
    Check(CheckArgs),
    /// Prometheus metrics (text format) on stdout, or atomically into a textfile directory
    Metrics(MetricsArgs),
    /// rsync each `sync:` entry to (or from) its peer, from the node holding the service IP
    Sync(SyncArgs),
    /// Block-device backups: pull a source LV into a local LV, mount snapshots of it
    #[command(subcommand)]
    Backup(BackupCommand),
    /// The cluster lock in etcd: who holds it, and the audited manual override
    #[command(subcommand)]
    Lock(LockCommand),
    /// The fleet layout (fleet.yaml): every cluster in one file
    #[command(subcommand)]
    Fleet(FleetCommand),
    /// Where a project, volume, path or client address lives, and the commands to run for it
    Where(WhereArgs),
    /// The mount lines clients need for projects' exports (fstab, autofs or systemd)
    ClientConfig(ClientConfigArgs),
    /// Write shell completions and man pages (used to refresh completions/ and man/)
    #[command(hide = true)]
    Generate(GenerateArgs),
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Also show what holds each mounted volume (fuser): pid, command and user
    #[arg(long)]
    pub holders: bool,
}

#[derive(Debug, Args)]
pub struct DownArgs {
    /// Stop the processes that hold a mount instead of refusing: TERM, then KILL after
    /// --kill-after
    #[arg(long)]
    pub force_unmount: bool,
    /// With --force-unmount: how long the holders have to exit after TERM before KILL
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = humantime::parse_duration)]
    pub kill_after: std::time::Duration,
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
    /// after `failover.fence_command` succeeded (without one, --peer-fenced is required);
    /// promotes with --force
    #[arg(long)]
    pub peer_dead: bool,
    /// With --peer-dead: you have powered the peer off yourself (BMC, PDU, hypervisor) and
    /// checked it is off; no fence_command is run, and the journal records your word
    #[arg(long, requires = "peer_dead")]
    pub peer_fenced: bool,
}

#[derive(Debug, Subcommand)]
pub enum VolumeCommand {
    /// Bring up a volume's DRBD from blank disks: create-md, up, then --first,
    /// --skip-initial-sync or --join; optionally a filesystem (--mkfs)
    Init(VolumeInitArgs),
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("mode").required(true).args(["first", "skip_initial_sync", "join"])))]
pub struct VolumeInitArgs {
    /// The volume (volumes[].name in the config); it must have a `drbd:` resource
    pub name: String,
    /// This node is the first leg, alone: its disk becomes the data (`primary --force`),
    /// usable at once
    #[arg(long)]
    pub first: bool,
    /// Both nodes are blank: declare them in sync without copying (run it on both nodes; the
    /// first host of the DRBD config runs `new-current-uuid --clear-bitmap`)
    #[arg(long)]
    pub skip_initial_sync: bool,
    /// Join a Primary that has the data: a full sync to this node as SyncTarget
    #[arg(long)]
    pub join: bool,
    /// With --join: wait until this node is UpToDate, showing progress (Ctrl-C stops waiting;
    /// DRBD goes on syncing)
    #[arg(long, requires = "join")]
    pub wait: bool,
    /// With --wait: give up waiting after this long (default: no limit)
    #[arg(long, value_name = "DURATION", requires = "wait", value_parser = humantime::parse_duration)]
    pub wait_limit: Option<std::time::Duration>,
    /// How long to wait for the peer to connect (--skip-initial-sync, --join)
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = humantime::parse_duration)]
    pub connect_timeout: std::time::Duration,
    /// Make a filesystem of this type on the DRBD device (with --first; it must match the
    /// volume's `fstype:`, and the device must hold no filesystem)
    #[arg(long, value_name = "FSTYPE")]
    pub mkfs: Option<String>,
    /// Overwrite a backing disk that holds a filesystem or DRBD meta-data
    #[arg(long)]
    pub force: bool,
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
pub enum ProjectCommand {
    /// Move a project to another cluster of the fleet: rsync passes while it stays writable,
    /// a short read-only pause for the final pass and the comparisons, then its exports
    /// switched to the target; the data here is kept
    Move(ProjectMoveArgs),
}

#[derive(Debug, Args)]
pub struct ProjectMoveArgs {
    /// The project
    pub name: String,
    /// The target: a cluster of the fleet layout, and its volume when it has more than one
    #[arg(
        long,
        value_name = "CLUSTER[/VOLUME]",
        required_unless_present = "cleanup",
        conflicts_with = "cleanup"
    )]
    pub to: Option<String>,
    /// Remove the data a move left here, once exports.keep_moved has passed since the move
    #[arg(long)]
    pub cleanup: bool,
    /// rsync passes before the pause, at least (2 or more)
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub passes: usize,
    /// More passes while the last one changed more than --settle-files/--settle-bytes, up
    /// to this many in all; still more than that refuses the pause
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub max_passes: usize,
    /// The pause starts only when the last pass changed at most this many entries
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub settle_files: usize,
    /// …and moved at most this many bytes (e.g. 1G; binary units)
    #[arg(long, value_name = "SIZE", default_value = "1G", value_parser = crate::config::fleet::parse_size)]
    pub settle_bytes: u64,
}

#[derive(Debug, Args)]
pub struct EnableProjectArgs {
    /// Project name (its group is project-NAME)
    pub name: String,
    /// The project's GID (default: from `getent group project-NAME`)
    #[arg(long, value_name = "N")]
    pub gid: Option<u32>,
    /// Volume that holds the project directory (default: the only volume)
    #[arg(long, value_name = "V")]
    pub volume: Option<String>,
    /// Directory under the volume's mountpoint (default: shared/NAME)
    #[arg(long, value_name = "REL")]
    pub path: Option<std::path::PathBuf>,
    /// Static clients: addresses or CIDRs, comma-separated or repeated
    #[arg(long, value_delimiter = ',', value_name = "ADDR")]
    pub clients: Vec<String>,
    /// Command whose stdout is a JSON list of the project's client addresses (one string,
    /// split like a shell would, run without a shell)
    #[arg(long, value_name = "COMMAND")]
    pub clients_command: Option<String>,
}

#[derive(Debug, Args)]
pub struct DisableProjectArgs {
    /// Project name
    pub name: String,
}

#[derive(Debug, Subcommand)]
pub enum ExportsCommand {
    /// Render one exports file per project plus the public ones, and apply what changed
    Sync(ExportsSyncArgs),
    /// Write project files from an existing nfs-mounts.yaml
    Import(ImportArgs),
    /// Expire the kernel's cached export answers for these client addresses (run by
    /// `exports sync` and `enable-project` after a netgroup membership change)
    #[command(hide = true)]
    ExpireCache(ExpireCacheArgs),
}

#[derive(Debug, Args)]
pub struct ExpireCacheArgs {
    /// The addresses whose netgroup membership changed
    #[arg(required = true, value_name = "ADDRESS")]
    pub addresses: Vec<std::net::IpAddr>,
}

#[derive(Debug, Args)]
pub struct ExportsSyncArgs {
    /// Run again every SECONDS (as a service), taking the host lock for each run
    #[arg(long, value_name = "SECONDS", value_parser = crate::config::parse_interval)]
    pub interval: Option<u64>,
    /// Apply even when more than exports.max_shrink_percent of the client entries would go
    #[arg(long)]
    pub force: bool,
    /// Stop after this many runs (with --interval)
    #[arg(long, hide = true, value_name = "N")]
    pub runs: Option<u32>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The nfs-mounts.yaml to read (volumes_served, public, private)
    pub file: std::path::PathBuf,
    /// Volume that holds the imported projects' directories (default: the only volume)
    #[arg(long, value_name = "V")]
    pub volume: Option<String>,
    /// Directory of each project under the volume; {name} is the project name
    #[arg(long, value_name = "TEMPLATE", default_value = "shared/{name}")]
    pub path: String,
    /// Static clients for every imported project (comma-separated or repeated)
    #[arg(long, value_delimiter = ',', value_name = "ADDR")]
    pub clients: Vec<String>,
    /// Clients command for every imported project; {name} is the project name
    #[arg(long, value_name = "COMMAND")]
    pub clients_command: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration (keys, types, names, paths, DRBD resources)
    Check,
}

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Pull the source LV into the local target LV (bdsync or rsync over ssh), as a plan:
    /// pre-sync snapshot, remote snapshot, sync, check, remote snapshot removed
    Run(BackupRunArgs),
    /// Mount a read-only snapshot of a backup to restore files from it; the backup job keeps
    /// running meanwhile, because its target LV itself is not mounted
    Mount(BackupMountArgs),
    /// Unmount a backup mount and remove its snapshot (`--expired`: every mount past its TTL)
    Umount(BackupUmountArgs),
    /// Each backup: last run, result, duration, bytes, snapshot fill, open mounts
    List,
    /// Run a command and record its exit status (bdsync starts its server through this)
    #[command(hide = true)]
    WrapRemote(WrapRemoteArgs),
}

#[derive(Debug, Args)]
pub struct BackupRunArgs {
    /// The backup's name (backups[].name in the config)
    pub name: String,
}

#[derive(Debug, Args)]
pub struct BackupMountArgs {
    /// The backup's name (backups[].name in the config)
    pub name: String,
    /// Where to mount it (default: backups[].mountpoint, else /mnt/nfs-manage/NAME)
    pub mountpoint: Option<PathBuf>,
    /// How long the mount may stay before `backup umount --expired` removes it (default:
    /// backups[].ttl, 4h)
    #[arg(long, value_name = "DURATION", value_parser = crate::config::parse_duration)]
    pub ttl: Option<std::time::Duration>,
}

#[derive(Debug, Args)]
pub struct BackupUmountArgs {
    /// The backup's name
    #[arg(required_unless_present = "expired", conflicts_with = "expired")]
    pub name: Option<String>,
    /// Unmount every backup mount past its TTL (for a timer)
    #[arg(long)]
    pub expired: bool,
}

#[derive(Debug, Args)]
pub struct WrapRemoteArgs {
    /// Where to write {"rc":…,"signal":…,"stderr":…} when the command ends
    #[arg(long, value_name = "FILE")]
    pub status_file: PathBuf,
    /// The command and its arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    pub command: Vec<String>,
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

/// What `check` looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CheckWhat {
    /// DRBD: local disk, peer connection and disk, resync, two Primaries
    Drbd,
    /// The node's overall role (with --expect: that it is the expected one)
    Role,
    /// The service IP: on this node exactly when it should be
    ServiceIp,
    /// The NFS server and extra services, and the volumes they serve mounted
    Nfs,
    /// Exports only of mounted volumes
    Exports,
    /// Backups: last run failed or too old, snapshot fill, backup mounts past their TTL
    Backups,
    /// Everything above (backups only when configured)
    All,
}

/// The role this node is supposed to have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Expect {
    Active,
    Standby,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Which check to run
    #[arg(value_enum, default_value = "all")]
    pub what: CheckWhat,
    /// The role this node should have; any other role is CRITICAL
    #[arg(long, value_enum)]
    pub expect: Option<Expect>,
}

#[derive(Debug, Args)]
pub struct MetricsArgs {
    /// Write DIR/nfs_manage.prom atomically (for node_exporter's textfile collector)
    /// instead of printing to stdout
    #[arg(long, value_name = "DIR")]
    pub textfile: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Only this `sync:` entry (default: all of them)
    #[arg(value_name = "NAME")]
    pub name: Option<String>,
    /// Keep running: start again SECONDS after the previous run finished (at least 1)
    #[arg(long, value_name = "SECONDS", value_parser = crate::config::parse_interval)]
    pub interval: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum FleetCommand {
    /// Write (or --check) the cluster.yaml each node derives from the layout
    Render(FleetRenderArgs),
    /// Every cluster at once: each node's role, volumes and their usage against the target,
    /// replication, problems, and each backup's age and state (never, stale, failed: a
    /// problem); asked in parallel, a host that does not answer shown as unknown (and exit 5)
    Status(FleetStatusArgs),
    /// Propose the volume with the most headroom under its target for a new project
    Place(FleetPlaceArgs),
}

#[derive(Debug, Args)]
pub struct FleetRenderArgs {
    /// Change nothing: say which configs differ from the layout; exit 1 if any does
    #[arg(long)]
    pub check: bool,
    /// Write DIR/NODE/cluster.yaml for every node of every cluster, instead of this host's
    /// own config (--config)
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Replace a config that was not rendered from a layout (a hand-written one)
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct FleetStatusArgs {
    /// How long each host may take to answer before it is shown as unknown
    #[arg(long, value_name = "DURATION", default_value = "20s", value_parser = crate::config::parse_duration)]
    pub host_timeout: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct FleetPlaceArgs {
    /// The new project's name
    pub project: String,
    /// The space it needs, e.g. 500G or 2T (binary units)
    #[arg(long, value_name = "SIZE", value_parser = crate::config::fleet::parse_size)]
    pub size: u64,
    /// How long each host may take to answer before it is shown as unknown
    #[arg(long, value_name = "DURATION", default_value = "20s", value_parser = crate::config::parse_duration)]
    pub host_timeout: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct WhereArgs {
    /// A project, a volume (NAME or CLUSTER/NAME), a cluster, a node, a path on a storage
    /// node, or a client's address
    pub thing: String,
    /// Do not ask etcd or the nodes which node serves now
    #[arg(long)]
    pub offline: bool,
}

/// How `client-config` writes a mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MountFormat {
    /// /etc/fstab lines
    Fstab,
    /// autofs map entries (auto.master: MOUNT_ROOT /etc/auto.nfs-manage)
    Autofs,
    /// systemd .mount units
    Systemd,
}

#[derive(Debug, Args)]
pub struct ClientConfigArgs {
    /// The project (default with --all: every project of the fleet)
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub project: Option<String>,
    /// Every project of the fleet
    #[arg(long)]
    pub all: bool,
    #[arg(long, value_enum, default_value = "fstab")]
    pub format: MountFormat,
}
