//! One node: its mount, network and UTS namespaces (held by a `sleep` process and entered
//! with `nsenter`), a second network namespace standing for the rest of the LAN (the gateway,
//! or a host that already answers for the service IP), real ext4 filesystems on loop devices,
//! and a directory of stand-ins first on PATH for the tools that cannot run here.
//!
//! Inside the namespace /srv, /var/lib/nfs and /etc/exports.d are private tmpfs mounts and an
//! empty file is bound over /etc/exports, so real `exportfs` works without touching the host.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use super::*;

pub struct Volume {
    pub name: &'static str,
    pub loopdev: String,
}

pub struct Host {
    pub dir: tempfile::TempDir,
    holder: Child,
    /// The LAN namespace: owned by a single host, shared (held by the `Pair`) for two nodes.
    lan: Option<Child>,
    pub(super) lan_pid: u32,
    pub volumes: Vec<Volume>,
    pub config: PathBuf,
    /// Where `config` is written, seen from outside the namespaces.
    pub(super) config_file: PathBuf,
    /// This host's node name, its address (with prefix) and the other node's name (the same
    /// as in `ident`, which says the rest).
    pub name: &'static str,
    pub addr: &'static str,
    pub peer: &'static str,
    pub ident: Identity,
    /// YAML appended to the generated config (lock, remote, failover sections).
    pub extra_config: String,
    /// A real etcd in the LAN namespace (single host with `Spec::etcd`).
    pub etcd: Option<Etcd>,
    pub(super) sshd: Option<Child>,
    pub spec: Spec,
}

#[derive(Clone)]
pub struct Spec {
    pub volumes: &'static [&'static str],
    pub drbd: bool,
    pub dual_primary: bool,
    pub service_ip: bool,
    pub services: &'static [&'static str],
    /// Start a real etcd in the LAN namespace and configure `lock.etcd` (single host).
    pub etcd: bool,
    /// Volumes (by name) that are dual-primary, when `dual_primary` is false.
    pub dual: &'static [&'static str],
    /// Size of each volume's image (sparse), MiB; mkfs.ext4 gives it an inode per 4 KiB.
    pub volume_mib: u32,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            volumes: &["tools", "misc"],
            drbd: true,
            dual_primary: false,
            service_ip: true,
            services: &["nginx"],
            etcd: false,
            dual: &[],
            volume_mib: 32,
        }
    }
}

/// Who a node is: its cluster, name and address, its peer's, the cluster's service IP and the
/// node's port on a pair's LAN bridge. Two pairs share one LAN: `TEST` (the cluster most
/// tests use) and `OTHER` (a second cluster, e.g. a `project move` target).
#[derive(Clone, Copy, Debug)]
pub struct Identity {
    pub cluster: &'static str,
    pub name: &'static str,
    /// With its prefix, as `ip addr add` takes it.
    pub addr: &'static str,
    pub peer: &'static str,
    pub peer_addr: &'static str,
    pub service_ip: &'static str,
    /// The pair's first node: listed first in the config, DRBD node id 0.
    pub first: bool,
    /// Its port on a pair's LAN bridge.
    pub port: &'static str,
}

impl Identity {
    /// Cluster `test`: labstore1004 (192.0.2.6) and labstore1005 (192.0.2.7), 192.0.2.18.
    pub const TEST: [Identity; 2] = Identity::pair(
        "test",
        [(NODE, NODE_ADDR, "port-a"), (PEER, PEER_ADDR, "port-b")],
        SERVICE_IP,
    );
    /// Cluster `other`: labstore1006 (192.0.2.8) and labstore1007 (192.0.2.9), 192.0.2.19.
    pub const OTHER: [Identity; 2] = Identity::pair(
        OTHER_CLUSTER,
        [
            (OTHER_NODE, OTHER_NODE_ADDR, "port-c"),
            (OTHER_PEER, OTHER_PEER_ADDR, "port-d"),
        ],
        OTHER_SERVICE_IP,
    );

