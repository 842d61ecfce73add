//! `nfs-manage exports sync` (the nfs-exportd replacement) and `nfs-manage exports import`.
//!
//! sync: on the node that holds the service IP only (elsewhere it says so and exits 0), render
//! one exports file per project plus `public.exports` into `exports_dir`, then apply only what
//! changed: `exportfs -u` when entries are only withdrawn, `exportfs -i -o OPTS client:path …`
//! when entries of one option set are only added or changed, and a single `exportfs -ra` when
//! more than one exportfs run would be needed (each run of exportfs reloads the whole etab, so a
//! second run costs more than one `-ra`). Nothing to change runs no exportfs at all. Every
//! change is verified against /var/lib/nfs/etab.
//!
//! It is built to be safe when a source fails — the old daemon's worst day was an API that
//! answered 401, every project looking empty, and every export deleted:
//! - a `clients_command` that fails, times out or prints something other than a JSON list of
//!   addresses leaves that project's file and live exports exactly as they are; the others
//!   proceed and the run exits 3 naming the project;
//! - refused outright, nothing changed (exit 3): removing more than
//!   `exports.max_shrink_percent` of the client entries (unless `--force`), an empty result
//!   while something is exported, duplicate GIDs (or export paths, or fsids), an export path
//!   that is not on a mounted volume;
//! - files are written atomically (temp + rename) and the previous managed set is copied to
//!   `exports.backup` first; stray files in `exports_dir` are reported, never touched.
//!
//! In a dry run no `clients_command` is run (it may reach the network): the plan uses the
//! clients in the project's current exports file and says so.
//!
//! Project files that did not change since the last sync are taken from the project cache
//! (`paths.state/projects.cache`, see [`crate::domain::project_cache`]); a dry run reads it
//! but never writes it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Deserialize;

use crate::cli::{ExportsSyncArgs, ImportArgs};
use crate::config::{self, ExportsLayout};
use crate::context::Ctx;
use crate::context::{Plan, Step};
use crate::domain::exports::{ExportsCheck, ExportsGuard};
use crate::domain::netgroup::{self, Membership};
use crate::domain::network::NetGuard;
use crate::domain::project_cache;
use crate::domain::projects::{self, Desired, Entry, Project, ProjectFile};
use crate::engine::execute::{self, Recovery};
use crate::engine::files::Contents;
use crate::engine::plan::FileOp;
use crate::error::Error;
use crate::process::Cmd;
use crate::tools::netgroup::NETGROUP;
use crate::tools::{exportfs, mount};

/// Past this many exportfs runs, one `exportfs -ra` is used instead: every exportfs run loads
/// and rewrites the whole of etab, and nfs-utils 2.6 looks each entry up in a linear list of
/// clients, so on a large table any single run (`-u`, `-i -o`) costs about one `-ra`
/// (see BENCHMARKS.md). A change that needs both a withdrawal and an export is therefore one
/// `-ra`, never two runs.
pub const MAX_INCREMENTAL_RUNS: usize = 1;
/// How many clients_commands run at once.
const CLIENTS_PARALLEL: usize = 16;

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: nix::libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

pub fn sync(ctx: &Ctx, args: &ExportsSyncArgs) -> Result<()> {
    let Some(secs) = args.interval else {
        return sync_once(ctx, args);
    };
    // As a service: finish the run in progress on SIGTERM/SIGINT, then stop.
    let action = nix::sys::signal::SigAction::new(
        nix::sys::signal::SigHandler::Handler(on_signal),
        nix::sys::signal::SaFlags::empty(),
        nix::sys::signal::SigSet::empty(),
    );
    for sig in [
        nix::sys::signal::Signal::SIGTERM,
        nix::sys::signal::Signal::SIGINT,
    ] {
        // SAFETY: the handler only stores to an atomic.
        unsafe { nix::sys::signal::sigaction(sig, &action) }
            .with_context(|| format!("cannot handle {sig}"))?;
    }
    let mut runs = 0u32;
    loop {
        let result = sync_once(ctx, args);
        runs += 1;
        if let Err(e) = &result {
            errln!("nfs-manage: exports sync: {e:#}");
        }
        if STOP.load(Ordering::SeqCst) || args.runs.is_some_and(|n| runs >= n) {
            return result;
        }
        // Sleep, waking only to notice a stop request: never a busy loop.
        // The interval is bounded (config::parse_interval); checked all the same.
        let until = Instant::now()
            .checked_add(Duration::from_secs(secs))
            .unwrap_or_else(|| Instant::now() + crate::config::MAX_DURATION);
        while Instant::now() < until {
            if STOP.load(Ordering::SeqCst) {
                return result;
            }
            std::thread::sleep((until - Instant::now()).min(Duration::from_millis(250)));
        }
    }
}

