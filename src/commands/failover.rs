//! `nfs-manage failover`: move the service to the other node, run on either node.
//!
//! Controlled (both nodes up):
//! 1. Preflight on both nodes, printed with the plan: the peer answers over ssh (its
//!    `nfs-manage status --json`), every DRBD resource is Connected and the target UpToDate
//!    (a resync refuses unless `--allow-resync`, showing `done:`), what holds each mount on the
//!    active node (`fuser`), the target's NFSv4 grace and lease times, and whether every export
//!    pins an `fsid` (clients get stale handles otherwise). Any refusal stops before anything
//!    changes (exit 3).
//! 2. The plan, one verified step each: move the cluster lock from the old node to the target
//!    in one etcd transaction (two failovers at once cannot both win: the loser exits 4);
//!    `nfs-manage down --yes --json --keep-dual-primary` on the old node (over ssh, or here),
//!    its JSON result checked; proof it let go (`drbdadm status` shows it Secondary on every
//!    non-dual resource, and `arping` gets no answer for the service IP); `nfs-manage up --yes
//!    --json` on the target. Dual-primary volumes stay Primary and mounted on both nodes; only
//!    NFS and the IP move. A closing line gives each phase's time.
//!
//! Hard-down peer (`--peer-dead`, run on the node that takes over): only with evidence — the
//! peer unreachable over ssh (a connection that cannot be made, not a refused login), no DRBD
//! connection to it, and no ARP answer for the service IP — and after `failover.fence_command`
//! ran and succeeded, when configured. Then: fence → take the lock from the dead node in one
//! transaction → `up` with `drbdadm primary --force` (the only place `--force` is used). When
//! the old node returns, its `up` is refused because the lock names this node.
//!
//! A dry run contacts neither etcd nor the peer (it sends nothing on the network): it shows the
//! plan from this node's facts and says which checks it left out.

use std::time::{Duration, Instant};

use anyhow::Result;
use console::style;
use serde::Deserialize;

use crate::cli::FailoverArgs;
use crate::config::Remote;
use crate::engine::Ctx;
use crate::engine::check;
use crate::engine::cluster_lock::{self, LockState};
use crate::engine::execute::{self, Recovery};
use crate::engine::facts::Facts;
use crate::engine::lock::INHERIT_ENV;
use crate::engine::plan::{Plan, Step, StepState, Verify};
use crate::engine::runner::{Cmd, Effect, Output, shell_quote};
use crate::error::Error;
use crate::tools::{arping, drbd, etcd::Write, exportfs, fuser, ssh};

pub const NFSD_GRACE: &str = "/proc/fs/nfsd/nfsv4gracetime";
pub const NFSD_LEASE: &str = "/proc/fs/nfsd/nfsv4leasetime";

/// The part of the peer's `nfs-manage status --json` the failover needs.
#[derive(Debug, Deserialize)]
struct PeerStatus {
    format_version: u32,
    node: String,
    #[serde(default)]
    service_ip: Option<PeerIp>,
    nfs: PeerNfs,
    volumes: Vec<PeerVolume>,
}

#[derive(Debug, Deserialize)]
struct PeerIp {
    present: bool,
}

#[derive(Debug, Deserialize)]
struct PeerNfs {
    active: bool,
}

#[derive(Debug, Deserialize)]
struct PeerVolume {
    name: String,
    mountpoint: String,
    mounted: bool,
    drbd: Option<PeerDrbd>,
    /// From `status --holders`: present for every mounted volume.
    #[serde(default)]
    holders: Option<Vec<fuser::Holder>>,
}

#[derive(Debug, Deserialize)]
struct PeerDrbd {
    role: String,
}

/// Preflight findings, printed before the plan: (fine?, text).
#[derive(Default)]
struct Preflight {
    lines: Vec<(bool, String)>,
    refusals: Vec<String>,
}

