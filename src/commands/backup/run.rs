//! `nfs-manage backup run NAME`: pull the passive node's backing LV into the local target LV.
//!
//! Plan: (replace the pre-sync snapshot of the target) → (replace a stale remote snapshot) →
//! remote snapshot of the source LV → sync (bdsync client | bdsync --patch, or rsync) with the
//! target re-checked as not mounted right before → sampled comparison with the remote
//! snapshot → remote snapshot removed (unless `keep_remote_snapshot`). The result (bytes,
//! diff size, duration) is journaled. After a failed run the pre-sync snapshot is kept, not
//! replaced: the target is then partial and the snapshot holds the last complete copy.

use std::path::PathBuf;

use anyhow::Result;

use super::{RESULT_STEP, ResultRecord, human_bytes};
use crate::config::{Backup, Transport};
use crate::context::Ctx;
use crate::context::{Plan, Step};
use crate::domain::backups::{self, BackupGuard, BackupVerify};
use crate::engine::execute::{self, Recovery};
use crate::engine::journal::{Journal, Record, now_rfc3339};
use crate::engine::plan::{Action, StepState};
use crate::error::Error;
use crate::process::{Cmd, Effect, Member, Observed, Pipeline};
use crate::tools::package_of;
use crate::tools::rsync::rsync_progress;
use crate::tools::{bdsync, lvm, rsync, ssh};

pub fn run(ctx: &Ctx, name: &str) -> Result<()> {
    let started = std::time::Instant::now();
    let (i, b) = super::find(ctx, name)?;
    let _lock = if ctx.global.dry_run {
        None
    } else {
        Some(super::run_lock(ctx, name, true)?)
    };
    check_local_tools(b)?;
    let (mut plan, refusals, device_bytes) = plan(ctx, i, b)?;
    if !refusals.is_empty() {
        if !ctx.global.dry_run {
            journal_result(
                ctx,
                b,
                &plan,
                "refused",
                (started, None),
                (device_bytes, None),
                Some(refusals.join("; ")),
            )?;
        }
        return crate::engine::execute::refuse(ctx, &plan, &refusals);
    }
    let remove_remote = ssh::remote(
        &b.ssh_argv(&ctx.config),
        &b.destination(&ctx.config),
        &lvm::remove_cmd(&b.source.vg, &b.remote_snapshot()),
        Effect::Change,
    );
    let recovery = Recovery {
        retry: ctx.self_command(&format!("backup run {name}")),
        back_out: Some(format!(
            "{remove_remote}  (if the remote snapshot is left; the pre-sync snapshot {}/{} holds the previous copy)",
            b.target.vg,
            b.presync_snapshot()
        )),
    };
    let result = execute::run(ctx, &mut plan, &recovery);
    // Nothing ran (dry run, not confirmed, nothing to do): nothing to journal.
    let ran = plan.steps.iter().any(|s| {
        matches!(
            s.state,
            StepState::Done | StepState::Failed | StepState::Refused
        )
    });
    if ctx.global.dry_run || !ran {
        return result;
    }
    // The transfer's statistics travel in its step's output.
    let stats = plan
        .steps
        .iter()
        .find(|s| matches!(s.action, Action::Pipeline(_)))
        .and_then(|s| s.output.as_ref())
        .and_then(|o| o.pipe.clone());
    // Unknown (None) rather than 0 when rsync's stats could not be read.
    let diff = stats.as_ref().and_then(|s| match b.transport {
        Transport::Bdsync => Some(s.bytes),
        Transport::Rsync => rsync::literal_data(&s.stdout_tail).ok(),
    });
    let sync_ms = stats.as_ref().map(|s| s.duration.as_millis() as u64);
    match result {
        Ok(()) => {
            journal_result(
                ctx,
                b,
                &plan,
                "ok",
                (started, sync_ms),
                (device_bytes, diff),
                None,
            )?;
            if !ctx.global.quiet && !ctx.global.json {
                let secs = sync_ms.unwrap_or(0) as f64 / 1000.0;
                outln!(
                    "backup {name}: ok, {} device, {} diff ({}), synced in {secs:.1} s",
                    device_bytes.map(human_bytes).unwrap_or_else(|| "?".into()),
                    diff.map(human_bytes).unwrap_or_else(|| "?".into()),
                    b.transport.word()
                );
            }
            Ok(())
        }
        Err(e) => {
            let mut err = e;
            // A remote snapshot left behind slows every write on the passive node: remove it.
            let created = plan
                .steps
                .iter()
                .any(|s| s.id == format!("remote-snapshot:{name}") && s.state == StepState::Done);
            let removed = plan.steps.iter().any(|s| {
                s.id == format!("remote-snapshot-remove-after:{name}") && s.state == StepState::Done
            });
            if created && !removed && !b.keep_remote_snapshot {
                let note = cleanup_remote(ctx, b, &remove_remote);
                err = err.context(note);
            }
            let text = format!("{err:#}");
            let word = if crate::error::exit_code_of(&err) == crate::exit::REFUSED {
                "refused"
            } else {
                "failed"
            };
            journal_result(
                ctx,
                b,
                &plan,
                word,
                (started, sync_ms),
                (device_bytes, diff),
                Some(text),
            )?;
            Err(err)
        }
    }
}

