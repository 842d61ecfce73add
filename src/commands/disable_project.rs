//! `nfs-manage disable-project NAME`: withdraw a project's exports and keep its data.
//! Steps: the project file renamed to `NAME.yaml.disabled` (so no later sync exports it again;
//! the file keeps its GID on record) → its exports file removed (so `exportfs -ra` does not
//! bring it back) → its live entries withdrawn with `exportfs -u`, verified in etab → its
//! netgroup removed from /etc/netgroup, if it has one. The directory and its data are not
//! touched. Rerunning after a partial run finishes the job.

use std::path::PathBuf;

use anyhow::Result;

use crate::cli::DisableProjectArgs;
use crate::context::Ctx;
use crate::context::{Plan, Step};
use crate::domain::exports::ExportsCheck;
use crate::domain::netgroup;
use crate::domain::projects;
use crate::engine::execute::{self, Recovery};
use crate::engine::files::Contents;
use crate::engine::plan::FileOp;
use crate::error::Error;
use crate::tools::exportfs;

pub fn run(ctx: &Ctx, args: &DisableProjectArgs) -> Result<()> {
    let cfg = &ctx.config;
    let _g = &ctx.global;
    let name = args.name.as_str();
    super::enable_project::check_project_name(name)?;
    let _lock = ctx.host_lock()?;
    let all = projects::load(cfg)?;
    let file = projects::project_file(cfg, name);
    let disabled = cfg.projects_dir.join(format!("{name}.yaml.disabled"));
    let mut plan = Plan::new("disable-project");
    let project = match all.get(name) {
        Some(p) => {
            let text = std::fs::read_to_string(&file)?;
            plan.steps.push(
                Step::files(
                    "project-file",
                    format!("set the project file aside as {}", disabled.display()),
                    vec![FileOp::Rename {
                        from: file.clone(),
                        to: disabled.clone(),
                    }],
                    Contents(vec![(file.clone(), None), (disabled.clone(), Some(text))]),
                )
                .why("so no later sync exports it again"),
            );
            p.clone()
        }
        None if disabled.exists() => {
            // Already set aside by an earlier run: finish what that run left.
            let text = std::fs::read_to_string(&disabled)?;
            let p = projects::parse_file(cfg, &disabled, &text)?;
            plan.steps.push(
                Step::files(
                    "project-file",
                    format!("set the project file aside as {}", disabled.display()),
                    Vec::new(),
                    Contents(Vec::new()),
                )
                .already("already set aside"),
            );
            p
        }
        None => {
            return Err(Error::Usage(format!(
                "there is no project {name:?} ({} does not exist)",
                file.display()
            ))
            .into());
        }
    };
    let exports_file = project.exports_file(cfg);
    let step = Step::files(
        "exports-file",
        format!("remove {}", exports_file.display()),
        vec![FileOp::Remove(exports_file.clone())],
        Contents(vec![(exports_file.clone(), None)]),
    );
    plan.steps.push(if exports_file.exists() {
        step.why("so `exportfs -ra` does not export it again")
    } else {
        step.already("not there")
    });
    let etab = exportfs::read_etab()?;
    let live: Vec<&exportfs::Export> = etab
        .iter()
        .filter(|e| e.path == project.export_path)
        .collect();
    if !live.is_empty() {
        plan.steps.push(
            Step::new(
                "unexport",
                format!(
                    "withdraw {} ({} client(s))",
                    project.export_path.display(),
                    live.len()
                ),
                exportfs::unexport_cmd(&live),
                ExportsCheck::Etab {
                    present: Vec::new(),
                    absent: live
                        .iter()
                        .map(|e| (e.path.clone(), e.client.clone()))
                        .collect(),
                },
            )
            .why("exported now"),
        );
    }
    // Its netgroup (the netgroup layout, or one left from it) goes once nothing exports it:
    // a group no export names would only linger, and be counted by the next sync's guards.
    let group = netgroup::group_of(name);
    match netgroup::read_file() {
        Ok((file_now, _)) if file_now.groups.contains_key(&group) => {
            let mut groups = file_now.groups.clone();
            groups.remove(&group);
            let want = crate::tools::netgroup::render(&file_now, &groups);
            let path = PathBuf::from(crate::tools::netgroup::NETGROUP);
            plan.steps.push(
                Step::files(
                    "netgroup",
                    format!("remove netgroup {group} from {}", path.display()),
                    vec![FileOp::Write {
                        path: path.clone(),
                        content: want.clone(),
                    }],
                    Contents(vec![(path, Some(want))]),
                )
                .why("no export names it any more"),
            );
        }
        Ok(_) => {}
        Err(why) => plan.notes.push(format!(
            "netgroup {group} may be left in {}: {why}",
            crate::tools::netgroup::NETGROUP
        )),
    }
    plan.notes.push(format!(
        "the data in {} is kept; `nfs-manage enable-project {name}` exports it again",
        project.export_path.display()
    ));
    execute::run(
        ctx,
        &mut plan,
        &Recovery {
            retry: ctx.self_command(&format!("disable-project {name}")),
            back_out: Some(format!(
                "mv {} {} && {}",
                disabled.display(),
                file.display(),
                ctx.self_command("exports sync")
            )),
        },
    )
}
