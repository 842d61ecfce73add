//! The state of this node, derived from the facts: its role (active, standby, degraded,
//! down), per volume what is mounted, exported and replicated, and the problems found. One
//! model for `status`, `check`, `metrics` and the backups.

use serde::Serialize;

use std::collections::HashSet;
use std::path::Path;

use super::facts::Facts;
use crate::config::nesting::Under;
use crate::context::Ctx;
use crate::tools::{drbd, fuser, mount};

#[derive(Debug, Serialize)]
pub struct Status {
    pub format_version: u32,
    pub cluster: String,
    pub node: String,
    /// active / standby / degraded / down
    pub role: &'static str,
    pub service_ip: Option<ServiceIpStatus>,
    pub nfs: NfsStatus,
    pub services: Vec<UnitStatus>,
    pub volumes: Vec<VolumeStatus>,
    /// Serialized as plain strings (the status JSON shape); `check` reads their area and
    /// severity, so status and check can never disagree about what is wrong.
    pub problems: Vec<Problem>,
}

/// Which `check` owns a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Area {
    Drbd,
    ServiceIp,
    Nfs,
    Exports,
    /// Backup age, result, snapshot fill and mounts (`backup list`; not part of `status`).
    Backups,
}

/// Ordered by how bad it is for monitoring (Nagios: CRITICAL > WARNING > UNKNOWN).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The state could not be determined.
    Unknown,
    /// Degraded but serving and recovering on its own (a resync).
    Warning,
    /// Not replicating, not serving, or serving something wrong.
    Critical,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub area: Area,
    pub severity: Severity,
    pub message: String,
}

impl Problem {
    pub fn critical(area: Area, message: impl Into<String>) -> Problem {
        Problem {
            area,
            severity: Severity::Critical,
            message: message.into(),
        }
    }
    pub fn warning(area: Area, message: impl Into<String>) -> Problem {
        Problem {
            area,
            severity: Severity::Warning,
            message: message.into(),
        }
    }
    pub fn unknown(area: Area, message: impl Into<String>) -> Problem {
        Problem {
            area,
            severity: Severity::Unknown,
            message: message.into(),
        }
    }
}

impl Serialize for Problem {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.message)
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

#[derive(Debug, Serialize)]
pub struct ServiceIpStatus {
    pub address: String,
    pub interface: String,
    pub present: bool,
}

#[derive(Debug, Serialize)]
pub struct NfsStatus {
    pub service: String,
    pub active: bool,
    pub state: String,
}

#[derive(Debug, Serialize)]
pub struct UnitStatus {
    pub name: String,
    pub active: bool,
    pub state: String,
}

#[derive(Debug, Serialize)]
pub struct VolumeStatus {
    pub name: String,
    pub mountpoint: String,
    pub mounted: bool,
    /// The filesystem type actually mounted at the mountpoint (whatever it is), if any.
    pub fstype: Option<String>,
    pub exported: bool,
    pub drbd: Option<DrbdStatus>,
    /// Space of the mounted filesystem (statvfs); null when not mounted.
    pub usage: Option<Usage>,
    /// With `--holders`: the processes using the mounted volume (`[]`: none; absent when not
    /// asked or not mounted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holders: Option<Vec<fuser::Holder>>,
}

/// What `df` says of a mounted volume, in bytes: `used` and `available` are what a user
/// sees (the root reserve counts as neither).
#[derive(Debug, Clone, Copy, Serialize, serde::Deserialize)]
pub struct Usage {
    pub size_bytes: u64,
    pub used_bytes: u64,
    pub available_bytes: u64,
}

impl Usage {
    pub fn of(mountpoint: &std::path::Path) -> Option<Usage> {
        let s = nix::sys::statvfs::statvfs(mountpoint).ok()?;
        let frag = s.fragment_size() as u64;
        let blocks = s.blocks() as u64;
        Some(Usage {
            size_bytes: blocks * frag,
            used_bytes: blocks.saturating_sub(s.blocks_free() as u64) * frag,
            available_bytes: s.blocks_available() as u64 * frag,
        })
    }
}

#[derive(Debug, Serialize)]
pub struct DrbdStatus {
    pub resource: String,
    /// "Unconfigured" when the resource is not up on this node.
    pub role: String,
    pub disk: String,
    pub peers: Vec<PeerStatus>,
}

