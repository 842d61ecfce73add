//! The Debian package (cargo-deb): built once, from the binary `cargo test` already built
//! (`--no-build --profile dev --no-strip`, so the suite does not compile a release build),
//! listed with `dpkg-deb -c`, its control fields read with `dpkg-deb -f`, its systemd units
//! checked with `systemd-analyze verify` and against the files it installs, and its examples
//! run from where it installs them.

use std::path::Path;
use std::process::Command;

use crate::harness::*;

/// cargo-deb is installed by .ci/run. Outside CI a machine without it skips this test with a
/// message; in CI it fails instead.
fn have_cargo_deb() -> bool {
    let ok = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["deb", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("cargo-deb is not installed but CI=true (.ci/run installs it)");
        }
        eprintln!("SKIPPED: cargo-deb is not installed (cargo install --locked cargo-deb)");
    }
    ok
}

const UNITS: &[&str] = &[
    "nfs-manage-exports.service",
    "nfs-manage-sync@.service",
    "nfs-manage-backup@.service",
    "nfs-manage-backup@.timer",
    "nfs-manage-backup-expire.service",
    "nfs-manage-backup-expire.timer",
    "nfs-manage-metrics.service",
    "nfs-manage-metrics.timer",
];

#[test]
fn debian_package_has_binary_docs_conffile_and_verified_units() {
    if !have_cargo_deb() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(repo_path(""))
        .args(["deb", "--no-build", "--profile", "dev", "--no-strip", "-o"])
        .arg(out.path())
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "cargo deb failed: {}",
        String::from_utf8_lossy(&build.stderr)
    );
    let deb = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .expect("a .deb");
    let deb = deb.to_str().unwrap();

    // dpkg-deb -c: every file the package promises.
    let listing = ok(&["dpkg-deb", "-c", deb]);
    let files: Vec<&str> = listing
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .filter_map(|p| p.strip_prefix("./"))
        .collect();
    let mut want: Vec<String> = vec![
        "usr/bin/nfs-manage".into(),
        "etc/nfs-manage/cluster.yaml.example".into(),
        "usr/share/bash-completion/completions/nfs-manage".into(),
        "usr/share/zsh/vendor-completions/_nfs-manage".into(),
        "usr/share/fish/vendor_completions.d/nfs-manage.fish".into(),
        "usr/share/doc/nfs-manage/examples/dumps.yaml".into(),
    ];
    for m in std::fs::read_dir(repo_path("man")).unwrap() {
        let name = m.unwrap().file_name().into_string().unwrap();
        let section = name.rsplit('.').next().unwrap();
        want.push(format!("usr/share/man/man{section}/{name}.gz"));
    }
    for u in UNITS {
        want.push(format!("lib/systemd/system/{u}"));
    }
    for w in &want {
        assert!(
            files.contains(&w.as_str()),
            "{w} missing from the package:\n{listing}"
        );
    }
    assert!(
        listing
            .lines()
            .any(|l| l.starts_with("-rwxr-xr-x") && l.ends_with("./usr/bin/nfs-manage")),
        "{listing}"
    );
    // The man pages in the package are the committed ones (the binary's `generate` output).
    assert!(files.contains(&"usr/share/man/man1/nfs-manage-check.1.gz"));
    assert!(files.contains(&"usr/share/man/man5/nfs-manage.yaml.5.gz"));

    // The example config is a conffile; there are no maintainer scripts, so installing the
    // package enables and starts nothing.
    let ctrl = tempfile::tempdir().unwrap();
    ok(&["dpkg-deb", "-e", deb, ctrl.path().to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(ctrl.path().join("conffiles"))
            .unwrap()
            .trim(),
        "/etc/nfs-manage/cluster.yaml.example"
    );
    for script in ["preinst", "postinst", "prerm", "postrm"] {
        assert!(
            !ctrl.path().join(script).exists(),
            "{script}: the package must not enable or start units"
        );
    }
    let control = std::fs::read_to_string(ctrl.path().join("control")).unwrap();
    assert!(control.contains("Package: nfs-manage"), "{control}");

    // Depends: only what every host runs (storage node, plain NFS server, backup host): mount,
    // umount and fuser. The role's tools are recommended or suggested; a missing one is named
    // with its package by `config check` (exit 69).
    let field = |f: &str| ok(&["dpkg-deb", "-f", deb, f]).trim().to_string();
    let depends = relation_names(&field("Depends"));
    for d in ["mount", "util-linux", "psmisc"] {
        assert!(
            depends.iter().any(|x| x == d),
            "{d} not in Depends: {depends:?}"
        );
    }
    for role_only in [
        "drbd-utils",
        "nfs-kernel-server",
        "lvm2",
        "etcd-client",
        "rsync",
        "openssh-client",
        "arping",
        "bdsync",
    ] {
        assert!(
            !depends.iter().any(|x| x == role_only),
            "{role_only} is not needed on every host: {depends:?}"
        );
    }
    let recommends = relation_names(&field("Recommends"));
    for r in [
        "drbd-utils",
        "nfs-kernel-server",
        "arping",
        "iputils-arping",
        "openssh-client",
        "rsync",
    ] {
        assert!(recommends.iter().any(|x| x == r), "{r}: {recommends:?}");
    }
    let suggests = relation_names(&field("Suggests"));
    for sg in ["lvm2", "etcd-client"] {
        assert!(suggests.iter().any(|x| x == sg), "{sg}: {suggests:?}");
    }
    // bdsync is in no Debian release: the description names its upstream.
    let description = field("Description");
    assert!(
        description.contains("https://github.com/rolffokkens/bdsync"),
        "{description}"
    );

    // systemd-analyze verify on the extracted package. systemd is not PID 1 here, which verify
    // does not need; it does need the units' targets (sysinit.target…) and ExecStart binaries
    // to exist under --root, so the root is the package's files plus this machine's own unit
    // directory. --man=no: the Documentation= pages are in the package, not on this host.
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    std::fs::create_dir_all(r.join("lib/systemd")).unwrap();
    ok(&[
        "cp",
        "-r",
        "/lib/systemd/system",
        r.join("lib/systemd/").to_str().unwrap(),
    ]);
    ok(&["dpkg-deb", "-x", deb, r.to_str().unwrap()]);

    // Each unit runs the binary where the package puts it and points to pages it ships.
    for u in UNITS {
        let text = std::fs::read_to_string(r.join("lib/systemd/system").join(u)).unwrap();
        for line in text.lines() {
            if let Some(cmd) = line.strip_prefix("ExecStart=") {
                let exe = cmd.split_whitespace().next().unwrap();
                assert_eq!(exe, "/usr/bin/nfs-manage", "{u}");
                assert!(
                    r.join(&exe[1..]).is_file(),
                    "{u}: {exe} is not in the package"
                );
            }
            if let Some(docs) = line.strip_prefix("Documentation=") {
                for d in docs.split_whitespace() {
                    let page = d.strip_prefix("man:").expect(d);
                    let (name, section) = page.trim_end_matches(')').split_once('(').unwrap();
                    let path = format!("usr/share/man/man{section}/{name}.{section}.gz");
                    assert!(r.join(&path).is_file(), "{u}: {d}: no {path}");
                }
            }
        }
    }

    // The installed examples work as printed: each DRBD example finds its resources through
    // drbd_config (examples/drbd.conf and drbd.d/ are installed beside it).
    for res in std::fs::read_dir(repo_path("examples/drbd.d")).unwrap() {
        let name = res.unwrap().file_name().into_string().unwrap();
        let path = format!("usr/share/doc/nfs-manage/examples/drbd.d/{name}");
        assert!(files.contains(&path.as_str()), "{path}");
    }
    assert!(files.contains(&"usr/share/doc/nfs-manage/examples/drbd.conf"));
    let docs = r.join("usr/share/doc/nfs-manage/examples");
    for ex in [
        "labstore-primary",
        "labstore-secondary",
        "home-dual-primary",
        "dumps",
    ] {
        let out = Command::new(r.join("usr/bin/nfs-manage"))
            .arg("--config")
            .arg(docs.join(format!("{ex}.yaml")))
            .args(["config", "check"])
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{ex}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let units: Vec<String> = UNITS
        .iter()
        .map(|u| r.join("lib/systemd/system").join(u).display().to_string())
        .collect();
    let mut argv = vec![
        "systemd-analyze".to_string(),
        "verify".into(),
        "--man=no".into(),
        format!("--root={}", r.display()),
    ];
    argv.extend(units.iter().cloned());
    let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
    let v = sh(&refs);
    let complaints = format!(
        "{}{}",
        String::from_utf8_lossy(&v.stdout),
        String::from_utf8_lossy(&v.stderr)
    );
    assert!(
        v.status.success() && complaints.trim().is_empty(),
        "systemd-analyze verify: {complaints}"
    );
    // And the check has teeth: a misspelt key is reported.
    let bad = r.join("lib/systemd/system/nfs-manage-metrics.service");
    let mut text = std::fs::read_to_string(&bad).unwrap();
    text.push_str("ExecStrat=/usr/bin/nfs-manage\n");
    std::fs::write(&bad, text).unwrap();
    let v = sh(&refs);
    assert!(
        String::from_utf8_lossy(&v.stderr).contains("Unknown key 'ExecStrat'"),
        "{v:?}"
    );
    // The units' command lines are checked against the CLI in units.rs.
    let _ = Path::new(deb);
}

/// Package names of a Depends-style field: `a (>= 1), b | c` gives a, b, c.
fn relation_names(field: &str) -> Vec<String> {
    field
        .split([',', '|'])
        .filter_map(|p| p.split_whitespace().next())
        .map(str::to_string)
        .collect()
}
