//! The controlled failover: both nodes up; the lock moves in one transaction, `down` there,
//! proof it let go, `up` here.

use super::*;

pub(super) fn controlled(
    ctx: &Ctx,
    args: &FailoverArgs,
    remote: &Remote,
    peer: &str,
    f: &Facts,
    started: Instant,
) -> Result<()> {
    let cfg = &ctx.config;
    let me = ctx.node.as_str();
    let dry = ctx.global.dry_run;
    let mut pre = Preflight::default();

    // The peer's own view, and the target's grace/lease times if the target is the peer.
    // What holds its mounts comes in the same session: when the peer is the old node, the
    // preflight needs it, and one ssh round trip fewer is on the failover's critical path.
    let status_cmd = nfs_manage_on(
        ctx,
        remote,
        peer,
        &["status", "--json", "--holders"],
        Effect::Probe,
    )
    .with_timeout(cfg.failover.ssh_timeout);
    let grace_cmd = on_peer(ctx, remote, peer, &["cat", NFSD_GRACE, NFSD_LEASE]);
    let mut peer_status: Option<PeerStatus> = None;
    let mut peer_times: Option<Output> = None;
    if dry {
        pre.warn(format!(
            "{peer}: not asked in a dry run (ssh sends on the network): its state, holders and NFS times are left out"
        ));
    } else {
        let mut outs = ctx.runner.run_all(&[&status_cmd, &grace_cmd]).into_iter();
        let st = outs.next().expect("one per command")?;
        peer_times = outs.next().expect("one per command").ok();
        if st.success() {
            match serde_json::from_str::<PeerStatus>(st.stdout.trim()) {
                Ok(s) if s.format_version == 1 && s.node == peer => {
                    pre.ok(format!("{peer} answers over ssh (`{}`)", remote.ssh[0]));
                    peer_status = Some(s);
                }
                Ok(s) => pre.refuse(format!(
                    "{peer}: the host reached over ssh says it is {:?} (format_version {}), not {peer}",
                    s.node, s.format_version
                )),
                Err(e) => pre.refuse(format!(
                    "{peer}: `nfs-manage status --json` printed something unexpected: {e}"
                )),
            }
        } else if ssh::unreachable(&st) {
            pre.refuse(format!(
                "{peer} is unreachable over ssh ({}): {}; if it is hard-down, see --peer-dead",
                st.ending(),
                st.complaint()
            ));
        } else {
            pre.refuse(format!(
                "{peer}: `{status_cmd}` failed ({}): {}",
                st.ending(),
                st.complaint()
            ));
        }
    }

    let lock = if dry {
        None
    } else {
        cluster_lock::read_or_refuse(ctx, "failover")?
    };

    // Who is active now, and where it goes.
    let here = serving_here(ctx, f);
    let there = match &peer_status {
        Some(s) => serving_there(ctx, s),
        None => peer_primary_seen(ctx, f, peer),
    };
    if here && there {
        return Err(Error::Refused(format!(
            "both {me} and {peer} are serving (service IP, NFS or a non-dual volume): this needs a person, not a failover; see `nfs-manage status` on both; nothing was changed"
        ))
        .into());
    }
    let active: Option<&str> = if here {
        Some(me)
    } else if there {
        Some(peer)
    } else {
        None
    };
    let holder = lock
        .as_ref()
        .and_then(|l| l.holder_node().map(str::to_string));
    // Fully up: nothing left for its `up` to do (here), or IP, NFS and every volume (there).
    let complete = |node: &str| -> Result<bool> {
        if node == me {
            let (up, refusals) = crate::commands::up::plan(ctx, f)?;
            Ok(up.pending() == 0 && refusals.is_empty())
        } else {
            Ok(peer_status.as_ref().is_some_and(|s| {
                s.service_ip.as_ref().is_none_or(|i| i.present)
                    && s.nfs.active
                    && s.volumes.iter().all(|v| v.mounted)
            }))
        }
    };
    let target: String = match (&args.to, active, &holder) {
        (Some(t), _, _) => t.clone(),
        // The lock names the serving node but its `up` stopped half-way: finish there.
        (None, Some(a), Some(h)) if h == a && !complete(a)? => a.to_string(),
        (None, Some(a), _) => if a == me { peer } else { me }.to_string(),
        // Nothing serves but the lock names a node: finish the move to it.
        (None, None, Some(h)) if h == me || h == peer => h.clone(),
        (None, None, _) => {
            return Err(Error::Refused(format!(
                "neither {me} nor {peer} is serving, so there is nothing to move; bring the service up with `nfs-manage up` on the node that should serve"
            ))
            .into());
        }
    };
    let old: String = if target == me { peer } else { me }.to_string();
    // Already there: done only if the target's `up` has nothing left (a failover that stopped
    // half-way through the target's `up` is finished by running the same plan again).
    let settled = lock.as_ref().is_none_or(|st| st.held_by(&target));
    if active == Some(target.as_str()) {
        if settled && complete(&target)? {
            let msg = format!("{target} is already the active node: nothing to do.");
            if ctx.global.json {
                let mut plan = Plan::new("failover");
                plan.notes.push(msg);
                crate::output::json(&plan.to_json(Some("nothing to do"), None));
            } else if !ctx.global.quiet {
                outln!("{msg}");
            }
            return Ok(());
        }
        pre.warn(format!(
            "{target} serves, but not completely: finishing its `up`"
        ));
    }
    if let (Some(st), Some(h)) = (&lock, &holder)
        && h != &old
        && h != &target
    {
        return Err(cluster_lock::held_elsewhere(ctx, st, "failover").into());
    }
    match active {
        // A dry run asked neither the peer nor etcd: this node's view only.
        Some(a) if dry => pre.warn(format!(
            "active node: {a} as seen from {me} only (the peer and the lock are not checked in a dry run); moving to {target}"
        )),
        Some(a) => pre.ok(format!("active node: {a}; moving to {target}")),
        None if dry => pre.warn(format!(
            "nothing serves as seen from {me}; the lock is not read in a dry run: moving to {target}"
        )),
        None => pre.ok(format!(
            "nothing serves now; the lock names {}: finishing the move to {target}",
            holder.as_deref().unwrap_or("nobody")
        )),
    }
    if dry && cluster_lock::config(ctx).is_some() {
        pre.warn("cluster lock: not checked in a dry run (etcd is not contacted): a run checks who holds it first".to_string());
    }

    drbd_preflight(ctx, f, peer, &target, args.allow_resync, &mut pre);
    if dry && old != me {
        pre.warn(format!(
            "{old}: what holds its mounts is not checked in a dry run"
        ));
    }
    holders_preflight(ctx, &old, peer_status.as_ref(), &mut pre)?;
    if dry && target != me {
        pre.warn(format!(
            "NFS on {target}: grace and lease times not checked in a dry run"
        ));
    }
    times_preflight(&target, me, peer_times.as_ref(), dry, &mut pre);
    fsid_preflight(ctx, &mut pre)?;

    // The plan.
    let mut plan = Plan::new("failover");
    let (claim, take) = match lock_steps(ctx, lock.as_ref(), &old, &target) {
        Some((c, t)) => (Some(c), Some(t)),
        None => (None, None),
    };
    plan.steps.extend(claim);
    let mut down_words = vec!["down", "--yes", "--json"];
    if cfg.volumes.iter().any(|v| v.dual_primary) {
        down_words.push("--keep-dual-primary");
    }
    plan.steps.push(
        Step::new(
            format!("down:{old}"),
            format!("take the service down on {old}"),
            nfs_manage_on(ctx, remote, &old, &down_words, Effect::Change),
            PeerCheck::SubRun {
                node: old.clone(),
                command: "down".into(),
            },
        )
        .why(if old == me { "here" } else { "over ssh" }),
    );
    if cfg.has_drbd() {
        plan.steps.push(
            Step::new(
                format!("let-go:drbd:{old}"),
                format!("check that {old} is DRBD Secondary"),
                drbd::status_cmd(cfg.drbd_config.as_deref()),
                PeerCheck::LetGo { node: old.clone() },
            )
            .why("proof before promoting: every non-dual resource"),
        );
    }
    // Resuming a move whose target already serves: its `up` added the service IP, or is still
    // running (a killed failover's remote `up` runs on) and may add it at any moment. The
    // target then answers ARP for the address, so "nobody answers" cannot hold. Run here on
    // the old node, this node's own `down` checks the address is gone here, and the target's
    // `up` checks that nobody else answers before it adds the address.
    let target_holds_ip = old == me
        && peer_status
            .as_ref()
            .is_some_and(|s| s.service_ip.as_ref().is_some_and(|i| i.present));
    let target_serving = old == me && active == Some(target.as_str());
    if let Some(sip) = &cfg.service_ip {
        let flavor = match crate::domain::network::arping_flavor(ctx) {
            Ok(fl) => fl,
            Err(e) if dry => {
                plan.notes.push(format!("arping: {e:#}"));
                arping::Flavor::Habets
            }
            Err(e) => return Err(e),
        };
        let step = Step::new(
            format!("let-go:ip:{old}"),
            format!("check that nobody answers for {}", sip.address.addr()),
            arping::probe_cmd(flavor, &sip.interface, sip.address.addr()),
            NetCheck::NoArpAnswer(flavor),
        )
        .why("proof the old node dropped the service IP")
        // Habets' arping exits 1 when nobody answered: that is the outcome we want.
        .ok_rcs(&[0, 1]);
        plan.steps.push(if target_holds_ip {
            step.already(format!(
                "{target} holds {} already (its status says so) and answers for it; {me}'s `down` checks it is gone here",
                sip.address.addr()
            ))
        } else if target_serving {
            step.already(format!(
                "{target} serves already and its `up` is being finished: it may answer for {} at any moment, and checks nobody else does before adding it; {me}'s `down` checks it is gone here",
                sip.address.addr()
            ))
        } else {
            step
        });
    }
    plan.steps.extend(take);
    plan.steps.push(
        Step::new(
            format!("up:{target}"),
            format!("bring the service up on {target}"),
            nfs_manage_on(
                ctx,
                remote,
                &target,
                &["up", "--yes", "--json"],
                Effect::Change,
            ),
            PeerCheck::SubRun {
                node: target.clone(),
                command: "up".into(),
            },
        )
        .why(if target == me { "here" } else { "over ssh" }),
    );
    finish(
        ctx,
        plan,
        pre,
        &format!("failover {old} → {target}"),
        &Recovery {
            retry: ctx.self_command(&format!("failover --to {target}")),
            back_out: Some(ctx.self_command(&format!("failover --to {old}"))),
        },
        started,
    )
}

