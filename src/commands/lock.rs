//! `nfs-manage lock show` and `nfs-manage lock break --reason TEXT`: the cluster lock in etcd
//! (see `engine::cluster_lock`). Breaking it is the audited manual override: one plan step,
//! a transaction that deletes the key only if it still holds what was shown, journaled with
//! the operator and the reason.

use anyhow::Result;
use serde_json::json;

use crate::cli::BreakArgs;
use crate::context::Ctx;
use crate::context::Plan;
use crate::domain::cluster_lock::{self, LockState};
use crate::engine::execute::{self, Recovery};
use crate::error::Error;
use crate::tools::etcd::Write;

/// `lock break` on a config without a lock is a command that does not apply: a usage error.
fn configured(ctx: &Ctx) -> Result<()> {
    if cluster_lock::config(ctx).is_none() {
        return Err(Error::Usage(not_configured(ctx)).into());
    }
    Ok(())
}

fn not_configured(ctx: &Ctx) -> String {
    format!(
        "{}: no cluster lock is configured (add `lock: {{ etcd: {{ endpoints: [...] }} }}`)",
        ctx.config_path.display()
    )
}

fn read(ctx: &Ctx) -> Result<LockState> {
    Ok(cluster_lock::read(ctx)?.expect("configured"))
}

/// Without a lock in the config, that is the answer (exit 0), not an error.
pub fn show(ctx: &Ctx) -> Result<()> {
    if cluster_lock::config(ctx).is_none() {
        if ctx.global.json {
            crate::output::json(
                &json!({"format_version": 1, "configured": false, "held": false}).to_string(),
            );
        } else if !ctx.global.quiet {
            outln!("{}", not_configured(ctx));
        }
        return Ok(());
    }
    let st = read(ctx)?;
    if ctx.global.json {
        let kv = st.got.kv.as_ref();
        crate::output::json(
            &json!({
                "format_version": 1,
                "configured": true,
                "key": st.key,
                "held": st.holder.is_some(),
                "holder": st.holder.as_ref().map(|h| &h.node),
                "since": st.holder.as_ref().and_then(|h| h.since.as_ref()),
                "revision": kv.map(|k| k.mod_revision),
                "etcd_revision": st.got.revision,
            })
            .to_string(),
        );
    } else if !ctx.global.quiet {
        match &st.holder {
            Some(_) => outln!("{}: held by {}", st.key, st.describe()),
            None => outln!("{}: free (etcd revision {})", st.key, st.got.revision),
        }
    }
    Ok(())
}

pub fn break_lock(ctx: &Ctx, args: &BreakArgs) -> Result<()> {
    configured(ctx)?;
    let reason = args.reason.trim();
    if reason.is_empty() || reason.chars().any(char::is_control) {
        return Err(Error::Refused(
            "--reason must say why the lock is broken, on one line; nothing was changed".into(),
        )
        .into());
    }
    let _lock = ctx.host_lock()?;
    let mut plan = Plan::new("lock break");
    if ctx.global.dry_run {
        plan.notes.push(
            "etcd is not contacted in a dry run: the run reads the holder and deletes the key only if it is unchanged".into(),
        );
        let step = cluster_lock::txn_step(
            ctx,
            "lock-break",
            format!("break the cluster lock (reason: {reason})"),
            &cluster_lock::key_of(ctx, cluster_lock::config(ctx).expect("configured")),
            crate::tools::etcd::Expect::Absent,
            Write::Delete,
        );
        plan.steps.push(step);
    } else {
        let st = read(ctx)?;
        let step = cluster_lock::txn_step(
            ctx,
            "lock-break",
            format!(
                "break the cluster lock held by {} (reason: {reason})",
                st.holder_node().unwrap_or("nobody")
            ),
            &st.key,
            st.expect(),
            Write::Delete,
        );
        if let Some(h) = st.holder_node() {
            plan.steps.push(step);
            plan.notes.push(format!(
                "{h} may still be serving: make sure it is down or fenced first, or two nodes can come up"
            ));
        } else {
            plan.steps.push(step.already("not held"));
        }
    }
    execute::run(
        ctx,
        &mut plan,
        &Recovery {
            retry: ctx.self_command(&format!(
                "lock break --reason {}",
                crate::process::shell_quote(reason)
            )),
            back_out: None,
        },
    )
}
