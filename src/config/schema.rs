//! The config's types, with their defaults: what each key may hold.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use serde::{Deserialize, Deserializer};

use super::*;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub cluster: String,
    pub nodes: BTreeMap<String, Node>,
    /// The DRBD configuration every drbdadm call reads (`drbdadm -c FILE`); default:
    /// drbdadm's own /etc/drbd.conf. A relative path is taken from the config file's
    /// directory, so a config and its DRBD resources can travel together (the examples).
    #[serde(default)]
    pub drbd_config: Option<PathBuf>,
    #[serde(default)]
    pub service_ip: Option<ServiceIp>,
    #[serde(default)]
    pub nfs: Nfs,
    pub volumes: Vec<Volume>,
    #[serde(default)]
    pub services: Vec<String>,
    #[serde(default)]
    pub lock: Option<LockConfig>,
    #[serde(default)]
    pub remote: Option<Remote>,
    #[serde(default)]
    pub failover: FailoverConfig,
    #[serde(default = "default_projects_dir")]
    pub projects_dir: PathBuf,
    #[serde(default)]
    pub backups: Vec<Backup>,
    #[serde(default)]
    pub sync: Vec<SyncEntry>,
    #[serde(default)]
    pub paths: Paths,
    #[serde(default)]
    pub timeouts: Timeouts,
    /// Exports every client may mount (rendered into `exports_dir/public.exports`).
    #[serde(default)]
    pub public: Vec<PublicExport>,
    /// How `exports sync` renders and applies project and public exports.
    #[serde(default)]
    pub exports: ExportsConfig,
}

/// One public export, e.g. `/srv/scratch *(rw,sec=sys,sync,no_subtree_check,root_squash)`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicExport {
    pub name: String,
    pub path: PathBuf,
    /// `*`, addresses or CIDRs.
    #[serde(default = "default_public_clients")]
    pub clients: Vec<String>,
    pub options: Vec<String>,
    /// Pinned so file handles survive failover; public exports have no GID to derive it from.
    pub fsid: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportsConfig {
    /// Refuse a sync that would remove more than this share of the client entries (--force).
    #[serde(default = "default_max_shrink_percent")]
    pub max_shrink_percent: u8,
    /// Where the previous set of managed exports files is kept before a sync changes them.
    #[serde(default = "default_exports_backup")]
    pub backup: PathBuf,
    /// Time limit for each project's `clients_command`.
    #[serde(default = "default_clients_timeout", deserialize_with = "duration")]
    pub clients_timeout: Duration,
    /// Whether one export (project or public) may lie inside another's path.
    #[serde(default)]
    pub allow_nested: bool,
    /// The widest IPv4 network a project may be exported to (static clients and what a
    /// clients_command prints); `0.0.0.0/0` is the world.
    #[serde(default = "default_widest_ipv4")]
    pub widest_ipv4_prefix: u8,
    /// The same for IPv6.
    #[serde(default = "default_widest_ipv6")]
    pub widest_ipv6_prefix: u8,
    /// How a project's clients are written for exportfs.
    #[serde(default)]
    pub layout: ExportsLayout,
    /// How long a moved project's data stays on the source before `project move --cleanup`.
    #[serde(default = "default_keep_moved", deserialize_with = "duration")]
    pub keep_moved: Duration,
}

/// How a project's client addresses reach exportfs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExportsLayout {
    /// One exports entry per client address (the classic layout; nfs-exportd's).
    #[default]
    PerClient,
    /// One entry per project, `@project-NAME`, its addresses in /etc/netgroup: exportfs's
    /// table stays one entry per project, and a membership change needs no exportfs run.
    Netgroup,
}

