//! nfs-manage: run a DRBD-replicated NFS storage pair in ordered, verified steps.

use std::process::ExitCode;

use nfs_manage::{cli, commands, error, exit, output};

use clap::{CommandFactory, Parser};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    // `--json` promises one JSON document on stdout, whatever happens: even when the command
    // line itself is wrong.
    let json = args
        .iter()
        .skip(1)
        .take_while(|a| *a != "--")
        .any(|a| a == "--json");
    let cli = match cli::Cli::try_parse_from(&args) {
        Ok(c) => c,
        Err(e) if e.use_stderr() && commands::check::is_check_invocation(args.iter().cloned()) => {
            // A monitoring system reads exit 2 as CRITICAL: a bad `check` command line is
            // UNKNOWN (3), said on the one line Nagios shows.
            if json {
                let code = 3; // Nagios UNKNOWN, as without --json
                output::json(&output::json_error(
                    "check",
                    first_line(&e.to_string()),
                    code,
                ));
                return ExitCode::from(code);
            }
            return ExitCode::from(commands::check::usage_unknown(&e.to_string()));
        }
        Err(e) => {
            let _ = e.print();
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            if json && e.use_stderr() {
                output::json(&output::json_error(
                    &command_words(&args),
                    first_line(&e.to_string()),
                    code,
                ));
            }
            return ExitCode::from(code);
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
    let detailed = cli.global.detailed_exitcode;
    match commands::dispatch(&cli) {
        // terraform's convention, for scripts that only need "changed or not".
        Ok(()) if detailed && nfs_manage::engine::execute::had_changes() => ExitCode::from(2),
        Ok(()) => ExitCode::from(exit::OK),
        Err(e) => {
            let code = error::exit_code_of(&e);
            if json && !output::json_printed() {
                output::json(&output::json_error(
                    &command_words(&args),
                    &format!("{e:#}"),
                    code,
                ));
            }
            if let Some(error::Error::Silent(_)) = e.downcast_ref::<error::Error>() {
                return ExitCode::from(code);
            }
            let code = if detailed { exit::STEP_FAILED } else { code };
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

/// clap's message without its usage block and hints.
fn first_line(message: &str) -> &str {
    message
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("bad arguments")
        .trim_start_matches("error: ")
}

/// The subcommand the command line names ("backup run"), as far as it names one.
fn command_words(args: &[String]) -> String {
    const TAKES_VALUE: &[&str] = &["--config", "--node", "--wait-lock"];
    let mut cmd = cli::Cli::command();
    let mut words = Vec::new();
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        if TAKES_VALUE.contains(&a.as_str()) {
            it.next();
            continue;
        }
        if a.starts_with('-') {
            continue;
        }
        match cmd.find_subcommand(a).cloned() {
            Some(sub) => {
                words.push(a.clone());
                cmd = sub;
            }
            None => break,
        }
    }
    words.join(" ")
}
