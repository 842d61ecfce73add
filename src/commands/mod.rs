//! One file per subcommand: each turns its arguments and the facts into a plan or a report.

pub mod backup;
pub mod check;
pub mod client_config;
pub mod config;
pub mod disable_project;
pub mod down;
pub mod enable_project;
pub mod expire_cache;
pub mod exports;
pub mod failover;
pub mod fleet;
pub mod generate;
pub mod lock;
pub mod metrics;
pub mod project_move;
pub mod status;
pub mod sync;
pub mod up;
pub mod volume;
pub mod where_;

use anyhow::Result;

use crate::cli::{
    BackupCommand, Cli, Command, ConfigCommand, ExportsCommand, LockCommand, ProjectCommand,
    VolumeCommand,
};
use crate::context::Ctx;

pub fn dispatch(cli: &Cli) -> Result<()> {
    match &cli.command {
        Command::Generate(args) => generate::run(args),
        Command::Volume(VolumeCommand::Init(args)) => volume::init(&Ctx::new(&cli.global)?, args),
        Command::Config(ConfigCommand::Check) => config::check(&cli.global),
        Command::Status(args) => status::run(&Ctx::new(&cli.global)?, args),
        Command::Up => up::run(&Ctx::new(&cli.global)?),
        Command::Down(args) => down::run(&Ctx::new(&cli.global)?, args),
        Command::EnableProject(args) => enable_project::run(&Ctx::new(&cli.global)?, args),
        Command::DisableProject(args) => disable_project::run(&Ctx::new(&cli.global)?, args),
        Command::Exports(ExportsCommand::Sync(args)) => {
            exports::sync(&Ctx::new(&cli.global)?, args)
        }
        Command::Exports(ExportsCommand::Import(args)) => {
            exports::import(&Ctx::new(&cli.global)?, args)
        }
        // A step of a sync: needs no config, only the kernel's caches.
        Command::Exports(ExportsCommand::ExpireCache(args)) => expire_cache::run(&cli.global, args),
        // check turns even a config error into a Nagios UNKNOWN, so it builds its own Ctx.
        Command::Check(args) => check::run(&cli.global, args),
        Command::Metrics(args) => match Ctx::new(&cli.global) {
            Ok(ctx) => metrics::run(&ctx, args),
            Err(e) => Err(metrics::config_failed(args, e)),
        },
        Command::Sync(args) => sync::run(&Ctx::new(&cli.global)?, args),
        Command::Project(ProjectCommand::Move(args)) => {
            project_move::run(&Ctx::new(&cli.global)?, args)
        }
        // Started by bdsync on the remote-shell side: no config, no context.
        Command::Backup(BackupCommand::WrapRemote(args)) => backup::wrap_remote(&cli.global, args),
        Command::Backup(cmd) => backup::dispatch(&Ctx::new(&cli.global)?, cmd),
        Command::Failover(args) => failover::run(&Ctx::new(&cli.global)?, args),
        Command::Lock(LockCommand::Show) => lock::show(&Ctx::new(&cli.global)?),
        Command::Lock(LockCommand::Break(args)) => lock::break_lock(&Ctx::new(&cli.global)?, args),
        // The fleet commands read a layout of many clusters, not one cluster config.
        Command::Fleet(cmd) => fleet::dispatch(&cli.global, cmd),
        Command::Where(args) => where_::run(&cli.global, args),
        Command::ClientConfig(args) => client_config::run(&cli.global, args),
    }
}