fn check_local_tools(b: &Backup) -> Result<()> {
    let mut tools = vec!["lvs", "lvcreate", "lvremove", "ssh"];
    tools.push(b.transport.word());
    let missing: Vec<&str> = tools
        .into_iter()
        .filter(|t| which::which(t).is_err())
        .collect();
    match missing.as_slice() {
        [] => Ok(()),
        [one] => Err(Error::ToolMissing {
            tool: one.to_string(),
            package: package_of(one),
        }
        .into()),
        many => Err(Error::ToolMissing {
            tool: many
                .iter()
                .map(|t| format!("{t} ({})", package_of(t)))
                .collect::<Vec<_>>()
                .join(", "),
            package: "see each tool",
        }
        .into()),
    }
}

fn remote_cmd(ctx: &Ctx, b: &Backup, argv: Vec<String>) -> Cmd {
    ssh::remote(
        &b.ssh_argv(&ctx.config),
        &b.destination(&ctx.config),
        &argv,
        Effect::Change,
    )
}

/// The plan, plan-time refusals, and the target's size.
pub fn plan(ctx: &Ctx, i: usize, b: &Backup) -> Result<(Plan, Vec<String>, Option<u64>)> {
    let cfg = &ctx.config;
    let name = &b.name;
    let mut p = Plan::new("backup run");
    let mut refusals = Vec::new();

    // Facts: the local VG, and (never in a dry run: nothing goes on the network) the source
    // host's VG and tools, all at once.
    let local_cmd = lvm::lvs_cmd(&[&b.target.vg]);
    let remote_lvs_cmd = ssh::remote(
        &b.ssh_argv(cfg),
        &b.destination(cfg),
        &lvm::lvs_cmd(&[&b.source.vg]).argv,
        Effect::Probe,
    );
    let mut remote_tools = vec![b.transport.word(), "lvcreate", "lvremove", "lvs", "nice"];
    remote_tools.extend(["blockdev", "dd", "sha256sum"]);
    let tools_cmd = ssh::remote_script(
        &b.ssh_argv(cfg),
        &b.destination(cfg),
        &ssh::missing_tools_script(&remote_tools),
    );
    let (local, remote) = if ctx.global.dry_run {
        let local = ctx.runner.run(&local_cmd);
        p.notes.push(format!(
            "dry run: {} was not asked (nothing is sent on the network); the plan assumes its LV {}/{} exists and has no snapshot {}",
            b.source.host,
            b.source.vg,
            b.source.lv,
            b.remote_snapshot()
        ));
        (local, None)
    } else {
        let mut outs = ctx
            .runner
            .run_all(&[&local_cmd, &remote_lvs_cmd, &tools_cmd])
            .into_iter();
        let local = outs.next().expect("three results");
        let remote = outs.next().expect("three results");
        let tools = outs.next().expect("three results")?;
        if !tools.success() {
            anyhow::bail!(
                "cannot check the tools on {}: `{tools_cmd}` failed ({}): {}",
                b.source.host,
                tools.ending(),
                tools.complaint()
            );
        }
        let missing: Vec<&str> = tools.stdout.split_whitespace().collect();
        if let Some(t) = missing.first() {
            return Err(Error::ToolMissing {
                tool: format!("{} on {}", missing.join(", "), b.source.host),
                package: package_of(t),
            }
            .into());
        }
        (local, Some(remote))
    };
    let local = local.and_then(|o| lvm::parse_lvs_output(&local_cmd, &o));
    let local = match local {
        Ok(l) => l,
        Err(e) if ctx.global.dry_run => {
            p.notes.push(format!("local LVM state unknown: {e:#}"));
            Vec::new()
        }
        Err(e) => return Err(e),
    };
    let remote = match remote {
        Some(r) => Some(r.and_then(|o| lvm::parse_lvs_output(&remote_lvs_cmd, &o))?),
        None => None,
    };

    let target = lvm::find(&local, &b.target.vg, &b.target.lv);
    let target_dev = lvm::dev_path(&b.target.vg, &b.target.lv);
    let device_bytes = target.map(|t| t.size);
    if target.is_none() && !ctx.global.dry_run {
        refusals.push(format!(
            "the target LV {}/{} does not exist on this host; create it with the source's size first",
            b.target.vg, b.target.lv
        ));
    }
    if let Err(why) = backups::target_not_mounted(&target_dev)? {
        refusals.push(why);
    }
    let source_snapshot = b.remote_snapshot();
    let mut remote_snapshot_exists = false;
    if let Some(remote) = &remote {
        match lvm::find(remote, &b.source.vg, &b.source.lv) {
            None => refusals.push(format!(
                "the source LV {}/{} does not exist on {}",
                b.source.vg, b.source.lv, b.source.host
            )),
            Some(src) => {
                if let Some(t) = target
                    && t.size != src.size
                {
                    refusals.push(format!(
                        "the target {}/{} has {} bytes but the source {}/{} on {} has {}; make them the same size first",
                        b.target.vg, b.target.lv, t.size, b.source.vg, b.source.lv, b.source.host, src.size
                    ));
                }
            }
        }
        remote_snapshot_exists = lvm::find(remote, &b.source.vg, &source_snapshot).is_some();
    }

    // 1. The pre-sync snapshot: the target as it was before this run.
    let presync = b.presync_snapshot();
    let presync_exists = lvm::find(&local, &b.target.vg, &presync).is_some();
    let last = super::last_touching_result(&cfg.paths.journal, name)?;
    let last_failed = last.as_ref().filter(|r| r.result != "ok");
    let create_presync = super::target_snapshot_step(
        b,
        format!("presync:{name}"),
        &presync,
        Backup::size_of(&b.snapshots.presync),
    );
    match (presync_exists, last_failed) {
        (true, Some(f)) => {
            p.steps.push(create_presync.already(format!(
                "kept: the run at {} failed after the sync started, so the target is partial and {presync} holds the last complete copy",
                f.time
            )));
        }
        (true, None) => {
            p.steps.push(
                Step::new(
                    format!("presync-remove:{name}"),
                    format!("remove the previous pre-sync snapshot {presync}"),
                    Cmd::change(lvm::remove_cmd(&b.target.vg, &presync)),
                    BackupVerify::LvAbsent {
                        vg: b.target.vg.clone(),
                        lv: presync.clone(),
                    },
                )
                .why("replaced by one of the target as it is now"),
            );
            p.steps.push(
                create_presync.why("keeps the last complete copy while the target is rewritten"),
            );
        }
        (false, _) => p
            .steps
            .push(create_presync.why("keeps the last complete copy while the target is rewritten")),
    }

    // 2. The remote snapshot: a frozen source while the passive node keeps replicating.
    if remote_snapshot_exists {
        p.steps.push(
            remove_remote_snapshot(
                ctx,
                b,
                i,
                format!("remote-snapshot-remove-old:{name}"),
                "remove the old snapshot",
            )
            .why("left by an earlier run; the sync needs a fresh one"),
        );
    }
    p.steps.push(
        Step::new(
            format!("remote-snapshot:{name}"),
            format!(
                "snapshot the source {}/{} on {} as {source_snapshot}",
                b.source.vg, b.source.lv, b.source.host
            ),
            remote_cmd(
                ctx,
                b,
                lvm::snapshot_cmd(
                    &b.source.vg,
                    &b.source.lv,
                    &source_snapshot,
                    Backup::size_of(&b.snapshots.remote),
                ),
            ),
            BackupVerify::RemoteLv {
                backup: i,
                lv: source_snapshot.clone(),
                present: true,
            },
        )
        .why("a consistent, frozen source to copy from"),
    );

    // 3. The sync, streamed; every member's exit status checked.
    let remote_dev = lvm::dev_path(&b.source.vg, &source_snapshot);
    let pipeline = match b.transport {
        Transport::Bdsync => {
            let status = cfg.paths.state.join(format!("backup-{name}.server-status"));
            let wrapper = vec![
                crate::context::self_exe(),
                "backup".into(),
                "wrap-remote".into(),
                "--status-file".into(),
                status.display().to_string(),
                "--".into(),
            ];
            let remsh =
                bdsync::remote_shell(&wrapper, &b.ssh_argv(cfg), &b.destination(cfg), b.nice);
            Pipeline {
                members: vec![
                    Member {
                        name: "bdsync (client)".into(),
                        cmd: bdsync::client_cmd(b.blocksize, &remsh, &target_dev, &remote_dev),
                    },
                    Member {
                        name: "bdsync --patch".into(),
                        cmd: bdsync::patch_cmd(&target_dev),
                    },
                ],
                observed: vec![Observed {
                    name: format!("bdsync --server on {} (through ssh)", b.source.host),
                    status_file: status,
                }],
                timeout: b.timeout,
                bwlimit: b.bwlimit_bytes(),
                label: format!("backup {name}: diff stream"),
                stdout_progress: None,
            }
        }
        Transport::Rsync => {
            // rsync would replace a symlink (/dev/VG/LV) with a file: give it the device node.
            let local_node: PathBuf =
                std::fs::canonicalize(&target_dev).unwrap_or_else(|_| target_dev.clone());
            Pipeline {
                members: vec![Member {
                    name: "rsync".into(),
                    cmd: rsync::device_sync_cmd(
                        &b.ssh_argv(cfg),
                        &b.destination(cfg),
                        &remote_dev,
                        &local_node,
                        b.nice,
                        b.bwlimit_bytes(),
                    ),
                }],
                observed: vec![],
                timeout: b.timeout,
                bwlimit: None,
                label: format!("backup {name}: compared"),
                stdout_progress: Some(rsync_progress),
            }
        }
    };
    if !ctx.global.dry_run {
        std::fs::create_dir_all(&cfg.paths.state)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", cfg.paths.state.display()))?;
    }
    p.steps.push(
        Step::new_pipeline(
            format!("sync:{name}"),
            format!(
                "copy {}:{}/{} into {}/{} ({})",
                b.source.host,
                b.source.vg,
                source_snapshot,
                b.target.vg,
                b.target.lv,
                b.transport.word()
            ),
            pipeline,
            BackupVerify::Synced(i),
        )
        .why("then sampled blocks are compared with the remote snapshot")
        .guard(BackupGuard::TargetNotMounted(i)),
    );

    // 4. The remote snapshot goes again (it slows every write on the passive node).
    if !b.keep_remote_snapshot {
        p.steps.push(
            remove_remote_snapshot(
                ctx,
                b,
                i,
                format!("remote-snapshot-remove-after:{name}"),
                "remove the snapshot",
            )
            .why("copied; a snapshot slows every write on the passive node"),
        );
    }
    if let Some(f) = last_failed {
        p.notes.push(format!(
            "the last run ({}) failed after its sync started: the target {}/{} is partial until this run completes",
            f.time, b.target.vg, b.target.lv
        ));
    }
    Ok((p, refusals, device_bytes))
}

