//! Scenarios on the booted group. Each asserts on live kernel state (/proc/drbd, drbdadm's
//! view of the kernel, /proc/fs/nfsd, mounts, a client's reads) and starts from reset().

use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};

use crate::bed::{Bed, SERVICE_IP, Vm, node_address};

pub struct Scenario {
    pub name: &'static str,
    pub run: fn(&Bed) -> Result<()>,
    /// Like libtest's `#[ignore = "…"]`: left out unless named exactly or --include-ignored.
    pub ignore: Option<&'static str>,
}

pub fn all() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "boot_and_control",
            run: boot_and_control,
            ignore: None,
        },
        Scenario {
            name: "drbd_replication",
            run: drbd_replication,
            ignore: Some(
                "the bed's DRBD check by hand; volume_init and the failover scenarios cover it with nfs-manage (kept out of CI's time budget)",
            ),
        },
        Scenario {
            name: "nfs_served",
            run: nfs_served,
            ignore: Some(
                "the bed's NFS check with a failover by hand; nfs_manage_up_down and failover_while_writing cover it with nfs-manage (kept out of CI's time budget)",
            ),
        },
        Scenario {
            name: "nfs_manage_status",
            run: nfs_manage_status,
            ignore: None,
        },
        Scenario {
            name: "nfs_manage_up_down",
            run: nfs_manage_up_down,
            ignore: None,
        },
        Scenario {
            name: "volume_init",
            run: crate::volume_init::volume_init,
            ignore: None,
        },
        Scenario {
            name: "record_fixtures",
            run: crate::fixtures::record_fixtures,
            ignore: None,
        },
        Scenario {
            name: "failover_while_writing",
            run: crate::failover::failover_while_writing,
            ignore: None,
        },
        Scenario {
            name: "failover_breakdown",
            run: crate::breakdown::failover_breakdown,
            ignore: Some("benchmark, run when named"),
        },
        Scenario {
            name: "replication_link_cut",
            run: crate::faults::replication_link_cut,
            ignore: None,
        },
        Scenario {
            name: "fault_schedules",
            run: crate::faults::fault_schedules,
            ignore: None,
        },
        Scenario {
            name: "exports_netgroup_clients",
            run: crate::exports_scale::exports_netgroup_clients,
            // Kept out of CI's time budget, which the VM part already fills; the nightly
            // scripts/test-long runs it.
            ignore: Some(
                "the netgroup layout against the real rpc.mountd, ~8 min: run when named or by scripts/test-long",
            ),
        },
        // Last: it powers nfs1 off (and on again); if it fails half-way, nfs1 may stay off.
        Scenario {
            name: "hard_down_failover",
            run: crate::failover::hard_down_failover,
            ignore: None,
        },
    ]
}

pub const RESOURCE: &str = "tools";
pub const DEVICE: &str = "/dev/drbd4";
pub const STORAGE: [&str; 2] = ["nfs1", "nfs2"];

