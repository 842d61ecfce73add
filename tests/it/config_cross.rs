//! The config and the projects as a whole: what they say must be possible together. Each
//! refusal names both places that conflict; a bad project never stops the others; exported
//! paths read back exactly; `check` keeps to the Nagios codes whatever its command line.

use std::process::Command;

use crate::harness::*;

/// `nfs-manage --config FILE ARGS` outside any namespace (nothing here needs one).
fn run_with(config_text: &str, args: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.yaml");
    std::fs::write(&cfg, config_text).unwrap();
    let mut argv = vec!["--config", cfg.to_str().unwrap()];
    argv.extend(args);
    Run::from(
        Command::new(bin())
            .args(&argv)
            .env_remove("NFS_MANAGE_CONFIG")
            .output()
            .unwrap(),
    )
}

/// The shipped example, reading drbdadm's own /etc/drbd.conf (the tests bind their DRBD
/// resources there) instead of the example's `drbd_config`, which is relative to its file.
fn example() -> String {
    std::fs::read_to_string(repo_path("examples/labstore-primary.yaml"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("drbd_config:"))
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

#[test]
fn service_ip_equal_to_a_node_address_is_refused_everywhere() {
    // It once passed `config check`, and `down` then deleted the node's own address.
    let text = example().replace("10.64.37.18/24", "10.64.37.6/24");
    for args in [
        &["config", "check"][..],
        &["--node", "labstore1004", "down", "--dry-run"][..],
        &["--node", "labstore1004", "up", "--dry-run"][..],
        &["--node", "labstore1004", "status"][..],
    ] {
        let r = run_with(&text, args);
        r.status(78);
        assert!(
            r.stderr.contains(
                "c.yaml:8:12: service_ip.address: 10.64.37.6 is node labstore1004's own address"
            ) && r
                .stderr
                .contains("c.yaml:5:28: nodes.labstore1004.address)"),
            "{args:?}: {}",
            r.stderr
        );
    }
}

#[test]
fn announce_to_off_the_service_network_and_duplicate_nodes_are_refused() {
    let text = example()
        .replace("announce_to: 10.64.37.1", "announce_to: 10.64.38.1")
        .replace("address: 10.64.37.7", "address: 10.64.37.6");
    let r = run_with(&text, &["config", "check"]);
    r.status(78);
    for want in [
        "service_ip.announce_to: 10.64.38.1 is not on the service network 10.64.37.0/24",
        "nodes.labstore1005.address: 10.64.37.6 is also labstore1004's address",
        "c.yaml:5:28: nodes.labstore1004.address)",
    ] {
        assert!(r.stderr.contains(want), "{want}: {}", r.stderr);
    }
}

#[test]
fn argv_values_that_are_options_or_hold_nul_are_refused_at_load() {
    let text = example()
        .replace("interface: eth0", "interface: -eth0")
        .replace(
            "mount_options: [noatime]",
            "mount_options: [\"noa\\0time\"]",
        );
    let r = run_with(&text, &["--node", "labstore1004", "up", "--dry-run"]);
    r.status(78);
    assert!(
        r.stderr
            .contains("service_ip.interface: \"-eth0\" starts with '-'")
            && r.stderr
                .contains("volumes[0].mount_options[0]: holds a NUL byte"),
        "{}",
        r.stderr
    );
}

#[test]
fn absurd_durations_are_errors_not_panics() {
    let r = run_with(
        &format!("{}timeouts: {{ step: 500000000000y }}\n", example()),
        &["--node", "labstore1004", "up", "--dry-run"],
    );
    r.status(78);
    assert!(
        r.stderr.contains("longest accepted duration"),
        "{}",
        r.stderr
    );
    let good = example();
    for (args, code) in [
        (
            &["exports", "sync", "--interval", "18446744073709551615"][..],
            2,
        ),
        (&["sync", "--interval", "18446744073709551615"][..], 2),
        (&["--wait-lock", "500000000000y", "status"][..], 2),
        (
            &["backup", "mount", "tools", "--ttl", "500000000000y"][..],
            2,
        ),
        (&["backup", "mount", "tools", "--ttl", "300000y"][..], 2),
    ] {
        let r = run_with(&good, args);
        r.status(code);
        assert!(
            r.stderr.contains("longest accepted") && !r.stderr.contains("panicked"),
            "{args:?}: {}",
            r.stderr
        );
    }
}

#[test]
fn check_exits_0_to_3_whatever_its_command_line() {
    let good = example();
    for args in [
        &["--bogus", "check"][..],
        &["--wait-lock", "xyz", "check"][..],
        &["--wait-lock", "500000000000y", "check"][..],
        &["--bogus", "value", "check", "drbd"][..],
        &["-q", "-v", "check"][..],
        &["check", "--expect", "sideways"][..],
        &["check", "--config", "/nonexistent"][..],
    ] {
        let r = run_with(&good, args);
        assert!(
            (0..=3).contains(&r.code),
            "{args:?}: exit {}\n{}{}",
            r.code,
            r.stdout,
            r.stderr
        );
        assert_eq!(r.code, 3, "{args:?}: {}{}", r.stdout, r.stderr);
        assert!(
            r.stdout.starts_with("NFS-MANAGE UNKNOWN - "),
            "{args:?}: {}",
            r.stdout
        );
    }
}

/// Run `config check` with the real drbdadm reading `res` as the DRBD configuration, in a
/// private mount namespace (the host's /etc/drbd.d is untouched).
fn check_with_drbd(config_text: &str, res: &str) -> Run {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path().display();
    let cfg = tmp.path().join("c.yaml");
    std::fs::write(&cfg, config_text).unwrap();
    std::fs::create_dir(tmp.path().join("drbd.d")).unwrap();
    std::fs::write(tmp.path().join("drbd.d/test.res"), res).unwrap();
    let script = format!(
        "cp /etc/drbd.d/*.conf {t}/drbd.d/ && mount --bind {t}/drbd.d /etc/drbd.d && exec {} --config {} config check",
        bin().display(),
        cfg.display()
    );
    Run::from(
        Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c", &script])
            .output()
            .unwrap(),
    )
}

#[test]
fn volumes_are_checked_against_the_real_drbdadm_dump() {
    privileged!();
    let res = std::fs::read_to_string(repo_path("examples/drbd.d/labstore-primary.res")).unwrap();
    // Device, hosts and allow-two-primaries each contradicted once.
    let res = res
        .replace("device /dev/drbd3;", "device /dev/drbd13;")
        .replace(
            "on labstore1005 { address 10.64.37.7:7792",
            "on labstore1009 { address 10.64.37.7:7792",
        )
        .replace(
            "resource tools {\n  device /dev/drbd4;",
            "resource tools {\n  device /dev/drbd4;\n  net { allow-two-primaries yes; }",
        );
    let r = check_with_drbd(&example(), &res);
    r.status(78);
    for want in [
        "volumes[0].drbd: DRBD resource tools (defined at /etc/drbd.d/test.res:",
        "sets `allow-two-primaries yes`, but the volume is not dual_primary",
        "volumes[1].device: /dev/drbd3 is not a device of DRBD resource misc (defined at /etc/drbd.d/test.res:",
        "which has /dev/drbd13",
        "volumes[2].drbd: DRBD resource test (defined at /etc/drbd.d/test.res:",
        "runs on labstore1004, labstore1009, but the config's nodes are labstore1004, labstore1005",
        "(conflicts with ",
    ] {
        assert!(r.stderr.contains(want), "{want}\n{}", r.stderr);
    }
}

const GROUPS: &str = "root:x:0:\nproject-alpha:x:50100:\nproject-beta:x:50200:\n";

/// A host without DRBD volumes: `config check` runs the real `drbdadm dump`, which reads this
/// machine's DRBD configuration, not the test's.
fn exports_host(extra: &str) -> Host {
    let h = Host::with(Spec {
        drbd: false,
        ..Spec::default()
    });
    h.enable_exports(extra);
    h.write_group(GROUPS);
    h.activate();
    h
}

fn project(h: &Host, name: &str, gid: u32, more: &str) {
    h.write_project(
        name,
        &format!("name: {name}\ngid: {gid}\nvolume: misc\nclients: [192.0.2.50]\n{more}"),
    );
    h.ns_ok(&["install", "-d", &format!("/srv/misc/shared/{name}")]);
}

#[test]
fn a_misspelt_export_option_is_never_written_and_stops_no_other_project() {
    privileged!();
    let h = exports_host("");
    project(&h, "alpha", 50100, "");
    project(&h, "beta", 50200, "options: [rw, sync, no_subtree_ch-ck]\n");
    // Found before any run.
    let r = h.run(&["config", "check"]);
    r.status(78);
    assert!(
        r.stderr.contains("beta.yaml:5:21: options[2]: \"no_subtree_ch-ck\" is not an export option exportfs accepts (did you mean no_subtree_check?)"),
        "{}",
        r.stderr
    );
    // A sync applies alpha, writes nothing for beta and says why.
    let r = h.run(&["exports", "sync", "--yes"]);
    r.status(78);
    assert!(r.stderr.contains("no_subtree_ch-ck"), "{}", r.stderr);
    assert!(
        h.etab().contains("/srv/misc/shared/alpha\t192.0.2.50("),
        "{}",
        h.etab()
    );
    assert!(!h.etab().contains("shared/beta"), "{}", h.etab());
    assert!(!h.inside("/etc/exports.d/project-beta.exports").exists());
    // exportfs -ra (what `up` runs after a reboot) still works.
    let out = h.ns(&["exportfs", "-ra"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn nested_and_world_wide_project_exports_are_refused() {
    privileged!();
    let h = exports_host("");
    project(&h, "alpha", 50100, "path: shared\n");
    project(&h, "beta", 50200, "");
    let r = h.run(&["exports", "sync", "--yes"]);
    r.status(3);
    assert!(
        r.stderr.contains("/srv/misc/shared/beta (project beta (")
            && r.stderr
                .contains("is inside /srv/misc/shared (project alpha ("),
        "{}",
        r.stderr
    );
    assert!(!h.etab().contains("/srv/misc/shared"), "{}", h.etab());
    // Allowed when the config says so.
    let text = std::fs::read_to_string(&h.config).unwrap();
    let text = text.replace(
        "clients_timeout: 2s }",
        "clients_timeout: 2s, allow_nested: true }",
    );
    std::fs::write(&h.config, text).unwrap();
    h.run(&["exports", "sync", "--yes"]).status(0);

    // A clients_command that answers with the world: that project is kept as it was.
    let g = exports_host("");
    project(&g, "alpha", 50100, "");
    g.run(&["exports", "sync", "--yes"]).status(0);
    let script = g.script("world", "echo '[\"0.0.0.0/0\"]'");
    g.write_project(
        "alpha",
        &format!(
            "name: alpha\ngid: 50100\nvolume: misc\nclients_command: [{}]\n",
            script.display()
        ),
    );
    let r = g.run(&["exports", "sync", "--yes"]);
    r.status(3);
    assert!(
        r.stderr.contains("0.0.0.0/0 is wider than /16"),
        "{}",
        r.stderr
    );
    assert!(
        g.etab().contains("/srv/misc/shared/alpha\t192.0.2.50("),
        "{}",
        g.etab()
    );
    assert!(!g.etab().contains("0.0.0.0/0"), "{}", g.etab());
}

#[test]
fn paths_that_exports_files_escape_round_trip() {
    privileged!();
    let h = exports_host("");
    for (name, path) in [("alpha", "shared/al\"pha"), ("beta", "shared/be ta#1")] {
        let r = h.run(&[
            "enable-project",
            name,
            "--volume",
            "misc",
            "--path",
            path,
            "--clients",
            "192.0.2.50",
            "--yes",
        ]);
        r.status(0);
    }
    let first = h.run(&["exports", "sync", "--yes"]);
    first.status(0);
    let second = h.run(&["exports", "sync", "--yes", "--json"]);
    second.status(0);
    assert_eq!(
        second.json()["result"],
        "nothing to do",
        "{}",
        second.stdout
    );
    let file = std::fs::read_to_string(h.inside("/etc/exports.d/project-beta.exports")).unwrap();
    assert!(
        file.contains("/srv/misc/shared/be\\040ta\\0431 \\"),
        "{file}"
    );
    // A backslash cannot be written so that exportfs reads it back: refused at enable time.
    let r = h.run(&[
        "enable-project",
        "gamma",
        "--gid",
        "50300",
        "--volume",
        "misc",
        "--path",
        "shared/a\\040b",
        "--clients",
        "192.0.2.50",
        "--yes",
    ]);
    r.status(2);
    assert!(
        r.stderr.contains("path:") && r.stderr.contains("'\\'"),
        "{}",
        r.stderr
    );
    assert!(!h.projects_dir().join("gamma.yaml").exists());
}
