//! bdsync argv (rolffokkens/bdsync, README "SYNOPSIS"/"OPTIONS"):
//! `bdsync [--blocksize=N] [--remdata] REMSHCMD LOCDEV REMDEV` writes a binary patch to
//! stdout; with `--remdata` it carries REMDEV's data for the blocks that differ, so
//! `bdsync --patch=LOCDEV` makes LOCDEV equal to REMDEV. Sizes must match (`--diffsize`
//! defaults to strict). REMSHCMD is split by bdsync itself, not by a shell (see
//! [`super::ssh::bdsync_quote`]).

use std::path::Path;

use super::ssh::bdsync_quote;
use crate::process::Cmd;

/// The remote-shell command: `[WRAPPER…] SSH… DEST nice -n N bdsync --server`.
pub fn remote_shell(wrapper: &[String], ssh: &[String], dest: &str, nice: i32) -> String {
    wrapper
        .iter()
        .chain(ssh)
        .map(|a| bdsync_quote(a))
        .chain([
            bdsync_quote(dest),
            "nice".into(),
            "-n".into(),
            nice.to_string(),
            "bdsync".into(),
            "--server".into(),
        ])
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn client_cmd(blocksize: u32, remsh: &str, local: &Path, remote: &Path) -> Cmd {
    Cmd::change([
        "bdsync".to_string(),
        format!("--blocksize={blocksize}"),
        "--remdata".into(),
        remsh.to_string(),
        local.display().to_string(),
        remote.display().to_string(),
    ])
}

pub fn patch_cmd(target: &Path) -> Cmd {
    Cmd::change([
        "bdsync".to_string(),
        format!("--patch={}", target.display()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pipeline_of_the_issue() {
        let remsh = remote_shell(
            &[],
            &["ssh".into(), "-i".into(), "/k ey".into()],
            "root@h",
            10,
        );
        assert_eq!(remsh, "ssh -i '/k ey' root@h nice -n 10 bdsync --server");
        let c = client_cmd(
            16384,
            &remsh,
            Path::new("/dev/backup/tools"),
            Path::new("/dev/vd/s"),
        );
        assert_eq!(
            c.to_string(),
            "bdsync --blocksize=16384 --remdata 'ssh -i '\\''/k ey'\\'' root@h nice -n 10 bdsync --server' /dev/backup/tools /dev/vd/s"
        );
        assert_eq!(
            patch_cmd(Path::new("/dev/backup/tools")).argv,
            ["bdsync", "--patch=/dev/backup/tools"]
        );
    }
}
