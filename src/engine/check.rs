//! Guards (checked right before a step) and verifications (after it), each with fresh
//! probes. `Ok(Err(reason))` is a refusal or a failed verification in plain words;
//! `Err(_)` means the probe itself could not run.

use std::time::{Duration, Instant};

use anyhow::Result;

use super::Ctx;
use super::facts::{probe_drbd, probe_units};
use super::plan::{Guard, Verify};
use super::runner::Output;
use crate::tools::{arping, exportfs, fuser, ip, mount};

pub type Verdict = std::result::Result<(), String>;

pub fn guard(ctx: &Ctx, g: &Guard) -> Result<Verdict> {
    let cfg = &ctx.config;
    Ok(match g {
        Guard::VolumesMounted => {
            let table = mount::read_mountinfo()?;
            let missing: Vec<String> = cfg
                .volumes
                .iter()
                .filter(|v| !mount::VolumeMounts::of(v, &table).mounted)
                .map(|v| {
                    format!(
                        "{} ({} at {})",
                        v.name,
                        v.device.display(),
                        v.mountpoint.display()
                    )
                })
                .collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!("not mounted: {}", missing.join(", ")))
            }
        }
        Guard::ExportsOnMountedVolumes => exports_on_mounted(ctx)?,
        Guard::PeerNotPrimary(res) => {
            let all = probe_drbd(ctx)?;
            match all
                .iter()
                .find(|r| &r.name == res)
                .and_then(|r| r.any_peer_primary())
            {
                Some(c) => Err(format!(
                    "peer {} is Primary for DRBD resource {res}, which is not dual-primary; a second Primary would corrupt it",
                    c.name
                )),
                None => Ok(()),
            }
        }
        Guard::AddressFree => address_free(ctx)?,
        Guard::PathsOnMountedVolumes(paths) => {
            let table = mount::read_mountinfo()?;
            let bad = unmounted_paths(&ctx.config, &table, paths.iter().map(|p| p.as_path()));
            if bad.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "would export paths that are not on a mounted volume: {}",
                    bad.join(", ")
                ))
            }
        }
        Guard::HoldsServiceIp => match holds_service_ip(ctx)? {
            (true, _) => Ok(()),
            (false, what) => Err(format!(
                "this node no longer holds {what}: exports are applied on the active node only"
            )),
        },
        Guard::NoHolders(i) => {
            let v = &cfg.volumes[*i];
            let holders = holders(ctx, &v.mountpoint)?;
            if holders.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "{} is busy: {}; stop them (or rerun with --force-unmount to kill them)",
                    v.mountpoint.display(),
                    describe_holders(&holders)
                ))
            }
        }
        Guard::Backup(b) => super::backup_check::guard(ctx, b)?,
    })
}

/// Every configured export that lies under a volume's mountpoint needs that volume mounted:
/// otherwise exportfs would export the empty directory underneath.
pub fn exports_on_mounted(ctx: &Ctx) -> Result<Verdict> {
    let cfg = &ctx.config;
    let configured = exportfs::read_configured(&cfg.nfs.exports_dir)?;
    let table = mount::read_mountinfo()?;
    // One line per path, however many clients it is exported to.
    let mut bad = std::collections::BTreeMap::new();
    for e in &configured {
        if let Some(v) = cfg
            .volumes
            .iter()
            .find(|v| e.path.starts_with(&v.mountpoint))
            && !mount::VolumeMounts::of(v, &table).mounted
        {
            bad.entry(e.path.clone()).or_insert_with(|| {
                format!(
                    "{} (volume {} is not mounted at {})",
                    e.path.display(),
                    v.name,
                    v.mountpoint.display()
                )
            });
        }
    }
    let bad: Vec<String> = bad.into_values().collect();
    Ok(if bad.is_empty() {
        Ok(())
    } else {
        Err(format!("would export unmounted paths: {}", bad.join(", ")))
    })
}

/// The paths that are not on a mounted volume of the config, in words (each once).
pub fn unmounted_paths<'a>(
    cfg: &crate::config::Config,
    table: &[mount::Mount],
    paths: impl IntoIterator<Item = &'a std::path::Path>,
) -> Vec<String> {
    let mut bad: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut mounted: std::collections::HashMap<&str, bool> = std::collections::HashMap::new();
    for p in paths {
        if !seen.insert(p) {
            continue;
        }
        let why = match cfg.volume_of(p) {
            None => Some("not under any volume's mountpoint".to_string()),
            Some(v)
                if !*mounted
                    .entry(v.name.as_str())
                    .or_insert_with(|| mount::VolumeMounts::of(v, table).mounted) =>
            {
                Some(format!(
                    "volume {} is not mounted at {}",
                    v.name,
                    v.mountpoint.display()
                ))
            }
            Some(_) => None,
        };
        if let Some(why) = why {
            bad.push(format!("{} ({why})", p.display()));
        }
    }
    bad
}

