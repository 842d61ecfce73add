//! The state of this node, derived from the facts: its role (active, standby, degraded,
//! down), per volume what is mounted, exported and replicated, and the problems found. One
//! model for `status`, `check`, `metrics` and the backups.

use serde::Serialize;

use super::facts::Facts;
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
    /// With `--holders`: the processes using the mounted volume (`[]`: none; absent when not
    /// asked or not mounted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holders: Option<Vec<fuser::Holder>>,
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

pub fn compute(ctx: &Ctx, f: &Facts) -> Status {
    let cfg = &ctx.config;
    let mut problems = Vec::new();
    let mut volumes = Vec::new();
    let nfs_active = f.unit_active(&cfg.nfs.service);

    for v in &cfg.volumes {
        let m = mount::VolumeMounts::of(v, &f.mounts);
        let exported = !f.exports_under(v).is_empty();
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

    // Serving: anything a client could reach. Dual-primary volumes are mounted on both nodes
    // by design, so they do not count.
    let serving = nfs_active
        || ip_present
        || cfg
            .volumes
            .iter()
            .zip(&volumes)
            .any(|(c, v)| (v.mounted && !c.dual_primary) || v.exported);
    if serving {
        for s in services.iter().filter(|s| !s.active) {
            problems.push(Problem::critical(
                Area::Nfs,
                format!("service {} is {} on the serving node", s.name, s.state),
            ));
        }
        if cfg.service_ip.is_some() && !ip_present {
            problems.push(Problem::critical(
                Area::ServiceIp,
                "this node serves volumes but does not hold the service IP",
            ));
        }
    }
    let fully_up = volumes
        .iter()
        .all(|v| v.mounted && v.drbd.as_ref().is_none_or(|d| d.role == "Primary"))
        && nfs_active
        && (cfg.service_ip.is_none() || ip_present)
        && services.iter().all(|s| s.active);
    let drbd_up = volumes
        .iter()
        .filter_map(|v| v.drbd.as_ref())
        .all(|d| d.role != "Unconfigured");
    let any_drbd = volumes.iter().any(|v| v.drbd.is_some());
    let role = if serving {
        if fully_up && problems.is_empty() {
            "active"
        } else {
            "degraded"
        }
    } else if any_drbd && drbd_up {
        if problems.is_empty() {
            "standby"
        } else {
            "degraded"
        }
    } else if any_drbd
        && volumes
            .iter()
            .filter_map(|v| v.drbd.as_ref())
            .any(|d| d.role != "Unconfigured")
    {
        "degraded"
    } else {
        "down"
    };
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
