//! `nfs-manage backup run|mount|umount|list`: block-device backups on the backup host.
//!
//! - `run` pulls a source LV from the passive node into a local LV (bdsync or rsync over
//!   ssh), as a verified plan; one run per backup at a time (flock, exit 4).
//! - `mount` mounts a read-only LVM snapshot of the backup, never the backup LV itself, so the
//!   next run is not blocked; `umount` removes it again; `umount --expired` does so for mounts
//!   past their TTL. Open mounts are recorded under `paths.state` (/var/lib/nfs-manage).
//! - `list` reports each backup's last run (from the journal), snapshot fill and open mount.
//!
//! Locks, next to `paths.lock`: `backup-NAME.lock` is held by a run for its whole length, and
//! for a moment by `mount` while it takes its snapshot (a snapshot of a target being rewritten
//! would be torn); a run that finds it held by a mount waits for it. `backup-NAME.mount.lock`
//! keeps two mounts/umounts of one backup apart, and never blocks a run.

pub mod list;
pub mod mount;
pub mod run;
pub mod state;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::cli::{BackupCommand, Global, WrapRemoteArgs};
use crate::config::Backup;
use crate::context::Ctx;
use crate::engine::files::write_atomic;
use crate::engine::lock::HostLock;
use crate::engine::runner::Runner;
use crate::error::Error;
use crate::process::Cmd;

pub fn dispatch(ctx: &Ctx, cmd: &BackupCommand) -> Result<()> {
    match cmd {
        BackupCommand::Run(a) => run::run(ctx, &a.name),
        BackupCommand::Mount(a) => mount::mount(ctx, a),
        BackupCommand::Umount(a) => mount::umount(ctx, a),
        BackupCommand::List => list::list(ctx),
        BackupCommand::WrapRemote(_) => unreachable!("dispatched without a context"),
    }
}

/// The backup called NAME, or a usage error (exit 2) naming the ones there are.
pub fn find<'a>(ctx: &'a Ctx, name: &str) -> Result<(usize, &'a Backup)> {
    if let Some(i) = ctx.config.backups.iter().position(|b| b.name == name) {
        return Ok((i, &ctx.config.backups[i]));
    }
    let known: Vec<&str> = ctx.config.backups.iter().map(|b| b.name.as_str()).collect();
    Err(Error::Usage(format!(
        "no backup called {name:?} in {} (configured: {})",
        ctx.config_path.display(),
        crate::config::names_or_none(&known)
    ))
    .into())
}

fn lock_path(ctx: &Ctx, name: &str, suffix: &str) -> PathBuf {
    let dir = ctx
        .config
        .paths
        .lock
        .parent()
        .unwrap_or(Path::new("/run/nfs-manage"));
    dir.join(format!("backup-{name}{suffix}.lock"))
}

/// The run lock. `wait_for_mount`: if a `backup mount` holds it (for the seconds it takes its
/// snapshot), wait up to a minute instead of failing.
pub fn run_lock(ctx: &Ctx, name: &str, wait_for_mount: bool) -> Result<HostLock> {
    let path = lock_path(ctx, name, "");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match HostLock::acquire(&path) {
            Ok(l) => return Ok(l),
            Err(e) => {
                let held_by_mount = e.to_string().contains(" backup mount ");
                if wait_for_mount && held_by_mount && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(200));
                    continue;
                }
                return Err(e.context(format!("backup {name} is busy")));
            }
        }
    }
}

pub fn mount_lock(ctx: &Ctx, name: &str) -> Result<HostLock> {
    HostLock::acquire(&lock_path(ctx, name, ".mount"))
        .map_err(|e| e.context(format!("a backup mount or umount of {name} is in progress")))
}

// ---- open backup mounts ----------------------------------------------------------------

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MountRecord {
    pub backup: String,
    pub vg: String,
    pub snapshot: String,
    pub device: PathBuf,
    pub mountpoint: PathBuf,
    pub since: String,
    pub expires: String,
    pub operator: String,
}

impl MountRecord {
    pub fn expired(&self, now: SystemTime) -> bool {
        humantime::parse_rfc3339_weak(&self.expires).is_ok_and(|t| t <= now)
    }
}

pub fn mounts_dir(ctx: &Ctx) -> PathBuf {
    ctx.config.paths.state.join("backup-mounts")
}

