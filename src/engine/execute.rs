//! Runs a plan: print it, confirm, then for each pending step: (lock) → guard → action →
//! check → journal. By default the first failure or refusal stops the run with a message that
//! names the step, its command and output, what was already done, and the commands to retry
//! or back out. A keep-going policy runs every step and reports them all (independent steps,
//! such as one transfer per sync entry).

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use anyhow::Result;
use console::style;
use indicatif::{ProgressBar, ProgressStyle};

use super::Context;
use super::check::Fields;
use super::journal::{Journal, Record};
use super::lock::HostLock;
use super::plan::{Action, Plan, Step, StepState};
use crate::error::{Error, exit_code_of};
use crate::exit;
use crate::process::Output;

/// How to get out of a half-done run, shown in failure messages.
pub struct Recovery {
    pub retry: String,
    pub back_out: Option<String>,
}

/// How a plan is run.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Run every step whatever the others did, and report them all at the end.
    pub keep_going: bool,
    /// Ask on a terminal, and require `--yes` off one. Off for plans that only carry out what
    /// the config already says (timers).
    pub confirm: bool,
    /// What a dry run says it did not do.
    pub dry_run_says: &'static str,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            keep_going: false,
            confirm: true,
            dry_run_says: "nothing was changed",
        }
    }
}

/// Whether a plan of this process had steps to run (for `--detailed-exitcode`).
static HAD_CHANGES: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether a plan run (or dry-run) by this process had steps to run.
pub fn had_changes() -> bool {
    HAD_CHANGES.load(std::sync::atomic::Ordering::SeqCst)
}

/// Print the plan and, unless this is a dry run or nothing is pending, run it.
pub fn run<C: Context>(ctx: &C, plan: &mut Plan<C>, recovery: &Recovery) -> Result<()> {
    run_with(ctx, plan, recovery, Policy::default(), || Ok(()))
}

/// Like [`run`], with a policy, and `before` called once the run is confirmed, right before
/// the first step (e.g. to record state that must exist as soon as anything changes).
pub fn run_with<C: Context>(
    ctx: &C,
    plan: &mut Plan<C>,
    recovery: &Recovery,
    policy: Policy,
    before: impl FnOnce() -> Result<()>,
) -> Result<()> {
    let g = ctx.settings();
    let human = !g.json && !g.quiet;
    if human {
        out!("{}", plan.render(&g.node));
    }
    if plan.unknown() > 0 {
        // Never "nothing to do" or a clean dry run on facts that were not there.
        let msg = format!(
            "{} of {} steps are unknown: the facts they depend on could not be probed (see the notes); nothing was changed",
            plan.unknown(),
            plan.steps.len()
        );
        if g.json {
            crate::output::json(&plan.to_json(Some("unknown"), Some((&msg, exit::UNKNOWN_FACTS))));
        }
        return Err(Error::Unknown(msg).into());
    }
    if plan.pending() == 0 {
        if human {
            outln!(
                "{}",
                style("Nothing to do: every step already holds.").green()
            );
        } else if g.json {
            crate::output::json(&plan.to_json(Some("nothing to do"), None));
        }
        return Ok(());
    }
    HAD_CHANGES.store(true, std::sync::atomic::Ordering::SeqCst);
    if g.dry_run {
        if human {
            outln!("Dry run: {}.", policy.dry_run_says);
        } else if g.json {
            crate::output::json(&plan.to_json(Some("dry run"), None));
        }
        return Ok(());
    }
    if policy.confirm
        && let Err(err) = confirm(ctx, plan)
    {
        if g.json {
            crate::output::json(&plan.to_json(
                Some("refused"),
                Some((&format!("{err:#}"), exit_code_of(&err))),
            ));
        }
        return Err(err);
    }

    let journal = Journal::new(&g.journal);
    journal.open_check()?;
    // From here a signal lets the step in progress finish (or stops it) instead of exiting.
    let _changing = super::signals::Changing::start();
    before()?;
    let result = if policy.keep_going {
        run_all(ctx, plan, &journal, recovery)
    } else {
        run_steps(ctx, plan, &journal, recovery)
    };
    match &result {
        Ok(()) => {
            if human {
                outln!(
                    "{}",
                    style(format!("Done. {}", plan.tally())).green().bold()
                );
            } else if g.json {
                crate::output::json(&plan.to_json(Some("ok"), None));
            }
        }
        Err(e) => {
            if g.json {
                let word = match exit_code_of(e) {
                    exit::REFUSED => "refused",
                    exit::LOCKED if policy.keep_going => "locked",
                    exit::INTERRUPTED | exit::TERMINATED => "interrupted",
                    _ => "failed",
                };
                crate::output::json(
                    &plan.to_json(Some(word), Some((&format!("{e:#}"), exit_code_of(e)))),
                );
            }
        }
    }
    result
}