/// Why a project's exports were kept as they are.
struct Kept {
    project: String,
    reason: String,
}

pub fn sync_once(ctx: &Ctx, args: &ExportsSyncArgs) -> Result<()> {
    let cfg = &ctx.config;
    let g = &ctx.global;
    let _lock = ctx.host_lock()?;
    let mut plan = Plan::new("exports sync");

    // Only the node that holds the service IP exports anything.
    let (here, what) = crate::domain::network::holds_service_ip(ctx)?;
    if !here {
        let msg = format!(
            "{} does not hold {what}: nothing to do here (exports are applied on the active node)",
            ctx.node
        );
        if g.json {
            plan.notes.push(msg);
            crate::output::json(&plan.to_json(Some("nothing to do"), None));
        } else if !g.quiet {
            outln!("{msg}");
        }
        return Ok(());
    }

    // A bad project file stops nobody: its current exports are kept as they are, the others
    // are applied, and the run then exits 78 naming the file.
    // Unchanged project files come from the cache (see domain::project_cache).
    let loaded = project_cache::load_all(cfg)?;
    let all = &loaded.projects;
    let mut refusals = all.conflicts.clone();
    let current = projects::read_current(&cfg.nfs.exports_dir)?;
    let etab = exportfs::read_etab()?;
    let table = mount::read_mountinfo()?;
    for s in &current.stray {
        plan.notes.push(format!(
            "{} is not managed by nfs-manage (left as it is; `exportfs -ra` applies it too)",
            s.display()
        ));
    }
    for u in &current.unreadable {
        plan.notes
            .push(format!("unreadable managed file, rewritten: {u}"));
    }
    // The netgroup layout: /etc/netgroup and nsswitch.conf must be usable before anything
    // changes (a broken file would make every `@project` export admit nobody).
    let netgroup_file = if cfg.exports.layout == ExportsLayout::Netgroup {
        if let Some(why) = netgroup::nsswitch_problem() {
            refusals.push(why);
        }
        match netgroup::read_file() {
            Ok(f) => Some(f),
            Err(why) => {
                refusals.push(why);
                None
            }
        }
    } else {
        None
    };
    // In the per-client layout the managed netgroups are only read, to count the clients of
    // files still written as `@group` (a switch back from the netgroup layout); the block
    // itself is left in place, unused, so no client is refused while exportfs catches up.
    let groups_read;
    let groups_now = match &netgroup_file {
        Some((f, _)) => &f.groups,
        None => {
            groups_read = netgroup::read_file()
                .map(|(f, _)| f.groups)
                .unwrap_or_default();
            &groups_read
        }
    };
    // The clients of each file as addresses, whichever layout wrote it.
    let members_now = projects::expand(&current.entries, groups_now);

    // Every export path must be on a mounted volume.
    let paths = all
        .list
        .iter()
        .map(|p| p.export_path.as_path())
        .chain(cfg.public.iter().map(|x| x.path.as_path()));
    let unmounted = crate::domain::mounts::unmounted_paths(cfg, &table, paths);
    if !unmounted.is_empty() {
        let n = unmounted.len();
        let mut shown = unmounted;
        shown.truncate(10);
        refusals.push(format!(
            "{n} export path(s) not on a mounted volume: {}",
            shown.join(", ")
        ));
    }

    // Clients of each project; None = keep that project exactly as it is.
    let mut kept: Vec<Kept> = all
        .invalid
        .iter()
        .map(|i| Kept {
            project: i.name.clone(),
            reason: format!(
                "its project file is invalid, its current exports are kept: {}",
                i.error
            ),
        })
        .collect();
    let clients = resolve_clients(ctx, &all.list, &members_now, &mut kept, &mut plan.notes);

    let public_clients: Vec<Vec<String>> =
        cfg.public.iter().map(projects::public_clients).collect();
    let desired = desired(
        ctx,
        &all.list,
        &all.invalid,
        &clients,
        &public_clients,
        &current,
        &members_now,
        groups_now,
    );
    let managed_paths: BTreeSet<&Path> = current
        .entries
        .values()
        .flatten()
        .chain(&desired.entries)
        .map(|e| e.path.as_path())
        .collect();

    // Safety rails on the result as a whole.
    let current_count: usize = members_now.values().map(Vec::len).sum();
    let live_managed = etab
        .iter()
        .filter(|e| managed_paths.contains(e.path.as_path()))
        .count();
    if desired.entries.is_empty() {
        if current_count > 0 || live_managed > 0 {
            refusals.push(format!(
                "empty result: no project or public export would remain, but {} client entries are configured and {live_managed} exported now; if that is really wanted, withdraw projects with `nfs-manage disable-project`",
                current_count
            ));
        } else {
            plan.notes
                .push("nothing to export: no projects and no public exports".into());
        }
    }
    // Counted in addresses: a netgroup stands for each of its members.
    let want_keys: std::collections::HashSet<projects::Member<'_>> =
        desired.members.iter().copied().collect();
    let removed = members_now
        .values()
        .flatten()
        .filter(|m| !want_keys.contains(*m))
        .count();
    if current_count > 0 && !desired.entries.is_empty() {
        let pct = removed as f64 * 100.0 / current_count as f64;
        if pct > f64::from(cfg.exports.max_shrink_percent) {
            let msg = format!(
                "this run would remove {removed} of {current_count} client entries ({pct:.0}%), more than exports.max_shrink_percent ({}%){}",
                cfg.exports.max_shrink_percent,
                if args.force {
                    ""
                } else {
                    "; if that is intended, rerun with --force"
                }
            );
            if args.force {
                plan.notes.push(format!("--force: {msg}"));
            } else {
                refusals.push(msg);
            }
        }
    }

    // Steps: files first (so a rerun after a failure converges), then the live table.
    let mut ops = Vec::new();
    let mut verify_files = Vec::new();
    for (path, want) in &desired.files {
        let have = current.files.get(path);
        match (want, have) {
            (Some(t), Some(h)) if t == h && !current.unreadable_file(path) => {}
            (Some(t), _) => {
                ops.push(FileOp::Write {
                    path: path.clone(),
                    content: t.clone(),
                });
                verify_files.push((path.clone(), Some(t.clone())));
            }
            (None, Some(_)) => {
                ops.push(FileOp::Remove(path.clone()));
                verify_files.push((path.clone(), None));
            }
            (None, None) => {}
        }
    }
    // Borrowed, not copied: it is only written out when some file changes.
    let mut previous: BTreeMap<&Path, &str> = current
        .files
        .iter()
        .map(|(p, t)| (p.as_path(), t.as_str()))
        .collect();
    let membership = match &netgroup_file {
        Some((file, text)) => {
            let want = crate::tools::netgroup::render(file, &desired.groups);
            if text.as_deref().unwrap_or("") != want {
                ops.push(FileOp::Write {
                    path: PathBuf::from(NETGROUP),
                    content: want.clone(),
                });
                verify_files.push((PathBuf::from(NETGROUP), Some(want)));
                if let Some(t) = text {
                    previous.insert(Path::new(NETGROUP), t.as_str());
                }
            }
            Membership::between(groups_now, &desired.groups)
        }
        None => Membership::between(&BTreeMap::new(), &BTreeMap::new()),
    };
    if let Some(why) = netgroup::nameless(ctx, &membership.joining()) {
        refusals.push(why);
    }
    if !ops.is_empty() {
        let n = ops.len();
        if !previous.is_empty() {
            let backup = backup_text(&previous);
            ops.insert(
                0,
                FileOp::Write {
                    path: cfg.exports.backup.clone(),
                    content: backup.clone(),
                },
            );
            verify_files.insert(0, (cfg.exports.backup.clone(), Some(backup)));
        }
        let step = Step::files(
            "files",
            format!(
                "write {n} exports file(s) in {}{}",
                cfg.nfs.exports_dir.display(),
                if verify_files.iter().any(|(p, _)| p == Path::new(NETGROUP)) {
                    format!(" and {NETGROUP}")
                } else {
                    String::new()
                }
            ),
            ops,
            Contents(verify_files),
        )
        .why(if current.files.is_empty() {
            "first sync".to_string()
        } else {
            format!("previous set kept in {}", cfg.exports.backup.display())
        })
        .guard(NetGuard::HoldsServiceIp);
        plan.steps.push(if membership.is_empty() {
            step
        } else {
            step.field(netgroup::WRITTEN, true)
        });
    }

    let changes = projects::diff(&desired.entries, &etab, &managed_paths, &desired.kept_paths);
    let runs = changes.export.len() + usize::from(!changes.unexport.is_empty());
    if runs > MAX_INCREMENTAL_RUNS {
        let present: Vec<(PathBuf, String, String)> = desired
            .entries
            .iter()
            .filter(|e| !desired.kept_paths.contains(e.path.as_path()))
            .map(|e| (e.path.clone(), e.client.clone(), e.options.clone()))
            .collect();
        let exported: Vec<PathBuf> = present.iter().map(|(p, ..)| p.clone()).collect();
        plan.steps.push(
            Step::new(
                "exportfs:all",
                "re-export everything from the exports files",
                exportfs::reexport_all_cmd(),
                ExportsCheck::Etab {
                    present,
                    absent: changes
                        .unexport
                        .iter()
                        .map(|e| (e.path.clone(), e.client.clone()))
                        .collect(),
                },
            )
            .why(format!(
                "{} entries to export, {} to withdraw: one run instead of {runs}",
                changes.exported(),
                changes.unexport.len()
            ))
            .guard(ExportsGuard::PathsOnMountedVolumes(dedup(exported))),
        );
    } else {
        if !changes.unexport.is_empty() {
            let step = withdraw_step(
                "exportfs:withdraw",
                format!("withdraw {} client entries", changes.unexport.len()),
                &changes.unexport,
            );
            let why = describe_paths(changes.unexport.iter().map(|e| e.path.as_path()));
            plan.steps.push(step.why(why));
        }
        for (options, entries) in &changes.export {
            let args: Vec<(&str, &Path)> = entries
                .iter()
                .map(|(c, p)| (c.as_str(), p.as_path()))
                .collect();
            let paths: Vec<PathBuf> = dedup(entries.iter().map(|(_, p)| p.clone()).collect());
            plan.steps.push(
                Step::new(
                    format!(
                        "exportfs:{}",
                        describe_paths(paths.iter().map(|p| p.as_path()))
                    ),
                    format!(
                        "export {} client entries of {}",
                        entries.len(),
                        describe_paths(paths.iter().map(|p| p.as_path()))
                    ),
                    exportfs::export_cmd(options, &args),
                    ExportsCheck::Etab {
                        present: entries
                            .iter()
                            .map(|(c, p)| (p.clone(), c.clone(), options.clone()))
                            .collect(),
                        absent: Vec::new(),
                    },
                )
                .why("new, or its options changed")
                .guard(ExportsGuard::PathsOnMountedVolumes(paths)),
            );
        }
    }

    // A membership change needs no exportfs run: the changed addresses' cached answers are
    // expired, so their next request asks rpc.mountd, which asks glibc, which reads the new
    // file. A change an earlier run wrote but never flushed is flushed now.
    let unflushed = (netgroup_file.is_some() && membership.is_empty())
        .then(|| netgroup::unflushed(ctx))
        .flatten();
    let exportfs_runs = netgroup::runs_exportfs(&plan.steps);
    if (!membership.is_empty() || unflushed.is_some()) && !exportfs_runs {
        plan.steps.push(
            netgroup::cache_step(membership, unflushed, "project netgroups")
                .guard(NetGuard::HoldsServiceIp),
        );
    }

    if !refusals.is_empty() {
        return crate::engine::execute::refuse(ctx, &plan, &refusals);
    }
    let recovery = Recovery {
        retry: ctx.self_command("exports sync"),
        back_out: Some(format!(
            "restore the previous exports files from {} into {}, then `exportfs -ra`",
            cfg.exports.backup.display(),
            cfg.nfs.exports_dir.display()
        )),
    };
    execute::run(ctx, &mut plan, &recovery)?;
    if !g.dry_run
        && let Err(e) = loaded.save()
    {
        // The cache only saves time: the next run reads the files again.
        log::warn!("cannot write the project cache: {e:#}");
        if !g.quiet && !g.json {
            errln!("nfs-manage: warning: cannot write the project cache: {e:#}");
        }
    }
    if !all.invalid.is_empty() {
        let mut list: Vec<String> = all.invalid.iter().map(|i| i.error.clone()).collect();
        list.extend(kept.iter().map(|k| {
            format!(
                "{}: clients could not be read, its exports were kept: {}",
                k.project, k.reason
            )
        }));
        return Err(Error::Config(format!(
            "{}\n{} project file(s) are invalid: their current exports were kept as they are, the other projects were applied",
            list.join("\n"),
            all.invalid.len()
        ))
        .into());
    }
    if !kept.is_empty() {
        let list: Vec<String> = kept
            .iter()
            .map(|k| format!("{}: {}", k.project, k.reason))
            .collect();
        return Err(Error::Refused(format!(
            "the clients of {} project(s) could not be read, so their current exports were kept as they are (the others were applied):\n  - {}",
            kept.len(),
            list.join("\n  - ")
        ))
        .into());
    }
    Ok(())
}

