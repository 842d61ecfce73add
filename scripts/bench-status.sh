#!/usr/bin/env bash
# Benchmark `nfs-manage status --json` against the stand-ins (drbdsetup, systemctl; real `ip`)
# at 1, 4, 16, 64 and 256 volumes, paired:
#   baseline = the probes `status` itself makes, started at once (`drbdsetup status --json`,
#   one `systemctl is-active` for every unit, `ip -j addr show`, each in the background, then
#   `wait`), plus reading the files it reads (/proc/drbd, /proc/self/mountinfo,
#   /var/lib/nfs/etab, /etc/exports, /etc/exports.d/*.exports) with shell built-ins, no process.
#   Each round times BATCH runs of status and BATCH runs of the baseline back to back, in
#   alternating order (odd rounds status first), and gives one ratio status ÷ baseline; the
#   table shows the minimum and the median of the ROUNDS ratios, and the medians of the
#   per-run times. Each round also times BATCH runs of `nfs-manage --version` (process
#   start-up and exit alone), the part of status that the baseline does not have.
# Also counts the processes spawned per status run (`-v` says it; the stand-ins log calls).
# With OTHER=/path/to/another/nfs-manage, the baseline is that binary's `status --json`
# instead (e.g. a build of an earlier commit): the ratio is then this build ÷ that one.
# Usage: scripts/bench-status.sh [ROUNDS] [BATCH] [VOLUME COUNTS…]   (defaults 11 20 1 4 16 64 256)
# Release build; prints a Markdown table. Ratios, not timed assertions.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-11}
BATCH=${2:-20}
shift 2 2>/dev/null || shift $#
SIZES=("${@:-1 4 16 64 256}")
# shellcheck disable=SC2206
SIZES=(${SIZES[*]})

TARGET=${CARGO_TARGET_DIR:-$PWD/target}
cargo build --release --quiet --bin nfs-manage --example standin
BIN=$TARGET/release/nfs-manage
STANDIN=$TARGET/release/examples/standin
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

slurp() { # read a file with built-ins only, as status reads it without a process
  local x
  [ -r "$1" ] && IFS= read -r -d '' x <"$1" || true
}

baseline() {
  drbdsetup status --json >/dev/null &
  systemctl is-active nfs-server nginx >/dev/null &
  ip -j addr show >/dev/null &
  slurp /proc/drbd
  slurp /proc/self/mountinfo
  slurp /var/lib/nfs/etab
  slurp /etc/exports
  for f in /etc/exports.d/*.exports; do slurp "$f"; done
  wait
}

status() { "$BIN" --config "$C" --node a status --json >/dev/null; }
startup() { "$BIN" --version >/dev/null; }
if [ -n "${OTHER:-}" ]; then
  baseline() { "$OTHER" --config "$C" --node a status --json >/dev/null; }
fi

batch() { # $1 = function; prints elapsed ns for BATCH runs
  local t0 t1
  t0=$(now)
  for _ in $(seq "$BATCH"); do "$1"; done
  t1=$(now)
  echo $((t1 - t0))
}

count() { # processes spawned by one status run, stand-in calls
  : >"$T/state/calls.log"
  local v
  v=$("$BIN" --config "$C" --node a -v status --json 2>&1 >/dev/null | sed -n 's/.* \([0-9]*\) processes spawned.*/\1/p')
  echo "${v:-?} $(wc -l <"$T/state/calls.log")"
}

echo "| volumes | status, median per run | baseline, median per run | status ÷ baseline, min | status ÷ baseline, median | nfs-manage start-up alone (\`--version\`), median per run | processes per status run (stand-in calls) |"
echo "|---|---|---|---|---|---|---|"
for n in "${SIZES[@]}"; do
  C=$(make_config "$n")
  make_state "$n"
  status # warm caches
  baseline
  ratios=() st=() bl=() up=()
  for r in $(seq "$ROUNDS"); do
    if ((r % 2)); then
      s=$(batch status); b=$(batch baseline)
    else
      b=$(batch baseline); s=$(batch status)
    fi
    ratios+=("$(awk -v s="$s" -v b="$b" 'BEGIN { printf "%.4f", s / b }')")
    st+=("$s") bl+=("$b") up+=("$(batch startup)")
  done
  med() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
  mn() { printf '%s\n' "$@" | sort -g | head -1; }
  read -r p c < <(count)
  awk -v n="$n" -v s="$(med "${st[@]}")" -v b="$(med "${bl[@]}")" -v k="$BATCH" \
    -v rmin="$(mn "${ratios[@]}")" -v rmed="$(med "${ratios[@]}")" -v p="$p" -v c="$c" -v u="$(med "${up[@]}")" \
    'BEGIN { printf "| %d | %.2f ms | %.2f ms | %.2f | %.2f | %.2f ms | %s (%s) |\n", n, s / k / 1e6, b / k / 1e6, rmin, rmed, u / k / 1e6, p, c }'
  [ -n "${BENCH_STATUS_RATIOS:-}" ] && echo "  ratios at $n volumes: ${ratios[*]}" >&2
done
echo
echo "($ROUNDS paired rounds of $BATCH runs each, alternating which goes first.)"
