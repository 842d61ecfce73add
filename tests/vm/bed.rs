//! The VM group: two storage nodes and an NFS client booted with virtme-ng (Debian's kernel,
//! this machine's root shared read-only, TCG), joined by a bridge of tap devices inside a
//! network namespace of our own, so nothing they send can leave the machine.
//!
//! Host ↔ guest control goes through a read-write 9p share per guest and the guest agent
//! (guest/agent.sh): the host renames a script into `req/`, the agent runs it and renames the
//! exit code into `res/` last. Plain files keep the protocol inspectable after a failure
//! (every command and its output is also appended to target/vm-logs/NODE.commands.log).

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::bmc::Bmc;

/// TEST-NET-1 (RFC 5737): documentation addresses, never routed.
pub const PREFIX: &str = "192.0.2";
pub const SERVICE_IP: &str = "192.0.2.100";
/// The host's own address on the bridge: where etcd listens for the guests.
pub const GATEWAY: &str = "192.0.2.1";

/// Storage node data disks: big enough that a throttled resync can be caught mid-way.
pub const DISK_MIB: u64 = 128;

/// Data disks per storage node: `/dev/vda` (what most scenarios use) and three more
/// (`/dev/vdb`…`/dev/vdd`) for scenarios with several DRBD resources.
pub const DATA_DISKS: usize = 4;

/// The guest's device name of data disk `i` (virtio-blk disks are named in PCI order).
pub fn data_disk(i: usize) -> String {
    format!("/dev/vd{}", (b'a' + i as u8) as char)
}

/// Its serial (`/sys/block/vdX/serial`), to check that the names are in that order.
pub fn data_disk_serial(i: usize) -> String {
    if i == 0 {
        "nfsdata".into()
    } else {
        format!("nfsdata{i}")
    }
}

pub struct NodeSpec {
    pub name: &'static str,
    pub host: u8,
    pub disk: bool,
}

pub const NODES: [NodeSpec; 3] = [
    NodeSpec {
        name: "nfs1",
        host: 11,
        disk: true,
    },
    NodeSpec {
        name: "nfs2",
        host: 12,
        disk: true,
    },
    NodeSpec {
        name: "client",
        host: 20,
        disk: false,
    },
];

pub fn node_address(name: &str) -> String {
    let spec = NODES.iter().find(|n| n.name == name).expect("known node");
    format!("{PREFIX}.{}", spec.host)
}

/// What the bed needs from the host, found once.
#[derive(Clone)]
pub struct Tools {
    pub vng: PathBuf,
    pub kernel: PathBuf,
    /// What the IPMI fence lacks here (ipmi_sim, ipmitool); empty when the storage nodes get
    /// BMCs. Never missing under CI=true: that is a failure like any other missing tool.
    pub ipmi_missing: Vec<&'static str>,
}

impl Tools {
    /// Said once at boot when the fence cannot be IPMI here.
    pub fn fence_note(&self) -> Option<String> {
        (!self.ipmi_missing.is_empty()).then(|| {
            format!(
                "no IPMI fence here, missing: {} (scripts/vm-deps installs them); the fence is the \
                 bed's power switch over the guests' 9p shares instead (tests/vm/guest/fence)",
                self.ipmi_missing.join(", ")
            )
        })
    }
}

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Everything missing, as one message naming what to install; Ok when the bed can run.
pub fn find_tools() -> Result<Tools, String> {
    let mut missing = Vec::new();
    if !nix::unistd::geteuid().is_root() {
        missing.push("root (network namespaces, tap devices)".to_string());
    }
    if which::which("qemu-system-x86_64").is_err() {
        missing.push("qemu-system-x86_64 (Debian package qemu-system-x86)".into());
    }
    if which::which("ip").is_err() {
        missing.push("ip (Debian package iproute2)".into());
    }
    if !Path::new("/dev/net/tun").exists() {
        missing.push("/dev/net/tun (the tun module)".into());
    }
    let vng = std::env::var_os("NFS_MANAGE_VNG")
        .map(PathBuf::from)
        .filter(|p| p.exists())
        .or_else(|| which::which("vng").ok())
        .or_else(|| {
            let p = PathBuf::from("/opt/nfs-manage-venv/bin/vng");
            p.exists().then_some(p)
        });
    if vng.is_none() {
        missing.push("vng (virtme-ng from PyPI, in /opt/nfs-manage-venv)".into());
    }
    let kernel = find_kernel();
    if kernel.is_none() {
        missing.push(
            "a kernel in /boot whose modules include drbd.ko (Debian package linux-image-amd64)"
                .into(),
        );
    }
    // The fence is the production one (ipmitool against a BMC) wherever it can be; only
    // outside CI may the bed fall back to its own power switch.
    let ipmi_missing = crate::bmc::missing();
    if ci() {
        missing.extend(ipmi_missing.iter().map(|m| m.to_string()));
    }
    for tool in [
        "drbdadm",
        "rpc.nfsd",
        "exportfs",
        "mount.nfs",
        "mkfs.ext4",
        "blkdiscard",
    ] {
        if which::which(tool).is_err() {
            missing.push(format!(
                "{tool} (Debian packages drbd-utils, nfs-kernel-server, e2fsprogs, util-linux)"
            ));
        }
    }
    match (vng, kernel) {
        (Some(vng), Some(kernel)) if missing.is_empty() => Ok(Tools {
            vng,
            kernel,
            ipmi_missing,
        }),
        _ => Err(format!(
            "the VM test bed cannot run here; missing:\n  - {}\ninstall them with (as root): scripts/vm-deps",
            missing.join("\n  - ")
        )),
    }
}