fn dedup(mut v: Vec<PathBuf>) -> Vec<PathBuf> {
    v.sort();
    v.dedup();
    v
}

fn describe_paths<'a>(paths: impl Iterator<Item = &'a Path>) -> String {
    let set: BTreeSet<&Path> = paths.collect();
    let mut names: Vec<String> = set
        .iter()
        .take(3)
        .map(|p| p.display().to_string())
        .collect();
    if set.len() > 3 {
        names.push(format!("{} more", set.len() - 3));
    }
    names.join(", ")
}

impl projects::Current {
    fn unreadable_file(&self, path: &Path) -> bool {
        let p = path.display().to_string();
        self.unreadable.iter().any(|u| u.starts_with(&p))
    }
}

/// The previous managed files, each under a header, in one file.
fn backup_text(files: &BTreeMap<&Path, &str>) -> String {
    let mut s = format!(
        "# Managed exports files before the nfs-manage exports sync of {}\n",
        crate::engine::journal::now_rfc3339()
    );
    for (path, text) in files {
        s.push_str(&format!("\n# ==> {} <==\n{text}", path.display()));
        if !text.ends_with('\n') {
            s.push('\n');
        }
    }
    s
}

/// The clients of every project, in the order of `list`; `None` for a project whose current
/// exports are kept (its reason recorded in `kept`).
fn resolve_clients(
    ctx: &Ctx,
    list: &[Project],
    current: &BTreeMap<&Path, Vec<projects::Member<'_>>>,
    kept: &mut Vec<Kept>,
    notes: &mut Vec<String>,
) -> Vec<Option<Vec<String>>> {
    let cfg = &ctx.config;
    let mut out: Vec<Option<Vec<String>>> = list.iter().map(|p| Some(p.clients.clone())).collect();
    // A missing directory would make exportfs fail for everyone; keep that project instead.
    // (Each mountpoint is looked at once; the projects' directories on every CPU.)
    let mounted_dirs: BTreeSet<&Path> = cfg
        .volumes
        .iter()
        .map(|v| v.mountpoint.as_path())
        .filter(|m| m.is_dir())
        .collect();
    let missing = crate::engine::parallel::map(list, |p| {
        cfg.volume_of(&p.export_path)
            .is_some_and(|v| mounted_dirs.contains(v.mountpoint.as_path()))
            && !p.export_path.is_dir()
    });
    for (i, p) in list.iter().enumerate() {
        if missing[i] {
            kept.push(Kept {
                project: p.name().into(),
                reason: format!(
                    "its directory {} does not exist (`nfs-manage enable-project {}` creates it)",
                    p.export_path.display(),
                    p.name()
                ),
            });
            out[i] = None;
        }
    }
    let with_cmd: Vec<usize> = (0..list.len())
        .filter(|&i| out[i].is_some() && list[i].spec.clients_command.is_some())
        .collect();
    if with_cmd.is_empty() {
        return out;
    }
    if ctx.global.dry_run {
        notes.push(format!(
            "dry run: the clients_command of {} project(s) was not run (it may reach the network); their clients are taken from their current exports files",
            with_cmd.len()
        ));
        for i in with_cmd {
            let p = &list[i];
            let file = p.exports_file(cfg);
            let mut c = out[i].take().unwrap_or_default();
            if let Some(members) = current.get(file.as_path()) {
                c.extend(members.iter().map(|(_, client)| client.to_string()));
            }
            c.sort();
            c.dedup();
            out[i] = Some(c);
        }
        return out;
    }
    let cmds: Vec<Cmd> = with_cmd
        .iter()
        .map(|&i| Cmd::probe(list[i].spec.clients_command.clone().unwrap_or_default()))
        .collect();
    let limit = cfg.exports.clients_timeout;
    for (chunk_idx, chunk) in cmds.chunks(CLIENTS_PARALLEL).enumerate() {
        let refs: Vec<&Cmd> = chunk.iter().collect();
        let outs = ctx.runner.run_all_limited(&refs, limit);
        for (j, res) in outs.into_iter().enumerate() {
            let i = with_cmd[chunk_idx * CLIENTS_PARALLEL + j];
            let p = &list[i];
            let cmd = &chunk[j];
            let got = match res {
                Err(e) => Err(format!("`{cmd}` could not run: {e:#}")),
                Ok(o) if o.timed_out => Err(format!("`{cmd}` {}", o.ending())),
                Ok(o) if !o.success() => {
                    let mut c: String = o.complaint().chars().take(200).collect();
                    if c.is_empty() {
                        c = "no output".into();
                    }
                    Err(format!("`{cmd}` failed ({}): {c}", o.ending()))
                }
                Ok(o) => projects::parse_clients_output(&o.stdout, &cfg.exports)
                    .map_err(|why| format!("`{cmd}`: {why}")),
            };
            match got {
                Ok(c) => {
                    let mut all = out[i].take().unwrap_or_default();
                    all.extend(c);
                    all.sort();
                    all.dedup();
                    out[i] = Some(all);
                }
                Err(reason) => {
                    kept.push(Kept {
                        project: p.name().into(),
                        reason,
                    });
                    out[i] = None;
                }
            }
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn desired<'a>(
    ctx: &'a Ctx,
    list: &'a [Project],
    invalid: &[projects::Invalid],
    clients: &'a [Option<Vec<String>>],
    public_clients: &'a [Vec<String>],
    current: &'a projects::Current,
    members_now: &BTreeMap<&'a Path, Vec<projects::Member<'a>>>,
    groups_now: &BTreeMap<String, Vec<String>>,
) -> Desired<'a> {
    let cfg = &ctx.config;
    let by_group = cfg.exports.layout == ExportsLayout::Netgroup;
    let mut d = Desired::default();
    let mut ours: BTreeSet<PathBuf> = BTreeSet::new();
    // A project kept as it is keeps its file, its live entries and its netgroup.
    let keep = |d: &mut Desired<'a>, file: &Path, name: &str| {
        if let Some(entries) = current.entries.get(file) {
            d.entries.extend(entries.iter().cloned());
            d.kept_paths
                .extend(entries.iter().map(|e| e.path.as_path()));
        }
        if let Some(m) = members_now.get(file) {
            d.members.extend(m.iter().copied());
        }
        let group = netgroup::group_of(name);
        if let Some(m) = groups_now.get(&group) {
            d.groups.insert(group, m.clone());
        }
    };
    for i in invalid {
        let file = projects::project_exports_file(cfg, &i.name);
        keep(&mut d, &file, &i.name);
        ours.insert(file);
    }
    for (p, c) in list.iter().zip(clients) {
        let file = p.exports_file(cfg);
        match c {
            Some(c) => {
                let entry = |client: &String| Entry {
                    path: p.export_path.clone(),
                    client: client.clone(),
                    options: p.options.clone(),
                };
                d.members
                    .extend(c.iter().map(|cl| (p.export_path.as_path(), cl.as_str())));
                let listed = if by_group {
                    let (hosts, mut rest) = netgroup::split_clients(c);
                    if !hosts.is_empty() {
                        let group = netgroup::group_of(p.name());
                        rest.insert(0, format!("@{group}"));
                        d.groups.insert(group, hosts);
                    }
                    rest
                } else {
                    c.clone()
                };
                d.files
                    .insert(file.clone(), Some(projects::render_project(p, &listed)));
                d.entries.extend(listed.iter().map(entry));
            }
            None => {
                // Kept: its file is not touched, and what it exports stays.
                d.kept_paths.insert(p.export_path.as_path());
                keep(&mut d, &file, p.name());
            }
        }
        ours.insert(file);
    }
    let public = cfg.nfs.exports_dir.join(projects::PUBLIC_FILE);
    ours.insert(public.clone());
    d.files.insert(public, projects::render_public(cfg));
    for (x, clients) in cfg.public.iter().zip(public_clients) {
        let opts = projects::public_options(x);
        d.members
            .extend(clients.iter().map(|c| (x.path.as_path(), c.as_str())));
        d.entries.extend(clients.iter().map(|c| Entry {
            path: x.path.clone(),
            client: c.clone(),
            options: opts.clone(),
        }));
    }
    // Managed files of projects that no longer exist are removed.
    for f in current.files.keys() {
        if !ours.contains(f) {
            d.files.insert(f.clone(), None);
        }
    }
    d
}

