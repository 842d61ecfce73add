//! `nfs-manage volume init` against the real DRBD 8.4 kernel module: refusals of a disk with a
//! filesystem and with meta-data, `--first --mkfs ext4` on nfs1, `--join --wait` on nfs2 (the
//! full sync, progress off a terminal), then on reset disks `--skip-initial-sync` on both.
//! Each result is asserted on live state (/proc/drbd, drbdadm role/cstate/dstate, blkid) and
//! `status --json` must agree with it.

use std::time::Duration;

use anyhow::{Result, ensure};

use crate::bed::{Bed, Vm};
use crate::scenarios::{
    DEVICE, NFS_MANAGE_CONFIG, RESOURCE, STORAGE, drbd_field, nfs_manage_config, proc_drbd_state,
    reset, status_disagreements, write_res,
};

/// A throttled resync: long enough that `--wait` shows progress, short enough for TCG.
const DISK_OPTIONS: &str = "c-plan-ahead 0; resync-rate 4M;";

fn setup(bed: &Bed) -> Result<()> {
    write_res(bed, DISK_OPTIONS)?;
    let config = nfs_manage_config();
    for name in STORAGE {
        bed.vm(name).ok(&format!(
            "set -e
mkdir -p /etc/nfs-manage/projects.d
cat > {NFS_MANAGE_CONFIG} <<'EOF'
{config}EOF"
        ))?;
    }
    Ok(())
}

fn init(vm: &Vm, args: &str) -> Result<crate::bed::Output> {
    let bin = crate::bed::nfs_manage_bin();
    vm.run(
        &format!("{bin} --config {NFS_MANAGE_CONFIG} volume init {RESOURCE} {args}"),
        Duration::from_secs(900),
    )
}

fn expect_rc(vm: &Vm, what: &str, out: &crate::bed::Output, rc: i32) -> Result<()> {
    ensure!(
        out.rc == rc,
        "{}: {what}: exit {} (expected {rc})\n--- stdout\n{}\n--- stderr\n{}",
        vm.name,
        out.rc,
        out.stdout,
        out.stderr
    );
    Ok(())
}

fn blkid_type(vm: &Vm, dev: &str) -> Result<String> {
    Ok(vm
        .sh(&format!("blkid -p -s TYPE -o value {dev}"))?
        .stdout
        .trim()
        .to_string())
}

/// This node's role (8.4's `drbdadm role` says `Primary/Secondary`: this node's first).
fn role(vm: &Vm) -> Result<String> {
    let r = drbd_field(vm, "role")?;
    Ok(r.split('/').next().unwrap_or_default().to_string())
}

fn no_minor(vm: &Vm) -> Result<bool> {
    Ok(vm.sh("grep -q '^ *4:' /proc/drbd")?.rc != 0)
}

