//! `backup mount NAME [MOUNTPOINT] [--ttl 4h]` and `backup umount NAME | --expired`.
//!
//! A backup mount is an LVM snapshot of the backup LV, mounted read-only with the configured
//! fstype (the LV carries DRBD metadata and probes as "drbd", so the type is never guessed)
//! and, for ext3/ext4, `noload` (xfs: `norecovery`), so no journal is replayed and nothing is
//! written. The backup LV itself stays unmounted, so `backup run` keeps working; while the
//! run rewrites the LV, LVM copies the old blocks into the snapshot (its fill shows in
//! `backup list`).

use std::path::Path;
use std::time::SystemTime;

use anyhow::Result;
use console::style;

use super::{
    MountRecord, check_mountpoint, find, mount_lock, read_record, remove_record, run_lock,
    write_record,
};
use crate::cli::{BackupMountArgs, BackupUmountArgs};
use crate::config::Backup;
use crate::context::Ctx;
use crate::context::{Plan, Step};
use crate::domain::backups::{BackupGuard, BackupVerify, local_lvs, mounts_of};
use crate::domain::mounts::MountCheck;
use crate::domain::mounts::{describe_holders, holders};
use crate::engine::execute::{self, Policy, Recovery};
use crate::engine::journal::operator;
use crate::error::Error;
use crate::process::Cmd;
use crate::tools::{lvm, mount};

/// `-o` for a read-only mount that writes nothing, not even a journal replay.
pub fn ro_options(fstype: &str) -> &'static str {
    match fstype {
        "ext3" | "ext4" => "ro,noload",
        "xfs" => "ro,norecovery",
        _ => "ro",
    }
}

