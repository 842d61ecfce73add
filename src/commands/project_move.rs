//! `nfs-manage project move NAME --to CLUSTER[/VOLUME]`: a project's tree, exports and file
//! moved to another cluster of the fleet, as one plan run on the node serving the project.
//!
//! Steps: rsync passes over the target's `remote.ssh` while the project stays writable (at
//! least two, then more while the last one still moved much, each journaled with rsync's
//! stats), then the pause: the project's source exports re-exported `ro` (that project
//! only), a final pass with `--delete`, the trees
//! compared (file lists and sizes, then checksums of every file a pass after the first
//! touched), the project file written on the target's serving node, `exports sync` run
//! there and its exports checked in the target's etab, the source project file renamed
//! `NAME.yaml.moved` and its exports file removed, its exports withdrawn. The source data is
//! kept. The client's new mount line is printed at the end. A failure after the pause began
//! and before the target served the project re-exports the source read-write (journaled).
//!
//! The target's serving node is found as `where` finds it (see `serving_address`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Result;

use crate::cli::ProjectMoveArgs;
use crate::commands::{client_config, fleet};
use crate::config::fleet::{FleetCluster, Layout};
use crate::context::{Ctx, Plan, Step};
use crate::domain::exports::{ExportsCheck, ExportsGuard};
use crate::domain::projects::{self, Project};
use crate::domain::transfer::{self, Next, Settle};
use crate::engine::check::{Check, Condition, Fields, Guard, Verdict};
use crate::engine::execute::{self, Recovery};
use crate::engine::files::Contents;
use crate::engine::plan::{FileOp, StepState};
use crate::error::Error;
use crate::process::{Cmd, Effect, Output};
use crate::tools::rsync_move::{self, Mode, Remote};
use crate::tools::{exportfs, rsync, ssh};

/// The summaries of the passes run so far, shared by their checks and the pause's guard.
type PassLog = Arc<Mutex<Vec<rsync::Summary>>>;

