//! nfs-manage: run a DRBD-replicated NFS storage pair in ordered, verified steps.
//!
//! The binary is a thin wrapper over [`commands::dispatch`]. Layout: [`cli`] (clap
//! definitions) → [`commands`] (one module per subcommand, turning arguments and facts into a
//! plan or a report) → [`engine`] (facts, plan, runner, journal, lock) → [`tools`] (argv
//! builders and output parsers) and [`config`]. Exit codes live in [`exit`].

pub mod cli;
pub mod commands;
pub mod config;
pub mod engine;
pub mod error;
pub mod exit;
pub mod projects;
pub mod tools;
