//! The configuration reference: every key of `cluster.yaml` with its type, default and
//! meaning, rendered into nfs-manage.yaml(5) by `nfs-manage generate`.
//!
//! It lives beside the serde structs and takes its defaults from their own default functions.
//! The tests below keep it complete: [`EXAMPLE`] must load as a valid config and use every
//! documented key (which also gives each key its example value), and every field the structs
//! accept is found by asking serde itself (an unknown key in each mapping of the example makes
//! it list the fields it expected) and must be documented here. A new key without a line
//! here fails `cargo test`.

use std::path::Path;
use std::time::Duration;

use super::backups;

/// What a key defaults to when it is left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyDefault {
    /// The key must be given.
    Required,
    /// Left out, the feature is off or the value is derived; the text says how.
    Unset(&'static str),
    /// This value.
    Value(String),
}

#[derive(Debug, Clone)]
pub struct Key {
    /// Dotted path; `[]` for each item of a list, `<name>` for a key the user chooses.
    pub path: &'static str,
    pub ty: &'static str,
    pub default: KeyDefault,
    pub about: &'static str,
}

fn dur(d: Duration) -> KeyDefault {
    KeyDefault::Value(humantime::format_duration(d).to_string())
}
fn path(p: impl AsRef<Path>) -> KeyDefault {
    KeyDefault::Value(p.as_ref().display().to_string())
}
fn val(v: impl ToString) -> KeyDefault {
    KeyDefault::Value(v.to_string())
}
fn key(path: &'static str, ty: &'static str, default: KeyDefault, about: &'static str) -> Key {
    Key {
        path,
        ty,
        default,
        about,
    }
}

