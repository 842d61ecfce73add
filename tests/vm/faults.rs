//! Faults on the real pair: the replication link cut under a serving node, and randomized
//! schedules of faults (nfs-manage killed with -9 mid-run, the replication link cut, a node's
//! power pulled, etcd stopped), each followed by what an operator would do, with the pair's
//! invariants checked on live state after the fault and after the recovery:
//!
//! - never two Primaries on the (non-dual) volume;
//! - never the service IP on both nodes;
//! - never an export (etab, or the kernel's export table) of a path that is not on the mounted
//!   DRBD device;
//! - every write the client saw acknowledged is on the serving node's disk.
//!
//! The replication link is cut by port, not by cable: the bed's storage nodes have one NIC each,
//! so DRBD's traffic (TCP port 7789, either way) is dropped on the node's egress with tc, and
//! ssh, NFS, ARP and etcd still pass. To DRBD that is what a cut replication link (a dedicated
//! interface on the real pair) looks like: its peer goes silent while the nodes still reach
//! each other over the other network.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

use crate::bed::{Bed, Etcd, SERVICE_IP, Vm};
use crate::failover::{
    LOCK_KEY, Writer, assert_durable, assert_serving, bin, failover_config, install_fence_password,
    mount_client, nfs_manage, report, setup, setup_ssh,
};
use crate::scenarios::{
    DEVICE, MOUNTPOINT, NFS_MANAGE_CONFIG, RESOURCE, STORAGE, drbd_res, proc_drbd_state, wait_for,
};

fn other(name: &str) -> &'static str {
    if name == "nfs1" { "nfs2" } else { "nfs1" }
}

