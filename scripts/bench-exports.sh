#!/usr/bin/env bash
# Benchmark `nfs-manage exports sync` (exports.layout: netgroup) against the yardstick — a full
# `exportfs -ra` of the same clients written one entry per IP (the per-client layout, and
# nfs-exportd's) — with the real exportfs, etab and glibc in a private mount and network
# namespace (tmpfs over /srv and /var/lib/nfs, an overlay over /etc for /etc/netgroup,
# nsswitch.conf and exports.d; the host is not touched). Each run measures the yardstick, then
# right after it each measure below, so every ratio is paired; min and median over RUNS:
#   1. one-project membership change (one address replaced), whole `exports sync` run
#      (target ≤ 0.10);
#   2. one-project option change, whole run (target ≤ 0.25);
#   3. nothing to change, whole run (target ≤ 0.05, and no exportfs at all);
#   4. the netgroup layout's own full `exportfs -ra`;
#   5. render + validate of every project file: `exports sync --dry-run`, nothing to change
#      (target < 100 ms at 2,000 projects).
# Usage: scripts/bench-exports.sh [PROJECTS] [CLIENTS_PER_PROJECT] [RUNS]   (needs root)
set -euo pipefail
cd "$(dirname "$0")/.."
P=${1:-2000}
C=${2:-10}
N=${3:-5}

if [[ -z "${NFS_MANAGE_BENCH_NS:-}" ]]; then
  cargo build --release --quiet --bin nfs-manage
  exec env NFS_MANAGE_BENCH_NS=1 unshare --mount --net --propagation private "$0" "$@"
fi

BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/nfs-manage
T=$(mktemp -d)
trap 'umount -R /etc 2>/dev/null; rm -rf "$T"' EXIT
mkdir -p "$T/etc.upper" "$T/etc.work" "$T/d.ip"
mount -t overlay nfs-manage-bench -o "lowerdir=/etc,upperdir=$T/etc.upper,workdir=$T/etc.work" /etc
sed -i '/^netgroup:/d' /etc/nsswitch.conf
echo 'netgroup: files' >>/etc/nsswitch.conf
# Netgroup members must resolve to a name (rpc.mountd refuses nameless ones, so nfs-manage
# does): every address below gets one in /etc/hosts, looked up from files only.
sed -i 's/^hosts:.*/hosts: files/' /etc/nsswitch.conf
: >/etc/netgroup
: >/etc/exports
mkdir -p /etc/exports.d
mount -t tmpfs nfs-manage-bench /etc/exports.d
mount -t tmpfs nfs-manage-bench /srv
mount -t tmpfs nfs-manage-bench /var/lib/nfs
touch /var/lib/nfs/etab /var/lib/nfs/rmtab
mkdir -p /srv/bench
mount -t tmpfs /dev/nfs-manage-bench /srv/bench
ip link set lo up
ip addr add 192.0.2.18/24 dev lo
export NO_COLOR=1

cat >"$T/cluster.yaml" <<YAML
cluster: bench
nodes: { a: { address: 192.0.2.6 } }
service_ip: { address: 192.0.2.18/24, interface: lo }
volumes:
  - { name: bench, device: /dev/nfs-manage-bench, mountpoint: /srv/bench, fstype: tmpfs }
projects_dir: $T/projects
exports: { backup: $T/exports.bak, layout: netgroup }
paths: { journal: $T/journal.jsonl, lock: $T/lock, state: $T/state }
timeouts: { probe: 60s, step: 20m }
YAML
mkdir -p "$T/projects"
OPTS=rw,sync,no_subtree_check,root_squash
# Project i: gid 60000+i, clients 10.(i/250).(i%250).1..C — distinct addresses, like instances.
for ((i = 1; i <= 254; i++)); do echo "10.0.1.$i moved-$i"; done >>/etc/hosts
for ((i = 1; i <= P; i++)); do
  clients="" line="/srv/bench/shared/p$i"
  for ((j = 1; j <= C; j++)); do
    a=10.$((i / 250)).$((i % 250)).$j
    clients+="${clients:+, }$a"
    line+=" $a($OPTS,fsid=$((60000 + i)))"
    echo "$a p$i-$j" >>/etc/hosts
  done
  printf 'name: p%d\ngid: %d\nvolume: bench\nclients: [%s]\n' "$i" $((60000 + i)) "$clients" >"$T/projects/p$i.yaml"
  echo "$line" >"$T/d.ip/p$i.exports"
  mkdir -p "/srv/bench/shared/p$i"
done

nm() { "$BIN" --config "$T/cluster.yaml" --node a "$@"; }
NM=("$BIN" --config "$T/cluster.yaml" --node a)
now() { date +%s%N; }
us() { local a b; a=$(now); "$@" >/dev/null; b=$(now); echo $(((b - a) / 1000)); }
# Wall and CPU time (user + system, children included) of one command, in µs: "WALL CPU".
# On a shared machine the CPU time is the steadier measure; both are reported.
both() {
  local a b
  a=$(now)
  /usr/bin/time -f '%U %S' -o "$T/cpu" "$@" >/dev/null
  b=$(now)
  echo "$(((b - a) / 1000)) $(awk '{ printf "%d", ($1 + $2) * 1e6 }' "$T/cpu")"
}
layout() { # ip: the yardstick's files and etab; ng: nfs-manage's
  umount /etc/exports.d
  mount --bind "$T/d.$1" /etc/exports.d
  cp "$T/etab.$1" /var/lib/nfs/etab
}

