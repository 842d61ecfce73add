//! Running commands: [`Run`], the result with chainable assertions, and helpers for tools
//! run on the machine itself.

use std::process::{Command, Output};

use serde_json::Value;

pub fn sh(argv: &[&str]) -> Output {
    Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .unwrap_or_else(|e| panic!("{argv:?}: {e}"))
}

pub fn ok(argv: &[&str]) -> String {
    let out = sh(argv);
    assert!(
        out.status.success(),
        "{argv:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What one command did, with chainable assertions: each one that fails prints the command,
/// its exit code and its whole stdout and stderr, so a failure needs no rerun to explain.
///
/// ```ignore
/// h.run(&["up"]).status(3).stderr_has("rerun with --yes").stdout_has("drbdadm primary");
/// let plan = h.run(&["up", "--dry-run", "--json"]).status(0).json();
/// ```
#[derive(Debug)]
pub struct Run {
    /// The command line, for failure messages (empty when only its output was kept).
    pub cmd: String,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            cmd: String::new(),
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Run `cmd` to completion, keeping its command line for failure messages.
    pub fn of(cmd: &mut Command) -> Run {
        let line = std::iter::once(cmd.get_program())
            .chain(cmd.get_args())
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ");
        let out = cmd.output().unwrap_or_else(|e| panic!("{line}: {e}"));
        Run {
            cmd: line,
            ..Run::from(out)
        }
    }

    #[track_caller]
    fn fail(&self, what: &str) -> ! {
        panic!(
            "{what}\n--- command\n{}\n--- exit {}\n--- stdout\n{}\n--- stderr\n{}",
            if self.cmd.is_empty() {
                "(not recorded)"
            } else {
                &self.cmd
            },
            self.code,
            self.stdout,
            self.stderr
        )
    }

    /// The exit code is `code`.
    #[track_caller]
    pub fn status(&self, code: i32) -> &Run {
        if self.code != code {
            self.fail(&format!("expected exit {code}, got {}", self.code));
        }
        self
    }

    /// stdout contains `text`.
    #[track_caller]
    pub fn stdout_has(&self, text: impl AsRef<str>) -> &Run {
        let text = text.as_ref();
        if !self.stdout.contains(text) {
            self.fail(&format!("stdout does not contain {text:?}"));
        }
        self
    }

    /// stdout does not contain `text`.
    #[track_caller]
    pub fn stdout_lacks(&self, text: impl AsRef<str>) -> &Run {
        let text = text.as_ref();
        if self.stdout.contains(text) {
            self.fail(&format!("stdout contains {text:?}"));
        }
        self
    }

    /// stderr contains `text`.
    #[track_caller]
    pub fn stderr_has(&self, text: impl AsRef<str>) -> &Run {
        let text = text.as_ref();
        if !self.stderr.contains(text) {
            self.fail(&format!("stderr does not contain {text:?}"));
        }
        self
    }

    /// stdout starts with `text`.
    #[track_caller]
    pub fn stdout_starts_with(&self, text: impl AsRef<str>) -> &Run {
        let text = text.as_ref();
        if !self.stdout.starts_with(text) {
            self.fail(&format!("stdout does not start with {text:?}"));
        }
        self
    }

    /// stdout is exactly `text`.
    #[track_caller]
    pub fn stdout_is(&self, text: impl AsRef<str>) -> &Run {
        let text = text.as_ref();
        if self.stdout != text {
            self.fail(&format!("stdout is not exactly {text:?}"));
        }
        self
    }

    /// stderr is exactly `text`.
    #[track_caller]
    pub fn stderr_is(&self, text: impl AsRef<str>) -> &Run {
        let text = text.as_ref();
        if self.stderr != text {
            self.fail(&format!("stderr is not exactly {text:?}"));
        }
        self
    }

    /// stdout parsed as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| self.fail(&format!("stdout is not JSON ({e})")))
    }
}
