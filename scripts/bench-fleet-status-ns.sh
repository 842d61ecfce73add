#!/usr/bin/env bash
# Benchmark `nfs-manage fleet status` against real hosts: 8 clusters ÷ 2 clusters (2 nodes
# each), paired rounds. Root only.
#
# Every node is its own network namespace on one bridge, with its own address (10.200.C.1
# and 10.200.C.2 for cluster C) and a real sshd (a host key of its own; one fresh ed25519
# client key for all), in a mount namespace where its own cluster.yaml (written by
# `fleet render`) sits at /run/node/cluster.yaml. `fleet status` runs in a namespace of its
# own (10.200.0.1) and logs in to every node cold (ControlMaster=no, no ControlPath): each
# node runs the real `nfs-manage status --json` with the systemctl stand-in (systemd is not
# PID 1 here) and a tmpfs mounted as its volume, so status probes and reports real usage.
#
# The network latency: this kernel has no netem (CONFIG_NET_SCH_NETEM is not set), so a
# relay in each node's namespace stands between the node's address and its sshd (which
# listens on the node's loopback). It holds every chunk of bytes for RTT/2 in each
# direction, in order, and a new connection for one RTT (the TCP handshake) before it
# reaches sshd: a link with a round-trip time of RTT and no bandwidth limit. The relay runs
# on the node's side, so its CPU is what a remote host's network would cost: not nfs-manage's.
#
# KEX, when given, is passed to ssh as KexAlgorithms (e.g. curve25519-sha256: OpenSSH 9's
# default post-quantum hybrid key exchange costs the client ~70 ms of CPU per login here).
#
# BENCH_MUX=1: as the shipped example's remote.ssh (ControlMaster=auto, ControlPersist): one
# unmeasured run per size opens a master connection to every node first, and the measured
# runs open sessions over them (no key exchange), as repeated runs on an operator's host do.
#
# Usage: scripts/bench-fleet-status-ns.sh [ROUNDS] [RTT_MS] [KEX]   (defaults 7, 100, ssh's)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-7}
RTT=${2:-100}
KEX=${3:-}
[ "$(id -u)" = 0 ] || { echo "$0: needs root (network and mount namespaces)" >&2; exit 2; }
: "${CARGO_TARGET_DIR:=$PWD/target}"
cargo build --release --quiet --bin nfs-manage --example standin
BIN=$CARGO_TARGET_DIR/release/nfs-manage
STANDIN=$CARGO_TARGET_DIR/release/examples/standin
T=$(mktemp -d /tmp/nfs-manage-bench-fleet.XXXXXX)
PIDS=()
HOLDERS=()
cleanup() {
  # Everything in the namespaces first (relays, sshds and any login still running), then
  # the processes started here, then the namespace holders: the namespaces go with them.
  local h ns d
  for h in "${HOLDERS[@]}"; do
    ns=$(readlink "/proc/$h/ns/net") || continue
    for d in /proc/[0-9]*; do
      [ "${d#/proc/}" != "$h" ] && [ "$(readlink "$d/ns/net" 2>/dev/null)" = "$ns" ] &&
        kill "${d#/proc/}" 2>/dev/null || true
    done
  done
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
export NO_COLOR=1

# A namespace held by a `sleep`; prints its pid.
holder() {
  unshare --net sleep infinity &
  PIDS+=($!)
  HOLDERS+=($!)
  local pid=$!
  for _ in $(seq 200); do
    [ "$(readlink /proc/$pid/ns/net)" != "$(readlink /proc/self/ns/net)" ] && break
    sleep 0.01
  done
  HOLDER=$pid
}
in_ns() { local p=$1; shift; nsenter -t "$p" -n -- "$@"; }

cat >"$T/relay.py" <<'PY'
# relay.py LISTEN_ADDR LISTEN_PORT TARGET_ADDR TARGET_PORT ONE_WAY_SECONDS
import asyncio, sys
laddr, lport, taddr, tport, d = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5])

async def pump(reader, writer):
    # Every chunk leaves `d` seconds after it came in, in order.
    loop = asyncio.get_running_loop()
    q = asyncio.Queue()
    async def send():
        while True:
            due, data = await q.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(data)
            await writer.drain()
    sender = asyncio.create_task(send())
    try:
        while True:
            data = await reader.read(65536)
            q.put_nowait((loop.time() + d, data))
            if not data:
                break
        await sender
    except (ConnectionError, asyncio.CancelledError):
        sender.cancel()

async def serve(cr, cw):
    await asyncio.sleep(2 * d)  # the TCP handshake: one round trip
    try:
        sr, sw = await asyncio.open_connection(taddr, tport)
    except OSError:
        cw.close()
        return
    await asyncio.gather(pump(cr, sw), pump(sr, cw), return_exceptions=True)
    for w in (sw, cw):
        w.close()

async def main():
    srv = await asyncio.start_server(serve, laddr, lport, backlog=128)
    print("ready", flush=True)
    async with srv:
        await srv.serve_forever()

asyncio.run(main())
PY

