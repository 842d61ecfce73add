//! Tool modules: each builds argv for one tool and parses its output (or the file it
//! maintains). None of them spawns anything: the engine's runner does.

pub mod arping;
pub mod bdsync;
pub mod blkid;
pub mod drbd;
pub mod etcd;
pub mod exportfs;
pub mod fuser;
pub mod getent;
pub mod ip;
pub mod lvm;
pub mod mkfs;
pub mod mount;
pub mod netgroup;
pub mod rpc_cache;
pub mod rsync;
pub mod rsync_move;
pub mod ssh;
pub mod systemctl;

/// The Debian package that provides a tool, for the "missing tool" message.
pub fn package_of(tool: &str) -> &'static str {
    match tool {
        "drbdadm" | "drbdsetup" => "drbd-utils",
        "mount" | "umount" => "mount",
        "findmnt" | "blkid" | "losetup" | "unshare" | "nsenter" | "blockdev" => "util-linux",
        "dd" | "sha256sum" | "nice" => "coreutils",
        "wipefs" => "util-linux",
        "mkfs.ext4" | "mkfs.ext3" => "e2fsprogs",
        "mkfs.xfs" => "xfsprogs",
        "ip" => "iproute2",
        "arping" => "arping (or iputils-arping)",
        "systemctl" => "systemd",
        "exportfs" => "nfs-kernel-server",
        "lvs" | "lvcreate" | "lvremove" | "vgs" | "pvs" => "lvm2",
        "fuser" => "psmisc",
        "bdsync" => "bdsync",
        "rsync" => "rsync",
        "ssh" => "openssh-client",
        "etcdctl" => "etcd-client",
        "getent" => "libc-bin",
        "install" | "rm" => "coreutils",
        _ => "unknown",
    }
}

/// Undo the octal escapes (`\040` for space, `\011` tab, `\012` newline, `\134` backslash)
/// that /proc/self/mountinfo and /var/lib/nfs/etab use for paths.
pub fn unescape_octal(s: &str) -> String {
    String::from_utf8_lossy(&unescape_octal_bytes(s)).into_owned()
}

/// [`unescape_octal`] to bytes, for paths that need not be UTF-8 (the kernel's caches).
pub fn unescape_octal_bytes(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() {
            let oct = &b[i + 1..i + 4];
            if oct.iter().all(|c| (b'0'..=b'7').contains(c)) {
                let v = (oct[0] - b'0') as u32 * 64
                    + (oct[1] - b'0') as u32 * 8
                    + (oct[2] - b'0') as u32;
                if v <= 255 {
                    out.push(v as u8);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn octal_escapes() {
        assert_eq!(super::unescape_octal(r"/srv/a\040b\134c"), r"/srv/a b\c");
        assert_eq!(super::unescape_octal(r"/srv/x\0"), r"/srv/x\0");
        assert_eq!(super::unescape_octal(r"\"), r"\");
    }
}