/// Remove the remote snapshot after a failure; say what happened either way.
fn cleanup_remote(ctx: &Ctx, b: &Backup, cmd: &Cmd) -> String {
    let journal = Journal::new(&ctx.config.paths.journal);
    let out = ctx.runner.run(cmd);
    let (rc, ms, stderr) = match &out {
        Ok(o) => (
            o.rc,
            o.duration.as_millis() as u64,
            o.complaint().to_string(),
        ),
        Err(e) => (None, 0, format!("{e:#}")),
    };
    let gone = out.as_ref().is_ok_and(|o| o.success())
        && backups::remote_lvs(ctx, b)
            .is_ok_and(|l| lvm::find(&l, &b.source.vg, &b.remote_snapshot()).is_none());
    let step = format!("cleanup:{}", b.name);
    let mut rec = Record::start(
        &journal,
        crate::engine::Context::settings(ctx),
        "backup run",
        &step,
        "remove the remote snapshot after the failure",
        &cmd.argv,
    );
    rec.rc = rc;
    rec.duration_ms = ms;
    rec.verify = if gone { "ok" } else { "failed" };
    rec.result = if gone { "done" } else { "failed" };
    rec.stderr = Some(&stderr).filter(|s| !s.is_empty()).map(|s| s.as_str());
    let _ = journal.append(&rec);
    if gone {
        format!(
            "the remote snapshot {}/{} on {} was removed after the failure",
            b.source.vg,
            b.remote_snapshot(),
            b.source.host
        )
    } else {
        format!(
            "the remote snapshot {}/{} on {} is still there ({stderr}); remove it with: {cmd}",
            b.source.vg,
            b.remote_snapshot(),
            b.source.host
        )
    }
}