# The client key, the layouts (2 and 8 clusters) and each node's rendered config.
ssh-keygen -q -t ed25519 -N '' -C nfs-manage-bench -f "$T/id"
if [ "${BENCH_MUX:-0}" = 1 ]; then
  MUX="ControlMaster=auto, -o, 'ControlPath=$T/cm-%C', -o, ControlPersist=600"
  LOGINS="ssh sessions over warm ControlMaster connections"
else
  MUX="ControlMaster=no, -o, ControlPath=none"
  LOGINS="cold ssh logins"
fi
SSH="[ssh, -F, /dev/null, -o, BatchMode=yes, -o, StrictHostKeyChecking=yes, -o, 'UserKnownHostsFile=$T/known_hosts', -o, $MUX, -o, ConnectTimeout=20${KEX:+, -o, KexAlgorithms=$KEX}, -i, '$T/id']"
for k in 2 8; do
  {
    echo "node_config: /run/node/cluster.yaml"
    echo "defaults:"
    echo "  remote: { ssh: $SSH, user: root }"
    echo "clusters:"
    for c in $(seq 1 "$k"); do
      cat <<Y
  c$c:
    nodes: { n${c}a: { address: 10.200.$c.1 }, n${c}b: { address: 10.200.$c.2 } }
    volumes: [{ name: v0, device: /dev/v0, mountpoint: /srv/v0, fstype: tmpfs }]
Y
    done
  } >"$T/fleet$k.yaml"
done
"$BIN" --quiet fleet render --fleet "$T/fleet8.yaml" --out "$T/nodes"

# The LAN: a bridge in a namespace of its own; the fleet host's namespace on it.
holder; LAN=$HOLDER
in_ns "$LAN" ip link set lo up
in_ns "$LAN" ip link add name br0 type bridge
in_ns "$LAN" ip link set br0 up
port=0
attach() { # attach HOLDER_PID ADDR: eth0 in the namespace, its other end on the bridge
  port=$((port + 1))
  ip link add name "nfsmb$$p$port" type veth peer name eth0 netns "$1"
  ip link set "nfsmb$$p$port" netns "$LAN"
  in_ns "$LAN" ip link set "nfsmb$$p$port" master br0
  in_ns "$LAN" ip link set "nfsmb$$p$port" up
  in_ns "$1" ip link set lo up
  in_ns "$1" ip addr add "$2/16" dev eth0
  in_ns "$1" ip link set eth0 up
}
holder; FLEET=$HOLDER
attach "$FLEET" 10.200.0.1

