//! The hidden `generate` subcommand: completions (bash, zsh, fish) and one man page per
//! subcommand, written from the clap definitions. The committed copies are checked by a test
//! for staleness, and the completions are also tested by use (tests/it/completions.rs).

use std::path::Path;

use anyhow::{Context, Result};
use clap::{Command, CommandFactory};
use clap_complete::Shell;

use crate::cli::{Cli, GenerateArgs};

const BIN: &str = "nfs-manage";

pub fn run(args: &GenerateArgs) -> Result<()> {
    let mut cmd = Cli::command();
    cmd.build();
    write_completions(&cmd, &args.completions)?;
    std::fs::create_dir_all(&args.man)?;
    write_man(&cmd, BIN, &args.man)
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

fn write_man(cmd: &Command, name: &str, dir: &Path) -> Result<()> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone().name(name.to_string())).render(&mut buf)?;
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, buf).with_context(|| format!("writing {}", path.display()))?;
    for sub in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        write_man(sub, &format!("{name}-{}", sub.get_name()), dir)?;
    }
    Ok(())
}
