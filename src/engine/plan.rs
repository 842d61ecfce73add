//! Plans: ordered steps, each with its command, why it is needed, the guard re-checked right
//! before it runs, and the postcondition verified after. Rendered as a numbered table for
//! people and as `{"format_version":1,"command":…,"steps":[…]}` for programs.

use std::path::PathBuf;

use comfy_table::{ContentArrangement, Table, presets::UTF8_BORDERS_ONLY};
use console::style;
use serde::Serialize;

use super::backup_check::{BackupGuard, BackupVerify};
use super::runner::{Cmd, Pipeline};

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
}

impl StepState {
    pub fn word(self) -> &'static str {
        match self {
            StepState::Pending => "pending",
            StepState::Already => "already",
            StepState::Done => "done",
            StepState::Failed => "failed",
            StepState::Refused => "refused",
        }
    }
}

/// Checked with fresh probes right before the step runs; a failure refuses the step (exit 3).
#[derive(Debug, Clone, PartialEq)]
pub enum Guard {
    /// Never start NFS or services while a volume is not mounted (indexes into config.volumes).
    VolumesMounted,
    /// Every configured export under a volume's mountpoint must be on that mounted volume.
    ExportsOnMountedVolumes,
    /// No peer may be Primary (for a resource that is not dual-primary).
    PeerNotPrimary(String),
    /// No other host answers ARP for the service IP.
    AddressFree,
    /// No process holds the volume's mount (unless --force-unmount).
    NoHolders(usize),
    /// This node still holds the service IP (exports are applied only on the active node).
    HoldsServiceIp,
    /// Each path lies on a volume that is mounted.
    PathsOnMountedVolumes(Vec<PathBuf>),
    /// Backup guards (see `backup_check`).
    Backup(BackupGuard),
}

/// The postcondition, probed again after the command: an exit code 0 is not proof.
#[derive(Debug, Clone, PartialEq)]
pub enum Verify {
    DrbdUp(String),
    DrbdRole {
        resource: String,
        role: &'static str,
    },
    Mounted(usize),
    IsDir(PathBuf),
    /// Nothing is mounted at this path any more (a stacked second mount would still show).
    NotMountedAt(PathBuf),
    Unit {
        unit: String,
        active: bool,
    },
    ExportsApplied,
    ExportsWithdrawn(usize),
    Address {
        present: bool,
    },
    /// The gateway answered our ARP from the service IP.
    AnnounceAnswered(crate::tools::arping::Flavor),
    NoHolders(usize),
    /// Each file has exactly this content (`None`: the file does not exist).
    Files(Vec<(PathBuf, Option<String>)>),
    /// In /var/lib/nfs/etab: each (path, client) present with options that say what the
    /// exports-file option string asks for, and each (path, client) of `absent` gone.
    Etab {
        present: Vec<(PathBuf, String, String)>,
        absent: Vec<(PathBuf, String)>,
    },
    /// A project directory: a directory owned by group `gid` with the setgid bit.
    ProjectDir {
        path: PathBuf,
        gid: u32,
    },
    /// rsync's exit code is accepted and its closing --stats block is complete.
    RsyncComplete,
    /// Backup postconditions (see `backup_check`).
    Backup(BackupVerify),
    /// `nfs-manage CMD --json` ran on `node` (here or over ssh): its JSON result must say the
    /// plan completed (`ok` or `nothing to do`), every step done or already in place.
    SubRun {
        node: String,
        command: String,
    },
    /// Proof that `node` let go: its non-dual DRBD resources are Secondary, seen from here
    /// (this node's own role, or the connected peer's role). The command is `drbdadm status`.
    LetGo {
        node: String,
    },
    /// Nobody answers ARP for the service IP (the step's command is the arping probe).
    NoArpAnswer(crate::tools::arping::Flavor),
    /// The peer still looks dead after fencing: DRBD not connected to it, no ARP answer for
    /// the service IP.
    PeerGone {
        node: String,
    },
    /// The cluster lock in etcd holds exactly this value (`None`: is free), written by this
    /// step's transaction (see `cluster_lock`).
    LockHolder {
        value: Option<String>,
        /// The value the transaction compared against (`None`: absent), to tell a
        /// transaction that did not apply from one that lost to another writer.
        before: Option<String>,
    },
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

#[derive(Debug, Clone)]
pub struct Step {
    pub id: String,
    pub title: String,
    pub why: String,
    pub cmd: Cmd,
    pub state: StepState,
    pub guard: Option<Guard>,
    pub verify: Verify,
    /// Exit codes that count as success (almost always just 0).
    pub ok_rcs: &'static [i32],
    /// For a step without a command (`cmd.argv` empty): the file work it does.
    pub files: Vec<FileOp>,
    /// Run this pipeline instead of `cmd` (then `cmd` holds its members' argv joined by
    /// "|", for the journal).
    pub pipeline: Option<Pipeline>,
    /// How long its command took, once run.
    pub duration: Option<std::time::Duration>,
    /// Consecutive steps of one group run in parallel (independent per-volume work), one
    /// thread per lane; the steps of one lane run in order.
    pub group: Option<String>,
    pub lane: Option<String>,
}

impl Step {
    pub fn new(id: impl Into<String>, title: impl Into<String>, cmd: Cmd, verify: Verify) -> Step {
        Step {
            id: id.into(),
            title: title.into(),
            why: String::new(),
            cmd,
            state: StepState::Pending,
            guard: None,
            verify,
            ok_rcs: &[0],
            files: Vec::new(),
            pipeline: None,
            duration: None,
            group: None,
            lane: None,
        }
    }

