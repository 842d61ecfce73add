//! `nfs-manage sync [NAME] [--interval SECONDS]`: rsync each `sync:` entry to the peer node
//! (push) or from its canonical source host (pull), over the configured `remote.ssh`.
//!
//! - Only the node that holds the service IP (exact address, prefix and interface) syncs;
//!   elsewhere it says so and exits 0. Without a service IP (a single dumps host) it always
//!   runs.
//! - The plan (one step per entry, with its rsync command) is printed first; `--dry-run` stops
//!   there and sends nothing. No prompt: the entries in the config are the operator's intent,
//!   and this runs from timers.
//! - Each entry has its own lock (`sync-NAME.lock` beside `paths.lock`, exit 4 when another run
//!   holds it); sync does not take the host lock, so a long transfer never blocks `down`.
//! - Guard: a path under a volume's mountpoint needs that volume mounted, so an unmounted
//!   volume's empty directory is never pushed over the peer's copy (exit 3).
//! - Verified: rsync's exit code is 0 (or 24, files vanished on the live source) and its
//!   closing `--stats` block is complete. Exit code, duration, the itemized changes (count and
//!   the first few) and the stats go to the journal.
//! - Entries are independent: one failing does not stop the others; the run exits 1 if any
//!   failed (else 3 if any was refused, else 4 if any was locked).
//! - `--interval S` runs again S seconds after the previous run finished, until stopped;
//!   failures are reported and the next run still happens.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::Result;

use crate::cli::SyncArgs;
use crate::config::{Direction, SyncEntry};
use crate::context::{Ctx, Plan, Step};
use crate::domain::transfer::RsyncComplete;
use crate::engine::check::{Guard, Verdict};
use crate::engine::execute::{self, Policy, Recovery};
use crate::error::{Error, exit_code_of};
use crate::exit;
use crate::tools::{ip, mount, rsync};

pub fn run(ctx: &Ctx, args: &SyncArgs) -> Result<()> {
    let cfg = &ctx.config;
    let entries: Vec<&SyncEntry> = match &args.name {
        Some(n) => match cfg.sync.iter().find(|e| &e.name == n) {
            Some(e) => vec![e],
            None => {
                let known: Vec<&str> = cfg.sync.iter().map(|e| e.name.as_str()).collect();
                return Err(Error::Usage(format!(
                    "no sync entry named {n:?} in {} (entries: {})",
                    ctx.config_path.display(),
                    crate::config::names_or_none(&known)
                ))
                .into());
            }
        },
        None => cfg.sync.iter().collect(),
    };
    if entries.is_empty() {
        say(ctx, "no sync entries in the configuration: nothing to do");
        return Ok(());
    }
    let Some(interval) = args.interval else {
        return round(ctx, &entries);
    };
    loop {
        if let Err(e) = round(ctx, &entries) {
            // A broken installation will not mend itself: stop. Anything else is reported
            // and retried after the interval.
            let code = exit_code_of(&e);
            if code == exit::TOOL_MISSING || code == exit::CONFIG {
                return Err(e);
            }
            errln!("nfs-manage: {e:#}");
        }
        if ctx.global.verbose {
            errln!("nfs-manage sync: next run in {interval} s");
        }
        // Waits after the run finished, whatever it took: never a busy loop.
        std::thread::sleep(Duration::from_secs(interval));
    }
}

fn say(ctx: &Ctx, msg: &str) {
    if !ctx.global.quiet && !ctx.global.json {
        outln!("nfs-manage sync: {msg}");
    }
    log::info!(cluster = ctx.config.cluster.as_str(), node = ctx.node.as_str(), command = "sync"; "{msg}");
}

/// Where the other end is, for messages and the rsync argv.
fn remote_host(ctx: &Ctx, e: &SyncEntry) -> String {
    match e.direction {
        Direction::Pull => e.source.clone().expect("validated: pull has a source"),
        Direction::Push => {
            let cfg = &ctx.config;
            let peer = e.peer.clone().unwrap_or_else(|| {
                cfg.nodes
                    .keys()
                    .find(|n| **n != ctx.node)
                    .cloned()
                    .unwrap_or_default()
            });
            cfg.nodes
                .get(&peer)
                .map(|n| n.address.to_string())
                .unwrap_or(peer)
        }
    }
}

fn peer_name(ctx: &Ctx, e: &SyncEntry) -> String {
    match e.direction {
        Direction::Pull => e.source.clone().unwrap_or_default(),
        Direction::Push => e.peer.clone().unwrap_or_else(|| {
            ctx.config
                .nodes
                .keys()
                .find(|n| **n != ctx.node)
                .cloned()
                .unwrap_or_default()
        }),
    }
}

pub fn step_id(e: &SyncEntry) -> String {
    format!("sync:{}", e.name)
}

fn plan(ctx: &Ctx, entries: &[&SyncEntry]) -> Plan {
    let remote = ctx
        .config
        .remote
        .as_ref()
        .expect("validated: sync needs remote");
    let mut plan = Plan::new("sync");
    for e in entries {
        let host = remote_host(ctx, e);
        // Its own limit (and process group): a transfer may run far longer than a step.
        let cmd = rsync::sync_cmd(e, &remote.ssh, &remote.user, &host).with_timeout(e.max_runtime);
        let peer = peer_name(ctx, e);
        let title = match e.direction {
            Direction::Push => format!(
                "push {} to {peer}:{}",
                e.path.display(),
                e.peer_path().display()
            ),
            Direction::Pull => format!(
                "pull {peer}:{} into {}",
                e.peer_path().display(),
                e.path.display()
            ),
        };
        let direction = match e.direction {
            Direction::Push => "push",
            Direction::Pull => "pull",
        };
        plan.steps.push(
            Step::new(step_id(e), title, cmd, RsyncComplete)
                .why(format!("sync entry {}", e.name))
                .ok_rcs(rsync::LIVE_RCS)
                .guard(SyncSourceMounted {
                    path: e.path.clone(),
                    direction: e.direction,
                })
                .lock(lock_path(ctx, e))
                .field("direction", direction)
                .field("remote", host)
                .subject(e.name.clone()),
        );
    }
    plan
}

