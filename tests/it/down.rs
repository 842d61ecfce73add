//! `nfs-manage down`: the exact reverse of up, busy mounts, bind mounts, forcing.

use std::process::Stdio;
use std::time::Duration;

use crate::harness::*;
use crate::up::up_host;

fn active_host() -> Host {
    let h = up_host();
    h.run(&["up", "--yes"]).status(0);
    h
}

#[test]
fn down_is_the_exact_reverse_and_converges() {
    privileged!();
    let h = active_host();
    let before = h.journal().len();
    let r = h.run(&["down", "--yes"]);
    r.status(0);
    let ids: Vec<String> = h.journal()[before..]
        .iter()
        .map(|r| r["step"].as_str().unwrap().to_string())
        .collect();
    assert_order(
        &ids,
        &[
            "ip",
            "stop:nginx",
            "unexport:misc",
            "unexport:tools",
            "stop:nfs-server",
            "umount:misc",
            "umount:tools",
            "demote:misc",
            "demote:tools",
        ],
    );
    assert!(!h.has_service_ip());
    assert_eq!(h.unit("nginx"), "inactive");
    assert_eq!(h.unit("nfs-server"), "inactive");
    assert_eq!(h.etab(), "");
    assert!(!h.is_mounted("/srv/tools") && !h.is_mounted("/srv/misc"));
    assert_eq!(h.role("tools"), "Secondary");
    assert_eq!(h.run(&["status", "--json"]).json()["role"], "standby");
    h.run(&["down", "--yes"])
        .status(0)
        .stdout_has("Nothing to do");
}

#[test]
fn busy_mount_stops_down_before_anything_changes() {
    privileged!();
    let h = active_host();
    let pid = h.pid().to_string();
    let mut holder = std::process::Command::new("nsenter")
        .args([
            "-t",
            &pid,
            "-m",
            "-n",
            "--",
            "sh",
            "-c",
            "cd /srv/tools && exec sleep 60",
        ])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let before = h.journal().len();
    h.run(&["down", "--yes"])
        .status(3)
        .stderr_has(format!(
            "/srv/tools is busy: pid {} (sleep 60, user root)",
            holder.id()
        ))
        .stderr_has("--force-unmount");
    // Refused up front: the service is still whole.
    assert!(h.has_service_ip());
    assert_eq!(h.unit("nfs-server"), "active");
    assert_eq!(h.journal().len(), before);

    let r = h.run(&["down", "--yes", "--force-unmount"]);
    r.status(0);
    assert!(
        holder.wait().unwrap().code().is_none(),
        "the holder was killed"
    );
    assert!(!h.is_mounted("/srv/tools"));
    assert_eq!(h.role("tools"), "Secondary");
    let kill = h
        .journal()
        .into_iter()
        .find(|r| r["step"] == "kill:tools")
        .unwrap();
    assert_eq!(kill["verify"], "ok");
}

#[test]
fn bind_mounts_and_submounts_are_unmounted_first() {
    privileged!();
    let h = active_host();
    // What nfs-manage-binds used to leave behind: a bind of a project dir elsewhere, which
    // keeps the device open after the volume itself is unmounted.
    h.ns_ok(&["mkdir", "-p", "/srv/tools/project/x", "/srv/binds/x"]);
    h.ns_ok(&["mount", "--bind", "/srv/tools/project/x", "/srv/binds/x"]);
    h.ns_ok(&["mount", "-t", "tmpfs", "scratch", "/srv/tools/project/x"]);
    let before = h.journal().len();
    let r = h.run(&["down", "--yes"]);
    r.status(0);
    let ids: Vec<String> = h.journal()[before..]
        .iter()
        .map(|r| r["step"].as_str().unwrap().to_string())
        .collect();
    let pos = |id: &str| {
        ids.iter()
            .position(|i| i == id)
            .unwrap_or_else(|| panic!("{id} in {ids:?}"))
    };
    assert!(pos("umount:/srv/tools/project/x") < pos("umount:tools"));
    assert!(pos("umount:/srv/binds/x") < pos("umount:tools"));
    assert!(pos("umount:tools") < pos("demote:tools"));
    assert!(
        !h.mountinfo()
            .contains(&format!(" - ext4 {} ", h.volumes[0].loopdev))
    );
    assert_eq!(h.role("tools"), "Secondary");
}

#[test]
fn demote_refused_by_drbd_when_device_still_open() {
    privileged!();
    // The stand-in answers like DRBD: exit 11 "Device is held open by someone" while mounted.
    let h = active_host();
    let r = h.ns(&["drbdadm", "secondary", "tools"]);
    assert_eq!(r.status.code(), Some(11));
    assert!(
        String::from_utf8_lossy(&r.stderr)
            .starts_with("tools: State change failed: (-12) Device is held open by someone\n")
    );
}
