//! Checks of the whole config beyond its types: names, addresses, paths, units, exports and
//! sync entries, each problem reported at the key it concerns.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Component, Path};

use ipnet::IpNet;

use super::*;
use crate::tools::exportfs;

/// The pair plus one host that serves nothing (a backup host).
pub const MAX_NODES: usize = 3;

impl Config {
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
            check_exportable(&mut p, &at("mountpoint"), &v.mountpoint);
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
        let mountpoints: Vec<&std::path::Path> = self
            .volumes
            .iter()
            .map(|v| v.mountpoint.as_path())
            .collect();
        for (i, j) in super::nesting::nested_pairs(&mountpoints) {
            p.push(Problem::new(
                format!("volumes[{j}].mountpoint"),
                format!(
                    "{} is inside volumes[{i}]'s mountpoint {}; nested volumes are not supported",
                    mountpoints[j].display(),
                    mountpoints[i].display()
                ),
            ));
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
        self.validate_topology(&mut p);
        self.validate_argv_values(&mut p);
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

    /// What the config says must be possible together: distinct nodes, a service IP that
    /// belongs to no node and can be announced on its own network, a node count that makes a
    /// pair, and host paths that do not vanish with a volume. Each conflict names both keys.
    fn validate_topology(&self, p: &mut Vec<Problem>) {
        // The pair, optionally with a host that serves nothing (a backup host): more would
        // leave failover without a single peer and DRBD without a pair.
        if self.nodes.len() > MAX_NODES {
            p.push(Problem::new(
                "nodes",
                format!(
                    "{} nodes listed; expected the storage pair (1 node for a single server, 2 for a pair) and at most one more host that serves nothing, like a backup host ({MAX_NODES} at most)",
                    self.nodes.len()
                ),
            ));
        }
        if self.has_drbd() && self.nodes.len() < 2 {
            let i = self
                .volumes
                .iter()
                .position(|v| v.drbd.is_some())
                .unwrap_or(0);
            p.push(Problem::conflict(
                format!("volumes[{i}].drbd"),
                "nodes",
                "a DRBD volume replicates between two nodes, but `nodes` lists only one",
            ));
        }
        let names: Vec<&String> = self.nodes.keys().collect();
        for (i, a) in names.iter().enumerate() {
            for b in &names[i + 1..] {
                if a.eq_ignore_ascii_case(b) {
                    p.push(Problem::conflict(
                        format!("nodes.{b}"),
                        format!("nodes.{a}"),
                        format!("{b:?} and {a:?} are the same host name (host names ignore case)"),
                    ));
                }
                let (x, y) = (self.nodes[*a].address, self.nodes[*b].address);
                if x == y {
                    p.push(Problem::conflict(
                        format!("nodes.{b}.address"),
                        format!("nodes.{a}.address"),
                        format!("{y} is also {a}'s address; each node needs its own"),
                    ));
                }
            }
        }
        for (name, n) in &self.nodes {
            if n.address.is_unspecified() || n.address.is_loopback() || n.address.is_multicast() {
                p.push(Problem::new(
                    format!("nodes.{name}.address"),
                    format!(
                        "{} cannot be a node's address (unspecified, loopback or multicast); expected the address the other node reaches it at",
                        n.address
                    ),
                ));
            }
        }
        if let Some(ip) = &self.service_ip {
            self.validate_service_ip(p, ip);
        }
        // These must be there while the volumes are not mounted (the host lock is taken
        // before anything is mounted; exportfs -ra reads exports_dir at boot).
        for (key, path) in [
            ("nfs.exports_dir", &self.nfs.exports_dir),
            ("paths.lock", &self.paths.lock),
            ("paths.journal", &self.paths.journal),
            ("paths.state", &self.paths.state),
        ] {
            if let Some(i) = self
                .volumes
                .iter()
                .position(|v| path.starts_with(&v.mountpoint))
            {
                p.push(Problem::conflict(
                    key,
                    format!("volumes[{i}].mountpoint"),
                    format!(
                        "{} is on volume {}, which is not mounted on the standby node or before `up`; expected a path outside every volume",
                        path.display(),
                        self.volumes[i].name
                    ),
                ));
            }
        }
    }

    /// The service IP is added with its prefix, so the kernel puts its network on the
    /// interface: the address must be a usable host of that network and no node's own
    /// address (`down` deletes it). Node addresses need not be in that network (the service
    /// may live on its own VLAN), but one that is must be a host of it too, and the address
    /// that arping announces to must be on that network, since ARP does not cross routers.
    fn validate_service_ip(&self, p: &mut Vec<Problem>, ip: &ServiceIp) {
        let net = ip.address.trunc();
        let addr = ip.address.addr();
        if ip.address.prefix_len() == 0 {
            p.push(Problem::new(
                "service_ip.address",
                format!(
                    "{}: a /0 prefix makes every address on-link; expected the prefix of the service network, like /24",
                    ip.address
                ),
            ));
        }
        let broadcast =
            |a: IpAddr| a.is_ipv4() && ip.address.prefix_len() < 31 && a == ip.address.broadcast();
        if broadcast(addr) {
            p.push(Problem::new(
                "service_ip.address",
                format!(
                    "{} is the broadcast address of {net}; expected a host address inside it",
                    ip.address
                ),
            ));
        }
        if addr.is_unspecified() || addr.is_loopback() || addr.is_multicast() {
            p.push(Problem::new(
                "service_ip.address",
                format!("{addr} cannot be a service address (unspecified, loopback or multicast)"),
            ));
        }
        for (name, n) in &self.nodes {
            if n.address == addr {
                p.push(Problem::conflict(
                    "service_ip.address",
                    format!("nodes.{name}.address"),
                    format!(
                        "{addr} is node {name}'s own address; the service IP moves between nodes and `down` deletes it, so it must be an address of its own"
                    ),
                ));
            } else if net.contains(&n.address)
                && (n.address == net.network() || broadcast(n.address))
            {
                p.push(Problem::conflict(
                    format!("nodes.{name}.address"),
                    "service_ip.address",
                    format!(
                        "{} is the network or broadcast address of the service network {net}",
                        n.address
                    ),
                ));
            }
        }
        if let Some(gw) = ip.announce_to
            && gw.is_ipv4() == addr.is_ipv4()
        {
            if gw == addr {
                p.push(Problem::conflict(
                    "service_ip.announce_to",
                    "service_ip.address",
                    format!("{gw} is the service IP itself; expected another host on its network, like the gateway"),
                ));
            } else if !net.contains(&gw) {
                p.push(Problem::conflict(
                    "service_ip.announce_to",
                    "service_ip.address",
                    format!(
                        "{gw} is not on the service network {net}: ARP does not cross routers; expected a host on that network, like its gateway"
                    ),
                ));
            } else if gw == net.network() || broadcast(gw) {
                p.push(Problem::conflict(
                    "service_ip.announce_to",
                    "service_ip.address",
                    format!("{gw} is the network or broadcast address of {net}; expected a host, like the gateway"),
                ));
            }
        }
    }

    /// Values that end up as a command's argument: one that starts with '-' would be read as
    /// an option by the tool (`ip … dev -x`, `mount -o -x`), so it is refused here rather
    /// than discovered half-way through `up`. (NUL bytes are refused for every value: see
    /// [`nul_problems`].)
    fn validate_argv_values(&self, p: &mut Vec<Problem>) {
        let mut dash = |key: String, v: &str, what: &str| {
            if v.starts_with('-') {
                p.push(Problem::new(
                    key,
                    format!("{v:?} starts with '-', so {what} would read it as an option; expected a value"),
                ));
            }
        };
        if let Some(ip) = &self.service_ip {
            dash("service_ip.interface".into(), &ip.interface, "ip");
        }
        for (i, v) in self.volumes.iter().enumerate() {
            dash(format!("volumes[{i}].fstype"), &v.fstype, "mount");
            for (j, o) in v.mount_options.iter().enumerate() {
                dash(format!("volumes[{i}].mount_options[{j}]"), o, "mount");
            }
        }
        if let Some(r) = &self.remote
            && let Some(first) = r.ssh.first()
        {
            dash("remote.ssh[0]".into(), first, "the shell");
        }
        if let Some(first) = self.failover.fence_command.as_ref().and_then(|f| f.first()) {
            dash("failover.fence_command[0]".into(), first, "the shell");
        }
        for (i, b) in self.backups.iter().enumerate() {
            if let Some(first) = b.ssh.as_ref().and_then(|s| s.first()) {
                dash(format!("backups[{i}].ssh[0]"), first, "the shell");
            }
        }
        for (i, e) in self.sync.iter().enumerate() {
            for (j, x) in e.exclude.iter().enumerate() {
                if x.chars().any(char::is_control) {
                    p.push(Problem::new(
                        format!("sync[{i}].exclude[{j}]"),
                        "expected one rsync exclude pattern per item, without control characters",
                    ));
                }
            }
        }
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
        // /0 would let a project reach the world; the limit itself must be a prefix length.
        for (key, v, max) in [
            ("exports.widest_ipv4_prefix", e.widest_ipv4_prefix, 32),
            ("exports.widest_ipv6_prefix", e.widest_ipv6_prefix, 128),
        ] {
            if v == 0 || v > max {
                p.push(Problem::new(
                    key,
                    format!("{v} is not a limit: expected a prefix length from 1 to {max}"),
                ));
            }
        }
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
            check_exportable(p, &at("path"), &x.path);
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
}

/// Every string value (and key) holding a NUL byte, by key path. No argv can carry one: a
/// NUL reaching a command would fail its spawn half-way through a run.
///
/// YAML cannot hold a raw NUL character, so a parsed NUL only comes from an escape in a
/// double-quoted scalar (`\0`, `\x00`, `\u0000`, `\U00000000`): a text with neither a
/// backslash nor a NUL byte is not parsed a second time (most files, and thousands of project
/// files per run).
pub fn nul_problems(text: &str) -> Vec<Problem> {
    if !text.contains(['\\', '\0']) {
        return Vec::new();
    }
    fn walk(v: &yaml_serde::Value, path: &str, out: &mut Vec<Problem>) {
        use yaml_serde::Value;
        let here = |out: &mut Vec<Problem>| {
            out.push(Problem::new(
                if path.is_empty() { "(document)" } else { path },
                "holds a NUL byte (\\0); no command argument can carry one",
            ))
        };
        match v {
            Value::String(s) if s.contains('\0') => here(out),
            Value::Sequence(items) => {
                for (i, x) in items.iter().enumerate() {
                    walk(x, &format!("{path}[{i}]"), out);
                }
            }
            Value::Mapping(m) => {
                for (k, x) in m {
                    let key = match k {
                        Value::String(s) => s.clone(),
                        other => yaml_serde::to_string(other)
                            .unwrap_or_default()
                            .trim()
                            .to_string(),
                    };
                    let sub = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    if key.contains('\0') {
                        out.push(Problem::new(
                            path.to_string(),
                            "a key holds a NUL byte (\\0)",
                        ));
                    }
                    walk(x, &sub, out);
                }
            }
            Value::Tagged(t) => walk(&t.value, path, out),
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Ok(v) = yaml_serde::from_str::<yaml_serde::Value>(text) {
        walk(&v, "", &mut out);
    }
    out
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
/// Each must be one exportfs accepts (see [`exportfs::option_problem`]): an option it refuses
/// would make every later `exportfs -ra` fail, for every export.
pub fn check_export_options(p: &mut Vec<Problem>, path: &str, options: &[String]) {
    for (j, o) in options.iter().enumerate() {
        let bad = o.is_empty()
            || o.chars()
                .any(|c| c.is_whitespace() || c.is_control() || ",()\"".contains(c));
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
        } else if let Some(why) = exportfs::option_problem(o) {
            p.push(Problem::new(format!("{path}[{j}]"), why));
        }
    }
}

/// A path that goes into an exports file. exportfs decodes `\NNN` escapes in paths more
/// than once, so a path with a backslash cannot be written so that it reads it back.
pub fn check_exportable(p: &mut Vec<Problem>, path: &str, value: &Path) {
    if value.to_string_lossy().contains('\\') {
        p.push(Problem::new(
            path,
            format!(
                "{}: a backslash in an exported path cannot be written to an exports file (exportfs decodes \\NNN escapes twice); expected a path without '\\'",
                value.display()
            ),
        ));
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
    // A key or value quoted in the message may hold a line break: one error, one line.
    let msg = one_line(&msg);
    match e.location() {
        Some(l) => format!("{file}:{}:{}: {msg}", l.line(), l.column()),
        None => format!("{file}: {msg}"),
    }
}

/// Line breaks and other control characters escaped, so that every error is one line that
/// starts with its FILE:LINE:COLUMN.
fn one_line(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_string();
    }
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

pub(crate) fn render_problems(file: &str, index: &Positions, problems: &[Problem]) -> String {
    let mut out = String::new();
    for (n, pr) in problems.iter().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let (line, col) = index.find(&pr.path).unwrap_or((1, 1));
        let _ = write!(
            out,
            "{file}:{line}:{col}: {}: {}",
            one_line(&pr.path),
            one_line(&pr.message)
        );
        if let Some(other) = &pr.also {
            let (l, c) = index.find(other).unwrap_or((1, 1));
            let _ = write!(out, " (conflicts with {file}:{l}:{c}: {other})");
        }
    }
    out
}
