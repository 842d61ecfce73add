//! The one place processes are spawned.
//!
//! Every process — a probe, a step, a pipeline member, a pass-through wrapper — is built by
//! one recipe, [`Runner::command`]: argv only (never a shell string), the tool looked up on
//! `PATH` (which is how the test stand-ins take the place of the real tools), `LC_ALL=C` so
//! parsers see stable output, the command's own environment, and a dry-run guard that refuses
//! a state-changing command before it can spawn. A count of spawned processes is shown with
//! `-v` and used by the benchmarks.
//!
//! A time limit covers the whole process tree: each child leads its own process group, the
//! group is killed at the limit (drbdadm's drbdsetup, a fence agent's ipmitool, ssh's
//! ProxyCommand go with it), the pipes are read no longer, and the output says the real time
//! it took. Own groups also keep a terminal's Ctrl-C from reaching the children directly:
//! nfs-manage decides what a signal stops (see `signals`).
//!
//! `std::process` rather than a wrapper crate: the runner must own the pipe readers, so that
//! a tool's child that keeps stdout open after the tool exited or was killed (drbdadm runs
//! drbdsetup, ssh a ProxyCommand) cannot hold the wait beyond the limit.

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};

use crate::error::Error;
use crate::process::{Cmd, Effect, Output};

mod pipeline;

/// How long the pipes of a process that has ended may stay open. Data already in a pipe is
/// read at once; only a descendant that keeps the pipe open makes the readers wait, and that
/// descendant is then killed with the process group.
const DRAIN: Duration = Duration::from_millis(500);

/// Reads a pipe to its end into a shared buffer, so the output so far can be taken without
/// waiting for the end.
struct Collector {
    buf: Arc<Mutex<Vec<u8>>>,
    done: std::sync::mpsc::Receiver<()>,
}

impl Collector {
    fn start(mut r: impl Read + Send + 'static) -> Collector {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let (tx, done) = std::sync::mpsc::channel();
        let b = buf.clone();
        std::thread::spawn(move || {
            let mut chunk = [0u8; 8192];
            while let Ok(n) = r.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                b.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend_from_slice(&chunk[..n]);
            }
            let _ = tx.send(());
        });
        Collector { buf, done }
    }

    /// Whether the pipe closed (all of it read) by `until`.
    fn closed_by(&self, until: Instant) -> bool {
        matches!(
            self.done
                .recv_timeout(until.saturating_duration_since(Instant::now())),
            Ok(()) | Err(std::sync::mpsc::RecvTimeoutError::Disconnected)
        )
    }

    /// What was read: all of it once the pipe closed, else what came by `until`.
    fn take(self, until: Instant) -> String {
        let _ = self.closed_by(until);
        let b = self.buf.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&b).into_owned()
    }
}

struct Started {
    child: Child,
    stdout: Collector,
    stderr: Collector,
    start: Instant,
    wall_start: SystemTime,
    deadline: Instant,
    /// When the process was seen to end, if it was waited for among others (`wait_all`).
    ended: Option<Instant>,
}

