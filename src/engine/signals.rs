//! Ctrl-C (SIGINT) and SIGTERM. Every child runs in its own process group, so a signal from
//! the terminal or from systemd reaches nfs-manage alone, and nfs-manage decides:
//! - outside a change (a probe, a report, waiting for a lock, between `--interval` rounds) it
//!   kills its children and exits at once with 128 + the signal (130, 143);
//! - during a change, the step in progress may finish for the grace period (`timeouts.grace`),
//!   then its process group gets SIGTERM and, 2 s later, SIGKILL; a second signal kills at
//!   once. The executor starts no further step: it journals an `interrupted` record and says
//!   what was done and how to retry or back out, exiting 130 or 143.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// The first signal received (0: none).
static RECEIVED: AtomicI32 = AtomicI32::new(0);
/// A plan is being carried out: finish or stop the step in progress before exiting.
static CHANGING: AtomicBool = AtomicBool::new(false);
static GRACE_MS: AtomicU64 = AtomicU64::new(30_000);
/// The process groups of the children alive now.
static CHILDREN: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

/// Take SIGINT and SIGTERM over for the rest of the process.
pub fn install() {
    let Ok(mut signals) = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ]) else {
        return;
    };
    std::thread::spawn(move || {
        for sig in signals.forever() {
            if RECEIVED.load(Ordering::SeqCst) != 0 {
                kill_children(Signal::SIGKILL);
                continue;
            }
            RECEIVED.store(sig, Ordering::SeqCst);
            if !CHANGING.load(Ordering::SeqCst) {
                kill_children(Signal::SIGKILL);
                std::process::exit(128 + sig);
            }
            let grace = Duration::from_millis(GRACE_MS.load(Ordering::SeqCst));
            crate::errln!(
                "nfs-manage: {} received: the step in progress may finish for {}, then it is stopped; no further step starts (send it again to stop at once)",
                name(sig),
                humantime::format_duration(grace)
            );
            std::thread::spawn(move || {
                std::thread::sleep(grace);
                kill_children(Signal::SIGTERM);
                std::thread::sleep(Duration::from_secs(2));
                kill_children(Signal::SIGKILL);
            });
        }
    });
}

/// How long the step in progress may take to finish after a signal.
pub fn set_grace(grace: Duration) {
    GRACE_MS.store(grace.as_millis() as u64, Ordering::SeqCst);
}

/// The signal received, if any.
pub fn received() -> Option<i32> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

pub fn name(sig: i32) -> String {
    Signal::try_from(sig).map_or_else(|_| format!("signal {sig}"), |s| s.as_str().to_string())
}

/// While this lives, a signal lets the step in progress finish instead of exiting at once.
pub struct Changing(());

impl Changing {
    pub fn start() -> Changing {
        CHANGING.store(true, Ordering::SeqCst);
        Changing(())
    }
}

impl Drop for Changing {
    fn drop(&mut self) {
        CHANGING.store(false, Ordering::SeqCst);
    }
}

pub(crate) fn register(pgid: i32) {
    CHILDREN
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(pgid);
}

pub(crate) fn unregister(pgid: i32) {
    CHILDREN
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&pgid);
}

fn kill_children(sig: Signal) {
    let groups: Vec<i32> = CHILDREN
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .copied()
        .collect();
    for g in groups {
        let _ = killpg(Pid::from_raw(g), sig);
    }
}
