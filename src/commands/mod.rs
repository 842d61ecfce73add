//! One file per subcommand: each turns its arguments and the facts into a plan or a report.

pub mod check;
pub mod config;
pub mod down;
pub mod generate;
pub mod metrics;
pub mod status;
pub mod sync;
pub mod up;

use anyhow::Result;

use crate::cli::{Cli, Command, ConfigCommand};
use crate::engine::Ctx;

pub fn dispatch(cli: &Cli) -> Result<()> {
    match &cli.command {
        Command::Generate(args) => generate::run(args),
        Command::Config(ConfigCommand::Check) => config::check(&cli.global),
        Command::Status => status::run(&Ctx::new(&cli.global)?),
        Command::Up => up::run(&Ctx::new(&cli.global)?),
        Command::Down(args) => down::run(&Ctx::new(&cli.global)?, args),
        // check turns even a config error into a Nagios UNKNOWN, so it builds its own Ctx.
        Command::Check(args) => check::run(&cli.global, args),
        Command::Metrics(args) => metrics::run(&Ctx::new(&cli.global)?, args),
        Command::Sync(args) => sync::run(&Ctx::new(&cli.global)?, args),
    }
}