# The yardstick's table, then nfs-manage's first sync (one `exportfs -ra`).
mkdir -p "$T/d.ng"
umount /etc/exports.d
mount --bind "$T/d.ip" /etc/exports.d
exportfs -ra
cp /var/lib/nfs/etab "$T/etab.ip"
umount /etc/exports.d
mount --bind "$T/d.ng" /etc/exports.d
: >/var/lib/nfs/etab
first=$(us nm -q --yes exports sync)
cp /var/lib/nfs/etab "$T/etab.ng"
echo "yardstick: $(wc -l <"$T/etab.ip") etab entries; netgroup layout: $(wc -l <"$T/etab.ng") entries, $(grep -c '^p' /etc/netgroup) groups; first sync ${first} µs" >&2

p1() { # p1's project file: a client list and options
  printf 'name: p1\ngid: 60001\nvolume: bench\noptions: [%s]\nclients: [%s]\n' "$1" "$2" >"$T/projects/p1.yaml"
}
base=$(seq -s ', ' -f '10.0.1.%g' 1 "$C")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", a / b }'; }
declare -A R
add() { R[$1]+="$2 "; }
# Both ratios of a measure against the yardstick's "WALL CPU".
pair() { # name "WALL CPU" "WALL CPU"
  local w c yw yc
  read -r w c <<<"$2"
  read -r yw yc <<<"$3"
  add "$1" "$(ratio "$w" "$yw")"
  add "$1_cpu" "$(ratio "$c" "$((yc > 0 ? yc : 1))")"
}
for ((k = 1; k <= N; k++)); do
  layout ip
  yy=$(both exportfs -ra)
  y=${yy% *}
  add yardstick "$(awk -v y="$y" 'BEGIN { printf "%.1f", y / 1000 }')"
  add yardstick_cpu "$(awk -v y="${yy#* }" 'BEGIN { printf "%.1f", y / 1000 }')"
  layout ng
  p1 "rw, sync, no_subtree_check, root_squash" "${base/10.0.1.1,/10.0.1.$((100 + k)),}"
  pair member "$(both "${NM[@]}" -q --yes exports sync)" "$yy"
  p1 "rw, async, no_subtree_check, root_squash" "${base/10.0.1.1,/10.0.1.$((100 + k)),}"
  pair option "$(both "${NM[@]}" -q --yes exports sync)" "$yy"
  pair none "$(both "${NM[@]}" -q --yes exports sync)" "$yy"
  pair ng_ra "$(both exportfs -ra)" "$yy"
  dd=$(both "${NM[@]}" -q exports sync --dry-run)
  add dry "$(awk -v d="${dd% *}" 'BEGIN { printf "%.1f", d / 1000 }')"
  add dry_cpu "$(awk -v d="${dd#* }" 'BEGIN { printf "%.1f", d / 1000 }')"
  # Back to the first state (untimed), so that every run measures the same change.
  p1 "rw, sync, no_subtree_check, root_squash" "$base"
  nm -q --yes exports sync
  cp /var/lib/nfs/etab "$T/etab.ng"
  echo "run $k: yardstick ${y} µs" >&2
done
runs_none=$(nm --json --yes exports sync | grep -c '"argv"' || true)
p1 "rw, sync, no_subtree_check, root_squash" "${base/10.0.1.1,/10.0.1.99,}"
member_argv=$(nm --json --yes exports sync | tr -d '\n ' | grep -o '"argv":\[[^]]*\]' | grep -v '"argv":\[\]' | tr '\n' ' ' || true)

stats() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%s | %s", v[1], m }'; }
row() { echo "| $2 | $(echo "${R[$1]}" | stats) | $(echo "${R[$1_cpu]}" | stats) |"; }
echo "| measure ($P projects × $C clients; $N paired runs) | wall min | wall median | CPU min | CPU median |"
echo "|---|---|---|---|---|"
row yardstick "yardstick: \`exportfs -ra\` of $((P * C)) one-per-IP entries (ms)"
row member "one-project membership change, whole \`exports sync\` ÷ yardstick (target ≤ 0.10)"
row option "one-project option change, whole \`exports sync\` ÷ yardstick (target ≤ 0.25)"
row none "nothing to change, whole \`exports sync\` ÷ yardstick (target ≤ 0.05)"
row ng_ra "the netgroup layout's own full \`exportfs -ra\` ÷ yardstick"
row dry "render + validate, \`exports sync --dry-run\`, nothing to change (ms)"
echo
echo "Commands a membership change ran: ${member_argv:-none}; commands a sync with nothing to change ran: $runs_none."
