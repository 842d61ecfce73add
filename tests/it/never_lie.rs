//! What nfs-manage says is what is true, and it does what it says: a half-up node is
//! degraded everywhere (status, check, metrics), `--json` is one document on every outcome,
//! `--force-unmount` sends TERM before KILL, a metrics textfile never outlives a broken config,
//! a question that does not apply is answered, not failed.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::*;
use crate::up::up_host;

/// `nfs-manage --config CONFIG ARGS` on the host (instead of the host's own config).
fn run_with(h: &Host, config: &std::path::Path, args: &[&str]) -> Run {
    let bin = bin();
    let mut argv = vec![bin.to_str().unwrap(), "--config", config.to_str().unwrap()];
    argv.extend_from_slice(args);
    Run::from(h.ns(&argv))
}

/// The command line of the first step of `up`'s plan that `which` picks, as the stand-in logs it.
fn up_step_line(h: &Host, which: impl Fn(&Value) -> bool) -> String {
    let plan = h.run(&["up", "--dry-run", "--json"]).json();
    let step = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| which(s))
        .cloned()
        .unwrap_or_else(|| panic!("no such step in {plan:#}"));
    crate::interrupts::line_of(&step)
}

#[test]
fn promoted_but_not_mounted_is_degraded_in_status_check_and_metrics() {
    privileged!();
    let h = up_host();
    h.wrap_real_tool("mount");
    let mount = up_step_line(&h, |s| s["argv"][0] == "mount");
    h.faults(json!([{ "match": mount, "nth": 1, "rc": 32, "stderr": "mount: wrong fs type\n" }]));
    h.run(&["up", "--yes"]).status(1);
    // DRBD is Primary here, and nothing is served.
    let st = h.run(&["status", "--json"]).json();
    assert_eq!(st["role"], "degraded", "{st:#}");
    let problems = st["problems"].to_string();
    assert!(problems.contains("not mounted at /srv/"), "{problems}");
    assert!(
        problems.contains("is not running on the serving node"),
        "{problems}"
    );
    let c = h.run(&["check", "--expect", "standby"]);
    c.status(2);
    assert!(c.stdout.starts_with("NFS-MANAGE CRITICAL"), "{}", c.stdout);
    let m = h.run(&["metrics"]);
    m.status(0);
    assert!(
        m.stdout.contains(
            "nfs_manage_role{cluster=\"test\",node=\"labstore1004\",role=\"degraded\"} 1"
        ) || m.stdout.contains("role=\"degraded\"} 1"),
        "{}",
        m.stdout
    );
    assert!(m.stdout.contains("role=\"standby\"} 0"), "{}", m.stdout);
}

