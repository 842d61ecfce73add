#!/usr/bin/env bash
# Benchmark `nfs-manage backup run` over real ssh between two network namespaces (LVM and
# bdsync stand in: see tests/standin/lvm.rs and tests/standin/bdsync.rs; rsync, ssh, dd are
# real). For each case, ROUNDS paired rounds (tests/it/backups.rs `bench_backups`): in each,
# from the same target state and after the same snapshot steps, in alternating order,
#   - nfs-manage's sync step (journal `duration_ms` of `sync:NAME`) and whole `backup run`,
#   - the same sync command by hand (rsync's argv; bdsync client | bdsync --patch),
#   - a raw copy of every byte over the same ssh: ssh SOURCE dd if=SNAPSHOT | dd of=TARGET.
# Per round: throughput nfs-manage ÷ by hand (= by-hand time ÷ sync-step time; target ≥ 0.95)
# and ÷ raw copy; the table gives min and median over the rounds, and the sync step's
# throughput in MB/s (10^6 bytes of device per second).
# Needs root (namespaces, loop devices). Prints a Markdown table.
# Usage: scripts/bench-backups.sh [ROUNDS] [CASE…]
#   CASE = TRANSPORT:DATA:CHANGED_PERCENT[:MIB], default
#   rsync:random:1 rsync:sparse:1 bdsync:random:1 bdsync:random:10 bdsync:sparse:1
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
shift || true
CASES=("$@")
[ ${#CASES[@]} -gt 0 ] || CASES=(rsync:random:1 rsync:sparse:1 bdsync:random:1 bdsync:random:10 bdsync:sparse:1)
LOG=$(mktemp)
ALL=$(mktemp)
trap 'rm -f "$LOG" "$ALL"' EXIT

cargo build --release --quiet --bin nfs-manage --example standin
for c in "${CASES[@]}"; do
  IFS=: read -r transport data pct mib <<<"$c"
  if ! NFS_MANAGE_BENCH_TRANSPORT=$transport NFS_MANAGE_BENCH_DATA=$data \
    NFS_MANAGE_BENCH_CHANGED=$pct NFS_MANAGE_BENCH_SIZE=${mib:-1024} NFS_MANAGE_BENCH_ROUNDS=$ROUNDS \
    cargo test --release --quiet --test it -- --ignored --nocapture --exact \
    backups::bench_backups >"$LOG" 2>&1; then
    cat "$LOG" >&2
    exit 1
  fi
  grep '^BENCH ' "$LOG" | tee -a "$ALL" >&2
done

python3 - "$ALL" <<'PY'
import statistics, sys
from collections import OrderedDict
cases = OrderedDict()
for line in open(sys.argv[1]):
    f = dict(kv.split("=", 1) for kv in line.split()[1:])
    key = (f["transport"], f["data"], f["changed_pct"], f["size_mib"])
    cases.setdefault(key, []).append({k: (int(v) if v.isdigit() else v) for k, v in f.items()})
def mm(xs, fmt):
    return f"{fmt.format(min(xs))} / {fmt.format(statistics.median(xs))}"
print("| case (min / median of the rounds) | rounds | sync step | by hand | raw copy (dd over ssh) | nfs-manage ÷ by hand (throughput) | nfs-manage ÷ raw copy (throughput) | sync step MB/s | whole `backup run` | diff stream / literal data | peak RSS of nfs-manage |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for (t, d, p, mib), rs in cases.items():
    sync = [r["sync_step_ms"] for r in rs]
    hand = [r["by_hand_ms"] for r in rs]
    raw = [r["raw_copy_ms"] for r in rs]
    run = [r["backup_run_ms"] for r in rs]
    size = int(mib) * 1048576
    print(f"| {t}, {int(mib) // 1024 if int(mib) >= 1024 else mib} {'GiB' if int(mib) >= 1024 else 'MiB'} {d}, {p}% of blocks changed | {len(rs)} "
          f"| {mm(sync, '{:.0f}')} ms | {mm(hand, '{:.0f}')} ms | {mm(raw, '{:.0f}')} ms "
          f"| {mm([h / s for h, s in zip(hand, sync)], '{:.2f}')} | {mm([w / s for w, s in zip(raw, sync)], '{:.2f}')} "
          f"| {mm([size / 1e6 / (s / 1000) for s in sync], '{:.0f}')} | {mm(run, '{:.0f}')} ms "
          f"| {statistics.median(r['diff_bytes'] for r in rs) / 1048576:.1f} MiB | {max(r['peak_rss_kib'] for r in rs) / 1024:.1f} MiB |")
PY
