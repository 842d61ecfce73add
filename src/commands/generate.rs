//! The hidden `generate` subcommand: completions (bash, zsh, fish) and one man page per
//! subcommand, written from the clap definitions. The committed copies are checked by a test.

use std::path::Path;

use anyhow::{Context, Result};
use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::{Cli, GenerateArgs};

pub fn run(args: &GenerateArgs) -> Result<()> {
    let mut cmd = Cli::command();
    std::fs::create_dir_all(&args.completions)?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        clap_complete::generate_to(shell, &mut cmd, "nfs-manage", &args.completions)
            .with_context(|| format!("writing {shell} completions"))?;
    }
    std::fs::create_dir_all(&args.man)?;
    cmd.build();
    write_man(&cmd, "nfs-manage", &args.man)
}

fn write_man(cmd: &clap::Command, name: &str, dir: &Path) -> Result<()> {
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
