//! `nfs-manage metrics`: Prometheus text format against the same states as status and check,
//! the atomic textfile, and (in the same file, as it also runs off a terminal) messages to
//! the systemd journal with their fields, or silently none when there is no journald.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use crate::harness::*;
use crate::up::up_host;

/// Parse the text exposition format strictly enough to catch mistakes: every sample belongs
/// to a family announced by HELP then TYPE gauge, names are prefixed, values are numbers.
fn parse(text: &str) -> BTreeMap<String, f64> {
    let mut samples = BTreeMap::new();
    let mut help: Option<String> = None;
    let mut family: Option<String> = None;
    let mut seen = std::collections::BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap().to_string();
            assert!(seen.insert(name.clone()), "family {name} announced twice");
            help = Some(name);
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert_eq!(Some(name), help.as_deref(), "TYPE right after HELP: {line}");
            assert_eq!(kind, "gauge");
            family = Some(name.to_string());
        } else {
            let (series, value) = line.rsplit_once(' ').unwrap();
            let name = series.split('{').next().unwrap();
            assert!(name.starts_with("nfs_manage_"), "{line}");
            assert_eq!(
                Some(name),
                family.as_deref(),
                "sample outside its family: {line}"
            );
            assert!(
                name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "{line}"
            );
            let v: f64 = value.parse().unwrap_or_else(|_| panic!("{line}"));
            assert!(
                samples.insert(series.to_string(), v).is_none(),
                "duplicate {line}"
            );
        }
    }
    samples
}

fn metrics(h: &Host) -> BTreeMap<String, f64> {
    let r = h.run(&["metrics"]);
    r.status(0);
    parse(&r.stdout)
}

#[track_caller]
fn has(m: &BTreeMap<String, f64>, series: &str, v: f64) {
    assert_eq!(m.get(series).copied(), Some(v), "{series}\n{m:#?}");
}

