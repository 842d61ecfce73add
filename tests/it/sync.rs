//! `nfs-manage sync`: real rsync over real ssh from the host's namespace to an sshd in the LAN
//! namespace (the peer node labstore1005 at 192.0.2.7, and a canonical dumps source at
//! 192.0.2.20), with host and client keys generated per test.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::*;

const PEER_ADDR: &str = "192.0.2.7";
const SOURCE_ADDR: &str = "192.0.2.20";

struct Bed {
    h: Host,
    sshd: Sshd,
    peer: PathBuf,
    canonical: PathBuf,
}

/// A host with `tools` mounted, the service IP on it, a peer and a canonical source over ssh.
fn bed() -> Bed {
    bed_with("")
}

/// [`bed`] with more `sync:` entries (YAML list items, indented by two).
fn bed_with(extra_entries: &str) -> Bed {
    let h = Host::new();
    let sshd = h.lan_sshd(&[PEER_ADDR, SOURCE_ADDR]);
    let peer = h.dir.path().join("peer");
    let canonical = h.dir.path().join("canonical");
    std::fs::create_dir_all(peer.join("tools/.snapshot")).unwrap();
    std::fs::write(peer.join("tools/stale.txt"), "old").unwrap();
    std::fs::write(peer.join("tools/.snapshot/keep"), "snap").unwrap();
    std::fs::create_dir_all(canonical.join("dumps/2024")).unwrap();
    std::fs::write(canonical.join("dumps/2024/enwiki.xml"), "<mediawiki/>").unwrap();
    h.append_config(&format!(
        "remote:\n  ssh: {ssh}\n  user: root\nsync:\n\
         \x20 - name: tools\n    path: /srv/tools\n    peer_path: {peer}/tools\n    bwlimit: 40000\n    timeout: 60s\n    options: [--delete]\n    exclude: [.snapshot/]\n\
         \x20 - name: dumps\n    direction: pull\n    source: {SOURCE_ADDR}\n    path: /srv/misc/dumps\n    peer_path: {canonical}/dumps\n\
         \x20 - name: broken\n    path: /srv/tools\n    peer_path: {peer}/missing-parent/deeper/tools\n{extra_entries}",
        ssh = sshd.ssh_yaml(),
        peer = peer.display(),
        canonical = canonical.display(),
    ));
    h.mount_volume("tools");
    h.ns_ok(&["sh", "-c", "mkdir -p '/srv/tools/sub dir' && printf data > '/srv/tools/sub dir/a file' && head -c 100000 /dev/zero > /srv/tools/big && mkdir -p /srv/tools/.snapshot && echo local > /srv/tools/.snapshot/mine"]);
    h.ns_ok(&["ip", "addr", "add", SERVICE_IP, "dev", "eth0"]);
    Bed {
        h,
        sshd,
        peer,
        canonical,
    }
}

fn sync_records(h: &Host) -> Vec<Value> {
    h.journal()
        .into_iter()
        .filter(|r| r["command"] == "sync")
        .collect()
}

