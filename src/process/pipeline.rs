//! Pipelines (`a | b`) as data: their members, the processes a member starts that must be
//! watched too, and how each ended. The runner spawns them (see `engine::runner`).

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Cmd;

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
    pub fn sigpipe(&self) -> bool {
        self.signal == Some(nix::sys::signal::Signal::SIGPIPE as i32)
    }
    pub fn ending(&self) -> String {
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
