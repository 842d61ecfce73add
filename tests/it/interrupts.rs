//! Signals, closed output and killed runs never leave the node half-changed: SIGTERM or
//! Ctrl-C at each step of `up` and `down` lets the step finish, journals `interrupted`,
//! exits 143/130 and a rerun converges; a second signal or the end of the grace period stops
//! the step; a closed stdout changes nothing of what a run does; a run killed with -9 keeps
//! the host lock while its child still runs, and after a kill -9 at any step a rerun
//! converges.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};

use crate::harness::*;
use crate::up::up_host;

const WRAPPED: &[&str] = &[
    "mount", "umount", "mkdir", "exportfs", "ip", "arping", "fuser",
];

fn active() -> Host {
    let h = up_host();
    h.run(&["up", "--yes"]).status(0);
    h
}

/// The pending steps that run a command (file work leaves no call to wait for).
fn command_steps(h: &Host, cmd: &str) -> Vec<Value> {
    let p = h.run(&[cmd, "--dry-run", "--json"]).json();
    p["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["state"] == "pending" && !s["argv"].as_array().unwrap().is_empty())
        .cloned()
        .collect()
}

pub fn line_of(step: &Value) -> String {
    step["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Start `nfs-manage ARGS` with `line` slowed by `ms`, and return once that command runs.
pub fn start_in(h: &Host, args: &[&str], line: &str, ms: u64) -> Child {
    for t in WRAPPED {
        h.wrap_real_tool(t);
    }
    h.faults(json!([{ "match": line, "nth": 1, "sleep_ms": ms }]));
    h.clear_calls();
    let child = h.spawn(args);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !h.calls().iter().any(|c| c == line) {
        assert!(Instant::now() < deadline, "`{line}` never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

fn signal(child: &Child, sig: Signal) {
    kill(Pid::from_raw(child.id() as i32), sig).unwrap();
}

fn interrupted_records(h: &Host) -> usize {
    h.journal()
        .iter()
        .filter(|r| r["result"] == "interrupted")
        .count()
}

fn role(h: &Host) -> Value {
    h.run(&["status", "--json"]).json()["role"].clone()
}

/// `check(cmd, host, step id, child)` on a fresh host for each step of `cmd` that runs a
/// command, side by side, with the run held inside that step's command (slowed by 1.5 s).
fn at_each_step(cmd: &'static str, prepare: fn() -> Host, check: fn(&str, &Host, &str, Child)) {
    privileged!();
    let count = command_steps(&prepare(), cmd).len();
    assert!(count >= 6, "{count}");
    std::thread::scope(|s| {
        for k in 0..count {
            s.spawn(move || {
                let h = prepare();
                let steps = command_steps(&h, cmd);
                let id = steps[k]["id"].as_str().unwrap().to_string();
                let child = start_in(&h, &[cmd, "--yes"], &line_of(&steps[k]), 1500);
                check(cmd, &h, &id, child);
            });
        }
    });
}

/// `cmd` (`up` or `down`) run again (after `before`, e.g. `--wait-lock 60s`) converges to
/// the role it brings the node to.
fn rerun_converges(h: &Host, cmd: &str, id: &str, before: &[&str]) {
    h.clear_faults();
    let mut argv = before.to_vec();
    argv.extend([cmd, "--yes"]);
    h.run(&argv).status(0);
    let want = if cmd == "up" { "active" } else { "standby" };
    assert_eq!(role(h), want, "{id}");
}

fn sigterm_in_step(cmd: &str, h: &Host, id: &str, child: Child) {
    signal(&child, Signal::SIGTERM);
    let r = Run::from(child.wait_with_output().unwrap());
    r.status(143);
    assert!(
        r.stderr.contains("interrupted by SIGTERM"),
        "{id}: {}",
        r.stderr
    );
    assert!(r.stderr.contains("to retry:"), "{id}: {}", r.stderr);
    let journal = h.journal();
    assert_eq!(
        journal.last().unwrap()["result"],
        "interrupted",
        "{id}: {journal:#?}"
    );
    // The step in progress finished within the grace period.
    let rec = journal.iter().rev().find(|r| r["step"] == id);
    assert_eq!(
        rec.map(|r| r["result"].clone()),
        Some(json!("done")),
        "{id}: {journal:#?}"
    );
    rerun_converges(h, cmd, id, &[]);
    h.run(&[cmd, "--yes"]).status(0);
}

#[test]
fn sigterm_at_each_step_of_up_lets_it_finish_and_a_rerun_converges() {
    at_each_step("up", up_host, sigterm_in_step);
}

#[test]
fn sigterm_at_each_step_of_down_lets_it_finish_and_a_rerun_converges() {
    at_each_step("down", active, sigterm_in_step);
}

/// kill -9 of `child` (only that process: what it started runs on), which must die of it.
pub fn kill_9(mut child: Child, what: &str) {
    child.kill().unwrap();
    let st = child.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&st),
        Some(9),
        "{what}"
    );
}

/// kill -9 inside a step: the step's command runs on and keeps the host lock; a rerun that
/// waits for the lock converges, and then nothing is left to do.
fn kill_9_in_step(cmd: &str, h: &Host, id: &str, child: Child) {
    kill_9(child, id);
    // The killed run wrote no end for its step: the journal does not claim it.
    let journal = h.journal();
    assert!(
        !journal
            .iter()
            .any(|r| r["command"] == cmd && r["step"] == id && r["result"] == "done"),
        "{id}: {journal:#?}"
    );
    rerun_converges(h, cmd, id, &["--wait-lock", "60s"]);
    let plan = h.run(&[cmd, "--dry-run", "--json"]).json();
    let pending: Vec<&Value> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["state"] == "pending")
        .collect();
    assert!(pending.is_empty(), "{id}: still pending {pending:#?}");
}

#[test]
fn kill_9_at_each_step_of_up_and_a_rerun_converges() {
    at_each_step("up", up_host, kill_9_in_step);
}

#[test]
fn kill_9_at_each_step_of_down_and_a_rerun_converges() {
    at_each_step("down", active, kill_9_in_step);
}

/// The mount step of `up`: long enough to interrupt for sure.
pub fn mount_line(h: &Host) -> String {
    let steps = command_steps(h, "up");
    line_of(
        steps
            .iter()
            .find(|s| s["argv"][0] == "mount")
            .expect("a mount step"),
    )
}

#[test]
fn a_second_ctrl_c_stops_the_step_at_once() {
    privileged!();
    let h = up_host();
    let line = mount_line(&h);
    let child = start_in(&h, &["up", "--yes"], &line, 60_000);
    let t = Instant::now();
    signal(&child, Signal::SIGINT);
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, Signal::SIGINT);
    let r = Run::from(child.wait_with_output().unwrap());
    r.status(130);
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
    assert!(r.stderr.contains("interrupted by SIGINT"), "{}", r.stderr);
    assert_eq!(interrupted_records(&h), 1);
    h.clear_faults();
    h.run(&["up", "--yes"]).status(0);
    assert_eq!(role(&h), "active");
}

#[test]
fn past_the_grace_period_the_step_is_stopped() {
    privileged!();
    let h = up_host();
    let path = h.inside(h.config.to_str().unwrap());
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("step: 30s }"), "{text}");
    std::fs::write(&path, text.replace("step: 30s }", "step: 30s, grace: 1s }")).unwrap();
    let line = mount_line(&h);
    let child = start_in(&h, &["up", "--yes"], &line, 60_000);
    let t = Instant::now();
    signal(&child, Signal::SIGTERM);
    let r = Run::from(child.wait_with_output().unwrap());
    r.status(143);
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
    h.clear_faults();
    h.run(&["up", "--yes"]).status(0);
    assert_eq!(role(&h), "active");
}

#[test]
fn a_signal_outside_a_change_exits_at_once() {
    privileged!();
    let h = up_host();
    // A run waiting for the host lock changes nothing yet.
    let line = mount_line(&h);
    let first = start_in(&h, &["up", "--yes"], &line, 5_000);
    let waiting = h.spawn(&["--wait-lock", "60s", "down", "--yes"]);
    std::thread::sleep(Duration::from_millis(500));
    signal(&waiting, Signal::SIGTERM);
    let r = Run::from(waiting.wait_with_output().unwrap());
    r.status(143);
    Run::from(first.wait_with_output().unwrap()).status(0);
    assert_eq!(role(&h), "active");
}

/// Runs `nfs-manage ARGS` with its stdout closed before it writes anything.
fn closed_stdout(h: &Host, args: &[&str]) -> Run {
    let mut argv = vec![
        bin().to_str().unwrap().to_string(),
        "--config".into(),
        h.config.to_str().unwrap().to_string(),
    ];
    argv.extend(args.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
    let mut child = h
        .ns_cmd(&refs)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    Run::from(child.wait_with_output().unwrap())
}

#[test]
fn a_closed_stdout_never_aborts_a_run() {
    privileged!();
    let h = up_host();
    for args in [
        &["up", "--dry-run"][..],
        &["up", "--yes"],
        &["up", "--yes"],
        &["status"],
        &["status", "--json"],
        &["check"],
        &["metrics"],
        &["config", "check"],
        &["lock", "show"],
        &["backup", "list"],
        &["--help"],
        &["down", "--dry-run"],
        &["exports", "sync", "--dry-run"],
        &["sync"],
        &["failover", "--dry-run"],
        &["enable-project", "x", "--dry-run"],
        &["disable-project", "x", "--dry-run"],
        &["backup", "umount", "--expired"],
        &["lock", "break", "--yes", "--reason", "test"],
        &["--json", "no-such-command"],
        &["down", "--yes"],
        &["down", "--yes", "--json"],
    ] {
        let r = closed_stdout(&h, args);
        assert!(
            r.code != 101 && !r.stderr.contains("panicked"),
            "{args:?}: exit {}: {}",
            r.code,
            r.stderr
        );
        if args[0] == "up" && args[1] == "--yes" {
            assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
            assert_eq!(role(&h), "active");
        }
        if args == ["down", "--yes"] {
            assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
            assert_eq!(role(&h), "standby");
        }
    }
}

#[test]
fn a_run_killed_with_9_holds_the_lock_while_its_child_runs() {
    privileged!();
    let h = up_host();
    let line = mount_line(&h);
    let child = start_in(&h, &["up", "--yes"], &line, 4_000);
    kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
    let _ = child.wait_with_output();
    // The mount it started still runs: the rerun does not race it.
    let r = h.run(&["up", "--yes"]);
    r.status(4);
    assert!(
        r.stderr
            .contains("that run is gone, but a process it started still runs"),
        "{}",
        r.stderr
    );
    h.clear_faults();
    h.run(&["--wait-lock", "60s", "up", "--yes"]).status(0);
    assert_eq!(role(&h), "active");
}