impl Preflight {
    fn ok(&mut self, s: impl Into<String>) {
        self.lines.push((true, s.into()));
    }
    fn warn(&mut self, s: impl Into<String>) {
        self.lines.push((false, s.into()));
    }
    fn refuse(&mut self, s: impl Into<String>) {
        let s = s.into();
        self.lines.push((false, s.clone()));
        self.refusals.push(s);
    }
    fn render(&self, title: &str) -> String {
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

pub fn run(ctx: &Ctx, args: &FailoverArgs) -> Result<()> {
    let started = Instant::now();
    let cfg = &ctx.config;
    let Some(remote) = cfg.remote.as_ref() else {
        return Err(Error::Config(format!(
            "{}: failover needs `remote` (how to reach the other node over ssh), e.g. remote: {{ ssh: [ssh, -o, BatchMode=yes], user: root }}",
            ctx.config_path.display()
        ))
        .into());
    };
    let peer = pick_peer(ctx, args)?;
    if let Some(t) = &args.to
        && !cfg.nodes.contains_key(t)
    {
        let known: Vec<&str> = cfg.nodes.keys().map(String::as_str).collect();
        return Err(Error::Config(format!(
            "--to {t}: not a node of this cluster ({})",
            known.join(", ")
        ))
        .into());
    }
    let _lock = ctx.host_lock()?;
    let facts = Facts::gather(ctx, ctx.plan_mode())?;
    if args.peer_dead {
        peer_dead(ctx, args, remote, &peer, &facts, started)
    } else {
        controlled(ctx, args, remote, &peer, &facts, started)
    }
}

/// The other node of the pair: `--to` when it names another node, else the only other one.
fn pick_peer(ctx: &Ctx, args: &FailoverArgs) -> Result<String> {
    if let Some(t) = &args.to
        && t != &ctx.node
    {
        return Ok(t.clone());
    }
    let others: Vec<&String> = ctx
        .config
        .nodes
        .keys()
        .filter(|n| **n != ctx.node)
        .collect();
    match others.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(Error::Config("failover needs two nodes in `nodes`".into()).into()),
        _ => Err(Error::Config(format!(
            "this cluster lists {} other nodes; say which one with --to",
            others.len()
        ))
        .into()),
    }
}

/// `nfs-manage … SUB ARGS` on `node`: this binary here (under this run's host lock), or
/// `nfs-manage` over ssh on the peer. Same config path and node name either way.
fn nfs_manage_on(ctx: &Ctx, remote: &Remote, node: &str, words: &[&str], effect: Effect) -> Cmd {
    let mut argv: Vec<String> = Vec::new();
    if ctx.config_path != std::path::Path::new(crate::cli::DEFAULT_CONFIG) {
        argv.extend(["--config".into(), ctx.config_path.display().to_string()]);
    }
    argv.extend(["--node".into(), node.to_string()]);
    // A run on that node that is about to finish (e.g. a failover that lost the lock race)
    // must not fail this step.
    if effect == Effect::Change {
        argv.extend(["--wait-lock".into(), "30s".into()]);
    }
    argv.extend(words.iter().map(|w| w.to_string()));
    let timeout = ctx.config.failover.remote_timeout;
    if node == ctx.node {
        let exe = std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "nfs-manage".into());
        let mut full = vec![exe];
        full.extend(argv);
        let c = match effect {
            Effect::Probe => Cmd::probe(full),
            Effect::Change => Cmd::change(full),
        };
        c.with_env(INHERIT_ENV, &std::process::id().to_string())
            .with_timeout(timeout)
    } else {
        let mut full = vec!["nfs-manage".to_string()];
        full.extend(argv);
        ssh::cmd(remote, ctx.config.nodes[node].address, &full, effect).with_timeout(timeout)
    }
}

fn on_peer(ctx: &Ctx, remote: &Remote, peer: &str, words: &[&str]) -> Cmd {
    let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
    ssh::cmd(
        remote,
        ctx.config.nodes[peer].address,
        &words,
        Effect::Probe,
    )
    .with_timeout(ctx.config.failover.ssh_timeout)
}

/// Serving: the service IP, NFS, or a non-dual volume mounted or Primary.
fn serving_here(ctx: &Ctx, f: &Facts) -> bool {
    let cfg = &ctx.config;
    let ip = cfg.service_ip.as_ref().is_some_and(|s| {
        f.addrs
            .as_ref()
            .is_some_and(|a| a.has(&s.interface, &s.address))
    });
    let vols = cfg.volumes.iter().filter(|v| !v.dual_primary).any(|v| {
        crate::tools::mount::VolumeMounts::of(v, &f.mounts).mounted
            || v.drbd
                .as_deref()
                .and_then(|r| f.resource(r))
                .is_some_and(|r| r.role == "Primary")
    });
    ip || f.unit_active(&cfg.nfs.service) || vols
}

fn serving_there(ctx: &Ctx, s: &PeerStatus) -> bool {
    let dual = |name: &str| {
        ctx.config
            .volumes
            .iter()
            .any(|v| v.name == name && v.dual_primary)
    };
    s.service_ip.as_ref().is_some_and(|i| i.present)
        || s.nfs.active
        || s.volumes
            .iter()
            .filter(|v| !dual(&v.name))
            .any(|v| v.mounted || v.drbd.as_ref().is_some_and(|d| d.role == "Primary"))
}

