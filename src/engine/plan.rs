//! Plans: ordered steps, each with its command, why it is needed, the guard re-checked right
//! before it runs, and the postcondition verified after. Rendered as a numbered table for
//! people and as `{"format_version":1,"command":…,"steps":[…]}` for programs.

use std::path::PathBuf;
use std::sync::Arc;

use comfy_table::{ContentArrangement, Table, presets::UTF8_BORDERS_ONLY};
use console::style;
use serde::Serialize;

use super::check::{Check, Condition, Fields, Guard};
use crate::process::{Cmd, Output, Pipeline};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    /// Will run (or, in a finished run, was not reached because an earlier step failed).
    Pending,
    /// Already holds; nothing to do.
    Already,
    Done,
    Failed,
    /// Its guard refused it; its command did not run.
    Refused,
    /// A dry run could not probe the facts it depends on: it may or may not be needed.
    Unknown,
    /// It failed, and it is a step whose failure is a warning (the run went on).
    Warning,
    /// Its condition said it was not needed when the run reached it (`Step::only_if`).
    Skipped,
}

impl StepState {
    pub fn word(self) -> &'static str {
        match self {
            StepState::Pending => "pending",
            StepState::Already => "already",
            StepState::Done => "done",
            StepState::Failed => "failed",
            StepState::Refused => "refused",
            StepState::Unknown => "unknown",
            StepState::Warning => "warning",
            StepState::Skipped => "skipped",
        }
    }
}

/// Work done in-process instead of by a command: atomic file writes and removals.
#[derive(Debug, Clone, PartialEq)]
pub enum FileOp {
    /// A temp file in the same directory, written and fsynced, then renamed over the target.
    Write { path: PathBuf, content: String },
    /// Removed if present.
    Remove(PathBuf),
    /// Renamed (atomic within one filesystem).
    Rename { from: PathBuf, to: PathBuf },
}

impl std::fmt::Display for FileOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FileOp::Write { path, .. } => write!(f, "write {}", path.display()),
            FileOp::Remove(p) => write!(f, "remove {}", p.display()),
            FileOp::Rename { from, to } => {
                write!(f, "rename {} to {}", from.display(), to.display())
            }
        }
    }
}

/// What a step does.
#[derive(Debug, Clone)]
pub enum Action {
    /// Run one command.
    Run(Cmd),
    /// Run a pipeline; every member's exit status is checked.
    Pipeline(Pipeline),
    /// File work done in-process (atomic writes, removals, renames).
    Files(Vec<FileOp>),
}

impl Action {
    /// The argv for the journal and JSON: a pipeline's members joined by "|"; none for file
    /// work.
    pub fn argv(&self) -> Vec<String> {
        match self {
            Action::Run(c) => c.argv.clone(),
            Action::Pipeline(p) => p.flat_argv(),
            Action::Files(_) => Vec::new(),
        }
    }
}

/// Fills in a command from the fields of steps that passed earlier in the run (e.g. a
/// revision an earlier write created). `None`: the command needs nothing.
pub type Bind = fn(&Cmd, &Fields) -> Option<Cmd>;

pub struct Step<C: ?Sized> {
    pub id: String,
    pub title: String,
    pub why: String,
    pub action: Action,
    pub state: StepState,
    pub guard: Option<Arc<dyn Guard<C>>>,
    pub verify: Arc<dyn Check<C>>,
    /// Exit codes that count as success (almost always just 0).
    pub ok_rcs: &'static [i32],
    /// How the step's command ended, once run (a pipeline's statistics included).
    pub output: Option<Output>,
    /// Consecutive steps of one group run in parallel (independent per-volume work), one
    /// thread per lane; the steps of one lane run in order.
    pub group: Option<String>,
    pub lane: Option<String>,
    /// A lock file held while the step runs (another run holding it: the step is skipped,
    /// exit 4).
    pub lock: Option<PathBuf>,
    /// Fields added to the step's journal record.
    pub fields: Fields,
    /// How a summary of several outcomes names the step (default: its title).
    pub subject: Option<String>,
    pub bind: Option<Bind>,
    /// A step whose failure does not stop the run: it is reported as a warning naming this
    /// risk (an ARP announcement that did not go out).
    pub warn_only: Option<String>,
    /// Run only if still needed when the run reaches it, and what decides that.
    pub when: Option<(Arc<dyn Condition<C>>, String)>,
}

