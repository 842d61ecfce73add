//! The fleet layout: `fleet render`, `where`, `client-config` from files (no privileges
//! needed), and, on the two-node bed, the layout read from etcd, who serves from the cluster
//! lock, and `fleet status` / `fleet place` asking every node over real ssh at once.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::*;

/// A fleet of two clusters whose projects live in `dir`.
fn fleet_text(dir: &Path) -> String {
    format!(
        "\
defaults:
  remote: {{ ssh: [ssh, -o, BatchMode=yes], user: root }}
target_usage: 90
clients: {{ nfs_version: \"3\", options: [noquota, noatime], mount_root: /data/project }}
clusters:
  labstore-primary:
    backup_host: labstore2003
    nodes:
      labstore1004: {{ address: 192.0.2.6 }}
      labstore1005: {{ address: 192.0.2.7 }}
    service_ip: {{ address: 192.0.2.18/24, interface: eth0 }}
    projects_dir: {p}
    volumes:
      - {{ name: tools, drbd: tools, device: /dev/drbd4, mountpoint: /srv/tools, fstype: ext4,
          target_usage: 85 }}
  home:
    nodes:
      fiori: {{ address: 192.0.2.30 }}
      torchio: {{ address: 192.0.2.31 }}
    projects_dir: {h}
    volumes:
      - {{ name: home, drbd: home, device: /dev/drbd1, mountpoint: /vol/home, fstype: ocfs2,
          dual_primary: true }}
",
        p = dir.join("primary").display(),
        h = dir.join("home").display(),
    )
}

struct Bed {
    dir: tempfile::TempDir,
    fleet: PathBuf,
}

fn bed() -> Bed {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("primary")).unwrap();
    std::fs::create_dir_all(d.join("home")).unwrap();
    std::fs::write(
        d.join("primary/paws.yaml"),
        "name: paws\ngid: 50380\nvolume: tools\nclients: [198.51.100.0/24]\n",
    )
    .unwrap();
    std::fs::write(
        d.join("primary/quarry.yaml"),
        "name: quarry\ngid: 50381\nvolume: tools\npath: shared/quarry-data\noptions: [ro, sync, no_subtree_check, root_squash, sec=krb5p]\nclients: [198.51.100.7]\n",
    )
    .unwrap();
    std::fs::write(
        d.join("home/alexis.yaml"),
        "name: alexis\ngid: 60001\nvolume: home\npath: alexis\nclients: [203.0.113.0/24]\n",
    )
    .unwrap();
    let fleet = d.join("fleet.yaml");
    std::fs::write(&fleet, fleet_text(d)).unwrap();
    Bed { dir, fleet }
}

impl Bed {
    fn run(&self, args: &[&str]) -> Run {
        let mut c = Command::new(bin());
        c.env("NFS_MANAGE_FLEET", &self.fleet)
            .args(args)
            .env_remove("NFS_MANAGE_CONFIG")
            .env_remove("NFS_MANAGE_NODE")
            .env("NO_COLOR", "1");
        Run::of(&mut c)
    }
}

#[test]
fn render_writes_each_nodes_config_and_check_finds_drift() {
    let b = bed();
    let out = b.dir.path().join("out");
    let o = out.to_str().unwrap();
    b.run(&["fleet", "render", "--out", o])
        .status(0)
        .stdout_has("written");
    for node in ["labstore1004", "labstore1005", "fiori", "torchio"] {
        let f = out.join(node).join("cluster.yaml");
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(
            text.starts_with("# Rendered by `nfs-manage fleet render`"),
            "{text}"
        );
        // What a node loads: the rendered file is a valid cluster config.
        let mut c = Command::new(bin());
        c.args([
            "--config",
            f.to_str().unwrap(),
            "--node",
            node,
            "where",
            "--offline",
        ]);
        let cluster = if node.starts_with("labstore") {
            "labstore-primary"
        } else {
            "home"
        };
        c.arg(cluster);
        Run::of(&mut c)
            .status(0)
            .stdout_has(format!("cluster {cluster}"));
        assert!(
            !text.contains("target_usage") && !text.contains("backup_host"),
            "{text}"
        );
    }
    let j = b
        .run(&["--json", "fleet", "render", "--out", o, "--check"])
        .status(0)
        .json();
    assert!(
        j["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["state"] == "unchanged"),
        "{j:#}"
    );

    // A layout change: --check names the stale configs and exits 1, changing nothing.
    let changed = fleet_text(b.dir.path()).replace("192.0.2.18/24", "192.0.2.19/24");
    std::fs::write(&b.fleet, changed).unwrap();
    let before = std::fs::read_to_string(out.join("labstore1004/cluster.yaml")).unwrap();
    b.run(&["fleet", "render", "--out", o, "--check"])
        .status(1)
        .stdout_has(format!(
            "differs     {}",
            out.join("labstore1004/cluster.yaml").display()
        ))
        .stdout_has("unchanged   ")
        .stderr_has("2 of 4 cluster configs differ");
    assert_eq!(
        before,
        std::fs::read_to_string(out.join("labstore1004/cluster.yaml")).unwrap()
    );
    b.run(&["fleet", "render", "--out", o]).status(0);
    assert!(
        std::fs::read_to_string(out.join("labstore1004/cluster.yaml"))
            .unwrap()
            .contains("192.0.2.19/24")
    );
}

#[test]
fn render_of_this_nodes_config_never_replaces_a_hand_written_one() {
    let b = bed();
    let cfg = b.dir.path().join("cluster.yaml");
    let c = cfg.to_str().unwrap();
    let hand = "# written by hand\ncluster: labstore-primary\nnodes: { labstore1004: { address: 192.0.2.6 } }\nvolumes: []\n";
    // A dry run says what it would write and writes nothing.
    b.run(&[
        "--config",
        c,
        "--node",
        "labstore1004",
        "--dry-run",
        "fleet",
        "render",
    ])
    .status(0)
    .stdout_has(format!("would-write {c}"));
    assert!(!cfg.exists());
    std::fs::write(&cfg, hand).unwrap();
    b.run(&["--config", c, "--node", "labstore1004", "fleet", "render"])
        .status(3)
        .stderr_has("not rendered from a fleet layout")
        .stderr_has(c);
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), hand);
    b.run(&[
        "--config",
        c,
        "--node",
        "labstore1004",
        "fleet",
        "render",
        "--force",
    ])
    .status(0)
    .stdout_has(format!(
        "written     {c} (cluster labstore-primary, node labstore1004)"
    ));
    // Rendered now: a rerun has nothing to do, and no --force is needed after a change.
    b.run(&["--config", c, "--node", "labstore1004", "fleet", "render"])
        .status(0)
        .stdout_has("unchanged");
    b.run(&["--config", c, "--node", "nosuchhost", "fleet", "render"])
        .status(2)
        .stderr_has("nosuchhost is not a node of any cluster");
}

