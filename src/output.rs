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