/// Is this the node that should sync: does it hold the service IP, exactly?
fn holds_service_ip(ctx: &Ctx) -> Result<Option<String>> {
    let Some(sip) = &ctx.config.service_ip else {
        return Ok(None);
    };
    let out = ctx.runner.probe_ok(&ip::show_cmd())?;
    let addrs = ip::parse(&out.stdout)?;
    if addrs.has(&sip.interface, &sip.address) {
        Ok(None)
    } else {
        Ok(Some(format!(
            "this node ({}) does not hold the service IP {} on {}: nothing to do (sync runs on the node that holds it)",
            ctx.node, sip.address, sip.interface
        )))
    }
}

/// A path under a volume's mountpoint needs the volume mounted (fresh probe): an unmounted
/// volume's empty directory is never pushed over the peer's copy, nor filled by a pull.
struct SyncSourceMounted {
    path: PathBuf,
    direction: Direction,
}

impl Guard<Ctx> for SyncSourceMounted {
    fn check(&self, ctx: &Ctx) -> Result<Verdict> {
        let table = mount::read_mountinfo()?;
        for v in &ctx.config.volumes {
            if self.path.starts_with(&v.mountpoint) && !mount::VolumeMounts::of(v, &table).mounted {
                let what = match self.direction {
                    Direction::Push => "pushing it would send the empty directory underneath",
                    Direction::Pull => "pulling into it would fill the directory underneath",
                };
                return Ok(Err(format!(
                    "{} is on volume {}, which is not mounted at {}: {what}",
                    self.path.display(),
                    v.name,
                    v.mountpoint.display()
                )));
            }
        }
        Ok(Ok(()))
    }
}

fn lock_path(ctx: &Ctx, e: &SyncEntry) -> PathBuf {
    let dir = ctx
        .config
        .paths
        .lock
        .parent()
        .unwrap_or(Path::new("/run/nfs-manage"));
    dir.join(format!("sync-{}.lock", e.name))
}

/// One pass over the entries: entries are independent, so every one runs and the run
/// reports them all. No prompt: the entries in the config are the operator's intent.
fn round(ctx: &Ctx, entries: &[&SyncEntry]) -> Result<()> {
    if let Some(why) = holds_service_ip(ctx)? {
        say(ctx, &why);
        return Ok(());
    }
    let mut plan = plan(ctx, entries);
    let recovery = Recovery {
        retry: ctx.self_command("sync"),
        back_out: None,
    };
    let policy = Policy {
        keep_going: true,
        confirm: false,
        dry_run_says: "nothing was sent",
    };
    execute::run_with(ctx, &mut plan, &recovery, policy, || Ok(()))
}

/// The last journaled run of each sync entry, for `metrics`.
#[derive(Debug, Clone, PartialEq)]
pub struct LastRun {
    /// Unix time the run started.
    pub started: f64,
    pub duration_ms: u64,
    pub rc: Option<i64>,
    pub success: bool,
    pub transferred_bytes: Option<u64>,
}

/// How much of the journal's end to read: enough for many days of sync runs without reading
/// a journal that has grown for years.
const TAIL: u64 = 4 << 20;

pub fn last_runs(journal: &Path) -> BTreeMap<String, LastRun> {
    let mut out = BTreeMap::new();
    for v in crate::engine::journal::tail(journal, TAIL) {
        if v["command"] != "sync" {
            continue;
        }
        let Some(name) = v["step"].as_str().and_then(|s| s.strip_prefix("sync:")) else {
            continue;
        };
        let started = v["time"]
            .as_str()
            .and_then(|t| humantime::parse_rfc3339_weak(t).ok())
            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map(|d| d.as_secs_f64())
            .unwrap_or_default();
        out.insert(
            name.to_string(),
            LastRun {
                started,
                duration_ms: v["duration_ms"].as_u64().unwrap_or_default(),
                rc: v["rc"].as_i64(),
                success: v["result"] == "done",
                transferred_bytes: v["rsync"]["stats"]["transferred_size"].as_u64(),
            },
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_runs_reads_the_latest_record_per_entry() {
        let dir = tempfile::tempdir().unwrap();
        let j = dir.path().join("journal.jsonl");
        std::fs::write(
            &j,
            concat!(
                r#"{"time":"2024-05-01T10:00:00.000Z","command":"sync","step":"sync:tools","rc":0,"duration_ms":1500,"result":"done","rsync":{"stats":{"transferred_size":42}}}"#,
                "\n",
                r#"{"time":"2024-05-01T10:00:01.000Z","command":"up","step":"mount:tools","rc":0,"duration_ms":5,"result":"done"}"#,
                "\n",
                "not json\n",
                r#"{"time":"2024-05-01T10:10:00.000Z","command":"sync","step":"sync:tools","rc":11,"duration_ms":200,"result":"failed","rsync":{"stats":{"transferred_size":null}}}"#,
                "\n",
            ),
        )
        .unwrap();
        let runs = last_runs(&j);
        assert_eq!(runs.len(), 1);
        let t = &runs["tools"];
        assert_eq!(t.started, 1714558200.0);
        assert_eq!((t.rc, t.success, t.duration_ms), (Some(11), false, 200));
        assert_eq!(t.transferred_bytes, None);
        assert!(last_runs(&dir.path().join("missing")).is_empty());
    }
}