/// Every key, in the order the man page shows them.
pub fn keys() -> Vec<Key> {
    use KeyDefault::{Required, Unset};
    const NONE: KeyDefault = Unset("none");
    const EMPTY: KeyDefault = Unset("empty list");
    vec![
        key(
            "cluster",
            "name",
            Required,
            "The cluster's name: in the etcd lock key, messages, metrics and the journal.",
        ),
        key(
            "nodes",
            "map of node name to mapping",
            Required,
            "The nodes of the pair (a backup host may be listed too). Each key is a host name; a node finds itself by its short hostname or --node.",
        ),
        key(
            "nodes.<name>",
            "mapping",
            Required,
            "One node, named by its host name.",
        ),
        key(
            "nodes.<name>.address",
            "IP address",
            Required,
            "Where the other node and failover reach this node (ssh).",
        ),
        key(
            "drbd_config",
            "path",
            Unset("drbdadm's own (/etc/drbd.conf)"),
            "The DRBD configuration file that every drbdadm call reads (`drbdadm -c FILE`). Relative paths are taken from the directory of this file.",
        ),
        key(
            "service_ip",
            "mapping",
            Unset("no service IP: clients mount a node's own address"),
            "The floating address clients mount; added last by up, removed first by down.",
        ),
        key(
            "service_ip.address",
            "address/prefix",
            Required,
            "The address with its prefix length, like 10.64.37.18/24. Matched exactly, never as a substring.",
        ),
        key(
            "service_ip.interface",
            "interface name",
            Required,
            "The interface the address is added to.",
        ),
        key(
            "service_ip.announce_to",
            "IP address",
            Unset("no announcement"),
            "The gateway told of the move with arping after the address is added.",
        ),
        key("nfs", "mapping", Unset("all defaults"), "The NFS server."),
        key(
            "nfs.service",
            "systemd unit",
            val(super::default_nfs_service()),
            "The NFS server's unit, started after the mounts and stopped before them.",
        ),
        key(
            "nfs.exports_dir",
            "path",
            path(super::default_exports_dir()),
            "Where `exports sync` writes one exports file per project plus public.exports.",
        ),
        key(
            "volumes",
            "list of mappings",
            Required,
            "The replicated (or plain) block devices the pair serves. May be empty on a backup host with backups.",
        ),
        key(
            "volumes[].name",
            "name",
            Required,
            "The volume's name, unique.",
        ),
        key(
            "volumes[].drbd",
            "DRBD resource name",
            Unset("a plain block device, no DRBD"),
            "The DRBD resource behind the device.",
        ),
        key(
            "volumes[].device",
            "path under /dev",
            Required,
            "The block device that is mounted.",
        ),
        key(
            "volumes[].mountpoint",
            "path",
            Required,
            "Where the device is mounted; volumes do not nest.",
        ),
        key(
            "volumes[].fstype",
            "filesystem type",
            Required,
            "Given to mount -t: a DRBD backing device may probe as \"drbd\", so it is never guessed.",
        ),
        key(
            "volumes[].mount_options",
            "list of strings",
            EMPTY,
            "mount -o options, one per item.",
        ),
        key(
            "volumes[].dual_primary",
            "boolean",
            val(false),
            "Primary and mounted on both nodes (OCFS2 with allow-two-primaries); only NFS and the service IP move.",
        ),
        key(
            "services",
            "list of systemd units",
            EMPTY,
            "Extra units started after the exports and stopped before them.",
        ),
        key(
            "lock",
            "mapping",
            Unset("no cluster lock: failover relies on local evidence only"),
            "The cluster lock.",
        ),
        key(
            "lock.etcd",
            "mapping",
            Required,
            "The lock in etcd: the active node is recorded under PREFIX/CLUSTER/active.",
        ),
        key(
            "lock.etcd.endpoints",
            "list of URLs",
            Required,
            "etcd client URLs, like http://10.64.37.20:2379.",
        ),
        key(
            "lock.etcd.prefix",
            "key prefix",
            val(super::default_etcd_prefix()),
            "Prefix of the lock key.",
        ),
        key(
            "lock.etcd.timeout",
            "duration",
            dur(super::default_etcd_timeout()),
            "Time limit for one etcdctl call.",
        ),
        key(
            "remote",
            "mapping",
            Unset("none: failover and sync cannot reach the peer"),
            "How nfs-manage reaches the other node (failover, sync, backups).",
        ),
        key(
            "remote.ssh",
            "list of strings",
            Required,
            "The ssh command as a list (argv, no shell), without the destination.",
        ),
        key(
            "remote.user",
            "user name",
            val(super::default_remote_user()),
            "The user ssh logs in as.",
        ),
        key(
            "failover",
            "mapping",
            Unset("all defaults"),
            "failover settings.",
        ),
        key(
            "failover.fence_command",
            "list of strings",
            NONE,
            "Run (argv, no shell) before a --peer-dead failover promotes, to power the peer off. Must exit 0.",
        ),
        key(
            "failover.fence_timeout",
            "duration",
            dur(super::default_fence_timeout()),
            "Time limit for fence_command.",
        ),
        key(
            "failover.ssh_timeout",
            "duration",
            dur(super::default_ssh_timeout()),
            "Time limit for a short command on the peer over ssh.",
        ),
        key(
            "failover.remote_timeout",
            "duration",
            dur(super::default_remote_timeout()),
            "Time limit for nfs-manage down or up run on the peer over ssh.",
        ),
        key(
            "projects_dir",
            "path",
            path(super::default_projects_dir()),
            "One file per project (NAME.yaml), written by enable-project and exports import.",
        ),
        key(
            "public",
            "list of mappings",
            EMPTY,
            "Exports every client may mount, rendered into public.exports.",
        ),
        key(
            "public[].name",
            "name",
            Required,
            "The export's name, unique.",
        ),
        key(
            "public[].path",
            "path",
            Required,
            "The exported directory, on one of the volumes.",
        ),
        key(
            "public[].clients",
            "list of strings",
            val("[\"*\"]"),
            "\"*\", addresses or CIDRs.",
        ),
        key(
            "public[].options",
            "list of strings",
            Required,
            "exports(5) options, one per item.",
        ),
        key(
            "public[].fsid",
            "integer",
            Required,
            "exports(5) fsid, pinned so file handles survive a failover; unique.",
        ),
        key(
            "exports",
            "mapping",
            Unset("all defaults"),
            "How `exports sync` renders and applies exports.",
        ),
        key(
            "exports.max_shrink_percent",
            "integer 0-100",
            val(super::default_max_shrink_percent()),
            "Refuse (exit 3) a sync that would remove more than this share of the client entries, unless --force.",
        ),
        key(
            "exports.backup",
            "path",
            path(super::default_exports_backup()),
            "Where the previous managed exports files are kept before a sync changes them.",
        ),
        key(
            "exports.clients_timeout",
            "duration",
            dur(super::default_clients_timeout()),
            "Time limit for each project's clients_command.",
        ),
        key(
            "exports.keep_moved",
            "duration",
            dur(super::default_keep_moved()),
            "How long `project move` keeps a moved project's data on the source; `project move NAME --cleanup` removes it only after that.",
        ),
        key(
            "exports.allow_nested",
            "boolean",
            val(false),
            "Whether one export (project or public) may lie inside another's path; refused unless true.",
        ),
        key(
            "exports.widest_ipv4_prefix",
            "integer",
            val(super::default_widest_ipv4()),
            "The widest IPv4 network a project may be exported to, static clients and clients_command output alike (0.0.0.0/0 is the world).",
        ),
        key(
            "exports.widest_ipv6_prefix",
            "integer",
            val(super::default_widest_ipv6()),
            "The same for IPv6.",
        ),
        key(
            "exports.layout",
            "per-client | netgroup",
            val("per-client"),
            "per-client: one exports entry per client address. netgroup: one entry per project, @project-NAME, its single addresses kept in a managed block of /etc/netgroup (networks and IPv6 addresses stay entries of their own); a membership change then needs no exportfs run: only the changed addresses' answers cached in the kernel are expired, and other clients keep theirs. netgroup needs `netgroup: files` first in /etc/nsswitch.conf (`config check` and `exports sync` refuse otherwise), and rpc.mountd admits a member only if its address resolves to a host name on the server (PTR record or /etc/hosts). See BENCHMARKS.md.",
        ),
        key(
            "sync",
            "list of mappings",
            EMPTY,
            "Trees rsynced by `nfs-manage sync` from the node that holds the service IP.",
        ),
        key(
            "sync[].name",
            "name",
            Required,
            "The entry's name, unique: `nfs-manage sync NAME`.",
        ),
        key(
            "sync[].path",
            "path",
            Required,
            "The local tree: the source of a push, the destination of a pull. Its contents are synced.",
        ),
        key(
            "sync[].peer_path",
            "path",
            Unset("the same as path"),
            "The tree on the other side.",
        ),
        key(
            "sync[].direction",
            "push | pull",
            val("push"),
            "Push to a node of the pair, or pull from a source host.",
        ),
        key(
            "sync[].peer",
            "node name",
            Unset("the one other node"),
            "Push only: the node to push to.",
        ),
        key(
            "sync[].source",
            "host name or address",
            Unset("none; required for a pull"),
            "Pull only: the host to pull from.",
        ),
        key(
            "sync[].bwlimit",
            "integer (KiB/s)",
            Unset("unlimited"),
            "rsync --bwlimit.",
        ),
        key(
            "sync[].timeout",
            "duration",
            dur(super::default_sync_timeout()),
            "rsync --timeout: give up after this long without any data moving.",
        ),
        key(
            "sync[].max_runtime",
            "duration",
            dur(super::default_sync_max_runtime()),
            "Kill the whole rsync run after this long (the run fails and is journaled).",
        ),
        key(
            "sync[].options",
            "list of strings",
            EMPTY,
            "Extra rsync options, one per item, like --delete.",
        ),
        key(
            "sync[].exclude",
            "list of strings",
            EMPTY,
            "rsync --exclude patterns, one per item.",
        ),
        key(
            "backups",
            "list of mappings",
            EMPTY,
            "Block-device backups pulled by `nfs-manage backup run` (on the backup host).",
        ),
        key(
            "backups[].name",
            "name",
            Required,
            "The backup's name, unique.",
        ),
        key(
            "backups[].source",
            "mapping",
            Required,
            "The LV that is copied, on another host.",
        ),
        key(
            "backups[].source.host",
            "host name or address",
            Required,
            "Where ssh connects.",
        ),
        key(
            "backups[].source.vg",
            "LVM name",
            Required,
            "The source volume group.",
        ),
        key(
            "backups[].source.lv",
            "LVM name",
            Required,
            "The source logical volume.",
        ),
        key(
            "backups[].target",
            "mapping",
            Required,
            "The local LV that holds the copy; the same size as the source.",
        ),
        key(
            "backups[].target.vg",
            "LVM name",
            Required,
            "The target volume group.",
        ),
        key(
            "backups[].target.lv",
            "LVM name",
            Required,
            "The target logical volume.",
        ),
        key(
            "backups[].snapshots",
            "mapping",
            Unset("all defaults"),
            "Names and sizes of the LVM snapshots a backup uses.",
        ),
        key(
            "backups[].snapshots.remote",
            "mapping",
            Unset("all defaults"),
            "The snapshot of the source taken for each run.",
        ),
        key(
            "backups[].snapshots.remote.name",
            "LVM name",
            Unset("SOURCE_LV-nfs-manage"),
            "Its name.",
        ),
        key(
            "backups[].snapshots.remote.size",
            "LVM size",
            val(backups::DEFAULT_SNAPSHOT_SIZE),
            "Its size: 2G, 512M or a share of the origin like 20%ORIGIN.",
        ),
        key(
            "backups[].snapshots.presync",
            "mapping",
            Unset("all defaults"),
            "The snapshot of the target kept from before each sync.",
        ),
        key(
            "backups[].snapshots.presync.name",
            "LVM name",
            Unset("TARGET_LV-presync"),
            "Its name.",
        ),
        key(
            "backups[].snapshots.presync.size",
            "LVM size",
            val(backups::DEFAULT_SNAPSHOT_SIZE),
            "Its size.",
        ),
        key(
            "backups[].snapshots.mount",
            "mapping",
            Unset("all defaults"),
            "The snapshot of the target that `backup mount` mounts.",
        ),
        key(
            "backups[].snapshots.mount.name",
            "LVM name",
            Unset("TARGET_LV-mount"),
            "Its name.",
        ),
        key(
            "backups[].snapshots.mount.size",
            "LVM size",
            val(backups::DEFAULT_SNAPSHOT_SIZE),
            "Its size.",
        ),
        key(
            "backups[].transport",
            "bdsync | rsync",
            val("bdsync"),
            "How the blocks are copied.",
        ),
        key(
            "backups[].blocksize",
            "integer (bytes)",
            val(backups::default_blocksize()),
            "bdsync --blocksize, a multiple of 512.",
        ),
        key(
            "backups[].fstype",
            "filesystem type",
            val(backups::default_fstype()),
            "For backup mounts: the LV carries DRBD metadata and probes as \"drbd\".",
        ),
        key(
            "backups[].ssh",
            "list of strings",
            Unset("remote.ssh"),
            "The ssh command (argv, no destination).",
        ),
        key(
            "backups[].user",
            "user name",
            Unset("remote.user"),
            "The user ssh logs in as.",
        ),
        key(
            "backups[].nice",
            "integer",
            val(backups::default_nice()),
            "The remote side runs under nice -n this.",
        ),
        key(
            "backups[].bwlimit",
            "rate",
            Unset("unlimited"),
            "Bytes per second, with K, M or G (binary).",
        ),
        key(
            "backups[].keep_remote_snapshot",
            "boolean",
            val(false),
            "Keep the source snapshot after a run.",
        ),
        key(
            "backups[].ttl",
            "duration",
            dur(backups::default_ttl()),
            "Default lifetime of a backup mount (backup umount --expired).",
        ),
        key(
            "backups[].timeout",
            "duration",
            dur(backups::default_timeout()),
            "Time limit of the sync step.",
        ),
        key(
            "backups[].max_age",
            "duration",
            dur(backups::default_max_age()),
            "`check backups` warns when the last successful run is older.",
        ),
        key(
            "backups[].mountpoint",
            "path",
            Unset("/mnt/nfs-manage/NAME"),
            "Where `backup mount` mounts the backup.",
        ),
        key(
            "paths",
            "mapping",
            Unset("all defaults"),
            "Where nfs-manage keeps its own files.",
        ),
        key(
            "paths.journal",
            "path",
            path(super::default_journal()),
            "The journal: one JSON line per step.",
        ),
        key(
            "paths.lock",
            "path",
            path(super::default_lock_file()),
            "The host lock: one run at a time (backup-NAME.lock beside it for backups).",
        ),
        key(
            "paths.state",
            "path",
            path(super::default_state_dir()),
            "State that outlives a run: open backup mounts, and projects.cache (parsed project files, so that `exports sync` reads only the files that changed; safe to delete).",
        ),
        key(
            "timeouts",
            "mapping",
            Unset("all defaults"),
            "Per-command time limits; a command past its limit is killed and its step fails.",
        ),
        key(
            "timeouts.probe",
            "duration",
            dur(super::default_probe_timeout()),
            "Read-only probes (status, role, is-active…).",
        ),
        key(
            "timeouts.step",
            "duration",
            dur(super::default_step_timeout()),
            "State-changing steps (promote, mount, start…).",
        ),
        key(
            "timeouts.grace",
            "duration",
            dur(super::default_grace()),
            "After SIGINT or SIGTERM, how long the step in progress may take to finish before it is stopped (its process group gets SIGTERM, then SIGKILL).",
        ),
    ]
}

