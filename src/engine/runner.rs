//! The one place processes are spawned.
//!
//! Every command goes through [`Runner::run`]: argv only (never a shell string), `LC_ALL=C`
//! so parsers see stable output, a time limit after which the process is killed, and a
//! count of spawned processes (shown with `-v`, used by the benchmarks). Tools are looked
//! up on `PATH`, which is also how the test stand-ins take the place of the real tools.
//! Dry-run is enforced here: a state-changing command is refused before it can spawn.

use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};

use crate::error::Error;

mod pipeline;
pub use pipeline::{Member, MemberStatus, Observed, PipeStats, Pipeline, Report, rsync_progress};

/// Whether a command only reads state or changes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    Probe,
    Change,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    pub argv: Vec<String>,
    pub effect: Effect,
    /// Fed to the command's standard input (e.g. an `etcdctl txn` request); else /dev/null.
    pub stdin: Option<String>,
    /// Overrides the runner's limit for this command (e.g. a short one for etcd and ssh).
    pub timeout: Option<Duration>,
    /// Extra environment for this command only.
    pub env: Vec<(String, String)>,
}

impl Cmd {
    pub fn probe<I, S>(argv: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Cmd {
            argv: argv.into_iter().map(Into::into).collect(),
            effect: Effect::Probe,
            stdin: None,
            timeout: None,
            env: Vec::new(),
        }
    }

    pub fn change<I, S>(argv: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Cmd {
            argv: argv.into_iter().map(Into::into).collect(),
            effect: Effect::Change,
            stdin: None,
            timeout: None,
            env: Vec::new(),
        }
    }

    pub fn with_stdin(mut self, input: impl Into<String>) -> Cmd {
        self.stdin = Some(input.into());
        self
    }

    pub fn with_env(mut self, key: &str, value: &str) -> Cmd {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn with_timeout(mut self, limit: Duration) -> Cmd {
        self.timeout = Some(limit);
        self
    }

    pub fn program(&self) -> &str {
        &self.argv[0]
    }
}

/// Shell-quoted, so the line can be pasted into a root shell as it is.
impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let quoted: Vec<String> = self.argv.iter().map(|a| shell_quote(a)).collect();
        f.write_str(&quoted.join(" "))
    }
}

pub fn shell_quote(a: &str) -> String {
    let plain = !a.is_empty()
        && a.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c));
    if plain {
        a.to_string()
    } else {
        format!("'{}'", a.replace('\'', r"'\''"))
    }
}

#[derive(Debug, Clone)]
pub struct Output {
    /// Exit code; `None` when killed by a signal or by our time limit.
    pub rc: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub duration: Duration,
    pub timed_out: bool,
}

impl Output {
    pub fn success(&self) -> bool {
        self.rc == Some(0)
    }

    /// A short description of how it ended: "exit 11", "killed after 30s (time limit)".
    pub fn ending(&self) -> String {
        match (self.rc, self.timed_out) {
            (_, true) => format!(
                "killed after {} (time limit)",
                humantime::format_duration(round(self.duration))
            ),
            (Some(rc), _) => format!("exit {rc}"),
            (None, _) => "killed by a signal".to_string(),
        }
    }

    /// A finished command's output, for parser tests.
    #[cfg(test)]
    pub fn fake(rc: i32, stdout: &str, stderr: &str) -> Output {
        Output {
            rc: Some(rc),
            stdout: stdout.into(),
            stderr: stderr.into(),
            duration: Duration::ZERO,
            timed_out: false,
        }
    }

    /// stderr, or stdout when stderr is empty: where tools put their complaint.
    pub fn complaint(&self) -> &str {
        let e = self.stderr.trim();
        if e.is_empty() { self.stdout.trim() } else { e }
    }
}

fn round(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64)
}

struct Started {
    handle: duct::Handle,
    start: Instant,
    wall_start: SystemTime,
    deadline: Instant,
    /// Started as the leader of its own process group (killed as a group at the limit).
    own_group: bool,
}

pub struct Runner {
    pub dry_run: bool,
    pub verbose: bool,
    pub probe_timeout: Duration,
    pub step_timeout: Duration,
    spawned: AtomicUsize,
    last_pipe: Mutex<Option<PipeStats>>,
    /// `NFS_MANAGE_TRACE=FILE`: one line per command, appended when it has been reaped —
    /// start and end (ns since the epoch) and the command — for profiling where a run's time
    /// goes (`scripts/bench-failover.sh` uses it).
    trace: Option<std::path::PathBuf>,
}

impl Runner {
    pub fn new(
        dry_run: bool,
        verbose: bool,
        probe_timeout: Duration,
        step_timeout: Duration,
    ) -> Runner {
        Runner {
            dry_run,
            verbose,
            probe_timeout,
            step_timeout,
            spawned: AtomicUsize::new(0),
            last_pipe: Mutex::new(None),
            trace: std::env::var_os("NFS_MANAGE_TRACE")
                .filter(|v| !v.is_empty())
                .map(Into::into),
        }
    }

    pub fn spawned(&self) -> usize {
        self.spawned.load(Ordering::Relaxed)
    }

