//! Guards and verifications of the backup steps, each with fresh probes: the local LVs
//! (`lvs`), the source host's LVs (`lvs` through ssh), the mount table, and a sampled
//! comparison of the copy with the remote snapshot after a sync.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

use super::mounts::{describe_holders, holders};
use crate::config::Backup;
use crate::context::Ctx;
use crate::engine::check::{Check, Guard, Verdict};
use crate::process::{Effect, Output};
use crate::tools::{lvm, mount, ssh};

#[derive(Debug, Clone, PartialEq)]
pub enum BackupGuard {
    /// The target LV itself is not mounted anywhere: bdsync/rsync rewrite it underneath.
    TargetNotMounted(usize),
    /// Nothing holds a backup mount (before unmounting it).
    MountNotBusy(PathBuf),
}

#[derive(Debug, Clone, PartialEq)]
pub enum BackupVerify {
    LvPresent {
        vg: String,
        lv: String,
        origin: Option<String>,
    },
    LvAbsent {
        vg: String,
        lv: String,
    },
    /// On backups[i]'s source host, in its source VG.
    RemoteLv {
        backup: usize,
        lv: String,
        present: bool,
    },
    /// The target equals the remote snapshot: same size, and sampled blocks hash the same.
    Synced(usize),
    /// `device` is mounted read-only at `mountpoint` as `fstype`.
    MountedRo {
        device: PathBuf,
        mountpoint: PathBuf,
        fstype: String,
    },
    NotMounted(PathBuf),
}

impl Guard<Ctx> for BackupGuard {
    fn check(&self, ctx: &Ctx) -> Result<Verdict> {
        guard(ctx, self)
    }
}

impl Check<Ctx> for BackupVerify {
    fn check(&self, ctx: &Ctx, _out: &Output) -> Result<Verdict> {
        verify(ctx, self)
    }
}

fn guard(ctx: &Ctx, g: &BackupGuard) -> Result<Verdict> {
    Ok(match g {
        BackupGuard::TargetNotMounted(i) => {
            let b = &ctx.config.backups[*i];
            let dev = lvm::dev_path(&b.target.vg, &b.target.lv);
            target_not_mounted(&dev)?
        }
        BackupGuard::MountNotBusy(path) => {
            let h = holders(ctx, path)?;
            if h.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "{} is busy: {}; leave it (cd elsewhere, close files) and run the command again",
                    path.display(),
                    describe_holders(&h)
                ))
            }
        }
    })
}

/// Where the device is mounted (by device number, or by name when it has none).
pub fn mounts_of(dev: &Path, table: &[mount::Mount]) -> Vec<mount::Mount> {
    let rdev = mount::rdev_of(dev);
    let canonical = std::fs::canonicalize(dev).ok();
    table
        .iter()
        .filter(|m| {
            rdev.is_some_and(|d| d == m.dev)
                || Path::new(&m.source) == dev
                || canonical
                    .as_deref()
                    .is_some_and(|c| Path::new(&m.source) == c)
        })
        .cloned()
        .collect()
}

