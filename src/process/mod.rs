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
    /// What the command said about its failure: stderr, or stdout when stderr is empty. A
    /// long text keeps its first and last lines (the error is usually last) and says how
    /// many were left out: a tool that fails after printing a database must not flood the
    /// error message with it.
    pub fn complaint(&self) -> String {
        const EACH_END: usize = 5;
        const WIDTH: usize = 300;
        let e = self.stderr.trim();
        let text = if e.is_empty() { self.stdout.trim() } else { e };
        let lines: Vec<&str> = text.lines().collect();
        let cut = |l: &str| match l.char_indices().nth(WIDTH) {
            Some((i, _)) => format!("{}…", &l[..i]),
            None => l.to_string(),
        };
        if lines.len() <= 2 * EACH_END + 1 {
            return lines.into_iter().map(cut).collect::<Vec<_>>().join("\n");
        }
        let left_out = lines.len() - 2 * EACH_END;
        let mut kept: Vec<String> = lines[..EACH_END].iter().map(|l| cut(l)).collect();
        kept.push(format!("… ({left_out} lines left out)"));
        kept.extend(lines[lines.len() - EACH_END..].iter().map(|l| cut(l)));
        kept.join("\n")
    }
}

fn round(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_complaint_keeps_its_ends_and_says_what_was_left_out() {
        let out = |stdout: String, stderr: &str| Output {
            rc: Some(1),
            stdout,
            stderr: stderr.into(),
            duration: Duration::ZERO,
            timed_out: false,
            pipe: None,
        };
        let many: String = (0..50_000)
            .map(|i| format!("10.0.0.{i} host-{i}\n"))
            .collect();
        let c = out(many, "").complaint();
        let lines: Vec<&str> = c.lines().collect();
        assert_eq!(lines.len(), 11, "{c}");
        assert_eq!(lines[0], "10.0.0.0 host-0");
        assert_eq!(lines[5], "… (49990 lines left out)");
        assert_eq!(lines[10], "10.0.0.49999 host-49999");
        assert_eq!(out("x".repeat(10), "broken\n").complaint(), "broken");
        let wide = out("é".repeat(3000), "").complaint();
        assert_eq!(wide.chars().count(), 301, "one line cut at 300 characters");
    }

    #[test]
    fn quoting_is_paste_safe() {
        let c = Cmd::change(["exportfs", "-o", "rw,sync", "*:/srv/a b", "it's"]);
        assert_eq!(c.to_string(), r"exportfs -o rw,sync '*:/srv/a b' 'it'\''s'");
    }
}