/// Refuse a plan before anything runs: show it (or its JSON) and say why, exit 3.
pub fn refuse<C: Context>(ctx: &C, plan: &Plan<C>, refusals: &[String]) -> Result<()> {
    let g = ctx.settings();
    let msg = format!("nothing was changed:\n  - {}", refusals.join("\n  - "));
    if g.json {
        crate::output::json(&plan.to_json(Some("refused"), Some((&msg, exit::REFUSED))));
    } else if !g.quiet {
        out!("{}", plan.render(&g.node));
    }
    Err(Error::Refused(msg).into())
}

fn confirm<C: Context>(ctx: &C, plan: &Plan<C>) -> Result<()> {
    let g = ctx.settings();
    if g.yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Error::Refused(format!(
            "this plan changes the host ({} steps) and standard input is not a terminal; rerun with --yes to run it",
            plan.pending()
        ))
        .into());
    }
    errout!("Run these {} steps on {}? [y/N] ", plan.pending(), g.node);
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
        Ok(())
    } else {
        Err(Error::Refused("not confirmed; nothing was changed".into()).into())
    }
}

/// A step to run and its index in the plan.
type Member<C> = (usize, Step<C>);

/// How one step ended (its journal line is already written).
enum Outcome {
    Done {
        out: Output,
        fields: Fields,
    },
    Refused(String),
    /// Its condition said it is not needed now (`Step::only_if`): skipped, the run goes on.
    Skipped(String),
    /// Its lock is held by another run: skipped.
    Locked(String),
    /// The command could not be started (tool missing, cannot spawn).
    CouldNotRun(anyhow::Error),
    Failed {
        out: Output,
        headline: String,
        /// Another writer won (exit 4): who holds it now.
        lost_to: Option<String>,
        /// The check's reason, without the headline's framing.
        why: String,
    },
}