pub struct Runner {
    pub dry_run: bool,
    pub verbose: bool,
    pub probe_timeout: Duration,
    pub step_timeout: Duration,
    spawned: AtomicUsize,
    /// Which package provides a tool, for the "tool missing" error (the tools know; the
    /// runner does not).
    package_of: fn(&str) -> &'static str,
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
            package_of: |_| "unknown",
            trace: std::env::var_os("NFS_MANAGE_TRACE")
                .filter(|v| !v.is_empty())
                .map(Into::into),
        }
    }

    /// Name the package of a missing tool with this lookup.
    pub fn with_packages(mut self, package_of: fn(&str) -> &'static str) -> Runner {
        self.package_of = package_of;
        self
    }

    pub fn spawned(&self) -> usize {
        self.spawned.load(Ordering::Relaxed)
    }

    /// The recipe every process is spawned with (see the module doc). `own_group` makes it
    /// the leader of a new process group, so the group can be killed as a whole (all but a
    /// pass-through wrapper, which must die with the pipeline that runs it).
    fn command(&self, cmd: &Cmd, own_group: bool) -> Result<Command> {
        if cmd.effect == Effect::Change && self.dry_run {
            bail!("internal error: refusing to run `{cmd}` in dry-run mode");
        }
        let program = which::which(cmd.program()).map_err(|_| Error::ToolMissing {
            tool: cmd.program().to_string(),
            package: (self.package_of)(cmd.program()),
        })?;
        let mut c = Command::new(program);
        c.args(&cmd.argv[1..]).env("LC_ALL", "C");
        for (k, v) in &cmd.env {
            c.env(k, v);
        }
        if own_group {
            std::os::unix::process::CommandExt::process_group(&mut c, 0);
        }
        Ok(c)
    }

    /// Spawn through [`Runner::command`] and count it.
    fn spawn(&self, mut c: Command, cmd: &Cmd) -> Result<Child> {
        let child = c.spawn().with_context(|| format!("cannot start `{cmd}`"))?;
        self.spawned.fetch_add(1, Ordering::Relaxed);
        // For the signal handler, until `reaped`.
        super::signals::register(child.id() as i32);
        Ok(child)
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
    /// commands the config gives its own limit, like a project's `clients_command`).
    pub fn run_all_limited(&self, cmds: &[&Cmd], limit: Duration) -> Vec<Result<Output>> {
        let mut started: Vec<Result<Started>> =
            cmds.iter().map(|c| self.start(c, Some(limit))).collect();
        wait_all(&mut started);
        cmds.iter()
            .zip(started)
            .map(|(c, s)| s.and_then(|s| self.finish(c, s)))
            .collect()
    }

    /// Run several read-only probes at once and wait for all of them: facts are gathered in
    /// the time of the slowest probe, not the sum.
    pub fn run_all(&self, cmds: &[&Cmd]) -> Vec<Result<Output>> {
        let mut started: Vec<Result<Started>> = cmds.iter().map(|c| self.start(c, None)).collect();
        wait_all(&mut started);
        cmds.iter()
            .zip(started)
            .map(|(c, s)| s.and_then(|s| self.finish(c, s)))
            .collect()
    }

    /// The limit: the argument, else the command's own, else the probe or step limit.
    fn start(&self, cmd: &Cmd, limit: Option<Duration>) -> Result<Started> {
        let limit = limit.or(cmd.timeout).unwrap_or(match cmd.effect {
            Effect::Probe => self.probe_timeout,
            Effect::Change => self.step_timeout,
        });
        let mut c = self.command(cmd, true)?;
        c.stdin(if cmd.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let start = Instant::now();
        let wall_start = SystemTime::now();
        let mut child = self.spawn(c, cmd)?;
        if let (Some(input), Some(mut w)) = (cmd.stdin.clone(), child.stdin.take()) {
            // A writer thread: a tool that does not read its input must not block us.
            std::thread::spawn(move || {
                let _ = w.write_all(input.as_bytes());
            });
        }
        let stdout = Collector::start(child.stdout.take().expect("piped stdout"));
        let stderr = Collector::start(child.stderr.take().expect("piped stderr"));
        Ok(Started {
            child,
            stdout,
            stderr,
            start,
            wall_start,
            deadline: start + limit,
            ended: None,
        })
    }

    fn finish(&self, cmd: &Cmd, mut s: Started) -> Result<Output> {
        let status =
            wait_until(&mut s.child, s.deadline).with_context(|| format!("waiting for `{cmd}`"))?;
        let timed_out = status.is_none();
        let status = match status {
            Some(st) => st,
            None => {
                kill_group(&mut s.child);
                s.child
                    .wait()
                    .with_context(|| format!("waiting for `{cmd}`"))?
            }
        };
        reaped(&s.child);
        // Ended, but a descendant may still hold its pipes: after a moment the group goes,
        // and then the pipes end as soon as the readers run. Their end is waited for up to the
        // time limit (a holder outside the group cannot stretch the run past it), never for a
        // fixed time: on a loaded machine a reader may not have run yet, and every byte the
        // tool wrote is kept.
        let soon = Instant::now() + DRAIN;
        if !(s.stdout.closed_by(soon) && s.stderr.closed_by(soon)) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(s.child.id() as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let drained = if timed_out {
            Instant::now() + 4 * DRAIN
        } else {
            s.deadline.max(Instant::now() + DRAIN)
        };
        let output = Output {
            rc: if timed_out { None } else { status.code() },
            stdout: s.stdout.take(drained),
            stderr: s.stderr.take(drained),
            duration: s.ended.map_or_else(|| s.start.elapsed(), |e| e - s.start),
            timed_out,
            pipe: None,
        };
        if let Some(path) = &self.trace {
            trace(path, s.wall_start, cmd);
        }
        if self.verbose {
            errln!(
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

/// Kill a child's whole process group (it leads one), and the child itself.
fn kill_group(child: &mut Child) {
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    );
    let _ = child.kill();
}

/// A reaped child's group is no longer the signal handler's to kill (its id may be reused).
fn reaped(child: &Child) {
    super::signals::unregister(child.id() as i32);
}

/// Wait for the child until `deadline`; `None` if it is still running then. With a pidfd
/// (Linux ≥ 5.3) the wait ends when the child does; without one, it polls with a short,
/// growing interval, which can overshoot a short tool's end by up to the last interval.
fn wait_until(
    child: &mut Child,
    deadline: Instant,
) -> std::io::Result<Option<std::process::ExitStatus>> {
    let fd = pidfd(child.id());
    let mut nap = Duration::from_micros(100);
    loop {
        if let Some(st) = child.try_wait()? {
            return Ok(Some(st));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        let left = deadline - now;
        match &fd {
            Some(fd) => exit_or_timeout(fd, left),
            None => {
                std::thread::sleep(nap.min(left));
                nap = (nap * 2).min(Duration::from_millis(20));
            }
        }
    }
}

/// Wait for all of `started` at once, until each has ended or reached its deadline, noting
/// when each ended: a command's duration is then its own, not the time until the commands
/// listed before it ended (they are finished in order afterwards).
fn wait_all(started: &mut [Result<Started>]) {
    use std::os::fd::AsRawFd;
    let fds: Vec<Option<std::os::fd::OwnedFd>> = started
        .iter()
        .map(|s| s.as_ref().ok().and_then(|s| pidfd(s.child.id())))
        .collect();
    loop {
        let now = Instant::now();
        let mut polls = Vec::new();
        let mut next: Option<Instant> = None;
        let mut without_fd = false;
        for (s, fd) in started.iter_mut().zip(&fds) {
            let Ok(s) = s else { continue };
            if s.ended.is_some() {
                continue;
            }
            // An error here is met again, and reported, by `finish`.
            if !matches!(s.child.try_wait(), Ok(None)) {
                s.ended = Some(Instant::now());
                continue;
            }
            if now >= s.deadline {
                continue;
            }
            next = Some(next.map_or(s.deadline, |n| n.min(s.deadline)));
            match fd {
                Some(fd) => polls.push(libc::pollfd {
                    fd: fd.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                }),
                None => without_fd = true,
            }
        }
        let Some(next) = next else { return };
        let mut left = next - now;
        if without_fd {
            left = left.min(Duration::from_millis(5));
        }
        let ms = left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
        // SAFETY: `polls` holds valid pollfds for the duration of the call, and its length.
        unsafe { libc::poll(polls.as_mut_ptr(), polls.len() as libc::nfds_t, ms) };
    }
}

/// A descriptor that becomes readable when process `pid` ends; `None` where the kernel has no
/// pidfd_open.
fn pidfd(pid: u32) -> Option<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: pidfd_open(2) takes a pid and flags, no memory; it returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    let fd = i32::try_from(fd).ok().filter(|fd| *fd >= 0)?;
    // SAFETY: the descriptor was just returned by the kernel and belongs to nothing else.
    Some(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

/// Blocks until the process behind `fd` ends or `left` passes (or a signal comes); the
/// caller checks which.
fn exit_or_timeout(fd: &std::os::fd::OwnedFd, left: Duration) {
    use std::os::fd::AsRawFd;
    // Rounded up, so a wait never degenerates into spinning on 0 ms.
    let ms = left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the duration of the call, count 1.
    unsafe { libc::poll(&mut p, 1, ms) };
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

    /// A shell that starts a child which ignores its pipes (and records its pid), then does
    /// `then`: a tool that forks, as drbdadm, a fence agent or ssh's ProxyCommand do.
    fn forking(pidfile: &std::path::Path, then: &str) -> String {
        format!(
            "sh -c 'trap \"\" TERM; exec sleep 30' & echo $! > {}; {then}",
            pidfile.display()
        )
    }

    /// Whether the recorded process still lives 3 s from now (a killed process takes a
    /// moment to go; a zombie is dead, only its reaping is missing).
    fn alive(pidfile: &std::path::Path) -> bool {
        let pid: i32 = std::fs::read_to_string(pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let running = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|s| s.split(' ').nth(2).is_none_or(|st| st != "Z"));
            if !running || Instant::now() > deadline {
                return running;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn a_probe_whose_child_keeps_the_pipe_ends_with_the_probe() {
        let dir = tempfile::tempdir().unwrap();
        let pids = dir.path().join("pid");
        let t = Instant::now();
        let out = runner()
            .run(&Cmd::probe(["sh", "-c", &forking(&pids, "echo done")]))
            .unwrap();
        assert_eq!(
            (out.rc, out.stdout.as_str()),
            (Some(0), "done\n"),
            "{out:?}"
        );
        assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
        assert!(!alive(&pids), "the child holding the pipe was left running");
    }

    #[test]
    fn a_step_past_its_limit_is_killed_with_its_children() {
        let dir = tempfile::tempdir().unwrap();
        let pids = dir.path().join("pid");
        let t = Instant::now();
        // The step limit of `runner()` is 300 ms.
        let out = runner()
            .run(&Cmd::change(["sh", "-c", &forking(&pids, "sleep 30")]))
            .unwrap();
        assert!(out.timed_out && out.rc.is_none(), "{out:?}");
        assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
        assert!(out.duration >= Duration::from_millis(300), "{out:?}");
        assert!(!alive(&pids), "a child of the killed step was left running");
    }

    #[test]
    fn a_command_with_its_own_limit_is_killed_with_its_children() {
        let dir = tempfile::tempdir().unwrap();
        let pids = dir.path().join("pid");
        let c = Cmd::probe(["sh", "-c", &forking(&pids, "sleep 30")])
            .with_timeout(Duration::from_millis(300));
        let t = Instant::now();
        let out = runner().run(&c).unwrap();
        assert!(out.timed_out, "{out:?}");
        assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
        assert!(!alive(&pids));
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
    fn each_of_several_commands_has_its_own_duration() {
        let r = runner();
        let slow = Cmd::probe(["sleep", "2.5"]);
        let quick = Cmd::probe(["true"]);
        let outs = r.run_all_limited(&[&slow, &quick], Duration::from_secs(10));
        let d: Vec<Duration> = outs.into_iter().map(|o| o.unwrap().duration).collect();
        // Finished after the slow one, the quick one still reports its own time (the margin
        // is for a loaded machine; waited for in order it would report the slow one's 2.5 s).
        assert!(d[0] >= Duration::from_millis(2500), "{d:?}");
        assert!(d[1] < Duration::from_millis(2000), "{d:?}");
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
