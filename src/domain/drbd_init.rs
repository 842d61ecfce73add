//! DRBD bring-up from blank disks (`volume init`): what the backing disk holds, and the checks
//! that verify each step on live state — meta-data readable, disk attached, Primary with
//! UpToDate data, a sync started or finished — never on drbdadm's exit code alone.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};

use crate::context::Ctx;
use crate::domain::facts::probe_drbd;
use crate::engine::check::{Check, Guard, Verdict};
use crate::process::Output;
use crate::tools::{blkid, drbd};

/// How often a wait probes DRBD's state.
const POLL: Duration = Duration::from_millis(500);
/// Off a terminal, a waiting sync says how far it is once a minute.
const LOG_EVERY: Duration = Duration::from_secs(60);

/// What a device holds, by blkid (None: no signature; exit 2).
pub fn probe_blkid(ctx: &Ctx, dev: &str) -> Result<Option<blkid::Found>> {
    blkid::parse(&ctx.runner.run(&blkid::probe_cmd(dev))?)
}

/// The meta-data's generation identifiers, or None where there is no valid meta-data.
pub fn probe_gi(ctx: &Ctx, resource: &str) -> Result<Option<drbd::Gi>> {
    let out = ctx.runner.run(&drbd::get_gi_cmd(
        ctx.config.drbd_config.as_deref(),
        resource,
    ))?;
    Ok(if out.success() {
        drbd::parse_gi(&out.stdout)
    } else {
        None
    })
}

fn find(all: &[drbd::Resource], name: &str) -> Option<drbd::Resource> {
    all.iter().find(|r| r.name == name).cloned()
}

/// The local disk state of a resource that is up (its first volume's).
pub fn local_disk(r: &drbd::Resource) -> &str {
    r.devices.first().map_or("Diskless", |d| d.disk.as_str())
}

/// The peer's connection, and its first peer device (replication, disk, progress).
pub fn peer_view(r: &drbd::Resource) -> Option<(&drbd::Connection, Option<&drbd::PeerDevice>)> {
    r.connections.first().map(|c| (c, c.peer_devices.first()))
}

/// In words: `Secondary Inconsistent, peer Connected Secondary Inconsistent`.
pub fn describe(r: &drbd::Resource) -> String {
    let mut s = format!("{} {}", r.role, local_disk(r));
    match peer_view(r) {
        Some((c, pd)) => {
            s.push_str(&format!(", peer {} {}", c.connection, c.peer_role));
            if let Some(pd) = pd {
                if pd.replication != "Established" && pd.replication != "Off" {
                    s.push_str(&format!(" {}", pd.replication));
                }
                s.push_str(&format!(" {}", pd.peer_disk));
                if let Some(d) = pd.done {
                    s.push_str(&format!(" ({d:.1}% synced)"));
                }
            }
        }
        None => s.push_str(", no peer"),
    }
    s
}

fn in_sync(r: &drbd::Resource) -> bool {
    local_disk(r) == "UpToDate"
        && peer_view(r).is_some_and(|(c, pd)| {
            c.connection == "Connected" && pd.is_some_and(|p| p.peer_disk == "UpToDate")
        })
}

pub enum InitCheck {
    /// Valid DRBD meta-data on the backing disk (`drbdadm get-gi` answers).
    Metadata(String),
    /// No signature left on the device.
    Blank(String),
    /// The resource is up with its disk attached.
    Attached(String),
    /// This node is Primary with UpToDate data.
    PrimaryUpToDate(String),
    /// A filesystem of this type on the device.
    Filesystem { dev: String, fstype: String },
    /// Polls until the condition holds, for at most `limit`.
    Wait(Wait),
}

#[derive(Clone)]
pub struct Wait {
    pub resource: String,
    pub until: Until,
    pub limit: Option<Duration>,
    /// Show the sync's progress (a bar on a terminal, a line a minute off one).
    pub progress: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// Connected and receiving the peer's data (SyncTarget), or already UpToDate.
    SyncStarted,
    /// UpToDate here and at the peer.
    InSync,
}