/// Newest /boot/vmlinuz-* with a DRBD module, or NFS_MANAGE_VM_KERNEL.
fn find_kernel() -> Option<PathBuf> {
    if let Some(k) = std::env::var_os("NFS_MANAGE_VM_KERNEL") {
        let k = PathBuf::from(k);
        return k.exists().then_some(k);
    }
    let mut found: Vec<(PathBuf, String)> = fs::read_dir("/boot")
        .ok()?
        .filter_map(|e| {
            let path = e.ok()?.path();
            let v = path
                .file_name()?
                .to_str()?
                .strip_prefix("vmlinuz-")?
                .to_string();
            let has_drbd = Command::new("find")
                .args([
                    &format!("/lib/modules/{v}/kernel/drivers/block/drbd"),
                    "-name",
                    "drbd.ko*",
                ])
                .stderr(Stdio::null())
                .output()
                .is_ok_and(|o| !o.stdout.is_empty());
            has_drbd.then_some((path, v))
        })
        .collect();
    found.sort_by(|a, b| a.1.cmp(&b.1));
    found.pop().map(|(path, _)| path)
}

/// Which build of nfs-manage the guests run: NFS_MANAGE_VM_BUILD=debug|release, by default
/// BUILD_DEFAULT. Under TCG the release build halves nfs-manage's own time in a run, but whole
/// scenarios gain only ~5 % (they wait mostly for DRBD, nfsd and the client), about what the
/// extra release build costs the suite: so the debug binary `cargo test` built already
/// (BENCHMARKS.md, "debug vs release under TCG").
pub const BUILD_DEFAULT: &str = "debug";

static NFS_MANAGE_BIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The nfs-manage binary the scenarios run in the guests (`choose_binary` picks it once).
pub fn nfs_manage_bin() -> &'static str {
    NFS_MANAGE_BIN
        .get()
        .map(String::as_str)
        .unwrap_or(env!("CARGO_BIN_EXE_nfs-manage"))
}

/// The debug binary `cargo test` built for this target.
pub fn debug_bin() -> &'static str {
    env!("CARGO_BIN_EXE_nfs-manage")
}

/// The release binary, built into the same target dir (a no-op when it is current).
pub fn release_bin() -> Result<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(&cargo)
        .args(["build", "--locked", "--release", "--bin", "nfs-manage"])
        .current_dir(manifest_dir())
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {cargo} build --release --bin nfs-manage"))?;
    if !out.status.success() {
        bail!(
            "{cargo} build --release --bin nfs-manage failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let path = target_dir().join("release/nfs-manage");
    if !path.exists() {
        bail!("{} missing after the release build", path.display());
    }
    Ok(path.display().to_string())
}

/// Pick the build the guests run (NFS_MANAGE_VM_BUILD), building the release binary if that
/// is the one; its path.
pub fn choose_binary() -> Result<&'static str> {
    let build = std::env::var("NFS_MANAGE_VM_BUILD").unwrap_or_else(|_| BUILD_DEFAULT.into());
    let path = match build.as_str() {
        "debug" => debug_bin().to_string(),
        "release" => release_bin()?,
        other => bail!("NFS_MANAGE_VM_BUILD={other:?}: expected debug or release"),
    };
    Ok(NFS_MANAGE_BIN.get_or_init(|| path))
}

pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir().join("target"))
}

pub fn logs_dir() -> PathBuf {
    target_dir().join("vm-logs")
}

