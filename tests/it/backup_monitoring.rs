//! `check backups` and the backup metrics on the backup test bed (backups.rs): real
//! `backup run`/`mount` write the journal, mount records and snapshots; the check and the
//! metrics read them. Age and TTL are tested by running the check with the clock shifted
//! (libfaketime), so every record stays exactly as the real runs wrote it.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::backups::Bed;
use crate::harness::*;

fn check(r: &Run) -> Value {
    r.json()
}

fn metrics(bed: &Bed) -> (String, BTreeMap<String, f64>) {
    let r = bed.run(&["metrics"]);
    r.status(0);
    let map = r
        .stdout
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap();
            (k.to_string(), v.parse().unwrap())
        })
        .collect();
    (r.stdout.clone(), map)
}

/// The list's problems and the check's findings are the same verdicts.
fn same_verdicts(bed: &Bed, c: &Value) {
    let list = bed.run(&["backup", "list", "--json"]).json();
    let mut findings: Vec<&str> = c["checks"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    let mut problems: Vec<&str> = list["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    findings.sort();
    problems.sort();
    assert_eq!(findings, problems);
}

fn perf(c: &Value, label: &str) -> Option<Value> {
    c["perfdata"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["label"] == label)
        .cloned()
}

#[test]
fn fresh_backup_ok_old_backup_and_expired_mount_warn() {
    privileged!();
    let bed = Bed::new("bdsync");

    // Never run: nothing vouches for the backup.
    bed.run(&["check", "backups"]).status(1).stdout_starts_with("NFS-MANAGE WARNING - test on labstore1004: backup tools: no successful run in the journal (max age 1day 12h)");

    bed.run(&["--yes", "backup", "run", "tools"]).status(0);
    let r = bed.run(&["check", "backups"]);
    r.status(0)
        .stdout_starts_with("NFS-MANAGE OK - test on labstore1004: backup tools ok ");
    let perfdata = r.stdout.split_once(" | ").unwrap().1;
    assert!(
        perfdata.contains(";129600;;0; ") && perfdata.contains("backup_mounts=0;;;0;1"),
        "{perfdata}"
    );
    let c = check(&bed.run(&["check", "backups", "--json"]));
    assert_eq!(c["state"], "OK");
    assert_eq!(
        c["role"],
        Value::Null,
        "no node state is probed for backups"
    );
    let age = perf(&c, "backup_tools_age").unwrap();
    assert!(age["value"].as_f64().unwrap() < 60.0, "{age}");
    assert_eq!(age["warn"], 129600.0);
    same_verdicts(&bed, &c);

    // A day and a half later with no new run: WARNING, the age in the perfdata.
    bed.run_at("+37h", &["check", "backups"]).status(1).stdout_has("NFS-MANAGE WARNING - test on labstore1004: backup tools: the last successful run was 1day 13h").stdout_has("ago, more than its max age 1day 12h");
    let c = check(&bed.run_at("+37h", &["check", "backups", "--json"]));
    let age = perf(&c, "backup_tools_age").unwrap()["value"]
        .as_f64()
        .unwrap();
    assert!((133200.0..133300.0).contains(&age), "{age}");
    // `all` includes the backups when they are configured.
    let c = check(&bed.run_at("+37h", &["check", "all", "--json"]));
    let names: Vec<&str> = c["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.last(), Some(&"backups"), "{names:?}");
    assert_eq!(
        c["checks"].as_array().unwrap().last().unwrap()["state"],
        "WARNING"
    );

    // A backup mount (TTL 4h by default): fine now, past its TTL five hours later, while the
    // backup itself (5h old) is still fresh.
    bed.run(&["--yes", "backup", "mount", "tools"]).status(0);
    bed.run(&["check", "backups"])
        .status(0)
        .stdout_has(", 1 backup mount open |")
        .stdout_has("backup_mounts=1;;;0;1");
    bed.run_at("+5h", &["check", "backups"]).status(1).stdout_has("NFS-MANAGE WARNING - test on labstore1004: backup tools: the backup mount at /mnt/nfs-manage/tools (since ").stdout_has("is past its TTL, expired at ");
    let c = check(&bed.run_at("+5h", &["check", "backups", "--json"]));
    assert_eq!(
        c["checks"][0]["findings"].as_array().unwrap().len(),
        1,
        "{c}"
    );
    // A mount snapshot is measured too.
    assert!(perf(&c, "backup_tools_mount_fill").is_some(), "{c}");

    // Metrics: the run and the mount.
    let (text, m) = metrics(&bed);
    let result = bed.results().pop().unwrap();
    assert_eq!(m["nfs_manage_collect_success"], 1.0, "{text}");
    assert_eq!(m[r#"nfs_manage_backup_last_success{backup="tools"}"#], 1.0);
    assert_eq!(
        m[r#"nfs_manage_backup_last_result{backup="tools",result="ok"}"#],
        1.0
    );
    assert_eq!(
        m[r#"nfs_manage_backup_last_device_bytes{backup="tools"}"#],
        (32 << 20) as f64
    );
    assert_eq!(
        m[r#"nfs_manage_backup_last_transferred_bytes{backup="tools"}"#],
        result["diff_bytes"].as_f64().unwrap()
    );
    assert_eq!(
        m[r#"nfs_manage_backup_last_duration_seconds{backup="tools"}"#],
        result["duration_ms"].as_f64().unwrap() / 1000.0
    );
    let end = humantime::parse_rfc3339(result["time"].as_str().unwrap())
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert_eq!(
        m[r#"nfs_manage_backup_last_success_timestamp_seconds{backup="tools"}"#],
        end.floor()
    );
    let started = m[r#"nfs_manage_backup_last_run_timestamp_seconds{backup="tools"}"#];
    assert!(started <= end && started > end - 60.0, "{started} {end}");
    assert_eq!(
        m[r#"nfs_manage_backup_max_age_seconds{backup="tools"}"#],
        129600.0
    );
    assert_eq!(m[r#"nfs_manage_backup_mount_open{backup="tools"}"#], 1.0);
    assert!(m.contains_key(r#"nfs_manage_backup_mount_expiry_timestamp_seconds{backup="tools"}"#));
    assert!(
        m.contains_key(
            r#"nfs_manage_backup_snapshot_data_percent{backup="tools",snapshot="mount",lv="backup/tools-mount"}"#
        ),
        "{text}"
    );
    bed.run(&["--yes", "backup", "umount", "tools"]).status(0);
    let (_, m) = metrics(&bed);
    assert_eq!(m[r#"nfs_manage_backup_mount_open{backup="tools"}"#], 0.0);
}

#[test]
fn failed_run_is_critical_and_a_full_snapshot_warns() {
    privileged!();
    let bed = Bed::new("bdsync");
    bed.run(&["--yes", "backup", "run", "tools"]).status(0);

    // 7 MiB of new data on the source: the next run rewrites that much of the target, which
    // the pre-sync snapshot (20%ORIGIN of 32 MiB, 8 MiB) has to hold.
    bed.write_on_source("big.bin", &"x".repeat(7 << 20));
    bed.run(&["--yes", "backup", "run", "tools"]).status(0);
    let list = bed.run(&["backup", "list", "--json"]).json();
    let fill = list["backups"][0]["presync"]["data_percent"]
        .as_f64()
        .unwrap();
    // Over 80%, and not simply everything (which a wrong measure would also give).
    assert!(fill > 80.0 && fill < 100.0, "{list}");
    bed.run(&["check", "backups"]).status(1).stdout_has(format!(
            "NFS-MANAGE WARNING - test on labstore1004: backup tools: the pre-sync snapshot backup/tools-presync is {fill:.2}% full; at 100% LVM invalidates it"
        )).stdout_has(format!(" backup_tools_presync_fill={fill:.2}%;80;;0;100 "));
    let (_, m) = metrics(&bed);
    assert_eq!(
        m[r#"nfs_manage_backup_snapshot_data_percent{backup="tools",snapshot="presync",lv="backup/tools-presync"}"#],
        fill
    );

    // The sync fails on the remote side: the last run failed, the target is partial.
    bed.remote_faults(
        json!([{"match": "bdsync --server", "rc": 4, "stderr": "injected failure\n"}]),
    );
    bed.run(&["--yes", "backup", "run", "tools"]).status(1);
    bed.remote_faults(json!([]));
    let r = bed.run(&["check", "backups"]);
    r.status(2);
    let last = bed.results().pop().unwrap();
    assert_eq!(last["result"], "failed");
    r.stdout_starts_with(format!(
            "NFS-MANAGE CRITICAL - test on labstore1004: backup tools: the last run ({}) failed: ",
            last["time"].as_str().unwrap()
        )).stdout_has("stopped the run: the command failed (exit 4); pipe member `bdsync --server on 192.0.2.1 (through ssh)` failed (exit 4): injected failure; the target is partial, the pre-sync snapshot backup/tools-presync holds the last complete copy |");
    let c = check(&bed.run(&["check", "backups", "--json"]));
    assert_eq!(c["exit_code"], 2);
    same_verdicts(&bed, &c);
    let (_, m) = metrics(&bed);
    assert_eq!(m[r#"nfs_manage_backup_last_success{backup="tools"}"#], 0.0);
    assert_eq!(
        m[r#"nfs_manage_backup_last_result{backup="tools",result="failed"}"#],
        1.0
    );
    // The last good run still dates the backup.
    let ok_end = bed
        .results()
        .iter()
        .rfind(|r| r["result"] == "ok")
        .map(|r| {
            humantime::parse_rfc3339(r["time"].as_str().unwrap())
                .unwrap()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs_f64()
                .floor()
        })
        .unwrap();
    assert_eq!(
        m[r#"nfs_manage_backup_last_success_timestamp_seconds{backup="tools"}"#],
        ok_end
    );

    // The next good run clears it.
    bed.run(&["--yes", "backup", "run", "tools"]).status(0);
    let c = check(&bed.run(&["check", "backups", "--json"]));
    assert_eq!(c["state"], "OK", "{c}");

    // LVM cannot be asked: the check could not run for fill and target, so UNKNOWN.
    bed.host()
        .faults(json!([{"match": "lvs", "rc": 5, "stderr": "  Internal error\n"}]));
    bed.run(&["check", "backups"])
        .status(3)
        .stdout_starts_with("NFS-MANAGE UNKNOWN - test on labstore1004: LVM state unknown: ");
}