    const fn pair(
        cluster: &'static str,
        nodes: [(&'static str, &'static str, &'static str); 2],
        service_ip: &'static str,
    ) -> [Identity; 2] {
        let [(a, a_addr, a_port), (b, b_addr, b_port)] = nodes;
        [
            Identity {
                cluster,
                name: a,
                addr: a_addr,
                peer: b,
                peer_addr: b_addr,
                service_ip,
                first: true,
                port: a_port,
            },
            Identity {
                cluster,
                name: b,
                addr: b_addr,
                peer: a,
                peer_addr: a_addr,
                service_ip,
                first: false,
                port: b_port,
            },
        ]
    }

    /// The address without its prefix (what ssh, the config and known_hosts name).
    pub fn ip(&self) -> &'static str {
        self.addr.split('/').next().unwrap()
    }
}

/// Which network the host's eth0 joins.
pub(super) enum Attach {
    /// Its own LAN namespace with the gateway on the other end of the veth.
    OwnLan,
    /// A pair's LAN: the LAN namespace's bridge, through the node's port.
    Bridge { lan_pid: u32 },
}

impl Host {
    pub fn new() -> Host {
        Host::with(Spec::default())
    }

    pub fn with(spec: Spec) -> Host {
        let mut h = Host::build(spec, Identity::TEST[0], Attach::OwnLan);
        if h.spec.etcd {
            let lan = h.lan_pid;
            let etcd = Etcd::start(lan, GATEWAY, &h.dir.path().join("etcd"));
            h.extra_config = etcd.lock_yaml();
            h.etcd = Some(etcd);
            h.rewrite_config();
        }
        h
    }

