//! The cluster lock in a real etcd: `up` takes it (or refuses, exit 4, when another node holds
//! it), `down` releases only its own, `lock show`, the audited `lock break`, and etcd down.

use crate::harness::*;
use crate::up::EXPORTS;

fn locked_host() -> Host {
    let h = Host::with(Spec {
        etcd: true,
        ..Spec::default()
    });
    h.write_exports("test.exports", EXPORTS);
    h
}

fn etcd(h: &Host) -> &Etcd {
    h.etcd.as_ref().unwrap()
}

#[test]
fn up_takes_the_lock_first_and_down_releases_it_last() {
    privileged!();
    let h = locked_host();
    let plan = h.run(&["up", "--dry-run", "--json"]).json();
    assert_eq!(plan["steps"][0]["id"], "lock", "{plan:#}");
    assert_eq!(plan["steps"][0]["argv"][0], "etcdctl");
    h.run(&["up", "--yes"]).status(0);
    assert_eq!(etcd(&h).holder().as_deref(), Some(NODE));
    let j = h.journal();
    assert_eq!(j[0]["step"], "lock");
    let token = j[0]["fencing_token"]
        .as_i64()
        .expect("fencing token journaled");
    let show = h.run(&["lock", "show", "--json"]).json();
    assert_eq!(show["holder"], NODE);
    assert_eq!(show["revision"], token);
    assert!(show["since"].as_str().unwrap().ends_with('Z'), "{show}");
    h.run(&["lock", "show"])
        .stdout_has(format!("held by {NODE} since"));
    // Rerun: the lock is already ours.
    let again = h.run(&["up", "--yes", "--json"]).json();
    assert_eq!(again["result"], "nothing to do");

    let before = h.journal().len();
    h.run(&["down", "--yes"]).status(0);
    let j = h.journal();
    assert_eq!(j.last().unwrap()["step"], "unlock");
    assert!(j.len() > before + 1);
    assert_eq!(etcd(&h).holder(), None);
    let show = h.run(&["lock", "show", "--json"]).json();
    assert_eq!(show["held"], false);
}

#[test]
fn up_refuses_when_another_node_holds_the_lock() {
    privileged!();
    let h = locked_host();
    etcd(&h).put(LOCK_KEY, &format!("{PEER}@2026-01-01T00:00:00.000Z"));
    h.run(&["up", "--yes"])
        .status(4)
        .stderr_has(format!("held by {PEER} since 2026-01-01"))
        .stderr_has("nothing was changed");
    assert!(h.journal().is_empty());
    assert_eq!(h.role("tools"), "Secondary");
    assert!(!h.is_mounted("/srv/tools"));
    // down leaves another node's lock alone.
    h.run(&["down", "--yes"]).status(0);
    assert_eq!(etcd(&h).holder().as_deref(), Some(PEER));
}

#[test]
fn etcd_unreachable_refuses_never_guesses() {
    privileged!();
    let mut h = locked_host();
    h.etcd.as_mut().unwrap().stop();
    h.run(&["up", "--yes"])
        .status(3)
        .stderr_has("cannot read the cluster lock")
        .stderr_has("never guessed");
    assert!(h.journal().is_empty());
    assert_eq!(h.role("tools"), "Secondary");
    h.run(&["lock", "show"]).status(1);
    // A dry run does not contact etcd at all.
    h.run(&["up", "--dry-run"])
        .status(0)
        .stdout_has("not contacted in a dry run");
    h.etcd.as_mut().unwrap().restart();
    h.run(&["up", "--yes"]).status(0);
    h.etcd.as_mut().unwrap().stop();
    h.run(&["down", "--yes"]).status(3);
    assert!(h.is_mounted("/srv/tools"), "refused down changed nothing");
}

