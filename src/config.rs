//! The cluster configuration (`/etc/nfs-manage/cluster.yaml`).
//!
//! Loading is strict: unknown keys, wrong types and semantic mistakes (duplicate names,
//! nested mountpoints, bad unit or interface names…) are all errors, and every error is
//! reported as `FILE:LINE:COLUMN: PATH: what is wrong and what was expected`.
//! yaml_serde gives positions for type errors; for the semantic checks we walk the
//! document's events once (saphyr-parser) to map each key path to where its value stands.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use serde::{Deserialize, Deserializer};

mod backups;
pub mod reference;
use crate::error::Error;
pub use backups::{Backup, LvRef, MOUNT_ROOT, Snapshot, Snapshots, Source, Transport};

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
}

impl Default for ExportsConfig {
    fn default() -> Self {
        ExportsConfig {
            max_shrink_percent: default_max_shrink_percent(),
            backup: default_exports_backup(),
            clients_timeout: default_clients_timeout(),
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
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            probe: default_probe_timeout(),
            step: default_step_timeout(),
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

fn default_sync_timeout() -> Duration {
    Duration::from_secs(1200)
}
fn default_sync_max_runtime() -> Duration {
    Duration::from_secs(12 * 3600)
}

fn default_projects_dir() -> PathBuf {
    "/etc/nfs-manage/projects.d".into()
}
fn default_nfs_service() -> String {
    "nfs-server".into()
}
fn default_exports_dir() -> PathBuf {
    "/etc/exports.d".into()
}
fn default_etcd_prefix() -> String {
    "/nfs-manage".into()
}
fn default_etcd_timeout() -> Duration {
    Duration::from_secs(5)
}
fn default_fence_timeout() -> Duration {
    Duration::from_secs(120)
}
fn default_ssh_timeout() -> Duration {
    Duration::from_secs(15)
}
fn default_remote_timeout() -> Duration {
    Duration::from_secs(600)
}
fn default_remote_user() -> String {
    "root".into()
}
fn default_journal() -> PathBuf {
    "/var/lib/nfs-manage/journal.jsonl".into()
}
fn default_lock_file() -> PathBuf {
    "/run/nfs-manage/lock".into()
}
fn default_public_clients() -> Vec<String> {
    vec!["*".into()]
}
fn default_max_shrink_percent() -> u8 {
    20
}
fn default_exports_backup() -> PathBuf {
    "/etc/exports.bak".into()
}
fn default_clients_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_state_dir() -> PathBuf {
    "/var/lib/nfs-manage".into()
}
fn default_probe_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_step_timeout() -> Duration {
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

pub(crate) fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    humantime::parse_duration(&s).map_err(|e| {
        serde::de::Error::custom(format!(
            "expected a duration like 30s or 5m; got {s:?} ({e})"
        ))
    })
}

impl Config {
    /// Read, parse and validate. Every failure is `Error::Config` (exit 78).
    pub fn load(path: &Path) -> Result<Config, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::Config(format!(
                "{}: cannot read the configuration: {e}",
                path.display()
            ))
        })?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Config, Error> {
        let file = path.display().to_string();
        let mut config: Config =
            yaml_serde::from_str(text).map_err(|e| Error::Config(yaml_error(&file, &e)))?;
        let problems = config.validate();
        if problems.is_empty() {
            // Absolute, so the plan, the journal and a peer run name the same file.
            if let Some(d) = &config.drbd_config {
                let joined = path.parent().unwrap_or(Path::new("")).join(d);
                config.drbd_config = Some(std::path::absolute(&joined).unwrap_or(joined));
            }
            return Ok(config);
        }
        let index = Positions::of(text);
        Err(Error::Config(render_problems(&file, &index, &problems)))
    }

    /// Semantic checks that serde cannot express. Returns (key path, message) pairs.
    pub fn validate(&self) -> Vec<Problem> {
        let mut p = Vec::new();
        check_name(&mut p, "cluster", &self.cluster, "a cluster name");
        if self.nodes.is_empty() {
            p.push(Problem::new("nodes", "expected at least one node"));
        }
        for name in self.nodes.keys() {
            check_name(&mut p, &format!("nodes.{name}"), name, "a host name");
        }
        if let Some(ip) = &self.service_ip {
            if !valid_ifname(&ip.interface) {
                p.push(Problem::new(
                    "service_ip.interface",
                    format!(
                        "{:?} is not an interface name (1-15 characters, no '/', ':' or spaces)",
                        ip.interface
                    ),
                ));
            }
            if ip.address.addr() == ip.address.network()
                && ip.address.prefix_len() < ip.address.max_prefix_len()
            {
                p.push(Problem::new(
                    "service_ip.address",
                    format!(
                        "{} is a network address; expected a host address inside it",
                        ip.address
                    ),
                ));
            }
            if let Some(gw) = ip.announce_to
                && gw.is_ipv4() != ip.address.addr().is_ipv4()
            {
                p.push(Problem::new(
                    "service_ip.announce_to",
                    "expected an address of the same family as service_ip.address",
                ));
            }
        }
        if let Some(d) = &self.drbd_config
            && d.as_os_str().is_empty()
        {
            p.push(Problem::new(
                "drbd_config",
                "expected the path of a DRBD configuration file (leave it out for /etc/drbd.conf)",
            ));
        }
        check_unit(&mut p, "nfs.service", &self.nfs.service);
        check_abs(&mut p, "nfs.exports_dir", &self.nfs.exports_dir);
        check_abs(&mut p, "projects_dir", &self.projects_dir);
        check_abs(&mut p, "paths.journal", &self.paths.journal);
        check_abs(&mut p, "paths.lock", &self.paths.lock);
        check_abs(&mut p, "paths.state", &self.paths.state);
        // A backup host may have backups and no volumes of its own.
        if self.volumes.is_empty() && self.backups.is_empty() {
            p.push(Problem::new("volumes", "expected at least one volume"));
        }
        let mut names: HashMap<&str, usize> = HashMap::new();
        let mut mountpoints: HashMap<&Path, usize> = HashMap::new();
        let mut devices: HashMap<&Path, usize> = HashMap::new();
        for (i, v) in self.volumes.iter().enumerate() {
            let at = |k: &str| format!("volumes[{i}].{k}");
            check_name(&mut p, &at("name"), &v.name, "a volume name");
            if let Some(first) = names.insert(&v.name, i) {
                p.push(Problem::new(
                    at("name"),
                    format!("duplicate volume name {:?} (also volumes[{first}])", v.name),
                ));
            }
            if let Some(res) = &v.drbd {
                check_name(&mut p, &at("drbd"), res, "a DRBD resource name");
            } else if v.dual_primary {
                p.push(Problem::new(
                    at("dual_primary"),
                    "dual_primary needs a DRBD resource (volumes[].drbd)",
                ));
            }
            check_abs(&mut p, &at("device"), &v.device);
            if !v.device.starts_with("/dev/") {
                p.push(Problem::new(
                    at("device"),
                    format!("{} is not under /dev", v.device.display()),
                ));
            }
            if let Some(first) = devices.insert(&v.device, i) {
                p.push(Problem::new(
                    at("device"),
                    format!("device {} is also volumes[{first}]'s", v.device.display()),
                ));
            }
            check_abs(&mut p, &at("mountpoint"), &v.mountpoint);
            if v.mountpoint == Path::new("/") {
                p.push(Problem::new(
                    at("mountpoint"),
                    "the root directory cannot be a volume's mountpoint",
                ));
            }
            if let Some(first) = mountpoints.insert(&v.mountpoint, i) {
                p.push(Problem::new(
                    at("mountpoint"),
                    format!(
                        "duplicate mountpoint {} (also volumes[{first}])",
                        v.mountpoint.display()
                    ),
                ));
            }
            if v.fstype.is_empty()
                || !v
                    .fstype
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            {
                p.push(Problem::new(
                    at("fstype"),
                    format!("{:?} is not a filesystem type like ext4 or ocfs2", v.fstype),
                ));
            }
            for (j, o) in v.mount_options.iter().enumerate() {
                if o.is_empty() || o.contains(',') || o.chars().any(char::is_whitespace) {
                    p.push(Problem::new(
                        format!("volumes[{i}].mount_options[{j}]"),
                        format!(
                            "{o:?}: expected one option per list item, without commas or spaces"
                        ),
                    ));
                }
            }
        }
        for (i, a) in self.volumes.iter().enumerate() {
            for (j, b) in self.volumes.iter().enumerate() {
                if i != j && a.mountpoint != b.mountpoint && b.mountpoint.starts_with(&a.mountpoint)
                {
                    p.push(Problem::new(
                        format!("volumes[{j}].mountpoint"),
                        format!(
                            "{} is inside volumes[{i}]'s mountpoint {}; nested volumes are not supported",
                            b.mountpoint.display(),
                            a.mountpoint.display()
                        ),
                    ));
                }
            }
        }
        for (i, s) in self.services.iter().enumerate() {
            check_unit(&mut p, &format!("services[{i}]"), s);
            if unit_name(s) == unit_name(&self.nfs.service) {
                p.push(Problem::new(
                    format!("services[{i}]"),
                    "the NFS service is managed by nfs.service; do not list it again",
                ));
            }
        }
        if let Some(l) = &self.lock {
            check_etcd(&mut p, &l.etcd);
        }
        if let Some(r) = &self.remote {
            if r.ssh.is_empty() || r.ssh[0].is_empty() {
                p.push(Problem::new(
                    "remote.ssh",
                    "expected the ssh command as a list, like [ssh, -o, BatchMode=yes]",
                ));
            }
            check_name(&mut p, "remote.user", &r.user, "a user name");
        }
        if let Some(f) = &self.failover.fence_command
            && (f.is_empty() || f[0].is_empty())
        {
            p.push(Problem::new(
                "failover.fence_command",
                "expected a command as a list (argv, no shell), like [ipmitool, -H, 10.64.40.7, chassis, power, off]; leave it out for none",
            ));
        }
        self.validate_exports(&mut p);
        self.validate_sync(&mut p);
        backups::validate(self, &mut p);
        for (key, d) in [
            ("failover.fence_timeout", self.failover.fence_timeout),
            ("failover.ssh_timeout", self.failover.ssh_timeout),
            ("failover.remote_timeout", self.failover.remote_timeout),
        ] {
            if d.is_zero() {
                p.push(Problem::new(key, "expected a duration above zero"));
            }
        }
        if self.timeouts.probe.is_zero() {
            p.push(Problem::new(
                "timeouts.probe",
                "expected a duration above zero",
            ));
        }
        if self.timeouts.step.is_zero() {
            p.push(Problem::new(
                "timeouts.step",
                "expected a duration above zero",
            ));
        }
        p
    }

    fn validate_exports(&self, p: &mut Vec<Problem>) {
        let e = &self.exports;
        if e.max_shrink_percent > 100 {
            p.push(Problem::new(
                "exports.max_shrink_percent",
                format!(
                    "{} is not a percentage: expected 0-100",
                    e.max_shrink_percent
                ),
            ));
        }
        check_abs(p, "exports.backup", &e.backup);
        if e.clients_timeout.is_zero() {
            p.push(Problem::new(
                "exports.clients_timeout",
                "expected a duration above zero",
            ));
        }
        let mut names: HashMap<&str, usize> = HashMap::new();
        let mut fsids: HashMap<u32, usize> = HashMap::new();
        let mut paths: HashMap<&Path, usize> = HashMap::new();
        for (i, x) in self.public.iter().enumerate() {
            let at = |k: &str| format!("public[{i}].{k}");
            check_name(p, &at("name"), &x.name, "an export name");
            if let Some(first) = names.insert(&x.name, i) {
                p.push(Problem::new(
                    at("name"),
                    format!(
                        "duplicate public export name {:?} (also public[{first}])",
                        x.name
                    ),
                ));
            }
            check_abs(p, &at("path"), &x.path);
            if let Some(first) = paths.insert(&x.path, i) {
                p.push(Problem::new(
                    at("path"),
                    format!("{} is also public[{first}]'s path", x.path.display()),
                ));
            }
            if self.volume_of(&x.path).is_none() {
                p.push(Problem::new(
                    at("path"),
                    format!(
                        "{} is not on any volume; expected a path under one of the volumes' mountpoints",
                        x.path.display()
                    ),
                ));
            }
            if let Some(first) = fsids.insert(x.fsid, i) {
                p.push(Problem::new(
                    at("fsid"),
                    format!(
                        "fsid {} is also public[{first}]'s; each export needs its own",
                        x.fsid
                    ),
                ));
            }
            if x.clients.is_empty() {
                p.push(Problem::new(
                    at("clients"),
                    "expected at least one client (\"*\" for everyone)",
                ));
            }
            for (j, c) in x.clients.iter().enumerate() {
                if c != "*" && parse_client(c).is_none() {
                    p.push(Problem::new(
                        format!("public[{i}].clients[{j}]"),
                        format!("{c:?} is not a client: expected \"*\", an address or a CIDR like 192.0.2.0/24"),
                    ));
                }
            }
            check_export_options(p, &at("options"), &x.options);
        }
    }

    /// The volume whose mountpoint holds `path` (the deepest, though volumes do not nest).
    pub fn volume_of(&self, path: &Path) -> Option<&Volume> {
        self.volumes
            .iter()
            .filter(|v| path.starts_with(&v.mountpoint))
            .max_by_key(|v| v.mountpoint.components().count())
    }

    fn validate_sync(&self, p: &mut Vec<Problem>) {
        let mut names: HashMap<&str, usize> = HashMap::new();
        for (i, e) in self.sync.iter().enumerate() {
            let at = |k: &str| format!("sync[{i}].{k}");
            check_name(p, &at("name"), &e.name, "a sync entry name");
            if let Some(first) = names.insert(&e.name, i) {
                p.push(Problem::new(
                    at("name"),
                    format!("duplicate sync name {:?} (also sync[{first}])", e.name),
                ));
            }
            check_abs(p, &at("path"), &e.path);
            if e.path == Path::new("/") {
                p.push(Problem::new(
                    at("path"),
                    "refusing to sync the root directory",
                ));
            }
            if let Some(pp) = &e.peer_path {
                check_abs(p, &at("peer_path"), pp);
                if pp == Path::new("/") {
                    p.push(Problem::new(
                        at("peer_path"),
                        "refusing to sync the root directory",
                    ));
                }
            }
            match e.direction {
                Direction::Push => {
                    if e.source.is_some() {
                        p.push(Problem::new(
                            at("source"),
                            "source is for `direction: pull`; a push goes to `peer`",
                        ));
                    }
                    match &e.peer {
                        Some(peer) if !self.nodes.contains_key(peer) => p.push(Problem::new(
                            at("peer"),
                            format!("{peer:?} is not one of the cluster's nodes"),
                        )),
                        Some(_) => {}
                        None if self.nodes.len() != 2 => p.push(Problem::new(
                            at("peer"),
                            "expected the node to push to (there is no single other node to default to)",
                        )),
                        None => {}
                    }
                }
                Direction::Pull => {
                    if e.peer.is_some() {
                        p.push(Problem::new(
                            at("peer"),
                            "peer is for `direction: push`; a pull comes from `source`",
                        ));
                    }
                    match &e.source {
                        None => p.push(Problem::new(
                            at("direction"),
                            "`direction: pull` needs `source`, the host to pull from",
                        )),
                        Some(s) if !valid_host(s) => p.push(Problem::new(
                            at("source"),
                            format!("{s:?} is not a host name or an address"),
                        )),
                        Some(_) => {}
                    }
                }
            }
            if self.remote.is_none() {
                p.push(Problem::new(
                    format!("sync[{i}]"),
                    "sync runs rsync over ssh: the `remote` section (remote.ssh) is required",
                ));
            }
            if e.bwlimit == Some(0) {
                p.push(Problem::new(
                    at("bwlimit"),
                    "expected KiB per second above zero (leave it out for no limit)",
                ));
            }
            if e.timeout.is_zero() || e.timeout.subsec_nanos() != 0 {
                p.push(Problem::new(
                    at("timeout"),
                    "expected a whole number of seconds above zero, like 20m",
                ));
            }
            if e.max_runtime.is_zero() {
                p.push(Problem::new(
                    at("max_runtime"),
                    "expected a duration above zero",
                ));
            }
            for (j, o) in e.options.iter().enumerate() {
                let flag = o.split('=').next().unwrap_or_default();
                let why = if !o.starts_with('-')
                    || o.chars().any(|c| c.is_whitespace() || c.is_control())
                {
                    Some(
                        "expected one rsync option per item, like --delete (starting with '-', no spaces)",
                    )
                } else if matches!(flag, "-e" | "--rsh" | "--rsync-path")
                    || (flag.starts_with('-') && !flag.starts_with("--") && flag.contains('e'))
                {
                    Some(
                        "the remote shell comes from remote.ssh; do not set -e/--rsh/--rsync-path here",
                    )
                } else if matches!(
                    flag,
                    "-n" | "--dry-run" | "--remove-source-files" | "--daemon" | "--server"
                ) {
                    Some("this option changes what a sync run means; it is not allowed here")
                } else {
                    None
                };
                if let Some(why) = why {
                    p.push(Problem::new(
                        format!("sync[{i}].options[{j}]"),
                        format!("{o:?}: {why}"),
                    ));
                }
            }
            for (j, x) in e.exclude.iter().enumerate() {
                if x.is_empty() || x.contains('\n') {
                    p.push(Problem::new(
                        format!("sync[{i}].exclude[{j}]"),
                        "expected one rsync exclude pattern per item, on one line",
                    ));
                }
            }
        }
    }

    /// Which node this host is: `--node`, else the short host name. Must be one of `nodes`.
    pub fn this_node(&self, explicit: Option<&str>) -> Result<String, Error> {
        let name = match explicit {
            Some(n) => n.to_string(),
            None => {
                let host = nix::unistd::gethostname()
                    .map_err(|e| Error::Config(format!("cannot read this host's name: {e}")))?;
                let host = host.to_string_lossy();
                host.split('.').next().unwrap_or_default().to_string()
            }
        };
        if self.nodes.contains_key(&name) {
            Ok(name)
        } else {
            let known: Vec<&str> = self.nodes.keys().map(String::as_str).collect();
            Err(Error::Config(format!(
                "this host is {name:?}, which is not one of the cluster's nodes ({}); pass --node NAME",
                known.join(", ")
            )))
        }
    }

    pub fn has_drbd(&self) -> bool {
        self.volumes.iter().any(|v| v.drbd.is_some())
    }

    /// DRBD resources in config order, each once.
    pub fn drbd_resources(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for r in self.volumes.iter().filter_map(|v| v.drbd.as_deref()) {
            if !out.contains(&r) {
                out.push(r);
            }
        }
        out
    }

    /// Every unit this config manages: NFS first, then the extra services.
    pub fn units(&self) -> Vec<&str> {
        std::iter::once(self.nfs.service.as_str())
            .chain(self.services.iter().map(String::as_str))
            .collect()
    }

    /// True when every volume of `resource` is dual-primary.
    pub fn resource_dual_primary(&self, resource: &str) -> bool {
        self.volumes
            .iter()
            .filter(|v| v.drbd.as_deref() == Some(resource))
            .all(|v| v.dual_primary)
    }
}

/// `nginx` and `nginx.service` name the same unit.
pub fn unit_name(s: &str) -> &str {
    s.strip_suffix(".service").unwrap_or(s)
}

#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl Problem {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// An NFS client as nfs-manage writes it: an IP address, or a network in CIDR form
/// (normalised: host bits cleared; a full-length prefix is written as a plain address).
pub fn parse_client(s: &str) -> Option<String> {
    if let Ok(a) = s.parse::<IpAddr>() {
        return Some(a.to_string());
    }
    let n: IpNet = s.parse().ok()?;
    if n.prefix_len() == n.max_prefix_len() {
        Some(n.addr().to_string())
    } else {
        Some(n.trunc().to_string())
    }
}

/// Export options as a list, one per item: `rw`, `sync`, `sec=sys`… The fsid is its own key.
pub fn check_export_options(p: &mut Vec<Problem>, path: &str, options: &[String]) {
    for (j, o) in options.iter().enumerate() {
        let bad = o.is_empty()
            || !o
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_=:.-/@".contains(c));
        if bad {
            p.push(Problem::new(
                format!("{path}[{j}]"),
                format!("{o:?}: expected one export option per list item, like rw or sec=sys (no commas, spaces or parentheses)"),
            ));
        } else if o.starts_with("fsid=") {
            p.push(Problem::new(
                format!("{path}[{j}]"),
                "the fsid has its own key (fsid:); do not put it in the options",
            ));
        }
    }
}

/// "a, b, c", or "none": the names an error message offers instead of an unknown one.
pub fn names_or_none<S: AsRef<str>>(names: &[S]) -> String {
    if names.is_empty() {
        "none".to_string()
    } else {
        names
            .iter()
            .map(AsRef::as_ref)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

pub(crate) fn check_name(p: &mut Vec<Problem>, path: &str, value: &str, what: &str) {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if !ok {
        p.push(Problem::new(
            path,
            format!("{value:?} is not {what}: expected 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"),
        ));
    }
}

fn check_etcd(p: &mut Vec<Problem>, e: &EtcdConfig) {
    if e.endpoints.is_empty() {
        p.push(Problem::new(
            "lock.etcd.endpoints",
            "expected at least one etcd client URL, like http://10.64.37.20:2379",
        ));
    }
    for (i, url) in e.endpoints.iter().enumerate() {
        if !valid_endpoint(url) {
            p.push(Problem::new(
                format!("lock.etcd.endpoints[{i}]"),
                format!("{url:?} is not an etcd client URL: expected http:// or https://, a host and a port, like http://10.64.37.20:2379"),
            ));
        }
    }
    // The prefix goes into etcdctl transaction text: keep it to plain characters.
    let clean = e.prefix.starts_with('/')
        && e.prefix.len() > 1
        && !e.prefix.ends_with('/')
        && !e.prefix.contains("//")
        && e.prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c));
    if !clean {
        p.push(Problem::new(
            "lock.etcd.prefix",
            format!(
                "{:?} is not a key prefix: expected /like/this (letters, digits, '.', '_', '-'; no trailing '/')",
                e.prefix
            ),
        ));
    }
    if e.timeout.is_zero() {
        p.push(Problem::new(
            "lock.etcd.timeout",
            "expected a duration above zero",
        ));
    }
}

/// `http://host:port` or `https://host:port` (IPv6 hosts in brackets), nothing after the port.
fn valid_endpoint(url: &str) -> bool {
    let Some(rest) = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
    else {
        return false;
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let Some((host, port)) = rest.rsplit_once(':') else {
        return false;
    };
    let host_ok = if let Some(h) = host.strip_prefix('[') {
        h.strip_suffix(']')
            .is_some_and(|a| a.parse::<std::net::Ipv6Addr>().is_ok())
    } else {
        !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-".contains(c))
    };
    host_ok && port.parse::<u16>().is_ok_and(|p| p > 0)
}

fn check_unit(p: &mut Vec<Problem>, path: &str, value: &str) {
    let ok = !value.is_empty()
        && !value.starts_with('-')
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "@._:-\\".contains(c));
    if !ok {
        p.push(Problem::new(
            path,
            format!("{value:?} is not a systemd unit name like nfs-server or nginx.service"),
        ));
    }
}

pub(crate) fn check_abs(p: &mut Vec<Problem>, path: &str, value: &Path) {
    let s = value.to_string_lossy();
    let clean = value.is_absolute()
        && (s == "/" || !s.ends_with('/'))
        && !s.contains("//")
        && value
            .components()
            .all(|c| matches!(c, Component::RootDir | Component::Normal(_)))
        && !s.chars().any(|c| c.is_control());
    if !clean {
        p.push(Problem::new(
            path,
            format!("{s:?} is not a clean absolute path (expected /like/this, without '.', '..', '//' or a trailing '/')"),
        ));
    }
}

/// A DNS name (letters, digits, '-' and '.') or an IP address; nothing ssh or rsync could
/// read as an option or a path.
fn valid_host(s: &str) -> bool {
    s.parse::<IpAddr>().is_ok()
        || (!s.is_empty()
            && s.len() <= 253
            && s.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            }))
}