pub fn read_record(ctx: &Ctx, name: &str) -> Result<Option<MountRecord>> {
    let p = mounts_dir(ctx).join(format!("{name}.json"));
    match std::fs::read_to_string(&p) {
        Ok(t) => Ok(Some(serde_json::from_str(&t).with_context(|| {
            format!("{} is not a backup mount record", p.display())
        })?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", p.display())),
    }
}

pub fn write_record(ctx: &Ctx, r: &MountRecord) -> Result<()> {
    let dir = mounts_dir(ctx);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let p = dir.join(format!("{}.json", r.backup));
    write_atomic(&p, &(serde_json::to_string_pretty(r)? + "\n"))
}

pub fn remove_record(ctx: &Ctx, name: &str) -> Result<()> {
    let p = mounts_dir(ctx).join(format!("{name}.json"));
    match std::fs::remove_file(&p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot remove {}", p.display())),
    }
}

// ---- results in the journal ------------------------------------------------------------

/// The summary line `backup run` appends to the journal after the steps' own lines.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ResultRecord {
    pub time: String,
    pub run: String,
    pub cluster: String,
    pub node: String,
    pub operator: String,
    pub command: String,
    pub step: String,
    pub title: String,
    pub argv: Vec<String>,
    pub rc: Option<i32>,
    /// The whole run.
    pub duration_ms: u64,
    pub verify: String,
    pub result: String,
    pub backup: String,
    /// The sync step alone.
    #[serde(default)]
    pub sync_ms: Option<u64>,
    pub transport: String,
    /// Size of the synced device.
    pub device_bytes: Option<u64>,
    /// The bdsync patch stream, or rsync's literal data.
    pub diff_bytes: Option<u64>,
    /// Whether the sync started, i.e. the target may have been rewritten.
    pub target_touched: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub const RESULT_STEP: &str = "backup-result";

/// Every backup result in the journal, oldest first, read line by line (the journal can be
/// large). The one reader of these lines: `backup run`, `mount`, `list`, `check` and
/// `metrics` all go through it.
pub fn each_result(journal: &Path, mut f: impl FnMut(ResultRecord)) -> Result<()> {
    let file = match std::fs::File::open(journal) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", journal.display())),
    };
    for line in std::io::BufReader::new(file).lines() {
        let line = line.with_context(|| format!("cannot read {}", journal.display()))?;
        if !line.contains(RESULT_STEP) {
            continue;
        }
        if let Ok(r) = serde_json::from_str::<ResultRecord>(&line)
            && r.step == RESULT_STEP
        {
            f(r);
        }
    }
    Ok(())
}

/// The last result of a run that touched the target: if it failed, the target is partial.
pub fn last_touching_result(journal: &Path, name: &str) -> Result<Option<ResultRecord>> {
    let mut found = None;
    each_result(journal, |r| {
        if r.backup == name && r.target_touched {
            found = Some(r);
        }
    })?;
    Ok(found)
}

/// A step that snapshots the backup's target LV as `snap` (sized by `size`), verified present
/// with the target as its origin.
pub fn target_snapshot_step(
    b: &Backup,
    id: String,
    snap: &str,
    size: &str,
) -> crate::context::Step {
    use crate::context::Step;
    use crate::domain::backups::BackupVerify;
    Step::new(
        id,
        format!(
            "snapshot the target {}/{} as {snap}",
            b.target.vg, b.target.lv
        ),
        Cmd::change(crate::tools::lvm::snapshot_cmd(
            &b.target.vg,
            &b.target.lv,
            snap,
            size,
        )),
        BackupVerify::LvPresent {
            vg: b.target.vg.clone(),
            lv: snap.to_string(),
            origin: Some(b.target.lv.clone()),
        },
    )
}

pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// A clean absolute path for a mountpoint given on the command line, or exit 2.
pub fn check_mountpoint(p: &Path) -> Result<()> {
    let mut problems = Vec::new();
    crate::config::check_abs(&mut problems, "MOUNTPOINT", p);
    if let Some(pr) = problems.first() {
        return Err(Error::Usage(format!("{}: {}", pr.path, pr.message)).into());
    }
    if p == Path::new("/") {
        return Err(Error::Usage(
            "MOUNTPOINT: the root directory cannot be a backup mountpoint".into(),
        )
        .into());
    }
    Ok(())
}

/// `backup wrap-remote --status-file F -- CMD…`: bdsync starts `ssh … bdsync --server` and
/// never waits for it, so its exit status would be lost. This runs CMD with our stdin and
/// stdout, writes how it ended to F, and exits the same way.
pub fn wrap_remote(global: &Global, args: &WrapRemoteArgs) -> Result<()> {
    let runner = Runner::new(
        false,
        global.verbose,
        Duration::from_secs(30),
        Duration::from_secs(30),
    );
    let report = runner.run_passthrough(&Cmd::change(args.command.clone()))?;
    write_atomic(&args.status_file, &serde_json::to_string(&report)?)?;
    match (report.rc, report.signal) {
        (Some(0), _) => Ok(()),
        (Some(rc), _) => std::process::exit(rc),
        _ => std::process::exit(crate::exit::STEP_FAILED as i32),
    }
}