impl<C: ?Sized> Clone for Step<C> {
    fn clone(&self) -> Self {
        Step {
            id: self.id.clone(),
            title: self.title.clone(),
            why: self.why.clone(),
            action: self.action.clone(),
            state: self.state,
            guard: self.guard.clone(),
            verify: self.verify.clone(),
            ok_rcs: self.ok_rcs,
            output: self.output.clone(),
            group: self.group.clone(),
            lane: self.lane.clone(),
            lock: self.lock.clone(),
            fields: self.fields.clone(),
            subject: self.subject.clone(),
            bind: self.bind,
            warn_only: self.warn_only.clone(),
            when: self.when.clone(),
        }
    }
}

impl<C: ?Sized> std::fmt::Debug for Step<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Step")
            .field("id", &self.id)
            .field("title", &self.title)
            .field("action", &self.action)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl<C: ?Sized> Step<C> {
    fn with_action(
        id: impl Into<String>,
        title: impl Into<String>,
        action: Action,
        verify: impl Check<C> + 'static,
    ) -> Step<C> {
        Step {
            id: id.into(),
            title: title.into(),
            why: String::new(),
            action,
            state: StepState::Pending,
            guard: None,
            verify: Arc::new(verify),
            ok_rcs: &[0],
            output: None,
            group: None,
            lane: None,
            lock: None,
            fields: Fields::new(),
            subject: None,
            bind: None,
            warn_only: None,
            when: None,
        }
    }

    pub fn new(
        id: impl Into<String>,
        title: impl Into<String>,
        cmd: Cmd,
        verify: impl Check<C> + 'static,
    ) -> Step<C> {
        Step::with_action(id, title, Action::Run(cmd), verify)
    }

    /// A step done in-process (atomic file writes, removals, renames), with no command.
    pub fn files(
        id: impl Into<String>,
        title: impl Into<String>,
        ops: Vec<FileOp>,
        verify: impl Check<C> + 'static,
    ) -> Step<C> {
        Step::with_action(id, title, Action::Files(ops), verify)
    }

    /// A step that runs a pipeline; every member's exit status is checked.
    pub fn new_pipeline(
        id: impl Into<String>,
        title: impl Into<String>,
        p: Pipeline,
        verify: impl Check<C> + 'static,
    ) -> Step<C> {
        Step::with_action(id, title, Action::Pipeline(p), verify)
    }

    /// The command, when the step runs one.
    pub fn cmd(&self) -> Option<&Cmd> {
        match &self.action {
            Action::Run(c) => Some(c),
            _ => None,
        }
    }

    /// How long its command took, once run.
    pub fn duration(&self) -> Option<std::time::Duration> {
        self.output.as_ref().map(|o| o.duration)
    }

    /// What the plan shows in its command column (a pipeline with its `|`).
    pub fn command_text(&self) -> String {
        match &self.action {
            Action::Pipeline(p) => p.display(),
            Action::Run(c) => c.to_string(),
            Action::Files(ops) => match ops.as_slice() {
                [one] => format!("({one})"),
                ops => {
                    let mut s = format!(
                        "({}",
                        ops.first().map(|o| o.to_string()).unwrap_or_default()
                    );
                    if ops.len() > 1 {
                        s.push_str(&format!(" and {} more", ops.len() - 1));
                    }
                    s.push(')');
                    s
                }
            },
        }
    }

    pub fn why(mut self, why: impl Into<String>) -> Step<C> {
        self.why = why.into();
        self
    }

    pub fn guard(mut self, g: impl Guard<C> + 'static) -> Step<C> {
        self.guard = Some(Arc::new(g));
        self
    }

    /// Not known to be needed or not: the facts it depends on could not be probed.
    pub fn unknown(&mut self, why: impl Into<String>) {
        self.state = StepState::Unknown;
        self.why = why.into();
    }

    pub fn already(mut self, why: impl Into<String>) -> Step<C> {
        self.state = StepState::Already;
        self.why = why.into();
        self
    }

    /// Run side by side with the neighbouring steps of `group`, in order within `lane`.
    pub fn parallel(mut self, group: &str, lane: &str) -> Step<C> {
        self.group = Some(group.into());
        self.lane = Some(lane.into());
        self
    }

    pub fn ok_rcs(mut self, rcs: &'static [i32]) -> Step<C> {
        self.ok_rcs = rcs;
        self
    }

    /// Hold this lock file while the step runs.
    pub fn lock(mut self, path: PathBuf) -> Step<C> {
        self.lock = Some(path);
        self
    }

    /// Add a field to the step's journal record.
    pub fn field(mut self, key: &str, value: impl Into<serde_json::Value>) -> Step<C> {
        self.fields.insert(key.into(), value.into());
        self
    }

    pub fn subject(mut self, s: impl Into<String>) -> Step<C> {
        self.subject = Some(s.into());
        self
    }

    /// Its failure is a warning that names `risk`, and the run goes on.
    pub fn warn_only(mut self, risk: impl Into<String>) -> Step<C> {
        self.warn_only = Some(risk.into());
        self
    }

    /// Run only while `condition` says the step is still needed when the run reaches it;
    /// `described` says when, for the plan ("only if pass 2 moved more than …").
    pub fn only_if(
        mut self,
        condition: impl Condition<C> + 'static,
        described: impl Into<String>,
    ) -> Step<C> {
        self.when = Some((Arc::new(condition), described.into()));
        self
    }

    pub fn bind(mut self, b: Bind) -> Step<C> {
        self.bind = Some(b);
        self
    }
}