/// One command's result in a guest.
#[derive(Debug)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
    pub rc: i32,
}

pub struct Vm {
    pub name: &'static str,
    pub address: String,
    share: PathBuf,
    /// Behind a lock: the power switch turns a guest off and on again during a scenario.
    child: std::sync::Mutex<Option<Child>>,
    console: PathBuf,
    transcript: PathBuf,
    seq: AtomicU64,
    pub kernel_release: String,
}

impl Vm {
    /// Run a bash script as root in the guest; Err only when the agent does not answer.
    pub fn run(&self, script: &str, timeout: Duration) -> Result<Output> {
        let n = self.seq.fetch_add(1, Ordering::SeqCst);
        let id = format!("{n:06}");
        let staged = self.share.join(format!("staging-{id}.sh"));
        let guest_timeout = timeout.as_secs().max(1);
        fs::write(&staged, format!("#timeout={guest_timeout}\n{script}\n"))?;
        fs::rename(&staged, self.share.join("req").join(format!("{id}.sh")))?;
        let res = self.share.join("res");
        let rc_path = res.join(format!("{id}.rc"));
        let started = Instant::now();
        // The guest enforces the timeout itself (timeout -k 5); allow for its kill and for
        // a slow 9p round trip before calling the agent dead.
        let deadline = timeout + Duration::from_secs(30);
        let rc = loop {
            if let Ok(s) = fs::read_to_string(&rc_path) {
                break s.trim().parse::<i32>().unwrap_or(-1);
            }
            if started.elapsed() > deadline {
                self.log_transcript(script, None, started.elapsed());
                bail!(
                    "{}: no answer from the guest agent after {:?} for:\n{script}\nconsole: {}",
                    self.name,
                    started.elapsed(),
                    self.console.display()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let read = |ext: &str| {
            let p = res.join(format!("{id}.{ext}"));
            let s = fs::read(&p).map(|b| String::from_utf8_lossy(&b).into_owned());
            let _ = fs::remove_file(&p);
            s.unwrap_or_default()
        };
        let out = Output {
            stdout: read("out"),
            stderr: read("err"),
            rc,
        };
        let _ = fs::remove_file(&rc_path);
        self.log_transcript(script, Some(&out), started.elapsed());
        Ok(out)
    }

    /// Run and require exit 0; the error carries the script, both streams and the code.
    pub fn ok(&self, script: &str) -> Result<String> {
        let out = self.run(script, Duration::from_secs(300))?;
        if out.rc != 0 {
            bail!(
                "{}: exit {} from:\n{script}\n--- stdout\n{}--- stderr\n{}",
                self.name,
                out.rc,
                out.stdout,
                out.stderr
            );
        }
        Ok(out.stdout)
    }

    /// Run with the default timeout, any exit code.
    pub fn sh(&self, script: &str) -> Result<Output> {
        self.run(script, Duration::from_secs(300))
    }

    fn log_transcript(&self, script: &str, out: Option<&Output>, took: Duration) {
        let mut t = String::new();
        let _ = writeln!(t, "$ {}", script.trim_end().replace('\n', "\n  "));
        match out {
            Some(o) => {
                t.push_str(&o.stdout);
                if !o.stderr.is_empty() {
                    let _ = writeln!(t, "[stderr]\n{}", o.stderr.trim_end());
                }
                let _ = writeln!(t, "[rc={} in {:.1}s]", o.rc, took.as_secs_f64());
            }
            None => {
                let _ = writeln!(t, "[no answer after {:.1}s]", took.as_secs_f64());
            }
        }
        if let Ok(mut f) = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.transcript)
        {
            let _ = f.write_all(t.as_bytes());
        }
    }

    pub fn console_tail(&self, lines: usize) -> String {
        let text = fs::read_to_string(&self.console).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

pub struct Bed {
    pub netns: String,
    pub vms: Vec<Vm>,
    pub boot_time: Duration,
    tools: Tools,
    /// The storage nodes' BMCs; empty when the fence is the bed's own switch (see Tools).
    bmcs: Vec<Bmc>,
}

impl Bed {
    pub fn vm(&self, name: &str) -> &Vm {
        self.vms
            .iter()
            .find(|v| v.name == name)
            .expect("known node")
    }

    /// Boot the whole group at once (they boot in parallel; TCG makes each take tens of
    /// seconds) and wait until every agent is up.
    pub fn boot(tools: &Tools) -> Result<Bed> {
        let run_dir = target_dir().join("vm-run");
        fs::create_dir_all(&run_dir)?;
        fs::create_dir_all(logs_dir())?;
        kill_stale(&run_dir);
        let netns = format!("nfsm-vm-{}", std::process::id());
        setup_network(&netns)?;
        fs::write(run_dir.join("netns"), &netns)?;
        let mut bed = Bed {
            netns,
            vms: Vec::new(),
            boot_time: Duration::ZERO,
            tools: tools.clone(),
            bmcs: Vec::new(),
        };
        // The BMCs first: each qemu connects to its own at start.
        if tools.ipmi_missing.is_empty() {
            let dir = run_dir.join("bmc");
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir)?;
            crate::bmc::write_password(&bed.bmc_password_file())?;
            for spec in NODES.iter().filter(|n| n.disk) {
                let bmc = Bmc::start(
                    &bed.netns,
                    spec.name,
                    &dir.join(spec.name),
                    &bed.bmc_password_file(),
                )?;
                bed.bmcs.push(bmc);
            }
        }
        let started = Instant::now();
        for spec in &NODES {
            let vm = bed.start_vm(spec, &run_dir)?;
            bed.vms.push(vm);
        }
        for vm in &mut bed.vms {
            vm.kernel_release = wait_ready(vm, started)?;
        }
        for bmc in &bed.bmcs {
            bmc.wait_on(Duration::from_secs(120))?;
        }
        bed.boot_time = started.elapsed();
        Ok(bed)
    }

    /// The BMC of a storage node, when the bed runs them.
    pub fn bmc(&self, name: &str) -> Option<&Bmc> {
        self.bmcs.iter().find(|b| b.node == name)
    }

    /// Whether the storage nodes are fenced through their BMCs (else the bed's 9p switch).
    pub fn ipmi(&self) -> bool {
        !self.bmcs.is_empty()
    }

    /// The BMCs' password file on the host (`ipmitool -f`); guests copy it from here.
    pub fn bmc_password_file(&self) -> PathBuf {
        target_dir().join("vm-run/bmc/password")
    }

    /// The power switch, on: boot a guest that was turned off again, with the disk it had
    /// (a new agent, a fresh tmpfs /etc and /run, as after a real power cycle).
    pub fn power_on(&self, name: &str) -> Result<Duration> {
        let vm = self.vm(name);
        let spec = NODES.iter().find(|n| n.name == name).expect("known node");
        if self.powered(name) {
            bail!("{name} is still on");
        }
        let started = Instant::now();
        let child = self.spawn_vm(spec, &target_dir().join("vm-run"), true)?;
        let pgid = child.id() as i32;
        *vm.child.lock().expect("not poisoned") = Some(child);
        if let Some(i) = NODES.iter().position(|n| n.name == name)
            && GROUPS[i].load(Ordering::SeqCst) != 0
        {
            GROUPS[i].store(pgid, Ordering::SeqCst);
        }
        wait_ready(vm, started)?;
        if let Some(bmc) = self.bmc(name) {
            bmc.wait_on(Duration::from_secs(120))?;
        }
        Ok(started.elapsed())
    }

    fn start_vm(&self, spec: &NodeSpec, run_dir: &Path) -> Result<Vm> {
        let child = self.spawn_vm(spec, run_dir, false)?;
        let dir = run_dir.join(spec.name);
        Ok(Vm {
            name: spec.name,
            address: format!("{PREFIX}.{}", spec.host),
            share: dir.join("share"),
            child: std::sync::Mutex::new(Some(child)),
            console: logs_dir().join(format!("{}.console.log", spec.name)),
            transcript: logs_dir().join(format!("{}.commands.log", spec.name)),
            seq: AtomicU64::new(0),
            kernel_release: String::new(),
        })
    }
}

/// Wait until the guest's agent is up; its kernel release.
fn wait_ready(vm: &Vm, started: Instant) -> Result<String> {
    // Generous: three TCG guests share two host cores with whatever else runs here.
    let deadline = Duration::from_secs(900);
    {
        let ready = vm.share.join("ready");
        loop {
            if let Ok(r) = fs::read_to_string(&ready) {
                return Ok(r.trim().to_string());
            }
            if let Some(child) = vm.child.lock().expect("not poisoned").as_mut()
                && let Ok(Some(st)) = child.try_wait()
            {
                bail!(
                    "{} exited during boot ({st}); console {}:\n{}",
                    vm.name,
                    vm.console.display(),
                    vm.console_tail(40)
                );
            }
            if started.elapsed() > deadline {
                bail!(
                    "{} did not come up within {deadline:?}; console {}:\n{}",
                    vm.name,
                    vm.console.display(),
                    vm.console_tail(40)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Bed {
    /// Start a guest's vng/qemu. `power_cycle`: the guest ran before; keep its disk, tap
    /// device and logs (the console is appended to).
    fn spawn_vm(&self, spec: &NodeSpec, run_dir: &Path, power_cycle: bool) -> Result<Child> {
        let tools = &self.tools;
        let dir = run_dir.join(spec.name);
        let share = dir.join("share");
        let console = logs_dir().join(format!("{}.console.log", spec.name));
        let transcript = logs_dir().join(format!("{}.commands.log", spec.name));
        let address = format!("{PREFIX}.{}", spec.host);
        let tap = format!("tap-{}", spec.name);
        if power_cycle {
            let _ = fs::remove_dir_all(&share);
        } else {
            let _ = fs::remove_dir_all(&dir);
            let _ = fs::remove_file(&transcript);
        }
        fs::create_dir_all(share.join("req"))?;
        fs::create_dir_all(share.join("res"))?;
        if !power_cycle {
            run_host(&[
                "ip",
                "netns",
                "exec",
                &self.netns,
                "ip",
                "tuntap",
                "add",
                &tap,
                "mode",
                "tap",
            ])?;
        }
        run_host(&[
            "ip",
            "netns",
            "exec",
            &self.netns,
            "ip",
            "link",
            "set",
            &tap,
            "master",
            "br0",
            "up",
        ])?;

        let mut qemu = format!(
            "-netdev tap,id=n0,ifname={tap},script=no,downscript=no \
             -device virtio-net-pci,netdev=n0,mac=52:54:00:00:02:{:02x}",
            spec.host
        );
        if spec.disk && self.tools.ipmi_missing.is_empty() {
            let _ = write!(qemu, " {}", crate::bmc::qemu_opts(spec.name));
        }
        // virtme's 9p root has no page cache: each exec of the 81 MB debug binary reads it
        // again (0.6-0.9 s under TCG, 0.2 s cached). The binary's directory is shared once
        // more, read-only, for the agent to mount with caching over the same path; the build
        // does not change while the guests run.
        let bin_dir = Path::new(nfs_manage_bin())
            .parent()
            .context("the nfs-manage binary has no directory")?
            .to_path_buf();
        if spec.disk {
            let _ = write!(
                qemu,
                " -fsdev local,id=nfsmbin,path={},security_model=none,readonly=on \
                 -device virtio-9p-pci,fsdev=nfsmbin,mount_tag=nfsmbin",
                bin_dir.display()
            );
        }
        if spec.disk {
            // Sparse raw files: all zeros is the pristine state, and the guest gets it back
            // with blkdiscard (discard=unmap punches holes in the file), so no reboot or
            // image copy is needed between scenarios.
            for i in 0..DATA_DISKS {
                let disk = dir.join(if i == 0 {
                    "data.raw".to_string()
                } else {
                    format!("data{i}.raw")
                });
                if !power_cycle {
                    let f = fs::File::create(&disk)?;
                    f.set_len(DISK_MIB << 20)?;
                }
                let id = if i == 0 {
                    "data".to_string()
                } else {
                    format!("data{i}")
                };
                let _ = write!(
                    qemu,
                    " -drive if=none,id={id},file={},format=raw,discard=unmap,cache=unsafe \
                     -device virtio-blk-pci,drive={id},serial={}",
                    disk.display(),
                    data_disk_serial(i)
                );
            }
        }
        let agent = manifest_dir().join("tests/vm/guest/agent.sh");
        let cached = if spec.disk {
            bin_dir.display().to_string()
        } else {
            "-".to_string()
        };
        let exec = format!(
            "bash {} {} {address}/24 {cached}",
            agent.display(),
            share.display()
        );
        let log = fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(power_cycle)
            .truncate(!power_cycle)
            .open(&console)?;
        let vng_dir = tools.vng.parent().unwrap_or(Path::new("/"));
        let path = format!(
            "{}:{}",
            vng_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.netns, "nice", "-n", "10"])
            .arg(&tools.vng)
            .args(["--run"])
            .arg(&tools.kernel)
            .args([
                "--disable-kvm",
                "--disable-microvm",
                "--verbose",
                "--name",
                spec.name,
                "--memory",
                "768M",
                "--cpus",
                "1",
                "--rwdir",
            ])
            .arg(&share)
            .arg(format!("--qemu-opts={qemu}"))
            .args(["--exec", &exec])
            .env("PATH", path)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            // Own process group: shutdown can end vng and its qemu together, and only them.
            .process_group(0);
        let child = cmd.spawn().context("starting vng")?;
        fs::write(dir.join("pgid"), child.id().to_string())?;
        Ok(child)
    }

    /// Ask each agent to stop (the guest then powers off), then end whatever is left.
    pub fn shutdown(&mut self) {
        for vm in &self.vms {
            let _ = fs::write(vm.share.join("stop"), "");
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        for vm in &mut self.vms {
            if let Some(mut child) = vm.child.get_mut().expect("not poisoned").take() {
                loop {
                    match child.try_wait() {
                        Ok(Some(_)) => break,
                        _ if Instant::now() > deadline => {
                            kill_group(child.id() as i32);
                            let _ = child.wait();
                            break;
                        }
                        _ => std::thread::sleep(Duration::from_millis(200)),
                    }
                }
                // qemu may outlive vng if vng was the one that ended.
                kill_group(child.id() as i32);
            }
            if let Some(parent) = vm.share.parent() {
                let _ = fs::remove_file(parent.join("pgid"));
            }
        }
        for bmc in &mut self.bmcs {
            bmc.stop();
        }
        let _ = run_host(&["ip", "netns", "del", &self.netns]);
        let _ = fs::remove_file(target_dir().join("vm-run/netns"));
        for g in GROUPS.iter().chain(&BMC_GROUPS) {
            g.store(0, Ordering::SeqCst);
        }
    }
}

impl Drop for Bed {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Process groups of the running guests, for the SIGINT/SIGTERM handler (0 = none).
static GROUPS: [AtomicI32; NODES.len()] = [const { AtomicI32::new(0) }; NODES.len()];
/// The process group of the bed's etcd while one runs (0 = none).
static ETCD_GROUP: AtomicI32 = AtomicI32::new(0);
/// Process groups of the BMCs (ipmi_sim), by node (0 = none).
static BMC_GROUPS: [AtomicI32; NODES.len()] = [const { AtomicI32::new(0) }; NODES.len()];

extern "C" fn on_interrupt(_: nix::libc::c_int) {
    for g in GROUPS.iter().chain(&BMC_GROUPS).chain([&ETCD_GROUP]) {
        let pgid = g.load(Ordering::SeqCst);
        if pgid > 0 {
            // SAFETY: kill(2) is async-signal-safe.
            unsafe { nix::libc::kill(-pgid, nix::libc::SIGKILL) };
        }
    }
    // SAFETY: _exit(2) is async-signal-safe.
    unsafe { nix::libc::_exit(130) };
}

/// An interrupted run (Ctrl-C) must not leave guests eating the shared cores: their qemu run
/// in their own process groups, which the terminal's signal does not reach.
pub fn install_interrupt_handler(bed: &Bed) {
    for (g, vm) in GROUPS.iter().zip(&bed.vms) {
        if let Some(c) = vm.child.lock().expect("not poisoned").as_ref() {
            g.store(c.id() as i32, Ordering::SeqCst);
        }
    }
    for (g, spec) in BMC_GROUPS.iter().zip(&NODES) {
        if let Some(pgid) = bed.bmc(spec.name).and_then(Bmc::pgid) {
            g.store(pgid, Ordering::SeqCst);
        }
    }
    let action = nix::sys::signal::SigAction::new(
        nix::sys::signal::SigHandler::Handler(on_interrupt),
        nix::sys::signal::SaFlags::empty(),
        nix::sys::signal::SigSet::empty(),
    );
    for sig in [
        nix::sys::signal::Signal::SIGINT,
        nix::sys::signal::Signal::SIGTERM,
    ] {
        // SAFETY: the handler only calls async-signal-safe functions.
        let _ = unsafe { nix::sys::signal::sigaction(sig, &action) };
    }
}

pub fn kill_group(pgid: i32) {
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(pgid),
        nix::sys::signal::Signal::SIGKILL,
    );
}

/// A previous run that was interrupted leaves its process groups' ids behind: end those
/// (and only those) so they do not keep holding cores.
fn kill_stale(run_dir: &Path) {
    if let Ok(ns) = fs::read_to_string(run_dir.join("netns")) {
        let _ = run_host(&["ip", "netns", "del", ns.trim()]);
        let _ = fs::remove_file(run_dir.join("netns"));
    }
    for f in NODES
        .iter()
        .flat_map(|spec| {
            [
                run_dir.join(spec.name).join("pgid"),
                run_dir.join("bmc").join(spec.name).join("pgid"),
            ]
        })
        .chain([run_dir.join("etcd.pgid")])
    {
        if let Ok(s) = fs::read_to_string(&f)
            && let Ok(pgid) = s.trim().parse::<i32>()
        {
            kill_group(pgid);
            let _ = fs::remove_file(f);
        }
    }
}

fn setup_network(netns: &str) -> Result<()> {
    let _ = run_host(&["ip", "netns", "del", netns]);
    run_host(&["ip", "netns", "add", netns])?;
    let ns = |args: &[&str]| {
        let mut v = vec!["ip", "netns", "exec", netns];
        v.extend_from_slice(args);
        run_host(&v)
    };
    ns(&["ip", "link", "set", "lo", "up"])?;
    ns(&["ip", "link", "add", "br0", "type", "bridge"])?;
    ns(&["ip", "link", "set", "br0", "up"])?;
    ns(&["ip", "addr", "add", &format!("{GATEWAY}/24"), "dev", "br0"])?;
    Ok(())
}

fn run_host(argv: &[&str]) -> Result<()> {
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .with_context(|| format!("running {argv:?}"))?;
    if !out.status.success() {
        bail!(
            "{argv:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

impl Bed {
    /// A command on the host inside the bed's network namespace (the bridge's side).
    pub fn in_netns(&self, argv: &[&str]) -> Result<String> {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.netns])
            .args(argv)
            .output()
            .with_context(|| format!("running {argv:?} in {}", self.netns))?;
        if !out.status.success() {
            bail!(
                "{argv:?} in {} failed ({}): {}",
                self.netns,
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Take a guest's port on the bridge down or up: the guest runs on, cut off from the
    /// segment (what a hung NIC or a pulled cable looks like to its peers).
    pub fn set_link(&self, name: &str, up: bool) -> Result<()> {
        let tap = format!("tap-{name}");
        self.in_netns(&["ip", "link", "set", &tap, if up { "up" } else { "down" }])?;
        Ok(())
    }

    /// The power switch: end the guest's qemu (SIGKILL to its process group, as abrupt as
    /// pulling the plug) and return once no live process of the group is left.
    pub fn power_off(&self, name: &str) -> Result<()> {
        let vm = self.vm(name);
        let pgid = vm
            .child
            .lock()
            .expect("not poisoned")
            .as_ref()
            .map(|c| c.id() as i32);
        let Some(pgid) = pgid else {
            bail!("{name}: not started by this bed");
        };
        kill_group(pgid);
        let started = Instant::now();
        while group_alive(pgid) {
            if started.elapsed() > Duration::from_secs(30) {
                bail!("{name}: qemu's process group {pgid} still alive 30 s after SIGKILL");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// Whether a guest's qemu still runs (false once it was powered off, by the bed or its BMC).
    pub fn powered(&self, name: &str) -> bool {
        self.vm(name)
            .child
            .lock()
            .expect("not poisoned")
            .as_ref()
            .is_some_and(|c| group_alive(c.id() as i32))
    }

    /// While `stop` is unset, let fences happen and note them: the storage nodes that go off
    /// meanwhile, in that order (one more look after `stop`). With BMCs there is nothing to
    /// serve: the guest's ipmitool talks to the victim's ipmi_sim, which powers its qemu off.
    /// With the bed's own switch, a guest's fence command (guest/fence) writes the victim's
    /// name into `fence-request` in its own share; the host turns the victim off with
    /// `power_off` and answers with `fence-done` ("off" or the error).
    pub fn watch_fences(&self, stop: &std::sync::atomic::AtomicBool) -> Vec<String> {
        let mut on: Vec<&str> = NODES
            .iter()
            .filter(|n| n.disk && self.powered(n.name))
            .map(|n| n.name)
            .collect();
        let mut off = Vec::new();
        loop {
            let last = stop.load(Ordering::SeqCst);
            if !self.ipmi() {
                self.serve_switch_requests();
            }
            on.retain(|name| {
                let still = self.powered(name);
                if !still {
                    off.push(name.to_string());
                }
                still
            });
            if last {
                return off;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn serve_switch_requests(&self) {
        for vm in &self.vms {
            let req = vm.share.join("fence-request");
            let Ok(victim) = fs::read_to_string(&req) else {
                continue;
            };
            let victim = victim.trim().to_string();
            let _ = fs::remove_file(&req);
            let answer = if NODES.iter().any(|n| n.name == victim) {
                match self.power_off(&victim) {
                    Ok(()) => "off".to_string(),
                    Err(e) => format!("{e:#}"),
                }
            } else {
                format!("no such node: {victim}")
            };
            let tmp = vm.share.join("fence-done.tmp");
            let _ = fs::write(&tmp, format!("{answer}\n"));
            let _ = fs::rename(&tmp, vm.share.join("fence-done"));
        }
    }
}

/// A live (not zombie) process in process group `pgid`.
fn group_alive(pgid: i32) -> bool {
    let Ok(dir) = fs::read_dir("/proc") else {
        return false;
    };
    dir.filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter_map(|e| fs::read_to_string(e.path().join("stat")).ok())
        .any(|stat| {
            // "pid (comm) state ppid pgrp …": comm may hold spaces, so read after the last ')'.
            let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
            let mut f = rest.split_whitespace();
            let state = f.next().unwrap_or("");
            let pgrp = f.nth(1).and_then(|p| p.parse::<i32>().ok());
            pgrp == Some(pgid) && state != "Z" && state != "X"
        })
}

/// A real etcd (v3 API) on the host's side of the bridge (GATEWAY:2379), for the cluster
/// lock; fresh data per start, killed on drop.
pub struct Etcd {
    netns: String,
    child: Option<Child>,
    dir: PathBuf,
}

impl Etcd {
    pub fn start(bed: &Bed) -> Result<Etcd> {
        let dir = target_dir().join("vm-run/etcd");
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir)?;
        let mut e = Etcd {
            netns: bed.netns.clone(),
            child: None,
            dir,
        };
        e.spawn(false)?;
        Ok(e)
    }

    /// Start etcd on `self.dir`'s data and wait until it answers. `append`: the log of an
    /// earlier run of it is kept (a restart, see `restart`).
    fn spawn(&mut self, append: bool) -> Result<()> {
        let log = fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .open(logs_dir().join("etcd.log"))?;
        let client = format!("http://{GATEWAY}:2379");
        let child = Command::new("ip")
            .args(["netns", "exec", &self.netns, "nice", "-n", "5", "etcd"])
            .args(["--name", "vm-bed", "--data-dir"])
            .arg(self.dir.join("data"))
            .args(["--listen-client-urls", &client])
            .args(["--advertise-client-urls", &client])
            .args(["--listen-peer-urls", "http://127.0.0.1:2380"])
            .args(["--initial-advertise-peer-urls", "http://127.0.0.1:2380"])
            .args(["--initial-cluster", "vm-bed=http://127.0.0.1:2380"])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .context("starting etcd")?;
        let pgid = child.id() as i32;
        fs::write(target_dir().join("vm-run/etcd.pgid"), pgid.to_string())?;
        ETCD_GROUP.store(pgid, Ordering::SeqCst);
        self.child = Some(child);
        for _ in 0..150 {
            if self.ctl(&["endpoint", "health"]).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        bail!(
            "etcd did not answer on {client}; see {}",
            logs_dir().join("etcd.log").display()
        )
    }

    /// etcd stops (SIGKILL, as a crashed or powered-off etcd host): its data stays.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            kill_group(c.id() as i32);
            let _ = c.wait();
        }
        ETCD_GROUP.store(0, Ordering::SeqCst);
    }

    /// Start it again on the data it had.
    pub fn restart(&mut self) -> Result<()> {
        self.kill();
        self.spawn(true)
    }

    pub fn endpoint(&self) -> String {
        format!("http://{GATEWAY}:2379")
    }

    /// etcdctl from the host's side of the bridge.
    pub fn ctl(&self, args: &[&str]) -> Result<String> {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.netns, "etcdctl"])
            .arg(format!("--endpoints={}", self.endpoint()))
            .args(["--dial-timeout=2s", "--command-timeout=5s"])
            .args(args)
            .env("ETCDCTL_API", "3")
            .stdin(Stdio::null())
            .output()?;
        if !out.status.success() {
            bail!(
                "etcdctl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The value of a key, None when absent.
    pub fn get(&self, key: &str) -> Result<Option<String>> {
        let v = self.ctl(&["get", "--print-value-only", key])?;
        let v = v.trim_end().to_string();
        Ok((!v.is_empty()).then_some(v))
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        if let Some(c) = self.child.take() {
            kill_group(c.id() as i32);
            let mut c = c;
            let _ = c.wait();
        }
        ETCD_GROUP.store(0, Ordering::SeqCst);
        let _ = fs::remove_file(target_dir().join("vm-run/etcd.pgid"));
        let _ = fs::remove_dir_all(&self.dir);
    }
}
