//! The fleet layout (`/etc/nfs-manage/fleet.yaml`): every cluster in one document.
//!
//! ```yaml
//! defaults:                  # keys every cluster's config gets unless it sets them itself
//!   remote: { ssh: [ssh, -o, BatchMode=yes], user: root }
//! target_usage: 90           # percent of a volume `fleet place` fills at most (default)
//! clients: { nfs_version: "4.2", options: [hard], mount_root: /mnt/nfs }
//! clusters:
//!   labstore-primary:        # the cluster's name; the rest is its cluster.yaml
//!     backup_host: labstore2003
//!     nodes: { labstore1004: { address: 10.64.37.6 }, labstore1005: { address: 10.64.37.7 } }
//!     volumes:
//!       - { name: tools, drbd: tools, device: /dev/drbd4, mountpoint: /srv/tools,
//!           fstype: ext4, target_usage: 85 }
//! ```
//!
//! A cluster's entry is its `cluster.yaml` without the `cluster:` key (the entry's name is
//! that), plus the fleet's own keys: `backup_host`, and `target_usage` and `backup` on each
//! volume. A top-level key of `defaults` is used whole when the cluster does not set it
//! (no deep merge: what a cluster sets is all there is of that key; `KEY: null` takes the
//! default away). The derived config is
//! rendered as YAML and then validated by the very loader a node uses, so what `fleet render`
//! writes is what the node will load; every error points into the fleet document
//! (FILE:LINE:COLUMN), at the cluster's own key or at the default it inherited.
//!
//! The layout is parsed from text, whatever holds it: a file, or one etcd key (the cluster
//! lock's store) once a fleet outgrows a file. Fetching the text is the caller's business
//! ([`Source`] names where it is); parsing is one function for both.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use yaml_serde::{Mapping, Value};

use super::{Config, Positions, Problem, check_name, nul_problems, render_problems, yaml_error};
use crate::error::Error;

pub const DEFAULT_FLEET: &str = "/etc/nfs-manage/fleet.yaml";
/// The first line of every rendered cluster config: `fleet render` overwrites only files that
/// start with it (a hand-written config is never replaced without `--force`).
pub const RENDERED_MARK: &str = "# Rendered by `nfs-manage fleet render`";

/// Where the layout's text is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    File(PathBuf),
    /// One key of etcd, read with `etcdctl get`: `etcd://HOST:PORT[,HOST:PORT…]/KEY`.
    Etcd {
        endpoints: Vec<String>,
        key: String,
    },
}

impl Source {
    pub fn parse(s: &str) -> Result<Source, Error> {
        let Some(rest) = s.strip_prefix("etcd://") else {
            return Ok(Source::File(PathBuf::from(s)));
        };
        let bad = || {
            Error::Usage(format!(
                "{s:?} is not an etcd layout source: expected etcd://HOST:PORT[,HOST:PORT…]/KEY, like etcd://10.64.37.20:2379/nfs-manage/fleet"
            ))
        };
        let (hosts, key) = rest.split_once('/').ok_or_else(bad)?;
        if hosts.is_empty() || key.is_empty() {
            return Err(bad());
        }
        let mut endpoints = Vec::new();
        for h in hosts.split(',') {
            let (host, port) = h.rsplit_once(':').ok_or_else(bad)?;
            if host.is_empty() || port.parse::<u16>().is_err() {
                return Err(bad());
            }
            endpoints.push(format!("http://{h}"));
        }
        Ok(Source::Etcd {
            endpoints,
            key: format!("/{key}"),
        })
    }