/// Whether this node holds the service IP (exact address, prefix and interface), and the
/// address in words. Without a service IP in the config, the node counts as active.
pub fn holds_service_ip(ctx: &Ctx) -> Result<(bool, String)> {
    let Some(sip) = &ctx.config.service_ip else {
        return Ok((true, "no service IP (none configured)".into()));
    };
    let addrs = ip::parse(&ctx.runner.probe_ok(&ip::show_cmd())?.stdout)?;
    Ok((
        addrs.has(&sip.interface, &sip.address),
        format!("the service IP {} on {}", sip.address, sip.interface),
    ))
}

pub fn arping_flavor(ctx: &Ctx) -> Result<arping::Flavor> {
    let out = ctx.runner.run(&arping::help_cmd())?;
    arping::flavor(&out)
}

/// Ask the network whether another host answers for the service IP. Never in dry-run.
pub fn address_free(ctx: &Ctx) -> Result<Verdict> {
    let Some(sip) = &ctx.config.service_ip else {
        return Ok(Ok(()));
    };
    let flavor = arping_flavor(ctx)?;
    let out = ctx.runner.run(&arping::probe_cmd(
        flavor,
        &sip.interface,
        sip.address.addr(),
    ))?;
    let n = arping::replies(flavor, &out)?;
    Ok(if n == 0 {
        Ok(())
    } else {
        Err(format!(
            "another host answers ARP for {} on {} ({n} replies); it must release the address before this node takes it",
            sip.address.addr(),
            sip.interface
        ))
    })
}

pub fn holders(ctx: &Ctx, path: &std::path::Path) -> Result<Vec<fuser::Holder>> {
    let out = ctx.runner.run(&fuser::holders_cmd(path))?;
    Ok(fuser::parse_holders(&out)?
        .into_iter()
        .map(fuser::describe)
        .collect())
}

