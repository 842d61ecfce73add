#!/usr/bin/env bash
# Benchmark `nfs-manage fleet status`: 8 clusters ÷ 2 clusters (2 nodes each), paired rounds.
# Each node is simulated by the cluster's `remote.ssh` command: a script that waits LATENCY
# seconds (a remote host's ssh login and status run) and prints a recorded `status --json`.
# The remote side's CPU is not this machine's in a real fleet, so it is not spent here either:
# what is measured is nfs-manage's own fan-out (spawn, wait, parse, render), which must make
# the run take as long as the slowest host, not the sum of them (target ratio ≤ 1.3).
# Usage: scripts/bench-fleet-status.sh [ROUNDS] [LATENCY]   (defaults 7 and 0.5)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-7}
LAT=${2:-0.5}
: "${CARGO_TARGET_DIR:=$PWD/target}"
cargo build --release --quiet --bin nfs-manage
BIN=$CARGO_TARGET_DIR/release/nfs-manage
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export NO_COLOR=1
cat >"$T/node" <<SH
#!/bin/sh
sleep $LAT
cat <<'JSON'
{"format_version":1,"cluster":"c","node":"n","role":"active","service_ip":null,
 "nfs":{"service":"nfs-server","active":true,"state":"active"},"services":[],
 "volumes":[{"name":"v0","mountpoint":"/srv/v0","mounted":true,"fstype":"ext4","exported":true,
 "drbd":null,"usage":{"size_bytes":1099511627776,"used_bytes":549755813888,"available_bytes":549755813888}}],
 "problems":[]}
JSON
SH
chmod +x "$T/node"
for k in 2 8; do
  {
    echo "clusters:"
    for c in $(seq 1 "$k"); do
      cat <<Y
  c$c:
    nodes: { n${c}a: { address: 10.$c.0.1 }, n${c}b: { address: 10.$c.0.2 } }
    remote: { ssh: [$T/node], user: root }
    volumes: [{ name: v0, device: /dev/v0, mountpoint: /srv/v0, fstype: ext4 }]
Y
    done
  } >"$T/fleet$k.yaml"
done
python3 - "$BIN" "$T" "$N" "$LAT" <<'PY'
import statistics, subprocess, sys, time
bin, t, n, lat = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
res = {2: [], 8: []}
ratios = []
for _ in range(n):
    pair = {}
    for k in (2, 8):
        s = time.perf_counter()
        r = subprocess.run([bin, "--json", "fleet", "status", "--fleet", f"{t}/fleet{k}.yaml"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        e = (time.perf_counter() - s) * 1000
        if r.returncode != 0 or b'"unknown"' in r.stdout:
            sys.exit(f"{k} clusters: exit {r.returncode}: {r.stderr.decode()}")
        res[k].append(e)
        pair[k] = e
    ratios.append(pair[8] / pair[2])
print(f"| measure ({n} paired rounds, simulated host latency {lat} s) | min | median |")
print("|---|---|---|")
for k in (2, 8):
    print(f"| fleet status, {k} clusters ({2*k} nodes), ms | {min(res[k]):.1f} | {statistics.median(res[k]):.1f} |")
print(f"| ratio 8 ÷ 2 clusters, per pair (target ≤ 1.3) | {min(ratios):.2f} | {statistics.median(ratios):.2f} |")
PY