pub fn run(ctx: &Ctx, args: &ProjectMoveArgs) -> Result<()> {
    let cfg = &ctx.config;
    let name = args.name.as_str();
    super::enable_project::check_project_name(name)?;
    if args.passes < 2 {
        return Err(Error::Usage(format!(
            "--passes {}: a move makes at least 2 passes before the pause",
            args.passes
        ))
        .into());
    }
    if args.max_passes < args.passes {
        return Err(Error::Usage(format!(
            "--max-passes {} is less than --passes {}: the passes run at least --passes times, at most --max-passes",
            args.max_passes, args.passes
        ))
        .into());
    }
    if args.cleanup {
        return cleanup(ctx, name);
    }
    let to = args.to.as_deref().expect("clap: --to unless --cleanup");
    let layout = fleet::load(&ctx.global, &ctx.runner)?;
    let (cluster, volume) = match to.split_once('/') {
        Some((c, v)) => (c, Some(v)),
        None => (to, None),
    };
    let Some(target) = layout.cluster(cluster) else {
        let known: Vec<&str> = layout.clusters.iter().map(|c| c.name.as_str()).collect();
        return Err(Error::Usage(format!(
            "--to {}: {} has no cluster {cluster:?} (clusters: {})",
            to,
            layout.origin,
            crate::config::names_or_none(&known)
        ))
        .into());
    };
    if target.name == cfg.cluster {
        return Err(Error::Usage(format!(
            "--to {}: project {name} is on cluster {} already",
            to, cfg.cluster
        ))
        .into());
    }
    let volume = pick_volume(target, volume, to)?;
    let Some(remote) = target.config.remote.as_ref() else {
        return Err(Error::Config(format!(
            "cluster {} in {} has no remote: (ssh), so its nodes cannot be reached",
            target.name, layout.origin
        ))
        .into());
    };
    let (target_host, found) = serving_address(ctx, &layout, target)?;

    let _lock = ctx.host_lock()?;
    let source_file = projects::project_file(cfg, name);
    let moved_file = source_file.with_extension("yaml.moved");
    let all = projects::load_all(cfg)?;
    let Some(project) = all.get(name).cloned() else {
        if moved_file.exists() {
            return finish_withdrawal(ctx, name, &moved_file);
        }
        return Err(Error::Usage(format!(
            "no project {name:?} on cluster {} (no {})",
            cfg.cluster,
            source_file.display()
        ))
        .into());
    };
    let (here, what) = crate::domain::network::holds_service_ip(ctx)?;
    if !here {
        return Err(Error::Refused(format!(
            "{} does not hold {what}: run project move on the node serving the project; nothing was changed",
            ctx.node
        ))
        .into());
    }

    // The project as the target will have it: same GID, fsid, options and clients.
    let mut spec = project.spec.clone();
    spec.volume = volume.clone();
    spec.fsid = Some(project.fsid);
    let problems = spec.validate(&target.config, Some(name));
    if let Some(p) = problems.first() {
        return Err(Error::Refused(format!(
            "the project cannot live on {}/{volume}: {}: {}; nothing was changed",
            target.name, p.path, p.message
        ))
        .into());
    }
    let target_file = projects::project_file(&target.config, name);
    let moved = spec.project(&target.config, target_file.clone());

    let src = project.export_path.clone();
    let dst = moved.export_path.clone();
    let r = Remote {
        ssh: &remote.ssh,
        user: &remote.user,
        host: &target_host,
    };
    let settle = Settle {
        min_passes: args.passes,
        max_passes: args.max_passes,
        files: args.settle_files,
        bytes: args.settle_bytes,
    };
    let log: PassLog = Arc::default();
    let mut plan = Plan::new("project move");
    plan.notes.push(format!(
        "{}: reached at {target_host}: {found}",
        target.name
    ));
    plan.notes.push(format!(
        "{name}: {}:{} → {}/{volume} {}@{target_host}:{}",
        ctx.node,
        src.display(),
        target.name,
        remote.user,
        dst.display()
    ));

    // 1. The passes, the project still writable: at least `passes`, then more only while the
    // last one still moved much (decided when the run gets there), up to `max_passes`.
    for n in 1..=args.max_passes {
        let step = Step::new(
            format!("pass-{n}"),
            format!("pass {n}: copy {} to {}", src.display(), target.name),
            rsync_move::cmd(&src, Some(r), &dst, Mode::Pass),
            PassCheck {
                log: log.clone(),
                n,
                live: true,
            },
        )
        .ok_rcs(rsync::LIVE_RCS)
        .why("the project stays writable meanwhile")
        .subject(name.to_string());
        plan.steps.push(if n > args.passes {
            step.only_if(
                MorePasses {
                    log: log.clone(),
                    settle,
                },
                format!(
                    "pass {} changed more than {} entries or {}",
                    n - 1,
                    settle.files,
                    indicatif::HumanBytes(settle.bytes)
                ),
            )
        } else {
            step
        });
    }

    // 2. The pause: this project's exports read-only.
    let live: Vec<exportfs::Export> = exportfs::read_etab()?
        .into_iter()
        .filter(|e| e.path == src)
        .collect();
    if live.is_empty() {
        plan.notes.push(format!(
            "{} is not exported here: no client writes to it during the move",
            src.display()
        ));
    } else {
        let ro = exportfs::read_only(&project.options);
        let entries: Vec<(&str, &Path)> = live
            .iter()
            .map(|e| (e.client.as_str(), e.path.as_path()))
            .collect();
        plan.steps.push(
            Step::new(
                "read-only",
                format!(
                    "re-export {} read-only to its {} client(s)",
                    src.display(),
                    live.len()
                ),
                exportfs::export_cmd(&ro, &entries),
                ExportsCheck::Etab {
                    present: live
                        .iter()
                        .map(|e| (e.path.clone(), e.client.clone(), ro.clone()))
                        .collect(),
                    absent: Vec::new(),
                },
            )
            .guard(Settled {
                log: log.clone(),
                settle,
                path: src.clone(),
            })
            .why("the pause starts: clients can read, not write"),
        );
    }

    if !live.is_empty() {
        plan.notes.push(format!(
            "a failure after the read-only step and before the target's exports are checked live re-exports {} read-write (a step of its own, journaled)",
            src.display()
        ));
    }

    // 3. The final pass and the comparisons.
    plan.steps.push(
        Step::new(
            "final-pass",
            "final pass, deleting what the source no longer has",
            rsync_move::cmd(&src, Some(r), &dst, Mode::Final),
            PassCheck {
                log: log.clone(),
                n: args.max_passes + 1,
                live: false,
            },
        )
        .why("nothing writes to the source now"),
    );
    plan.steps.push(Step::new(
        "compare-lists",
        "compare the file lists, sizes and times (rsync --dry-run)",
        rsync_move::cmd(&src, Some(r), &dst, Mode::CompareLists),
        TreesEqual("file lists"),
    ));
    plan.steps.push(
        Step::new(
            "compare-checksums",
            "compare the checksums of every file changed during the move",
            rsync_move::cmd(&src, Some(r), &dst, Mode::CompareChecksums(Path::new("-"))),
            TreesEqual("checksums"),
        )
        .bind(changed_list),
    );

    // 4. The switch: the project on the target, then gone from here.
    let dest = format!("{}@{target_host}", remote.user);
    let yaml = spec.to_yaml();
    plan.steps.push(Step::new(
        "target-project-file",
        format!("write {} on {}", target_file.display(), target.name),
        ssh::remote(
            &remote.ssh,
            &dest,
            &[
                "sh".into(),
                "-c".into(),
                "cat > \"$1.tmp\" && mv \"$1.tmp\" \"$1\"".into(),
                "sh".into(),
                target_file.display().to_string(),
            ],
            Effect::Change,
        )
        .with_stdin(yaml),
        Exited0,
    ));
    let words = vec![
        "nfs-manage".to_string(),
        "--config".into(),
        layout.node_config.display().to_string(),
        "--yes".into(),
        "exports".into(),
        "sync".into(),
    ];
    plan.steps.push(Step::new(
        "target-exports",
        format!("exports sync on {}", target.name),
        ssh::remote(&remote.ssh, &dest, &words, Effect::Change),
        Exited0,
    ));
    let clients: Vec<String> = live.iter().map(|e| e.client.clone()).collect();
    plan.steps.push(Step::new(
        "target-live",
        format!("check {} in {}'s etab", dst.display(), target.name),
        ssh::remote(
            &remote.ssh,
            &dest,
            &["cat".into(), "/var/lib/nfs/etab".into()],
            Effect::Probe,
        ),
        TargetEtab {
            path: dst.clone(),
            clients,
            options: moved.options.clone(),
        },
    ));
    let exports_file = project.exports_file(cfg);
    plan.steps.push(Step::files(
        "source-files",
        format!(
            "rename {} to {} and remove {}",
            source_file.display(),
            moved_file.display(),
            exports_file.display()
        ),
        vec![
            FileOp::Rename {
                from: source_file.clone(),
                to: moved_file.clone(),
            },
            FileOp::Remove(exports_file.clone()),
        ],
        Contents(vec![(source_file.clone(), None), (exports_file, None)]),
    ));
    if !live.is_empty() {
        let entries: Vec<projects::Entry> = live
            .iter()
            .map(|e| projects::Entry {
                path: e.path.clone(),
                client: e.client.clone(),
                options: e.options.clone(),
            })
            .collect();
        plan.steps.push(super::exports::withdraw_step(
            "withdraw",
            format!(
                "withdraw {} from its {} client(s)",
                src.display(),
                live.len()
            ),
            &entries,
        ));
    }

    let recovery = Recovery {
        retry: ctx.self_command(&format!("project move {name} --to {to}")),
        back_out: None,
    };
    if let Err(e) = execute::run(ctx, &mut plan, &recovery) {
        return Err(restore_if_paused(ctx, &plan, &project, &live, e));
    }
    let g = &ctx.global;
    if !g.dry_run && !g.quiet && !g.json {
        let servers = client_config::servers_of(target, &moved);
        let options = client_config::options_of(&layout, &moved);
        outln!(
            "\nClients mount it from {} now:\n  {name} -{} {}:{}\nThe data stays in {} here.",
            target.name,
            options.join(","),
            servers.join(","),
            dst.display(),
            src.display()
        );
    }
    Ok(())
}