    /// A step done in-process (atomic file writes, removals, renames), with no command.
    pub fn files(
        id: impl Into<String>,
        title: impl Into<String>,
        ops: Vec<FileOp>,
        verify: Verify,
    ) -> Step {
        let mut s = Step::new(id, title, Cmd::change(Vec::<String>::new()), verify);
        s.files = ops;
        s
    }

    /// A step that runs a pipeline; every member's exit status is checked.
    pub fn new_pipeline(
        id: impl Into<String>,
        title: impl Into<String>,
        p: Pipeline,
        verify: Verify,
    ) -> Step {
        let mut s = Step::new(id, title, Cmd::change(p.flat_argv()), verify);
        s.pipeline = Some(p);
        s
    }

    /// What the plan shows in its command column (a pipeline with its `|`).
    pub fn command_text(&self) -> String {
        if let Some(p) = &self.pipeline {
            p.display()
        } else if self.cmd.argv.is_empty() {
            match self.files.as_slice() {
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
            }
        } else {
            self.cmd.to_string()
        }
    }

    pub fn why(mut self, why: impl Into<String>) -> Step {
        self.why = why.into();
        self
    }

    pub fn guard(mut self, g: Guard) -> Step {
        self.guard = Some(g);
        self
    }

    pub fn already(mut self, why: impl Into<String>) -> Step {
        self.state = StepState::Already;
        self.why = why.into();
        self
    }

    /// Run side by side with the neighbouring steps of `group`, in order within `lane`.
    pub fn parallel(mut self, group: &str, lane: &str) -> Step {
        self.group = Some(group.into());
        self.lane = Some(lane.into());
        self
    }

    pub fn ok_rcs(mut self, rcs: &'static [i32]) -> Step {
        self.ok_rcs = rcs;
        self
    }
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub command: String,
    pub steps: Vec<Step>,
    /// Things the operator should know that are not steps (warnings, skipped checks).
    pub notes: Vec<String>,
}

#[derive(Serialize)]
struct JsonStep<'a> {
    id: &'a str,
    title: &'a str,
    why: &'a str,
    argv: &'a [String],
    state: StepState,
    /// Pipelines only: each member's argv (`argv` then holds them joined by "|").
    #[serde(skip_serializing_if = "Option::is_none")]
    pipeline: Option<Vec<&'a [String]>>,
    /// Steps of one group run in parallel.
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<&'a str>,
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
    error: Option<&'a str>,
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

impl Plan {
    pub fn new(command: &str) -> Plan {
        Plan {
            command: command.into(),
            steps: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn pending(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| s.state == StepState::Pending)
            .count()
    }

    pub fn to_json(&self, result: Option<&str>, error: Option<&str>) -> String {
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
                    argv: &s.cmd.argv,
                    state: s.state,
                    pipeline: s
                        .pipeline
                        .as_ref()
                        .map(|p| p.members.iter().map(|m| m.cmd.argv.as_slice()).collect()),
                    group: s.group.as_deref(),
                })
                .collect(),
            notes: &self.notes,
            result,
            error,
        };
        serde_json::to_string_pretty(&j).expect("plan serializes")
    }

    /// The numbered table and a closing tally.
    pub fn render(&self, node: &str) -> String {
        let mut t = terminal_table(140);
        t.set_header(vec!["#", "step", "command", "state", "why"]);
        for (i, s) in self.steps.iter().enumerate() {
            let state = match s.state {
                StepState::Pending => style("pending").yellow().to_string(),
                StepState::Already => style("already").dim().to_string(),
                StepState::Done => style("done").green().to_string(),
                StepState::Failed => style("FAILED").red().bold().to_string(),
                StepState::Refused => style("REFUSED").red().bold().to_string(),
            };
            t.add_row(vec![
                (i + 1).to_string(),
                s.title.clone(),
                s.command_text(),
                state,
                s.why.clone(),
            ]);
        }
        let mut out = format!("nfs-manage {} on {node}: plan\n{t}\n", self.command);
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
        ] {
            let n = count(st);
            if n > 0 {
                let word = match st {
                    StepState::Pending => "to run",
                    StepState::Already => "already in place",
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
