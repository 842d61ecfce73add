#!/bin/bash
# Guest agent of the VM test bed: the one process started by `vng --exec`.
# Usage: agent.sh SHARE_DIR ADDRESS/PREFIX [CACHED_DIR|-]
#
# The host drops scripts into SHARE_DIR/req/ (written elsewhere, then renamed in, so a
# script is never seen half-written); the agent runs them one at a time, in name order,
# and leaves SHARE_DIR/res/N.out, N.err and last N.rc (also renamed in: N.rc present means
# the other two are complete). SHARE_DIR is a read-write 9p share with no caching, so each
# side sees the other's renames at once. A file SHARE_DIR/stop ends the loop, which ends
# `vng --exec` and powers the guest off.
set -u
share=$1
address=$2
cached=${3:--}
here=$(cd "$(dirname "$0")" && pwd)

# systemctl and friends for a guest without systemd (see bin/).
export PATH="$here/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
export LC_ALL=C
cd /

log() { echo "agent[$(hostname)]: $*"; }

# Without udev rules the NIC gets a PCI path name (enp0s11); configs and nfs-manage's
# service_ip.interface say eth0, as on the real hosts.
ip link set lo up
nic=$(ls /sys/class/net | grep -v '^lo$' | head -n1)
if [ -n "$nic" ]; then
    ip link set "$nic" down
    [ "$nic" = eth0 ] || ip link set "$nic" name eth0
    ip addr add "$address" dev eth0
    ip link set eth0 up
else
    log "no network interface"
fi

# nfsd resolves export paths (and the NFSv4 pseudo root "/") in rpc.mountd's root, and
# neither the shared 9p root nor virtme's overlays (/srv, /var, /etc) can be exported. So
# every command runs chrooted in a tmpfs root that binds the system's directories but has
# a plain /srv: exports under /srv then sit on exportable filesystems up to "/", as on a
# real server, and paths stay the same as outside.
root=/run/vmroot
mkdir -p "$root"
mount -t tmpfs -o mode=755 vmroot "$root"
for d in /*; do
    name=${d#/}
    case $name in run|srv) continue ;; esac
    if [ -L "$d" ]; then
        cp -P "$d" "$root/$name"
    elif [ -d "$d" ]; then
        mkdir "$root/$name"
        mount --rbind "$d" "$root/$name"
    fi
done
# /run holds this root itself: bind it without its submounts.
mkdir "$root/run" "$root/srv"
mount --bind /run "$root/run"

# The host shares nfs-manage's build directory a second time (tag nfsmbin) for a mount with
# page caching over the same path: virtme's 9p root has none, so every exec of the binary
# would read all of it again.
if [ "$cached" != - ]; then
    if mount -t 9p -o trans=virtio,version=9p2000.L,cache=loose,msize=512000,ro,access=any \
        nfsmbin "$root$cached"; then
        log "cached view of $cached"
    else
        log "no cached view of $cached: nfs-manage runs from the uncached root"
    fi
fi

mkdir -p "$share/req" "$share/res"
log "ready: $(uname -r), eth0 $address"
echo "$(uname -r)" > "$share/ready.tmp" && mv "$share/ready.tmp" "$share/ready"

while [ ! -e "$share/stop" ]; do
    ran=0
    for req in "$share"/req/*.sh; do
        [ -e "$req" ] || break
        n=$(basename "$req" .sh)
        # First line of a request: "#timeout=SECONDS"; a hung command must not hang the agent.
        t=$(head -n1 "$req" | sed -n 's/^#timeout=\([0-9][0-9]*\)$/\1/p')
        timeout -k 5 "${t:-300}" chroot "$root" bash "$req" >"$share/res/$n.out" 2>"$share/res/$n.err" </dev/null
        echo $? >"$share/res/$n.rc.tmp"
        mv "$share/res/$n.rc.tmp" "$share/res/$n.rc"
        rm -f "$req"
        ran=1
    done
    [ "$ran" = 1 ] || sleep 0.1
done
log "stop requested"
sync
