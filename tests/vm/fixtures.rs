//! Records what the real kernel and tools print, for the stand-ins of the namespace tests to
//! be checked against: /proc/drbd and `drbdadm status` in each DRBD state the pair can be
//! driven to, drbdadm's errors with their exit codes, `drbdadm dump`, and nfsd's exports.
//!
//! Written to tests/fixtures/real/KERNEL_drbd-utils-VERSION/ when NFS_MANAGE_VM_RECORD=1,
//! otherwise to target/vm-fixtures/ (a plain run must not rewrite the source tree: counters
//! in /proc/drbd differ on every run). Each capture asserts the state it claims to show.

use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;

use anyhow::{Result, ensure};

use crate::bed::{Bed, Output, SERVICE_IP, Vm, manifest_dir, target_dir};
use crate::scenarios::{
    DEVICE, MOUNTPOINT, RESOURCE, drbd_field, expect_state, serve, wait_for, write_res,
};

struct Recorder {
    dir: PathBuf,
    /// file, node, command, exit code, state shown
    rows: Vec<(String, String, String, i32, String)>,
}

impl Recorder {
    fn new(vm: &Vm) -> Result<Recorder> {
        let kernel = vm.ok("uname -r")?.trim().to_string();
        let utils = vm.ok("drbdadm --version | sed -n 's/^DRBDADM_VERSION=//p'")?;
        let name = format!("{kernel}_drbd-utils-{}", utils.trim());
        let dir = if std::env::var_os("NFS_MANAGE_VM_RECORD").is_some_and(|v| v == "1") {
            manifest_dir().join("tests/fixtures/real").join(&name)
        } else {
            target_dir().join("vm-fixtures").join(&name)
        };
        // Files are overwritten one by one, not the directory wiped: it also holds fixtures
        // other scenarios record (drbdmeta and blkid, the README's later sections).
        fs::create_dir_all(&dir)?;
        Ok(Recorder {
            dir,
            rows: Vec::new(),
        })
    }

    /// Run `cmd` on `vm`; stdout to FILE.txt, stderr (when any) to FILE.stderr.txt.
    fn capture(&mut self, vm: &Vm, file: &str, cmd: &str, state: &str) -> Result<Output> {
        let out = vm.sh(cmd)?;
        fs::write(self.dir.join(format!("{file}.txt")), &out.stdout)?;
        if !out.stderr.is_empty() {
            fs::write(self.dir.join(format!("{file}.stderr.txt")), &out.stderr)?;
        }
        self.rows.push((
            file.into(),
            vm.name.into(),
            cmd.into(),
            out.rc,
            state.into(),
        ));
        Ok(out)
    }

    /// /proc/drbd and `drbdadm status` of both nodes in one state.
    fn state(&mut self, bed: &Bed, tag: &str, state: &str) -> Result<()> {
        for name in crate::scenarios::STORAGE {
            let vm = bed.vm(name);
            self.capture(
                vm,
                &format!("proc-drbd.{tag}.{name}"),
                "cat /proc/drbd",
                state,
            )?;
            self.capture(
                vm,
                &format!("drbdadm-status.{tag}.{name}"),
                &format!("drbdadm status {RESOURCE}"),
                state,
            )?;
        }
        Ok(())
    }

    fn finish(self, versions: &str) -> Result<()> {
        let mut t = String::new();
        let _ = writeln!(
            t,
            "# Real outputs: DRBD 8.4 kernel module and drbd-utils, nfsd\n\n\
             Recorded by the VM test bed (tests/vm/, scenario `record_fixtures`) with\n\n\
             ```\nNFS_MANAGE_VM_RECORD=1 cargo test --test vm -- --exact record_fixtures\n```\n\n\
             on two storage guests `nfs1` (192.0.2.11) and `nfs2` (192.0.2.12) running Debian's \
             kernel under virtme-ng, resource `{RESOURCE}` on `{DEVICE}` (minor 4) over a 128 MiB \
             virtio disk `/dev/vda`, internal meta-data, protocol C; the config is \
             `drbdadm-dump.nfs1.txt`.\n\n{versions}\n\n\
             `FILE.txt` is the command's stdout, byte for byte; `FILE.stderr.txt` its stderr when \
             it printed any. Counters (ns:, nr:, dw:, speed, finish) differ from run to run; the \
             state words, layout and exit codes do not. Each state below was asserted on the live \
             system (drbdadm role/cstate/dstate, /proc/drbd) before it was recorded.\n\n\
             | file | node | command | exit | state shown |\n| --- | --- | --- | --- | --- |"
        );
        for (file, node, cmd, rc, state) in &self.rows {
            let cmd = cmd.replace('|', "\\|").replace('\n', "; ");
            let _ = writeln!(t, "| `{file}.txt` | {node} | `{cmd}` | {rc} | {state} |");
        }
        // Sections after this table (recorded elsewhere) are kept as they are.
        let readme = self.dir.join("README.md");
        if let Ok(old) = fs::read_to_string(&readme)
            && let Some(i) = old.find("\n## ")
        {
            t.push_str(&old[i..]);
        }
        fs::write(readme, t)?;
        eprintln!("fixtures written to {}", self.dir.display());
        Ok(())
    }
}