/// Every exit of a `--json` run prints exactly one JSON document with `format_version` 1, and
/// a failed one says its exit code in it.
#[test]
fn json_is_one_document_on_every_outcome() {
    privileged!();
    let h = up_host();
    let broken = h.dir.path().join("broken.yaml");
    std::fs::write(&broken, "cluster: [\n").unwrap();
    for (args, code) in [
        (&["--json", "status"][..], 78),
        (&["--json", "check"][..], 3),
    ] {
        let r = run_with(&h, &broken, args);
        assert_eq!(r.code, code, "{args:?}: {}\n{}", r.stdout, r.stderr);
        let doc: Value = serde_json::from_str(&r.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: not one JSON document ({e}):\n{}", r.stdout));
        assert_eq!(doc["format_version"], 1, "{args:?}: {doc:#}");
    }
    let cases: Vec<(Vec<&str>, i32)> = vec![
        (vec!["--json", "no-such-command"], 2),
        (vec!["--json", "up", "--no-such-flag"], 2),
        (vec!["--json", "--node", "nope", "status"], 2),
        (vec!["--json", "metrics"], 2),
        (vec!["--json", "up"], 3),
        (vec!["--json", "lock", "show"], 0),
        (vec!["--json", "status"], 0),
        (vec!["--json", "up", "--dry-run"], 0),
        (vec!["--json", "check", "--bogus"], 3),
    ];
    for (args, code) in cases {
        let r = h.run(&args);
        assert_eq!(r.code, code, "{args:?}: {}\n{}", r.stdout, r.stderr);
        let doc: Value = serde_json::from_str(&r.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: not one JSON document ({e}):\n{}", r.stdout));
        assert_eq!(doc["format_version"], 1, "{args:?}: {doc:#}");
        if code != 0 && doc.get("error").is_some() {
            assert_eq!(doc["error"]["exit_code"], code, "{args:?}: {doc:#}");
            assert!(
                !doc["error"]["message"].as_str().unwrap().is_empty(),
                "{args:?}"
            );
        } else if code != 0 {
            // `check` speaks Nagios in its own document.
            assert_eq!(
                args.iter().find(|a| **a == "check"),
                Some(&"check"),
                "{doc:#}"
            );
        }
    }
    // A plan refused off a terminal still shows its steps.
    let r = h.run(&["--json", "up"]);
    let doc = r.json();
    assert_eq!(doc["result"], "refused");
    assert!(!doc["steps"].as_array().unwrap().is_empty());
}

#[test]
fn force_unmount_sends_term_then_kill_after_the_grace() {
    privileged!();
    let h = up_host();
    h.run(&["up", "--yes"]).status(0);
    let pid = h.pid().to_string();
    let marker = h.dir.path().join("got-term");
    let spawn = |script: &str| {
        Command::new("nsenter")
            .args(["-t", &pid, "-m", "-n", "--", "sh", "-c", script])
            .stdin(Stdio::null())
            .spawn()
            .unwrap()
    };
    // One holder leaves on TERM (and says so), one ignores it.
    let mut polite = spawn(&format!(
        "cd /srv/tools && trap 'echo term > {}; exit 0' TERM; while :; do sleep 0.1; done",
        marker.display()
    ));
    let mut stubborn = spawn("cd /srv/misc && trap '' TERM; exec sleep 600");
    std::thread::sleep(Duration::from_millis(300));
    let r = h.run(&["down", "--yes", "--force-unmount", "--kill-after", "2s"]);
    r.status(0);
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap_or_default().trim(),
        "term",
        "the polite holder got TERM first"
    );
    let _ = polite.wait();
    // `sh -c 'trap "" TERM; exec sleep'`: sleep inherits the ignored TERM; only KILL ends it.
    let st = stubborn.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&st),
        Some(9),
        "{st:?}"
    );
    let journal = h.journal();
    let step = |id: &str| journal.iter().find(|r| r["step"] == id).cloned();
    let term = step("term:misc").expect("a TERM step");
    assert_eq!(term["argv"][2], "-TERM", "{term:#}");
    assert!(
        term["left_after_term"].to_string().contains("sleep"),
        "{term:#}"
    );
    let kill = step("kill:misc").expect("a KILL step");
    assert_eq!(
        (kill["argv"][2].as_str(), kill["verify"].as_str()),
        (Some("-KILL"), Some("ok"))
    );
    assert!(!h.is_mounted("/srv/tools") && !h.is_mounted("/srv/misc"));
}

#[test]
fn a_metrics_textfile_says_a_broken_config_at_once() {
    privileged!();
    let h = up_host();
    let dir = h.dir.path().join("textfile");
    std::fs::create_dir_all(&dir).unwrap();
    let textfile = dir.join("nfs_manage.prom");
    h.run(&["metrics", "--textfile", dir.to_str().unwrap()])
        .status(0);
    assert!(
        std::fs::read_to_string(&textfile)
            .unwrap()
            .contains("nfs_manage_collect_success 1")
    );
    let broken = h.dir.path().join("broken.yaml");
    std::fs::write(&broken, "cluster: [\n").unwrap();
    let before = std::time::SystemTime::now();
    let r = run_with(
        &h,
        &broken,
        &["metrics", "--textfile", dir.to_str().unwrap()],
    );
    r.status(78);
    let text = std::fs::read_to_string(&textfile).unwrap();
    assert!(text.contains("nfs_manage_collect_success 0"), "{text}");
    let stamp: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("nfs_manage_collect_timestamp_seconds "))
        .unwrap()
        .parse()
        .unwrap();
    let now = before
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(stamp >= now.floor(), "{stamp} < {now}");
}

#[test]
fn lock_show_without_a_lock_says_so() {
    privileged!();
    let h = up_host();
    let r = h.run(&["lock", "show"]);
    r.status(0);
    assert!(
        r.stdout.contains("no cluster lock is configured"),
        "{}",
        r.stdout
    );
    let j = h.run(&["--json", "lock", "show"]).json();
    assert_eq!(
        (j["configured"].as_bool(), j["held"].as_bool()),
        (Some(false), Some(false))
    );
    let b = h.run(&["lock", "break", "--yes", "--reason", "x"]);
    b.status(2);
}

