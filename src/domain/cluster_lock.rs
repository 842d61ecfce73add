//! The cluster lock in etcd (`lock.etcd` in the config): the active node is recorded under
//! `<prefix>/<cluster>/active`, so two nodes can never both come up, including when an old
//! active node returns after a hard-down failover.
//!
//! Reads are `etcdctl get`; every write is one `etcdctl txn` that compares the value and
//! `mod_revision` read before (or that the key is absent), run as a plan step whose
//! verification reads the key again: it must name the expected node at the transaction's
//! revision. That revision is the fencing token and goes into the journal.
//!
//! etcd unreachable is never read as "free": the command refuses. A dry run does not contact
//! etcd (it sends nothing on the network); the plan says so.

use anyhow::Result;

use crate::config::EtcdConfig;
use crate::context::{Ctx, Step};
use crate::engine::check::{Check, Fields, Verdict};
use crate::engine::journal::now_rfc3339;
use crate::error::Error;
use crate::process::{Cmd, Output};
use crate::tools::etcd::{self, Expect, Got, Holder, Write};

/// The key and what it holds now.
#[derive(Debug, Clone)]
pub struct LockState {
    pub key: String,
    pub got: Got,
    pub holder: Option<Holder>,
}

impl LockState {
    pub fn holder_node(&self) -> Option<&str> {
        self.holder.as_ref().map(|h| h.node.as_str())
    }

    /// A failover from → to is under way (or was interrupted): nobody may come up.
    pub fn moving(&self) -> Option<(&str, &str)> {
        let h = self.holder.as_ref()?;
        Some((h.moving_from.as_deref()?, h.node.as_str()))
    }

    /// Held by `node`, and not in the middle of a move.
    pub fn held_by(&self, node: &str) -> bool {
        self.holder_node() == Some(node) && self.moving().is_none()
    }

    pub fn value(&self) -> Option<&str> {
        self.got.kv.as_ref().map(|kv| kv.value.as_str())
    }

    /// What a transaction must compare to change the key from its current state.
    pub fn expect(&self) -> Expect {
        match &self.got.kv {
            None => Expect::Absent,
            Some(kv) => Expect::Is {
                value: kv.value.clone(),
                mod_revision: kv.mod_revision,
            },
        }
    }

    /// "labstore1004 since 2026-… (revision 42)", or "nobody".
    pub fn describe(&self) -> String {
        match (&self.holder, &self.got.kv) {
            (Some(h), Some(kv)) => format!(
                "{}{} since {} (revision {})",
                h.moving_from
                    .as_deref()
                    .map(|f| format!("a failover from {f} to "))
                    .unwrap_or_default(),
                h.node,
                h.since.as_deref().unwrap_or("an unknown time"),
                kv.mod_revision
            ),
            _ => "nobody".to_string(),
        }
    }
}

pub fn config(ctx: &Ctx) -> Option<&EtcdConfig> {
    ctx.config.lock.as_ref().map(|l| &l.etcd)
}

pub fn key_of(ctx: &Ctx, e: &EtcdConfig) -> String {
    format!("{}/{}/active", e.prefix, ctx.config.cluster)
}

/// Read the lock. An unreachable etcd or an unreadable value is an error (never "free").
pub fn read(ctx: &Ctx) -> Result<Option<LockState>> {
    let Some(e) = config(ctx) else {
        return Ok(None);
    };
    let key = key_of(ctx, e);
    let out = ctx
        .runner
        .run(&etcd::get_cmd(&e.endpoints, e.timeout, &key))?;
    let got = etcd::parse_get(&out, &key)?;
    let holder = match &got.kv {
        Some(kv) => Some(Holder::parse(&kv.value)?),
        None => None,
    };
    Ok(Some(LockState { key, got, holder }))
}

/// Read the lock for a plan; unreachable etcd refuses (exit 3) with the reason.
pub fn read_or_refuse(ctx: &Ctx, what: &str) -> Result<Option<LockState>> {
    read(ctx).map_err(|e| {
        Error::Refused(format!(
            "cannot read the cluster lock, so {what} is refused (never guessed): {e:#}"
        ))
        .into()
    })
}