fn expect_rc(out: &Output, rc: i32, what: &str) -> Result<()> {
    ensure!(
        out.rc == rc,
        "{what}: exit {} (want {rc}); stderr {:?}",
        out.rc,
        out.stderr
    );
    Ok(())
}

pub fn record_fixtures(bed: &Bed) -> Result<()> {
    let (a, b) = (bed.vm("nfs1"), bed.vm("nfs2"));
    let mut r = Recorder::new(a)?;
    let versions = a.ok(
        "echo \"- kernel: $(uname -r) ($(uname -v))\"; \
         echo \"- DRBD module: $(sed -n 's/^version: //p' /proc/drbd)\"; \
         echo \"- drbd-utils: $(drbdadm --version | sed -n 's/^DRBDADM_VERSION=//p') \
         ($(dpkg-query -W -f='${Version}' drbd-utils) Debian package)\"; \
         echo \"- nfs-utils: $(dpkg-query -W -f='${Version}' nfs-kernel-server) (nfs-kernel-server)\"",
    )?;

    // Module loaded, nothing configured.
    r.capture(
        a,
        "proc-drbd.unconfigured.nfs1",
        "cat /proc/drbd",
        "module loaded, no resource",
    )?;
    write_res(bed, "")?;
    r.capture(
        a,
        "drbdadm-dump.nfs1",
        &format!("drbdadm dump {RESOURCE}"),
        "the resource's config as drbdadm parses it",
    )?;
    // Configured but not up: what probes see on a node that has not run `up` yet.
    let o = r.capture(
        a,
        "err.role-not-up.nfs1",
        &format!("drbdadm role {RESOURCE}"),
        "configured, not up",
    )?;
    ensure!(o.rc != 0, "role of a resource that is not up succeeded");
    r.capture(
        a,
        "drbdadm-status.not-up.nfs1",
        &format!("drbdadm status {RESOURCE}"),
        "configured, not up",
    )?;
    r.capture(
        a,
        "drbdadm-status-all.not-up.nfs1",
        "drbdadm status",
        "configured, not up (all resources)",
    )?;
    r.capture(
        a,
        "err.primary-not-up.nfs1",
        &format!("drbdadm primary {RESOURCE}"),
        "configured, not up",
    )?;
    let o = r.capture(
        a,
        "err.unknown-resource-status.nfs1",
        "drbdadm status nosuch",
        "unknown resource",
    )?;
    expect_rc(&o, 1, "status of an unknown resource")?;
    r.capture(
        a,
        "err.unknown-resource-primary.nfs1",
        "drbdadm primary nosuch",
        "unknown resource",
    )?;
    r.capture(
        a,
        "err.drbdsetup-status-json.nfs1",
        "drbdsetup status --json",
        "DRBD 8.4 has no JSON status",
    )?;

    // create-md + up on one node only: Inconsistent, waiting for the peer.
    a.ok(&format!("drbdadm create-md --force {RESOURCE}"))?;
    r.capture(
        a,
        "drbdadm-up.nfs1",
        &format!("drbdadm up {RESOURCE}"),
        "up after create-md",
    )?;
    wait_for(
        a,
        &format!("[ \"$(drbdadm cstate {RESOURCE})\" = WFConnection ]"),
        "WFConnection",
        60,
    )?;
    ensure!(drbd_field(a, "dstate")? == "Inconsistent/DUnknown");
    r.capture(
        a,
        "proc-drbd.wfconnection-inconsistent.nfs1",
        "cat /proc/drbd",
        "create-md + up, peer not up: WFConnection Secondary/Unknown Inconsistent/DUnknown",
    )?;
    r.capture(
        a,
        "drbdadm-status.wfconnection-inconsistent.nfs1",
        &format!("drbdadm status {RESOURCE}"),
        "same",
    )?;
    let o = r.capture(
        a,
        "err.primary-inconsistent.nfs1",
        &format!("drbdadm primary {RESOURCE}"),
        "primary without --force on Inconsistent data",
    )?;
    ensure!(o.rc != 0, "primary on Inconsistent data succeeded");

    // Both up: Connected, Inconsistent on both sides. The resync is throttled to 1 MiB/s
    // (fixed rate, no dynamic controller) so it can be caught half-way.
    b.ok(&format!(
        "drbdadm create-md --force {RESOURCE} && drbdadm up {RESOURCE}"
    ))?;
    for vm in [a, b] {
        wait_for(
            vm,
            &format!("[ \"$(drbdadm cstate {RESOURCE})\" = Connected ]"),
            "Connected",
            120,
        )?;
        vm.ok(&format!(
            "drbdadm disk-options --c-plan-ahead=0 --resync-rate=1M {RESOURCE}"
        ))?;
    }
    expect_state(a, "Secondary/Secondary", "Inconsistent/Inconsistent")?;
    r.state(
        bed,
        "connected-inconsistent",
        "both up after create-md: Connected Secondary/Secondary Inconsistent/Inconsistent",
    )?;

    a.ok(&format!("drbdadm primary --force {RESOURCE}"))?;
    wait_for(a, "grep -q \"sync'ed:\" /proc/drbd", "resync progress", 60)?;
    wait_for(b, "grep -q \"sync'ed:\" /proc/drbd", "resync progress", 60)?;
    ensure!(
        drbd_field(a, "cstate")? == "SyncSource",
        "nfs1 is not SyncSource"
    );
    ensure!(
        drbd_field(b, "cstate")? == "SyncTarget",
        "nfs2 is not SyncTarget"
    );
    r.state(bed, "resync", "initial sync under way (1 MiB/s): nfs1 SyncSource Primary UpToDate/Inconsistent, nfs2 SyncTarget")?;
    for vm in [a, b] {
        vm.ok(&format!(
            "drbdadm disk-options --c-plan-ahead=0 --resync-rate=500M {RESOURCE}"
        ))?;
    }
    for vm in [a, b] {
        wait_for(
            vm,
            &format!("[ \"$(drbdadm dstate {RESOURCE})\" = UpToDate/UpToDate ]"),
            "UpToDate/UpToDate",
            600,
        )?;
    }
    expect_state(a, "Primary/Secondary", "UpToDate/UpToDate")?;
    expect_state(b, "Secondary/Primary", "UpToDate/UpToDate")?;
    r.state(
        bed,
        "connected-uptodate",
        "Connected UpToDate/UpToDate, nfs1 Primary, nfs2 Secondary",
    )?;
    for (vm, what) in [(a, "role"), (a, "cstate"), (a, "dstate"), (b, "role")] {
        r.capture(
            vm,
            &format!("drbdadm-{what}.connected-uptodate.{}", vm.name),
            &format!("drbdadm {what} {RESOURCE}"),
            "Connected UpToDate/UpToDate",
        )?;
    }
    r.capture(
        a,
        "drbdsetup-show.nfs1",
        "drbdsetup show",
        "running config as the kernel has it (after disk-options)",
    )?;

    // Errors with the pair healthy.
    let o = r.capture(
        b,
        "err.primary-peer-primary.nfs2",
        &format!("drbdadm primary {RESOURCE}"),
        "nfs2 primary while nfs1 is Primary",
    )?;
    expect_rc(&o, 11, "primary while the peer is Primary")?;
    a.ok(&format!(
        "mkfs.ext4 -q -F {DEVICE} && mkdir -p {MOUNTPOINT} && mount -t ext4 {DEVICE} {MOUNTPOINT}"
    ))?;
    let o = r.capture(
        a,
        "err.secondary-mounted.nfs1",
        &format!("drbdadm secondary {RESOURCE}"),
        "secondary while mounted",
    )?;
    expect_rc(&o, 11, "secondary while mounted")?;
    let o = r.capture(
        a,
        "err.down-mounted.nfs1",
        &format!("drbdadm down {RESOURCE}"),
        "down while mounted",
    )?;
    ensure!(o.rc != 0, "down of a mounted device succeeded");
    expect_state(a, "Primary/Secondary", "UpToDate/UpToDate")?;

    // nfsd with a couple of exports, on the mounted volume.
    a.ok(&format!("umount {MOUNTPOINT}"))?;
    serve(a, false)?;
    a.ok(&format!(
        "set -e; mkdir -p {MOUNTPOINT}/ro {MOUNTPOINT}/projects
echo '{MOUNTPOINT}/ro 192.0.2.20(ro,sync,no_subtree_check,root_squash)' > /etc/exports.d/ro.exports
echo '{MOUNTPOINT}/projects 192.0.2.0/24(rw,async,no_subtree_check,fsid=77) 198.51.100.0/24(ro,sync,no_subtree_check)' > /etc/exports.d/projects.exports
exportfs -r"
    ))?;
    r.capture(
        a,
        "exportfs-v.nfs1",
        "exportfs -v",
        "nfsd running, three export files",
    )?;
    r.capture(a, "exportfs-s.nfs1", "exportfs -s", "same")?;
    r.capture(a, "etab.nfs1", "cat /var/lib/nfs/etab", "same")?;
    r.capture(
        a,
        "proc-fs-nfsd-versions.nfs1",
        "cat /proc/fs/nfsd/versions",
        "nfsd running (rpc.nfsd 8)",
    )?;
    r.capture(
        a,
        "proc-fs-nfsd-exports.nfs1",
        "cat /proc/fs/nfsd/exports",
        "kernel export table before any client mounted",
    )?;
    a.ok(&format!(
        "ip addr del {SERVICE_IP}/24 dev eth0; systemctl stop nfs-server; umount {MOUNTPOINT}"
    ))?;
    r.capture(
        a,
        "proc-fs-nfsd-versions.stopped.nfs1",
        "cat /proc/fs/nfsd/versions",
        "after rpc.nfsd 0",
    )?;
    r.capture(
        a,
        "exportfs-v.stopped.nfs1",
        "exportfs -v",
        "after exportfs -au",
    )?;

    // Cut the link from nfs2: it goes StandAlone, nfs1 waits (WFConnection). Then outdate nfs2.
    r.capture(
        b,
        "drbdadm-disconnect.nfs2",
        &format!("drbdadm disconnect {RESOURCE}"),
        "disconnect",
    )?;
    wait_for(
        a,
        &format!("[ \"$(drbdadm cstate {RESOURCE})\" = WFConnection ]"),
        "WFConnection",
        60,
    )?;
    ensure!(drbd_field(b, "cstate")? == "StandAlone");
    // Writes while disconnected are tracked as out of sync (oos:).
    a.ok(&format!(
        "dd if=/dev/urandom of={DEVICE} bs=1M count=4 oflag=direct status=none"
    ))?;
    r.state(bed, "disconnected", "nfs2 ran disconnect: nfs2 StandAlone Secondary/Unknown UpToDate/DUnknown; nfs1 WFConnection Primary/Unknown with 4 MiB out of sync")?;
    r.capture(
        b,
        "drbdadm-outdate.nfs2",
        &format!("drbdadm outdate {RESOURCE}"),
        "outdate while StandAlone",
    )?;
    ensure!(drbd_field(b, "dstate")? == "Outdated/DUnknown");
    r.capture(
        b,
        "proc-drbd.outdated.nfs2",
        "cat /proc/drbd",
        "StandAlone Secondary/Unknown Outdated/DUnknown",
    )?;
    r.capture(
        b,
        "drbdadm-status.outdated.nfs2",
        &format!("drbdadm status {RESOURCE}"),
        "same",
    )?;
    let o = r.capture(
        b,
        "err.primary-outdated.nfs2",
        &format!("drbdadm primary {RESOURCE}"),
        "primary on Outdated data",
    )?;
    ensure!(o.rc != 0, "primary on Outdated data succeeded");

    // Reconnect: nfs1 resyncs the 4 MiB it wrote; both UpToDate again.
    b.ok(&format!("drbdadm connect {RESOURCE}"))?;
    for vm in [a, b] {
        wait_for(
            vm,
            &format!("[ \"$(drbdadm dstate {RESOURCE})\" = UpToDate/UpToDate ]"),
            "UpToDate/UpToDate",
            300,
        )?;
    }
    expect_state(b, "Secondary/Primary", "UpToDate/UpToDate")?;

    // Roles swapped: the other direction of the same state.
    a.ok(&format!("drbdadm secondary {RESOURCE}"))?;
    r.state(
        bed,
        "connected-both-secondary",
        "Connected Secondary/Secondary UpToDate/UpToDate",
    )?;
    b.ok(&format!("drbdadm primary {RESOURCE}"))?;
    expect_state(b, "Primary/Secondary", "UpToDate/UpToDate")?;
    r.state(
        bed,
        "connected-uptodate-swapped",
        "Connected UpToDate/UpToDate, nfs2 Primary, nfs1 Secondary",
    )?;
    b.ok(&format!("drbdadm secondary {RESOURCE}"))?;
    r.capture(
        a,
        "drbdadm-down.nfs1",
        &format!("drbdadm down {RESOURCE}"),
        "down of a Secondary",
    )?;
    wait_for(
        b,
        &format!("[ \"$(drbdadm cstate {RESOURCE})\" = WFConnection ]"),
        "WFConnection",
        60,
    )?;
    r.capture(
        a,
        "proc-drbd.down.nfs1",
        "cat /proc/drbd",
        "after down: no minor",
    )?;
    r.capture(
        a,
        "err.role-after-down.nfs1",
        &format!("drbdadm role {RESOURCE}"),
        "after down",
    )?;
    r.capture(
        b,
        "proc-drbd.peer-down.nfs2",
        "cat /proc/drbd",
        "peer ran down: WFConnection Secondary/Unknown UpToDate/DUnknown",
    )?;
    r.capture(
        b,
        "drbdadm-status.peer-down.nfs2",
        &format!("drbdadm status {RESOURCE}"),
        "same",
    )?;

    // `volume init --skip-initial-sync`: 8.4's `new-current-uuid --clear-bitmap`, refused
    // where it must be and accepted on two Connected Secondaries with fresh meta-data.
    let nc = format!("drbdadm -- --clear-bitmap new-current-uuid {RESOURCE}");
    let o = r.capture(
        a,
        "err.new-current-uuid-not-up.nfs1",
        &nc,
        "configured, not up",
    )?;
    ensure!(
        o.rc != 0,
        "new-current-uuid on a resource that is not up succeeded"
    );
    b.ok(&format!("drbdadm down {RESOURCE}"))?;
    for vm in [a, b] {
        vm.ok(&format!("drbdadm create-md --force {RESOURCE}"))?;
    }
    a.ok(&format!("drbdadm up {RESOURCE}"))?;
    wait_for(
        a,
        &format!("[ \"$(drbdadm cstate {RESOURCE})\" = WFConnection ]"),
        "WFConnection",
        60,
    )?;
    let o = r.capture(
        a,
        "err.new-current-uuid-wfconnection.nfs1",
        &nc,
        "fresh meta-data, peer not up: WFConnection Secondary/Unknown Inconsistent/DUnknown",
    )?;
    ensure!(
        drbd_field(a, "dstate")? == "Inconsistent/DUnknown",
        "new-current-uuid without the peer changed the disk state (rc {})",
        o.rc
    );
    b.ok(&format!("drbdadm up {RESOURCE}"))?;
    for vm in [a, b] {
        wait_for(
            vm,
            &format!("[ \"$(drbdadm cstate {RESOURCE})\" = Connected ]"),
            "Connected",
            120,
        )?;
    }
    expect_state(a, "Secondary/Secondary", "Inconsistent/Inconsistent")?;
    let o = r.capture(
        a,
        "drbdadm-new-current-uuid.connected-inconsistent.nfs1",
        &nc,
        "fresh meta-data on both, Connected Secondary/Secondary Inconsistent/Inconsistent",
    )?;
    expect_rc(&o, 0, "new-current-uuid on two Connected Secondaries")?;
    for vm in [a, b] {
        wait_for(
            vm,
            &format!("[ \"$(drbdadm dstate {RESOURCE})\" = UpToDate/UpToDate ]"),
            "UpToDate/UpToDate",
            60,
        )?;
    }
    r.state(
        bed,
        "skip-initial-sync",
        "after new-current-uuid --clear-bitmap: Connected Secondary/Secondary UpToDate/UpToDate, no resync",
    )?;
    r.finish(&versions)
}