/// Print the preflight, refuse with every reason, or run the plan and close with the times.
pub(super) fn finish(
    ctx: &Ctx,
    mut plan: Plan,
    pre: Preflight,
    title: &str,
    recovery: &Recovery,
    started: Instant,
) -> Result<()> {
    let human = !ctx.global.json && !ctx.global.quiet;
    if human {
        out!("{}", pre.render(&format!("{title}: preflight")));
    }
    if ctx.global.json {
        let notes: Vec<String> = pre
            .lines
            .iter()
            .map(|(ok, l)| format!("preflight: {}{l}", if *ok { "" } else { "!! " }))
            .collect();
        plan.notes.splice(0..0, notes);
    }
    if !pre.refusals.is_empty() {
        return crate::engine::execute::refuse(ctx, &plan, &pre.refusals);
    }
    let preflight = started.elapsed();
    let result = execute::run(ctx, &mut plan, recovery);
    if result.is_ok() && human && !ctx.global.dry_run && plan.pending() == 0 {
        let mut parts = vec![format!("preflight {}", secs(preflight))];
        for s in plan.steps.iter().filter(|s| s.state == StepState::Done) {
            if let Some(d) = s.duration() {
                parts.push(format!("{} {}", s.id, secs(d)));
            }
        }
        outln!(
            "{title} done in {}: {}",
            secs(started.elapsed()),
            parts.join(", ")
        );
    }
    result
}

