//! Pipelines (`a | b`) whose members are each checked.
//!
//! A shell pipeline (and duct's `.pipe()`) reports one status: the last member's, or with
//! pipefail the right-most failing one — so a failing producer can be hidden or blamed on the
//! wrong process. Here every member is spawned separately and the bytes between neighbours
//! pass through a copier thread we own, so:
//! - every member's exit status (or signal) is collected and the failing one is named;
//! - a member that stops reading early is noticed (the copier gets EPIPE) even if all exit 0;
//! - the data is streamed through a fixed 128 KiB buffer, never held in memory;
//! - the copier counts bytes for the progress bar and the journal, and can hold the stream
//!   to a bandwidth limit (the producer then blocks, which slows its own input too).
//!
//! Some processes are started by a member rather than by us (bdsync's client starts
//! `ssh … bdsync --server` and never waits for it). Such an "observed" process is run through
//! `nfs-manage backup wrap-remote`, which writes its exit status to a file; the pipeline reads
//! the file afterwards and counts a missing report as a failure.
//!
//! `std::process` is used here instead of duct because the pipe ends must be owned exactly:
//! an end held open by the parent keeps the reader from ever seeing end-of-file.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::{Cmd, Effect, Output, Runner, package_of};
use crate::error::Error;

const BUF: usize = 128 * 1024;
const TAIL: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// How messages name it: "bdsync --patch", "bdsync (client)".
    pub name: String,
    pub cmd: Cmd,
}

/// A process started by a member, whose exit status a wrapper writes to `status_file`.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub name: String,
    pub status_file: PathBuf,
}

/// What the wrapper writes (JSON) when the observed process ends.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Report {
    pub rc: Option<i32>,
    pub signal: Option<i32>,
    pub stderr: String,
}

#[derive(Debug, Clone)]
pub struct Pipeline {
    pub members: Vec<Member>,
    pub observed: Vec<Observed>,
    pub timeout: Duration,
    /// Bytes per second through the copiers.
    pub bwlimit: Option<u64>,
    /// Progress bar label.
    pub label: String,
    /// Reads progress (bytes done) from a line of the last member's stdout (rsync's
    /// `--info=progress2`); without it, progress is the bytes through the copiers.
    pub stdout_progress: Option<fn(&str) -> Option<u64>>,
}

impl Pipeline {
    /// `a | b`, each member shell-quoted: paste-able into a root shell.
    pub fn display(&self) -> String {
        self.members
            .iter()
            .map(|m| m.cmd.to_string())
            .collect::<Vec<_>>()
            .join(" | ")
    }

