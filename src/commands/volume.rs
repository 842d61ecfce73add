//! `nfs-manage volume init NAME`: DRBD bring-up from blank disks, as verified steps.
//!
//! create-md → up → one of: `--first` (this node alone: `primary --force`, UpToDate at once),
//! `--skip-initial-sync` (both nodes blank: the node named first in the DRBD config runs
//! `new-current-uuid --clear-bitmap` once both are Connected; the other waits for it),
//! `--join` (receive the Primary's data as SyncTarget; `--wait` until UpToDate) → `--mkfs`.
//!
//! A backing disk that holds a filesystem or DRBD meta-data is refused unless `--force`, with
//! what blkid and `drbdadm get-gi` found. Meta-data that an earlier `volume init` of this node
//! wrote to this disk (its journal says so) is ours: a rerun skips create-md instead of
//! refusing, so an interrupted bring-up converges by running it again.

use anyhow::Result;

use crate::cli::VolumeInitArgs;
use crate::context::{Ctx, Plan, Step};
use crate::domain::drbd_init::{
    InitCheck, InitGuard, Until, Wait, describe, local_disk, peer_view, probe_blkid, probe_gi,
};
use crate::domain::facts::{PROC_DRBD, probe_drbd};
use crate::engine::execute::{self, Recovery};
use crate::error::Error;
use crate::tools::{blkid, drbd, mkfs};

/// How far back the journal is read for this node's earlier create-md.
const JOURNAL_TAIL: u64 = 4 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    First,
    SkipSync,
    Join,
}

pub fn init(ctx: &Ctx, args: &VolumeInitArgs) -> Result<()> {
    let _lock = ctx.host_lock()?;
    let (mut plan, refusals, res) = plan(ctx, args)?;
    if !refusals.is_empty() {
        return execute::refuse(ctx, &plan, &refusals);
    }
    let recovery = Recovery {
        retry: ctx.self_command(&retry_args(args)),
        back_out: Some(format!(
            "drbdadm {}down {res} (the resource stops; its meta-data stays)",
            ctx.config
                .drbd_config
                .as_ref()
                .map(|c| format!("-c {} ", c.display()))
                .unwrap_or_default()
        )),
    };
    execute::run(ctx, &mut plan, &recovery)
}

fn mode(args: &VolumeInitArgs) -> Mode {
    if args.first {
        Mode::First
    } else if args.skip_initial_sync {
        Mode::SkipSync
    } else {
        Mode::Join
    }
}

fn retry_args(args: &VolumeInitArgs) -> String {
    let mut s = format!("volume init {}", args.name);
    s.push_str(match mode(args) {
        Mode::First => " --first",
        Mode::SkipSync => " --skip-initial-sync",
        Mode::Join => " --join",
    });
    if args.wait {
        s.push_str(" --wait");
    }
    if let Some(fs) = &args.mkfs {
        s.push_str(&format!(" --mkfs {fs}"));
    }
    s
}

/// The kernel's DRBD: /proc/drbd where the module is loaded, else `drbdadm --version`.
fn version(ctx: &Ctx) -> Result<drbd::Version> {
    let proc_drbd = std::fs::read_to_string(PROC_DRBD).ok();
    if proc_drbd.is_some() {
        return Ok(drbd::parse_version(proc_drbd.as_deref(), ""));
    }
    let out = ctx.runner.run(&drbd::version_cmd())?;
    Ok(drbd::parse_version(None, &out.stdout))
}

/// The time of this node's earlier, successful create-md of `res` on `disk`, by the journal.
fn our_create_md(ctx: &Ctx, res: &str, disk: &str) -> Option<String> {
    let records = crate::engine::journal::tail(&ctx.config.paths.journal, JOURNAL_TAIL);
    records
        .iter()
        .rev()
        .find(|r| {
            r["node"] == ctx.node.as_str()
                && r["command"] == "volume init"
                && r["step"] == format!("create-md:{res}").as_str()
                && r["result"] == "done"
                && r["disk"] == disk
        })
        .map(|r| r["time"].as_str().unwrap_or("?").to_string())
}

