//! Who holds a mount: `fuser -m -M PATH`. psmisc prints the PIDs on stdout and the
//! decorations on stderr, and concatenates the lists of several paths without a separator,
//! so it is called once per mountpoint. Process names come from /proc.

use std::path::Path;

use anyhow::{Result, bail};

use crate::process::{Cmd, Output};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Holder {
    pub pid: u32,
    pub command: String,
    pub user: String,
}

pub fn holders_cmd(mountpoint: &Path) -> Cmd {
    Cmd::probe([
        "fuser".to_string(),
        "-m".into(),
        "-M".into(),
        mountpoint.display().to_string(),
    ])
}

/// `fuser -k -SIGNAL -m -M PATH`: signal every process that uses the filesystem.
pub fn kill_cmd(mountpoint: &Path, signal: &str) -> Cmd {
    Cmd::change([
        "fuser".to_string(),
        "-k".into(),
        format!("-{signal}"),
        "-m".into(),
        "-M".into(),
        mountpoint.display().to_string(),
    ])
}

/// Exit 0 with PIDs: held. Exit 1 with no PIDs: free. Exit 1 with a complaint: the path is not
/// a mountpoint or fuser failed, which we report rather than read as "free".
pub fn parse_holders(out: &Output) -> Result<Vec<u32>> {
    let mut pids = Vec::new();
    for tok in out.stdout.split_whitespace() {
        // "kernel" marks the mount itself (or a kernel user such as nfsd); not a process.
        if tok == "kernel" {
            continue;
        }
        let digits: String = tok.chars().take_while(char::is_ascii_digit).collect();
        match digits.parse() {
            Ok(p) => pids.push(p),
            Err(_) => bail!("unexpected fuser output: {:?}", out.stdout.trim()),
        }
    }
    if pids.is_empty() && !out.success() {
        let complaint: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| {
                !l.starts_with("Cannot stat file /proc/")
                    && !l.trim().is_empty()
                    && !l.trim_end().ends_with(':')
            })
            .collect();
        if !complaint.is_empty() {
            bail!("fuser failed ({}): {}", out.ending(), complaint.join("; "));
        }
    }
    Ok(pids)
}

/// Name and owner of a pid, for the report (best effort: the process may be gone).
pub fn describe(pid: u32) -> Holder {
    let command = std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
        .ok()
        .map(|c| {
            c.split('\0')
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|c| !c.is_empty())
        .or_else(|| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .ok()
                .map(|c| c.trim().to_string())
        })
        .unwrap_or_else(|| "?".into());
    let user = std::fs::metadata(format!("/proc/{pid}"))
        .ok()
        .map(|m| {
            use std::os::unix::fs::MetadataExt;
            let uid = nix::unistd::Uid::from_raw(m.uid());
            nix::unistd::User::from_uid(uid)
                .ok()
                .flatten()
                .map(|u| u.name)
                .unwrap_or_else(|| uid.to_string())
        })
        .unwrap_or_else(|| "?".into());
    Holder { pid, command, user }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(rc: i32, stdout: &str, stderr: &str) -> Output {
        Output::fake(rc, stdout, stderr)
    }

    // Captured from psmisc 23.6 `fuser -m` on this project's test bed (ext4 on a loop device,
    // a shell and a sleep with their working directory on it).
    #[test]
    fn held_mount() {
        assert_eq!(
            parse_holders(&out(0, "  4302  4310  4311", "/tmp/fz/mnt:        ccc\n")).unwrap(),
            [4302, 4310, 4311]
        );
        assert_eq!(
            parse_holders(&out(0, "kernel  4302", "/x:  c\n")).unwrap(),
            [4302]
        );
    }

    #[test]
    fn free_mount() {
        assert!(parse_holders(&out(1, "", "")).unwrap().is_empty());
        // Noise that fuser prints in some sandboxes must not turn into an error.
        assert!(
            parse_holders(&out(
                1,
                "",
                "Cannot stat file /proc/1/fd/0: Permission denied\n"
            ))
            .unwrap()
            .is_empty()
        );
    }

    #[test]
    fn not_a_mountpoint_is_an_error() {
        let e = parse_holders(&out(
            1,
            "",
            "Specified filename /srv/x is not a mountpoint.\n",
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("not a mountpoint"), "{e}");
    }
}
