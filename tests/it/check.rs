//! `nfs-manage check`: Nagios lines and exit codes against stand-in DRBD states and real
//! mounts, exports and addresses (the same states `status` is tested against).

use crate::harness::*;
use crate::up::up_host;

/// The one Nagios line: `NFS-MANAGE STATE - summary | perfdata`.
fn nagios(r: &Run) -> (&str, &str, &str) {
    let line = r.stdout.trim_end();
    assert_eq!(r.stdout.lines().count(), 1, "one line: {:?}", r.stdout);
    let rest = line
        .strip_prefix("NFS-MANAGE ")
        .unwrap_or_else(|| panic!("{line}"));
    let (state, rest) = rest.split_once(" - ").unwrap();
    let (summary, perf) = rest.split_once(" | ").unwrap_or((rest, ""));
    (state, summary, perf)
}

fn active_host() -> Host {
    let h = up_host();
    h.run(&["up", "--yes"]).status(0);
    h
}

#[test]
fn healthy_standby_and_active_are_ok_and_expect_catches_the_wrong_role() {
    privileged!();
    let h = Host::new();
    let r = h.run(&["check"]);
    r.status(0);
    let (state, summary, perf) = nagios(&r);
    assert_eq!(state, "OK");
    assert!(
        summary.starts_with("test on labstore1004 (standby): "),
        "{summary}"
    );
    assert!(
        summary.contains("service IP 192.0.2.18/24 not here"),
        "{summary}"
    );
    assert!(
        perf.contains("mounted=0;;;0;2") && perf.contains("service_ip=0;;;0;1"),
        "{perf}"
    );
    h.run(&["check", "--expect", "standby"]).status(0);
    let r = h.run(&["check", "--expect", "active"]);
    r.status(2);
    let (state, summary, _) = nagios(&r);
    assert_eq!(state, "CRITICAL");
    assert!(
        summary.contains("role is standby, expected active"),
        "{summary}"
    );
    assert!(
        summary
            .contains("the service IP 192.0.2.18/24 is not on this node, which should be active"),
        "{summary}"
    );

    let h = active_host();
    let r = h.run(&["check", "--expect", "active"]);
    r.status(0);
    let (state, summary, perf) = nagios(&r);
    assert_eq!(state, "OK", "{summary}");
    assert!(
        summary.contains("NFS server nfs-server active, 2/2 volumes mounted"),
        "{summary}"
    );
    assert!(
        perf.contains("nfs_active=1;;;0;1") && perf.contains("exported=2;;;0;2"),
        "{perf}"
    );
    for what in ["drbd", "role", "service-ip", "nfs", "exports"] {
        h.run(&["check", what, "--expect", "active"]).status(0);
    }
    h.run(&["check", "--expect", "standby"]).status(2);
}

#[test]
fn resync_is_a_warning_with_its_percent() {
    privileged!();
    let h = Host::new();
    h.edit_resource("misc", |r| {
        r["volumes"][0]["disk"] = "Inconsistent".into();
        r["peers"][0]["role"] = "Primary".into();
        r["peers"][0]["volumes"][0]["replication"] = "SyncTarget".into();
        r["peers"][0]["volumes"][0]["done"] = 45.5.into();
    });
    let r = h.run(&["check", "drbd"]);
    r.status(1);
    let (state, summary, perf) = nagios(&r);
    assert_eq!(state, "WARNING");
    assert!(
        summary.contains(
            "volume misc: resync in progress with labstore1005 (SyncTarget, 45.50% done)"
        ),
        "{summary}"
    );
    assert!(
        perf.contains("sync_misc_labstore1005=45.50%;;;0;100"),
        "{perf}"
    );
    // The same verdicts, structured.
    let j = h.run(&["check", "drbd", "--json"]).json();
    assert_eq!(j["state"], "WARNING");
    assert_eq!(j["exit_code"], 1);
    assert_eq!(j["checks"][0]["name"], "drbd");
    let findings = j["checks"][0]["findings"].as_array().unwrap();
    assert!(findings.iter().all(|f| f["state"] == "WARNING"), "{j:#}");
    assert_eq!(j["line"], r.stdout.trim_end());
}

#[test]
fn disconnected_peer_and_bad_local_disk_are_critical() {
    privileged!();
    let h = Host::new();
    h.edit_resource("tools", |r| {
        r["peers"][0]["connection"] = "Connecting".into()
    });
    let r = h.run(&["check"]);
    r.status(2);
    let (state, summary, perf) = nagios(&r);
    assert_eq!(state, "CRITICAL");
    assert!(
        summary.contains("volume tools: peer labstore1005 is Connecting (not replicating)"),
        "{summary}"
    );
    assert!(perf.contains("drbd_connected=1;;;0;2"), "{perf}");
    h.edit_resource("tools", |r| {
        r["peers"][0]["connection"] = "Connected".into();
        r["volumes"][0]["disk"] = "Diskless".into();
    });
    let r = h.run(&["check", "drbd"]);
    r.status(2)
        .stdout_has("volume tools: local disk is Diskless");
    // Inconsistent without a resync running is critical too.
    h.edit_resource("tools", |r| r["volumes"][0]["disk"] = "Inconsistent".into());
    h.run(&["check", "drbd"]).status(2);
}

