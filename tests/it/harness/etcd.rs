//! A real etcd for the cluster lock.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use super::*;

/// A real etcd (v3 API) in a network namespace, data in the test's temp dir, killed on drop.
/// Each test has its own namespace, so the standard ports never collide between tests.
pub struct Etcd {
    ns_pid: u32,
    pub addr: String,
    dir: PathBuf,
    child: Option<Child>,
    /// A handle on another `Etcd`'s server (see `shared`).
    shared: bool,
}

impl Etcd {
    pub fn start(ns_pid: u32, addr: &str, dir: &Path) -> Etcd {
        std::fs::create_dir_all(dir).unwrap();
        let mut e = Etcd {
            ns_pid,
            addr: addr.to_string(),
            dir: dir.to_path_buf(),
            child: None,
            shared: false,
        };
        e.restart();
        e
    }

    /// A handle on this etcd for a second pair on the same LAN: the same server, which stays
    /// this one's to stop and restart.
    pub fn shared(&self) -> Etcd {
        Etcd {
            ns_pid: self.ns_pid,
            addr: self.addr.clone(),
            dir: self.dir.clone(),
            child: None,
            shared: true,
        }
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
        assert!(
            !self.shared,
            "this etcd is the first pair's: restart it there"
        );
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
        assert!(!self.shared, "this etcd is the first pair's: stop it there");
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
        if !self.shared {
            self.stop();
        }
    }
}