/// A failure after the pause began and before the target served the project: the source
/// exports go back to read-write (a plan of its own, journaled), and the error says so.
fn restore_if_paused(
    ctx: &Ctx,
    plan: &Plan,
    project: &Project,
    live: &[exportfs::Export],
    err: anyhow::Error,
) -> anyhow::Error {
    let done = |id: &str| {
        plan.steps
            .iter()
            .any(|s| s.id == id && s.state == StepState::Done)
    };
    if !done("read-only") || done("target-live") {
        return err;
    }
    let entries: Vec<(&str, &Path)> = live
        .iter()
        .map(|e| (e.client.as_str(), e.path.as_path()))
        .collect();
    let mut undo = Plan::new("project move");
    undo.steps.push(
        Step::new(
            "restore-read-write",
            format!(
                "re-export {} read-write to its {} client(s)",
                project.export_path.display(),
                live.len()
            ),
            exportfs::export_cmd(&project.options, &entries),
            ExportsCheck::Etab {
                present: live
                    .iter()
                    .map(|e| (e.path.clone(), e.client.clone(), project.options.clone()))
                    .collect(),
                absent: Vec::new(),
            },
        )
        .why("the move stopped before the target served the project")
        .guard(ExportsGuard::PathsOnMountedVolumes(vec![
            project.export_path.clone(),
        ])),
    );
    // The run's one JSON document is the failed plan's: the restoring plan runs quietly.
    let mut quiet = ctx.global.clone();
    quiet.quiet = quiet.quiet || quiet.json;
    quiet.json = false;
    quiet.yes = true;
    let restored = Ctx::with_config(&quiet, ctx.config.clone()).and_then(|c| {
        execute::run_with(
            &c,
            &mut undo,
            &Recovery {
                retry: ctx.self_command(&format!("project move {}", project.name())),
                back_out: None,
            },
            execute::Policy {
                confirm: false,
                ..Default::default()
            },
            || Ok(()),
        )
    });
    match restored {
        Ok(()) => err.context(format!(
            "the move stopped before the switch; {} is exported read-write again (journaled); a rerun resumes the move",
            project.export_path.display()
        )),
        Err(e2) => err.context(format!(
            "the move stopped before the switch, and restoring {} read-write failed too ({e2:#}): run `{}` for each client",
            project.export_path.display(),
            exportfs::export_cmd(&project.options, &[("CLIENT", project.export_path.as_path())])
        )),
    }
}