/// (Lock) → guard → action → check → journal, for one step. Touches nothing of the plan, so
/// the members of a parallel group can run it side by side.
fn run_one<C: Context>(
    ctx: &C,
    command: &str,
    step: &Step<C>,
    journal: &Journal,
    spinner: Option<ProgressBar>,
    on_tty: bool,
) -> Result<Outcome> {
    let finish = |pb: &Option<ProgressBar>| {
        if let Some(pb) = pb {
            pb.finish_and_clear();
        }
    };
    let argv = step.action.argv();
    let mut rec = Record::start(
        journal,
        ctx.settings(),
        command,
        &step.id,
        &step.title,
        &argv,
    );
    let _lock = match &step.lock {
        None => None,
        Some(path) => match HostLock::acquire(path) {
            Ok(l) => Some(l),
            Err(e) if exit_code_of(&e) == exit::LOCKED => {
                finish(&spinner);
                return Ok(Outcome::Locked(format!("{e:#}")));
            }
            Err(e) => return Err(e),
        },
    };

    if let Some((condition, _)) = &step.when {
        match condition.skip(ctx) {
            Ok(None) => {}
            Ok(Some(why)) => {
                finish(&spinner);
                let verify = format!("skipped: {why}");
                rec.verify = &verify;
                rec.result = "skipped";
                journal.append_with(&rec, &step.fields)?;
                return Ok(Outcome::Skipped(why));
            }
            Err(e) => {
                finish(&spinner);
                let reason = format!("whether it is needed could not be decided: {e:#}");
                let verify = format!("refused: {reason}");
                rec.verify = &verify;
                rec.result = "refused";
                journal.append_with(&rec, &step.fields)?;
                return Ok(Outcome::Refused(reason));
            }
        }
    }

    if let Some(guard) = &step.guard {
        let reason = match guard.check(ctx) {
            Ok(Ok(())) => None,
            Ok(Err(reason)) => Some(reason),
            Err(e) => Some(format!("the check before it could not run: {e:#}")),
        };
        if let Some(reason) = reason {
            finish(&spinner);
            let verify = format!("refused: {reason}");
            rec.verify = &verify;
            rec.result = "refused";
            journal.append_with(&rec, &step.fields)?;
            return Ok(Outcome::Refused(reason));
        }
    }

    let runner = ctx.runner();
    let out = match &step.action {
        Action::Pipeline(p) => runner.run_pipeline(p, on_tty),
        Action::Files(ops) => super::files::apply(ops, runner.dry_run),
        Action::Run(cmd) => runner.run(cmd),
    };
    let out = match out {
        Ok(o) => o,
        Err(e) => {
            finish(&spinner);
            let err = format!("{e:#}");
            rec.result = failed_word(step);
            rec.stderr = Some(&err);
            journal.append_with(&rec, &step.fields)?;
            return Ok(Outcome::CouldNotRun(e));
        }
    };
    let rc_ok = out.rc.is_some_and(|rc| step.ok_rcs.contains(&rc));
    let verdict = if rc_ok {
        match step.verify.check(ctx, &out) {
            Ok(v) => v,
            Err(e) => Err(format!("could not be checked: {e:#}")),
        }
    } else {
        Err(String::new())
    };
    finish(&spinner);
    let verify_word = match (&verdict, rc_ok) {
        (Ok(()), _) => match step.verify.note(&out) {
            Some(n) => format!("ok ({n})"),
            None => "ok".to_string(),
        },
        (Err(_), false) => "not checked".to_string(),
        (Err(why), true) => format!("failed: {why}"),
    };
    rec.rc = out.rc;
    rec.duration_ms = out.duration.as_millis() as u64;
    rec.verify = &verify_word;
    let stderr = out.stderr.trim().to_string();
    if !stderr.is_empty() {
        rec.stderr = Some(&stderr);
    }
    let mut fields = step.fields.clone();
    match verdict {
        Ok(()) => {
            rec.result = "done";
            let found = step.verify.fields(ctx, &out);
            fields.extend(found.clone());
            journal.append_with(&rec, &fields)?;
            Ok(Outcome::Done { out, fields: found })
        }
        Err(why) => {
            rec.result = failed_word(step);
            fields.extend(step.verify.fields(ctx, &out));
            journal.append_with(&rec, &fields)?;
            let lost_to = step.verify.lost_to(ctx, &out);
            let headline = if rc_ok {
                // An accepted code other than 0 is not "success" (rsync's 23 on a live tree).
                format!(
                    "the command {} ({}) but the result is wrong: {why}",
                    if out.success() { "succeeded" } else { "ended" },
                    out.ending()
                )
            } else if let Some(holder) = &lost_to {
                format!(
                    "the command failed ({}), and the lock is now held by {holder}: another node or run took it",
                    out.ending()
                )
            } else {
                format!("the command failed ({})", out.ending())
            };
            let why = if rc_ok {
                why
            } else {
                format!("{} {}", step_program(step), out.ending())
            };
            Ok(Outcome::Failed {
                out,
                headline,
                lost_to,
                why,
            })
        }
    }
}

/// How a failed step is journaled: a warn-only step's failure is a warning.
fn failed_word<C: ?Sized>(step: &Step<C>) -> &'static str {
    if step.warn_only.is_some() {
        "warning"
    } else {
        "failed"
    }
}

/// The tool a failed step ran, for short summaries ("rsync exit 11").
fn step_program<C: ?Sized>(step: &Step<C>) -> String {
    match &step.action {
        Action::Run(c) => c.program().to_string(),
        Action::Pipeline(_) => "the pipeline".into(),
        Action::Files(_) => "the file work".into(),
    }
}

/// Binds a step's command to the fields of the steps that passed before it.
fn bound<C: ?Sized>(mut step: Step<C>, carried: &Fields) -> Step<C> {
    if let (Some(bind), Action::Run(cmd)) = (step.bind, &step.action)
        && let Some(c) = bind(cmd, carried)
    {
        step.action = Action::Run(c);
    }
    step
}