fn listing(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(base: &Path, d: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(d).unwrap() {
            let e = e.unwrap();
            let rel = e.path().strip_prefix(base).unwrap().display().to_string();
            if e.file_type().unwrap().is_dir() {
                out.push(format!("{rel}/"));
                walk(base, &e.path(), out);
            } else {
                out.push(rel);
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn pushes_to_the_peer_over_ssh_and_journals_rsyncs_stats() {
    privileged!();
    let b = bed();
    b.h.run(&["sync", "tools"])
        .status(0)
        // The plan first, with the rsync command, then the result.
        .stdout_has("push /srv/tools to labstore1005:")
        .stdout_has("--bwlimit=40000")
        .stdout_has("Done. 1 steps: 1 done");
    assert_eq!(
        listing(&b.peer.join("tools")),
        [
            ".snapshot/",
            ".snapshot/keep",
            "big",
            "lost+found/",
            "sub dir/",
            "sub dir/a file"
        ],
        "stale.txt deleted (--delete), .snapshot/ excluded on both sides"
    );
    assert_eq!(
        std::fs::read_to_string(b.peer.join("tools/sub dir/a file")).unwrap(),
        "data"
    );
    let recs = sync_records(&b.h);
    assert_eq!(recs.len(), 1, "{recs:#?}");
    let rec = &recs[0];
    assert_eq!(rec["step"], "sync:tools");
    assert_eq!(rec["rc"], 0);
    assert_eq!(rec["result"], "done");
    assert_eq!(rec["verify"], "ok");
    assert_eq!(rec["direction"], "push");
    assert_eq!(rec["remote"], PEER_ADDR);
    assert_eq!(rec["cluster"], "test");
    let stats = &rec["rsync"]["stats"];
    assert_eq!(stats["transferred_files"], 2, "{rec:#}");
    assert_eq!(stats["transferred_size"], 100004, "{rec:#}");
    assert_eq!(stats["deleted_files"], 1, "{rec:#}");
    let sample = rec["rsync"]["changes_sample"].to_string();
    assert!(sample.contains("*deleting   stale.txt"), "{sample}");
    assert!(sample.contains("<f+++++++++ sub dir/a file"), "{sample}");
    // The -e string reached ssh intact: the key's path has a space and a quote in it.
    let argv: Vec<&str> = rec["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        argv.iter().any(|a| a.starts_with("--rsh=ssh -F /dev/null")
            && a.contains("'")
            && a.contains("client key''s dir/id'")),
        "{argv:?}"
    );
    // A second run converges: nothing left to transfer.
    b.h.run(&["sync", "tools"]).status(0);
    let recs = sync_records(&b.h);
    assert_eq!(
        recs[1]["rsync"]["stats"]["transferred_files"], 0,
        "{:#}",
        recs[1]
    );
    assert!(
        b.sshd.log().contains("Accepted publickey for root"),
        "{}",
        b.sshd.log()
    );
}

/// A client truncates a file while the push reads it: rsync says `read errors mapping "…":
/// No data available (61)` and exits 23. The source is live, so that is the client's doing,
/// not a failed sync: the entry is done with a note naming the file, and the next run copies
/// the file as it is now. (Any other error with exit 23 still fails: unit tests of
/// `rsync::verify_live`.)
#[test]
fn a_file_that_shrinks_while_the_push_reads_it_is_noted_and_copied_by_the_next_run() {
    privileged!();
    let b = bed();
    // First in the transfer order, and big enough that rsync is still reading it when the
    // first megabyte has gone out.
    let big = "/srv/tools/aaa-big";
    b.h.ns_ok(&["sh", "-c", &format!("head -c 8000000 /dev/urandom > {big}")]);
    let mark = b.h.dir.path().join("shrunk");
    ssh_emptying_mid_transfer(&b.h.dir.path().join("bin"), big, &mark);
    let r = b.h.run(&["sync", "tools"]);
    assert!(mark.exists(), "the ssh wrapper never ran: {}", r.stdout);
    r.status(0)
        .stdout_has("aaa-big changed while read: the next run copies it again");
    let recs = sync_records(&b.h);
    let rec = recs.last().unwrap();
    assert_eq!(
        (rec["rc"].as_i64(), rec["result"].as_str()),
        (Some(23), Some("done")),
        "{rec:#}"
    );
    assert!(
        rec["verify"]
            .as_str()
            .unwrap()
            .contains("changed while read: the next run copies it again"),
        "{rec:#}"
    );
    // The next run copies the file as it is now: empty, like the source.
    b.h.run(&["sync", "tools"]).status(0);
    assert_eq!(sync_records(&b.h).last().unwrap()["rc"], 0);
    assert_eq!(
        std::fs::metadata(b.peer.join("tools/aaa-big"))
            .unwrap()
            .len(),
        0
    );
}

#[test]
fn pull_from_the_canonical_source_waits_for_its_volume() {
    privileged!();
    let b = bed();
    // /srv/misc/dumps is on volume misc, not mounted: pulling would fill the directory
    // underneath the mountpoint. Refused (3), nothing fetched.
    b.h.run(&["sync", "dumps"])
        .status(3)
        .stderr_has("/srv/misc/dumps is on volume misc, which is not mounted at /srv/misc");
    assert!(!b.h.inside("/srv/misc/dumps").exists());
    assert_eq!(sync_records(&b.h)[0]["result"], "refused");
    b.h.mount_volume("misc");
    b.h.ns_ok(&["mkdir", "-p", "/srv/misc/dumps"]);
    b.h.run(&["sync", "dumps"])
        .status(0)
        .stdout_has(format!("pull {SOURCE_ADDR}:"));
    assert_eq!(
        std::fs::read_to_string(b.h.inside("/srv/misc/dumps/2024/enwiki.xml")).unwrap(),
        "<mediawiki/>"
    );
    let rec = sync_records(&b.h).pop().unwrap();
    assert_eq!(
        (rec["direction"].as_str(), rec["remote"].as_str()),
        (Some("pull"), Some(SOURCE_ADDR))
    );
    assert_eq!(rec["rsync"]["stats"]["transferred_size"], 12);
    let _ = &b.canonical;
}

#[test]
fn a_failing_rsync_is_reported_journaled_and_does_not_stop_the_others() {
    privileged!();
    let b = bed();
    b.h.mount_volume("misc");
    b.h.ns_ok(&["mkdir", "-p", "/srv/misc/dumps"]);
    let r = b.h.run(&["sync"]);
    r.status(1)
        .stderr_has("sync failed for 1")
        .stderr_has("broken: rsync exit 11")
        .stderr_has("to retry: nfs-manage --config");
    let recs = sync_records(&b.h);
    let by_step = |s: &str| recs.iter().find(|r| r["step"] == s).unwrap().clone();
    assert_eq!(by_step("sync:tools")["result"], "done");
    assert_eq!(by_step("sync:dumps")["result"], "done");
    let broken = by_step("sync:broken");
    assert_eq!(broken["result"], "failed");
    assert_eq!(broken["rc"], 11);
    // The receiver's own complaint ("mkdir ... failed") travels back over rsync's protocol
    // and is occasionally lost by rsync itself when the remote side exits first; the exit
    // code always arrives. When the words did arrive, they are in the journal and the
    // message. The test below checks the pass-through where rsync's words are certain.
    if let Some(said) = broken["stderr"].as_str() {
        assert!(said.contains("mkdir"), "{broken:#}");
        r.stderr_has("; output: ");
    }
    assert!(!b.peer.join("missing-parent").exists());
    // The JSON form says the same.
    let j = b.h.run(&["sync", "broken", "--json"]).status(1).json();
    assert_eq!(j["result"], "failed");
    assert_eq!(j["steps"][0]["state"], "failed");
}

#[test]
fn a_standby_node_does_not_sync() {
    privileged!();
    let b = bed();
    b.h.ns_ok(&["ip", "addr", "del", SERVICE_IP, "dev", "eth0"]);
    // 192.0.2.180 contains the text 192.0.2.18: still not the service IP.
    b.h.ns_ok(&["ip", "addr", "add", "192.0.2.180/24", "dev", "eth0"]);
    b.h.run(&["sync"])
        .status(0)
        .stdout_has("does not hold the service IP 192.0.2.18/24 on eth0: nothing to do");
    assert!(b.peer.join("tools/stale.txt").exists());
    assert!(sync_records(&b.h).is_empty());
}

#[test]
fn a_held_lock_skips_the_entry_with_exit_4() {
    privileged!();
    let b = bed();
    let lock = b.h.dir.path().join("run/sync-tools.lock");
    std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
    // Held by this test process, as another nfs-manage run would hold it.
    let file = std::fs::File::create(&lock).unwrap();
    let held = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock)
        .map_err(|(_, e)| e)
        .unwrap();
    let r = b.h.run(&["sync", "tools"]);
    drop(held);
    r.status(4).stderr_has("another run holds");
    r.stdout_has("SKIPPED push /srv/tools");
    assert!(b.peer.join("tools/stale.txt").exists(), "nothing was sent");
    b.h.run(&["sync", "tools"]).status(0);
}

#[test]
fn interval_waits_after_each_run_and_zero_is_rejected() {
    privileged!();
    let b = bed();
    b.h.run(&["sync", "--interval", "0"])
        .status(2)
        .stderr_has("--interval");
    b.h.run(&["sync", "nope"])
        .status(2)
        .stderr_has("no sync entry named \"nope\"");
    let r = b.h.run(&["sync", "tools", "--dry-run"]);
    r.status(0).stdout_has("Dry run: nothing was sent.");
    assert!(b.peer.join("tools/stale.txt").exists());

    let mut child = b.h.spawn(&["sync", "tools", "--interval", "2"]);
    let t = Instant::now();
    while sync_records(&b.h).len() < 3 && t.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap();
    let _ = child.wait();
    let recs = sync_records(&b.h);
    assert!(recs.len() >= 3, "{recs:#?}");
    for pair in recs.windows(2) {
        let start = |r: &Value| humantime::parse_rfc3339(r["time"].as_str().unwrap()).unwrap();
        let end_first =
            start(&pair[0]) + Duration::from_millis(pair[0]["duration_ms"].as_u64().unwrap());
        let gap = start(&pair[1]).duration_since(end_first).unwrap();
        assert!(gap >= Duration::from_millis(1900), "waited only {gap:?}");
    }
}

#[test]
fn sync_results_show_in_metrics() {
    privileged!();
    let b = bed();
    b.h.run(&["sync", "tools"]).status(0);
    let _ = b.h.run(&["sync", "broken"]);
    let m = b.h.run(&["metrics"]);
    m.status(0);
    for want in [
        "nfs_manage_sync_last_success{sync=\"tools\"} 1",
        "nfs_manage_sync_last_success{sync=\"broken\"} 0",
        "nfs_manage_sync_last_exit_code{sync=\"broken\"} 11",
        "nfs_manage_sync_last_transferred_bytes{sync=\"tools\"} 100004",
    ] {
        m.stdout_has(want);
    }
    // It never ran: no series.
    m.stdout_lacks("sync=\"dumps\"");
}

#[test]
fn rsyncs_own_words_are_in_the_message_and_the_journal() {
    privileged!();
    // A source directory that is not there: the local sender says so itself, so its
    // words cannot be lost on the way.
    let b = bed_with(
        "  - name: nosource\n    path: /srv/tools/not-there\n    peer_path: /tmp/unused\n",
    );
    b.h.run(&["sync", "nosource"])
        .status(1)
        .stderr_has("nosource: rsync exit 23")
        .stderr_has(r#"change_dir "/srv/tools/not-there" failed: No such file or directory"#);
    let rec = sync_records(&b.h).pop().unwrap();
    assert_eq!(
        (rec["step"].as_str(), rec["rc"].as_i64()),
        (Some("sync:nosource"), Some(23))
    );
    assert!(
        rec["stderr"].as_str().unwrap().contains("change_dir"),
        "{rec:#}"
    );
}
