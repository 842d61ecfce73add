#!/usr/bin/env bash
# Benchmark the pause of `project move` (from the source export going read-only to the
# target's export checked live): two two-node clusters in network and mount namespaces on one
# LAN (each up on one node, with its cluster lock in one etcd), real rsync over real ssh,
# real exportfs/etab; a project of FILES files (default 10,000) of which 1% is rewritten
# without pause until the export is read-only; RUNS moves (default 5), each on a fresh bed. Prints the per-step and total
# min and median from the journal. Root (namespaces). Debug build (the test harness's).
# Usage: scripts/bench-move.sh [FILES] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
export NFSM_BENCH_FILES=${1:-10000} NFSM_BENCH_RUNS=${2:-5}
cargo build --quiet --bin nfs-manage --examples
cargo test --quiet --test it -- --ignored --exact project_move::bench_move_pause --nocapture 2>&1 | grep -E '^BENCH|panicked|FAILED|^nfs-manage:|expected exit'