: >"$T/known_hosts"
ONE_WAY=$(python3 -c "print($RTT / 2000)")
for c in $(seq 1 8); do
  for x in a:1 b:2; do
    node=n$c${x%%:*}
    addr=10.200.$c.${x##*:}
    d=$T/nodes/$node
    holder; NS=$HOLDER
    attach "$NS" "$addr"
    ssh-keygen -q -t ed25519 -N '' -f "$d/host_key"
    echo "$addr $(cut -d' ' -f1,2 "$d/host_key.pub")" >>"$T/known_hosts"
    cp "$T/id.pub" "$d/authorized_keys"
    mkdir -p "$d/bin" "$d/standin"
    ln -s "$STANDIN" "$d/bin/systemctl"
    ln -s "$BIN" "$d/bin/nfs-manage"
    cat >"$d/sshd_config" <<C
ListenAddress 127.0.0.1:22
HostKey $d/host_key
AuthorizedKeysFile $d/authorized_keys
PidFile none
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
MaxStartups 100
LogLevel ERROR
SetEnv PATH=/run/node/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin NFS_MANAGE_STANDIN_DIR=/run/node/standin NO_COLOR=1
C
    # sshd's privilege separation directory and the node's files live in a private /run;
    # the volume is a tmpfs at its mountpoint, in the same private mount namespace. root's
    # home is empty there, as on a storage node: bash reads ~/.bashrc for a command run by
    # sshd, and this machine's (a developer's: `pyenv init`) costs 130 ms of CPU per login.
    nsenter -t "$NS" -n -- unshare -m --propagation private sh -c \
      'mount -t tmpfs nfs-manage-bench /run && mkdir -m 755 /run/sshd /run/node &&
       mount -t tmpfs -o mode=0700 nfs-manage-bench /root &&
       mount --bind "$0" /run/node && mkdir -p /srv/v0 &&
       mount -t tmpfs -o size=64m /dev/v0 /srv/v0 &&
       exec /usr/sbin/sshd -D -e -f "$0/sshd_config"' "$d" 2>>"$T/sshd.log" &
    PIDS+=($!)
    echo $! >>"$T/sshd.pids"
    nsenter -t "$NS" -n -- python3 "$T/relay.py" "$addr" 22 127.0.0.1 22 "$ONE_WAY" >"$d/relay.out" 2>>"$T/relay.log" &
    PIDS+=($!)
    echo $! >>"$T/relay.pids"
  done
done
for c in $(seq 1 8); do
  for x in a b; do
    d=$T/nodes/n$c$x
    for _ in $(seq 300); do grep -q ready "$d/relay.out" 2>/dev/null && break; sleep 0.05; done
    grep -q ready "$d/relay.out" || { echo "relay of n$c$x did not start: $(cat "$T/relay.log")" >&2; exit 1; }
  done
done

# One warm-up run of each (page cache, the relays' first connections); then the rounds.
for k in 2 8; do
  if ! out=$(in_ns "$FLEET" "$BIN" fleet status --fleet "$T/fleet$k.yaml" --host-timeout 60s 2>&1); then
    echo "warm-up, $k clusters: $out" >&2
    echo "sshd: $(cat "$T/sshd.log")" >&2
    exit 1
  fi
done
echo "$out" | tail -n 3
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$BIN" "$T" "$N" "$RTT" "$FLEET" "${KEX:-the default}" "$LOGINS" "${BENCH_MUX:-0}" <<'PY'
import json, os, resource, statistics, subprocess, sys, time
bin, t, n, rtt, fleet, kex = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
logins, mux = sys.argv[7], sys.argv[8] == "1"
if mux:
    # Open the master connections (not measured).
    for k in (2, 8):
        subprocess.run(["nsenter", "-t", fleet, "-n", "--", bin, "--json", "fleet", "status",
                        "--fleet", f"{t}/fleet{k}.yaml", "--host-timeout", "60s"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)

def own(pids):
    # CPU of these processes and of their reaped children (sshd: every login's session and
    # the `status` it ran), seconds.
    tot = 0
    for p in pids:
        f = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
        tot += sum(int(x) for x in f[11:15])
    return tot / os.sysconf("SC_CLK_TCK")

sshd = [int(x) for x in open(f"{t}/sshd.pids").read().split()]
relay = [int(x) for x in open(f"{t}/relay.pids").read().split()]

def cpu():
    # The whole machine's busy CPU time (all processes, other jobs included), seconds.
    f = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return (sum(f) - f[3] - f[4]) / os.sysconf("SC_CLK_TCK")

res = {2: [], 8: []}
busy = {2: [], 8: []}
client = {2: [], 8: []}
server = {2: [], 8: []}
relays = {2: [], 8: []}
slowest = {2: [], 8: []}
fastest = {2: [], 8: []}
ratios = []
loads = []
for i in range(n):
    pair = {}
    # Alternate which size goes first, so neither always meets the other's leftovers.
    for k in ((2, 8) if i % 2 == 0 else (8, 2)):
        c0 = cpu()
        k0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        s0, r0 = own(sshd), own(relay)
        s = time.perf_counter()
        r = subprocess.run(["nsenter", "-t", fleet, "-n", "--", bin, "--json", "fleet", "status",
                            "--fleet", f"{t}/fleet{k}.yaml", "--host-timeout", "60s"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        e = (time.perf_counter() - s) * 1000
        busy[k].append(cpu() - c0)
        k1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        client[k].append(k1.ru_utime + k1.ru_stime - k0.ru_utime - k0.ru_stime)
        server[k].append(own(sshd) - s0)
        relays[k].append(own(relay) - r0)
        if r.returncode != 0:
            sys.exit(f"{k} clusters: exit {r.returncode}: {r.stderr.decode()}")
        j = json.loads(r.stdout)
        nodes = [nd for c in j["clusters"] for nd in c["nodes"]]
        if len(nodes) != 2 * k or any(nd["state"] != "answered" for nd in nodes):
            sys.exit(f"{k} clusters: not every node answered: {r.stdout.decode()}")
        slowest[k].append(max(nd["seconds"] for nd in nodes) * 1000)
        fastest[k].append(min(nd["seconds"] for nd in nodes) * 1000)
        res[k].append(e)
        pair[k] = e
    ratios.append(pair[8] / pair[2])
    loads.append(os.getloadavg()[0])
print(f"| measure ({n} paired rounds, RTT {rtt} ms, {logins}, key exchange {kex}) | min | median |")
print("|---|---|---|")
for k in (2, 8):
    print(f"| `fleet status`, {k} clusters ({2*k} nodes), ms | {min(res[k]):.0f} | {statistics.median(res[k]):.0f} |")
for k in (2, 8):
    print(f"| fastest node's ssh login + `status`, {k} clusters, ms | {min(fastest[k]):.0f} | {statistics.median(fastest[k]):.0f} |")
    print(f"| slowest node's ssh login + `status`, {k} clusters, ms | {min(slowest[k]):.0f} | {statistics.median(slowest[k]):.0f} |")
for what, d in (("fleet host: nfs-manage and its ssh clients", client),
                ("nodes: sshd, the logins and their `status`", server),
                ("latency relays", relays),
                ("whole machine busy (other jobs included)", busy)):
    for k in (2, 8):
        print(f"| CPU, {what}, {k} clusters, s | {min(d[k]):.2f} | {statistics.median(d[k]):.2f} |")
print(f"| ratio 8 ÷ 2 clusters, per pair (target ≤ 1.3) | {min(ratios):.2f} | {statistics.median(ratios):.2f} |")
print()
print("per-pair ratios:", " ".join(f"{r:.2f}" for r in ratios))
print("load average (1 min) after each round:", " ".join(f"{l:.1f}" for l in loads))
PY
