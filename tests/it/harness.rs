//! Test hosts: each privileged test gets its own mount, network and UTS namespaces (held by a
//! `sleep` process and entered with `nsenter`), a second network namespace standing for the
//! rest of the LAN (the gateway, or a host that already answers for the service IP), real ext4
//! filesystems on loop devices, and a directory of stand-ins first on PATH for the tools that
//! cannot run here (drbdadm/drbdsetup state, systemctl). Real tools everywhere else.
//!
//! Inside the namespace /srv, /var/lib/nfs and /etc/exports.d are private tmpfs mounts and an
//! empty file is bound over /etc/exports, so real `exportfs` works without touching the host.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

pub const NODE: &str = "labstore1004";
pub const PEER: &str = "labstore1005";
pub const NODE_ADDR: &str = "192.0.2.6/24";
pub const GATEWAY: &str = "192.0.2.1";
pub const SERVICE_IP: &str = "192.0.2.18/24";

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_nfs-manage"))
}

/// The stand-in binary, built by `cargo test` as the example target `standin`.
pub fn standin() -> PathBuf {
    let p = bin().parent().unwrap().join("examples/standin");
    assert!(
        p.exists(),
        "{} is missing: `cargo test` builds it (example target `standin`)",
        p.display()
    );
    p
}

/// Whether this machine can run privileged tests (root, mount and network namespaces).
/// Outside CI it says `SKIPPED: …` when it cannot; under CI=true it panics instead, so a
/// privileged test never skips silently there. Tests use [`privileged!`], not this.
pub fn can_run_privileged() -> bool {
    let root = nix::unistd::geteuid().is_root();
    let ok = root
        && Command::new("unshare")
            .args(["-m", "-n", "true"])
            .status()
            .is_ok_and(|s| s.success());
    if !ok {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "privileged test cannot run (needs root and unshare) but CI=true: failing instead of skipping"
            );
        }
        eprintln!("SKIPPED: needs root, mount and network namespaces");
    }
    ok
}

/// The first line of every test that needs root and namespaces: the test returns early
/// (`SKIPPED: …`) on a machine that cannot run it, and fails under CI=true.
macro_rules! privileged {
    () => {
        if !$crate::harness::can_run_privileged() {
            return;
        }
    };
}
pub(crate) use privileged;

pub fn sh(argv: &[&str]) -> Output {
    Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .unwrap_or_else(|e| panic!("{argv:?}: {e}"))
}

pub fn ok(argv: &[&str]) -> String {
    let out = sh(argv);
    assert!(
        out.status.success(),
        "{argv:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub struct Volume {
    pub name: &'static str,
    pub loopdev: String,
}

pub struct Host {
    pub dir: tempfile::TempDir,
    holder: Child,
    /// The LAN namespace: owned by a single host, shared (held by the `Pair`) for two nodes.
    lan: Option<Child>,
    lan_pid: u32,
    pub volumes: Vec<Volume>,
    pub config: PathBuf,
    /// Where `config` is written, seen from outside the namespaces.
    config_file: PathBuf,
    /// This host's node name, its address (with prefix) and the other node's name.
    pub name: &'static str,
    pub addr: &'static str,
    pub peer: &'static str,
    /// YAML appended to the generated config (lock, remote, failover sections).
    pub extra_config: String,
    /// A real etcd in the LAN namespace (single host with `Spec::etcd`).
    pub etcd: Option<Etcd>,
    sshd: Option<Child>,
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
        }
    }
}

/// Which network the host's eth0 joins.
enum Attach<'a> {
    /// Its own LAN namespace with the gateway on the other end of the veth.
    OwnLan,
    /// A pair's LAN: the LAN namespace's bridge, through the named port.
    Bridge { lan_pid: u32, port: &'a str },
}

impl Host {
    pub fn new() -> Host {
        Host::with(Spec::default())
    }

    pub fn with(spec: Spec) -> Host {
        let mut h = Host::build(spec, NODE, NODE_ADDR, PEER, Attach::OwnLan);
        if h.spec.etcd {
            let lan = h.lan_pid;
            let etcd = Etcd::start(lan, GATEWAY, &h.dir.path().join("etcd"));
            h.extra_config = etcd.lock_yaml();
            h.etcd = Some(etcd);
            h.rewrite_config();
        }
        h
    }

