//! One run at a time per host: an exclusive `flock` on `paths.lock`
//! (default `/run/nfs-manage/lock`). The holder writes its pid, command line and start
//! time into the file, so a second run can say who holds it (exit 4).
//!
//! The lock's descriptor is inherited by the run's children, so a run killed with -9 keeps the
//! lock for as long as a child it started (a `mount`, an rsync) still runs: the next run waits
//! for it (`--wait-lock`) or is told, instead of racing it. A run that ends normally unlocks
//! explicitly, whatever its children do.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use anyhow::{Context, Result};
use nix::fcntl::{Flock, FlockArg};

use crate::error::Error;

pub struct HostLock {
    /// `None` when the lock is held by our parent for us (see [`INHERIT_ENV`]).
    _lock: Option<Flock<File>>,
}

/// Set by a run that holds the lock and starts `nfs-manage` itself as one of its steps (e.g.
/// `failover` running `down` on this node): the value is its pid. The child runs under its
/// parent's lock only if that pid is its parent and is the recorded holder.
pub const INHERIT_ENV: &str = "NFS_MANAGE_HOST_LOCK_HOLDER";

impl HostLock {
    pub fn acquire(path: &Path) -> Result<HostLock> {
        Self::acquire_wait(path, None)
    }

    /// Like `acquire`, but while another run holds the lock, keep trying for up to `wait`,
    /// telling the person who waits whom they wait for: a spinner naming the holder on a
    /// terminal, a line when the wait starts and one a minute off a terminal (cron mail, logs).
    pub fn acquire_wait(path: &Path, wait: Option<std::time::Duration>) -> Result<HostLock> {
        use std::time::{Duration, Instant};
        let Some(wait) = wait else {
            return Self::try_acquire(path);
        };
        let start = Instant::now();
        let deadline = start + wait;
        let mut said: Option<Instant> = None;
        let mut spinner: Option<indicatif::ProgressBar> = None;
        loop {
            match Self::try_acquire(path) {
                Err(e)
                    if Instant::now() < deadline
                        && crate::error::exit_code_of(&e) == crate::exit::LOCKED =>
                {
                    let who = format!("{e:#}");
                    let waited =
                        humantime::format_duration(Duration::from_secs(start.elapsed().as_secs()));
                    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                        let pb = spinner.get_or_insert_with(|| {
                            let pb = indicatif::ProgressBar::new_spinner();
                            pb.enable_steady_tick(Duration::from_millis(120));
                            pb
                        });
                        pb.set_message(format!(
                            "waiting up to {} for the lock ({waited} so far): {who}",
                            humantime::format_duration(wait)
                        ));
                    } else if said.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) {
                        crate::errln!(
                            "nfs-manage: waiting up to {} for the lock ({waited} so far): {who}",
                            humantime::format_duration(wait)
                        );
                        said = Some(Instant::now());
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                other => {
                    if let Some(pb) = spinner {
                        pb.finish_and_clear();
                    }
                    return other;
                }
            }
        }
    }

    fn try_acquire(path: &Path) -> Result<HostLock> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .with_context(|| format!("cannot open the lock file {}", path.display()))?;
        let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(l) => l,
            Err((mut file, nix::errno::Errno::EWOULDBLOCK)) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let parent = nix::unistd::getppid().as_raw().to_string();
                if std::env::var(INHERIT_ENV).is_ok_and(|p| p == parent)
                    && holder.starts_with(&format!("pid {parent} "))
                {
                    return Ok(HostLock { _lock: None });
                }
                let gone = recorded_pid(holder).is_some_and(|pid| {
                    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None)
                        == Err(nix::errno::Errno::ESRCH)
                });
                let who = if holder.is_empty() {
                    "another nfs-manage run (it has not written its name yet)".to_string()
                } else if gone {
                    format!(
                        "{holder}; that run is gone, but a process it started still runs and holds the lock (see `fuser -v {}`)",
                        path.display()
                    )
                } else {
                    holder.to_string()
                };
                return Err(Error::LockHeld(format!(
                    "another run holds {}: {who}",
                    path.display()
                ))
                .into());
            }
            Err((_, e)) => return Err(anyhow::anyhow!("cannot lock {}: {e}", path.display())),
        };
        let args: Vec<String> = std::env::args().collect();
        let line = format!(
            "pid {} ({}) since {}\n",
            std::process::id(),
            args.join(" "),
            super::journal::now_rfc3339()
        );
        lock.set_len(0)?;
        lock.seek(SeekFrom::Start(0))?;
        lock.write_all(line.as_bytes())?;
        // Children inherit it (see the module doc).
        nix::fcntl::fcntl(
            &*lock,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
        )
        .with_context(|| format!("cannot keep {} for the run's children", path.display()))?;
        Ok(HostLock { _lock: Some(lock) })
    }
}

/// The pid a holder wrote: `pid N (command) since TIME`.
fn recorded_pid(holder: &str) -> Option<i32> {
    holder.strip_prefix("pid ")?.split(' ').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_acquire_is_refused_with_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/lock");
        let first = HostLock::acquire(&path).unwrap();
        let err = HostLock::acquire(&path).err().unwrap();
        assert_eq!(crate::error::exit_code_of(&err), crate::exit::LOCKED);
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("pid {}", std::process::id())),
            "{msg}"
        );
        drop(first);
        HostLock::acquire(&path).unwrap();
    }
}