/// A transaction step on the lock key; verified by reading the key back.
pub fn txn_step(
    ctx: &Ctx,
    id: &str,
    title: String,
    key: &str,
    expect: Expect,
    write: Write,
) -> Step {
    let e = config(ctx).expect("lock configured");
    let value = match &write {
        Write::Put(v) => Some(v.clone()),
        Write::Delete => None,
    };
    let why = etcd::describe(&expect, &write);
    let before = match &expect {
        Expect::Absent => None,
        Expect::Is { value, .. } | Expect::WrittenEarlier { value } => Some(value.clone()),
    };
    Step::new(
        id,
        title,
        etcd::txn_cmd(&e.endpoints, e.timeout, key, &expect, &write),
        LockCheck { value, before },
    )
    .why(why)
    .bind(bind_revision)
}

/// `NODE@now` for this node.
pub fn value_for(node: &str) -> String {
    Holder::value(node, &now_rfc3339())
}

/// The `up` step: take the free lock, or `already` when it names this node. Refuses (exit 4)
/// when it names another node. `None` when no lock is configured.
pub fn acquire_step(ctx: &Ctx) -> Result<Option<Step>> {
    let Some(e) = config(ctx) else {
        return Ok(None);
    };
    let key = key_of(ctx, e);
    let title = format!("take the cluster lock {key}");
    if ctx.global.dry_run {
        return Ok(Some(
            txn_step(
                ctx,
                "lock",
                title,
                &key,
                Expect::Absent,
                Write::Put(value_for(&ctx.node)),
            )
            .why("etcd is not contacted in a dry run: the run checks who holds it first"),
        ));
    }
    let st = read_or_refuse(ctx, "up")?.expect("configured");
    if st.moving().is_some() {
        return Err(held_elsewhere(ctx, &st, "up").into());
    }
    match st.holder_node() {
        Some(n) if n == ctx.node => Ok(Some(
            txn_step(
                ctx,
                "lock",
                title,
                &key,
                st.expect(),
                Write::Put(value_for(&ctx.node)),
            )
            .already(format!("held by this node: {}", st.describe())),
        )),
        Some(_) => Err(held_elsewhere(ctx, &st, "up").into()),
        None => Ok(Some(txn_step(
            ctx,
            "lock",
            title,
            &key,
            Expect::Absent,
            Write::Put(value_for(&ctx.node)),
        ))),
    }
}

pub fn held_elsewhere(ctx: &Ctx, st: &LockState, what: &str) -> Error {
    if let Some((from, to)) = st.moving() {
        return Error::LockHeld(format!(
            "refused: the cluster lock {} says {}: `{what}` on {} must wait for it; nothing was changed. Finish it with `nfs-manage failover --to {to}` (or go back with `--to {from}`)",
            st.key,
            st.describe(),
            ctx.node
        ));
    }
    let holder = st.holder_node().unwrap_or("?");
    Error::LockHeld(format!(
        "refused: the cluster lock {} is held by {}: the service belongs to {holder}, so `{what}` on {} would make two active nodes; nothing was changed. Move the service with `nfs-manage failover`, or, if {holder} is gone for good, see `nfs-manage lock break`",
        st.key,
        st.describe(),
        ctx.node
    ))
}

/// The `down` step: release the lock when it names this node; `already` when it is free or
/// names another node (left alone). `None` when no lock is configured.
pub fn release_step(ctx: &Ctx) -> Result<Option<Step>> {
    let Some(e) = config(ctx) else {
        return Ok(None);
    };
    let key = key_of(ctx, e);
    let title = format!("release the cluster lock {key}");
    if ctx.global.dry_run {
        return Ok(Some(
            txn_step(ctx, "unlock", title, &key, Expect::Absent, Write::Delete)
                .why("etcd is not contacted in a dry run: released only if it names this node"),
        ));
    }
    let st = read_or_refuse(ctx, "down")?.expect("configured");
    let step = txn_step(ctx, "unlock", title, &key, st.expect(), Write::Delete);
    Ok(Some(match st.holder_node() {
        _ if st.moving().is_some() => step.already(format!("{}: left alone", st.describe())),
        Some(n) if n == ctx.node => step,
        Some(_) => step.already(format!(
            "held by {}, not this node: left alone",
            st.describe()
        )),
        None => step.already("not held"),
    }))
}

