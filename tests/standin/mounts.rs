//! Whether a device is mounted, as the kernel says (for drbdadm and lvremove refusals).

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};

/// A device counts as mounted when /proc/self/mountinfo has its MAJOR:MINOR (field 3) or
/// names its path as the mount source (first field after " - " is the fs type, then source).
pub fn is_mounted(device: &str) -> bool {
    if device.is_empty() {
        return false;
    }
    let rdev = fs::metadata(device)
        .ok()
        .filter(|m| m.file_type().is_block_device())
        .map(|m| {
            let rdev = m.rdev();
            format!(
                "{}:{}",
                nix::sys::stat::major(rdev),
                nix::sys::stat::minor(rdev)
            )
        });
    let Ok(info) = fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    info.lines().any(|l| {
        let fields: Vec<&str> = l.split(' ').collect();
        let by_dev = rdev.as_deref().is_some_and(|r| fields.get(2) == Some(&r));
        let source = fields
            .iter()
            .position(|f| *f == "-")
            .and_then(|i| fields.get(i + 2));
        by_dev || source == Some(&device)
    })
}
