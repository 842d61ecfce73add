//! `nfs-manage up`: DRBD Primary → mount → NFS → exports → extra services → service IP and
//! its ARP announcement. The IP comes last so clients never reach a half-ready server.
//! Refusals (exit 3) are decided before anything changes; guards re-check right before the
//! risky steps, because state can move between plan and run.

use anyhow::Result;

use crate::context::Ctx;
use crate::context::{Plan, Step};
use crate::domain::drbd::DrbdCheck;
use crate::domain::drbd::PeerNotPrimary;
use crate::domain::exports::ExportsCheck;
use crate::domain::exports::ExportsGuard;
use crate::domain::facts::Facts;
use crate::domain::mounts::MountCheck;
use crate::domain::mounts::MountGuard;
use crate::domain::network::NetCheck;
use crate::domain::network::NetGuard;
use crate::domain::units::UnitCheck;
use crate::engine::execute::{self, Recovery};
use crate::tools::{arping, drbd, exportfs, ip, mount, systemctl};

pub fn run(ctx: &Ctx) -> Result<()> {
    let _lock = ctx.host_lock()?;
    let facts = Facts::gather(ctx, ctx.plan_mode())?;
    let (mut plan, refusals) = plan(ctx, &facts)?;
    if !refusals.is_empty() {
        return execute::refuse(ctx, &plan, &refusals);
    }
    let recovery = Recovery {
        retry: ctx.self_command("up"),
        back_out: Some(ctx.self_command("down")),
    };
    execute::run(ctx, &mut plan, &recovery)
}

/// How `failover --peer-dead` changes the plan: the caller takes the lock itself (from the
/// dead node, in one transaction) and promotion uses `drbdadm primary --force`.
#[derive(Debug, Clone, Copy)]
pub struct Opts {
    pub lock: bool,
    pub force_promote: bool,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            lock: true,
            force_promote: false,
        }
    }
}

pub fn plan(ctx: &Ctx, f: &Facts) -> Result<(Plan, Vec<String>)> {
    plan_with(ctx, f, Opts::default())
}

