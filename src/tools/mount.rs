//! mount/umount argv, and the mount table from `/proc/self/mountinfo` (read directly: it is
//! what findmnt reads, and the only view that shows bind mounts by device number).

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use super::unescape_octal;
use crate::config::Volume;
use crate::config::nesting::Under;
use crate::process::Cmd;

pub const MOUNTINFO: &str = "/proc/self/mountinfo";

#[derive(Debug, Clone, PartialEq)]
pub struct Mount {
    pub id: u32,
    pub parent: u32,
    pub dev: (u32, u32),
    /// The directory of the filesystem that is mounted here ("/" unless a bind of a subdir).
    pub root: String,
    pub mountpoint: PathBuf,
    pub options: String,
    pub fstype: String,
    pub source: String,
}

pub fn parse_mountinfo(text: &str) -> Result<Vec<Mount>> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let parse = || -> Option<Mount> {
            let (left, right) = line.split_once(" - ")?;
            let l: Vec<&str> = left.split(' ').collect();
            let r: Vec<&str> = right.split(' ').collect();
            if l.len() < 6 || r.len() < 2 {
                return None;
            }
            let (maj, min) = l[2].split_once(':')?;
            Some(Mount {
                id: l[0].parse().ok()?,
                parent: l[1].parse().ok()?,
                dev: (maj.parse().ok()?, min.parse().ok()?),
                root: unescape_octal(l[3]),
                mountpoint: PathBuf::from(unescape_octal(l[4])),
                options: l[5].to_string(),
                fstype: r[0].to_string(),
                source: unescape_octal(r[1]),
            })
        };
        match parse() {
            Some(m) => out.push(m),
            None => bail!("{MOUNTINFO} line {}: unexpected format: {line:?}", n + 1),
        }
    }
    Ok(out)
}

pub fn read_mountinfo() -> Result<Vec<Mount>> {
    let text = std::fs::read_to_string(MOUNTINFO)
        .map_err(|e| anyhow::anyhow!("cannot read {MOUNTINFO}: {e}"))?;
    parse_mountinfo(&text)
}

/// The device number of a block device node, if it exists.
/// Verdict for "nothing is mounted at `path` any more": the top mount there, if any, named.
pub fn nothing_mounted_at(path: &Path) -> Result<std::result::Result<(), String>> {
    let table = read_mountinfo()?;
    Ok(match table.iter().rev().find(|m| m.mountpoint == path) {
        None => Ok(()),
        Some(m) => Err(format!(
            "{} is still mounted ({} {})",
            path.display(),
            m.fstype,
            m.source
        )),
    })
}

pub fn rdev_of(device: &Path) -> Option<(u32, u32)> {
    let md = std::fs::metadata(device).ok()?;
    let rdev = md.rdev();
    if rdev == 0 {
        return None;
    }
    Some((
        nix::sys::stat::major(rdev) as u32,
        nix::sys::stat::minor(rdev) as u32,
    ))
}

/// What the mount table says about one volume.
#[derive(Debug, Clone, Default)]
pub struct VolumeMounts {
    /// The visible (topmost) mount at the volume's mountpoint, whatever it is.
    pub at_mountpoint: Option<Mount>,
    /// True when that mount is the volume's device.
    pub mounted: bool,
    /// Every mount of the volume's device, including bind mounts elsewhere.
    pub of_device: Vec<Mount>,
    /// Mounts stacked below the mountpoint (e.g. bind mounts into project dirs).
    pub submounts: Vec<Mount>,
}

impl VolumeMounts {
    /// For one volume; for many, index the table once with [`MountIndex`].
    pub fn of(volume: &Volume, table: &[Mount]) -> VolumeMounts {
        MountIndex::new(table).volume(volume)
    }
}

/// The mount table indexed once by mountpoint, device number and source, so that looking up
/// every volume of a large config does not scan the whole table per volume.
pub struct MountIndex<'a> {
    table: &'a [Mount],
    points: Under<'a>,
    by_dev: HashMap<(u32, u32), Vec<usize>>,
    by_source: HashMap<&'a Path, Vec<usize>>,
}

