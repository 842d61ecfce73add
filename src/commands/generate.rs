//! The hidden `generate` subcommand: completions (bash, zsh, fish) and one man page per
//! subcommand, written from the clap definitions, and nfs-manage.yaml(5) from
//! `config::reference`. The committed copies are checked by a test for staleness; the
//! completions are also tested by use (tests/it/completions.rs), the pages as rendered by
//! man (tests/it/man.rs).

use std::path::Path;

use anyhow::{Context, Result};
use clap::{Command, CommandFactory};
use clap_complete::Shell;
use clap_mangen::roff::{self, Roff, bold, italic, roman};

use crate::cli::{Cli, DEFAULT_CONFIG, GenerateArgs};
use crate::commands::check::State;
use crate::config::reference::{self, KeyDefault};
use crate::exit;

const BIN: &str = "nfs-manage";

pub fn run(args: &GenerateArgs) -> Result<()> {
    let mut cmd = Cli::command();
    cmd.build();
    write_completions(&cmd, &args.completions)?;
    std::fs::create_dir_all(&args.man)?;
    // No `help` subcommand in the pages: it has no page of its own to point to.
    let mut man_cmd = no_help_subcommand(Cli::command());
    man_cmd.build();
    write_man(&man_cmd, &[], &args.man)?;
    let path = args.man.join("nfs-manage.yaml.5");
    std::fs::write(&path, config_page()).with_context(|| format!("writing {}", path.display()))
}

fn write_completions(cmd: &Command, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let visible = visible(cmd).bin_name(BIN);
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut visible.clone(), BIN, &mut buf);
        let mut text = String::from_utf8(buf)?;
        match shell {
            Shell::Bash => text = fix_bash_case_labels(&text),
            Shell::Fish => text.push_str(&fish_positional_values(&visible)),
            _ => {}
        }
        let path = dir.join(clap_complete::Generator::file_name(&shell, BIN));
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// The command tree as a user may type it. clap_complete offers hidden subcommands and
/// arguments too, so completions would suggest `generate`, `backup wrap-remote` and
/// `exports sync --runs`, which are for the build and for bdsync, not for people.
/// `cmd` must be built (help flags, help subcommands and global options already in every
/// subcommand), so they are copied as they are rather than added or propagated again.
fn visible(cmd: &Command) -> Command {
    let mut out = Command::new(cmd.get_name().to_string())
        .disable_help_flag(true)
        .disable_version_flag(true)
        .disable_help_subcommand(true)
        .args(
            cmd.get_arguments()
                .filter(|a| !a.is_hide_set())
                .map(|a| a.clone().global(false)),
        );
    if let Some(about) = cmd.get_about() {
        out = out.about(about.clone());
    }
    if let Some(version) = cmd.get_version() {
        out = out.version(version.to_string());
    }
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        out = out.subcommand(visible(sub));
    }
    out
}

/// clap_complete's bash generator names the top-level state after the binary with `-` turned
/// into `__` (`nfs__manage`) but labels the subcommands' cases with `-` turned into
/// `__subcmd__` (`nfs__subcmd__manage__subcmd__backup`), while the word loop sets
/// `nfs__manage__subcmd__backup`. No case matches, so nothing after the first word completes.
/// Give the case labels the prefix the word loop uses.
fn fix_bash_case_labels(text: &str) -> String {
    text.replace(&BIN.replace('-', "__subcmd__"), &BIN.replace('-', "__"))
}

/// clap_complete's fish generator completes options only; add the fixed values of positional
/// arguments (`check drbd|role|…`), in the generated file's own subcommand conditions.
fn fish_positional_values(cmd: &Command) -> String {
    let mut out = String::new();
    let fname = BIN.replace('-', "_");
    for sub in cmd.get_subcommands() {
        for pos in sub.get_positionals() {
            let values: Vec<_> = pos
                .get_possible_values()
                .into_iter()
                .filter(|v| !v.is_hide_set())
                .collect();
            if values.is_empty() {
                continue;
            }
            for v in values {
                let help = v
                    .get_help()
                    .map(|h| h.to_string().replace('\'', "\\'"))
                    .unwrap_or_default();
                out.push_str(&format!(
                    "complete -c {BIN} -n \"__fish_{fname}_using_subcommand {}\" -f -a \"{}\" -d '{help}'\n",
                    sub.get_name(),
                    v.get_name()
                ));
            }
        }
    }
    out
}

