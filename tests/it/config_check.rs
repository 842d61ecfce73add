//! `nfs-manage config check`: examples pass (with the real `drbdadm dump`), mistakes are
//! located, missing tools are named with their packages.

use std::process::Command;

use crate::harness::*;

/// Run `config check` with the real drbdadm reading the example DRBD resources, in a private
/// mount namespace so the host's /etc/drbd.d is untouched.
fn check_with_drbd_conf(config: &str, res_dir: &str) -> Run {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path().display();
    let script = format!(
        "cp /etc/drbd.d/*.conf {t}/ && cp {res_dir}/*.res {t}/ && mount --bind {t} /etc/drbd.d && exec {} --config {config} config check",
        bin().display()
    );
    Run::of(Command::new("unshare").args([
        "--mount",
        "--uts",
        "--propagation",
        "private",
        "sh",
        "-c",
        &script,
    ]))
}

#[test]
fn every_example_passes_config_check() {
    privileged!();
    for ex in [
        "labstore-primary",
        "labstore-secondary",
        "dumps",
        "home-dual-primary",
    ] {
        let path = repo_path(&format!("examples/{ex}.yaml"));
        let r = check_with_drbd_conf(
            path.to_str().unwrap(),
            repo_path("examples/drbd.d").to_str().unwrap(),
        );
        r.status(0);
        assert!(r.stdout.contains("valid"), "{ex}: {}", r.stdout);
    }
}

#[test]
fn unknown_drbd_resource_is_located() {
    privileged!();
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo_path("examples/labstore-primary.yaml"))
        .unwrap()
        .replace("drbd: misc", "drbd: misk")
        // The copy is elsewhere: name the example's DRBD configuration by its full path.
        .replace(
            "drbd_config: drbd.conf",
            &format!("drbd_config: {}", repo_path("examples/drbd.conf").display()),
        );
    let cfg = dir.path().join("c.yaml");
    std::fs::write(&cfg, text).unwrap();
    check_with_drbd_conf(
        cfg.to_str().unwrap(),
        repo_path("examples/drbd.d").to_str().unwrap(),
    )
    .status(78)
    .stderr_has("c.yaml:22:11: volumes[1].drbd: DRBD resource \"misk\" is not defined")
    .stderr_has("knows: home, tools, misc, test, scratch, maps)");
}

#[test]
fn config_errors_name_file_line_column_and_exit_78() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.yaml");
    let base = std::fs::read_to_string(repo_path("examples/labstore-primary.yaml")).unwrap();
    let cases = [
        (
            base.replace(
                "    fstype: ext4\n    mount_options: [noatime]\n  - name: misc",
                "    fstyp: ext4\n  - name: misc",
            ),
            "bad.yaml:19:5: volumes[0]: unknown field `fstyp`",
        ),
        (
            base.replace("name: misc", "name: tools"),
            "bad.yaml:21:11: volumes[1].name: duplicate volume name \"tools\"",
        ),
        (
            base.replace("/srv/misc", "/srv/tools"),
            "bad.yaml:24:17: volumes[1].mountpoint: duplicate mountpoint /srv/tools",
        ),
        (
            base.replace("address: 10.64.37.7", "address: 10.64.37"),
            "bad.yaml:6:28: nodes.labstore1005.address: invalid IP address syntax",
        ),
        (
            base.replace("cluster: labstore-primary", "cluster: [x]"),
            "bad.yaml:3:10: cluster: invalid type: sequence",
        ),
    ];
    for (text, want) in cases {
        std::fs::write(&cfg, &text).unwrap();
        Run::of(Command::new(bin()).args(["--config", cfg.to_str().unwrap(), "config", "check"]))
            .status(78)
            .stderr_has(want);
    }
}

#[test]
fn missing_tools_exit_69_with_packages() {
    let empty = tempfile::tempdir().unwrap();
    let r = Run::of(
        Command::new(bin())
            .args([
                "--config",
                repo_path("examples/labstore-primary.yaml")
                    .to_str()
                    .unwrap(),
                "config",
                "check",
            ])
            .env("PATH", empty.path()),
    );
    r.status(69);
    for want in [
        "exportfs (package nfs-kernel-server)",
        "fuser (package psmisc)",
        "arping (package arping",
        "drbdsetup (package drbd-utils)",
    ] {
        r.stderr_has(want);
    }
}
