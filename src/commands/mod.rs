//! One file per subcommand: each turns its arguments and the facts into a plan or a report.

pub mod config;
pub mod down;
pub mod failover;
pub mod generate;
pub mod lock;
pub mod status;
pub mod up;

use anyhow::Result;

use crate::cli::{Cli, Command, ConfigCommand, LockCommand};
use crate::engine::Ctx;

pub fn dispatch(cli: &Cli) -> Result<()> {
    match &cli.command {
        Command::Generate(args) => generate::run(args),
        Command::Config(ConfigCommand::Check) => config::check(&cli.global),
        Command::Status => status::run(&Ctx::new(&cli.global)?),
        Command::Up => up::run(&Ctx::new(&cli.global)?),
        Command::Down(args) => down::run(&Ctx::new(&cli.global)?, args),
        Command::Failover(args) => failover::run(&Ctx::new(&cli.global)?, args),
        Command::Lock(LockCommand::Show) => lock::show(&Ctx::new(&cli.global)?),
        Command::Lock(LockCommand::Break(args)) => lock::break_lock(&Ctx::new(&cli.global)?, args),
    }
}
