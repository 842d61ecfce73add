//! `--peer-dead`: only with evidence and after fencing; the lock is taken from the dead node
//! in one transaction and promotion is forced.

use super::*;

pub(super) fn peer_dead(
    ctx: &Ctx,
    args: &FailoverArgs,
    remote: &Remote,
    peer: &str,
    f: &Facts,
    started: Instant,
) -> Result<()> {
    let cfg = &ctx.config;
    let me = ctx.node.as_str();
    if args.to.as_deref().is_some_and(|t| t != me) {
        return Err(Error::Refused(format!(
            "--peer-dead runs on the node that takes over: run it on {} (or drop --to)",
            args.to.as_deref().unwrap_or("")
        ))
        .into());
    }
    let dry = ctx.global.dry_run;
    let mut pre = Preflight::default();

    // Evidence, each required.
    if dry {
        pre.warn("evidence not gathered in a dry run (ssh and arping send on the network)");
    } else {
        let probe = on_peer(ctx, remote, peer, &["true"]);
        let out = ctx.runner.run(&probe)?;
        if ssh::unreachable(&out) {
            pre.ok(format!(
                "{peer} is unreachable over ssh: {}",
                out.complaint().lines().next().unwrap_or(&out.ending())
            ));
        } else if out.success() {
            pre.refuse(format!(
                "{peer} answers over ssh: it is not dead; use a controlled failover (without --peer-dead)"
            ));
        } else {
            pre.refuse(format!(
                "ssh to {peer} failed, but not for want of a connection ({}): {}; that is no evidence it is down",
                out.ending(),
                out.complaint()
            ));
        }
    }
    for res in cfg.drbd_resources() {
        match f.resource(res) {
            None if f.drbd.is_some() => pre.refuse(format!("DRBD {res}: not up on {me}")),
            None => {}
            Some(r) => match r.connections.iter().find(|c| c.name == peer) {
                Some(c) if c.connection == "Connected" => pre.refuse(format!(
                    "DRBD {res} is Connected to {peer} (peer {}): it is not dead",
                    c.peer_role
                )),
                Some(c) => pre.ok(format!("DRBD {res}: {} to {peer}", c.connection)),
                None => pre.ok(format!("DRBD {res}: no connection to {peer}")),
            },
        }
    }
    if let Some(sip) = &cfg.service_ip
        && !dry
    {
        match crate::domain::network::address_free(ctx)? {
            Ok(()) => pre.ok(format!("nobody answers ARP for {}", sip.address.addr())),
            Err(why) => pre.refuse(why),
        }
    }
    let lock = if dry {
        None
    } else {
        cluster_lock::read_or_refuse(ctx, "failover --peer-dead")?
    };
    if let Some(st) = &lock {
        match st.holder_node() {
            Some(h) if h != peer && h != me => {
                return Err(cluster_lock::held_elsewhere(ctx, st, "failover").into());
            }
            _ => pre.ok(format!("cluster lock: held by {}", st.describe())),
        }
    }
    // Evidence says the peer is gone; only a fence makes sure it stays gone. A hung node that
    // wakes up still holds its Primary, its mounts and the service IP: without a fence
    // command, the operator must have switched it off and say so.
    if cfg.failover.fence_command.is_none() && !args.peer_fenced {
        pre.refuse(format!(
            "no failover.fence_command is configured, so nothing makes sure {peer} is off before its data is taken over (a hung node that wakes up serves too): power it off yourself (BMC, PDU, hypervisor), check it is off, then rerun with --peer-fenced; or configure failover.fence_command"
        ));
    }
    if !pre.refusals.is_empty() {
        let plan = Plan::new("failover");
        return finish(
            ctx,
            plan,
            pre,
            &format!("failover {peer} (dead) → {me}"),
            &Recovery {
                retry: String::new(),
                back_out: None,
            },
            started,
        );
    }

    let mut plan = Plan::new("failover");
    if args.peer_fenced {
        plan.notes.push(format!(
            "{peer} was powered off by the operator (--peer-fenced){}; the journal records it with each step",
            if cfg.failover.fence_command.is_some() {
                ": failover.fence_command is not run"
            } else {
                ""
            }
        ));
    } else if let Some(fence) = &cfg.failover.fence_command {
        plan.steps.push(
            Step::new(
                format!("fence:{peer}"),
                format!("fence {peer}"),
                Cmd::change(fence.clone()).with_timeout(cfg.failover.fence_timeout),
                PeerCheck::Gone {
                    node: peer.to_string(),
                },
            )
            .why("failover.fence_command: it must succeed before anything is promoted"),
        );
    }
    if let Some(step) = move_lock_step(ctx, lock.as_ref(), peer, me) {
        plan.steps.push(step);
    }
    let (up, refusals) = crate::commands::up::plan_with(
        ctx,
        f,
        crate::commands::up::Opts {
            lock: false,
            force_promote: true,
        },
    )?;
    plan.notes.extend(up.notes);
    plan.steps.extend(up.steps);
    if args.peer_fenced {
        for s in &mut plan.steps {
            s.fields
                .insert("peer_fenced_by_operator".into(), peer.to_string().into());
        }
    }
    for r in refusals {
        pre.refuse(r);
    }
    let retry = format!("failover --peer-dead --to {}", shell_quote(me));
    finish(
        ctx,
        plan,
        pre,
        &format!("failover {peer} (dead) → {me}"),
        &Recovery {
            retry: ctx.self_command(&retry),
            back_out: None,
        },
        started,
    )
}