pub(super) fn move_lock_step(
    ctx: &Ctx,
    lock: Option<&LockState>,
    old: &str,
    target: &str,
) -> Option<Step> {
    let e = cluster_lock::config(ctx)?;
    let key = cluster_lock::key_of(ctx, e);
    let value = cluster_lock::value_for(target);
    let title = format!("move the cluster lock from {old} to {target}");
    Some(match lock {
        None => cluster_lock::txn_step(
            ctx,
            "lock:move",
            title,
            &key,
            crate::tools::etcd::Expect::Absent,
            Write::Put(value),
        )
        .why("etcd is not contacted in a dry run: the run moves it only if it still names the old node"),
        Some(st) => {
            let step =
                cluster_lock::txn_step(ctx, "lock:move", title, &key, st.expect(), Write::Put(value));
            if st.held_by(target) {
                step.already(format!("held by {}", st.describe()))
            } else {
                step
            }
        }
    })
}

/// The controlled failover's two lock transactions: before anything changes, the lock says
/// "moving from OLD to TARGET" (so neither node may come up on its own meanwhile, and a second
/// failover loses the race); after the proof that OLD let go, it names TARGET alone.
pub(super) fn lock_steps(
    ctx: &Ctx,
    lock: Option<&LockState>,
    old: &str,
    target: &str,
) -> Option<(Step, Step)> {
    use crate::tools::etcd::{Expect, Holder};
    let e = cluster_lock::config(ctx)?;
    let key = cluster_lock::key_of(ctx, e);
    let marker = Holder::moving_value(old, target, &crate::engine::journal::now_rfc3339());
    let claim_title = format!("mark the cluster lock: moving from {old} to {target}");
    let take_title = format!("hand the cluster lock to {target}");
    let final_value = cluster_lock::value_for(target);
    let Some(st) = lock else {
        let claim = cluster_lock::txn_step(
            ctx,
            "lock:claim",
            claim_title,
            &key,
            Expect::Absent,
            Write::Put(marker.clone()),
        )
        .why("etcd is not contacted in a dry run: the run marks it only if it still names the old node");
        let take = cluster_lock::txn_step(
            ctx,
            "lock:take",
            take_title,
            &key,
            Expect::WrittenEarlier { value: marker },
            Write::Put(final_value),
        );
        return Some((claim, take));
    };
    if st.held_by(target) {
        let claim = cluster_lock::txn_step(
            ctx,
            "lock:claim",
            claim_title,
            &key,
            st.expect(),
            Write::Put(marker),
        )
        .already(format!("held by {}", st.describe()));
        let take = cluster_lock::txn_step(
            ctx,
            "lock:take",
            take_title,
            &key,
            st.expect(),
            Write::Put(final_value),
        )
        .already(format!("held by {}", st.describe()));
        return Some((claim, take));
    }
    if st.moving() == Some((old, target)) {
        // An interrupted failover marked it already: carry on from its marker.
        let claim = cluster_lock::txn_step(
            ctx,
            "lock:claim",
            claim_title,
            &key,
            st.expect(),
            Write::Put(marker),
        )
        .already(st.describe());
        let take = cluster_lock::txn_step(
            ctx,
            "lock:take",
            take_title,
            &key,
            st.expect(),
            Write::Put(final_value),
        );
        return Some((claim, take));
    }
    let claim = cluster_lock::txn_step(
        ctx,
        "lock:claim",
        claim_title,
        &key,
        st.expect(),
        Write::Put(marker.clone()),
    );
    let take = cluster_lock::txn_step(
        ctx,
        "lock:take",
        take_title,
        &key,
        Expect::WrittenEarlier { value: marker },
        Write::Put(final_value),
    );
    Some((claim, take))
}