#[test]
fn both_primary_is_critical() {
    privileged!();
    let h = active_host();
    h.edit_resource("tools", |r| r["peers"][0]["role"] = "Primary".into());
    h.run(&["check", "--expect", "active"]).status(2).stdout_has("volume tools: this node and peer labstore1005 are both Primary, and the volume is not dual-primary");
}

#[test]
fn service_ip_on_the_wrong_node_is_critical() {
    privileged!();
    let h = Host::new();
    h.ns_ok(&["ip", "addr", "add", SERVICE_IP, "dev", "eth0"]);
    let r = h.run(&["check", "service-ip", "--expect", "standby"]);
    r.status(2);
    let (_, summary, _) = nagios(&r);
    assert!(summary.contains("the IP is on the wrong node"), "{summary}");
    // Without --expect the Secondary DRBD role gives it away.
    h.run(&["check", "service-ip"])
        .status(2)
        .stdout_has("DRBD tools (volume tools) is Secondary here");
}

#[test]
fn service_ip_is_matched_exactly_not_as_a_substring() {
    privileged!();
    // Active in every other respect, but the address on eth0 is 192.0.2.180, which contains
    // the text "192.0.2.18": the old check said the IP was here.
    let h = active_host();
    h.ns_ok(&["ip", "addr", "del", SERVICE_IP, "dev", "eth0"]);
    h.ns_ok(&["ip", "addr", "add", "192.0.2.180/24", "dev", "eth0"]);
    h.run(&["check", "service-ip", "--expect", "active"])
        .status(2)
        .stdout_has("service IP 192.0.2.18/24 is not on this node")
        .stdout_has("service_ip=0;;;0;1");
    // And the gateway's 192.0.2.1 is not "the IP" either: on the LAN side, not here.
    let j = h.run(&["status", "--json"]).json();
    assert_eq!(j["service_ip"]["present"], false);
}

#[test]
fn export_of_an_unmounted_path_is_critical_and_nfs_down_on_active() {
    privileged!();
    let h = Host::new();
    h.ns_ok(&["mkdir", "-p", "/srv/tools"]);
    h.ns_ok(&[
        "exportfs",
        "-o",
        "rw,no_subtree_check",
        "192.0.2.0/24:/srv/tools",
    ]);
    h.run(&["check", "exports"])
        .status(2)
        .stdout_has("/srv/tools is exported but the volume is not mounted");

    let h = active_host();
    h.write_units(&Spec::default(), &["nginx"]);
    h.run(&["check", "nfs", "--expect", "active"])
        .status(2)
        .stdout_has("the service IP is on this node but NFS is not running");
}

#[test]
fn unknown_only_when_the_check_cannot_run() {
    privileged!();
    let h = Host::new();
    // No backups section: nothing to check, so it cannot say OK. (`check backups` probes no
    // node state, so no role is shown.)
    let r = h.run(&["check", "backups"]);
    r.status(3);
    assert_eq!(nagios(&r).1, "test on labstore1004: no backups configured");
    // A missing tool: UNKNOWN (3), never 69.
    let mut argv = vec![
        "env".to_string(),
        format!("PATH={}", h.dir.path().join("bin").display()),
        bin().display().to_string(),
        "--config".into(),
        h.config.display().to_string(),
        "check".into(),
    ];
    let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
    h.ns_run(&refs)
        .status(3)
        .stdout_starts_with("NFS-MANAGE UNKNOWN - ")
        .stdout_has("Debian package: iproute2");
    // A probe that fails: UNKNOWN.
    h.faults(
        serde_json::json!([{ "match": "drbdsetup status", "nth": 1, "rc": 20, "stderr": "boom" }]),
    );
    h.run(&["check"])
        .status(3)
        .stdout_has("cannot probe the node");
    h.clear_faults();
    // A broken config: UNKNOWN (3), never 78.
    argv.truncate(0);
    let bad = h.dir.path().join("bad.yaml");
    std::fs::write(&bad, "cluster: x\nnodez: {}\n").unwrap();
    Run::of(std::process::Command::new(bin()).args(["--config", bad.to_str().unwrap(), "check"]))
        .status(3)
        .stdout_starts_with("NFS-MANAGE UNKNOWN - ")
        .stdout_has("bad.yaml:2:1");
}

#[test]
fn bad_arguments_are_unknown_not_critical() {
    let r = Run::of(std::process::Command::new(bin()).args(["check", "--expect", "primary"]));
    r.status(3)
        .stdout_starts_with("NFS-MANAGE UNKNOWN - usage: ");
    assert_eq!(r.stdout.lines().count(), 1);
    // Other subcommands keep exit 2 for usage errors.
    Run::of(std::process::Command::new(bin()).args(["status", "--expect", "primary"])).status(2);
}