#[derive(Debug, Serialize)]
pub struct PeerStatus {
    pub name: String,
    pub connection: String,
    pub role: String,
    pub disk: String,
    pub replication: String,
    pub sync_percent: Option<f64>,
}

/// The role of a node, from every fact at once. One volume shown; with several, "Primary",
/// "mounted" and "exported" mean every volume (a plain device, without DRBD, counts as
/// Primary), and a dual-primary volume being Primary and mounted is by design on both nodes,
/// so it makes no node serving by itself.
///
/// | DRBD here      | mounted | NFS | exports applied | service IP | role     |
/// |----------------|---------|-----|-----------------|------------|----------|
/// | Primary        | yes     | yes | yes             | yes        | active   |
/// | Primary        | any other combination                       || degraded |
/// | Secondary      | no      | no  | no              | no         | standby  |
/// | Secondary      | anything of the service here                || degraded |
/// | not configured | no      | no  | no              | no         | down     |
/// | not configured | anything of the service here                || degraded |
/// | some resources up, some not, nothing served                  || degraded |
///
/// "Anything of the service here" is a Primary, a mount, NFS running, an export or the
/// service IP. Every part missing from a serving node is a problem of its own, and any
/// problem found (a peer Primary too, a wrong mount, an IP on the wrong interface…) turns
/// `active` or `standby` into `degraded`: a node is never reported healthier than its facts.
/// Without a service IP in the config, that column is left out; without DRBD, a node serving
/// nothing is `down`.
pub fn compute(ctx: &Ctx, f: &Facts) -> Status {
    let cfg = &ctx.config;
    let mut problems = Vec::new();
    let mut volumes = Vec::new();
    let nfs_active = f.unit_active(&cfg.nfs.service);

    // Indexed once: a node may have hundreds of volumes and tens of thousands of etab entries.
    let mounts = mount::MountIndex::new(&f.mounts);
    let exports = Under::new(f.etab.iter().map(|e| e.path.as_path()));
    for v in &cfg.volumes {
        let m = mounts.volume(v);
        let exported = !exports.of(&v.mountpoint).is_empty();
        let fstype = m.at_mountpoint.as_ref().map(|t| t.fstype.clone());
        if m.mounted && fstype.as_deref() != Some(v.fstype.as_str()) {
            problems.push(Problem::critical(
                Area::Nfs,
                format!(
                    "volume {}: mounted as {}, the config says {}",
                    v.name,
                    fstype.as_deref().unwrap_or("?"),
                    v.fstype
                ),
            ));
        }
        if let Some(top) = m.at_mountpoint.as_ref().filter(|_| !m.mounted) {
            problems.push(Problem::critical(
                Area::Nfs,
                format!(
                    "volume {}: {} has {} mounted, not {}",
                    v.name,
                    v.mountpoint.display(),
                    top.source,
                    v.device.display()
                ),
            ));
        }
        if exported && !m.mounted {
            problems.push(Problem::critical(Area::Exports, format!(
                "volume {}: {} is exported but the volume is not mounted (clients see the directory underneath)",
                v.name,
                v.mountpoint.display()
            )));
        }
        if nfs_active && !m.mounted {
            problems.push(Problem::critical(
                Area::Nfs,
                format!(
                    "volume {}: NFS is running but the volume is not mounted",
                    v.name
                ),
            ));
        }
        let drbd = v
            .drbd
            .as_ref()
            .map(|res| drbd_status(f, v, res, m.mounted, &mut problems));
        volumes.push(VolumeStatus {
            name: v.name.clone(),
            mountpoint: v.mountpoint.display().to_string(),
            mounted: m.mounted,
            fstype,
            exported,
            drbd,
            usage: if m.mounted {
                Usage::of(&v.mountpoint)
            } else {
                None
            },
            holders: None,
        });
    }

    let service_ip = cfg.service_ip.as_ref().map(|sip| {
        let present = f
            .addrs
            .as_ref()
            .is_some_and(|a| a.has(&sip.interface, &sip.address));
        if let Some(a) = &f.addrs {
            for other in a.find(sip.address.addr()) {
                if other.ifname != sip.interface || other.prefix != sip.address.prefix_len() {
                    problems.push(Problem::critical(
                        Area::ServiceIp,
                        format!(
                            "service IP {} is on {} as /{}; the config says {} on {}",
                            sip.address.addr(),
                            other.ifname,
                            other.prefix,
                            sip.address,
                            sip.interface
                        ),
                    ));
                }
            }
        }
        ServiceIpStatus {
            address: sip.address.to_string(),
            interface: sip.interface.clone(),
            present,
        }
    });
    let ip_present = service_ip.as_ref().is_some_and(|s| s.present);
    if ip_present && !nfs_active {
        problems.push(Problem::critical(
            Area::Nfs,
            "the service IP is on this node but NFS is not running: clients get no answer",
        ));
    }
    if ip_present && volumes.iter().any(|v| !v.mounted) {
        problems.push(Problem::critical(
            Area::Nfs,
            "the service IP is on this node but not every volume is mounted",
        ));
    }
    // The IP belongs on the node that is Primary: here on a Secondary, it is on the wrong node.
    if ip_present {
        for (c, v) in cfg.volumes.iter().zip(&volumes) {
            if let Some(d) = v.drbd.as_ref().filter(|d| d.role != "Primary") {
                problems.push(Problem::critical(
                    Area::ServiceIp,
                    format!(
                        "the service IP is on this node but DRBD {} (volume {}) is {} here: the IP is on the wrong node",
                        d.resource, c.name, d.role
                    ),
                ));
            }
        }
    }

    let services: Vec<UnitStatus> = cfg
        .services
        .iter()
        .map(|u| UnitStatus {
            name: u.clone(),
            active: f.unit_active(u),
            state: f.units.get(u).cloned().unwrap_or_default(),
        })
        .collect();

    let parts = Parts {
        cfg,
        volumes: &volumes,
        nfs_active,
        ip_present,
        services: &services,
        configured: &f.configured,
        etab: &f.etab,
    };
    let role = parts.role(&mut problems);
    Status {
        format_version: 1,
        cluster: cfg.cluster.clone(),
        node: ctx.node.clone(),
        role,
        service_ip,
        nfs: NfsStatus {
            service: cfg.nfs.service.clone(),
            active: nfs_active,
            state: f.units.get(&cfg.nfs.service).cloned().unwrap_or_default(),
        },
        services,
        volumes,
        problems,
    }
}