/// The target volume: named, or the target cluster's only one.
fn pick_volume(target: &FleetCluster, volume: Option<&str>, to: &str) -> Result<String> {
    let names: Vec<&str> = target
        .config
        .volumes
        .iter()
        .map(|v| v.name.as_str())
        .collect();
    match volume {
        Some(v) if names.contains(&v) => Ok(v.to_string()),
        Some(v) => Err(Error::Usage(format!(
            "--to {to}: cluster {} has no volume {v:?} (volumes: {})",
            target.name,
            crate::config::names_or_none(&names)
        ))
        .into()),
        None if names.len() == 1 => Ok(names[0].to_string()),
        None => Err(Error::Usage(format!(
            "--to {to}: cluster {} has {} volumes; say which: --to {}/VOLUME (volumes: {})",
            target.name,
            names.len(),
            target.name,
            crate::config::names_or_none(&names)
        ))
        .into()),
    }
}

/// The address of the node that serves `c`: its service IP, else its first node.
/// Where the target's serving node is reached, and how that was found: the holder of the
/// cluster lock where the cluster has one (its own address, so ssh meets that node's own host
/// key); else the service IP, which only the serving node holds; else the node whose own
/// `status` says active. Never a guess: not knowing refuses the move.
fn serving_address(ctx: &Ctx, layout: &Layout, c: &FleetCluster) -> Result<(String, String)> {
    if c.config.lock.is_none()
        && let Some(ip) = &c.config.service_ip
    {
        let addr = ip.address.addr().to_string();
        return Ok((addr.clone(), format!("its service IP {addr}")));
    }
    let serving = crate::commands::where_::who_serves(&ctx.runner, layout, c);
    let node = serving
        .node
        .as_deref()
        .and_then(|n| n.split(',').next())
        .and_then(|n| c.config.nodes.get_key_value(n));
    match node {
        Some((name, n)) => Ok((
            n.address.to_string(),
            format!(
                "{name}, serving by its {}",
                if serving.source == "etcd-lock" {
                    "cluster lock"
                } else {
                    "own status"
                }
            ),
        )),
        None => Err(Error::Refused(format!(
            "cannot tell which node of cluster {} serves now ({}); nothing was changed",
            c.name,
            serving
                .detail
                .unwrap_or_else(|| "no node says it is active".into())
        ))
        .into()),
    }
}