pub fn plan_with(ctx: &Ctx, f: &Facts, opts: Opts) -> Result<(Plan, Vec<String>)> {
    let cfg = &ctx.config;
    let mut p = Plan::new("up");
    let mut refusals = Vec::new();
    p.notes.extend(f.unknown.iter().cloned());

    // 0. The cluster lock (when configured): refuses (exit 4) if it names another node.
    if opts.lock
        && let Some(step) = crate::domain::cluster_lock::acquire_step(ctx)?
    {
        p.steps.push(step);
    }

    // 1. DRBD: up (if not configured) and Primary.
    for res in cfg.drbd_resources() {
        let dual = cfg.resource_dual_primary(res);
        let r = f.resource(res);
        if r.is_none() {
            p.steps.push(
                Step::new(
                    format!("drbd-up:{res}"),
                    format!("bring up DRBD resource {res}"),
                    drbd::up_cmd(cfg.drbd_config.as_deref(), res),
                    DrbdCheck::Up(res.into()),
                )
                .why("the resource is not configured on this node"),
            );
        }
        let promote = Step::new(
            format!("promote:{res}"),
            format!("promote DRBD {res} to Primary"),
            if opts.force_promote {
                drbd::primary_force_cmd(cfg.drbd_config.as_deref(), res)
            } else {
                drbd::primary_cmd(cfg.drbd_config.as_deref(), res)
            },
            DrbdCheck::Role {
                resource: res.into(),
                role: "Primary",
            },
        );
        match r {
            Some(r) if r.role == "Primary" => p.steps.push(promote.already("already Primary")),
            Some(r) => {
                if let Some(c) = r.any_peer_primary().filter(|_| !dual) {
                    refusals.push(format!(
                        "peer {} is Primary for DRBD resource {res} (not dual-primary): take it down there first (nfs-manage down on {})",
                        c.name, c.name
                    ));
                }
                // Forced (peer dead) too: only UpToDate. Consistent (a node that restarted
                // without its peer) and Outdated (its Primary outdated it when the replication
                // link broke) may both lack writes the dead peer acknowledged; which copy is
                // current is for the operator to judge, not for a forced promotion.
                for d in r.devices.iter().filter(|d| d.disk != "UpToDate") {
                    refusals.push(format!(
                        "DRBD resource {res} volume {} has local disk {}: promoting it would serve data that is not up to date",
                        d.volume, d.disk
                    ));
                }
                let why = format!(
                    "{} now{}",
                    r.role,
                    if dual {
                        " (dual-primary: peer may be Primary too)"
                    } else {
                        ""
                    }
                );
                let step = promote.why(why);
                p.steps.push(if dual {
                    step
                } else {
                    step.guard(PeerNotPrimary(res.into()))
                });
            }
            None => {
                let step = promote.why("after it is brought up");
                p.steps.push(if dual {
                    step
                } else {
                    step.guard(PeerNotPrimary(res.into()))
                });
            }
        }
    }

    // 2. Mounts, with the fstype the config gives (a DRBD-backed device may probe as "drbd").
    let mounts = mount::MountIndex::new(&f.mounts);
    for (i, v) in cfg.volumes.iter().enumerate() {
        let m = mounts.volume(v);
        let step = Step::new(
            format!("mount:{}", v.name),
            format!("mount {} on {}", v.name, v.mountpoint.display()),
            mount::mount_cmd(v),
            MountCheck::Mounted(i),
        );
        if m.mounted {
            let t = m
                .at_mountpoint
                .as_ref()
                .map(|t| t.fstype.as_str())
                .unwrap_or("?");
            if t != v.fstype {
                refusals.push(format!(
                    "{} is mounted as {t}, but the config says {}",
                    v.mountpoint.display(),
                    v.fstype
                ));
            }
            p.steps.push(step.already("mounted"));
            continue;
        }
        if let Some(top) = &m.at_mountpoint {
            refusals.push(format!(
                "{} already has {} mounted, not {}; unmount it first",
                v.mountpoint.display(),
                top.source,
                v.device.display()
            ));
        } else if v.mountpoint.exists() && !v.mountpoint.is_dir() {
            refusals.push(format!(
                "mountpoint {} of volume {} exists but is not a directory",
                v.mountpoint.display(),
                v.name
            ));
        } else if !v.mountpoint.exists() {
            p.steps.push(
                Step::new(
                    format!("mkdir:{}", v.name),
                    format!("create mountpoint {}", v.mountpoint.display()),
                    mount::mkdir_cmd(&v.mountpoint),
                    MountCheck::IsDir(v.mountpoint.clone()),
                )
                .why("it does not exist"),
            );
        }
        p.steps.push(step.why("not mounted"));
    }

    // Independent per-resource and per-volume work runs in parallel (each step still guarded,
    // verified and journaled): DRBD up/promote per resource, then mkdir/mount per volume.
    for s in p.steps.iter_mut() {
        let (group, lane) = match s.id.split_once(':') {
            Some(("drbd-up" | "promote", res)) => ("drbd", res.to_string()),
            Some(("mkdir" | "mount", vol)) => ("mount", vol.to_string()),
            _ => continue,
        };
        s.group = Some(group.into());
        s.lane = Some(lane);
    }

    // 3. NFS server: never while a volume is unmounted.
    let nfs = &cfg.nfs.service;
    let step = Step::new(
        format!("start:{nfs}"),
        "start the NFS server",
        systemctl::start_cmd(nfs),
        UnitCheck {
            unit: nfs.clone(),
            active: true,
        },
    );
    p.steps.push(if f.unit_active(nfs) {
        step.already("active")
    } else {
        step.why(format!(
            "{} now",
            f.units.get(nfs).map(String::as_str).unwrap_or("not active")
        ))
        .guard(MountGuard::VolumesMounted)
    });

    // 4. Exports: re-export what the exports files say, never onto an unmounted volume.
    let configured = exportfs::read_configured(&cfg.nfs.exports_dir)?;
    if configured.is_empty() {
        p.notes.push(format!(
            "no exports are configured in {} or {}",
            exportfs::EXPORTS,
            cfg.nfs.exports_dir.display()
        ));
    } else {
        let missing = configured
            .iter()
            .filter(|c| {
                !f.etab
                    .iter()
                    .any(|e| e.path == c.path && e.client == c.client)
            })
            .count();
        let step = Step::new(
            "exports",
            "apply NFS exports",
            exportfs::reexport_all_cmd(),
            ExportsCheck::Applied,
        );
        p.steps.push(if missing == 0 {
            step.already(format!(
                "all {} configured entries exported",
                configured.len()
            ))
        } else {
            step.why(format!(
                "{missing} of {} configured entries not exported",
                configured.len()
            ))
            .guard(ExportsGuard::OnMountedVolumes)
        });
    }

    // 5. Extra services.
    for s in &cfg.services {
        let step = Step::new(
            format!("start:{s}"),
            format!("start {s}"),
            systemctl::start_cmd(s),
            UnitCheck {
                unit: s.clone(),
                active: true,
            },
        );
        p.steps.push(if f.unit_active(s) {
            step.already("active")
        } else {
            step.why("not active").guard(MountGuard::VolumesMounted)
        });
    }

    // 6. Service IP last, after checking nobody else answers for it; then tell the gateway.
    if let Some(sip) = &cfg.service_ip {
        let step = Step::new(
            "ip",
            format!("add service IP {} on {}", sip.address, sip.interface),
            ip::add_cmd(&sip.interface, &sip.address),
            NetCheck::Address { present: true },
        );
        match &f.addrs {
            Some(a) if a.has(&sip.interface, &sip.address) => p.steps.push(step.already("present")),
            addrs => {
                if let Some(a) = addrs {
                    if !a.has_link(&sip.interface) {
                        refusals.push(format!(
                            "interface {} does not exist on this host",
                            sip.interface
                        ));
                    }
                    for other in a.find(sip.address.addr()) {
                        refusals.push(format!(
                            "{} is already on {} as /{}, not as configured ({} on {}); remove it by hand first",
                            other.addr, other.ifname, other.prefix, sip.address, sip.interface
                        ));
                    }
                }
                p.steps
                    .push(step.why("not present").guard(NetGuard::AddressFree));
                let flavor = match crate::domain::network::arping_flavor(ctx) {
                    Ok(fl) => fl,
                    Err(e) if ctx.global.dry_run => {
                        p.notes.push(format!("arping: {e:#}"));
                        arping::Flavor::Habets
                    }
                    Err(e) => return Err(e),
                };
                if ctx.global.dry_run {
                    let probe = arping::probe_cmd(flavor, &sip.interface, sip.address.addr());
                    p.notes.push(format!("before adding the IP, `{probe}` checks that no other host answers for it (not sent in a dry run)"));
                } else if refusals.is_empty()
                    && let Err(reason) = crate::domain::network::address_free(ctx)?
                {
                    refusals.push(reason);
                }
                p.steps.extend(announce_steps(flavor, sip));
            }
        }
        // Held already: announce again only if it was added and its announcement failed.
        if let Some(a) = &f.addrs
            && a.has(&sip.interface, &sip.address)
            && let Some(why) = unannounced(ctx)
        {
            let flavor = crate::domain::network::arping_flavor(ctx)?;
            for s in announce_steps(flavor, sip) {
                p.steps.push(s.why(why.clone()));
            }
        }
    }
    f.mark_unknown(&mut p);
    Ok((p, refusals))
}