    pub(super) fn build(spec: Spec, ident: Identity, attach: Attach) -> Host {
        let dir = tempfile::Builder::new()
            .prefix("nfs-manage-it.")
            .tempdir()
            .unwrap();
        let d = dir.path();
        for sub in ["bin", "standin", "images"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        for tool in ["drbdadm", "drbdsetup", "systemctl"] {
            std::os::unix::fs::symlink(standin(), d.join("bin").join(tool)).unwrap();
        }
        std::os::unix::fs::symlink(bin(), d.join("bin").join("nfs-manage")).unwrap();
        let holder = Command::new("unshare")
            .args([
                "--mount",
                "--net",
                "--uts",
                "--propagation",
                "private",
                "sleep",
                "infinity",
            ])
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let (lan, lan_pid) = match attach {
            Attach::OwnLan => {
                let c = Command::new("unshare")
                    .args(["--net", "sleep", "infinity"])
                    .stdin(Stdio::null())
                    .spawn()
                    .unwrap();
                let pid = c.id();
                (Some(c), pid)
            }
            Attach::Bridge { lan_pid, .. } => (None, lan_pid),
        };
        let config_file = d.join("cluster.yaml");
        let mut host = Host {
            dir,
            holder,
            lan,
            lan_pid,
            volumes: Vec::new(),
            config: config_file.clone(),
            config_file,
            name: ident.name,
            addr: ident.addr,
            peer: ident.peer,
            ident,
            extra_config: String::new(),
            etcd: None,
            sshd: None,
            spec: spec.clone(),
        };
        host.wait_for_namespaces();
        match attach {
            Attach::OwnLan => host.setup_namespace(),
            Attach::Bridge { .. } => host.setup_pair_namespace(),
        }
        for name in spec.volumes {
            let img = host.dir.path().join("images").join(format!("{name}.img"));
            let size = format!("{}M", spec.volume_mib);
            ok(&["truncate", "-s", &size, img.to_str().unwrap()]);
            ok(&["mkfs.ext4", "-q", "-F", img.to_str().unwrap()]);
            let loopdev = ok(&["losetup", "--find", "--show", img.to_str().unwrap()])
                .trim()
                .to_string();
            host.volumes.push(Volume { name, loopdev });
        }
        host.write_config(&spec);
        host.write_drbd_state(&spec);
        host.write_units(&spec, &[]);
        host
    }

    fn wait_for_namespaces(&self) {
        let me = std::fs::read_link("/proc/self/ns/net").unwrap();
        for _ in 0..200 {
            let a = std::fs::read_link(format!("/proc/{}/ns/net", self.holder.id()));
            let b = std::fs::read_link(format!("/proc/{}/ns/net", self.lan_pid));
            if matches!((a, b), (Ok(a), Ok(b)) if a != me && b != me) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("namespaces did not come up");
    }

    pub fn pid(&self) -> u32 {
        self.holder.id()
    }

    /// The process that holds the "lan" network namespace.
    pub fn lan_pid(&self) -> u32 {
        self.lan_pid
    }

    /// Private /srv, /var/lib/nfs (empty etab and rmtab) and /etc/exports.d, and an empty
    /// /etc/exports: real exportfs works without touching the machine's exports.
    fn private_nfs_files(&self) {
        let empty = self.dir.path().join("exports.empty");
        std::fs::write(&empty, "").unwrap();
        for cmd in [
            vec!["mount", "-t", "tmpfs", "nfs-manage-test", "/srv"],
            vec!["mount", "-t", "tmpfs", "nfs-manage-test", "/var/lib/nfs"],
            vec!["touch", "/var/lib/nfs/etab", "/var/lib/nfs/rmtab"],
            vec!["mkdir", "-p", "/etc/exports.d"],
            vec!["mount", "-t", "tmpfs", "nfs-manage-test", "/etc/exports.d"],
            vec!["mount", "--bind", empty.to_str().unwrap(), "/etc/exports"],
        ] {
            self.ns_ok(&cmd);
        }
    }

    fn setup_namespace(&self) {
        let lan = self.lan_pid.to_string();
        self.private_nfs_files();
        for cmd in [
            vec!["hostname", self.name],
            vec!["ip", "link", "set", "lo", "up"],
            vec![
                "ip", "link", "add", "eth0", "type", "veth", "peer", "name", "lan0", "netns", &lan,
            ],
            vec!["ip", "addr", "add", self.addr, "dev", "eth0"],
            vec!["ip", "link", "set", "eth0", "up"],
        ] {
            self.ns_ok(&cmd);
        }
        for cmd in [
            vec!["ip", "link", "set", "lo", "up"],
            vec!["ip", "addr", "add", "192.0.2.1/24", "dev", "lan0"],
            vec!["ip", "link", "set", "lan0", "up"],
        ] {
            let mut argv = vec!["nsenter", "-t", &lan, "-n", "--"];
            argv.extend(cmd);
            ok(&argv);
        }
    }

    /// Like `setup_namespace`, for a node of a `Pair`: eth0 joins the LAN's bridge through
    /// its port; /run is private (sshd's privilege separation directory lives there) and this
    /// node's directory is bound at /run/node, so every node names its config alike.
    fn setup_pair_namespace(&self) {
        let port = self.ident.port;
        let lan = self.lan_pid.to_string();
        let d = self.dir.path();
        self.private_nfs_files();
        for cmd in [
            vec![
                "mount",
                "-t",
                "tmpfs",
                "-o",
                "mode=0755",
                "nfs-manage-test",
                "/run",
            ],
            vec!["mkdir", "-m", "0755", "/run/sshd", "/run/node"],
            vec!["mount", "--bind", d.to_str().unwrap(), "/run/node"],
            vec!["hostname", self.name],
            vec!["ip", "link", "set", "lo", "up"],
            vec![
                "ip", "link", "add", "eth0", "type", "veth", "peer", "name", port, "netns", &lan,
            ],
            vec!["ip", "addr", "add", self.addr, "dev", "eth0"],
            vec!["ip", "link", "set", "eth0", "up"],
        ] {
            self.ns_ok(&cmd);
        }
        for cmd in [
            vec!["ip", "link", "set", port, "master", "br0"],
            vec!["ip", "link", "set", port, "up"],
        ] {
            let mut argv = vec!["nsenter", "-t", &lan, "-n", "--"];
            argv.extend(cmd);
            ok(&argv);
        }
    }

    /// Make another host on the LAN answer for an address (e.g. the service IP).
    pub fn lan_claims(&self, addr: &str) {
        let lan = self.lan_pid.to_string();
        ok(&[
            "nsenter", "-t", &lan, "-n", "--", "ip", "addr", "add", addr, "dev", "lan0",
        ]);
    }

    /// Mount a test volume's loop device at /srv/NAME inside the namespace (as `up` would).
    pub fn mount_volume(&self, name: &str) {
        let v = self.volumes.iter().find(|v| v.name == name).unwrap();
        let mp = format!("/srv/{name}");
        self.ns_ok(&["mkdir", "-p", &mp]);
        self.ns_ok(&["mount", "-t", "ext4", &v.loopdev, &mp]);
    }

    /// Where nfs-manage on this host traces every command it runs (`NFS_MANAGE_TRACE`).
    pub fn trace_path(&self) -> PathBuf {
        self.dir.path().join("trace.log")
    }

    /// Run a command inside the host's namespaces, with the stand-ins on PATH.
    pub fn ns(&self, argv: &[&str]) -> Output {
        self.ns_cmd(argv).output().unwrap()
    }

    pub fn ns_cmd(&self, argv: &[&str]) -> Command {
        let pid = self.pid().to_string();
        let mut c = Command::new("nsenter");
        c.args(["-t", &pid, "-m", "-n", "-u", "--"]).args(argv);
        c.env("PATH", self.path_env())
            .env("NFS_MANAGE_STANDIN_DIR", self.dir.path().join("standin"))
            .env("NFS_MANAGE_TRACE", self.trace_path());
        c.env_remove("NFS_MANAGE_CONFIG")
            .env_remove("NFS_MANAGE_NODE")
            .env("NO_COLOR", "1");
        c.stdin(Stdio::null());
        c
    }

    pub fn ns_ok(&self, argv: &[&str]) -> String {
        let out = self.ns(argv);
        assert!(
            out.status.success(),
            "{argv:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn path_env(&self) -> String {
        format!(
            "{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            self.dir.path().join("bin").display()
        )
    }

    /// `nfs-manage --config <test config> ARGS` inside the namespaces.
    pub fn run(&self, args: &[&str]) -> Run {
        let config = self.config.to_str().unwrap().to_string();
        let mut argv = vec![
            bin().to_str().unwrap().to_string(),
            "--config".into(),
            config,
        ];
        argv.extend(args.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
        self.ns_run(&refs)
    }

    /// `ns` as a [`Run`], for assertions.
    pub fn ns_run(&self, argv: &[&str]) -> Run {
        Run::of(&mut self.ns_cmd(argv))
    }

    /// Start `nfs-manage ARGS` without waiting (for concurrency tests).
    pub fn spawn(&self, args: &[&str]) -> Child {
        let mut argv = vec![
            bin().to_str().unwrap().to_string(),
            "--config".into(),
            self.config.to_str().unwrap().to_string(),
        ];
        argv.extend(args.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
        self.ns_cmd(&refs)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// A path as seen inside the host's mount namespace.
    pub fn inside(&self, path: &str) -> PathBuf {
        PathBuf::from(format!("/proc/{}/root{path}", self.pid()))
    }

    pub fn etab(&self) -> String {
        std::fs::read_to_string(self.inside("/var/lib/nfs/etab")).unwrap()
    }

    pub fn write_exports(&self, name: &str, text: &str) {
        std::fs::write(self.inside(&format!("/etc/exports.d/{name}")), text).unwrap();
    }

    pub fn mountinfo(&self) -> String {
        std::fs::read_to_string(format!("/proc/{}/mountinfo", self.pid())).unwrap()
    }

    pub fn is_mounted(&self, mountpoint: &str) -> bool {
        self.mountinfo()
            .lines()
            .any(|l| l.split(' ').nth(4) == Some(mountpoint))
    }

    pub fn has_service_ip(&self) -> bool {
        let out = self.ns_ok(&["ip", "-o", "addr", "show", "dev", "eth0"]);
        out.split_whitespace().any(|w| w == self.ident.service_ip)
    }

    /// Make this node the active one without `up`: mount every volume where the config says
    /// and add its cluster's service IP.
    pub fn activate(&self) {
        for v in &self.volumes {
            let mp = format!("/srv/{}", v.name);
            self.ns_ok(&["mkdir", "-p", &mp]);
            self.ns_ok(&["mount", "-t", "ext4", &v.loopdev, &mp]);
        }
        self.ns_ok(&["ip", "addr", "add", self.ident.service_ip, "dev", "eth0"]);
    }

    /// A test /etc/group bound over the real one inside the namespace, so the real `getent`
    /// (NSS files) answers from it.
    pub fn write_group(&self, text: &str) {
        let f = self.dir.path().join("group");
        let first = !f.exists();
        std::fs::write(&f, text).unwrap();
        if first {
            self.ns_ok(&["mount", "--bind", f.to_str().unwrap(), "/etc/group"]);
        }
    }

    /// A private, writable /etc inside the namespace (an overlay whose changes land in the
    /// test directory), with `netgroup: SOURCES` in nsswitch.conf, so the real glibc answers
    /// netgroup questions from the namespace's own /etc/netgroup. Call it before the first
    /// sync: /etc/exports.d starts empty again.
    pub fn private_etc(&self, netgroup_sources: &str) {
        let upper = self.dir.path().join("etc.upper");
        let work = self.dir.path().join("etc.work");
        std::fs::create_dir_all(&upper).unwrap();
        std::fs::create_dir_all(&work).unwrap();
        let opts = format!(
            "lowerdir=/etc,upperdir={},workdir={}",
            upper.display(),
            work.display()
        );
        self.ns_ok(&[
            "mount",
            "-t",
            "overlay",
            "nfs-manage-test",
            "-o",
            &opts,
            "/etc",
        ]);
        let empty = self.dir.path().join("exports.empty");
        self.ns_ok(&["mkdir", "-p", "/etc/exports.d"]);
        self.ns_ok(&["mount", "-t", "tmpfs", "nfs-manage-test", "/etc/exports.d"]);
        self.ns_ok(&["mount", "--bind", empty.to_str().unwrap(), "/etc/exports"]);
        let group = self.dir.path().join("group");
        if group.exists() {
            self.ns_ok(&["mount", "--bind", group.to_str().unwrap(), "/etc/group"]);
        }
        let nss = std::fs::read_to_string("/etc/nsswitch.conf").unwrap_or_default();
        let mut text: String = nss
            .lines()
            .filter(|l| !l.trim_start().starts_with("netgroup:"))
            .map(|l| format!("{l}\n"))
            .collect();
        if !netgroup_sources.is_empty() {
            text.push_str(&format!("netgroup: {netgroup_sources}\n"));
        }
        std::fs::write(self.inside("/etc/nsswitch.conf"), text).unwrap();
    }

    /// An executable shell script in the test directory (e.g. a clients_command stand-in).
    pub fn script(&self, name: &str, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let dir = self.dir.path().join("scripts");
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        // Write to a new inode and rename, so a script never runs while half-written.
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(
            &tmp,
            format!(
                "#!/bin/sh
{body}
"
            ),
        )
        .unwrap();
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::rename(&tmp, &p).unwrap();
        p
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Some(s) = &mut self.sshd {
            let _ = s.kill();
            let _ = s.wait();
        }
        self.etcd = None;
        let _ = self.holder.kill();
        let _ = self.holder.wait();
        if let Some(lan) = &mut self.lan {
            let _ = lan.kill();
            let _ = lan.wait();
        }
        // The mounts went with the namespace; the loop devices are global and must be freed.
        for v in &self.volumes {
            for _ in 0..50 {
                if sh(&["losetup", "-d", &v.loopdev]).status.success() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}
