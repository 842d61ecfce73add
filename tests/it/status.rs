//! `nfs-manage status` against stand-in DRBD states and real mounts, exports and addresses.

use crate::harness::*;

#[test]
fn healthy_standby_json_shape() {
    privileged!();
    let h = Host::new();
    let s = h.run(&["status", "--json"]).status(0).json();
    assert_eq!(s["format_version"], 1);
    assert_eq!(s["cluster"], "test");
    assert_eq!(s["node"], NODE);
    assert_eq!(s["role"], "standby", "{s:#}");
    assert_eq!(s["service_ip"]["address"], SERVICE_IP);
    assert_eq!(s["service_ip"]["present"], false);
    assert_eq!(s["nfs"]["active"], false);
    assert_eq!(s["problems"].as_array().unwrap().len(), 0, "{s:#}");
    let v = &s["volumes"][0];
    assert_eq!(v["name"], "tools");
    assert_eq!(v["mounted"], false);
    assert_eq!(v["exported"], false);
    let d = &v["drbd"];
    assert_eq!(
        (
            d["resource"].as_str(),
            d["role"].as_str(),
            d["disk"].as_str()
        ),
        (Some("tools"), Some("Secondary"), Some("UpToDate"))
    );
    let p = &d["peers"][0];
    assert_eq!(p["name"], PEER);
    assert_eq!(p["connection"], "Connected");
    assert_eq!(p["role"], "Secondary");
    assert_eq!(p["disk"], "UpToDate");
    assert_eq!(p["replication"], "Established");
    assert!(p["sync_percent"].is_null());
    // The human form says the same in a table.
    h.run(&["status"])
        .status(0)
        .stdout_has("test on labstore1004: standby")
        .stdout_has("problems: none");
}

#[test]
fn disconnected_peer_and_resync_are_problems() {
    privileged!();
    let h = Host::new();
    h.edit_resource("tools", |r| {
        r["peers"][0]["connection"] = "Connecting".into()
    });
    h.edit_resource("misc", |r| {
        r["volumes"][0]["disk"] = "Inconsistent".into();
        r["peers"][0]["role"] = "Primary".into();
        r["peers"][0]["volumes"][0]["replication"] = "SyncTarget".into();
        r["peers"][0]["volumes"][0]["done"] = 45.5.into();
    });
    let s = h.run(&["status", "--json"]).json();
    assert_eq!(s["role"], "degraded");
    let tools = &s["volumes"][0]["drbd"]["peers"][0];
    assert_eq!(tools["connection"], "Connecting");
    assert_eq!(tools["role"], "Unknown");
    let misc = &s["volumes"][1]["drbd"]["peers"][0];
    assert_eq!(misc["replication"], "SyncTarget");
    assert_eq!(misc["sync_percent"], 45.5);
    let problems: Vec<&str> = s["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(
        problems.contains(&"volume tools: peer labstore1005 is Connecting (not replicating)"),
        "{problems:?}"
    );
    assert!(
        problems.contains(
            &"volume misc: resync in progress with labstore1005 (SyncTarget, 45.50% done)"
        ),
        "{problems:?}"
    );
    assert!(
        problems.contains(&"volume misc: local disk is Inconsistent"),
        "{problems:?}"
    );
}

#[test]
fn service_ip_match_is_exact_not_substring() {
    privileged!();
    let h = Host::new();
    // 192.0.2.180 contains the text "192.0.2.18"; the old check would have said "present".
    h.ns_ok(&["ip", "addr", "add", "192.0.2.180/24", "dev", "eth0"]);
    let s = h.run(&["status", "--json"]).json();
    assert_eq!(s["service_ip"]["present"], false);
    // The right address with the wrong prefix is not the configured service IP either.
    h.ns_ok(&["ip", "addr", "add", "192.0.2.18/32", "dev", "eth0"]);
    let s = h.run(&["status", "--json"]).json();
    assert_eq!(s["service_ip"]["present"], false);
    let problems = s["problems"].to_string();
    assert!(
        problems.contains("service IP 192.0.2.18 is on eth0 as /32"),
        "{problems}"
    );
}

#[test]
fn export_of_unmounted_path_is_reported() {
    privileged!();
    let h = Host::new();
    h.ns_ok(&["mkdir", "-p", "/srv/tools"]);
    h.ns_ok(&[
        "exportfs",
        "-o",
        "rw,no_subtree_check",
        "192.0.2.0/24:/srv/tools",
    ]);
    let s = h.run(&["status", "--json"]).json();
    assert_eq!(s["volumes"][0]["exported"], true);
    assert_eq!(s["volumes"][0]["mounted"], false);
    assert_eq!(s["role"], "degraded");
    assert!(
        s["problems"]
            .to_string()
            .contains("is exported but the volume is not mounted"),
        "{s:#}"
    );
}

#[test]
fn one_process_per_tool_whatever_the_volume_count() {
    privileged!();
    let counts: Vec<String> = [&["a"][..], &["a", "b", "c", "d"][..]]
        .iter()
        .map(|vols| {
            let names: &'static [&'static str] = Box::leak(vols.to_vec().into_boxed_slice());
            let h = Host::with(Spec {
                volumes: names,
                ..Spec::default()
            });
            h.clear_calls();
            let r = h.run(&["-v", "status"]);
            r.status(0);
            // drbdsetup, systemctl (stand-ins) and ip: three processes.
            assert_eq!(
                sorted(h.calls()),
                [
                    "drbdsetup status --json",
                    "systemctl is-active nfs-server nginx"
                ]
            );
            r.stderr
                .lines()
                .find(|l| l.contains("processes spawned"))
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(counts[0], "nfs-manage: 3 processes spawned");
    assert_eq!(counts[0], counts[1]);
}

#[test]
fn missing_tool_exits_69_naming_package() {
    privileged!();
    let h = Host::new();
    let mut argv = vec![
        "env".to_string(),
        format!("PATH={}", h.dir.path().join("bin").display()),
    ];
    argv.extend([
        bin().display().to_string(),
        "--config".into(),
        h.config.display().to_string(),
        "status".into(),
    ]);
    let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
    h.ns_run(&refs)
        .status(69)
        .stderr_has("`ip` is not installed or not on PATH (Debian package: iproute2)");
}

#[test]
fn holders_names_what_uses_each_mounted_volume() {
    privileged!();
    let h = Host::new();
    h.mount_volume("tools");
    h.mount_volume("misc");
    let mut holder = h
        .ns_cmd(&["sh", "-c", "cd /srv/tools && exec sleep 60"])
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let j = h.run(&["status", "--json", "--holders"]);
    let human = h.run(&["status", "--holders"]);
    let plain = h.run(&["status", "--json"]).json();
    let _ = holder.kill();
    let _ = holder.wait();
    let s = j.json();
    let vol = |n: &str| {
        s["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == n)
            .unwrap()
            .clone()
    };
    let held = vol("tools")["holders"].as_array().unwrap().clone();
    assert_eq!(held.len(), 1, "{s:#}");
    assert_eq!(
        (held[0]["command"].as_str(), held[0]["user"].as_str()),
        (Some("sleep 60"), Some("root"))
    );
    assert!(held[0]["pid"].as_u64().unwrap() > 1);
    assert_eq!(vol("misc")["holders"], serde_json::json!([]));
    // Not asked: no key at all, and no fuser run.
    assert!(plain["volumes"][0].get("holders").is_none(), "{plain:#}");
    human.status(0);
    human
        .stdout_has("/srv/tools is used by: pid ")
        .stdout_has("(sleep 60, user root)")
        .stdout_has("/srv/misc is used by: nothing");
}
