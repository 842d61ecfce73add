//! The test bed (see DESIGN.md "Test bed"): hosts in private namespaces with real tools and
//! stand-ins, pairs of them on one LAN, etcd and sshd. Every test module does
//! `use crate::harness::*`.
//!
//! Most tests use one node or one pair: cluster `test`, labstore1004 (192.0.2.6) and
//! labstore1005 (192.0.2.7), service IP 192.0.2.18. A second pair can join the same LAN and
//! etcd (`Pair::second_on`): cluster `other`, labstore1006 (192.0.2.8) and labstore1007
//! (192.0.2.9), service IP 192.0.2.19, with ssh between every node of the two.
//!
//! - host.rs: one node's namespaces, loop devices and commands run inside them; `Identity`,
//!   who a node is (cluster, name, addresses, peer)
//! - config.rs: its cluster.yaml
//! - standins.rs: the stand-ins' state, faults and call log
//! - journal.rs: the journal and step order
//! - pair.rs: two nodes, link cut, fence; a second pair on the same LAN
//! - etcd.rs, sshd.rs, dev.rs: services and a private /dev for the tests that need them
//! - run.rs: `Run` and its assertions

use std::path::{Path, PathBuf};
use std::process::Command;

mod config;
mod dev;
mod etcd;
mod host;
mod journal;
mod pair;
mod run;
mod sshd;
mod standins;

pub use dev::private_dev;
pub use etcd::Etcd;
pub use host::{Host, Identity, Spec};
pub use journal::assert_order;
pub use pair::Pair;
pub use run::{Run, ok, sh};
pub use sshd::{BackupSshd, Sshd, ssh_emptying_mid_transfer};

pub const NODE: &str = "labstore1004";
pub const PEER: &str = "labstore1005";
pub const NODE_ADDR: &str = "192.0.2.6/24";
pub const GATEWAY: &str = "192.0.2.1";
pub const SERVICE_IP: &str = "192.0.2.18/24";
pub const PEER_ADDR: &str = "192.0.2.7/24";
/// The cluster lock's key in etcd for the test cluster.
pub const LOCK_KEY: &str = "/nfs-manage/test/active";

/// The second pair's cluster (see `Pair::second_on`).
pub const OTHER_CLUSTER: &str = "other";
pub const OTHER_NODE: &str = "labstore1006";
pub const OTHER_PEER: &str = "labstore1007";
pub const OTHER_NODE_ADDR: &str = "192.0.2.8/24";
pub const OTHER_PEER_ADDR: &str = "192.0.2.9/24";
pub const OTHER_SERVICE_IP: &str = "192.0.2.19/24";
/// The cluster lock's key in etcd for the second pair's cluster.
pub const OTHER_LOCK_KEY: &str = "/nfs-manage/other/active";

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_nfs-manage"))
}

/// The stand-in binary, built by `cargo test` as the example target `standin`. `cargo test
/// --test it` alone does not rebuild it, so one older than its sources is refused rather
/// than run: the tests would otherwise meet yesterday's stand-in.
pub fn standin() -> PathBuf {
    static CHECKED: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    CHECKED
        .get_or_init(|| {
            let p = bin().parent().unwrap().join("examples/standin");
            let built = std::fs::metadata(&p)
                .and_then(|m| m.modified())
                .map_err(|e| {
                    format!(
                        "{}: {e}: `cargo test` builds it (example target `standin`; \
                     `cargo build --examples` alone)",
                        p.display()
                    )
                })?;
            let src = repo_path("tests/standin");
            let entries = std::fs::read_dir(&src).map_err(|e| format!("{}: {e}", src.display()))?;
            for e in entries.flatten() {
                let changed = e.metadata().and_then(|m| m.modified());
                if changed.is_ok_and(|t| t > built) {
                    return Err(format!(
                        "{} is older than {}: `cargo test --test it` does not rebuild the \
                         stand-in; run `cargo build --examples` (or plain `cargo test`)",
                        p.display(),
                        e.path().display()
                    ));
                }
            }
            Ok(p)
        })
        .clone()
        .unwrap_or_else(|e| panic!("{e}"))
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

pub fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Probes run concurrently, so their order in the stand-in log is not fixed.
pub fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}
