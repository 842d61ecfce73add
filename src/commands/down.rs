//! `nfs-manage down`: the exact reverse of `up`. Service IP removed → extra services stopped →
//! exports withdrawn → NFS stopped → what holds each mount reported → bind mounts and
//! submounts, then the volume, unmounted → DRBD Secondary. A busy mount stops the run
//! (exit 3) unless `--force-unmount`, which kills the holders with SIGKILL first.

use anyhow::Result;

use crate::cli::DownArgs;
use crate::config::nesting::Under;
use crate::context::Ctx;
use crate::context::{Plan, Step};
use crate::domain::drbd::DrbdCheck;
use crate::domain::exports::ExportsCheck;
use crate::domain::facts::Facts;
use crate::domain::mounts::MountCheck;
use crate::domain::mounts::MountGuard;
use crate::domain::network::NetCheck;
use crate::domain::units::UnitCheck;
use crate::engine::execute::{self, Recovery};
use crate::tools::{drbd, fuser, ip, mount, systemctl};

pub fn run(ctx: &Ctx, args: &DownArgs) -> Result<()> {
    let _lock = ctx.host_lock()?;
    let facts = Facts::gather(ctx, ctx.plan_mode())?;
    let (mut plan, refusals) = plan(ctx, &facts, args)?;
    if !refusals.is_empty() {
        return crate::engine::execute::refuse(ctx, &plan, &refusals);
    }
    let recovery = Recovery {
        retry: ctx.self_command("down"),
        back_out: Some(ctx.self_command("up")),
    };
    execute::run(ctx, &mut plan, &recovery)
}

