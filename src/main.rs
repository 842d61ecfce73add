//! nfs-manage: run a DRBD-replicated NFS storage pair in ordered, verified steps.

use std::process::ExitCode;

use nfs_manage::{cli, commands, error, exit};

use clap::Parser;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) if e.use_stderr() && commands::check::is_check_invocation(std::env::args()) => {
            // A monitoring system reads exit 2 as CRITICAL: a bad `check` command line is
            // UNKNOWN (3), said on the one line Nagios shows.
            return ExitCode::from(commands::check::usage_unknown(&e.to_string()));
        }
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    let verbose = cli.global.verbose;
    nfs_manage::engine::logging::init();
    nfs_manage::engine::signals::install();
    // console already turns colours off for NO_COLOR and when output is not a terminal.
    if cli.global.no_color {
        console::set_colors_enabled(false);
        console::set_colors_enabled_stderr(false);
    }
    match commands::dispatch(&cli) {
        Ok(()) => ExitCode::from(exit::OK),
        Err(e) => {
            let code = error::exit_code_of(&e);
            if let Some(error::Error::Silent(_)) = e.downcast_ref::<error::Error>() {
                return ExitCode::from(code);
            }
            log::error!(exit = code; "{e:#}");
            // Context layers first ("while doing X"), then the cause.
            nfs_manage::errln!("nfs-manage: {e:#}");
            if verbose {
                nfs_manage::errln!("(exit {code})");
            }
            ExitCode::from(code)
        }
    }
}
