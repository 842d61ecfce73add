//! Processes as data: a command line ([`Cmd`]), how one ended ([`Output`]) and pipelines of
//! them ([`pipeline`]). Tool modules build these and parse outputs; only the engine's runner
//! spawns them. Nothing here knows which tools exist.

use std::fmt;
use std::time::Duration;

pub mod pipeline;
pub use pipeline::{Member, MemberStatus, Observed, PipeStats, Pipeline, Report};

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
    /// A pipeline's details (bytes through it, each member's status); `None` for a command.
    pub pipe: Option<PipeStats>,
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
            pipe: None,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_is_paste_safe() {
        let c = Cmd::change(["exportfs", "-o", "rw,sync", "*:/srv/a b", "it's"]);
        assert_eq!(c.to_string(), r"exportfs -o rw,sync '*:/srv/a b' 'it'\''s'");
    }
}