impl Default for ExportsConfig {
    fn default() -> Self {
        ExportsConfig {
            max_shrink_percent: default_max_shrink_percent(),
            backup: default_exports_backup(),
            clients_timeout: default_clients_timeout(),
            allow_nested: false,
            widest_ipv4_prefix: default_widest_ipv4(),
            widest_ipv6_prefix: default_widest_ipv6(),
            layout: ExportsLayout::default(),
            keep_moved: default_keep_moved(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    pub address: IpAddr,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceIp {
    /// Address with its prefix length, e.g. `10.64.37.18/24`.
    #[serde(deserialize_with = "ip_with_prefix")]
    pub address: IpNet,
    pub interface: String,
    /// Refreshed with arping (from the service IP) after the IP is added.
    #[serde(default)]
    pub announce_to: Option<IpAddr>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nfs {
    #[serde(default = "default_nfs_service")]
    pub service: String,
    #[serde(default = "default_exports_dir")]
    pub exports_dir: PathBuf,
}

impl Default for Nfs {
    fn default() -> Self {
        Nfs {
            service: default_nfs_service(),
            exports_dir: default_exports_dir(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Volume {
    pub name: String,
    /// DRBD resource; absent for a plain block device.
    #[serde(default)]
    pub drbd: Option<String>,
    pub device: PathBuf,
    pub mountpoint: PathBuf,
    /// Always explicit: a DRBD backing device may probe as "drbd".
    pub fstype: String,
    #[serde(default)]
    pub mount_options: Vec<String>,
    /// Primary and mounted on both nodes (OCFS2 with allow-two-primaries).
    #[serde(default)]
    pub dual_primary: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockConfig {
    pub etcd: EtcdConfig,
}

/// The etcd lock: the active node is recorded under `<prefix>/<cluster>/active`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EtcdConfig {
    /// Client URLs, like `http://10.64.37.20:2379`.
    pub endpoints: Vec<String>,
    #[serde(default = "default_etcd_prefix")]
    pub prefix: String,
    /// Time limit for one etcdctl call (dial and request included).
    #[serde(default = "default_etcd_timeout", deserialize_with = "duration")]
    pub timeout: Duration,
}

/// `failover` settings. Everything is optional; `remote` (ssh) is what failover needs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailoverConfig {
    /// Run (argv, no shell) before a `--peer-dead` failover promotes, to power the peer off
    /// (e.g. `[ipmitool, -H, 10.64.40.7, …, chassis, power, off]`). Must exit 0.
    #[serde(default)]
    pub fence_command: Option<Vec<String>>,
    /// Time limit for `fence_command`.
    #[serde(default = "default_fence_timeout", deserialize_with = "duration")]
    pub fence_timeout: Duration,
    /// Time limit for a short command on the peer over ssh (preflight probes).
    #[serde(default = "default_ssh_timeout", deserialize_with = "duration")]
    pub ssh_timeout: Duration,
    /// Time limit for `nfs-manage down`/`up` run on the peer over ssh.
    #[serde(default = "default_remote_timeout", deserialize_with = "duration")]
    pub remote_timeout: Duration,
}

impl Default for FailoverConfig {
    fn default() -> Self {
        FailoverConfig {
            fence_command: None,
            fence_timeout: default_fence_timeout(),
            ssh_timeout: default_ssh_timeout(),
            remote_timeout: default_remote_timeout(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Remote {
    pub ssh: Vec<String>,
    #[serde(default = "default_remote_user")]
    pub user: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Paths {
    #[serde(default = "default_journal")]
    pub journal: PathBuf,
    #[serde(default = "default_lock_file")]
    pub lock: PathBuf,
    /// Where state that outlives a run is kept (open backup mounts).
    #[serde(default = "default_state_dir")]
    pub state: PathBuf,
}

impl Default for Paths {
    fn default() -> Self {
        Paths {
            journal: default_journal(),
            lock: default_lock_file(),
            state: default_state_dir(),
        }
    }
}

/// Per-command time limits; a command past its limit is killed and its step fails.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timeouts {
    /// Read-only probes (status, role, is-active…).
    #[serde(default = "default_probe_timeout", deserialize_with = "duration")]
    pub probe: Duration,
    /// State-changing steps (promote, mount, start…).
    #[serde(default = "default_step_timeout", deserialize_with = "duration")]
    pub step: Duration,
    /// After SIGINT or SIGTERM, how long the step in progress may take to finish before it is
    /// stopped.
    #[serde(default = "default_grace", deserialize_with = "duration")]
    pub grace: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            probe: default_probe_timeout(),
            step: default_step_timeout(),
            grace: default_grace(),
        }
    }
}

/// One `sync:` entry: rsync a tree to the peer node (push) or from a canonical source host
/// (pull), run by `nfs-manage sync` on the node that holds the service IP.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncEntry {
    pub name: String,
    /// The local tree: the source of a push, the destination of a pull. Its contents are
    /// synced (rsync `path/`), never the directory itself into another one.
    pub path: PathBuf,
    /// The tree on the other side (default: the same path).
    #[serde(default)]
    pub peer_path: Option<PathBuf>,
    #[serde(default)]
    pub direction: Direction,
    /// Push only: the node (a key of `nodes`) to push to; default: the one other node.
    #[serde(default)]
    pub peer: Option<String>,
    /// Pull only (required there): the host to pull from, a host name or an address.
    #[serde(default)]
    pub source: Option<String>,
    /// rsync --bwlimit, in KiB per second.
    #[serde(default)]
    pub bwlimit: Option<u32>,
    /// rsync --timeout: give up after this long without any data moving.
    #[serde(default = "default_sync_timeout", deserialize_with = "duration")]
    pub timeout: Duration,
    /// Kill the whole rsync run after this long (the run fails and is journaled).
    #[serde(default = "default_sync_max_runtime", deserialize_with = "duration")]
    pub max_runtime: Duration,
    /// Extra rsync options, one per item, e.g. [--delete, --hard-links].
    #[serde(default)]
    pub options: Vec<String>,
    /// rsync --exclude patterns, one per item.
    #[serde(default)]
    pub exclude: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    #[default]
    Push,
    Pull,
}

impl SyncEntry {
    pub fn peer_path(&self) -> &Path {
        self.peer_path.as_deref().unwrap_or(&self.path)
    }
}

pub(super) fn default_sync_timeout() -> Duration {
    Duration::from_secs(1200)
}
pub(super) fn default_sync_max_runtime() -> Duration {
    Duration::from_secs(12 * 3600)
}

pub(super) fn default_projects_dir() -> PathBuf {
    "/etc/nfs-manage/projects.d".into()
}
pub(super) fn default_nfs_service() -> String {
    "nfs-server".into()
}
pub(super) fn default_exports_dir() -> PathBuf {
    "/etc/exports.d".into()
}
pub(super) fn default_etcd_prefix() -> String {
    "/nfs-manage".into()
}
pub(super) fn default_etcd_timeout() -> Duration {
    Duration::from_secs(5)
}
pub(super) fn default_fence_timeout() -> Duration {
    Duration::from_secs(120)
}
pub(super) fn default_ssh_timeout() -> Duration {
    Duration::from_secs(15)
}
pub(super) fn default_remote_timeout() -> Duration {
    Duration::from_secs(600)
}
pub(super) fn default_remote_user() -> String {
    "root".into()
}
pub(super) fn default_journal() -> PathBuf {
    "/var/lib/nfs-manage/journal.jsonl".into()
}
pub(super) fn default_lock_file() -> PathBuf {
    "/run/nfs-manage/lock".into()
}
pub(super) fn default_public_clients() -> Vec<String> {
    vec!["*".into()]
}
pub(super) fn default_max_shrink_percent() -> u8 {
    20
}
pub(super) fn default_exports_backup() -> PathBuf {
    "/etc/exports.bak".into()
}
pub(super) fn default_clients_timeout() -> Duration {
    Duration::from_secs(30)
}
pub(super) fn default_keep_moved() -> Duration {
    Duration::from_secs(7 * 24 * 3600)
}
pub(super) fn default_widest_ipv4() -> u8 {
    16
}
pub(super) fn default_widest_ipv6() -> u8 {
    48
}
pub(super) fn default_state_dir() -> PathBuf {
    "/var/lib/nfs-manage".into()
}
pub(super) fn default_probe_timeout() -> Duration {
    Duration::from_secs(30)
}
pub(super) fn default_grace() -> Duration {
    Duration::from_secs(30)
}
pub(super) fn default_step_timeout() -> Duration {
    Duration::from_secs(300)
}

fn ip_with_prefix<'de, D: Deserializer<'de>>(d: D) -> Result<IpNet, D::Error> {
    let s = String::deserialize(d)?;
    if !s.contains('/') {
        return Err(serde::de::Error::custom(format!(
            "expected an address with its prefix length, like 10.64.37.18/24; got {s:?}"
        )));
    }
    s.parse::<IpNet>().map_err(|_| {
        serde::de::Error::custom(format!(
            "expected an address with prefix like 10.64.37.18/24; got {s:?}"
        ))
    })
}

/// The longest duration nfs-manage accepts anywhere (config, `--ttl`, `--wait-lock`,
/// `--interval`): 100 years. Longer ones are typing mistakes, and they would overflow
/// the clock arithmetic (a deadline past the end of `Instant`, an expiry past year 9999).
pub const MAX_DURATION: Duration = Duration::from_secs(36525 * 86400);

/// A duration like `30s`, `5m` or `4h 30m`, at most [`MAX_DURATION`].
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s)
        .map_err(|e| format!("expected a duration like 30s or 5m; got {s:?} ({e})"))?;
    if d > MAX_DURATION {
        return Err(format!(
            "{s:?} is longer than the longest accepted duration ({}); expected something like 30s, 5m or 4h",
            humantime::format_duration(MAX_DURATION)
        ));
    }
    Ok(d)
}

/// `--interval SECONDS`: a whole number from 1 to [`MAX_DURATION`] in seconds.
pub fn parse_interval(s: &str) -> Result<u64, String> {
    let n: u64 = s
        .trim()
        .parse()
        .map_err(|_| format!("expected a whole number of seconds, like 300; got {s:?}"))?;
    if n == 0 {
        return Err("0 would run without a pause; expected at least 1 second".into());
    }
    if n > MAX_DURATION.as_secs() {
        return Err(format!(
            "{n} seconds is longer than the longest accepted interval ({} s, 100 years)",
            MAX_DURATION.as_secs()
        ));
    }
    Ok(n)
}

pub(crate) fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    parse_duration(&s).map_err(serde::de::Error::custom)
}