fn journal_result(
    ctx: &Ctx,
    b: &Backup,
    plan: &Plan,
    result: &str,
    (started, sync_ms): (std::time::Instant, Option<u64>),
    (device_bytes, diff_bytes): (Option<u64>, Option<u64>),
    error: Option<String>,
) -> Result<()> {
    let journal = Journal::new(&ctx.config.paths.journal);
    let sync = plan
        .steps
        .iter()
        .find(|s| matches!(s.action, Action::Pipeline(_)));
    let touched = sync.is_some_and(|s| matches!(s.state, StepState::Done | StepState::Failed));
    let rec = ResultRecord {
        time: now_rfc3339(),
        run: journal.run_id.clone(),
        cluster: ctx.config.cluster.clone(),
        node: ctx.node.clone(),
        operator: journal.operator.clone(),
        command: "backup run".into(),
        step: RESULT_STEP.into(),
        title: format!("backup {}", b.name),
        argv: Vec::new(),
        rc: None,
        duration_ms: started.elapsed().as_millis() as u64,
        sync_ms,
        verify: result.into(),
        result: result.into(),
        backup: b.name.clone(),
        transport: b.transport.word().into(),
        device_bytes,
        diff_bytes,
        target_touched: touched,
        error,
    };
    journal.append_value(&rec)
}

/// `lvremove` of the source snapshot on the source host, verified gone there.
fn remove_remote_snapshot(ctx: &Ctx, b: &Backup, i: usize, id: String, what: &str) -> Step {
    let snap = b.remote_snapshot();
    Step::new(
        id,
        format!("{what} {}/{snap} on {}", b.source.vg, b.source.host),
        remote_cmd(ctx, b, lvm::remove_cmd(&b.source.vg, &snap)),
        BackupVerify::RemoteLv {
            backup: i,
            lv: snap,
            present: false,
        },
    )
}