fn no_help_subcommand(cmd: Command) -> Command {
    cmd.disable_help_subcommand(true)
        .mut_subcommands(no_help_subcommand)
}

// ---- man pages ---------------------------------------------------------------------------

/// Command lines shown under EXAMPLES: (the subcommand words they belong to, the line, what
/// it does). Each page shows the examples of its own subcommand and those below it; a unit
/// test parses every line with the real CLI.
const EXAMPLES: &[(&[&str], &str, &str)] = &[
    (
        &["fleet", "render"],
        "nfs-manage fleet render --check",
        "Say whether this node's cluster.yaml is what /etc/nfs-manage/fleet.yaml derives (exit 1 if not).",
    ),
    (
        &["fleet", "render"],
        "nfs-manage fleet render --out /srv/puppet/files/nfs-manage",
        "Write every node's cluster.yaml as DIR/NODE/cluster.yaml, for configuration management.",
    ),
    (
        &["fleet", "status"],
        "nfs-manage fleet status --host-timeout 10s",
        "Every cluster's nodes asked at once; a node silent for 10 s is shown as unknown.",
    ),
    (
        &["fleet", "place"],
        "nfs-manage fleet place paws --size 500G",
        "The volume with the most headroom under its target for a 500 GiB project, and why.",
    ),
    (
        &["where"],
        "nfs-manage where tools",
        "Where project (or volume, cluster, node) tools lives, who serves it now, and the commands for it.",
    ),
    (
        &["where"],
        "nfs-manage where 172.16.1.20",
        "The projects exported to this client address.",
    ),
    (
        &["client-config"],
        "nfs-manage client-config --all --format autofs",
        "An autofs map with every project of the fleet.",
    ),
    (
        &["config", "check"],
        "nfs-manage config check",
        "Validate /etc/nfs-manage/cluster.yaml, its DRBD resources and the tools it needs.",
    ),
    (
        &["status"],
        "nfs-manage status",
        "What is true on this node: DRBD, mounts, exports, NFS, the service IP and the overall role.",
    ),
    (
        &["status"],
        "nfs-manage status --json --holders",
        "The same as JSON, with the processes that hold each mount.",
    ),
    (
        &["up"],
        "nfs-manage --node labstore1004 up --dry-run",
        "Print the plan that would bring the service up on labstore1004; change nothing.",
    ),
    (
        &["up"],
        "nfs-manage up --yes",
        "Bring the service up here without asking (as a runbook step or from cron).",
    ),
    (
        &["down"],
        "nfs-manage down --dry-run",
        "Print the plan that would take the service down here.",
    ),
    (
        &["down"],
        "nfs-manage down --force-unmount --yes",
        "Take it down, killing the processes that hold a mount.",
    ),
    (
        &["failover"],
        "nfs-manage failover --to labstore1005",
        "Move the service to labstore1005 (prints the plan and asks first).",
    ),
    (
        &["failover"],
        "nfs-manage failover --peer-dead --yes",
        "Take over from an active node that is hard-down, only with evidence and after fencing.",
    ),
    (
        &["enable-project"],
        "nfs-manage enable-project tools --clients 192.0.2.0/24 --yes",
        "Export shared/tools to a network.",
    ),
    (
        &["disable-project"],
        "nfs-manage disable-project tools --yes",
        "Withdraw the project's exports; its data stays.",
    ),
    (
        &["exports", "sync"],
        "nfs-manage exports sync --dry-run",
        "Show which exports would change.",
    ),
    (
        &["exports", "sync"],
        "nfs-manage --yes exports sync --interval 300",
        "As a service: apply what changed every five minutes.",
    ),
    (
        &["exports", "import"],
        "nfs-manage exports import /etc/nfs-mounts.yaml --dry-run",
        "Show the project files an existing nfs-mounts.yaml would become.",
    ),
    (
        &["check"],
        "nfs-manage check",
        "All checks, as a Nagios/Icinga plugin.",
    ),
    (
        &["check"],
        "nfs-manage check role --expect active",
        "CRITICAL unless this node is the active one.",
    ),
    (
        &["metrics"],
        "nfs-manage -q metrics --textfile /var/lib/prometheus/node-exporter",
        "Write nfs_manage.prom for node_exporter's textfile collector.",
    ),
    (
        &["sync"],
        "nfs-manage sync --interval 600",
        "Keep rsyncing every sync: entry, ten minutes after each run ends.",
    ),
    (
        &["backup", "run"],
        "nfs-manage backup run tools --dry-run",
        "Print the plan of a backup run.",
    ),
    (
        &["backup", "run"],
        "nfs-manage --yes backup run tools",
        "Run it without asking (the systemd timer does this).",
    ),
    (
        &["backup", "mount"],
        "nfs-manage backup mount tools --ttl 2h --yes",
        "Mount a read-only snapshot of the backup for two hours.",
    ),
    (
        &["backup", "umount"],
        "nfs-manage --yes --quiet backup umount --expired",
        "Unmount every backup mount past its TTL (the hourly timer).",
    ),
    (
        &["backup", "list"],
        "nfs-manage backup list --json",
        "Each backup's last run, snapshot fill and open mount.",
    ),
    (
        &["lock", "show"],
        "nfs-manage lock show",
        "Who holds the cluster lock in etcd, since when.",
    ),
    (
        &["lock", "break"],
        "nfs-manage lock break --yes --reason \"labstore1005 replaced\"",
        "Delete the lock whoever holds it (journaled with the reason).",
    ),
];

