//! Scenarios on the booted group. Each asserts on live kernel state (/proc/drbd, drbdadm's
//! view of the kernel, /proc/fs/nfsd, mounts, a client's reads) and starts from reset().

use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};

use crate::bed::{Bed, SERVICE_IP, Vm, node_address};

pub struct Scenario {
    pub name: &'static str,
    pub run: fn(&Bed) -> Result<()>,
}

pub fn all() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "boot_and_control",
            run: boot_and_control,
        },
        Scenario {
            name: "drbd_replication",
            run: drbd_replication,
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
    for name in STORAGE {
        bed.vm(name).ok(&format!(
            r#"set -e
ip addr del {SERVICE_IP}/24 dev eth0 2>/dev/null || true
if [ -e /proc/fs/nfsd/threads ]; then systemctl stop nfs-server; fi
pkill -x rpcbind || true
for m in $(awk '$1 ~ "^/dev/drbd" {{print $2}}' /proc/mounts); do umount "$m"; done
if [ -e /proc/drbd ]; then
    for r in $(drbdsetup show 2>/dev/null | sed -n 's/^resource \([^ ]*\) {{$/\1/p'); do drbdsetup down "$r"; done
    rmmod drbd
fi
modprobe drbd
blkdiscard -f /dev/vda
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
"#
        ))?;
    }
    bed.vm("client").ok(r#"set -e
for m in $(awk '$3 ~ "^nfs" {print $2}' /proc/mounts); do umount -f -l "$m"; done
if mountpoint -q /mnt; then umount /mnt; fi
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
                vm.ok(&format!("arping -q -c 1 -w 10 -I eth0 {}", other.address))
                    .with_context(|| format!("{} cannot reach {}", vm.name, other.name))?;
            }
        }
    }
    // Writable where the scenarios need it, and the data disk is there and blank.
    let nfs1 = bed.vm("nfs1");
    nfs1.ok("touch /etc/exports.d/x /var/lib/nfs/x && rm /etc/exports.d/x /var/lib/nfs/x")?;
    let zeros = nfs1.ok("cmp -n 1048576 /dev/vda /dev/zero && echo blank")?;
    ensure!(zeros.trim() == "blank", "data disk not blank after reset");
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

fn proc_drbd_state(vm: &Vm) -> Result<String> {
    // The minor's line: " 4: cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate C r-----"
    let line = vm.ok("sed -n 's/^ *4: //p' /proc/drbd")?;
    Ok(line
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" "))
}

fn expect_state(vm: &Vm, role: &str, disk: &str) -> Result<()> {
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