    /// Run to completion (or the time limit). A non-zero exit is an `Output`, not an error:
    /// callers decide what it means. Errors are: tool missing (exit 69), cannot spawn,
    /// and a state-changing command in dry-run mode (a bug guard).
    pub fn run(&self, cmd: &Cmd) -> Result<Output> {
        let started = self.start(cmd, None)?;
        self.finish(cmd, started)
    }

    /// Like [`Runner::run`], with its own time limit (a long transfer such as rsync).
    pub fn run_limited(&self, cmd: &Cmd, limit: Duration) -> Result<Output> {
        let started = self.start(cmd, Some(limit))?;
        self.finish(cmd, started)
    }

    /// Like [`Runner::run_all`], with this time limit instead of the probe/step one (for
    /// commands the config gives its own limit, like a project's `clients_command`). Each
    /// runs in its own process group, and the whole group is killed at the limit: a wrapper
    /// script's children would otherwise keep its output pipe open and the wait going.
    pub fn run_all_limited(&self, cmds: &[&Cmd], limit: Duration) -> Vec<Result<Output>> {
        let started: Vec<Result<Started>> =
            cmds.iter().map(|c| self.start(c, Some(limit))).collect();
        cmds.iter()
            .zip(started)
            .map(|(c, s)| s.and_then(|s| self.finish(c, s)))
            .collect()
    }

    /// Run several read-only probes at once and wait for all of them: facts are gathered in
    /// the time of the slowest probe, not the sum.
    pub fn run_all(&self, cmds: &[&Cmd]) -> Vec<Result<Output>> {
        let started: Vec<Result<Started>> = cmds.iter().map(|c| self.start(c, None)).collect();
        cmds.iter()
            .zip(started)
            .map(|(c, s)| s.and_then(|s| self.finish(c, s)))
            .collect()
    }

    fn start(&self, cmd: &Cmd, limit: Option<Duration>) -> Result<Started> {
        if cmd.effect == Effect::Change && self.dry_run {
            bail!("internal error: refusing to run `{cmd}` in dry-run mode");
        }
        let program = which::which(cmd.program()).map_err(|_| Error::ToolMissing {
            tool: cmd.program().to_string(),
            package: package_of(cmd.program()),
        })?;
        let start = Instant::now();
        let wall_start = SystemTime::now();
        let mut expr = duct::cmd(program, &cmd.argv[1..]);
        if limit.is_some() {
            expr = expr.before_spawn(|c| {
                std::os::unix::process::CommandExt::process_group(c, 0);
                Ok(())
            });
        }
        let own_group = limit.is_some();
        let limit = limit.or(cmd.timeout).unwrap_or(match cmd.effect {
            Effect::Probe => self.probe_timeout,
            Effect::Change => self.step_timeout,
        });
        let expr = expr
            .env("LC_ALL", "C")
            // etcdctl before 3.4 defaults to the v2 API; we only speak v3.
            .env("ETCDCTL_API", "3");
        let expr = cmd.env.iter().fold(expr, |e, (k, v)| e.env(k, v));
        let expr = match &cmd.stdin {
            Some(input) => expr.stdin_bytes(input.as_bytes().to_vec()),
            None => expr.stdin_null(),
        };
        let handle = expr
            .stdout_capture()
            .stderr_capture()
            .unchecked()
            .start()
            .with_context(|| format!("cannot start `{cmd}`"))?;
        self.spawned.fetch_add(1, Ordering::Relaxed);
        Ok(Started {
            handle,
            start,
            wall_start,
            deadline: start + limit,
            own_group,
        })
    }