fn spinner_for<C: ?Sized>(step: &Step<C>, i: usize, total: usize) -> ProgressBar {
    let pb = ProgressBar::new_spinner();
    pb.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("valid template"),
    );
    pb.set_message(format!("[{}/{total}] {}", i + 1, step.title));
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

/// Records how a step ended in the plan; prints the `done` line.
fn record<C: ?Sized>(plan: &mut Plan<C>, j: usize, o: &Outcome, human: bool) {
    let total = plan.steps.len();
    let s = &mut plan.steps[j];
    match o {
        Outcome::Done { out, .. } => {
            s.state = StepState::Done;
            s.output = Some(out.clone());
            if human {
                // What the check noted (an accepted exit code other than 0 and why) is said
                // here too, not only in the journal.
                let note = s
                    .verify
                    .note(out)
                    .map(|n| format!("; {n}"))
                    .unwrap_or_default();
                outln!(
                    "{} [{}/{total}] {}  ({} ms){note}",
                    style("done").green(),
                    j + 1,
                    s.title,
                    out.duration.as_millis()
                );
            }
        }
        Outcome::Refused(_) | Outcome::Locked(_) => s.state = StepState::Refused,
        Outcome::Skipped(why) => {
            s.state = StepState::Skipped;
            if human {
                outln!(
                    "{} [{}/{total}] {}: {why}",
                    style("skipped").dim(),
                    j + 1,
                    s.title
                );
            }
        }
        Outcome::CouldNotRun(e) => {
            s.state = StepState::Failed;
            if let Some(risk) = &s.warn_only {
                s.state = StepState::Warning;
                warn(j, total, &s.title, &format!("could not run: {e:#}"), risk);
            }
        }
        Outcome::Failed { out, headline, .. } => {
            s.state = StepState::Failed;
            s.output = Some(out.clone());
            if let Some(risk) = &s.warn_only {
                s.state = StepState::Warning;
                warn(j, total, &s.title, headline, risk);
            }
        }
    }
}

/// A warn-only step failed: say so on stderr (where cron mails it from) and in the log; the
/// run goes on.
fn warn(j: usize, total: usize, title: &str, what: &str, risk: &str) {
    log::warn!("step {} of {total} ({title}): {what}; {risk}", j + 1);
    crate::errln!(
        "{} step {} of {total} ({title}): {what}\n  {risk}",
        style("warning:").yellow().bold(),
        j + 1
    );
}

/// Whether the outcome stops the run (a warn-only step's failure does not).
fn stops<C: ?Sized>(plan: &Plan<C>, j: usize, o: &Outcome) -> bool {
    !matches!(o, Outcome::Done { .. } | Outcome::Skipped(_))
        && plan.steps[j].state != StepState::Warning
}

