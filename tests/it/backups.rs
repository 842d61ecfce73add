//! `backup run|mount|umount|list` on a test bed: the backup host is a `Host` namespace with
//! its own /dev; the passive node is the "lan" network namespace (192.0.2.1) with its own
//! mount namespace and /dev, running a real sshd. Real: ssh, rsync, mount, blkid, fuser, ext4
//! on loop devices, an image carrying DRBD internal metadata (drbdmeta), dd/sha256sum for the
//! post-sync check. Stand-ins: lvs/lvcreate/lvremove (a snapshot is a copy of its origin's
//! image on its own loop device) and bdsync (tests/standin/).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::*;

const SOURCE_ADDR: &str = "192.0.2.1";
const SIZE: &str = "32M";

pub(crate) struct Bed {
    host: Option<Host>,
    remote: Child,
    _sshd: Option<BackupSshd>,
    pub(crate) dir: PathBuf,
    pub(crate) config: PathBuf,
}

fn standin_links(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for t in ["lvs", "lvcreate", "lvremove", "bdsync", "lvm-seed"] {
        let l = dir.join(t);
        if !l.exists() {
            std::os::unix::fs::symlink(standin(), l).unwrap();
        }
    }
}

/// An ext4 image of SIZE with DRBD internal metadata at its end (blkid then says "drbd").
fn drbd_image(path: &Path) {
    ok(&["truncate", "-s", SIZE, path.to_str().unwrap()]);
    let l = ok(&["losetup", "--find", "--show", path.to_str().unwrap()]);
    let l = l.trim();
    let md = sh(&[
        "drbdmeta",
        "--force",
        "0",
        "v09",
        l,
        "internal",
        "create-md",
        "1",
    ]);
    let fs = sh(&["mkfs.ext4", "-q", "-F", l, "30M"]);
    sh(&["losetup", "-d", l]);
    assert!(
        md.status.success(),
        "drbdmeta: {}",
        String::from_utf8_lossy(&md.stderr)
    );
    assert!(
        fs.status.success(),
        "mkfs: {}",
        String::from_utf8_lossy(&fs.stderr)
    );
}

impl Bed {
    pub(crate) fn new(transport: &str) -> Bed {
        Bed::with(
            transport,
            &|src, tgt| {
                drbd_image(src);
                ok(&["truncate", "-s", SIZE, tgt.to_str().unwrap()]);
            },
            "",
        )
    }