#[test]
fn lock_break_is_audited() {
    privileged!();
    let h = locked_host();
    etcd(&h).put(LOCK_KEY, &format!("{PEER}@2026-01-01T00:00:00.000Z"));
    // Off a terminal without --yes: refused; without --reason: usage error.
    h.run(&["lock", "break", "--reason", "peer scrapped"])
        .status(3);
    h.run(&["lock", "break", "--yes"]).status(2);
    assert_eq!(etcd(&h).holder().as_deref(), Some(PEER));
    h.run(&[
        "lock",
        "break",
        "--yes",
        "--reason",
        "labstore1005 scrapped, T12345",
    ])
    .status(0)
    .stdout_has("may still be serving");
    assert_eq!(etcd(&h).holder(), None);
    let rec = h.journal().pop().unwrap();
    assert_eq!(rec["command"], "lock break");
    assert_eq!(rec["result"], "done");
    assert!(rec["operator"].is_string());
    assert!(
        rec["title"].as_str().unwrap().contains(&format!(
            "held by {PEER} (reason: labstore1005 scrapped, T12345)"
        )),
        "{rec}"
    );
    // The revision of the delete, for the audit trail.
    assert!(rec["fencing_token"].as_i64().unwrap() > 0, "{rec}");
    // Now up can take it.
    h.run(&["up", "--yes"]).status(0);
    assert_eq!(etcd(&h).holder().as_deref(), Some(NODE));
}

#[test]
fn a_lock_taken_between_plan_and_run_loses_the_race_with_exit_4() {
    privileged!();
    let h = locked_host();
    // The first etcdctl call (the plan's read) is slow; meanwhile the peer takes the lock.
    h.wrap_real_tool("etcdctl");
    h.faults(serde_json::json!([{ "match": "etcdctl", "nth": 1, "sleep_ms": 1500 }]));
    let child = h.spawn(&["up", "--yes"]);
    std::thread::sleep(std::time::Duration::from_millis(700));
    etcd(&h).put(LOCK_KEY, &format!("{PEER}@2026-01-01T00:00:00.000Z"));
    Run::from(child.wait_with_output().unwrap())
        // Either the read already saw the peer (refused) or the transaction lost: both exit 4.
        .status(4);
    assert_eq!(etcd(&h).holder().as_deref(), Some(PEER));
    assert_eq!(h.role("tools"), "Secondary");
}

#[test]
fn a_transaction_whose_result_is_lost_while_the_peer_takes_the_lock_is_exit_4() {
    privileged!();
    let h = locked_host();
    // The transaction (the second etcdctl call, after the plan's read) never reaches etcd
    // and etcdctl reports a timeout, slowly; meanwhile the peer takes the lock. The read
    // afterwards shows another node's value: that is a lost race, not an unknown failure.
    h.wrap_real_tool("etcdctl");
    h.faults(serde_json::json!([{
        "match": "etcdctl", "nth": 2, "sleep_ms": 1500, "rc": 1,
        "stderr": "{\"level\":\"warn\",\"msg\":\"retrying of unary invoker failed\"}\nError: context deadline exceeded\n"
    }]));
    let child = h.spawn(&["up", "--yes"]);
    std::thread::sleep(std::time::Duration::from_millis(700));
    etcd(&h).put(LOCK_KEY, &format!("{PEER}@2026-01-01T00:00:00.000Z"));
    Run::from(child.wait_with_output().unwrap())
        .status(4)
        .stderr_has("the command failed (exit 1), and the lock is now held by")
        .stderr_has(format!("held by {PEER}"));
    assert_eq!(etcd(&h).holder().as_deref(), Some(PEER));
    assert_eq!(h.role("tools"), "Secondary");
}

#[test]
fn a_failover_in_progress_stops_both_up_and_down_from_touching_the_lock() {
    privileged!();
    let h = locked_host();
    etcd(&h).put(LOCK_KEY, &format!("{PEER}>{NODE}@2026-01-01T00:00:00.000Z"));
    h.run(&["up", "--yes"])
        .status(4)
        .stderr_has(format!("a failover from {PEER} to {NODE} since 2026-01-01"))
        .stderr_has("nfs-manage failover --to");
    assert_eq!(h.role("tools"), "Secondary");
    h.run(&["down", "--yes"]).status(0);
    assert_eq!(
        etcd(&h).get(LOCK_KEY).as_deref(),
        Some(&*format!("{PEER}>{NODE}@2026-01-01T00:00:00.000Z"))
    );
    h.run(&["lock", "show"]).stdout_has("a failover from");
}
