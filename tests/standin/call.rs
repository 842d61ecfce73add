//! One invocation of a stand-in: who was called with what, and what it answers.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;

/// What a command prints and returns; built in memory so a fault with `effect: apply` can run
/// the real state change and throw its output away.
#[derive(Default)]
pub struct Out {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

impl Out {
    pub fn err(mut self, line: &str, code: i32) -> Self {
        self.stderr.push_str(line);
        self.stderr.push('\n');
        self.code = self.code.max(code);
        self
    }
}

pub enum Action {
    Done(Out),
    /// `drbdadm dump` & co. work without the kernel module, so the real drbdadm answers; any
    /// tool we do not stand in for is always the real one.
    ExecReal,
}

pub struct Call {
    pub dir: PathBuf,
    pub tool: String,
    pub args: Vec<String>,
    /// Invocation as logged and as fault patterns see it: `drbdadm primary tools`.
    pub line: String,
}

impl Call {
    pub fn unsupported(&self) -> Out {
        Out::default().err(&format!("standin: unsupported: {}", self.line), 64)
    }
}

pub fn emit(stdout: &str, stderr: &str, code: i32) -> Result<i32> {
    std::io::stdout().write_all(stdout.as_bytes())?;
    std::io::stdout().flush()?;
    std::io::stderr().write_all(stderr.as_bytes())?;
    Ok(code)
}