pub fn mount_cmd(fstype: &str, device: &Path, mountpoint: &Path) -> Cmd {
    Cmd::change([
        "mount".to_string(),
        "-t".into(),
        fstype.into(),
        "-o".into(),
        ro_options(fstype).into(),
        device.display().to_string(),
        mountpoint.display().to_string(),
    ])
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

pub fn mount(ctx: &Ctx, args: &BackupMountArgs) -> Result<()> {
    let (_, b) = find(ctx, &args.name)?;
    let mountpoint = args
        .mountpoint
        .clone()
        .unwrap_or_else(|| b.default_mountpoint());
    check_mountpoint(&mountpoint)?;
    let ttl = args.ttl.unwrap_or(b.ttl);
    if ttl.is_zero() {
        return Err(Error::Usage("--ttl: expected a duration above zero".into()).into());
    }
    let name = &b.name;
    // Mount/umount of this backup one at a time; and not while a run rewrites the target
    // (the snapshot would be torn). Both held only for the seconds this takes.
    let (_mlock, _rlock) = if ctx.global.dry_run {
        (None, None)
    } else {
        (Some(mount_lock(ctx, name)?), Some(run_lock(ctx, name, false).map_err(|e| {
            e.context(format!(
                "a `backup run {name}` is rewriting the backup now; mount it when the run is done (a snapshot taken now would be torn)"
            ))
        })?))
    };

    let snap = b.mount_snapshot();
    let device = lvm::dev_path(&b.target.vg, &snap);
    let lvs = match local_lvs(ctx, &b.target.vg) {
        Ok(l) => l,
        Err(e) if ctx.global.dry_run => {
            errln!("note: LVM state unknown: {e:#}");
            Vec::new()
        }
        Err(e) => return Err(e),
    };
    let table = mount::read_mountinfo()?;
    let record = read_record(ctx, name)?;
    let mut p = Plan::new("backup mount");
    let mut refusals = Vec::new();
    if lvm::find(&lvs, &b.target.vg, &b.target.lv).is_none() && !ctx.global.dry_run {
        refusals.push(format!(
            "the backup LV {}/{} does not exist",
            b.target.vg, b.target.lv
        ));
    }
    let snap_mounts = mounts_of(&device, &table);
    let snap_exists = lvm::find(&lvs, &b.target.vg, &snap).is_some();
    if let Some(m) = snap_mounts.first() {
        if m.mountpoint == mountpoint && snap_exists {
            let since = record
                .as_ref()
                .map(|r| format!(" since {} (expires {})", r.since, r.expires))
                .unwrap_or_default();
            if !ctx.global.quiet {
                outln!(
                    "Backup {name} is already mounted at {}{since}.\nUnmount it when done: {}",
                    mountpoint.display(),
                    ctx.self_command(&format!("backup umount {name}"))
                );
            }
            return Ok(());
        }
        refusals.push(format!(
            "a backup mount of {name} is already open at {}; unmount it first ({})",
            m.mountpoint.display(),
            ctx.self_command(&format!("backup umount {name}"))
        ));
    }
    if let Some(top) = table.iter().rev().find(|m| m.mountpoint == mountpoint)
        && snap_mounts.is_empty()
    {
        refusals.push(format!(
            "{} already has {} mounted",
            mountpoint.display(),
            top.source
        ));
    }
    if mountpoint.exists() && !mountpoint.is_dir() {
        refusals.push(format!(
            "{} exists and is not a directory",
            mountpoint.display()
        ));
    }
    if snap_exists && snap_mounts.is_empty() {
        p.steps.push(
            Step::new(
                format!("mount-snapshot-remove:{name}"),
                format!("remove the stale snapshot {}/{snap}", b.target.vg),
                Cmd::change(lvm::remove_cmd(&b.target.vg, &snap)),
                BackupVerify::LvAbsent {
                    vg: b.target.vg.clone(),
                    lv: snap.clone(),
                },
            )
            .why("left by an earlier mount and not mounted; a fresh one shows the latest backup"),
        );
    }
    p.steps.push(
        super::target_snapshot_step(
            b,
            format!("mount-snapshot:{name}"),
            &snap,
            Backup::size_of(&b.snapshots.mount),
        )
        .why("the backup LV itself stays unmounted, so backup runs go on"),
    );
    if !mountpoint.exists() {
        p.steps.push(
            Step::new(
                format!("mkdir:{name}"),
                format!("create {}", mountpoint.display()),
                mount::mkdir_cmd(&mountpoint),
                MountCheck::IsDir(mountpoint.clone()),
            )
            .why("it does not exist"),
        );
    }
    p.steps.push(
        Step::new(
            format!("mount:{name}"),
            format!("mount the snapshot read-only on {}", mountpoint.display()),
            mount_cmd(&b.fstype, &device, &mountpoint),
            BackupVerify::MountedRo {
                device: device.clone(),
                mountpoint: mountpoint.clone(),
                fstype: b.fstype.clone(),
            },
        )
        .why(format!(
            "type given: the LV carries DRBD metadata and probes as \"drbd\"; {} writes nothing",
            ro_options(&b.fstype)
        )),
    );
    if let Some(r) = super::last_touching_result(&ctx.config.paths.journal, name)?
        && r.result != "ok"
    {
        p.notes.push(format!(
            "WARNING: the last backup run ({}) failed after its sync started: this backup is partial. The pre-sync snapshot {}/{} holds the last complete copy.",
            r.time,
            b.target.vg,
            b.presync_snapshot()
        ));
    }
    if record.is_some() && snap_mounts.is_empty() {
        // The record of a mount that is gone (e.g. after a reboot): replaced below.
        p.notes.push(format!(
            "an old record of a {name} mount was found; it is replaced"
        ));
    }
    if !refusals.is_empty() {
        return crate::engine::execute::refuse(ctx, &p, &refusals);
    }
    let recovery = Recovery {
        retry: ctx.self_command(&format!("backup mount {name}")),
        back_out: Some(ctx.self_command(&format!("backup umount {name}"))),
    };
    // Written before the steps, so an interrupted mount is still found by `umount`.
    let now = SystemTime::now();
    let Some(expiry) = now.checked_add(ttl) else {
        return Err(Error::Usage(format!(
            "a TTL of {} ends past the clock's range",
            humantime::format_duration(ttl)
        ))
        .into());
    };
    let rec = MountRecord {
        backup: name.clone(),
        vg: b.target.vg.clone(),
        snapshot: snap.clone(),
        device: device.clone(),
        mountpoint: mountpoint.clone(),
        since: rfc3339(now),
        expires: rfc3339(expiry),
        operator: operator(),
    };
    execute::run_with(ctx, &mut p, &recovery, Policy::default(), || {
        write_record(ctx, &rec)
    })?;
    if ctx.global.dry_run {
        return Ok(());
    }
    if !ctx.global.quiet && !ctx.global.json {
        outln!(
            "{}",
            style(format!(
                "Backup {name} is mounted read-only at {} (snapshot {}/{snap} taken {}).",
                mountpoint.display(),
                b.target.vg,
                rec.since
            ))
            .green()
            .bold()
        );
        outln!(
            "Unmount it as soon as you are done: {}\nIt is unmounted after {} (at {}) by `nfs-manage backup umount --expired`.",
            ctx.self_command(&format!("backup umount {name}")),
            humantime::format_duration(ttl),
            rec.expires
        );
    }
    Ok(())
}

pub fn umount(ctx: &Ctx, args: &BackupUmountArgs) -> Result<()> {
    let now = SystemTime::now();
    let mut targets: Vec<(&Backup, Option<MountRecord>)> = Vec::new();
    if args.expired {
        for b in &ctx.config.backups {
            if let Some(r) = read_record(ctx, &b.name)?
                && r.expired(now)
            {
                targets.push((b, Some(r)));
            }
        }
        if targets.is_empty() {
            if !ctx.global.quiet {
                outln!("No backup mount has expired.");
            }
            return Ok(());
        }
    } else {
        let name = args.name.as_deref().expect("clap: NAME or --expired");
        let (_, b) = find(ctx, name)?;
        targets.push((b, read_record(ctx, name)?));
    }
    let mut locks = Vec::new();
    if !ctx.global.dry_run {
        for (b, _) in &targets {
            locks.push(mount_lock(ctx, &b.name)?);
        }
    }
    let table = mount::read_mountinfo()?;
    let mut p = Plan::new("backup umount");
    let mut refusals = Vec::new();
    let mut done_records = Vec::new();
    for (b, rec) in &targets {
        let name = &b.name;
        let snap = rec
            .as_ref()
            .map(|r| r.snapshot.clone())
            .unwrap_or_else(|| b.mount_snapshot());
        let device = lvm::dev_path(&b.target.vg, &snap);
        let mounted = mounts_of(&device, &table);
        let lvs = match local_lvs(ctx, &b.target.vg) {
            Ok(l) => l,
            Err(e) if ctx.global.dry_run => {
                p.notes.push(format!("LVM state unknown: {e:#}"));
                Vec::new()
            }
            Err(e) => return Err(e),
        };
        let snap_exists = lvm::find(&lvs, &b.target.vg, &snap).is_some();
        if let Some(r) = rec
            && !ctx.global.quiet
            && args.expired
        {
            p.notes.push(format!(
                "{name}: mounted at {} since {}, expired at {}",
                r.mountpoint.display(),
                r.since,
                r.expires
            ));
        }
        // Deepest first, should the snapshot be mounted more than once.
        let mut points: Vec<_> = mounted.iter().map(|m| m.mountpoint.clone()).collect();
        points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        for mp in &points {
            let h = holders(ctx, mp)?;
            if !h.is_empty() {
                refusals.push(format!(
                    "{} (backup {name}) is busy: {}; leave it (cd elsewhere, close files) and run the command again",
                    mp.display(),
                    describe_holders(&h)
                ));
            }
            p.steps.push(
                Step::new(
                    format!("umount:{name}"),
                    format!("unmount {}", mp.display()),
                    mount::umount_cmd(mp),
                    BackupVerify::NotMounted(mp.clone()),
                )
                .why("backup mount")
                .guard(BackupGuard::MountNotBusy(mp.clone())),
            );
        }
        let rm = Step::new(
            format!("mount-snapshot-remove:{name}"),
            format!("remove the snapshot {}/{snap}", b.target.vg),
            Cmd::change(lvm::remove_cmd(&b.target.vg, &snap)),
            BackupVerify::LvAbsent {
                vg: b.target.vg.clone(),
                lv: snap.clone(),
            },
        );
        p.steps.push(if snap_exists {
            rm.why("it only served the mount")
        } else {
            rm.already("does not exist")
        });
        done_records.push(name.clone());
    }
    if !refusals.is_empty() {
        return crate::engine::execute::refuse(ctx, &p, &refusals);
    }
    let recovery = Recovery {
        retry: ctx.self_command(if args.expired {
            "backup umount --expired"
        } else {
            "backup umount NAME"
        }),
        back_out: None,
    };
    execute::run(ctx, &mut p, &recovery)?;
    if !ctx.global.dry_run {
        for n in &done_records {
            remove_record(ctx, n)?;
        }
    }
    Ok(())
}
