//! Plans: ordered steps, each with its command, why it is needed, the guard re-checked right
//! before it runs, and the postcondition verified after. Rendered as a numbered table for
//! people and as `{"format_version":1,"command":…,"steps":[…]}` for programs.

use std::path::PathBuf;

use comfy_table::{ContentArrangement, Table, presets::UTF8_BORDERS_ONLY};
use console::style;
use serde::Serialize;

use super::runner::Cmd;

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
    /// Nothing of the volume's device (or nothing at all, for foreign submounts) is mounted here.
    NotMountedAt {
        volume: usize,
        path: PathBuf,
    },
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
    },
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
            duration: None,
            group: None,
            lane: None,
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
        let mut t = Table::new();
        t.load_style(UTF8_BORDERS_ONLY)
            .set_content_arrangement(ContentArrangement::Dynamic);
        if let Some((w, _)) = console::Term::stdout().size_checked() {
            t.set_width(w.max(60));
        } else {
            t.set_width(140);
        }
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
                s.cmd.to_string(),
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
