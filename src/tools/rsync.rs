//! rsync for block devices: `--copy-devices` (sender reads the device as a file),
//! `--write-devices` (receiver writes into the device), `--inplace --no-whole-file` (delta
//! transfer into the existing data), `--ignore-times` (never skip on equal size and mtime),
//! `--copy-links` (the remote /dev/VG/LV is a symlink). The local target is given as the
//! resolved device node: a symlink there would be replaced by a regular file.

use std::path::Path;

use anyhow::{Result, bail};

use crate::engine::runner::{Cmd, shell_quote};

pub fn sync_cmd(
    ssh: &[String],
    dest: &str,
    remote_dev: &Path,
    local_dev: &Path,
    nice: i32,
    bwlimit: Option<u64>,
) -> Cmd {
    let mut argv: Vec<String> = [
        "rsync",
        "--copy-devices",
        "--write-devices",
        "--inplace",
        "--no-whole-file",
        "--ignore-times",
        "--copy-links",
        "--stats",
        "--info=progress2",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    argv.push("-e".into());
    argv.push(
        ssh.iter()
            .map(|a| shell_quote(a))
            .collect::<Vec<_>>()
            .join(" "),
    );
    argv.push("--rsync-path".into());
    argv.push(format!("nice -n {nice} rsync"));
    if let Some(b) = bwlimit {
        // rsync counts in KiB/s.
        argv.push(format!("--bwlimit={}K", b.div_ceil(1024)));
    }
    argv.push(format!("{dest}:{}", remote_dev.display()));
    argv.push(local_dev.display().to_string());
    Cmd::change(argv)
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Stats {
    pub total_size: u64,
    pub literal: u64,
    pub received: u64,
}

/// The `--stats` block: "Total file size: 8,388,608 bytes", "Literal data: 2,896 bytes",
/// "Total bytes received: 17,417".
pub fn parse_stats(stdout: &str) -> Result<Stats> {
    let num = |key: &str| -> Option<u64> {
        stdout
            .lines()
            .map(|l| l.trim_start_matches('\r').trim())
            .find_map(|l| l.strip_prefix(key))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.replace(',', "").parse().ok())
    };
    match (
        num("Total file size:"),
        num("Literal data:"),
        num("Total bytes received:"),
    ) {
        (Some(total_size), Some(literal), Some(received)) => Ok(Stats {
            total_size,
            literal,
            received,
        }),
        _ => bail!("rsync printed no --stats block (expected \"Literal data: N bytes\")"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // rsync 3.2.7/3.4 --stats output (this machine).
    const STATS: &str = "\r      8,388,608 100%  110.50MB/s    0:00:00 (xfr#1, to-chk=0/1)\n\nNumber of files: 1 (reg: 1)\nNumber of created files: 0\nTotal file size: 8,388,608 bytes\nTotal transferred file size: 8,388,608 bytes\nLiteral data: 2,896 bytes\nMatched data: 8,385,712 bytes\nTotal bytes sent: 14,561\nTotal bytes received: 17,417\n";

    #[test]
    fn stats() {
        assert_eq!(
            parse_stats(STATS).unwrap(),
            Stats {
                total_size: 8388608,
                literal: 2896,
                received: 17417
            }
        );
        assert!(parse_stats("nothing").is_err());
    }

    #[test]
    fn argv() {
        let c = sync_cmd(
            &["ssh".into(), "-i".into(), "/k".into()],
            "root@h",
            Path::new("/dev/vd/s"),
            Path::new("/dev/dm-3"),
            10,
            Some(50 << 20),
        );
        let s = c.to_string();
        assert!(
            s.starts_with("rsync --copy-devices --write-devices --inplace --no-whole-file"),
            "{s}"
        );
        assert!(s.ends_with("-e 'ssh -i /k' --rsync-path 'nice -n 10 rsync' --bwlimit=51200K root@h:/dev/vd/s /dev/dm-3"), "{s}");
    }
}
