//! The preflight, on both nodes, before anything changes: DRBD connected and the target
//! up to date, what holds each mount, NFSv4 grace and lease times, and pinned fsids.

use super::*;

/// Preflight findings, printed before the plan: (fine?, text).
#[derive(Default)]
pub(super) struct Preflight {
    pub(super) lines: Vec<(bool, String)>,
    pub(super) refusals: Vec<String>,
}

impl Preflight {
    pub(super) fn ok(&mut self, s: impl Into<String>) {
        self.lines.push((true, s.into()));
    }
    pub(super) fn warn(&mut self, s: impl Into<String>) {
        self.lines.push((false, s.into()));
    }
    pub(super) fn refuse(&mut self, s: impl Into<String>) {
        let s = s.into();
        self.lines.push((false, s.clone()));
        self.refusals.push(s);
    }
    pub(super) fn render(&self, title: &str) -> String {
        let mut out = format!("{title}\n");
        for (fine, l) in &self.lines {
            let mark = if *fine {
                style("ok  ").green().to_string()
            } else {
                style("!!  ").red().bold().to_string()
            };
            out.push_str(&format!("  {mark}{}\n", l.replace('\n', "\n      ")));
        }
        out
    }
}

pub(super) fn drbd_preflight(
    ctx: &Ctx,
    f: &Facts,
    peer: &str,
    target: &str,
    allow_resync: bool,
    pre: &mut Preflight,
) {
    let cfg = &ctx.config;
    for res in cfg.drbd_resources() {
        let Some(r) = f.resource(res) else {
            if f.drbd.is_some() {
                pre.refuse(format!("DRBD {res}: not up on {}", ctx.node));
            }
            continue;
        };
        let Some(c) = r.connections.iter().find(|c| c.name == peer) else {
            pre.refuse(format!("DRBD {res}: no connection to {peer}"));
            continue;
        };
        if c.connection != "Connected" {
            pre.refuse(format!(
                "DRBD {res}: {} to {peer}, not Connected: the peer's data and role cannot be trusted",
                c.connection
            ));
            continue;
        }
        let mut line = format!("DRBD {res}: Connected to {peer}");
        let syncing: Vec<String> = c
            .peer_devices
            .iter()
            .filter(|pd| drbd::is_syncing(&pd.replication))
            .map(|pd| {
                format!(
                    "volume {} {} done:{}",
                    pd.volume,
                    pd.replication,
                    pd.done.map_or("?".into(), |d| format!("{d:.2}"))
                )
            })
            .collect();
        let target_disks: Vec<(u32, String)> = if target == ctx.node {
            r.devices
                .iter()
                .map(|d| (d.volume, d.disk.clone()))
                .collect()
        } else {
            c.peer_devices
                .iter()
                .map(|pd| (pd.volume, pd.peer_disk.clone()))
                .collect()
        };
        let bad: Vec<String> = target_disks
            .iter()
            .filter(|(_, d)| d != "UpToDate")
            .map(|(v, d)| format!("volume {v} {d}"))
            .collect();
        if !syncing.is_empty() {
            let msg = format!("DRBD {res}: resync in progress ({})", syncing.join(", "));
            if allow_resync {
                pre.warn(format!("{msg}; going ahead (--allow-resync)"));
            } else {
                pre.refuse(format!("{msg}: wait for it, or rerun with --allow-resync"));
            }
        }
        if bad.is_empty() {
            line.push_str(&format!(", {target} UpToDate"));
            pre.ok(line);
        } else {
            pre.refuse(format!(
                "DRBD {res}: {target} is not UpToDate ({}): it cannot serve current data",
                bad.join(", ")
            ));
        }
    }
}

