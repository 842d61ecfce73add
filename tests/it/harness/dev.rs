//! A private /dev for a mount namespace (the LVM stand-in's device links).

use std::path::Path;

use super::*;

/// Give the mount namespace of `pid` its own /dev: a tmpfs with the usual character devices
/// and loop-control bound in, and the real devtmpfs at /dev/.real. The LVM stand-in can then
/// create /dev/VG/LV links there without touching the machine's /dev. `scratch` is an empty
/// directory used while setting up.
pub fn private_dev(pid: u32, scratch: &Path) {
    std::fs::create_dir_all(scratch).unwrap();
    let s = scratch.display();
    let script = format!(
        "set -e
mount --bind /dev {s}
mount -t tmpfs -o mode=755,size=4m nfs-manage-dev /dev
mkdir /dev/.real /dev/pts /dev/shm
mount --bind {s} /dev/.real
umount {s}
for n in null zero full random urandom tty loop-control; do
  touch /dev/$n; mount --bind /dev/.real/$n /dev/$n
done
mount --bind /dev/.real/pts /dev/pts
mount -t tmpfs nfs-manage-shm /dev/shm
ln -s /proc/self/fd /dev/fd
ln -s /proc/self/fd/0 /dev/stdin; ln -s /proc/self/fd/1 /dev/stdout; ln -s /proc/self/fd/2 /dev/stderr"
    );
    ok(&[
        "nsenter",
        "-t",
        &pid.to_string(),
        "-m",
        "--",
        "sh",
        "-c",
        &script,
    ]);
}
