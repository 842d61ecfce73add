//! Mount checks: volumes mounted (with the right device and type), nothing mounted at a path,
//! and what holds a mount (fuser).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::config::Config;
use crate::context::Ctx;
use crate::engine::check::{Check, Guard, Verdict};
use crate::process::Output;
use crate::tools::{fuser, mount};

pub enum MountGuard {
    /// Never start NFS or services while a volume is not mounted.
    VolumesMounted,
    /// No process holds volume `i`'s mount (unless --force-unmount).
    NoHolders(usize),
}

impl Guard<Ctx> for MountGuard {
    fn check(&self, ctx: &Ctx) -> Result<Verdict> {
        let cfg = &ctx.config;
        Ok(match self {
            MountGuard::VolumesMounted => {
                let table = mount::read_mountinfo()?;
                let missing: Vec<String> = cfg
                    .volumes
                    .iter()
                    .filter(|v| !mount::VolumeMounts::of(v, &table).mounted)
                    .map(|v| {
                        format!(
                            "{} ({} at {})",
                            v.name,
                            v.device.display(),
                            v.mountpoint.display()
                        )
                    })
                    .collect();
                if missing.is_empty() {
                    Ok(())
                } else {
                    Err(format!("not mounted: {}", missing.join(", ")))
                }
            }
            MountGuard::NoHolders(i) => {
                let v = &cfg.volumes[*i];
                let holders = holders(ctx, &v.mountpoint)?;
                if holders.is_empty() {
                    Ok(())
                } else {
                    Err(format!(
                        "{} is busy: {}; stop them (or rerun with --force-unmount to kill them)",
                        v.mountpoint.display(),
                        describe_holders(&holders)
                    ))
                }
            }
        })
    }
}

pub enum MountCheck {
    /// Volume `i` is mounted at its mountpoint, from its device, as its fstype.
    Mounted(usize),
    IsDir(PathBuf),
    /// Nothing is mounted at this path any more (a stacked second mount would still show).
    NotMountedAt(PathBuf),
    /// Nothing holds volume `i`'s mount.
    NoHolders(usize),
    /// After TERM: the holders of `volume`'s mount had up to `within` to exit. Not a
    /// postcondition but a wait: what is still there is said in the journal and gets KILL in
    /// the next step, which verifies the mount free.
    Drained {
        volume: usize,
        within: Duration,
    },
}

impl Check<Ctx> for MountCheck {
    /// What still holds the mount after the TERM grace (nothing: `[]`).
    fn fields(&self, ctx: &Ctx, _out: &Output) -> crate::engine::check::Fields {
        let mut f = crate::engine::check::Fields::new();
        if let MountCheck::Drained { volume, .. } = self
            && let Ok(h) = holders(ctx, &ctx.config.volumes[*volume].mountpoint)
        {
            let left: Vec<serde_json::Value> = h
                .iter()
                .map(|h| serde_json::json!({"pid": h.pid, "command": h.command}))
                .collect();
            f.insert("left_after_term".into(), left.into());
        }
        f
    }

    fn check(&self, ctx: &Ctx, _out: &Output) -> Result<Verdict> {
        let cfg = &ctx.config;
        Ok(match self {
            MountCheck::Mounted(i) => {
                let vol = &cfg.volumes[*i];
                let m = mount::VolumeMounts::of(vol, &mount::read_mountinfo()?);
                match &m.at_mountpoint {
                    Some(top) if m.mounted && top.fstype == vol.fstype => Ok(()),
                    Some(top) if m.mounted => Err(format!(
                        "{} is mounted as {}, expected {}",
                        vol.mountpoint.display(),
                        top.fstype,
                        vol.fstype
                    )),
                    Some(top) => Err(format!(
                        "{} has {} mounted, not {}",
                        vol.mountpoint.display(),
                        top.source,
                        vol.device.display()
                    )),
                    None => Err(format!("{} is not mounted", vol.mountpoint.display())),
                }
            }
            MountCheck::IsDir(path) => {
                if path.is_dir() {
                    Ok(())
                } else {
                    Err(format!("{} is not a directory", path.display()))
                }
            }
            MountCheck::NotMountedAt(path) => mount::nothing_mounted_at(path)?,
            MountCheck::Drained { volume, within } => {
                let vol = &cfg.volumes[*volume];
                let deadline = Instant::now() + *within;
                while !holders(ctx, &vol.mountpoint)?.is_empty() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Ok(())
            }
            MountCheck::NoHolders(i) => {
                // Killed processes take a moment to exit and release their files.
                let vol = &cfg.volumes[*i];
                let deadline = Instant::now() + Duration::from_secs(5);
                loop {
                    let h = holders(ctx, &vol.mountpoint)?;
                    if h.is_empty() {
                        break Ok(());
                    }
                    if Instant::now() > deadline {
                        break Err(format!(
                            "{} is still busy: {}",
                            vol.mountpoint.display(),
                            describe_holders(&h)
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        })
    }
}

/// The paths that are not on a mounted volume of the config, in words (each once).
pub fn unmounted_paths<'a>(
    cfg: &Config,
    table: &[mount::Mount],
    paths: impl IntoIterator<Item = &'a Path>,
) -> Vec<String> {
    let mut bad: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut mounted: std::collections::HashMap<&str, bool> = std::collections::HashMap::new();
    for p in paths {
        if !seen.insert(p) {
            continue;
        }
        let why = match cfg.volume_of(p) {
            None => Some("not under any volume's mountpoint".to_string()),
            Some(v)
                if !*mounted
                    .entry(v.name.as_str())
                    .or_insert_with(|| mount::VolumeMounts::of(v, table).mounted) =>
            {
                Some(format!(
                    "volume {} is not mounted at {}",
                    v.name,
                    v.mountpoint.display()
                ))
            }
            Some(_) => None,
        };
        if let Some(why) = why {
            bad.push(format!("{} ({why})", p.display()));
        }
    }
    bad
}

pub fn holders(ctx: &Ctx, path: &Path) -> Result<Vec<fuser::Holder>> {
    let out = ctx.runner.run(&fuser::holders_cmd(path))?;
    Ok(fuser::parse_holders(&out)?
        .into_iter()
        .map(fuser::describe)
        .collect())
}

pub fn describe_holders(h: &[fuser::Holder]) -> String {
    let me = std::process::id();
    h.iter()
        .map(|h| {
            let note = if h.pid == me {
                " — this nfs-manage run: cd elsewhere"
            } else {
                ""
            };
            format!("pid {} ({}, user {}){note}", h.pid, h.command, h.user)
        })
        .collect::<Vec<_>>()
        .join(", ")
}
