//! Messages to the systemd journal, besides the journal file, when nfs-manage runs off a
//! terminal (timers, cron, runbook automation): one entry per journaled step, with the
//! cluster, node, command, step and run id as journal fields (CLUSTER=, COMMAND=, STEP=…), so
//! `journalctl CLUSTER=labstore-primary STEP=sync:tools` finds them.
//!
//! `systemd-journal-logger` speaks journald's native protocol, which keeps those fields as
//! fields (syslog would flatten them into the text); on Debian's systemd hosts /dev/log is
//! journald too, so nothing is lost. Without journald (no socket: containers, this test
//! machine) the logger is simply not installed and the journal file is the only record —
//! logging never fails a run.

use std::io::IsTerminal;

use log::LevelFilter;
use systemd_journal_logger::JournalLog;

/// Install the journald logger if stderr is not a terminal and journald answers. Returns
/// whether it did.
pub fn init() -> bool {
    if std::io::stderr().is_terminal() {
        return false;
    }
    let Ok(logger) = JournalLog::new() else {
        return false;
    };
    let ok = logger
        .with_syslog_identifier("nfs-manage".into())
        .install()
        .is_ok();
    if ok {
        log::set_max_level(LevelFilter::Info);
    }
    ok
}
