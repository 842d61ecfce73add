#!/usr/bin/env bash
# Benchmark the fleet layout at 50 clusters (2 nodes, 2 volumes each) and 5,000 projects
# (100 per cluster, each with two client entries), release build, files on the local disk:
#   1. `fleet render --out DIR --check`: parse and validate the layout, derive and validate
#      every cluster's config, compare 100 rendered files;
#   2. `where --offline PROJECT` (a project of the last cluster: one project file read per
#      cluster);
#   3. `where --offline /srv/c49-v1/shared/p4999/x` (the path's cluster's 100 projects loaded);
#   4. `where --offline ADDRESS` (a client address: all 5,000 projects loaded and matched).
# Target: each < 100 ms. The commands of one round run back to back (paired), N rounds; min
# and median per command of the wall time and of the CPU time (user + system, all threads:
# what the command itself costs, less disturbed by other load on the machine), and the wall
# median as a ratio of the 100 ms target.
# Usage: scripts/bench-fleet.sh [ITERATIONS]    (default 9)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-9}
: "${CARGO_TARGET_DIR:=$PWD/target}"
cargo build --release --quiet --bin nfs-manage
BIN=$CARGO_TARGET_DIR/release/nfs-manage
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export NO_COLOR=1

python3 - "$T" <<'PY'
import os, sys
t = sys.argv[1]
out = ["defaults:", "  remote: { ssh: [ssh, -o, BatchMode=yes], user: root }",
       "target_usage: 90", "clusters:"]
n = 0
for c in range(50):
    pdir = f"{t}/projects/c{c}"
    os.makedirs(pdir)
    out += [f"  c{c}:", f"    backup_host: backup{c}", "    nodes:",
            f"      n{c}a: {{ address: 10.{c}.0.1 }}", f"      n{c}b: {{ address: 10.{c}.0.2 }}",
            f"    service_ip: {{ address: 10.{c}.0.10/24, interface: eth0 }}",
            f"    projects_dir: {pdir}", "    volumes:"]
    for v in range(2):
        out.append(f"      - {{ name: c{c}-v{v}, drbd: c{c}v{v}, device: /dev/drbd{v}, "
                   f"mountpoint: /srv/c{c}-v{v}, fstype: ext4, target_usage: 85 }}")
    for p in range(100):
        with open(f"{pdir}/p{n}.yaml", "w") as f:
            f.write(f"name: p{n}\ngid: {50000 + n}\nvolume: c{c}-v{p % 2}\n"
                    f"clients: [172.{16 + c % 8}.{p}.0/24, 198.51.{c}.{p}]\n")
        n += 1
with open(f"{t}/fleet.yaml", "w") as f:
    f.write("\n".join(out) + "\n")
PY
"$BIN" fleet render --fleet "$T/fleet.yaml" --out "$T/out" >/dev/null

python3 - "$BIN" "$T" "$N" <<'PY'
import os, resource, statistics, subprocess, sys, time
bin, t, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
f = ["--fleet", f"{t}/fleet.yaml"]
cmds = {
    "fleet render --check (50 clusters, 100 configs)": ["fleet", "render", "--out", f"{t}/out", "--check", *f],
    "where PROJECT": ["where", "--offline", "p4999", *f],
    "where PATH": ["where", "--offline", "/srv/c49-v1/shared/p4999/x", *f],
    "where CLIENT-ADDRESS (all 5000 projects)": ["where", "--offline", "198.51.49.99", *f],
}
times = {k: [] for k in cmds}
cpu = {k: [] for k in cmds}
for _ in range(n):
    for k, argv in cmds.items():
        s = time.perf_counter()
        proc = subprocess.Popen([bin, *argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        err = proc.stderr.read()
        _, status, ru = os.wait4(proc.pid, 0)
        e = time.perf_counter() - s
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"{k}: exit {status}: {err.decode()}")
        times[k].append(e * 1000)
        cpu[k].append((ru.ru_utime + ru.ru_stime) * 1000)
print(f"| measure ({n} paired rounds) | wall min ms | wall median ms | CPU min ms | CPU median ms | wall median ÷ 100 ms target |")
print("|---|---|---|---|---|---|")
for k, v in times.items():
    med = statistics.median(v)
    c = cpu[k]
    print(f"| {k} | {min(v):.1f} | {med:.1f} | {min(c):.1f} | {statistics.median(c):.1f} | {med / 100:.2f} |")
PY
