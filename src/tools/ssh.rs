//! Commands on another host through ssh. ssh joins its arguments with spaces and the remote
//! shell splits them again, so every remote argument is shell-quoted here; what runs there is
//! exactly the argv built locally.
//!
//! Whether a failure means "the peer is unreachable" matters for `failover --peer-dead`: only
//! a connection that could not be made counts (timeouts, no route); a refused connection, an
//! authentication or a host-key failure proves the host's kernel is up, so they never count.

use std::net::IpAddr;
use std::path::Path;

use crate::config::Remote;
use crate::process::{Cmd, Effect, Output, shell_quote};

/// `SSH… DEST 'quoted remote argv'`.
pub fn remote(ssh: &[String], dest: &str, argv: &[String], effect: Effect) -> Cmd {
    let mut v = ssh.to_vec();
    v.push(dest.to_string());
    v.push(
        argv.iter()
            .map(|a| shell_quote(a))
            .collect::<Vec<_>>()
            .join(" "),
    );
    match effect {
        Effect::Probe => Cmd::probe(v),
        Effect::Change => Cmd::change(v),
    }
}

/// A remote shell script (for the few checks that need a loop or a pipe over there).
pub fn remote_script(ssh: &[String], dest: &str, script: &str) -> Cmd {
    let mut v = ssh.to_vec();
    v.push(dest.to_string());
    v.push(script.to_string());
    Cmd::probe(v)
}

/// Prints the name of every tool in `tools` that is not on the remote PATH.
pub fn missing_tools_script(tools: &[&str]) -> String {
    format!(
        "for t in {}; do command -v \"$t\" >/dev/null 2>&1 || echo \"$t\"; done",
        tools.join(" ")
    )
}

/// The size of a remote device, then the sha256 of each sampled block (`dd … | sha256sum`).
pub fn sample_script(dev: &Path, blocksize: u64, blocks: &[u64]) -> String {
    let d = shell_quote(&dev.display().to_string());
    let mut s = format!("blockdev --getsize64 {d}");
    for b in blocks {
        s.push_str(&format!(
            " && dd if={d} bs={blocksize} skip={b} count=1 status=none | sha256sum"
        ));
    }
    s
}

/// bdsync runs its remote-shell command itself: it splits the string at spaces, with `'…'`
/// or `"…"` grouping (a doubled quote inside stands for itself), and execvp()s it — no
/// shell. (bdsync.c do_command()).
pub fn bdsync_quote(a: &str) -> String {
    if !a.is_empty() && !a.contains([' ', '\'', '"']) {
        a.to_string()
    } else {
        format!("'{}'", a.replace('\'', "''"))
    }
}

/// `remote.ssh USER@ADDRESS 'quoted words'`: a command on another node of the cluster.
pub fn cmd(remote: &Remote, address: IpAddr, words: &[String], effect: Effect) -> Cmd {
    self::remote(
        &remote.ssh,
        &format!("{}@{address}", remote.user),
        words,
        effect,
    )
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

    #[test]
    fn remote_argv_is_quoted_once_for_the_remote_shell() {
        let c = remote(
            &["ssh".into(), "-o".into(), "BatchMode=yes".into()],
            "root@h",
            &["lvcreate".into(), "--name".into(), "a b".into()],
            Effect::Change,
        );
        assert_eq!(
            c.argv,
            [
                "ssh",
                "-o",
                "BatchMode=yes",
                "root@h",
                "lvcreate --name 'a b'"
            ]
        );
    }

    #[test]
    fn bdsync_quoting() {
        assert_eq!(bdsync_quote("plain"), "plain");
        assert_eq!(bdsync_quote("/a b/c"), "'/a b/c'");
        assert_eq!(bdsync_quote("it's"), "'it''s'");
    }

    #[test]
    fn sample() {
        let s = sample_script(Path::new("/dev/vd/s"), 4096, &[0, 7]);
        assert_eq!(
            s,
            "blockdev --getsize64 /dev/vd/s && dd if=/dev/vd/s bs=4096 skip=0 count=1 status=none | sha256sum && dd if=/dev/vd/s bs=4096 skip=7 count=1 status=none | sha256sum"
        );
    }

    fn out(rc: i32, stderr: &str) -> Output {
        Output::fake(rc, "", stderr)
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
                "nfs-manage --config '/etc/a b.yaml'"
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