/// Unsolicited ARP from the service IP, what its new owner sends: every neighbour (the
/// gateway, clients on the segment) moves its cache to this node's MAC. With `announce_to`, an
/// ARP request from the service IP to that gateway too: routers that ignore unsolicited ARP
/// still learn the sender of a request. A failure of either is a warning: the service is up,
/// only stale caches may send to the old node for a while.
fn announce_steps(flavor: arping::Flavor, sip: &crate::config::ServiceIp) -> Vec<Step> {
    let risk = format!(
        "the gateway and clients may keep sending to the old owner of {} until their ARP caches expire (minutes); rerun `nfs-manage up` to announce again",
        sip.address.addr()
    );
    let mut steps = vec![
        Step::new(
            "announce",
            format!("announce {} (unsolicited ARP)", sip.address.addr()),
            arping::gratuitous_cmd(flavor, &sip.interface, sip.address.addr()),
            NetCheck::Announced(flavor),
        )
        .ok_rcs(arping::GRATUITOUS_OK_RCS)
        .why("neighbours' ARP caches move to this node")
        .warn_only(risk.clone()),
    ];
    if let Some(gw) = sip.announce_to {
        steps.push(
            Step::new(
                "announce-gateway",
                format!("announce {} to {gw} (ARP request)", sip.address.addr()),
                arping::announce_cmd(flavor, &sip.interface, sip.address.addr(), gw),
                NetCheck::AnnounceAnswered(flavor),
            )
            .why("the gateway learns the sender of a request")
            .warn_only(risk),
        );
    }
    steps
}

/// How far back the journal is read for the last announcement.
const ANNOUNCE_TAIL: u64 = 1 << 20;

/// Why to announce the service IP again: the journal says this node added it and no
/// announcement went out after that. `None` when one did (or the IP was not added here).
fn unannounced(ctx: &Ctx) -> Option<String> {
    let records = crate::engine::journal::tail(&ctx.config.paths.journal, ANNOUNCE_TAIL);
    let mine = |r: &&serde_json::Value, step: &str| {
        r["node"] == ctx.node.as_str() && r["step"] == step && r["command"] == "up"
    };
    let added = records
        .iter()
        .rposition(|r| mine(&r, "ip") && r["result"] == "done")?;
    let announced = records[added..]
        .iter()
        .any(|r| mine(&r, "announce") && r["result"] == "done");
    (!announced).then(|| {
        format!(
            "the service IP was added at {} but no announcement went out after it",
            records[added]["time"].as_str().unwrap_or("?")
        )
    })
}