fn drbd_status(
    f: &Facts,
    v: &crate::config::Volume,
    res: &str,
    mounted: bool,
    problems: &mut Vec<Problem>,
) -> DrbdStatus {
    let Some((r, vol)) = f.volume_drbd(v) else {
        if f.resource(res).is_some() {
            problems.push(Problem::unknown(
                Area::Drbd,
                format!(
                    "volume {}: cannot tell which volume of DRBD resource {res} is {}",
                    v.name,
                    v.device.display()
                ),
            ));
        }
        return DrbdStatus {
            resource: res.into(),
            role: "Unconfigured".into(),
            disk: "DUnknown".into(),
            peers: vec![],
        };
    };
    let disk = r
        .device(vol)
        .map(|d| d.disk.clone())
        .unwrap_or_else(|| "DUnknown".into());
    // Inconsistent while a resync towards this node runs is the resync itself (a warning with
    // its percent); Inconsistent without one, Diskless, Failed, Outdated… are critical.
    let resync_target = r.connections.iter().any(|c| {
        c.connection == "Connected"
            && c.peer_devices.iter().any(|p| {
                p.volume == vol
                    && matches!(
                        p.replication.as_str(),
                        "SyncTarget" | "PausedSyncT" | "StartingSyncT" | "WFBitMapT" | "WFSyncUUID"
                    )
            })
    });
    if disk != "UpToDate" {
        let msg = format!("volume {}: local disk is {disk}", v.name);
        problems.push(if disk == "Inconsistent" && resync_target {
            Problem::warning(Area::Drbd, msg)
        } else {
            Problem::critical(Area::Drbd, msg)
        });
    }
    if mounted && r.role != "Primary" {
        problems.push(Problem::critical(
            Area::Drbd,
            format!("volume {}: mounted while DRBD {res} is {}", v.name, r.role),
        ));
    }
    let mut peers = Vec::new();
    for c in &r.connections {
        let pd = c.peer_devices.iter().find(|p| p.volume == vol);
        let replication = pd
            .map(|p| p.replication.clone())
            .unwrap_or_else(|| "Off".into());
        let peer_disk = pd
            .map(|p| p.peer_disk.clone())
            .unwrap_or_else(|| "DUnknown".into());
        let done = pd.and_then(|p| p.done);
        if c.connection != "Connected" {
            problems.push(Problem::critical(
                Area::Drbd,
                format!(
                    "volume {}: peer {} is {} (not replicating)",
                    v.name, c.name, c.connection
                ),
            ));
        } else if drbd::is_syncing(&replication) {
            let pct = done.map(|d| format!(", {d:.2}% done")).unwrap_or_default();
            problems.push(Problem::warning(
                Area::Drbd,
                format!(
                    "volume {}: resync in progress with {} ({replication}{pct})",
                    v.name, c.name
                ),
            ));
        } else if peer_disk != "UpToDate" {
            problems.push(Problem::critical(
                Area::Drbd,
                format!("volume {}: peer {} disk is {peer_disk}", v.name, c.name),
            ));
        }
        if r.role == "Primary" && c.peer_role == "Primary" && !v.dual_primary {
            problems.push(Problem::critical(
                Area::Drbd,
                format!(
                    "volume {}: this node and peer {} are both Primary, and the volume is not dual-primary",
                    v.name, c.name
                ),
            ));
        }
        peers.push(PeerStatus {
            name: c.name.clone(),
            connection: c.connection.clone(),
            role: c.peer_role.clone(),
            disk: peer_disk,
            replication,
            sync_percent: done,
        });
    }
    if r.connections.is_empty() {
        problems.push(Problem::critical(
            Area::Drbd,
            format!(
                "volume {}: DRBD resource {res} has no peer connection",
                v.name
            ),
        ));
    }
    DrbdStatus {
        resource: res.into(),
        role: r.role.clone(),
        disk,
        peers,
    }
}

