//! Every `ExecStart=` in systemd/*.service is a command line the real CLI accepts, meaning
//! what the unit says it does.
//!
//! Appending `--help` and running the binary is not enough: clap honours `--help` as soon as
//! it reads it, before it checks required arguments and conflicts (so `backup run --help`
//! passes without a NAME; the test below shows it). The command lines are therefore parsed
//! with the binary's own parser (`Cli::try_parse_from`, what main calls), which validates all.

use std::process::Command;

use clap::Parser;
use nfs_manage::cli::{BackupCommand, Cli, Command as Sub, ExportsCommand};

use crate::harness::*;

/// systemd's ExecStart=: an optional prefix (`-@:+!`), then words with shell-like quoting
/// (systemd.service(5) "COMMAND LINES"); `%i` is the instance, `%%` a percent sign.
fn exec_argv(unit: &str, text: &str, instance: &str) -> Vec<String> {
    let joined = text.replace("\\\n", " ");
    let execs: Vec<&str> = joined
        .lines()
        .filter_map(|l| l.trim().strip_prefix("ExecStart="))
        .collect();
    assert_eq!(execs.len(), 1, "{unit}: expected one ExecStart=");
    let line = execs[0].trim_start_matches(['-', '@', ':', '+', '!']);
    let expanded = line.replace("%%", "\u{0}").replace("%i", instance);
    assert!(
        !expanded.contains('%'),
        "{unit}: a specifier this test does not expand: {line}"
    );
    shlex::split(&expanded.replace('\u{0}', "%"))
        .unwrap_or_else(|| panic!("{unit}: unbalanced quotes: {line}"))
}

#[test]
fn every_execstart_parses_with_the_real_cli() {
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(repo_path("systemd")).unwrap() {
        let path = entry.unwrap().path();
        let unit = path.file_name().unwrap().to_str().unwrap().to_string();
        if !unit.ends_with(".service") {
            continue;
        }
        let argv = exec_argv(&unit, &std::fs::read_to_string(&path).unwrap(), "tools");
        assert_eq!(argv[0], "/usr/bin/nfs-manage", "{unit}: {argv:?}");
        let cli = Cli::try_parse_from(&argv)
            .unwrap_or_else(|e| panic!("{unit}: {argv:?} does not parse:\n{e}"));
        // What each unit is for; a new unit must be added here.
        match (unit.as_str(), &cli.command) {
            ("nfs-manage-backup-expire.service", Sub::Backup(BackupCommand::Umount(a))) => {
                assert!(a.expired && a.name.is_none(), "{unit}: {a:?}");
                assert!(
                    cli.global.yes,
                    "{unit}: off a terminal a change needs --yes"
                );
            }
            ("nfs-manage-backup@.service", Sub::Backup(BackupCommand::Run(a))) => {
                assert_eq!(a.name, "tools", "{unit}");
                assert!(
                    cli.global.yes,
                    "{unit}: off a terminal a change needs --yes"
                );
            }
            ("nfs-manage-exports.service", Sub::Exports(ExportsCommand::Sync(a))) => {
                assert!(a.interval.is_some() && a.runs.is_none(), "{unit}: {a:?}");
                assert!(
                    cli.global.yes,
                    "{unit}: off a terminal a change needs --yes"
                );
            }
            ("nfs-manage-sync@.service", Sub::Sync(a)) => {
                assert_eq!(a.name.as_deref(), Some("tools"), "{unit}");
                assert!(a.interval.is_some(), "{unit}: runs as a loop");
            }
            ("nfs-manage-metrics.service", Sub::Metrics(a)) => {
                assert!(a.textfile.is_some(), "{unit}");
            }
            (u, c) => panic!("{u}: unexpected unit or command {c:?}"),
        }
        seen.push(unit);
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            "nfs-manage-backup-expire.service",
            "nfs-manage-backup@.service",
            "nfs-manage-exports.service",
            "nfs-manage-metrics.service",
            "nfs-manage-sync@.service",
        ]
    );
}

/// Why the test above does not run `ExecStart… --help`: clap says yes to lines it would refuse.
#[test]
fn help_does_not_validate_a_command_line_but_the_parser_does() {
    for bad in [
        "nfs-manage backup run",
        "nfs-manage backup umount tools --expired",
    ] {
        let argv: Vec<&str> = bad.split(' ').collect();
        let st = Command::new(bin())
            .args(&argv[1..])
            .arg("--help")
            .output()
            .unwrap();
        assert!(st.status.success(), "{bad} --help");
        assert!(Cli::try_parse_from(&argv).is_err(), "{bad}");
    }
    // And a mistyped option of a real unit is caught.
    let text = "[Service]\nExecStart=/usr/bin/nfs-manage --yes backup umount --expire\n";
    let argv = exec_argv("x.service", text, "tools");
    assert!(Cli::try_parse_from(&argv).is_err());
    let text = "[Service]\nExecStart=-/usr/bin/nfs-manage \"backup\" run %i\n";
    assert_eq!(
        exec_argv("x.service", text, "a"),
        ["/usr/bin/nfs-manage", "backup", "run", "a"]
    );
}