#[test]
fn layout_errors_name_file_line_column_and_exit_78() {
    let b = bed();
    let bad = fleet_text(b.dir.path()).replace("fstype: ocfs2", "fstyp: ocfs2");
    std::fs::write(&b.fleet, bad).unwrap();
    let f = b.fleet.display().to_string();
    b.run(&["where", "--offline", "paws"])
        .status(78)
        .stderr_has(format!(
            "{f}:22:85: clusters.home.volumes[0].fstyp: unknown field `fstyp`"
        ));
    let bad = fleet_text(b.dir.path()).replace("fiori: {", "labstore1005: {");
    std::fs::write(&b.fleet, bad).unwrap();
    b.run(&["fleet", "render", "--check", "--out", "/nonexistent"])
        .status(78)
        .stderr_has(format!("{f}:18:21: clusters.home.nodes.labstore1005: host labstore1005 is in clusters labstore-primary and home"));
}

#[test]
fn where_finds_projects_volumes_paths_and_clients() {
    let b = bed();
    let fl = b.fleet.display().to_string();
    let j = b
        .run(&["--json", "where", "--offline", "paws"])
        .status(0)
        .json();
    let m = &j["matches"][0];
    assert_eq!(j["matches"].as_array().unwrap().len(), 1, "{j:#}");
    assert_eq!(m["kind"], "project");
    assert_eq!(m["cluster"], "labstore-primary");
    assert_eq!(m["volume"], "tools");
    assert_eq!(m["path"], "/srv/tools/shared/paws");
    assert_eq!(
        m["exports"][0]["options"],
        "rw,sync,no_subtree_check,root_squash,fsid=50380"
    );
    assert_eq!(m["exports"][0]["clients"][0], "198.51.100.0/24");
    assert_eq!(m["backup"]["host"], "labstore2003");
    assert_eq!(m["serving"]["source"], "not-asked");
    let cmds: Vec<&str> = m["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(
        cmds,
        [
            "ssh root@labstore1004 nfs-manage status".to_string(),
            format!("nfs-manage client-config paws --fleet {fl}"),
            "ssh root@labstore2003 nfs-manage backup mount tools".to_string(),
        ]
    );
    // A path deep inside a project's directory.
    let j = b
        .run(&[
            "--json",
            "where",
            "--offline",
            "/srv/tools/shared/quarry-data/a/b",
        ])
        .status(0)
        .json();
    assert_eq!(j["matches"][0]["kind"], "path");
    assert_eq!(j["matches"][0]["project"], "quarry");
    // A client address: every project exported to it (CIDR or exact).
    let j = b
        .run(&["--json", "where", "--offline", "198.51.100.7"])
        .status(0)
        .json();
    let names: Vec<&str> = j["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["project"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["paws", "quarry"]);
    // A volume as CLUSTER/NAME, a node, a cluster.
    b.run(&["where", "--offline", "home/home"])
        .status(0)
        .stdout_has("volume home (volume): cluster home");
    b.run(&["where", "--offline", "torchio"])
        .status(0)
        .stdout_has("node (node): cluster home");
    // Human output carries the same facts.
    b.run(&["where", "--offline", "paws"])
        .status(0)
        .stdout_has("export:    /srv/tools/shared/paws (rw,sync,no_subtree_check,root_squash,fsid=50380) to 198.51.100.0/24")
        .stdout_has("    ssh root@labstore2003 nfs-manage backup mount tools");
    b.run(&["where", "--offline", "nothing-here"])
        .status(2)
        .stderr_has("nothing in the fleet")
        .stderr_has("\"nothing-here\"");
}

#[test]
fn client_config_writes_fstab_autofs_and_systemd_lines() {
    let b = bed();
    b.run(&["client-config", "paws"]).status(0).stdout_is(
        "192.0.2.18:/srv/tools/shared/paws /data/project/paws nfs rw,nfsvers=3,noquota,noatime,_netdev 0 0\n",
    );
    // Read-only, krb5p export: the client mounts it ro with the same flavour.
    b.run(&["client-config", "quarry", "--format", "autofs"]).status(0).stdout_is(
        "# auto.master: /data/project /etc/auto.nfs-manage\nquarry -ro,sec=krb5p,nfsvers=3,noquota,noatime 192.0.2.18:/srv/tools/shared/quarry-data\n",
    );
    // Dual-primary: both nodes, as an auto.home map lists them.
    b.run(&["client-config", "alexis", "--format", "autofs"])
        .status(0)
        .stdout_has("alexis -rw,nfsvers=3,noquota,noatime fiori,torchio:/vol/home/alexis");
    b.run(&["client-config", "alexis", "--format", "fstab"])
        .status(0)
        .stdout_has("# alexis: also served by torchio")
        .stdout_has("fiori:/vol/home/alexis /data/project/alexis nfs rw,nfsvers=3,noquota,noatime,_netdev 0 0");
    b.run(&["client-config", "paws", "--format", "systemd"])
        .status(0)
        .stdout_has("# /etc/systemd/system/data-project-paws.mount\n[Unit]")
        .stdout_has("What=192.0.2.18:/srv/tools/shared/paws\nWhere=/data/project/paws\nType=nfs\nOptions=rw,nfsvers=3,noquota,noatime,_netdev\n");
    let j = b
        .run(&["--json", "client-config", "--all"])
        .status(0)
        .json();
    let names: Vec<&str> = j["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["project"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alexis", "paws", "quarry"]);
    b.run(&["client-config", "nope"])
        .status(2)
        .stderr_has("no cluster of");
    b.run(&["client-config"]).status(2);
    // A project that exists is not placed again (nothing is asked of any node).
    b.run(&["fleet", "place", "paws", "--size", "1G"])
        .status(3)
        .stderr_has("project paws already lives on cluster labstore-primary");
    b.run(&["fleet", "place", "no/slash", "--size", "1G"])
        .status(2)
        .stderr_has("is not a project name");
    b.run(&["fleet", "place", "new", "--size", "lots"])
        .status(2)
        .stderr_has("is not a size");
}