/// Runs the pending steps in order. Consecutive steps of one parallel group (`Step::group`)
/// run side by side, one thread per lane, each lane's steps in order; every member is still
/// guarded, verified and journaled on its own. A failing member stops its lane; the others
/// finish what they started, and the run then stops at the first failure in plan order.
fn run_steps<C: Context>(
    ctx: &C,
    plan: &mut Plan<C>,
    journal: &Journal,
    recovery: &Recovery,
) -> Result<()> {
    let g = ctx.settings();
    let human = !g.json && !g.quiet;
    let total = plan.steps.len();
    // Fields of the steps that passed, for the commands of later ones (`Step::bind`).
    let mut carried = Fields::new();
    let mut i = 0;
    while i < total {
        if plan.steps[i].state != StepState::Pending {
            i += 1;
            continue;
        }
        if let Some(sig) = super::signals::received() {
            return Err(interrupted(ctx, plan, journal, sig, recovery));
        }
        // The group: this step alone, or every following step of the same group.
        let end = match &plan.steps[i].group {
            None => i + 1,
            Some(grp) => (i..total)
                .take_while(|&j| plan.steps[j].group.as_ref() == Some(grp))
                .last()
                .map_or(i + 1, |j| j + 1),
        };
        let members: Vec<Member<C>> = (i..end)
            .filter(|&j| plan.steps[j].state == StepState::Pending)
            .map(|j| (j, bound(plan.steps[j].clone(), &carried)))
            .collect();
        let outcomes: Vec<(usize, Outcome)> = if members.len() == 1 {
            let (j, step) = &members[0];
            let on_tty = human && std::io::stdout().is_terminal();
            // A pipeline shows its own progress bar (bytes) instead of the spinner.
            let spinner = (on_tty && !matches!(step.action, Action::Pipeline(_)))
                .then(|| spinner_for(step, *j, total));
            vec![(
                *j,
                run_one(ctx, &plan.command, step, journal, spinner, on_tty)?,
            )]
        } else {
            run_lanes(ctx, &plan.command, &members, journal)?
        };
        // Record every outcome first, so a failure message lists what the others did.
        let mut first_failure: Option<(usize, Outcome)> = None;
        for (j, o) in outcomes {
            record(plan, j, &o, human);
            if let Outcome::Done { fields, .. } = &o {
                carried.extend(fields.clone());
            }
            if first_failure.is_none() && stops(plan, j, &o) {
                first_failure = Some((j, o));
            }
        }
        // A step stopped by the signal handler failed because of the signal: say so.
        if let Some(sig) = super::signals::received() {
            return Err(interrupted(ctx, plan, journal, sig, recovery));
        }
        if let Some((j, o)) = first_failure {
            return Err(stop_error(ctx, plan, j, o, recovery));
        }
        i = end;
    }
    Ok(())
}

