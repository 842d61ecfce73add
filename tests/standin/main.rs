//! Test stand-in for the tools that cannot run on the test machine, one file per tool:
//! drbd.rs (`drbdadm`, `drbdsetup`: no DRBD kernel module), systemctl.rs (systemd is not
//! PID 1), lvm.rs (`lvs`, `lvcreate`, `lvremove`: no device-mapper) and bdsync.rs (not
//! packaged). Tests symlink those names to this binary and put the directory first on PATH;
//! main dispatches on the basename of argv[0], and each tool answers from JSON state files in
//! `$NFS_MANAGE_STANDIN_DIR` (drbd.json, systemd.json…; state.rs). Every call is appended to
//! calls.log and may meet a fault the test asked for in faults.json (faults.rs).
//!
//! Under any other name (mount, umount, exportfs, ip, arping, fuser, mkdir…) it is a
//! pass-through: it logs the call, applies a matching fault, and otherwise execs the real tool
//! of that name found further along PATH (real.rs), so faults can be injected in front of real
//! tools.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};
use nix::sys::signal::{SigHandler, Signal, signal};

use crate::call::{Action, Call, emit};
use crate::faults::{Effect, firing_fault};
use crate::real::find_real;
use crate::state::lock_dirs;

mod bdsync;
mod call;
mod drbd;
mod faults;
mod lvm;
mod mounts;
mod real;
mod state;
mod systemctl;

fn main() {
    // Like the C tools: die quietly on a closed pipe instead of reporting EPIPE.
    // SAFETY: single-threaded, before anything else runs; SIG_DFL is always a valid handler.
    unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) }.ok();
    let argv: Vec<String> = std::env::args().collect();
    let argv0 = argv.first().cloned().unwrap_or_default();
    let tool = Path::new(&argv0)
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let Some(dir) = std::env::var_os("NFS_MANAGE_STANDIN_DIR") else {
        eprintln!("standin: NFS_MANAGE_STANDIN_DIR is not set (the test must set it)");
        std::process::exit(64);
    };
    let args = argv[1..].to_vec();
    let line = std::iter::once(tool.as_str())
        .chain(args.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    let call = Call {
        dir: PathBuf::from(dir),
        tool,
        args,
        line,
    };
    let started = now_ns();
    let code = match run(&call, &argv0) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("standin: error: {e:#}");
            70
        }
    };
    if timing_on(&call) {
        // One line per call: start and end (ns since the epoch) and the call, for benchmarks.
        let line = format!("{started} {} {}\n", now_ns(), call.line);
        if let Ok(mut f) = OpenOptions::new()
            .create(true)
            .append(true)
            .open(call.dir.join("timing.log"))
        {
            let _ = f.write_all(line.as_bytes());
        }
    }
    std::process::exit(code);
}

fn run(call: &Call, argv0: &str) -> Result<i32> {
    let mut _locks = lock_dirs(call)?;

    let mut log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(call.dir.join("calls.log"))?;
    writeln!(log, "{}", call.line)?;

    if let Some(fault) = firing_fault(call)? {
        if fault.sleep_ms > 0 {
            // A slow tool does not hold up the other calls running beside it.
            drop(_locks);
            std::thread::sleep(std::time::Duration::from_millis(fault.sleep_ms));
            _locks = lock_dirs(call)?;
        }
        if let Some(rc) = fault.rc {
            if fault.effect == Effect::Apply {
                // State change only; output replaced by the fault's.
                if let Action::ExecReal = dispatch(call)? {
                    let real = find_real(&call.tool, argv0).context("no real tool on PATH")?;
                    Command::new(real).args(&call.args).output()?;
                }
            }
            return emit(&fault.stdout, &fault.stderr, rc);
        }
    }

    if call.tool == "bdsync" {
        // Its roles run at once (client, patch) and stream: they must not hold the lock.
        drop(_locks);
        return Ok(bdsync::main(call));
    }
    match dispatch(call)? {
        Action::Done(out) => emit(&out.stdout, &out.stderr, out.code),
        Action::ExecReal => match find_real(&call.tool, argv0) {
            // Timed runs (benchmarks) wait for the real tool to log when it ended.
            Some(real) if timing_on(call) => {
                drop(_locks);
                let st = Command::new(&real).args(&call.args).status()?;
                Ok(st.code().unwrap_or(128))
            }
            Some(real) => {
                let err = Command::new(&real).args(&call.args).exec();
                Err(err).with_context(|| format!("exec {}", real.display()))
            }
            None => {
                eprintln!("standin: no real {} on PATH", call.tool);
                Ok(127)
            }
        },
    }
}

/// A `timing` file in the state directory turns on timing.log (see main).
fn timing_on(call: &Call) -> bool {
    call.dir.join("timing").exists()
}

fn now_ns() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

fn dispatch(call: &Call) -> Result<Action> {
    Ok(match call.tool.as_str() {
        "drbdsetup" => Action::Done(drbd::drbdsetup(call)?),
        "drbdadm" => drbd::drbdadm(call)?,
        "systemctl" => Action::Done(systemctl::systemctl(call)?),
        "lvs" => Action::Done(lvm::lvs(call)?),
        "lvcreate" => Action::Done(lvm::lvcreate(call)?),
        "lvremove" => Action::Done(lvm::lvremove(call)?),
        // Test helper, not a real tool: register an image as VG/LV.
        "lvm-seed" => Action::Done(lvm::seed(call)?),
        _ => Action::ExecReal,
    })
}
