//! `exports.layout: netgroup`: one exports entry per project (`@project-NAME`), its addresses
//! in a managed block of /etc/netgroup, answered by the real glibc (NSS files) inside a private
//! /etc. A membership change runs no exportfs: only the changed addresses' cached answers are
//! expired (`exports expire-cache`; the namespaces have no nfsd, so a look-alike of
//! /proc/net/rpc stands in where a test needs one). A broken netgroup file or nsswitch setting
//! is refused before anything changes.

use crate::exports::{
    clients_of, cmd_project, etab_of, exports_file, exports_host, static_project, step_argvs,
    three_projects,
};
use crate::harness::*;

const OPTS: &str = "rw,sync,no_subtree_check,root_squash";

/// The one address of the test network without a host name.
const NAMELESS: &str = "192.0.2.99";

/// An exports host with a private /etc whose nsswitch.conf says `netgroup: SOURCES`, and the
/// netgroup layout in its config.
fn netgroup_host(sources: &str) -> Host {
    let h = exports_host();
    h.private_etc(sources);
    with_host_names(&h);
    let y = std::fs::read_to_string(&h.config).unwrap();
    std::fs::write(
        &h.config,
        y.replace(
            "clients_timeout: 2s }",
            "clients_timeout: 2s, layout: netgroup }",
        ),
    )
    .unwrap();
    h.activate();
    h
}

