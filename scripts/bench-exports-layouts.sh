#!/usr/bin/env bash
# How the exports table's layout decides what exportfs costs, on the real exportfs (and glibc's
# innetgr) in a private mount and network namespace (tmpfs over /srv, /var/lib/nfs and
# /etc/exports.d, a private copy of /etc for /etc/netgroup and nsswitch.conf; the host's
# exports are not touched). The same P projects × C distinct client IPs, written three ways:
#   ip:    one entry per client IP (today's layout, and nfs-exportd's) — the yardstick;
#   ng:    one entry per project, its clients as a netgroup `@NAME` in /etc/netgroup
#          (nsswitch `netgroup: files`);
#   cidr:  each project's IPs collapsed into exact CIDR blocks (never wider than the list).
# Each run measures, in this order so that the ratios are paired: the yardstick `exportfs -ra`
# of the ip layout, then every other measure. Prints the min and median of each ratio.
# Usage: scripts/bench-exports-layouts.sh [PROJECTS] [CLIENTS_PER_PROJECT] [RUNS] [SINGLE]
#   SINGLE=0 skips the single-entry exportfs runs on the ip layout (each costs about one -ra).
set -euo pipefail
cd "$(dirname "$0")/.."
P=${1:-2000}
C=${2:-10}
N=${3:-5}
SINGLE=${4:-1}

if [[ -z "${NFS_MANAGE_BENCH_NS:-}" ]]; then
  exec env NFS_MANAGE_BENCH_NS=1 unshare --mount --net --propagation private "$0" "$@"
fi

T=$(mktemp -d)
trap 'umount -R /etc 2>/dev/null; rm -rf "$T"' EXIT
# A private /etc: exportfs and glibc read /etc/netgroup and /etc/nsswitch.conf there.
cp -a /etc "$T/etc" 2>/dev/null || true
sed -i 's/^netgroup:.*/netgroup: files/' "$T/etc/nsswitch.conf"
grep -q '^netgroup:' "$T/etc/nsswitch.conf" || echo 'netgroup: files' >>"$T/etc/nsswitch.conf"
mount --bind "$T/etc" /etc
: >/etc/exports
mkdir -p /etc/exports.d
mount -t tmpfs nfs-manage-bench /etc/exports.d
mount -t tmpfs nfs-manage-bench /srv
mount -t tmpfs nfs-manage-bench /var/lib/nfs
touch /var/lib/nfs/etab /var/lib/nfs/rmtab
ip link set lo up
OPTS=rw,sync,no_subtree_check,root_squash

# Project i's clients: 10.(i/250).(i%250).1..C, as instances in a per-project range would be.
python3 - "$P" "$C" "$T" "$OPTS" <<'PY'
import ipaddress, os, sys
p, c, t, opts = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
for d in ("ip", "ng", "cidr"):
    os.makedirs(f"{t}/{d}", exist_ok=True)
ng = []
for i in range(1, p + 1):
    path = f"/srv/bench/shared/p{i}"
    os.makedirs(path, exist_ok=True)
    ips = [f"10.{i // 250}.{i % 250}.{j}" for j in range(1, c + 1)]
    o = f"{opts},fsid={60000 + i}"
    with open(f"{t}/ip/p{i}.exports", "w") as f:
        f.write(path + " " + " ".join(f"{a}({o})" for a in ips) + "\n")
    with open(f"{t}/ng/p{i}.exports", "w") as f:
        f.write(f"{path} @p{i}({o})\n")
    blocks = ipaddress.collapse_addresses(ipaddress.ip_network(a) for a in ips)
    with open(f"{t}/cidr/p{i}.exports", "w") as f:
        f.write(path + " " + " ".join(f"{b}({o})" for b in blocks) + "\n")
    ng.append(f"p{i} " + " ".join(f"({a},,)" for a in ips))
with open(f"{t}/netgroup", "w") as f:
    f.write("\n".join(ng) + "\n")
# One group of 20,000 members, for innetgr's cost on a very large group.
with open(f"{t}/netgroup.big", "w") as f:
    f.write("big " + " ".join(f"(10.{200 + k // 62500}.{(k // 250) % 250}.{k % 250 + 1},,)" for k in range(20000)) + "\n")
PY
cp "$T/netgroup" /etc/netgroup

use() { # layout: its exports files and its etab
  umount /etc/exports.d
  mount --bind "$T/$1" /etc/exports.d
  cp "$T/etab.$1" /var/lib/nfs/etab
}
now() { date +%s%N; }
timed() { local a b; a=$(now); "$@" >/dev/null; b=$(now); echo $(((b - a) / 1000)); } # µs

for l in ip ng cidr; do
  umount /etc/exports.d
  mount --bind "$T/$l" /etc/exports.d
  : >/var/lib/nfs/etab
  exportfs -ra
  cp /var/lib/nfs/etab "$T/etab.$l"
  echo "layout $l: $(wc -l <"$T/etab.$l") etab entries, $(cut -f2 "$T/etab.$l" | cut -d'(' -f1 | sort -u | wc -l) distinct clients" >&2
