//! `nfs-manage enable-project NAME`: what used to be six manual steps, as one verified plan.
//! The GID comes from `getent group project-NAME` (unless `--gid`); a GID another project uses
//! is refused. Steps: the project file (written atomically) → the project directory on the
//! mounted volume, group = GID with the setgid bit (`install -d`, verified by stat) → its
//! exports file → `exportfs -i -o` for its clients, verified in etab. Then the steps that remain
//! on the client side are printed. Runs on the node that holds the service IP.

use anyhow::Result;

use crate::cli::EnableProjectArgs;
use crate::config::{self, Problem};
use crate::context::Ctx;
use crate::context::{Plan, Step};
use crate::domain::exports::ExportsCheck;
use crate::domain::exports::ExportsGuard;
use crate::domain::netgroup;
use crate::domain::projects::ProjectDir;
use crate::domain::projects::{self, Entry, ProjectFile};
use crate::engine::check::Check;
use crate::engine::execute::{self, Recovery};
use crate::engine::files::Contents;
use crate::engine::plan::FileOp;
use crate::error::Error;
use crate::process::Cmd;
use crate::tools::{exportfs, getent, mount};

pub fn run(ctx: &Ctx, args: &EnableProjectArgs) -> Result<()> {
    let cfg = &ctx.config;
    let g = &ctx.global;
    let name = args.name.as_str();
    check_project_name(name)?;
    let volume = super::exports::pick_volume(ctx, args.volume.as_deref())?;
    let clients_command = match &args.clients_command {
        Some(c) => Some(shlex::split(c).filter(|v| !v.is_empty()).ok_or_else(|| {
            Error::Usage(format!("--clients-command {c:?} is not a command line"))
        })?),
        None => None,
    };
    if args.clients.is_empty() && clients_command.is_none() {
        return Err(Error::Usage(
            "who mounts it? pass --clients ADDR,… or --clients-command COMMAND".into(),
        )
        .into());
    }
    let _lock = ctx.host_lock()?;
    let (here, what) = crate::domain::network::holds_service_ip(ctx)?;
    if !here {
        return Err(Error::Refused(format!(
            "{} does not hold {what}: run enable-project on the active node, where the volume is mounted; nothing was changed",
            ctx.node
        ))
        .into());
    }
    // Another project's broken file does not block this one (config check reports it).
    let all = projects::load_all(cfg)?;
    let group = format!("project-{name}");
    let gid = match args.gid {
        Some(gid) => gid,
        None => {
            let out = ctx.runner.run(&getent::group_cmd(&group))?;
            getent::parse_group(&group, &out)?.ok_or_else(|| {
                Error::Refused(format!(
                    "group {group} does not exist (`getent group {group}` found nothing): create the project's group first, or pass --gid; nothing was changed"
                ))
            })?
        }
    };
    if let Some(other) = all
        .list
        .iter()
        .find(|p| p.spec.gid == gid && p.name() != name)
    {
        return Err(Error::Refused(format!(
            "GID {gid} already belongs to project {} ({}); each project needs its own group; nothing was changed",
            other.name(),
            other.file.display()
        ))
        .into());
    }
    let existing = all.get(name);
    if let Some(p) = existing
        && p.spec.gid != gid
    {
        return Err(Error::Refused(format!(
            "project {name} already exists with GID {} ({}), not {gid}; nothing was changed",
            p.spec.gid,
            p.file.display()
        ))
        .into());
    }
    let spec = ProjectFile {
        name: name.to_string(),
        gid,
        volume,
        path: args.path.clone(),
        options: existing
            .map(|p| p.spec.options.clone())
            .unwrap_or_else(projects::default_options),
        fsid: existing.and_then(|p| p.spec.fsid),
        clients: args.clients.clone(),
        clients_command,
    };
    let problems = spec.validate(cfg, Some(name));
    if !problems.is_empty() {
        return Err(Error::Usage(describe(&problems)).into());
    }
    let file = projects::project_file(cfg, name);
    let project = spec.project(cfg, file.clone());
    // The new project beside the others: its path and fsid must be its own.
    let mut others: Vec<projects::Project> = all
        .list
        .iter()
        .filter(|p| p.name() != name)
        .cloned()
        .collect();
    others.push(project.clone());
    let me = format!("project {name}");
    let conflicts: Vec<String> = projects::conflicts_of(cfg, &others)
        .into_iter()
        .filter(|c| {
            c.ends_with(&me) || c.contains(&format!("{me} ")) || c.contains(&format!("{me};"))
        })
        .collect();
    if !conflicts.is_empty() {
        return Err(Error::Refused(format!(
            "nothing was changed:\n  - {}",
            conflicts.join("\n  - ")
        ))
        .into());
    }
    let table = mount::read_mountinfo()?;
    let bad = crate::domain::mounts::unmounted_paths(cfg, &table, [project.export_path.as_path()]);
    if !bad.is_empty() {
        return Err(Error::Refused(format!(
            "the project directory would not be on a mounted volume: {}; nothing was changed",
            bad.join(", ")
        ))
        .into());
    }

    let mut plan = Plan::new("enable-project");
    let mut clients = project.clients.clone();
    if let Some(argv) = &spec.clients_command {
        if g.dry_run {
            plan.notes.push(format!(
                "dry run: `{}` was not run (it may reach the network); the plan shows the static clients only",
                Cmd::probe(argv.clone())
            ));
        } else {
            let cmd = Cmd::probe(argv.clone());
            let out = ctx
                .runner
                .run_all_limited(&[&cmd], cfg.exports.clients_timeout)
                .pop()
                .expect("one result")?;
            let got = if out.timed_out || !out.success() {
                Err(format!("failed ({}): {}", out.ending(), out.complaint()))
            } else {
                projects::parse_clients_output(&out.stdout, &cfg.exports)
            };
            match got {
                Ok(c) => clients.extend(c),
                Err(why) => {
                    return Err(Error::Refused(format!(
                        "the clients command `{cmd}` {why}; nothing was changed"
                    ))
                    .into());
                }
            }
            clients.sort();
            clients.dedup();
        }
    }

    // 1. The project file.
    let yaml = spec.to_yaml();
    let step = Step::files(
        "project-file",
        format!("write the project file {}", file.display()),
        vec![FileOp::Write {
            path: file.clone(),
            content: yaml.clone(),
        }],
        Contents(vec![(file.clone(), Some(yaml.clone()))]),
    );
    plan.steps.push(match existing {
        Some(p) if p.spec == spec => step.already("in place"),
        Some(_) => step.why("settings changed"),
        None => step.why("new project"),
    });

    // 2. The directory, on the mounted volume.
    let dir = &project.export_path;
    let verify_dir = ProjectDir {
        path: dir.clone(),
        gid,
    };
    let step = Step::new(
        "directory",
        format!("create {} (group {gid}, setgid)", dir.display()),
        Cmd::change([
            "install".to_string(),
            "-d".into(),
            "-g".into(),
            gid.to_string(),
            "-m".into(),
            "2775".into(),
            dir.display().to_string(),
        ]),
        ProjectDir {
            path: dir.clone(),
            gid,
        },
    )
    .guard(ExportsGuard::PathsOnMountedVolumes(vec![dir.clone()]));
    let dir_ok = verify_dir
        .check(ctx, &empty_output())
        .map(|v| v.is_ok())
        .unwrap_or(false);
    plan.steps.push(if dir_ok {
        step.already("exists with that group and setgid")
    } else if dir.exists() {
        step.why("exists, but not with that group and setgid")
    } else {
        step.why("does not exist")
    });

    // 3. Its exports file (and, in the netgroup layout, its netgroup: the file's single entry
    // `@project-NAME` stands for its addresses).
    let by_group = cfg.exports.layout == config::ExportsLayout::Netgroup;
    let mut membership = None;
    let listed = if by_group {
        if let Some(why) = netgroup::nsswitch_problem() {
            return Err(Error::Refused(format!("{why}; nothing was changed")).into());
        }
        let (file_now, text_now) = netgroup::read_file()
            .map_err(|why| Error::Refused(format!("{why}; nothing was changed")))?;
        let (hosts, mut rest) = netgroup::split_clients(&clients);
        let group = netgroup::group_of(name);
        let mut groups = file_now.groups.clone();
        if hosts.is_empty() {
            groups.remove(&group);
        } else {
            rest.insert(0, format!("@{group}"));
            groups.insert(group, hosts);
        }
        let want = crate::tools::netgroup::render(&file_now, &groups);
        let path = std::path::PathBuf::from(crate::tools::netgroup::NETGROUP);
        let step = Step::files(
            "netgroup",
            format!(
                "write netgroup {} in {}",
                netgroup::group_of(name),
                path.display()
            ),
            vec![FileOp::Write {
                path: path.clone(),
                content: want.clone(),
            }],
            Contents(vec![(path, Some(want.clone()))]),
        );
        let change = netgroup::Membership::between(&file_now.groups, &groups);
        if let Some(why) = netgroup::nameless(ctx, &change.joining()) {
            return Err(Error::Refused(format!("{why}; nothing was changed")).into());
        }
        plan.steps
            .push(if text_now.as_deref().unwrap_or("") == want {
                step.already("in place")
            } else if change.is_empty() {
                step.why("its text changed")
            } else {
                step.why("its addresses changed")
                    .field(netgroup::WRITTEN, true)
            });
        membership = Some(change);
        rest
    } else {
        clients.clone()
    };
    let exports_file = project.exports_file(cfg);
    let text = projects::render_project(&project, &listed);
    let step = Step::files(
        "exports-file",
        format!("write {}", exports_file.display()),
        vec![FileOp::Write {
            path: exports_file.clone(),
            content: text.clone(),
        }],
        Contents(vec![(exports_file.clone(), Some(text.clone()))]),
    );
    let have = std::fs::read_to_string(&exports_file).ok();
    plan.steps.push(if have.as_deref() == Some(text.as_str()) {
        step.already("in place")
    } else {
        step.why(format!("{} client(s)", clients.len()))
    });

    // 4. The live exports.
    let wanted: Vec<Entry> = listed
        .iter()
        .map(|c| Entry {
            path: dir.clone(),
            client: c.clone(),
            options: project.options.clone(),
        })
        .collect();
    let etab = exportfs::read_etab()?;
    let managed = [dir.as_path()].into();
    let changes = projects::diff(&wanted, &etab, &managed, &Default::default());
    // Entries both going and coming would be two exportfs runs, each loading and rewriting all
    // of etab (about one `-ra` each on a large table): one `-ra` of the files instead, the
    // project's just written. Checked entry by entry in etab like the two runs would be.
    if !changes.unexport.is_empty() && !changes.export.is_empty() {
        plan.steps.push(
            Step::new(
                "export",
                "re-export everything from the exports files",
                exportfs::reexport_all_cmd(),
                ExportsCheck::Etab {
                    present: wanted
                        .iter()
                        .map(|e| (e.path.clone(), e.client.clone(), e.options.clone()))
                        .collect(),
                    absent: changes
                        .unexport
                        .iter()
                        .map(|e| (e.path.clone(), e.client.clone()))
                        .collect(),
                },
            )
            .guard(ExportsGuard::PathsOnMountedVolumes(vec![dir.clone()]))
            .why(format!(
                "{} entries to export, {} to withdraw: one run instead of two",
                changes.exported(),
                changes.unexport.len()
            )),
        );
    } else {
        if !changes.unexport.is_empty() {
            plan.steps.push(
                super::exports::withdraw_step(
                    "unexport",
                    format!("withdraw {} old client(s)", changes.unexport.len()),
                    &changes.unexport,
                )
                .why("no longer among the project's clients"),
            );
        }
        let args_list: Vec<(&str, &std::path::Path)> =
            listed.iter().map(|c| (c.as_str(), dir.as_path())).collect();
        let step = Step::new(
            "export",
            format!("export {} to {} client(s)", dir.display(), clients.len()),
            exportfs::export_cmd(&project.options, &args_list),
            ExportsCheck::Etab {
                present: wanted
                    .iter()
                    .map(|e| (e.path.clone(), e.client.clone(), e.options.clone()))
                    .collect(),
                absent: Vec::new(),
            },
        )
        .guard(ExportsGuard::PathsOnMountedVolumes(vec![dir.clone()]));
        if clients.is_empty() {
            plan.notes
                .push("no clients yet: nothing is exported until the project has some".into());
        } else if changes.export.is_empty() {
            plan.steps.push(step.already("exported"));
        } else {
            plan.steps
                .push(step.why(format!("{} entries to export", changes.exported())));
        }
    }
    // A membership change alone needs no exportfs run: the changed addresses' cached answers
    // expire, checked with innetgr().
    // A change an earlier run wrote but never flushed is flushed now.
    let unflushed = membership
        .as_ref()
        .filter(|m| m.is_empty())
        .and_then(|_| netgroup::unflushed(ctx));
    let exportfs_runs = netgroup::runs_exportfs(&plan.steps);
    if let Some(m) = membership.filter(|m| (!m.is_empty() || unflushed.is_some()) && !exportfs_runs)
    {
        plan.steps
            .push(netgroup::cache_step(m, unflushed, "the netgroup"));
    }

    execute::run(
        ctx,
        &mut plan,
        &Recovery {
            retry: ctx.self_command(&format!("enable-project {name}")),
            back_out: Some(ctx.self_command(&format!("disable-project {name}"))),
        },
    )?;
    if !g.dry_run && !g.quiet && !g.json {
        outln!(
            "\nStill to do by hand:\n  1. client side: enable NFS for project {name} in its hiera (Cloud VPS: mount_nfs: true) and run puppet on its instances\n  2. reboot the project's instances (or remount) so they mount {}\n  3. make sure {} is on the other node too (both nodes read projects_dir)",
            dir.display(),
            file.display()
        );
    }
    Ok(())
}

fn empty_output() -> crate::process::Output {
    crate::process::Output {
        rc: Some(0),
        stdout: String::new(),
        stderr: String::new(),
        duration: std::time::Duration::ZERO,
        timed_out: false,
        pipe: None,
    }
}

pub fn check_project_name(name: &str) -> Result<(), Error> {
    let mut p = Vec::new();
    config::check_name(&mut p, "NAME", name, "a project name");
    if p.is_empty() {
        Ok(())
    } else {
        Err(Error::Usage(describe(&p)))
    }
}

fn describe(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("{}: {}", p.path, p.message))
        .collect::<Vec<_>>()
        .join("\n")
}
