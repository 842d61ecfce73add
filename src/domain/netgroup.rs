//! Project clients as netgroups (`exports.layout: netgroup`): the group of each project, the
//! state of /etc/netgroup and nsswitch.conf, and the check that glibc — what rpc.mountd asks —
//! answers the new membership.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::net::Ipv4Addr;

use anyhow::Result;

use crate::context::Ctx;
use crate::engine::check::{Check, Fields, Verdict};
use crate::engine::plan::{Step, StepState};
use crate::process::{Cmd, Output};
use crate::tools::netgroup::{self, NetgroupFile};
use crate::tools::{exportfs, getent};

/// The netgroup that holds project `name`'s addresses; exports name it as `@project-NAME`.
pub fn group_of(project: &str) -> String {
    format!("project-{project}")
}

/// A project's clients split for the netgroup layout: single IPv4 addresses go into its
/// netgroup (rpc.mountd matches them as text against the client's address); networks and
/// IPv6 addresses stay exports entries of their own.
pub fn split_clients(clients: &[String]) -> (Vec<String>, Vec<String>) {
    clients
        .iter()
        .cloned()
        .partition(|c| c.parse::<Ipv4Addr>().is_ok())
}

/// /etc/netgroup as it is now (empty when absent), or why it cannot be used.
pub fn read_file() -> Result<(NetgroupFile, Option<String>), String> {
    match std::fs::read_to_string(netgroup::NETGROUP) {
        Ok(t) => netgroup::parse(&t).map(|f| (f, Some(t))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((NetgroupFile::default(), None)),
        Err(e) => Err(format!("cannot read {}: {e}", netgroup::NETGROUP)),
    }
}

/// Why glibc would not answer netgroup questions from /etc/netgroup, or None.
pub fn nsswitch_problem() -> Option<String> {
    match std::fs::read_to_string(netgroup::NSSWITCH) {
        Ok(t) => netgroup::nsswitch_problem(&t),
        Err(e) => Some(format!(
            "cannot read {}: {e} (expected `netgroup: files`)",
            netgroup::NSSWITCH
        )),
    }
}

unsafe extern "C" {
    // glibc, <netdb.h>; rpc.mountd's check_netgroup() makes this very call.
    fn innetgr(
        netgroup: *const std::ffi::c_char,
        host: *const std::ffi::c_char,
        user: *const std::ffi::c_char,
        domain: *const std::ffi::c_char,
    ) -> std::ffi::c_int;
}

/// Whether glibc (NSS, as configured) says `host` is in `group`.
pub fn in_group(group: &str, host: &str) -> bool {
    let (Ok(g), Ok(h)) = (CString::new(group), CString::new(host)) else {
        return false;
    };
    // SAFETY: two valid NUL-terminated strings and two NULLs (wildcards), as innetgr(3) takes.
    unsafe { innetgr(g.as_ptr(), h.as_ptr(), std::ptr::null(), std::ptr::null()) == 1 }
}

/// Why some of `joining` (addresses about to join project netgroups) would be refused by
/// rpc.mountd, or None. mountd admits a netgroup member only once the client's address has a
/// host name here: nfs-utils' check_netgroup() starts from the reverse lookup and gives up
/// when there is none, before it ever compares the address itself. So an address without a
/// name would be listed in the project file and in the netgroup, and still refused.
pub fn nameless(ctx: &Ctx, joining: &[&str]) -> Option<String> {
    if joining.is_empty() {
        return None;
    }
    let found = match names_of(ctx, joining) {
        Ok(f) => f,
        Err(e) => {
            return Some(format!(
                "cannot tell whether the addresses joining project netgroups have host names: {e:#}"
            ));
        }
    };
    let missing: Vec<&str> = joining
        .iter()
        .copied()
        .filter(|a| !found.contains(*a))
        .collect();
    (!missing.is_empty()).then(|| {
        let shown: Vec<&str> = missing.iter().copied().take(10).collect();
        format!(
            "{} address(es) joining project netgroups have no host name on this node ({}{}): rpc.mountd admits a netgroup member only when its address resolves to a name (nfs-utils check_netgroup), so it would refuse them; give them PTR records or /etc/hosts lines, or use exports.layout: per-client",
            missing.len(),
            shown.join(", "),
            if missing.len() > shown.len() { ", …" } else { "" }
        )
    })
}

/// Addresses asked for by name are asked at most this many per `getent hosts`, and at most
/// [`AT_ONCE`] of those run side by side (each waits on its resolver, not on a CPU).
const PER_GETENT: usize = 256;
const AT_ONCE: usize = 8;

/// Which of `joining` have a host name here. The listable sources (/etc/hosts) are read once
/// with `getent hosts`; only the addresses not found there are asked for by name (PTR
/// records), in chunks side by side. Asking for all of them one by one reads /etc/hosts once
/// per address: at 50,000 addresses and as many lines, over a minute.
fn names_of(ctx: &Ctx, joining: &[&str]) -> Result<std::collections::BTreeSet<String>> {
    let mut found = getent::parse_hosts(&ctx.runner.run(&getent::hosts_all_cmd())?)?;
    let missing: Vec<&str> = joining
        .iter()
        .copied()
        .filter(|a| !found.contains(*a))
        .collect();
    let cmds: Vec<_> = missing.chunks(PER_GETENT).map(getent::hosts_cmd).collect();
    for wave in cmds.chunks(AT_ONCE) {
        let refs: Vec<_> = wave.iter().collect();
        for out in ctx.runner.run_all(&refs) {
            found.extend(getent::parse_hosts(&out?)?);
        }
    }
    Ok(found)
}

/// The journal field of a step that wrote a membership change into /etc/netgroup. Until the
/// kernel's export caches are flushed, clients keep being admitted or refused by the old
/// membership, and nothing in the files shows that: only the journal does.
pub const WRITTEN: &str = "netgroup_written";

/// How far back the journal is read for a netgroup write that was not flushed.
const JOURNAL_TAIL: u64 = 1 << 20;

/// Why the caches still need a flush: this node's journal has a netgroup write that no flush
/// followed (the run died or failed between the two). Any exportfs run counts as a flush:
/// exportfs flushes the caches as it ends. `None` when the last write was flushed.
pub fn unflushed(ctx: &Ctx) -> Option<String> {
    let records = crate::engine::journal::tail(&ctx.config.paths.journal, JOURNAL_TAIL);
    let done_here = |r: &serde_json::Value| r["node"] == ctx.node.as_str() && r["result"] == "done";
    let written = records
        .iter()
        .rposition(|r| done_here(r) && r[WRITTEN] == true)?;
    let flushed = records[written + 1..]
        .iter()
        .any(|r| done_here(r) && (r["argv"][0] == "exportfs" || r["step"] == EXPIRE_STEP));
    (!flushed).then(|| {
        format!(
            "the netgroup change written at {} was never flushed to the kernel's caches",
            records[written]["time"].as_str().unwrap_or("?")
        )
    })
}

/// The id of the step that expires the changed addresses' cached answers.
pub const EXPIRE_STEP: &str = "netgroup:expire";

/// Above this many changed addresses the kernel's caches are flushed whole: a first sync adds
/// every address, and expiring them one by one would only be slower than a flush.
pub const MAX_EXPIRED: usize = 1024;

/// Whether a plan runs exportfs: every exportfs run flushes the kernel's caches as it ends,
/// after the netgroup file was written, so no cache step is needed beside it.
pub fn runs_exportfs(steps: &[Step<Ctx>]) -> bool {
    steps.iter().any(|s| {
        s.state == StepState::Pending && s.action.argv().first().is_some_and(|a| a == "exportfs")
    })
}

/// The step after /etc/netgroup changed: the kernel still holds rpc.mountd's answers for the
/// old membership. Only the changed addresses' entries are expired (`exports expire-cache`),
/// so every other client keeps its cached answers and feels nothing; `unflushed` (a change
/// an earlier run wrote, whose addresses are no longer known) and very large changes flush
/// everything with `exportfs -f`. Either way glibc is asked afterwards, as mountd will.
pub fn cache_step(m: Membership, unflushed: Option<String>, what: &str) -> Step<Ctx> {
    let mut changed: Vec<String> = m
        .added
        .iter()
        .chain(&m.removed)
        .map(|(_, a)| a.clone())
        .collect();
    changed.sort_unstable();
    changed.dedup();
    let counts = format!(
        "{} address(es) joined and {} left {what}",
        m.added.len(),
        m.removed.len()
    );
    if unflushed.is_some() || changed.len() > MAX_EXPIRED {
        let why = unflushed.unwrap_or_else(|| {
            format!(
                "{counts}: {} addresses, more than {MAX_EXPIRED} to expire one by one",
                changed.len()
            )
        });
        return Step::new(
            "netgroup:flush",
            "flush the kernel's export caches (every client is checked again against the netgroups)",
            exportfs::flush_cmd(),
            m,
        )
        .why(why);
    }
    let mut argv = vec![
        crate::context::self_exe(),
        "exports".into(),
        "expire-cache".into(),
    ];
    argv.extend(changed.iter().cloned());
    Step::new(
        EXPIRE_STEP,
        format!(
            "expire the kernel's cached export answers for the {} changed address(es); other clients keep theirs",
            changed.len()
        ),
        Cmd::change(argv),
        Expired(m),
    )
    .why(counts)
}

/// The check of [`EXPIRE_STEP`]: glibc answers the new membership (as for a flush), and the
/// report says whether the entries were expired one by one or everything had to be flushed.
pub struct Expired(pub Membership);

#[derive(serde::Deserialize)]
struct ExpireReport {
    method: String,
    #[serde(default)]
    expired: BTreeMap<String, u64>,
    why: Option<String>,
}

fn expire_report(out: &Output) -> Result<ExpireReport, String> {
    serde_json::from_str(out.stdout.trim()).map_err(|e| {
        format!(
            "expire-cache printed no report ({e}): {:?}",
            out.stdout.trim()
        )
    })
}

impl Check<Ctx> for Expired {
    fn check(&self, ctx: &Ctx, out: &Output) -> Result<Verdict> {
        if let Err(e) = expire_report(out) {
            return Ok(Err(e));
        }
        self.0.check(ctx, out)
    }

    fn fields(&self, _ctx: &Ctx, out: &Output) -> Fields {
        let mut f = Fields::new();
        if let Ok(r) = expire_report(out) {
            f.insert("cache_method".into(), r.method.into());
            f.insert(
                "cache_entries_expired".into(),
                serde_json::to_value(&r.expired).unwrap_or_default(),
            );
            if let Some(why) = r.why {
                f.insert("cache_why".into(), why.into());
            }
        }
        f
    }

    fn note(&self, out: &Output) -> Option<String> {
        let r = expire_report(out).ok()?;
        let n: u64 = r.expired.values().sum();
        Some(match r.method.as_str() {
            "targeted" => format!("{n} cached entries expired"),
            "flush" => format!(
                "every client's cached answers flushed instead: {}",
                r.why.unwrap_or_default()
            ),
            _ => r.why.unwrap_or_else(|| "nothing cached".into()),
        })
    }
}

/// After a membership change: each added address is in its group and each removed one is not,
/// as glibc answers now. Only the changed members are asked, at most [`MAX_ASKED`] of them.
pub struct Membership {
    pub added: Vec<(String, String)>,
    pub removed: Vec<(String, String)>,
}

impl Membership {
    /// The addresses that join some group, each once.
    pub fn joining(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.added.iter().map(|(_, a)| a.as_str()).collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// What changes from `old` groups to `new` groups.
    pub fn between(
        old: &BTreeMap<String, Vec<String>>,
        new: &BTreeMap<String, Vec<String>>,
    ) -> Membership {
        let mut m = Membership {
            added: Vec::new(),
            removed: Vec::new(),
        };
        let empty = Vec::new();
        for (g, members) in new {
            let was = old.get(g).unwrap_or(&empty);
            m.added.extend(
                members
                    .iter()
                    .filter(|x| !was.contains(x))
                    .map(|x| (g.clone(), x.clone())),
            );
        }
        for (g, members) in old {
            let now = new.get(g).unwrap_or(&empty);
            m.removed.extend(
                members
                    .iter()
                    .filter(|x| !now.contains(x))
                    .map(|x| (g.clone(), x.clone())),
            );
        }
        m
    }

    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

/// At most this many changed members are asked (evenly spread over the change): each call
/// reads /etc/netgroup (about 1 ms at 5,000 groups), and a first sync adds every address.
pub const MAX_ASKED: usize = 256;

/// Every `step`-th item, so that at most `max` are taken, first and last included.
fn spread<T>(v: &[T], max: usize) -> impl Iterator<Item = &T> {
    let step = v.len().div_ceil(max.max(1)).max(1);
    v.iter()
        .enumerate()
        .filter(move |(i, _)| i % step == 0 || *i + 1 == v.len())
        .map(|(_, x)| x)
}

impl Check<Ctx> for Membership {
    fn check(&self, _ctx: &Ctx, _out: &Output) -> Result<Verdict> {
        let total = self.added.len() + self.removed.len();
        let share = |n: usize| (n * MAX_ASKED).div_ceil(total.max(1));
        let mut wrong: Vec<String> = spread(&self.added, share(self.added.len()))
            .filter(|(g, h)| !in_group(g, h))
            .map(|(g, h)| format!("{h} is not in netgroup {g}"))
            .chain(
                spread(&self.removed, share(self.removed.len()))
                    .filter(|(g, h)| in_group(g, h))
                    .map(|(g, h)| format!("{h} is still in netgroup {g}")),
            )
            .collect();
        Ok(if wrong.is_empty() {
            Ok(())
        } else {
            let n = wrong.len();
            wrong.truncate(10);
            Err(format!(
                "{} ({n} wrong, as glibc's innetgr() answers from {})",
                wrong.join("; "),
                netgroup::NETGROUP
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn membership_diff() {
        let g = |v: &[(&str, &[&str])]| -> BTreeMap<String, Vec<String>> {
            v.iter()
                .map(|(k, m)| (k.to_string(), m.iter().map(|s| s.to_string()).collect()))
                .collect()
        };
        let m = Membership::between(
            &g(&[("a", &["1", "2"]), ("gone", &["9"])]),
            &g(&[("a", &["2", "3"]), ("new", &["4"])]),
        );
        let s = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        assert_eq!(m.added, s(&[("a", "3"), ("new", "4")]));
        assert_eq!(m.removed, s(&[("a", "1"), ("gone", "9")]));
    }

    #[test]
    fn large_changes_are_sampled_evenly() {
        let v: Vec<usize> = (0..1000).collect();
        let got: Vec<usize> = spread(&v, 10).copied().collect();
        assert_eq!(got, [0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 999]);
        let small: Vec<usize> = spread(&v[..5], 10).copied().collect();
        assert_eq!(small, [0, 1, 2, 3, 4]);
    }

    #[test]
    fn only_ipv4_addresses_join_the_netgroup() {
        let c: Vec<String> = ["192.0.2.1", "198.51.100.0/24", "2001:db8::1", "192.0.2.2"]
            .map(String::from)
            .into();
        let (hosts, rest) = split_clients(&c);
        assert_eq!(hosts, ["192.0.2.1", "192.0.2.2"]);
        assert_eq!(rest, ["198.51.100.0/24", "2001:db8::1"]);
    }
}
