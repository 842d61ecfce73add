//! The real tool behind a pass-through name (mount, exportfs, ip…).

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The real tool: first executable of that name on PATH that is not this stand-in.
pub fn find_real(tool: &str, argv0: &str) -> Option<PathBuf> {
    let me = std::env::current_exe().ok()?.canonicalize().ok()?;
    let skip_dir = Path::new(argv0)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .and_then(|p| p.canonicalize().ok());
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find_map(|d| {
        if d.canonicalize()
            .ok()
            .is_some_and(|d| Some(&d) == skip_dir.as_ref())
        {
            return None;
        }
        let candidate = d.join(tool);
        let meta = fs::metadata(&candidate).ok()?;
        let runnable = meta.is_file() && meta.mode() & 0o111 != 0;
        let other = candidate.canonicalize().ok().is_some_and(|c| c != me);
        (runnable && other).then_some(candidate)
    })
}
