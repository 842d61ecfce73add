//! `nfs-manage volume init`: DRBD bring-up from blank disks, through the DRBD stand-in in its
//! DRBD 9 and its DRBD 8.4 mode. Meta-data is real: the stand-in runs the real drbdmeta on a
//! real backing loop device, and blkid probes what is really there.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::*;

fn spec() -> Spec {
    Spec {
        volumes: &["tools"],
        service_ip: false,
        services: &[],
        ..Spec::default()
    }
}

/// A blank backing disk per node, a DRBD configuration naming them (the real drbdadm reads it
/// for `dump`), and the resource configured but not up, in the stand-in of `version`.
fn init_bed(hosts: &[&Host], version: &str) {
    let mut disks = Vec::new();
    for h in hosts {
        let img = h.dir.path().join("images/backing.img");
        ok(&["truncate", "-s", "40M", img.to_str().unwrap()]);
        let dev = ok(&["losetup", "--find", "--show", img.to_str().unwrap()])
            .trim()
            .to_string();
        disks.push((h.name, dev));
    }
    let ons: String = [(NODE, "192.0.2.6"), (PEER, "192.0.2.7")]
        .iter()
        .map(|(n, a)| {
            let disk = disks
                .iter()
                .find(|(d, _)| d == n)
                .map_or("/dev/loop-none".to_string(), |(_, d)| d.clone());
            format!(
                "  on {n} {{ device /dev/drbd1 minor 1; disk {disk}; meta-disk internal; address {a}:7789; }}\n"
            )
        })
        .collect();
    let conf = format!("resource tools {{\n{ons}}}\n");
    for h in hosts {
        let path = h.dir.path().join("drbd.conf");
        std::fs::write(&path, &conf).unwrap();
        h.append_config(&format!("drbd_config: {}\n", path.display()));
        let backing = disks.iter().find(|(n, _)| *n == h.name).unwrap().1.clone();
        let mut st = h.drbd();
        st["version"] = json!(version);
        st["sync_step"] = json!(25.0);
        h.set_drbd(st);
        h.edit_resource("tools", |r| {
            r["up"] = json!(false);
            r["volumes"][0]["disk"] = json!("Diskless");
            r["volumes"][0]["backing"] = json!(backing);
            r["peers"][0]["volumes"][0]["disk"] = json!("DUnknown");
        });
    }
}

fn backing(h: &Host) -> String {
    h.drbd()["resources"][0]["volumes"][0]["backing"]
        .as_str()
        .unwrap()
        .to_string()
}

fn res(h: &Host) -> Value {
    h.drbd()["resources"][0].clone()
}