    /// Every member's argv, separated by "|": for the journal.
    pub fn flat_argv(&self) -> Vec<String> {
        let mut v = Vec::new();
        for (i, m) in self.members.iter().enumerate() {
            if i > 0 {
                v.push("|".to_string());
            }
            v.extend(m.cmd.argv.iter().cloned());
        }
        v
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MemberStatus {
    pub name: String,
    pub rc: Option<i32>,
    pub signal: Option<i32>,
    pub stderr: String,
    /// Observed processes only: no report was written.
    pub unreported: bool,
}

impl MemberStatus {
    pub fn ok(&self) -> bool {
        self.rc == Some(0) && !self.unreported
    }
    fn sigpipe(&self) -> bool {
        self.signal == Some(nix::sys::signal::Signal::SIGPIPE as i32)
    }
    fn ending(&self) -> String {
        if self.unreported {
            return "no exit status was reported".into();
        }
        match (self.rc, self.signal) {
            (Some(rc), _) => format!("exit {rc}"),
            (None, Some(s)) => match nix::sys::signal::Signal::try_from(s) {
                Ok(sig) => format!("killed by {sig}"),
                Err(_) => format!("killed by signal {s}"),
            },
            (None, None) => "killed".into(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PipeStats {
    /// Bytes that went through the copiers (the diff stream, for bdsync).
    pub bytes: u64,
    /// The last member's stdout (its last 16 KiB).
    pub stdout_tail: String,
    pub members: Vec<MemberStatus>,
    pub observed: Vec<MemberStatus>,
    /// The copier's complaint, e.g. a member stopped reading before the end of the stream.
    pub copy_error: Option<String>,
    pub duration: Duration,
    pub timed_out: bool,
}

impl PipeStats {
    pub fn success(&self) -> bool {
        !self.timed_out
            && self.copy_error.is_none()
            && self.members.iter().all(MemberStatus::ok)
            && self.observed.iter().all(MemberStatus::ok)
    }

    /// The failure, cause first. A member killed by SIGPIPE (or a copier that could not
    /// deliver) only says that its reader went away: then the cause is the first member to
    /// its right that failed on its own. Otherwise an observed process that failed is the
    /// cause (its client fails because of it), else the left-most failing member (the ones
    /// to its right fail on the cut stream). The others follow as "also:".
    pub fn describe(&self) -> Option<(Option<i32>, String)> {
        if self.success() {
            return None;
        }
        let failed = |m: &&MemberStatus| !m.ok();
        let cut_at = self.members.iter().position(MemberStatus::sigpipe);
        let mut cause: Option<&MemberStatus> = None;
        if let Some(k) = cut_at {
            cause = self.members[k + 1..]
                .iter()
                .find(|m| !m.ok() && !m.sigpipe());
        }
        if cause.is_none() && cut_at.is_none() {
            cause = self
                .observed
                .iter()
                .find(|m| !m.ok() && !m.unreported)
                .or_else(|| self.members.iter().find(|m| !m.ok() && !m.sigpipe()));
        }
        let mut lines = Vec::new();
        if self.timed_out {
            lines.push(format!(
                "the pipeline was killed after {} (time limit)",
                humantime::format_duration(Duration::from_secs(self.duration.as_secs()))
            ));
        }
        let mut rc = None;
        let line = |m: &MemberStatus, head: String| {
            let err = m.stderr.trim();
            if err.is_empty() {
                head
            } else {
                format!("{head}: {}", err.replace('\n', "\n    "))
            }
        };
        match cause {
            Some(m) => {
                rc = m.rc;
                lines.push(line(
                    m,
                    format!("pipe member `{}` failed ({})", m.name, m.ending()),
                ));
            }
            None => {
                if let Some(e) = &self.copy_error {
                    lines.push(e.clone());
                }
            }
        }
        let others = self
            .observed
            .iter()
            .chain(&self.members)
            .filter(failed)
            .filter(|m| cause.is_none_or(|c| !std::ptr::eq(*m, c)));
        for m in others {
            if lines.is_empty() {
                rc = m.rc;
                lines.push(line(
                    m,
                    format!("pipe member `{}` failed ({})", m.name, m.ending()),
                ));
            } else {
                lines.push(line(
                    m,
                    format!("also: pipe member `{}` ended with {}", m.name, m.ending()),
                ));
            }
        }
        if cause.is_some()
            && let Some(e) = &self.copy_error
        {
            lines.push(format!("also: {e}"));
        }
        if rc == Some(0) || rc.is_none() {
            rc = Some(1);
        }
        Some((rc.filter(|_| !self.timed_out), lines.join("\n")))
    }
}

/// rsync `--info=progress2`: "     32,768,000  97%   31.25MB/s    0:00:01 (xfr#1, …)".
pub fn rsync_progress(line: &str) -> Option<u64> {
    let first = line.split_whitespace().next()?;
    let rest = line.split_whitespace().nth(1)?;
    if !rest.ends_with('%') {
        return None;
    }
    first.replace(',', "").parse().ok()
}

/// A line parser and where it stores the last value it found.
type LineProgress = (fn(&str) -> Option<u64>, Arc<AtomicU64>);

fn tail_reader<R: Read + Send + 'static>(
    mut r: R,
    lines: Option<LineProgress>,
) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut tail: Vec<u8> = Vec::new();
        let mut line: Vec<u8> = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            let n = match r.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            tail.extend_from_slice(&buf[..n]);
            if tail.len() > 2 * TAIL {
                tail.drain(..tail.len() - TAIL);
            }
            if let Some((parse, counter)) = &lines {
                for &b in &buf[..n] {
                    if b == b'\r' || b == b'\n' {
                        if let Some(v) = parse(&String::from_utf8_lossy(&line)) {
                            counter.store(v, Ordering::Relaxed);
                        }
                        line.clear();
                    } else if line.len() < 4096 {
                        line.push(b);
                    }
                }
            }
        }
        if tail.len() > TAIL {
            tail.drain(..tail.len() - TAIL);
        }
        String::from_utf8_lossy(&tail).into_owned()
    })
}

fn copier(
    mut from: std::process::ChildStdout,
    mut to: std::process::ChildStdin,
    next: String,
    counter: Arc<AtomicU64>,
    limit: Option<u64>,
) -> JoinHandle<Option<String>> {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; BUF];
        let start = Instant::now();
        let mut total: u64 = 0;
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) => return None,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Some(format!("reading the stream for `{next}` failed: {e}")),
            };
            if let Some(l) = limit {
                let due = Duration::from_secs_f64((total + n as u64) as f64 / l as f64);
                let spent = start.elapsed();
                if due > spent {
                    std::thread::sleep(due - spent);
                }
            }
            if let Err(e) = to.write_all(&buf[..n]) {
                return Some(format!(
                    "pipe member `{next}` stopped reading before the end of the stream ({e}); the data was not all delivered"
                ));
            }
            total += n as u64;
            counter.fetch_add(n as u64, Ordering::Relaxed);
        }
    })
}

