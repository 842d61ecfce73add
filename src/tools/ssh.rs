//! ssh to the other node: `remote.ssh` + `USER@ADDRESS` + the remote command, each word
//! shell-quoted (ssh hands the joined words to the remote user's shell).
//!
//! Whether a failure means "the peer is unreachable" matters for `failover --peer-dead`: only
//! a connection that could not be made counts (timeouts, no route); a refused connection, an
//! authentication or a host-key failure proves the host's kernel is up, so they never count.

use std::net::IpAddr;

use crate::config::Remote;
use crate::engine::runner::{Cmd, Effect, Output, shell_quote};

pub fn cmd(remote: &Remote, address: IpAddr, words: &[String], effect: Effect) -> Cmd {
    let mut argv = remote.ssh.clone();
    argv.push(format!("{}@{address}", remote.user));
    argv.extend(words.iter().map(|w| shell_quote(w)));
    match effect {
        Effect::Probe => Cmd::probe(argv),
        Effect::Change => Cmd::change(argv),
    }
}

/// OpenSSH's messages when no connection could be made (ssh exits 255 for these and for
/// every other failure of its own).
const UNREACHABLE: &[&str] = &[
    "Connection timed out",
    "connect to host",
    "No route to host",
    "Network is unreachable",
    "Host is down",
    "Connection closed by remote host",
    "banner exchange",
];

/// The remote could not be reached at all (not: it refused us, or the command failed).
pub fn unreachable(out: &Output) -> bool {
    if out.timed_out {
        return true;
    }
    out.rc == Some(255)
        && UNREACHABLE.iter().any(|m| out.stderr.contains(m))
        && !out.stderr.contains("Connection refused")
        && !out.stderr.contains("Permission denied")
        && !out.stderr.contains("Host key verification failed")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn out(rc: i32, stderr: &str) -> Output {
        Output {
            rc: Some(rc),
            stdout: String::new(),
            stderr: stderr.into(),
            duration: Duration::ZERO,
            timed_out: false,
        }
    }

    #[test]
    fn argv_quotes_remote_words() {
        let r = Remote {
            ssh: vec!["ssh".into(), "-o".into(), "BatchMode=yes".into()],
            user: "root".into(),
        };
        let c = cmd(
            &r,
            "10.64.37.7".parse().unwrap(),
            &[
                "nfs-manage".into(),
                "--config".into(),
                "/etc/a b.yaml".into(),
            ],
            Effect::Probe,
        );
        assert_eq!(
            c.argv,
            [
                "ssh",
                "-o",
                "BatchMode=yes",
                "root@10.64.37.7",
                "nfs-manage",
                "--config",
                "'/etc/a b.yaml'"
            ]
        );
    }

    // Messages as printed by OpenSSH 9.2 (Debian 12) on this project's test bed.
    #[test]
    fn only_connection_failures_are_unreachable() {
        assert!(unreachable(&out(
            255,
            "ssh: connect to host 192.0.2.6 port 22: No route to host\r\n"
        )));
        assert!(unreachable(&out(
            255,
            "ssh: connect to host 192.0.2.6 port 22: Connection timed out\r\n"
        )));
        assert!(!unreachable(&out(
            255,
            "ssh: connect to host 192.0.2.6 port 22: Connection refused\r\n"
        )));
        assert!(!unreachable(&out(
            255,
            "root@192.0.2.6: Permission denied (publickey).\r\n"
        )));
        assert!(!unreachable(&out(255, "Host key verification failed.\r\n")));
        assert!(!unreachable(&out(
            1,
            "connect to host: whatever the remote command said"
        )));
    }
}