pub fn describe_holders(h: &[fuser::Holder]) -> String {
    let me = std::process::id();
    h.iter()
        .map(|h| {
            let note = if h.pid == me {
                " — this nfs-manage run: cd elsewhere"
            } else {
                ""
            };
            format!("pid {} ({}, user {}){note}", h.pid, h.command, h.user)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn verify(ctx: &Ctx, v: &Verify, out: &Output) -> Result<Verdict> {
    let cfg = &ctx.config;
    Ok(match v {
        Verify::RsyncComplete => crate::tools::rsync::verify(out),
        Verify::DrbdUp(res) => {
            if probe_drbd(ctx)?.iter().any(|r| &r.name == res) {
                Ok(())
            } else {
                Err(format!("DRBD resource {res} is still not configured"))
            }
        }
        Verify::DrbdRole { resource, role } => {
            let all = probe_drbd(ctx)?;
            match all.iter().find(|r| &r.name == resource) {
                Some(r) if r.role == *role => Ok(()),
                Some(r) => Err(format!(
                    "DRBD resource {resource} is {}, expected {role}",
                    r.role
                )),
                None => Err(format!("DRBD resource {resource} is not configured")),
            }
        }
        Verify::Mounted(i) => {
            let vol = &cfg.volumes[*i];
            let m = mount::VolumeMounts::of(vol, &mount::read_mountinfo()?);
            match &m.at_mountpoint {
                Some(top) if m.mounted && top.fstype == vol.fstype => Ok(()),
                Some(top) if m.mounted => Err(format!(
                    "{} is mounted as {}, expected {}",
                    vol.mountpoint.display(),
                    top.fstype,
                    vol.fstype
                )),
                Some(top) => Err(format!(
                    "{} has {} mounted, not {}",
                    vol.mountpoint.display(),
                    top.source,
                    vol.device.display()
                )),
                None => Err(format!("{} is not mounted", vol.mountpoint.display())),
            }
        }
        Verify::IsDir(path) => {
            if path.is_dir() {
                Ok(())
            } else {
                Err(format!("{} is not a directory", path.display()))
            }
        }
        Verify::NotMountedAt(path) => mount::nothing_mounted_at(path)?,
        Verify::Unit { unit, active } => {
            let state = probe_units(ctx, &[unit.as_str()])?
                .remove(unit.as_str())
                .unwrap_or_default();
            let is_active = state == "active";
            let settled_down = !matches!(
                state.as_str(),
                "active" | "activating" | "deactivating" | "reloading" | "refreshing"
            );
            if (*active && is_active) || (!*active && settled_down) {
                Ok(())
            } else {
                Err(format!(
                    "{unit} is {state}, expected {}",
                    if *active { "active" } else { "inactive" }
                ))
            }
        }
        Verify::ExportsApplied => {
            let configured = exportfs::read_configured(&cfg.nfs.exports_dir)?;
            let etab = exportfs::read_etab()?;
            let missing: Vec<String> = configured
                .iter()
                .filter(|c| {
                    !etab
                        .iter()
                        .any(|e| e.path == c.path && e.client == c.client)
                })
                .map(|c| format!("{}:{}", c.client, c.path.display()))
                .collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!("not in {}: {}", exportfs::ETAB, missing.join(", ")))
            }
        }
        Verify::ExportsWithdrawn(i) => {
            let vol = &cfg.volumes[*i];
            let left: Vec<String> = exportfs::read_etab()?
                .iter()
                .filter(|e| e.path.starts_with(&vol.mountpoint))
                .map(|e| format!("{}:{}", e.client, e.path.display()))
                .collect();
            if left.is_empty() {
                Ok(())
            } else {
                Err(format!("still exported: {}", left.join(", ")))
            }
        }
        Verify::Address { present } => {
            let Some(sip) = &cfg.service_ip else {
                return Ok(Ok(()));
            };
            let addrs = ip::parse(&ctx.runner.probe_ok(&ip::show_cmd())?.stdout)?;
            if addrs.has(&sip.interface, &sip.address) == *present {
                Ok(())
            } else {
                Err(format!(
                    "{} is {} {}",
                    sip.address,
                    if *present { "not on" } else { "still on" },
                    sip.interface
                ))
            }
        }
        Verify::AnnounceAnswered(flavor) => match arping::replies(*flavor, out)? {
            0 => Err("the gateway did not answer the ARP announcement".into()),
            _ => Ok(()),
        },
        Verify::Files(files) => {
            let mut wrong = Vec::new();
            for (path, want) in files {
                let have = match std::fs::read_to_string(path) {
                    Ok(t) => Some(t),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                    Err(e) => return Err(anyhow::anyhow!("cannot read {}: {e}", path.display())),
                };
                match (want, have) {
                    (Some(w), Some(h)) if *w == h => {}
                    (None, None) => {}
                    (Some(_), None) => wrong.push(format!("{} is missing", path.display())),
                    (Some(_), Some(_)) => wrong.push(format!(
                        "{} does not have the content written",
                        path.display()
                    )),
                    (None, Some(_)) => wrong.push(format!("{} still exists", path.display())),
                }
            }
            if wrong.is_empty() {
                Ok(())
            } else {
                Err(wrong.join("; "))
            }
        }
        Verify::Etab { present, absent } => {
            let etab = exportfs::read_etab()?;
            let index: std::collections::HashMap<(&std::path::Path, &str), &str> = etab
                .iter()
                .map(|e| ((e.path.as_path(), e.client.as_str()), e.options.as_str()))
                .collect();
            let mut wrong = Vec::new();
            for (path, client, opts) in present {
                match index.get(&(path.as_path(), client.as_str())) {
                    None => wrong.push(format!("{client}:{} is not exported", path.display())),
                    Some(have) if !exportfs::options_match(opts, have) => wrong.push(format!(
                        "{client}:{} is exported with ({have}), not ({opts})",
                        path.display()
                    )),
                    Some(_) => {}
                }
            }
            for (path, client) in absent {
                if index.contains_key(&(path.as_path(), client.as_str())) {
                    wrong.push(format!("{client}:{} is still exported", path.display()));
                }
            }
            if wrong.is_empty() {
                Ok(())
            } else {
                let n = wrong.len();
                wrong.truncate(10);
                Err(format!(
                    "{} ({n} entries wrong, read from {})",
                    wrong.join("; "),
                    exportfs::ETAB
                ))
            }
        }
        Verify::ProjectDir { path, gid } => {
            use std::os::unix::fs::{MetadataExt, PermissionsExt};
            match std::fs::metadata(path) {
                Err(e) => Err(format!("{}: {e}", path.display())),
                Ok(m) if !m.is_dir() => Err(format!("{} is not a directory", path.display())),
                Ok(m) if m.gid() != *gid => Err(format!(
                    "{} has group {}, expected {gid}",
                    path.display(),
                    m.gid()
                )),
                Ok(m) if m.permissions().mode() & 0o2000 == 0 => Err(format!(
                    "{} lacks the setgid bit (mode {:o})",
                    path.display(),
                    m.permissions().mode() & 0o7777
                )),
                Ok(_) => Ok(()),
            }
        }
        Verify::LockHolder { value, .. } => {
            super::cluster_lock::verify(ctx, value.as_deref(), out)?
        }
        Verify::SubRun { node, command } => sub_run(node, command, out),
        Verify::LetGo { node } => {
            let all = crate::tools::drbd::parse_status_text(&out.stdout)?;
            let_go(ctx, node, &all)
        }
        Verify::NoArpAnswer(flavor) => match arping::replies(*flavor, out)? {
            0 => Ok(()),
            n => Err(match &cfg.service_ip {
                Some(sip) => format!(
                    "{n} ARP replies for {}: a host still answers for the service IP",
                    sip.address.addr()
                ),
                None => format!("{n} ARP replies"),
            }),
        },
        Verify::PeerGone { node } => peer_gone(ctx, node)?,
        Verify::NoHolders(i) => {
            // Killed processes take a moment to exit and release their files.
            let vol = &cfg.volumes[*i];
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                let h = holders(ctx, &vol.mountpoint)?;
                if h.is_empty() {
                    break Ok(());
                }
                if Instant::now() > deadline {
                    break Err(format!(
                        "{} is still busy: {}",
                        vol.mountpoint.display(),
                        describe_holders(&h)
                    ));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Verify::Backup(b) => super::backup_check::verify(ctx, b, out)?,
    })
}

/// The JSON result of `nfs-manage CMD --yes --json` run as a step (see `Verify::SubRun`).
fn sub_run(node: &str, command: &str, out: &Output) -> Verdict {
    #[derive(serde::Deserialize)]
    struct Step {
        id: String,
        state: String,
    }
    #[derive(serde::Deserialize)]
    struct Result {
        format_version: u32,
        command: String,
        #[serde(default)]
        steps: Vec<Step>,
        #[serde(default)]
        result: Option<String>,
        #[serde(default)]
        error: Option<String>,
    }
    let r: Result = match serde_json::from_str(out.stdout.trim()) {
        Ok(r) => r,
        Err(e) => {
            return Err(format!(
                "`nfs-manage {command}` on {node} did not print its JSON result ({e}): {:?}",
                out.stdout.trim().chars().take(200).collect::<String>()
            ));
        }
    };
    if r.format_version != 1 || r.command != command {
        return Err(format!(
            "unexpected result from {node}: format_version {}, command {:?}",
            r.format_version, r.command
        ));
    }
    let result = r.result.as_deref().unwrap_or("");
    if !matches!(result, "ok" | "nothing to do") {
        return Err(format!(
            "`nfs-manage {command}` on {node}: {result}{}",
            r.error.map(|e| format!(": {e}")).unwrap_or_default()
        ));
    }
    let open: Vec<String> = r
        .steps
        .iter()
        .filter(|s| s.state != "done" && s.state != "already")
        .map(|s| format!("{} {}", s.id, s.state))
        .collect();
    if open.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "`nfs-manage {command}` on {node} says {result} but left steps open: {}",
            open.join(", ")
        ))
    }
}