/// This node's earlier, successful mkfs of the volume, by the journal.
fn our_mkfs(ctx: &Ctx, volume: &str) -> bool {
    let records = crate::engine::journal::tail(&ctx.config.paths.journal, JOURNAL_TAIL);
    records.iter().any(|r| {
        r["node"] == ctx.node.as_str()
            && r["command"] == "volume init"
            && r["step"] == format!("mkfs:{volume}").as_str()
            && r["result"] == "done"
    })
}

pub fn plan(ctx: &Ctx, args: &VolumeInitArgs) -> Result<(Plan, Vec<String>, String)> {
    let cfg = &ctx.config;
    let conf = cfg.drbd_config.as_deref();
    let names = || {
        cfg.volumes
            .iter()
            .map(|v| v.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let v = cfg
        .volumes
        .iter()
        .find(|v| v.name == args.name)
        .ok_or_else(|| {
            Error::Usage(format!(
                "no volume named {:?} in {}; the volumes are: {}",
                args.name,
                ctx.config_path.display(),
                names()
            ))
        })?;
    let res = v.drbd.clone().ok_or_else(|| {
        Error::Usage(format!(
            "volume {} has no `drbd:` resource in {}: there is no DRBD to initialize",
            v.name,
            ctx.config_path.display()
        ))
    })?;
    if let Some(fs) = &args.mkfs {
        if !mkfs::SUPPORTED.contains(&fs.as_str()) {
            return Err(Error::Usage(format!(
                "--mkfs {fs}: expected one of {}",
                mkfs::SUPPORTED.join(", ")
            ))
            .into());
        }
        if *fs != v.fstype {
            return Err(Error::Usage(format!(
                "--mkfs {fs}, but volume {} is mounted as {} (its `fstype:`): the filesystem would not mount",
                v.name, v.fstype
            ))
            .into());
        }
    }
    let mode = mode(args);

    // The backing disk, as drbdadm reads the DRBD configuration.
    let dump_out = ctx.runner.probe_ok(&drbd::dump_cmd(conf))?;
    let dump = drbd::parse_dump(&dump_out.stdout)?;
    let dres = dump.iter().find(|r| r.name == res).ok_or_else(|| {
        Error::Config(format!(
            "DRBD resource {res} (volume {}) is not in drbdadm's configuration",
            v.name
        ))
    })?;
    let disk = dres
        .disk_of(&ctx.node)
        .and_then(|d| d.disk.clone())
        .ok_or_else(|| {
            Error::Config(format!(
                "DRBD resource {res} has no `disk` for host {} in drbdadm's configuration",
                ctx.node
            ))
        })?;
    let version = version(ctx)?;
    let all = probe_drbd(ctx)?;
    let r = all.iter().find(|r| r.name == res);
    let attached = r.is_some_and(|r| local_disk(r) != "Diskless");

    let mut p = Plan::new("volume init");
    let mut refusals = Vec::new();
    p.notes.push(format!(
        "DRBD {}; backing disk {disk} ({} meta-data)",
        match version {
            drbd::Version::V84 => "8.4",
            drbd::Version::V9 => "9",
        },
        dres.disk_of(&ctx.node)
            .and_then(|d| d.meta_disk.as_deref())
            .unwrap_or("internal")
    ));
    if let Some(r) = r {
        p.notes.push(format!("DRBD {res} now: {}", describe(r)));
    }

    // 1. Meta-data, on a disk that holds nothing (or that --force lets us overwrite).
    let create = |force: bool| {
        Step::new(
            format!("create-md:{res}"),
            format!("create DRBD meta-data for {res} on {disk}"),
            drbd::create_md_cmd(conf, &res, force),
            InitCheck::Metadata(res.clone()),
        )
        .field("disk", disk.clone())
    };
    let up = Step::new(
        format!("drbd-up:{res}"),
        format!("bring up DRBD resource {res}"),
        drbd::up_cmd(conf, &res),
        InitCheck::Attached(res.clone()),
    );
    if attached {
        p.steps
            .push(create(false).already(format!("{res} is up with {disk} attached")));
        p.steps.push(up.already("up, disk attached"));
    } else {
        let found = probe_blkid(ctx, &disk)?;
        let gi = probe_gi(ctx, &res)?;
        let fs = found.as_ref().filter(|f| f.kind() != Some("drbd"));
        let has_md = gi.is_some() || found.as_ref().is_some_and(|f| f.kind() == Some("drbd"));
        let ours = if fs.is_none() && has_md {
            our_create_md(ctx, &res, &disk)
        } else {
            None
        };
        if let Some(f) = fs {
            if args.force {
                p.steps.push(
                    Step::new(
                        format!("wipe:{res}"),
                        format!("erase the signatures on {disk}"),
                        blkid::wipe_cmd(&disk),
                        InitCheck::Blank(disk.clone()),
                    )
                    .why(format!(
                        "--force: {disk} holds {}; drbdmeta will not write over a filesystem",
                        f.describe()
                    )),
                );
            } else {
                refusals.push(format!(
                    "{disk}, the backing disk of DRBD {res} on {}, holds {} (blkid): initializing it would destroy that; pass --force if it is to be overwritten",
                    ctx.node,
                    f.describe()
                ));
            }
        }
        if let Some(when) = &ours {
            p.steps.push(create(false).already(format!(
                "meta-data written by this node's `volume init` at {when}{}",
                gi.as_ref()
                    .map(|g| format!(" ({})", g.describe()))
                    .unwrap_or_default()
            )));
        } else if has_md {
            let what = gi
                .as_ref()
                .map_or("DRBD meta-data (blkid TYPE=drbd)".to_string(), |g| {
                    format!("valid DRBD meta-data (drbdadm get-gi: {})", g.describe())
                });
            if args.force {
                p.steps.push(
                    create(true).why(format!("--force: {disk} holds {what}; it is overwritten")),
                );
            } else {
                refusals.push(format!(
                    "{disk}, the backing disk of DRBD {res} on {}, holds {what} that this node's `volume init` did not write: it may be another node's data; pass --force to overwrite it",
                    ctx.node
                ));
            }
        } else {
            p.steps
                .push(create(args.force && fs.is_some()).why(if fs.is_some() {
                    "after the wipe".to_string()
                } else {
                    format!("{disk} holds no filesystem and no DRBD meta-data")
                }));
        }
        p.steps.push(up.why("not up on this node"));
    }

    // 2. The data: first leg, both blank, or joining a Primary.
    let connect_limit = args.connect_timeout;
    let peer_uptodate = r.and_then(peer_view).is_some_and(|(c, pd)| {
        c.connection == "Connected" && pd.is_some_and(|p| p.peer_disk == "UpToDate")
    });
    let in_sync = r.is_some_and(|r| local_disk(r) == "UpToDate") && peer_uptodate;
    let wait = |until, limit, progress| {
        InitCheck::Wait(Wait {
            resource: res.clone(),
            until,
            limit,
            progress,
        })
    };
    let status = drbd::status_cmd(conf);
    match mode {
        Mode::First => {
            let step = Step::new(
                format!("first:{res}"),
                format!("make {res} UpToDate here as the first leg"),
                drbd::primary_first_cmd(conf, &res),
                InitCheck::PrimaryUpToDate(res.clone()),
            );
            match r {
                Some(r) if r.role == "Primary" && local_disk(r) == "UpToDate" => {
                    p.steps.push(step.already("Primary, UpToDate"))
                }
                _ if peer_uptodate => refusals.push(format!(
                    "the peer holds UpToDate data for DRBD {res}: this node must join it (`volume init {} --join`)",
                    v.name
                )),
                _ => p.steps.push(
                    step.why("no peer has data yet: this disk's becomes the data")
                        .guard(InitGuard::PeerHasNoData(res.clone())),
                ),
            }
        }
        Mode::SkipSync => {
            if let Some(r) = r.filter(|r| r.role == "Primary") {
                refusals.push(format!(
                    "DRBD {res} is {} on this node: --skip-initial-sync is for two blank Secondaries",
                    describe(r)
                ));
            }
            // Exactly one node clears the bitmap: the first host of the DRBD configuration.
            let leader = dres.hosts.first().cloned().unwrap_or_default();
            if in_sync {
                p.steps.push(
                    Step::new(
                        format!("skip-sync:{res}"),
                        "declare both disks in sync".to_string(),
                        drbd::new_current_uuid_cmd(conf, &res, version),
                        wait(Until::InSync, Some(connect_limit), false),
                    )
                    .already("UpToDate on both nodes"),
                );
            } else if leader == ctx.node {
                p.steps.push(
                    Step::new(
                        format!("skip-sync:{res}"),
                        "declare both blank disks in sync (no initial sync)".to_string(),
                        drbd::new_current_uuid_cmd(conf, &res, version),
                        wait(Until::InSync, Some(connect_limit), false),
                    )
                    .why("both nodes blank; this node is the first host of the DRBD config")
                    .guard(InitGuard::BlankPair {
                        resource: res.clone(),
                        limit: connect_limit,
                    }),
                );
            } else {
                p.steps.push(
                    Step::new(
                        format!("skip-sync:{res}"),
                        format!("wait for {leader} to declare both disks in sync"),
                        status.clone(),
                        wait(Until::InSync, Some(connect_limit), false),
                    )
                    .why(format!(
                        "{leader}, the first host of the DRBD config, runs new-current-uuid"
                    )),
                );
            }
        }
        Mode::Join => {
            if let Some(r) = r.filter(|r| r.role == "Primary") {
                refusals.push(format!(
                    "DRBD {res} is {} on this node: --join is for the node that receives the Primary's data",
                    describe(r)
                ));
            }
            let step = Step::new(
                format!("sync:{res}"),
                if args.wait {
                    format!("receive {res}'s data from the peer until UpToDate")
                } else {
                    format!("start receiving {res}'s data from the peer")
                },
                status.clone(),
                if args.wait {
                    wait(Until::InSync, args.wait_limit, true)
                } else {
                    wait(Until::SyncStarted, Some(connect_limit), false)
                },
            );
            p.steps.push(if in_sync {
                step.already("UpToDate on both nodes")
            } else {
                step.why("a full sync as SyncTarget")
            });
        }
    }

    // 3. A filesystem, on the Primary only.
    if let Some(fstype) = &args.mkfs {
        let dev = v.device.display().to_string();
        if mode != Mode::First {
            refusals.push(format!(
                "--mkfs needs this node Primary, and --{} leaves it Secondary: make the filesystem on the node initialized with --first",
                if mode == Mode::Join {
                    "join"
                } else {
                    "skip-initial-sync"
                }
            ));
        } else {
            let cmd = mkfs::mkfs_cmd(fstype, &dev, &v.name).expect("checked above");
            let step = Step::new(
                format!("mkfs:{}", v.name),
                format!("make an {fstype} filesystem on {dev}"),
                cmd,
                InitCheck::Filesystem {
                    dev: dev.clone(),
                    fstype: fstype.clone(),
                },
            );
            // Where the device exists (a rerun) its content is known now.
            let now = if r.is_some_and(|r| r.role == "Primary") {
                probe_blkid(ctx, &dev)?
            } else {
                None
            };
            match now {
                Some(f) if f.kind() == Some(fstype.as_str()) && our_mkfs(ctx, &v.name) => {
                    p.steps.push(step.already(format!(
                        "{} made by this node's `volume init`",
                        f.describe()
                    )))
                }
                Some(f) => refusals.push(format!(
                    "{dev} already holds {}: --mkfs never overwrites a filesystem",
                    f.describe()
                )),
                None => p.steps.push(
                    step.why("Primary; no filesystem on the device")
                        .guard(InitGuard::NoFilesystem(dev.clone())),
                ),
            }
        }
    }
    Ok((p, refusals, res))
}
