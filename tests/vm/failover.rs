//! `nfs-manage failover` on the real kernel while an NFS client keeps writing: a controlled
//! failover there and back (NFSv4.2, then NFSv3), and a hard-down failover with a real fence.
//!
//! What failover needs around it, as on the real pair: sshd on both storage nodes (keys made
//! per run by the host, known_hosts pinned, logins get the guest's PATH so `nfs-manage` and the
//! bed's systemctl are found), a real etcd for the cluster lock on the host's side of the
//! bridge (GATEWAY), and for the hard-down case the shipped example's fence: `ipmitool -I
//! lanplus … chassis power off` against the other node's BMC (bmc.rs), or, where ipmi_sim or
//! ipmitool is missing outside CI, the bed's own switch (guest/fence, Bed::watch_fences).
//!
//! Assertions are on live state (/proc/drbd, mounts, addresses, nfsd, etab, the lock in etcd,
//! the file on the new Primary against the client's log of acknowledged records), never on
//! time: the pauses and step times are measured and written to target/vm-logs/failover-times.txt.

use std::fmt::Write as _;
use std::fs;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

use crate::bed::{Bed, Etcd, GATEWAY, SERVICE_IP, Vm, logs_dir, manifest_dir, node_address};
use crate::scenarios::{
    DEVICE, MOUNTPOINT, NFS_MANAGE_CONFIG, RESOURCE, STORAGE, expect_state, nfs_manage_config,
    wait_for, write_res,
};

pub const EXPORT: &str = "/srv/tools/shared/alpha";
pub const CLIENT_MOUNT: &str = "/mnt/alpha";
pub const LOCK_KEY: &str = "/nfs-manage/vm-bed/active";
/// Where the guests keep their ssh keys and config (tmpfs, gone with the guest).
const SSH_DIR: &str = "/run/nfsm-ssh";
/// On the PATH of ssh logins: `nfs-manage` (a link to the binary under test).
const BIN_DIR: &str = "/run/nfsm-bin";
/// The BMC password file of the fence (`ipmitool -f`), root's only (tmpfs, gone with the
/// guest): the shipped example keeps it in /root/.ipmi, which is read-only in the guests.
const FENCE_PASSWORD: &str = "/run/nfsm-fence/ipmi";

pub fn bin() -> &'static str {
    crate::bed::nfs_manage_bin()
}

fn guest_dir() -> String {
    manifest_dir().join("tests/vm/guest").display().to_string()
}