/// `--cleanup`: the data a move left here removed, once `exports.keep_moved` has passed
/// since the move (the time of `NAME.yaml.moved`) and nothing here exports it.
fn cleanup(ctx: &Ctx, name: &str) -> Result<()> {
    let cfg = &ctx.config;
    let moved = projects::project_file(cfg, name).with_extension("yaml.moved");
    let meta = match std::fs::metadata(&moved) {
        Ok(m) => m,
        Err(e) => {
            return Err(Error::Usage(format!(
                "project {name} was not moved from cluster {} ({}: {e}); nothing was changed",
                cfg.cluster,
                moved.display()
            ))
            .into());
        }
    };
    let text = std::fs::read_to_string(&moved)?;
    let p: Project = projects::parse_file(cfg, &moved, &text)?;
    let keep = cfg.exports.keep_moved;
    let age = meta.modified()?.elapsed().unwrap_or_default();
    if age < keep {
        let until = meta.modified()? + keep;
        return Err(Error::Refused(format!(
            "project {name} was moved {} ago; its data in {} is kept until {} (exports.keep_moved = {}); nothing was changed",
            humantime::format_duration(std::time::Duration::from_secs(age.as_secs())),
            p.export_path.display(),
            humantime::format_rfc3339_seconds(until),
            humantime::format_duration(keep)
        ))
        .into());
    }
    let exported: Vec<String> = exportfs::read_etab()?
        .into_iter()
        .filter(|e| e.path.starts_with(&p.export_path))
        .map(|e| e.client)
        .collect();
    if !exported.is_empty() {
        return Err(Error::Refused(format!(
            "{} is still exported here (to {}); nothing was changed",
            p.export_path.display(),
            exported.join(", ")
        ))
        .into());
    }
    let _lock = ctx.host_lock()?;
    let dir = p.export_path.clone();
    let mut plan = Plan::new("project move --cleanup");
    let step = Step::new(
        "remove-data",
        format!(
            "remove {} (moved {} ago)",
            dir.display(),
            humantime::format_duration(std::time::Duration::from_secs(age.as_secs()))
        ),
        Cmd::change([
            "rm".to_string(),
            "-rf".into(),
            "--one-file-system".into(),
            "--".into(),
            dir.display().to_string(),
        ]),
        Gone(dir.clone()),
    )
    .guard(ExportsGuard::PathsOnMountedVolumes(vec![dir.clone()]));
    plan.steps.push(if dir.exists() {
        step.why(format!(
            "older than exports.keep_moved ({})",
            humantime::format_duration(keep)
        ))
    } else {
        step.already("gone")
    });
    plan.steps.push(Step::files(
        "moved-file",
        format!("remove {}", moved.display()),
        vec![FileOp::Remove(moved.clone())],
        Contents(vec![(moved.clone(), None)]),
    ));
    execute::run(
        ctx,
        &mut plan,
        &Recovery {
            retry: ctx.self_command(&format!("project move {name} --cleanup")),
            back_out: None,
        },
    )
}

