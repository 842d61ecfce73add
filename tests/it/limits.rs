//! A time limit covers a tool's whole process tree: a fence agent or an ssh that starts a child
//! which keeps the pipes open is stopped at its limit, with its children, and the run says so.
//! (Probes, steps and pipeline members are covered in the runner's unit tests; a clients_command
//! whose child keeps its output open in `exports::failing_clients_command_keeps_that_projects_exports`.)

use std::time::{Duration, Instant};

use crate::failover::active_pair;
use crate::harness::*;

/// A script that starts a child which ignores TERM and keeps stdout and stderr, then waits.
fn forking_script(dir: &std::path::Path, name: &str) -> String {
    let path = dir.join(name);
    std::fs::write(
        &path,
        "#!/bin/sh\nsh -c 'trap \"\" TERM; exec sleep 120' &\necho started\nexec sleep 120\n",
    )
    .unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    path.display().to_string()
}

#[test]
fn a_fence_agent_that_forks_is_stopped_at_its_limit() {
    privileged!();
    let mut p = active_pair();
    let fence = forking_script(p.b.dir.path(), "fence-that-hangs");
    p.set_fence(false, &[&fence]);
    p.b.extra_config =
        p.b.extra_config
            .replace("fence_command:", "fence_timeout: 2s, fence_command:");
    p.b.rewrite_config();
    p.cut_link(&p.a);
    let t = Instant::now();
    let r = p.b.run(&["failover", "--peer-dead", "--yes"]);
    // It says the real time it took (2 s and a few ms).
    r.status(1)
        .stderr_has("fence")
        .stderr_has("killed after 2s");
    assert!(r.stderr.contains("(time limit)"), "{}", r.stderr);
    assert!(t.elapsed() < Duration::from_secs(60), "{:?}", t.elapsed());
    // Nothing after the fence ran: b did not promote.
    assert_eq!(p.b.role("tools"), "Secondary");
    p.restore_link(&p.a);
}

#[test]
fn an_ssh_that_forks_is_stopped_at_its_limit() {
    privileged!();
    let mut p = active_pair();
    let ssh = forking_script(p.b.dir.path(), "ssh-that-hangs");
    let from = "ssh: [ssh, ";
    assert!(p.b.extra_config.contains(from));
    p.b.extra_config =
        p.b.extra_config
            .replace(from, &format!("ssh: [\"{ssh}\", "))
            .replace("ssh_timeout: 10s", "ssh_timeout: 2s");
    p.b.rewrite_config();
    let t = Instant::now();
    let r = p.b.run(&["failover", "--yes"]);
    // The preflight's ssh to the peer is stopped at 2 s: refused, nothing changed.
    r.status(3)
        .stdout_has("labstore1004 is unreachable over ssh (killed after 2s");
    assert!(t.elapsed() < Duration::from_secs(60), "{:?}", t.elapsed());
    assert!(p.a.has_service_ip());
}
