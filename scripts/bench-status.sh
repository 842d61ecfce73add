#!/usr/bin/env bash
# Benchmark `nfs-manage status` on a 16-volume config against the stand-ins:
#   1. wall time of `nfs-manage status` ÷ wall time of its raw probes run once each, in
#      sequence (drbdsetup status --json, systemctl is-active, ip -j addr show, and reading
#      /proc/self/mountinfo and /var/lib/nfs/etab) — target ≤ 1.3;
#   2. processes spawned per status run for 1 and for 16 volumes — target: one per tool,
#      independent of the number of volumes.
# Usage: scripts/bench-status.sh [ITERATIONS]   (release build; prints a Markdown table)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-300}

cargo build --release --quiet --bin nfs-manage --example standin
BIN=$PWD/target/release/nfs-manage
STANDIN=$PWD/target/release/examples/standin
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/bin" "$T/state"
for t in drbdadm drbdsetup systemctl; do ln -s "$STANDIN" "$T/bin/$t"; done
export PATH="$T/bin:$PATH" NFS_MANAGE_STANDIN_DIR="$T/state" NO_COLOR=1

make_config() { # $1 = number of volumes
  local n=$1 f=$T/cluster-$1.yaml
  {
    echo "cluster: bench"
    echo "nodes: { a: { address: 192.0.2.6 }, b: { address: 192.0.2.7 } }"
    echo "service_ip: { address: 192.0.2.18/24, interface: lo }"
    echo "services: [nginx]"
    echo "paths: { journal: $T/journal.jsonl, lock: $T/lock }"
    echo "volumes:"
    for i in $(seq 1 "$n"); do
      echo "  - { name: v$i, drbd: v$i, device: /dev/drbd$i, mountpoint: /srv/bench/v$i, fstype: ext4 }"
    done
  } >"$f"
  echo "$f"
}

make_state() { # $1 = number of volumes
  python3 - "$1" >"$T/state/drbd.json" <<'PY'
import json, sys
n = int(sys.argv[1])
print(json.dumps({"resources": [{
    "name": f"v{i}", "node_id": 0, "role": "Secondary", "up": True,
    "volumes": [{"volume": 0, "minor": i, "device": f"/dev/drbd{i}", "disk": "UpToDate", "size_kib": 1048576}],
    "peers": [{"name": "b", "node_id": 1, "connection": "Connected", "role": "Secondary",
               "volumes": [{"volume": 0, "replication": "Established", "disk": "UpToDate", "done": None}]}]}
    for i in range(1, n + 1)]}))
PY
  echo '{"units": {"nfs-server": "inactive", "nginx": "inactive"}}' >"$T/state/systemd.json"
}

now() { date +%s%N; }

C16=$(make_config 16)
make_state 16
"$BIN" --config "$C16" --node a status >/dev/null # warm caches

raw() {
  drbdsetup status --json >/dev/null
  systemctl is-active nfs-server nginx >/dev/null || true
  ip -j addr show >/dev/null
  cat /proc/self/mountinfo >/dev/null
  cat /var/lib/nfs/etab >/dev/null 2>&1 || true
}

t0=$(now); for _ in $(seq "$N"); do raw; done; t1=$(now)
for _ in $(seq "$N"); do "$BIN" --config "$C16" --node a status >/dev/null; done; t2=$(now)
read -r raw_ms nm_ms ratio < <(awk -v a="$t0" -v b="$t1" -v c="$t2" -v n="$N" \
  'BEGIN { printf "%.3f %.3f %.2f\n", (b - a) / n / 1e6, (c - b) / n / 1e6, (c - b) / (b - a) }')

count() { # processes spawned by one status run for $1 volumes
  local c; c=$(make_config "$1"); make_state "$1"
  : >"$T/state/calls.log"
  local v; v=$("$BIN" --config "$c" --node a -v status 2>&1 >/dev/null | sed -n 's/.* \([0-9]*\) processes spawned/\1/p')
  echo "$v $(wc -l <"$T/state/calls.log")"
}
read -r p1 s1 < <(count 1)
read -r p16 s16 < <(count 16)

echo "| measure (${N} runs, 16 volumes) | value |"
echo "|---|---|"
echo "| raw probes, once each, in sequence | ${raw_ms} ms |"
echo "| nfs-manage status | ${nm_ms} ms |"
echo "| ratio status ÷ raw probes (target ≤ 1.3) | ${ratio} |"
echo "| processes per status run, 1 volume | ${p1} (stand-in calls: ${s1}) |"
echo "| processes per status run, 16 volumes | ${p16} (stand-in calls: ${s16}) |"