/// Let node a log in to itself with its own key (an operator's host that is also a node).
fn self_login(h: &Host) {
    let s = h.dir.path().join("ssh");
    let auth = std::fs::read_to_string(s.join("authorized_keys")).unwrap();
    let options = auth.split(" ssh-ed25519 ").next().unwrap().to_string();
    let own = std::fs::read_to_string(s.join("id_ed25519.pub")).unwrap();
    std::fs::write(
        s.join("authorized_keys"),
        format!("{}\n{options} {own}", auth.trim_end()),
    )
    .unwrap();
    let hostkey = std::fs::read_to_string(s.join("host_ed25519.pub")).unwrap();
    let mut kh = std::fs::read_to_string(s.join("known_hosts")).unwrap();
    kh.push_str(&format!(
        "\n{} {hostkey}",
        h.addr.split('/').next().unwrap()
    ));
    std::fs::write(s.join("known_hosts"), kh).unwrap();
}

#[test]
fn layout_in_etcd_where_asks_the_lock_and_fleet_status_asks_every_node() {
    privileged!();
    let p = crate::failover::pair();
    self_login(&p.a);
    p.b.run(&["up", "--yes"]).status(0);
    // Cluster "test" is the pair, exactly as its hand-written config says; cluster "gone"
    // has two nodes that do not exist on the LAN.
    let cfg = std::fs::read_to_string(p.a.inside("/run/node/cluster.yaml")).unwrap();
    let entry: String = cfg
        .lines()
        .filter(|l| *l != "cluster: test")
        .map(|l| format!("    {l}\n"))
        .collect();
    let remote = cfg
        .lines()
        .skip_while(|l| !l.starts_with("remote:"))
        .take(3)
        .map(|l| format!("    {l}\n"))
        .collect::<String>();
    let layout = format!(
        "node_config: /run/node/cluster.yaml\nclusters:\n  test:\n    backup_host: {PEER}\n{entry}  gone:\n    backup_host: dumps1\n    nodes:\n      dumps1: {{ address: 192.0.2.50 }}\n      dumps2: {{ address: 192.0.2.51 }}\n    volumes:\n      - {{ name: data, device: /dev/vdz, mountpoint: /srv/dumps, fstype: ext4 }}\n{remote}"
    );
    let src = "etcd://192.0.2.1:2379/nfs-manage/fleet";
    p.a.run(&["where", "--fleet", src, "tools"])
        .status(78)
        .stderr_has("etcd:/nfs-manage/fleet: etcd (http://192.0.2.1:2379) has no fleet layout under this key");
    p.etcd.put("/nfs-manage/fleet", &layout);

    // Who serves: the cluster lock says b.
    let j =
        p.a.run(&["--json", "where", "--fleet", src, "tools"])
            .status(0)
            .json();
    let m = &j["matches"][0];
    assert_eq!(m["kind"], "volume", "{j:#}");
    assert_eq!(m["serving"]["node"], PEER, "{j:#}");
    assert_eq!(m["serving"]["source"], "etcd-lock");
    let cmds: Vec<&str> = m["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(
        cmds,
        [
            format!("ssh root@{PEER} nfs-manage --config /run/node/cluster.yaml status"),
            format!(
                "ssh root@{PEER} nfs-manage --config /run/node/cluster.yaml backup mount tools"
            ),
            format!("ssh root@{NODE} nfs-manage --config /run/node/cluster.yaml failover"),
        ]
    );

    // Every node asked at once; the two that do not exist are unknown, with the reason, and
    // the exit code says the survey has holes (5). `--fleet` is a global option.
    let j =
        p.a.run(&[
            "--fleet",
            src,
            "--json",
            "fleet",
            "status",
            "--host-timeout",
            "8s",
        ])
        .status(5)
        .stderr_has("3 of 6 hosts did not answer and are shown as unknown: gone/dumps1, gone/dumps2, gone/dumps1 (backups)")
        .json();
    let clusters = j["clusters"].as_array().unwrap();
    assert_eq!(clusters.len(), 2, "{j:#}");
    let gone = &clusters[0];
    assert_eq!(gone["name"], "gone");
    for n in gone["nodes"].as_array().unwrap() {
        assert_eq!(n["state"], "unknown", "{n:#}");
        assert!(n["reason"].as_str().unwrap().contains("192.0.2.5"), "{n:#}");
    }
    let test = &clusters[1];
    assert_eq!(test["active"], PEER, "{test:#}");
    let nodes = test["nodes"].as_array().unwrap();
    let role =
        |name: &str| nodes.iter().find(|n| n["node"] == name).unwrap()["status"]["role"].clone();
    assert_eq!(role(PEER), "active", "{test:#}");
    assert_eq!(role(NODE), "standby", "{test:#}");
    let b = nodes.iter().find(|n| n["node"] == PEER).unwrap();
    let tools = &b["status"]["volumes"][0];
    assert_eq!(tools["name"], "tools");
    assert!(
        tools["usage"]["size_bytes"].as_u64().unwrap() > 0,
        "{tools:#}"
    );
    // The backup hosts are asked too: b answers (no backups configured), dumps1 does not.
    assert_eq!(test["backups"]["host"], PEER, "{test:#}");
    assert_eq!(test["backups"]["state"], "answered", "{test:#}");
    assert_eq!(
        test["backups"]["backups"],
        serde_json::json!([]),
        "{test:#}"
    );
    assert_eq!(gone["backups"]["state"], "unknown", "{gone:#}");
    p.a.run(&["fleet", "status", "--fleet", src, "--host-timeout", "8s"])
        .status(5)
        .stdout_has("4 nodes, 2 answered, 2 unknown")
        .stdout_has(format!("backups of test on {PEER}: none configured"))
        .stdout_has("backups of gone on dumps1: unknown (");
    // Every host answering: exit 0.
    p.etcd.put(
        "/nfs-manage/fleet-one",
        &format!("node_config: /run/node/cluster.yaml\nclusters:\n  test:\n    backup_host: {PEER}\n{entry}"),
    );
    p.a.run(&[
        "--fleet",
        "etcd://192.0.2.1:2379/nfs-manage/fleet-one",
        "fleet",
        "status",
        "--host-timeout",
        "8s",
    ])
    .status(0)
    .stdout_has("2 nodes, 2 answered, 0 unknown");

    // Placement: only volumes some node reported count; the others are named.
    let j =
        p.a.run(&[
            "--json",
            "fleet",
            "place",
            "newproj",
            "--size",
            "1M",
            "--fleet",
            src,
            "--host-timeout",
            "8s",
        ])
        .status(0)
        .json();
    assert_eq!(j["chosen"]["cluster"], "test", "{j:#}");
    assert_eq!(j["chosen"]["node"], PEER);
    assert_eq!(j["not_considered"][0], "gone/data");
    assert!(
        j["next"].as_str().unwrap().starts_with(&format!("ssh root@{PEER} nfs-manage --config /run/node/cluster.yaml enable-project newproj --volume ")),
        "{j:#}"
    );
    p.a.run(&[
        "fleet",
        "place",
        "huge",
        "--size",
        "1P",
        "--fleet",
        src,
        "--host-timeout",
        "8s",
    ])
    .status(3)
    .stderr_has("no volume has room for 1.0P");
}