#[test]
fn a_failed_announcement_is_a_warning_and_a_rerun_announces_again() {
    privileged!();
    let h = up_host();
    h.wrap_real_tool("arping");
    let line = up_step_line(&h, |s| s["id"] == "announce");
    assert!(line.starts_with("arping -U"), "unsolicited ARP: {line}");
    h.faults(json!([{ "match": line, "nth": 1, "rc": 2, "stderr": "arping: send failed\n" }]));
    let r = h.run(&["up", "--yes"]);
    r.status(0);
    assert!(
        r.stderr.contains("warning:") && r.stderr.contains("until their ARP caches expire"),
        "{}",
        r.stderr
    );
    assert!(h.has_service_ip());
    let last = |step: &str| {
        h.journal()
            .into_iter()
            .rev()
            .find(|r| r["step"] == step)
            .unwrap()
    };
    assert_eq!(last("announce")["result"], "warning");
    // The IP is held, but its announcement did not go out: the rerun sends it.
    let plan = h.run(&["up", "--dry-run", "--json"]).json();
    let announce = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "announce")
        .cloned()
        .unwrap();
    assert_eq!(announce["state"], "pending", "{plan:#}");
    assert!(
        announce["why"]
            .as_str()
            .unwrap()
            .contains("no announcement went out"),
        "{announce}"
    );
    h.run(&["up", "--yes"]).status(0);
    assert_eq!(last("announce")["result"], "done");
    let third = h.run(&["up", "--yes"]);
    third.status(0);
    assert!(third.stdout.contains("Nothing to do"), "{}", third.stdout);
}

/// A failover's dry run asks neither the peer nor etcd, and says so instead of claiming what
/// it did not check; the nested runs get the config's absolute path, whatever the caller's
/// directory.
#[test]
fn a_failover_dry_run_says_what_it_did_not_check_and_sends_absolute_paths() {
    privileged!();
    let p = crate::failover::active_pair();
    let config = p.b.config.to_str().unwrap().to_string();
    let (dir, file) = config.rsplit_once('/').unwrap();
    let bin = bin();
    let script = format!(
        "cd {dir} && exec {} --config {file} failover --dry-run --json",
        bin.display()
    );
    let r = Run::from(p.b.ns(&["sh", "-c", &script]));
    r.status(0);
    let plan = r.json();
    let notes = plan["notes"].to_string();
    for said in [
        "not asked in a dry run",
        "as seen from labstore1005 only",
        "cluster lock: not checked in a dry run",
        "what holds its mounts is not checked in a dry run",
    ] {
        assert!(notes.contains(said), "{said}: {notes}");
    }
    assert!(!notes.contains("answers over ssh"), "{notes}");
    let argvs: Vec<String> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["argv"].to_string())
        .collect();
    let nested: Vec<&String> = argvs.iter().filter(|a| a.contains("--config")).collect();
    assert!(!nested.is_empty(), "{argvs:?}");
    for a in nested {
        assert!(
            a.contains(&config),
            "a relative --config was passed on: {a}"
        );
    }
}

#[test]
fn wait_lock_says_whom_it_waits_for() {
    privileged!();
    let h = up_host();
    let line = crate::interrupts::mount_line(&h);
    let first = crate::interrupts::start_in(&h, &["up", "--yes"], &line, 3_000);
    let r = h.run(&["--wait-lock", "60s", "down", "--dry-run"]);
    // A dry run takes no lock: it does not wait.
    r.status(0);
    let waiting = h.run(&["--wait-lock", "60s", "up", "--yes"]);
    waiting
        .status(0)
        .stderr_has("nfs-manage: waiting up to 1m for the lock (0s so far): another run holds");
    waiting.stderr_has(format!("pid {} (", first.id()));
    Run::from(first.wait_with_output().unwrap()).status(0);
}

#[test]
fn detailed_exitcode_says_changes_pending_done_or_error() {
    privileged!();
    let h = up_host();
    h.run(&["--detailed-exitcode", "up", "--dry-run"]).status(2);
    // Refused (off a terminal without --yes): any error is 1.
    h.run(&["--detailed-exitcode", "up"]).status(1);
    h.run(&["--detailed-exitcode", "up", "--yes"]).status(2);
    h.run(&["--detailed-exitcode", "up", "--dry-run"]).status(0);
    h.run(&["--detailed-exitcode", "up", "--yes"]).status(0);
    h.run(&["--detailed-exitcode", "status"]).status(0);
}