/// The path no longer exists.
struct Gone(PathBuf);

impl Check<Ctx> for Gone {
    fn check(&self, _ctx: &Ctx, _out: &Output) -> Result<Verdict> {
        Ok(if self.0.exists() {
            Err(format!("{} still exists", self.0.display()))
        } else {
            Ok(())
        })
    }
}

/// A rerun after the source files were renamed: only the withdrawal may be left.
fn finish_withdrawal(ctx: &Ctx, name: &str, moved: &Path) -> Result<()> {
    let text = std::fs::read_to_string(moved)?;
    let p: Project = projects::parse_file(&ctx.config, moved, &text)?;
    let live: Vec<projects::Entry> = exportfs::read_etab()?
        .into_iter()
        .filter(|e| e.path == p.export_path)
        .map(|e| projects::Entry {
            path: e.path,
            client: e.client,
            options: e.options,
        })
        .collect();
    let mut plan = Plan::new("project move");
    plan.notes.push(format!(
        "{name} was moved ({} exists): only its exports here may be left",
        moved.display()
    ));
    if !live.is_empty() {
        plan.steps.push(super::exports::withdraw_step(
            "withdraw",
            format!(
                "withdraw {} from {} client(s)",
                p.export_path.display(),
                live.len()
            ),
            &live,
        ));
    }
    execute::run(
        ctx,
        &mut plan,
        &Recovery {
            retry: ctx.self_command(&format!("project move {name}")),
            back_out: None,
        },
    )
}

/// A pass copied the whole tree (rsync's exit code and stats); its summary is kept for the
/// pause's guard and its changed paths for the checksum comparison.
struct PassCheck {
    log: PassLog,
    /// 1 for the first pass; the final pass comes after the others.
    n: usize,
    /// The project is still writable: a file its clients change while rsync reads it is
    /// theirs to change, copied again by the next pass (see `rsync::verify_live`).
    live: bool,
}

impl Check<Ctx> for PassCheck {
    fn check(&self, _ctx: &Ctx, out: &Output) -> Result<Verdict> {
        let v = if self.live {
            rsync::verify_live(out)
        } else {
            rsync::verify(out)
        };
        if v.is_ok() {
            self.log
                .lock()
                .expect("the pass log is never poisoned")
                .push(rsync::parse(&out.stdout));
        }
        Ok(v)
    }

    fn note(&self, out: &Output) -> Option<String> {
        crate::domain::transfer::changed_while_read_note(out, "a later pass copies it again")
    }

    fn fields(&self, _ctx: &Ctx, out: &Output) -> Fields {
        let mut f = Fields::new();
        let s = rsync::parse(&out.stdout);
        if let Ok(v) = serde_json::to_value(&s) {
            f.insert("rsync".into(), v);
        }
        // The first pass copies everything: what changed during the move is what the later
        // ones touched.
        if self.n > 1 {
            let paths = rsync_move::changed_paths(&out.stdout);
            f.insert(format!("changed_paths_{}", self.n), paths.into());
        }
        f
    }
}