done

# innetgr() as rpc.mountd calls it (check_netgroup: innetgr(group, address, NULL, NULL)), per
# call, in µs: the last group of the P-group file, a non-member, one 20,000-member group.
innetgr_us() {
  python3 - "$@" <<'PY'
import ctypes, sys, time
libc = ctypes.CDLL(None)
group, addr, want, n = sys.argv[1].encode(), sys.argv[2].encode(), int(sys.argv[3]), int(sys.argv[4])
t = time.perf_counter()
for _ in range(n):
    r = libc.innetgr(group, addr, None, None)
    assert r == want, f"innetgr({group}, {addr}) = {r}, expected {want}"
print(int((time.perf_counter() - t) / n * 1e6))
PY
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", a / b }'; }
declare -A R
add() { R[$1]+="$2 "; }
last=10.$((P / 250)).$((P % 250))
for ((k = 1; k <= N; k++)); do
  use ip
  y=$(timed exportfs -ra)
  add yardstick_ms "$(awk -v y="$y" 'BEGIN { printf "%.1f", y / 1000 }')"
  if [[ $SINGLE == 1 ]]; then
    add ip_add "$(ratio "$(timed exportfs -i -o "$OPTS,fsid=60001" 10.0.1.200:/srv/bench/shared/p1)" "$y")"
    add ip_del "$(ratio "$(timed exportfs -u 10.0.1.200:/srv/bench/shared/p1)" "$y")"
    add ip_o "$(ratio "$(timed exportfs -o "$OPTS,fsid=60001" 10.0.1.201:/srv/bench/shared/p1)" "$y")"
  fi
  use ng
  add ng_ra "$(ratio "$(timed exportfs -ra)" "$y")"
  # A membership change: a new /etc/netgroup (written beside it, renamed over it), then the
  # kernel's caches flushed so the next request of each client asks rpc.mountd again.
  sed "s/^p1 (10.0.1.1,,)/p1 (10.0.1.$((100 + k)),,)/" "$T/netgroup" >/etc/netgroup.new
  m=$(timed sh -c 'mv /etc/netgroup.new /etc/netgroup && exportfs -f')
  add ng_member "$(ratio "$m" "$y")"
  add ng_opt "$(ratio "$(timed exportfs -i -o "$OPTS,async,fsid=60001" @p1:/srv/bench/shared/p1)" "$y")"
  add ng_none "$(ratio "$(timed exportfs -f)" "$y")"
  use cidr
  add cidr_ra "$(ratio "$(timed exportfs -ra)" "$y")"
  add cidr_add "$(ratio "$(timed exportfs -i -o "$OPTS,fsid=60001" 10.0.1.200:/srv/bench/shared/p1)" "$y")"
  cp "$T/netgroup" /etc/netgroup
  add innetgr_last_us "$(innetgr_us "p$P" "$last.$C" 1 200)"
  add innetgr_miss_us "$(innetgr_us "p$P" 192.0.2.1 0 200)"
  cp "$T/netgroup.big" /etc/netgroup
  add innetgr_big_us "$(innetgr_us big 10.200.79.250 1 50)"
  cp "$T/netgroup" /etc/netgroup
  echo "run $k: yardstick ${y} µs" >&2
done

stats() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%s | %s", v[1], m }'; }
echo "| measure ($P projects × $C clients, $N paired runs) | min | median |"
echo "|---|---|---|"
row() { [[ -n "${R[$1]:-}" ]] && echo "| $2 | $(echo "${R[$1]}" | stats) |"; return 0; }
row yardstick_ms "yardstick: \`exportfs -ra\`, one entry per IP (ms)"
row ip_add "ip layout: \`exportfs -i -o\` of one entry ÷ yardstick"
row ip_del "ip layout: \`exportfs -u\` of one entry ÷ yardstick"
row ip_o "ip layout: \`exportfs -o\` (no -i) of one entry ÷ yardstick"
row ng_ra "netgroup layout: its own \`exportfs -ra\` ÷ yardstick"
row ng_member "netgroup layout: membership change (netgroup file renamed in, \`exportfs -f\`) ÷ yardstick"
row ng_opt "netgroup layout: option change (\`exportfs -i -o\` of one \`@group\`) ÷ yardstick"
row ng_none "netgroup layout: \`exportfs -f\` alone ÷ yardstick"
row cidr_ra "cidr layout: its own \`exportfs -ra\` ÷ yardstick"
row cidr_add "cidr layout: \`exportfs -i -o\` of one entry ÷ yardstick"
row innetgr_last_us "innetgr(), member of the last of $P groups (µs per call)"
row innetgr_miss_us "innetgr(), not a member (µs per call)"
row innetgr_big_us "innetgr(), last member of one 20,000-member group (µs per call)"
