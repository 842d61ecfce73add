#!/usr/bin/env bash
# Benchmark `nfs-manage backup run` with the rsync transport, over real ssh and rsync between
# two network namespaces (LVM stands in: see tests/standin/lvm.rs):
#   1. throughput of the sync step through nfs-manage ÷ the same rsync command run by hand
#      against the same snapshot, on a 1 GiB image of random data with 1% of its 4 KiB blocks
#      changed — target ≥ 0.95;
#   2. peak RSS of the nfs-manage process (VmHWM, its own, not rsync's) for 1 GiB and 8 GiB
#      (sparse) images — target: flat, under 30 MiB.
# Needs root (namespaces, loop devices). Medians of ROUNDS runs each. Prints a Markdown table.
# Usage: scripts/bench-backups.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT

cargo build --release --quiet --example standin
bench() { # $1 = MiB, $2 = random|sparse
  if ! NFS_MANAGE_BENCH_SIZE=$1 NFS_MANAGE_BENCH_DATA=$2 NFS_MANAGE_BENCH_ROUNDS=$ROUNDS \
    cargo test --release --quiet --test it -- --ignored --nocapture --exact \
    backups::bench_backups_rsync >"$LOG" 2>&1; then
    cat "$LOG" >&2
    exit 1
  fi
  grep '^BENCH ' "$LOG"
}
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }

R1=$(bench 1024 random)
S1=$(bench 1024 sparse)
S8=$(bench 8192 sparse)

raw=$(field "$R1" raw_rsync_ms); sync=$(field "$R1" sync_step_ms); run=$(field "$R1" backup_run_ms)
echo "| measure (median of $ROUNDS) | value |"
echo "|---|---|"
echo "| raw rsync, 1 GiB random, 1% changed | $raw ms |"
echo "| sync step through nfs-manage | $sync ms |"
echo "| throughput ratio raw ÷ nfs-manage (target ≥ 0.95) | $(awk "BEGIN{printf \"%.3f\", $raw/$sync}") |"
echo "| whole \`backup run\` (stand-in snapshots copy the images) | $run ms |"
for r in "$R1" "$S1" "$S8"; do
  echo "| peak RSS of nfs-manage, $(field "$r" size_mib) MiB $(field "$r" data) | $(awk "BEGIN{printf \"%.1f\", $(field "$r" peak_rss_kib)/1024}") MiB |"
done
