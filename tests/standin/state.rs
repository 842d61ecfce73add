//! The per-test state directory (`$NFS_MANAGE_STANDIN_DIR`): JSON state files, and the lock
//! that serializes concurrent calls.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use nix::fcntl::{Flock, FlockArg};
use serde::{Serialize, de::DeserializeOwned};

use crate::call::Call;
use crate::drbd::DrbdState;

/// Missing file = default (nothing configured); anything unparsable is a test bug.
pub fn load<T: DeserializeOwned + Default>(path: &Path) -> Result<T> {
    match fs::read_to_string(path) {
        Ok(s) => serde_json::from_str(&s).with_context(|| format!("parsing {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Temp file + rename, so a test reading the state never sees half a file.
pub fn save<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))
}

/// Serialize concurrent calls of one test; the locks live until they are dropped or the
/// process exits (the files are close-on-exec, so an exec'd real tool does not hold them).
/// With a linked peer, DRBD calls take both nodes' locks (in one global order), so a promotion
/// here and one there are serialized like DRBD's cluster-wide state changes.
pub fn lock_dirs(call: &Call) -> Result<Vec<Flock<std::fs::File>>> {
    let mut dirs = vec![call.dir.clone()];
    if call.tool.starts_with("drbd")
        && let Ok(st) = load::<DrbdState>(&call.dir.join("drbd.json"))
        && let Some(p) = st.peer_state_dir
    {
        dirs.push(p);
    }
    let mut dirs: Vec<PathBuf> = dirs
        .into_iter()
        .map(|d| d.canonicalize().unwrap_or(d))
        .collect();
    dirs.sort();
    dirs.dedup();
    let mut locks = Vec::new();
    for d in &dirs {
        let lock_file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(d.join(".lock"))
            .with_context(|| format!("opening {}/.lock", d.display()))?;
        locks.push(
            Flock::lock(lock_file, FlockArg::LockExclusive)
                .map_err(|(_, e)| e)
                .context("flock .lock")?,
        );
    }
    Ok(locks)
}