#[test]
fn healthy_standby_and_active() {
    privileged!();
    let h = Host::new();
    let m = metrics(&h);
    has(&m, "nfs_manage_collect_success", 1.0);
    has(
        &m,
        r#"nfs_manage_info{cluster="test",node="labstore1004",version="0.1.0"}"#,
        1.0,
    );
    has(&m, r#"nfs_manage_role{role="standby"}"#, 1.0);
    has(&m, r#"nfs_manage_role{role="active"}"#, 0.0);
    has(&m, r#"nfs_manage_problems{severity="critical"}"#, 0.0);
    has(&m, r#"nfs_manage_volume_mounted{volume="tools"}"#, 0.0);
    has(
        &m,
        r#"nfs_manage_drbd_primary{volume="tools",resource="tools"}"#,
        0.0,
    );
    has(
        &m,
        r#"nfs_manage_drbd_role{volume="tools",resource="tools",role="Secondary"}"#,
        1.0,
    );
    has(
        &m,
        r#"nfs_manage_drbd_disk_uptodate{volume="misc",resource="misc"}"#,
        1.0,
    );
    has(
        &m,
        r#"nfs_manage_drbd_peer_connected{volume="tools",resource="tools",peer="labstore1005"}"#,
        1.0,
    );
    has(
        &m,
        r#"nfs_manage_drbd_peer_out_of_sync_bytes{volume="tools",resource="tools",peer="labstore1005"}"#,
        0.0,
    );
    has(
        &m,
        r#"nfs_manage_service_ip_present{address="192.0.2.18/24",interface="eth0"}"#,
        0.0,
    );
    has(&m, r#"nfs_manage_nfs_active{unit="nfs-server"}"#, 0.0);
    has(&m, r#"nfs_manage_service_active{unit="nginx"}"#, 0.0);

    let h = up_host();
    h.run(&["up", "--yes"]).status(0);
    let m = metrics(&h);
    has(&m, r#"nfs_manage_role{role="active"}"#, 1.0);
    has(&m, r#"nfs_manage_volume_mounted{volume="tools"}"#, 1.0);
    has(&m, r#"nfs_manage_volume_exported{volume="misc"}"#, 1.0);
    has(
        &m,
        r#"nfs_manage_drbd_primary{volume="tools",resource="tools"}"#,
        1.0,
    );
    has(
        &m,
        r#"nfs_manage_service_ip_present{address="192.0.2.18/24",interface="eth0"}"#,
        1.0,
    );
    has(&m, r#"nfs_manage_nfs_active{unit="nfs-server"}"#, 1.0);
}

#[test]
fn resync_disconnected_both_primary_wrong_ip_and_unmounted_export() {
    privileged!();
    let h = Host::new();
    h.edit_resource("misc", |r| {
        r["volumes"][0]["disk"] = "Inconsistent".into();
        r["peers"][0]["volumes"][0]["replication"] = "SyncTarget".into();
        r["peers"][0]["volumes"][0]["done"] = 45.5.into();
    });
    h.edit_resource("tools", |r| {
        r["peers"][0]["connection"] = "Connecting".into()
    });
    let m = metrics(&h);
    let misc = r#"volume="misc",resource="misc",peer="labstore1005""#;
    has(
        &m,
        &format!("nfs_manage_drbd_peer_sync_percent{{{misc}}}"),
        45.5,
    );
    has(&m, &format!("nfs_manage_drbd_peer_syncing{{{misc}}}"), 1.0);
    // The stand-in reports out-of-sync as the not-yet-synced part of the 32 MiB volume.
    let oos = m[&format!("nfs_manage_drbd_peer_out_of_sync_bytes{{{misc}}}")];
    assert!(oos > 0.0 && oos < 32.0 * 1024.0 * 1024.0, "{oos}");
    has(
        &m,
        r#"nfs_manage_drbd_disk_state{volume="misc",resource="misc",disk="Inconsistent"}"#,
        1.0,
    );
    let tools = r#"volume="tools",resource="tools",peer="labstore1005""#;
    has(
        &m,
        &format!("nfs_manage_drbd_peer_connected{{{tools}}}"),
        0.0,
    );
    has(
        &m,
        &format!(r#"nfs_manage_drbd_peer_connection_state{{{tools},connection="Connecting"}}"#),
        1.0,
    );
    has(&m, r#"nfs_manage_role{role="degraded"}"#, 1.0);
    has(&m, r#"nfs_manage_problems{severity="warning"}"#, 2.0);
    assert!(m[r#"nfs_manage_problems{severity="critical"}"#] >= 1.0);

    // Split-brain-like: both Primary.
    let h = up_host();
    h.run(&["up", "--yes"]).status(0);
    h.edit_resource("tools", |r| r["peers"][0]["role"] = "Primary".into());
    let m = metrics(&h);
    has(&m, r#"nfs_manage_role{role="degraded"}"#, 1.0);
    has(&m, r#"nfs_manage_problems{severity="critical"}"#, 1.0);

    // The IP on the wrong (Secondary) node; an export of an unmounted path.
    let h = Host::new();
    h.ns_ok(&["ip", "addr", "add", SERVICE_IP, "dev", "eth0"]);
    h.ns_ok(&["mkdir", "-p", "/srv/tools"]);
    h.ns_ok(&[
        "exportfs",
        "-o",
        "rw,no_subtree_check",
        "192.0.2.0/24:/srv/tools",
    ]);
    let m = metrics(&h);
    has(
        &m,
        r#"nfs_manage_service_ip_present{address="192.0.2.18/24",interface="eth0"}"#,
        1.0,
    );
    has(&m, r#"nfs_manage_volume_exported{volume="tools"}"#, 1.0);
    has(&m, r#"nfs_manage_volume_mounted{volume="tools"}"#, 0.0);
    has(&m, r#"nfs_manage_role{role="degraded"}"#, 1.0);
    // The IP (2: on a Secondary, twice), NFS not running, volumes not mounted, export.
    assert!(
        m[r#"nfs_manage_problems{severity="critical"}"#] >= 4.0,
        "{m:#?}"
    );
}

#[test]
fn textfile_is_written_atomically_and_failure_is_visible() {
    privileged!();
    let h = Host::new();
    let dir = h.dir.path().join("textfile");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("other.prom"), "x 1\n").unwrap();
    h.run(&["metrics", "--textfile", dir.to_str().unwrap()])
        .status(0)
        .stdout_is("");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["nfs_manage.prom", "other.prom"],
        "no temporary left behind"
    );
    let file = dir.join("nfs_manage.prom");
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o644,
        "readable by node_exporter's user"
    );
    let m = parse(&std::fs::read_to_string(&file).unwrap());
    has(&m, r#"nfs_manage_role{role="standby"}"#, 1.0);
    // A probe fails: the file says so instead of keeping the old state, and the run exits 1.
    h.faults(
        serde_json::json!([{ "match": "drbdsetup status", "nth": 1, "rc": 20, "stderr": "boom" }]),
    );
    h.run(&["metrics", "--textfile", dir.to_str().unwrap()])
        .status(1)
        .stderr_has("nfs_manage_collect_success is 0");
    let m = parse(&std::fs::read_to_string(&file).unwrap());
    has(&m, "nfs_manage_collect_success", 0.0);
    assert!(
        !m.keys().any(|k| k.starts_with("nfs_manage_role")),
        "{m:#?}"
    );
    // A directory that does not exist: an error naming it.
    h.run(&["metrics", "--textfile", "/nonexistent-nfs-manage-dir"])
        .status(1)
        .stderr_has("/nonexistent-nfs-manage-dir");
}

/// Off a terminal, each journaled step also goes to journald with its fields. journald is
/// played by a datagram socket at /run/systemd/journal/socket inside the test's mount
/// namespace (a private tmpfs over /run/systemd there).
#[test]
fn steps_go_to_journald_with_fields_and_nothing_breaks_without_it() {
    privileged!();
    let h = up_host();
    // No journald here: the run still works and says nothing about it.
    let r = h.run(&["up", "--yes"]);
    r.status(0);
    assert!(!r.stderr.to_lowercase().contains("journal"), "{}", r.stderr);
    assert!(!h.journal().is_empty());
    h.run(&["down", "--yes"]).status(0);

    h.ns_ok(&["mkdir", "-p", "/run/systemd"]);
    h.ns_ok(&["mount", "-t", "tmpfs", "nfs-manage-test", "/run/systemd"]);
    h.ns_ok(&["mkdir", "-p", "/run/systemd/journal"]);
    let sock = UnixDatagram::bind(h.inside("/run/systemd/journal/socket")).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let before = h.journal().len();
    h.run(&["up", "--yes"]).status(0);
    let steps = h.journal().len() - before;
    let mut entries = Vec::new();
    let mut buf = vec![0u8; 65536];
    sock.set_nonblocking(true).unwrap();
    while let Ok(n) = sock.recv(&mut buf) {
        if n > 0 {
            entries.push(journal_fields(&buf[..n]));
        }
    }
    let promote = entries
        .iter()
        .find(|e| e.get("STEP").map(String::as_str) == Some("promote:tools"))
        .unwrap_or_else(|| panic!("{entries:#?}"));
    for (k, v) in [
        ("SYSLOG_IDENTIFIER", "nfs-manage"),
        ("CLUSTER", "test"),
        ("NODE", "labstore1004"),
        ("COMMAND", "up"),
        ("RESULT", "done"),
        ("RC", "0"),
        ("PRIORITY", "5"),
        (
            "MESSAGE",
            "up promote:tools: promote DRBD tools to Primary: done (verify: ok)",
        ),
    ] {
        assert_eq!(
            promote.get(k).map(String::as_str),
            Some(v),
            "{k}: {promote:#?}"
        );
    }
    // One journald entry per journaled step of this run.
    let with_step = entries.iter().filter(|e| e.contains_key("STEP")).count();
    assert_eq!(with_step, steps, "{entries:#?}");
}

/// journald's native protocol (systemd.io/JOURNAL_NATIVE_PROTOCOL): `KEY=value\n`, or
/// `KEY\n` + a little-endian u64 length + the value + `\n` for values that may hold newlines.
fn journal_fields(mut b: &[u8]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    while !b.is_empty() {
        let nl = b
            .iter()
            .position(|&c| c == b'\n')
            .expect("field ends with a newline");
        let line = &b[..nl];
        if let Some(eq) = line.iter().position(|&c| c == b'=') {
            out.insert(
                String::from_utf8_lossy(&line[..eq]).into_owned(),
                String::from_utf8_lossy(&line[eq + 1..]).into_owned(),
            );
            b = &b[nl + 1..];
        } else {
            let key = String::from_utf8_lossy(line).into_owned();
            let rest = &b[nl + 1..];
            let len = u64::from_le_bytes(rest[..8].try_into().unwrap()) as usize;
            out.insert(key, String::from_utf8_lossy(&rest[8..8 + len]).into_owned());
            assert_eq!(rest[8 + len], b'\n');
            b = &rest[8 + len + 1..];
        }
    }
    out
}
