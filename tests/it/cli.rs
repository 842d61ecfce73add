//! Generated files, help, usage errors, and the non-interactive rules.

use std::process::Command;

use crate::harness::*;

#[test]
fn completions_and_man_pages_are_current() {
    let dir = tempfile::tempdir().unwrap();
    let (c, m) = (dir.path().join("completions"), dir.path().join("man"));
    let st = Command::new(bin())
        .args([
            "generate",
            "--completions",
            c.to_str().unwrap(),
            "--man",
            m.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(st.success());
    for (fresh, committed) in [(c, repo_path("completions")), (m, repo_path("man"))] {
        let mut names: Vec<_> = std::fs::read_dir(&fresh)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        let mut have: Vec<_> = std::fs::read_dir(&committed)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        have.sort();
        assert_eq!(
            names,
            have,
            "{} is stale: run `cargo run -- generate`",
            committed.display()
        );
        for n in names {
            let a = std::fs::read(fresh.join(&n)).unwrap();
            let b = std::fs::read(committed.join(&n)).unwrap();
            assert!(
                a == b,
                "{} is stale: run `cargo run -- generate`",
                committed.join(&n).display()
            );
        }
    }
    // One man page per (visible) subcommand.
    for sub in [
        "nfs-manage.1",
        "nfs-manage-status.1",
        "nfs-manage-up.1",
        "nfs-manage-down.1",
        "nfs-manage-config.1",
        "nfs-manage-enable-project.1",
        "nfs-manage-disable-project.1",
        "nfs-manage-exports-sync.1",
        "nfs-manage-exports-import.1",
        "nfs-manage-check.1",
        "nfs-manage-metrics.1",
        "nfs-manage-sync.1",
        "nfs-manage.yaml.5",
    ] {
        assert!(repo_path("man").join(sub).exists(), "{sub}");
    }
}

#[test]
fn help_lists_exit_codes_and_usage_errors_exit_2() {
    let out = Command::new(bin()).arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        text.contains("Exit codes:") && text.contains("69") && text.contains("78"),
        "{text}"
    );
    let out = Command::new(bin())
        .args(["up", "--no-such-flag"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(bin())
        .args(["-q", "-v", "status"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn missing_config_exits_78_and_names_it() {
    let out = Command::new(bin())
        .args(["--config", "/nonexistent/cluster.yaml", "status"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("/nonexistent/cluster.yaml: cannot read")
    );
}

/// A node name given on the command line that the config does not know is a usage error: the
/// config is fine.
#[test]
fn unknown_node_is_a_usage_error() {
    let out = Command::new(bin())
        .args([
            "--config",
            repo_path("examples/labstore-primary.yaml")
                .to_str()
                .unwrap(),
            "--node",
            "nope",
            "status",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("\"nope\"") && err.contains("labstore1004, labstore1005"),
        "{err}"
    );
}

/// `nfs-manage ARGS` in a network namespace of its own with an `eth0` (the examples' service
/// interface), so the result does not depend on the host's interfaces.
fn in_netns_with_eth0(args: &[&str]) -> std::process::Output {
    let script =
        r#"ip link add eth0 type veth peer name peer0 && ip link set eth0 up && exec "$@""#;
    Command::new("unshare")
        .args(["-n", "sh", "-c", script, "sh"])
        .arg(bin())
        .args(args)
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .output()
        .unwrap()
}

#[test]
fn readme_dry_run_works_without_drbd() {
    // The README's first command: a dry-run plan of `up` on a shipped example, on a machine
    // that may lack DRBD and systemd. It prints the whole plan and changes nothing; the steps
    // decided from facts it could not probe are `unknown`, and then it exits 5, never 0.
    privileged!();
    let config = repo_path("examples/labstore-primary.yaml");
    let base = [
        "--config",
        config.to_str().unwrap(),
        "--node",
        "labstore1004",
    ];
    let json = in_netns_with_eth0(&[&base[..], &["--json", "up", "--dry-run"]].concat());
    let plan: serde_json::Value = serde_json::from_slice(&json.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&json.stdout)));
    let unknown = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["state"] == "unknown")
        .count();
    let out = in_netns_with_eth0(&[&base[..], &["up", "--dry-run"]].concat());
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    let want = if unknown > 0 { 5 } else { 0 };
    assert_eq!(out.status.code(), Some(want), "{text}\n{err}");
    assert_eq!(json.status.code(), Some(want));
    if unknown > 0 {
        assert_eq!(plan["result"], "unknown");
        assert_eq!(plan["error"]["exit_code"], 5);
        assert!(err.contains("could not be probed"), "{err}");
        assert!(text.contains("unknown (facts missing)"), "{text}");
    } else {
        assert!(text.contains("Dry run: nothing was changed."), "{text}");
    }
    for want in [
        "promote DRBD tools to Primary",
        "start the NFS server",
        "ip addr add 10.64.37.18/24 dev eth0",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    // Order: DRBD before mounts before NFS before the IP.
    let pos = |s: &str| text.find(s).unwrap_or_else(|| panic!("{s}"));
    assert!(pos("promote DRBD test to Primary") < pos("mount -t ext4"));
    assert!(pos("mount -t ext4 -o noatime /dev/drbd1") < pos("systemctl start nfs-server"));
    assert!(pos("systemctl start nfs-server") < pos("ip addr add"));

    // drbdadm reads the example's own DRBD configuration (drbd_config: drbd.conf, relative to
    // the config file), so the plan names resources that exist.
    let out = Command::new(bin())
        .args([
            "--config",
            repo_path("examples/labstore-primary.yaml")
                .to_str()
                .unwrap(),
            "--node",
            "labstore1004",
            "--json",
            "up",
            "--dry-run",
        ])
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .output()
        .unwrap();
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let conf = repo_path("examples/drbd.conf").display().to_string();
    let argvs: Vec<Vec<String>> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| serde_json::from_value(s["argv"].clone()).unwrap())
        .collect();
    assert!(
        argvs.contains(
            &["drbdadm", "-c", &conf, "primary", "tools"]
                .map(String::from)
                .to_vec()
        ),
        "{argvs:?}"
    );
}
