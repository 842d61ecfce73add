//! `mkfs.FSTYPE` for a freshly initialized DRBD device.
//!
//! ext4/ext3: `-E lazy_itable_init=1,nodiscard`. Zeroing every inode table of a multi-TB
//! device up front takes hours and would be replicated block by block; the kernel's
//! ext4lazyinit thread does it in the background after the first mount instead. The journal is
//! still zeroed at mkfs time (no lazy_journal_init): a replay must never meet stale blocks from
//! the disk's previous life. `nodiscard`: the device is new or was just wiped, and a discard
//! of the whole device through DRBD (to the peer too) can take long and gains nothing.
//! xfs: `-K` for the same reason as nodiscard. The label is the volume's name (cut to the
//! filesystem's limit), so `blkid` and `lsblk -f` say what a disk is.

use crate::process::Cmd;

pub const SUPPORTED: &[&str] = &["ext4", "ext3", "xfs"];

pub fn mkfs_cmd(fstype: &str, dev: &str, label: &str) -> Option<Cmd> {
    Some(match fstype {
        "ext4" | "ext3" => Cmd::change([
            format!("mkfs.{fstype}"),
            "-q".into(),
            "-L".into(),
            cut(label, 16),
            "-E".into(),
            "lazy_itable_init=1,nodiscard".into(),
            dev.into(),
        ]),
        "xfs" => Cmd::change([
            "mkfs.xfs".to_string(),
            "-q".into(),
            "-K".into(),
            "-L".into(),
            cut(label, 12),
            dev.into(),
        ]),
        _ => return None,
    })
}

fn cut(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv() {
        assert_eq!(
            mkfs_cmd("ext4", "/dev/drbd4", "tools").unwrap().argv,
            [
                "mkfs.ext4",
                "-q",
                "-L",
                "tools",
                "-E",
                "lazy_itable_init=1,nodiscard",
                "/dev/drbd4"
            ]
        );
        let x = mkfs_cmd("xfs", "/dev/drbd4", "a-very-long-volume-name").unwrap();
        assert_eq!(x.argv[4], "a-very-long-");
        assert!(mkfs_cmd("btrfs", "/dev/drbd4", "t").is_none());
    }
}
