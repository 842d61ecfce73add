//! The committed man pages, read as a user reads them: each is rendered by `man` (with its
//! warnings on) and the rendered text must hold the sections the code defines — the exit codes
//! from src/exit.rs, every environment variable the source reads, the files at their config
//! defaults, and in nfs-manage.yaml(5) every config key. Staleness is tested in cli.rs.

use std::process::Command;

use nfs_manage::config::reference::{self, KeyDefault};

use crate::harness::*;

/// `man -l PAGE` as plain text, failing on any warning of groff or man.
fn render(page: &str) -> String {
    let out = Command::new("man")
        .args(["--warnings", "-l"])
        .arg(repo_path("man").join(page))
        .env("MANWIDTH", "200")
        .env("MAN_KEEP_FORMATTING", "")
        .env("LC_ALL", "C.UTF-8")
        .output()
        .expect("man (package man-db) is installed by .ci/run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && err.trim().is_empty(),
        "{page}: {err}"
    );
    // No overstrike bold/underline, no hyphenation hints: words as typed.
    let text = String::from_utf8_lossy(&out.stdout).replace(['\u{2010}', '\u{2212}'], "-");
    let mut clean = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if chars.peek() == Some(&'\u{8}') {
            chars.next();
            continue;
        }
        clean.push(c);
    }
    clean
}

/// The rendered text of one section (up to the next heading at the left margin).
fn section(text: &str, name: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in text.lines() {
        if !line.starts_with(' ') && !line.is_empty() {
            inside = line.trim() == name;
            continue;
        }
        if inside {
            out.push_str(line.trim());
            out.push('\n');
        }
    }
    assert!(!out.is_empty(), "no {name} section in\n{text}");
    // Joined so that a wrapped description still reads as one line.
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn every_page_renders_without_warnings() {
    for entry in std::fs::read_dir(repo_path("man")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let text = render(&name);
        assert!(text.contains("NAME"), "{name}");
    }
}

#[test]
fn main_page_has_exit_status_environment_files_and_examples() {
    let text = render("nfs-manage.1");
    let exit = section(&text, "EXIT STATUS");
    for (code, what) in nfs_manage::exit::TABLE {
        let what = what.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(exit.contains(&format!("{code} {what}")), "{code}: {exit}");
    }

    // Every variable the source reads by name (std::env::var*/clap `env =`), found by reading
    // the source, so a new one without documentation fails here.
    let env = section(&text, "ENVIRONMENT");
    let mut names = vec![nfs_manage::engine::lock::INHERIT_ENV.to_string()];
    for file in rust_files(&repo_path("src")) {
        let src = std::fs::read_to_string(&file).unwrap();
        // Only what the program reads: unit tests' own knobs are not its environment.
        let src = src.split("#[cfg(test)]").next().unwrap_or_default();
        if file.ends_with("src/proptests.rs") {
            continue;
        }
        for pat in ["env::var(\"", "env::var_os(\"", "env = \""] {
            for piece in src.split(pat).skip(1) {
                names.push(piece.split('"').next().unwrap().to_string());
            }
        }
    }
    names.extend(["NO_COLOR", "SUDO_USER"].map(String::from));
    for n in &names {
        assert!(
            env.contains(n.as_str()),
            "{n} is read but not in ENVIRONMENT: {env}"
        );
    }
    assert!(names.iter().any(|n| n == "NFS_MANAGE_TRACE"), "{names:?}");

    let files = section(&text, "FILES");
    for key in [
        "projects_dir",
        "nfs.exports_dir",
        "exports.backup",
        "paths.journal",
        "paths.lock",
        "paths.state",
    ] {
        let default = reference::default_of(key).unwrap();
        assert!(
            files.contains(&format!("{default} ")) && files.contains(key),
            "{key} ({default}) not in FILES: {files}"
        );
    }
    assert!(files.contains("/etc/nfs-manage/cluster.yaml"));
    assert!(files.contains("/var/lib/nfs-manage/journal.jsonl"));
    assert!(files.contains("/run/nfs-manage/lock"));

    let examples = section(&text, "EXAMPLES");
    assert!(examples.contains("nfs-manage --node labstore1004 up --dry-run"));
    assert!(section(&text, "SEE ALSO").contains("nfs-manage.yaml(5)"));
    // No page for `help`, so none is pointed to.
    assert!(!text.contains("nfs-manage-help(1)"), "{text}");
}

#[test]
fn subcommand_pages_have_their_exit_status_files_and_examples() {
    let check = render("nfs-manage-check.1");
    let exit = section(&check, "EXIT STATUS");
    for s in ["0 OK", "1 WARNING", "2 CRITICAL", "3 UNKNOWN"] {
        assert!(exit.contains(s), "{s}: {exit}");
    }
    assert!(!exit.contains("78"), "check speaks Nagios only: {exit}");
    assert!(section(&check, "EXAMPLES").contains("nfs-manage check role --expect active"));

    let run = render("nfs-manage-backup-run.1");
    assert!(section(&run, "EXIT STATUS").contains("69 a required tool is missing"));
    assert!(section(&run, "FILES").contains("/run/nfs-manage/lock"));
    let ex = section(&run, "EXAMPLES");
    assert!(ex.contains("nfs-manage --yes backup run tools"), "{ex}");
    assert!(!ex.contains("backup mount"), "only its own examples: {ex}");

    // A parent page shows its subcommands' examples.
    let backup = render("nfs-manage-backup.1");
    assert!(section(&backup, "EXAMPLES").contains("backup umount --expired"));
    assert!(section(&backup, "SEE ALSO").contains("nfs-manage(1)"));
}

#[test]
fn config_page_documents_every_key_with_type_default_and_example() {
    let text = render("nfs-manage.yaml.5");
    let keys = section(&text, "KEYS");
    for k in reference::keys() {
        let head = format!("{} ({})", k.path, k.ty);
        assert!(keys.contains(&head), "{head} missing from KEYS");
        if let KeyDefault::Value(v) = &k.default {
            let at = keys.find(&head).unwrap();
            assert!(
                keys[at..].contains(&format!("Default: {v}.")),
                "{}: default {v}",
                k.path
            );
        }
    }
    assert!(keys.contains("Example: journal: /var/lib/nfs-manage/journal.jsonl"));
    assert!(
        keys.contains("Example: endpoints: [http://10.64.37.20:2379]"),
        "{keys}"
    );
    let example = section(&text, "EXAMPLE");
    assert!(example.contains("cluster: labstore-primary"));
}

fn rust_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(rust_files(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out
}
