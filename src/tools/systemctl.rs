//! `systemctl is-active` (one call for every unit) and start/stop argv.

use std::collections::BTreeMap;

use anyhow::{Result, bail};

use crate::process::{Cmd, Output};

pub fn is_active_cmd(units: &[&str]) -> Cmd {
    Cmd::probe(
        std::iter::once("systemctl")
            .chain(std::iter::once("is-active"))
            .chain(units.iter().copied()),
    )
}

/// `systemctl is-active a b c` prints one state per unit, in order (its exit code only says
/// whether at least one is active, so we read the lines). Anything else (e.g. "System has not
/// been booted with systemd") is an error.
pub fn parse_is_active(units: &[&str], out: &Output) -> Result<BTreeMap<String, String>> {
    let lines: Vec<&str> = out
        .stdout
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    const KNOWN: &[&str] = &[
        "active",
        "inactive",
        "failed",
        "activating",
        "deactivating",
        "reloading",
        "refreshing",
        "unknown",
        "maintenance",
    ];
    if lines.len() != units.len() || !lines.iter().all(|l| KNOWN.contains(l)) {
        bail!(
            "`systemctl is-active` gave unexpected output ({}): {}",
            out.ending(),
            match out.complaint() {
                c if c.is_empty() => "nothing".to_string(),
                c => c,
            }
        );
    }
    Ok(units
        .iter()
        .zip(lines)
        .map(|(u, s)| (u.to_string(), s.to_string()))
        .collect())
}

pub fn start_cmd(unit: &str) -> Cmd {
    Cmd::change(["systemctl", "start", unit])
}

pub fn stop_cmd(unit: &str) -> Cmd {
    Cmd::change(["systemctl", "stop", unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(rc: i32, stdout: &str, stderr: &str) -> Output {
        Output::fake(rc, stdout, stderr)
    }

    #[test]
    fn one_state_per_unit() {
        let m =
            parse_is_active(&["nfs-server", "nginx"], &out(3, "active\ninactive\n", "")).unwrap();
        assert_eq!(m["nfs-server"], "active");
        assert_eq!(m["nginx"], "inactive");
    }

    #[test]
    fn no_systemd_is_an_error_not_inactive() {
        // Printed by systemctl 252 on a host where systemd is not PID 1.
        let e = parse_is_active(
            &["nfs-server"],
            &out(1, "", "System has not been booted with systemd as init system (PID 1). Can't operate.\nFailed to connect to bus: Host is down\n"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("System has not been booted"), "{e}");
    }
}
