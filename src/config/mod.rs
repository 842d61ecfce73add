//! The cluster configuration (`/etc/nfs-manage/cluster.yaml`).
//!
//! Loading is strict: unknown keys, wrong types and semantic mistakes (duplicate names,
//! nested mountpoints, bad unit or interface names…) are all errors, and every error is
//! reported as `FILE:LINE:COLUMN: PATH: what is wrong and what was expected`.
//! yaml_serde gives positions for type errors; for the semantic checks we walk the
//! document's events once (saphyr-parser) to map each key path to where its value stands.

use std::path::Path;

mod backups;
pub mod fleet;
pub mod nesting;
mod positions;
pub mod reference;
mod schema;
mod validate;

use crate::error::Error;
pub use backups::{Backup, LvRef, MOUNT_ROOT, Snapshot, Snapshots, Source, Transport};
pub use positions::Positions;
pub use schema::*;
pub use validate::*;

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
        let mut problems = nul_problems(text);
        problems.extend(config.validate());
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

    /// The volume whose mountpoint holds `path` (the deepest, though volumes do not nest).
    pub fn volume_of(&self, path: &Path) -> Option<&Volume> {
        self.volumes
            .iter()
            .filter(|v| path.starts_with(&v.mountpoint))
            .max_by_key(|v| v.mountpoint.components().count())
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
        let known: Vec<&str> = self.nodes.keys().map(String::as_str).collect();
        match explicit {
            _ if self.nodes.contains_key(&name) => Ok(name),
            // A name given on the command line that the config does not know: the command
            // line is wrong (exit 2), not the config.
            Some(_) => Err(Error::Usage(format!(
                "--node {name:?} is not one of the cluster's nodes ({})",
                known.join(", ")
            ))),
            None => Err(Error::Config(format!(
                "this host is {name:?}, which is not one of the cluster's nodes ({}); pass --node NAME",
                known.join(", ")
            ))),
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
    /// The other key of a conflict between two places (e.g. the node whose address the
    /// service IP repeats): rendered with its own FILE:LINE:COLUMN, so both can be found.
    pub also: Option<String>,
}

impl Problem {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            path: path.into(),
            message: message.into(),
            also: None,
        }
    }

    /// A conflict with the value at `other` (a key path of the same file).
    pub fn conflict(
        path: impl Into<String>,
        other: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Problem {
            also: Some(other.into()),
            ..Problem::new(path, message)
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
        let e = c.this_node(Some("other")).unwrap_err();
        assert_eq!(e.exit_code(), crate::exit::USAGE);
        let e = e.to_string();
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

    // ---- the config as a whole --------------------------------------------------------------

    #[test]
    fn service_ip_equal_to_a_node_address_names_both_places() {
        let e = parse(&GOOD.replace("10.64.37.18/24", "10.64.37.6/24")).unwrap_err();
        assert!(
            e.contains(
                "c.yaml:6:12: service_ip.address: 10.64.37.6 is node labstore1004's own address"
            ) && e.contains("(conflicts with c.yaml:3:28: nodes.labstore1004.address)"),
            "{e}"
        );
    }

    #[test]
    fn nodes_are_distinct_hosts() {
        let e = parse(&GOOD.replace("address: 10.64.37.7", "address: 10.64.37.6")).unwrap_err();
        assert!(
            e.contains(
                "c.yaml:4:28: nodes.labstore1005.address: 10.64.37.6 is also labstore1004's address"
            ) && e.contains("conflicts with c.yaml:3:28: nodes.labstore1004.address"),
            "{e}"
        );
        let e = parse(&GOOD.replace("  labstore1005:", "  LabStore1004:")).unwrap_err();
        assert!(e.contains("are the same host name"), "{e}");
        let e = parse(&GOOD.replace("address: 10.64.37.7", "address: 127.0.0.1")).unwrap_err();
        assert!(
            e.contains("nodes.labstore1005.address: 127.0.0.1 cannot be"),
            "{e}"
        );
    }

    #[test]
    fn announce_to_must_be_on_the_service_network() {
        let e =
            parse(&GOOD.replace("announce_to: 10.64.37.1", "announce_to: 10.64.38.1")).unwrap_err();
        assert!(
            e.contains("c.yaml:8:16: service_ip.announce_to: 10.64.38.1 is not on the service network 10.64.37.0/24")
                && e.contains("conflicts with c.yaml:6:12: service_ip.address"),
            "{e}"
        );
        let e = parse(&GOOD.replace("announce_to: 10.64.37.1", "announce_to: 10.64.37.18"))
            .unwrap_err();
        assert!(e.contains("is the service IP itself"), "{e}");
        let e = parse(&GOOD.replace("10.64.37.18/24", "10.64.37.255/24")).unwrap_err();
        assert!(
            e.contains("is the broadcast address of 10.64.37.0/24"),
            "{e}"
        );
        // Nodes on another network than the service IP (its own VLAN) are fine.
        assert!(parse(&GOOD.replace("10.64.37.6 }", "10.64.40.6 }")).is_ok());
    }

    #[test]
    fn node_count_fits_a_pair() {
        let three = GOOD.replace(
            "  labstore1005: { address: 10.64.37.7 }\n",
            "  labstore1005: { address: 10.64.37.7 }\n  backup1001: { address: 10.64.37.9 }\n",
        );
        assert!(parse(&three).is_ok());
        let four = three.replace(
            "  backup1001: { address: 10.64.37.9 }\n",
            "  backup1001: { address: 10.64.37.9 }\n  other: { address: 10.64.37.10 }\n",
        );
        let e = parse(&four).unwrap_err();
        assert!(e.contains("c.yaml:3:3: nodes: 4 nodes listed"), "{e}");
        let one = GOOD.replace("  labstore1005: { address: 10.64.37.7 }\n", "");
        let e = parse(&one).unwrap_err();
        assert!(
            e.contains("volumes[0].drbd: a DRBD volume replicates between two nodes")
                && e.contains("conflicts with c.yaml:3:3: nodes)"),
            "{e}"
        );
    }

    #[test]
    fn host_paths_are_not_on_a_volume() {
        let e = parse(&format!(
            "{GOOD}nfs: {{ exports_dir: /srv/tools/exports }}\n"
        ))
        .unwrap_err();
        assert!(
            e.contains("nfs.exports_dir: /srv/tools/exports is on volume tools")
                && e.contains("conflicts with c.yaml:13:17: volumes[0].mountpoint"),
            "{e}"
        );
    }

    #[test]
    fn values_that_reach_an_argv_cannot_be_options_or_hold_nul() {
        let e = parse(&GOOD.replace("interface: eth0", "interface: -eth0")).unwrap_err();
        assert!(
            e.contains("c.yaml:7:14: service_ip.interface: \"-eth0\" starts with '-'"),
            "{e}"
        );
        let e = parse(&GOOD.replace("[noatime]", "[noatime, -oremount]")).unwrap_err();
        assert!(
            e.contains("volumes[0].mount_options[1]: \"-oremount\" starts with '-'"),
            "{e}"
        );
        let e = parse(&GOOD.replace("fstype: ext4\n    mount", "fstype: -ext4\n    mount"))
            .unwrap_err();
        assert!(
            e.contains("volumes[0].fstype: \"-ext4\" starts with '-'"),
            "{e}"
        );
        let e =
            parse(&GOOD.replace("device: /dev/drbd4", "device: \"/dev/drbd4\\0x\"")).unwrap_err();
        assert!(
            e.contains("c.yaml:12:13: volumes[0].device: holds a NUL byte"),
            "{e}"
        );
        let e = parse(&GOOD.replace("[noatime]", "[\"noa\\0time\"]")).unwrap_err();
        assert!(
            e.contains("volumes[0].mount_options[0]: holds a NUL byte"),
            "{e}"
        );
        // Every escape YAML spells a NUL with (the text is only parsed twice when it has one).
        for esc in ["\\x00", "\\u0000", "\\U00000000"] {
            let e = parse(&GOOD.replace("[noatime]", &format!("[\"noa{esc}time\"]"))).unwrap_err();
            assert!(
                e.contains("volumes[0].mount_options[0]: holds a NUL byte"),
                "{esc}: {e}"
            );
        }
        assert!(crate::config::nul_problems(GOOD).is_empty());
        let e = parse(&format!("{GOOD}remote: {{ ssh: [-oProxyCommand=x] }}\n")).unwrap_err();
        assert!(e.contains("remote.ssh[0]"), "{e}");
    }

    #[test]
    fn absurd_durations_are_refused_not_a_panic() {
        for v in ["500000000000y", "18446744073709551615s", "101y"] {
            let e = parse(&format!("{GOOD}timeouts: {{ step: {v} }}\n")).unwrap_err();
            // serde reports a bad value at its mapping (`timeouts`), with the position.
            assert!(
                e.contains("c.yaml:22:11: timeouts:")
                    && e.contains("longest accepted duration (100years)"),
                "{v}: {e}"
            );
        }
        assert!(parse(&format!("{GOOD}timeouts: {{ step: 99y }}\n")).is_ok());
        assert!(parse_interval("18446744073709551615").is_err());
        assert!(parse_interval("0").is_err());
        assert_eq!(parse_interval("300"), Ok(300));
        assert!(
            parse_duration("500000000000y")
                .unwrap_err()
                .contains("longest accepted")
        );
    }

    #[test]
    fn export_options_are_the_ones_exportfs_accepts() {
        let e = parse(&format!(
            "{GOOD}public:\n  - {{ name: s, path: /srv/misc/s, options: [rw, no_subtree_ch-ck, sec=sys:bogus, anonuid=x, fsid=3], fsid: 9 }}\n"
        ))
        .unwrap_err();
        for want in [
            "public[0].options[1]: \"no_subtree_ch-ck\" is not an export option exportfs accepts (did you mean no_subtree_check?)",
            "public[0].options[2]: \"sec=sys:bogus\": the value of sec= must be",
            "public[0].options[3]: \"anonuid=x\": the value of anonuid= must be a number",
            "public[0].options[4]: the fsid has its own key",
        ] {
            assert!(e.contains(want), "missing {want:?} in {e}");
        }
        assert!(!e.contains("options[0]"), "{e}");
        assert!(parse(&format!(
            "{GOOD}public:\n  - {{ name: s, path: /srv/misc/s, options: [ro, sec=krb5:krb5i:sys, anonuid=65534, squash_uids=0-99, mp=/srv/misc, refer=/x@a+b:/y@c, no_root_squash, insecure, crossmnt], fsid: 9 }}\n"
        ))
        .is_ok());
    }

    #[test]
    fn exported_paths_cannot_hold_a_backslash() {
        let e = parse(&GOOD.replace("/srv/misc", "/srv/mi\\\\sc")).unwrap_err();
        assert!(
            e.contains("volumes[1].mountpoint:") && e.contains("backslash"),
            "{e}"
        );
    }
}
