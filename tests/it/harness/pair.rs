//! Two nodes on one LAN, with a real etcd and real ssh between them; a cut link and a fence.
//! A second pair (another cluster) can join the same LAN and etcd.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::json;

use super::host::Attach;
use super::*;

/// Two nodes on one machine: `a` (labstore1004, 192.0.2.6) and `b` (labstore1005,
/// 192.0.2.7) of cluster `test`, each a `Host` with its own mount, network and UTS
/// namespaces, stand-in state and sshd on its own address, both on one LAN (a bridge in a
/// third network namespace that also holds the gateway 192.0.2.1 and a real etcd on it). Their
/// DRBD stand-ins share the replication view: each reads the other's state file for its peer,
/// and `cut_link` makes the connection drop (Connecting) on both sides as well as the network.
///
/// nfs-manage on one node reaches the other with real ssh (keys generated per test, BatchMode,
/// a per-test known_hosts). The remote side gets the stand-ins first on its PATH and its
/// NFS_MANAGE_STANDIN_DIR through `environment=` options in authorized_keys (sshd runs with
/// `PermitUserEnvironment PATH,NFS_MANAGE_STANDIN_DIR,NO_COLOR`): exactly what a login on
/// that node would see, without a wrapper in between. sshd runs inside the node's namespaces,
/// so what it runs sees that node's mounts, addresses and state.
///
/// [`Pair::second_on`] adds a second pair to the same LAN: cluster `other`, `a` labstore1006
/// (192.0.2.8) and `b` labstore1007 (192.0.2.9), service IP 192.0.2.19, DRBD stand-ins linked
/// between those two only, an sshd each, the first pair's etcd; every node of either pair can
/// log in on every node of the other as it does on its peer.
pub struct Pair {
    pub a: Host,
    pub b: Host,
    /// The LAN's etcd; a second pair holds a handle on the first pair's (see `Etcd::shared`).
    pub etcd: Etcd,
    lan: Lan,
    _dir: tempfile::TempDir,
    multiplexed: bool,
}

/// The namespace that holds the LAN's bridge: the first pair's own, or borrowed by a second
/// pair (which must not outlive the first).
enum Lan {
    Own(Reaped),
    Shared(u32),
}

impl Lan {
    fn pid(&self) -> u32 {
        match self {
            Lan::Own(r) => r.id(),
            Lan::Shared(pid) => *pid,
        }
    }
}

/// A child killed when dropped, also when a constructor panics half-way.
pub struct Reaped(pub Child);

