//! nfs-manage: run a DRBD-replicated NFS storage pair in ordered, verified steps.
//!
//! The binary is a thin wrapper over [`commands::dispatch`]. Layout: [`cli`] (clap
//! definitions) → [`commands`] (one module per subcommand, turning arguments and facts into a
//! plan or a report, with its [`context`]) → [`domain`] (DRBD, mounts, exports and projects,
//! the service IP, units, the cluster lock, backups: their facts, steps and checks) →
//! [`engine`] (plan, execute, runner, journal, host lock, atomic files; no storage concept)
//! and [`tools`] (argv builders and output parsers), both on [`process`] (commands and
//! outputs as data). [`config`] loads and validates the config; exit codes live in [`exit`].

#[macro_use]
pub mod output;

pub mod cli;
pub mod commands;
pub mod config;
pub mod context;
pub mod domain;
pub mod engine;
pub mod error;
pub mod exit;
pub mod process;
pub mod tools;

#[cfg(test)]
mod proptests;