/// `node` holds no non-dual resource as Primary, seen from here.
pub fn let_go(ctx: &Ctx, node: &str, all: &[crate::tools::drbd::Resource]) -> Verdict {
    let cfg = &ctx.config;
    let mut bad = Vec::new();
    for res in cfg.drbd_resources() {
        if cfg.resource_dual_primary(res) {
            continue;
        }
        let Some(r) = all.iter().find(|r| r.name == res) else {
            if node != ctx.node {
                bad.push(format!(
                    "{res}: not up on this node, so {node}'s role cannot be seen"
                ));
            }
            continue;
        };
        if node == ctx.node {
            if r.role == "Primary" {
                bad.push(format!("{res}: this node is still Primary"));
            }
            continue;
        }
        match r.connections.iter().find(|c| c.name == node) {
            Some(c) if c.connection == "Connected" && c.peer_role == "Secondary" => {}
            Some(c) if c.connection == "Connected" => {
                bad.push(format!("{res}: {node} is {}", c.peer_role))
            }
            Some(c) => bad.push(format!(
                "{res}: not connected to {node} ({}), so its role cannot be seen",
                c.connection
            )),
            None => bad.push(format!("{res}: no connection to {node}")),
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(format!("{node} has not let go: {}", bad.join("; ")))
    }
}

/// After fencing: DRBD is not connected to `node` on any resource and nobody answers ARP for
/// the service IP.
fn peer_gone(ctx: &Ctx, node: &str) -> Result<Verdict> {
    let all = probe_drbd(ctx)?;
    let connected: Vec<&str> = all
        .iter()
        .filter(|r| {
            r.connections
                .iter()
                .any(|c| c.name == node && c.connection == "Connected")
        })
        .map(|r| r.name.as_str())
        .collect();
    if !connected.is_empty() {
        return Ok(Err(format!(
            "DRBD is still connected to {node} on {}",
            connected.join(", ")
        )));
    }
    address_free(ctx)
}
