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
use crate::context::Ctx;
use crate::context::{Plan, Step};
use crate::domain::cluster_lock::{self, LockState};
use crate::domain::facts::Facts;
use crate::domain::network::NetCheck;
use crate::domain::peer::PeerCheck;
use crate::engine::execute::{self, Recovery};
use crate::engine::lock::INHERIT_ENV;
use crate::engine::plan::StepState;
use crate::error::Error;
use crate::process::{Cmd, Effect, Output, shell_quote};
use crate::tools::{arping, drbd, etcd::Write, exportfs, fuser, ssh};

mod controlled;
mod peer;
mod peer_dead;
mod preflight;

use controlled::*;
use peer::*;
use peer_dead::peer_dead;
use preflight::*;

pub const NFSD_GRACE: &str = "/proc/fs/nfsd/nfsv4gracetime";
pub const NFSD_LEASE: &str = "/proc/fs/nfsd/nfsv4leasetime";

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
        // Absolute: a path relative to this shell's directory means nothing to the peer's
        // login shell, nor to a nested run started elsewhere.
        let path = std::path::absolute(&ctx.config_path).unwrap_or(ctx.config_path.clone());
        argv.extend(["--config".into(), path.display().to_string()]);
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
        let mut full = vec![crate::context::self_exe()];
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