pub fn volume_init(bed: &Bed) -> Result<()> {
    let (a, b) = (bed.vm("nfs1"), bed.vm("nfs2"));
    setup(bed)?;

    // Refused: a filesystem on the backing disk. Nothing changes.
    a.ok("mkfs.ext4 -q -F -L olddata /dev/vda")?;
    let r = init(a, "--first --yes")?;
    expect_rc(a, "--first over ext4", &r, 3)?;
    ensure!(
        r.stderr.contains("TYPE=ext4") && r.stderr.contains("LABEL=olddata"),
        "refusal does not say what was found:\n{}",
        r.stderr
    );
    ensure!(blkid_type(a, "/dev/vda")? == "ext4" && no_minor(a)?);

    // Refused: DRBD meta-data that nfs-manage did not write.
    a.ok(&format!(
        "blkdiscard -f /dev/vda && drbdadm create-md --force {RESOURCE} >/dev/null 2>&1"
    ))?;
    let r = init(a, "--first --yes")?;
    expect_rc(a, "--first over meta-data", &r, 3)?;
    ensure!(
        r.stderr.contains("valid DRBD meta-data") && r.stderr.contains("0000000000000004"),
        "refusal does not show the meta-data:\n{}",
        r.stderr
    );
    ensure!(blkid_type(a, "/dev/vda")? == "drbd" && no_minor(a)?);
    a.ok("blkdiscard -f /dev/vda")?;

    // nfs1: the first leg, with a filesystem.
    let r = init(a, "--first --mkfs ext4 --yes")?;
    expect_rc(a, "--first --mkfs ext4", &r, 0)?;
    ensure!(
        role(a)? == "Primary" && drbd_field(a, "dstate")?.starts_with("UpToDate/"),
        "nfs1 after --first: {}",
        proc_drbd_state(a)?
    );
    ensure!(blkid_type(a, DEVICE)? == "ext4", "no ext4 on {DEVICE}");
    ensure!(blkid_type(a, "/dev/vda")? == "drbd");

    // nfs2 joins: a full sync as SyncTarget, waited for off a terminal.
    let r = init(b, "--join --wait --yes --wait-limit 10m")?;
    expect_rc(b, "--join --wait", &r, 0)?;
    ensure!(
        r.stderr.contains("in sync"),
        "no closing line off a terminal:\n{}",
        r.stderr
    );
    for vm in [a, b] {
        ensure!(
            drbd_field(vm, "dstate")? == "UpToDate/UpToDate"
                && drbd_field(vm, "cstate")? == "Connected",
            "{} after the join: {}",
            vm.name,
            proc_drbd_state(vm)?
        );
    }
    ensure!(role(b)? == "Secondary");
    ensure!(blkid_type(b, "/dev/vda")? == "drbd");
    let mut wrong = Vec::new();
    for vm in [a, b] {
        wrong.extend(status_disagreements(vm)?);
    }
    // Reruns converge.
    let r = init(a, "--first --mkfs ext4 --yes")?;
    expect_rc(a, "rerun --first", &r, 0)?;
    ensure!(r.stdout.contains("Nothing to do"), "rerun:\n{}", r.stdout);

    // Blank disks on both: no initial sync at all.
    reset(bed)?;
    setup(bed)?;
    let bin = crate::bed::nfs_manage_bin();
    a.ok(&format!(
        "( {bin} --config {NFS_MANAGE_CONFIG} volume init {RESOURCE} --skip-initial-sync --yes --connect-timeout 5m >/tmp/vi.out 2>&1; echo $? >/tmp/vi.rc ) >/dev/null 2>&1 &"
    ))?;
    let r = init(b, "--skip-initial-sync --yes --connect-timeout 5m")?;
    expect_rc(b, "--skip-initial-sync (waits for nfs1)", &r, 0)?;
    crate::scenarios::wait_for(a, "[ -s /tmp/vi.rc ]", "nfs1's run to end", 300)?;
    let rc = a.ok("cat /tmp/vi.rc")?;
    ensure!(
        rc.trim() == "0",
        "nfs1 --skip-initial-sync exit {rc}:\n{}",
        a.ok("cat /tmp/vi.out")?
    );
    // The journal has the argv whole (the plan's table may wrap it).
    let ran = a.sh(
        r#"grep '"step":"skip-sync:tools"' /var/lib/nfs-manage/journal.jsonl | grep '"result":"done"' | grep -F '"argv":["drbdadm","--","--clear-bitmap","new-current-uuid","tools"]'"#,
    )?;
    ensure!(
        ran.rc == 0,
        "nfs1 did not run 8.4's new-current-uuid form:\n{}\n{}",
        a.ok("cat /tmp/vi.out")?,
        a.ok("cat /var/lib/nfs-manage/journal.jsonl")?
    );
    for vm in [a, b] {
        ensure!(
            drbd_field(vm, "dstate")? == "UpToDate/UpToDate"
                && drbd_field(vm, "cstate")? == "Connected"
                && role(vm)? == "Secondary",
            "{} after skipping the sync: {}",
            vm.name,
            proc_drbd_state(vm)?
        );
        // Nothing was resynced: the receiving side got no data at all.
        let p = vm.ok("cat /proc/drbd")?;
        ensure!(
            p.contains(" nr:0 ") && !p.contains("sync'ed"),
            "{}: /proc/drbd shows a sync:\n{p}",
            vm.name
        );
        wrong.extend(status_disagreements(vm)?);
    }
    ensure!(
        wrong.is_empty(),
        "status --json disagrees with the live system:\n{}",
        wrong.join("\n")
    );
    Ok(())
}
