//! In-process file work for plan steps: atomic writes (a temp file in the target's directory,
//! fsynced, renamed over the target, then the directory fsynced), removals and renames. A
//! reader — exportfs, a second run, the other node's sync — sees the old file or the new one,
//! never half of one.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use super::check::{Check, Verdict};
use super::plan::FileOp;
use crate::process::Output;

/// Do the operations in order; the first failure stops. The result reads like a command's:
/// exit 0, or exit 1 with the error on stderr.
pub fn apply(ops: &[FileOp], dry_run: bool) -> Result<Output> {
    if dry_run {
        bail!("internal error: refusing to change files in dry-run mode");
    }
    let start = Instant::now();
    let mut result = Ok(());
    for op in ops {
        result = match op {
            FileOp::Write { path, content } => write_atomic(path, content),
            FileOp::Remove(p) => match std::fs::remove_file(p) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(e).with_context(|| format!("cannot remove {}", p.display()))
                }
                _ => sync_dir(p),
            },
            FileOp::Rename { from, to } => std::fs::rename(from, to)
                .with_context(|| format!("cannot rename {} to {}", from.display(), to.display()))
                .and_then(|()| sync_dir(to)),
        };
        if result.is_err() {
            break;
        }
    }
    let (rc, stderr) = match result {
        Ok(()) => (0, String::new()),
        Err(e) => (1, format!("{e:#}")),
    };
    Ok(Output {
        rc: Some(rc),
        stdout: String::new(),
        stderr,
        duration: start.elapsed(),
        timed_out: false,
        pipe: None,
    })
}

/// Each file has exactly this content (`None`: the file does not exist).
pub struct Contents(pub Vec<(PathBuf, Option<String>)>);

impl<C: ?Sized> Check<C> for Contents {
    fn check(&self, _ctx: &C, _out: &Output) -> Result<Verdict> {
        let mut wrong = Vec::new();
        for (path, want) in &self.0 {
            let have = match std::fs::read_to_string(path) {
                Ok(t) => Some(t),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => bail!("cannot read {}: {e}", path.display()),
            };
            match (want, have) {
                (Some(w), Some(h)) if *w == h => {}
                (None, None) => {}
                (Some(_), None) => wrong.push(format!("{} is missing", path.display())),
                (Some(_), Some(_)) => wrong.push(format!(
                    "{} does not have the content written",
                    path.display()
                )),
                (None, Some(_)) => wrong.push(format!("{} still exists", path.display())),
            }
        }
        Ok(if wrong.is_empty() {
            Ok(())
        } else {
            Err(wrong.join("; "))
        })
    }
}

/// World-readable configuration, like /etc/exports; its directory is created if missing.
pub fn write_atomic(path: &Path, content: &str) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    write_atomic_mode(path, content, 0o644)
}

/// The one atomic write: a temp file in the target's (existing) directory, written and
/// fsynced, given `mode`, renamed over the target, then the directory fsynced.
pub fn write_atomic_mode(path: &Path, content: &str, mode: u32) -> Result<()> {
    let dir = path
        .parent()
        .with_context(|| format!("{} has no directory", path.display()))?;
    remove_stale_temps(dir);
    let prefix = format!("{TEMP_PREFIX}{}.", std::process::id());
    let mut tmp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(TEMP_SUFFIX)
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    tmp.write_all(content.as_bytes())
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write {}", tmp.path().display()))?;
    std::fs::set_permissions(
        tmp.path(),
        std::os::unix::fs::PermissionsExt::from_mode(mode),
    )?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot rename the new {} into place", path.display()))?;
    sync_dir(path)
}

/// Our temp files are `.nfs-manage.PID.XXXXXX.tmp`: a run killed mid-write leaves one behind.
const TEMP_PREFIX: &str = ".nfs-manage.";
const TEMP_SUFFIX: &str = ".tmp";

/// Remove the temp files of ours in `dir` whose writer is gone, once per directory per run.
fn remove_stale_temps(dir: &Path) {
    static DONE: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    {
        let mut done = DONE.lock().unwrap_or_else(|e| e.into_inner());
        if done.iter().any(|d| d == dir) {
            return;
        }
        done.push(dir.to_path_buf());
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(TEMP_PREFIX))
            .filter(|n| n.ends_with(TEMP_SUFFIX))
            .and_then(|n| n.split('.').next())
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        let gone = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None)
            == Err(nix::errno::Errno::ESRCH);
        if gone {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

fn sync_dir(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("cannot sync {}", dir.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_files_of_a_writer_that_is_gone_are_removed() {
        let d = tempfile::tempdir().unwrap();
        // Above any pid_max: no such process.
        let stale = d.path().join(".nfs-manage.99999999.AbCdEf.tmp");
        let live = d
            .path()
            .join(format!(".nfs-manage.{}.XyZ123.tmp", std::process::id()));
        let other = d.path().join(".other.99999999.tmp");
        for p in [&stale, &live, &other] {
            std::fs::write(p, "partial").unwrap();
        }
        write_atomic(&d.path().join("a.exports"), "x\n").unwrap();
        assert!(!stale.exists(), "a dead writer's temp file stays");
        assert!(live.exists() && other.exists());
        let left: Vec<String> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left.len(), 3, "{left:?}");
    }

    #[test]
    fn write_remove_rename() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("sub/a.exports");
        let b = d.path().join("sub/b.exports");
        let out = apply(
            &[
                FileOp::Write {
                    path: a.clone(),
                    content: "x\n".into(),
                },
                FileOp::Rename {
                    from: a.clone(),
                    to: b.clone(),
                },
                FileOp::Write {
                    path: a.clone(),
                    content: "y\n".into(),
                },
                FileOp::Remove(b.clone()),
            ],
            false,
        )
        .unwrap();
        assert!(out.success(), "{out:?}");
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "y\n");
        assert!(!b.exists());
        // No temp files left behind.
        assert_eq!(std::fs::read_dir(d.path().join("sub")).unwrap().count(), 1);
        let out = apply(
            &[FileOp::Rename {
                from: b.clone(),
                to: a.clone(),
            }],
            false,
        )
        .unwrap();
        assert_eq!(out.rc, Some(1));
        assert!(out.stderr.contains("cannot rename"), "{}", out.stderr);
        assert!(apply(&[FileOp::Remove(a)], true).is_err());
    }
}