impl<'a> MountIndex<'a> {
    pub fn new(table: &'a [Mount]) -> MountIndex<'a> {
        let mut by_dev: HashMap<(u32, u32), Vec<usize>> = HashMap::new();
        let mut by_source: HashMap<&Path, Vec<usize>> = HashMap::new();
        for (i, m) in table.iter().enumerate() {
            by_dev.entry(m.dev).or_default().push(i);
            by_source.entry(Path::new(&m.source)).or_default().push(i);
        }
        MountIndex {
            table,
            points: Under::new(table.iter().map(|m| m.mountpoint.as_path())),
            by_dev,
            by_source,
        }
    }

    pub fn volume(&self, volume: &Volume) -> VolumeMounts {
        let rdev = rdev_of(&volume.device);
        let canonical = std::fs::canonicalize(&volume.device).ok();
        // The device's mounts: by device number, or by the source as configured or resolved.
        let mut of_device: Vec<usize> = rdev
            .and_then(|d| self.by_dev.get(&d))
            .into_iter()
            .chain(self.by_source.get(volume.device.as_path()))
            .chain(canonical.as_deref().and_then(|c| self.by_source.get(c)))
            .flatten()
            .copied()
            .collect();
        of_device.sort_unstable();
        of_device.dedup();
        let here = self.points.of(&volume.mountpoint);
        let top = here
            .iter()
            .rev()
            .find(|&&i| self.table[i].mountpoint == volume.mountpoint)
            .copied();
        let mounted = top.is_some_and(|i| of_device.binary_search(&i).is_ok());
        let rows = |ix: &mut dyn Iterator<Item = usize>| -> Vec<Mount> {
            ix.map(|i| self.table[i].clone()).collect()
        };
        VolumeMounts {
            at_mountpoint: top.map(|i| self.table[i].clone()),
            mounted,
            of_device: rows(&mut of_device.into_iter()),
            submounts: rows(
                &mut here
                    .into_iter()
                    .filter(|&i| self.table[i].mountpoint != volume.mountpoint),
            ),
        }
    }
}

pub fn mount_cmd(v: &Volume) -> Cmd {
    let mut argv = vec!["mount".to_string(), "-t".into(), v.fstype.clone()];
    if !v.mount_options.is_empty() {
        argv.push("-o".into());
        argv.push(v.mount_options.join(","));
    }
    argv.push(v.device.display().to_string());
    argv.push(v.mountpoint.display().to_string());
    Cmd::change(argv)
}

pub fn mkdir_cmd(path: &Path) -> Cmd {
    Cmd::change(["mkdir".to_string(), "-p".into(), path.display().to_string()])
}

pub fn umount_cmd(path: &Path) -> Cmd {
    Cmd::change(["umount".to_string(), path.display().to_string()])
}

#[cfg(test)]
mod tests {
    use super::*;

    // From a real /proc/self/mountinfo on this project's test bed (ext4 on a loop device,
    // a bind mount of a subdirectory, and a mountpoint with a space).
    const SAMPLE: &str = "\
22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
63 22 7:0 / /srv/tools rw,noatime - ext4 /dev/loop0 rw
64 22 7:0 /project/x /export/x rw,noatime - ext4 /dev/loop0 rw
65 63 0:51 / /srv/tools/project/y rw,relatime - tmpfs t rw
66 22 7:1 / /srv/with\\040space rw - ext4 /dev/loop1 rw
";

    fn vol(device: &str, mountpoint: &str) -> Volume {
        Volume {
            name: "tools".into(),
            drbd: None,
            device: device.into(),
            mountpoint: mountpoint.into(),
            fstype: "ext4".into(),
            mount_options: vec!["noatime".into(), "nodev".into()],
            dual_primary: false,
        }
    }

    #[test]
    fn parses_fields_and_escapes() {
        let t = parse_mountinfo(SAMPLE).unwrap();
        assert_eq!(t.len(), 5);
        assert_eq!(t[1].dev, (7, 0));
        assert_eq!(t[2].root, "/project/x");
        assert_eq!(t[4].mountpoint, Path::new("/srv/with space"));
        assert_eq!(t[1].fstype, "ext4");
    }

    #[test]
    fn rejects_garbage_with_line_number() {
        let e = parse_mountinfo("22 1 254:0 / / rw\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 1"), "{e}");
    }

    #[test]
    fn volume_view_finds_binds_and_submounts_by_source() {
        let t = parse_mountinfo(SAMPLE).unwrap();
        // /dev/loop0 does not exist in a unit test; matching falls back to the source path.
        let v = VolumeMounts::of(&vol("/dev/loop0", "/srv/tools"), &t);
        assert!(v.mounted);
        assert_eq!(v.of_device.len(), 2);
        assert_eq!(v.submounts.len(), 1);
        assert_eq!(v.submounts[0].mountpoint, Path::new("/srv/tools/project/y"));
        let other = VolumeMounts::of(&vol("/dev/drbd9", "/srv/tools"), &t);
        assert!(!other.mounted && other.at_mountpoint.is_some());
    }

    #[test]
    fn mount_argv_has_explicit_type_and_options() {
        assert_eq!(
            mount_cmd(&vol("/dev/drbd4", "/srv/tools")).argv,
            [
                "mount",
                "-t",
                "ext4",
                "-o",
                "noatime,nodev",
                "/dev/drbd4",
                "/srv/tools"
            ]
        );
    }
}