/// The journal field of a verified lock write, carried to the later steps of the run.
pub const FENCING_TOKEN: &str = "fencing_token";

/// The lock holds exactly `value` (`None`: is free), written by the step's transaction.
pub struct LockCheck {
    pub value: Option<String>,
    /// The value the transaction compared against (`None`: absent), to tell a transaction
    /// that did not apply from one that lost to another writer.
    pub before: Option<String>,
}

impl Check<Ctx> for LockCheck {
    fn check(&self, ctx: &Ctx, out: &Output) -> Result<Verdict> {
        verify(ctx, self.value.as_deref(), out)
    }

    /// The fencing token: the revision the transaction created.
    fn fields(&self, _ctx: &Ctx, out: &Output) -> Fields {
        let mut f = Fields::new();
        if let Some(t) = etcd::parse_txn(out).ok().filter(|t| t.succeeded) {
            f.insert(FENCING_TOKEN.into(), t.revision.into());
        }
        f
    }

    fn lost_to(&self, ctx: &Ctx, out: &Output) -> Option<String> {
        lost_race(ctx, self.value.as_deref(), self.before.as_deref(), out)
    }
}

/// After a lock transaction: it must have succeeded, and a fresh read must show the expected
/// holder (`None`: absent) written at the transaction's revision.
fn verify(ctx: &Ctx, value: Option<&str>, out: &Output) -> Result<Verdict> {
    let st = read(ctx)?.expect("lock configured");
    let txn = match etcd::parse_txn(out) {
        Ok(t) => t,
        // A killed or failed txn may or may not have been applied: the read decides.
        Err(e) => {
            return Ok(match (value, &st.got.kv) {
                (Some(want), Some(kv)) if want == kv.value => Ok(()),
                (None, None) => Ok(()),
                _ => Err(format!(
                    "etcdctl gave no transaction result ({e:#}); the lock is now held by {}",
                    st.describe()
                )),
            });
        }
    };
    if !txn.succeeded {
        return Ok(Err(format!(
            "the transaction did not apply (the lock changed since it was read); it is now held by {}",
            st.describe()
        )));
    }
    Ok(match (value, &st.got.kv) {
        (Some(want), Some(kv)) if want == kv.value && kv.mod_revision == txn.revision => Ok(()),
        (None, None) => Ok(()),
        _ => Err(format!(
            "expected the lock to be {}, but it is held by {}",
            value
                .map(|v| format!("{v} at revision {}", txn.revision))
                .unwrap_or_else(|| "free".into()),
            st.describe()
        )),
    })
}

/// Fill in the revision an earlier lock step of this run wrote (see
/// `etcd::Expect::WrittenEarlier`). `None` when the command needs none.
pub fn bind_revision(cmd: &Cmd, carried: &Fields) -> Option<Cmd> {
    let text = cmd.stdin.as_deref()?;
    if !text.contains(etcd::REVISION_OF_EARLIER_STEP) {
        return None;
    }
    let revision = carried.get(FENCING_TOKEN).and_then(|v| v.as_i64());
    let mut c = cmd.clone();
    c.stdin = Some(text.replace(
        etcd::REVISION_OF_EARLIER_STEP,
        &revision.map_or("-1".to_string(), |r| r.to_string()),
    ));
    Some(c)
}

/// When a lock transaction lost a race (so the run ends with exit 4, not 1), who holds the
/// lock now. Lost means: its compare failed, or its result is unknown (killed, timed out,
/// unreadable) and the key now holds neither what it held before (`before`) nor what this
/// step wrote (`value`), so another node or run changed it. A transaction that simply did
/// not apply, with the key as it was, is a failed step (exit 1).
fn lost_race(ctx: &Ctx, value: Option<&str>, before: Option<&str>, out: &Output) -> Option<String> {
    let describe = |st: LockState| {
        if st.got.kv.is_some() {
            st.describe()
        } else {
            "nobody (it was removed)".to_string()
        }
    };
    match etcd::parse_txn(out) {
        Ok(t) if t.succeeded => None,
        Ok(_) => Some(
            read(ctx)
                .ok()
                .flatten()
                .map_or("another node or run".into(), describe),
        ),
        Err(_) => read(ctx)
            .ok()
            .flatten()
            .filter(|st| st.value() != value && st.value() != before)
            .map(describe),
    }
}
