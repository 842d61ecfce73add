//! Real sshd instances for tests that reach another host: on the LAN side of a host, and on
//! the backup test bed. Keys and known_hosts are generated per test; killed when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::*;

impl Host {
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

/// Put an `ssh` first on a host's PATH (`bin`) that, in the first rsync session it carries,
/// empties `file` once the first megabyte has gone out, then passes the rest: the sender
/// reads `file` short, as when a client truncates it mid-copy. `mark` is created then. The
/// relay passes what it gets as it gets it (`head -c` would wait for full blocks while rsync
/// waits for an answer).
pub fn ssh_emptying_mid_transfer(bin: &Path, file: &str, mark: &Path) {
    const RELAY: &str = "import os, sys
n = 0
while True:
    b = os.read(0, 65536)
    if not b:
        break
    if n < 1000000 <= n + len(b):
        open(sys.argv[1], \"w\").close()
    n += len(b)
    while b:
        b = b[os.write(1, b):]";
    let path = bin.join("ssh");
    std::fs::write(
        &path,
        format!(
            "#!/bin/bash\ncase \"$*\" in *\"rsync --server\"*)\n  if [ ! -e {m} ]; then\n    touch {m}\n    exec /usr/bin/ssh \"$@\" < <(exec python3 -c '{RELAY}' {file})\n  fi ;;\nesac\nexec /usr/bin/ssh \"$@\"\n",
            m = mark.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
}