/// What the role is derived from (see [`compute`]).
struct Parts<'a> {
    cfg: &'a crate::config::Config,
    volumes: &'a [VolumeStatus],
    nfs_active: bool,
    ip_present: bool,
    services: &'a [UnitStatus],
    configured: &'a Result<Vec<crate::tools::exportfs::Export>, String>,
    etab: &'a [crate::tools::exportfs::Export],
}

impl Parts<'_> {
    fn role(&self, problems: &mut Vec<Problem>) -> &'static str {
        let cfg = self.cfg;
        let pairs = || cfg.volumes.iter().zip(self.volumes);
        let primary = |v: &VolumeStatus| v.drbd.as_ref().is_none_or(|d| d.role == "Primary");
        // Serving: anything a client could reach, or a Primary that only this node may hold.
        let serving = self.nfs_active
            || self.ip_present
            || pairs().any(|(c, v)| {
                !c.dual_primary
                    && ((v.mounted || v.exported)
                        || v.drbd.as_ref().is_some_and(|d| d.role == "Primary"))
            })
            || self.volumes.iter().any(|v| v.exported);
        if serving {
            self.missing_parts(problems);
        }
        let fully_up = self.volumes.iter().all(|v| v.mounted && primary(v))
            && self.nfs_active
            && (cfg.service_ip.is_none() || self.ip_present)
            && self.services.iter().all(|s| s.active);
        let drbd: Vec<&DrbdStatus> = self
            .volumes
            .iter()
            .filter_map(|v| v.drbd.as_ref())
            .collect();
        let up = drbd.iter().filter(|d| d.role != "Unconfigured").count();
        if serving {
            if fully_up && problems.is_empty() {
                "active"
            } else {
                "degraded"
            }
        } else if !drbd.is_empty() && up == drbd.len() {
            if problems.is_empty() {
                "standby"
            } else {
                "degraded"
            }
        } else if up > 0 {
            for d in drbd.iter().filter(|d| d.role == "Unconfigured") {
                problems.push(Problem::critical(
                    Area::Drbd,
                    format!(
                        "DRBD {} is not up here while the others are: this node cannot take over",
                        d.resource
                    ),
                ));
            }
            "degraded"
        } else if problems.is_empty() {
            "down"
        } else {
            "degraded"
        }
    }

    /// On a serving node, one problem for each part of the service that is missing (some are
    /// said already by the checks of `compute`, in their own words).
    fn missing_parts(&self, problems: &mut Vec<Problem>) {
        let cfg = self.cfg;
        // Indexed once, not searched per volume and per entry.
        let wanted = self
            .configured
            .as_ref()
            .ok()
            .map(|c| (c, Under::new(c.iter().map(|e| e.path.as_path()))));
        let applied: HashSet<(&Path, &str)> = self
            .etab
            .iter()
            .map(|x| (x.path.as_path(), x.client.as_str()))
            .collect();
        for (c, v) in cfg.volumes.iter().zip(self.volumes) {
            if let Some(d) = v.drbd.as_ref().filter(|d| d.role != "Primary") {
                // With the service IP here, "the IP is on the wrong node" says it already.
                if !self.ip_present {
                    problems.push(Problem::critical(
                        Area::Drbd,
                        format!(
                            "volume {}: DRBD {} is {} on the serving node, expected Primary",
                            c.name, d.resource, d.role
                        ),
                    ));
                }
            }
            if !v.mounted && !self.nfs_active && !self.ip_present {
                problems.push(Problem::critical(
                    Area::Nfs,
                    format!(
                        "volume {}: not mounted at {} on the serving node",
                        c.name,
                        c.mountpoint.display()
                    ),
                ));
            }
            if v.mounted
                && let Some((configured, wanted)) = &wanted
            {
                let missing: Vec<String> = wanted
                    .of(&c.mountpoint)
                    .into_iter()
                    .map(|i| &configured[i])
                    .filter(|e| !applied.contains(&(e.path.as_path(), e.client.as_str())))
                    .map(|e| format!("{}:{}", e.client, e.path.display()))
                    .collect();
                if let Some(first) = missing.first() {
                    problems.push(Problem::critical(
                        Area::Exports,
                        format!(
                            "volume {}: {} configured export(s) not applied (e.g. {first})",
                            c.name,
                            missing.len()
                        ),
                    ));
                }
            }
        }
        if let Err(e) = self.configured {
            problems.push(Problem::warning(
                Area::Exports,
                format!("the configured exports could not be read: {e}"),
            ));
        }
        if !self.nfs_active && !self.ip_present {
            problems.push(Problem::critical(
                Area::Nfs,
                format!(
                    "NFS ({}) is not running on the serving node",
                    cfg.nfs.service
                ),
            ));
        }
        for s in self.services.iter().filter(|s| !s.active) {
            problems.push(Problem::critical(
                Area::Nfs,
                format!("service {} is {} on the serving node", s.name, s.state),
            ));
        }
        if cfg.service_ip.is_some() && !self.ip_present {
            problems.push(Problem::critical(
                Area::ServiceIp,
                "this node serves volumes but does not hold the service IP",
            ));
        }
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    use crate::tools::drbd::{Connection, Device, PeerDevice, Resource};
    use crate::tools::exportfs::Export;
    use crate::tools::{ip, mount};

    const CONFIG: &str = "\
cluster: c
nodes:
  n1: { address: 192.0.2.6 }
  n2: { address: 192.0.2.7 }
service_ip: { address: 192.0.2.18/24, interface: eth0, announce_to: 192.0.2.1 }
volumes:
  - { name: tools, drbd: tools, device: /dev/drbd4, mountpoint: /srv/tools, fstype: ext4 }
";

    fn ctx(config: &str) -> Ctx {
        crate::context::test_ctx(config, "n1")
    }

    fn resource(role: &str) -> Resource {
        Resource {
            name: "tools".into(),
            role: role.into(),
            devices: vec![Device {
                volume: 0,
                minor: Some(4),
                disk: "UpToDate".into(),
            }],
            connections: vec![Connection {
                name: "n2".into(),
                connection: "Connected".into(),
                peer_role: "Secondary".into(),
                peer_devices: vec![PeerDevice {
                    volume: 0,
                    replication: "Established".into(),
                    peer_disk: "UpToDate".into(),
                    done: None,
                    out_of_sync_kib: None,
                }],
            }],
        }
    }

    fn export() -> Export {
        Export {
            path: "/srv/tools/a".into(),
            client: "192.0.2.50".into(),
            options: "rw,sync".into(),
        }
    }

    /// The facts of one combination: DRBD role ("Unconfigured": not up), and the rest.
    fn facts(drbd: &str, mounted: bool, nfs: bool, exported: bool, ip_here: bool) -> Facts {
        let mounts = if mounted {
            mount::parse_mountinfo("40 1 147:4 / /srv/tools rw,noatime - ext4 /dev/drbd4 rw\n")
                .unwrap()
        } else {
            Vec::new()
        };
        let addr = if ip_here {
            r#",{"family":"inet","local":"192.0.2.18","prefixlen":24}"#
        } else {
            ""
        };
        let addrs = ip::parse(&format!(
            r#"[{{"ifindex":2,"ifname":"eth0","addr_info":[{{"family":"inet","local":"192.0.2.6","prefixlen":24}}{addr}]}}]"#
        ))
        .unwrap();
        Facts {
            drbd: Some(if drbd == "Unconfigured" {
                Vec::new()
            } else {
                vec![resource(drbd)]
            }),
            mounts,
            addrs: Some(addrs),
            units: [(
                "nfs-server".to_string(),
                if nfs { "active" } else { "inactive" }.to_string(),
            )]
            .into(),
            etab: if exported { vec![export()] } else { Vec::new() },
            configured: Ok(vec![export()]),
            unknown: Vec::new(),
            missing: Vec::new(),
        }
    }

    /// The role table of [`compute`], written out again independently.
    fn expected(
        drbd: &str,
        mounted: bool,
        nfs: bool,
        exported: bool,
        ip_here: bool,
    ) -> &'static str {
        let anything = drbd == "Primary" || mounted || nfs || exported || ip_here;
        let all = drbd == "Primary" && mounted && nfs && exported && ip_here;
        match (anything, drbd) {
            (true, _) if all => "active",
            (true, _) => "degraded",
            (false, "Secondary") => "standby",
            (false, _) => "down",
        }
    }

    #[test]
    fn every_combination_of_the_facts_has_the_role_of_the_table() {
        let ctx = ctx(CONFIG);
        let mut seen = std::collections::BTreeMap::new();
        for drbd in ["Primary", "Secondary", "Unconfigured"] {
            for bits in 0..16u8 {
                let (mounted, nfs, exported, ip_here) =
                    (bits & 1 != 0, bits & 2 != 0, bits & 4 != 0, bits & 8 != 0);
                let st = compute(&ctx, &facts(drbd, mounted, nfs, exported, ip_here));
                let want = expected(drbd, mounted, nfs, exported, ip_here);
                let case = format!(
                    "DRBD {drbd}, mounted {mounted}, NFS {nfs}, exported {exported}, IP {ip_here}"
                );
                assert_eq!(st.role, want, "{case}: {:?}", st.problems);
                // Degraded always says why; healthy roles have nothing to say.
                match st.role {
                    "degraded" => assert!(
                        st.problems.iter().any(|p| p.severity == Severity::Critical),
                        "{case}: degraded without a critical problem"
                    ),
                    _ => assert!(st.problems.is_empty(), "{case}: {:?}", st.problems),
                }
                *seen.entry(st.role).or_insert(0) += 1;
            }
        }
        assert_eq!(
            seen.into_iter().collect::<Vec<_>>(),
            [("active", 1), ("degraded", 45), ("down", 1), ("standby", 1)]
        );
    }

    #[test]
    fn promoted_but_not_mounted_is_degraded_with_each_missing_part() {
        // An `up` that promoted DRBD and then failed to mount.
        let st = compute(&ctx(CONFIG), &facts("Primary", false, false, false, false));
        assert_eq!(st.role, "degraded");
        let said: Vec<String> = st.problems.iter().map(|p| p.to_string()).collect();
        for part in [
            "volume tools: not mounted at /srv/tools",
            "NFS (nfs-server) is not running",
            "does not hold the service IP",
        ] {
            assert!(said.iter().any(|s| s.contains(part)), "{part}: {said:?}");
        }
    }

    #[test]
    fn mounted_and_serving_without_the_configured_exports_is_degraded() {
        let st = compute(&ctx(CONFIG), &facts("Primary", true, true, false, true));
        assert_eq!(st.role, "degraded");
        assert!(
            st.problems
                .iter()
                .any(|p| p.to_string().contains("1 configured export(s) not applied")),
            "{:?}",
            st.problems
        );
    }
}