/// Drop this node's DRBD traffic (port 7789 either way) on eth0's egress.
fn cut_replication(vm: &Vm) -> Result<()> {
    vm.ok("set -e
modprobe -a sch_ingress cls_flower act_gact
tc qdisc replace dev eth0 clsact
tc filter add dev eth0 egress protocol ip pref 1 flower ip_proto tcp dst_port 7789 action drop
tc filter add dev eth0 egress protocol ip pref 2 flower ip_proto tcp src_port 7789 action drop")?;
    Ok(())
}

fn heal_replication(vm: &Vm) -> Result<()> {
    vm.ok("tc qdisc del dev eth0 clsact 2>/dev/null || true")?;
    Ok(())
}

/// The bed's resource with resource-level fencing, as the README asks of a pair: a node that
/// loses its peer runs guest/outdate-peer, which outdates the peer's disk over ssh.
fn fenced_res() -> String {
    drbd_res("fencing resource-only;").replace(
        "    net {",
        &format!(
            "    handlers {{ fence-peer \"/bin/bash {}/outdate-peer\"; }}\n    net {{",
            crate::bed::manifest_dir().join("tests/vm/guest").display()
        ),
    )
}

/// Switch the running resource to `fenced_res` on both nodes.
fn enable_fencing(bed: &Bed) -> Result<()> {
    let res = fenced_res();
    for name in STORAGE {
        bed.vm(name).ok(&format!(
            "set -e
cat > /etc/drbd.d/{RESOURCE}.res <<'EOF'
{res}EOF
drbdadm adjust {RESOURCE}
drbdsetup show {RESOURCE} | grep -q 'fencing.*resource-only'"
        ))?;
    }
    Ok(())
}

/// Until DRBD on `vm` no longer calls its peer Connected.
fn wait_disconnected(vm: &Vm) -> Result<()> {
    wait_for(
        vm,
        &format!("[ \"$(drbdadm cstate {RESOURCE})\" != Connected ]"),
        "DRBD losing its connection",
        180,
    )
}

/// Until both nodes are Connected and UpToDate/UpToDate (a resync after a cut included). A
/// Primary that lost power soon after the bed's initial sync comes back with every block
/// still marked in its on-disk bitmap, and DRBD resyncs the union of both bitmaps: the whole
/// 128 MiB, over 300 s under TCG on a busy machine.
fn wait_synced(bed: &Bed) -> Result<()> {
    for name in STORAGE {
        wait_for(
            bed.vm(name),
            &format!(
                "[ \"$(drbdadm cstate {RESOURCE})\" = Connected ] && [ \"$(drbdadm dstate {RESOURCE})\" = UpToDate/UpToDate ]"
            ),
            "Connected, UpToDate/UpToDate",
            600,
        )?;
    }
    Ok(())
}

/// One storage node as it is: DRBD's line from /proc/drbd, the mount, the service IP, nfsd, and
/// the exported paths under the volume that are not on the DRBD device.
struct NodeState {
    drbd: String,
    primary: bool,
    mounted: bool,
    ip: bool,
    nfsd_threads: u32,
    stray_exports: Vec<String>,
    /// Paths under the volume exported (etab or the kernel's table).
    exports: usize,
}

fn node_state(vm: &Vm) -> Result<NodeState> {
    // Exported paths from etab (what exportfs gave the kernel) and from the kernel's own
    // export table; for each under the volume, the device it sits on.
    let out = vm.ok(&format!(
        "sed -n 's/^ *4: //p' /proc/drbd 2>/dev/null | awk '{{print $1, $2, $3}}' | grep . || echo none
findmnt -n -o SOURCE {MOUNTPOINT} || echo none
ip -4 -o addr show dev eth0 | grep -c ' {SERVICE_IP}/24 ' || true
cat /proc/fs/nfsd/threads 2>/dev/null || echo 0
{{ awk '{{print $1}}' /var/lib/nfs/etab; grep -v '^#' /proc/fs/nfsd/exports 2>/dev/null | awk '{{print $1}}'; }} | sort -u |
while read -r p; do
    case $p in {MOUNTPOINT}|{MOUNTPOINT}/*) echo \"export $p $(findmnt -n -o SOURCE --target \"$p\" 2>/dev/null || echo missing)\" ;; esac
done"
    ))?;
    let lines: Vec<&str> = out.lines().collect();
    ensure!(lines.len() >= 4, "{}: state probe said {out:?}", vm.name);
    let exports = lines[4..]
        .iter()
        .filter(|l| l.starts_with("export "))
        .count();
    let stray_exports = lines[4..]
        .iter()
        .filter_map(|l| l.strip_prefix("export "))
        .filter(|l| l.split_whitespace().nth(1) != Some(DEVICE))
        .map(str::to_string)
        .collect();
    Ok(NodeState {
        drbd: lines[0].to_string(),
        primary: lines[0].contains("ro:Primary/"),
        mounted: lines[1] == DEVICE,
        ip: lines[2].trim() != "0",
        nfsd_threads: lines[3].trim().parse().unwrap_or(0),
        stray_exports,
        exports,
    })
}

/// The safety invariants on the powered storage nodes; Err names what broke and what each
/// node had. Returns the node serving the volume (Primary and mounted), if any.
fn check_safety(bed: &Bed, when: &str) -> Result<Option<&'static str>> {
    let mut states = BTreeMap::new();
    for name in STORAGE {
        if bed.powered(name) {
            states.insert(name, node_state(bed.vm(name))?);
        }
    }
    let show = || {
        states
            .iter()
            .map(|(n, s)| {
                format!(
                    "  {n}: {} mounted={} ip={} nfsd-threads={} stray-exports={:?}\n",
                    s.drbd, s.mounted, s.ip, s.nfsd_threads, s.stray_exports
                )
            })
            .collect::<String>()
    };
    let primaries: Vec<&str> = states
        .iter()
        .filter(|(_, s)| s.primary)
        .map(|(n, _)| *n)
        .collect();
    ensure!(
        primaries.len() <= 1,
        "{when}: two Primaries ({primaries:?}):\n{}",
        show()
    );
    let ips = states.values().filter(|s| s.ip).count();
    ensure!(
        ips <= 1,
        "{when}: the service IP on both nodes:\n{}",
        show()
    );
    for (n, s) in &states {
        ensure!(
            s.stray_exports.is_empty(),
            "{when}: {n} exports paths that are not on the mounted DRBD device: {:?}\n{}",
            s.stray_exports,
            show()
        );
    }
    Ok(states
        .iter()
        .find(|(_, s)| s.primary && s.mounted)
        .map(|(n, _)| *n))
}

/// `active` serves and the other node stands by, in sync, and the lock names `active`: what
/// failover::assert_serving checks, from one probe per node (a guest round trip costs seconds
/// under TCG, and the schedules check this after every recovery).
fn check_serving(bed: &Bed, etcd: &Etcd, active: &str) -> Result<()> {
    let standby = other(active);
    let (a, s) = (node_state(bed.vm(active))?, node_state(bed.vm(standby))?);
    ensure!(
        a.drbd == "cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate"
            && a.mounted
            && a.ip
            && a.nfsd_threads > 0
            && a.exports > 0,
        "{active} should serve, in sync: {} mounted={} ip={} nfsd-threads={} exports={}",
        a.drbd,
        a.mounted,
        a.ip,
        a.nfsd_threads,
        a.exports
    );
    ensure!(
        s.drbd == "cs:Connected ro:Secondary/Primary ds:UpToDate/UpToDate"
            && !s.mounted
            && !s.ip
            && s.nfsd_threads == 0
            && s.exports == 0,
        "{standby} should stand by, in sync: {} mounted={} ip={} nfsd-threads={} exports={}",
        s.drbd,
        s.mounted,
        s.ip,
        s.nfsd_threads,
        s.exports
    );
    let holder = etcd.get(LOCK_KEY)?.unwrap_or_default();
    ensure!(
        holder.starts_with(&format!("{active}@")),
        "the cluster lock says {holder:?}, want {active}"
    );
    Ok(())
}

/// `nfs-manage ARGS` on `vm` must exit `want`; its output is returned for the report.
fn expect_exit(vm: &Vm, args: &str, want: i32, says: &str) -> Result<String> {
    let out = nfs_manage(vm, args)?;
    let all = format!("{}{}", out.stdout, out.stderr);
    ensure!(
        out.rc == want && all.contains(says),
        "{}: nfs-manage {args}: exit {} (want {want}, saying {says:?})\n--- stdout\n{}--- stderr\n{}",
        vm.name,
        out.rc,
        out.stdout,
        out.stderr
    );
    // The lines that say why, for the report.
    let why: Vec<&str> = all
        .lines()
        .filter(|l| l.contains("!!") || l.starts_with("error") || l.contains("refus"))
        .collect();
    Ok(format!(
        "  {}$ nfs-manage {args} → exit {}\n{}",
        vm.name,
        out.rc,
        why.iter()
            .map(|l| format!("      {}\n", l.trim()))
            .collect::<String>()
    ))
}

/// A storage node that was powered off, booted again with the disk it had and made a member
/// of the pair again as the operator would: the node's setup (DRBD config, nfs-manage config,
/// exports, sshd), `drbdadm up` (its metadata is on the disk), then the resync from the
/// serving node.
fn restore_node(bed: &Bed, name: &str) -> Result<Duration> {
    let booted = bed.power_on(name)?;
    let config = failover_config(bed, name);
    let exports = bed.vm(other(name)).ok("cat /etc/exports.d/alpha.exports")?;
    let grace = std::env::var("NFS_MANAGE_VM_GRACE").unwrap_or_else(|_| "10".into());
    bed.vm(name).ok(&format!(
        "set -e
modprobe drbd
mkdir -p /etc/drbd.d /etc/nfs-manage/projects.d /etc/nfs.conf.d {MOUNTPOINT}
printf 'global {{ usage-count no; }}\\ninclude \"drbd.d/*.res\";\\n' > /etc/drbd.conf
cat > /etc/drbd.d/{RESOURCE}.res <<'EOF'
{}EOF
for d in /var/lib/nfs /etc/exports.d; do
    if mountpoint -q \"$d\"; then umount \"$d\"; fi
    mkdir -p \"$d\"
    mount -t tmpfs tmpfs \"$d\"
done
touch /var/lib/nfs/etab /var/lib/nfs/rmtab
: > /etc/exports
printf '[nfsd]\\ngrace-time={grace}\\nlease-time={grace}\\n' > /etc/nfs.conf.d/vm-bed.conf
{}cat > {NFS_MANAGE_CONFIG} <<'EOF'
{config}EOF
cat > /etc/exports.d/alpha.exports <<'EOF'
{exports}EOF
drbdadm up {RESOURCE}",
        fenced_res(),
        install_fence_password(bed)
    ))?;
    setup_ssh(bed)?;
    Ok(booted)
}

/// The replication link of the serving node is cut while a client writes, and an operator
/// tries to move the service in every way there is. Refused while the standby's data may be
/// stale (the cut node goes on acknowledging writes the standby never gets): a controlled
/// failover from either node (exit 3, not Connected), `--peer-dead` on the standby (exit 3: the
/// peer answers over ssh), `up` on the standby (exit 4: the lock names the serving node).
/// Nothing changes. Then nfs1 drops off the network altogether: `--peer-dead` on nfs2 is still
/// refused (exit 3), because nfs1's fence-peer handler outdated nfs2's disk when the link broke.
/// The link comes back, DRBD resyncs, and the failover is allowed and loses no acknowledged
/// write.
pub fn replication_link_cut(bed: &Bed) -> Result<()> {
    let etcd = Etcd::start(bed)?;
    setup(bed)?;
    enable_fencing(bed)?;
    let (a, b, client) = (bed.vm("nfs1"), bed.vm("nfs2"), bed.vm("client"));
    ensure!(nfs_manage(a, "up --yes")?.rc == 0, "nfs1: up --yes failed");
    assert_serving(bed, &etcd, "nfs1", true)?;
    mount_client(client, "vers=4.2,timeo=50")?;
    let writer = Writer::start(client, "cut")?;

    cut_replication(a)?;
    let cut = Instant::now();
    wait_disconnected(a)?;
    wait_disconnected(b)?;
    let noticed = cut.elapsed();
    // nfs1's fence-peer handler outdated nfs2 over ssh (retrying until nfs2 too noticed).
    if let Err(e) = wait_for(
        b,
        &format!("[ \"$(drbdadm dstate {RESOURCE})\" = Outdated/DUnknown ]"),
        "nfs2 Outdated by nfs1's fence-peer handler",
        240,
    ) {
        let handler = a.sh("dmesg | grep -E 'fence-peer|outdate-peer|conn\\(' | tail -n 40")?;
        bail!(
            "{e:#}\n---- nfs1: its fence-peer handler and connection\n{}",
            handler.stdout
        );
    }
    let mut text = format!(
        "== replication link cut (nfs1's DRBD traffic dropped; ssh, NFS, ARP, etcd pass)\n\
         DRBD noticed on both after {:.1} s: nfs1 {}, nfs2 {}\n",
        noticed.as_secs_f64(),
        proc_drbd_state(a)?,
        proc_drbd_state(b)?
    );
    // nfs1 goes on serving alone: the client's writes are acknowledged by nfs1 only.
    let at_cut = writer.acks(client)?.last() as usize;
    writer.wait_acks(client, at_cut + 20, "20 records after the cut")?;

    for (vm, args, rc, says) in [
        (b, "failover --yes", 3, "not Connected"),
        (a, "failover --yes --to nfs2", 3, "not Connected"),
        (b, "failover --peer-dead --yes", 3, "answers over ssh"),
        (b, "up --yes", 4, "held by nfs1"),
    ] {
        text.push_str(&expect_exit(vm, args, rc, says)?);
        let serving = check_safety(bed, &format!("after `{args}` on {}", vm.name))?;
        ensure!(
            serving == Some("nfs1"),
            "after `{args}` on {}: serving {serving:?}, want nfs1",
            vm.name
        );
        assert_serving(bed, &etcd, "nfs1", false)?;
        ensure!(
            !node_state(b)?.primary,
            "nfs2 became Primary after `{args}`"
        );
    }
    let acks = writer.acks(client)?;
    assert_durable(a, "cut", &acks)?;

    // nfs1 now drops off the network entirely (hung, or its switch port died), after
    // acknowledging writes nfs2 never got. Every piece of evidence says it is dead, but nfs2's
    // disk is Outdated: `--peer-dead` is refused before the fence runs.
    bed.set_link("nfs1", false)?;
    text.push_str(&expect_exit(
        b,
        "failover --peer-dead --yes",
        3,
        "local disk Outdated",
    )?);
    ensure!(bed.powered("nfs1"), "nfs1 was fenced");
    ensure!(!node_state(b)?.primary, "nfs2 became Primary");
    bed.set_link("nfs1", true)?;
    check_safety(bed, "nfs1 back on the network")?;
    assert_serving(bed, &etcd, "nfs1", false)?;

    // The link comes back: DRBD reconnects and resyncs what nfs1 wrote alone.
    heal_replication(a)?;
    let healed = Instant::now();
    wait_synced(bed)?;
    let _ = writeln!(
        text,
        "link back: Connected, UpToDate/UpToDate after {:.1} s",
        healed.elapsed().as_secs_f64()
    );
    assert_serving(bed, &etcd, "nfs1", true)?;
    let out = nfs_manage(b, "failover --yes")?;
    ensure!(
        out.rc == 0,
        "nfs2: failover --yes after the link came back: exit {}\n{}{}",
        out.rc,
        out.stdout,
        out.stderr
    );
    assert_serving(bed, &etcd, "nfs2", true)?;
    let at_end = writer.acks(client)?.last() as usize;
    writer.wait_acks(client, at_end + 20, "20 records after the failover")?;
    let acks = writer.stop(client)?;
    assert_durable(b, "cut", &acks)?;
    check_safety(bed, "at the end")?;
    let _ = writeln!(
        text,
        "failover after the link came back: exit 0; {} records acknowledged, all on nfs2's disk; {} errors seen by the writer\n",
        acks.last(),
        acks.errors.len()
    );
    report(&text);
    client.ok("umount /mnt/alpha")?;
    ensure!(nfs_manage(b, "down --yes")?.rc == 0, "nfs2: down --yes");
    Ok(())
}

/// The kinds of fault a schedule injects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Fault {
    /// `nfs-manage failover` killed with -9 at a random moment, on either node.
    KillFailover,
    /// `nfs-manage up` killed with -9 at a random moment on the node bringing it up.
    KillUp,
    /// `nfs-manage down` killed with -9 at a random moment on the serving node.
    KillDown,
    /// The replication link of either node cut; the operator tries to move the service.
    LinkCut,
    /// etcd stopped; the operator tries a failover.
    EtcdStopped,
    /// The standby's power pulled; the operator tries a failover, then boots it again.
    PowerOffStandby,
    /// The serving node's power pulled; `failover --peer-dead` on the other, then the old one
    /// is booted again and resyncs.
    PowerOffActive,
}

impl Fault {
    const ALL: [Fault; 7] = [
        Fault::KillFailover,
        Fault::KillUp,
        Fault::KillDown,
        Fault::LinkCut,
        Fault::EtcdStopped,
        Fault::PowerOffStandby,
        Fault::PowerOffActive,
    ];

    fn name(self) -> String {
        format!("{self:?}")
    }
}

/// The schedule a seed gives: the cheap faults first in a shuffled round (so even a short run
/// covers each), then drawn by weight; power cuts (a reboot each, minutes under TCG) are rare.
/// `only`: the kinds to draw from (all when empty).
fn plan_schedules(rng: &mut fastrand::Rng, n: usize, only: &[Fault]) -> Vec<Fault> {
    use Fault::*;
    let allowed = |f: &Fault| only.is_empty() || only.contains(f);
    // Kinds asked for by name come first, each once.
    let mut first: Vec<Fault> = if only.is_empty() {
        vec![KillFailover, KillUp, KillDown, LinkCut, EtcdStopped]
    } else {
        only.to_vec()
    };
    rng.shuffle(&mut first);
    let weighted: Vec<(Fault, u32)> = [
        (KillFailover, 8),
        (KillUp, 4),
        (KillDown, 4),
        (LinkCut, 4),
        (EtcdStopped, 2),
        (PowerOffStandby, 1),
        (PowerOffActive, 1),
    ]
    .into_iter()
    .filter(|(f, _)| allowed(f))
    .collect();
    let total: u32 = weighted.iter().map(|w| w.1).sum();
    let mut out: Vec<Fault> = first.into_iter().take(n).collect();
    while out.len() < n {
        let mut pick = rng.u32(0..total);
        for &(f, w) in &weighted {
            if pick < w {
                out.push(f);
                break;
            }
            pick -= w;
        }
    }
    out
}

/// `nfs-manage ARGS` started on `vm` and killed with -9 after `delay` (if still running):
/// only nfs-manage itself, as `kill -9 PID` by an operator or the OOM killer would; what it
/// started (ssh, drbdadm, mount) runs on. Returns whether it was killed, and its exit code.
fn kill_mid_run(vm: &Vm, args: &str, delay: Duration) -> Result<(bool, i32)> {
    let out = vm.ok(&format!(
        "NO_COLOR=1 {} --config {NFS_MANAGE_CONFIG} {args} >/run/schedule.out 2>&1 </dev/null &
pid=$!
sleep {:.2}
kill -9 $pid 2>/dev/null
wait $pid
echo $?",
        bin(),
        delay.as_secs_f64()
    ))?;
    let rc: i32 = out.trim().parse().context("exit code of the killed run")?;
    Ok((rc == 137, rc))
}

/// The operator's rerun after a run was killed: the same command, waiting for the host lock
/// that the killed run's children may still hold. Must succeed.
fn rerun(vm: &Vm, args: &str) -> Result<()> {
    let out = nfs_manage(vm, &format!("--wait-lock 120s {args}"))?;
    ensure!(
        out.rc == 0,
        "{}: rerun of `nfs-manage {args}`: exit {}\n--- stdout\n{}--- stderr\n{}",
        vm.name,
        out.rc,
        out.stdout,
        out.stderr
    );
    Ok(())
}

/// Randomized fault schedules on the up pair with a client writing throughout (see the
/// module doc for the invariants). NFS_MANAGE_VM_SCHEDULES=N runs N (default 5: one of each
/// cheap kind; see tests/vm/README.md for why not more); NFS_MANAGE_VM_SEED=S replays a run
/// (the seed is printed first, and with any failure); NFS_MANAGE_VM_FAULTS=KIND,… draws only
/// those kinds.
pub fn fault_schedules(bed: &Bed) -> Result<()> {
    let n: usize = match std::env::var("NFS_MANAGE_VM_SCHEDULES") {
        Ok(v) => v
            .parse()
            .with_context(|| format!("NFS_MANAGE_VM_SCHEDULES={v:?}: want a number"))?,
        Err(_) => 5,
    };
    let seed: u64 = match std::env::var("NFS_MANAGE_VM_SEED") {
        Ok(v) => v
            .parse()
            .with_context(|| format!("NFS_MANAGE_VM_SEED={v:?}: want a number"))?,
        Err(_) => fastrand::u64(..),
    };
    let only: Vec<Fault> = match std::env::var("NFS_MANAGE_VM_FAULTS") {
        Ok(v) => v
            .split(',')
            .map(|w| {
                Fault::ALL
                    .into_iter()
                    .find(|f| f.name() == w.trim())
                    .with_context(|| {
                        format!(
                            "NFS_MANAGE_VM_FAULTS: {w:?} is none of {}",
                            Fault::ALL.map(Fault::name).join(", ")
                        )
                    })
            })
            .collect::<Result<_>>()?,
        Err(_) => Vec::new(),
    };
    let mut rng = fastrand::Rng::with_seed(seed);
    let plan = plan_schedules(&mut rng, n, &only);
    eprintln!("fault schedules: {n}, NFS_MANAGE_VM_SEED={seed}");
    let mut etcd = Etcd::start(bed)?;
    setup(bed)?;
    enable_fencing(bed)?;
    let client = bed.vm("client");
    ensure!(
        nfs_manage(bed.vm("nfs1"), "up --yes")?.rc == 0,
        "nfs1: up --yes"
    );
    assert_serving(bed, &etcd, "nfs1", true)?;
    mount_client(client, "vers=4.2,timeo=50")?;
    let writer = Writer::start(client, "faults")?;
    let mut active: &'static str = "nfs1";
    let mut log = String::new();
    let mut times: BTreeMap<Fault, Vec<f64>> = BTreeMap::new();
    let started = Instant::now();
    let result = (|| -> Result<()> {
        for (i, fault) in plan.iter().enumerate() {
            let t = Instant::now();
            let what = run_schedule(bed, &mut etcd, &writer, &mut rng, *fault, &mut active)
                .with_context(|| {
                    format!(
                        "schedule {} of {n} ({fault:?}); replay with NFS_MANAGE_VM_SEED={seed}",
                        i + 1
                    )
                })?;
            // After the recovery: the pair serves from `active`, in sync, and every
            // acknowledged write is on its disk.
            check_safety(bed, &format!("after schedule {}", i + 1))?;
            check_serving(bed, &etcd, active)?;
            let acks = writer.acks(client)?;
            assert_durable(bed.vm(active), &writer.tag, &acks)?;
            let took = t.elapsed().as_secs_f64();
            times.entry(*fault).or_default().push(took);
            let line = format!("  {:>2} {fault:?}: {what} ({took:.0} s)\n", i + 1);
            eprint!("{line}");
            log.push_str(&line);
        }
        Ok(())
    })();
    let mut text = format!(
        "== fault schedules: {} of {n} done in {:.0} s, NFS_MANAGE_VM_SEED={seed}\n",
        times.values().map(Vec::len).sum::<usize>(),
        started.elapsed().as_secs_f64()
    );
    for (f, t) in &times {
        let _ = writeln!(
            text,
            "  {f:?}: {} schedules, {:.0} s each on average",
            t.len(),
            t.iter().sum::<f64>() / t.len() as f64
        );
    }
    text.push_str(&log);
    // Powered-off nodes are booted again whatever happened, so later scenarios find them.
    for name in STORAGE {
        if !bed.powered(name) {
            let _ = restore_node(bed, name);
        }
    }
    // A schedule's own failure comes first: a writer that cannot stop (its server gone)
    // must not hide why.
    let stopped = writer.stop(client);
    if let Ok(acks) = &stopped {
        let _ = writeln!(
            text,
            "client: {} records acknowledged; {} errors seen by the writer\n",
            acks.last(),
            acks.errors.len()
        );
    }
    report(&text);
    result?;
    let acks = stopped?;
    assert_durable(bed.vm(active), &writer.tag, &acks)?;
    client.ok("umount /mnt/alpha")?;
    ensure!(
        nfs_manage(bed.vm(active), "down --yes")?.rc == 0,
        "{active}: down --yes"
    );
    Ok(())
}

/// One schedule: the fault, the checks while it lasts, and the operator's recovery. Returns
/// what happened, for the log.
fn run_schedule(
    bed: &Bed,
    etcd: &mut Etcd,
    writer: &Writer,
    rng: &mut fastrand::Rng,
    fault: Fault,
    active: &mut &'static str,
) -> Result<String> {
    let standby = other(active);
    let client = bed.vm("client");
    Ok(match fault {
        Fault::KillFailover => {
            let on = if rng.bool() { *active } else { standby };
            let delay = Duration::from_millis(rng.u64(0..30_000));
            let args = format!("failover --yes --to {standby}");
            let (killed, rc) = kill_mid_run(bed.vm(on), &args, delay)?;
            check_safety(bed, "after the kill")?;
            rerun(bed.vm(on), &args)?;
            *active = standby;
            format!(
                "`{args}` on {on} {} after {:.1} s; rerun moved it",
                if killed {
                    "killed".to_string()
                } else {
                    format!("ended (exit {rc})")
                },
                delay.as_secs_f64()
            )
        }
        Fault::KillDown => {
            let delay = Duration::from_millis(rng.u64(0..12_000));
            let (killed, rc) = kill_mid_run(bed.vm(active), "down --yes", delay)?;
            check_safety(bed, "after the kill")?;
            rerun(bed.vm(active), "down --yes")?;
            let serving = check_safety(bed, "after the rerun of down")?;
            ensure!(serving.is_none(), "down rerun, yet {serving:?} serves");
            rerun(bed.vm(active), "up --yes")?;
            format!(
                "`down --yes` on {active} {} after {:.1} s; rerun, then up",
                if killed {
                    "killed".to_string()
                } else {
                    format!("ended (exit {rc})")
                },
                delay.as_secs_f64()
            )
        }
        Fault::KillUp => {
            rerun(bed.vm(active), "down --yes")?;
            let delay = Duration::from_millis(rng.u64(0..15_000));
            let (killed, rc) = kill_mid_run(bed.vm(active), "up --yes", delay)?;
            check_safety(bed, "after the kill")?;
            rerun(bed.vm(active), "up --yes")?;
            format!(
                "down, then `up --yes` on {active} {} after {:.1} s; rerun",
                if killed {
                    "killed".to_string()
                } else {
                    format!("ended (exit {rc})")
                },
                delay.as_secs_f64()
            )
        }
        Fault::LinkCut => {
            let cut = if rng.bool() { *active } else { standby };
            cut_replication(bed.vm(cut))?;
            wait_disconnected(bed.vm(active))?;
            wait_disconnected(bed.vm(standby))?;
            let (on, args, rc, says) = match rng.u32(0..3) {
                0 => (standby, "failover --yes".to_string(), 3, "not Connected"),
                1 => (
                    *active,
                    format!("failover --yes --to {standby}"),
                    3,
                    "not Connected",
                ),
                _ => (
                    standby,
                    "failover --peer-dead --yes".to_string(),
                    3,
                    "answers over ssh",
                ),
            };
            expect_exit(bed.vm(on), &args, rc, says)?;
            let serving = check_safety(bed, "while the link is cut")?;
            ensure!(serving == Some(*active), "serving {serving:?} while cut");
            heal_replication(bed.vm(cut))?;
            wait_synced(bed)?;
            format!("{cut}'s link cut; `{args}` on {on} refused (exit {rc}); link back, resynced")
        }
        Fault::EtcdStopped => {
            etcd.kill();
            let on = if rng.bool() { *active } else { standby };
            let args = format!("failover --yes --to {standby}");
            let out = nfs_manage(bed.vm(on), &args)?;
            ensure!(
                out.rc != 0,
                "{on}: `{args}` with etcd stopped: exit 0\n{}{}",
                out.stdout,
                out.stderr
            );
            let serving = check_safety(bed, "with etcd stopped")?;
            ensure!(
                serving == Some(*active),
                "serving {serving:?} with etcd stopped"
            );
            etcd.restart()?;
            let holder = etcd.get(LOCK_KEY)?.unwrap_or_default();
            format!(
                "etcd stopped; `{args}` on {on} exit {} ({}); etcd back, lock {holder}",
                out.rc,
                out.stderr.lines().next().unwrap_or("").trim()
            )
        }
        Fault::PowerOffStandby => {
            bed.power_off(standby)?;
            wait_disconnected(bed.vm(active))?;
            let args = format!("failover --yes --to {standby}");
            let out = nfs_manage(bed.vm(active), &args)?;
            ensure!(
                out.rc == 3,
                "{active}: `{args}` with {standby} off: exit {} (want 3)\n{}{}",
                out.rc,
                out.stdout,
                out.stderr
            );
            check_safety(bed, &format!("with {standby} off"))?;
            let booted = restore_node(bed, standby)?;
            wait_synced(bed)?;
            format!(
                "{standby} off; `{args}` refused (exit 3); booted again in {:.0} s, resynced",
                booted.as_secs_f64()
            )
        }
        Fault::PowerOffActive => {
            let dead = *active;
            bed.power_off(dead)?;
            wait_disconnected(bed.vm(standby))?;
            let stop = AtomicBool::new(false);
            let (out, fenced) = std::thread::scope(|s| {
                let fences = s.spawn(|| bed.watch_fences(&stop));
                let out = nfs_manage(bed.vm(standby), "failover --peer-dead --yes");
                stop.store(true, Ordering::SeqCst);
                (out, fences.join().unwrap_or_default())
            });
            let out = out?;
            ensure!(
                out.rc == 0,
                "{standby}: failover --peer-dead --yes with {dead} off: exit {}\n{}{}",
                out.rc,
                out.stdout,
                out.stderr
            );
            // The fence ran (the closing line names each step), and powered nobody else off:
            // `dead` was off already, which its BMC reports as such.
            let fence_step = out
                .stdout
                .lines()
                .find(|l| l.contains(" done in "))
                .and_then(|l| {
                    l.split(", ")
                        .find(|s| s.starts_with(&format!("fence:{dead} ")))
                        .map(str::to_string)
                });
            let Some(fence_step) = fence_step else {
                bail!(
                    "{standby}: failover --peer-dead --yes: no fence:{dead} step in its closing line\n{}",
                    out.stdout
                );
            };
            ensure!(
                fenced.is_empty(),
                "powered off during the failover: {fenced:?} (want nobody: {dead} was off already)"
            );
            if let Some(bmc) = bed.bmc(dead) {
                ensure!(!bmc.power_is_on()?, "{dead}'s BMC reports power on");
            }
            check_safety(bed, &format!("{standby} took over"))?;
            *active = standby;
            let at = writer.acks(client)?.last() as usize;
            writer.wait_acks(client, at + 5, "records after the takeover")?;
            let booted = restore_node(bed, dead)?;
            wait_synced(bed)?;
            format!(
                "{dead} off; `failover --peer-dead --yes` on {standby} ({fence_step}, {}); {dead} booted again in {:.0} s, resynced",
                crate::failover::fence_kind(bed),
                booted.as_secs_f64()
            )
        }
    })
}