fn status_of(s: ExitStatus) -> (Option<i32>, Option<i32>) {
    use std::os::unix::process::ExitStatusExt;
    (s.code(), s.signal())
}

impl Runner {
    /// Run a pipeline to completion (or its time limit). Like [`Runner::run`], a failing
    /// member is not an error but an `Output` whose `rc` is the cause's exit code and whose
    /// `stderr` names every failing member, cause first. The details (bytes, statuses) are
    /// kept for [`Runner::take_pipe_stats`].
    pub fn run_pipeline(&self, p: &Pipeline, show_progress: bool) -> Result<Output> {
        let stats = self.pipeline_inner(p, show_progress)?;
        let (rc, stderr) = match stats.describe() {
            None => (Some(0), String::new()),
            Some((rc, text)) => (rc, text),
        };
        if self.verbose {
            eprintln!(
                "  $ {}  ({}, {} ms, {} bytes through the pipe)",
                p.display(),
                stats
                    .members
                    .iter()
                    .chain(&stats.observed)
                    .map(|m| format!("{}: {}", m.name, m.ending()))
                    .collect::<Vec<_>>()
                    .join("; "),
                stats.duration.as_millis(),
                stats.bytes
            );
        }
        let out = Output {
            rc,
            stdout: stats.stdout_tail.clone(),
            stderr,
            duration: stats.duration,
            timed_out: stats.timed_out,
        };
        *self.last_pipe.lock().unwrap_or_else(|e| e.into_inner()) = Some(stats);
        Ok(out)
    }