fn valid_ifname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 15
        && s != "."
        && s != ".."
        && !s.chars().any(|c| c == '/' || c == ':' || c.is_whitespace())
}

pub(crate) fn yaml_error(file: &str, e: &yaml_serde::Error) -> String {
    let msg = e.to_string();
    // yaml_serde appends " at line L column C"; we put the position first instead.
    let msg = match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg,
    };
    match e.location() {
        Some(l) => format!("{file}:{}:{}: {msg}", l.line(), l.column()),
        None => format!("{file}: {msg}"),
    }
}

pub(crate) fn render_problems(file: &str, index: &Positions, problems: &[Problem]) -> String {
    let mut out = String::new();
    for (n, pr) in problems.iter().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let (line, col) = index.find(&pr.path).unwrap_or((1, 1));
        let _ = write!(out, "{file}:{line}:{col}: {}: {}", pr.path, pr.message);
    }
    out
}

/// Where each key path's value starts (1-based line and column), e.g. `volumes[1].name`.
#[derive(Debug, Default)]
pub struct Positions(HashMap<String, (usize, usize)>);

enum Frame {
    Map { path: String, key: Option<String> },
    Seq { path: String, next: usize },
}

impl Positions {
    pub fn of(text: &str) -> Positions {
        use saphyr_parser::{Event, Parser};
        let mut map = HashMap::new();
        let mut stack: Vec<Frame> = Vec::new();
        for item in Parser::new_from_str(text) {
            let Ok((event, span)) = item else { break };
            let pos = (span.start.line(), span.start.col() + 1);
            let starts_node = matches!(
                event,
                Event::Scalar(..)
                    | Event::MappingStart(..)
                    | Event::SequenceStart(..)
                    | Event::Alias(..)
            );
            if starts_node {
                // Is this node a mapping key? Then remember it and wait for its value.
                if let Some(Frame::Map { key, .. }) = stack.last_mut()
                    && key.is_none()
                {
                    *key = Some(match &event {
                        Event::Scalar(s, ..) => s.to_string(),
                        _ => String::from("?"),
                    });
                    if !matches!(event, Event::Scalar(..)) {
                        // Complex keys do not occur in our config; skip their contents.
                        stack.push(Frame::Map {
                            path: "?".into(),
                            key: None,
                        });
                    }
                    continue;
                }
                let path = match stack.last_mut() {
                    None => String::new(),
                    Some(Frame::Map { path, key }) => {
                        let k = key.take().unwrap_or_default();
                        if path.is_empty() {
                            k
                        } else {
                            format!("{path}.{k}")
                        }
                    }
                    Some(Frame::Seq { path, next }) => {
                        *next += 1;
                        format!("{path}[{}]", *next - 1)
                    }
                };
                map.entry(path.clone()).or_insert(pos);
                match event {
                    Event::MappingStart(..) => stack.push(Frame::Map { path, key: None }),
                    Event::SequenceStart(..) => stack.push(Frame::Seq { path, next: 0 }),
                    _ => {}
                }
            } else if matches!(event, Event::MappingEnd | Event::SequenceEnd) {
                stack.pop();
            }
        }
        Positions(map)
    }

