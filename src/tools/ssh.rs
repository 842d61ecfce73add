//! Commands on another host through ssh. ssh joins its arguments with spaces and the remote
//! shell splits them again, so every remote argument is shell-quoted here; what runs there is
//! exactly the argv built locally.

use std::path::Path;

use crate::engine::runner::{Cmd, Effect, shell_quote};

/// `SSH… DEST 'quoted remote argv'`.
pub fn remote(ssh: &[String], dest: &str, argv: &[String], effect: Effect) -> Cmd {
    let mut v = ssh.to_vec();
    v.push(dest.to_string());
    v.push(
        argv.iter()
            .map(|a| shell_quote(a))
            .collect::<Vec<_>>()
            .join(" "),
    );
    Cmd { argv: v, effect }
}

/// A remote shell script (for the few checks that need a loop or a pipe over there).
pub fn remote_script(ssh: &[String], dest: &str, script: &str) -> Cmd {
    let mut v = ssh.to_vec();
    v.push(dest.to_string());
    v.push(script.to_string());
    Cmd::probe(v)
}

/// Prints the name of every tool in `tools` that is not on the remote PATH.
pub fn missing_tools_script(tools: &[&str]) -> String {
    format!(
        "for t in {}; do command -v \"$t\" >/dev/null 2>&1 || echo \"$t\"; done",
        tools.join(" ")
    )
}

/// The size of a remote device, then the sha256 of each sampled block (`dd … | sha256sum`).
pub fn sample_script(dev: &Path, blocksize: u64, blocks: &[u64]) -> String {
    let d = shell_quote(&dev.display().to_string());
    let mut s = format!("blockdev --getsize64 {d}");
    for b in blocks {
        s.push_str(&format!(
            " && dd if={d} bs={blocksize} skip={b} count=1 status=none | sha256sum"
        ));
    }
    s
}

/// bdsync runs its remote-shell command itself: it splits the string at spaces, with `'…'`
/// or `"…"` grouping (a doubled quote inside stands for itself), and execvp()s it — no
/// shell. (bdsync.c do_command()).
pub fn bdsync_quote(a: &str) -> String {
    if !a.is_empty() && !a.contains([' ', '\'', '"']) {
        a.to_string()
    } else {
        format!("'{}'", a.replace('\'', "''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_argv_is_quoted_once_for_the_remote_shell() {
        let c = remote(
            &["ssh".into(), "-o".into(), "BatchMode=yes".into()],
            "root@h",
            &["lvcreate".into(), "--name".into(), "a b".into()],
            Effect::Change,
        );
        assert_eq!(
            c.argv,
            [
                "ssh",
                "-o",
                "BatchMode=yes",
                "root@h",
                "lvcreate --name 'a b'"
            ]
        );
    }

    #[test]
    fn bdsync_quoting() {
        assert_eq!(bdsync_quote("plain"), "plain");
        assert_eq!(bdsync_quote("/a b/c"), "'/a b/c'");
        assert_eq!(bdsync_quote("it's"), "'it''s'");
    }

    #[test]
    fn sample() {
        let s = sample_script(Path::new("/dev/vd/s"), 4096, &[0, 7]);
        assert_eq!(
            s,
            "blockdev --getsize64 /dev/vd/s && dd if=/dev/vd/s bs=4096 skip=0 count=1 status=none | sha256sum && dd if=/dev/vd/s bs=4096 skip=7 count=1 status=none | sha256sum"
        );
    }
}