/// Environment variables nfs-manage reads besides the options' own (`env =` in cli.rs, taken
/// from clap).
const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "NFS_MANAGE_FLEET",
        "The fleet layout of fleet, where and client-config (--fleet): a file, or etcd://HOST:PORT/KEY.",
    ),
    (
        "NFS_MANAGE_RPC_DIR",
        "Where the kernel's NFS server caches are (default /proc/net/rpc): after a netgroup membership change, the changed addresses' entries are expired there. For tests.",
    ),
    (
        "NFS_MANAGE_TRACE",
        "A file: one line is appended per spawned command (start and end in nanoseconds since the epoch, then the command), for profiling where a run's time goes.",
    ),
    (
        "NO_COLOR",
        "Set (to anything): no colours. Output that is not a terminal has none either.",
    ),
    (
        "SUDO_USER, LOGNAME, USER",
        "The operator recorded in the journal: the first one set, else the user of the uid.",
    ),
    (
        crate::engine::lock::INHERIT_ENV,
        "Set by nfs-manage for the runs it starts itself (failover), which then share its host lock; do not set it.",
    ),
];

/// Files, by config key (their default and the key that moves them) or fixed path.
enum FileAt {
    Key(&'static str),
    Fixed(&'static str),
}

/// (where, what, the subcommand words of the pages that show it; empty: only nfs-manage(1)).
const FILES: &[(FileAt, &str, &[&str])] = &[
    (
        FileAt::Fixed(crate::config::fleet::DEFAULT_FLEET),
        "The fleet layout (--fleet, NFS_MANAGE_FLEET); see nfs-manage.yaml(5), FLEET LAYOUT.",
        &["fleet", "where", "client-config"],
    ),
    (
        FileAt::Fixed(DEFAULT_CONFIG),
        "The configuration (--config, NFS_MANAGE_CONFIG); see nfs-manage.yaml(5).",
        &["config"],
    ),
    (
        FileAt::Key("projects_dir"),
        "One file per project (NAME.yaml), written by enable-project and exports import.",
        &["enable-project", "disable-project", "exports"],
    ),
    (
        FileAt::Key("nfs.exports_dir"),
        "The exports files exports sync writes: one per project, and public.exports.",
        &["enable-project", "disable-project", "exports"],
    ),
    (
        FileAt::Key("exports.backup"),
        "The previous managed exports files, kept before a sync changes them.",
        &["exports"],
    ),
    (
        FileAt::Key("paths.journal"),
        "The journal: one JSON line per step (time, run id, operator, node, step, argv, exit code, duration, verification).",
        &[
            "up", "down", "failover", "exports", "sync", "backup", "lock",
        ],
    ),
    (
        FileAt::Key("paths.lock"),
        "The host lock: one run at a time; a second run exits 4 and names the holder. backup-NAME.lock beside it is held by a backup run.",
        &["up", "down", "failover", "exports", "sync", "backup"],
    ),
    (
        FileAt::Key("paths.state"),
        "State that outlives a run: the open backup mounts, and projects.cache, the parsed project files that exports sync takes for unchanged files (safe to delete: rebuilt by the next sync).",
        &["backup", "exports"],
    ),
    (
        FileAt::Fixed(crate::config::MOUNT_ROOT),
        "Where backup mount mounts NAME by default (backups[].mountpoint).",
        &["backup"],
    ),
    (
        FileAt::Fixed(crate::tools::exportfs::ETAB),
        "The exports in force (read, never written).",
        &["status", "check"],
    ),
];

fn file_path(at: &FileAt) -> String {
    match at {
        FileAt::Key(k) => reference::default_of(k).unwrap_or_else(|| panic!("{k} has no default")),
        FileAt::Fixed(p) => p.to_string(),
    }
}

/// Render `cmd`'s page (and its subcommands'): clap_mangen's sections, then EXIT STATUS,
/// ENVIRONMENT, FILES, EXAMPLES and SEE ALSO, before VERSION.
fn write_man(cmd: &Command, words: &[&str], dir: &Path) -> Result<()> {
    let name = std::iter::once(BIN)
        .chain(words.iter().copied())
        .collect::<Vec<_>>()
        .join("-");
    // The exit codes are rendered as EXIT STATUS below, not as clap's after-help "EXTRA".
    let page_cmd = cmd
        .clone()
        .name(name.clone())
        .after_long_help(None::<&str>)
        .after_help(None::<&str>);
    let mut buf = Vec::new();
    clap_mangen::Man::new(page_cmd).render(&mut buf)?;
    let page = String::from_utf8(buf)?;
    let ours = strip_preamble(&extra_sections(words).render());
    let page = match page.find(".SH VERSION\n") {
        Some(at) => format!("{}{ours}{}", &page[..at], &page[at..]),
        None => format!("{page}{ours}"),
    };
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, page).with_context(|| format!("writing {}", path.display()))?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let mut w = words.to_vec();
        w.push(sub.get_name());
        write_man(sub, &w, dir)?;
    }
    Ok(())
}