/// The backup row of `name` in `fleet status`'s human output (its table line).
fn backup_row<'a>(out: &'a str, name: &str) -> &'a str {
    out.lines()
        .find(|l| l.split_whitespace().nth(3) == Some(name))
        .unwrap_or_else(|| panic!("no row for backup {name}:\n{out}"))
}

#[test]
fn fleet_status_shows_each_backups_age_and_flags_the_missing_stale_and_failed() {
    privileged!();
    // The backup host (labstore1004, 192.0.2.6) pulls `tools` over rsync from the passive
    // node; `misc` is configured, its target exists, and it is never run.
    let bed = crate::backups::Bed::with(
        "rsync",
        &|src, tgt| {
            ok(&["truncate", "-s", "32M", src.to_str().unwrap()]);
            ok(&["mkfs.ext4", "-q", "-F", src.to_str().unwrap()]);
            ok(&["truncate", "-s", "32M", tgt.to_str().unwrap()]);
        },
        "    max_age: 36h\n  - name: misc\n    source: { host: 192.0.2.1, vg: vd, lv: misc }\n    target: { vg: backup, lv: misc }\n    transport: rsync\n",
    );
    let h = bed.host();
    let misc = bed.dir.join("images/misc-target.img");
    ok(&["truncate", "-s", "32M", misc.to_str().unwrap()]);
    h.ns_ok(&["lvm-seed", "backup", "misc", misc.to_str().unwrap()]);
    bed.run(&["--yes", "backup", "run", "tools"]).status(0);

    // The fleet logs in to the backup host with real ssh, as to any node.
    let sshd = BackupSshd::start(
        h.pid(),
        "192.0.2.6",
        &bed.dir.join("fleet-ssh"),
        &[
            ("PATH", h.path_env()),
            (
                "NFS_MANAGE_STANDIN_DIR",
                bed.dir.join("standin").display().to_string(),
            ),
        ],
    );
    let ssh: Vec<String> = sshd.ssh_argv.iter().map(|a| format!("'{a}'")).collect();
    let cfg = std::fs::read_to_string(&bed.config).unwrap();
    let entry: String = cfg
        .lines()
        .filter(|l| *l != "cluster: test")
        .map(|l| {
            if l.starts_with("remote:") {
                format!("    remote: {{ ssh: [{}], user: root }}\n", ssh.join(", "))
            } else {
                format!("    {l}\n")
            }
        })
        .collect();
    let fleet = bed.dir.join("fleet.yaml");
    std::fs::write(
        &fleet,
        format!(
            "node_config: {}\nclusters:\n  test:\n    backup_host: {NODE}\n{entry}",
            bed.config.display()
        ),
    )
    .unwrap();
    let f = fleet.to_str().unwrap();
    let status = |json: bool| {
        let mut argv = vec![bin().display().to_string(), "--fleet".into(), f.into()];
        if json {
            argv.push("--json".into());
        }
        argv.extend(["fleet", "status", "--host-timeout", "30s"].map(String::from));
        let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
        h.ns_run(&refs)
    };
    // sshd takes a moment to listen.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !status(true).stdout.contains("\"answered\"") {
        assert!(
            std::time::Instant::now() < deadline,
            "the backup host never answered: {}",
            status(false).stderr
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }

    // A report, not an alarm: backup problems are shown, the exit code stays 0.
    let j = status(true).status(0).json();
    let b = &j["clusters"][0]["backups"];
    assert_eq!(b["host"], NODE, "{j:#}");
    assert_eq!(b["state"], "answered", "{j:#}");
    let tools = &b["backups"][0];
    assert_eq!(tools["name"], "tools", "{b:#}");
    assert_eq!(tools["state"], "ok", "{b:#}");
    assert_eq!(tools["last_result"], "ok", "{b:#}");
    assert_eq!(tools["max_age_seconds"], 36 * 3600, "{b:#}");
    let age = tools["age_seconds"].as_u64().unwrap();
    assert!(age < 300, "a backup taken seconds ago: {b:#}");
    assert_eq!(tools["last_ok_time"], tools["last_time"], "{b:#}");
    let m = &b["backups"][1];
    assert_eq!(m["name"], "misc", "{b:#}");
    assert_eq!(m["state"], "never", "{b:#}");
    assert!(
        m["age_seconds"].is_null() && m["last_ok_time"].is_null(),
        "{b:#}"
    );
    assert!(
        b["problems"].as_array().unwrap().iter().any(|p| p
            .as_str()
            .unwrap()
            .starts_with("backup misc: no successful run")),
        "{b:#}"
    );
    let r = status(false);
    r.status(0);
    let out = r.stdout.clone();
    let row = backup_row(&out, "tools");
    assert!(row.contains(" ok "), "{out}");
    // The age in a unit a person reads: `12s ago`, not a count of seconds or "never".
    let ago = row
        .split_whitespace()
        .position(|w| w == "ago")
        .map(|i| row.split_whitespace().nth(i - 1).unwrap())
        .unwrap_or_else(|| panic!("no age in {row}"));
    assert!(ago.ends_with('s') && ago.len() <= 3, "{row}");
    assert!(row.contains("1d 12h"), "the max age: {row}");
    let row = backup_row(&out, "misc");
    assert!(row.contains("NEVER") && row.contains("never"), "{out}");
    assert!(
        out.contains("2 backups, 1 ok, 1 with a problem: test/misc never"),
        "{out}"
    );
    assert!(
        out.contains(&format!("test ({NODE}): backup misc: no successful run")),
        "{out}"
    );

    // Older than its max age: stale.
    std::fs::write(&bed.config, cfg.replace("max_age: 36h", "max_age: 1s")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let j = status(true).status(0).json();
    let tools = &j["clusters"][0]["backups"]["backups"][0];
    assert_eq!(tools["state"], "stale", "{tools:#}");
    assert!(tools["age_seconds"].as_u64().unwrap() >= 2, "{tools:#}");
    let r = status(false);
    r.status(0);
    let out = r.stdout.clone();
    assert!(backup_row(&out, "tools").contains("STALE"), "{out}");
    assert!(
        out.contains("2 backups, 0 ok, 2 with a problem: test/tools stale, test/misc never"),
        "{out}"
    );

    // The last run failed: failed, and the newest good copy's age still shown.
    std::fs::write(&bed.config, &cfg).unwrap();
    h.wrap_real_tool("rsync");
    h.faults(serde_json::json!([{"match": "rsync", "rc": 23, "stderr": "rsync error: some files/attrs were not transferred (code 23)\n"}]));
    bed.run(&["--yes", "backup", "run", "tools"]).status(1);
    let j = status(true).status(0).json();
    let tools = &j["clusters"][0]["backups"]["backups"][0];
    assert_eq!(tools["state"], "failed", "{tools:#}");
    assert_eq!(tools["last_result"], "failed", "{tools:#}");
    assert!(tools["age_seconds"].as_u64().unwrap() >= 2, "{tools:#}");
    assert_ne!(tools["last_ok_time"], tools["last_time"], "{tools:#}");
    let r = status(false);
    r.status(0);
    let out = r.stdout.clone();
    let row = backup_row(&out, "tools");
    assert!(row.contains("FAILED") && row.contains("failed, "), "{out}");
    drop(sshd);
}

#[test]
fn the_shipped_example_layout_renders_configs_the_nodes_load() {
    let out = tempfile::tempdir().unwrap();
    let example = repo_path("examples/fleet.yaml");
    let mut c = Command::new(bin());
    c.args([
        "fleet",
        "render",
        "--fleet",
        example.to_str().unwrap(),
        "--out",
    ])
    .arg(out.path());
    Run::of(&mut c).status(0);
    let mut nodes = 0;
    for d in std::fs::read_dir(out.path()).unwrap() {
        let d = d.unwrap();
        let node = d.file_name().into_string().unwrap();
        let cfg = d.path().join("cluster.yaml");
        // The node's own loader takes it (a fleet of one: no layout at the default place).
        let mut c = Command::new(bin());
        c.env_remove("NFS_MANAGE_FLEET").args([
            "--config",
            cfg.to_str().unwrap(),
            "--node",
            &node,
            "where",
            "--offline",
            &node,
        ]);
        Run::of(&mut c).status(0).stdout_has("node (node)");
        nodes += 1;
    }
    assert_eq!(nodes, 5);
}
