//! Fault injection at every step of `up` and `down` in turn: the run stops at that step, says
//! which and how to retry, the journal records the failure, and rerunning converges.

use serde_json::{Value, json};

use nfs_manage::process::shell_quote;

use crate::harness::*;
use crate::up::up_host;

const WRAPPED: &[&str] = &[
    "mount", "umount", "mkdir", "exportfs", "ip", "arping", "fuser",
];

fn plan_steps(h: &Host, cmd: &str) -> Vec<Value> {
    let p = h.run(&[cmd, "--dry-run", "--json"]).json();
    p["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["state"] == "pending")
        .cloned()
        .collect()
}

fn inject_and_converge(cmd: &str, prepare: fn() -> Host, verify_only: bool) {
    privileged!();
    let count = plan_steps(&prepare(), cmd).len();
    assert!(count >= 8, "{count}");
    std::thread::scope(|s| {
        for k in 0..count {
            s.spawn(move || {
                let h = prepare();
                // Loop devices differ per host, so each host plans for itself.
                let steps = plan_steps(&h, cmd);
                let step = &steps[k];
                for t in WRAPPED {
                    h.wrap_real_tool(t);
                }
                let argv: Vec<&str> = step["argv"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a.as_str().unwrap())
                    .collect();
                let line = argv.join(" ");
                let fault = if verify_only {
                    json!([{ "match": line, "nth": 1, "rc": 0, "effect": "skip" }])
                } else {
                    json!([{ "match": line, "nth": 1, "rc": 1, "stderr": "injected failure\n" }])
                };
                h.faults(fault);
                let before = h.journal().len();
                let r = h.run(&[cmd, "--yes"]);
                let id = step["id"].as_str().unwrap();
                if id.starts_with("announce") {
                    // An announcement that did not go out is a warning naming the risk: the
                    // service is up. A skipped run prints no arping summary, so its check
                    // fails too (a verification that cannot fail would be a defect).
                    r.status(0);
                    assert!(
                        r.stderr.contains("warning:")
                            && r.stderr.contains(step["title"].as_str().unwrap())
                            && r.stderr.contains("until their ARP caches expire"),
                        "{id}: {}",
                        r.stderr
                    );
                    let rec = h.journal().into_iter().rev().find(|r| r["step"] == id);
                    assert_eq!(rec.unwrap()["result"], "warning", "{id}");
                    h.clear_faults();
                    h.run(&[cmd, "--yes"]).status(0);
                    assert_eq!(h.run(&["status", "--json"]).json()["role"], "active");
                    return;
                }
                r.status(1);
                assert!(
                    r.stderr
                        .contains(&format!("({})", step["title"].as_str().unwrap())),
                    "{id}: {}",
                    r.stderr
                );
                // As the failure message shows it: quoted for a root shell where needed.
                let shown: Vec<String> = argv.iter().map(|a| shell_quote(a)).collect();
                assert!(
                    r.stderr
                        .contains(&format!("  command: {}", shown.join(" "))),
                    "{id}: {}",
                    r.stderr
                );
                if verify_only {
                    assert!(
                        r.stderr
                            .contains("the command succeeded (exit 0) but the result is wrong"),
                        "{id}: {}",
                        r.stderr
                    );
                } else {
                    assert!(
                        r.stderr.contains("the command failed (exit 1)")
                            && r.stderr.contains("injected failure"),
                        "{id}: {}",
                        r.stderr
                    );
                }
                assert!(
                    r.stderr.contains(&format!(
                        "to retry:    nfs-manage --config {} {cmd}",
                        h.config.display()
                    )),
                    "{id}: {}",
                    r.stderr
                );
                let journal = h.journal();
                let failed = journal[before..].iter().find(|r| r["step"] == id).unwrap();
                assert_eq!(failed["result"], "failed", "{id}");
                // Every step before it ran, none after it, except its parallel group's other
                // members, which finish what they started.
                let group = &step["group"];
                let siblings = steps
                    .iter()
                    .skip(k + 1)
                    .take_while(|s| !group.is_null() && s["group"] == *group)
                    .count();
                let ran = journal.len() - before;
                assert!(
                    (k + 1..=k + 1 + siblings).contains(&ran),
                    "{id}: {ran} steps journaled; steps before it ran, none after"
                );
                for s in &steps[..k] {
                    assert!(
                        journal[before..].iter().any(|r| r["step"] == s["id"]),
                        "{id}: {} did not run",
                        s["id"]
                    );
                }
                h.clear_faults();
                let again = h.run(&[cmd, "--yes"]);
                again.status(0);
                let want = if cmd == "up" { "active" } else { "standby" };
                assert_eq!(h.run(&["status", "--json"]).json()["role"], want, "{id}");
                h.run(&[cmd, "--yes"]).status(0);
            });
        }
    });
}

fn active() -> Host {
    let h = up_host();
    h.run(&["up", "--yes"]).status(0);
    h
}

#[test]
fn up_fails_at_each_step_and_converges() {
    inject_and_converge("up", up_host, false);
}

#[test]
fn up_verifies_each_step_even_when_the_command_says_ok() {
    inject_and_converge("up", up_host, true);
}

#[test]
fn down_fails_at_each_step_and_converges() {
    inject_and_converge("down", active, false);
}

#[test]
fn down_verifies_each_step_even_when_the_command_says_ok() {
    inject_and_converge("down", active, true);
}