    /// The position of `path`, or of its nearest ancestor that exists.
    pub fn find(&self, path: &str) -> Option<(usize, usize)> {
        let mut p = path;
        loop {
            if let Some(pos) = self.0.get(p) {
                return Some(*pos);
            }
            let cut = p.rfind(['.', '['])?;
            p = &p[..cut];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "\
cluster: labstore-primary
nodes:
  labstore1004: { address: 10.64.37.6 }
  labstore1005: { address: 10.64.37.7 }
service_ip:
  address: 10.64.37.18/24
  interface: eth0
  announce_to: 10.64.37.1
volumes:
  - name: tools
    drbd: tools
    device: /dev/drbd4
    mountpoint: /srv/tools
    fstype: ext4
    mount_options: [noatime]
  - name: misc
    drbd: misc
    device: /dev/drbd3
    mountpoint: /srv/misc
    fstype: ext4
services: [nginx]
";

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(Path::new("c.yaml"), text).map_err(|e| e.to_string())
    }

    #[test]
    fn good_config_parses_with_defaults() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.nfs.service, "nfs-server");
        assert_eq!(c.nfs.exports_dir, Path::new("/etc/exports.d"));
        assert_eq!(c.volumes[0].mount_options, vec!["noatime"]);
        assert_eq!(c.service_ip.unwrap().address.prefix_len(), 24);
        assert_eq!(c.paths.lock, Path::new("/run/nfs-manage/lock"));
    }

    #[test]
    fn unknown_key_names_line_and_column() {
        let bad = GOOD.replace(
            "    fstype: ext4\n    mount_options",
            "    fstyp: ext4\n    mount_options",
        );
        let e = parse(&bad).unwrap_err();
        assert!(
            e.starts_with("c.yaml:14:5: volumes[0]: unknown field `fstyp`"),
            "{e}"
        );
    }

    #[test]
    fn wrong_type_names_position() {
        let bad = GOOD.replace("address: 10.64.37.6", "address: nope");
        let e = parse(&bad).unwrap_err();
        assert!(e.starts_with("c.yaml:3:"), "{e}");
        assert!(e.contains("nodes.labstore1004.address"), "{e}");
    }

    #[test]
    fn duplicate_name_and_mountpoint_point_at_the_second() {
        let bad = GOOD
            .replace("name: misc", "name: tools")
            .replace("/srv/misc", "/srv/tools");
        let e = parse(&bad).unwrap_err();
        assert!(
            e.contains(
                "c.yaml:16:11: volumes[1].name: duplicate volume name \"tools\" (also volumes[0])"
            ),
            "{e}"
        );
        assert!(
            e.contains("c.yaml:19:17: volumes[1].mountpoint: duplicate mountpoint /srv/tools"),
            "{e}"
        );
    }

    #[test]
    fn nested_mountpoints_rejected() {
        let bad = GOOD.replace("/srv/misc", "/srv/tools/misc");
        let e = parse(&bad).unwrap_err();
        assert!(
            e.contains("volumes[1].mountpoint: /srv/tools/misc is inside volumes[0]'s mountpoint"),
            "{e}"
        );
    }

    #[test]
    fn service_ip_needs_prefix_and_sane_interface() {
        let e = parse(&GOOD.replace("10.64.37.18/24", "10.64.37.18")).unwrap_err();
        assert!(
            e.starts_with("c.yaml:6:") && e.contains("prefix length"),
            "{e}"
        );
        let e = parse(&GOOD.replace("interface: eth0", "interface: eth0/x")).unwrap_err();
        assert!(e.contains("c.yaml:7:14: service_ip.interface:"), "{e}");
    }

    #[test]
    fn bad_paths_and_names() {
        let e = parse(&GOOD.replace("/srv/tools", "srv/../tools")).unwrap_err();
        assert!(
            e.contains("volumes[0].mountpoint: \"srv/../tools\" is not a clean absolute path"),
            "{e}"
        );
        let e = parse(&GOOD.replace("name: tools", "name: \"to ols\"")).unwrap_err();
        assert!(
            e.contains("volumes[0].name: \"to ols\" is not a volume name"),
            "{e}"
        );
        let e = parse(&GOOD.replace("device: /dev/drbd4", "device: /tmp/x")).unwrap_err();
        assert!(e.contains("is not under /dev"), "{e}");
        let e = parse(&GOOD.replace("[noatime]", "[\"noatime,ro\"]")).unwrap_err();
        assert!(e.contains("volumes[0].mount_options[0]"), "{e}");
    }

    #[test]
    fn empty_optional_sections_parse() {
        assert!(parse(&format!("{GOOD}backups: []\nsync: []\npublic: []\n")).is_ok());
    }

    const REMOTE: &str = "remote: { ssh: [ssh, -o, BatchMode=yes] }\n";

    #[test]
    fn sync_entries_are_typed_with_defaults() {
        let c = parse(&format!(
            "{GOOD}{REMOTE}sync:\n  - {{ name: tools, path: /srv/tools, bwlimit: 40000, options: [--delete], exclude: [.snapshot/] }}\n  - {{ name: dumps, path: /srv/dumps, direction: pull, source: dumps1001.eqiad.wmnet, peer_path: /data/dumps, timeout: 5m }}\n"
        ))
        .unwrap();
        let t = &c.sync[0];
        assert_eq!(t.direction, Direction::Push);
        assert_eq!(t.peer_path(), Path::new("/srv/tools"));
        assert_eq!(t.timeout, Duration::from_secs(1200));
        assert_eq!(t.bwlimit, Some(40000));
        let d = &c.sync[1];
        assert_eq!(d.direction, Direction::Pull);
        assert_eq!(d.peer_path(), Path::new("/data/dumps"));
        assert_eq!(d.timeout, Duration::from_secs(300));
    }

    #[test]
    fn sync_entries_are_validated() {
        let e = parse(&format!(
            "{GOOD}{REMOTE}sync:\n  - {{ name: a, path: /srv/a, direction: pull }}\n  - {{ name: a, path: /srv/b/, peer: nobody, bwlimit: 0, options: [\"-ae ssh\", --rsh=x, -avz, --dry-run], direction: sideways }}\n"
        ))
        .unwrap_err();
        assert!(e.contains("unknown variant `sideways`"), "{e}");
        let e = parse(&format!(
            "{GOOD}{REMOTE}sync:\n  - {{ name: a, path: /srv/a, direction: pull }}\n  - {{ name: a, path: /srv/b/, peer: nobody, bwlimit: 0, options: [\"-a e\", --rsh=x, -ve, --dry-run, -aH], source: x }}\n"
        ))
        .unwrap_err();
        for want in [
            "sync[0].direction: `direction: pull` needs `source`",
            "sync[1].name: duplicate sync name",
            "sync[1].path: \"/srv/b/\" is not a clean absolute path",
            "sync[1].peer: \"nobody\" is not one of the cluster's nodes",
            "sync[1].source: source is for `direction: pull`",
            "sync[1].bwlimit:",
            "sync[1].options[0]:",
            "sync[1].options[1]: \"--rsh=x\": the remote shell comes from remote.ssh",
            "sync[1].options[2]: \"-ve\": the remote shell",
            "sync[1].options[3]: \"--dry-run\"",
        ] {
            assert!(e.contains(want), "{want}\n{e}");
        }
        assert!(!e.contains("options[4]"), "{e}");
        // Without remote.ssh there is no way to reach the peer.
        let e = parse(&format!("{GOOD}sync:\n  - {{ name: a, path: /srv/a }}\n")).unwrap_err();
        assert!(e.contains("sync[0]: sync runs rsync over ssh"), "{e}");
        let e = parse(&format!(
            "{GOOD}{REMOTE}sync:\n  - {{ name: a, path: /srv/a, direction: pull, source: \"-oProxyCommand=x\" }}\n"
        ))
        .unwrap_err();
        assert!(e.contains("is not a host name or an address"), "{e}");
    }

    #[test]
    fn lock_and_failover_sections_are_checked() {
        let ok = format!(
            "{GOOD}lock:\n  etcd: {{ endpoints: [\"http://10.64.37.20:2379\", \"https://[fd00::1]:2379\"], prefix: /nfs-manage, timeout: 2s }}\nremote: {{ ssh: [ssh, -o, BatchMode=yes], user: root }}\nfailover:\n  fence_command: [ipmitool, -H, 10.64.40.7, chassis, power, off]\n  remote_timeout: 5m\n"
        );
        let c = parse(&ok).unwrap();
        let e = c.lock.unwrap().etcd;
        assert_eq!(e.endpoints.len(), 2);
        assert_eq!(e.timeout, Duration::from_secs(2));
        assert_eq!(c.failover.fence_command.unwrap()[0], "ipmitool");
        assert_eq!(c.failover.remote_timeout, Duration::from_secs(300));
        let e = parse(&format!(
            "{GOOD}lock:\n  etcd:\n    endpoints: [\"10.64.37.20:2379\"]\n    prefix: nfs-manage/\n"
        ))
        .unwrap_err();
        assert!(
            e.contains("c.yaml:24:17: lock.etcd.endpoints[0]: \"10.64.37.20:2379\" is not an etcd client URL"),
            "{e}"
        );
        assert!(e.contains("c.yaml:25:13: lock.etcd.prefix:"), "{e}");
        let e = parse(&format!("{GOOD}lock:\n  etcd: {{ endpoints: [] }}\n")).unwrap_err();
        assert!(
            e.contains("lock.etcd.endpoints: expected at least one"),
            "{e}"
        );
        let e = parse(&format!(
            "{GOOD}lock:\n  etcd: {{ endpoints: [\"http://a:1\"], ttl: 3 }}\n"
        ))
        .unwrap_err();
        assert!(e.contains("unknown field `ttl`"), "{e}");
        let e = parse(&format!("{GOOD}failover:\n  fence_command: []\n")).unwrap_err();
        assert!(e.contains("c.yaml:23:18: failover.fence_command:"), "{e}");
    }

    #[test]
    fn dual_primary_needs_drbd() {
        let bad = GOOD.replace(
            "  - name: misc\n    drbd: misc\n",
            "  - name: misc\n    dual_primary: true\n",
        );
        let e = parse(&bad).unwrap_err();
        assert!(
            e.contains("volumes[1].dual_primary: dual_primary needs a DRBD resource"),
            "{e}"
        );
    }

    #[test]
    fn drbd_config_is_taken_from_the_config_files_directory() {
        let text = format!("{GOOD}drbd_config: drbd.conf\n");
        let c = Config::parse(Path::new("/etc/nfs-manage/cluster.yaml"), &text).unwrap();
        assert_eq!(
            c.drbd_config.unwrap(),
            Path::new("/etc/nfs-manage/drbd.conf")
        );
        let text = format!("{GOOD}drbd_config: /etc/drbd.conf\n");
        let c = Config::parse(Path::new("/x/c.yaml"), &text).unwrap();
        assert_eq!(c.drbd_config.unwrap(), Path::new("/etc/drbd.conf"));
        assert!(parse(GOOD).unwrap().drbd_config.is_none());
        let e = parse(&format!("{GOOD}drbd_config: \"\"\n")).unwrap_err();
        assert!(e.contains("drbd_config"), "{e}");
    }

    #[test]
    fn this_node_must_be_listed() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.this_node(Some("labstore1005")).unwrap(), "labstore1005");
        let e = c.this_node(Some("other")).unwrap_err().to_string();
        assert!(
            e.contains("labstore1004, labstore1005") && e.contains("--node"),
            "{e}"
        );
    }

    #[test]
    fn public_exports_and_exports_section() {
        let c = parse(&format!(
            "{GOOD}public:\n  - {{ name: scratch, path: /srv/misc/scratch, options: [rw, sync], fsid: 9 }}\nexports: {{ max_shrink_percent: 10, clients_timeout: 5s }}\n"
        ))
        .unwrap();
        assert_eq!(c.public[0].clients, ["*"]);
        assert_eq!(c.exports.max_shrink_percent, 10);
        assert_eq!(c.exports.backup, Path::new("/etc/exports.bak"));
        assert_eq!(c.exports.clients_timeout, Duration::from_secs(5));
        assert_eq!(parse(GOOD).unwrap().exports.max_shrink_percent, 20);
        let e = parse(&format!(
            "{GOOD}public:\n  - {{ name: s, path: /scratch, clients: [\"10.0.0.0/33\"], options: [\"rw,sync\", fsid=3], fsid: 9 }}\nexports: {{ max_shrink_percent: 120 }}\n"
        ))
        .unwrap_err();
        for want in [
            "public[0].path: /scratch is not on any volume",
            "public[0].clients[0]: \"10.0.0.0/33\" is not a client",
            "public[0].options[0]:",
            "public[0].options[1]: the fsid has its own key",
            "exports.max_shrink_percent: 120 is not a percentage",
        ] {
            assert!(e.contains(want), "missing {want:?} in {e}");
        }
    }

    #[test]
    fn clients_are_normalised() {
        assert_eq!(parse_client("192.0.2.7").as_deref(), Some("192.0.2.7"));
        assert_eq!(
            parse_client("192.0.2.7/24").as_deref(),
            Some("192.0.2.0/24")
        );
        assert_eq!(parse_client("192.0.2.7/32").as_deref(), Some("192.0.2.7"));
        assert_eq!(
            parse_client("2001:db8::1/64").as_deref(),
            Some("2001:db8::/64")
        );
        assert_eq!(parse_client("host.example"), None);
        assert_eq!(parse_client("*"), None);
    }

    #[test]
    fn positions_cover_flow_and_block_styles() {
        let pos = Positions::of(GOOD);
        assert_eq!(pos.find("nodes.labstore1005.address"), Some((4, 28)));
        assert_eq!(pos.find("volumes[1].fstype"), Some((20, 13)));
        assert_eq!(pos.find("volumes[0].mount_options[0]"), Some((15, 21)));
        assert_eq!(pos.find("volumes[0].nothing"), Some((10, 5)));
    }
}
