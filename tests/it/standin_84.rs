//! The DRBD stand-in in its DRBD 8.4 mode, held against what the real DRBD 8.4.11 with
//! drbd-utils 9.22.0 printed in the VM test bed (tests/fixtures/real/…): for each recorded
//! state, the stand-in is put in it and asked the same command; stdout, stderr and the exit
//! code must be the recorded ones (layout and state words exact, `done:` percentages masked).
//! Then nfs-manage's own up, status and down run against the 8.4 stand-in.

use serde_json::{Value, json};

use crate::harness::*;

const REAL: &str = "tests/fixtures/real/6.1.0-56-amd64_drbd-utils-9.22.0";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(repo_path(REAL).join(name)).unwrap_or_default()
}

/// Resync percentages differ from run to run.
fn mask(text: &str) -> String {
    text.split(' ')
        .map(|w| match w.strip_prefix("done:") {
            Some(_) => "done:N".to_string(),
            None => w.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// One node's DRBD as the 8.4 stand-in keeps it (minor 4, like the VM bed's /dev/drbd4).
#[allow(clippy::too_many_arguments)]
fn state(
    h: &Host,
    up: bool,
    role: &str,
    disk: &str,
    connection: &str,
    peer_role: &str,
    replication: &str,
    peer_disk: &str,
    done: Option<f64>,
) -> Value {
    json!({
        "version": "8.4",
        "resources": [{
            "name": "tools", "node_id": 0, "role": role, "up": up,
            "volumes": [{"volume": 0, "minor": 4, "device": h.volumes[0].loopdev, "disk": disk, "size_kib": 131072}],
            "peers": [{"name": PEER, "node_id": 1, "connection": connection, "role": peer_role,
                       "volumes": [{"volume": 0, "replication": replication, "disk": peer_disk, "done": done}]}]
        }]
    })
}

/// The stand-in's answer to `argv` must be the recorded `base` (.txt, .stderr.txt) and `rc`.
#[track_caller]
fn same(h: &Host, argv: &[&str], base: &str, rc: i32) {
    let r = h.ns_run(argv);
    let want_out = fixture(&format!("{base}.txt"));
    let want_err = fixture(&format!("{base}.stderr.txt"));
    assert_eq!(
        (mask(&r.stdout), r.stderr.as_str(), r.code),
        (mask(&want_out), want_err.as_str(), rc),
        "{argv:?} against {base}"
    );
}

#[test]
fn drbd_84_standin_prints_what_the_real_one_printed() {
    privileged!();
    let h = Host::with(Spec {
        volumes: &["tools"],
        service_ip: false,
        services: &[],
        ..Spec::default()
    });
    let s = |up, role, disk, conn, prole, repl, pdisk, done| {
        h.set_drbd(state(&h, up, role, disk, conn, prole, repl, pdisk, done));
    };
    let status = ["drbdadm", "status", "tools"];

    // Configured, not up.
    s(
        false,
        "Secondary",
        "Diskless",
        "StandAlone",
        "Unknown",
        "Off",
        "DUnknown",
        None,
    );
    same(
        &h,
        &["drbdadm", "role", "tools"],
        "err.role-not-up.nfs1",
        10,
    );
    same(&h, &status, "drbdadm-status.not-up.nfs1", 10);
    same(
        &h,
        &["drbdadm", "status"],
        "drbdadm-status-all.not-up.nfs1",
        10,
    );
    same(
        &h,
        &["drbdadm", "primary", "tools"],
        "err.primary-not-up.nfs1",
        10,
    );
    same(
        &h,
        &["drbdadm", "status", "nosuch"],
        "err.unknown-resource-status.nfs1",
        1,
    );
    same(
        &h,
        &["drbdadm", "primary", "nosuch"],
        "err.unknown-resource-primary.nfs1",
        1,
    );
    same(
        &h,
        &["drbdsetup", "status", "--json"],
        "err.drbdsetup-status-json.nfs1",
        20,
    );
    // `volume init --skip-initial-sync` uses 8.4's documented form.
    let new_uuid = [
        "drbdadm",
        "--",
        "--clear-bitmap",
        "new-current-uuid",
        "tools",
    ];
    same(&h, &new_uuid, "err.new-current-uuid-not-up.nfs1", 10);

    // Up after create-md, peer not up; both up; the initial sync; in sync.
    s(
        true,
        "Secondary",
        "Inconsistent",
        "Connecting",
        "Unknown",
        "Off",
        "DUnknown",
        None,
    );
    same(
        &h,
        &status,
        "drbdadm-status.wfconnection-inconsistent.nfs1",
        0,
    );
    same(
        &h,
        &["drbdadm", "primary", "tools"],
        "err.primary-inconsistent.nfs1",
        17,
    );
    same(&h, &new_uuid, "err.new-current-uuid-wfconnection.nfs1", 10);
    for node in ["nfs1", "nfs2"] {
        s(
            true,
            "Secondary",
            "Inconsistent",
            "Connected",
            "Secondary",
            "Established",
            "Inconsistent",
            None,
        );
        same(
            &h,
            &status,
            &format!("drbdadm-status.connected-inconsistent.{node}"),
            0,
        );
    }
    // Both Connected Secondaries with fresh meta-data: no resync, both UpToDate.
    same(
        &h,
        &new_uuid,
        "drbdadm-new-current-uuid.connected-inconsistent.nfs1",
        0,
    );
    same(&h, &status, "drbdadm-status.skip-initial-sync.nfs1", 0);
    s(
        true,
        "Primary",
        "UpToDate",
        "Connected",
        "Secondary",
        "SyncSource",
        "Inconsistent",
        Some(7.46),
    );
    same(&h, &status, "drbdadm-status.resync.nfs1", 0);
    s(
        true,
        "Secondary",
        "Inconsistent",
        "Connected",
        "Primary",
        "SyncTarget",
        "UpToDate",
        Some(9.6),
    );
    same(&h, &status, "drbdadm-status.resync.nfs2", 0);
    let uptodate = |role: &str, prole: &str| {
        h.set_drbd(state(
            &h,
            true,
            role,
            "UpToDate",
            "Connected",
            prole,
            "Established",
            "UpToDate",
            None,
        ));
    };
    uptodate("Primary", "Secondary");
    same(&h, &status, "drbdadm-status.connected-uptodate.nfs1", 0);
    same(
        &h,
        &["drbdadm", "role", "tools"],
        "drbdadm-role.connected-uptodate.nfs1",
        0,
    );
    same(
        &h,
        &status,
        "drbdadm-status.connected-uptodate-swapped.nfs2",
        0,
    );
    uptodate("Secondary", "Primary");
    same(&h, &status, "drbdadm-status.connected-uptodate.nfs2", 0);
    same(
        &h,
        &["drbdadm", "role", "tools"],
        "drbdadm-role.connected-uptodate.nfs2",
        0,
    );
    same(
        &h,
        &status,
        "drbdadm-status.connected-uptodate-swapped.nfs1",
        0,
    );
    same(
        &h,
        &["drbdadm", "primary", "tools"],
        "err.primary-peer-primary.nfs2",
        11,
    );
    uptodate("Secondary", "Secondary");
    for node in ["nfs1", "nfs2"] {
        same(
            &h,
            &status,
            &format!("drbdadm-status.connected-both-secondary.{node}"),
            0,
        );
    }

    // Disconnected: WFConnection on one side, StandAlone (no peer line) on the other.
    s(
        true,
        "Primary",
        "UpToDate",
        "Connecting",
        "Unknown",
        "Off",
        "DUnknown",
        None,
    );
    same(&h, &status, "drbdadm-status.disconnected.nfs1", 0);
    s(
        true,
        "Secondary",
        "UpToDate",
        "StandAlone",
        "Unknown",
        "Off",
        "DUnknown",
        None,
    );
    same(&h, &status, "drbdadm-status.disconnected.nfs2", 0);
    s(
        true,
        "Secondary",
        "Outdated",
        "StandAlone",
        "Unknown",
        "Off",
        "DUnknown",
        None,
    );
    same(&h, &status, "drbdadm-status.outdated.nfs2", 0);
    same(
        &h,
        &["drbdadm", "primary", "tools"],
        "err.primary-outdated.nfs2",
        17,
    );
    s(
        true,
        "Secondary",
        "UpToDate",
        "Connecting",
        "Unknown",
        "Off",
        "DUnknown",
        None,
    );
    same(&h, &status, "drbdadm-status.peer-down.nfs2", 0);

    // Held open: secondary and down refused; down of a Secondary; role after down.
    uptodate("Primary", "Secondary");
    h.mount_volume("tools");
    same(
        &h,
        &["drbdadm", "secondary", "tools"],
        "err.secondary-mounted.nfs1",
        11,
    );
    same(
        &h,
        &["drbdadm", "down", "tools"],
        "err.down-mounted.nfs1",
        11,
    );
    h.ns_ok(&["umount", "/srv/tools"]);
    uptodate("Secondary", "Secondary");
    same(&h, &["drbdadm", "down", "tools"], "drbdadm-down.nfs1", 0);
    same(
        &h,
        &["drbdadm", "role", "tools"],
        "err.role-after-down.nfs1",
        10,
    );
}

/// nfs-manage on a DRBD 8.4 node whose /proc/drbd it cannot read: `drbdsetup status --json`
/// is refused (exit 20), so the facts come from `drbdadm status`, named as the config names
/// them; up, status and down work as on DRBD 9.
#[test]
fn up_status_down_on_drbd_84() {
    privileged!();
    let h = Host::with(Spec {
        volumes: &["tools"],
        services: &[],
        ..Spec::default()
    });
    let mut st = h.drbd();
    st["version"] = json!("8.4");
    h.set_drbd(st);
    h.run(&["up", "--yes"]).status(0);
    assert_eq!(h.role("tools"), "Primary");
    assert!(h.is_mounted("/srv/tools"));
    let s = h.run(&["status", "--json"]).status(0).json();
    assert_eq!(s["role"], "active");
    let d = &s["volumes"][0]["drbd"];
    assert_eq!(
        (d["role"].clone(), d["disk"].clone()),
        (json!("Primary"), json!("UpToDate"))
    );
    assert_eq!(
        d["peers"][0]["name"], PEER,
        "8.4's `peer` named as the config names it"
    );
    assert!(h.calls().iter().any(|c| c.starts_with("drbdadm status")));
    h.run(&["up", "--yes"])
        .status(0)
        .stdout_has("Nothing to do");
    h.run(&["down", "--yes"]).status(0);
    assert_eq!(h.role("tools"), "Secondary");
}

/// A controlled failover between two DRBD 8.4 nodes, and `--peer-dead` refused while the
/// 8.4 peer is plainly Connected and Primary.
#[test]
fn failover_on_drbd_84() {
    privileged!();
    let p = crate::failover::pair();
    for h in p.hosts() {
        let mut st = h.drbd();
        st["version"] = json!("8.4");
        h.set_drbd(st);
    }
    p.a.run(&["up", "--yes"]).status(0);
    p.b.run(&["failover", "--yes"])
        .status(0)
        .stdout_has(format!("DRBD tools: Connected to {NODE}, {PEER} UpToDate"));
    assert_eq!(p.a.role("tools"), "Secondary");
    assert_eq!(p.b.role("tools"), "Primary");
    assert!(p.b.has_service_ip() && !p.a.has_service_ip());
    p.a.run(&["failover", "--peer-dead", "--yes"])
        .status(3)
        .stderr_has(format!(
            "DRBD tools is Connected to {PEER} (peer Primary): it is not dead"
        ));
    assert_eq!(p.b.role("tools"), "Primary");
}