impl Check<Ctx> for InitCheck {
    fn check(&self, ctx: &Ctx, _out: &Output) -> Result<Verdict> {
        Ok(match self {
            InitCheck::Metadata(res) => match probe_gi(ctx, res)? {
                Some(_) => Ok(()),
                None => Err(format!(
                    "`drbdadm get-gi {res}` finds no valid meta-data afterwards"
                )),
            },
            InitCheck::Blank(dev) => match probe_blkid(ctx, dev)? {
                None => Ok(()),
                Some(f) => Err(format!("{dev} still holds {}", f.describe())),
            },
            InitCheck::Attached(res) => match find(&probe_drbd(ctx)?, res) {
                Some(r) if local_disk(&r) != "Diskless" => Ok(()),
                Some(r) => Err(format!(
                    "DRBD {res} is up but its disk is {}",
                    local_disk(&r)
                )),
                None => Err(format!("DRBD resource {res} is still not configured")),
            },
            InitCheck::PrimaryUpToDate(res) => match find(&probe_drbd(ctx)?, res) {
                Some(r) if r.role == "Primary" && local_disk(&r) == "UpToDate" => Ok(()),
                Some(r) => Err(format!(
                    "DRBD {res} is {}, expected Primary UpToDate",
                    describe(&r)
                )),
                None => Err(format!("DRBD resource {res} is not configured")),
            },
            InitCheck::Filesystem { dev, fstype } => match probe_blkid(ctx, dev)? {
                Some(f) if f.kind() == Some(fstype.as_str()) => Ok(()),
                Some(f) => Err(format!("{dev} holds {}, expected {fstype}", f.describe())),
                None => Err(format!("blkid finds no filesystem on {dev}")),
            },
            InitCheck::Wait(w) => w.run(ctx)?,
        })
    }
}

impl Wait {
    fn holds(&self, r: &drbd::Resource) -> bool {
        match self.until {
            Until::InSync => in_sync(r),
            Until::SyncStarted => {
                in_sync(r)
                    || peer_view(r).is_some_and(|(c, pd)| {
                        c.connection == "Connected"
                            && pd.is_some_and(|p| drbd::is_syncing(&p.replication))
                    })
            }
        }
    }