/// The keys of the fleet layout (`fleet.yaml`, see [`super::fleet`]) that are not cluster
/// config keys: everything else under `clusters.<name>` is a key of the table above.
pub fn fleet_keys() -> Vec<Key> {
    use KeyDefault::{Required, Unset};
    vec![
        key(
            "defaults",
            "mapping of cluster config keys",
            Unset("empty"),
            "Top-level cluster config keys every cluster gets unless it sets the key itself (whole: no deep merge). A cluster's KEY: null takes the default away.",
        ),
        key(
            "target_usage",
            "percent",
            val(super::fleet::default_target_usage()),
            "How full fleet place lets a volume get (used space against its size); a volume's own target_usage overrides it.",
        ),
        key(
            "node_config",
            "path",
            path(super::fleet::default_node_config()),
            "Where each node keeps its cluster.yaml: fleet render writes it there (on the node), and fleet status and where run nfs-manage --config PATH on the nodes.",
        ),
        key(
            "clients",
            "mapping",
            Unset("the defaults below"),
            "What client-config writes into each client's mount lines.",
        ),
        key(
            "clients.nfs_version",
            "3, 4, 4.0, 4.1 or 4.2",
            val(super::fleet::default_nfs_version()),
            "The nfsvers= of every mount.",
        ),
        key(
            "clients.options",
            "list of mount options",
            val(format!(
                "[{}]",
                super::fleet::default_client_options().join(", ")
            )),
            "Added after the options that follow from the export (rw or ro, sec=).",
        ),
        key(
            "clients.mount_root",
            "path",
            path(super::fleet::default_mount_root()),
            "A client mounts each project at MOUNT_ROOT/NAME (and autofs maps are keyed under it).",
        ),
        key(
            "clusters",
            "map of cluster name to mapping",
            Required,
            "Every cluster of the fleet.",
        ),
        key(
            "clusters.<name>",
            "mapping",
            Required,
            "One cluster: its cluster.yaml without cluster: (the key is its name), plus the keys below.",
        ),
        key(
            "clusters.<name>.backup_host",
            "host name",
            Unset("none: where prints no backup commands"),
            "The host that runs this cluster's backups (backup run, backup mount).",
        ),
        key(
            "clusters.<name>.volumes[].target_usage",
            "percent",
            Unset("the layout's target_usage"),
            "How full fleet place lets this volume get.",
        ),
        key(
            "clusters.<name>.volumes[].backup",
            "name",
            Unset("the volume's name"),
            "The name of this volume's backup on backup_host (backups[].name there).",
        ),
    ]
}

