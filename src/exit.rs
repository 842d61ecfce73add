//! Exit codes: the one place they are defined.
//!
//! | code | meaning |
//! |------|---------|
//! | 0  | done, or nothing to do |
//! | 1  | a step failed (the message names it, with the command to retry or back out) |
//! | 2  | usage error (bad flag or argument) |
//! | 3  | refused by a safety guard (nothing was changed by the refused step) |
//! | 4  | the lock is held by another run or node |
//! | 5  | some facts could not be probed: a dry run shows the steps that depend on them as unknown; `fleet status` shows the hosts that did not answer as unknown |
//! | 69 | a required tool is missing (named, with the Debian package that provides it) |
//! | 78 | the configuration is invalid |
//! | 130 | stopped by SIGINT (Ctrl-C); 143: by SIGTERM (the step in progress finished or was stopped; the message says what was done) |
//!
//! `nfs-manage check` does not use these: it speaks the Nagios plugin protocol
//! (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).

pub const OK: u8 = 0;
pub const STEP_FAILED: u8 = 1;
pub const USAGE: u8 = 2;
pub const REFUSED: u8 = 3;
pub const LOCKED: u8 = 4;
pub const UNKNOWN_FACTS: u8 = 5;
pub const TOOL_MISSING: u8 = 69;
pub const CONFIG: u8 = 78;
/// 128 + SIGINT.
pub const INTERRUPTED: u8 = 130;
/// 128 + SIGTERM.
pub const TERMINATED: u8 = 143;

/// Rows for the README and the man page, kept next to the constants so they cannot drift.
pub const TABLE: &[(u8, &str)] = &[
    (OK, "done, or nothing to do"),
    (
        STEP_FAILED,
        "a step failed; the message names the step, its command and stderr, and how to retry or back out",
    ),
    (USAGE, "usage error"),
    (
        REFUSED,
        "refused by a safety guard; the refused step changed nothing",
    ),
    (
        LOCKED,
        "another run (or node) holds the lock; the message names the holder",
    ),
    (
        UNKNOWN_FACTS,
        "some facts could not be probed: a dry run shows the steps that depend on them as unknown; fleet status shows the hosts that did not answer as unknown",
    ),
    (
        TOOL_MISSING,
        "a required tool is missing; the message names the Debian package that provides it",
    ),
    (
        CONFIG,
        "the configuration is invalid; the message names file:line:column",
    ),
    (
        INTERRUPTED,
        "stopped by SIGINT (Ctrl-C); no step started after it, the message says what was done",
    ),
    (
        TERMINATED,
        "stopped by SIGTERM; no step started after it, the message says what was done",
    ),
];

/// The exit-code table as text, for `--help` and the man page.
pub fn help() -> String {
    let mut s = String::from("Exit codes:\n");
    for (code, what) in TABLE {
        s.push_str(&format!("  {code:>2}  {what}\n"));
    }
    s.push_str("  `check` uses the Nagios codes instead: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.");
    s
}