impl Reaped {
    pub fn id(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn pair_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("nfs-manage-pair.")
        .tempdir()
        .unwrap()
}

impl Pair {
    pub fn new(spec: Spec) -> Pair {
        let dir = pair_dir();
        let lan = Reaped(
            Command::new("unshare")
                .args(["--net", "sleep", "infinity"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let lan_pid = lan.id();
        let me = std::fs::read_link("/proc/self/ns/net").unwrap();
        for _ in 0..200 {
            if std::fs::read_link(format!("/proc/{lan_pid}/ns/net")).is_ok_and(|n| n != me) {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let l = lan_pid.to_string();
        for cmd in [
            vec!["ip", "link", "set", "lo", "up"],
            vec!["ip", "link", "add", "br0", "type", "bridge"],
            vec!["ip", "addr", "add", "192.0.2.1/24", "dev", "br0"],
            vec!["ip", "link", "set", "br0", "up"],
        ] {
            let mut argv = vec!["nsenter", "-t", &l, "-n", "--"];
            argv.extend(cmd);
            ok(&argv);
        }
        let etcd = Etcd::start(lan_pid, GATEWAY, &dir.path().join("etcd"));
        Pair::join(spec, Identity::TEST, Lan::Own(lan), etcd, dir)
    }

    /// A second pair, cluster `other` (labstore1006 and labstore1007), on `first`'s LAN and
    /// etcd (so `first` must outlive it), with ssh both ways between every node of the two
    /// pairs.
    pub fn second_on(first: &Pair, spec: Spec) -> Pair {
        let lan = Lan::Shared(first.lan.pid());
        let second = Pair::join(spec, Identity::OTHER, lan, first.etcd.shared(), pair_dir());
        for x in first.hosts() {
            for y in second.hosts() {
                for (server, client) in [(x, y), (y, x)] {
                    authorize(server, client);
                    know(client, server);
                }
            }
        }
        for x in first.hosts() {
            for y in second.hosts() {
                wait_for_ssh(x, y);
                wait_for_ssh(y, x);
            }
        }
        second
    }

    fn join(spec: Spec, ids: [Identity; 2], lan: Lan, etcd: Etcd, dir: tempfile::TempDir) -> Pair {
        let lan_pid = lan.pid();
        let a = Host::build(spec.clone(), ids[0], Attach::Bridge { lan_pid });
        let b = Host::build(spec, ids[1], Attach::Bridge { lan_pid });
        let mut pair = Pair {
            a,
            b,
            etcd,
            lan,
            _dir: dir,
            multiplexed: false,
        };
        pair.link_drbd();
        pair.setup_ssh();
        pair
    }

    pub fn hosts(&self) -> [&Host; 2] {
        [&self.a, &self.b]
    }

    fn link_drbd(&self) {
        for (h, other) in [(&self.a, &self.b), (&self.b, &self.a)] {
            let mut st = h.drbd();
            st["peer_state_dir"] = json!(other.dir.path().join("standin"));
            h.set_drbd(st);
        }
    }

    fn setup_ssh(&mut self) {
        for h in [&self.a, &self.b] {
            let s = h.dir.path().join("ssh");
            std::fs::create_dir_all(&s).unwrap();
            for key in ["host_ed25519", "id_ed25519"] {
                ok(&[
                    "ssh-keygen",
                    "-q",
                    "-t",
                    "ed25519",
                    "-N",
                    "",
                    "-C",
                    h.name,
                    "-f",
                    s.join(key).to_str().unwrap(),
                ]);
            }
        }
        for (h, other) in [(&self.a, &self.b), (&self.b, &self.a)] {
            authorize(h, other);
            know(other, h);
            let s = h.dir.path().join("ssh");
            std::fs::write(
                s.join("sshd_config"),
                format!(
                    "ListenAddress {ip}\nPort 22\nHostKey {}\nAuthorizedKeysFile {}\nPermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPermitUserEnvironment PATH,NFS_MANAGE_STANDIN_DIR,NFS_MANAGE_TRACE,NO_COLOR,HOME\nPidFile none\nLogLevel ERROR\n",
                    s.join("host_ed25519").display(),
                    s.join("authorized_keys").display(),
                    ip = h.ident.ip(),
                ),
            )
            .unwrap();
        }
        for h in [&mut self.a, &mut self.b] {
            let s = h.dir.path().join("ssh");
            let log = std::fs::File::create(s.join("sshd.log")).unwrap();
            let child = h
                .ns_cmd(&[
                    "/usr/sbin/sshd",
                    "-D",
                    "-e",
                    "-f",
                    s.join("sshd_config").to_str().unwrap(),
                ])
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap();
            h.sshd = Some(child);
            h.config = PathBuf::from("/run/node/cluster.yaml");
            h.extra_config = format!(
                "{}remote:\n  ssh: [ssh, -o, BatchMode=yes, -o, ConnectTimeout=2, -o, StrictHostKeyChecking=yes, -o, \"UserKnownHostsFile={k}\", -o, GlobalKnownHostsFile=/dev/null, -o, LogLevel=ERROR, -i, \"{i}\"]\n  user: root\nfailover: {{ ssh_timeout: 10s, remote_timeout: 90s }}\n",
                self.etcd.lock_yaml(),
                k = s.join("known_hosts").display(),
                i = s.join("id_ed25519").display(),
            );
            h.rewrite_config();
        }
        // Both sshds answer before any test uses them.
        wait_for_ssh(&self.a, &self.b);
        wait_for_ssh(&self.b, &self.a);
    }

    /// Cut the node's network link (its bridge port goes down) and its DRBD connections.
    pub fn cut_link(&self, h: &Host) {
        std::fs::write(h.dir.path().join("standin/link-down"), "").unwrap();
        self.set_port(h, "down");
    }

    pub fn restore_link(&self, h: &Host) {
        self.set_port(h, "up");
        let _ = std::fs::remove_file(h.dir.path().join("standin/link-down"));
    }

    /// The node's port on the LAN bridge, `up` or `down`.
    fn set_port(&self, h: &Host, state: &str) {
        let port = h.ident.port;
        let lan = self.lan.pid().to_string();
        ok(&[
            "nsenter", "-t", &lan, "-n", "--", "ip", "link", "set", port, state,
        ]);
    }
}

impl Pair {
    /// A script standing in for an IPMI power-off of `victim` (for `failover.fence_command`):
    /// everything the node served disappears with it — its sshd, the service IP, the mounts,
    /// the units and its DRBD resources (down) — and it stays off the network.
    pub fn fence_script(&self, victim: &Host) -> PathBuf {
        let script = self._dir.path().join(format!("fence-{}", victim.name));
        let sshd = victim.sshd.as_ref().map(|c| c.id()).unwrap_or(0);
        let port = victim.ident.port;
        let vols: Vec<String> = victim
            .spec
            .volumes
            .iter()
            .map(|v| format!("/srv/{v}"))
            .collect();
        let res: Vec<&str> = victim.spec.volumes.to_vec();
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\n# Test bed: power {name} off.\nkill -9 {sshd} 2>/dev/null\ntouch {dir}/standin/link-down\nnsenter -t {lan} -n -- ip link set {port} down\nnsenter -t {pid} -m -n -- env PATH={path} NFS_MANAGE_STANDIN_DIR={dir}/standin sh -c 'ip addr del {sip} dev eth0 2>/dev/null; for m in {vols}; do umount -l $m 2>/dev/null; done; systemctl stop nfs-server {units} >/dev/null 2>&1; exportfs -ua; drbdadm down {res}'\necho \"{name} is off\"\n",
                name = victim.name,
                sip = victim.ident.service_ip,
                dir = victim.dir.path().display(),
                lan = self.lan.pid(),
                pid = victim.pid(),
                path = victim.path_env(),
                vols = vols.join(" "),
                units = victim.spec.services.join(" "),
                res = res.join(" "),
            ),
        )
        .unwrap();
        ok(&["chmod", "755", script.to_str().unwrap()]);
        script
    }

    /// Set `failover.fence_command` on one node (its config is rewritten).
    pub fn set_fence(&mut self, on_a: bool, argv: &[&str]) {
        let h = if on_a { &mut self.a } else { &mut self.b };
        let list: Vec<String> = argv.iter().map(|a| format!("\"{a}\"")).collect();
        h.extra_config = h.extra_config.replace(
            "failover: { ssh_timeout: 10s, remote_timeout: 90s }\n",
            &format!(
                "failover: {{ ssh_timeout: 10s, remote_timeout: 90s, fence_command: [{}] }}\n",
                list.join(", ")
            ),
        );
        h.rewrite_config();
    }

    /// Reuse one ssh connection per node pair (OpenSSH ControlMaster), as operators may
    /// configure in `remote.ssh`; the masters are closed when the pair is dropped.
    pub fn use_ssh_multiplexing(&mut self) {
        for h in [&mut self.a, &mut self.b] {
            let cm = h.dir.path().join("ssh/cm-%C");
            h.extra_config = h.extra_config.replace(
                "ssh: [ssh, ",
                &format!(
                    "ssh: [ssh, -o, ControlMaster=auto, -o, \"ControlPath={}\", -o, ControlPersist=60, ",
                    cm.display()
                ),
            );
            h.rewrite_config();
        }
        self.multiplexed = true;
    }

    /// Kill a node's sshd (the host stays up: connections are refused).
    pub fn stop_sshd(&mut self, on_a: bool) {
        let h = if on_a { &mut self.a } else { &mut self.b };
        if let Some(mut c) = h.sshd.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        if self.multiplexed {
            for (h, other) in [(&self.a, &self.b), (&self.b, &self.a)] {
                let cm = format!("ControlPath={}", h.dir.path().join("ssh/cm-%C").display());
                let dest = format!("root@{}", other.addr.split('/').next().unwrap());
                let _ = h.ns(&["ssh", "-o", &cm, "-O", "exit", &dest]);
            }
        }
        // A second pair's etcd is the first pair's, stopped with it.
        if let Lan::Own(_) = self.lan {
            self.etcd.stop();
        }
    }
}

/// Let `client` log in on `server` with its key. Logins on `server` run with its stand-ins,
/// like a shell on that node would; HOME points into the test directory so the machine's own
/// ~/.bashrc is not run on each login.
fn authorize(server: &Host, client: &Host) {
    let key = std::fs::read_to_string(client.dir.path().join("ssh/id_ed25519.pub")).unwrap();
    append(
        &server.dir.path().join("ssh/authorized_keys"),
        &format!(
            "environment=\"PATH={}\",environment=\"NFS_MANAGE_STANDIN_DIR={}\",environment=\"NFS_MANAGE_TRACE={}\",environment=\"NO_COLOR=1\",environment=\"HOME={}\" {key}",
            server.path_env(),
            server.dir.path().join("standin").display(),
            server.trace_path().display(),
            server.dir.path().display(),
        ),
    );
}

/// `client` knows `server`'s host key at its address.
fn know(client: &Host, server: &Host) {
    let hostkey = std::fs::read_to_string(server.dir.path().join("ssh/host_ed25519.pub")).unwrap();
    append(
        &client.dir.path().join("ssh/known_hosts"),
        &format!("{} {hostkey}", server.ident.ip()),
    );
}

fn append(path: &std::path::Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// Wait until `from` logs in on `to` with the ssh its config uses.
fn wait_for_ssh(from: &Host, to: &Host) {
    for _ in 0..50 {
        if from.ssh_to(to, &["true"]).status.success() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "ssh {} -> {} does not work: {}",
        from.name,
        to.name,
        String::from_utf8_lossy(&from.ssh_to(to, &["true"]).stderr)
    );
}

impl Host {
    /// The ssh command line this node's config uses to reach `other`, run from this node.
    pub fn ssh_to(&self, other: &Host, cmd: &[&str]) -> Output {
        let s = self.dir.path().join("ssh");
        let ip = other.addr.split('/').next().unwrap();
        let kh = format!("UserKnownHostsFile={}", s.join("known_hosts").display());
        let id = s.join("id_ed25519");
        let dest = format!("root@{ip}");
        let mut argv = vec![
            "ssh",
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=2",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            &kh,
            "-o",
            "GlobalKnownHostsFile=/dev/null",
            "-o",
            "LogLevel=ERROR",
            "-i",
            id.to_str().unwrap(),
            &dest,
        ];
        argv.extend(cmd);
        self.ns(&argv)
    }
}

impl Pair {
    /// Wait until nothing of nfs-manage or the stand-ins runs in either node any more (a
    /// killed run leaves its children and its remote half running for a while).
    pub fn settle(&self) {
        let exes: Vec<PathBuf> = [bin(), standin(), PathBuf::from("/usr/bin/ssh")]
            .iter()
            .filter_map(|p| p.canonicalize().ok())
            .collect();
        let nss: Vec<PathBuf> = self
            .hosts()
            .iter()
            .filter_map(|h| std::fs::read_link(format!("/proc/{}/ns/mnt", h.pid())).ok())
            .collect();
        for _ in 0..300 {
            let busy = std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
                let p = e.path();
                let Ok(exe) = std::fs::read_link(p.join("exe")) else {
                    return false;
                };
                exes.contains(&exe)
                    && std::fs::read_link(p.join("ns/mnt")).is_ok_and(|n| nss.contains(&n))
            });
            if !busy {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("runs did not finish within 15 s");
    }
}