/// What holds each (non-dual) mount on the old node: its `down` would stop at the unmount.
pub(super) fn holders_preflight(
    ctx: &Ctx,
    old: &str,
    peer_status: Option<&PeerStatus>,
    pre: &mut Preflight,
) -> Result<()> {
    let cfg = &ctx.config;
    let vols: Vec<&crate::config::Volume> =
        cfg.volumes.iter().filter(|v| !v.dual_primary).collect();
    if old == ctx.node {
        let table = crate::tools::mount::read_mountinfo()?;
        for v in vols {
            if !crate::tools::mount::VolumeMounts::of(v, &table).mounted {
                continue;
            }
            let h = crate::domain::mounts::holders(ctx, &v.mountpoint)?;
            report_holders(pre, old, &v.mountpoint.display().to_string(), &h);
        }
        return Ok(());
    }
    let Some(st) = peer_status else {
        return Ok(());
    };
    for pv in &st.volumes {
        if !pv.mounted || !vols.iter().any(|v| v.name == pv.name) {
            continue;
        }
        match &pv.holders {
            Some(h) => report_holders(pre, old, &pv.mountpoint, h),
            None => pre.refuse(format!(
                "{old}: its `nfs-manage status --holders` did not say what holds {}",
                pv.mountpoint
            )),
        }
    }
    Ok(())
}

pub(super) fn report_holders(
    pre: &mut Preflight,
    node: &str,
    mountpoint: &str,
    h: &[fuser::Holder],
) {
    if h.is_empty() {
        pre.ok(format!("{node}: nothing holds {mountpoint}"));
    } else {
        let who: Vec<String> = h
            .iter()
            .map(|h| {
                if h.command == "?" {
                    format!("pid {}", h.pid)
                } else {
                    format!("pid {} ({}, user {})", h.pid, h.command, h.user)
                }
            })
            .collect();
        pre.refuse(format!(
            "{node}: {mountpoint} is busy: {}; stop them first (its unmount would stop the failover half-way)",
            who.join(", ")
        ));
    }
}

/// NFSv4 grace and lease time on the target: how long clients wait after the move.
pub(super) fn times_preflight(
    target: &str,
    me: &str,
    remote: Option<&Output>,
    dry: bool,
    pre: &mut Preflight,
) {
    let parsed = if target == me {
        match (
            std::fs::read_to_string(NFSD_GRACE),
            std::fs::read_to_string(NFSD_LEASE),
        ) {
            (Ok(g), Ok(l)) => Some(format!("{}\n{}", g.trim(), l.trim())),
            _ => None,
        }
    } else if dry {
        return;
    } else {
        remote.filter(|o| o.success()).map(|o| o.stdout.clone())
    };
    let nums: Option<Vec<u64>> = parsed.and_then(|t| {
        let v: Vec<u64> = t
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        (v.len() == 2).then_some(v)
    });
    match nums {
        Some(v) => pre.ok(format!(
            "NFS on {target}: grace {} s, lease {} s (NFSv4 clients may wait up to the grace time after the move)",
            v[0], v[1]
        )),
        None => pre.warn(format!(
            "NFS on {target}: grace and lease times unknown ({NFSD_GRACE} not readable: nfsd not loaded)"
        )),
    }
}

/// Exports without `fsid=`: their file handles change with the device, so clients of the old
/// node get ESTALE after the move.
pub(super) fn fsid_preflight(ctx: &Ctx, pre: &mut Preflight) -> Result<()> {
    let configured = exportfs::read_configured(&ctx.config.nfs.exports_dir)?;
    let missing: Vec<String> = configured
        .iter()
        .filter(|e| !e.options.split(',').any(|o| o.starts_with("fsid=")))
        .map(|e| format!("{} ({})", e.path.display(), e.client))
        .collect();
    if configured.is_empty() {
        pre.warn("no exports configured");
    } else if missing.is_empty() {
        pre.ok(format!(
            "every export pins an fsid ({} entries)",
            configured.len()
        ));
    } else {
        pre.warn(format!(
            "exports without fsid= (clients will get stale file handles after the move): {}",
            missing.join(", ")
        ));
    }
    Ok(())
}
