//! How a step is checked. A guard runs right before the step's command; a check (the
//! postcondition) right after it. Both probe afresh: an exit code 0 is not proof. They are
//! traits so that each capability implements its checks beside its own facts and steps
//! (DRBD, mounts, exports, backups, the cluster lock): adding one never edits the engine.
//!
//! `Ok(Err(reason))` is a refusal or a failed check in plain words; `Err(_)` means the probe
//! itself could not run.

use anyhow::Result;

use crate::process::Output;

pub type Verdict = std::result::Result<(), String>;

/// Extra fields of a step's journal record.
pub type Fields = serde_json::Map<String, serde_json::Value>;

/// Checked right before a step runs; a failure refuses the step (exit 3) and its command
/// never runs.
pub trait Guard<C: ?Sized>: Send + Sync {
    fn check(&self, ctx: &C) -> Result<Verdict>;
}

/// Decides, right before a planned step would run, whether it is still needed, from what the
/// steps before it found (another copy pass only while the last one still moved much). A
/// plan cannot know that when it is made; the step is shown in it with its condition.
pub trait Condition<C: ?Sized>: Send + Sync {
    /// `Some(why)`: not needed; the step is journaled as skipped, with `why`, and the run
    /// goes on. `Err`: the condition could not be decided, which refuses the step.
    fn skip(&self, ctx: &C) -> Result<Option<String>>;
}

/// A step's postcondition, checked after its command exited with an accepted code.
pub trait Check<C: ?Sized>: Send + Sync {
    fn check(&self, ctx: &C, out: &Output) -> Result<Verdict>;

    /// Fields for the journal record of a step that passed. They are also kept for the later
    /// steps of the run (see `Step::bind`).
    fn fields(&self, _ctx: &C, _out: &Output) -> Fields {
        Fields::new()
    }

    /// A remark on a passing result, journaled as `ok (…)`.
    fn note(&self, _out: &Output) -> Option<String> {
        None
    }

    /// For a failed step: who won, when the failure is a race lost to another writer. The
    /// run then ends as "lock held" (exit 4), not as a failed step (exit 1).
    fn lost_to(&self, _ctx: &C, _out: &Output) -> Option<String> {
        None
    }
}