    /// The statistics of the last pipeline run (bytes, each member's status).
    pub fn take_pipe_stats(&self) -> Option<PipeStats> {
        self.last_pipe
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    fn pipeline_inner(&self, p: &Pipeline, show_progress: bool) -> Result<PipeStats> {
        if p.members.is_empty() {
            bail!("internal error: empty pipeline");
        }
        let mut programs = Vec::new();
        for m in &p.members {
            if m.cmd.effect == Effect::Change && self.dry_run {
                bail!(
                    "internal error: refusing to run `{}` in dry-run mode",
                    p.display()
                );
            }
            programs.push(
                which::which(m.cmd.program()).map_err(|_| Error::ToolMissing {
                    tool: m.cmd.program().to_string(),
                    package: package_of(m.cmd.program()),
                })?,
            );
        }
        for o in &p.observed {
            // A report left by an earlier run must not count for this one.
            match std::fs::remove_file(&o.status_file) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!("cannot remove the old {}", o.status_file.display())
                    });
                }
            }
        }
        let start = Instant::now();
        let counter = Arc::new(AtomicU64::new(0));
        let progress_counter = Arc::new(AtomicU64::new(0));
        let last = p.members.len() - 1;
        let mut children: Vec<Child> = Vec::new();
        let mut stderr_threads = Vec::new();
        let mut copiers = Vec::new();
        let mut stdout_thread = None;
        let mut prev_stdout: Option<std::process::ChildStdout> = None;
        let spawn_all = (|| -> Result<()> {
            for (i, (m, prog)) in p.members.iter().zip(&programs).enumerate() {
                let mut c = Command::new(prog);
                c.args(&m.cmd.argv[1..])
                    .env("LC_ALL", "C")
                    .stdin(if i == 0 {
                        Stdio::null()
                    } else {
                        Stdio::piped()
                    })
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped());
                let mut child = c
                    .spawn()
                    .with_context(|| format!("cannot start `{}`", m.cmd))?;
                drop(c);
                self.spawned
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if let Some(from) = prev_stdout.take() {
                    let to = child.stdin.take().expect("piped stdin");
                    copiers.push(copier(from, to, m.name.clone(), counter.clone(), p.bwlimit));
                }
                let out = child.stdout.take().expect("piped stdout");
                if i == last {
                    let parse = p.stdout_progress.map(|f| (f, progress_counter.clone()));
                    stdout_thread = Some(tail_reader(out, parse));
                } else {
                    prev_stdout = Some(out);
                }
                stderr_threads.push(tail_reader(child.stderr.take().expect("piped"), None));
                children.push(child);
            }
            Ok(())
        })();
        if let Err(e) = spawn_all {
            for c in &mut children {
                let _ = c.kill();
                let _ = c.wait();
            }
            return Err(e);
        }

        let bar = show_progress.then(|| {
            let pb = indicatif::ProgressBar::new_spinner();
            pb.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} {msg} {bytes} ({binary_bytes_per_sec}, {elapsed})",
                )
                .expect("valid template"),
            );
            pb.set_message(p.label.clone());
            pb.enable_steady_tick(Duration::from_millis(120));
            pb
        });
        let deadline = start + p.timeout;
        let mut statuses: Vec<Option<ExitStatus>> = vec![None; children.len()];
        let mut timed_out = false;
        loop {
            for (c, st) in children.iter_mut().zip(statuses.iter_mut()) {
                if st.is_none() {
                    *st = c.try_wait().context("waiting for a pipe member")?;
                }
            }
            if let Some(pb) = &bar {
                let pos = if p.stdout_progress.is_some() {
                    progress_counter.load(Ordering::Relaxed)
                } else {
                    counter.load(Ordering::Relaxed)
                };
                pb.set_position(pos);
            }
            if statuses.iter().all(Option::is_some) {
                break;
            }
            if !timed_out && Instant::now() > deadline {
                timed_out = true;
                for (c, st) in children.iter_mut().zip(&statuses) {
                    if st.is_none() {
                        let _ = c.kill();
                    }
                }
            }
            // Short: the pipeline's end is noticed within 10 ms.
            std::thread::sleep(Duration::from_millis(10));
        }
        if let Some(pb) = bar {
            pb.finish_and_clear();
        }
        let copy_error = copiers
            .into_iter()
            .filter_map(|t| {
                t.join()
                    .unwrap_or(Some("the copier thread panicked".into()))
            })
            .next();
        let stdout_tail = stdout_thread
            .map(|t| t.join().unwrap_or_default())
            .unwrap_or_default();
        let members = p
            .members
            .iter()
            .zip(statuses)
            .zip(stderr_threads)
            .map(|((m, st), t)| {
                let (rc, signal) = status_of(st.expect("all waited"));
                MemberStatus {
                    name: m.name.clone(),
                    rc: if timed_out && rc.is_none() { None } else { rc },
                    signal,
                    stderr: t.join().unwrap_or_default(),
                    unreported: false,
                }
            })
            .collect();
        let observed = p
            .observed
            .iter()
            .map(|o| {
                let report: Option<Report> = std::fs::read_to_string(&o.status_file)
                    .ok()
                    .and_then(|t| serde_json::from_str(&t).ok());
                let _ = std::fs::remove_file(&o.status_file);
                match report {
                    Some(r) => MemberStatus {
                        name: o.name.clone(),
                        rc: r.rc,
                        signal: r.signal,
                        stderr: r.stderr,
                        unreported: false,
                    },
                    None => MemberStatus {
                        name: o.name.clone(),
                        rc: None,
                        signal: None,
                        stderr: String::new(),
                        unreported: true,
                    },
                }
            })
            .collect();
        Ok(PipeStats {
            bytes: counter.load(Ordering::Relaxed),
            stdout_tail,
            members,
            observed,
            copy_error,
            duration: start.elapsed(),
            timed_out,
        })
    }

    /// Run a command with our stdin and stdout (for `backup wrap-remote`, which stands between
    /// bdsync and ssh): stderr is passed on and its tail kept. No time limit of its own: the
    /// pipeline that started it has one, and its pipes close when that pipeline is killed.
    pub fn run_passthrough(&self, cmd: &Cmd) -> Result<Report> {
        let prog = which::which(cmd.program()).map_err(|_| Error::ToolMissing {
            tool: cmd.program().to_string(),
            package: package_of(cmd.program()),
        })?;
        let mut child = Command::new(prog)
            .args(&cmd.argv[1..])
            .env("LC_ALL", "C")
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start `{cmd}`"))?;
        self.spawned
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut err = child.stderr.take().expect("piped stderr");
        let t = std::thread::spawn(move || {
            let mut tail: Vec<u8> = Vec::new();
            let mut buf = [0u8; 8192];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let _ = std::io::stderr().write_all(&buf[..n]);
                tail.extend_from_slice(&buf[..n]);
                if tail.len() > 2 * TAIL {
                    tail.drain(..tail.len() - TAIL);
                }
            }
            String::from_utf8_lossy(&tail).into_owned()
        });
        let st = child
            .wait()
            .with_context(|| format!("waiting for `{cmd}`"))?;
        let (rc, signal) = status_of(st);
        Ok(Report {
            rc,
            signal,
            stderr: t.join().unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runner() -> Runner {
        Runner::new(false, false, Duration::from_secs(5), Duration::from_secs(5))
    }

    fn sh(name: &str, script: &str) -> Member {
        Member {
            name: name.into(),
            cmd: Cmd::change(["sh", "-c", script]),
        }
    }

    fn pipe(members: Vec<Member>) -> Pipeline {
        Pipeline {
            members,
            observed: vec![],
            timeout: Duration::from_secs(10),
            bwlimit: None,
            label: "test".into(),
            stdout_progress: None,
        }
    }

    #[test]
    fn streams_and_counts_bytes() {
        let r = runner();
        let p = pipe(vec![
            sh("producer", "head -c 5000000 /dev/zero"),
            sh("consumer", "wc -c"),
        ]);
        let out = r.run_pipeline(&p, false).unwrap();
        assert!(out.success(), "{out:?}");
        assert_eq!(out.stdout.trim(), "5000000");
        let s = r.take_pipe_stats().unwrap();
        assert_eq!(s.bytes, 5_000_000);
        assert_eq!(r.spawned(), 2);
    }

    #[test]
    fn a_failing_left_member_is_named_even_when_the_right_succeeds() {
        // `sh -c 'false | cat'` would say 0: the left member's failure is lost.
        let r = runner();
        let p = pipe(vec![
            sh(
                "producer",
                "echo partial; echo 'disk read error' >&2; exit 6",
            ),
            sh("consumer", "cat >/dev/null"),
        ]);
        let out = r.run_pipeline(&p, false).unwrap();
        assert_eq!(out.rc, Some(6), "{out:?}");
        assert!(
            out.stderr
                .starts_with("pipe member `producer` failed (exit 6): disk read error"),
            "{}",
            out.stderr
        );
    }

    #[test]
    fn a_failing_right_member_is_the_cause_and_the_sigpipe_is_collateral() {
        let r = runner();
        let p = pipe(vec![
            sh("producer", "exec yes"),
            sh(
                "consumer",
                "head -c 10 >/dev/null; echo 'Bad data' >&2; exit 2",
            ),
        ]);
        let out = r.run_pipeline(&p, false).unwrap();
        assert_eq!(out.rc, Some(2), "{out:?}");
        assert!(
            out.stderr
                .starts_with("pipe member `consumer` failed (exit 2): Bad data"),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr
                .contains("also: pipe member `producer` ended with killed by SIGPIPE"),
            "{}",
            out.stderr
        );
    }

    #[test]
    fn a_reader_that_quits_early_with_exit_0_is_still_a_failure() {
        let r = runner();
        let p = pipe(vec![
            sh("producer", "head -c 3000000 /dev/zero; exit 0"),
            sh("consumer", "head -c 10 >/dev/null; exit 0"),
        ]);
        let out = r.run_pipeline(&p, false).unwrap();
        assert!(!out.success(), "{out:?}");
        assert!(
            out.stderr.contains("stopped reading before the end"),
            "{}",
            out.stderr
        );
    }

    #[test]
    fn observed_process_failure_and_missing_report() {
        let dir = tempfile::tempdir().unwrap();
        let status = dir.path().join("server.status");
        let r = runner();
        let mut p = pipe(vec![
            sh(
                "client",
                &format!(
                    "echo '{{\"rc\":4,\"signal\":null,\"stderr\":\"protocol\"}}' > {}",
                    status.display()
                ),
            ),
            sh("patch", "cat >/dev/null"),
        ]);
        p.observed.push(Observed {
            name: "bdsync --server".into(),
            status_file: status.clone(),
        });
        let out = r.run_pipeline(&p, false).unwrap();
        assert_eq!(out.rc, Some(4));
        assert!(
            out.stderr
                .starts_with("pipe member `bdsync --server` failed (exit 4): protocol"),
            "{}",
            out.stderr
        );
        // No report at all: never assumed to have worked.
        p.members[0] = sh("client", "true");
        let out = r.run_pipeline(&p, false).unwrap();
        assert!(!out.success());
        assert!(
            out.stderr
                .contains("`bdsync --server` failed (no exit status was reported)"),
            "{}",
            out.stderr
        );
    }

    #[test]
    fn time_limit_kills_every_member() {
        let r = runner();
        let mut p = pipe(vec![sh("a", "exec sleep 5"), sh("b", "exec cat")]);
        p.timeout = Duration::from_millis(300);
        let t = Instant::now();
        let out = r.run_pipeline(&p, false).unwrap();
        assert!(out.timed_out && out.rc.is_none(), "{out:?}");
        assert!(t.elapsed() < Duration::from_secs(3));
        assert!(out.stderr.contains("time limit"), "{}", out.stderr);
    }

    #[test]
    fn bandwidth_limit_holds_the_stream() {
        let r = runner();
        let mut p = pipe(vec![
            sh("a", "head -c 600000 /dev/zero"),
            sh("b", "cat >/dev/null"),
        ]);
        p.bwlimit = Some(1_000_000);
        let t = Instant::now();
        assert!(r.run_pipeline(&p, false).unwrap().success());
        assert!(
            t.elapsed() >= Duration::from_millis(450),
            "{:?}",
            t.elapsed()
        );
    }

    #[test]
    fn dry_run_and_missing_tools() {
        let r = Runner::new(true, false, Duration::from_secs(1), Duration::from_secs(1));
        assert!(r.run_pipeline(&pipe(vec![sh("a", "true")]), false).is_err());
        assert_eq!(r.spawned(), 0);
        let e = runner()
            .run_pipeline(
                &pipe(vec![Member {
                    name: "x".into(),
                    cmd: Cmd::change(["bdsync-not-here"]),
                }]),
                false,
            )
            .unwrap_err();
        assert_eq!(crate::error::exit_code_of(&e), crate::exit::TOOL_MISSING);
    }

    #[test]
    fn rsync_progress_lines() {
        assert_eq!(
            rsync_progress("     32,768,000  97%   31.25MB/s    0:00:01 (xfr#1, to-chk=0/1)"),
            Some(32_768_000)
        );
        assert_eq!(rsync_progress("Number of files: 1 (reg: 1)"), None);
    }

    #[test]
    fn display_and_journal_argv() {
        let p = pipe(vec![
            Member {
                name: "a".into(),
                cmd: Cmd::change(["bdsync", "--remdata", "ssh host bdsync --server"]),
            },
            Member {
                name: "b".into(),
                cmd: Cmd::change(["bdsync", "--patch=/dev/backup/tools"]),
            },
        ]);
        assert_eq!(
            p.display(),
            "bdsync --remdata 'ssh host bdsync --server' | bdsync --patch=/dev/backup/tools"
        );
        assert_eq!(p.flat_argv()[3], "|");
    }
}
