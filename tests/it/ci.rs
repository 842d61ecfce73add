//! What CI runs: formatting and lints before the README's test command, on a fresh machine
//! that gets every Debian package the tests use.

use crate::harness::*;

fn ci_script() -> String {
    std::fs::read_to_string(repo_path(".ci/run")).unwrap()
}

/// The README's test command, which .ci/run ends with: it installs what the tests use.
fn test_script() -> String {
    std::fs::read_to_string(repo_path("scripts/test")).unwrap()
}

#[test]
fn ci_checks_formatting_and_lints_before_the_tests() {
    let ci = ci_script();
    let at = |s: &str| {
        ci.find(s)
            .unwrap_or_else(|| panic!(".ci/run does not run {s:?}"))
    };
    assert!(at("rustup component add rustfmt") < at("cargo fmt --check"));
    assert!(at("rustup component add clippy") < at("cargo clippy"));
    assert!(at("cargo fmt --check") < at("\nscripts/test"));
    assert!(at("cargo clippy --all-targets --locked -- -D warnings") < at("\nscripts/test"));
    assert!(ci.trim_end().ends_with("scripts/test"), "{ci}");
    let readme = std::fs::read_to_string(repo_path("README.md")).unwrap();
    assert!(
        readme.lines().take(8).any(|l| l.trim() == "scripts/test"),
        "the README opens with the test command"
    );
    assert!(test_script().contains("cargo test --locked"));
    let manifest = std::fs::read_to_string(repo_path("Cargo.toml")).unwrap();
    assert!(manifest.contains("[lints.rust]") && manifest.contains("[lints.clippy]"));
    assert!(manifest.contains("undocumented_unsafe_blocks = \"deny\""));
}

/// The shells and man-db that the completion and man page tests drive are installed by CI.
#[test]
fn ci_installs_what_the_new_tests_use() {
    let ci = test_script();
    let install = ci
        .split("apt-get install")
        .nth(1)
        .expect("an apt-get install line")
        .split("\n\n")
        .next()
        .unwrap();
    let packages: Vec<&str> = install
        .split_whitespace()
        .filter(|w| !w.starts_with('-') && *w != "\\")
        .collect();
    for p in [
        "bash",
        "zsh",
        "fish",
        "man-db",
        "groff-base",
        "drbd-utils",
        "dpkg",
        "systemd",
    ] {
        assert!(
            packages.contains(&p),
            "{p} is not installed by scripts/test: {packages:?}"
        );
    }
}
