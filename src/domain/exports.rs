//! Export checks: never export a path whose volume is not mounted, and what etab says after
//! an exportfs run.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::Result;

use super::mounts::unmounted_paths;
use crate::context::Ctx;
use crate::engine::check::{Check, Guard, Verdict};
use crate::process::Output;
use crate::tools::{exportfs, mount};

pub enum ExportsGuard {
    /// Every configured export under a volume's mountpoint must be on that mounted volume.
    OnMountedVolumes,
    /// Each path lies on a volume that is mounted.
    PathsOnMountedVolumes(Vec<PathBuf>),
}

impl Guard<Ctx> for ExportsGuard {
    fn check(&self, ctx: &Ctx) -> Result<Verdict> {
        match self {
            ExportsGuard::OnMountedVolumes => exports_on_mounted(ctx),
            ExportsGuard::PathsOnMountedVolumes(paths) => {
                let table = mount::read_mountinfo()?;
                let bad = unmounted_paths(&ctx.config, &table, paths.iter().map(|p| p.as_path()));
                Ok(if bad.is_empty() {
                    Ok(())
                } else {
                    Err(format!(
                        "would export paths that are not on a mounted volume: {}",
                        bad.join(", ")
                    ))
                })
            }
        }
    }
}

/// Every configured export that lies under a volume's mountpoint needs that volume mounted:
/// otherwise exportfs would export the empty directory underneath.
pub fn exports_on_mounted(ctx: &Ctx) -> Result<Verdict> {
    let cfg = &ctx.config;
    let configured = exportfs::read_configured(&cfg.nfs.exports_dir)?;
    let table = mount::read_mountinfo()?;
    // One line per path, however many clients it is exported to.
    let mut bad = BTreeMap::new();
    for e in &configured {
        if let Some(v) = cfg
            .volumes
            .iter()
            .find(|v| e.path.starts_with(&v.mountpoint))
            && !mount::VolumeMounts::of(v, &table).mounted
        {
            bad.entry(e.path.clone()).or_insert_with(|| {
                format!(
                    "{} (volume {} is not mounted at {})",
                    e.path.display(),
                    v.name,
                    v.mountpoint.display()
                )
            });
        }
    }
    let bad: Vec<String> = bad.into_values().collect();
    Ok(if bad.is_empty() {
        Ok(())
    } else {
        Err(format!("would export unmounted paths: {}", bad.join(", ")))
    })
}

pub enum ExportsCheck {
    /// Every configured export is in etab.
    Applied,
    /// Nothing under volume `i`'s mountpoint is in etab.
    Withdrawn(usize),
    /// In /var/lib/nfs/etab: each (path, client) present with options that say what the
    /// exports-file option string asks for, and each (path, client) of `absent` gone.
    Etab {
        present: Vec<(PathBuf, String, String)>,
        absent: Vec<(PathBuf, String)>,
    },
}

impl Check<Ctx> for ExportsCheck {
    fn check(&self, ctx: &Ctx, _out: &Output) -> Result<Verdict> {
        let cfg = &ctx.config;
        Ok(match self {
            ExportsCheck::Applied => {
                let configured = exportfs::read_configured(&cfg.nfs.exports_dir)?;
                let etab = exportfs::read_etab()?;
                let missing: Vec<String> = configured
                    .iter()
                    .filter(|c| {
                        !etab
                            .iter()
                            .any(|e| e.path == c.path && e.client == c.client)
                    })
                    .map(|c| format!("{}:{}", c.client, c.path.display()))
                    .collect();
                if missing.is_empty() {
                    Ok(())
                } else {
                    Err(format!("not in {}: {}", exportfs::ETAB, missing.join(", ")))
                }
            }
            ExportsCheck::Withdrawn(i) => {
                let vol = &cfg.volumes[*i];
                let left: Vec<String> = exportfs::read_etab()?
                    .iter()
                    .filter(|e| e.path.starts_with(&vol.mountpoint))
                    .map(|e| format!("{}:{}", e.client, e.path.display()))
                    .collect();
                if left.is_empty() {
                    Ok(())
                } else {
                    Err(format!("still exported: {}", left.join(", ")))
                }
            }
            ExportsCheck::Etab { present, absent } => etab_holds(present, absent)?,
        })
    }
}

fn etab_holds(
    present: &[(PathBuf, String, String)],
    absent: &[(PathBuf, String)],
) -> Result<Verdict> {
    let etab = exportfs::read_etab()?;
    let index: HashMap<(&Path, &str), &str> = etab
        .iter()
        .map(|e| ((e.path.as_path(), e.client.as_str()), e.options.as_str()))
        .collect();
    let mut wrong = Vec::new();
    for (path, client, opts) in present {
        match index.get(&(path.as_path(), client.as_str())) {
            None => wrong.push(format!("{client}:{} is not exported", path.display())),
            Some(have) if !exportfs::options_match(opts, have) => wrong.push(format!(
                "{client}:{} is exported with ({have}), not ({opts})",
                path.display()
            )),
            Some(_) => {}
        }
    }
    for (path, client) in absent {
        if index.contains_key(&(path.as_path(), client.as_str())) {
            wrong.push(format!("{client}:{} is still exported", path.display()));
        }
    }
    Ok(if wrong.is_empty() {
        Ok(())
    } else {
        let n = wrong.len();
        wrong.truncate(10);
        Err(format!(
            "{} ({n} entries wrong, read from {})",
            wrong.join("; "),
            exportfs::ETAB
        ))
    })
}
