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
//! The pipe ends are owned exactly: an end held open by the parent would keep the reader
//! from ever seeing end-of-file.

use std::io::{Read, Write};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::Runner;
use crate::process::{Cmd, MemberStatus, Output, PipeStats, Pipeline, Report};

const BUF: usize = 128 * 1024;
const TAIL: usize = 16 * 1024;

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
    /// `stderr` names every failing member, cause first. The details (bytes, statuses) travel
    /// in the output's `pipe`.
    pub fn run_pipeline(&self, p: &Pipeline, show_progress: bool) -> Result<Output> {
        let stats = self.pipeline_inner(p, show_progress)?;
        let (rc, stderr) = match stats.describe() {
            None => (Some(0), String::new()),
            Some((rc, text)) => (rc, text),
        };
        if self.verbose {
            errln!(
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
            pipe: Some(stats),
        };
        Ok(out)
    }

    fn pipeline_inner(&self, p: &Pipeline, show_progress: bool) -> Result<PipeStats> {
        if p.members.is_empty() {
            bail!("internal error: empty pipeline");
        }
        // Every member is checked (dry run, tool present) before any is started.
        let mut commands = Vec::new();
        for m in &p.members {
            commands.push(self.command(&m.cmd, true)?);
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
            for (i, (m, mut c)) in p.members.iter().zip(commands).enumerate() {
                c.stdin(if i == 0 {
                    Stdio::null()
                } else {
                    Stdio::piped()
                })
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
                let mut child = self.spawn(c, &m.cmd)?;
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
                super::kill_group(c);
                let _ = c.wait();
                super::reaped(c);
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
                // Each member leads its own group: what a member started goes with it.
                for (c, st) in children.iter_mut().zip(&statuses) {
                    if st.is_none() {
                        super::kill_group(c);
                    }
                }
            }
            // Short: the pipeline's end is noticed within 10 ms.
            std::thread::sleep(Duration::from_millis(10));
        }
        for c in &children {
            super::reaped(c);
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
        let mut c = self.command(cmd, false)?;
        c.stderr(Stdio::piped());
        let mut child = self.spawn(c, cmd)?;
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
        super::reaped(&child);
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
    use crate::process::{Member, Observed};

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
        let s = out.pipe.clone().unwrap();
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
    fn time_limit_kills_what_a_member_started() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let r = runner();
        // The producer's child keeps the pipe to the consumer open and ignores SIGTERM.
        let producer = format!(
            "sh -c 'trap \"\" TERM; exec sleep 30' & echo $! > {}; sleep 30",
            pidfile.display()
        );
        let mut p = pipe(vec![sh("a", &producer), sh("b", "exec cat")]);
        p.timeout = Duration::from_millis(300);
        let t = Instant::now();
        let out = r.run_pipeline(&p, false).unwrap();
        assert!(out.timed_out, "{out:?}");
        assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
        let pid = std::fs::read_to_string(&pidfile).unwrap();
        // A killed process takes a moment to go; a zombie is dead.
        let deadline = Instant::now() + Duration::from_secs(3);
        while std::fs::read_to_string(format!("/proc/{}/stat", pid.trim()))
            .is_ok_and(|s| s.split(' ').nth(2) != Some("Z"))
        {
            assert!(
                Instant::now() < deadline,
                "the member's child was left running"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
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