    fn finish(&self, cmd: &Cmd, s: Started) -> Result<Output> {
        let waited = s
            .handle
            .wait_deadline(s.deadline)
            .with_context(|| format!("waiting for `{cmd}`"))?;
        let timed_out = waited.is_none();
        if timed_out {
            if s.own_group {
                for pid in s.handle.pids() {
                    let _ = nix::sys::signal::killpg(
                        nix::unistd::Pid::from_raw(pid as i32),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
            }
            let _ = s.handle.kill();
        }
        let out = s
            .handle
            .wait()
            .with_context(|| format!("waiting for `{cmd}`"))?;
        let output = Output {
            rc: if timed_out { None } else { out.status.code() },
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            duration: s.start.elapsed(),
            timed_out,
        };
        if let Some(path) = &self.trace {
            trace(path, s.wall_start, cmd);
        }
        if self.verbose {
            eprintln!(
                "  $ {cmd}  ({}, {} ms)",
                output.ending(),
                output.duration.as_millis()
            );
        }
        Ok(output)
    }

    /// Run a probe that must succeed; a failure is an error naming the command and its stderr.
    pub fn probe_ok(&self, cmd: &Cmd) -> Result<Output> {
        let out = self.run(cmd)?;
        if !out.success() {
            bail!("`{cmd}` failed ({}): {}", out.ending(), out.complaint());
        }
        Ok(out)
    }
}

/// Appends one trace line; a trace that cannot be written is skipped (it is a profiling aid,
/// never a reason to fail a run).
fn trace(path: &std::path::Path, started: SystemTime, cmd: &Cmd) {
    use std::io::Write;
    let ns = |t: SystemTime| t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let line = format!("{} {} {cmd}\n", ns(started), ns(SystemTime::now()));
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = f.write_all(line.as_bytes());
    }
}

/// The Debian package that provides a tool, for the "missing tool" message.
pub fn package_of(tool: &str) -> &'static str {
    match tool {
        "drbdadm" | "drbdsetup" => "drbd-utils",
        "mount" | "umount" => "mount",
        "findmnt" | "blkid" | "losetup" | "unshare" | "nsenter" | "blockdev" => "util-linux",
        "dd" | "sha256sum" | "nice" => "coreutils",
        "ip" => "iproute2",
        "arping" => "arping (or iputils-arping)",
        "systemctl" => "systemd",
        "exportfs" => "nfs-kernel-server",
        "lvs" | "lvcreate" | "lvremove" | "vgs" | "pvs" => "lvm2",
        "fuser" => "psmisc",
        "bdsync" => "bdsync",
        "rsync" => "rsync",
        "ssh" => "openssh-client",
        "etcdctl" => "etcd-client",
        "getent" => "libc-bin",
        "install" => "coreutils",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runner() -> Runner {
        Runner::new(
            false,
            false,
            Duration::from_secs(5),
            Duration::from_millis(300),
        )
    }

    #[test]
    fn quoting_is_paste_safe() {
        let c = Cmd::change(["exportfs", "-o", "rw,sync", "*:/srv/a b", "it's"]);
        assert_eq!(c.to_string(), r"exportfs -o rw,sync '*:/srv/a b' 'it'\''s'");
    }

    #[test]
    fn trace_has_each_command_with_its_start_and_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trace");
        let mut r = runner();
        r.trace = Some(path.clone());
        r.run(&Cmd::probe(["sleep", "0.05"])).unwrap();
        r.run(&Cmd::probe(["sh", "-c", "exit 3"])).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<(u128, u128, &str)> = text
            .lines()
            .map(|l| {
                let mut w = l.splitn(3, ' ');
                let s = w.next().unwrap().parse().unwrap();
                let e = w.next().unwrap().parse().unwrap();
                (s, e, w.next().unwrap())
            })
            .collect();
        assert_eq!(
            lines.iter().map(|l| l.2).collect::<Vec<_>>(),
            ["sleep 0.05", "sh -c 'exit 3'"]
        );
        assert!(lines[0].1 - lines[0].0 >= 50_000_000, "{text}");
        assert!(lines[1].0 >= lines[0].1, "{text}");
    }

    #[test]
    fn captures_output_and_exit_code() {
        let r = runner();
        let out = r
            .run(&Cmd::probe(["sh", "-c", "echo out; echo err >&2; exit 3"]))
            .unwrap();
        assert_eq!(out.rc, Some(3));
        assert_eq!(out.stdout, "out\n");
        assert_eq!(out.complaint(), "err");
        assert_eq!(r.spawned(), 1);
    }

    #[test]
    fn locale_is_forced_to_c() {
        let out = runner()
            .run(&Cmd::probe(["sh", "-c", "echo $LC_ALL"]))
            .unwrap();
        assert_eq!(out.stdout.trim(), "C");
    }

    #[test]
    fn time_limit_kills() {
        let out = runner().run(&Cmd::change(["sleep", "5"])).unwrap();
        assert!(out.timed_out && out.rc.is_none(), "{out:?}");
        assert!(out.duration < Duration::from_secs(4));
        assert!(out.ending().starts_with("killed after"));
    }

    #[test]
    fn limited_run_kills_the_whole_group() {
        let r = runner();
        // The shell's child keeps stdout open; only killing the group ends the wait early.
        let c = Cmd::probe(["sh", "-c", "sleep 30; echo late"]);
        let t = Instant::now();
        let outs = r.run_all_limited(&[&c], Duration::from_millis(300));
        let out = outs.into_iter().next().unwrap().unwrap();
        assert!(out.timed_out, "{out:?}");
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    }

    #[test]
    fn run_all_overlaps_probes() {
        let r = runner();
        let sleep = Cmd::probe(["sleep", "0.3"]);
        let t = Instant::now();
        let outs = r.run_all(&[&sleep, &sleep, &sleep]);
        assert!(outs.iter().all(|o| o.as_ref().unwrap().success()));
        assert!(
            t.elapsed() < Duration::from_millis(800),
            "{:?}",
            t.elapsed()
        );
        assert_eq!(r.spawned(), 3);
    }

    #[test]
    fn missing_tool_names_package() {
        let e = runner().run(&Cmd::probe(["drbdadm-not-here"])).unwrap_err();
        assert_eq!(crate::error::exit_code_of(&e), crate::exit::TOOL_MISSING);
    }

    #[test]
    fn dry_run_never_spawns_a_change() {
        let r = Runner::new(true, false, Duration::from_secs(1), Duration::from_secs(1));
        assert!(r.run(&Cmd::change(["true"])).is_err());
        assert_eq!(r.spawned(), 0);
        assert!(r.run(&Cmd::probe(["true"])).unwrap().success());
    }
}
