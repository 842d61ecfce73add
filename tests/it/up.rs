//! `nfs-manage up`: order, verification, idempotence, refusals, guards at run time, locking.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::*;

pub const EXPORTS: &str = "/srv/tools 192.0.2.0/24(rw,sync,no_subtree_check,fsid=101)\n/srv/misc 192.0.2.0/24(rw,sync,no_subtree_check,fsid=102) 192.0.2.7(ro,no_subtree_check,fsid=102)\n";

pub fn up_host() -> Host {
    let h = Host::new();
    h.write_exports("test.exports", EXPORTS);
    h
}

fn step_ids(h: &Host) -> Vec<String> {
    h.journal()
        .iter()
        .map(|r| r["step"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn up_runs_in_order_verifies_and_converges() {
    privileged!();
    let h = up_host();
    h.run(&["up", "--yes"]).status(0).stdout_has("Done.");
    assert_order(
        &step_ids(&h),
        &[
            "promote:tools",
            "promote:misc",
            "mkdir:tools",
            "mount:tools",
            "mkdir:misc",
            "mount:misc",
            "start:nfs-server",
            "exports",
            "start:nginx",
            "ip",
            "announce",
            "announce-gateway",
        ],
    );
    for rec in h.journal() {
        assert_eq!(rec["result"], "done", "{rec}");
        assert_eq!(rec["verify"], "ok", "{rec}");
        // An unsolicited ARP expects no answer: arping says "unanswered" with exit 1.
        let rc = if rec["step"] == "announce" { 1 } else { 0 };
        assert_eq!(rec["rc"], rc, "{rec}");
        assert_eq!(rec["node"], NODE);
        assert_eq!(rec["command"], "up");
        assert!(rec["argv"].is_array() && rec["time"].is_string() && rec["operator"].is_string());
    }
    // Real state, probed from outside nfs-manage.
    assert_eq!(h.role("tools"), "Primary");
    assert!(h.is_mounted("/srv/tools") && h.is_mounted("/srv/misc"));
    assert_eq!(h.unit("nfs-server"), "active");
    assert_eq!(h.unit("nginx"), "active");
    let etab = h.etab();
    assert!(
        etab.contains("/srv/tools\t192.0.2.0/24(") && etab.contains("/srv/misc\t192.0.2.7("),
        "{etab}"
    );
    assert!(h.has_service_ip());
    let s = h.run(&["status", "--json"]).json();
    assert_eq!(s["role"], "active", "{s:#}");

    // Second run: nothing to do, and it says so; nothing journaled.
    let before = h.journal().len();
    h.run(&["up", "--yes"])
        .status(0)
        .stdout_has("Nothing to do");
    assert_eq!(h.journal().len(), before);
}

#[test]
fn dry_run_and_json_plan_change_nothing() {
    privileged!();
    let h = up_host();
    h.clear_calls();
    let p = h.run(&["up", "--dry-run", "--json"]).status(0).json();
    assert_eq!(p["format_version"], 1);
    assert_eq!(p["command"], "up");
    assert_eq!(
        p["steps"][0]["argv"],
        json!(["drbdadm", "primary", "tools"])
    );
    assert_eq!(p["steps"][0]["state"], "pending");
    assert!(
        p["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["id"].is_string() && s["title"].is_string())
    );
    assert_eq!(
        sorted(h.calls()),
        [
            "drbdsetup status --json",
            "systemctl is-active nfs-server nginx"
        ]
    );
    assert!(!h.is_mounted("/srv/tools"));
    assert!(h.journal().is_empty());
    assert!(!h.has_service_ip());
}

#[test]
fn off_a_terminal_a_changing_plan_needs_yes() {
    privileged!();
    let h = up_host();
    h.run(&["up"])
        .status(3)
        .stderr_has("standard input is not a terminal; rerun with --yes")
        // The plan is still shown.
        .stdout_has("drbdadm primary tools");
    assert_eq!(h.role("tools"), "Secondary");
    assert!(h.journal().is_empty());
}

#[test]
fn quiet_is_silent_on_success() {
    privileged!();
    let h = up_host();
    h.run(&["-q", "up", "--yes"])
        .status(0)
        .stdout_is("")
        .stderr_is("");
    assert!(h.has_service_ip());
}

fn assert_nothing_changed(h: &Host) {
    assert_eq!(h.role("tools"), "Secondary");
    assert_eq!(h.role("misc"), "Secondary");
    assert!(!h.is_mounted("/srv/tools"));
    assert_eq!(h.unit("nfs-server"), "inactive");
    assert!(!h.has_service_ip());
    assert!(h.journal().is_empty());
    assert!(
        !h.calls()
            .iter()
            .any(|c| c.starts_with("drbdadm primary") || c.starts_with("systemctl start"))
    );
}

#[test]
fn refuses_when_peer_is_primary() {
    privileged!();
    let h = up_host();
    h.edit_resource("misc", |r| r["peers"][0]["role"] = "Primary".into());
    h.run(&["up", "--yes"])
        .status(3)
        .stderr_has("peer labstore1005 is Primary for DRBD resource misc (not dual-primary)")
        .stderr_has("nothing was changed");
    assert_nothing_changed(&h);
}

#[test]
fn refuses_when_another_host_answers_for_the_ip() {
    privileged!();
    let h = up_host();
    h.lan_claims(SERVICE_IP);
    h.run(&["up", "--yes"])
        .status(3)
        .stderr_has("another host answers ARP for 192.0.2.18 on eth0");
    assert_nothing_changed(&h);
}

#[test]
fn refuses_to_promote_an_outdated_disk() {
    privileged!();
    let h = up_host();
    h.edit_resource("tools", |r| r["volumes"][0]["disk"] = "Outdated".into());
    h.run(&["up", "--yes"])
        .status(3)
        .stderr_has("DRBD resource tools volume 0 has local disk Outdated");
    assert_nothing_changed(&h);
}

#[test]
fn dual_primary_promotes_and_mounts_with_peer_primary() {
    privileged!();
    let h = Host::with(Spec {
        volumes: &["home"],
        dual_primary: true,
        services: &[],
        ..Spec::default()
    });
    h.edit_resource("home", |r| r["peers"][0]["role"] = "Primary".into());
    h.run(&["up", "--yes"]).status(0);
    assert_eq!(h.role("home"), "Primary");
    assert!(h.is_mounted("/srv/home"));
    let s = h.run(&["status", "--json"]).json();
    assert_eq!(s["role"], "active", "{s:#}");
}

#[test]
fn plain_volumes_need_no_drbd() {
    privileged!();
    let h = Host::with(Spec {
        volumes: &["dumps"],
        drbd: false,
        service_ip: false,
        services: &["nginx", "rsync"],
        ..Spec::default()
    });
    h.write_exports(
        "dumps.exports",
        "/srv/dumps *(ro,no_subtree_check,fsid=1)\n",
    );
    h.run(&["up", "--yes"]).status(0);
    assert!(h.is_mounted("/srv/dumps"));
    assert!(h.etab().contains("/srv/dumps\t*("));
    assert_eq!(h.unit("rsync"), "active");
    assert!(
        !h.calls().iter().any(|c| c.starts_with("drbd")),
        "{:?}",
        h.calls()
    );
    assert_eq!(h.run(&["status", "--json"]).json()["role"], "active");
    h.run(&["down", "--yes"]).status(0);
    assert!(!h.is_mounted("/srv/dumps"));
    assert_eq!(h.run(&["status", "--json"]).json()["role"], "down");
}

/// Run `up` with a slow step, change the world while it waits, and collect the result.
fn up_while(h: &Host, slow: &str, during: impl FnOnce()) -> Run {
    h.faults(json!([{ "match": slow, "nth": 1, "sleep_ms": 1500, "effect": "apply" }]));
    let child = h.spawn(&["up", "--yes"]);
    let start = Instant::now();
    while !h.calls().iter().any(|c| c == slow) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "never reached {slow}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    during();
    Run::from(child.wait_with_output().unwrap())
}

#[test]
fn never_starts_nfs_while_a_volume_is_unmounted() {
    privileged!();
    let h = up_host();
    // tools is mounted when the plan is made, and unmounted behind nfs-manage's back while
    // misc is being promoted: the guard before `systemctl start` must notice.
    h.ns_ok(&["mkdir", "-p", "/srv/tools"]);
    h.ns_ok(&["mount", "-t", "ext4", &h.volumes[0].loopdev, "/srv/tools"]);
    h.edit_resource("tools", |r| r["role"] = "Primary".into());
    up_while(&h, "drbdadm primary misc", || {
        h.ns_ok(&["umount", "/srv/tools"]);
    })
    .status(3)
    .stderr_has("refused: not mounted: tools")
    .stderr_has("to back out: nfs-manage");
    assert_eq!(h.unit("nfs-server"), "inactive");
    let last = h.journal().last().cloned().unwrap();
    assert_eq!(
        (last["step"].as_str(), last["result"].as_str()),
        (Some("start:nfs-server"), Some("refused"))
    );
}

#[test]
fn never_exports_an_unmounted_volume() {
    privileged!();
    let h = up_host();
    up_while(&h, "systemctl start nfs-server", || {
        h.ns_ok(&["umount", "/srv/tools"]);
    })
    .status(3)
    .stderr_has("would export unmounted paths: /srv/tools (volume tools is not mounted");
    assert_eq!(h.etab(), "");
    assert!(!h.has_service_ip());
}

#[test]
fn a_second_run_is_refused_while_one_holds_the_lock() {
    privileged!();
    let h = up_host();
    h.faults(json!([{ "match": "drbdadm primary tools", "nth": 1, "sleep_ms": 2500, "effect": "apply" }]));
    let first = h.spawn(&["up", "--yes"]);
    let lock = h.dir.path().join("run/lock");
    let start = Instant::now();
    while std::fs::read_to_string(&lock)
        .map(|s| s.is_empty())
        .unwrap_or(true)
    {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "first run never took the lock"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    h.run(&["up", "--yes"])
        .status(4)
        .stderr_has(format!("pid {} (", first.id()))
        // It names the holder's command.
        .stderr_has(" up --yes)");
    let first_id = first.id();
    Run::from(first.wait_with_output().unwrap()).status(0);
    // Only the first run's steps are in the journal: one run id (time-pid of the first run),
    // every step done.
    let journal = h.journal();
    assert!(!journal.is_empty());
    assert!(
        journal.iter().all(|r| r["result"] == "done"
            && r["run"]
                .as_str()
                .unwrap()
                .ends_with(&format!("-{first_id}"))),
        "{journal:#?}"
    );
}

#[test]
fn a_resource_that_is_not_up_is_brought_up_first() {
    privileged!();
    let h = up_host();
    h.edit_resource("misc", |r| r["up"] = false.into());
    let s = h.run(&["status", "--json"]).json();
    assert_eq!(s["volumes"][1]["drbd"]["role"], "Unconfigured");
    assert_eq!(s["role"], "degraded");
    h.run(&["up", "--yes"]).status(0);
    let ids = step_ids(&h);
    let pos = |id: &str| {
        ids.iter()
            .position(|i| i == id)
            .unwrap_or_else(|| panic!("{id} in {ids:?}"))
    };
    assert!(pos("drbd-up:misc") < pos("promote:misc"));
    assert_eq!(h.role("misc"), "Primary");
}

#[test]
fn a_failed_run_reports_json_and_how_to_get_out() {
    privileged!();
    let h = up_host();
    h.faults(json!([{ "match": "systemctl start nfs-server", "nth": 1, "rc": 1,
        "stderr": "Job for nfs-server.service failed because the control process exited with error code.\n" }]));
    let r = h.run(&["up", "--yes", "--json"]);
    r.status(1);
    let p = r.json();
    assert_eq!(p["result"], "failed");
    let states: Vec<(&str, &str)> = p["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["id"].as_str().unwrap(), s["state"].as_str().unwrap()))
        .collect();
    assert_eq!(states[0], ("promote:tools", "done"));
    assert!(
        states.contains(&("start:nfs-server", "failed")),
        "{states:?}"
    );
    assert!(states.contains(&("ip", "pending")), "{states:?}");
    assert_eq!(p["error"]["exit_code"], 1);
    let err = p["error"]["message"].as_str().unwrap();
    assert!(
        err.contains(
            "step 7 of 12 (start the NFS server) stopped the run: the command failed (exit 1)"
        ),
        "{err}"
    );
    assert!(
        err.contains("output:  Job for nfs-server.service failed"),
        "{err}"
    );
    assert!(
        err.contains(
            "done in this run: 1. promote DRBD tools to Primary; 2. promote DRBD misc to Primary"
        ),
        "{err}"
    );
    assert!(err.contains("not run: 5 later step(s)"), "{err}");
    assert!(
        err.contains(&format!(
            "to back out: nfs-manage --config {} down",
            h.config.display()
        )),
        "{err}"
    );
    assert_eq!(
        r.stderr.trim_start_matches("nfs-manage: ").lines().next(),
        err.lines().next()
    );
    // Resume is rerunning: the done steps show as already.
    h.clear_faults();
    let p = h.run(&["up", "--yes", "--json"]).status(0).json();
    assert_eq!(p["result"], "ok");
    assert_eq!(p["steps"][0]["state"], "already");
    assert_eq!(p["steps"][6]["state"], "done");
}

#[test]
fn verbose_shows_every_command() {
    privileged!();
    let h = up_host();
    h.run(&["-v", "up", "--dry-run"])
        .status(0)
        .stderr_has("  $ drbdsetup status --json  (exit 0,")
        .stderr_has("  $ ip -j addr show  (exit 0,")
        .stderr_has("processes spawned");
}