// ---- import -------------------------------------------------------------------------------

/// The shape of Wikimedia Cloud VPS's nfs-mounts.yaml (operations/puppet,
/// modules/cloudnfs/templates/nfs-mounts.yaml.erb), read strictly.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NfsMounts {
    #[serde(default)]
    volumes_served: Vec<String>,
    #[serde(default)]
    public: BTreeMap<String, String>,
    #[serde(default)]
    private: BTreeMap<String, Private>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Private {
    gid: u32,
    #[serde(default)]
    mounts: BTreeMap<String, MountValue>,
}

/// `project: true`, or (later versions) `project: server:/path`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum MountValue {
    Flag(bool),
    Target(String),
}

impl MountValue {
    fn on(&self) -> bool {
        match self {
            MountValue::Flag(b) => *b,
            MountValue::Target(s) => !s.is_empty(),
        }
    }
}

pub fn import(ctx: &Ctx, args: &ImportArgs) -> Result<()> {
    let cfg = &ctx.config;
    let g = &ctx.global;
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| Error::Usage(format!("{}: cannot read: {e}", args.file.display())))?;
    let file = args.file.display().to_string();
    let mounts: NfsMounts =
        yaml_serde::from_str(&text).map_err(|e| Error::Config(config::yaml_error(&file, &e)))?;
    let volume = pick_volume(ctx, args.volume.as_deref())?;
    if args.clients.is_empty() && args.clients_command.is_none() {
        return Err(Error::Usage(
            "nfs-mounts.yaml does not say who the clients are: pass --clients or --clients-command (with {name} for the project name)".into(),
        )
        .into());
    }
    let template = match &args.clients_command {
        Some(c) => Some(shlex::split(c).filter(|v| !v.is_empty()).ok_or_else(|| {
            Error::Usage(format!("--clients-command {c:?} is not a command line"))
        })?),
        None => None,
    };
    let _lock = ctx.host_lock()?;
    let existing = projects::load(cfg)?;
    let mut plan = Plan::new("exports import");
    let mut refusals = Vec::new();
    let mut by_gid: HashMap<u32, String> = existing
        .list
        .iter()
        .map(|p| (p.spec.gid, p.name().to_string()))
        .collect();
    let mut ops = Vec::new();
    let mut verify = Vec::new();
    let mut skipped = Vec::new();
    for (name, private) in &mounts.private {
        // Served here: a mount this server serves (volumes_served); without that list, any
        // mount but `dumps`, which the old daemon left to other code.
        let served: Vec<&str> = private
            .mounts
            .iter()
            .filter(|(m, v)| {
                v.on()
                    && if mounts.volumes_served.is_empty() {
                        m.as_str() != "dumps"
                    } else {
                        mounts.volumes_served.contains(m)
                    }
            })
            .map(|(m, _)| m.as_str())
            .collect();
        if served.is_empty() {
            skipped.push(name.as_str());
            continue;
        }
        let spec = ProjectFile {
            name: name.clone(),
            gid: private.gid,
            volume: volume.clone(),
            path: Some(PathBuf::from(args.path.replace("{name}", name))),
            options: projects::default_options(),
            fsid: None,
            clients: args.clients.clone(),
            clients_command: template
                .as_ref()
                .map(|t| t.iter().map(|a| a.replace("{name}", name)).collect()),
        };
        let problems = spec.validate(cfg, Some(name));
        if !problems.is_empty() {
            let msgs: Vec<String> = problems
                .iter()
                .map(|p| format!("{}: {}", p.path, p.message))
                .collect();
            refusals.push(format!("{file}: private.{name}: {}", msgs.join("; ")));
            continue;
        }
        if let Some(other) = by_gid.insert(private.gid, name.clone())
            && &other != name
        {
            refusals.push(format!(
                "duplicate GID {}: projects {other} and {name}; each project needs its own group",
                private.gid
            ));
        }
        let path = projects::project_file(cfg, name);
        let yaml = spec.to_yaml();
        match existing.get(name) {
            Some(p) if p.spec == spec => continue,
            Some(p) => {
                refusals.push(format!(
                    "project {name} already exists ({}) with other settings; edit or remove it first",
                    p.file.display()
                ));
                continue;
            }
            None => {}
        }
        ops.push(FileOp::Write {
            path: path.clone(),
            content: yaml.clone(),
        });
        verify.push((path, Some(yaml)));
    }
    if !skipped.is_empty() {
        plan.notes.push(format!(
            "{} project(s) have no mount served here, skipped: {}",
            skipped.len(),
            skipped.join(", ")
        ));
    }
    if !mounts.public.is_empty() {
        plan.notes.push(public_snippet(&file, &mounts.public));
    }
    if !ops.is_empty() {
        plan.steps.push(
            Step::files(
                "import",
                format!(
                    "write {} project file(s) in {}",
                    ops.len(),
                    cfg.projects_dir.display()
                ),
                ops,
                Contents(verify),
            )
            .why(format!("from {file}")),
        );
    }
    if !refusals.is_empty() {
        return crate::engine::execute::refuse(ctx, &plan, &refusals);
    }
    execute::run(
        ctx,
        &mut plan,
        &Recovery {
            retry: ctx.self_command(&format!("exports import {file}")),
            back_out: None,
        },
    )?;
    if !g.dry_run && !g.quiet && !g.json && plan.pending() == 0 {
        outln!("Next: `nfs-manage exports sync --dry-run` shows what the exports would become.");
    }
    Ok(())
}

