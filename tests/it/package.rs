//! The Debian package (cargo-deb): built once, from the binary `cargo test` already built
//! (`--no-build --profile dev --no-strip`, so the suite does not compile a release build),
//! listed with `dpkg-deb -c`, and its systemd units checked with `systemd-analyze verify`.

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
    assert!(
        control.contains("rsync") && control.contains("openssh-client"),
        "{control}"
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