/// The remote.ssh argv of the config, also used to check that ssh works before a failover.
/// ControlMaster as in the shipped example: the failover's sessions share one connection.
fn ssh_argv() -> Vec<String> {
    [
        "ssh",
        "-F",
        "/dev/null",
        "-o",
        "BatchMode=yes",
        "-o",
        // Generous: under TCG on a busy host sshd can take seconds to send its banner, and
        // ConnectTimeout covers that too.
        "ConnectTimeout=20",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        &format!("UserKnownHostsFile={SSH_DIR}/known_hosts"),
        "-o",
        "GlobalKnownHostsFile=/dev/null",
        "-o",
        "LogLevel=ERROR",
        "-i",
        &format!("{SSH_DIR}/id_ed25519"),
        "-o",
        "ControlMaster=auto",
        "-o",
        "ControlPath=/run/nfs-manage/ssh-%C",
        "-o",
        "ControlPersist=60",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// `node`'s fence_command: power the other storage node off through its BMC, or, without
/// BMCs, through the bed's switch.
fn fence_command(bed: &Bed, node: &str) -> String {
    let peer = if node == "nfs1" { "nfs2" } else { "nfs1" };
    match bed.bmc(peer) {
        Some(bmc) => format!(
            "[ipmitool, -I, lanplus, -C, \"{}\", -H, {}, -U, {}, -f, {FENCE_PASSWORD}, chassis, power, off]",
            crate::bmc::CIPHER_SUITE,
            bmc.address,
            crate::bmc::USER
        ),
        None => format!(
            "[bash, \"{}/fence\", \"{}\"]",
            guest_dir(),
            crate::bed::target_dir().join("vm-run").display()
        ),
    }
}

/// Shell lines that give a storage node the fence's BMC password (none without BMCs), next
/// to its config.
pub fn install_fence_password(bed: &Bed) -> String {
    if !bed.ipmi() {
        return String::new();
    }
    let dir = FENCE_PASSWORD.rsplit_once('/').map_or("/", |(d, _)| d);
    format!(
        "mkdir -p -m 700 {dir}\ninstall -m 600 {} {FENCE_PASSWORD}\n",
        bed.bmc_password_file().display()
    )
}

/// The bed's config for `node` plus what failover needs: the lock, ssh, a fence, and an ARP
/// announcement to the client (it stands in for the router in front of real clients).
pub fn failover_config(bed: &Bed, node: &str) -> String {
    let ssh: Vec<String> = ssh_argv().iter().map(|a| format!("\"{a}\"")).collect();
    nfs_manage_config().replace(
        "  interface: eth0\n",
        &format!(
            "  interface: eth0\n  announce_to: {}\n",
            node_address("client")
        ),
    ) + &format!(
        "lock:
  etcd: {{ endpoints: [\"http://{GATEWAY}:2379\"], prefix: /nfs-manage, timeout: 5s }}
remote:
  ssh: [{}]
  user: root
failover:
  fence_command: {}
  fence_timeout: 90s
  ssh_timeout: 60s
  remote_timeout: 5m
",
        ssh.join(", "),
        fence_command(bed, node)
    )
}

fn exports_file() -> String {
    // fsid pinned: the file handles the client holds stay valid on the other node.
    format!(
        "{EXPORT} {}(rw,sync,no_subtree_check,no_root_squash,fsid=11)\n",
        node_address("client")
    )
}

/// Host keys for both storage nodes and one client key, made on the host for this run;
/// each node gets them in a tmpfs, plus sshd on its own address.
pub fn setup_ssh(bed: &Bed) -> Result<()> {
    setup_ssh_env(bed, &[])
}

/// `setup_ssh`, and logins also get these environment variables (e.g. NFS_MANAGE_TRACE for
/// the nfs-manage runs a failover starts on the peer).
pub fn setup_ssh_env(bed: &Bed, extra_env: &[(&str, &str)]) -> Result<()> {
    let dir = crate::bed::target_dir().join("vm-run/ssh");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir)?;
    let keygen = |name: &str| -> Result<String> {
        let path = dir.join(name);
        let out = std::process::Command::new("ssh-keygen")
            .args([
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                "nfs-manage-vm-bed",
                "-f",
            ])
            .arg(&path)
            .output()?;
        ensure!(
            out.status.success(),
            "ssh-keygen: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(fs::read_to_string(path.with_extension("pub"))?)
    };
    let id_pub = keygen("id_ed25519")?;
    let mut known = String::new();
    for name in STORAGE {
        let host_pub = keygen(&format!("host_{name}"))?;
        known.push_str(&format!("{} {host_pub}", node_address(name)));
    }
    // A login gets the PATH the agent gives local commands (the bed's systemctl) and
    // nfs-manage; HOME in the tmpfs, so the host's root dotfiles are not read in the guest.
    let path = format!(
        "{BIN_DIR}:{}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        guest_dir()
    );
    let extra: String = extra_env
        .iter()
        .map(|(k, v)| format!("environment=\"{k}={v}\","))
        .collect();
    let permit: String = extra_env.iter().map(|(k, _)| format!(",{k}")).collect();
    let authorized = format!(
        "{extra}environment=\"PATH={path}\",environment=\"HOME={SSH_DIR}\",environment=\"LC_ALL=C\",environment=\"NO_COLOR=1\" {id_pub}"
    );
    let d = dir.display();
    for name in STORAGE {
        let vm = bed.vm(name);
        vm.ok(&format!(
            "set -e
# virtme-ng's /etc/shadow locks root (!); sshd without PAM refuses any login to a locked
# account, keys included. * is: no password, not locked. (A bind-mounted file: written in place.)
sed 's/^root:!:/root:*:/' /etc/shadow > /run/shadow.new && cat /run/shadow.new > /etc/shadow
rm -f /run/shadow.new
if [ -e {SSH_DIR}/sshd.pid ]; then kill \"$(cat {SSH_DIR}/sshd.pid)\" 2>/dev/null || true; fi
rm -rf {SSH_DIR} {BIN_DIR}
mkdir -p -m 700 {SSH_DIR}
mkdir -p -m 755 /run/sshd {BIN_DIR}
ln -s {bin} {BIN_DIR}/nfs-manage
install -m 600 {d}/host_{name} {SSH_DIR}/host_ed25519
install -m 600 {d}/id_ed25519 {SSH_DIR}/id_ed25519
cat > {SSH_DIR}/known_hosts <<'EOF'
{known}EOF
cat > {SSH_DIR}/authorized_keys <<'EOF'
{authorized}EOF
cat > {SSH_DIR}/sshd_config <<'EOF'
ListenAddress {addr}
Port 22
HostKey {SSH_DIR}/host_ed25519
AuthorizedKeysFile {SSH_DIR}/authorized_keys
PidFile {SSH_DIR}/sshd.pid
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitUserEnvironment PATH,HOME,LC_ALL,NO_COLOR{permit}
LogLevel VERBOSE
EOF
/usr/sbin/sshd -f {SSH_DIR}/sshd_config -E {SSH_DIR}/sshd.log",
            bin = bin(),
            addr = node_address(name),
        ))?;
    }
    // Each node reaches the other with the config's own ssh argv, and finds nfs-manage there.
    // Without the connection sharing: a master left running would outlive this check and
    // carry the failover's sessions (the hard-down scenario needs a fresh connection).
    let ssh = format!("ssh -o ControlPath=none {}", ssh_argv()[1..].join(" "));
    for (from, to) in [("nfs1", "nfs2"), ("nfs2", "nfs1")] {
        let out = bed.vm(from).ok(&format!(
            "mkdir -p /run/nfs-manage; {ssh} root@{} 'hostname; command -v nfs-manage systemctl'",
            node_address(to)
        ))?;
        ensure!(
            out.starts_with(&format!("{to}\n{BIN_DIR}/nfs-manage\n")),
            "{from} → {to} over ssh: {out:?}"
        );
    }
    Ok(())
}

/// A synced pair (both Secondary, UpToDate), ext4 with the export's directory, the config
/// and exports on both nodes, sshd on both. The disks were both discarded to zeros by
/// reset(), so they are identical and the initial sync is skipped (--clear-bitmap).
pub fn setup(bed: &Bed) -> Result<()> {
    write_res(bed, "")?;
    crate::scenarios::drbd_synced_blank(bed)?;
    bed.vm("nfs1").ok(&format!(
        "set -e
drbdadm primary {RESOURCE}
mkfs.ext4 -q -F {DEVICE}
mkdir -p {MOUNTPOINT}
mount -t ext4 {DEVICE} {MOUNTPOINT}
install -d -m 2775 {EXPORT}
umount {MOUNTPOINT}
drbdadm secondary {RESOURCE}"
    ))?;
    let exports = exports_file();
    // NFS_MANAGE_VM_GRACE: the NFSv4 grace and lease times (the bed's default is 10 s; the
    // kernel's own is 90 s), to measure what grace costs the client.
    let grace = std::env::var("NFS_MANAGE_VM_GRACE").unwrap_or_else(|_| "10".into());
    for name in STORAGE {
        let config = failover_config(bed, name);
        bed.vm(name).ok(&format!(
            "set -e
mkdir -p /etc/nfs-manage/projects.d {MOUNTPOINT}
{}cat > {NFS_MANAGE_CONFIG} <<'EOF'
{config}EOF
cat > /etc/exports.d/alpha.exports <<'EOF'
{exports}EOF
printf '[nfsd]\\ngrace-time={grace}\\nlease-time={grace}\\n' > /etc/nfs.conf.d/vm-bed.conf
{bin} --config {NFS_MANAGE_CONFIG} config check",
            install_fence_password(bed),
            bin = bin()
        ))?;
    }
    setup_ssh(bed)
}

pub fn nfs_manage(vm: &Vm, args: &str) -> Result<crate::bed::Output> {
    vm.run(
        &format!("NO_COLOR=1 {} --config {NFS_MANAGE_CONFIG} {args}", bin()),
        Duration::from_secs(600),
    )
}

pub fn must(vm: &Vm, args: &str) -> Result<String> {
    let out = nfs_manage(vm, args)?;
    ensure!(
        out.rc == 0,
        "{}: nfs-manage {args}: exit {}\n--- stdout\n{}--- stderr\n{}",
        vm.name,
        out.rc,
        out.stdout,
        out.stderr
    );
    Ok(out.stdout)
}

/// The client's writer (guest/writer.py) on the mount, in its own session so it outlives
/// the agent's command.
pub struct Writer {
    pub tag: String,
}

impl Writer {
    pub fn start(client: &Vm, tag: &str) -> Result<Writer> {
        client.ok(&format!(
            "rm -f /run/ack-{tag}.log /run/stop-{tag}
setsid /usr/bin/python3 {}/writer.py {CLIENT_MOUNT}/records-{tag} /run/ack-{tag}.log /run/stop-{tag} \
    </dev/null >/run/writer-{tag}.out 2>&1 &
echo $! > /run/writer-{tag}.pid",
            guest_dir()
        ))?;
        let w = Writer { tag: tag.into() };
        w.wait_acks(client, 20, "the writer's first 20 records")?;
        Ok(w)
    }

    /// Wait (liveness, not a timed assertion) until at least `n` records are acknowledged.
    pub fn wait_acks(&self, client: &Vm, n: usize, what: &str) -> Result<()> {
        let tag = &self.tag;
        let out = client.run(
            &format!(
                "for i in $(seq 300); do
    [ \"$(grep -c '^[0-9]' /run/ack-{tag}.log 2>/dev/null)\" -ge {n} ] && exit 0
    sleep 1
done
exit 1"
            ),
            Duration::from_secs(330),
        )?;
        if out.rc != 0 {
            let log = client.sh(&format!(
                "tail -n 5 /run/ack-{tag}.log; cat /run/writer-{tag}.out; grep ' {CLIENT_MOUNT} ' /proc/mounts; dmesg | tail -n 20"
            ))?;
            bail!("client: {what} not acknowledged in 300 s:\n{}", log.stdout);
        }
        Ok(())
    }

    pub fn acks(&self, client: &Vm) -> Result<Acks> {
        Acks::parse(&client.ok(&format!("cat /run/ack-{}.log", self.tag))?)
    }

    pub fn stop(&self, client: &Vm) -> Result<Acks> {
        let tag = &self.tag;
        client.ok(&format!(
            "touch /run/stop-{tag}
pid=$(cat /run/writer-{tag}.pid)
for i in $(seq 300); do kill -0 $pid 2>/dev/null || break; sleep 0.2; done
! kill -0 $pid 2>/dev/null"
        ))?;
        self.acks(client)
    }
}

/// The client's log: acknowledged records (number, client time) and errors it saw.
pub struct Acks {
    pub acked: Vec<(u64, f64)>,
    pub errors: Vec<String>,
}

impl Acks {
    fn parse(text: &str) -> Result<Acks> {
        let mut acked = Vec::new();
        let mut errors = Vec::new();
        for line in text.lines() {
            if line.starts_with("ERR ") {
                errors.push(line.to_string());
                continue;
            }
            let mut f = line.split_whitespace();
            let (Some(n), Some(t)) = (f.next(), f.next()) else {
                continue;
            };
            acked.push((n.parse()?, t.parse()?));
        }
        Ok(Acks { acked, errors })
    }

    pub fn last(&self) -> u64 {
        self.acked.last().map_or(0, |a| a.0)
    }

    /// The longest gap between two acknowledged records at or after client time `from`
    /// (and before `to`), with the usual gap (median) for comparison.
    pub fn pause(&self, from: f64, to: f64) -> (f64, f64) {
        let gaps: Vec<f64> = self
            .acked
            .windows(2)
            .filter(|w| w[1].1 >= from && w[0].1 < to)
            .map(|w| w[1].1 - w[0].1)
            .collect();
        let max = gaps.iter().cloned().fold(0.0, f64::max);
        let mut all: Vec<f64> = self.acked.windows(2).map(|w| w[1].1 - w[0].1).collect();
        all.sort_by(|a, b| a.total_cmp(b));
        let median = all.get(all.len() / 2).copied().unwrap_or(0.0);
        (max, median)
    }
}

/// Every record the client saw acknowledged is in the file as `server` has it on disk.
pub fn assert_durable(server: &Vm, tag: &str, acks: &Acks) -> Result<()> {
    let text = server.ok(&format!("cat {EXPORT}/records-{tag}"))?;
    let mut have = std::collections::BTreeSet::<u64>::new();
    for line in text.lines() {
        if let Some(n) = line.split_whitespace().next().and_then(|n| n.parse().ok()) {
            have.insert(n);
        }
    }
    let lost: Vec<u64> = acks
        .acked
        .iter()
        .map(|a| a.0)
        .filter(|n| !have.contains(n))
        .collect();
    ensure!(
        lost.is_empty(),
        "{}: {} acknowledged records are not in {EXPORT}/records-{tag}: {:?}",
        server.name,
        lost.len(),
        &lost[..lost.len().min(20)]
    );
    Ok(())
}

/// The live state of a pair where `active` serves and `standby` does not.
pub fn assert_serving(bed: &Bed, etcd: &Etcd, active: &str, connected: bool) -> Result<()> {
    let a = bed.vm(active);
    if connected {
        expect_state(a, "Primary/Secondary", "UpToDate/UpToDate")?;
    } else {
        let line = crate::scenarios::proc_drbd_state(a)?;
        ensure!(
            line.contains("ro:Primary/") && line.contains("ds:UpToDate/"),
            "{active}: /proc/drbd says {line:?}"
        );
    }
    let facts = a.ok(&format!(
        "findmnt -n -o SOURCE {MOUNTPOINT}
cat /proc/fs/nfsd/threads
grep -c '^{EXPORT}' /var/lib/nfs/etab
ip -4 -o addr show dev eth0 | grep -c ' {SERVICE_IP}/24 '"
    ))?;
    let f: Vec<&str> = facts.lines().collect();
    ensure!(
        f.len() == 4
            && f[0] == DEVICE
            && f[1].parse::<u32>().unwrap_or(0) > 0
            && f[2] != "0"
            && f[3] == "1",
        "{active} should serve: mount source, nfsd threads, etab entries, service IP: {f:?}"
    );
    let holder = etcd.get(LOCK_KEY)?.unwrap_or_default();
    ensure!(
        holder.starts_with(&format!("{active}@")),
        "the cluster lock says {holder:?}, want {active}"
    );
    if !connected {
        return Ok(());
    }
    let standby = STORAGE.iter().find(|n| **n != active).expect("two nodes");
    let s = bed.vm(standby);
    expect_state(s, "Secondary/Primary", "UpToDate/UpToDate")?;
    let facts = s.ok(&format!(
        "findmnt -n {MOUNTPOINT} >/dev/null && echo mounted
[ \"$(cat /proc/fs/nfsd/threads 2>/dev/null || echo 0)\" -gt 0 ] && echo nfsd
grep -q '^{EXPORT}' /var/lib/nfs/etab && echo etab
ip -4 -o addr show dev eth0 | grep -q ' {SERVICE_IP}/24 ' && echo ip
true"
    ))?;
    ensure!(
        facts.trim().is_empty(),
        "{standby} should not serve, but has: {}",
        facts.split_whitespace().collect::<Vec<_>>().join(", ")
    );
    Ok(())
}

/// This run's journal lines on a node, after the first `skip` lines, as "node step ms".
fn journal_since(vm: &Vm, skip: usize) -> Result<(usize, Vec<String>)> {
    let text = vm.ok("cat /var/lib/nfs-manage/journal.jsonl 2>/dev/null || true")?;
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for l in lines.iter().skip(skip) {
        let v: serde_json::Value =
            serde_json::from_str(l).with_context(|| format!("{}: journal line {l:?}", vm.name))?;
        out.push(format!(
            "  {} {} {:<28} {:>6} ms  {}",
            v["time"].as_str().unwrap_or(""),
            vm.name,
            format!(
                "{}:{}",
                v["command"].as_str().unwrap_or(""),
                v["step"].as_str().unwrap_or("")
            ),
            v["duration_ms"],
            v["verify"].as_str().unwrap_or("")
        ));
    }
    Ok((lines.len(), out))
}

fn journal_len(bed: &Bed) -> Result<[usize; 2]> {
    Ok([
        journal_since(bed.vm("nfs1"), usize::MAX)?.0,
        journal_since(bed.vm("nfs2"), usize::MAX)?.0,
    ])
}

/// How the bed fences, for the reports.
pub fn fence_kind(bed: &Bed) -> &'static str {
    if bed.ipmi() {
        "power off via IPMI, ipmitool -I lanplus to the BMC"
    } else {
        "power off by the bed's switch"
    }
}

pub fn client_now(client: &Vm) -> Result<f64> {
    Ok(client.ok("date +%s.%N")?.trim().parse()?)
}

/// Measurements, appended to target/vm-logs/failover-times.txt and printed.
pub fn report(text: &str) {
    eprint!("{text}");
    if let Ok(mut f) = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(logs_dir().join("failover-times.txt"))
    {
        use std::io::Write as _;
        let _ = f.write_all(text.as_bytes());
    }
}

/// One controlled failover to `target`, run on `on`, with the writer going; checks the new
/// state and that the writer goes on, and reports the times.
pub fn move_to(
    bed: &Bed,
    etcd: &Etcd,
    writer: &Writer,
    on: &str,
    target: &str,
    label: &str,
) -> Result<()> {
    let client = bed.vm("client");
    let before = journal_len(bed)?;
    let t0 = client_now(client)?;
    let started = Instant::now();
    let out = must(bed.vm(on), &format!("failover --yes --to {target}"))?;
    let took = started.elapsed();
    let summary = out
        .lines()
        .find(|l| l.contains(" done in "))
        .unwrap_or("(no closing line)")
        .to_string();
    assert_serving(bed, etcd, target, true)?;
    // The writer goes on by itself: 20 more records after the failover returned.
    let at_end = writer.acks(client)?.last() as usize;
    writer.wait_acks(
        client,
        at_end + 20,
        &format!("20 records after the failover to {target}"),
    )?;
    let t1 = client_now(client)?;
    let acks = writer.acks(client)?;
    // Read on the new Primary, with the device mounted there: everything acknowledged so far.
    assert_durable(bed.vm(target), &writer.tag, &acks)?;
    let (pause, usual) = acks.pause(t0, t1);
    let mut text = format!(
        "== {label}: failover --yes --to {target} (run on {on}), NFS grace {}\n\
         failover command: {:.1} s (seen from the host)\n{summary}\n\
         client: longest gap between acknowledged writes {pause:.2} s (usual gap {usual:.3} s); \
         {} errors seen by the writer so far\n",
        std::env::var("NFS_MANAGE_VM_GRACE").unwrap_or_else(|_| "10".into()),
        took.as_secs_f64(),
        acks.errors.len()
    );
    for e in &acks.errors {
        let _ = writeln!(text, "  {e}");
    }
    let mut lines = Vec::new();
    for (i, name) in STORAGE.iter().enumerate() {
        lines.extend(journal_since(bed.vm(name), before[i])?.1);
    }
    lines.sort();
    text.push_str("journal (start, node, command:step, duration, verify):\n");
    for l in lines {
        text.push_str(&l);
        text.push('\n');
    }
    report(&text);
    Ok(())
}

pub fn mount_client(client: &Vm, options: &str) -> Result<()> {
    client.ok(&format!(
        "set -e
mkdir -p {CLIENT_MOUNT}
mount -t nfs -o {options} {SERVICE_IP}:{EXPORT} {CLIENT_MOUNT}
grep ' {CLIENT_MOUNT} ' /proc/mounts"
    ))?;
    Ok(())
}

/// The controlled failover with a client writing: nfs1 → nfs2 → nfs1 over NFSv4.2 (both run
/// on nfs1: the old node is here, then the target), then the same over NFSv3 (both run on
/// nfs2). Every record the client saw acknowledged is on the new Primary's disk each time.
pub fn failover_while_writing(bed: &Bed) -> Result<()> {
    let etcd = Etcd::start(bed)?;
    setup(bed)?;
    let client = bed.vm("client");
    must(bed.vm("nfs1"), "up --yes")?;
    assert_serving(bed, &etcd, "nfs1", true)?;

    // timeo=50: after the move, a request sent to the old server is retransmitted after 5 s
    // (the default is 60 s), which is when the client notices its connection is gone.
    for (tag, options, on) in [
        ("v4", "vers=4.2,timeo=50", "nfs1"),
        ("v3", "vers=3,proto=tcp,nolock,timeo=50", "nfs2"),
    ] {
        mount_client(client, options)?;
        let writer = Writer::start(client, tag)?;
        move_to(bed, &etcd, &writer, on, "nfs2", &format!("NFS {tag}"))?;
        move_to(bed, &etcd, &writer, on, "nfs1", &format!("NFS {tag}"))?;
        let acks = writer.stop(client)?;
        assert_durable(bed.vm("nfs1"), tag, &acks)?;
        client.ok(&format!("umount {CLIENT_MOUNT}"))?;
        report(&format!(
            "NFS {tag}: {} records acknowledged, all on disk on nfs1; {} errors seen by the writer\n\n",
            acks.last(),
            acks.errors.len()
        ));
    }
    must(bed.vm("nfs1"), "down --yes")?;
    Ok(())
}

/// nfs1 drops off the network while the client writes; `failover --peer-dead` on nfs2 fences
/// it (`ipmitool … chassis power off` to nfs1's BMC, which powers its qemu off; without BMCs
/// the bed's switch kills that qemu), takes the lock from it and promotes
/// with --force. The writer goes on and no acknowledged record is lost. Then nfs1 is powered
/// on again: its `up` is refused by the lock.
pub fn hard_down_failover(bed: &Bed) -> Result<()> {
    let etcd = Etcd::start(bed)?;
    setup(bed)?;
    let (a, b, client) = (bed.vm("nfs1"), bed.vm("nfs2"), bed.vm("client"));
    must(a, "up --yes")?;
    assert_serving(bed, &etcd, "nfs1", true)?;
    mount_client(client, "vers=4.2,timeo=50")?;
    let writer = Writer::start(client, "dead")?;
    let t0 = client_now(client)?;

    // nfs1 hangs as far as anyone can tell: its port on the bridge goes down. It still runs,
    // Primary with the IP, until the fence turns it off.
    bed.set_link("nfs1", false)?;
    let cut = Instant::now();
    wait_for(
        b,
        &format!("[ \"$(drbdadm cstate {RESOURCE})\" != Connected ]"),
        "DRBD noticing that nfs1 is gone",
        120,
    )?;
    let noticed = cut.elapsed();

    let stop = AtomicBool::new(false);
    let (out, fenced, took) = std::thread::scope(|s| {
        let fences = s.spawn(|| bed.watch_fences(&stop));
        let started = Instant::now();
        let out = nfs_manage(b, "failover --peer-dead --yes");
        let took = started.elapsed();
        stop.store(true, Ordering::SeqCst);
        (out, fences.join().unwrap_or_default(), took)
    });
    let out = out?;
    ensure!(
        out.rc == 0,
        "nfs2: failover --peer-dead --yes: exit {}\n--- stdout\n{}--- stderr\n{}",
        out.rc,
        out.stdout,
        out.stderr
    );
    ensure!(
        fenced == ["nfs1"],
        "storage nodes powered off during the failover: {fenced:?} (want nfs1)"
    );
    ensure!(
        !bed.powered("nfs1"),
        "nfs1's qemu still runs after the fence"
    );
    if let Some(bmc) = bed.bmc("nfs1") {
        ensure!(
            !bmc.power_is_on()?,
            "nfs1's BMC reports power on after the fence"
        );
    }
    assert_serving(bed, &etcd, "nfs2", false)?;
    let line = crate::scenarios::proc_drbd_state(b)?;
    ensure!(
        line.starts_with("cs:WFConnection ro:Primary/Unknown ds:UpToDate/DUnknown"),
        "nfs2: /proc/drbd says {line:?}"
    );

    let at_end = writer.acks(client)?.last() as usize;
    writer.wait_acks(
        client,
        at_end + 20,
        "20 records after the hard-down failover",
    )?;
    let t1 = client_now(client)?;
    let acks = writer.stop(client)?;
    assert_durable(b, "dead", &acks)?;
    client.ok(&format!("umount {CLIENT_MOUNT}"))?;
    let (pause, usual) = acks.pause(t0, t1);
    let summary = out
        .stdout
        .lines()
        .find(|l| l.contains(" done in "))
        .unwrap_or("(no closing line)");
    let (_, journal) = journal_since(b, 0)?;
    ensure!(
        journal
            .iter()
            .any(|l| l.contains(" nfs2 failover:fence:nfs1 ") && l.ends_with(" ok")),
        "nfs2's journal has no verified fence step:\n{}",
        journal.join("\n")
    );
    let mut text = format!(
        "== hard-down: nfs1's link cut, failover --peer-dead --yes on nfs2 (fence: {})\n\
         DRBD on nfs2 noticed after {:.1} s; failover command {:.1} s (seen from the host)\n{summary}\n\
         client: longest gap between acknowledged writes {pause:.2} s (usual gap {usual:.3} s); \
         {} records acknowledged, all on disk on nfs2; {} errors seen by the writer\n",
        fence_kind(bed),
        noticed.as_secs_f64(),
        took.as_secs_f64(),
        acks.last(),
        acks.errors.len()
    );
    for e in &acks.errors {
        let _ = writeln!(text, "  {e}");
    }
    text.push_str("journal on nfs2:\n");
    for l in journal {
        text.push_str(&l);
        text.push('\n');
    }
    text.push('\n');
    report(&text);

    // nfs1 is powered on again, with the disk it had: its `up` is refused by the lock (exit 4)
    // and changes nothing, whatever its own disk says.
    let booted = bed.power_on("nfs1")?;
    let config = failover_config(bed, "nfs1");
    a.ok(&format!(
        "set -e
modprobe drbd
mkdir -p /etc/drbd.d /etc/nfs-manage/projects.d {MOUNTPOINT}
printf 'global {{ usage-count no; }}\ninclude \"drbd.d/*.res\";\n' > /etc/drbd.conf
cat > /etc/drbd.d/{RESOURCE}.res <<'EOF'
{}EOF
cat > {NFS_MANAGE_CONFIG} <<'EOF'
{config}EOF",
        crate::scenarios::drbd_res("")
    ))?;
    let up = nfs_manage(a, "up --yes")?;
    ensure!(
        up.rc == 4,
        "nfs1 back after the hard-down failover: up --yes exit {} (want 4, the lock names nfs2)\n--- stdout\n{}--- stderr\n{}",
        up.rc,
        up.stdout,
        up.stderr
    );
    let left = a.ok(&format!(
        "grep -q '^ *4: .*ro:Primary' /proc/drbd && echo primary
findmnt -n {MOUNTPOINT} >/dev/null && echo mounted
ip -4 -o addr show dev eth0 | grep -q ' {SERVICE_IP}/24 ' && echo ip
true"
    ))?;
    ensure!(
        left.trim().is_empty(),
        "nfs1's refused up changed something: {}",
        left.split_whitespace().collect::<Vec<_>>().join(", ")
    );
    assert_serving(bed, &etcd, "nfs2", false)?;
    report(&format!(
        "nfs1 powered on again in {:.0} s; its `up --yes` was refused (exit 4): {}\n\n",
        booted.as_secs_f64(),
        up.stderr.lines().next().unwrap_or("")
    ));
    Ok(())
}