pub fn plan(ctx: &Ctx, f: &Facts, args: &DownArgs) -> Result<(Plan, Vec<String>)> {
    let cfg = &ctx.config;
    let mut p = Plan::new("down");
    let mut refusals = Vec::new();
    p.notes.extend(f.unknown.iter().cloned());

    // 1. Service IP first, so clients stop arriving.
    if let Some(sip) = &cfg.service_ip {
        let step = Step::new(
            "ip",
            format!("remove service IP {} from {}", sip.address, sip.interface),
            ip::del_cmd(&sip.interface, &sip.address),
            NetCheck::Address { present: false },
        );
        let here = f
            .addrs
            .as_ref()
            .is_some_and(|a| a.has(&sip.interface, &sip.address));
        p.steps.push(if here {
            step.why("present")
        } else {
            step.already("not present")
        });
        if let Some(a) = &f.addrs {
            for other in a
                .find(sip.address.addr())
                .into_iter()
                .filter(|o| o.ifname != sip.interface || o.prefix != sip.address.prefix_len())
            {
                refusals.push(format!(
                    "{} is on {} as /{}, not as configured ({} on {}); remove it by hand",
                    other.addr, other.ifname, other.prefix, sip.address, sip.interface
                ));
            }
        }
    }

    // 2. Extra services, in reverse order.
    for s in cfg.services.iter().rev() {
        let step = Step::new(
            format!("stop:{s}"),
            format!("stop {s}"),
            systemctl::stop_cmd(s),
            UnitCheck {
                unit: s.clone(),
                active: false,
            },
        );
        p.steps.push(if f.unit_active(s) {
            step.why("active")
        } else {
            step.already("not active")
        });
    }

    // 3. Exports under each volume.
    let exported = Under::new(f.etab.iter().map(|e| e.path.as_path()));
    for (i, v) in cfg.volumes.iter().enumerate().rev() {
        let entries: Vec<&crate::tools::exportfs::Export> = exported
            .of(&v.mountpoint)
            .into_iter()
            .map(|e| &f.etab[e])
            .collect();
        if entries.is_empty() {
            continue;
        }
        p.steps.push(
            Step::new(
                format!("unexport:{}", v.name),
                format!("withdraw exports of {}", v.name),
                crate::tools::exportfs::unexport_cmd(&entries),
                ExportsCheck::Withdrawn(i),
            )
            .why(format!("{} entries exported", entries.len())),
        );
    }

    // Withdrawing one volume's exports does not wait for another's.
    for s in p.steps.iter_mut().filter(|s| s.id.starts_with("unexport:")) {
        s.lane = s.id.split_once(':').map(|(_, v)| v.to_string());
        s.group = Some("unexport".into());
    }

    // 4. NFS server.
    let nfs = &cfg.nfs.service;
    let step = Step::new(
        format!("stop:{nfs}"),
        "stop the NFS server",
        systemctl::stop_cmd(nfs),
        UnitCheck {
            unit: nfs.clone(),
            active: false,
        },
    );
    p.steps.push(if f.unit_active(nfs) {
        step.why("active")
    } else {
        step.already("not active")
    });

    // 5. Mounts: holders first, then everything stacked on or bound from the volume, then it.
    let mounts = mount::MountIndex::new(&f.mounts);
    for (i, v) in cfg.volumes.iter().enumerate().rev() {
        let m = mounts.volume(v);
        if args.keep_dual_primary && v.dual_primary {
            p.steps.push(
                Step::new(
                    format!("umount:{}", v.name),
                    format!("unmount {} from {}", v.name, v.mountpoint.display()),
                    mount::umount_cmd(&v.mountpoint),
                    MountCheck::NotMountedAt(v.mountpoint.clone()),
                )
                .already("dual-primary: stays mounted (--keep-dual-primary)"),
            );
            continue;
        }
        let mut paths: Vec<std::path::PathBuf> =
            m.submounts.iter().map(|s| s.mountpoint.clone()).collect();
        for b in &m.of_device {
            if b.mountpoint != v.mountpoint && !paths.contains(&b.mountpoint) {
                paths.push(b.mountpoint.clone());
            }
        }
        // Deepest first, so nothing is unmounted from under another mount.
        paths.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        if m.mounted {
            match crate::domain::mounts::holders(ctx, &v.mountpoint) {
                Ok(h) if !h.is_empty() && !args.force_unmount => refusals.push(format!(
                    "{} is busy: {}; stop them, or rerun with --force-unmount to kill them",
                    v.mountpoint.display(),
                    crate::domain::mounts::describe_holders(&h)
                )),
                Ok(h) if h.iter().any(|h| h.pid == std::process::id()) => refusals.push(format!(
                    "this nfs-manage run has its working directory in {}; cd elsewhere first",
                    v.mountpoint.display()
                )),
                Ok(h) if !h.is_empty() => {
                    // TERM first: a holder may save its work and exit; what is left after the
                    // grace gets KILL, and only then is the mount proven free.
                    p.steps.push(
                        Step::new(
                            format!("term:{}", v.name),
                            format!(
                                "ask the processes holding {} to exit",
                                v.mountpoint.display()
                            ),
                            fuser::kill_cmd(&v.mountpoint, "TERM"),
                            MountCheck::Drained {
                                volume: i,
                                within: args.kill_after,
                            },
                        )
                        .why(format!(
                            "--force-unmount: {}",
                            crate::domain::mounts::describe_holders(&h)
                        ))
                        // fuser -k exits 1 when the holders are already gone by then.
                        .ok_rcs(&[0, 1]),
                    );
                    p.steps.push(
                        Step::new(
                            format!("kill:{}", v.name),
                            format!("kill what still holds {}", v.mountpoint.display()),
                            fuser::kill_cmd(&v.mountpoint, "KILL"),
                            MountCheck::NoHolders(i),
                        )
                        .why(format!(
                            "--force-unmount: whatever ignored TERM for {}",
                            humantime::format_duration(args.kill_after)
                        ))
                        .ok_rcs(&[0, 1]),
                    );
                }
                Ok(_) => {}
                Err(e) if ctx.global.dry_run => p.notes.push(format!(
                    "holders of {} unknown: {e:#}",
                    v.mountpoint.display()
                )),
                Err(e) => return Err(e),
            }
        }
        for path in paths {
            let what = if m.of_device.iter().any(|b| b.mountpoint == path) {
                "bind mount of"
            } else {
                "mount inside"
            };
            p.steps.push(
                Step::new(
                    format!("umount:{}", path.display()),
                    format!("unmount {} ({what} {})", path.display(), v.name),
                    mount::umount_cmd(&path),
                    MountCheck::NotMountedAt(path.clone()),
                )
                .why("keeps the device busy"),
            );
        }
        let step = Step::new(
            format!("umount:{}", v.name),
            format!("unmount {} from {}", v.name, v.mountpoint.display()),
            mount::umount_cmd(&v.mountpoint),
            MountCheck::NotMountedAt(v.mountpoint.clone()),
        );
        p.steps.push(if m.mounted {
            let step = step.why("mounted");
            if args.force_unmount {
                step
            } else {
                step.guard(MountGuard::NoHolders(i))
            }
        } else {
            step.already("not mounted")
        });
    }

    // Each volume's holders, submounts and unmount form one lane; the volumes run in parallel.
    let first_umount = p
        .steps
        .iter()
        .position(|s| {
            s.id.starts_with("term:") || s.id.starts_with("kill:") || s.id.starts_with("umount:")
        })
        .unwrap_or(p.steps.len());
    for s in p.steps[first_umount..].iter_mut() {
        let vol = cfg.volumes.iter().find(|v| {
            s.id == format!("term:{}", v.name)
                || s.id == format!("kill:{}", v.name)
                || s.id == format!("umount:{}", v.name)
                || s.title.ends_with(&format!(" {})", v.name))
        });
        if let Some(v) = vol {
            s.group = Some("umount".into());
            s.lane = Some(v.name.clone());
        }
    }

    // 6. DRBD Secondary.
    for res in cfg.drbd_resources().into_iter().rev() {
        let step = Step::new(
            format!("demote:{res}"),
            format!("demote DRBD {res} to Secondary"),
            drbd::secondary_cmd(cfg.drbd_config.as_deref(), res),
            DrbdCheck::Role {
                resource: res.into(),
                role: "Secondary",
            },
        );
        if args.keep_dual_primary && cfg.resource_dual_primary(res) {
            p.steps
                .push(step.already("dual-primary: stays Primary (--keep-dual-primary)"));
            continue;
        }
        p.steps.push(match f.resource(res) {
            Some(r) if r.role == "Primary" => step.why("Primary now"),
            Some(r) => step.already(r.role.clone()),
            None => step.already("not configured on this node"),
        });
    }

    for s in p.steps.iter_mut().filter(|s| s.id.starts_with("demote:")) {
        s.lane = s.id.split_once(':').map(|(_, r)| r.to_string());
        s.group = Some("demote".into());
    }

    // 7. The cluster lock (when configured), only if it names this node.
    if let Some(step) = crate::domain::cluster_lock::release_step(ctx)? {
        p.steps.push(step);
    }
    f.mark_unknown(&mut p);
    Ok((p, refusals))
}