/// roff's apostrophe preamble belongs once at the top of a page; clap_mangen wrote it.
fn strip_preamble(text: &str) -> String {
    let preamble = Roff::new().render();
    text.strip_prefix(&preamble).unwrap_or(text).to_string()
}

fn tp(r: &mut Roff, head: Vec<roff::Inline>, body: &str) {
    r.control("TP", []);
    r.text(head);
    r.text([roman(body)]);
}

fn extra_sections(words: &[&str]) -> Roff {
    let mut r = Roff::new();
    let root = words.is_empty();

    r.control("SH", ["EXIT STATUS"]);
    if words.first() == Some(&"check") {
        r.text([roman(
            "A Nagios/Icinga plugin: the worst state found is the exit status.",
        )]);
        for (state, what) in [
            (State::Ok, "nothing is wrong"),
            (
                State::Warning,
                "something needs attention (e.g. a resync, a backup getting old)",
            ),
            (
                State::Critical,
                "the service is or may be broken (e.g. two Primaries, an export of an unmounted volume)",
            ),
            (
                State::Unknown,
                "the check could not run (config invalid, a probe failed, a bad command line)",
            ),
        ] {
            tp(
                &mut r,
                vec![
                    bold(state.code().to_string()),
                    roman(format!(" {}", state.word())),
                ],
                what,
            );
        }
    } else {
        for (code, what) in exit::TABLE {
            tp(&mut r, vec![bold(code.to_string())], what);
        }
        if root {
            r.control("PP", []);
            r.text([roman(
                "nfs-manage check uses the Nagios codes instead: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN; see nfs-manage-check(1).",
            )]);
        }
    }

    if root {
        r.control("SH", ["ENVIRONMENT"]);
        let cmd = Cli::command();
        for arg in cmd.get_arguments() {
            if let (Some(env), Some(long)) = (arg.get_env(), arg.get_long()) {
                let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
                tp(
                    &mut r,
                    vec![bold(env.to_string_lossy().into_owned())],
                    &format!("{help}: the default of --{long}."),
                );
            }
        }
        for (name, what) in ENVIRONMENT {
            tp(&mut r, vec![bold(*name)], what);
        }
    }

    let files: Vec<_> = FILES
        .iter()
        .filter(|(_, _, pages)| root || words.first().is_some_and(|w| pages.contains(w)))
        .collect();
    if !files.is_empty() {
        r.control("SH", ["FILES"]);
        for (at, what, _) in files {
            let moved = match at {
                FileAt::Key(k) => format!(" (config key {k})"),
                FileAt::Fixed(_) => String::new(),
            };
            tp(
                &mut r,
                vec![italic(file_path(at))],
                &format!("{what}{moved}"),
            );
        }
    }

    let examples: Vec<_> = EXAMPLES
        .iter()
        .filter(|(w, _, _)| w.starts_with(words))
        .collect();
    if !examples.is_empty() {
        r.control("SH", ["EXAMPLES"]);
        for (_, line, what) in examples {
            tp(&mut r, vec![bold(*line)], what);
        }
    }

    r.control("SH", ["SEE ALSO"]);
    let mut see = vec![];
    if !root {
        see.push("nfs-manage(1)".to_string());
    }
    see.push("nfs-manage.yaml(5)".to_string());
    if root {
        see.extend(
            [
                "drbdadm(8)",
                "exportfs(8)",
                "exports(5)",
                "systemctl(1)",
                "rsync(1)",
                "ssh(1)",
                "lvm(8)",
            ]
            .map(String::from),
        );
    }
    r.text([roman(see.join(", "))]);
    r
}