/// Back to blank: nothing mounted or served, DRBD module reloaded (so no minor, no config
/// survives), data disks discarded to zeros (what a fresh sparse image holds), private
/// tmpfs over the NFS server's state. Fails if anything still holds a device, which would
/// mean the previous scenario left a mess the next one must not inherit.
pub fn reset(bed: &Bed) -> Result<()> {
    let disks: Vec<String> = (0..crate::bed::DATA_DISKS)
        .map(crate::bed::data_disk)
        .collect();
    let disks = disks.join(" ");
    for name in STORAGE {
        // A fault scenario that failed half-way may have left a link cut.
        bed.set_link(name, true)?;
        bed.vm(name).ok(&format!(
            r#"set -e
tc qdisc del dev eth0 clsact 2>/dev/null || true
ip addr del {SERVICE_IP}/24 dev eth0 2>/dev/null || true
if [ -e /proc/fs/nfsd/threads ]; then systemctl stop nfs-server; fi
pkill -x rpcbind || true
for m in $(awk '$1 ~ "^/dev/drbd" {{print $2}}' /proc/mounts); do umount "$m"; done
if [ -e /proc/drbd ]; then
    for r in $(drbdsetup show 2>/dev/null | sed -n 's/^resource \([^ ]*\) {{$/\1/p'); do drbdsetup down "$r"; done
    rmmod drbd
fi
modprobe drbd
for d in {disks}; do blkdiscard -f "$d"; done
mkdir -p /etc/drbd.d
rm -f /etc/drbd.d/*.res
printf 'global {{ usage-count no; }}\ninclude "drbd.d/*.res";\n' > /etc/drbd.conf
rm -rf /etc/nfs-manage /var/lib/nfs-manage /run/nfs-manage
for d in /var/lib/nfs /etc/exports.d; do
    if mountpoint -q "$d"; then umount "$d"; fi
    mkdir -p "$d"
    mount -t tmpfs tmpfs "$d"
done
touch /var/lib/nfs/etab /var/lib/nfs/rmtab
: > /etc/exports
# NFSv4 grace and lease at their minimum: a restarted server answers OPENs sooner.
mkdir -p /etc/nfs.conf.d
printf '[nfsd]\ngrace-time=10\nlease-time=10\n' > /etc/nfs.conf.d/vm-bed.conf
rm -rf /srv/tools
"#
        ))?;
    }
    // A scenario that failed may have left its writer or prober running on a mount whose
    // server is gone: stop them, and detach (lazily) whatever still holds /mnt.
    bed.vm("client").ok(r#"set -e
pkill -9 -f '/(writer|prober)\.py ' || true
for m in $(awk '$3 ~ "^nfs" {print $2}' /proc/mounts); do umount -f -l "$m"; done
if mountpoint -q /mnt; then umount /mnt 2>/dev/null || umount -l /mnt; fi
mount -t tmpfs tmpfs /mnt
"#)?;
    Ok(())
}

/// The control channel itself: exit codes, both streams, names and addresses, one L2 segment.
fn boot_and_control(bed: &Bed) -> Result<()> {
    for vm in &bed.vms {
        let out = vm.sh("echo out; echo err >&2; hostname; exit 7")?;
        ensure!(out.rc == 7, "{}: exit code {} (want 7)", vm.name, out.rc);
        ensure!(
            out.stdout == format!("out\n{}\n", vm.name),
            "{}: stdout {:?}",
            vm.name,
            out.stdout
        );
        ensure!(
            out.stderr == "err\n",
            "{}: stderr {:?}",
            vm.name,
            out.stderr
        );
        let addr = vm.ok("ip -4 -o addr show dev eth0 | awk '{print $4}'")?;
        ensure!(
            addr.trim() == format!("{}/24", vm.address),
            "{}: eth0 has {addr:?}",
            vm.name
        );
        ensure!(
            vm.kernel_release == vm.ok("uname -r")?.trim(),
            "{}: agent and uname disagree",
            vm.name
        );
    }
    // Every node answers every other's ARP: one segment, and only ours (TEST-NET).
    for vm in &bed.vms {
        for other in &bed.vms {
            if other.name != vm.name {
                vm.ok(&format!("arping -q -c 1 -w 10 -i eth0 {}", other.address))
                    .with_context(|| format!("{} cannot reach {}", vm.name, other.name))?;
            }
        }
    }
    // Writable where the scenarios need it, and the data disk is there and blank.
    let nfs1 = bed.vm("nfs1");
    nfs1.ok("touch /etc/exports.d/x /var/lib/nfs/x && rm /etc/exports.d/x /var/lib/nfs/x")?;
    let zeros = nfs1.ok("cmp -n 1048576 /dev/vda /dev/zero && echo blank")?;
    ensure!(zeros.trim() == "blank", "data disk not blank after reset");
    // Every data disk is there, under the name its serial says (PCI order).
    for i in 0..crate::bed::DATA_DISKS {
        let dev = crate::bed::data_disk(i);
        let name = dev.trim_start_matches("/dev/");
        let serial = nfs1.ok(&format!("cat /sys/block/{name}/serial"))?;
        ensure!(
            serial.trim() == crate::bed::data_disk_serial(i),
            "{dev} has serial {:?} (want {})",
            serial.trim(),
            crate::bed::data_disk_serial(i)
        );
    }
    // A guest-side timeout ends a hung command, and the agent keeps serving.
    let hung = nfs1.run("sleep 100", Duration::from_secs(2))?;
    ensure!(
        hung.rc == 124,
        "timed-out command exit {} (want 124)",
        hung.rc
    );
    ensure!(nfs1.ok("echo alive")? == "alive\n");
    Ok(())
}

/// The DRBD resource both storage nodes run: hostnames are the `on` sections' names.
pub fn drbd_res(extra_disk_options: &str) -> String {
    let mut on = String::new();
    for name in STORAGE {
        on.push_str(&format!(
            "    on {name} {{ address {}:7789; }}\n",
            node_address(name)
        ));
    }
    format!(
        "resource {RESOURCE} {{\n    device {DEVICE};\n    disk /dev/vda;\n    meta-disk internal;\n    \
         net {{ protocol C; }}\n    disk {{ {extra_disk_options} }}\n{on}}}\n"
    )
}

pub fn write_res(bed: &Bed, extra_disk_options: &str) -> Result<()> {
    let res = drbd_res(extra_disk_options);
    for name in STORAGE {
        bed.vm(name).ok(&format!(
            "cat > /etc/drbd.d/{RESOURCE}.res <<'EOF'\n{res}EOF\n"
        ))?;
    }
    Ok(())
}

/// Poll in the guest (one round trip) until `check` (a shell condition) holds.
pub fn wait_for(vm: &Vm, check: &str, what: &str, secs: u64) -> Result<()> {
    let out = vm.run(
        &format!("for i in $(seq {secs}); do if {check}; then exit 0; fi; sleep 1; done; exit 1"),
        Duration::from_secs(secs + 30),
    )?;
    if out.rc != 0 {
        let state = vm.sh("cat /proc/drbd; dmesg | tail -n 20")?;
        bail!(
            "{}: {what} not reached in {secs}s\n{}",
            vm.name,
            state.stdout
        );
    }
    Ok(())
}

pub fn drbd_field(vm: &Vm, what: &str) -> Result<String> {
    Ok(vm
        .ok(&format!("drbdadm {what} {RESOURCE}"))?
        .trim()
        .to_string())
}

/// create-md and up on both nodes: Connected, Inconsistent on both sides.
pub fn drbd_up_blank(bed: &Bed) -> Result<()> {
    for name in STORAGE {
        bed.vm(name).ok(&format!(
            "drbdadm create-md --force {RESOURCE} && drbdadm up {RESOURCE}"
        ))?;
    }
    for name in STORAGE {
        wait_for(
            bed.vm(name),
            &format!("[ \"$(drbdadm cstate {RESOURCE})\" = Connected ]"),
            "Connected",
            120,
        )?;
    }
    Ok(())
}

/// Initial full sync from `primary`, waited for until UpToDate on both sides.
/// Both nodes UpToDate without an initial sync: reset() discarded both disks to zeros, so
/// they are identical, and DRBD may be told so (8.4's `new-current-uuid --clear-bitmap`
/// while Connected and Secondary, what `volume init --skip-initial-sync` runs). A full
/// sync of the 128 MiB costs about 20 s under TCG; the scenarios that are not about it skip
/// it. Both stay Secondary.
pub fn drbd_synced_blank(bed: &Bed) -> Result<()> {
    drbd_up_blank(bed)?;
    bed.vm("nfs1").ok(&format!(
        "drbdadm -- --clear-bitmap new-current-uuid {RESOURCE}"
    ))?;
    for name in STORAGE {
        wait_for(
            bed.vm(name),
            &format!("[ \"$(drbdadm dstate {RESOURCE})\" = UpToDate/UpToDate ]"),
            "UpToDate/UpToDate",
            120,
        )?;
    }
    Ok(())
}

pub fn drbd_initial_sync(bed: &Bed, primary: &str) -> Result<()> {
    bed.vm(primary)
        .ok(&format!("drbdadm primary --force {RESOURCE}"))?;
    for name in STORAGE {
        wait_for(
            bed.vm(name),
            &format!("[ \"$(drbdadm dstate {RESOURCE})\" = UpToDate/UpToDate ]"),
            "UpToDate/UpToDate",
            600,
        )?;
    }
    Ok(())
}

pub fn proc_drbd_state(vm: &Vm) -> Result<String> {
    // The minor's line: " 4: cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate C r-----"
    let line = vm.ok("sed -n 's/^ *4: //p' /proc/drbd")?;
    Ok(line
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" "))
}

pub fn expect_state(vm: &Vm, role: &str, disk: &str) -> Result<()> {
    let got = (
        drbd_field(vm, "role")?,
        drbd_field(vm, "cstate")?,
        drbd_field(vm, "dstate")?,
    );
    ensure!(
        got == (role.to_string(), "Connected".to_string(), disk.to_string()),
        "{}: drbdadm says role {} cstate {} dstate {} (want {role} Connected {disk})",
        vm.name,
        got.0,
        got.1,
        got.2
    );
    let proc_line = proc_drbd_state(vm)?;
    ensure!(
        proc_line == format!("cs:Connected ro:{role} ds:{disk}"),
        "{}: /proc/drbd says {proc_line:?}",
        vm.name
    );
    Ok(())
}

/// Real replication: blank → Inconsistent → forced primary syncs → UpToDate both sides; data
/// written on one node is read on the other after the primary role moves.
fn drbd_replication(bed: &Bed) -> Result<()> {
    let (a, b) = (bed.vm("nfs1"), bed.vm("nfs2"));
    write_res(bed, "")?;
    for vm in [a, b] {
        ensure!(vm.ok("hostname")?.trim() == vm.name);
        // drbdadm picks this host's `on` section by hostname: it must find ours.
        let me = vm.ok(&format!("drbdadm sh-ll-dev {RESOURCE}"))?;
        ensure!(
            me.trim() == "/dev/vda",
            "{}: sh-ll-dev says {me:?}",
            vm.name
        );
    }
    drbd_up_blank(bed)?;
    expect_state(a, "Secondary/Secondary", "Inconsistent/Inconsistent")?;
    expect_state(b, "Secondary/Secondary", "Inconsistent/Inconsistent")?;

    drbd_initial_sync(bed, "nfs1")?;
    expect_state(a, "Primary/Secondary", "UpToDate/UpToDate")?;
    expect_state(b, "Secondary/Primary", "UpToDate/UpToDate")?;

    // Data written on the primary, synchronously replicated (protocol C)...
    let stamp = format!("written-on-nfs1-{}", std::process::id());
    a.ok(&format!(
        "printf '%s' '{stamp}' | dd of={DEVICE} bs=4096 conv=sync oflag=direct status=none"
    ))?;
    // ...the peer cannot take over while nfs1 is Primary...
    let refused = b.sh(&format!("drbdadm primary {RESOURCE}"))?;
    ensure!(refused.rc != 0, "nfs2 became Primary while nfs1 is Primary");
    expect_state(b, "Secondary/Primary", "UpToDate/UpToDate")?;
    // ...and once nfs1 steps down, it reads what nfs1 wrote.
    a.ok(&format!("drbdadm secondary {RESOURCE}"))?;
    b.ok(&format!("drbdadm primary {RESOURCE}"))?;
    expect_state(b, "Primary/Secondary", "UpToDate/UpToDate")?;
    expect_state(a, "Secondary/Primary", "UpToDate/UpToDate")?;
    let read = b.ok(&format!(
        "dd if={DEVICE} bs=4096 count=1 iflag=direct status=none | tr -d '\\0'"
    ))?;
    ensure!(read == stamp, "nfs2 read {read:?}, nfs1 wrote {stamp:?}");
    Ok(())
}

pub const MOUNTPOINT: &str = "/srv/tools";

/// The export every server scenario uses: the whole test segment, read-write.
pub fn export_line() -> String {
    format!(
        "{MOUNTPOINT} {}.0/24(rw,sync,no_subtree_check,no_root_squash)",
        crate::bed::PREFIX
    )
}

/// The `up` order by hand (mount, NFS, exports, IP last), with the real tools.
pub fn serve(vm: &Vm, mkfs: bool) -> Result<()> {
    if mkfs {
        vm.ok(&format!("mkfs.ext4 -q -F {DEVICE}"))?;
    }
    vm.ok(&format!(
        "set -e
mkdir -p {MOUNTPOINT}
mount -t ext4 -o noatime {DEVICE} {MOUNTPOINT}
echo '{}' > /etc/exports.d/{RESOURCE}.exports
systemctl start nfs-server
ip addr add {SERVICE_IP}/24 dev eth0
{}",
        export_line(),
        announce_service_ip()
    ))?;
    Ok(())
}

/// Shell lines that tell the segment the service IP is here now, as `nfs-manage up` does:
/// gratuitous ARP, sender and target the service IP (arping is Habets' here; without `-S` it
/// would ask from the node's own address and leave a client's entry on the node that served
/// before, which then times out its next mount). Unsolicited ARP gets no reply, so arping
/// exits 1: the neighbours' update is the point.
pub fn announce_service_ip() -> String {
    format!("arping -U -c 2 -w 2 -i eth0 -S {SERVICE_IP} {SERVICE_IP} >/dev/null || true")
}

/// The `down` order by hand (IP first, then NFS, umount, Secondary).
pub fn unserve(vm: &Vm) -> Result<()> {
    vm.ok(&format!(
        "set -e
ip addr del {SERVICE_IP}/24 dev eth0
systemctl stop nfs-server
umount {MOUNTPOINT}
drbdadm secondary {RESOURCE}"
    ))?;
    Ok(())
}

/// Live nfsd facts of a node: kernel threads running, and what the kernel's export table
/// (exportfs -s reads /var/lib/nfs/etab; /proc/fs/nfsd/exports is the kernel's view) holds.
fn assert_serving(vm: &Vm) -> Result<()> {
    let threads = vm.ok("cat /proc/fs/nfsd/threads")?;
    ensure!(
        threads.trim().parse::<u32>().unwrap_or(0) > 0,
        "{}: nfsd threads {threads:?}",
        vm.name
    );
    let versions = vm.ok("cat /proc/fs/nfsd/versions")?;
    ensure!(
        versions.contains("+4.2") && versions.contains("+3"),
        "{}: versions {versions:?}",
        vm.name
    );
    let exported = vm.ok("exportfs -s")?;
    ensure!(
        exported.contains(MOUNTPOINT),
        "{}: exportfs -s: {exported:?}",
        vm.name
    );
    let ip = vm.ok("ip -4 -o addr show dev eth0")?;
    ensure!(
        ip.contains(&format!(" {SERVICE_IP}/24 ")),
        "{}: no service IP: {ip}",
        vm.name
    );
    Ok(())
}

/// Real nfsd on the DRBD volume, mounted by a client over NFSv4.2 and NFSv3 through the
/// service IP; then a failover by hand to nfs2, and the client's same mounts read on.
fn nfs_served(bed: &Bed) -> Result<()> {
    let (a, b, client) = (bed.vm("nfs1"), bed.vm("nfs2"), bed.vm("client"));
    write_res(bed, "")?;
    drbd_up_blank(bed)?;
    drbd_initial_sync(bed, "nfs1")?;
    serve(a, true)?;
    assert_serving(a)?;

    // timeo=50: after a failover the client's old connection is only dropped when a request
    // is retransmitted; 5 s instead of the default 60 s keeps the scenario short.
    client.ok(&format!(
        "set -e
mkdir -p /mnt/v4 /mnt/v3
mount -t nfs -o vers=4.2,timeo=50 {SERVICE_IP}:{MOUNTPOINT} /mnt/v4
mount -t nfs -o vers=3,proto=tcp,nolock,timeo=50 {SERVICE_IP}:{MOUNTPOINT} /mnt/v3
echo from-v4 > /mnt/v4/f4
echo from-v3 > /mnt/v3/f3"
    ))?;
    let mounts = client.ok("grep ' /mnt/v' /proc/mounts")?;
    ensure!(
        mounts
            .lines()
            .any(|l| l.contains(" /mnt/v4 nfs4 ") && l.contains("vers=4.2")),
        "client: no NFSv4.2 mount: {mounts}"
    );
    ensure!(
        mounts
            .lines()
            .any(|l| l.contains(" /mnt/v3 nfs ") && l.contains("vers=3")),
        "client: no NFSv3 mount: {mounts}"
    );
    // Each protocol sees the other's write, and the server's disk has both.
    ensure!(client.ok("cat /mnt/v3/f4 /mnt/v4/f3")? == "from-v4\nfrom-v3\n");
    ensure!(a.ok(&format!("cat {MOUNTPOINT}/f4 {MOUNTPOINT}/f3"))? == "from-v4\nfrom-v3\n");
    // The server's kernel knows the client's mounts.
    let clients = a.ok("ls /proc/fs/nfsd/clients 2>/dev/null | wc -l")?;
    ensure!(
        clients.trim() != "0",
        "nfs1: no NFSv4 client in /proc/fs/nfsd/clients"
    );

    // Failover by hand: the client keeps its mounts; the same IP now leads to nfs2.
    client.ok("sync")?;
    unserve(a)?;
    b.ok(&format!("drbdadm primary {RESOURCE}"))?;
    serve(b, false)?;
    assert_serving(b)?;
    expect_state(b, "Primary/Secondary", "UpToDate/UpToDate")?;
    client.ok("echo after-failover >> /mnt/v3/f3")?;
    ensure!(
        client.ok("cat /mnt/v4/f3")? == "from-v3\nafter-failover\n",
        "client: v4 mount does not read the v3 write after failover"
    );
    ensure!(b.ok(&format!("cat {MOUNTPOINT}/f3"))? == "from-v3\nafter-failover\n");
    client.ok("umount /mnt/v4 /mnt/v3")?;
    Ok(())
}

/// The cluster config nfs-manage gets in the guests: the bed's pair, service IP and volume.
pub fn nfs_manage_config() -> String {
    format!(
        "cluster: vm-bed
nodes:
  nfs1: {{ address: {} }}
  nfs2: {{ address: {} }}
service_ip:
  address: {SERVICE_IP}/24
  interface: eth0
nfs:
  service: nfs-server
  exports_dir: /etc/exports.d
volumes:
  - name: {RESOURCE}
    drbd: {RESOURCE}
    device: {DEVICE}
    mountpoint: {MOUNTPOINT}
    fstype: ext4
    mount_options: [noatime]
services: []
projects_dir: /etc/nfs-manage/projects.d
backups: []
sync: []
",
        node_address("nfs1"),
        node_address("nfs2")
    )
}

pub const NFS_MANAGE_CONFIG: &str = "/etc/nfs-manage/cluster.yaml";

/// The export of the scenarios' client, as a file in exports_dir (as configuration
/// management would write it).
fn alpha_exports() -> String {
    format!(
        "{MOUNTPOINT}/shared/alpha {}(rw,sync,no_subtree_check)\n",
        node_address("client")
    )
}

fn nfs_manage(vm: &Vm, args: &str) -> Result<crate::bed::Output> {
    let bin = crate::bed::nfs_manage_bin();
    vm.run(
        &format!("{bin} --config {NFS_MANAGE_CONFIG} {args}"),
        Duration::from_secs(300),
    )
}

fn status_json(vm: &Vm) -> Result<serde_json::Value> {
    let out = nfs_manage(vm, "status --json")?;
    serde_json::from_str(&out.stdout).with_context(|| {
        format!(
            "{}: status --json (exit {}) is not JSON:\n{}\nstderr:\n{}",
            vm.name, out.rc, out.stdout, out.stderr
        )
    })
}

/// What the kernel and the tools say about a node, to hold `status --json` against.
struct Live {
    role: String,
    peer_role: String,
    cstate: String,
    disk: String,
    peer_disk: String,
    mounted: bool,
    nfsd: bool,
    exported: bool,
    service_ip: bool,
}

fn live(vm: &Vm) -> Result<Live> {
    let role = drbd_field(vm, "role")?;
    let dstate = drbd_field(vm, "dstate")?;
    let cstate = drbd_field(vm, "cstate")?;
    let (role, peer_role) = role.split_once('/').unwrap_or((&role, ""));
    let (disk, peer_disk) = dstate.split_once('/').unwrap_or((&dstate, ""));
    let facts = vm.ok(&format!(
        "findmnt -n {MOUNTPOINT} >/dev/null && echo mounted
[ \"$(cat /proc/fs/nfsd/threads 2>/dev/null || echo 0)\" -gt 0 ] && echo nfsd
grep -q '^{MOUNTPOINT}/shared/alpha' /proc/fs/nfsd/exports 2>/dev/null || exportfs -s | grep -q '^{MOUNTPOINT}/shared/alpha' && echo exported
ip -4 -o addr show dev eth0 | grep -q ' {SERVICE_IP}/24 ' && echo ip
true"
    ))?;
    let has = |w: &str| facts.lines().any(|l| l == w);
    Ok(Live {
        role: role.into(),
        peer_role: peer_role.into(),
        cstate,
        disk: disk.into(),
        peer_disk: peer_disk.into(),
        mounted: has("mounted"),
        nfsd: has("nfsd"),
        exported: has("exported"),
        service_ip: has("ip"),
    })
}

/// Where `status --json` and the live system disagree, one line each.
pub fn status_disagreements(vm: &Vm) -> Result<Vec<String>> {
    let s = status_json(vm)?;
    let l = live(vm)?;
    let mut bad = Vec::new();
    let mut check = |what: &str, got: &serde_json::Value, want: serde_json::Value| {
        if *got != want {
            bad.push(format!(
                "{}: status {what} = {got}, live says {want}",
                vm.name
            ));
        }
    };
    let v = &s["volumes"][0];
    let d = &v["drbd"];
    let p = &d["peers"][0];
    let connection = if l.cstate == "Connected" || l.cstate.starts_with("Sync") {
        "Connected"
    } else {
        l.cstate.as_str()
    };
    check("node", &s["node"], vm.name.into());
    check(
        "service_ip.present",
        &s["service_ip"]["present"],
        l.service_ip.into(),
    );
    check("nfs.active", &s["nfs"]["active"], l.nfsd.into());
    check("volumes[0].mounted", &v["mounted"], l.mounted.into());
    check("volumes[0].exported", &v["exported"], l.exported.into());
    check("volumes[0].drbd.resource", &d["resource"], RESOURCE.into());
    check("volumes[0].drbd.role", &d["role"], l.role.as_str().into());
    check("volumes[0].drbd.disk", &d["disk"], l.disk.as_str().into());
    check("peers[0].connection", &p["connection"], connection.into());
    check("peers[0].role", &p["role"], l.peer_role.as_str().into());
    check("peers[0].disk", &p["disk"], l.peer_disk.as_str().into());
    let want_role = match (l.role.as_str(), l.mounted, l.nfsd, l.service_ip) {
        ("Primary", true, true, true) => "active",
        ("Secondary", false, false, false) => "standby",
        _ => "degraded",
    };
    check("role", &s["role"], want_role.into());
    Ok(bad)
}

/// A synced pair, both Secondary, an ext4 volume with the export's directory, and the
/// nfs-manage config and exports file on both nodes.
fn nfs_manage_setup(bed: &Bed) -> Result<()> {
    write_res(bed, "")?;
    drbd_synced_blank(bed)?;
    bed.vm("nfs1").ok(&format!(
        "set -e
drbdadm primary {RESOURCE}
mkfs.ext4 -q -F {DEVICE}
mkdir -p {MOUNTPOINT}
mount -t ext4 {DEVICE} {MOUNTPOINT}
# World-writable (sticky): the export squashes the client's root, which then writes as nobody.
install -d -m 3777 {MOUNTPOINT}/shared/alpha
umount {MOUNTPOINT}
drbdadm secondary {RESOURCE}"
    ))?;
    let config = nfs_manage_config();
    let exports = alpha_exports();
    for name in STORAGE {
        bed.vm(name).ok(&format!(
            "set -e
mkdir -p /etc/nfs-manage/projects.d {MOUNTPOINT}
cat > {NFS_MANAGE_CONFIG} <<'EOF'
{config}EOF
cat > /etc/exports.d/alpha.exports <<'EOF'
{exports}EOF"
        ))?;
    }
    Ok(())
}

/// `status --json` against the live system, in the states a pair is in most of the time:
/// both standby; one serving (brought up by hand with the real tools); back to standby.
fn nfs_manage_status(bed: &Bed) -> Result<()> {
    let (a, b) = (bed.vm("nfs1"), bed.vm("nfs2"));
    nfs_manage_setup(bed)?;
    let mut wrong = Vec::new();
    for vm in [a, b] {
        wrong.extend(status_disagreements(vm)?);
    }
    a.ok(&format!("drbdadm primary {RESOURCE}"))?;
    serve(a, false)?;
    let l = live(a)?;
    ensure!(l.role == "Primary" && l.mounted && l.nfsd && l.exported && l.service_ip);
    for vm in [a, b] {
        wrong.extend(status_disagreements(vm)?);
    }
    unserve(a)?;
    for vm in [a, b] {
        wrong.extend(status_disagreements(vm)?);
    }
    ensure!(
        wrong.is_empty(),
        "status --json disagrees with the live system:\n{}",
        wrong.join("\n")
    );
    Ok(())
}

/// nfs-manage itself against the real kernel: `up` on nfs1 serves the client; `down` undoes
/// it; `up` on nfs2 takes over with the client's mount reading on; status agrees throughout.
fn nfs_manage_up_down(bed: &Bed) -> Result<()> {
    let (a, b, client) = (bed.vm("nfs1"), bed.vm("nfs2"), bed.vm("client"));
    nfs_manage_setup(bed)?;
    let mut wrong = Vec::new();
    let up = nfs_manage(a, "up --yes")?;
    ensure!(
        up.rc == 0,
        "nfs1: up --yes exit {}:\n{}\n{}",
        up.rc,
        up.stdout,
        up.stderr
    );
    let l = live(a)?;
    ensure!(
        l.role == "Primary" && l.mounted && l.nfsd && l.exported && l.service_ip,
        "nfs1 after up: role {} mounted {} nfsd {} exported {} ip {}",
        l.role,
        l.mounted,
        l.nfsd,
        l.exported,
        l.service_ip
    );
    for vm in [a, b] {
        wrong.extend(status_disagreements(vm)?);
    }
    client.ok(&format!(
        "set -e
mkdir -p /mnt/alpha
mount -t nfs -o vers=4.2,timeo=50 {SERVICE_IP}:{MOUNTPOINT}/shared/alpha /mnt/alpha
echo served-by-nfs1 > /mnt/alpha/f"
    ))?;
    ensure!(a.ok(&format!("cat {MOUNTPOINT}/shared/alpha/f"))? == "served-by-nfs1\n");

    let down = nfs_manage(a, "down --yes")?;
    ensure!(
        down.rc == 0,
        "nfs1: down --yes exit {}:\n{}\n{}",
        down.rc,
        down.stdout,
        down.stderr
    );
    let l = live(a)?;
    ensure!(
        l.role == "Secondary" && !l.mounted && !l.nfsd && !l.service_ip,
        "nfs1 after down: role {} mounted {} nfsd {} ip {}",
        l.role,
        l.mounted,
        l.nfsd,
        l.service_ip
    );
    wrong.extend(status_disagreements(a)?);

    let up = nfs_manage(b, "up --yes")?;
    ensure!(
        up.rc == 0,
        "nfs2: up --yes exit {}:\n{}\n{}",
        up.rc,
        up.stdout,
        up.stderr
    );
    wrong.extend(status_disagreements(b)?);
    // The client's mount, untouched, now reads from nfs2.
    ensure!(client.ok("cat /mnt/alpha/f")? == "served-by-nfs1\n");
    client.ok("umount /mnt/alpha")?;
    let down = nfs_manage(b, "down --yes")?;
    ensure!(
        down.rc == 0,
        "nfs2: down --yes exit {}:\n{}\n{}",
        down.rc,
        down.stdout,
        down.stderr
    );

    ensure!(
        wrong.is_empty(),
        "status --json disagrees with the live system:\n{}",
        wrong.join("\n")
    );
    Ok(())
}