    fn run(&self, ctx: &Ctx) -> Result<Verdict> {
        let res = &self.resource;
        let start = Instant::now();
        let tty = self.progress && std::io::stderr().is_terminal() && !ctx.global.quiet;
        let bar = tty.then(|| {
            let pb = ProgressBar::new(10_000);
            pb.set_style(
                ProgressStyle::with_template(
                    "  sync {msg} [{wide_bar}] {percent:>3}% {per_sec} eta {eta}",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            );
            pb
        });
        let mut last_line: Option<Instant> = None;
        let mut last_oos: Option<(Instant, u64)> = None;
        loop {
            let now = probe_drbd(ctx)?;
            let r = find(&now, res);
            if let Some(r) = &r
                && self.holds(r)
            {
                if let Some(pb) = &bar {
                    pb.finish_and_clear();
                }
                if self.progress && self.until == Until::InSync && !ctx.global.quiet && !tty {
                    crate::errln!("DRBD {res}: in sync ({})", describe(r));
                }
                return Ok(Ok(()));
            }
            let pd = r.as_ref().and_then(|r| peer_view(r)).and_then(|(_, pd)| pd);
            let done = pd.and_then(|p| p.done);
            if let Some(sig) = crate::engine::signals::received() {
                if let Some(pb) = &bar {
                    pb.abandon();
                }
                let what = match done {
                    Some(d) => format!("DRBD {res} goes on syncing in the kernel ({d:.1}% done)"),
                    None => format!("DRBD {res} is left as it is"),
                };
                crate::errln!(
                    "nfs-manage: stopped waiting ({}): {what}; `nfs-manage status` shows its progress",
                    crate::engine::signals::name(sig)
                );
                return Ok(Err(format!("stopped waiting: {what}")));
            }
            if let Some(limit) = self.limit
                && start.elapsed() >= limit
            {
                if let Some(pb) = &bar {
                    pb.abandon();
                }
                let state = r.as_ref().map_or("not configured".to_string(), describe);
                let want = match self.until {
                    Until::InSync => "UpToDate on both nodes",
                    Until::SyncStarted => "Connected and syncing from the peer",
                };
                return Ok(Err(format!(
                    "DRBD {res} is {state} after {}, not {want}",
                    humantime::format_duration(limit)
                )));
            }
            if self.progress
                && let Some(d) = done
            {
                // A rate where DRBD says how much is left (KiB out of sync), else percent.
                let rate = pd.and_then(|p| p.out_of_sync_kib).and_then(|oos| {
                    let t = Instant::now();
                    let r = last_oos.and_then(|(t0, o0)| {
                        let secs = t.duration_since(t0).as_secs_f64();
                        (secs > 0.0 && o0 >= oos).then(|| (o0 - oos) as f64 / secs)
                    });
                    last_oos = Some((t, oos));
                    r
                });
                let rate = rate.map(|kib| format!("{:.1} MiB/s", kib / 1024.0));
                match &bar {
                    Some(pb) => {
                        pb.set_position((d * 100.0) as u64);
                        pb.set_message(format!("{res} {}", rate.unwrap_or_default()));
                    }
                    None => {
                        if last_line.is_none_or(|t| t.elapsed() >= LOG_EVERY) {
                            last_line = Some(Instant::now());
                            if !ctx.global.quiet {
                                crate::errln!(
                                    "DRBD {res}: {d:.1}% synced{}",
                                    rate.map(|r| format!(", {r}")).unwrap_or_default()
                                );
                            }
                        }
                    }
                }
            }
            std::thread::sleep(POLL);
        }
    }
}

pub enum InitGuard {
    /// Nothing on the device: mkfs never overwrites a filesystem.
    NoFilesystem(String),
    /// Both nodes blank, Connected and Secondary, before skipping the initial sync; waits up
    /// to `limit` for the connection.
    BlankPair { resource: String, limit: Duration },
    /// No connected peer holds UpToDate data: `--first` would start a second data history.
    PeerHasNoData(String),
}

impl Guard<Ctx> for InitGuard {
    fn check(&self, ctx: &Ctx) -> Result<Verdict> {
        Ok(match self {
            InitGuard::NoFilesystem(dev) => match probe_blkid(ctx, dev)? {
                None => Ok(()),
                Some(f) => Err(format!(
                    "{dev} already holds {}: mkfs would destroy it",
                    f.describe()
                )),
            },
            InitGuard::PeerHasNoData(res) => match find(&probe_drbd(ctx)?, res) {
                Some(r) => match peer_view(&r) {
                    Some((c, Some(pd)))
                        if c.connection == "Connected" && pd.peer_disk == "UpToDate" =>
                    {
                        Err(format!(
                            "peer {} is Connected with UpToDate data for DRBD {res}: this node must join it (`volume init --join`), not start a second copy",
                            c.name
                        ))
                    }
                    _ => Ok(()),
                },
                None => Err(format!("DRBD resource {res} is not configured")),
            },
            InitGuard::BlankPair { resource, limit } => {
                let start = Instant::now();
                loop {
                    let r = find(&probe_drbd(ctx)?, resource);
                    let ready = r.as_ref().and_then(|r| {
                        let (c, pd) = peer_view(r)?;
                        (c.connection == "Connected").then_some((r, c, pd?))
                    });
                    if let Some((r, c, pd)) = ready {
                        let blank = r.role == "Secondary"
                            && c.peer_role == "Secondary"
                            && local_disk(r) == "Inconsistent"
                            && pd.peer_disk == "Inconsistent"
                            && !drbd::is_syncing(&pd.replication);
                        break if blank {
                            Ok(())
                        } else {
                            Err(format!(
                                "DRBD {resource} is {}: skipping the initial sync needs both nodes Secondary and Inconsistent (freshly created meta-data), Connected",
                                describe(r)
                            ))
                        };
                    }
                    if crate::engine::signals::received().is_some() || start.elapsed() >= *limit {
                        let state = r.as_ref().map_or("not configured".into(), describe);
                        break Err(format!(
                            "DRBD {resource} is not Connected after {} ({state}): skipping the initial sync needs the peer up; run `nfs-manage volume init … --skip-initial-sync` on the peer, then rerun this",
                            humantime::format_duration(*limit)
                        ));
                    }
                    std::thread::sleep(POLL);
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REAL: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/real/6.1.0-56-amd64_drbd-utils-9.22.0"
    );

    fn proc(name: &str) -> drbd::Resource {
        let t = std::fs::read_to_string(format!("{REAL}/proc-drbd.{name}.txt")).unwrap();
        drbd::parse_proc_drbd(&t).unwrap().remove(0)
    }

    #[test]
    fn states_of_a_bring_up_in_words_and_conditions() {
        let blank = proc("connected-inconsistent.nfs1");
        assert_eq!(
            describe(&blank),
            "Secondary Inconsistent, peer Connected Secondary Inconsistent"
        );
        assert!(!in_sync(&blank));
        let w = |until| Wait {
            resource: "x".into(),
            until,
            limit: None,
            progress: false,
        };
        let syncing = proc("resync.nfs2");
        assert!(w(Until::SyncStarted).holds(&syncing));
        assert!(!w(Until::InSync).holds(&syncing));
        assert!(describe(&syncing).contains("SyncTarget UpToDate (9.4% synced)"));
        let done = proc("connected-uptodate.nfs2");
        assert!(w(Until::InSync).holds(&done));
        let alone = proc("wfconnection-inconsistent.nfs1");
        assert!(!w(Until::SyncStarted).holds(&alone));
    }
}
