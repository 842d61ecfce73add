#!/usr/bin/env bash
# Benchmark `nfs-manage failover` on the two-node test bed (tests/it/harness/pair.rs `Pair`: two
# network/mount namespaces, real ssh, a real etcd) with stand-ins of fixed latency for DRBD
# and systemctl (a `sleep_ms` fault on every call):
#   1. failover of 8 volumes ÷ failover of 1 volume — target ≤ 1.5 — and the cost per extra
#      volume, (8-volume wall − 1-volume wall) ÷ 7. The two beds stand side by side and their
#      failovers alternate (which goes first alternates too): ITERATIONS pairs, min and median
#      of the per-pair figures. The stand-ins release their state lock while they sleep, so
#      per-volume work is parallel by construction here (the real kernel serialises some of it);
#   2. orchestration overhead: wall time minus the time during which at least one tool was
#      running on either node — every leaf tool logs its start and end (DRBD, systemctl,
#      mount, umount, exportfs, ip, arping, fuser, etcdctl, mkdir), and nfs-manage logs each
#      process from spawn to reaped (NFS_MANAGE_TRACE); ssh and nested nfs-manage runs are
#      overhead, not tools — target ≤ 50 ms.
# Needs root (namespaces). Usage: scripts/bench-failover.sh [ITERATIONS] [LATENCY_MS]  (defaults 5 100)
# Prints a Markdown table (release build).
set -euo pipefail
cd "$(dirname "$0")/.."
export BENCH_ITERATIONS=${1:-5} BENCH_LATENCY_MS=${2:-100}
cargo build --release --quiet --bin nfs-manage --example standin
cargo test --release --quiet --test it bench_failover -- --ignored --nocapture --test-threads=1 2>&1 \
  | grep -E '^\||^ratio|^cost|^gap|panicked|FAILED'
