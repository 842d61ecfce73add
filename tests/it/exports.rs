//! Projects and exports: `enable-project`, `disable-project`, `exports sync`, `exports import`,
//! with real exportfs and etab, real getent against a test /etc/group, and clients_command
//! stand-ins (shell scripts) that succeed, fail like an API answering 401, hang, or print
//! garbage.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::time::{Duration, Instant};

use crate::harness::*;

const GROUPS: &str =
    "root:x:0:\nproject-alpha:x:50100:alice\nproject-beta:x:50200:\nproject-gamma:x:50300:\n";

pub(crate) fn exports_host() -> Host {
    let h = Host::new();
    h.enable_exports("");
    h.write_group(GROUPS);
    h
}

/// A project on volume misc with a clients_command script printing `json`.
pub(crate) fn cmd_project(h: &Host, name: &str, gid: u32, json: &str) {
    let script = h.script(name, &format!("echo '{json}'"));
    h.write_project(
        name,
        &format!(
            "name: {name}\ngid: {gid}\nvolume: misc\nclients_command: [{}]\n",
            script.display()
        ),
    );
    h.ns_ok(&["install", "-d", &format!("/srv/misc/shared/{name}")]);
}

pub(crate) fn static_project(h: &Host, name: &str, gid: u32, clients: &[&str]) {
    h.write_project(
        name,
        &format!(
            "name: {name}\ngid: {gid}\nvolume: misc\nclients: [{}]\n",
            clients.join(", ")
        ),
    );
    h.ns_ok(&["install", "-d", &format!("/srv/misc/shared/{name}")]);
}

/// etab lines for one export path, as written by exportfs.
pub(crate) fn etab_of(h: &Host, path: &str) -> Vec<String> {
    let prefix = format!("{path}\t");
    let mut v: Vec<String> = h
        .etab()
        .lines()
        .filter(|l| l.starts_with(&prefix))
        .map(String::from)
        .collect();
    v.sort();
    v
}

