#!/usr/bin/env bash
# Benchmark `nfs-manage exports sync` at 2,000 projects / 20,000 client entries, with the real
# exportfs and etab in a private mount and network namespace (tmpfs over /srv, /var/lib/nfs and
# /etc/exports.d, an empty /etc/exports; the host's exports are not touched):
#   1. applying a one-project change (one client replaced: `nfs-manage exports sync`, whole
#      run) ÷ a full `exportfs -ra` of the same table — target ≤ 0.10;
#   2. render + validate of the 2,000 project files: `nfs-manage exports sync --dry-run` with
#      nothing to change (loads and checks every project file, renders every exports file,
#      reads etab, diffs) — target < 200 ms.
# Usage: scripts/bench-exports.sh [PROJECTS] [CLIENTS_PER_PROJECT] [ITERATIONS]   (needs root)
set -euo pipefail
cd "$(dirname "$0")/.."
P=${1:-2000}
C=${2:-10}
N=${3:-5}

if [[ -z "${NFS_MANAGE_BENCH_NS:-}" ]]; then
  cargo build --release --quiet --bin nfs-manage
  exec env NFS_MANAGE_BENCH_NS=1 unshare --mount --net --propagation private "$0" "$@"
fi

BIN=$PWD/target/release/nfs-manage
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mount -t tmpfs nfs-manage-bench /srv
mount -t tmpfs nfs-manage-bench /var/lib/nfs
touch /var/lib/nfs/etab /var/lib/nfs/rmtab
mkdir -p /etc/exports.d
mount -t tmpfs nfs-manage-bench /etc/exports.d
: >"$T/exports.empty"
mount --bind "$T/exports.empty" /etc/exports
# The volume: a tmpfs whose source names the configured device.
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
exports: { backup: $T/exports.bak }
paths: { journal: $T/journal.jsonl, lock: $T/lock }
timeouts: { probe: 60s, step: 10m }
YAML
mkdir -p "$T/projects"
# Project i: gid 60000+i, clients 10.(i/250).(i%250).1..C — unique addresses, like instances.
for ((i = 1; i <= P; i++)); do
  clients=""
  for ((j = 1; j <= C; j++)); do clients+="${clients:+, }10.$((i / 250)).$((i % 250)).$j"; done
  printf 'name: p%d\ngid: %d\nvolume: bench\nclients: [%s]\n' "$i" $((60000 + i)) "$clients" >"$T/projects/p$i.yaml"
  mkdir -p "/srv/bench/shared/p$i"
done

nm() { "$BIN" --config "$T/cluster.yaml" --node a "$@"; }
now() { date +%s%N; }
ms() { awk -v a="$1" -v b="$2" -v n="${3:-1}" 'BEGIN { printf "%.1f", (b - a) / n / 1e6 }'; }

t0=$(now); nm -q --yes exports sync; t1=$(now)
first_ms=$(ms "$t0" "$t1")
entries=$(wc -l </var/lib/nfs/etab)

# Full re-export of the same table.
t0=$(now); for ((k = 0; k < N; k++)); do exportfs -ra; done; t1=$(now)
ra_ms=$(ms "$t0" "$t1" "$N")

# One-project change: project p1 gets one client replaced, then the sync applies it.
t_sum=0
for ((k = 0; k < N; k++)); do
  printf 'name: p1\ngid: 60001\nvolume: bench\nclients: [10.0.1.1, 10.0.1.2, 10.0.1.3, 10.0.1.4, 10.0.1.5, 10.0.1.6, 10.0.1.7, 10.0.1.8, 10.0.1.9, 10.0.1.%d]\n' $((100 + k)) >"$T/projects/p1.yaml"
  t0=$(now); nm -q --yes exports sync; t1=$(now)
  t_sum=$((t_sum + t1 - t0))
done
one_ms=$(awk -v s="$t_sum" -v n="$N" 'BEGIN { printf "%.1f", s / n / 1e6 }')
procs=$(nm -v --yes exports sync 2>&1 >/dev/null | sed -n 's/.* \([0-9]*\) processes spawned/\1/p')
printf 'name: p1\ngid: 60001\nvolume: bench\nclients: [10.0.1.1, 10.0.1.2, 10.0.1.3, 10.0.1.4, 10.0.1.5, 10.0.1.6, 10.0.1.7, 10.0.1.8, 10.0.1.9, 10.0.1.10]\n' >"$T/projects/p1.yaml"
changed=$(nm -v --yes exports sync 2>&1 >/dev/null | grep -c '^  \$ exportfs' || true)

# One exportfs -o of one entry, for scale: what any single exportfs run costs at this size.
t0=$(now); exportfs -o rw,fsid=60001 10.0.1.200:/srv/bench/shared/p1; t1=$(now)
single_ms=$(ms "$t0" "$t1")
exportfs -u 10.0.1.200:/srv/bench/shared/p1

# Render + validate, nothing to change.
t0=$(now); for ((k = 0; k < N; k++)); do nm -q exports sync --dry-run; done; t1=$(now)
dry_ms=$(ms "$t0" "$t1" "$N")

ratio=$(awk -v a="$one_ms" -v b="$ra_ms" 'BEGIN { printf "%.2f", a / b }')
echo "| measure ($P projects, $entries client entries in etab, $N runs each) | value |"
echo "|---|---|"
echo "| first sync (all files written, one \`exportfs -ra\`) | ${first_ms} ms |"
echo "| \`exportfs -ra\` of the whole table | ${ra_ms} ms |"
echo "| one-project change: \`nfs-manage exports sync\`, whole run | ${one_ms} ms |"
echo "| ratio one-project change ÷ \`exportfs -ra\` (target ≤ 0.10) | ${ratio} |"
echo "| exportfs runs for a one-project change | ${changed} |"
echo "| processes spawned by a sync with nothing to change | ${procs} |"
echo "| one \`exportfs -o\` of a single entry, alone | ${single_ms} ms |"
echo "| render + validate ${P} project files (\`exports sync --dry-run\`, nothing to change; target < 200 ms) | ${dry_ms} ms |"
