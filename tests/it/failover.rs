//! `nfs-manage failover` on two nodes (see `Pair` in harness/pair.rs): controlled failover both
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
    privileged!();
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
    p.b.run(&["up", "--yes"]).status(0);
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
    p.a.run(&["up", "--yes"]).status(4);
}

pub fn active(h: &Host) -> bool {
    let s = h.run(&["status", "--json"]).json();
    s["role"] == "active"
}

fn steps_of(h: &Host, command: &str) -> Vec<String> {
    h.journal()
        .iter()
        .filter(|r| r["command"] == command)
        .map(|r| r["step"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn controlled_failover_both_ways() {
    privileged!();
    let p = pair();
    p.a.run(&["up", "--yes"]).status(0);
    assert!(active(&p.a));

    // Dry run: the plan, nothing sent.
    p.b.run(&["failover", "--dry-run"])
        .status(0)
        .stdout_has("not asked in a dry run");
    assert!(active(&p.a));

    // Run on the standby: down over ssh, up here.
    let r = p.b.run(&["failover", "--yes"]);
    r.status(0);
    // Run on b, whose peer is a (labstore1004).
    for want in [
        &format!("{NODE} answers over ssh") as &str,
        "DRBD tools: Connected to labstore1004, labstore1005 UpToDate",
        "nothing holds /srv/tools",
        "grace and lease times unknown",
        "every export pins an fsid",
    ] {
        assert!(r.stdout.contains(want), "{want}\n{}", r.stdout);
    }
    r.stdout_has(format!("failover {NODE} → {PEER} done in"))
        .stdout_has("up:labstore1005");
    assert!(active(&p.b) && !active(&p.a));
    assert_eq!(p.a.role("tools"), "Secondary");
    assert_eq!(p.b.role("tools"), "Primary");
    assert!(p.b.has_service_ip() && !p.a.has_service_ip());
    assert!(p.b.etab().contains("/srv/tools\t") && !p.a.etab().contains("/srv/tools"));
    assert_eq!(p.etcd.holder().as_deref(), Some(PEER));
    assert_eq!(
        steps_of(&p.b, "failover"),
        [
            "lock:claim",
            "down:labstore1004",
            "let-go:drbd:labstore1004",
            "let-go:ip:labstore1004",
            "lock:take",
            "up:labstore1005"
        ]
    );
    let mv = &p.b.journal()[0];
    assert!(mv["fencing_token"].as_i64().unwrap() > 0, "{mv}");
    // The old node journaled its own down, the target its own up.
    assert!(steps_of(&p.a, "down").contains(&"demote:tools".to_string()));
    assert!(steps_of(&p.b, "up").contains(&"promote:tools".to_string()));

    // Back again, run on the active node this time: down here, up over ssh.
    p.b.run(&["failover", "--yes", "--to", NODE]).status(0);
    assert!(active(&p.a) && !active(&p.b));
    assert_eq!(p.etcd.holder().as_deref(), Some(NODE));
    assert!(p.a.has_service_ip() && !p.b.has_service_ip());

    // Already there: nothing to do.
    p.a.run(&["failover", "--yes", "--to", NODE])
        .status(0)
        .stdout_has("already the active node");
}

/// Nothing changed on either node: a still active, b standby, the lock still a's.
fn unchanged(p: &Pair) {
    assert_eq!(p.a.role("tools"), "Primary");
    assert!(p.a.has_service_ip() && p.a.is_mounted("/srv/tools"));
    assert_eq!(p.b.role("tools"), "Secondary");
    assert!(!p.b.has_service_ip());
    assert_eq!(p.etcd.holder().as_deref(), Some(NODE));
    assert!(
        !p.b.journal().iter().any(|r| r["command"] == "failover"),
        "nothing journaled"
    );
}

pub fn active_pair() -> Pair {
    let p = pair();
    p.a.run(&["up", "--yes"]).status(0);
    p
}

#[test]
fn refused_during_a_resync_unless_allowed() {
    privileged!();
    let p = active_pair();
    // b (UpToDate) resyncs a (Inconsistent, still Primary and serving).
    p.a.edit_resource("tools", |r| {
        r["volumes"][0]["disk"] = "Inconsistent".into();
        r["peers"][0]["volumes"][0]["replication"] = "SyncTarget".into();
        r["peers"][0]["volumes"][0]["done"] = 42.5.into();
    });
    p.b.edit_resource("tools", |r| {
        r["peers"][0]["volumes"][0]["replication"] = "SyncSource".into();
        r["peers"][0]["volumes"][0]["done"] = 42.5.into();
    });
    p.b.run(&["failover", "--yes"])
        .status(3)
        .stderr_has("DRBD tools: resync in progress (volume 0 SyncSource done:42.50)")
        .stderr_has("--allow-resync");
    unchanged(&p);
    // A failover to the node that is already active is nothing to do, resync or not.
    p.a.run(&["failover", "--yes", "--allow-resync", "--to", NODE])
        .status(0)
        .stdout_has("is already the active node: nothing to do");
    p.b.run(&["failover", "--yes", "--allow-resync"])
        .status(0)
        .stdout_has("going ahead (--allow-resync)");
    assert!(p.b.has_service_ip() && p.b.role("tools") == "Primary");
    assert_eq!(p.a.role("tools"), "Secondary");
    // Now a (Inconsistent) as target: refused whatever the flag.
    let r =
        p.b.run(&["failover", "--yes", "--allow-resync", "--to", NODE]);
    r.status(3)
        .stderr_has("DRBD tools: labstore1004 is not UpToDate (volume 0 Inconsistent)");
    assert!(p.b.has_service_ip() && p.b.role("tools") == "Primary");
}

#[test]
fn refused_with_etcd_down_or_the_lock_held_elsewhere() {
    privileged!();
    let mut p = active_pair();
    p.etcd.stop();
    p.b.run(&["failover", "--yes"])
        .status(3)
        .stderr_has("cannot read the cluster lock");
    p.etcd.restart();
    unchanged(&p);
    // The lock names a third node (a failover elsewhere, or stale): exit 4, nothing changed.
    p.etcd
        .put(LOCK_KEY, "labstore1006@2026-01-01T00:00:00.000Z");
    p.b.run(&["failover", "--yes"])
        .status(4)
        .stderr_has("held by labstore1006");
    assert!(active(&p.a) && !active(&p.b));
    // And b's own `up` is refused while a holds it.
    p.etcd
        .put(LOCK_KEY, &format!("{NODE}@2026-01-01T00:00:00.000Z"));
    p.b.run(&["up", "--yes"]).status(4);
    unchanged(&p);
}

#[test]
fn refused_when_the_peer_is_unreachable_or_busy() {
    privileged!();
    let p = active_pair();
    // A process on a's volume: named in the preflight, and nothing changes.
    let mut holder =
        p.a.ns_cmd(&["sh", "-c", "cd /srv/tools && exec sleep 60"])
            .spawn()
            .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let r = p.b.run(&["failover", "--yes"]);
    let _ = holder.kill();
    let _ = holder.wait();
    r.status(3)
        .stderr_has("labstore1004: /srv/tools is busy: pid ")
        .stderr_has("(sleep 60, user root)");
    unchanged(&p);
    // Link cut: unreachable, DRBD not connected: a controlled failover refuses.
    p.cut_link(&p.a);
    p.b.run(&["failover", "--yes"])
        .status(3)
        .stderr_has("unreachable over ssh")
        .stderr_has("--peer-dead");
    p.restore_link(&p.a);
    unchanged(&p);
}

#[test]
fn two_failovers_at_once_exactly_one_wins() {
    privileged!();
    let mut p = active_pair();
    // The lock's limit well above the 2 s the transactions are held below, so that a loaded
    // machine cannot turn the race into a killed etcdctl.
    for h in [&mut p.a, &mut p.b] {
        assert!(h.extra_config.contains("timeout: 3s"), "{}", h.extra_config);
        h.extra_config = h.extra_config.replace("timeout: 3s", "timeout: 10s");
        h.rewrite_config();
    }
    // Both read the lock, then their transactions are slowed so that both are in flight
    // before either applies: the etcd compare lets exactly one through.
    for h in p.hosts() {
        h.wrap_real_tool("etcdctl");
        let txn = format!(
            "etcdctl --endpoints={} --dial-timeout=5000ms --command-timeout=8000ms -w json txn",
            p.etcd.endpoint()
        );
        h.faults(serde_json::json!([{ "match": txn, "nth": 1, "sleep_ms": 2000 }]));
    }
    let c1 = p.a.spawn(&["failover", "--yes", "--to", PEER]);
    let c2 = p.b.spawn(&["failover", "--yes", "--to", PEER]);
    let r1 = Run::from(c1.wait_with_output().unwrap());
    let r2 = Run::from(c2.wait_with_output().unwrap());
    let mut codes = [r1.code, r2.code];
    codes.sort();
    assert_eq!(codes, [0, 4], "a: {r1:?}\nb: {r2:?}");
    let loser = if r1.code == 4 { &r1 } else { &r2 };
    loser.stderr_has("the transaction did not apply");
    assert!(active(&p.b) && !active(&p.a));
    assert_eq!(p.etcd.holder().as_deref(), Some(PEER));
    assert_eq!(p.a.role("tools"), "Secondary");
}

#[test]
fn peer_dead_needs_evidence() {
    privileged!();
    let mut p = active_pair();
    // Alive and connected: all three pieces of evidence are missing.
    let r = p.b.run(&["failover", "--peer-dead", "--yes"]);
    r.status(3);
    for want in [
        "labstore1004 answers over ssh: it is not dead",
        "DRBD tools is Connected to labstore1004 (peer Primary): it is not dead",
        "another host answers ARP for 192.0.2.18",
    ] {
        r.stderr_has(want);
    }
    unchanged(&p);
    // sshd gone but the host up: a refused connection is no evidence either.
    p.stop_sshd(true);
    p.b.run(&["failover", "--peer-dead", "--yes"])
        .status(3)
        .stderr_has("not for want of a connection")
        .stderr_has("Connection refused");
    unchanged(&p);
    // Only run on the node that takes over.
    p.b.run(&["failover", "--peer-dead", "--yes", "--to", NODE])
        .status(3);
}

#[test]
fn peer_dead_with_evidence_fences_forces_and_the_old_node_stays_out() {
    privileged!();
    let mut p = active_pair();
    let fence = p.fence_script(&p.a);
    p.set_fence(false, &[fence.to_str().unwrap()]);
    // a hangs: off the network, still Primary with the IP in its own namespace.
    p.cut_link(&p.a);
    let r = p.b.run(&["failover", "--peer-dead", "--yes"]);
    r.status(0);
    for want in [
        "labstore1004 is unreachable over ssh",
        "DRBD tools: Connecting to labstore1004",
        "nobody answers ARP for 192.0.2.18",
    ] {
        r.stdout_has(want);
    }
    let steps = steps_of(&p.b, "failover");
    // Fence, then the lock, then the (parallel) promotions.
    assert_eq!(
        &steps[..2],
        ["fence:labstore1004", "lock:move"],
        "{steps:?}"
    );
    let mut promotions = steps[2..4].to_vec();
    promotions.sort();
    assert_eq!(promotions, ["promote:misc", "promote:tools"], "{steps:?}");
    let promote =
        p.b.journal()
            .into_iter()
            .find(|r| r["step"] == "promote:tools")
            .unwrap();
    assert_eq!(
        promote["argv"],
        serde_json::json!(["drbdadm", "primary", "--force", "tools"])
    );
    // Serving, without its peer: degraded, and the only problems are the lost replication.
    assert!(p.b.has_service_ip());
    let st = p.b.run(&["status", "--json"]).json();
    assert_eq!(st["role"], "degraded", "{st:#}");
    assert_eq!(st["nfs"]["active"], true, "{st:#}");
    let problems: Vec<&str> = st["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(
        !problems.is_empty()
            && problems
                .iter()
                .all(|p| p.ends_with("is Connecting (not replicating)")),
        "{problems:?}"
    );
    assert_eq!(p.b.role("tools"), "Primary");
    assert_eq!(p.etcd.holder().as_deref(), Some(PEER));
    // The fence really ran: a is down.
    assert!(!p.a.has_service_ip() && !p.a.is_mounted("/srv/tools"));

    // a returns (powered on, link back): anything running `up` there is refused by the lock.
    p.restore_link(&p.a);
    p.a.edit_resource("tools", |r| r["up"] = true.into());
    p.a.edit_resource("misc", |r| r["up"] = true.into());
    p.a.run(&["up", "--yes"])
        .status(4)
        .stderr_has("held by labstore1005");
    assert_eq!(p.a.role("tools"), "Secondary");
    assert!(!p.a.has_service_ip());
}

#[test]
fn peer_dead_refuses_a_disk_that_may_be_stale() {
    privileged!();
    let mut p = active_pair();
    let fence = p.fence_script(&p.a);
    p.set_fence(false, &[fence.to_str().unwrap()]);
    p.cut_link(&p.a);
    // Outdated: the Primary outdated this node when the replication link broke, then went on
    // acknowledging writes. Consistent: this node restarted without its peer. Either may lack
    // writes the dead node acknowledged: refused before the fence runs, nothing changes.
    for disk in ["Outdated", "Consistent"] {
        p.b.edit_resource("tools", |r| r["volumes"][0]["disk"] = disk.into());
        p.b.run(&["failover", "--peer-dead", "--yes"])
            .status(3)
            .stderr_has(format!(
                "DRBD resource tools volume 0 has local disk {disk}: promoting it would serve data that is not up to date"
            ));
        assert_eq!(p.b.role("tools"), "Secondary");
        assert!(!p.b.has_service_ip());
        assert_eq!(p.etcd.holder().as_deref(), Some(NODE));
        // Not fenced: a still runs, Primary with the IP in its own namespace.
        assert!(p.a.has_service_ip() && p.a.is_mounted("/srv/tools"));
        assert!(
            !steps_of(&p.b, "failover")
                .iter()
                .any(|s| s.starts_with("fence:"))
        );
    }
}

/// Without a fence command, evidence alone is not enough: refused until the operator says the
/// peer is off (--peer-fenced), which the journal then records with every step.
#[test]
fn peer_dead_without_a_fence_command_needs_the_operators_word() {
    privileged!();
    let p = active_pair();
    p.cut_link(&p.a);
    p.b.run(&["failover", "--peer-dead", "--yes"])
        .status(3)
        .stderr_has(
            "no failover.fence_command is configured, so nothing makes sure labstore1004 is off",
        )
        .stderr_has("then rerun with --peer-fenced");
    assert_eq!(p.b.role("tools"), "Secondary");
    assert!(!p.b.has_service_ip());
    assert_eq!(p.etcd.holder().as_deref(), Some(NODE));
    // --peer-fenced only with --peer-dead.
    p.b.run(&["failover", "--peer-fenced", "--yes"]).status(2);

    p.b.run(&["failover", "--peer-dead", "--peer-fenced", "--yes"])
        .status(0)
        .stdout_has("labstore1004 was powered off by the operator (--peer-fenced)");
    assert_eq!(p.b.role("tools"), "Primary");
    assert_eq!(p.etcd.holder().as_deref(), Some(PEER));
    let steps: Vec<serde_json::Value> =
        p.b.journal()
            .into_iter()
            .filter(|r| r["command"] == "failover")
            .collect();
    assert!(!steps.is_empty());
    assert!(
        steps.iter().all(|r| r["peer_fenced_by_operator"] == NODE
            && !r["step"].as_str().unwrap().starts_with("fence")),
        "{steps:#?}"
    );
}

#[test]
fn peer_dead_stops_when_fencing_fails() {
    privileged!();
    let mut p = active_pair();
    p.set_fence(false, &["false"]);
    p.cut_link(&p.a);
    p.b.run(&["failover", "--peer-dead", "--yes"])
        .status(1)
        .stderr_has("(fence labstore1004) stopped the run: the command failed (exit 1)");
    assert_eq!(p.b.role("tools"), "Secondary");
    assert!(!p.b.has_service_ip());
    assert_eq!(p.etcd.holder().as_deref(), Some(NODE));
}

#[test]
fn dual_primary_volumes_stay_up_on_both_nodes() {
    privileged!();
    let p = pair_with(Spec {
        volumes: &["tools", "home"],
        dual: &["home"],
        ..Spec::default()
    });
    for h in p.hosts() {
        h.write_exports(
            "test.exports",
            "/srv/tools 192.0.2.0/24(rw,no_subtree_check,fsid=101)\n/srv/home 192.0.2.0/24(rw,no_subtree_check,fsid=103)\n",
        );
    }
    p.a.run(&["up", "--yes"]).status(0);
    // The standby keeps its dual-primary volume Primary and mounted (OCFS2-style).
    let dev =
        p.b.volumes
            .iter()
            .find(|v| v.name == "home")
            .unwrap()
            .loopdev
            .clone();
    p.b.ns_ok(&["drbdadm", "primary", "home"]);
    p.b.ns_ok(&["mkdir", "-p", "/srv/home"]);
    p.b.ns_ok(&["mount", "-t", "ext4", &dev, "/srv/home"]);
    let r = p.b.run(&["failover", "--yes"]);
    r.status(0);
    for h in p.hosts() {
        assert_eq!(h.role("home"), "Primary", "{}", h.name);
        assert!(h.is_mounted("/srv/home"), "{}", h.name);
    }
    assert_eq!(p.a.role("tools"), "Secondary");
    assert!(!p.a.is_mounted("/srv/tools"));
    // Only NFS and the IP moved.
    assert!(p.b.has_service_ip() && !p.a.has_service_ip());
    assert!(!p.a.etab().contains("/srv/home") && p.b.etab().contains("/srv/home\t"));
    assert_eq!(p.a.unit("nfs-server"), "inactive");
    let down =
        p.a.journal()
            .into_iter()
            .find(|r| r["command"] == "down" && r["step"] == "demote:home");
    assert!(down.is_none(), "home was not demoted");
}

/// No non-dual volume Primary on both nodes, the service IP on at most one, and no export of a
/// path whose volume is not mounted.
pub fn assert_safe(p: &Pair, what: &str) {
    for v in p.a.spec.volumes {
        if p.a.spec.dual.contains(v) {
            continue;
        }
        let roles: Vec<String> = p
            .hosts()
            .iter()
            .map(|h| {
                let st = h.drbd();
                st["resources"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|r| r["name"] == *v)
                    .map(|r| {
                        if r["up"] == true {
                            r["role"].as_str().unwrap().to_string()
                        } else {
                            "down".into()
                        }
                    })
                    .unwrap()
            })
            .collect();
        assert!(
            !roles.iter().all(|r| r == "Primary"),
            "{what}: two Primaries on {v}"
        );
    }
    let with_ip = p.hosts().iter().filter(|h| h.has_service_ip()).count();
    assert!(with_ip <= 1, "{what}: service IP on both nodes");
    for h in p.hosts() {
        for line in h.etab().lines() {
            let path = line.split('\t').next().unwrap();
            let vol = path.trim_start_matches("/srv/").split('/').next().unwrap();
            assert!(
                h.is_mounted(&format!("/srv/{vol}")),
                "{what}: {} exports {path} but it is not mounted",
                h.name
            );
        }
    }
}

/// The step `id` of a plan or report document.
fn step_of(plan: &Value, id: &str) -> Value {
    plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no step {id} in {plan:#}"))
        .clone()
}

fn step_argv(plan: &Value, id: &str) -> String {
    let s = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no step {id} in {plan:#}"));
    s["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn fault_at_every_failover_step_stops_there_and_a_rerun_converges() {
    privileged!();
    // (step id, where the fault goes: on b's wrapped tool or inside b's own `up`, how it fails)
    let cases: &[(&str, bool)] = &[
        ("lock:claim", false),
        ("down:labstore1004", false),
        ("let-go:drbd:labstore1004", false),
        ("let-go:ip:labstore1004", true),
        ("lock:take", false),
        ("up:labstore1005", false),
    ];
    std::thread::scope(|s| {
        for &(id, verify_only) in cases {
            s.spawn(move || {
                let p = active_pair();
                let plan = p.b.run(&["failover", "--dry-run", "--json"]).json();
                for t in ["etcdctl", "ssh", "arping"] {
                    p.b.wrap_real_tool(t);
                }
                let fault = if id.starts_with("up:") {
                    // Inside b's own `up`: the NFS server does not start.
                    serde_json::json!([{ "match": "systemctl start nfs-server", "nth": 1, "rc": 1, "stderr": "injected failure\n" }])
                } else if verify_only {
                    // arping says someone answered: the proof fails although the tool "worked".
                    serde_json::json!([{ "match": step_argv(&plan, id), "nth": 1, "rc": 0,
                        "stdout": "ARPING 192.0.2.18\n\n--- 192.0.2.18 statistics ---\n2 packets transmitted, 2 packets received,   0% unanswered (0 extra)\n" }])
                } else {
                    // Both lock transactions have the same argv: the take is the second.
                    let nth = if id == "lock:take" { 2 } else { 1 };
                    serde_json::json!([{ "match": step_argv(&plan, id), "nth": nth, "rc": 1, "stderr": "injected failure\n" }])
                };
                p.b.faults(fault);
                let r = p.b.run(&["failover", "--yes"]);
                r.status(1);
                let title = plan["steps"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|s| s["id"] == id)
                    .unwrap()["title"]
                    .as_str()
                    .unwrap()
                    .to_string();
                assert!(r.stderr.contains(&format!("({title}) stopped the run")), "{id}: {}", r.stderr);
                assert!(r.stderr.contains("to retry:    nfs-manage --config /run/node/cluster.yaml failover --to labstore1005"), "{id}: {}", r.stderr);
                let last = p.b.journal().into_iter().rfind(|r| r["command"] == "failover").unwrap();
                assert_eq!((last["step"].as_str(), last["result"].as_str()), (Some(id), Some("failed")), "{id}");
                assert_safe(&p, id);
                p.b.clear_faults();
                let again = p.b.run(&["failover", "--yes"]);
                again.status(0);
                assert_safe(&p, id);
                assert!(active(&p.b) && !active(&p.a), "{id}: {}", again.stdout);
                assert_eq!(p.etcd.holder().as_deref(), Some(PEER), "{id}");
            });
        }
    });
}

/// kill -9 of the failover at each of its steps, as the OOM killer or an operator would: the
/// run dies inside that step's command, which runs on (it holds the host lock, see
/// interrupts.rs). Nothing unsafe is left while it finishes, and the operator's rerun, which
/// waits for the lock, completes the move.
#[test]
fn kill_9_at_every_failover_step_leaves_the_pair_safe_and_a_rerun_completes_the_move() {
    privileged!();
    let plan = active_pair_plan();
    let ids: Vec<String> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| !s["argv"].as_array().unwrap().is_empty())
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    assert!(ids.len() >= 6, "{plan:#}");
    std::thread::scope(|s| {
        for id in &ids {
            s.spawn(move || {
                let p = active_pair();
                // Argv name the pair's own paths: this pair's plan.
                let plan = p.b.run(&["failover", "--dry-run", "--json"]).json();
                for t in ["etcdctl", "ssh", "arping", "mount", "ip"] {
                    p.b.wrap_real_tool(t);
                }
                // The command the run is inside when it dies: the step's own, or for b's
                // own `up` (a child run) its NFS server start. Both lock transactions have
                // the same argv: the take is the second.
                let line = if id.starts_with("up:") {
                    "systemctl start nfs-server".to_string()
                } else {
                    step_argv(&plan, id)
                };
                let nth = if id == "lock:take" { 2 } else { 1 };
                p.b.faults(serde_json::json!([{ "match": line, "nth": nth, "sleep_ms": 1500 }]));
                p.b.clear_calls();
                let mut child = p.b.spawn(&["failover", "--yes"]);
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
                while p.b.calls().iter().filter(|c| c.starts_with(&line)).count() < nth {
                    assert!(
                        child.try_wait().unwrap().is_none(),
                        "{id}: the failover ended before `{line}`"
                    );
                    assert!(
                        std::time::Instant::now() < deadline,
                        "{id}: `{line}` never ran"
                    );
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                crate::interrupts::kill_9(child, id);
                // What the dead run started finishes on its own; the pair is safe then.
                p.settle();
                assert_safe(&p, &format!("killed in {id}"));
                p.b.clear_faults();
                let again =
                    p.b.run(&["--wait-lock", "60s", "failover", "--yes", "--to", PEER]);
                again.status(0);
                assert_safe(&p, id);
                assert!(active(&p.b) && !active(&p.a), "{id}: {}", again.stdout);
                assert_eq!(p.etcd.holder().as_deref(), Some(PEER), "{id}");
            });
        }
    });
}

/// b's plan for a controlled failover of an active pair (a serving).
fn active_pair_plan() -> Value {
    let p = active_pair();
    p.b.run(&["failover", "--dry-run", "--json"]).json()
}

#[test]
fn fault_at_peer_dead_steps_stops_there_and_a_rerun_converges() {
    privileged!();
    let cases: &[(&str, &str)] = &[
        ("fence:labstore1004", "FENCE"),
        (
            "lock:move",
            "etcdctl --endpoints=http://192.0.2.1:2379 --dial-timeout=1500ms --command-timeout=2400ms -w json txn",
        ),
        ("promote:tools", "drbdadm primary --force tools"),
        ("mount:misc", "mount -t ext4 -o noatime"),
        ("start:nfs-server", "systemctl start nfs-server"),
        ("ip", "ip addr add 192.0.2.18/24 dev eth0"),
    ];
    std::thread::scope(|s| {
        for &(id, pattern) in cases {
            s.spawn(move || {
                let mut p = active_pair();
                let fence = p.fence_script(&p.a);
                p.set_fence(false, &[fence.to_str().unwrap()]);
                p.cut_link(&p.a);
                for t in ["etcdctl", "mount", "ip"] {
                    p.b.wrap_real_tool(t);
                }
                let pattern = pattern.replace("FENCE", fence.to_str().unwrap());
                let script = std::fs::read_to_string(&fence).unwrap();
                if id.starts_with("fence") {
                    // The power-off fails (a BMC that does not answer).
                    std::fs::write(&fence, "#!/bin/sh\necho 'Error: Unable to establish IPMI v2 / RMCP+ session' >&2\nexit 1\n").unwrap();
                } else {
                    let pattern = if id == "mount:misc" {
                        // Mounts run in parallel: name misc's own device.
                        format!("{pattern} {} /srv/misc", p.b.volumes[1].loopdev)
                    } else {
                        pattern
                    };
                    p.b.faults(serde_json::json!([{ "match": pattern, "nth": 1, "rc": 1, "stderr": "injected failure\n" }]));
                }
                let r = p.b.run(&["failover", "--peer-dead", "--yes"]);
                r.status(1);
                let last = p.b.journal().into_iter().find(|r| r["command"] == "failover" && r["result"] == "failed").unwrap();
                assert_eq!((last["step"].as_str(), last["result"].as_str()), (Some(id), Some("failed")), "{id}: {}", r.stderr);
                assert!(r.stderr.contains("to retry:    nfs-manage --config /run/node/cluster.yaml failover --peer-dead"), "{id}: {}", r.stderr);
                assert_safe(&p, id);
                std::fs::write(&fence, script).unwrap();
                p.b.clear_faults();
                p.b.run(&["failover", "--peer-dead", "--yes"]).status(0);
                assert_safe(&p, id);
                assert!(p.b.has_service_ip() && p.b.role("tools") == "Primary", "{id}");
                assert_eq!(p.etcd.holder().as_deref(), Some(PEER), "{id}");
            });
        }
    });
}

/// Commands a run may be killed in (a slow fault holds the command there, then kill -9).
const KILL_POINTS: &[&str] = &[
    "etcdctl",
    "ssh",
    "drbdadm status",
    "drbdadm primary",
    "drbdadm secondary",
    "mount -t",
    "umount",
    "systemctl start",
    "systemctl stop",
    "exportfs",
    "ip addr",
    "arping -0",
];

#[derive(Default, Debug)]
struct Tally {
    schedules: usize,
    killed: usize,
    link_cut: usize,
    etcd_stopped: usize,
    ops: std::collections::BTreeMap<String, usize>,
    exits: std::collections::BTreeMap<i32, usize>,
}

/// One environment's share of the schedules: random operations, each possibly killed at a
/// random command, with the link cut or etcd stopped around it; the safety invariants are
/// checked after every schedule, before anything is repaired.
fn random_walk(seed: u64, schedules: usize, tally: &std::sync::Mutex<Tally>) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut p = active_pair();
    for h in p.hosts() {
        for t in [
            "etcdctl", "ssh", "arping", "mount", "umount", "exportfs", "ip",
        ] {
            h.wrap_real_tool(t);
        }
    }
    for n in 0..schedules {
        let what = format!("seed {seed} schedule {n}");
        let on_a = rng.bool();
        let cut = rng.f32() < 0.2;
        let stop_etcd = rng.f32() < 0.15;
        let kill = rng.f32() < 0.6;
        let (op, args): (&str, Vec<&str>) = match rng.u32(0..10) {
            0..=5 => ("failover", vec!["failover", "--yes"]),
            6 => (
                "failover --to",
                vec![
                    "failover",
                    "--yes",
                    "--to",
                    if rng.bool() { NODE } else { PEER },
                ],
            ),
            7 | 8 => ("up", vec!["up", "--yes"]),
            _ => ("down", vec!["down", "--yes"]),
        };
        if cut {
            p.cut_link(if rng.bool() { &p.a } else { &p.b });
        }
        if stop_etcd {
            p.etcd.stop();
        }
        let point = KILL_POINTS[rng.usize(0..KILL_POINTS.len())];
        if kill {
            let nth = rng.u64(1..3);
            for h in p.hosts() {
                h.faults(serde_json::json!([{ "match": point, "nth": nth, "sleep_ms": 1200 }]));
                h.clear_calls();
            }
        }
        let h = if on_a { &p.a } else { &p.b };
        let mut child = h.spawn(&args);
        let mut killed = false;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let code = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break st.code().unwrap_or(-1);
            }
            if kill
                && p.hosts()
                    .iter()
                    .any(|x| x.calls().iter().any(|c| c.starts_with(point)))
            {
                // The run is inside the slowed command now: kill -9 it there.
                std::thread::sleep(std::time::Duration::from_millis(rng.u64(0..300)));
                let _ = child.kill();
                let _ = child.wait();
                killed = true;
                break -9;
            }
            assert!(std::time::Instant::now() < deadline, "{what}: {op} hangs");
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        p.settle();
        assert_safe(
            &p,
            &format!(
                "{what} ({op} on {}, kill at {point:?}: {killed}, cut {cut}, etcd stopped {stop_etcd})",
                h.name
            ),
        );
        {
            let mut t = tally.lock().unwrap();
            t.schedules += 1;
            t.killed += killed as usize;
            t.link_cut += cut as usize;
            t.etcd_stopped += stop_etcd as usize;
            *t.ops.entry(op.to_string()).or_default() += 1;
            *t.exits.entry(code).or_default() += 1;
        }
        // Repair the disruptions for the next schedule (the state itself carries on).
        for h in p.hosts() {
            h.clear_faults();
            p.restore_link(h);
        }
        if stop_etcd {
            p.etcd.restart();
        }
    }
}

#[test]
fn randomized_schedules_keep_the_pair_safe() {
    privileged!();
    let seed: u64 = std::env::var("NFS_MANAGE_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    // Eight fresh environments side by side: the runs mostly wait (sleeps, ARP timeouts).
    let envs: u64 = 8;
    let per_env = 25;
    println!("randomized schedules: seed {seed} (replay with NFS_MANAGE_TEST_SEED={seed})");
    let tally = std::sync::Mutex::new(Tally::default());
    std::thread::scope(|s| {
        for e in 0..envs {
            let tally = &tally;
            s.spawn(move || random_walk(seed.wrapping_add(e), per_env, tally));
        }
    });
    let t = tally.into_inner().unwrap();
    println!(
        "randomized schedules: {} run, {} killed mid-command, {} with a link cut, {} with etcd stopped; operations {:?}; exit codes {:?} (-9: killed)",
        t.schedules, t.killed, t.link_cut, t.etcd_stopped, t.ops, t.exits
    );
    assert_eq!(t.schedules, 200);
    // The schedules must exercise what they claim to.
    assert!(
        t.killed > 40 && t.link_cut > 10 && t.etcd_stopped > 10,
        "{t:?}"
    );
    assert!(t.exits.get(&0).copied().unwrap_or(0) > 20, "{t:?}");
}

#[test]
fn nfsv4_grace_and_lease_times_are_read_on_the_target_here_and_over_ssh() {
    privileged!();
    let p = active_pair();
    // No nfsd module here: a tmpfs over /proc/fs/nfsd in each node's own mount namespace
    // holds the two files nfsd would show (seconds, one number and a newline each).
    for (h, grace, lease) in [(&p.a, 120, 60), (&p.b, 90, 45)] {
        h.ns_ok(&["mount", "-t", "tmpfs", "nfsd-times", "/proc/fs/nfsd"]);
        h.ns_ok(&[
            "sh",
            "-c",
            &format!(
                "echo {grace} > /proc/fs/nfsd/nfsv4gracetime && echo {lease} > /proc/fs/nfsd/nfsv4leasetime"
            ),
        ]);
    }
    // Run on the active node: the target is the peer, read over ssh.
    p.a.run(&["failover", "--yes"])
        .status(0)
        .stdout_has(format!("NFS on {PEER}: grace 90 s, lease 45 s"));
    // Run on the new standby (a): the target is this node, read here.
    p.a.run(&["failover", "--yes"])
        .status(0)
        .stdout_has(format!("NFS on {NODE}: grace 120 s, lease 60 s"));
    assert!(active(&p.a) && !active(&p.b));
}

/// A failover killed on the old node leaves the target's `up` running (it went over ssh); the
/// operator's rerun on the old node may plan while that `up` is still at work, and the target
/// adds the service IP before the rerun's ARP proof runs. The proof would then see the
/// target and refuse the move for good; the rerun must finish it instead.
#[test]
fn a_rerun_on_the_old_node_finishes_a_move_whose_target_is_still_coming_up() {
    privileged!();
    let p = active_pair();
    for t in ["ip", "arping", "etcdctl", "ssh"] {
        p.a.wrap_real_tool(t);
        p.b.wrap_real_tool(t);
    }
    // The first attempt stops inside the target's `up`, before the address: b serves
    // everything but the service IP, and the lock names it.
    p.b.faults(serde_json::json!([{ "match": format!("ip addr add {SERVICE_IP}"), "nth": 1, "rc": 1, "stderr": "injected failure\n" }]));
    p.a.run(&["failover", "--yes", "--to", PEER]).status(1);
    p.b.clear_faults();
    assert!(!p.b.has_service_ip() && !p.a.has_service_ip());
    assert_eq!(p.etcd.holder().as_deref(), Some(PEER));
    // The rerun on a: after it planned, while the step before its ARP proof is held back,
    // b's `up` (still at work, as after a kill -9) adds the address.
    let before = "drbdadm status";
    p.a.faults(serde_json::json!([{ "match": before, "nth": 1, "sleep_ms": 1500 }]));
    p.a.clear_calls();
    let child = p.a.spawn(&["failover", "--yes", "--to", PEER, "--json"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !p.a.calls().iter().any(|c| c.starts_with(before)) {
        assert!(
            std::time::Instant::now() < deadline,
            "`{before}` never ran: {:?}",
            p.a.calls()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    p.b.ns_ok(&["ip", "addr", "add", SERVICE_IP, "dev", "eth0"]);
    let r = Run::from(child.wait_with_output().unwrap());
    r.status(0);
    let plan = r.json();
    let step = step_of(&plan, &format!("let-go:ip:{NODE}"));
    assert_eq!(step["state"], "already", "{plan:#}");
    assert!(
        step["why"].as_str().unwrap().starts_with(&format!(
            "{PEER} serves already and its `up` is being finished"
        )),
        "{step:#}"
    );
    assert_safe(&p, "after the rerun");
    assert!(p.b.has_service_ip() && !p.a.has_service_ip());
    assert_eq!(p.b.run(&["status", "--json"]).json()["role"], "active");
    assert_eq!(p.etcd.holder().as_deref(), Some(PEER));
}

/// A failover killed after the target's `up` added the service IP is finished by running it
/// again on the old node: the target answering ARP for the address is expected then, not a
/// proof that the old node kept it.
#[test]
fn a_rerun_finishes_a_move_whose_target_already_holds_the_service_ip() {
    privileged!();
    let p = active_pair();
    p.a.run(&["down", "--yes"]).status(0);
    // The target's `up` stopped right after the address was added.
    p.b.ns_ok(&["ip", "addr", "add", SERVICE_IP, "dev", "eth0"]);
    let plan =
        p.a.run(&["failover", "--yes", "--to", PEER, "--json"])
            .status(0)
            .json();
    let step = step_of(&plan, &format!("let-go:ip:{NODE}"));
    assert_eq!(step["state"], "already", "{plan:#}");
    assert!(
        step["why"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{PEER} holds 192.0.2.18 already")),
        "{step:#}"
    );
    assert!(p.b.has_service_ip() && !p.a.has_service_ip());
    assert_eq!(p.b.role("tools"), "Primary");
    assert_eq!(p.etcd.holder().as_deref(), Some(PEER));
    assert_eq!(p.b.run(&["status", "--json"]).json()["role"], "active");
}