pub struct Plan<C: ?Sized> {
    pub command: String,
    pub steps: Vec<Step<C>>,
    /// Things the operator should know that are not steps (warnings, skipped checks).
    pub notes: Vec<String>,
}

#[derive(Serialize)]
struct JsonStep<'a> {
    id: &'a str,
    title: &'a str,
    why: &'a str,
    argv: Vec<String>,
    state: StepState,
    /// Pipelines only: each member's argv (`argv` then holds them joined by "|").
    #[serde(skip_serializing_if = "Option::is_none")]
    pipeline: Option<Vec<&'a [String]>>,
    /// Steps of one group run in parallel.
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<&'a str>,
    /// Runs only if still needed then (`Step::only_if`): when.
    #[serde(skip_serializing_if = "Option::is_none")]
    only_if: Option<&'a str>,
}

#[derive(Serialize)]
pub struct JsonPlan<'a> {
    format_version: u32,
    command: &'a str,
    steps: Vec<JsonStep<'a>>,
    notes: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<JsonError<'a>>,
}

/// What went wrong, with the exit code the run ends with.
#[derive(Serialize)]
struct JsonError<'a> {
    message: &'a str,
    exit_code: u8,
}

/// A borders-only table as wide as the terminal (at least 60 columns), or `fallback` columns
/// off a terminal (logs, mail from cron), where long commands should wrap late.
pub fn terminal_table(fallback: u16) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic);
    match console::Term::stdout().size_checked() {
        Some((_, w)) => t.set_width(w.max(60)),
        None => t.set_width(fallback),
    };
    t
}

impl<C: ?Sized> Plan<C> {
    pub fn new(command: &str) -> Plan<C> {
        Plan {
            command: command.into(),
            steps: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Steps whose need could not be decided (a dry run without some facts).
    pub fn unknown(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| s.state == StepState::Unknown)
            .count()
    }

    pub fn pending(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| s.state == StepState::Pending)
            .count()
    }

    /// The plan as JSON, with how the run ended and, for an error, its message and exit code.
    pub fn to_json(&self, result: Option<&str>, error: Option<(&str, u8)>) -> String {
        let j = JsonPlan {
            format_version: 1,
            command: &self.command,
            steps: self
                .steps
                .iter()
                .map(|s| JsonStep {
                    id: &s.id,
                    title: &s.title,
                    why: &s.why,
                    argv: s.action.argv(),
                    state: s.state,
                    pipeline: match &s.action {
                        Action::Pipeline(p) => {
                            Some(p.members.iter().map(|m| m.cmd.argv.as_slice()).collect())
                        }
                        _ => None,
                    },
                    group: s.group.as_deref(),
                    only_if: s.when.as_ref().map(|(_, d)| d.as_str()),
                })
                .collect(),
            notes: &self.notes,
            result,
            error: error.map(|(message, exit_code)| JsonError { message, exit_code }),
        };
        serde_json::to_string_pretty(&j).expect("plan serializes")
    }

    /// The numbered table and a closing tally.
    pub fn render(&self, node: &str) -> String {
        self.render_in(node, terminal_table(140))
    }