    /// `images` writes the source and target image files; `extra` is added to the backup
    /// entry of the config (indented by 4).
    pub(crate) fn with(transport: &str, images: &dyn Fn(&Path, &Path), extra: &str) -> Bed {
        let host = Host::with(Spec {
            volumes: &[],
            drbd: false,
            dual_primary: false,
            service_ip: false,
            services: &[],
            ..Spec::default()
        });
        let dir = host.dir.path().to_path_buf();
        private_dev(host.pid(), &dir.join("scratch-local"));
        host.ns_ok(&["mount", "-t", "tmpfs", "nfs-manage-test", "/mnt"]);
        standin_links(&dir.join("bin"));
        standin_links(&dir.join("remote-bin"));
        std::fs::create_dir_all(dir.join("remote-standin")).unwrap();
        let remote = Command::new("nsenter")
            .args(["-t", &host.lan_pid().to_string(), "-n", "--"])
            .args([
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "sleep",
                "infinity",
            ])
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let me = std::fs::read_link("/proc/self/ns/mnt").unwrap();
        for _ in 0..200 {
            if std::fs::read_link(format!("/proc/{}/ns/mnt", remote.id())).is_ok_and(|m| m != me) {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut bed = Bed {
            host: Some(host),
            remote,
            _sshd: None,
            dir: dir.clone(),
            config: dir.join("backup.yaml"),
        };
        private_dev(bed.remote.id(), &dir.join("scratch-remote"));
        let remote_path = format!(
            "{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            dir.join("remote-bin").display()
        );
        let sshd = BackupSshd::start(
            bed.remote.id(),
            SOURCE_ADDR,
            &dir.join("ssh"),
            &[
                ("PATH", remote_path),
                (
                    "NFS_MANAGE_STANDIN_DIR",
                    dir.join("remote-standin").display().to_string(),
                ),
            ],
        );
        let ssh = sshd.ssh_argv.clone();
        bed._sshd = Some(sshd);

        // The passive node's backing LV vd/tools, and our (empty) target backup/tools.
        let src = dir.join("images/source.img");
        let tgt = dir.join("images/target.img");
        images(&src, &tgt);
        bed.remote_ok(&["lvm-seed", "vd", "tools", src.to_str().unwrap()]);
        bed.host()
            .ns_ok(&["lvm-seed", "backup", "tools", tgt.to_str().unwrap()]);

        let quoted: Vec<String> = ssh.iter().map(|a| format!("\"{a}\"")).collect();
        let y = format!(
            "cluster: test\nnodes:\n  {NODE}: {{ address: 192.0.2.6 }}\nvolumes: []\n\
             remote: {{ ssh: [{ssh}], user: root }}\n\
             backups:\n  - name: tools\n    source: {{ host: {SOURCE_ADDR}, vg: vd, lv: tools }}\n    target: {{ vg: backup, lv: tools }}\n    transport: {transport}\n    blocksize: 16384\n{extra}\
             paths:\n  journal: {d}/journal.jsonl\n  lock: {d}/run/lock\n  state: {d}/state\n\
             timeouts: {{ probe: 20s, step: 30s }}\n",
            ssh = quoted.join(", "),
            d = dir.display()
        );
        std::fs::write(&bed.config, y).unwrap();
        bed.wait_for_sshd();
        bed
    }

    pub(crate) fn host(&self) -> &Host {
        self.host.as_ref().unwrap()
    }

    fn remote_cmd(&self, argv: &[&str]) -> Command {
        let mut c = Command::new("nsenter");
        c.args(["-t", &self.remote.id().to_string(), "-m", "-n", "--"])
            .args(argv)
            .env(
                "PATH",
                format!(
                    "{}:/usr/sbin:/usr/bin:/sbin:/bin",
                    self.dir.join("remote-bin").display()
                ),
            )
            .env("NFS_MANAGE_STANDIN_DIR", self.dir.join("remote-standin"))
            .stdin(Stdio::null());
        c
    }

    fn remote_ok(&self, argv: &[&str]) -> String {
        let out = self.remote_cmd(argv).output().unwrap();
        assert!(
            out.status.success(),
            "{argv:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn wait_for_sshd(&self) {
        let cfg = std::fs::read_to_string(&self.config).unwrap();
        let _ = cfg;
        let ssh = self._sshd.as_ref().unwrap().ssh_argv.clone();
        let dest = format!("root@{SOURCE_ADDR}");
        let mut argv: Vec<&str> = ssh.iter().map(String::as_str).collect();
        argv.extend([
            dest.as_str(),
            "echo $NFS_MANAGE_STANDIN_DIR; command -v lvs",
        ]);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = self.host().ns(&argv);
            if out.status.success() {
                let text = String::from_utf8_lossy(&out.stdout);
                assert!(
                    text.contains("remote-standin") && text.contains("remote-bin/lvs"),
                    "sshd sessions do not get the stand-in environment: {text}"
                );
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "sshd did not come up: {}\n{}",
                    String::from_utf8_lossy(&out.stderr),
                    std::fs::read_to_string(self.dir.join("ssh/sshd.log")).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub(crate) fn run(&self, args: &[&str]) -> Run {
        let mut argv = vec![bin().display().to_string(), "--config".into()];
        argv.push(self.config.display().to_string());
        argv.extend(args.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
        self.host().ns_run(&refs)
    }

    /// `run` with the clock shifted by OFFSET (libfaketime, e.g. "+37h"): what a later run
    /// of the command would see, with every file left as the real runs wrote it.
    pub(crate) fn run_at(&self, offset: &str, args: &[&str]) -> Run {
        let mut argv = vec!["faketime".to_string(), "-f".into(), offset.into()];
        argv.push(bin().display().to_string());
        argv.extend(["--config".to_string(), self.config.display().to_string()]);
        argv.extend(args.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
        self.host().ns_run(&refs)
    }

    fn spawn(&self, args: &[&str]) -> Child {
        let mut argv = vec![bin().display().to_string(), "--config".into()];
        argv.push(self.config.display().to_string());
        argv.extend(args.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
        self.host()
            .ns_cmd(&refs)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// The loop device (as the root namespace names it) behind an LV of a stand-in state.
    pub(crate) fn loopdev(&self, state: &str, vg: &str, lv: &str) -> String {
        let st: Value = serde_json::from_str(
            &std::fs::read_to_string(self.dir.join(state).join("lvm.json")).unwrap(),
        )
        .unwrap();
        let l = st["lvs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["vg"] == vg && l["name"] == lv)
            .unwrap_or_else(|| panic!("{vg}/{lv} not in {state}: {st}"));
        l["loopdev"]
            .as_str()
            .unwrap()
            .replace("/dev/.real/", "/dev/")
    }

    pub(crate) fn lvs(&self, state: &str) -> Vec<String> {
        let st: Value = std::fs::read_to_string(self.dir.join(state).join("lvm.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(json!({"lvs": []}));
        st["lvs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                format!(
                    "{}/{}",
                    l["vg"].as_str().unwrap(),
                    l["name"].as_str().unwrap()
                )
            })
            .collect()
    }

    fn sha(&self, dev: &str) -> String {
        ok(&["sha256sum", dev])
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    }

    fn source_sha(&self) -> String {
        self.sha(&self.loopdev("remote-standin", "vd", "tools"))
    }

    fn target_sha(&self) -> String {
        self.sha(&self.loopdev("standin", "backup", "tools"))
    }

    /// Write a file on the source LV's filesystem (mounted here for a moment).
    pub(crate) fn write_on_source(&self, name: &str, text: &str) {
        let dev = self.loopdev("remote-standin", "vd", "tools");
        let h = self.host();
        h.ns_ok(&["mkdir", "-p", "/srv/source"]);
        h.ns_ok(&[
            "mount",
            "-t",
            "ext4",
            &dev.replace("/dev/", "/dev/.real/"),
            "/srv/source",
        ]);
        std::fs::write(h.inside(&format!("/srv/source/{name}")), text).unwrap();
        h.ns_ok(&["umount", "/srv/source"]);
    }

    pub(crate) fn results(&self) -> Vec<Value> {
        self.host()
            .journal()
            .into_iter()
            .filter(|r| r["step"] == "backup-result")
            .collect()
    }

    pub(crate) fn remote_faults(&self, v: Value) {
        let d = self.dir.join("remote-standin");
        let _ = std::fs::remove_file(d.join("fault-counters.json"));
        std::fs::write(d.join("faults.json"), v.to_string()).unwrap();
    }
}

impl Drop for Bed {
    fn drop(&mut self) {
        self._sshd.take();
        let _ = self.remote.kill();
        let _ = self.remote.wait();
        let loops: Vec<String> = ["standin", "remote-standin"]
            .iter()
            .filter_map(|s| std::fs::read_to_string(self.dir.join(s).join("lvm.json")).ok())
            .filter_map(|t| serde_json::from_str::<Value>(&t).ok())
            .flat_map(|v| {
                v["lvs"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|l| {
                        l["loopdev"]
                            .as_str()
                            .map(|s| s.replace("/dev/.real/", "/dev/"))
                    })
            })
            .collect();
        // The host's namespaces (and their mounts) go first, then the loop devices are free.
        let host = self.host.take();
        drop(host);
        for l in loops {
            for _ in 0..50 {
                if sh(&["losetup", "-d", &l]).status.success() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

#[test]
fn bdsync_run_restores_a_changed_image_bit_identical() {
    privileged!();
    let bed = Bed::new("bdsync");
    // The dry run sends nothing over ssh and changes nothing.
    bed.host().clear_calls();
    let _ = std::fs::remove_file(bed.dir.join("remote-standin/calls.log"));
    let plan = bed
        .run(&["--dry-run", "--json", "backup", "run", "tools"])
        .status(0)
        .json();
    assert_eq!(plan["result"], "dry run");
    let sync = &plan["steps"][2];
    assert_eq!(sync["id"], "sync:tools");
    let p = sync["pipeline"].as_array().unwrap();
    let client = p[0].as_array().unwrap();
    assert_eq!(
        client[0..3],
        [
            json!("bdsync"),
            json!("--blocksize=16384"),
            json!("--remdata")
        ]
    );
    let remsh = client[3].as_str().unwrap();
    assert!(
        remsh.contains("backup wrap-remote --status-file")
            && remsh.ends_with("root@192.0.2.1 nice -n 10 bdsync --server"),
        "{remsh}"
    );
    assert_eq!(
        client[4..],
        [
            json!("/dev/backup/tools"),
            json!("/dev/vd/tools-nfs-manage")
        ]
    );
    assert_eq!(p[1], json!(["bdsync", "--patch=/dev/backup/tools"]));
    assert_eq!(
        bed.host().calls(),
        [
            "lvs --reportformat json --units b --nosuffix -o lv_name,vg_name,lv_attr,lv_size,origin,lv_path backup"
        ]
    );
    assert!(!bed.dir.join("remote-standin/calls.log").exists());

    assert_ne!(bed.source_sha(), bed.target_sha());
    let r = bed.run(&["--yes", "backup", "run", "tools"]);
    r.status(0).stdout_has("backup tools: ok, 32.0 MiB device");
    assert_eq!(bed.source_sha(), bed.target_sha());
    // The copy carries DRBD's metadata: blkid says "drbd", so the mount type must be given.
    let probe = bed
        .host()
        .ns_ok(&["blkid", "-o", "value", "-s", "TYPE", "/dev/backup/tools"]);
    assert_eq!(probe.trim(), "drbd");

    // Change the source; the second run sends only the difference.
    bed.write_on_source("hello.txt", "changed after the first backup\n");
    assert_ne!(bed.source_sha(), bed.target_sha());
    bed.run(&["--yes", "backup", "run", "tools"]).status(0);
    assert_eq!(bed.source_sha(), bed.target_sha());
    let res = bed.results();
    assert_eq!(res.len(), 2, "{res:?}");
    for r in &res {
        assert_eq!(r["result"], "ok");
        assert_eq!(r["device_bytes"], 32 << 20);
        assert_eq!(r["transport"], "bdsync");
    }
    let first = res[0]["diff_bytes"].as_u64().unwrap();
    let second = res[1]["diff_bytes"].as_u64().unwrap();
    assert!(second > 0 && second < first / 4, "{first} then {second}");
    // Snapshots: the remote one is gone again, the pre-sync one was replaced.
    assert_eq!(bed.lvs("remote-standin"), ["vd/tools"]);
    assert_eq!(bed.lvs("standin"), ["backup/tools", "backup/tools-presync"]);
    let steps: Vec<Value> = bed
        .host()
        .journal()
        .into_iter()
        .filter(|r| r["step"] == "sync:tools")
        .collect();
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[1]["verify"], "ok");
    assert!(steps[1]["argv"].as_array().unwrap().contains(&json!("|")));
}

#[test]
fn rsync_run_restores_a_changed_image_bit_identical() {
    privileged!();
    let bed = Bed::new("rsync");
    bed.run(&["--yes", "backup", "run", "tools"]).status(0);
    assert_eq!(bed.source_sha(), bed.target_sha());
    bed.write_on_source("a.txt", "rsync transport\n");
    assert_ne!(bed.source_sha(), bed.target_sha());
    let r = bed.run(&["--yes", "backup", "run", "tools"]);
    r.status(0);
    assert_eq!(bed.source_sha(), bed.target_sha());
    let sync = bed
        .host()
        .journal()
        .into_iter()
        .rfind(|r| r["step"] == "sync:tools")
        .unwrap();
    let argv: Vec<&str> = sync["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(
        argv[0..6],
        [
            "rsync",
            "--copy-devices",
            "--write-devices",
            "--inplace",
            "--no-whole-file",
            "--ignore-times"
        ]
    );
    assert_eq!(sync["verify"], "ok");
    let res = bed.results();
    assert_eq!(res[1]["result"], "ok");
    let diff = res[1]["diff_bytes"].as_u64().unwrap();
    assert!(diff > 0 && diff < 4 << 20, "{diff}");
    assert_eq!(bed.lvs("remote-standin"), ["vd/tools"]);
}

#[test]
fn each_failing_pipe_member_fails_the_run_by_name() {
    privileged!();
    let bed = Bed::new("bdsync");
    let cases = [
        (
            "local",
            "bdsync --blocksize",
            6,
            "pipe member `bdsync (client)` failed (exit 6)",
        ),
        (
            "remote",
            "bdsync --server",
            4,
            "pipe member `bdsync --server on 192.0.2.1 (through ssh)` failed (exit 4)",
        ),
        (
            "local",
            "bdsync --patch",
            9,
            "pipe member `bdsync --patch` failed (exit 9)",
        ),
    ];
    for (side, pattern, rc, message) in cases {
        let f = json!([{"match": pattern, "rc": rc, "stderr": "injected failure\n"}]);
        if side == "local" {
            bed.host().faults(f);
        } else {
            bed.remote_faults(f);
        }
        let r = bed.run(&["--yes", "backup", "run", "tools"]);
        r.status(1);
        assert!(r.stderr.contains(message), "{pattern}: {}", r.stderr);
        r.stderr_has("step 3 of 4 (copy 192.0.2.1:vd/tools-nfs-manage");
        // Never half a job silently: the remote snapshot is cleaned up, the result journaled.
        r.stderr_has("the remote snapshot vd/tools-nfs-manage on 192.0.2.1 was removed");
        assert_eq!(bed.lvs("remote-standin"), ["vd/tools"]);
        assert_eq!(bed.results().last().unwrap()["result"], "failed");
        bed.host().clear_faults();
        bed.remote_faults(json!([]));
    }
    // After the failures the pre-sync snapshot is kept (it holds the last complete copy),
    // and the next run completes the target.
    bed.run(&["--yes", "backup", "run", "tools"])
        .status(0)
        .stdout_has("kept: the run at");
    assert_eq!(bed.source_sha(), bed.target_sha());
}

#[test]
fn rsync_failure_names_rsync() {
    privileged!();
    let bed = Bed::new("rsync");
    bed.host().wrap_real_tool("rsync");
    bed.host().faults(json!([{"match": "rsync", "rc": 23, "stderr": "rsync error: some files/attrs were not transferred (code 23)\n"}]));
    bed.run(&["--yes", "backup", "run", "tools"])
        .status(1)
        .stderr_has("pipe member `rsync` failed (exit 23): rsync error");
}

#[test]
fn a_second_run_of_the_same_backup_is_refused_with_exit_4() {
    privileged!();
    let bed = Bed::new("bdsync");
    bed.host()
        .faults(json!([{"match": "lvcreate", "sleep_ms": 3000}]));
    let first = bed.spawn(&["--yes", "backup", "run", "tools"]);
    let lock = bed.dir.join("run/backup-tools.lock");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(&lock)
        .map(|t| t.is_empty())
        .unwrap_or(true)
    {
        assert!(
            Instant::now() < deadline,
            "the first run never took the lock"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    bed.run(&["--yes", "backup", "run", "tools"])
        .status(4)
        .stderr_has("backup tools is busy")
        .stderr_has("backup run tools");
    Run::from(first.wait_with_output().unwrap()).status(0);
    assert_eq!(bed.source_sha(), bed.target_sha());
}

#[test]
fn a_mounted_target_is_refused_and_nothing_changes() {
    privileged!();
    let bed = Bed::new("bdsync");
    let h = bed.host();
    bed.run(&["--yes", "backup", "run", "tools"]).status(0);
    h.ns_ok(&["mkdir", "-p", "/srv/old-style"]);
    h.ns_ok(&[
        "mount",
        "-t",
        "ext4",
        "-o",
        "ro,noload",
        "/dev/backup/tools",
        "/srv/old-style",
    ]);
    h.clear_calls();
    bed.run(&["--yes", "backup", "run", "tools"])
        .status(3)
        .stderr_has("the backup target /dev/backup/tools is mounted at /srv/old-style");
    assert!(
        !h.calls().iter().any(|c| c.starts_with("lvcreate")
            || c.starts_with("lvremove")
            || c.starts_with("bdsync")),
        "{:?}",
        h.calls()
    );
    assert_eq!(bed.results().last().unwrap()["result"], "refused");
}

#[test]
fn backup_mounts_never_block_runs_and_a_fresh_mount_shows_new_files() {
    privileged!();
    let bed = Bed::new("bdsync");
    let h = bed.host();
    bed.write_on_source("first.txt", "one\n");
    bed.run(&["--yes", "backup", "run", "tools"]).status(0);

    // Without a type, mount probes "drbd" and fails: the configured fstype matters.
    h.ns_ok(&[
        "lvcreate",
        "--snapshot",
        "--name",
        "probe",
        "--size",
        "8M",
        "backup/tools",
    ]);
    h.ns_ok(&["mkdir", "-p", "/srv/probe"]);
    let guess = h.ns(&["mount", "-o", "ro", "/dev/backup/probe", "/srv/probe"]);
    assert!(
        !guess.status.success(),
        "mount without -t should fail on a DRBD-backed LV"
    );
    h.ns_ok(&["lvremove", "-f", "backup/probe"]);

    let r = bed.run(&["--yes", "backup", "mount", "tools"]);
    r.status(0)
        .stdout_has("mounted read-only at /mnt/nfs-manage/tools");
    let step = h
        .journal()
        .into_iter()
        .rfind(|r| r["step"] == "mount:tools")
        .unwrap();
    assert_eq!(
        step["argv"],
        json!([
            "mount",
            "-t",
            "ext4",
            "-o",
            "ro,noload",
            "/dev/backup/tools-mount",
            "/mnt/nfs-manage/tools"
        ])
    );
    assert_eq!(step["verify"], "ok");
    r.stdout_has("backup umount tools");
    let mp = h.inside("/mnt/nfs-manage/tools");
    assert_eq!(
        std::fs::read_to_string(mp.join("first.txt")).unwrap(),
        "one\n"
    );
    let info = h.mountinfo();
    let line = info
        .lines()
        .find(|l| l.split(' ').nth(4) == Some("/mnt/nfs-manage/tools"))
        .unwrap_or_else(|| panic!("not mounted: {info}"));
    let opts = line.split(' ').nth(5).unwrap();
    assert!(opts.split(',').any(|o| o == "ro"), "{line}");
    assert!(line.contains(" - ext4 "), "{line}");

    // The run goes on while the backup is mounted: its target is not.
    bed.write_on_source("second.txt", "two\n");
    bed.run(&["--yes", "backup", "run", "tools"]).status(0);
    assert_eq!(bed.source_sha(), bed.target_sha());
    assert!(
        !mp.join("second.txt").exists(),
        "an open backup mount is a snapshot"
    );

    let j = bed.run(&["backup", "list", "--json"]).status(0).json();
    let b = &j["backups"][0];
    assert_eq!(b["last_run"]["result"], "ok");
    assert_eq!(b["last_run"]["device_bytes"], 32 << 20);
    assert_eq!(b["mount"]["mountpoint"], "/mnt/nfs-manage/tools");
    assert_eq!(b["mount"]["mounted"], true);
    let fill = b["mount"]["data_percent"].as_f64().unwrap();
    assert!(fill > 0.0 && fill < 100.0, "{fill}");
    assert!(b["presync"]["data_percent"].as_f64().is_some(), "{b}");
    bed.run(&["backup", "list"])
        .status(0)
        .stdout_has("/mnt/nfs-manage/tools since");

    // A busy mount is not pulled away: the holder is named.
    let mut holder = h
        .ns_cmd(&["sh", "-c", "cd /mnt/nfs-manage/tools && exec sleep 30"])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let r = bed.run(&["--yes", "backup", "umount", "tools"]);
    let _ = holder.kill();
    let _ = holder.wait();
    r.status(3).stderr_has("is busy: pid").stderr_has("sleep");

    bed.run(&["--yes", "backup", "umount", "tools"]).status(0);
    assert!(!h.is_mounted("/mnt/nfs-manage/tools"));
    assert_eq!(bed.lvs("standin"), ["backup/tools", "backup/tools-presync"]);
    bed.run(&["--yes", "backup", "mount", "tools"]).status(0);
    assert_eq!(
        std::fs::read_to_string(mp.join("second.txt")).unwrap(),
        "two\n"
    );
    bed.run(&["--yes", "backup", "umount", "tools"]).status(0);
}

#[test]
fn expired_backup_mounts_are_removed_and_others_kept() {
    privileged!();
    let bed = Bed::new("bdsync");
    let h = bed.host();
    bed.run(&["--yes", "backup", "run", "tools"]).status(0);
    bed.run(&[
        "--yes",
        "backup",
        "mount",
        "tools",
        "/srv/restore",
        "--ttl",
        "1h",
    ])
    .status(0);
    bed.run(&["--yes", "backup", "umount", "--expired"])
        .status(0)
        .stdout_has("No backup mount has expired");
    assert!(h.is_mounted("/srv/restore"));
    bed.run(&["--yes", "backup", "umount", "tools"]).status(0);

    bed.run(&[
        "--yes",
        "backup",
        "mount",
        "tools",
        "/srv/restore",
        "--ttl",
        "1s",
    ])
    .status(0);
    std::thread::sleep(Duration::from_millis(1500));
    let list = bed.run(&["backup", "list", "--json"]).json();
    assert_eq!(list["backups"][0]["mount"]["expired"], true);
    bed.run(&["--yes", "backup", "umount", "--expired"])
        .status(0);
    assert!(!h.is_mounted("/srv/restore"));
    assert_eq!(bed.lvs("standin"), ["backup/tools", "backup/tools-presync"]);
    assert!(!bed.dir.join("state/backup-mounts/tools.json").exists());
    let list = bed.run(&["backup", "list", "--json"]).json();
    assert!(list["backups"][0]["mount"].is_null());
}

#[test]
fn bad_backup_names_and_paths_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.yaml");
    let good = format!(
        "cluster: t\nnodes:\n  n1: {{ address: 192.0.2.6 }}\nvolumes: []\nremote: {{ ssh: [ssh], user: root }}\n\
         backups:\n  - name: tools\n    source: {{ host: 192.0.2.1, vg: vd, lv: tools }}\n    target: {{ vg: backup, lv: tools }}\n\
         paths: {{ journal: {d}/j, lock: {d}/lock, state: {d}/state }}\n",
        d = dir.path().display()
    );
    let run = |text: &str, args: &[&str]| -> Run {
        std::fs::write(&cfg, text).unwrap();
        Run::of(
            Command::new(bin())
                .args(["--config", cfg.to_str().unwrap(), "--node", "n1"])
                .args(args),
        )
    };
    run(&good, &["backup", "run", "nope"])
        .status(2)
        .stderr_has("no backup called \"nope\"")
        .stderr_has("configured: tools");
    run(&good, &["backup", "mount", "tools", "restore/../etc"])
        .status(2)
        .stderr_has("MOUNTPOINT: \"restore/../etc\" is not a clean absolute path");
    run(&good, &["backup", "mount", "tools", "/"]).status(2);
    run(&good, &["backup", "umount"]).status(2);
    run(
        &good.replace("lv: tools }\n    target", "lv: \"tools;rm\" }\n    target"),
        &["backup", "run", "tools"],
    )
    .status(78)
    .stderr_has("c.yaml:8:")
    .stderr_has("backups[0].source.lv: not a logical volume name");
    run(
        &good.replace("vg: backup", "vg: \"-backup\""),
        &["backup", "list"],
    )
    .status(78)
    .stderr_has("backups[0].target.vg")
    .stderr_has("must not start with '-'");
    run(
        &good.replace(
            "    target: { vg: backup, lv: tools }\n",
            "    target: { vg: backup, lv: tools }\n    mountpoint: mnt/x\n",
        ),
        &["backup", "list"],
    )
    .status(78)
    .stderr_has("backups[0].mountpoint");
}

/// Peak RSS (VmHWM) of a running process, polled until it exits; then its exit code.
fn wait_peak_rss(mut child: Child) -> (i32, u64, String) {
    let status = format!("/proc/{}/status", child.id());
    let mut peak = 0u64;
    loop {
        if let Ok(t) = std::fs::read_to_string(&status)
            && let Some(l) = t.lines().find(|l| l.starts_with("VmHWM:"))
        {
            let kib: u64 = l.split_whitespace().nth(1).unwrap().parse().unwrap();
            peak = peak.max(kib);
        }
        if let Some(st) = child.try_wait().unwrap() {
            let mut err = String::new();
            use std::io::Read;
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            return (st.code().unwrap_or(-1), peak, err);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Measurements for scripts/bench-backups.sh (not a test: `--ignored`, prints BENCH lines).
/// NFS_MANAGE_BENCH_TRANSPORT=rsync|bdsync, NFS_MANAGE_BENCH_SIZE (MiB, default 1024),
/// NFS_MANAGE_BENCH_DATA=random|sparse, NFS_MANAGE_BENCH_CHANGED (percent of the 4 KiB blocks
/// of the source changed against the target, default 1), NFS_MANAGE_BENCH_ROUNDS (default 5).
///
/// Each round runs, from the same target state and after the same snapshot steps, three
/// copies in alternating order (even rounds in this order, odd rounds reversed):
/// `nfs-manage backup run` (its sync step's time from the journal), the same sync command by
/// hand (rsync's argv, or bdsync's two members joined by a shell pipe, without nfs-manage's
/// wrapper on the remote side), and a raw copy of every byte, `ssh SOURCE dd if=SNAPSHOT |
/// dd of=TARGET`, over the same ssh. One BENCH line per round.
#[test]
#[ignore]
fn bench_backups() {
    privileged!();
    let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_string());
    let transport = env("NFS_MANAGE_BENCH_TRANSPORT", "rsync");
    let mib: u64 = env("NFS_MANAGE_BENCH_SIZE", "1024").parse().unwrap();
    let random = env("NFS_MANAGE_BENCH_DATA", "random") != "sparse";
    let pct: u64 = env("NFS_MANAGE_BENCH_CHANGED", "1").parse().unwrap();
    let rounds: usize = env("NFS_MANAGE_BENCH_ROUNDS", "5").parse().unwrap();
    // PCT% of the 4 KiB blocks, spread over the image.
    let blocks = mib * 256;
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let changed: Vec<u64> = (0..blocks * pct / 100)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % blocks) * 4096
        })
        .collect();
    let changed2 = changed.clone();
    let images = move |src: &Path, tgt: &Path| {
        let s = src.to_str().unwrap();
        if random {
            ok(&["sh", "-c", &format!("head -c {mib}M /dev/urandom > {s}")]);
        } else {
            ok(&["truncate", "-s", &format!("{mib}M"), s]);
        }
        ok(&["cp", "--sparse=always", s, tgt.to_str().unwrap()]);
        let f = std::fs::OpenOptions::new().write(true).open(src).unwrap();
        let junk = vec![0xA5u8; 4096];
        for off in &changed2 {
            use std::os::unix::fs::FileExt;
            f.write_all_at(&junk, *off).unwrap();
        }
        ok(&[
            "cp",
            "--sparse=always",
            tgt.to_str().unwrap(),
            &format!("{}.orig", tgt.display()),
        ]);
    };
    let bed = Bed::with(
        &transport,
        &images,
        "    keep_remote_snapshot: true\n    timeout: 2h\n",
    );
    let h = bed.host();
    let target_loop = bed.loopdev("standin", "backup", "tools");
    let orig = format!("{}/images/target.img.orig", bed.dir.display());
    // Put the changed blocks of the target back as they were (only those differ).
    let reset = || {
        use std::os::unix::fs::FileExt;
        let from = std::fs::File::open(&orig).unwrap();
        let to = std::fs::OpenOptions::new()
            .write(true)
            .open(&target_loop)
            .unwrap();
        let mut buf = vec![0u8; 4096];
        for off in &changed {
            from.read_exact_at(&mut buf, *off).unwrap();
            to.write_all_at(&buf, *off).unwrap();
        }
        to.sync_all().unwrap();
        assert_ne!(bed.source_sha(), bed.target_sha());
    };
    let strs = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect()
    };
    // The sync by hand and the raw copy, as shell commands, from the plan's pipeline.
    let plan = bed
        .run(&["--dry-run", "--json", "backup", "run", "tools"])
        .status(0)
        .json();
    let sync = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "sync:tools")
        .unwrap()
        .clone();
    let members: Vec<Vec<String>> = sync["pipeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(strs)
        .collect();
    let quote = |argv: &[String]| -> String {
        argv.iter()
            .map(|a| shlex::try_quote(a).unwrap().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let (by_hand, ssh_prefix, remote_dev, local_dev) = if transport == "bdsync" {
        // Client argv: bdsync --blocksize=N --remdata REMSH LOCAL REMOTE; REMSH starts with
        // nfs-manage's `backup wrap-remote … --` wrapper, left out by hand.
        let mut client = members[0].clone();
        let remsh = client[3].clone();
        let bare = remsh
            .split_once(" -- ")
            .map(|(_, r)| r.to_string())
            .unwrap();
        client[3] = bare.clone();
        let ssh = bare.split(" nice -n ").next().unwrap().to_string();
        let n = client.len();
        (
            format!("{} | {}", quote(&client), quote(&members[1])),
            ssh,
            client[n - 1].clone(),
            client[n - 2].clone(),
        )
    } else {
        // rsync … -e SSH --rsync-path … DEST:REMOTE LOCAL
        let argv = &members[0];
        let e = argv.iter().position(|a| a == "-e").unwrap();
        let n = argv.len();
        let (dest, remote) = argv[n - 2].split_once(':').unwrap();
        (
            quote(argv),
            format!("{} {dest}", argv[e + 1]),
            remote.to_string(),
            argv[n - 1].clone(),
        )
    };
    let raw_copy = format!(
        "{ssh_prefix} {} | dd of={} bs=1M status=none",
        shlex::try_quote(&format!("dd if={remote_dev} bs=1M status=none")).unwrap(),
        shlex::try_quote(&local_dev).unwrap()
    );
    let timed_sh = |script: &str| -> u64 {
        let t = Instant::now();
        let out = h.ns(&["sh", "-c", script]);
        let ms = t.elapsed().as_millis() as u64;
        assert!(
            out.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(bed.source_sha(), bed.target_sha(), "{script}");
        ms
    };
    // The snapshot steps of nfs-manage's last run, replayed: the stand-in's snapshots are fresh
    // image copies whose writeback and cache state would otherwise favour whichever copy runs
    // second.
    let replay = || {
        let journal = h.journal();
        let last = journal.iter().rfind(|r| r["step"] == "sync:tools").unwrap()["run"].clone();
        let before: Vec<Vec<String>> = journal
            .iter()
            .filter(|r| r["run"] == last)
            .take_while(|r| r["step"] != "sync:tools")
            .map(|r| strs(&r["argv"]))
            .collect();
        for argv in &before {
            // An `lvcreate … --name N … VG/ORIGIN` (local, or the last word of an ssh
            // command) gets its `lvremove -f VG/N` first, as in a later round of the run.
            let last = argv.last().unwrap();
            let words: Vec<&str> = last.split_whitespace().collect();
            let create: Vec<&str> = if argv[0] == "lvcreate" {
                argv.iter().map(String::as_str).collect()
            } else {
                words.clone()
            };
            if create.first() == Some(&"lvcreate") {
                let name = create[create.iter().position(|w| *w == "--name").unwrap() + 1];
                let vg = create.last().unwrap().split('/').next().unwrap();
                let rm = format!("lvremove -f {vg}/{name}");
                let mut rm_argv: Vec<String> = argv.clone();
                if argv[0] == "lvcreate" {
                    rm_argv = rm.split(' ').map(String::from).collect();
                } else {
                    *rm_argv.last_mut().unwrap() = rm;
                }
                let refs: Vec<&str> = rm_argv.iter().map(String::as_str).collect();
                let _ = h.ns(&refs);
            } else if words.first() == Some(&"lvremove") || argv[0] == "lvremove" {
                continue;
            }
            let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
            h.ns_ok(&refs);
        }
    };
    let nfs_manage = || -> (u64, u64, u64, u64) {
        reset();
        let t = Instant::now();
        let child = bed.spawn(&["--yes", "--quiet", "backup", "run", "tools"]);
        let (code, peak, err) = wait_peak_rss(child);
        assert_eq!(code, 0, "{err}");
        let run_ms = t.elapsed().as_millis() as u64;
        assert_eq!(bed.source_sha(), bed.target_sha());
        let sync = h
            .journal()
            .into_iter()
            .rfind(|r| r["step"] == "sync:tools")
            .unwrap();
        let result = h
            .journal()
            .into_iter()
            .rfind(|r| r["step"] == "backup-result")
            .unwrap();
        (
            sync["duration_ms"].as_u64().unwrap(),
            run_ms,
            peak,
            result["diff_bytes"].as_u64().unwrap_or(0),
        )
    };
    let hand = || {
        reset();
        replay();
        timed_sh(&by_hand)
    };
    let raw = || {
        reset();
        replay();
        timed_sh(&raw_copy)
    };
    // One run first, so the first measured round does not pay for a cold cache alone.
    nfs_manage();
    for round in 0..rounds {
        let (nm, hand_ms, raw_ms) = if round % 2 == 0 {
            let nm = nfs_manage();
            let hd = hand();
            (nm, hd, raw())
        } else {
            let rw = raw();
            let hd = hand();
            (nfs_manage(), hd, rw)
        };
        let (sync_ms, run_ms, peak, diff) = nm;
        println!(
            "BENCH transport={transport} size_mib={mib} data={} changed_pct={pct} round={round} sync_step_ms={sync_ms} backup_run_ms={run_ms} by_hand_ms={hand_ms} raw_copy_ms={raw_ms} diff_bytes={diff} peak_rss_kib={peak}",
            if random { "random" } else { "sparse" },
        );
    }
}