/// rpc.mountd admits a netgroup member only when its address has a host name: every address
/// of 192.0.2.0/24 gets one in the private /etc (from files only: no resolver to wait for),
/// except NAMELESS.
fn with_host_names(h: &Host) {
    let mut hosts = String::from("127.0.0.1 localhost\n");
    for i in 1..=254 {
        let addr = format!("192.0.2.{i}");
        if addr != NAMELESS {
            hosts.push_str(&format!("{addr} client-{i}.example.org client-{i}\n"));
        }
    }
    std::fs::write(h.inside("/etc/hosts"), hosts).unwrap();
    let nss = std::fs::read_to_string(h.inside("/etc/nsswitch.conf")).unwrap();
    let nss: String = nss
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("hosts:") {
                "hosts: files\n".to_string()
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(h.inside("/etc/nsswitch.conf"), nss).unwrap();
}

fn netgroup(h: &Host) -> String {
    std::fs::read_to_string(h.inside("/etc/netgroup")).unwrap_or_default()
}

/// `getent netgroup NAME` inside the namespace: what glibc (and so rpc.mountd) sees.
fn getent(h: &Host, group: &str) -> String {
    let out = h.ns(&["getent", "netgroup", group]);
    String::from_utf8_lossy(&out.stdout)
        .split_ascii_whitespace()
        .skip(1)
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn membership_change_runs_no_exportfs_only_an_expiry() {
    privileged!();
    let h = netgroup_host("files");
    // The operator's own netgroups stay as they are.
    std::fs::write(h.inside("/etc/netgroup"), "admins (bastion1,,)\n").unwrap();
    three_projects(&h);
    h.run(&["exports", "sync", "--yes"]).status(0);

    // One entry per project; a network stays an entry of its own.
    assert_eq!(clients_of(&h, "/srv/misc/shared/alpha"), ["@project-alpha"]);
    assert_eq!(
        clients_of(&h, "/srv/misc/shared/gamma"),
        ["198.51.100.0/24", "@project-gamma"]
    );
    let file = exports_file(&h, "project-alpha.exports").unwrap();
    assert!(
        file.contains(&format!("@project-alpha({OPTS},fsid=50100)")),
        "{file}"
    );
    let ng = netgroup(&h);
    assert!(ng.starts_with("admins (bastion1,,)\n"), "{ng}");
    assert_eq!(getent(&h, "project-alpha"), "(192.0.2.50,,) (192.0.2.51,,)");
    assert_eq!(getent(&h, "project-gamma"), "(192.0.2.70,,)");
    assert_eq!(getent(&h, "admins"), "(bastion1,,)");
    let etab = h.etab();

    // alpha: one address replaced. No exportfs run touches etab: the file, then the two
    // changed addresses' cached answers expired, verified by asking glibc's innetgr() as
    // rpc.mountd does.
    cmd_project(&h, "alpha", 50100, r#"["192.0.2.50", "192.0.2.52"]"#);
    let plan = h
        .run(&["exports", "sync", "--yes", "--json"])
        .status(0)
        .json();
    assert_eq!(
        argvs_without_exe(&plan),
        [
            vec![],
            vec!["exports", "expire-cache", "192.0.2.51", "192.0.2.52"]
        ],
        "{plan:#}"
    );
    let expired = h
        .journal()
        .into_iter()
        .rfind(|r| r["step"] == "netgroup:expire")
        .unwrap();
    assert_eq!(expired["cache_method"], "none", "no nfsd here: {expired}");
    assert_eq!(h.etab(), etab, "etab is not rewritten");
    assert_eq!(getent(&h, "project-alpha"), "(192.0.2.50,,) (192.0.2.52,,)");
    assert!(netgroup(&h).starts_with("admins (bastion1,,)\n"));
    let recs = h.journal();
    assert!(
        recs.iter()
            .all(|j| j["verify"].as_str().unwrap().starts_with("ok")),
        "{recs:?}"
    );
    // The previous netgroup file is in the backup.
    let bak = std::fs::read_to_string(h.dir.path().join("exports.bak")).unwrap();
    assert!(
        bak.contains("# ==> /etc/netgroup <==") && bak.contains("(192.0.2.51,,)"),
        "{bak}"
    );

    // Nothing to change: no step, no exportfs.
    let plan = h
        .run(&["exports", "sync", "--yes", "--json"])
        .status(0)
        .json();
    assert_eq!(plan["result"], "nothing to do", "{plan:#}");

    // An option change: one `exportfs -i -o` of gamma's two entries (group and network).
    h.write_project(
        "gamma",
        "name: gamma\ngid: 50300\nvolume: misc\noptions: [ro, sync, no_subtree_check, root_squash]\nclients: [198.51.100.0/24, 192.0.2.70]\n",
    );
    let plan = h
        .run(&["exports", "sync", "--yes", "--json"])
        .status(0)
        .json();
    let argvs = step_argvs(&plan);
    assert_eq!(argvs.len(), 2, "{plan:#}");
    let mut run = argvs[1].clone();
    run[4..].sort();
    assert_eq!(
        run,
        [
            "exportfs",
            "-i",
            "-o",
            "ro,sync,no_subtree_check,root_squash,fsid=50300",
            "198.51.100.0/24:/srv/misc/shared/gamma",
            "@project-gamma:/srv/misc/shared/gamma"
        ],
        "{plan:#}"
    );
    assert!(
        etab_of(&h, "/srv/misc/shared/gamma")
            .iter()
            .all(|l| l.contains("(ro,"))
    );
    assert_eq!(etab_of(&h, "/srv/misc/shared/beta").len(), 1);
}

#[test]
fn broken_netgroup_file_or_nsswitch_is_refused_before_anything_changes() {
    privileged!();
    // nsswitch asks NIS: rpc.mountd would never read /etc/netgroup.
    let h = netgroup_host("nis");
    three_projects(&h);
    let r = h.run(&["exports", "sync", "--yes"]);
    r.status(3)
        .stderr_has("netgroup: nis")
        .stderr_has("expected `files` first");
    assert_eq!(h.etab(), "");
    assert!(exports_file(&h, "project-alpha.exports").is_none());
    assert_eq!(netgroup(&h), "");
    h.run(&["config", "check"])
        .status(78)
        .stderr_has("exports.layout: netgroup")
        .stderr_has("expected `files` first");

    // nsswitch right, but the managed block has lost its end.
    let h = netgroup_host("files");
    three_projects(&h);
    h.run(&["exports", "sync", "--yes"]).status(0);
    let etab = h.etab();
    let broken = netgroup(&h).replace("# END nfs-manage\n", "");
    std::fs::write(h.inside("/etc/netgroup"), &broken).unwrap();
    cmd_project(&h, "alpha", 50100, r#"["192.0.2.50", "192.0.2.52"]"#);
    let r = h.run(&["exports", "sync", "--yes"]);
    r.status(3)
        .stderr_has("/etc/netgroup: the nfs-manage block has no");
    assert_eq!(h.etab(), etab);
    assert_eq!(netgroup(&h), broken);
    h.run(&["config", "check"])
        .status(78)
        .stderr_has("the nfs-manage block has no");
}

#[test]
fn switching_layouts_is_one_reexport_and_keeps_every_client() {
    privileged!();
    let h = exports_host();
    h.private_etc("files");
    with_host_names(&h);
    h.activate();
    three_projects(&h);
    h.run(&["exports", "sync", "--yes"]).status(0);
    assert_eq!(
        clients_of(&h, "/srv/misc/shared/alpha"),
        ["192.0.2.50", "192.0.2.51"]
    );
    let y = std::fs::read_to_string(&h.config).unwrap();
    std::fs::write(
        &h.config,
        y.replace(
            "clients_timeout: 2s }",
            "clients_timeout: 2s, layout: netgroup }",
        ),
    )
    .unwrap();
    // Every per-address entry goes and one group entry comes: the shrink guard counts
    // addresses, so nothing is refused, and one `exportfs -ra` does it all.
    let plan = h
        .run(&["exports", "sync", "--yes", "--json"])
        .status(0)
        .json();
    let argvs = step_argvs(&plan);
    assert_eq!(argvs[1], ["exportfs", "-ra"], "{plan:#}");
    assert_eq!(clients_of(&h, "/srv/misc/shared/alpha"), ["@project-alpha"]);
    assert_eq!(getent(&h, "project-beta"), "(192.0.2.60,,) (192.0.2.61,,)");
    assert_eq!(etab_of(&h, "/srv/misc/shared/beta").len(), 1);

    // And back: the shrink guard counts the group's members, so nothing is refused.
    let y = std::fs::read_to_string(&h.config).unwrap();
    std::fs::write(&h.config, y.replace(", layout: netgroup }", " }")).unwrap();
    let plan = h
        .run(&["exports", "sync", "--yes", "--json"])
        .status(0)
        .json();
    assert_eq!(step_argvs(&plan)[1], ["exportfs", "-ra"], "{plan:#}");
    assert_eq!(
        clients_of(&h, "/srv/misc/shared/alpha"),
        ["192.0.2.50", "192.0.2.51"]
    );
}

#[test]
fn failing_source_keeps_its_netgroup() {
    privileged!();
    let h = netgroup_host("files");
    three_projects(&h);
    static_project(&h, "p1", 51000, &["192.0.2.100"]);
    h.run(&["exports", "sync", "--yes"]).status(0);
    h.script("beta", "echo 'HTTP 401 Unauthorized' >&2\nexit 1");
    cmd_project(&h, "alpha", 50100, r#"["192.0.2.50"]"#);
    h.run(&["exports", "sync", "--yes", "--force"])
        .status(3)
        .stderr_has("beta: ");
    assert_eq!(getent(&h, "project-beta"), "(192.0.2.60,,) (192.0.2.61,,)");
    assert_eq!(getent(&h, "project-alpha"), "(192.0.2.50,,)");
}

#[test]
fn enable_project_writes_its_netgroup() {
    privileged!();
    let h = netgroup_host("files");
    h.run(&[
        "enable-project",
        "alpha",
        "--volume",
        "misc",
        "--clients",
        "192.0.2.50,192.0.2.51",
        "--yes",
    ])
    .status(0);
    assert_eq!(clients_of(&h, "/srv/misc/shared/alpha"), ["@project-alpha"]);
    assert_eq!(getent(&h, "project-alpha"), "(192.0.2.50,,) (192.0.2.51,,)");
    // New addresses: the netgroup and a flush; the export itself is already in place.
    let etab = h.etab();
    let plan = h
        .run(&[
            "enable-project",
            "alpha",
            "--volume",
            "misc",
            "--clients",
            "192.0.2.50,192.0.2.52",
            "--yes",
            "--json",
        ])
        .status(0)
        .json();
    let ran: Vec<&str> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["state"] != "already")
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ran,
        ["project-file", "netgroup", "netgroup:expire"],
        "{plan:#}"
    );
    assert_eq!(h.etab(), etab);
    assert_eq!(getent(&h, "project-alpha"), "(192.0.2.50,,) (192.0.2.52,,)");
    // A sync afterwards has nothing to change.
    let plan = h
        .run(&["exports", "sync", "--yes", "--json"])
        .status(0)
        .json();
    assert_eq!(plan["result"], "nothing to do", "{plan:#}");
}

/// A membership change written to /etc/netgroup but never flushed leaves the files looking
/// right while the kernel keeps answering with the old membership: the rerun must see it in the
/// journal and flush, not say "nothing to do".
#[test]
fn a_membership_change_whose_flush_failed_is_flushed_by_the_rerun() {
    privileged!();
    let h = netgroup_host("files");
    three_projects(&h);
    h.run(&["exports", "sync", "--yes"]).status(0);

    // Caches the kernel will not take anything into: channel and flush are directories.
    let rpc = rpc_look_alike(&h, &["", "", ""]);
    for cache in ["auth.unix.ip", "nfsd.export", "nfsd.fh", "auth.unix.gid"] {
        for f in ["channel", "flush"] {
            let p = rpc.join(cache).join(f);
            std::fs::remove_file(&p).unwrap();
            std::fs::create_dir(&p).unwrap();
        }
    }
    std::fs::write(
        rpc.join("nfsd.export/content"),
        "/srv/tools/shared/alpha\t192.0.2.51(rw)\n",
    )
    .unwrap();
    cmd_project(&h, "alpha", 50100, r#"["192.0.2.50", "192.0.2.53"]"#);
    sync_with_rpc_dir(&h, &rpc, &[])
        .status(1)
        .stderr_has("expire-cache");
    // The file holds the new membership: comparing files alone, nothing is left to do.
    assert_eq!(getent(&h, "project-alpha"), "(192.0.2.50,,) (192.0.2.53,,)");
    let written = h
        .journal()
        .into_iter()
        .rfind(|r| r["step"] == "files")
        .unwrap();
    assert_eq!(written["netgroup_written"], true, "{written}");

    h.wrap_real_tool("exportfs");
    let plan = h.run(&["exports", "sync", "--dry-run", "--json"]).json();
    let steps = plan["steps"].as_array().unwrap();
    assert_eq!(step_argvs(&plan), [vec!["exportfs", "-f"]], "{plan:#}");
    assert!(
        steps[0]["why"].as_str().unwrap().contains("never flushed"),
        "{plan:#}"
    );
    h.clear_calls();
    h.run(&["exports", "sync", "--yes"]).status(0);
    assert!(
        h.calls().iter().any(|c| c == "exportfs -f"),
        "{:?}",
        h.calls()
    );
    // Flushed now: the next sync has nothing to do.
    let plan = h
        .run(&["exports", "sync", "--yes", "--json"])
        .status(0)
        .json();
    assert_eq!(plan["result"], "nothing to do", "{plan:#}");
}

/// An address without a host name would be listed in the project and its netgroup and still
/// be refused by rpc.mountd: the sync (and enable-project) refuse it, naming it, and change
/// nothing; with a name it joins.
#[test]
fn an_address_without_a_host_name_is_refused_before_anything_changes() {
    privileged!();
    let h = netgroup_host("files");
    three_projects(&h);
    h.run(&["exports", "sync", "--yes"]).status(0);
    let (etab, ng) = (h.etab(), netgroup(&h));

    cmd_project(
        &h,
        "alpha",
        50100,
        &format!(r#"["192.0.2.50", "{NAMELESS}"]"#),
    );
    h.run(&["exports", "sync", "--yes"])
        .status(3)
        .stderr_has(format!(
            "1 address(es) joining project netgroups have no host name on this node ({NAMELESS}): rpc.mountd admits a netgroup member only when its address resolves to a name"
        ));
    assert_eq!(h.etab(), etab);
    assert_eq!(netgroup(&h), ng);
    assert_eq!(getent(&h, "project-alpha"), "(192.0.2.50,,) (192.0.2.51,,)");

    // enable-project says the same.
    h.run(&[
        "enable-project",
        "delta",
        "--gid",
        "50400",
        "--volume",
        "misc",
        "--clients",
        NAMELESS,
        "--yes",
    ])
    .status(3)
    .stderr_has(format!("have no host name on this node ({NAMELESS})"));
    assert_eq!(netgroup(&h), ng);

    // Named, it joins.
    let hosts = std::fs::read_to_string(h.inside("/etc/hosts")).unwrap();
    std::fs::write(
        h.inside("/etc/hosts"),
        format!("{hosts}{NAMELESS} late.example.org\n"),
    )
    .unwrap();
    h.run(&["exports", "sync", "--yes"]).status(0);
    assert_eq!(
        getent(&h, "project-alpha"),
        format!("(192.0.2.50,,) ({NAMELESS},,)")
    );
}

/// disable-project withdraws the `@project-NAME` entry and then its netgroup, keeping the
/// others' and the operator's lines; a sync afterwards has nothing to change.
#[test]
fn disable_project_removes_its_netgroup_too() {
    privileged!();
    let h = netgroup_host("files");
    std::fs::write(h.inside("/etc/netgroup"), "admins (bastion1,,)\n").unwrap();
    three_projects(&h);
    h.run(&["exports", "sync", "--yes"]).status(0);
    assert_eq!(getent(&h, "project-alpha"), "(192.0.2.50,,) (192.0.2.51,,)");

    let plan = h
        .run(&["disable-project", "alpha", "--yes", "--json"])
        .status(0)
        .json();
    let ids: Vec<&str> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["project-file", "exports-file", "unexport", "netgroup"],
        "{plan:#}"
    );
    assert!(
        etab_of(&h, "/srv/misc/shared/alpha").is_empty(),
        "{}",
        h.etab()
    );
    assert_eq!(getent(&h, "project-alpha"), "");
    let ng = netgroup(&h);
    assert!(ng.starts_with("admins (bastion1,,)\n"), "{ng}");
    assert!(!ng.contains("project-alpha"), "{ng}");
    assert_eq!(getent(&h, "project-beta"), "(192.0.2.60,,) (192.0.2.61,,)");
    h.run(&["exports", "sync", "--yes"])
        .status(0)
        .stdout_has("Nothing to do");
    // Rerun: nothing left to do.
    h.run(&["disable-project", "alpha", "--yes"])
        .status(0)
        .stdout_has("Nothing to do");
}

/// Step argvs with nfs-manage's own path (the first word of its internal steps) left out.
fn argvs_without_exe(plan: &serde_json::Value) -> Vec<Vec<String>> {
    step_argvs(plan)
        .into_iter()
        .map(|a| match a.get(1).map(String::as_str) {
            Some("exports") => a[1..].to_vec(),
            _ => a,
        })
        .collect()
}

/// A look-alike of /proc/net/rpc in the test dir: `content` of auth.unix.ip, nfsd.export and
/// nfsd.fh as given, empty `channel` and `flush` files (what is written to them stays there).
fn rpc_look_alike(h: &Host, content: &[&str; 3]) -> std::path::PathBuf {
    let rpc = h.dir.path().join("rpc");
    let _ = std::fs::remove_dir_all(&rpc);
    for (cache, text) in ["auth.unix.ip", "nfsd.export", "nfsd.fh", "auth.unix.gid"]
        .into_iter()
        .zip(content.iter().copied().chain([""]))
    {
        let d = rpc.join(cache);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("content"), text).unwrap();
        std::fs::write(d.join("channel"), "").unwrap();
        std::fs::write(d.join("flush"), "").unwrap();
    }
    rpc
}

/// `exports sync --yes ARGS` with the kernel's caches at `rpc`.
fn sync_with_rpc_dir(h: &Host, rpc: &std::path::Path, args: &[&str]) -> Run {
    let dir = format!("NFS_MANAGE_RPC_DIR={}", rpc.display());
    let mut argv = vec![
        "env".to_string(),
        dir,
        bin().display().to_string(),
        "--config".into(),
        h.config.display().to_string(),
        "exports".into(),
        "sync".into(),
        "--yes".into(),
    ];
    argv.extend(args.iter().map(|a| a.to_string()));
    let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
    h.ns_run(&refs)
}

/// A membership change expires only the changed addresses' entries: the other clients'
/// cached answers are not written over and nothing is flushed. Where an entry the change
/// concerns still grants access afterwards, everything is flushed instead, and the journal
/// and the report say so.
#[test]
fn a_membership_change_expires_only_the_changed_addresses_cached_answers() {
    privileged!();
    let h = netgroup_host("files");
    three_projects(&h);
    h.run(&["exports", "sync", "--yes"]).status(0);

    // 192.0.2.51 leaves alpha. The kernel lists its entries as it does once they expired
    // ("# "); 192.0.2.50 (staying) and a named domain are live and must be left alone.
    let rpc = rpc_look_alike(
        &h,
        &[
            "#class IP domain\n# nfsd 192.0.2.51 192.0.2.51\nnfsd 192.0.2.50 192.0.2.50\n",
            "#path domain(flags)\n# /srv/tools/shared/alpha\t192.0.2.51(rw)\n/srv/tools/shared/alpha\t192.0.2.50(rw)\n/srv/misc\t@project-gamma(rw)\n",
            "#domain fsidtype fsid [path]\n# 192.0.2.51 1 0x0000c3b4 /srv/tools/shared/alpha\n192.0.2.50 1 0x0000c3b4 /srv/tools/shared/alpha\n",
        ],
    );
    cmd_project(&h, "alpha", 50100, r#"["192.0.2.50"]"#);
    h.clear_calls();
    sync_with_rpc_dir(&h, &rpc, &[]).status(0);
    let channel = |c: &str| std::fs::read_to_string(rpc.join(c).join("channel")).unwrap();
    let flush = |c: &str| std::fs::read_to_string(rpc.join(c).join("flush")).unwrap();
    assert!(
        channel("auth.unix.ip").starts_with("nfsd 192.0.2.51 "),
        "{}",
        channel("auth.unix.ip")
    );
    assert!(
        channel("nfsd.export").starts_with("192.0.2.51 /srv/tools/shared/alpha "),
        "{}",
        channel("nfsd.export")
    );
    assert!(
        channel("nfsd.fh").starts_with("192.0.2.51 1 \\x"),
        "{}",
        channel("nfsd.fh")
    );
    for c in ["auth.unix.ip", "nfsd.export", "nfsd.fh"] {
        assert_eq!(channel(c).lines().count(), 1, "{c}: {}", channel(c));
        assert!(!channel(c).contains("192.0.2.50"), "{c}");
        assert_eq!(flush(c), "", "{c} not flushed");
    }
    assert!(
        !h.calls().iter().any(|c| c.starts_with("exportfs")),
        "{:?}",
        h.calls()
    );
    let rec = h
        .journal()
        .into_iter()
        .rfind(|r| r["step"] == "netgroup:expire")
        .unwrap();
    assert_eq!(rec["cache_method"], "targeted", "{rec}");
    assert_eq!(rec["cache_entries_expired"]["nfsd.export"], 1, "{rec}");
    assert_eq!(getent(&h, "project-alpha"), "(192.0.2.50,,)");

    // 192.0.2.52 joins, and a cache still lists an entry of it as live after the writes
    // (this look-alike ignores what is written): everything is flushed, and said.
    let rpc = rpc_look_alike(
        &h,
        &[
            "nfsd 192.0.2.52 192.0.2.52\nnfsd 192.0.2.50 192.0.2.50\n",
            "",
            "",
        ],
    );
    cmd_project(&h, "alpha", 50100, r#"["192.0.2.50", "192.0.2.52"]"#);
    sync_with_rpc_dir(&h, &rpc, &[]).status(0);
    for c in ["auth.unix.ip", "nfsd.export", "nfsd.fh", "auth.unix.gid"] {
        assert!(!flush(c).is_empty(), "{c} flushed");
    }
    let rec = h
        .journal()
        .into_iter()
        .rfind(|r| r["step"] == "netgroup:expire")
        .unwrap();
    assert_eq!(rec["cache_method"], "flush", "{rec}");
    assert!(
        rec["verify"].as_str().unwrap().contains("flushed instead"),
        "{rec}"
    );
    assert!(
        rec["cache_why"]
            .as_str()
            .unwrap()
            .contains("still holds a live entry"),
        "{rec}"
    );
}