/// blkid's TYPE on a device (empty: nothing found).
fn blkid_type(dev: &str) -> String {
    let out = sh(&["blkid", "-p", "-s", "TYPE", "-o", "value", dev]);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn journal_steps(h: &Host) -> Vec<(String, String)> {
    std::fs::read_to_string(h.dir.path().join("journal.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["command"] == "volume init")
        .map(|r| {
            (
                r["step"].as_str().unwrap().to_string(),
                r["result"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn first_leg_with_mkfs(version: &str) {
    let h = Host::with(spec());
    init_bed(&[&h], version);
    let dev = h.volumes[0].loopdev.clone();
    ok(&["wipefs", "-a", "-q", &dev]);

    // Dry run: the plan, and nothing changed.
    let plan = h
        .run(&[
            "volume",
            "init",
            "tools",
            "--first",
            "--mkfs",
            "ext4",
            "--dry-run",
            "--json",
        ])
        .status(0)
        .json();
    assert_eq!(plan["format_version"], 1);
    assert_eq!(plan["command"], "volume init");
    let ids: Vec<&str> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "create-md:tools",
            "drbd-up:tools",
            "first:tools",
            "mkfs:tools"
        ]
    );
    assert_eq!(
        plan["steps"][2]["argv"],
        json!([
            "drbdadm",
            "-c",
            h.dir.path().join("drbd.conf"),
            "primary",
            "--force",
            "tools"
        ])
    );
    assert_eq!(blkid_type(&backing(&h)), "");
    assert_eq!(res(&h)["up"], false);

    // Off a terminal without --yes: refused, nothing changed.
    h.run(&["volume", "init", "tools", "--first"])
        .status(3)
        .stderr_has("--yes");

    h.run(&[
        "volume", "init", "tools", "--first", "--mkfs", "ext4", "--yes",
    ])
    .status(0)
    .stdout_has("Done.");
    let r = res(&h);
    assert_eq!(
        (r["up"].clone(), r["role"].clone()),
        (json!(true), json!("Primary"))
    );
    assert_eq!(r["volumes"][0]["disk"], "UpToDate");
    assert_eq!(
        blkid_type(&backing(&h)),
        "drbd",
        "real meta-data on the backing disk"
    );
    assert_eq!(blkid_type(&dev), "ext4");
    let label = ok(&["blkid", "-p", "-s", "LABEL", "-o", "value", &dev]);
    assert_eq!(label.trim(), "tools");
    assert_eq!(
        journal_steps(&h),
        [
            ("create-md:tools".into(), "done".into()),
            ("drbd-up:tools".into(), "done".into()),
            ("first:tools".into(), "done".into()),
            ("mkfs:tools".into(), "done".into()),
        ]
    );
    // status agrees.
    let st = h.run(&["status", "--json"]).json();
    assert_eq!(st["volumes"][0]["drbd"]["role"], "Primary");
    assert_eq!(st["volumes"][0]["drbd"]["disk"], "UpToDate");

    // A rerun converges: everything holds, nothing runs.
    h.clear_calls();
    h.run(&[
        "volume", "init", "tools", "--first", "--mkfs", "ext4", "--yes",
    ])
    .status(0)
    .stdout_has("Nothing to do");
    assert!(
        !h.calls()
            .iter()
            .any(|c| c.contains("create-md") || c.contains("mkfs")),
        "{:?}",
        h.calls()
    );
}

#[test]
fn first_leg_with_mkfs_drbd9() {
    privileged!();
    first_leg_with_mkfs("9");
}

#[test]
fn first_leg_with_mkfs_drbd84() {
    privileged!();
    first_leg_with_mkfs("8.4");
}

fn refusals_and_force(version: &str) {
    let h = Host::with(spec());
    init_bed(&[&h], version);
    let disk = backing(&h);

    // A filesystem on the backing disk.
    ok(&["mkfs.ext4", "-q", "-L", "olddata", &disk]);
    h.clear_calls();
    let r = h.run(&["volume", "init", "tools", "--first", "--yes"]);
    r.status(3)
        .stderr_has("TYPE=ext4")
        .stderr_has("LABEL=olddata")
        .stderr_has("--force");
    assert!(
        !h.calls()
            .iter()
            .any(|c| c.contains("create-md") || c.contains(" up "))
    );
    assert_eq!(blkid_type(&disk), "ext4", "nothing changed");
    assert_eq!(res(&h)["up"], false);

    // --force wipes it first (drbdmeta will not write over a filesystem).
    h.run(&["volume", "init", "tools", "--first", "--force", "--yes"])
        .status(0);
    assert_eq!(blkid_type(&disk), "drbd");
    assert_eq!(
        journal_steps(&h)[..2],
        [
            ("wipe:tools".to_string(), "done".to_string()),
            ("create-md:tools".into(), "done".into())
        ]
    );

    h.run(&["volume", "init", "tools", "--first", "--yes"])
        .status(0)
        .stdout_has("Nothing to do");
    // Meta-data this node's volume init did not write.
    let h2 = Host::with(spec());
    init_bed(&[&h2], version);
    let disk2 = backing(&h2);
    ok(&[
        "drbdmeta",
        "--force",
        "1",
        if version == "8.4" { "v08" } else { "v09" },
        &disk2,
        "internal",
        "create-md",
        if version == "8.4" { "" } else { "1" },
    ]
    .iter()
    .filter(|a| !a.is_empty())
    .copied()
    .collect::<Vec<_>>());
    h2.clear_calls();
    h2.run(&["volume", "init", "tools", "--first", "--yes"])
        .status(3)
        .stderr_has("valid DRBD meta-data")
        .stderr_has("current UUID 0000000000000004");
    assert!(!h2.calls().iter().any(|c| c.contains("create-md")));
    h2.run(&["volume", "init", "tools", "--first", "--force", "--yes"])
        .status(0);
    assert!(
        h2.calls()
            .iter()
            .any(|c| c.ends_with("create-md --force tools")),
        "{:?}",
        h2.calls()
    );
    assert_eq!(res(&h2)["role"], "Primary");

    // --mkfs onto a device that holds a filesystem (the harness made ext4 on it): refused.
    h2.clear_calls();
    h2.run(&[
        "volume", "init", "tools", "--first", "--mkfs", "ext4", "--yes",
    ])
    .status(3)
    .stderr_has("already holds TYPE=ext4");
    assert!(!h2.calls().iter().any(|c| c.starts_with("mkfs")));
}

#[test]
fn refusals_and_force_drbd9() {
    privileged!();
    refusals_and_force("9");
}

#[test]
fn refusals_and_force_drbd84() {
    privileged!();
    refusals_and_force("8.4");
}

#[test]
fn bad_arguments_are_usage_errors() {
    privileged!();
    let h = Host::with(spec());
    init_bed(&[&h], "9");
    h.run(&["volume", "init", "nosuch", "--first"])
        .status(2)
        .stderr_has("no volume named \"nosuch\"")
        .stderr_has("tools");
    h.run(&["volume", "init", "tools", "--first", "--mkfs", "xfs"])
        .status(2)
        .stderr_has("fstype");
    h.run(&["volume", "init", "tools", "--first", "--mkfs", "btrfs"])
        .status(2)
        .stderr_has("expected one of ext4, ext3, xfs");
    h.run(&["volume", "init", "tools"]).status(2);
    h.run(&["volume", "init", "tools", "--first", "--join"])
        .status(2);
    // --mkfs leaves a Secondary alone.
    h.run(&[
        "volume", "init", "tools", "--join", "--mkfs", "ext4", "--yes",
    ])
    .status(3)
    .stderr_has("--mkfs needs this node Primary");
    assert_eq!(res(&h)["up"], false);
}

fn interrupted_run_converges(version: &str) {
    let h = Host::with(spec());
    init_bed(&[&h], version);
    // Only `up` fails: create-md and get-gi go through (they are not `drbdadm -c … up`).
    h.faults(json!([{ "match": format!("drbdadm -c {} up", h.dir.path().join("drbd.conf").display()), "rc": 10, "stderr": "1: Failure: (114) Lower device is already claimed\n" }]));
    h.run(&["volume", "init", "tools", "--first", "--yes"])
        .status(1)
        .stderr_has("bring up DRBD resource tools");
    assert_eq!(blkid_type(&backing(&h)), "drbd");
    h.clear_faults();
    // The meta-data is ours (the journal says so): skipped, not refused.
    h.run(&["volume", "init", "tools", "--first", "--yes"])
        .status(0)
        .stdout_has("meta-data written by this node");
    assert_eq!(res(&h)["role"], "Primary");
}

#[test]
fn interrupted_run_converges_drbd9() {
    privileged!();
    interrupted_run_converges("9");
}

#[test]
fn interrupted_run_converges_drbd84() {
    privileged!();
    interrupted_run_converges("8.4");
}

fn pair(version: &str) -> Pair {
    let p = Pair::new(spec());
    init_bed(&[&p.a, &p.b], version);
    p
}

fn skip_initial_sync(version: &str) {
    let p = pair(version);
    // The first host alone: not Connected, refused after the wait; create-md and up are done.
    p.a.run(&[
        "volume",
        "init",
        "tools",
        "--skip-initial-sync",
        "--connect-timeout",
        "2s",
        "--yes",
    ])
    .status(3)
    .stderr_has("not Connected");
    assert_eq!(res(&p.a)["up"], true);
    assert_eq!(res(&p.a)["volumes"][0]["disk"], "Inconsistent");

    // The other node waits for the first host to clear the bitmap…
    let b = p.b.spawn(&[
        "volume",
        "init",
        "tools",
        "--skip-initial-sync",
        "--connect-timeout",
        "60s",
        "--yes",
    ]);
    for _ in 0..100 {
        if res(&p.b)["up"] == true {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // …which a rerun on the first host does, with this version's argv.
    p.a.clear_calls();
    p.a.run(&[
        "volume",
        "init",
        "tools",
        "--skip-initial-sync",
        "--connect-timeout",
        "30s",
        "--yes",
    ])
    .status(0)
    .stdout_has("tools is up with");
    let want = if version == "8.4" {
        "-- --clear-bitmap new-current-uuid tools"
    } else {
        "new-current-uuid --clear-bitmap tools"
    };
    assert!(
        p.a.calls().iter().any(|c| c.ends_with(want)),
        "{:?}",
        p.a.calls()
    );
    let out = b.wait_with_output().unwrap();
    Run::from(out).status(0);
    for h in [&p.a, &p.b] {
        let r = res(h);
        assert_eq!(r["volumes"][0]["disk"], "UpToDate");
        assert_eq!(r["role"], "Secondary");
        assert_eq!(
            r["peers"][0]["volumes"][0]["done"],
            Value::Null,
            "no sync ran"
        );
        let st = h.run(&["status", "--json"]).json();
        let peer = &st["volumes"][0]["drbd"]["peers"][0];
        assert_eq!(
            (peer["connection"].clone(), peer["disk"].clone()),
            (json!("Connected"), json!("UpToDate"))
        );
    }
    // Converged on both.
    p.b.run(&["volume", "init", "tools", "--skip-initial-sync", "--yes"])
        .status(0)
        .stdout_has("Nothing to do");
}

#[test]
fn skip_initial_sync_drbd9() {
    privileged!();
    skip_initial_sync("9");
}

#[test]
fn skip_initial_sync_drbd84() {
    privileged!();
    skip_initial_sync("8.4");
}

fn join_a_primary(version: &str) {
    let p = pair(version);
    p.a.run(&["volume", "init", "tools", "--first", "--yes"])
        .status(0);
    // Slow enough that the wait sees the sync under way.
    let mut st = p.b.drbd();
    st["sync_step"] = json!(5.0);
    p.b.set_drbd(st);
    p.b.run(&["volume", "init", "tools", "--join", "--wait", "--yes"])
        .status(0)
        .stderr_has("% synced")
        .stderr_has("in sync");
    let r = res(&p.b);
    assert_eq!(r["volumes"][0]["disk"], "UpToDate");
    assert_eq!(r["role"], "Secondary");
    let st = p.a.run(&["status", "--json"]).json();
    assert_eq!(st["volumes"][0]["drbd"]["peers"][0]["disk"], "UpToDate");
    // --first on a node whose peer has UpToDate data is refused.
    p.b.run(&["volume", "init", "tools", "--first", "--yes"])
        .status(3)
        .stderr_has("must join it");
}

#[test]
fn join_a_primary_drbd9() {
    privileged!();
    join_a_primary("9");
}

#[test]
fn join_a_primary_drbd84() {
    privileged!();
    join_a_primary("8.4");
}

/// Ctrl-C while waiting for the sync: DRBD goes on syncing, and nfs-manage says so (130).
#[test]
fn ctrl_c_leaves_the_sync_running() {
    privileged!();
    let p = pair("9");
    p.a.run(&["volume", "init", "tools", "--first", "--yes"])
        .status(0);
    let mut st = p.b.drbd();
    st["sync_step"] = json!(0.5);
    p.b.set_drbd(st);
    let child =
        p.b.spawn(&["volume", "init", "tools", "--join", "--wait", "--yes"]);
    for _ in 0..200 {
        if res(&p.b)["peers"][0]["volumes"][0]["replication"] == "SyncTarget" {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let r = Run::from(child.wait_with_output().unwrap());
    r.status(130).stderr_has("goes on syncing");
    assert_eq!(res(&p.b)["volumes"][0]["disk"], "Inconsistent");
}
