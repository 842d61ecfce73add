//! One file per subcommand: each turns its arguments and the facts into a plan or a report.

pub mod backup;
pub mod config;
pub mod down;
pub mod generate;
pub mod status;
pub mod up;

use anyhow::Result;

use crate::cli::{BackupCommand, Cli, Command, ConfigCommand};
use crate::engine::Ctx;

pub fn dispatch(cli: &Cli) -> Result<()> {
    match &cli.command {
        Command::Generate(args) => generate::run(args),
        Command::Config(ConfigCommand::Check) => config::check(&cli.global),
        Command::Status => status::run(&Ctx::new(&cli.global)?),
        Command::Up => up::run(&Ctx::new(&cli.global)?),
        Command::Down(args) => down::run(&Ctx::new(&cli.global)?, args),
        // Started by bdsync on the remote-shell side: no config, no context.
        Command::Backup(BackupCommand::WrapRemote(args)) => backup::wrap_remote(&cli.global, args),
        Command::Backup(cmd) => backup::dispatch(&Ctx::new(&cli.global)?, cmd),
    }
}
