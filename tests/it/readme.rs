//! The README's commands on the shipped examples, run exactly as printed: every command line
//! in a README code block that uses an `examples/` config is run from the repository root on
//! this machine (drbd-utils installed, no DRBD kernel module), with the system PATH (no
//! stand-ins). Each must exit 0 and print the output lines the README shows below it.
//! Only safe commands may appear there: read-only subcommands or `--dry-run`; any other
//! fails this test rather than run.

use std::process::Command;

use crate::harness::*;

/// Subcommands that change nothing.
const READ_ONLY: &[&[&str]] = &[
    &["config", "check"],
    &["status"],
    &["check"],
    &["lock", "show"],
    &["backup", "list"],
];

struct Shown {
    line: String,
    argv: Vec<String>,
    output: Vec<String>,
}

/// Command lines (a `$ ` prompt or none) in fenced code blocks, with the lines printed below
/// them up to the next prompt or the end of the block.
fn shown_commands(readme: &str) -> Vec<Shown> {
    let mut out: Vec<Shown> = vec![];
    let mut in_block = false;
    let mut collecting = false;
    for raw in readme.lines() {
        if raw.trim_start().starts_with("```") {
            in_block = !in_block;
            collecting = false;
            continue;
        }
        if !in_block {
            continue;
        }
        let line = raw.trim();
        let cmd = line.strip_prefix("$ ").unwrap_or(line);
        let words = shlex::split(cmd).unwrap_or_default();
        let args: Option<&[String]> = match words.as_slice() {
            [first, rest @ ..] if first == "nfs-manage" => Some(rest),
            [c, r, q, dd, rest @ ..] if c == "cargo" && r == "run" && q == "-q" && dd == "--" => {
                Some(rest)
            }
            _ => None,
        };
        match args {
            Some(args) if args.iter().any(|a| a.starts_with("examples/")) => {
                out.push(Shown {
                    line: cmd.to_string(),
                    argv: args.to_vec(),
                    output: vec![],
                });
                collecting = line.starts_with("$ ");
            }
            _ if line.starts_with("$ ") || args.is_some() => collecting = false,
            _ if collecting && !line.is_empty() && line != "…" => {
                out.last_mut().unwrap().output.push(line.to_string())
            }
            _ => {}
        }
    }
    out
}

fn is_safe(argv: &[String]) -> bool {
    if argv.iter().any(|a| a == "--dry-run") {
        return true;
    }
    let words: Vec<&str> = argv
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with('-') && !a.contains('/') && !a.starts_with("labstore"))
        .collect();
    READ_ONLY.iter().any(|ro| words.starts_with(ro))
}

#[test]
fn readme_commands_on_the_examples_work_as_printed() {
    privileged!();
    let readme = std::fs::read_to_string(repo_path("README.md")).unwrap();
    let shown = shown_commands(&readme);
    assert!(
        shown.iter().any(|s| s.line.contains("config check"))
            && shown.iter().any(|s| s.line.contains("up --dry-run")),
        "the README's example commands were not found: {:?}",
        shown.iter().map(|s| &s.line).collect::<Vec<_>>()
    );
    for s in &shown {
        assert!(
            is_safe(&s.argv),
            "README shows {:?} on an example config; only read-only or --dry-run commands belong there",
            s.line
        );
        let run = |extra: &[&str]| {
            // In a network namespace of its own with an `eth0` (the examples' interface), so
            // the result does not depend on this host's interfaces.
            let script =
                r#"ip link add eth0 type veth peer name peer0 && ip link set eth0 up && exec "$@""#;
            Command::new("unshare")
                .args(["-n", "sh", "-c", script, "sh"])
                .arg(bin())
                .args(extra)
                .args(&s.argv)
                .current_dir(repo_path(""))
                .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
                .env_remove("NFS_MANAGE_CONFIG")
                .env_remove("NFS_MANAGE_NODE")
                .output()
                .unwrap()
        };
        let out = run(&[]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        // A dry run on a machine without DRBD or systemd cannot know some steps: it shows them
        // as unknown and exits 5 (as the README says); with every fact probed, 0.
        let mut want_code = 0;
        if s.argv.iter().any(|a| a == "--dry-run") {
            let plan: serde_json::Value =
                serde_json::from_slice(&run(&["--json"]).stdout).unwrap_or_default();
            if plan["result"] == "unknown" {
                want_code = 5;
            }
        }
        assert_eq!(
            out.status.code(),
            Some(want_code),
            "{}\n{stdout}\n{}",
            s.line,
            String::from_utf8_lossy(&out.stderr)
        );
        for want in &s.output {
            assert!(
                stdout.lines().any(|l| l.trim() == want),
                "{}: the README shows {want:?}; it printed:\n{stdout}",
                s.line
            );
        }
    }
}
