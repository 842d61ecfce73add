//! Runs a plan: print it, confirm, then for each pending step: guard → command → verify →
//! journal. The first failure or refusal stops the run with a message that names the step,
//! its command and stderr, what was already done, and the commands to retry or back out.

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use anyhow::Result;
use console::style;
use indicatif::{ProgressBar, ProgressStyle};

use super::Ctx;
use super::check;
use super::journal::{Journal, Record};
use super::plan::{Plan, StepState, Verify};
use crate::error::Error;

/// How to get out of a half-done run, shown in failure messages.
pub struct Recovery {
    pub retry: String,
    pub back_out: Option<String>,
}

/// Print the plan and, unless this is a dry run or nothing is pending, run it.
pub fn run(ctx: &Ctx, plan: &mut Plan, recovery: &Recovery) -> Result<()> {
    run_with(ctx, plan, recovery, || Ok(()))
}

/// Like [`run`], with `before` called once the run is confirmed, right before the first step
/// (e.g. to record state that must exist as soon as anything changes).
pub fn run_with(
    ctx: &Ctx,
    plan: &mut Plan,
    recovery: &Recovery,
    before: impl FnOnce() -> Result<()>,
) -> Result<()> {
    let g = &ctx.global;
    let human = !g.json && !g.quiet;
    if human {
        print!("{}", plan.render(&ctx.node));
    }
    if plan.pending() == 0 {
        if human {
            println!(
                "{}",
                style("Nothing to do: every step already holds.").green()
            );
        } else if g.json {
            println!("{}", plan.to_json(Some("nothing to do"), None));
        }
        return Ok(());
    }
    if g.dry_run {
        if human {
            println!("Dry run: nothing was changed.");
        } else if g.json {
            println!("{}", plan.to_json(Some("dry run"), None));
        }
        return Ok(());
    }
    confirm(ctx, plan)?;

    let journal = Journal::new(&ctx.config.paths.journal);
    journal.open_check()?;
    before()?;
    let result = run_steps(ctx, plan, &journal, recovery);
    match &result {
        Ok(()) => {
            if human {
                println!(
                    "{}",
                    style(format!("Done. {}", plan.tally())).green().bold()
                );
            } else if g.json {
                println!("{}", plan.to_json(Some("ok"), None));
            }
        }
        Err(e) => {
            if g.json {
                let result = if crate::error::exit_code_of(e) == crate::exit::REFUSED {
                    "refused"
                } else {
                    "failed"
                };
                println!("{}", plan.to_json(Some(result), Some(&format!("{e:#}"))));
            }
        }
    }
    result
}

fn confirm(ctx: &Ctx, plan: &Plan) -> Result<()> {
    if ctx.global.yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Error::Refused(format!(
            "this plan changes the host ({} steps) and standard input is not a terminal; rerun with --yes to run it",
            plan.pending()
        ))
        .into());
    }
    eprint!("Run these {} steps on {}? [y/N] ", plan.pending(), ctx.node);
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
type Member = (usize, super::plan::Step);

/// How one step ended (its journal line is already written).
enum Outcome {
    Done {
        out: super::runner::Output,
        token: Option<i64>,
    },
    Refused(String),
    /// The command could not be started (tool missing, cannot spawn).
    CouldNotRun(anyhow::Error),
    Failed {
        out: super::runner::Output,
        headline: String,
        lost_race: bool,
    },
}