    /// The table in `t`, then, whole and one per line, every command the table had to cut
    /// inside an argument: a path split across two lines cannot be pasted into a shell.
    fn render_in(&self, node: &str, mut t: Table) -> String {
        t.set_header(vec!["#", "step", "command", "state", "why"]);
        for (i, s) in self.steps.iter().enumerate() {
            let state = match s.state {
                StepState::Pending => style("pending").yellow().to_string(),
                StepState::Already => style("already").dim().to_string(),
                StepState::Done => style("done").green().to_string(),
                StepState::Failed => style("FAILED").red().bold().to_string(),
                StepState::Refused => style("REFUSED").red().bold().to_string(),
                StepState::Unknown => style("unknown").magenta().to_string(),
                StepState::Warning => style("WARNING").yellow().bold().to_string(),
                StepState::Skipped => style("skipped").dim().to_string(),
            };
            let why = match &s.when {
                Some((_, when)) if s.why.is_empty() => format!("only if {when}"),
                Some((_, when)) => format!("{} (only if {when})", s.why),
                None => s.why.clone(),
            };
            t.add_row(vec![
                (i + 1).to_string(),
                s.title.clone(),
                s.command_text(),
                state,
                why,
            ]);
        }
        let table = t.to_string();
        let mut out = format!("nfs-manage {} on {node}: plan\n{table}\n", self.command);
        let cut: Vec<String> = self
            .steps
            .iter()
            .enumerate()
            .filter(|(_, s)| {
                s.command_text()
                    .split_whitespace()
                    .any(|arg| !table.lines().any(|l| l.contains(arg)))
            })
            .map(|(i, s)| format!("  {}. {}", i + 1, s.command_text()))
            .collect();
        if !cut.is_empty() {
            out.push_str("commands in full (cut in the table):\n");
            for c in cut {
                out.push_str(&c);
                out.push('\n');
            }
        }
        for n in &self.notes {
            out.push_str(&format!(
                "note: {}\n",
                n.trim_end().replace('\n', "\n      ")
            ));
        }
        out.push_str(&self.tally());
        out.push('\n');
        out
    }

    pub fn tally(&self) -> String {
        let count = |st: StepState| self.steps.iter().filter(|s| s.state == st).count();
        let mut parts = Vec::new();
        for st in [
            StepState::Done,
            StepState::Pending,
            StepState::Already,
            StepState::Failed,
            StepState::Refused,
            StepState::Unknown,
            StepState::Warning,
            StepState::Skipped,
        ] {
            let n = count(st);
            if n > 0 {
                let word = match st {
                    StepState::Pending => "to run",
                    StepState::Already => "already in place",
                    StepState::Unknown => "unknown (facts missing)",
                    StepState::Warning => "failed with a warning",
                    StepState::Skipped => "skipped (not needed when reached)",
                    other => other.word(),
                };
                parts.push(format!("{n} {word}"));
            }
        }
        if self.steps.is_empty() {
            "0 steps: nothing to do".into()
        } else {
            format!("{} steps: {}", self.steps.len(), parts.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::check::{Check, Verdict};

    struct Fine;
    impl Check<()> for Fine {
        fn check(&self, _ctx: &(), _out: &Output) -> anyhow::Result<Verdict> {
            Ok(Ok(()))
        }
    }

    /// At 80 columns a long argument is cut in the table; the command is then printed whole.
    #[test]
    fn a_command_cut_in_the_table_is_printed_whole_under_it() {
        let mut plan: Plan<()> = Plan::new("up");
        let long = Cmd::change([
            "ssh",
            "-o",
            "UserKnownHostsFile=/tmp/nfs-manage-it.Na9DoV/ssh/known_hosts",
            "-i",
            "/tmp/nfs-manage-it.Na9DoV/ssh/id",
            "root@192.0.2.1",
            "lvcreate --snapshot --name tools-nfs-manage vd/tools",
        ]);
        plan.steps.push(
            Step::new(
                "snap",
                "snapshot the source vd/tools on 192.0.2.1",
                long.clone(),
                Fine,
            )
            .why("a consistent, frozen source to copy from"),
        );
        let mut t = Table::new();
        t.load_style(UTF8_BORDERS_ONLY)
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_width(80);
        let text = plan.render_in("n1", t);
        // Cut in the table at this width, so printed whole under it, on one line.
        assert!(
            text.lines().any(|l| l == format!("  1. {long}")),
            "the command is not whole on one line:\n{text}"
        );
        // Wide enough, the table alone shows it.
        let mut t = Table::new();
        t.set_width(400);
        let text = plan.render_in("n1", t);
        assert!(!text.contains("commands in full"), "{text}");
    }
}