pub(crate) fn clients_of(h: &Host, path: &str) -> Vec<String> {
    etab_of(h, path)
        .iter()
        .map(|l| {
            l.split('\t')
                .nth(1)
                .unwrap()
                .split('(')
                .next()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// The command line of each step of a `--json` plan (empty for a file step).
pub(crate) fn step_argvs(plan: &serde_json::Value) -> Vec<Vec<String>> {
    plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            s["argv"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_string())
                .collect()
        })
        .collect()
}

pub(crate) fn exports_file(h: &Host, name: &str) -> Option<String> {
    std::fs::read_to_string(h.inside(&format!("/etc/exports.d/{name}"))).ok()
}

pub(crate) fn three_projects(h: &Host) {
    cmd_project(h, "alpha", 50100, r#"["192.0.2.50", "192.0.2.51"]"#);
    cmd_project(h, "beta", 50200, r#"["192.0.2.60", "192.0.2.61"]"#);
    static_project(h, "gamma", 50300, &["198.51.100.0/24", "192.0.2.70"]);
}

#[test]
fn enable_project_exports_it_and_converges() {
    privileged!();
    let h = exports_host();
    h.activate();
    h.run(&[
        "enable-project",
        "alpha",
        "--volume",
        "misc",
        "--clients",
        "192.0.2.50,192.0.2.51",
        "--yes",
    ])
    .status(0)
    .stdout_has("Still to do by hand")
    .stdout_has("hiera")
    .stdout_has("reboot");
    // The GID came from the test /etc/group through real getent.
    let project = std::fs::read_to_string(h.projects_dir().join("alpha.yaml")).unwrap();
    assert!(project.contains("gid: 50100"), "{project}");
    // The directory: on the mounted volume, group 50100, setgid.
    let md = std::fs::metadata(h.inside("/srv/misc/shared/alpha")).unwrap();
    assert!(md.is_dir());
    assert_eq!(md.gid(), 50100);
    assert_ne!(md.permissions().mode() & 0o2000, 0, "setgid bit");
    // Exported, with the fsid pinned to the GID.
    let lines = etab_of(&h, "/srv/misc/shared/alpha");
    assert_eq!(lines.len(), 2, "{}", h.etab());
    assert!(
        lines
            .iter()
            .all(|l| l.contains(",fsid=50100,") && l.contains("(rw,")),
        "{lines:?}"
    );
    assert_eq!(
        clients_of(&h, "/srv/misc/shared/alpha"),
        ["192.0.2.50", "192.0.2.51"]
    );
    assert!(
        exports_file(&h, "project-alpha.exports")
            .unwrap()
            .contains("192.0.2.51(rw,sync,no_subtree_check,root_squash,fsid=50100)")
    );
    let steps: Vec<String> = h
        .journal()
        .iter()
        .map(|j| j["step"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        steps,
        ["project-file", "directory", "exports-file", "export"]
    );
    assert!(h.journal().iter().all(|j| j["verify"] == "ok"));

    // Again: nothing to do.
    h.run(&[
        "enable-project",
        "alpha",
        "--volume",
        "misc",
        "--clients",
        "192.0.2.50,192.0.2.51",
        "--yes",
    ])
    .status(0)
    .stdout_has("Nothing to do");

    // A sync afterwards agrees: nothing to change.
    h.run(&["exports", "sync", "--yes"])
        .status(0)
        .stdout_has("Nothing to do");

    // One client replaced: one exportfs run (`-ra` of the files), not `-u` then `-o`.
    let ran = exportfs_runs_of_enable(&h, "192.0.2.50,192.0.2.52");
    assert_eq!(ran, [["exportfs", "-ra"]]);
    assert_eq!(
        clients_of(&h, "/srv/misc/shared/alpha"),
        ["192.0.2.50", "192.0.2.52"]
    );
    // Only added: one `exportfs -i -o`.
    let ran = exportfs_runs_of_enable(&h, "192.0.2.50,192.0.2.52,192.0.2.53");
    assert_eq!(ran.len(), 1);
    assert_eq!(ran[0][..3], ["exportfs", "-i", "-o"]);
    h.run(&["exports", "sync", "--yes"])
        .status(0)
        .stdout_has("Nothing to do");
}

/// The exportfs commands `enable-project alpha --volume misc --clients CLIENTS` ran.
fn exportfs_runs_of_enable(h: &Host, clients: &str) -> Vec<Vec<String>> {
    let plan = h
        .run(&[
            "enable-project",
            "alpha",
            "--volume",
            "misc",
            "--clients",
            clients,
            "--yes",
            "--json",
        ])
        .status(0)
        .json();
    plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["state"] == "done" && s["argv"][0] == "exportfs")
        .map(|s| serde_json::from_value(s["argv"].clone()).unwrap())
        .collect()
}

#[test]
fn enable_project_refuses_missing_group_and_taken_gid() {
    privileged!();
    let h = exports_host();
    h.activate();
    h.run(&[
        "enable-project",
        "nosuch",
        "--volume",
        "misc",
        "--clients",
        "192.0.2.9",
        "--yes",
    ])
    .status(3)
    .stderr_has("group project-nosuch does not exist");
    static_project(&h, "gamma", 50300, &["192.0.2.70"]);
    h.run(&[
        "enable-project",
        "delta",
        "--gid",
        "50300",
        "--volume",
        "misc",
        "--clients",
        "192.0.2.9",
        "--yes",
    ])
    .status(3)
    .stderr_has("GID 50300 already belongs to project gamma");
    h.run(&[
        "enable-project",
        "bad/name",
        "--volume",
        "misc",
        "--clients",
        "192.0.2.9",
        "--yes",
    ])
    .status(2);
    assert!(!h.projects_dir().join("delta.yaml").exists());
    assert!(!h.inside("/srv/misc/shared/delta").exists());
    assert!(h.journal().is_empty());
}

#[test]
fn disable_project_withdraws_exports_and_keeps_data() {
    privileged!();
    let h = exports_host();
    h.activate();
    h.run(&[
        "enable-project",
        "alpha",
        "--volume",
        "misc",
        "--clients",
        "192.0.2.50",
        "--yes",
    ])
    .status(0);
    std::fs::write(h.inside("/srv/misc/shared/alpha/data"), "keep me").unwrap();
    h.run(&["disable-project", "alpha", "--yes"]).status(0);
    assert!(
        etab_of(&h, "/srv/misc/shared/alpha").is_empty(),
        "{}",
        h.etab()
    );
    assert!(exports_file(&h, "project-alpha.exports").is_none());
    assert!(!h.projects_dir().join("alpha.yaml").exists());
    assert!(h.projects_dir().join("alpha.yaml.disabled").exists());
    assert_eq!(
        std::fs::read_to_string(h.inside("/srv/misc/shared/alpha/data")).unwrap(),
        "keep me"
    );
    // A sync does not bring it back.
    h.run(&["exports", "sync", "--yes"]).status(0);
    assert!(etab_of(&h, "/srv/misc/shared/alpha").is_empty());
    h.run(&["disable-project", "alpha", "--yes"])
        .status(0)
        .stdout_has("Nothing to do");
}

#[test]
fn sync_exports_projects_and_public_and_converges() {
    privileged!();
    let h = Host::new();
    h.enable_exports("public:\n  - { name: scratch, path: /srv/tools/scratch, options: [rw, sec=sys, sync, no_subtree_check, root_squash], fsid: 9 }\n");
    h.activate();
    h.ns_ok(&["mkdir", "/srv/tools/scratch"]);
    three_projects(&h);
    // A file that is not ours: reported, left alone.
    h.write_exports("local.exports", "/srv/tools 192.0.2.99(ro,fsid=77)\n");
    h.run(&["exports", "sync", "--yes"])
        .status(0)
        .stdout_has("/etc/exports.d/local.exports is not managed by nfs-manage");
    assert_eq!(
        clients_of(&h, "/srv/misc/shared/alpha"),
        ["192.0.2.50", "192.0.2.51"]
    );
    assert_eq!(
        clients_of(&h, "/srv/misc/shared/beta"),
        ["192.0.2.60", "192.0.2.61"]
    );
    assert_eq!(
        clients_of(&h, "/srv/misc/shared/gamma"),
        ["192.0.2.70", "198.51.100.0/24"]
    );
    assert_eq!(clients_of(&h, "/srv/tools/scratch"), ["*"]);
    assert!(etab_of(&h, "/srv/tools/scratch")[0].contains(",fsid=9,"));
    assert!(exports_file(&h, "public.exports").is_some());
    assert!(
        exports_file(&h, "local.exports")
            .unwrap()
            .contains("192.0.2.99")
    );
    // Second run: nothing to do, nothing journaled.
    let before = h.journal().len();
    h.run(&["exports", "sync", "--yes"])
        .status(0)
        .stdout_has("Nothing to do");
    assert_eq!(h.journal().len(), before);
}

/// The project cache (`paths.state/projects.cache`) is written by a sync, never by a dry run,
/// and never stands in for a file that changed: an edit that keeps the size and sets the mtime
/// back, a removed file, a new file, a corrupt cache.
#[test]
fn the_project_cache_never_hides_a_change() {
    privileged!();
    let h = exports_host();
    h.activate();
    static_project(&h, "alpha", 50100, &["192.0.2.50"]);
    static_project(&h, "beta", 50200, &["192.0.2.60"]);
    // Files changed within the last 2 s are not recorded (the kernel's coarse timestamps).
    let settle = || std::thread::sleep(Duration::from_millis(2200));
    settle();
    let cache = h.dir.path().join("state/projects.cache");
    h.run(&["exports", "sync", "--dry-run"]).status(0);
    assert!(!cache.exists(), "a dry run wrote the cache");
    h.run(&["exports", "sync", "--yes"]).status(0);
    let text = std::fs::read_to_string(&cache).unwrap();
    assert!(
        text.contains("alpha.yaml") && text.contains("beta.yaml"),
        "{text}"
    );

    // Same size, the mtime set back: only the ctime differs.
    let alpha = h.projects_dir().join("alpha.yaml");
    let old = std::fs::metadata(&alpha).unwrap();
    let yaml = std::fs::read_to_string(&alpha).unwrap();
    std::fs::write(&alpha, yaml.replace("192.0.2.50", "192.0.2.51")).unwrap();
    let stamp = format!("@{}.{:09}", old.mtime(), old.mtime_nsec());
    let touched = std::process::Command::new("touch")
        .args(["-d", &stamp])
        .arg(&alpha)
        .status()
        .unwrap();
    assert!(touched.success());
    let new = std::fs::metadata(&alpha).unwrap();
    assert_eq!(
        (new.len(), new.mtime(), new.mtime_nsec()),
        (old.len(), old.mtime(), old.mtime_nsec())
    );
    // (--force: one of the two client entries is replaced, more than the shrink guard allows.)
    h.run(&["exports", "sync", "--yes", "--force"]).status(0);
    assert_eq!(clients_of(&h, "/srv/misc/shared/alpha"), ["192.0.2.51"]);

    // A removed file and a new one.
    std::fs::remove_file(h.projects_dir().join("beta.yaml")).unwrap();
    static_project(&h, "gamma", 50300, &["192.0.2.70"]);
    h.run(&["exports", "sync", "--yes", "--force"]).status(0);
    assert!(clients_of(&h, "/srv/misc/shared/beta").is_empty());
    assert_eq!(clients_of(&h, "/srv/misc/shared/gamma"), ["192.0.2.70"]);

    // A corrupt cache is ignored, and rebuilt by the next sync.
    settle();
    std::fs::write(&cache, "{ not json").unwrap();
    h.run(&["exports", "sync", "--yes"])
        .status(0)
        .stdout_has("Nothing to do");
    let text = std::fs::read_to_string(&cache).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(v["entries"]["gamma.yaml"].is_object(), "{text}");
    assert!(v["entries"]["beta.yaml"].is_null(), "{text}");
    // A dry run after an edit leaves the cache as it was.
    std::fs::write(&alpha, yaml.replace("192.0.2.50", "192.0.2.52")).unwrap();
    h.run(&["exports", "sync", "--dry-run", "--force"])
        .status(0)
        .stdout_has("1 entries to export, 1 to withdraw");
    assert_eq!(std::fs::read_to_string(&cache).unwrap(), text);
}

#[test]
fn incremental_apply_touches_only_the_changed_project() {
    privileged!();
    let h = exports_host();
    h.activate();
    three_projects(&h);
    // Five more, so the changed one is a small part of the table.
    for (i, n) in ["p1", "p2", "p3", "p4", "p5"].iter().enumerate() {
        static_project(&h, n, 51000 + i as u32, &[&format!("192.0.2.{}", 100 + i)]);
    }
    h.run(&["exports", "sync", "--yes"]).status(0);
    let before_beta = etab_of(&h, "/srv/misc/shared/beta");
    let before_gamma = etab_of(&h, "/srv/misc/shared/gamma");
    let before_files: Vec<Option<String>> = ["project-beta.exports", "project-gamma.exports"]
        .iter()
        .map(|f| exports_file(&h, f))
        .collect();
    let journal_before = h.journal().len();

    // alpha: one client replaced. A withdrawal plus an export would be two exportfs runs,
    // each as dear as a full re-export on a large table: one `exportfs -ra` instead.
    cmd_project(&h, "alpha", 50100, r#"["192.0.2.50", "192.0.2.52"]"#);
    let plan = h
        .run(&["exports", "sync", "--yes", "--json"])
        .status(0)
        .json();
    assert_eq!(
        step_argvs(&plan),
        [vec![], vec!["exportfs", "-ra"]],
        "{plan:#}"
    );
    // Two journal records (the files, the re-export); the file step wrote alpha's file (and
    // the backup) only.
    let recs = &h.journal()[journal_before..];
    assert_eq!(recs.len(), 2);
    assert!(recs.iter().all(|j| j["verify"] == "ok"));
    // etab: alpha changed, the others byte for byte the same.
    assert_eq!(
        clients_of(&h, "/srv/misc/shared/alpha"),
        ["192.0.2.50", "192.0.2.52"]
    );
    assert_eq!(etab_of(&h, "/srv/misc/shared/beta"), before_beta);
    assert_eq!(etab_of(&h, "/srv/misc/shared/gamma"), before_gamma);
    let after_files: Vec<Option<String>> = ["project-beta.exports", "project-gamma.exports"]
        .iter()
        .map(|f| exports_file(&h, f))
        .collect();
    assert_eq!(before_files, after_files);
    // The previous set is in the backup.
    let bak = std::fs::read_to_string(h.dir.path().join("exports.bak")).unwrap();
    assert!(
        bak.contains("192.0.2.51(") && bak.contains("project-beta.exports"),
        "{bak}"
    );
}

#[test]
fn one_exportfs_run_per_sync_at_most() {
    privileged!();
    let h = exports_host();
    h.activate();
    three_projects(&h);
    h.run(&["exports", "sync", "--yes"]).status(0);
    let before_beta = etab_of(&h, "/srv/misc/shared/beta");

    // Only an addition: `exportfs -i -o` of the new entry alone (no exports file parsed).
    cmd_project(
        &h,
        "alpha",
        50100,
        r#"["192.0.2.50", "192.0.2.51", "192.0.2.53"]"#,
    );
    let plan = h
        .run(&["exports", "sync", "--yes", "--json"])
        .status(0)
        .json();
    assert_eq!(
        step_argvs(&plan),
        [
            vec![],
            vec![
                "exportfs",
                "-i",
                "-o",
                "rw,sync,no_subtree_check,root_squash,fsid=50100",
                "192.0.2.53:/srv/misc/shared/alpha"
            ]
        ],
        "{plan:#}"
    );
    assert_eq!(
        clients_of(&h, "/srv/misc/shared/alpha"),
        ["192.0.2.50", "192.0.2.51", "192.0.2.53"]
    );

    // Only a withdrawal: `exportfs -u` of that entry alone.
    cmd_project(&h, "alpha", 50100, r#"["192.0.2.50", "192.0.2.53"]"#);
    let plan = h
        .run(&["exports", "sync", "--yes", "--json"])
        .status(0)
        .json();
    assert_eq!(
        step_argvs(&plan),
        [
            vec![],
            vec!["exportfs", "-u", "192.0.2.51:/srv/misc/shared/alpha"]
        ],
        "{plan:#}"
    );
    assert_eq!(
        clients_of(&h, "/srv/misc/shared/alpha"),
        ["192.0.2.50", "192.0.2.53"]
    );

    // Two option sets to export (two projects changed): one `exportfs -ra`, not two runs.
    cmd_project(
        &h,
        "alpha",
        50100,
        r#"["192.0.2.50", "192.0.2.53", "192.0.2.54"]"#,
    );
    static_project(
        &h,
        "gamma",
        50300,
        &["198.51.100.0/24", "192.0.2.70", "192.0.2.71"],
    );
    let plan = h
        .run(&["exports", "sync", "--yes", "--json"])
        .status(0)
        .json();
    assert_eq!(
        step_argvs(&plan),
        [vec![], vec!["exportfs", "-ra"]],
        "{plan:#}"
    );
    assert_eq!(
        clients_of(&h, "/srv/misc/shared/gamma"),
        ["192.0.2.70", "192.0.2.71", "198.51.100.0/24"]
    );
    assert_eq!(etab_of(&h, "/srv/misc/shared/beta"), before_beta);

    // Nothing to change: no exportfs at all, no step.
    let plan = h
        .run(&["exports", "sync", "--yes", "--json"])
        .status(0)
        .json();
    assert_eq!(plan["result"], "nothing to do", "{plan:#}");
    assert!(step_argvs(&plan).is_empty(), "{plan:#}");
}

#[test]
fn failing_clients_command_keeps_that_projects_exports() {
    privileged!();
    let h = exports_host();
    h.activate();
    three_projects(&h);
    cmd_project(&h, "delta", 50400, r#"["192.0.2.80"]"#);
    cmd_project(&h, "eps", 50500, r#"["192.0.2.90"]"#);
    h.run(&["exports", "sync", "--yes"]).status(0);
    let before: Vec<Vec<String>> = ["beta", "delta", "eps"]
        .iter()
        .map(|p| etab_of(&h, &format!("/srv/misc/shared/{p}")))
        .collect();
    let files_before: Vec<Option<String>> = ["beta", "delta", "eps"]
        .iter()
        .map(|p| exports_file(&h, &format!("project-{p}.exports")))
        .collect();

    // beta: the API says 401. delta: hangs past the limit. eps: prints garbage.
    h.script("beta", "echo 'The request you have made requires authentication. (HTTP 401) (Request-ID: req-1a2b)' >&2\nexit 1");
    h.script("delta", "sleep 60\necho '[]'");
    h.script("eps", "echo '<html><body>502 Bad Gateway</body></html>'");
    // alpha changes meanwhile, and still gets applied.
    cmd_project(&h, "alpha", 50100, r#"["192.0.2.50", "192.0.2.53"]"#);
    let t = Instant::now();
    let r = h.run(&["exports", "sync", "--yes"]);
    r.status(3);
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "the hung command was killed at its limit: {:?}",
        t.elapsed()
    );
    r.stderr_has("3 project(s) could not be read");
    r.stderr_has("beta: ").stderr_has("HTTP 401");
    r.stderr_has("delta: ").stderr_has("killed after");
    r.stderr_has("eps: ").stderr_has("not JSON");
    let after: Vec<Vec<String>> = ["beta", "delta", "eps"]
        .iter()
        .map(|p| etab_of(&h, &format!("/srv/misc/shared/{p}")))
        .collect();
    assert_eq!(before, after, "their exports are kept exactly");
    let files_after: Vec<Option<String>> = ["beta", "delta", "eps"]
        .iter()
        .map(|p| exports_file(&h, &format!("project-{p}.exports")))
        .collect();
    assert_eq!(files_before, files_after);
    assert_eq!(
        clients_of(&h, "/srv/misc/shared/alpha"),
        ["192.0.2.50", "192.0.2.53"]
    );

    // Every source failing (the 401 day): nothing is removed at all.
    for p in ["alpha", "beta", "delta", "eps"] {
        h.script(p, "echo 'HTTP 401 Unauthorized' >&2\nexit 1");
    }
    let etab = h.etab();
    h.run(&["exports", "sync", "--yes"]).status(3);
    assert_eq!(h.etab(), etab);
}

#[test]
fn shrink_guard_refuses_unless_forced() {
    privileged!();
    let h = exports_host();
    h.activate();
    for (i, n) in ["p1", "p2", "p3", "p4", "p5"].iter().enumerate() {
        static_project(
            &h,
            n,
            51000 + i as u32,
            &[
                &format!("192.0.2.{}", 100 + i),
                &format!("192.0.2.{}", 200 + i),
            ],
        );
    }
    h.run(&["exports", "sync", "--yes"]).status(0);
    let etab = h.etab();
    for n in ["p1", "p2", "p3"] {
        std::fs::remove_file(h.projects_dir().join(format!("{n}.yaml"))).unwrap();
    }
    let before = h.journal().len();
    h.run(&["exports", "sync", "--yes"])
        .status(3)
        .stderr_has(
            "would remove 6 of 10 client entries (60%), more than exports.max_shrink_percent (20%)",
        )
        .stderr_has("--force");
    assert_eq!(h.etab(), etab);
    assert!(exports_file(&h, "project-p1.exports").is_some());
    assert_eq!(h.journal().len(), before);
    h.run(&["exports", "sync", "--yes", "--force"]).status(0);
    assert!(etab_of(&h, "/srv/misc/shared/p1").is_empty());
    assert!(exports_file(&h, "project-p1.exports").is_none());
    assert_eq!(
        clients_of(&h, "/srv/misc/shared/p5"),
        ["192.0.2.104", "192.0.2.204"]
    );
}

#[test]
fn empty_result_is_refused() {
    privileged!();
    let h = exports_host();
    h.activate();
    static_project(&h, "gamma", 50300, &["192.0.2.70"]);
    h.run(&["exports", "sync", "--yes"]).status(0);
    std::fs::remove_file(h.projects_dir().join("gamma.yaml")).unwrap();
    h.run(&["exports", "sync", "--yes", "--force"])
        .status(3)
        .stderr_has("empty result");
    assert_eq!(clients_of(&h, "/srv/misc/shared/gamma"), ["192.0.2.70"]);
}

#[test]
fn duplicate_gids_are_refused() {
    privileged!();
    let h = exports_host();
    h.activate();
    static_project(&h, "gamma", 50300, &["192.0.2.70"]);
    static_project(&h, "omega", 50300, &["192.0.2.71"]);
    h.run(&["exports", "sync", "--yes"])
        .status(3)
        .stderr_has("duplicate GID 50300: projects gamma and omega");
    assert_eq!(h.etab(), "");
    assert!(exports_file(&h, "project-gamma.exports").is_none());
}

#[test]
fn unmounted_volume_is_refused() {
    privileged!();
    let h = exports_host();
    h.activate();
    static_project(&h, "gamma", 50300, &["192.0.2.70"]);
    h.write_project(
        "tooly",
        "name: tooly\ngid: 50600\nvolume: tools\nclients: [192.0.2.72]\n",
    );
    h.ns_ok(&["install", "-d", "/srv/tools/shared/tooly"]);
    h.ns_ok(&["umount", "/srv/tools"]);
    // The directory now exists only on the root filesystem underneath: must not be exported.
    h.ns_ok(&["install", "-d", "/srv/tools/shared/tooly"]);
    h.run(&["exports", "sync", "--yes"])
        .status(3)
        .stderr_has("/srv/tools/shared/tooly (volume tools is not mounted at /srv/tools)");
    assert_eq!(h.etab(), "");
    assert!(exports_file(&h, "project-gamma.exports").is_none());
}

#[test]
fn standby_node_does_nothing() {
    privileged!();
    let h = exports_host();
    // Volumes mounted, but the service IP is not here.
    for v in ["tools", "misc"] {
        let dev = &h.volumes.iter().find(|x| x.name == v).unwrap().loopdev;
        h.ns_ok(&["mkdir", "-p", &format!("/srv/{v}")]);
        h.ns_ok(&["mount", dev, &format!("/srv/{v}")]);
    }
    // The service IP with another prefix is not "held": the match is exact.
    h.ns_ok(&["ip", "addr", "add", "192.0.2.18/25", "dev", "eth0"]);
    let marker = h.dir.path().join("called");
    let script = h.script(
        "alpha",
        &format!("touch {}\necho '[\"192.0.2.50\"]'", marker.display()),
    );
    h.write_project(
        "alpha",
        &format!(
            "name: alpha\ngid: 50100\nvolume: misc\nclients_command: [{}]\n",
            script.display()
        ),
    );
    h.run(&["exports", "sync", "--yes"])
        .status(0)
        .stdout_has("does not hold the service IP 192.0.2.18/24 on eth0: nothing to do here");
    assert!(!marker.exists(), "no clients_command runs on the standby");
    assert_eq!(h.etab(), "");
    assert!(exports_file(&h, "project-alpha.exports").is_none());
    assert!(h.journal().is_empty());
    let j = h.run(&["exports", "sync", "--yes", "--json"]);
    j.status(0);
    assert_eq!(j.json()["result"], "nothing to do");
}

#[test]
fn dry_run_changes_nothing_and_runs_no_clients_command() {
    privileged!();
    let h = exports_host();
    h.activate();
    let marker = h.dir.path().join("called");
    let script = h.script(
        "alpha",
        &format!("touch {}\necho '[\"192.0.2.50\"]'", marker.display()),
    );
    h.write_project(
        "alpha",
        &format!(
            "name: alpha\ngid: 50100\nvolume: misc\nclients: [192.0.2.9]\nclients_command: [{}]\n",
            script.display()
        ),
    );
    h.ns_ok(&["install", "-d", "/srv/misc/shared/alpha"]);
    let p = h
        .run(&["exports", "sync", "--dry-run", "--json"])
        .status(0)
        .json();
    assert_eq!(p["result"], "dry run");
    assert_eq!(
        p["steps"][1]["argv"],
        serde_json::json!([
            "exportfs",
            "-i",
            "-o",
            "rw,sync,no_subtree_check,root_squash,fsid=50100",
            "192.0.2.9:/srv/misc/shared/alpha"
        ])
    );
    assert!(
        p["notes"][0].as_str().unwrap().contains("was not run"),
        "{p:#}"
    );
    assert!(!marker.exists());
    assert_eq!(h.etab(), "");
    assert!(exports_file(&h, "project-alpha.exports").is_none());
}

#[test]
fn interval_loops_with_a_pause_and_zero_is_rejected() {
    privileged!();
    let h = exports_host();
    h.activate();
    static_project(&h, "gamma", 50300, &["192.0.2.70"]);
    let t = Instant::now();
    let r = h.run(&["exports", "sync", "--yes", "--interval", "1", "--runs", "3"]);
    r.status(0);
    let took = t.elapsed();
    assert!(
        took >= Duration::from_secs(2),
        "two pauses of 1 s: {took:?}"
    );
    assert!(took < Duration::from_secs(15), "{took:?}");
    assert_eq!(
        r.stdout.matches("nfs-manage exports sync on").count(),
        3,
        "{}",
        r.stdout
    );
    assert_eq!(clients_of(&h, "/srv/misc/shared/gamma"), ["192.0.2.70"]);
    h.run(&["exports", "sync", "--interval", "0"]).status(2);
}

#[test]
fn import_reads_a_real_shaped_nfs_mounts_yaml() {
    privileged!();
    let h = exports_host();
    let fixture = repo_path("tests/fixtures/exports/nfs-mounts.yaml");
    let r = h.run(&[
        "exports",
        "import",
        fixture.to_str().unwrap(),
        "--volume",
        "misc",
        "--clients-command",
        "/usr/local/bin/project-ips {name}",
        "--yes",
    ]);
    r.status(0);
    // volumes_served is [home, project]: projects with only dumps/scratch/maps are skipped.
    let tools = std::fs::read_to_string(h.projects_dir().join("huggle.yaml")).unwrap();
    assert!(
        tools.contains("gid: 50168")
            && tools.contains("volume: misc")
            && tools.contains("path: shared/huggle"),
        "{tools}"
    );
    assert!(
        tools.contains("- /usr/local/bin/project-ips\n- huggle"),
        "{tools}"
    );
    assert!(
        !h.projects_dir().join("etytree.yaml").exists(),
        "dumps only"
    );
    assert!(
        !h.projects_dir().join("language.yaml").exists(),
        "scratch only"
    );
    let n = std::fs::read_dir(h.projects_dir()).unwrap().count();
    assert_eq!(n, 19, "{}", r.stdout);
    r.stdout_has("public:")
        .stdout_has("name: scratch, path: /srv/scratch");
    // The files load, and import again is a no-op.
    h.run(&[
        "exports",
        "import",
        fixture.to_str().unwrap(),
        "--volume",
        "misc",
        "--clients-command",
        "/usr/local/bin/project-ips {name}",
        "--yes",
    ])
    .status(0)
    .stdout_has("Nothing to do");
    // Duplicate GIDs in the source are refused.
    let dup = h.dir.path().join("dup.yaml");
    std::fs::write(&dup, "volumes_served: [project]\nprivate:\n  a1: { gid: 7, mounts: { project: true } }\n  a2: { gid: 7, mounts: { project: true } }\n").unwrap();
    h.run(&[
        "exports",
        "import",
        dup.to_str().unwrap(),
        "--volume",
        "misc",
        "--clients",
        "192.0.2.9",
        "--yes",
    ])
    .status(3)
    .stderr_has("duplicate GID 7: projects a1 and a2");
    assert!(!h.projects_dir().join("a1.yaml").exists());
}

#[test]
fn bad_project_file_names_line_and_column() {
    privileged!();
    let h = exports_host();
    h.activate();
    h.write_project("gamma", "name: gamma\ngid: 50300\nvolume: misc\nclients: [192.0.2.70]\noptions: [rw]\nclinets: []\n");
    h.run(&["exports", "sync", "--yes"])
        .status(78)
        .stderr_has("projects/gamma.yaml:6:1: unknown field `clinets`");
}
