//! Writing to stdout and stderr without ever aborting a run: `println!` panics when the
//! reader has gone (`nfs-manage down | head -1`) or a redirect hits a full disk, and a panic
//! in the middle of `down` would leave the node half-changed. These macros drop the write
//! error instead; what a run does is in its journal either way.

/// `print!` that ignores a closed or full stdout.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        let _ = ::std::write!(::std::io::stdout(), $($arg)*);
    }};
}

/// `println!` that ignores a closed or full stdout.
#[macro_export]
macro_rules! outln {
    () => {{
        use ::std::io::Write as _;
        let _ = ::std::writeln!(::std::io::stdout());
    }};
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        let _ = ::std::writeln!(::std::io::stdout(), $($arg)*);
    }};
}

/// `eprint!` that ignores a closed stderr.
#[macro_export]
macro_rules! errout {
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        let _ = ::std::write!(::std::io::stderr(), $($arg)*);
    }};
}

/// `eprintln!` that ignores a closed stderr.
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        let _ = ::std::writeln!(::std::io::stderr(), $($arg)*);
    }};
}

static JSON_PRINTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Print the run's one JSON document (`--json`) and remember that it was printed, so that an
/// error after it adds no second one.
pub fn json(text: &str) {
    JSON_PRINTED.store(true, std::sync::atomic::Ordering::SeqCst);
    outln!("{text}");
}

/// Whether [`json`] printed the run's document.
pub fn json_printed() -> bool {
    JSON_PRINTED.load(std::sync::atomic::Ordering::SeqCst)
}

/// The document of a run that ended in an error before it had one of its own (a usage or
/// config error, a lock held, a refusal before any plan).
pub fn json_error(command: &str, message: &str, exit_code: u8) -> String {
    serde_json::to_string_pretty(&serde_json::json!({
        "format_version": 1,
        "command": command,
        "error": { "message": message, "exit_code": exit_code },
    }))
    .unwrap_or_default()
}
