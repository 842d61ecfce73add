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
use super::journal::{Journal, Record, now_rfc3339};
use super::plan::{Plan, StepState, Verify};
use crate::error::Error;

/// How to get out of a half-done run, shown in failure messages.
pub struct Recovery {
    pub retry: String,
    pub back_out: Option<String>,
}

/// Print the plan and, unless this is a dry run or nothing is pending, run it.
pub fn run(ctx: &Ctx, plan: &mut Plan, recovery: &Recovery) -> Result<()> {
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
    let total = plan.steps.len();
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
    let _ = total;
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

fn run_steps(ctx: &Ctx, plan: &mut Plan, journal: &Journal, recovery: &Recovery) -> Result<()> {
    let g = &ctx.global;
    let human = !g.json && !g.quiet;
    let total = plan.steps.len();
    // The revision the last lock transaction of this run wrote, for a later one that compares
    // against it (a failover's second transaction).
    let mut lock_revision: Option<i64> = None;
    for i in 0..total {
        if plan.steps[i].state != StepState::Pending {
            continue;
        }
        let mut step = plan.steps[i].clone();
        if let Some(cmd) = super::cluster_lock::bind_revision(&step.cmd, lock_revision) {
            step.cmd = cmd;
        }
        let spinner = (human && std::io::stdout().is_terminal()).then(|| {
            let pb = ProgressBar::new_spinner();
            pb.set_style(
                ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                    .expect("valid template"),
            );
            pb.set_message(format!("[{}/{total}] {}", i + 1, step.title));
            pb.enable_steady_tick(Duration::from_millis(120));
            pb
        });
        let finish = |pb: &Option<ProgressBar>| {
            if let Some(pb) = pb {
                pb.finish_and_clear();
            }
        };
        let mut rec = Record {
            time: now_rfc3339(),
            run: &journal.run_id,
            cluster: &ctx.config.cluster,
            node: &ctx.node,
            operator: &journal.operator,
            command: &plan.command,
            step: &step.id,
            title: &step.title,
            argv: &step.cmd.argv,
            rc: None,
            duration_ms: 0,
            verify: "not checked",
            result: "",
            stderr: None,
            fencing_token: None,
        };

        if let Some(guard) = &step.guard {
            let verdict = check::guard(ctx, guard);
            let reason = match verdict {
                Ok(Ok(())) => None,
                Ok(Err(reason)) => Some(reason),
                Err(e) => Some(format!("the check before it could not run: {e:#}")),
            };
            if let Some(reason) = reason {
                finish(&spinner);
                plan.steps[i].state = StepState::Refused;
                let verify = format!("refused: {reason}");
                rec.verify = &verify;
                rec.result = "refused";
                journal.append(&rec)?;
                let msg = failure_text(ctx, plan, i, &format!("refused: {reason}"), None, recovery);
                return Err(Error::Refused(msg).into());
            }
        }

        let out = ctx.runner.run(&step.cmd);
        let out = match out {
            Ok(o) => o,
            Err(e) => {
                finish(&spinner);
                plan.steps[i].state = StepState::Failed;
                let err = format!("{e:#}");
                rec.result = "failed";
                rec.stderr = Some(&err);
                journal.append(&rec)?;
                let msg = failure_text(
                    ctx,
                    plan,
                    i,
                    &format!("could not run: {err}"),
                    None,
                    recovery,
                );
                // A missing tool keeps its own exit code (69).
                return Err(match e.downcast::<Error>() {
                    Ok(Error::ToolMissing { tool, package }) => {
                        anyhow::Error::from(Error::ToolMissing { tool, package }).context(msg)
                    }
                    _ => Error::StepFailed(msg).into(),
                });
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
        plan.steps[i].duration = Some(out.duration);
        rec.verify = &verify_word;
        let stderr = out.stderr.trim().to_string();
        if !stderr.is_empty() {
            rec.stderr = Some(&stderr);
        }
        match verdict {
            Ok(()) => {
                plan.steps[i].state = StepState::Done;
                rec.result = "done";
                if matches!(step.verify, Verify::LockHolder { .. }) {
                    rec.fencing_token = super::cluster_lock::fencing_token(&out);
                    lock_revision = rec.fencing_token;
                }
                journal.append(&rec)?;
                if human {
                    println!(
                        "{} [{}/{total}] {}  ({} ms)",
                        style("done").green(),
                        i + 1,
                        step.title,
                        out.duration.as_millis()
                    );
                }
            }
            Err(why) => {
                plan.steps[i].state = StepState::Failed;
                rec.result = "failed";
                journal.append(&rec)?;
                let headline = if rc_ok {
                    format!(
                        "the command succeeded ({}) but the result is wrong: {why}",
                        out.ending()
                    )
                } else {
                    format!("the command failed ({})", out.ending())
                };
                let msg = failure_text(ctx, plan, i, &headline, Some(&out), recovery);
                // Losing the lock to another node or run is "lock held" (exit 4).
                if matches!(step.verify, Verify::LockHolder { .. })
                    && super::cluster_lock::lost_race(&out)
                {
                    return Err(Error::LockHeld(msg).into());
                }
                return Err(Error::StepFailed(msg).into());
            }
        }
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
        step.cmd
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
