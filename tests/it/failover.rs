//! `nfs-manage failover` on two nodes (see `Pair` in harness.rs): controlled failover both
//! ways, refusals, concurrent failovers, hard-down peers, fault injection at every step and a
//! randomized schedule of kills, link cuts and etcd outages.

use serde_json::Value;

use crate::harness::*;
use crate::up::EXPORTS;

pub fn pair() -> Pair {
    pair_with(Spec::default())
}

pub fn pair_with(spec: Spec) -> Pair {
    let p = Pair::new(spec);
    for h in p.hosts() {
        h.write_exports("test.exports", EXPORTS);
    }
    p
}

fn peer_view(h: &Host, res: &str) -> Value {
    let s = h.run(&["status", "--json"]).json();
    s["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == res)
        .unwrap()["drbd"]["peers"][0]
        .clone()
}

#[test]
fn two_nodes_share_the_replication_view_and_reach_each_other() {
    if !privileged() {
        return;
    }
    let p = pair();
    // Real ssh, landing in the other node's namespaces with its stand-ins.
    let out = p.a.ssh_to(&p.b, &["hostname"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), PEER);
    let out = p.a.ssh_to(
        &p.b,
        &[
            "nfs-manage",
            "--config",
            "/run/node/cluster.yaml",
            "status",
            "--json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["node"], PEER);
    // b comes up; a sees b Primary.
    p.b.run(&["up", "--yes"]).expect(0);
    assert_eq!(p.etcd.holder().as_deref(), Some(PEER));
    let v = peer_view(&p.a, "tools");
    assert_eq!(
        (v["connection"].as_str(), v["role"].as_str()),
        (Some("Connected"), Some("Primary")),
        "{v}"
    );
    // a cannot be promoted while b is Primary and connected (DRBD itself refuses).
    let out = p.a.ns(&["drbdadm", "primary", "tools"]);
    assert_eq!(out.status.code(), Some(11));
    // A cut link: both sides see Connecting, ssh fails.
    p.cut_link(&p.b);
    let v = peer_view(&p.a, "tools");
    assert_eq!(
        (v["connection"].as_str(), v["role"].as_str()),
        (Some("Connecting"), Some("Unknown")),
        "{v}"
    );
    assert_eq!(peer_view(&p.b, "tools")["connection"], "Connecting");
    assert!(!p.a.ssh_to(&p.b, &["true"]).status.success());
    p.restore_link(&p.b);
    assert_eq!(peer_view(&p.a, "tools")["connection"], "Connected");
    // a's up is refused by the lock (exit 4): b holds it.
    p.a.run(&["up", "--yes"]).expect(4);
}