/// nfs-mounts.yaml's `public:` entries as cluster-config YAML for the operator to paste
/// (nfs-manage does not rewrite the cluster config).
fn public_snippet(file: &str, public: &BTreeMap<String, String>) -> String {
    let mut s = format!(
        "{file} has public exports; nfs-manage takes them from the cluster config. Add:\npublic:\n"
    );
    for (name, line) in public {
        match exportfs::parse_exports(file, line) {
            Ok(entries) if !entries.is_empty() => {
                let e = &entries[0];
                let mut fsid = None;
                let options: Vec<&str> = e
                    .options
                    .split(',')
                    .filter(|o| {
                        if let Some(f) = o.strip_prefix("fsid=") {
                            fsid = Some(f.to_string());
                            false
                        } else {
                            !o.is_empty()
                        }
                    })
                    .collect();
                let clients: Vec<String> = entries.iter().map(|x| x.client.clone()).collect();
                s.push_str(&format!(
                    "  - {{ name: {name}, path: {}, clients: [{}], options: [{}], fsid: {} }}\n",
                    e.path.display(),
                    clients
                        .iter()
                        .map(|c| format!("\"{c}\""))
                        .collect::<Vec<_>>()
                        .join(", "),
                    options.join(", "),
                    fsid.unwrap_or_else(|| "CHOOSE-A-NUMBER".into())
                ));
            }
            _ => s.push_str(&format!("  # {name}: could not read {line:?}\n")),
        }
    }
    s
}