/// The peer is Primary on a non-dual resource, seen from here (when it cannot be asked).
fn peer_primary_seen(ctx: &Ctx, f: &Facts, peer: &str) -> bool {
    ctx.config
        .drbd_resources()
        .into_iter()
        .filter(|r| !ctx.config.resource_dual_primary(r))
        .filter_map(|r| f.resource(r))
        .any(|r| {
            r.connections
                .iter()
                .any(|c| c.name == peer && c.peer_role == "Primary")
        })
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn controlled(
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
            let (up, refusals) = super::up::plan(ctx, f)?;
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
                println!("{}", plan.to_json(Some("nothing to do"), None));
            } else if !ctx.global.quiet {
                println!("{msg}");
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
        Some(a) => pre.ok(format!("active node: {a}; moving to {target}")),
        None => pre.ok(format!(
            "nothing serves now; the lock names {}: finishing the move to {target}",
            holder.as_deref().unwrap_or("nobody")
        )),
    }

    drbd_preflight(ctx, f, peer, &target, args.allow_resync, &mut pre);
    holders_preflight(ctx, &old, peer_status.as_ref(), &mut pre)?;
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
            Verify::SubRun {
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
                Verify::LetGo { node: old.clone() },
            )
            .why("proof before promoting: every non-dual resource"),
        );
    }
    if let Some(sip) = &cfg.service_ip {
        let flavor = match check::arping_flavor(ctx) {
            Ok(fl) => fl,
            Err(e) if dry => {
                plan.notes.push(format!("arping: {e:#}"));
                arping::Flavor::Habets
            }
            Err(e) => return Err(e),
        };
        plan.steps.push(
            Step::new(
                format!("let-go:ip:{old}"),
                format!("check that nobody answers for {}", sip.address.addr()),
                arping::probe_cmd(flavor, &sip.interface, sip.address.addr()),
                Verify::NoArpAnswer(flavor),
            )
            .why("proof the old node dropped the service IP")
            // Habets' arping exits 1 when nobody answered: that is the outcome we want.
            .ok_rcs(&[0, 1]),
        );
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
            Verify::SubRun {
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
fn finish(
    ctx: &Ctx,
    mut plan: Plan,
    pre: Preflight,
    title: &str,
    recovery: &Recovery,
    started: Instant,
) -> Result<()> {
    let human = !ctx.global.json && !ctx.global.quiet;
    if human {
        print!("{}", pre.render(&format!("{title}: preflight")));
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
        return super::up::refuse(ctx, &plan, &pre.refusals);
    }
    let preflight = started.elapsed();
    let result = execute::run(ctx, &mut plan, recovery);
    if result.is_ok() && human && !ctx.global.dry_run && plan.pending() == 0 {
        let mut parts = vec![format!("preflight {}", secs(preflight))];
        for s in plan.steps.iter().filter(|s| s.state == StepState::Done) {
            if let Some(d) = s.duration {
                parts.push(format!("{} {}", s.id, secs(d)));
            }
        }
        println!(
            "{title} done in {}: {}",
            secs(started.elapsed()),
            parts.join(", ")
        );
    }
    result
}

fn move_lock_step(ctx: &Ctx, lock: Option<&LockState>, old: &str, target: &str) -> Option<Step> {
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
fn lock_steps(
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

fn drbd_preflight(
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
fn holders_preflight(
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
            let h = check::holders(ctx, &v.mountpoint)?;
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

fn report_holders(pre: &mut Preflight, node: &str, mountpoint: &str, h: &[fuser::Holder]) {
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
fn times_preflight(
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
fn fsid_preflight(ctx: &Ctx, pre: &mut Preflight) -> Result<()> {
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

fn peer_dead(
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
        match check::address_free(ctx)? {
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
    if let Some(fence) = &cfg.failover.fence_command {
        plan.steps.push(
            Step::new(
                format!("fence:{peer}"),
                format!("fence {peer}"),
                Cmd::change(fence.clone()).with_timeout(cfg.failover.fence_timeout),
                Verify::PeerGone {
                    node: peer.to_string(),
                },
            )
            .why("failover.fence_command: it must succeed before anything is promoted"),
        );
    } else {
        pre.warn("no failover.fence_command configured: relying on the evidence above alone");
    }
    if let Some(step) = move_lock_step(ctx, lock.as_ref(), peer, me) {
        plan.steps.push(step);
    }
    let (up, refusals) = super::up::plan_with(
        ctx,
        f,
        super::up::Opts {
            lock: false,
            force_promote: true,
        },
    )?;
    plan.notes.extend(up.notes);
    plan.steps.extend(up.steps);
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