/// The members of one parallel group, one thread per lane.
fn run_lanes<C: Context>(
    ctx: &C,
    command: &str,
    members: &[Member<C>],
    journal: &Journal,
) -> Result<Vec<(usize, Outcome)>> {
    let mut lanes: Vec<(Option<&str>, Vec<&Member<C>>)> = Vec::new();
    for m in members {
        let lane = m.1.lane.as_deref();
        match lanes.iter_mut().find(|(l, _)| *l == lane && lane.is_some()) {
            Some((_, v)) => v.push(m),
            None => lanes.push((lane, vec![m])),
        }
    }
    let results: Vec<Result<Vec<(usize, Outcome)>>> = std::thread::scope(|s| {
        let handles: Vec<_> = lanes
            .iter()
            .map(|(_, steps)| {
                s.spawn(move || -> Result<Vec<(usize, Outcome)>> {
                    let mut done = Vec::new();
                    for (j, step) in steps.iter().map(|m| (&m.0, &m.1)) {
                        let o = run_one(ctx, command, step, journal, None, false)?;
                        let stop = !matches!(o, Outcome::Done { .. } | Outcome::Skipped(_))
                            && step.warn_only.is_none();
                        done.push((*j, o));
                        if stop {
                            break;
                        }
                    }
                    Ok(done)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a step thread panicked"))
            .collect()
    });
    let mut all = Vec::new();
    for r in results {
        all.extend(r?);
    }
    all.sort_by_key(|(j, _)| *j);
    Ok(all)
}

/// The error that stops a run at step `j`.
fn stop_error<C: Context>(
    ctx: &C,
    plan: &Plan<C>,
    j: usize,
    o: Outcome,
    recovery: &Recovery,
) -> anyhow::Error {
    match o {
        Outcome::Refused(reason) => {
            let msg = failure_text(ctx, plan, j, &format!("refused: {reason}"), None, recovery);
            Error::Refused(msg).into()
        }
        Outcome::Locked(reason) => Error::LockHeld(failure_text(
            ctx,
            plan,
            j,
            &format!("skipped: {reason}"),
            None,
            recovery,
        ))
        .into(),
        Outcome::CouldNotRun(e) => {
            let msg = failure_text(
                ctx,
                plan,
                j,
                &format!("could not run: {e:#}"),
                None,
                recovery,
            );
            // A missing tool keeps its own exit code (69).
            match e.downcast::<Error>() {
                Ok(Error::ToolMissing { tool, package }) => {
                    anyhow::Error::from(Error::ToolMissing { tool, package }).context(msg)
                }
                _ => Error::StepFailed(msg).into(),
            }
        }
        Outcome::Failed {
            out,
            headline,
            lost_to,
            ..
        } => {
            let msg = failure_text(ctx, plan, j, &headline, Some(&out), recovery);
            if lost_to.is_some() {
                Error::LockHeld(msg).into()
            } else {
                Error::StepFailed(msg).into()
            }
        }
        Outcome::Done { .. } | Outcome::Skipped(_) => unreachable!("only failures stop a run"),
    }
}

/// Keep going: every pending step runs, one after the other, whatever the others did. The
/// run ends with exit 1 if any failed, else 3 if any was refused, else 4 if any was skipped
/// because its lock was held.
fn run_all<C: Context>(
    ctx: &C,
    plan: &mut Plan<C>,
    journal: &Journal,
    recovery: &Recovery,
) -> Result<()> {
    let g = ctx.settings();
    let human = !g.json && !g.quiet;
    let (mut failed, mut refused, mut locked) = (Vec::new(), Vec::new(), Vec::new());
    for j in 0..plan.steps.len() {
        if plan.steps[j].state != StepState::Pending {
            continue;
        }
        if let Some(sig) = super::signals::received() {
            return Err(interrupted(ctx, plan, journal, sig, recovery));
        }
        let step = plan.steps[j].clone();
        let o = run_one(ctx, &plan.command, &step, journal, None, false)?;
        record(plan, j, &o, human);
        let subject = step.subject.clone().unwrap_or_else(|| step.title.clone());
        if plan.steps[j].state == StepState::Warning {
            continue;
        }
        let said = match o {
            Outcome::Done { .. } | Outcome::Skipped(_) => continue,
            Outcome::Failed { out, why, .. } => {
                let m = short_failure(&step, &why, &out);
                failed.push(format!("{subject}: {m}"));
                (style("FAILED").red().bold(), m)
            }
            Outcome::CouldNotRun(e) => {
                let m = format!("could not run: {e:#}");
                failed.push(format!("{subject}: {m}"));
                (style("FAILED").red().bold(), m)
            }
            Outcome::Refused(m) => {
                refused.push(format!("{subject}: {m}"));
                (style("REFUSED").red().bold(), m)
            }
            Outcome::Locked(m) => {
                locked.push(format!("{subject}: {m}"));
                (style("SKIPPED").yellow().bold(), m)
            }
        };
        if human {
            outln!("{} {}: {}", said.0, step.title, said.1);
        }
    }
    if !failed.is_empty() {
        Err(Error::StepFailed(format!(
            "{} failed for {}\n  {}\n  journal: {}\n  to retry: {}",
            plan.command,
            failed.len(),
            failed.join("\n  "),
            g.journal.display(),
            recovery.retry
        ))
        .into())
    } else if !refused.is_empty() {
        Err(Error::Refused(format!(
            "nothing was done for {}\n  {}",
            refused.len(),
            refused.join("\n  ")
        ))
        .into())
    } else if !locked.is_empty() {
        Err(Error::LockHeld(locked.join("\n")).into())
    } else {
        Ok(())
    }
}

/// The run stopped because of a signal: an `interrupted` journal record, and the message of a
/// failure (what was done, what was not, how to retry or back out).
fn interrupted<C: Context>(
    ctx: &C,
    plan: &Plan<C>,
    journal: &Journal,
    sig: i32,
    recovery: &Recovery,
) -> anyhow::Error {
    let name = super::signals::name(sig);
    let mut rec = Record::start(
        journal,
        ctx.settings(),
        &plan.command,
        "interrupted",
        "the run was interrupted",
        &[],
    );
    let why = format!("{name} received");
    rec.verify = &why;
    rec.result = "interrupted";
    let _ = journal.append(&rec);
    // The step the signal caught, else the next one that did not run.
    let at = plan
        .steps
        .iter()
        .position(|s| s.state == StepState::Failed)
        .or_else(|| {
            plan.steps
                .iter()
                .position(|s| s.state == StepState::Pending)
        })
        .unwrap_or(plan.steps.len().saturating_sub(1));
    let out = plan.steps.get(at).and_then(|s| s.output.as_ref());
    let message = failure_text(
        ctx,
        plan,
        at,
        &format!("interrupted by {name}; no further step was started"),
        out,
        recovery,
    );
    Error::Interrupted {
        signal: sig,
        message,
    }
    .into()
}

/// One line for a summary: the reason, the command and the last lines of its output.
fn short_failure<C: ?Sized>(step: &Step<C>, why: &str, out: &Output) -> String {
    let said = out.complaint();
    let last: Vec<&str> = said.lines().rev().take(3).collect();
    let last: Vec<&str> = last.into_iter().rev().collect();
    format!(
        "{why}; command: {}{}",
        step.command_text(),
        if last.is_empty() {
            String::new()
        } else {
            format!("; output: {}", last.join(" / "))
        }
    )
}

fn failure_text<C: Context>(
    ctx: &C,
    plan: &Plan<C>,
    i: usize,
    headline: &str,
    out: Option<&Output>,
    recovery: &Recovery,
) -> String {
    let step = &plan.steps[i];
    let mut m = format!(
        "step {} of {} ({}) stopped the run: {headline}\n  command: {}\n",
        i + 1,
        plan.steps.len(),
        step.title,
        step.command_text()
    );
    if let Some(out) = out {
        let complaint = out.complaint();
        if !complaint.is_empty() {
            m.push_str(&format!(
                "  output:  {}\n",
                complaint.replace('\n', "\n           ")
            ));
        }
    }
    let done: Vec<String> = plan
        .steps
        .iter()
        .enumerate()
        .filter(|(_, s)| s.state == StepState::Done)
        .map(|(n, s)| format!("{}. {}", n + 1, s.title))
        .collect();
    if done.is_empty() {
        m.push_str("  done in this run: nothing\n");
    } else {
        m.push_str(&format!("  done in this run: {}\n", done.join("; ")));
    }
    let rest = plan
        .steps
        .iter()
        .skip(i + 1)
        .filter(|s| s.state == StepState::Pending)
        .count();
    if rest > 0 {
        m.push_str(&format!("  not run: {rest} later step(s)\n"));
    }
    m.push_str(&format!(
        "  journal: {}\n",
        ctx.settings().journal.display()
    ));
    m.push_str(&format!("  to retry:    {}", recovery.retry));
    if let Some(b) = &recovery.back_out {
        m.push_str(&format!("\n  to back out: {b}"));
    }
    m
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::engine::check::{Check, Condition, Verdict};
    use crate::engine::runner::Runner;
    use crate::engine::{Context, Settings};
    use crate::process::Cmd;

    struct Ctx {
        runner: Runner,
        settings: Settings,
    }

    impl Context for Ctx {
        fn runner(&self) -> &Runner {
            &self.runner
        }
        fn settings(&self) -> &Settings {
            &self.settings
        }
    }

    /// Counts the steps that ran.
    struct Ran(Arc<AtomicUsize>);
    impl Check<Ctx> for Ran {
        fn check(&self, _: &Ctx, _: &Output) -> Result<Verdict> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(Ok(()))
        }
    }

    /// Skips its step once `ran` steps have run.
    struct AfterRuns(Arc<AtomicUsize>, usize);
    impl Condition<Ctx> for AfterRuns {
        fn skip(&self, _: &Ctx) -> Result<Option<String>> {
            let n = self.0.load(Ordering::SeqCst);
            Ok((n >= self.1).then(|| format!("{n} ran already")))
        }
    }

    struct Undecidable;
    impl Condition<Ctx> for Undecidable {
        fn skip(&self, _: &Ctx) -> Result<Option<String>> {
            anyhow::bail!("the probe failed")
        }
    }

    fn ctx(dir: &std::path::Path) -> Ctx {
        Ctx {
            runner: Runner::new(false, false, Duration::from_secs(5), Duration::from_secs(5)),
            settings: Settings {
                node: "n1".into(),
                cluster: "c".into(),
                journal: dir.join("journal.jsonl"),
                yes: true,
                quiet: true,
                ..Settings::default()
            },
        }
    }

    fn step(id: &str, ran: &Arc<AtomicUsize>) -> Step<Ctx> {
        Step::new(id, id, Cmd::change(["true"]), Ran(ran.clone()))
    }

    fn results(ctx: &Ctx) -> Vec<(String, String)> {
        crate::engine::journal::tail(&ctx.settings.journal, 1 << 20)
            .iter()
            .map(|r| {
                (
                    r["step"].as_str().unwrap().to_string(),
                    r["result"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    /// A conditional step is decided when the run reaches it, from what ran before: skipped
    /// and journaled as such, the run goes on; the same condition lets a later one run.
    #[test]
    fn a_step_no_longer_needed_when_reached_is_skipped_and_the_run_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = ctx(dir.path());
        let ran = Arc::new(AtomicUsize::new(0));
        let mut plan: Plan<Ctx> = Plan::new("test");
        plan.steps.push(step("a", &ran));
        plan.steps
            .push(step("b", &ran).only_if(AfterRuns(ran.clone(), 2), "fewer than 2 ran"));
        plan.steps
            .push(step("c", &ran).only_if(AfterRuns(ran.clone(), 1), "none ran"));
        plan.steps.push(step("d", &ran));
        let recovery = Recovery {
            retry: "again".into(),
            back_out: None,
        };
        run(&ctx, &mut plan, &recovery).unwrap();
        let states: Vec<StepState> = plan.steps.iter().map(|s| s.state).collect();
        assert_eq!(
            states,
            [
                StepState::Done,
                StepState::Done,
                StepState::Skipped,
                StepState::Done
            ]
        );
        assert_eq!(ran.load(Ordering::SeqCst), 3);
        let want: Vec<(String, String)> = [
            ("a", "done"),
            ("b", "done"),
            ("c", "skipped"),
            ("d", "done"),
        ]
        .iter()
        .map(|(s, r)| (s.to_string(), r.to_string()))
        .collect();
        assert_eq!(results(&ctx), want);
        assert_eq!(
            plan.tally(),
            "4 steps: 3 done, 1 skipped (not needed when reached)"
        );
        let json: serde_json::Value = serde_json::from_str(&plan.to_json(None, None)).unwrap();
        assert_eq!(json["steps"][2]["only_if"], "none ran");
        assert_eq!(json["steps"][2]["state"], "skipped");
        assert!(json["steps"][0].get("only_if").is_none());
    }

    /// A condition that cannot be decided is not taken as "needed" or "not needed": the step
    /// is refused and the run stops there.
    #[test]
    fn a_condition_that_cannot_be_decided_refuses_the_step() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = ctx(dir.path());
        let ran = Arc::new(AtomicUsize::new(0));
        let mut plan: Plan<Ctx> = Plan::new("test");
        plan.steps
            .push(step("a", &ran).only_if(Undecidable, "whatever"));
        plan.steps.push(step("b", &ran));
        let recovery = Recovery {
            retry: "again".into(),
            back_out: None,
        };
        let err = run(&ctx, &mut plan, &recovery).unwrap_err();
        assert_eq!(exit_code_of(&err), exit::REFUSED);
        assert!(
            format!("{err:#}")
                .contains("whether it is needed could not be decided: the probe failed"),
            "{err:#}"
        );
        assert_eq!(ran.load(Ordering::SeqCst), 0);
        assert_eq!(plan.steps[1].state, StepState::Pending);
    }

    struct Wrong;
    impl Check<Ctx> for Wrong {
        fn check(&self, _: &Ctx, _: &Output) -> Result<Verdict> {
            Ok(Err("not what was wanted".into()))
        }
    }

    /// A step whose command exited with an accepted code other than 0 and whose check then
    /// failed is not said to have succeeded.
    #[test]
    fn an_accepted_nonzero_exit_is_not_called_success() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = ctx(dir.path());
        let recovery = Recovery {
            retry: "again".into(),
            back_out: None,
        };
        for (argv, rcs, said) in [
            (
                ["sh", "-c", "exit 23"],
                &[0, 23][..],
                "the command ended (exit 23)",
            ),
            (
                ["sh", "-c", "exit 0"],
                &[0][..],
                "the command succeeded (exit 0)",
            ),
        ] {
            let mut plan: Plan<Ctx> = Plan::new("test");
            plan.steps
                .push(Step::new("a", "a", Cmd::change(argv), Wrong).ok_rcs(rcs));
            let err = format!("{:#}", run(&ctx, &mut plan, &recovery).unwrap_err());
            assert!(
                err.contains(&format!(
                    "{said} but the result is wrong: not what was wanted"
                )),
                "{err}"
            );
        }
    }
}