/// Guard → command → verification → journal, for one step. Touches nothing of the plan, so
/// the members of a parallel group can run it side by side.
fn run_one(
    ctx: &Ctx,
    command: &str,
    step: &super::plan::Step,
    journal: &Journal,
    spinner: Option<ProgressBar>,
    on_tty: bool,
) -> Result<Outcome> {
    let finish = |pb: &Option<ProgressBar>| {
        if let Some(pb) = pb {
            pb.finish_and_clear();
        }
    };
    let mut rec = Record::start(journal, ctx, command, &step.id, &step.title, &step.cmd.argv);

    if let Some(guard) = &step.guard {
        let verdict = check::guard(ctx, guard);
        let reason = match verdict {
            Ok(Ok(())) => None,
            Ok(Err(reason)) => Some(reason),
            Err(e) => Some(format!("the check before it could not run: {e:#}")),
        };
        if let Some(reason) = reason {
            finish(&spinner);
            let verify = format!("refused: {reason}");
            rec.verify = &verify;
            rec.result = "refused";
            journal.append(&rec)?;
            return Ok(Outcome::Refused(reason));
        }
    }

    let out = match &step.pipeline {
        Some(p) => ctx.runner.run_pipeline(p, on_tty),
        None if step.cmd.argv.is_empty() => super::files::apply(&step.files, ctx.runner.dry_run),
        None => ctx.runner.run(&step.cmd),
    };
    let out = match out {
        Ok(o) => o,
        Err(e) => {
            finish(&spinner);
            let err = format!("{e:#}");
            rec.result = "failed";
            rec.stderr = Some(&err);
            journal.append(&rec)?;
            return Ok(Outcome::CouldNotRun(e));
        }
    };
    let rc_ok = out.rc.is_some_and(|rc| step.ok_rcs.contains(&rc));
    let verdict = if rc_ok {
        match check::verify(ctx, &step.verify, &out) {
            Ok(v) => v,
            Err(e) => Err(format!("could not be checked: {e:#}")),
        }
    } else {
        Err(String::new())
    };
    finish(&spinner);
    let verify_word = match (&verdict, rc_ok) {
        (Ok(()), _) => "ok".to_string(),
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
    let lock_value = match &step.verify {
        Verify::LockHolder { value, before } => Some((value.as_deref(), before.as_deref())),
        _ => None,
    };
    let is_lock = lock_value.is_some();
    match verdict {
        Ok(()) => {
            rec.result = "done";
            let token = if is_lock {
                super::cluster_lock::fencing_token(&out)
            } else {
                None
            };
            rec.fencing_token = token;
            journal.append(&rec)?;
            Ok(Outcome::Done { out, token })
        }
        Err(why) => {
            rec.result = "failed";
            journal.append(&rec)?;
            // Losing the lock to another node or run is "lock held" (exit 4).
            let lost_to = lock_value.and_then(|(value, before)| {
                super::cluster_lock::lost_race(ctx, value, before, &out)
            });
            let headline = if rc_ok {
                format!(
                    "the command succeeded ({}) but the result is wrong: {why}",
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
            Ok(Outcome::Failed {
                out,
                headline,
                lost_race: lost_to.is_some(),
            })
        }
    }
}

/// Runs the pending steps in order. Consecutive steps of one parallel group (`Step::group`)
/// run side by side, one thread per lane, each lane's steps in order; every member is still
/// guarded, verified and journaled on its own. A failing member stops its lane; the others
/// finish what they started, and the run then stops at the first failure in plan order.
fn run_steps(ctx: &Ctx, plan: &mut Plan, journal: &Journal, recovery: &Recovery) -> Result<()> {
    let g = &ctx.global;
    let human = !g.json && !g.quiet;
    let total = plan.steps.len();
    // The revision the last lock transaction of this run wrote, for a later one that compares
    // against it (a failover's second transaction).
    let mut lock_revision: Option<i64> = None;
    let mut i = 0;
    while i < total {
        if plan.steps[i].state != StepState::Pending {
            i += 1;
            continue;
        }
        // The group: this step alone, or every following step of the same group.
        let end = match &plan.steps[i].group {
            None => i + 1,
            Some(grp) => (i..total)
                .take_while(|&j| plan.steps[j].group.as_ref() == Some(grp))
                .last()
                .map_or(i + 1, |j| j + 1),
        };
        let mut members: Vec<Member> = Vec::new();
        for j in i..end {
            if plan.steps[j].state != StepState::Pending {
                continue;
            }
            let mut step = plan.steps[j].clone();
            if let Some(cmd) = super::cluster_lock::bind_revision(&step.cmd, lock_revision) {
                step.cmd = cmd;
            }
            members.push((j, step));
        }
        let outcomes: Vec<(usize, Outcome)> = if members.len() == 1 {
            let (j, step) = &members[0];
            let on_tty = human && std::io::stdout().is_terminal();
            // A pipeline shows its own progress bar (bytes) instead of the spinner.
            let spinner = (on_tty && step.pipeline.is_none()).then(|| {
                let pb = ProgressBar::new_spinner();
                pb.set_style(
                    ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                        .expect("valid template"),
                );
                pb.set_message(format!("[{}/{total}] {}", j + 1, step.title));
                pb.enable_steady_tick(Duration::from_millis(120));
                pb
            });
            vec![(
                *j,
                run_one(ctx, &plan.command, step, journal, spinner, on_tty)?,
            )]
        } else {
            let mut lanes: Vec<(Option<&str>, Vec<&Member>)> = Vec::new();
            for m in &members {
                let lane = m.1.lane.as_deref();
                match lanes.iter_mut().find(|(l, _)| *l == lane && lane.is_some()) {
                    Some((_, v)) => v.push(m),
                    None => lanes.push((lane, vec![m])),
                }
            }
            let command = plan.command.as_str();
            let results: Vec<Result<Vec<(usize, Outcome)>>> = std::thread::scope(|s| {
                let handles: Vec<_> = lanes
                    .iter()
                    .map(|(_, steps)| {
                        s.spawn(move || -> Result<Vec<(usize, Outcome)>> {
                            let mut done = Vec::new();
                            for (j, step) in steps.iter().map(|m| (&m.0, &m.1)) {
                                let o = run_one(ctx, command, step, journal, None, false)?;
                                let stop = !matches!(o, Outcome::Done { .. });
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
            all
        };
        // Record every outcome first, so a failure message lists what the others did.
        let mut first_failure: Option<(usize, Outcome)> = None;
        for (j, o) in outcomes {
            match &o {
                Outcome::Done { out, token } => {
                    plan.steps[j].state = StepState::Done;
                    plan.steps[j].duration = Some(out.duration);
                    if token.is_some() {
                        lock_revision = *token;
                    }
                    if human {
                        println!(
                            "{} [{}/{total}] {}  ({} ms)",
                            style("done").green(),
                            j + 1,
                            plan.steps[j].title,
                            out.duration.as_millis()
                        );
                    }
                }
                Outcome::Refused(_) => plan.steps[j].state = StepState::Refused,
                Outcome::CouldNotRun(_) => plan.steps[j].state = StepState::Failed,
                Outcome::Failed { out, .. } => {
                    plan.steps[j].state = StepState::Failed;
                    plan.steps[j].duration = Some(out.duration);
                }
            }
            if first_failure.is_none() && !matches!(o, Outcome::Done { .. }) {
                first_failure = Some((j, o));
            }
        }
        if let Some((j, o)) = first_failure {
            return Err(match o {
                Outcome::Refused(reason) => {
                    let msg =
                        failure_text(ctx, plan, j, &format!("refused: {reason}"), None, recovery);
                    Error::Refused(msg).into()
                }
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
                    lost_race,
                } => {
                    let msg = failure_text(ctx, plan, j, &headline, Some(&out), recovery);
                    if lost_race {
                        Error::LockHeld(msg).into()
                    } else {
                        Error::StepFailed(msg).into()
                    }
                }
                Outcome::Done { .. } => unreachable!("only failures are kept"),
            });
        }
        i = end;
    }
    Ok(())
}

fn failure_text(
    ctx: &Ctx,
    plan: &Plan,
    i: usize,
    headline: &str,
    out: Option<&super::runner::Output>,
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
        ctx.config.paths.journal.display()
    ));
    m.push_str(&format!("  to retry:    {}", recovery.retry));
    if let Some(b) = &recovery.back_out {
        m.push_str(&format!("\n  to back out: {b}"));
    }
    m
}