/// `--volume`, or the only volume; the volume must exist in the config.
pub fn pick_volume(ctx: &Ctx, wanted: Option<&str>) -> Result<String, Error> {
    let names: Vec<&str> = ctx.config.volumes.iter().map(|v| v.name.as_str()).collect();
    match wanted {
        Some(v) if names.contains(&v) => Ok(v.to_string()),
        Some(v) => Err(Error::Usage(format!(
            "{v:?} is not a volume of this cluster (expected one of: {})",
            names.join(", ")
        ))),
        None if names.len() == 1 => Ok(names[0].to_string()),
        None => Err(Error::Usage(format!(
            "this cluster has several volumes ({}): choose one with --volume",
            names.join(", ")
        ))),
    }
}

/// `exportfs -u client:path …` for entries that must go, verified gone in etab.
pub(crate) fn withdraw_step(id: &str, title: String, entries: &[projects::Entry]) -> Step {
    let list: Vec<exportfs::Export> = entries
        .iter()
        .map(|e| exportfs::Export {
            path: e.path.clone(),
            client: e.client.clone(),
            options: e.options.clone(),
        })
        .collect();
    let refs: Vec<&exportfs::Export> = list.iter().collect();
    let absent = list
        .iter()
        .map(|e| (e.path.clone(), e.client.clone()))
        .collect();
    Step::new(
        id,
        title,
        exportfs::unexport_cmd(&refs),
        ExportsCheck::Etab {
            present: Vec::new(),
            absent,
        },
    )
}
