//! `project move` between two real two-node pairs on one LAN, with one etcd (the harness's
//! `Pair` and `Pair::second_on`). Cluster `test`: labstore1004 (192.0.2.6) serves project
//! alpha from volume tools, labstore1005 (192.0.2.7) is its standby. Cluster `other`:
//! labstore1006 (192.0.2.8, standby, listed first) and labstore1007 (192.0.2.9, serving).
//! Each cluster is brought up with `nfs-manage up` on its serving node: its volumes mounted,
//! its service IP (192.0.2.18, 192.0.2.19), its cluster lock in etcd. The move runs on
//! labstore1004 with a layout (fleet.yaml) of both clusters: real rsync over real ssh to the
//! target's serving node, `status` and `exports sync` asked there over ssh, real exportfs and
//! etab on every node.

use std::path::{Path, PathBuf};

use crate::harness::*;

const CLIENT: &str = "192.0.2.51";
const SRC: &str = "/srv/tools/shared/alpha";
const DST: &str = "/srv/misc/shared/alpha";

struct Bed {
    /// Cluster `test`: `p.a` labstore1004 serves project alpha, `p.b` labstore1005 is standby.
    p: Pair,
    /// Cluster `other`: `q.a` labstore1006 is standby, `q.b` labstore1007 serves (the target).
    q: Pair,
    fleet: PathBuf,
}

fn indented(cfg: &str) -> String {
    cfg.lines()
        .filter(|l| !l.starts_with("cluster:"))
        .map(|l| format!("    {l}\n"))
        .collect()
}

/// The `remote:` section of a config (three lines: remote, ssh, user).
fn remote_of(cfg: &str) -> String {
    cfg.lines()
        .skip_while(|l| !l.starts_with("remote:"))
        .take(3)
        .map(|l| format!("{l}\n"))
        .collect()
}

fn without_remote(cfg: &str) -> String {
    let r = remote_of(cfg);
    cfg.replace(&r, "")
}

fn bed() -> Bed {
    bed_with(Spec::default())
}

fn bed_with(spec: Spec) -> Bed {
    let p = Pair::new(spec.clone());
    let q = Pair::second_on(&p, spec);
    for h in p.hosts().into_iter().chain(q.hosts()) {
        h.enable_exports("");
    }
    // Each cluster up on its serving node: volumes mounted, service IP, cluster lock.
    p.a.run(&["--yes", "up"]).status(0);
    q.b.run(&["--yes", "up"]).status(0);
    assert_eq!(p.etcd.holder().as_deref(), Some(NODE));
    assert!(
        p.etcd
            .get(OTHER_LOCK_KEY)
            .is_some_and(|v| v.starts_with(&format!("{OTHER_PEER}@"))),
        "{:?}",
        p.etcd.get(OTHER_LOCK_KEY)
    );
    assert!(p.a.has_service_ip() && q.b.has_service_ip());
    q.b.ns_ok(&["mkdir", "-p", "/srv/misc/shared"]);
    p.a.write_project(
        "alpha",
        &format!("name: alpha\ngid: 50100\nvolume: tools\nclients: [{CLIENT}]\n"),
    );
    p.a.ns_ok(&["install", "-d", "-g", "50100", "-m", "2775", SRC]);
    // A tree worth copying: files, a hard link, a symlink, a subdirectory.
    p.a.ns_ok(&[
        "sh",
        "-c",
        &format!(
            "cd {SRC} && mkdir -p sub && for i in $(seq 1 200); do echo $i > f$i; done && \
             head -c 300000 /dev/urandom > sub/big && ln f1 hard && ln -s f2 soft"
        ),
    ]);
    p.a.run(&["--yes", "exports", "sync"]).status(0);
    assert!(p.a.etab().contains(SRC), "{}", p.a.etab());

    // The layout: both clusters as their nodes have them (`other` as labstore1007's config
    // says: its paths are that node's), the operator's ssh (labstore1004's keys) for both.
    let a_cfg = std::fs::read_to_string(p.a.inside("/run/node/cluster.yaml")).unwrap();
    let o_cfg = std::fs::read_to_string(q.b.inside("/run/node/cluster.yaml")).unwrap();
    let layout = format!(
        "node_config: /run/node/cluster.yaml\nclusters:\n  test:\n{}  other:\n{}",
        indented(&a_cfg),
        indented(&format!("{}{}", without_remote(&o_cfg), remote_of(&a_cfg)))
    );
    let fleet = p.a.dir.path().join("fleet.yaml");
    std::fs::write(&fleet, layout).unwrap();
    Bed { p, q, fleet }
}