pub fn target_not_mounted(dev: &Path) -> Result<Verdict> {
    let found = mounts_of(dev, &mount::read_mountinfo()?);
    Ok(if found.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the backup target {} is mounted at {}; a sync rewrites it underneath the filesystem. Unmount it (a backup mount uses a snapshot and does not block: `nfs-manage backup mount NAME`)",
            dev.display(),
            found
                .iter()
                .map(|m| m.mountpoint.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

pub fn local_lvs(ctx: &Ctx, vg: &str) -> Result<Vec<lvm::Lv>> {
    let cmd = lvm::lvs_cmd(&[vg]);
    let out = ctx.runner.run(&cmd)?;
    lvm::parse_lvs_output(&cmd, &out)
}

pub fn remote_lvs(ctx: &Ctx, b: &Backup) -> Result<Vec<lvm::Lv>> {
    let lvs = lvm::lvs_cmd(&[&b.source.vg]);
    let cmd = ssh::remote(
        &b.ssh_argv(&ctx.config),
        &b.destination(&ctx.config),
        &lvs.argv,
        Effect::Probe,
    );
    let out = ctx.runner.run(&cmd)?;
    lvm::parse_lvs_output(&cmd, &out)
}

fn verify(ctx: &Ctx, v: &BackupVerify) -> Result<Verdict> {
    Ok(match v {
        BackupVerify::LvPresent { vg, lv, origin } => {
            let all = local_lvs(ctx, vg)?;
            match lvm::find(&all, vg, lv) {
                None => Err(format!("{vg}/{lv} does not exist")),
                Some(l) if origin.is_some() && l.origin != *origin => Err(format!(
                    "{vg}/{lv} is not a snapshot of {}",
                    origin.as_deref().unwrap_or("")
                )),
                Some(_) => Ok(()),
            }
        }
        BackupVerify::LvAbsent { vg, lv } => {
            if lvm::find(&local_lvs(ctx, vg)?, vg, lv).is_some() {
                Err(format!("{vg}/{lv} still exists"))
            } else {
                Ok(())
            }
        }
        BackupVerify::RemoteLv {
            backup,
            lv,
            present,
        } => {
            let b = &ctx.config.backups[*backup];
            let here = lvm::find(&remote_lvs(ctx, b)?, &b.source.vg, lv).is_some();
            match (here, present) {
                (true, true) | (false, false) => Ok(()),
                (false, true) => Err(format!(
                    "{}/{lv} does not exist on {}",
                    b.source.vg, b.source.host
                )),
                (true, false) => Err(format!(
                    "{}/{lv} still exists on {}",
                    b.source.vg, b.source.host
                )),
            }
        }
        BackupVerify::Synced(i) => synced(ctx, *i)?,
        BackupVerify::MountedRo {
            device,
            mountpoint,
            fstype,
        } => {
            let table = mount::read_mountinfo()?;
            match table.iter().rev().find(|m| &m.mountpoint == mountpoint) {
                None => Err(format!("{} is not mounted", mountpoint.display())),
                Some(m) if !mounts_of(device, std::slice::from_ref(m)).is_empty() => {
                    if &m.fstype != fstype {
                        Err(format!(
                            "{} is mounted as {}, expected {fstype}",
                            mountpoint.display(),
                            m.fstype
                        ))
                    } else if !m.options.split(',').any(|o| o == "ro") {
                        Err(format!(
                            "{} is mounted read-write ({})",
                            mountpoint.display(),
                            m.options
                        ))
                    } else {
                        Ok(())
                    }
                }
                Some(m) => Err(format!(
                    "{} has {} mounted, not {}",
                    mountpoint.display(),
                    m.source,
                    device.display()
                )),
            }
        }
        BackupVerify::NotMounted(path) => mount::nothing_mounted_at(path)?,
    })
}

const SAMPLE_BLOCK: u64 = 64 * 1024;
const SAMPLES: usize = 8;

/// Block indexes to compare: the first, the last, and random ones in between.
pub fn sample_blocks(size: u64, seed: u64) -> Vec<u64> {
    let n = size / SAMPLE_BLOCK;
    if n == 0 {
        return Vec::new();
    }
    let mut v = vec![0, n - 1];
    let mut x = seed | 1;
    while v.len() < SAMPLES.min(n as usize) {
        // xorshift64: cheap, and a fresh seed each run covers different blocks over time.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let b = x % n;
        if !v.contains(&b) {
            v.push(b);
        }
    }
    v
}

fn device_size(f: &mut std::fs::File) -> std::io::Result<u64> {
    f.seek(SeekFrom::End(0))
}

fn local_hash(f: &mut std::fs::File, block: u64) -> Result<String> {
    let mut buf = vec![0u8; SAMPLE_BLOCK as usize];
    f.seek(SeekFrom::Start(block * SAMPLE_BLOCK))?;
    let mut got = 0;
    while got < buf.len() {
        let n = f.read(&mut buf[got..])?;
        if n == 0 {
            break;
        }
        got += n;
    }
    let digest = Sha256::digest(&buf[..got]);
    Ok(digest.iter().map(|b| format!("{b:02x}")).collect())
}

fn synced(ctx: &Ctx, i: usize) -> Result<Verdict> {
    let b = &ctx.config.backups[i];
    let target = lvm::dev_path(&b.target.vg, &b.target.lv);
    let remote_dev = lvm::dev_path(&b.source.vg, &b.remote_snapshot());
    let mut f = std::fs::File::open(&target)
        .with_context(|| format!("cannot open {} to check it", target.display()))?;
    let size = device_size(&mut f)?;
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos() as u64;
    let blocks = sample_blocks(size, seed);
    let cmd = ssh::remote_script(
        &b.ssh_argv(&ctx.config),
        &b.destination(&ctx.config),
        &ssh::sample_script(&remote_dev, SAMPLE_BLOCK, &blocks),
    );
    let out = ctx.runner.run(&cmd)?;
    if !out.success() {
        bail!(
            "reading sample blocks of {} on {} failed ({}): {}",
            remote_dev.display(),
            b.source.host,
            out.ending(),
            out.complaint()
        );
    }
    let mut lines = out.stdout.lines();
    let remote_size: u64 = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .with_context(|| format!("unexpected output from the remote check: {:?}", out.stdout))?;
    if remote_size != size {
        return Ok(Err(format!(
            "{} has {size} bytes but {} on {} has {remote_size}",
            target.display(),
            remote_dev.display(),
            b.source.host
        )));
    }
    for blk in &blocks {
        let theirs = lines
            .next()
            .and_then(|l| l.split_whitespace().next())
            .with_context(|| {
                format!("the remote check printed too few hashes: {:?}", out.stdout)
            })?;
        let ours = local_hash(&mut f, *blk)?;
        if ours != theirs {
            return Ok(Err(format!(
                "block {blk} (64 KiB at byte {}) of {} differs from {} on {}",
                blk * SAMPLE_BLOCK,
                target.display(),
                remote_dev.display(),
                b.source.host
            )));
        }
    }
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_cover_both_ends_and_stay_inside() {
        let v = sample_blocks(100 * SAMPLE_BLOCK, 42);
        assert_eq!(v.len(), SAMPLES);
        assert_eq!(&v[..2], &[0, 99]);
        assert!(v.iter().all(|b| *b < 100));
        assert_eq!(sample_blocks(3 * SAMPLE_BLOCK, 1).len(), 3);
        assert!(sample_blocks(100, 1).is_empty());
    }
}
