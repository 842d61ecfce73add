//! `blkid -p -o export DEV`: what a block device holds (filesystem, RAID or DRBD meta-data
//! signatures), probed low-level (`-p`) so the answer comes from the device itself, never from
//! blkid's cache. Exit 2 means nothing was found.

use crate::process::{Cmd, Output};

pub fn probe_cmd(dev: &str) -> Cmd {
    Cmd::probe(["blkid", "-p", "-o", "export", dev])
}

/// `wipefs --all DEV`: erase every signature blkid can see (filesystem superblocks, DRBD's
/// internal meta-data magic). drbdmeta refuses to put internal meta-data over a filesystem
/// even with --force, so an overwrite that was asked for wipes first.
pub fn wipe_cmd(dev: &str) -> Cmd {
    Cmd::change(["wipefs", "--all", dev])
}

/// What blkid found on a device, in its own words (TYPE, UUID, LABEL…).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Found {
    pub fields: Vec<(String, String)>,
}

impl Found {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `TYPE` (ext4, xfs, drbd for DRBD's internal meta-data…).
    pub fn kind(&self) -> Option<&str> {
        self.get("TYPE")
    }

    /// `TYPE=ext4 UUID=… LABEL=…`: the fields an operator recognizes a device by.
    pub fn describe(&self) -> String {
        ["TYPE", "PTTYPE", "UUID", "LABEL", "VERSION"]
            .iter()
            .filter_map(|k| self.get(k).map(|v| format!("{k}={v}")))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// `None`: blkid found no signature (exit 2). An error for any other failure.
pub fn parse(out: &Output) -> anyhow::Result<Option<Found>> {
    match out.rc {
        Some(0) => {}
        Some(2) => return Ok(None),
        _ => anyhow::bail!("blkid failed ({}): {}", out.ending(), out.complaint()),
    }
    let fields: Vec<(String, String)> = out
        .stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| *k != "DEVNAME")
        .map(|(k, v)| (k.to_string(), unescape(v)))
        .collect();
    Ok((!fields.is_empty()).then_some(Found { fields }))
}

/// `-o export` escapes shell-special characters with a backslash.
fn unescape(v: &str) -> String {
    let mut out = String::new();
    let mut it = v.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            out.extend(it.next());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const REAL: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/real/6.1.0-56-amd64_drbd-utils-9.22.0"
    );

    fn real(name: &str) -> String {
        std::fs::read_to_string(format!("{REAL}/{name}")).unwrap()
    }

    #[test]
    fn filesystem_and_drbd_metadata_and_nothing() {
        let fs = parse(&Output::fake(0, &real("blkid-p.ext4.txt"), ""))
            .unwrap()
            .unwrap();
        assert_eq!(fs.kind(), Some("ext4"));
        assert!(
            fs.describe().starts_with("TYPE=ext4 UUID="),
            "{}",
            fs.describe()
        );
        let md = parse(&Output::fake(0, &real("blkid-p.drbd-metadata.txt"), ""))
            .unwrap()
            .unwrap();
        assert_eq!(md.kind(), Some("drbd"));
        assert_eq!(md.describe(), "TYPE=drbd VERSION=v08");
        assert_eq!(parse(&Output::fake(2, "", "")).unwrap(), None);
        assert!(parse(&Output::fake(4, "", "blkid: bad usage")).is_err());
    }

    #[test]
    fn escaped_label() {
        let f = parse(&Output::fake(
            0,
            "DEVNAME=/dev/x\nLABEL=my\\ data\nTYPE=ext4\n",
            "",
        ))
        .unwrap()
        .unwrap();
        assert_eq!(f.get("LABEL"), Some("my data"));
        assert!(f.get("DEVNAME").is_none());
    }
}