/// nfs-manage.yaml(5): every key from config::reference, with the example config.
fn config_page() -> String {
    let mut r = Roff::new();
    let version = format!("nfs-manage {}", env!("CARGO_PKG_VERSION"));
    r.control("TH", ["nfs-manage.yaml", "5", "", version.as_str()]);
    r.control("SH", ["NAME"]);
    r.text([roman(
        "nfs-manage.yaml - the cluster configuration of nfs-manage",
    )]);
    r.control("SH", ["SYNOPSIS"]);
    r.text([italic(DEFAULT_CONFIG)]);
    r.control("SH", ["DESCRIPTION"]);
    r.text([roman(
        "nfs-manage(1) reads one YAML file, by default the one above (--config, NFS_MANAGE_CONFIG). \
         Loading is strict: unknown keys, wrong types and semantic mistakes (duplicate names, nested \
         mountpoints, bad unit or interface names) are errors, each naming FILE:LINE:COLUMN, the key \
         and what was expected, and nfs-manage exits 78. nfs-manage config check validates a file \
         without acting on it.",
    )]);
    r.control("PP", []);
    r.text([roman(
        "Durations are written like 30s, 5m, 12h or 1h 30m. Paths are absolute, except drbd_config. \
         A key path below is dotted; [] stands for each item of a list, <name> for a key you choose.",
    )]);
    r.control("SH", ["KEYS"]);
    let examples = reference::examples();
    for k in reference::keys() {
        r.control("TP", []);
        r.text([bold(k.path), roman(format!(" ({})", k.ty))]);
        r.text([roman(k.about)]);
        let default = match &k.default {
            KeyDefault::Required => "Required.".to_string(),
            KeyDefault::Unset(what) => format!("Default: {what}."),
            KeyDefault::Value(v) => format!("Default: {v}."),
        };
        r.control("br", []);
        r.text([roman(default)]);
        let leaf = k.path.rsplit('.').next().unwrap_or(k.path);
        if let Some((_, Some(v))) = examples.iter().find(|(p, _)| p == k.path) {
            r.control("br", []);
            r.text([roman("Example: "), bold(format!("{leaf}: {v}"))]);
        }
    }
    r.control("SH", ["FLEET LAYOUT"]);
    r.text([roman(
        "Several clusters can be described in one layout, /etc/nfs-manage/fleet.yaml (--fleet; or one \
         etcd key, etcd://HOST:PORT/KEY). Each entry of clusters is a cluster configuration as above \
         without cluster: (the entry's key is its name); nfs-manage fleet render writes each node's \
         configuration from it, and where, fleet status, fleet place and client-config read it. Errors \
         name FILE:LINE:COLUMN in the layout, at the cluster's own key or at the default it inherited. \
         The layout's own keys:",
    )]);
    let doc: yaml_serde::Value =
        yaml_serde::from_str(reference::FLEET_EXAMPLE).expect("FLEET_EXAMPLE is YAML");
    let fleet_examples: Vec<(String, Option<String>)> = reference::walk(&doc)
        .into_iter()
        .map(|(p, v)| (p, reference::show(&v)))
        .collect();
    for k in reference::fleet_keys() {
        r.control("TP", []);
        r.text([bold(k.path), roman(format!(" ({})", k.ty))]);
        r.text([roman(k.about)]);
        let default = match &k.default {
            KeyDefault::Required => "Required.".to_string(),
            KeyDefault::Unset(what) => format!("Default: {what}."),
            KeyDefault::Value(v) => format!("Default: {v}."),
        };
        r.control("br", []);
        r.text([roman(default)]);
        let leaf = k.path.rsplit('.').next().unwrap_or(k.path);
        if let Some((_, Some(v))) = fleet_examples.iter().find(|(p, _)| p == k.path) {
            r.control("br", []);
            r.text([roman("Example: "), bold(format!("{leaf}: {v}"))]);
        }
    }
    r.control("PP", []);
    r.text([roman("A layout that uses every fleet key:")]);
    r.control("PP", []);
    r.control("nf", []);
    r.control("RS", ["4"]);
    for line in reference::FLEET_EXAMPLE.lines() {
        r.text([roman(line)]);
    }
    r.control("RE", []);
    r.control("fi", []);
    r.control("SH", ["EXAMPLE"]);
    r.text([roman("A configuration that uses every key:")]);
    r.control("PP", []);
    r.control("nf", []);
    r.control("RS", ["4"]);
    for line in reference::EXAMPLE.lines() {
        r.text([roman(line)]);
    }
    r.control("RE", []);
    r.control("fi", []);
    r.control("PP", []);
    r.text([roman(
        "More, each with the DRBD resources it names, in /usr/share/doc/nfs-manage/examples/.",
    )]);
    r.control("SH", ["FILES"]);
    tp(&mut r, vec![italic(DEFAULT_CONFIG)], "The configuration.");
    tp(
        &mut r,
        vec![italic("/etc/nfs-manage/cluster.yaml.example")],
        "The primary-cluster example, installed by the package as a starting point.",
    );
    r.control("SH", ["SEE ALSO"]);
    r.text([roman(
        "nfs-manage(1), nfs-manage-config-check(1), drbd.conf(5), exports(5)",
    )]);
    r.render()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn every_example_parses_and_belongs_to_its_page() {
        for (words, line, _) in EXAMPLES {
            let argv = shlex::split(line).unwrap();
            let cli = Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{line}: {e}"));
            // The subcommand words as typed, skipping global options and their values.
            let mut cmd = Cli::command();
            cmd.build();
            let mut path = vec![];
            let mut at = &cmd;
            for a in &argv[1..] {
                if let Some(sub) = at.find_subcommand(a) {
                    path.push(a.as_str());
                    at = sub;
                }
            }
            assert_eq!(&path, words, "{line}");
            drop(cli);
        }
    }

    #[test]
    fn every_file_has_a_path() {
        for (at, _, _) in FILES {
            assert!(file_path(at).starts_with('/'));
        }
    }
}