    /// How messages name it: the file, or `etcd:KEY`.
    pub fn name(&self) -> String {
        match self {
            Source::File(p) => p.display().to_string(),
            Source::Etcd { key, .. } => format!("etcd:{key}"),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSettings {
    /// The `nfsvers=` of every mount line.
    #[serde(default = "default_nfs_version")]
    pub nfs_version: String,
    /// Mount options added to the ones that follow from the export (rw/ro, sec=).
    #[serde(default = "default_client_options")]
    pub options: Vec<String>,
    /// Where a client mounts a project: MOUNT_ROOT/NAME.
    #[serde(default = "default_mount_root")]
    pub mount_root: PathBuf,
}

impl Default for ClientSettings {
    fn default() -> Self {
        ClientSettings {
            nfs_version: default_nfs_version(),
            options: default_client_options(),
            mount_root: default_mount_root(),
        }
    }
}

pub fn default_nfs_version() -> String {
    "4.2".into()
}
pub fn default_client_options() -> Vec<String> {
    vec!["hard".into()]
}
pub fn default_mount_root() -> PathBuf {
    PathBuf::from("/mnt/nfs")
}
pub fn default_target_usage() -> u8 {
    90
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FleetFile {
    #[serde(default)]
    defaults: Mapping,
    #[serde(default = "default_target_usage")]
    target_usage: u8,
    #[serde(default)]
    clients: ClientSettings,
    #[serde(default = "default_node_config")]
    node_config: PathBuf,
    clusters: Mapping,
}

pub fn default_node_config() -> PathBuf {
    PathBuf::from(crate::cli::DEFAULT_CONFIG)
}

/// `500G`, `2T`, `1048576`: bytes, with binary units (K, M, G, T, P; an optional `i` or `B`).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let t = t.strip_suffix('B').unwrap_or(t);
    let t = t.strip_suffix('i').unwrap_or(t);
    let (num, shift) = match t.chars().last() {
        Some(c @ ('K' | 'M' | 'G' | 'T' | 'P' | 'k' | 'm' | 'g' | 't' | 'p')) => (
            &t[..t.len() - 1],
            10 * (1 + "KMGTP".find(c.to_ascii_uppercase()).unwrap_or(0) as u32),
        ),
        _ => (t, 0),
    };
    let n: f64 = num
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite() && *n > 0.0)
        .ok_or_else(|| {
            format!("{s:?} is not a size: expected a number with an optional unit, like 500G or 2T")
        })?;
    let bytes = n * f64::from(2u32).powi(shift as i32);
    if bytes >= u64::MAX as f64 {
        return Err(format!("{s:?} is too large"));
    }
    Ok(bytes as u64)
}

/// One cluster of the fleet: its derived config and what only the fleet knows of it.
#[derive(Debug, Clone)]
pub struct FleetCluster {
    pub name: String,
    pub config: Config,
    /// The cluster.yaml `fleet render` writes for each of its nodes.
    pub rendered: String,
    pub backup_host: Option<String>,
    /// Per volume: the usage (percent) `fleet place` does not go beyond, and its backup's name.
    pub volumes: BTreeMap<String, VolumeExtra>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VolumeExtra {
    pub target_usage: u8,
    pub backup: Option<String>,
}

impl FleetCluster {
    pub fn target_usage(&self, volume: &str) -> u8 {
        self.volumes
            .get(volume)
            .map_or_else(default_target_usage, |v| v.target_usage)
    }
}

#[derive(Debug, Clone)]
pub struct Layout {
    /// The source's name, for messages.
    pub origin: String,
    /// Where each node keeps its cluster.yaml (render writes it; remote runs read it).
    pub node_config: PathBuf,
    pub clients: ClientSettings,
    /// By name.
    pub clusters: Vec<FleetCluster>,
}

impl Layout {
    pub fn cluster(&self, name: &str) -> Option<&FleetCluster> {
        self.clusters
            .binary_search_by(|c| c.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.clusters[i])
    }

    /// The cluster a node (or backup host) belongs to.
    pub fn cluster_of_node(&self, node: &str) -> Option<&FleetCluster> {
        self.clusters
            .iter()
            .find(|c| c.config.nodes.contains_key(node))
    }

    /// A fleet of one: a site with a cluster config and no layout.
    pub fn single(config: Config, path: &Path, text: &str) -> Layout {
        let mut volumes = BTreeMap::new();
        for v in &config.volumes {
            volumes.insert(
                v.name.clone(),
                VolumeExtra {
                    target_usage: default_target_usage(),
                    backup: None,
                },
            );
        }
        Layout {
            origin: path.display().to_string(),
            node_config: std::path::absolute(path).unwrap_or(path.to_path_buf()),
            clients: ClientSettings::default(),
            clusters: vec![FleetCluster {
                name: config.cluster.clone(),
                rendered: text.to_string(),
                config,
                backup_host: None,
                volumes,
            }],
        }
    }

    /// Parse and validate a layout; `origin` names it in errors (FILE:LINE:COLUMN). A
    /// relative `drbd_config` is taken from `node_config`'s directory, as the node's loader
    /// does.
    pub fn parse(origin: &str, text: &str) -> Result<Layout, Error> {
        let file: FleetFile =
            yaml_serde::from_str(text).map_err(|e| Error::Config(yaml_error(origin, &e)))?;
        let config_path = file.node_config.as_path();
        let index = Positions::of(text);
        let mut problems = nul_problems(text);
        if !problems.is_empty() {
            return Err(Error::Config(render_problems(origin, &index, &problems)));
        }
        if !file.node_config.is_absolute() {
            problems.push(Problem::new(
                "node_config",
                format!(
                    "{} is not an absolute path: expected one like /etc/nfs-manage/cluster.yaml",
                    file.node_config.display()
                ),
            ));
        }
        if !(1..=100).contains(&file.target_usage) {
            problems.push(Problem::new(
                "target_usage",
                format!("{} is not a percentage: expected 1-100", file.target_usage),
            ));
        }
        if file.defaults.contains_key("cluster") {
            problems.push(Problem::new(
                "defaults.cluster",
                "a cluster's name is its key under clusters:; expected no cluster: here",
            ));
        }
        check_clients(&mut problems, &file.clients);
        if file.clusters.is_empty() {
            problems.push(Problem::new("clusters", "expected at least one cluster"));
        }
        let mut clusters = Vec::new();
        for (k, v) in &file.clusters {
            let Some(name) = k.as_str() else {
                problems.push(Problem::new(
                    "clusters",
                    "a cluster's key must be its name (a string)",
                ));
                continue;
            };
            match derive_cluster(origin, name, v, &file, config_path, &index) {
                Ok(c) => clusters.push(c),
                Err(mut p) => problems.append(&mut p),
            }
        }
        cross_checks(&mut problems, &clusters);
        if !problems.is_empty() {
            // A bad default shows up once per cluster that inherits it: say it once.
            let mut seen = std::collections::HashSet::new();
            problems.retain(|p| seen.insert((p.path.clone(), p.message.clone())));
            return Err(Error::Config(render_problems(origin, &index, &problems)));
        }
        clusters.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Layout {
            origin: origin.to_string(),
            node_config: file.node_config,
            clients: file.clients,
            clusters,
        })
    }
}

fn check_clients(p: &mut Vec<Problem>, c: &ClientSettings) {
    if !["3", "4", "4.0", "4.1", "4.2"].contains(&c.nfs_version.as_str()) {
        p.push(Problem::new(
            "clients.nfs_version",
            format!(
                "{:?} is not an NFS version: expected 3, 4, 4.0, 4.1 or 4.2",
                c.nfs_version
            ),
        ));
    }
    for (i, o) in c.options.iter().enumerate() {
        if o.is_empty() || o.contains([',', ' ', '\t']) || o.starts_with("nfsvers") {
            p.push(Problem::new(
                format!("clients.options[{i}]"),
                format!(
                    "{o:?} is not one mount option: expected a word like hard or noatime (no commas or spaces; the NFS version is clients.nfs_version)"
                ),
            ));
        }
    }
    if !c.mount_root.is_absolute() {
        p.push(Problem::new(
            "clients.mount_root",
            format!(
                "{} is not an absolute path: expected one like /mnt/nfs",
                c.mount_root.display()
            ),
        ));
    }
}

/// Take the fleet's keys out of one cluster entry, merge the defaults in, render the config
/// and validate it with the node's own loader. Problems name key paths of the fleet document.
fn derive_cluster(
    origin: &str,
    name: &str,
    entry: &Value,
    file: &FleetFile,
    config_path: &Path,
    index: &Positions,
) -> Result<FleetCluster, Vec<Problem>> {
    let at = format!("clusters.{name}");
    let mut p = Vec::new();
    check_name(&mut p, &at, name, "a cluster name");
    let Some(entry) = entry.as_mapping() else {
        return Err(vec![Problem::new(
            at,
            "expected a mapping: the cluster's nodes, volumes and the rest of its cluster.yaml",
        )]);
    };
    if entry.contains_key("cluster") {
        p.push(Problem::new(
            format!("{at}.cluster"),
            "the cluster's name is its key under clusters:; expected no cluster: here",
        ));
    }
    let mut own = entry.clone();
    let backup_host = match own.remove("backup_host") {
        None => None,
        Some(Value::String(s)) => {
            check_name(&mut p, &format!("{at}.backup_host"), &s, "a host name");
            Some(s)
        }
        Some(_) => {
            p.push(Problem::new(
                format!("{at}.backup_host"),
                "expected a host name",
            ));
            None
        }
    };
    let mut volumes = BTreeMap::new();
    if let Some(Value::Sequence(items)) = own.get_mut("volumes") {
        for (i, item) in items.iter_mut().enumerate() {
            let Some(m) = item.as_mapping_mut() else {
                continue;
            };
            let vat = format!("{at}.volumes[{i}]");
            let target = match m.remove("target_usage") {
                None => file.target_usage,
                Some(v) => match v.as_u64() {
                    Some(n @ 1..=100) => n as u8,
                    _ => {
                        p.push(Problem::new(
                            format!("{vat}.target_usage"),
                            "expected a percentage: 1-100",
                        ));
                        file.target_usage
                    }
                },
            };
            let backup = match m.remove("backup") {
                None => None,
                Some(Value::String(s)) => Some(s),
                Some(_) => {
                    p.push(Problem::new(
                        format!("{vat}.backup"),
                        "expected the name of the volume's backup (backups[].name on the backup host)",
                    ));
                    None
                }
            };
            if let Some(vname) = m.get("name").and_then(Value::as_str) {
                volumes.insert(
                    vname.to_string(),
                    VolumeExtra {
                        target_usage: target,
                        backup,
                    },
                );
            }
        }
    }
    let mut merged = Mapping::new();
    merged.insert("cluster".into(), name.into());
    for (k, v) in &file.defaults {
        if !own.contains_key(k) {
            merged.insert(k.clone(), v.clone());
        }
    }
    // `KEY: null` in a cluster: do not inherit that default (e.g. no lock for a single server).
    for (k, v) in own {
        if k.as_str() != Some("cluster") && !v.is_null() {
            merged.insert(k, v);
        }
    }
    let body = yaml_serde::to_string(&Value::Mapping(merged)).expect("a mapping serializes");
    let header = format!(
        "{RENDERED_MARK} from {origin} (cluster {name}).\n# Edit the fleet layout, not this file: the next render replaces it.\n"
    );
    let rendered = format!("{header}{body}");
    // The rendered text's key paths are the cluster entry's (or a default's).
    let rendered_index = Positions::of(&rendered);
    let to_fleet = |path: &str| fleet_path(index, &at, path);
    let config: Config = match yaml_serde::from_str(&rendered) {
        Ok(c) => c,
        Err(e) => {
            let msg = yaml_error("", &e);
            // Drop the ":L:C: " of the rendered text's position; keep the message.
            let msg = msg
                .trim_start_matches(|c: char| c == ':' || c.is_ascii_digit())
                .trim_start();
            // serde's message starts with the key path it was at, when not the top.
            let (path, msg) = match msg.split_once(": ") {
                Some((path, rest)) if rendered_index.has(path) => (path.to_string(), rest),
                _ => (String::new(), msg),
            };
            let mut path = to_fleet(&path);
            // An unknown key: point at the key itself, not the mapping that holds it.
            if let Some(key) = msg
                .strip_prefix("unknown field `")
                .and_then(|r| r.split('`').next())
            {
                let k = format!("{path}.{key}");
                if index.has(&k) {
                    path = k;
                }
            }
            p.push(Problem::new(path, msg));
            return Err(p);
        }
    };
    for pr in config.validate() {
        p.push(Problem {
            path: to_fleet(&pr.path),
            message: pr.message,
            also: pr.also.map(|o| to_fleet(&o)),
        });
    }
    if !p.is_empty() {
        return Err(p);
    }
    let config = Config::parse(config_path, &rendered).map_err(|e| {
        vec![Problem::new(
            at.clone(),
            format!("the rendered config does not load: {e}"),
        )]
    })?;
    Ok(FleetCluster {
        name: name.to_string(),
        config,
        rendered,
        backup_host,
        volumes,
    })
}

/// Where a key path of a rendered cluster config stands in the fleet document: the cluster's
/// own key, else the default it inherited, else the cluster's nearest key.
fn fleet_path(index: &Positions, at: &str, path: &str) -> String {
    if path.is_empty() || path == "cluster" {
        return at.to_string();
    }
    let own = format!("{at}.{path}");
    if index.has(&own) {
        return own;
    }
    let top = path.split(['.', '[']).next().unwrap_or(path);
    if index.has(&format!("defaults.{top}")) && !index.has(&format!("{at}.{top}")) {
        return format!("defaults.{path}");
    }
    own
}

/// Checks across clusters: a host in two clusters, two clusters on one service IP.
fn cross_checks(p: &mut Vec<Problem>, clusters: &[FleetCluster]) {
    let mut nodes: BTreeMap<&str, &str> = BTreeMap::new();
    let mut ips: BTreeMap<std::net::IpAddr, &str> = BTreeMap::new();
    for c in clusters {
        for n in c.config.nodes.keys() {
            if let Some(first) = nodes.insert(n, &c.name) {
                p.push(Problem::conflict(
                    format!("clusters.{}.nodes.{n}", c.name),
                    format!("clusters.{first}.nodes.{n}"),
                    format!(
                        "host {n} is in clusters {first} and {}: expected each host in one cluster (fleet render writes one config per host)",
                        c.name
                    ),
                ));
            }
        }
        if let Some(ip) = &c.config.service_ip
            && let Some(first) = ips.insert(ip.address.addr(), &c.name)
        {
            p.push(Problem::conflict(
                format!("clusters.{}.service_ip.address", c.name),
                format!("clusters.{first}.service_ip.address"),
                format!(
                    "service IP {} is also cluster {first}'s: expected one address per cluster",
                    ip.address.addr()
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub const FLEET: &str = "\
defaults:
  remote: { ssh: [ssh, -o, BatchMode=yes], user: root }
  projects_dir: /etc/nfs-manage/projects.d
target_usage: 90
clusters:
  labstore-primary:
    backup_host: labstore2003
    nodes:
      labstore1004: { address: 10.64.37.6 }
      labstore1005: { address: 10.64.37.7 }
    service_ip: { address: 10.64.37.18/24, interface: eth0 }
    volumes:
      - name: tools
        drbd: tools
        device: /dev/drbd4
        mountpoint: /srv/tools
        fstype: ext4
        target_usage: 85
        backup: tools
  scratch:
    nodes:
      cloudstore1008: { address: 10.64.37.30 }
      cloudstore1009: { address: 10.64.37.31 }
    service_ip: { address: 10.64.37.19/24, interface: eth0 }
    volumes:
      - { name: scratch, drbd: scratch, device: /dev/drbd1, mountpoint: /srv/scratch, fstype: ext4 }
    remote: { ssh: [ssh, -i, /root/.ssh/scratch], user: root }
";

    fn parse(text: &str) -> Result<Layout, String> {
        Layout::parse("fleet.yaml", text).map_err(|e| e.to_string())
    }

    #[test]
    fn clusters_get_defaults_and_fleet_keys() {
        let l = parse(FLEET).unwrap();
        assert_eq!(l.clusters.len(), 2);
        let p = l.cluster("labstore-primary").unwrap();
        assert_eq!(p.config.cluster, "labstore-primary");
        assert_eq!(p.backup_host.as_deref(), Some("labstore2003"));
        assert_eq!(p.target_usage("tools"), 85);
        assert_eq!(p.config.remote.as_ref().unwrap().ssh[2], "BatchMode=yes");
        let s = l.cluster("scratch").unwrap();
        assert_eq!(s.target_usage("scratch"), 90);
        // The cluster's own key replaces the default whole.
        assert_eq!(s.config.remote.as_ref().unwrap().ssh[1], "-i");
        assert_eq!(l.cluster_of_node("cloudstore1009").unwrap().name, "scratch");
        assert!(p.rendered.starts_with(RENDERED_MARK));
        // `KEY: null` takes a default away: the config's own default applies.
        let l = parse(&FLEET.replace(
            "    remote: { ssh: [ssh, -i, /root/.ssh/scratch], user: root }",
            "    remote: null\n    projects_dir: null",
        ))
        .unwrap();
        let s = l.cluster("scratch").unwrap();
        assert!(s.config.remote.is_none());
        assert_eq!(s.config.projects_dir, crate::config::default_projects_dir());
        assert!(!s.rendered.contains("null"), "{}", s.rendered);
        assert!(!p.rendered.contains("target_usage"), "{}", p.rendered);
        assert!(!p.rendered.contains("backup_host"), "{}", p.rendered);
    }

    #[test]
    fn rendered_config_loads_as_the_same_config() {
        let l = parse(FLEET).unwrap();
        for c in &l.clusters {
            let again =
                Config::parse(Path::new("/etc/nfs-manage/cluster.yaml"), &c.rendered).unwrap();
            assert_eq!(format!("{again:?}"), format!("{:?}", c.config));
        }
    }

    #[test]
    fn type_error_points_into_the_cluster_entry() {
        let bad = FLEET.replace(
            "fstype: ext4\n        target",
            "fstyp: ext4\n        target",
        );
        let e = parse(&bad).unwrap_err();
        assert!(
            e.starts_with("fleet.yaml:17:16: clusters.labstore-primary.volumes[0].fstyp: unknown field `fstyp`"),
            "{e}"
        );
    }

    #[test]
    fn semantic_error_points_into_the_cluster_entry() {
        let bad = FLEET.replace(
            "interface: eth0 }\n    volumes:\n      - name: tools",
            "interface: \"a b\" }\n    volumes:\n      - name: tools",
        );
        let e = parse(&bad).unwrap_err();
        assert!(
            e.starts_with("fleet.yaml:11:")
                && e.contains("clusters.labstore-primary.service_ip.interface"),
            "{e}"
        );
    }

    #[test]
    fn an_inherited_default_is_blamed_once_where_it_stands() {
        let bad = FLEET.replace(
            "projects_dir: /etc/nfs-manage/projects.d",
            "projects_dir: relative/dir",
        );
        let e = parse(&bad).unwrap_err();
        assert_eq!(e.lines().count(), 1, "{e}");
        assert!(
            e.starts_with("fleet.yaml:3:17: defaults.projects_dir:"),
            "{e}"
        );
    }

    #[test]
    fn fleet_keys_are_checked() {
        let bad = FLEET.replace("target_usage: 85", "target_usage: 120");
        let e = parse(&bad).unwrap_err();
        assert!(
            e.starts_with("fleet.yaml:18:23: clusters.labstore-primary.volumes[0].target_usage: expected a percentage"),
            "{e}"
        );
        let bad = FLEET.replace("target_usage: 90\n", "target_usage: 0\n");
        assert!(
            parse(&bad)
                .unwrap_err()
                .starts_with("fleet.yaml:4:15: target_usage:")
        );
        let bad = FLEET.replace(
            "target_usage: 90\n",
            "target_usage: 90\nclients: { nfs_version: \"5\" }\n",
        );
        assert!(parse(&bad).unwrap_err().contains("clients.nfs_version"));
        let bad = FLEET.replace("  scratch:\n", "  scratch:\n    cluster: other\n");
        assert!(
            parse(&bad)
                .unwrap_err()
                .contains("clusters.scratch.cluster:")
        );
        let bad = FLEET.replace("target_usage: 90\n", "target_usag: 90\n");
        assert!(
            parse(&bad)
                .unwrap_err()
                .starts_with("fleet.yaml:4:1: unknown field `target_usag`"),
            "{}",
            parse(&bad).unwrap_err()
        );
    }

    #[test]
    fn a_host_in_two_clusters_is_refused_with_both_places() {
        let bad = FLEET.replace(
            "cloudstore1009: { address: 10.64.37.31 }",
            "labstore1005: { address: 10.64.37.31 }",
        );
        let e = parse(&bad).unwrap_err();
        assert!(e.contains("fleet.yaml:23:21: clusters.scratch.nodes.labstore1005: host labstore1005 is in clusters labstore-primary and scratch"), "{e}");
        assert!(e.contains("conflicts with fleet.yaml:10:21"), "{e}");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("500G").unwrap(), 500 << 30);
        assert_eq!(parse_size("2TiB").unwrap(), 2 << 40);
        assert_eq!(parse_size("1.5k").unwrap(), 1536);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        for bad in ["", "G", "-1G", "1X", "0", "nanG"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sources() {
        assert_eq!(
            Source::parse("/etc/nfs-manage/fleet.yaml").unwrap(),
            Source::File("/etc/nfs-manage/fleet.yaml".into())
        );
        assert_eq!(
            Source::parse("etcd://192.0.2.20:2379,192.0.2.21:2379/nfs-manage/fleet").unwrap(),
            Source::Etcd {
                endpoints: vec![
                    "http://192.0.2.20:2379".into(),
                    "http://192.0.2.21:2379".into()
                ],
                key: "/nfs-manage/fleet".into()
            }
        );
        for bad in [
            "etcd://",
            "etcd://h:1",
            "etcd://h/k",
            "etcd://h:x/k",
            "etcd:///k",
        ] {
            assert!(Source::parse(bad).is_err(), "{bad}");
        }
    }
}
