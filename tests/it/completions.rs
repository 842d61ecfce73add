//! The committed completions, tested by use: each shell loads the file exactly as it is
//! installed and completes real command lines. Staleness (committed == generated) is tested
//! in cli.rs.
//!
//! - bash: the function that `complete -p nfs-manage` names is called with COMP_WORDS,
//!   COMP_CWORD, COMP_LINE and COMP_POINT set as readline sets them; COMPREPLY is the answer.
//! - fish: `complete -C LINE` after sourcing the file.
//! - zsh: an interactive `zsh -f` in a pseudo-terminal (zsh/zpty) runs `compinit` with the
//!   completions directory on fpath, and a TAB is typed after the line; `compadd` is wrapped
//!   so that every match the completion system adds is also written to a file.

use std::path::Path;
use std::process::Command;

use crate::harness::*;

/// A shell missing here is a skip with a message; in CI (.ci/run installs them) a failure.
fn have(shell: &str) -> bool {
    let ok = Command::new(shell)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{shell} is not installed but CI=true (.ci/run installs it)");
        }
        eprintln!("SKIPPED: {shell} is not installed");
    }
    ok
}

const BASH: &str = r#"
source "$1"
line=$2
read -ra COMP_WORDS <<< "$line"
[[ $line == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
COMP_LINE=$line
COMP_POINT=${#line}
spec=$(complete -p nfs-manage) || exit 90
fn=${spec#*-F }
fn=${fn%% *}
"$fn" nfs-manage "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
"#;

const FISH: &str = r#"source $argv[1]; or exit 90; complete -C $argv[2]"#;

// `${none}` keeps the marker out of the echoed input, so only the output matches it.
const ZSH: &str = r#"
zmodload zsh/zpty || exit 90
dir=$1 out=$2 line=$3
: > $out
zpty -b z zsh -f -i
zpty -w z "PS1='%% '; LISTMAX=100000; fpath=(${(q)dir} \$fpath); autoload -Uz compinit; compinit -u -d ${(q)out}.dump"
zpty -w z "compadd() { local -a __m; builtin compadd -O __m \"\$@\"; print -rl -- \$__m >> ${(q)out}; builtin compadd \"\$@\"; }"
zpty -w z "print READY\${none}1"
zpty -r z x '*READY1*' || exit 91
zpty -w -n z "$line"$'\t'
zpty -w z $'\C-u'"print DONE\${none}2"
zpty -r z x '*DONE2*' || exit 92
zpty -d z
"#;

/// What the shell offers for `line` (the words, without descriptions), run in the repository
/// so that file names complete against it.
fn complete(shell: &str, line: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let completions = repo_path("completions");
    let mut cmd = Command::new("timeout");
    cmd.arg("30").current_dir(repo_path(""));
    let out_file = dir.path().join("matches");
    match shell {
        "bash" => cmd
            .args(["bash", "--norc", "--noprofile", "-c", BASH, "bash"])
            .arg(completions.join("nfs-manage.bash"))
            .arg(line),
        "fish" => cmd
            .args(["fish", "--no-config", "-c", FISH])
            .arg(completions.join("nfs-manage.fish"))
            .arg(line),
        "zsh" => {
            let script = dir.path().join("drive.zsh");
            std::fs::write(&script, ZSH).unwrap();
            cmd.args(["zsh", "-f"])
                .arg(&script)
                .arg(&completions)
                .arg(&out_file)
                .arg(line)
        }
        _ => unreachable!(),
    };
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{shell} completing {line:?}: {out:?}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = if shell == "zsh" {
        std::fs::read_to_string(&out_file).unwrap()
    } else {
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let mut words: Vec<String> = text
        .lines()
        .map(|l| l.split('\t').next().unwrap().trim().to_string())
        .filter(|w| !w.is_empty())
        .collect();
    words.sort();
    words.dedup();
    words
}

/// (line, offered, not offered). Words starting with `-` are ignored by `exactly`.
struct Case {
    line: &'static str,
    has: &'static [&'static str],
    lacks: &'static [&'static str],
    /// When set: the words offered that are not options, exactly.
    exactly: Option<&'static [&'static str]>,
}

const CASES: &[Case] = &[
    Case {
        line: "nfs-manage ",
        has: &[
            "status", "up", "down", "failover", "backup", "exports", "check",
        ],
        // Hidden: for the build and for bdsync, not for people.
        lacks: &["generate", "wrap-remote"],
        exactly: None,
    },
    Case {
        line: "nfs-manage backup ",
        has: &["run", "mount", "umount", "list"],
        lacks: &["wrap-remote", "status"],
        exactly: None,
    },
    Case {
        line: "nfs-manage exports sy",
        has: &["sync"],
        lacks: &[],
        exactly: Some(&["sync"]),
    },
    Case {
        // A global option with its value before the subcommand.
        line: "nfs-manage --node labstore1004 backup r",
        has: &["run"],
        lacks: &[],
        exactly: Some(&["run"]),
    },
    Case {
        line: "nfs-manage lock ",
        has: &["show", "break"],
        lacks: &["status"],
        exactly: None,
    },
    Case {
        // A positional's fixed values.
        line: "nfs-manage check ",
        has: &[
            "drbd",
            "role",
            "service-ip",
            "nfs",
            "exports",
            "backups",
            "all",
        ],
        lacks: &["README.md"],
        exactly: None,
    },
    Case {
        // An option's fixed values.
        line: "nfs-manage check --expect ",
        has: &["active", "standby"],
        lacks: &[],
        exactly: Some(&["active", "standby"]),
    },
    Case {
        line: "nfs-manage exports sync --",
        has: &["--interval", "--force", "--dry-run"],
        lacks: &["--runs"],
        exactly: None,
    },
    Case {
        line: "nfs-manage backup umount --ex",
        has: &["--expired"],
        lacks: &[],
        exactly: None,
    },
];

fn check_shell(shell: &str) {
    if !have(shell) {
        return;
    }
    for case in CASES {
        let got = complete(shell, case.line);
        for w in case.has {
            assert!(
                got.iter().any(|g| g == w),
                "{shell}: {:?} does not offer {w:?}; offers {got:?}",
                case.line
            );
        }
        for w in case.lacks {
            assert!(
                !got.iter().any(|g| g == w),
                "{shell}: {:?} offers {w:?}: {got:?}",
                case.line
            );
        }
        if let Some(want) = case.exactly {
            let words: Vec<&str> = got
                .iter()
                .map(String::as_str)
                .filter(|w| !w.starts_with('-'))
                .collect();
            assert_eq!(words, want, "{shell}: {:?}", case.line);
        }
    }
    // File names for --config (each shell shows them its own way: zsh the last segment).
    let got = complete(shell, "nfs-manage --config examples/labstore-p");
    assert!(
        got.iter().any(|g| g.ends_with("labstore-primary.yaml")),
        "{shell}: --config does not complete file names: {got:?}"
    );
    assert!(Path::new(&repo_path("examples/labstore-primary.yaml")).exists());
}

#[test]
fn bash_completes_nested_subcommands_and_values() {
    check_shell("bash");
}

#[test]
fn fish_completes_nested_subcommands_and_values() {
    check_shell("fish");
}

#[test]
fn zsh_completes_nested_subcommands_and_values() {
    check_shell("zsh");
}