    fn build(
        spec: Spec,
        name: &'static str,
        addr: &'static str,
        peer: &'static str,
        attach: Attach<'_>,
    ) -> Host {
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
            name,
            addr,
            peer,
            extra_config: String::new(),
            etcd: None,
            sshd: None,
            spec: spec.clone(),
        };
        host.wait_for_namespaces();
        match attach {
            Attach::OwnLan => host.setup_namespace(),
            Attach::Bridge { port, .. } => host.setup_pair_namespace(port),
        }
        for name in spec.volumes {
            let img = host.dir.path().join("images").join(format!("{name}.img"));
            ok(&["truncate", "-s", "32M", img.to_str().unwrap()]);
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
    /// `port`; /run is private (sshd's privilege separation directory lives there) and this
    /// node's directory is bound at /run/node, so both nodes name their config alike.
    fn setup_pair_namespace(&self, port: &str) {
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

    /// Start a real sshd in the LAN namespace, listening on each of `addrs` (added to the LAN
    /// side's link when not there yet), with host and client keys generated for this test. The
    /// returned [`Sshd`] has the ssh argv that reaches it from the host's namespace (batch
    /// mode, strict host key checking against a known_hosts of its own).
    pub fn lan_sshd(&self, addrs: &[&str]) -> Sshd {
        let lan = self.lan_pid.to_string();
        let dir = self.dir.path().join("sshd");
        // A space and a quote in the client key's path: the ssh argv must survive quoting.
        let client = self.dir.path().join("client key's dir");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::create_dir_all(&client).unwrap();
        let host_key = dir.join("host_key");
        let id = client.join("id");
        for key in [&host_key, &id] {
            ok(&[
                "ssh-keygen",
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                "nfs-manage-test",
                "-f",
                key.to_str().unwrap(),
            ]);
        }
        std::fs::copy(id.with_extension("pub"), dir.join("authorized_keys")).unwrap();
        let host_pub = std::fs::read_to_string(host_key.with_extension("pub")).unwrap();
        let known_hosts = dir.join("known_hosts");
        let mut kh = String::new();
        let mut config = String::new();
        for a in addrs {
            let present = ok(&[
                "nsenter", "-t", &lan, "-n", "--", "ip", "-o", "addr", "show",
            ]);
            if !present
                .split_whitespace()
                .any(|w| w.split('/').next() == Some(*a))
            {
                self.lan_claims(&format!("{a}/24"));
            }
            kh.push_str(&format!("{a} {host_pub}"));
            config.push_str(&format!("ListenAddress {a}:22\n"));
        }
        std::fs::write(&known_hosts, kh).unwrap();
        config.push_str(&format!(
            "HostKey {hk}\nAuthorizedKeysFile {ak}\nPidFile {pid}\nUsePAM no\nStrictModes no\n\
             PermitRootLogin prohibit-password\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nLogLevel VERBOSE\n",
            hk = host_key.display(),
            ak = dir.join("authorized_keys").display(),
            pid = dir.join("sshd.pid").display(),
        ));
        let conf = dir.join("sshd_config");
        std::fs::write(&conf, config).unwrap();
        let log = std::fs::File::create(dir.join("sshd.log")).unwrap();
        // sshd needs its privilege separation directory /run/sshd; a private mount namespace
        // with its own /run keeps the machine's /run untouched.
        let child = Command::new("nsenter")
            .args(["-t", &lan, "-n", "--", "unshare", "-m", "--propagation", "private"])
            .args([
                "sh",
                "-c",
                "mount -t tmpfs nfs-manage-test /run && mkdir -m 755 /run/sshd && exec /usr/sbin/sshd -D -e -f \"$0\"",
            ])
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let sshd = Sshd {
            child,
            dir: dir.clone(),
            ssh: vec![
                "ssh".into(),
                "-F".into(),
                "/dev/null".into(),
                "-o".into(),
                "BatchMode=yes".into(),
                "-o".into(),
                "StrictHostKeyChecking=yes".into(),
                "-o".into(),
                format!("UserKnownHostsFile={}", known_hosts.display()),
                "-o".into(),
                "ConnectTimeout=5".into(),
                "-i".into(),
                id.display().to_string(),
            ],
        };
        for a in addrs {
            let probe = format!("exec 3<>/dev/tcp/{a}/22");
            let up = (0..100).any(|_| {
                if self.ns(&["bash", "-c", &probe]).status.success() {
                    return true;
                }
                std::thread::sleep(Duration::from_millis(50));
                false
            });
            assert!(up, "sshd did not come up on {a}: {}", sshd.log());
        }
        sshd
    }

    /// Append YAML to the test config (e.g. `remote:` and `sync:` sections).
    pub fn append_config(&self, yaml: &str) {
        let mut text = std::fs::read_to_string(&self.config).unwrap();
        text.push_str(yaml);
        std::fs::write(&self.config, text).unwrap();
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

    pub fn journal(&self) -> Vec<Value> {
        match std::fs::read_to_string(self.dir.path().join("journal.jsonl")) {
            Ok(t) => t
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    pub fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("standin/calls.log"))
            .map(|t| t.lines().map(String::from).collect())
            .unwrap_or_default()
    }

    pub fn clear_calls(&self) {
        let _ = std::fs::remove_file(self.dir.path().join("standin/calls.log"));
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
        out.split_whitespace().any(|w| w == SERVICE_IP)
    }

    pub fn write_config(&mut self, spec: &Spec) {
        let d = self.dir.path();
        let mut y = format!(
            "cluster: test\nnodes:\n  {NODE}: {{ address: 192.0.2.6 }}\n  {PEER}: {{ address: 192.0.2.7 }}\n"
        );
        if spec.service_ip {
            y.push_str(&format!("service_ip:\n  address: {SERVICE_IP}\n  interface: eth0\n  announce_to: {GATEWAY}\n"));
        }
        y.push_str("volumes:\n");
        for v in &self.volumes {
            y.push_str(&format!(
                "  - name: {n}\n    device: {dev}\n    mountpoint: /srv/{n}\n    fstype: ext4\n    mount_options: [noatime]\n",
                n = v.name,
                dev = v.loopdev
            ));
            if spec.drbd {
                y.push_str(&format!("    drbd: {}\n", v.name));
            }
            if spec.dual_primary || spec.dual.contains(&v.name) {
                y.push_str("    dual_primary: true\n");
            }
        }
        y.push_str(&format!("services: [{}]\n", spec.services.join(", ")));
        y.push_str(&format!(
            "paths:\n  journal: {}\n  lock: {}\ntimeouts: {{ probe: 20s, step: 30s }}\n",
            d.join("journal.jsonl").display(),
            d.join("run/lock").display()
        ));
        y.push_str(&self.extra_config);
        std::fs::write(&self.config_file, y).unwrap();
    }

    /// Write the config again (after `extra_config` changed).
    pub fn rewrite_config(&mut self) {
        let spec = self.spec.clone();
        self.write_config(&spec);
    }

    fn write_drbd_state(&self, spec: &Spec) {
        if !spec.drbd {
            return;
        }
        let resources: Vec<Value> = self
            .volumes
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let me = if self.name == NODE { 0 } else { 1 };
                json!({
                    "name": v.name, "node_id": me, "role": "Secondary", "up": true,
                    "allow_two_primaries": spec.dual_primary || spec.dual.contains(&v.name),
                    "volumes": [{"volume": 0, "minor": i + 1, "device": v.loopdev, "disk": "UpToDate", "size_kib": 32768}],
                    "peers": [{"name": self.peer, "node_id": 1 - me, "connection": "Connected", "role": "Secondary",
                               "volumes": [{"volume": 0, "replication": "Established", "disk": "UpToDate", "done": null}]}]
                })
            })
            .collect();
        self.set_drbd(json!({ "resources": resources }));
    }

    pub fn drbd(&self) -> Value {
        serde_json::from_str(
            &std::fs::read_to_string(self.dir.path().join("standin/drbd.json")).unwrap(),
        )
        .unwrap()
    }

    pub fn set_drbd(&self, v: Value) {
        std::fs::write(
            self.dir.path().join("standin/drbd.json"),
            serde_json::to_string_pretty(&v).unwrap(),
        )
        .unwrap();
    }

    /// Change one resource of the stand-in's DRBD state.
    pub fn edit_resource(&self, name: &str, f: impl FnOnce(&mut Value)) {
        let mut all = self.drbd();
        let r = all["resources"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|r| r["name"] == name)
            .unwrap();
        f(r);
        self.set_drbd(all);
    }

    pub fn role(&self, name: &str) -> String {
        let all = self.drbd();
        all["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap()["role"]
            .as_str()
            .unwrap()
            .into()
    }

    pub fn write_units(&self, spec: &Spec, active: &[&str]) {
        let mut units = serde_json::Map::new();
        for u in std::iter::once(&"nfs-server").chain(spec.services.iter()) {
            units.insert(
                u.to_string(),
                json!(if active.contains(u) {
                    "active"
                } else {
                    "inactive"
                }),
            );
        }
        std::fs::write(
            self.dir.path().join("standin/systemd.json"),
            json!({ "units": units }).to_string(),
        )
        .unwrap();
    }

    pub fn unit(&self, name: &str) -> String {
        let v: Value = serde_json::from_str(
            &std::fs::read_to_string(self.dir.path().join("standin/systemd.json")).unwrap(),
        )
        .unwrap();
        v["units"][name].as_str().unwrap_or("").to_string()
    }

    /// Tell the stand-ins to fail or slow down a call (see tests/standin/main.rs).
    pub fn faults(&self, faults: Value) {
        let _ = std::fs::remove_file(self.dir.path().join("standin/fault-counters.json"));
        std::fs::write(
            self.dir.path().join("standin/faults.json"),
            faults.to_string(),
        )
        .unwrap();
    }

    pub fn clear_faults(&self) {
        let _ = std::fs::remove_file(self.dir.path().join("standin/faults.json"));
        let _ = std::fs::remove_file(self.dir.path().join("standin/fault-counters.json"));
    }

    /// Point the config at a projects directory (`<test dir>/projects`), a backup file and a
    /// short clients_command time limit, for the exports commands; `extra` is appended as is
    /// (e.g. a `public:` list).
    pub fn enable_exports(&self, extra: &str) {
        let d = self.dir.path();
        std::fs::create_dir_all(d.join("projects")).unwrap();
        let mut y = std::fs::read_to_string(&self.config).unwrap();
        y.push_str(&format!(
            "projects_dir: {}
exports: {{ backup: {}, clients_timeout: 2s }}
{extra}",
            d.join("projects").display(),
            d.join("exports.bak").display()
        ));
        std::fs::write(&self.config, y).unwrap();
    }

    pub fn projects_dir(&self) -> PathBuf {
        self.dir.path().join("projects")
    }

    pub fn write_project(&self, name: &str, yaml: &str) {
        std::fs::write(self.projects_dir().join(format!("{name}.yaml")), yaml).unwrap();
    }

    /// Make this node the active one without `up`: mount every volume where the config says
    /// and add the service IP.
    pub fn activate(&self) {
        for v in &self.volumes {
            let mp = format!("/srv/{}", v.name);
            self.ns_ok(&["mkdir", "-p", &mp]);
            self.ns_ok(&["mount", "-t", "ext4", &v.loopdev, &mp]);
        }
        self.ns_ok(&["ip", "addr", "add", SERVICE_IP, "dev", "eth0"]);
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

    /// Put a stand-in in front of a real tool (e.g. mount, exportfs, ip, arping), so faults can
    /// be injected there too; without a matching fault it runs the real tool.
    pub fn wrap_real_tool(&self, tool: &str) {
        let link = self.dir.path().join("bin").join(tool);
        if !link.exists() {
            std::os::unix::fs::symlink(standin(), link).unwrap();
        }
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

/// A real sshd in the LAN namespace (see [`Host::lan_sshd`]); killed when dropped.
pub struct Sshd {
    child: Child,
    pub dir: PathBuf,
    /// The ssh argv that reaches it, for the config's `remote.ssh`.
    pub ssh: Vec<String>,
}

impl Sshd {
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("sshd.log")).unwrap_or_default()
    }

    /// `remote.ssh` as a YAML flow list.
    pub fn ssh_yaml(&self) -> String {
        let items: Vec<String> = self
            .ssh
            .iter()
            .map(|a| format!("'{}'", a.replace('\'', "''")))
            .collect();
        format!("[{}]", items.join(", "))
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What one command did, with chainable assertions: each one that fails prints the command,
/// its exit code and its whole stdout and stderr, so a failure needs no rerun to explain.
///
/// ```ignore
/// h.run(&["up"]).status(3).stderr_has("rerun with --yes").stdout_has("drbdadm primary");
/// let plan = h.run(&["up", "--dry-run", "--json"]).status(0).json();
/// ```
#[derive(Debug)]
pub struct Run {
    /// The command line, for failure messages (empty when only its output was kept).
    pub cmd: String,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            cmd: String::new(),
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Run `cmd` to completion, keeping its command line for failure messages.
    pub fn of(cmd: &mut Command) -> Run {
        let line = std::iter::once(cmd.get_program())
            .chain(cmd.get_args())
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ");
        let out = cmd.output().unwrap_or_else(|e| panic!("{line}: {e}"));
        Run {
            cmd: line,
            ..Run::from(out)
        }
    }

    #[track_caller]
    fn fail(&self, what: &str) -> ! {
        panic!(
            "{what}\n--- command\n{}\n--- exit {}\n--- stdout\n{}\n--- stderr\n{}",
            if self.cmd.is_empty() {
                "(not recorded)"
            } else {
                &self.cmd
            },
            self.code,
            self.stdout,
            self.stderr
        )
    }

    /// The exit code is `code`.
    #[track_caller]
    pub fn status(&self, code: i32) -> &Run {
        if self.code != code {
            self.fail(&format!("expected exit {code}, got {}", self.code));
        }
        self
    }

    /// stdout contains `text`.
    #[track_caller]
    pub fn stdout_has(&self, text: impl AsRef<str>) -> &Run {
        let text = text.as_ref();
        if !self.stdout.contains(text) {
            self.fail(&format!("stdout does not contain {text:?}"));
        }
        self
    }

    /// stdout does not contain `text`.
    #[track_caller]
    pub fn stdout_lacks(&self, text: impl AsRef<str>) -> &Run {
        let text = text.as_ref();
        if self.stdout.contains(text) {
            self.fail(&format!("stdout contains {text:?}"));
        }
        self
    }

    /// stderr contains `text`.
    #[track_caller]
    pub fn stderr_has(&self, text: impl AsRef<str>) -> &Run {
        let text = text.as_ref();
        if !self.stderr.contains(text) {
            self.fail(&format!("stderr does not contain {text:?}"));
        }
        self
    }

    /// stdout starts with `text`.
    #[track_caller]
    pub fn stdout_starts_with(&self, text: impl AsRef<str>) -> &Run {
        let text = text.as_ref();
        if !self.stdout.starts_with(text) {
            self.fail(&format!("stdout does not start with {text:?}"));
        }
        self
    }

    /// stdout is exactly `text`.
    #[track_caller]
    pub fn stdout_is(&self, text: impl AsRef<str>) -> &Run {
        let text = text.as_ref();
        if self.stdout != text {
            self.fail(&format!("stdout is not exactly {text:?}"));
        }
        self
    }

    /// stderr is exactly `text`.
    #[track_caller]
    pub fn stderr_is(&self, text: impl AsRef<str>) -> &Run {
        let text = text.as_ref();
        if self.stderr != text {
            self.fail(&format!("stderr is not exactly {text:?}"));
        }
        self
    }

    /// stdout parsed as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| self.fail(&format!("stdout is not JSON ({e})")))
    }
}

pub fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Probes run concurrently, so their order in the stand-in log is not fixed.
pub fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Give the mount namespace of `pid` its own /dev: a tmpfs with the usual character devices
/// and loop-control bound in, and the real devtmpfs at /dev/.real. The LVM stand-in can then
/// create /dev/VG/LV links there without touching the machine's /dev. `scratch` is an empty
/// directory used while setting up.
pub fn private_dev(pid: u32, scratch: &Path) {
    std::fs::create_dir_all(scratch).unwrap();
    let s = scratch.display();
    let script = format!(
        "set -e
mount --bind /dev {s}
mount -t tmpfs -o mode=755,size=4m nfs-manage-dev /dev
mkdir /dev/.real /dev/pts /dev/shm
mount --bind {s} /dev/.real
umount {s}
for n in null zero full random urandom tty loop-control; do
  touch /dev/$n; mount --bind /dev/.real/$n /dev/$n
done
mount --bind /dev/.real/pts /dev/pts
mount -t tmpfs nfs-manage-shm /dev/shm
ln -s /proc/self/fd /dev/fd
ln -s /proc/self/fd/0 /dev/stdin; ln -s /proc/self/fd/1 /dev/stdout; ln -s /proc/self/fd/2 /dev/stderr"
    );
    ok(&[
        "nsenter",
        "-t",
        &pid.to_string(),
        "-m",
        "--",
        "sh",
        "-c",
        &script,
    ]);
}

/// A real sshd for backup tests, in the mount+network namespace of `pid` (its /run is made
/// private there), listening on `addr`:22. Keys are generated for this test only; the client
/// side gets `ssh_argv` with BatchMode, its own known_hosts and key, and no user config.
pub struct BackupSshd {
    pub child: Child,
    pub ssh_argv: Vec<String>,
}

impl BackupSshd {
    /// `env`: variables every session gets (sshd_config SetEnv), e.g. PATH with stand-ins.
    pub fn start(pid: u32, addr: &str, dir: &Path, env: &[(&str, String)]) -> BackupSshd {
        std::fs::create_dir_all(dir).unwrap();
        let p = |n: &str| dir.join(n).display().to_string();
        for (key, kind) in [("host_key", "ed25519"), ("id", "ed25519")] {
            ok(&["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", &p(key)]);
        }
        std::fs::copy(dir.join("id.pub"), dir.join("authorized_keys")).unwrap();
        let host_pub = std::fs::read_to_string(dir.join("host_key.pub")).unwrap();
        let mut hk = host_pub.split_whitespace();
        std::fs::write(
            dir.join("known_hosts"),
            format!("{addr} {} {}\n", hk.next().unwrap(), hk.next().unwrap()),
        )
        .unwrap();
        let setenv: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let cfg = format!(
            "ListenAddress {addr}\nPort 22\nHostKey {hk}\nPidFile {pid_file}\nAuthorizedKeysFile {ak}\nStrictModes no\nUsePAM no\nPermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nLogLevel ERROR\nSetEnv {setenv}\n",
            hk = p("host_key"),
            pid_file = p("sshd.pid"),
            ak = p("authorized_keys"),
            setenv = setenv.join(" ")
        );
        std::fs::write(dir.join("sshd_config"), cfg).unwrap();
        let pid_s = pid.to_string();
        ok(&[
            "nsenter",
            "-t",
            &pid_s,
            "-m",
            "--",
            "sh",
            "-c",
            "mount -t tmpfs nfs-manage-run /run && mkdir -p /run/sshd",
        ]);
        let child = Command::new("nsenter")
            .args([
                "-t",
                &pid_s,
                "-m",
                "-n",
                "--",
                "/usr/sbin/sshd",
                "-D",
                "-e",
                "-f",
            ])
            .arg(dir.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("sshd.log")).unwrap())
            .spawn()
            .unwrap();
        let ssh_argv: Vec<String> = [
            "ssh",
            "-F",
            "none",
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            &format!("UserKnownHostsFile={}", p("known_hosts")),
            "-o",
            "ConnectTimeout=5",
            "-i",
            &p("id"),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        BackupSshd { child, ssh_argv }
    }
}

impl Drop for BackupSshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A real etcd (v3 API) in a network namespace, data in the test's temp dir, killed on drop.
/// Each test has its own namespace, so the standard ports never collide between tests.
pub struct Etcd {
    ns_pid: u32,
    pub addr: String,
    dir: PathBuf,
    child: Option<Child>,
}

impl Etcd {
    pub fn start(ns_pid: u32, addr: &str, dir: &Path) -> Etcd {
        std::fs::create_dir_all(dir).unwrap();
        let mut e = Etcd {
            ns_pid,
            addr: addr.to_string(),
            dir: dir.to_path_buf(),
            child: None,
        };
        e.restart();
        e
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}:2379", self.addr)
    }

    /// The config section for this etcd.
    pub fn lock_yaml(&self) -> String {
        format!(
            "lock:\n  etcd: {{ endpoints: [\"{}\"], prefix: /nfs-manage, timeout: 3s }}\n",
            self.endpoint()
        )
    }

    /// Start (again, with the same data) and wait until it answers.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "etcd already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("etcd.log"))
            .unwrap();
        let client = self.endpoint();
        let child = Command::new("nsenter")
            .args(["-t", &self.ns_pid.to_string(), "-n", "--", "etcd"])
            .args(["--name", "t", "--data-dir"])
            .arg(self.dir.join("data"))
            .args([
                "--listen-client-urls",
                &client,
                "--advertise-client-urls",
                &client,
            ])
            .args([
                "--listen-peer-urls",
                "http://127.0.0.1:2380",
                "--initial-advertise-peer-urls",
                "http://127.0.0.1:2380",
                "--initial-cluster",
                "t=http://127.0.0.1:2380",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        for _ in 0..100 {
            if self.ctl(&["endpoint", "health"]).status.success() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "etcd did not come up; see {}",
            self.dir.join("etcd.log").display()
        );
    }

    /// Kill it (SIGKILL: as abrupt as a crash); `restart` brings it back with its data.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// etcdctl against this etcd, from its namespace.
    pub fn ctl(&self, args: &[&str]) -> Output {
        Command::new("nsenter")
            .args(["-t", &self.ns_pid.to_string(), "-n", "--", "etcdctl"])
            .arg(format!("--endpoints={}", self.endpoint()))
            .args(["--dial-timeout=1s", "--command-timeout=2s"])
            .args(args)
            .env("ETCDCTL_API", "3")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// The value of a key (None when absent).
    pub fn get(&self, key: &str) -> Option<String> {
        let out = self.ctl(&["get", "--print-value-only", key]);
        assert!(
            out.status.success(),
            "etcdctl get: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v = String::from_utf8_lossy(&out.stdout).trim_end().to_string();
        (!v.is_empty()).then_some(v)
    }

    /// The node named by the cluster lock of the test cluster.
    pub fn holder(&self) -> Option<String> {
        self.get(LOCK_KEY)
            .map(|v| v.split('@').next().unwrap().to_string())
    }

    pub fn put(&self, key: &str, value: &str) {
        let out = self.ctl(&["put", key, value]);
        assert!(
            out.status.success(),
            "etcdctl put: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.stop();
    }
}

pub const LOCK_KEY: &str = "/nfs-manage/test/active";
pub const PEER_ADDR: &str = "192.0.2.7/24";

/// Two nodes on one machine: `a` (labstore1004, 192.0.2.6) and `b` (labstore1005,
/// 192.0.2.7), each a `Host` with its own mount, network and UTS namespaces, stand-in state
/// and sshd on its own address, both on one LAN (a bridge in a third network namespace that
/// also holds the gateway 192.0.2.1 and a real etcd on it). Their DRBD stand-ins share the
/// replication view: each reads the other's state file for its peer, and `cut_link` makes
/// the connection drop (Connecting) on both sides as well as the network.
///
/// nfs-manage on one node reaches the other with real ssh (keys generated per test, BatchMode,
/// a per-test known_hosts). The remote side gets the stand-ins first on its PATH and its
/// NFS_MANAGE_STANDIN_DIR through `environment=` options in authorized_keys (sshd runs with
/// `PermitUserEnvironment PATH,NFS_MANAGE_STANDIN_DIR,NO_COLOR`): exactly what a login on
/// that node would see, without a wrapper in between. sshd runs inside the node's namespaces,
/// so what it runs sees that node's mounts, addresses and state.
pub struct Pair {
    pub a: Host,
    pub b: Host,
    pub etcd: Etcd,
    lan: Reaped,
    _dir: tempfile::TempDir,
    multiplexed: bool,
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

impl Pair {
    pub fn new(spec: Spec) -> Pair {
        let dir = tempfile::Builder::new()
            .prefix("nfs-manage-pair.")
            .tempdir()
            .unwrap();
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
        let a = Host::build(
            spec.clone(),
            NODE,
            NODE_ADDR,
            PEER,
            Attach::Bridge {
                lan_pid,
                port: "port-a",
            },
        );
        let b = Host::build(
            spec,
            PEER,
            PEER_ADDR,
            NODE,
            Attach::Bridge {
                lan_pid,
                port: "port-b",
            },
        );
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
            let s = h.dir.path().join("ssh");
            let o = other.dir.path().join("ssh");
            let client = std::fs::read_to_string(o.join("id_ed25519.pub")).unwrap();
            // Logins on h run with h's stand-ins, like a shell on that node would; HOME points
            // into the test directory so the machine's own ~/.bashrc is not run on each login.
            std::fs::write(
                s.join("authorized_keys"),
                format!(
                    "environment=\"PATH={}\",environment=\"NFS_MANAGE_STANDIN_DIR={}\",environment=\"NFS_MANAGE_TRACE={}\",environment=\"NO_COLOR=1\",environment=\"HOME={}\" {}",
                    h.path_env(),
                    h.dir.path().join("standin").display(),
                    h.trace_path().display(),
                    h.dir.path().display(),
                    client
                ),
            )
            .unwrap();
            let hostkey = std::fs::read_to_string(s.join("host_ed25519.pub")).unwrap();
            let ip = h.addr.split('/').next().unwrap();
            std::fs::write(o.join("known_hosts"), format!("{ip} {hostkey}")).unwrap();
            std::fs::write(
                s.join("sshd_config"),
                format!(
                    "ListenAddress {ip}\nPort 22\nHostKey {}\nAuthorizedKeysFile {}\nPermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPermitUserEnvironment PATH,NFS_MANAGE_STANDIN_DIR,NFS_MANAGE_TRACE,NO_COLOR,HOME\nPidFile none\nLogLevel ERROR\n",
                    s.join("host_ed25519").display(),
                    s.join("authorized_keys").display()
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
            let peer_ip = if h.name == NODE {
                "192.0.2.7"
            } else {
                "192.0.2.6"
            };
            let _ = peer_ip;
            h.extra_config = format!(
                "{}remote:\n  ssh: [ssh, -o, BatchMode=yes, -o, ConnectTimeout=2, -o, StrictHostKeyChecking=yes, -o, \"UserKnownHostsFile={k}\", -o, GlobalKnownHostsFile=/dev/null, -o, LogLevel=ERROR, -i, \"{i}\"]\n  user: root\nfailover: {{ ssh_timeout: 10s, remote_timeout: 90s }}\n",
                self.etcd.lock_yaml(),
                k = s.join("known_hosts").display(),
                i = s.join("id_ed25519").display(),
            );
            h.rewrite_config();
        }
        // Both sshds answer before any test uses them.
        for (h, other) in [(&self.a, &self.b), (&self.b, &self.a)] {
            let mut up = false;
            for _ in 0..50 {
                if h.ssh_to(other, &["true"]).status.success() {
                    up = true;
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            assert!(
                up,
                "ssh {} -> {} does not work: {}",
                h.name,
                other.name,
                String::from_utf8_lossy(&h.ssh_to(other, &["true"]).stderr)
            );
        }
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
        let port = if h.name == NODE { "port-a" } else { "port-b" };
        let lan = self.lan.id().to_string();
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
        let port = if victim.name == NODE {
            "port-a"
        } else {
            "port-b"
        };
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
                sip = SERVICE_IP,
                dir = victim.dir.path().display(),
                lan = self.lan.id(),
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
        self.etcd.stop();
    }
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

/// The parallel group and lane of an `up`/`down` step id (see `Step::parallel`).
fn group_lane(id: &str) -> Option<(&'static str, &str)> {
    let (kind, rest) = id.split_once(':')?;
    let group = match kind {
        "drbd-up" | "promote" => "drbd",
        "mkdir" | "mount" => "mount",
        "unexport" => "unexport",
        "kill" | "umount" => "umount",
        "demote" => "demote",
        _ => return None,
    };
    Some((group, rest))
}

/// Journal order against plan order: steps of one parallel group may finish in any order, but
/// a lane keeps its order and nothing crosses a group's boundary.
#[track_caller]
pub fn assert_order(actual: &[String], expected: &[&str]) {
    let mut a: Vec<&str> = actual.iter().map(String::as_str).collect();
    let mut e = expected.to_vec();
    a.sort();
    e.sort();
    assert_eq!(a, e, "the same steps ran");
    let pos = |id: &str| actual.iter().position(|x| x == id).unwrap();
    for (i, x) in expected.iter().enumerate() {
        for y in &expected[i + 1..] {
            let (gx, gy) = (group_lane(x), group_lane(y));
            let parallel =
                matches!((gx, gy), (Some((g1, l1)), Some((g2, l2))) if g1 == g2 && l1 != l2);
            assert!(
                parallel || pos(x) < pos(y),
                "{x} must come before {y}: {actual:?}"
            );
        }
    }
}