/// The checksum comparison reads its file list on stdin: every path a later pass touched.
fn changed_list(cmd: &Cmd, carried: &Fields) -> Option<Cmd> {
    let mut paths: Vec<&str> = carried
        .iter()
        .filter(|(k, _)| k.starts_with("changed_paths_"))
        .filter_map(|(_, v)| v.as_array())
        .flatten()
        .filter_map(|v| v.as_str())
        .collect();
    paths.sort_unstable();
    paths.dedup();
    let mut list = paths.join("\n");
    list.push('\n');
    Some(cmd.clone().with_stdin(list))
}

/// Another pass is needed: the last one still moved too much for a short pause.
struct MorePasses {
    log: PassLog,
    settle: Settle,
}

impl Condition<Ctx> for MorePasses {
    fn skip(&self, _ctx: &Ctx) -> Result<Option<String>> {
        let log = self.log.lock().expect("the pass log is never poisoned");
        Ok(
            match (transfer::next_after(&self.settle, &log), log.last()) {
                (Next::Pause, Some(last)) => Some(format!(
                    "pass {} changed {} entries and {} bytes: small enough for the pause",
                    log.len(),
                    last.changes,
                    last.stats.transferred_size.unwrap_or(0)
                )),
                _ => None,
            },
        )
    }
}

/// The last pass moved little enough for a short pause.
struct Settled {
    log: PassLog,
    settle: Settle,
    /// The export re-exported read-only: never re-exported off its mounted volume.
    path: PathBuf,
}

impl Guard<Ctx> for Settled {
    fn check(&self, ctx: &Ctx) -> Result<Verdict> {
        let mounted = ExportsGuard::PathsOnMountedVolumes(vec![self.path.clone()]);
        if let Err(why) = mounted.check(ctx)? {
            return Ok(Err(why));
        }
        let log = self.log.lock().expect("the pass log is never poisoned");
        Ok(match transfer::next_after(&self.settle, &log) {
            Next::Pause => Ok(()),
            Next::Pass => Err("the passes have not run".into()),
            Next::Unsettled(why) => Err(format!(
                "{why}; the project stays writable: run again (each pass copies only what changed), or raise --max-passes or --settle-files/--settle-bytes"
            )),
        })
    }
}

/// A comparison dry run listed nothing.
struct TreesEqual(&'static str);

impl Check<Ctx> for TreesEqual {
    fn check(&self, _ctx: &Ctx, out: &Output) -> Result<Verdict> {
        if out.rc != Some(0) {
            return Ok(Err(format!("rsync {}", out.ending())));
        }
        let d = rsync_move::differences(&out.stdout);
        Ok(if d.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "the {} differ in {} entries: {}",
                self.0,
                d.len(),
                d.iter().take(10).cloned().collect::<Vec<_>>().join("; ")
            ))
        })
    }
}

struct Exited0;

impl Check<Ctx> for Exited0 {
    fn check(&self, _ctx: &Ctx, out: &Output) -> Result<Verdict> {
        Ok(if out.rc == Some(0) {
            Ok(())
        } else {
            Err(format!("{}: {}", out.ending(), out.complaint()))
        })
    }
}

/// The target's etab (read over ssh) has the project's path for every client, with the
/// project's options.
struct TargetEtab {
    path: PathBuf,
    clients: Vec<String>,
    options: String,
}

impl Check<Ctx> for TargetEtab {
    fn check(&self, _ctx: &Ctx, out: &Output) -> Result<Verdict> {
        if out.rc != Some(0) {
            return Ok(Err(format!("reading etab: {}", out.ending())));
        }
        let etab = exportfs::parse_etab(&out.stdout)?;
        let missing: Vec<&str> = self
            .clients
            .iter()
            .filter(|c| {
                !etab.iter().any(|e| {
                    e.path == self.path
                        && &e.client == *c
                        && exportfs::options_match(&self.options, &e.options)
                })
            })
            .map(String::as_str)
            .collect();
        Ok(if missing.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{} is not exported there to {} with {}",
                self.path.display(),
                missing.join(", "),
                self.options
            ))
        })
    }
}