/// A fleet layout that uses every key of [`fleet_keys`] (shown in nfs-manage.yaml(5)).
pub const FLEET_EXAMPLE: &str = "\
defaults:
  remote: { ssh: [ssh, -o, BatchMode=yes, -i, /root/.ssh/id_nfs_manage], user: root }
  lock: { etcd: { endpoints: [\"http://10.64.37.20:2379\"] } }
target_usage: 90
node_config: /etc/nfs-manage/cluster.yaml
clients:
  nfs_version: \"4.2\"
  options: [hard, noatime]
  mount_root: /mnt/nfs
clusters:
  labstore-primary:
    backup_host: labstore2003
    nodes:
      labstore1004: { address: 10.64.37.6 }
      labstore1005: { address: 10.64.37.7 }
    service_ip: { address: 10.64.37.18/24, interface: eth0 }
    volumes:
      - { name: tools, drbd: tools, device: /dev/drbd4, mountpoint: /srv/tools, fstype: ext4,
          target_usage: 85, backup: tools }
  dumps:
    nodes:
      labstore1006: { address: 10.64.4.10 }
    volumes:
      - { name: data, device: /dev/mapper/data-dumps, mountpoint: /srv/dumps, fstype: ext4 }
    lock: null
";

/// The documented default of `path` (for the man pages' FILES).
pub fn default_of(path: &str) -> Option<String> {
    keys()
        .into_iter()
        .find(|k| k.path == path)
        .and_then(|k| match k.default {
            KeyDefault::Value(v) => Some(v),
            _ => None,
        })
}

/// A configuration that uses every key. It is shown in nfs-manage.yaml(5), gives each key its
/// example, and is tested to load (valid) and to cover the structs.
pub const EXAMPLE: &str = "\
cluster: labstore-primary
nodes:
  labstore1004: { address: 10.64.37.6 }
  labstore1005: { address: 10.64.37.7 }
drbd_config: /etc/drbd.conf
service_ip:
  address: 10.64.37.18/24
  interface: eth0
  announce_to: 10.64.37.1
nfs:
  service: nfs-server
  exports_dir: /etc/exports.d
volumes:
  - name: tools
    drbd: tools
    device: /dev/drbd4
    mountpoint: /srv/tools
    fstype: ext4
    mount_options: [noatime]
    dual_primary: false
services: [nginx]
lock:
  etcd:
    endpoints: [\"http://10.64.37.20:2379\"]
    prefix: /nfs-manage
    timeout: 5s
remote:
  ssh: [ssh, -o, BatchMode=yes, -i, /root/.ssh/id_nfs_manage]
  user: root
failover:
  fence_command: [ipmitool, -I, lanplus, -H, 10.64.40.7, -U, fence, -f, /root/.ipmi, chassis, power, off]
  fence_timeout: 2m
  ssh_timeout: 15s
  remote_timeout: 10m
projects_dir: /etc/nfs-manage/projects.d
public:
  - name: scratch
    path: /srv/tools/scratch
    clients: [\"*\"]
    options: [rw, sync, no_subtree_check, root_squash]
    fsid: 1001
exports:
  max_shrink_percent: 20
  backup: /etc/exports.bak
  clients_timeout: 30s
  keep_moved: 7d
  allow_nested: false
  widest_ipv4_prefix: 16
  widest_ipv6_prefix: 48
  layout: per-client
sync:
  - name: home
    path: /srv/tools/home
    peer_path: /srv/tools/home
    direction: push
    peer: labstore1005
    bwlimit: 40000
    timeout: 20m
    max_runtime: 12h
    options: [--delete, --hard-links]
    exclude: [\"*.tmp\"]
  - name: maps
    path: /srv/tools/maps
    direction: pull
    source: maps.example.org
backups:
  - name: tools
    source: { host: labstore1005, vg: vd, lv: tools }
    target: { vg: backup, lv: tools }
    snapshots:
      remote: { name: tools-nfs-manage, size: 20%ORIGIN }
      presync: { name: tools-presync, size: 20%ORIGIN }
      mount: { name: tools-mount, size: 20%ORIGIN }
    transport: bdsync
    blocksize: 16384
    fstype: ext4
    ssh: [ssh, -o, BatchMode=yes, -i, /root/.ssh/id_backup]
    user: root
    nice: 10
    bwlimit: 50M
    keep_remote_snapshot: false
    ttl: 4h
    timeout: 12h
    max_age: 36h
    mountpoint: /mnt/nfs-manage/tools
paths:
  journal: /var/lib/nfs-manage/journal.jsonl
  lock: /run/nfs-manage/lock
  state: /var/lib/nfs-manage
timeouts:
  probe: 30s
  step: 5m
  grace: 30s
";

/// Each key path of `doc` with its value, in document order; list items become `[]` and the
/// keys of `nodes` become `<name>` (the first of each shape only).
pub fn walk(doc: &yaml_serde::Value) -> Vec<(String, yaml_serde::Value)> {
    fn go(prefix: &str, v: &yaml_serde::Value, out: &mut Vec<(String, yaml_serde::Value)>) {
        let yaml_serde::Value::Mapping(m) = v else {
            return;
        };
        for (k, child) in m {
            let name = k.as_str().unwrap_or_default();
            let name = if prefix == "nodes" { "<name>" } else { name };
            let p = if prefix.is_empty() {
                name.to_string()
            } else {
                format!("{prefix}.{name}")
            };
            if out.iter().any(|(q, _)| *q == p) {
                continue;
            }
            out.push((p.clone(), child.clone()));
            match child {
                yaml_serde::Value::Sequence(items) => {
                    for item in items.iter().filter(|i| i.is_mapping()) {
                        go(&format!("{p}[]"), item, out);
                    }
                }
                _ => go(&p, child, out),
            }
        }
    }
    let mut out = Vec::new();
    go("", doc, &mut out);
    out
}

/// A leaf value as it would be written in the file (flow style for lists).
pub fn show(v: &yaml_serde::Value) -> Option<String> {
    match v {
        yaml_serde::Value::Mapping(_) => None,
        yaml_serde::Value::Sequence(items) if items.iter().any(|i| i.is_mapping()) => None,
        yaml_serde::Value::Sequence(items) => Some(format!(
            "[{}]",
            items.iter().filter_map(show).collect::<Vec<_>>().join(", ")
        )),
        other => Some(
            yaml_serde::to_string(other)
                .unwrap_or_default()
                .trim_end()
                .to_string(),
        ),
    }
}

/// The example value of each key, from [`EXAMPLE`].
pub fn examples() -> Vec<(String, Option<String>)> {
    let doc: yaml_serde::Value = yaml_serde::from_str(EXAMPLE).expect("EXAMPLE is YAML");
    walk(&doc).into_iter().map(|(p, v)| (p, show(&v))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn documented() -> Vec<&'static str> {
        keys().iter().map(|k| k.path).collect()
    }

    #[test]
    fn example_is_a_valid_config() {
        Config::parse(Path::new("nfs-manage.yaml.5"), EXAMPLE).unwrap();
    }

    #[test]
    fn every_documented_key_is_in_the_example_and_the_other_way_round() {
        let used: Vec<String> = examples().into_iter().map(|(p, _)| p).collect();
        let doc = documented();
        for k in &doc {
            assert!(
                used.iter().any(|u| u == k),
                "{k} is documented but EXAMPLE does not use it"
            );
        }
        for u in &used {
            assert!(
                doc.contains(&u.as_str()),
                "{u} is in EXAMPLE but not documented in keys()"
            );
        }
        let mut sorted = doc.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), doc.len(), "a key is documented twice");
    }

    /// The fields serde accepts in the mapping at `at` (a path from `walk`), found by adding
    /// an unknown key there: deny_unknown_fields then names every field it expected.
    fn fields_at(doc: &yaml_serde::Value, at: &str) -> Vec<String> {
        let mut doc = doc.clone();
        let mut node = &mut doc;
        for part in at.split('.').filter(|p| !p.is_empty()) {
            let (name, item) = match part.strip_suffix("[]") {
                Some(n) => (n, true),
                None => (part, false),
            };
            node = if name == "<name>" {
                node.as_mapping_mut().unwrap().values_mut().next().unwrap()
            } else {
                node.get_mut(name).unwrap()
            };
            if item {
                node = node
                    .as_sequence_mut()
                    .unwrap()
                    .iter_mut()
                    .find(|i| i.is_mapping())
                    .unwrap();
            }
        }
        node.as_mapping_mut()
            .unwrap()
            .insert("zz_not_a_key".into(), 1.into());
        let text = yaml_serde::to_string(&doc).unwrap();
        let err = match yaml_serde::from_str::<Config>(&text) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("{at}: an unknown key was accepted"),
        };
        // serde says "expected `a`", "expected `a` or `b`" or "expected one of `a`, `b`, …".
        let list = err
            .split_once("expected ")
            .unwrap_or_else(|| panic!("{at}: {err}"))
            .1;
        list.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn every_field_of_the_structs_is_documented() {
        let doc: yaml_serde::Value = yaml_serde::from_str(EXAMPLE).unwrap();
        let documented = documented();
        let mut mappings = vec![String::new()];
        for (p, v) in walk(&doc) {
            // `nodes` maps names the user chooses; its values are structs.
            if p == "nodes" {
                continue;
            }
            match v {
                yaml_serde::Value::Mapping(_) => mappings.push(p),
                yaml_serde::Value::Sequence(items) if items.iter().any(|i| i.is_mapping()) => {
                    mappings.push(format!("{p}[]"))
                }
                _ => {}
            }
        }
        let mut checked = vec![];
        for at in &mappings {
            let fields = fields_at(&doc, at);
            assert!(!fields.is_empty(), "{at}: serde named no fields");
            for f in fields {
                let full = if at.is_empty() {
                    f.clone()
                } else {
                    format!("{at}.{f}")
                };
                assert!(
                    documented.contains(&full.as_str()),
                    "{full} is a config key but is not documented in config::reference::keys()"
                );
                checked.push(full);
            }
        }
        // Mappings are documented keys too, but only their fields are asked for.
        let missed: Vec<_> = documented
            .iter()
            .filter(|d| !checked.iter().any(|c| c == *d) && !mappings.iter().any(|m| m == *d))
            .collect();
        assert!(missed.is_empty(), "documented but not a field: {missed:?}");
    }

    #[test]
    fn defaults_are_the_structs_own() {
        let c = Config::parse(
            Path::new("c.yaml"),
            "cluster: c\nnodes: {a: {address: 192.0.2.1}}\nvolumes: [{name: v, device: /dev/v, mountpoint: /srv/v, fstype: ext4}]\n",
        )
        .unwrap();
        assert_eq!(
            default_of("paths.journal").unwrap(),
            c.paths.journal.display().to_string()
        );
        assert_eq!(
            default_of("paths.lock").unwrap(),
            c.paths.lock.display().to_string()
        );
        assert_eq!(default_of("timeouts.step").unwrap(), "5m");
        assert_eq!(default_of("sync[].timeout").unwrap(), "20m");
    }

    #[test]
    fn fleet_example_loads_and_uses_every_fleet_key() {
        crate::config::fleet::Layout::parse("fleet.yaml", FLEET_EXAMPLE).unwrap();
        let doc: yaml_serde::Value = yaml_serde::from_str(FLEET_EXAMPLE).unwrap();
        for k in fleet_keys() {
            let mut node = vec![&doc];
            for part in k.path.split('.') {
                let (name, item) = match part.strip_suffix("[]") {
                    Some(n) => (n, true),
                    None => (part, false),
                };
                let mut next = vec![];
                for n in node {
                    let children: Vec<&yaml_serde::Value> = if name == "<name>" {
                        n.as_mapping()
                            .map(|m| m.values().collect())
                            .unwrap_or_default()
                    } else {
                        n.get(name).into_iter().collect()
                    };
                    for c in children {
                        if item {
                            next.extend(c.as_sequence().into_iter().flatten());
                        } else {
                            next.push(c);
                        }
                    }
                }
                node = next;
            }
            assert!(
                !node.is_empty(),
                "{} is documented but FLEET_EXAMPLE does not use it",
                k.path
            );
        }
    }

    #[test]
    fn every_top_level_fleet_key_is_documented() {
        let err = crate::config::fleet::Layout::parse("f", "zz_not_a_key: 1\nclusters: {}\n")
            .unwrap_err()
            .to_string();
        let list = err.split_once("expected ").unwrap().1;
        let fields: Vec<&str> = list.split('`').skip(1).step_by(2).collect();
        assert!(fields.len() >= 5, "{err}");
        let documented: Vec<&str> = fleet_keys().iter().map(|k| k.path).collect();
        for f in fields {
            assert!(
                documented.contains(&f),
                "fleet key {f} is not documented in fleet_keys()"
            );
        }
    }
}