/// The layout with cluster `other` described without a lock and without a service IP, so
/// the move can only learn its serving node by asking each node for its `status`. The
/// nodes' own configs keep theirs.
fn unlocked(fleet: &Path) -> String {
    let text = std::fs::read_to_string(fleet).unwrap();
    let (test, other) = text.split_once("  other:\n").unwrap();
    let mut out = String::new();
    let mut skipping = false;
    for l in other.lines() {
        // A section of `other` (`lock:`, `service_ip:`) and its deeper-indented lines.
        let t = l.trim_start();
        if t.starts_with("lock:") || t.starts_with("service_ip:") {
            skipping = true;
            continue;
        }
        if skipping && l.starts_with("      ") {
            continue;
        }
        skipping = false;
        out.push_str(l);
        out.push('\n');
    }
    assert!(
        !out.contains("lock:") && !out.contains("service_ip:"),
        "{out}"
    );
    std::fs::write(fleet, format!("{test}  other:\n{out}")).unwrap();
    fleet.to_str().unwrap().to_string()
}

/// Every file under `dir` with its contents (symlinks as their target).
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(base: &Path, d: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for e in std::fs::read_dir(d).unwrap() {
            let e = e.unwrap();
            let rel = e.path().strip_prefix(base).unwrap().display().to_string();
            let t = e.file_type().unwrap();
            if t.is_dir() {
                out.push((format!("{rel}/"), Vec::new()));
                walk(base, &e.path(), out);
            } else if t.is_symlink() {
                let target = std::fs::read_link(e.path()).unwrap();
                out.push((rel, target.display().to_string().into_bytes()));
            } else {
                out.push((rel, std::fs::read(e.path()).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn etab_lines(h: &Host, path: &str) -> Vec<String> {
    h.etab()
        .lines()
        .filter(|l| l.starts_with(&format!("{path}\t")))
        .map(String::from)
        .collect()
}

#[test]
fn a_project_moves_with_a_writer_during_the_passes() {
    privileged!();
    let Bed { p, q, fleet } = bed();
    let fleet = fleet.to_str().unwrap();
    let moved = |h: &Host, name: &str| h.projects_dir().join(name).exists();

    // The dry run shows every step and changes nothing.
    let j = dry_run_of_move(&p, fleet);
    let ids: Vec<&str> = j["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "pass-1",
            "pass-2",
            "pass-3",
            "pass-4",
            "pass-5",
            "read-only",
            "final-pass",
            "compare-lists",
            "compare-checksums",
            "target-project-file",
            "target-exports",
            "target-live",
            "source-files",
            "withdraw"
        ],
        "{j:#}"
    );
    assert_eq!(j["result"], "dry run");
    // Passes after the second are conditional, and say on what.
    assert!(j["steps"][1]["only_if"].is_null(), "{j:#}");
    assert_eq!(
        j["steps"][2]["only_if"], "pass 2 changed more than 10000 entries or 1.00 GiB",
        "{j:#}"
    );
    // The target's serving node is the holder of its cluster lock, at its own address.
    assert!(
        j["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == "other: reached at 192.0.2.9: labstore1007, serving by its cluster lock"),
        "{j:#}"
    );
    assert!(!q.b.inside(DST).exists());
    assert!(moved(&p.a, "alpha.yaml"));

    // Bad targets: usage errors naming what exists.
    p.a.run(&[
        "--fleet", fleet, "project", "move", "alpha", "--to", "nowhere",
    ])
    .status(2)
    .stderr_has("has no cluster \"nowhere\" (clusters: other, test)");
    p.a.run(&[
        "--fleet", fleet, "project", "move", "alpha", "--to", "other",
    ])
    .status(2)
    .stderr_has("cluster other has 2 volumes; say which: --to other/VOLUME");

    // A writer (standing in for the project's clients) keeps writing until the export it
    // writes through is read-only.
    let writer = p.a.ns_cmd(&[
        "sh",
        "-c",
        &format!(
            "i=0; while ! grep -q '^{SRC}[[:space:]].*(ro,' /var/lib/nfs/etab; do \
             i=$((i+1)); echo \"write $i\" > {SRC}/w$((i % 50)); echo $i > {SRC}/count; sleep 0.01; done"
        ),
    ])
    .spawn()
    .unwrap();
    let out = p.a.run(&[
        "--fleet",
        fleet,
        "--yes",
        "project",
        "move",
        "alpha",
        "--to",
        "other/misc",
    ]);
    let mut writer = writer;
    let _ = writer.kill();
    let _ = writer.wait();
    out.status(0)
        .stdout_has("Clients mount it from other now:")
        .stdout_has("alpha -rw,nfsvers=")
        .stdout_has(format!("192.0.2.19:{DST}"));

    // Live state: the target exports it, the source no longer does.
    let there = etab_lines(&q.b, DST);
    assert_eq!(there.len(), 1, "{}", q.b.etab());
    assert!(there[0].contains(&format!("{CLIENT}(rw,")), "{there:?}");
    assert!(etab_lines(&p.a, SRC).is_empty(), "{}", p.a.etab());
    // The data: equal trees, the source kept.
    let src = tree(&p.a.inside(SRC));
    assert!(
        src.iter().any(|(f, _)| f == "count"),
        "the writer wrote nothing"
    );
    assert_eq!(src, tree(&q.b.inside(DST)));
    let meta = std::fs::metadata(q.b.inside(DST)).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::gid(&meta), 50100);
    // The project file: moved, same GID, the fsid it had.
    assert!(!moved(&p.a, "alpha.yaml"));
    assert!(moved(&p.a, "alpha.yaml.moved"));
    let there = std::fs::read_to_string(q.b.projects_dir().join("alpha.yaml")).unwrap();
    assert!(there.contains("gid: 50100"), "{there}");
    assert!(there.contains("volume: misc"), "{there}");
    assert!(there.contains("fsid: "), "{there}");
    // Each pass journaled with its stats.
    let passes: Vec<serde_json::Value> = p
        .a
        .journal()
        .into_iter()
        .filter(|r| {
            r["command"] == "project move" && r["step"].as_str().unwrap_or("").starts_with("pass-")
        })
        .collect();
    // Two passes, then the third found the second had moved little: skipped, as the rest.
    let (run, skipped): (Vec<_>, Vec<_>) = passes.iter().partition(|r| r["result"] == "done");
    assert_eq!(run.len(), 2, "{passes:#?}");
    assert_eq!(skipped.len(), 3, "{passes:#?}");
    for r in &skipped {
        assert_eq!(r["result"], "skipped", "{r:#}");
        assert!(
            r["verify"]
                .as_str()
                .unwrap()
                .starts_with("skipped: pass 2 changed "),
            "{r:#}"
        );
    }
    for r in run {
        assert!(
            r["rsync"]["stats"]["files"].as_u64().unwrap() > 200,
            "{r:#}"
        );
        assert!(r["rsync"]["stats"]["transferred_size"].is_u64(), "{r:#}");
    }

    // A rerun: nothing left to do.
    p.a.run(&move_alpha(fleet))
        .status(0)
        .stdout_has("Nothing to do");

    // The source data stays until exports.keep_moved (default 7 days) has passed.
    p.a.run(&["--yes", "project", "move", "alpha", "--cleanup"])
        .status(3)
        .stderr_has(format!("its data in {SRC} is kept until "))
        .stderr_has("(exports.keep_moved = 7days); nothing was changed");
    assert!(p.a.inside(&format!("{SRC}/count")).exists());
    let moved_file = p.a.projects_dir().join("alpha.yaml.moved");
    ok(&["touch", "-d", "8 days ago", moved_file.to_str().unwrap()]);
    p.a.run(&["--yes", "project", "move", "alpha", "--cleanup"])
        .status(0);
    assert!(!p.a.inside(SRC).exists());
    assert!(!moved_file.exists());
    assert!(q.b.inside(&format!("{DST}/count")).exists());
    p.a.run(&["--yes", "project", "move", "alpha", "--cleanup"])
        .status(2)
        .stderr_has("project alpha was not moved from cluster test");
}

/// The run's result and the live state after a move stopped before the switch: the source
/// exported read-write again, the restoring journaled, nothing switched.
fn assert_restored(p: &Pair, q: &Pair, out: &Run, why: &str) {
    out.status(1)
        .stderr_has(why)
        .stderr_has(format!(
            "the move stopped before the switch; {SRC} is exported read-write again (journaled); a rerun resumes the move"
        ));
    let here = etab_lines(&p.a, SRC);
    assert_eq!(here.len(), 1, "{}", p.a.etab());
    assert!(here[0].contains(&format!("{CLIENT}(rw,")), "{here:?}");
    assert!(p.a.projects_dir().join("alpha.yaml").exists());
    assert!(etab_lines(&q.b, DST).is_empty(), "{}", q.b.etab());
    let j = p.a.journal();
    let ro = j.iter().rposition(|r| r["step"] == "read-only").unwrap();
    let rw = j
        .iter()
        .rposition(|r| r["step"] == "restore-read-write")
        .unwrap();
    assert!(rw > ro, "{j:#?}");
    assert_eq!(j[rw]["result"], "done", "{:#}", j[rw]);
}

#[test]
fn a_target_that_refuses_the_project_leaves_the_source_writable_and_a_rerun_finishes() {
    privileged!();
    let Bed { p, q, fleet } = bed();
    let fleet = fleet.to_str().unwrap();
    let move_ = move_alpha(fleet);
    // The target's projects directory is gone: writing the project file there fails.
    std::fs::remove_dir_all(q.b.projects_dir()).unwrap();
    let out = p.a.run(&move_);
    assert_restored(&p, &q, &out, "write ");
    // With --json: one document, the failed plan's, whose notes say what a failure before
    // the switch does; stderr says it was done.
    let mut json = vec!["--json"];
    json.extend(move_);
    let r = p.a.run(&json);
    r.status(1)
        .stderr_has("is exported read-write again (journaled)");
    let j = r.json();
    assert_eq!(j["result"], "failed", "{j:#}");
    assert_eq!(j["error"]["exit_code"], 1, "{j:#}");
    assert!(
        j["notes"].as_array().unwrap().iter().any(|n| n
            .as_str()
            .unwrap()
            .starts_with("a failure after the read-only step")),
        "{j:#}"
    );
    assert!(etab_lines(&p.a, SRC)[0].contains("(rw,"), "{}", p.a.etab());
    std::fs::create_dir_all(q.b.projects_dir()).unwrap();
    p.a.run(&move_).status(0);
    assert!(p.a.projects_dir().join("alpha.yaml.moved").exists());
    assert_eq!(etab_lines(&q.b, DST).len(), 1, "{}", q.b.etab());
    assert!(etab_lines(&p.a, SRC).is_empty(), "{}", p.a.etab());
}

#[test]
fn a_final_pass_that_fails_leaves_the_source_writable_and_a_rerun_finishes() {
    privileged!();
    let Bed { p, q, fleet } = bed();
    let fleet = fleet.to_str().unwrap();
    let move_ = move_alpha(fleet);
    // A file on the target that the final pass must delete and cannot (immutable).
    q.b.ns_ok(&[
        "sh",
        "-c",
        &format!("mkdir -p {DST} && touch {DST}/stuck && chattr +i {DST}/stuck"),
    ]);
    let out = p.a.run(&move_);
    assert_restored(&p, &q, &out, "final pass");
    q.b.ns_ok(&["chattr", "-i", &format!("{DST}/stuck")]);
    p.a.run(&move_).status(0);
    assert!(!q.b.inside(&format!("{DST}/stuck")).exists());
    assert_eq!(tree(&p.a.inside(SRC)), tree(&q.b.inside(DST)));
    assert!(etab_lines(&p.a, SRC).is_empty(), "{}", p.a.etab());
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn ms_of(t: &serde_json::Value) -> f64 {
    let t = humantime::parse_rfc3339_weak(t.as_str().unwrap()).unwrap();
    t.duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1000.0
}

/// The pause of a move (from the read-only re-export to the target's exports checked live)
/// for a project of `NFSM_BENCH_FILES` files (default 10,000) of which 1% are rewritten
/// without pause until the export is read-only, `NFSM_BENCH_RUNS` moves (default 5), each on
/// a fresh bed; per-step and total min and median from the journal. Run by
/// `scripts/bench-move.sh`.
#[test]
#[ignore = "benchmark: run by scripts/bench-move.sh"]
fn bench_move_pause() {
    privileged!();
    let env = |k: &str, d: usize| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let files = env("NFSM_BENCH_FILES", 10_000);
    let runs = env("NFSM_BENCH_RUNS", 5);
    let dirs = files.div_ceil(100);
    let changed = (files / 100).max(1);
    let steps = [
        "read-only",
        "final-pass",
        "compare-lists",
        "compare-checksums",
        "target-project-file",
        "target-exports",
        "target-live",
    ];
    let mut per_step: Vec<Vec<f64>> = vec![Vec::new(); steps.len()];
    let mut pauses = Vec::new();
    let mut last_pass_changes = Vec::new();
    for _ in 0..runs {
        // Room for the files: 128 MiB volumes have 32,768 inodes.
        let Bed { p, q, fleet } = bed_with(Spec {
            volume_mib: 128,
            ..Spec::default()
        });
        p.a.ns_ok(&[
            "sh",
            "-c",
            &format!(
                "cd {SRC} && for d in $(seq 1 {dirs}); do mkdir d$d; for f in $(seq 1 100); do echo $d.$f > d$d/f$f; done; done"
            ),
        ]);
        // 1% of the files rewritten over and over until the export is read-only.
        let mut writer = p
            .a
            .ns_cmd(&[
                "sh",
                "-c",
                &format!(
                    "i=0; while ! grep -q '^{SRC}[[:space:]].*(ro,' /var/lib/nfs/etab; do \
                     i=$((i+1)); for d in $(seq 1 {changed}); do echo $i > {SRC}/d$(( (d - 1) % {dirs} + 1 ))/f$(( (d - 1) / {dirs} + 1 )); done; sleep 0.05; done"
                ),
            ])
            .spawn()
            .unwrap();
        let fleet = fleet.to_str().unwrap();
        let out = p.a.run(&[
            "--fleet",
            fleet,
            "--yes",
            "project",
            "move",
            "alpha",
            "--to",
            "other/misc",
        ]);
        let _ = writer.kill();
        let _ = writer.wait();
        out.status(0);
        assert_eq!(etab_lines(&q.b, DST).len(), 1, "{}", q.b.etab());
        let j = p.a.journal();
        let rec = |id: &str| {
            j.iter()
                .rev()
                .find(|r| r["command"] == "project move" && r["step"] == id)
                .unwrap_or_else(|| panic!("no {id} in {j:#?}"))
                .clone()
        };
        for (i, s) in steps.iter().enumerate() {
            per_step[i].push(rec(s)["duration_ms"].as_f64().unwrap());
        }
        let live = rec("target-live");
        pauses.push(
            ms_of(&live["time"]) + live["duration_ms"].as_f64().unwrap()
                - ms_of(&rec("read-only")["time"]),
        );
        // The last pass that ran (those after it were skipped: it moved little).
        let last = j
            .iter()
            .rev()
            .find(|r| {
                r["command"] == "project move"
                    && r["result"] == "done"
                    && r["step"].as_str().is_some_and(|s| s.starts_with("pass-"))
            })
            .expect("a pass ran");
        last_pass_changes.push((
            last["step"].as_str().unwrap().to_string(),
            last["rsync"]["changes"].as_u64().unwrap(),
        ));
    }
    println!("BENCH files={files} changed_per_round={changed} runs={runs}");
    println!("BENCH last pass that ran, and its itemized changes: {last_pass_changes:?}");
    for (i, s) in steps.iter().enumerate() {
        let v = &per_step[i];
        println!(
            "BENCH step {s:<20} min {:>7.0} ms  median {:>7.0} ms",
            v.iter().cloned().fold(f64::INFINITY, f64::min),
            median(v.clone())
        );
    }
    println!(
        "BENCH pause (read-only start to target live) min {:.0} ms  median {:.0} ms  all {pauses:.0?}",
        pauses.iter().cloned().fold(f64::INFINITY, f64::min),
        median(pauses.clone())
    );
}

#[test]
fn a_verification_that_finds_a_difference_leaves_the_source_writable_and_a_rerun_finishes() {
    privileged!();
    let Bed { p, q, fleet } = bed();
    let fleet = fleet.to_str().unwrap();
    let move_ = move_alpha(fleet);
    // The target's rsync (first on its login PATH) plants a file in the target tree right
    // before the list comparison (a dry run with deletes: `n` among the server's short
    // options), once.
    let mark = q.b.dir.path().join("planted");
    let wrapper = q.b.dir.path().join("bin/rsync");
    install_script(
        &wrapper,
        &format!(
            "#!/bin/sh\ncase \" $* \" in *\" --delete\"*)\n  for a in \"$@\"; do\n    case \"$a\" in --*) ;; -*n*) [ -e {m} ] || {{ touch {m}; echo intruder > {DST}/intruder; }} ;; esac\n  done ;;\nesac\nexec /usr/bin/rsync \"$@\"\n",
            m = mark.display()
        ),
    );
    let out = p.a.run(&move_);
    assert_restored(
        &p,
        &q,
        &out,
        "the file lists differ in 2 entries: *deleting   intruder; .d..t...... ./",
    );
    assert!(mark.exists());
    p.a.run(&move_).status(0);
    assert!(!q.b.inside(&format!("{DST}/intruder")).exists());
    assert_eq!(tree(&p.a.inside(SRC)), tree(&q.b.inside(DST)));
    assert_eq!(etab_lines(&q.b, DST).len(), 1, "{}", q.b.etab());
}

#[test]
fn ssh_dropping_at_the_switch_leaves_the_source_writable_and_a_rerun_finishes() {
    privileged!();
    let Bed { p, q, fleet } = bed();
    let fleet = fleet.to_str().unwrap();
    let move_ = move_alpha(fleet);
    // ssh (first on the source's PATH) drops the connection that runs `exports sync` on the
    // target, once.
    let mark = p.a.dir.path().join("dropped");
    let wrapper = p.a.dir.path().join("bin/ssh");
    install_script(
        &wrapper,
        &format!(
            "#!/bin/sh\ncase \"$*\" in *\"exports sync\"*)\n  [ -e {m} ] || {{ touch {m}; echo 'Connection closed by 192.0.2.9 port 22' >&2; exit 255; }} ;;\nesac\nexec /usr/bin/ssh \"$@\"\n",
            m = mark.display()
        ),
    );
    let out = p.a.run(&move_);
    assert_restored(&p, &q, &out, "Connection closed by 192.0.2.9 port 22");
    assert!(mark.exists());
    p.a.run(&move_).status(0);
    assert_eq!(etab_lines(&q.b, DST).len(), 1, "{}", q.b.etab());
    assert!(etab_lines(&p.a, SRC).is_empty(), "{}", p.a.etab());
    assert!(p.a.projects_dir().join("alpha.yaml.moved").exists());
}

#[test]
fn a_project_written_faster_than_it_is_copied_is_not_paused() {
    privileged!();
    let Bed { p, q, fleet } = bed();
    let fleet = fleet.to_str().unwrap();
    let mut writer =
        p.a.ns_cmd(&[
            "sh",
            "-c",
            &format!(
                "i=0; while true; do i=$((i+1)); echo $i > {SRC}/busy$((i % 20)); sleep 0.005; done"
            ),
        ])
        .spawn()
        .unwrap();
    // The pause may start only after a pass that changed nothing: it never does.
    let out = p.a.run(&[
        "--fleet",
        fleet,
        "--yes",
        "project",
        "move",
        "alpha",
        "--to",
        "other/misc",
        "--settle-files",
        "0",
        "--max-passes",
        "3",
    ]);
    let _ = writer.kill();
    let _ = writer.wait();
    out.status(3)
        .stderr_has("after 3 passes the last one still moved")
        .stderr_has("the project stays writable");
    let here = etab_lines(&p.a, SRC);
    assert!(here[0].contains(&format!("{CLIENT}(rw,")), "{here:?}");
    assert!(etab_lines(&q.b, DST).is_empty(), "{}", q.b.etab());
    assert!(p.a.projects_dir().join("alpha.yaml").exists());
}

/// Nobody serves the target cluster: labstore1007 stood down, its lock is free, both nodes
/// are standby. Nothing is guessed, nothing changes: by the lock, and also when the layout has
/// no lock and both nodes are asked (each one's answer named).
#[test]
fn a_target_cluster_that_nobody_serves_is_refused() {
    privileged!();
    let Bed { p, q, fleet } = bed();
    q.b.run(&["--yes", "down"]).status(0);
    assert_eq!(p.etcd.get(OTHER_LOCK_KEY), None);
    for h in q.hosts() {
        let st = h.run(&["status", "--json"]).json();
        assert_eq!(st["role"], "standby", "{}: {st:#}", h.name);
    }
    let before = p.a.etab();
    p.a.run(&move_alpha(fleet.to_str().unwrap()))
        .status(3)
        .stderr_has("cannot tell which node of cluster other serves now (/nfs-manage/other/active is free: no node is up); nothing was changed");
    let fleet = unlocked(&fleet);
    p.a.run(&move_alpha(&fleet))
        .status(3)
        .stderr_has("cannot tell which node of cluster other serves now (labstore1006: standby; labstore1007: standby); nothing was changed");
    assert_eq!(p.a.etab(), before);
    for h in q.hosts() {
        assert!(!h.inside(DST).exists(), "{}", h.name);
        assert!(!h.projects_dir().join("alpha.yaml").exists(), "{}", h.name);
    }
    assert!(p.a.journal().iter().all(|r| r["command"] != "project move"));
}

/// A target cluster without a lock (nor a service IP) is asked: the node whose own `status`
/// says active would be reached. Here none does — labstore1006 refuses ssh, labstore1007
/// serves with a volume unmounted (degraded) — so nothing is guessed: refused, each node's
/// answer named.
#[test]
fn without_a_lock_the_target_nodes_are_asked_and_none_is_guessed() {
    privileged!();
    let Bed { p, mut q, fleet } = bed();
    let fleet = unlocked(&fleet);
    q.stop_sshd(true);
    q.b.ns_ok(&["umount", "/srv/tools"]);
    p.a.run(&[
        "--fleet", &fleet, "--dry-run", "project", "move", "alpha", "--to", "other/misc",
    ])
    .status(3)
    .stderr_has("cannot tell which node of cluster other serves now (labstore1006: `ssh")
    .stderr_has("Connection refused; labstore1007: degraded (volume tools: NFS is running but the volume is not mounted)); nothing was changed");
}

/// Without a lock, both target nodes are asked; labstore1007's own `status` says active, so
/// the move goes there, not to labstore1006, which the layout lists first.
#[test]
fn without_a_lock_the_move_goes_to_the_node_that_says_it_is_active() {
    privileged!();
    let Bed { p, q, fleet } = bed();
    let fleet = unlocked(&fleet);
    let j = dry_run_of_move(&p, &fleet);
    assert!(
        j["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == "other: reached at 192.0.2.9: labstore1007, serving by its own status"),
        "{j:#}"
    );
    p.a.run(&move_alpha(&fleet)).status(0);
    assert_eq!(etab_lines(&q.b, DST).len(), 1, "{}", q.b.etab());
    assert_eq!(tree(&p.a.inside(SRC)), tree(&q.b.inside(DST)));
    assert!(q.b.projects_dir().join("alpha.yaml").exists());
    assert!(etab_lines(&p.a, SRC).is_empty(), "{}", p.a.etab());
    // labstore1006 got nothing.
    assert!(q.a.etab().is_empty(), "{}", q.a.etab());
    assert!(!q.a.inside(DST).exists());
    assert!(!q.a.projects_dir().join("alpha.yaml").exists());
}

/// Clients keep writing during the first two passes, then stop: more passes run until one
/// moves little, and the ones after it are skipped.
#[test]
fn passes_go_on_until_the_delta_is_small() {
    privileged!();
    let Bed { p, q, fleet } = bed();
    let fleet = fleet.to_str().unwrap();
    // After each of the first two passes' transfers (rsync waits for its ssh), 30 new files.
    let count = p.a.dir.path().join("passes");
    install_script(
        &p.a.dir.path().join("bin/ssh"),
        &format!(
            "#!/bin/sh\n/usr/bin/ssh \"$@\"; rc=$?\ncase \"$*\" in *\"rsync --server\"*)\n  n=$(( $(cat {c} 2>/dev/null || echo 0) + 1 )); echo $n > {c}\n  [ $n -le 2 ] && for i in $(seq 30); do echo $n > {SRC}/during-$n-$i; done ;;\nesac\nexit $rc\n",
            c = count.display()
        ),
    );
    let mut args = move_alpha(fleet).to_vec();
    args.extend(["--settle-files", "10"]);
    let out = p.a.run(&args);
    out.status(0).stdout_has(
        "skipped [5/14] pass 5: copy /srv/tools/shared/alpha to other: pass 4 changed 0 entries",
    );
    let passes: Vec<(String, String)> =
        p.a.journal()
            .into_iter()
            .filter(|r| r["step"].as_str().unwrap_or("").starts_with("pass-"))
            .map(|r| {
                (
                    r["step"].as_str().unwrap().to_string(),
                    r["result"].as_str().unwrap().to_string(),
                )
            })
            .collect();
    let want: Vec<(String, String)> = [
        ("pass-1", "done"),
        ("pass-2", "done"),
        ("pass-3", "done"),
        ("pass-4", "done"),
        ("pass-5", "skipped"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(passes, want);
    // Every file written during the passes is on the target.
    assert_eq!(tree(&p.a.inside(SRC)), tree(&q.b.inside(DST)));
    assert!(q.b.inside(&format!("{DST}/during-2-30")).exists());
}

#[test]
fn ssh_dropping_during_the_first_pass_changes_nothing_and_a_rerun_finishes() {
    privileged!();
    let Bed { p, q, fleet } = bed();
    let fleet = fleet.to_str().unwrap();
    let move_ = move_alpha(fleet);
    let mark = p.a.dir.path().join("dropped");
    let wrapper = p.a.dir.path().join("bin/ssh");
    install_script(
        &wrapper,
        &format!(
            "#!/bin/sh\ncase \"$*\" in *\"rsync --server\"*)\n  [ -e {m} ] || {{ touch {m}; echo 'Connection closed by 192.0.2.9 port 22' >&2; exit 255; }} ;;\nesac\nexec /usr/bin/ssh \"$@\"\n",
            m = mark.display()
        ),
    );
    let before = p.a.etab();
    p.a.run(&move_)
        .status(1)
        .stderr_has("step 1 of 14 (pass 1: copy /srv/tools/shared/alpha to other)")
        .stderr_has("Connection closed by 192.0.2.9 port 22");
    // Never paused: the exports are as they were, nothing was restored.
    assert_eq!(p.a.etab(), before);
    assert!(
        !p.a.journal()
            .iter()
            .any(|r| r["step"] == "read-only" || r["step"] == "restore-read-write")
    );
    p.a.run(&move_).status(0);
    assert_eq!(etab_lines(&q.b, DST).len(), 1, "{}", q.b.etab());
    assert_eq!(tree(&p.a.inside(SRC)), tree(&q.b.inside(DST)));
}

/// A client rewrites a file while a pass reads it (here: empties it once 1 MB of it went
/// out): rsync says `read errors mapping "…": No data available (61)` and exits 23. On a
/// project that is still writable that is the writer's doing, not a failure: the pass is done
/// with a note naming the file, and the next pass copies the file as it is now.
#[test]
fn a_file_that_shrinks_while_a_pass_reads_it_is_copied_again_by_the_next_pass() {
    privileged!();
    let Bed { p, q, fleet } = bed();
    let fleet = fleet.to_str().unwrap();
    // First in the transfer order, and big enough that rsync is still reading it when the
    // first megabyte has gone out.
    let big = format!("{SRC}/aaa-big");
    p.a.ns_ok(&["sh", "-c", &format!("head -c 8000000 /dev/urandom > {big}")]);
    let mark = p.a.dir.path().join("shrunk");
    // ssh (first on the source's PATH) empties the file during the first pass.
    ssh_emptying_mid_transfer(&p.a.dir.path().join("bin"), &big, &mark);
    p.a.run(&move_alpha(fleet)).status(0);
    assert!(mark.exists());
    let j = p.a.journal();
    let pass1 = j.iter().find(|r| r["step"] == "pass-1").unwrap();
    assert_eq!(pass1["result"], "done", "{pass1:#}");
    assert!(
        pass1["verify"].as_str().unwrap().contains(&format!(
            "{big} changed while read: a later pass copies it again"
        )),
        "{pass1:#}"
    );
    assert_eq!(tree(&p.a.inside(SRC)), tree(&q.b.inside(DST)));
    assert_eq!(
        std::fs::metadata(q.b.inside(&format!("{DST}/aaa-big")))
            .unwrap()
            .len(),
        0
    );
    assert_eq!(etab_lines(&q.b, DST).len(), 1, "{}", q.b.etab());
}

/// `--json --dry-run project move alpha --to other/misc` with the layout `fleet`.
fn dry_run_of_move(p: &Pair, fleet: &str) -> serde_json::Value {
    p.a.run(&[
        "--fleet",
        fleet,
        "--json",
        "--dry-run",
        "project",
        "move",
        "alpha",
        "--to",
        "other/misc",
    ])
    .status(0)
    .json()
}

/// `project move alpha --to other/misc --yes` on the fleet `fleet`.
fn move_alpha(fleet: &str) -> [&str; 8] {
    [
        "--fleet",
        fleet,
        "--yes",
        "project",
        "move",
        "alpha",
        "--to",
        "other/misc",
    ]
}

/// An executable script at `path` (a wrapper put first on a PATH to inject a fault).
fn install_script(path: &std::path::Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
}
